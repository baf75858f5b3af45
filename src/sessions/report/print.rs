//! `/session/{id}/report`: the print-ready report, for the session's customer,
//! its mechanic and admins; the customer also makes and revokes share links here.

use super::api::{get_report_page, CreateReportShare, RevokeReportShare};
use super::view::ReportView;
use super::ReportPage;
use crate::auth::CurrentUser;
use crate::error::AppError;
use crate::ui::gate::RequireLogin;
use crate::ui::{action_error, FormError};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::{use_params_map, use_query_map};
use uuid::Uuid;

type PageResource = Resource<Result<ReportPage, AppError>>;

#[component]
pub fn ReportPrintPage() -> impl IntoView {
    let params = use_params_map();
    let id = params.with_untracked(|p| p.get("id")).and_then(|s| Uuid::parse_str(&s).ok());
    // A link just made without JavaScript comes back in the address.
    let from_address = use_query_map()
        .with_untracked(|q| q.get("link"))
        .filter(|t| t.len() == 43 && t.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
    let create = ServerAction::<CreateReportShare>::new();
    let revoke = ServerAction::<RevokeReportShare>::new();
    let page: PageResource = Resource::new(
        move || (id, create.version().get(), revoke.version().get()),
        |(id, _, _)| async move {
            match id {
                Some(id) => get_report_page(id).await,
                None => Err(AppError::not_found("That report link is not valid.")),
            }
        },
    );
    let new_token = Signal::derive(move || match create.value().get() {
        Some(Ok(token)) => Some(token),
        _ => from_address.clone(),
    });
    view! {
        <Title text="Diagnosis report" />
        <RequireLogin children=move |_: CurrentUser| view! {
            <Suspense fallback=|| view! { <p class="muted">"Loading…"</p> }>
                {move || page.get().map(|r| match r {
                    Ok(p) => view! { <Printable p create revoke new_token /> }.into_any(),
                    Err(e) => view! { <section class="card narrow"><crate::ui::ErrorNotice error=e /></section> }.into_any(),
                })}
            </Suspense>
        } />
    }
}

#[component]
fn Printable(
    p: ReportPage,
    create: ServerAction<CreateReportShare>,
    revoke: ServerAction<RevokeReportShare>,
    new_token: Signal<Option<String>>,
) -> impl IntoView {
    let who = match &p.workshop_name {
        Some(w) => format!("{} of {w}", p.mechanic_name),
        None => format!("{} (independent mechanic)", p.mechanic_name),
    };
    let session_id = p.session_id.to_string();
    view! {
        <article class="card printable" id="report-page">
            <header class="report-header">
                <p class="brand-line">"autodoctor · diagnosis report"</p>
                <h1>{p.vehicle.clone()}</h1>
                <p>{p.plan_name.clone()} " · " {p.session_date.format("%Y-%m-%d").to_string()} " · " {who}</p>
            </header>
            {match p.report.clone() {
                Some(r) => view! { <ReportView report=r /> }.into_any(),
                None => view! { <p class="muted" id="report-pending">"The mechanic has not written the report yet."</p> }.into_any(),
            }}
        </article>
        <p class="row no-print">
            <a class="button small" href=format!("/session/{session_id}")>"Back to the session"</a>
            <PrintButton />
        </p>
        {(p.viewer_is_customer && p.report.is_some()).then(|| view! {
            <Sharing p=p.clone() create revoke new_token />
        })}
    }
}

/// Opens the browser's print dialog (with JavaScript; the browser's own menu works too).
/// The print button: the one piece of the report pages that needs a script.
#[island]
pub fn PrintButton() -> impl IntoView {
    view! {
        <button type="button" class="small" id="print-button" on:click=move |_| {
            let _ = window().print();
        }>"Print"</button>
    }
}

#[component]
fn Sharing(
    p: ReportPage,
    create: ServerAction<CreateReportShare>,
    revoke: ServerAction<RevokeReportShare>,
    new_token: Signal<Option<String>>,
) -> impl IntoView {
    let create_error = action_error(create);
    let revoke_error = action_error(revoke);
    let base = p.share_base.clone();
    let shares_empty = p.shares.is_empty();
    let sid = p.session_id.to_string();
    view! {
        <section class="card no-print" id="share-card" aria-labelledby="share-heading">
            <h2 id="share-heading">"Share with a garage"</h2>
            <p>"A share link opens this report for anyone who has it, without an account. It shows the vehicle, the plan, the date and the report; not your name, your email or what you wrote when booking. You can revoke a link at any time."</p>
            <ActionForm action=create attr:id="share-form">
                <input type="hidden" name="session_id" value=sid />
                <button type="submit" class="primary" disabled=move || create.pending().get()>"Make a share link"</button>
            </ActionForm>
            <FormError error=create_error />
            {move || new_token.get().map(|t| {
                let url = format!("{base}{t}");
                view! {
                    <div class="field">
                        <label for="share-url">"Your new link (shown once: copy it now)"</label>
                        <input type="text" id="share-url" readonly value=url.clone() />
                        <a href=url target="_blank" rel="noopener">"Open it"</a>
                    </div>
                }
            })}
            <h3>"Your links"</h3>
            {if shares_empty {
                view! { <p class="muted">"No links yet."</p> }.into_any()
            } else {
                view! {
                    <ul class="plain-list" id="share-links">
                        {p.shares.into_iter().map(|s| {
                            let id = s.id.to_string();
                            let form_id = id.clone();
                            let made = s.created_at.format("%Y-%m-%d %H:%M UTC").to_string();
                            let state = match s.revoked_at {
                                Some(at) => format!("revoked {}", at.format("%Y-%m-%d %H:%M UTC")),
                                None => "working".to_string(),
                            };
                            let active = s.revoked_at.is_none();
                            view! {
                                <li class="share-link" data-share-id=id data-active=active.to_string()>
                                    <span>{format!("Made {made} · {state}")}</span>
                                    {active.then(move || view! {
                                        <ActionForm action=revoke attr:class="inline-form">
                                            <input type="hidden" name="share_id" value=form_id />
                                            <button type="submit" class="small danger">"Revoke"</button>
                                        </ActionForm>
                                    })}
                                </li>
                            }
                        }).collect_view()}
                    </ul>
                }.into_any()
            }}
            <FormError error=revoke_error />
        </section>
    }
}
