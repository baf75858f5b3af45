//! `/workshops/{id}`: the public workshop page, server-rendered with no island
//! (like the directory, it downloads no WebAssembly). Reviews page through
//! plain `?page=` links.

use super::public::{get_workshop_page, meta_description, WorkshopPage};
use crate::directory::{describe_accept_time, logo_path};
use leptos::prelude::*;
use leptos_meta::{Link, Meta, Title};
use leptos_router::hooks::{use_params_map, use_query_map};

#[component]
pub fn WorkshopPublicPage() -> impl IntoView {
    let params = use_params_map();
    let query = use_query_map();
    let data = Resource::new(
        move || (params.with(|p| p.get("id")).unwrap_or_default(), query.with(|q| q.get("page"))),
        |(id, page)| get_workshop_page(id, page),
    );
    view! {
        <Suspense fallback=|| view! { <p class="muted">"Loading the workshop…"</p> }>
            {move || data.get().map(|r| match r {
                Ok(d) => view! { <WorkshopView d /> }.into_any(),
                Err(e) => view! {
                    <Title text="Workshop not found" />
                    <Meta name="robots" content="noindex" />
                    <section class="card narrow center" id="workshop-missing">
                        <h1>"Workshop not found"</h1>
                        <crate::ui::ErrorNotice error=e />
                        <p><a class="button" href="/workshops">"Back to the directory"</a></p>
                    </section>
                }.into_any(),
            })}
        </Suspense>
    }
}

fn stars(n: i16) -> String {
    let n = n.clamp(0, 5) as usize;
    format!("{}{}", "★".repeat(n), "☆".repeat(5 - n))
}

#[component]
fn WorkshopView(d: WorkshopPage) -> impl IntoView {
    let w = d.workshop.clone();
    let description = meta_description(&w);
    let title = format!("{} in {}", w.name, w.city);
    let logo = w.logo_version.map(|v| logo_path(w.id, v));
    let og_image = logo.clone().map(|path| {
        let base = d.canonical_url.split("/workshops/").next().unwrap_or_default().to_string();
        format!("{base}{path}")
    });
    let book = format!("/book?workshop={}", w.id);
    let rating = match w.avg_rating {
        Some(r) => format!("★ {r:.1} ({} ratings)", w.rating_count),
        None => "No ratings yet".to_string(),
    };
    let count = d.review_count();
    let (page, pages) = (d.page, d.pages);
    view! {
        <Title text=title.clone() />
        <Meta name="description" content=description.clone() />
        <Link rel="canonical" href=d.canonical_url.clone() />
        <Meta property="og:type" content="business.business" />
        <Meta property="og:title" content=title />
        <Meta property="og:description" content=description />
        <Meta property="og:url" content=d.canonical_url.clone() />
        <Meta property="og:site_name" content="autodoctor" />
        {og_image.map(|src| view! { <Meta property="og:image" content=src /> })}
        <article class="workshop-page" id="workshop-page" data-workshop-id=w.id.to_string()>
            <header class="page-header">
                <div class="workshop-title">
                    {logo.map(|src| view! {
                        <img class="workshop-logo" id="workshop-logo" src=src alt=format!("{} logo", w.name) width="96" height="96" />
                    })}
                    <div>
                        <h1 id="workshop-name">{w.name.clone()}</h1>
                        <p class="muted" id="workshop-city">{w.city.clone()}</p>
                    </div>
                </div>
                <a class="button primary" id="book-with-workshop" href=book>"Book with this workshop"</a>
            </header>
            <div class="stats">
                <div class="stat"><div class="value" id="workshop-online">{format!("{} / {}", w.mechanics_online, w.mechanics_total)}</div><div class="label">"Mechanics online now"</div></div>
                <div class="stat"><div class="value" id="workshop-rating">{rating}</div><div class="label">"Rating"</div></div>
                <div class="stat"><div class="value" id="workshop-sessions">{w.sessions_completed}</div><div class="label">"Sessions served"</div></div>
                <div class="stat"><div class="value" id="workshop-accept">{describe_accept_time(w.median_accept_seconds).unwrap_or_else(|| "–".into())}</div><div class="label">"Median time to accept"</div></div>
            </div>
            <section class="card" aria-labelledby="about-heading">
                <h2 id="about-heading">"About the workshop"</h2>
                {if w.description.trim().is_empty() {
                    view! { <p class="muted">"The workshop has not written a description yet."</p> }.into_any()
                } else {
                    view! { <p id="workshop-description" class="prewrap">{w.description.clone()}</p> }.into_any()
                }}
                {(!w.specialties.is_empty()).then(|| view! {
                    <ul class="tags" id="workshop-specialties">{w.specialties.iter().map(|s| view! { <li>{s.clone()}</li> }).collect_view()}</ul>
                })}
            </section>
            <section class="card" aria-labelledby="mechanics-heading">
                <h2 id="mechanics-heading">"Mechanics"</h2>
                <ul class="mechanic-list" id="workshop-mechanics">
                    {d.mechanics.iter().map(|m| view! {
                        <li class="mechanic-item">
                            <strong class="mechanic-name">{m.display_name.clone()}</strong>
                            {if m.online {
                                view! { <span class="badge success">"Online now"</span> }.into_any()
                            } else {
                                view! { <span class="badge">"Offline"</span> }.into_any()
                            }}
                            <span class="muted small">{format!(" · {} years of experience", m.years_experience)}</span>
                            {(!m.specialties.is_empty()).then(|| view! {
                                <ul class="tags">{m.specialties.iter().map(|s| view! { <li>{s.clone()}</li> }).collect_view()}</ul>
                            })}
                        </li>
                    }).collect_view()}
                </ul>
            </section>
            <section class="card" aria-labelledby="reviews-heading" id="reviews">
                <h2 id="reviews-heading">{format!("Reviews ({count})")}</h2>
                <Distribution counts=d.distribution />
                {if d.reviews.is_empty() {
                    view! { <p class="muted" id="no-reviews">"No reviews on this page yet."</p> }.into_any()
                } else {
                    view! {
                        <ul class="reviews" id="review-list">
                            {d.reviews.iter().map(|r| view! {
                                <li class="review">
                                    <p>
                                        <span class="review-stars" aria-label=format!("{} out of 5", r.rating)>{stars(r.rating)}</span>
                                        " " <strong class="review-author">{r.first_name.clone()}</strong>
                                        <span class="muted small">{format!(" · {}", r.rated_at.format("%Y-%m-%d"))}</span>
                                    </p>
                                    {r.comment.clone().map(|c| view! { <p class="review-comment">{c}</p> })}
                                </li>
                            }).collect_view()}
                        </ul>
                    }.into_any()
                }}
                {(pages > 1).then(|| view! {
                    <nav class="pager" aria-label="Review pages">
                        {(page > 1).then(|| view! { <a class="button small" href=format!("?page={}#reviews", page - 1) rel="prev">"Newer reviews"</a> })}
                        <span class="muted" id="review-page">{format!("Page {} of {pages}", page.min(pages))}</span>
                        {(page < pages).then(|| view! { <a class="button small" href=format!("?page={}#reviews", page + 1) rel="next" id="older-reviews">"Older reviews"</a> })}
                    </nav>
                })}
            </section>
        </article>
    }
}

/// The rating distribution as bars, each with its count in words.
#[component]
fn Distribution(counts: [i64; 5]) -> impl IntoView {
    let total: i64 = counts.iter().sum();
    view! {
        <table class="distribution" id="rating-distribution">
            <caption class="muted small">"Ratings by number of stars"</caption>
            <tbody>
                {counts.iter().enumerate().map(|(i, &n)| {
                    let stars = 5 - i;
                    let percent = if total > 0 { n * 100 / total } else { 0 };
                    view! {
                        <tr data-stars=stars.to_string()>
                            <th scope="row">{format!("{stars} ★")}</th>
                            <td class="bar-cell"><span class="bar" style=format!("width: {percent}%")></span></td>
                            <td class="num dist-count">{n}</td>
                        </tr>
                    }
                }).collect_view()}
            </tbody>
        </table>
    }
}
