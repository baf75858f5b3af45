//! The admin's requests page: recent requests, the routing audit of one, and the
//! session analytics of every workshop.

use super::api::{admin_requests, request_audit};
use crate::auth::Role;
use crate::ui::RoleGate;
use crate::workshops::analytics::{all_workshop_analytics, AnalyticsRows, WorkshopAnalytics};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;
use uuid::Uuid;

type AuditResource = Resource<Result<Option<Vec<super::RoutingAuditRow>>, crate::error::AppError>>;

#[component]
pub fn AdminRequestsPage() -> impl IntoView {
    let requests = Resource::new(|| (), |_| admin_requests());
    // The request to audit comes from the address (`?audit=<id>`), so the
    // audit is a plain link that works without JavaScript.
    let query = use_query_map();
    let selected = query.with_untracked(|q| q.get("audit")).and_then(|s| Uuid::parse_str(&s).ok());
    let audit: AuditResource = Resource::new(
        move || selected,
        |id| async move {
            match id {
                Some(id) => request_audit(id).await.map(Some),
                None => Ok(None),
            }
        },
    );
    let analytics = Resource::new(|| (), |_| all_workshop_analytics());
    view! {
        <Title text="Admin: requests" />
        <RoleGate role=Role::Admin children=move |_| view! {
            <crate::ui::AdminNav />
            <AdminRequests requests audit />
            <AnalyticsTable data=analytics />
        } />
    }
}

#[component]
fn AdminRequests(
    requests: Resource<Result<Vec<super::AdminRequest>, crate::error::AppError>>,
    audit: AuditResource,
) -> impl IntoView {
    view! {
        <header class="page-header"><div><h1>"Requests and routing"</h1><p>"Every routing decision is recorded; pick a request to read them."</p></div></header>
        <Suspense fallback=|| view! { <p class="muted">"Loading…"</p> }>
            {move || requests.get().map(|r| match r {
                Ok(list) => view! {
                    <div class="table-wrap card">
                        <table id="admin-requests">
                            <thead><tr><th>"Created"</th><th>"Customer"</th><th>"Routing"</th><th>"Status"</th><th>"Served by"</th><th></th></tr></thead>
                            <tbody>
                                {list.into_iter().map(|q| {
                                    let id = q.request_id;
                                    view! {
                                        <tr data-request-id=id.to_string()>
                                            <td>{q.created_at.format("%Y-%m-%d %H:%M:%S").to_string()}</td>
                                            <td>{q.customer_email.clone()}</td>
                                            <td>{q.routing_type.label()} {q.preferred_workshop_name.clone().map(|w| format!(" · {w}"))}</td>
                                            <td>{format!("{:?}", q.status)}</td>
                                            <td>{q.mechanic_name.clone().unwrap_or_default()} {q.serving_workshop_name.clone().map(|w| format!(" ({w})"))}</td>
                                            <td><a class="button small audit-button" href=format!("/admin/requests?audit={id}#audit")>"Audit"</a></td>
                                        </tr>
                                    }
                                }).collect_view()}
                            </tbody>
                        </table>
                    </div>
                }.into_any(),
                Err(e) => view! { <crate::ui::ErrorNotice error=e /> }.into_any(),
            })}
        </Suspense>
        <Transition fallback=|| ()>
            {move || audit.get().map(|r| match r {
                Ok(Some(rows)) => view! {
                    <section class="card" id="audit">
                        <h2>"Routing audit"</h2>
                        <ol class="plain-list">
                            {rows.into_iter().map(|a| view! {
                                <li data-kind=a.kind.clone()>
                                    <strong>{a.kind.clone()}</strong> " · " {a.created_at.format("%H:%M:%S").to_string()}
                                    {a.mechanic_name.clone().map(|m| format!(" · {m}"))}
                                    <pre class="audit-details">{serde_json::to_string_pretty(&a.details).unwrap_or_default()}</pre>
                                </li>
                            }).collect_view()}
                        </ol>
                    </section>
                }.into_any(),
                Ok(None) => ().into_any(),
                Err(e) => view! { <crate::ui::ErrorNotice error=e /> }.into_any(),
            })}
        </Transition>
    }
}

#[component]
fn AnalyticsTable(data: Resource<Result<Vec<WorkshopAnalytics>, crate::error::AppError>>) -> impl IntoView {
    view! {
        <section class="card">
            <h2>"Workshop session analytics"</h2>
            <Suspense fallback=|| ()>
                {move || data.get().map(|r| match r {
                    Ok(rows) => view! { <AnalyticsRows rows /> }.into_any(),
                    Err(e) => view! { <crate::ui::ErrorNotice error=e /> }.into_any(),
                })}
            </Suspense>
        </section>
    }
}
