//! The directory page: "Any available" first, then workshops by mechanics
//! online now and rating (or by rating, or by time to accept); search, the
//! "online now" filter, the order and pages through the query string (a plain
//! GET form). The online counts follow live through `public/directory.js`.

use super::api::get_directory_page;
use super::{describe_accept_time, directory_query, DirectoryWorkshop, Sort, DEFAULT_LIMIT};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::Form;
use leptos_router::hooks::use_query_map;

/// The last page a link may ask for (far beyond any real directory).
const MAX_PAGE: i64 = 100_000;

#[component]
pub fn WorkshopDirectoryPage() -> impl IntoView {
    let query = use_query_map();
    let q = move || query.with(|m| m.get("q")).unwrap_or_default();
    let online = move || query.with(|m| m.get("online")).unwrap_or_default();
    let sort = move || query.with(|m| m.get("sort")).unwrap_or_default();
    let page = move || {
        // Out-of-range page numbers (from an edited link) show the first page.
        query
            .with(|m| m.get("page"))
            .and_then(|p| p.parse::<i64>().ok())
            .filter(|p| (1..=MAX_PAGE).contains(p))
            .unwrap_or(1)
    };
    let data = Resource::new(
        move || (q(), page(), online(), sort()),
        |(q, page, online, sort)| {
            get_directory_page(
                Some(q),
                Some(DEFAULT_LIMIT.to_string()),
                Some(((page - 1) * DEFAULT_LIMIT).to_string()),
                Some(online),
                Some(sort),
            )
        },
    );
    view! {
        <Title text="Find a workshop" />
        <header class="page-header">
            <div>
                <h1>"Find a workshop"</h1>
                <p>"Book a session with a workshop you trust, or with whoever is free first."</p>
            </div>
            <Form method="GET" action="" attr:class="search-form" attr:role="search">
                <input type="search" name="q" value=q placeholder="Name, city or specialty" aria-label="Search workshops" maxlength="100" id="directory-search" />
                <label class="inline-check">
                    <input type="checkbox" name="online" value="1" id="directory-online" checked=move || matches!(online().as_str(), "1" | "true" | "on") />
                    " Online now"
                </label>
                <label class="inline-select">
                    <select name="sort" id="directory-sort" aria-label="Order">
                        {Sort::ALL.into_iter().map(|s| view! {
                            <option value=s.code() selected=move || sort() == s.code() || (sort().is_empty() && s == Sort::Online)>{s.label()}</option>
                        }).collect_view()}
                    </select>
                </label>
                <button type="submit">"Search"</button>
            </Form>
        </header>
        <Transition fallback=|| view! { <p class="muted">"Loading workshops…"</p> }>
            {move || data.get().map(|r| match r {
                Ok(d) => {
                    let pages = (d.total + DEFAULT_LIMIT - 1) / DEFAULT_LIMIT;
                    let current = d.offset / DEFAULT_LIMIT + 1;
                    let query = d.query.clone();
                    let (online, sort) = (d.online, d.sort);
                    view! {
                        <div class="directory-grid" id="directory">
                            <AnyAvailableCard online=d.any_available.available_mechanics />
                            {d.workshops.into_iter().map(|w| view! { <WorkshopCard w /> }).collect_view()}
                        </div>
                        {(d.total == 0).then(|| view! {
                            <p class="muted" id="directory-empty">
                                {if !query.is_empty() { format!("No workshop matches “{query}”.") }
                                 else if online { "No workshop has a mechanic online right now.".to_string() }
                                 else { "No workshop is taking bookings right now.".to_string() }}
                            </p>
                        })}
                        <Pager current pages query=d.query.clone() online sort />
                        // Keeps the online counts live (a plain script: this page has no WebAssembly).
                        <script src="/directory.js" defer></script>
                    }.into_any()
                }
                Err(e) => view! { <crate::ui::ErrorNotice error=e /> }.into_any(),
            })}
        </Transition>
    }
}

#[component]
fn AnyAvailableCard(online: i64) -> impl IntoView {
    view! {
        <article class="card workshop-card any-available" id="any-available">
            <h2>"Any available"</h2>
            <p class="muted">"The first qualified mechanic who is free takes your session: the fastest way to get help."</p>
            <p class="availability">
                <span class={if online > 0 { "badge success" } else { "badge" }} id="any-available-count">{format!("{online} online now")}</span>
            </p>
            <a class="button primary" href="/book">"Book any available mechanic"</a>
        </article>
    }
}

#[component]
fn WorkshopCard(w: DirectoryWorkshop) -> impl IntoView {
    let rating = match w.avg_rating {
        Some(r) => format!("★ {r:.1} ({} ratings)", w.rating_count),
        None => "No ratings yet".to_string(),
    };
    let accept = describe_accept_time(w.median_accept_seconds);
    let book = format!("/book?workshop={}", w.workshop_id);
    let page = super::workshop_path(w.workshop_id);
    let logo = w.logo_version.map(|v| super::logo_path(w.workshop_id, v));
    view! {
        <article class="card workshop-card" data-workshop-id=w.workshop_id.to_string() data-workshop-name=w.workshop_name.clone()>
            <div class="workshop-card-head">
                {logo.map(|src| view! {
                    <img class="workshop-logo small" src=src alt="" width="48" height="48" loading="lazy" />
                })}
                <h2><a href=page.clone() class="workshop-link">{w.workshop_name.clone()}</a></h2>
            </div>
            <p class="muted">{w.city.clone()}</p>
            {(!w.specialties.is_empty()).then(|| view! {
                <ul class="tags">{w.specialties.iter().map(|s| view! { <li>{s.clone()}</li> }).collect_view()}</ul>
            })}
            <dl class="card-stats">
                <div><dt>"Online now"</dt><dd class="stat-online">{format!("{} / {}", w.available_mechanics, w.total_mechanics)}</dd></div>
                <div><dt>"Rating"</dt><dd class="stat-rating">{rating}</dd></div>
                <div><dt>"Sessions"</dt><dd class="stat-sessions">{w.total_sessions}</dd></div>
                <div><dt>"Accepts in"</dt><dd class="stat-accept">{accept.unwrap_or_else(|| "–".into())}</dd></div>
            </dl>
            <p class="row">
                <a class="button primary" href=book>"Book with this workshop"</a>
                <a class="button" href=page>"Reviews and mechanics"</a>
            </p>
        </article>
    }
}

#[component]
fn Pager(current: i64, pages: i64, query: String, online: bool, sort: Sort) -> impl IntoView {
    if pages <= 1 {
        return ().into_any();
    }
    let link = move |p: i64| directory_query(&query, online, sort, p);
    view! {
        <nav class="pager" aria-label="Pages">
            {(current > 1).then(|| view! { <a class="button small" href=link(current - 1) rel="prev">"Previous"</a> })}
            <span class="muted">{format!("Page {current} of {pages}")}</span>
            {(current < pages).then(|| view! { <a class="button small" href=link(current + 1) rel="next">"Next"</a> })}
        </nav>
    }
    .into_any()
}
