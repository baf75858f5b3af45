//! The admin's pages.

use super::api::{
    admin_workshops, get_approval_queues, mailbox, DecideMechanic, DecideWorkshop, SetWorkshopFee,
};
use super::{AdminWorkshop, MechanicDecision, PendingMechanic, WorkshopDecision};
use crate::auth::Role;
use crate::mail::split_links;
use crate::status::WorkshopStatus;
use crate::ui::{action_error, FormError};
use crate::ui::{AdminNav, RoleGate};
use crate::workshops::format_bps;
use leptos::prelude::*;
use leptos_meta::Title;

// Resources are created where the page starts, never inside the gated content
// (which may render more than once on the server): their hydration ids then
// match between the server and the browser.

#[component]
pub fn AdminHomePage() -> impl IntoView {
    let decide_workshop = ServerAction::<DecideWorkshop>::new();
    let decide_mechanic = ServerAction::<DecideMechanic>::new();
    let queues = Resource::new(
        move || (decide_workshop.version().get(), decide_mechanic.version().get()),
        |_| get_approval_queues(),
    );
    view! {
        <Title text="Admin: approvals" />
        <RoleGate role=Role::Admin children=move |_| view! { <AdminNav /> <Approvals decide_workshop decide_mechanic queues /> } />
    }
}

#[component]
fn Approvals(
    decide_workshop: ServerAction<DecideWorkshop>,
    decide_mechanic: ServerAction<DecideMechanic>,
    queues: Resource<Result<super::ApprovalQueues, crate::error::AppError>>,
) -> impl IntoView {
    let error = Signal::derive(move || {
        action_error(decide_workshop).get().or_else(|| action_error(decide_mechanic).get())
    });
    view! {
        <header class="page-header"><h1>"Approvals"</h1></header>
        <FormError error=error />
        <Transition fallback=|| view! { <p class="muted">"Loading…"</p> }>
            {move || queues.get().map(|r| match r {
                Ok(q) => view! {
                    <section class="card" id="pending-workshops">
                        <h2>{format!("Workshops waiting ({})", q.workshops.len())}</h2>
                        {if q.workshops.is_empty() {
                            view! { <p class="muted">"No workshop is waiting."</p> }.into_any()
                        } else {
                            q.workshops.into_iter().map(|w| view! { <PendingWorkshopCard w action=decide_workshop /> }).collect_view().into_any()
                        }}
                    </section>
                    <section class="card" id="pending-mechanics">
                        <h2>{format!("Independent mechanics waiting ({})", q.mechanics.len())}</h2>
                        {if q.mechanics.is_empty() {
                            view! { <p class="muted">"No application is waiting."</p> }.into_any()
                        } else {
                            q.mechanics.into_iter().map(|m| view! { <PendingMechanicCard m action=decide_mechanic /> }).collect_view().into_any()
                        }}
                    </section>
                }.into_any(),
                Err(e) => view! { <crate::ui::ErrorNotice error=e /> }.into_any(),
            })}
        </Transition>
    }
}

/// A decision form: the hidden fields, an optional reason, and one button.
#[component]
fn WorkshopDecisionForm(
    action: ServerAction<DecideWorkshop>,
    id: String,
    decision: WorkshopDecision,
    label: &'static str,
    #[prop(optional)] danger: bool,
) -> impl IntoView {
    let decision_value =
        serde_json::to_value(decision).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default();
    view! {
        <ActionForm action=action attr:class="inline-form decision-form">
            <input type="hidden" name="workshop_id" value=id />
            <input type="hidden" name="decision" value=decision_value />
            {decision.needs_reason().then(|| view! {
                <input type="text" name="reason" placeholder="Reason (shown to the owner)" maxlength="500" aria-label="Reason" />
            })}
            <button type="submit" class=if danger { "small danger" } else { "small primary" }>{label}</button>
        </ActionForm>
    }
}

#[component]
fn PendingWorkshopCard(w: AdminWorkshop, action: ServerAction<DecideWorkshop>) -> impl IntoView {
    let id = w.id.to_string();
    view! {
        <article class="queue-item" data-workshop=w.name.clone()>
            <div>
                <h3>{w.name.clone()}</h3>
                <p class="muted small">
                    {w.city.clone()} " · " {w.contact_email.clone()} " · owner "
                    {w.owner_name.clone().unwrap_or_default()} " (" {w.owner_email.clone().unwrap_or_default()} ")"
                </p>
                <p>{w.description.clone()}</p>
                <p class="small">{w.specialties.join(", ")}</p>
            </div>
            <div class="row">
                <WorkshopDecisionForm action id=id.clone() decision=WorkshopDecision::Approve label="Approve" />
                <WorkshopDecisionForm action id=id.clone() decision=WorkshopDecision::Reject label="Reject" danger=true />
            </div>
        </article>
    }
}

#[component]
fn PendingMechanicCard(m: PendingMechanic, action: ServerAction<DecideMechanic>) -> impl IntoView {
    let id = m.user_id.to_string();
    let id2 = id.clone();
    let approve = serde_json::to_value(MechanicDecision::Approve)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default();
    let reject = serde_json::to_value(MechanicDecision::Reject)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default();
    view! {
        <article class="queue-item" data-mechanic=m.email.clone()>
            <div>
                <h3>{m.name.clone()}</h3>
                <p class="muted small">{m.email.clone()} " · applied " {m.applied_at.format("%Y-%m-%d").to_string()}</p>
                <p class="small">
                    {format!("{} years · {}", m.years_experience, m.specialties.join(", "))}
                    {(!m.certifications.is_empty()).then(|| format!(" · {}", m.certifications))}
                </p>
            </div>
            <div class="row">
                <ActionForm action=action attr:class="inline-form decision-form">
                    <input type="hidden" name="mechanic_id" value=id />
                    <input type="hidden" name="decision" value=approve />
                    <button type="submit" class="small primary">"Approve"</button>
                </ActionForm>
                <ActionForm action=action attr:class="inline-form decision-form">
                    <input type="hidden" name="mechanic_id" value=id2 />
                    <input type="hidden" name="decision" value=reject />
                    <input type="text" name="reason" placeholder="Reason (shown to the mechanic)" maxlength="500" aria-label="Reason" />
                    <button type="submit" class="small danger">"Reject"</button>
                </ActionForm>
            </div>
        </article>
    }
}

#[component]
pub fn AdminWorkshopsPage() -> impl IntoView {
    let decide = ServerAction::<DecideWorkshop>::new();
    let set_fee = ServerAction::<SetWorkshopFee>::new();
    let list =
        Resource::new(move || (decide.version().get(), set_fee.version().get()), |_| admin_workshops());
    view! {
        <Title text="Admin: workshops" />
        <RoleGate role=Role::Admin children=move |_| view! { <AdminNav /> <WorkshopList decide set_fee list /> } />
    }
}

#[component]
fn WorkshopList(
    decide: ServerAction<DecideWorkshop>,
    set_fee: ServerAction<SetWorkshopFee>,
    list: Resource<Result<Vec<AdminWorkshop>, crate::error::AppError>>,
) -> impl IntoView {
    let error = Signal::derive(move || action_error(decide).get().or_else(|| action_error(set_fee).get()));
    view! {
        <header class="page-header">
            <div>
                <h1>"Workshops"</h1>
                <p>"A fee change applies to bookings made after it; booked sessions keep their terms."</p>
            </div>
        </header>
        <FormError error=error />
        <Transition fallback=|| view! { <p class="muted">"Loading…"</p> }>
            {move || list.get().map(|r| match r {
                Ok(ws) => view! {
                    <div class="table-wrap card">
                        <table id="admin-workshops">
                            <thead><tr><th>"Workshop"</th><th>"Status"</th><th class="num">"Mechanics"</th><th>"Platform fee"</th><th>"Actions"</th></tr></thead>
                            <tbody>
                                {ws.into_iter().map(|w| {
                                    let id = w.id.to_string();
                                    let fee_id = id.clone();
                                    let fee = format_bps(w.platform_fee_bps).trim_end_matches('%').to_string();
                                    view! {
                                        <tr data-workshop=w.name.clone()>
                                            <td><strong>{w.name.clone()}</strong><br/><span class="muted small">{w.city.clone()}</span></td>
                                            <td>
                                                <span class=w.status.badge()>{w.status.label()}</span>
                                                {w.status_reason.clone().map(|r| view! { <br/><span class="muted small">{r}</span> })}
                                            </td>
                                            <td class="num">{w.mechanics}</td>
                                            <td>
                                                <ActionForm action=set_fee attr:class="fee-form">
                                                    <input type="hidden" name="workshop_id" value=fee_id />
                                                    <input type="text" name="fee_percent" value=fee inputmode="decimal" aria-label="Platform fee in percent" class="fee-input" />
                                                    <span>"%"</span>
                                                    <input type="text" name="note" value=w.custom_fee_agreement.clone().unwrap_or_default() placeholder="Agreement note" aria-label="Agreement note" maxlength="500" />
                                                    <button type="submit" class="small">"Save fee"</button>
                                                </ActionForm>
                                            </td>
                                            <td>
                                                {match w.status {
                                                    WorkshopStatus::Active => view! { <WorkshopDecisionForm action=decide id=id.clone() decision=WorkshopDecision::Suspend label="Suspend" danger=true /> }.into_any(),
                                                    WorkshopStatus::Suspended => view! { <WorkshopDecisionForm action=decide id=id.clone() decision=WorkshopDecision::Reactivate label="Reactivate" /> }.into_any(),
                                                    WorkshopStatus::Pending | WorkshopStatus::Rejected => view! { <WorkshopDecisionForm action=decide id=id.clone() decision=WorkshopDecision::Approve label="Approve" /> }.into_any(),
                                                }}
                                            </td>
                                        </tr>
                                    }
                                }).collect_view()}
                            </tbody>
                        </table>
                    </div>
                }.into_any(),
                Err(e) => view! { <crate::ui::ErrorNotice error=e /> }.into_any(),
            })}
        </Transition>
    }
}

#[component]
pub fn MailboxPage() -> impl IntoView {
    let messages = Resource::new(|| (), |_| mailbox());
    view! {
        <Title text="Admin: mailbox" />
        <RoleGate role=Role::Admin children=move |_| view! { <AdminNav /> <Mailbox messages /> } />
    }
}

#[component]
fn Mailbox(
    messages: Resource<Result<Vec<crate::mail::MailboxMessage>, crate::error::AppError>>,
) -> impl IntoView {
    view! {
        <header class="page-header">
            <div>
                <h1>"Mailbox"</h1>
                <p>"Every email the platform sends, newest first. Without SMTP configured, this is where they stay."</p>
            </div>
        </header>
        <Suspense fallback=|| view! { <p class="muted">"Loading…"</p> }>
            {move || messages.get().map(|r| match r {
                Ok(list) if list.is_empty() => view! { <p class="muted card">"No email yet."</p> }.into_any(),
                Ok(list) => list.into_iter().map(|m| view! {
                    <article class="card mail" data-to=m.to_email.clone()>
                        <header class="row between">
                            <div>
                                <strong class="mail-subject">{m.subject.clone()}</strong>
                                <div class="muted small">"To " {m.to_email.clone()} " · " {m.created_at.format("%Y-%m-%d %H:%M:%S UTC").to_string()}</div>
                            </div>
                            {match (m.sent_at, m.last_error.clone()) {
                                (Some(_), _) => view! { <span class="badge success">"Sent"</span> }.into_any(),
                                (None, Some(err)) => view! { <span class="badge danger" title=err>"Failing"</span> }.into_any(),
                                (None, None) => view! { <span class="badge">"In outbox"</span> }.into_any(),
                            }}
                        </header>
                        <pre class="mail-body">
                            {split_links(&m.body_text).into_iter().map(|(is_link, text)| {
                                if is_link {
                                    let href = text.clone();
                                    view! { <a href=href class="mail-link">{text}</a> }.into_any()
                                } else {
                                    text.into_any()
                                }
                            }).collect_view()}
                        </pre>
                    </article>
                }).collect_view().into_any(),
                Err(e) => view! { <crate::ui::ErrorNotice error=e /> }.into_any(),
            })}
        </Suspense>
    }
}
