//! Live pages: the mechanic's offers, the session room, the customer's order,
//! and the admin's routing audit. Each renders on the server and then follows a
//! Server-Sent Events stream in the browser.

use super::api::{
    admin_requests, all_workshop_analytics, get_session_room, request_audit, AcceptRequest, CancelRequest,
    EndSession, RateSession, SendChat, WidenRequest,
};
use super::{OfferView, SessionRoom, SessionStatus, WorkshopAnalytics};
use crate::auth::pages::{hard_navigate, RequireLogin, RoleGate};
use crate::auth::{CurrentUser, Role};
use crate::booking::api::get_order;
use crate::booking::{CustomerOrder, CustomerState};
use crate::directory::describe_accept_time;
use crate::routing::RoutingType;
use crate::ui::{action_error, format_money, FormError};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_params_map;
use uuid::Uuid;

/// Follows a live stream in the browser; on the server (and before hydration) does nothing.
fn follow<T>(url: String, event: &'static str, set: WriteSignal<Option<T>>)
where
    T: serde::de::DeserializeOwned + Send + Sync + 'static,
{
    #[cfg(feature = "hydrate")]
    Effect::new(move |_| {
        crate::realtime::subscribe(&url, &[event], move |_, data| {
            if let Ok(value) = serde_json::from_str::<T>(&data) {
                set.set(Some(value));
            }
        });
    });
    #[cfg(not(feature = "hydrate"))]
    let _ = (url, event, set);
}

fn waited(secs: i64) -> String {
    match secs {
        0..=59 => format!("{secs} s"),
        60..=3599 => format!("{} min", secs / 60),
        _ => format!("{} h", secs / 3600),
    }
}

// ---------------------------------------------------------------- mechanic

/// The offers for the logged-in mechanic, live, with accept buttons.
#[component]
pub fn LiveOffers(initial: Vec<OfferView>) -> impl IntoView {
    let (live, set_live) = signal::<Option<Vec<OfferView>>>(None);
    follow("/api/live/offers".to_string(), "offers", set_live);
    let accept = ServerAction::<AcceptRequest>::new();
    let accept_error = action_error(accept);
    Effect::new(move |_| {
        if let Some(Ok(session_id)) = accept.value().get() {
            hard_navigate(&format!("/session/{session_id}"));
        }
    });
    view! {
        <section class="card" id="offers-card">
            <div class="row between">
                <h2>"Requests for you"</h2>
                <span class="muted small">"Updates live"</span>
            </div>
            <FormError error=accept_error />
            {move || {
                let list = live.get().unwrap_or_else(|| initial.clone());
                if list.is_empty() {
                    view! {
                        <p class="muted" id="no-offers">"No requests for you right now. Stay online: new ones appear here by themselves."</p>
                    }.into_any()
                } else {
                    view! {
                        <ul class="offer-list" id="offers">
                            {list.into_iter().map(|o| view! { <OfferCard o accept /> }).collect_view()}
                        </ul>
                    }.into_any()
                }
            }}
        </section>
    }
}

#[component]
fn OfferCard(o: OfferView, accept: ServerAction<AcceptRequest>) -> impl IntoView {
    let preferred = o.is_preferred();
    let routing = match (&o.routing_type, &o.preferred_workshop_name) {
        (RoutingType::Broadcast, _) => "Any available mechanic".to_string(),
        (r, Some(w)) => format!("{} · {w}", r.label()),
        (r, None) => r.label().to_string(),
    };
    view! {
        <li class=if preferred { "offer preferred" } else { "offer" } data-request-id=o.request_id.to_string() data-priority=o.priority>
            <div class="row between">
                <strong>{o.plan_name.clone()} " · " {format!("{} min", o.minutes)}</strong>
                <span class=if preferred { "badge success" } else { "badge info" }>
                    {if preferred { "Your workshop".to_string() } else { format!("Priority {}", o.priority) }}
                </span>
            </div>
            <p class="muted small">{o.vehicle.clone()} " · waiting " {waited(o.waiting_secs)} " · " {routing}</p>
            <p class="problem">{o.problem.clone()}</p>
            <p class="muted small">{o.reason.clone()}</p>
            <ActionForm action=accept attr:class="inline-form">
                <input type="hidden" name="request_id" value=o.request_id.to_string() />
                <button type="submit" class="primary small" disabled=move || accept.pending().get()>"Accept"</button>
            </ActionForm>
        </li>
    }
}

/// The mechanic's own sessions (open ones first), linking to their rooms.
#[component]
pub fn MechanicSessions(sessions: Vec<super::MechanicSession>) -> impl IntoView {
    view! {
        <section class="card">
            <h2>"Your sessions"</h2>
            {if sessions.is_empty() {
                view! { <p class="muted">"No sessions yet."</p> }.into_any()
            } else {
                view! {
                    <ul class="plain-list" id="mechanic-sessions">
                        {sessions.into_iter().map(|s| view! {
                            <li>
                                <a href=format!("/session/{}", s.session_id)>{s.customer_name.clone()} " · " {s.plan_name.clone()} " · " {s.vehicle.clone()}</a>
                                " " <span class=if s.status.is_open() { "badge info" } else { "badge" }>{s.status.label()}</span>
                            </li>
                        }).collect_view()}
                    </ul>
                }.into_any()
            }}
        </section>
    }
}

// ---------------------------------------------------------------- the session room

// Resources are created where a page starts, never inside gated content (which
// may render more than once on the server), so hydration ids match.

type RoomResource = Resource<Result<SessionRoom, crate::error::AppError>>;

#[component]
pub fn SessionRoomPage() -> impl IntoView {
    let params = use_params_map();
    let id = params.with_untracked(|p| p.get("id")).and_then(|s| Uuid::parse_str(&s).ok());
    let initial: RoomResource = Resource::new(
        move || id,
        |id| async move {
            match id {
                Some(id) => get_session_room(id).await,
                None => Err(crate::error::AppError::not_found("That session link is not valid.")),
            }
        },
    );
    view! {
        <Title text="Session" />
        <RequireLogin children=move |_: CurrentUser| view! { <Room id initial /> } />
    }
}

#[component]
fn Room(id: Option<Uuid>, initial: RoomResource) -> impl IntoView {
    let (live, set_live) = signal::<Option<SessionRoom>>(None);
    if let Some(session) = id {
        follow(format!("/api/live/session/{session}"), "room", set_live);
    }
    // The room is rendered once; only its changing parts (status, messages,
    // which forms show) follow the live stream, so typing is never interrupted.
    view! {
        <Suspense fallback=|| view! { <p class="muted">"Loading…"</p> }>
            {move || initial.get().map(|r| match r {
                Ok(first) => view! { <RoomView first live /> }.into_any(),
                Err(e) => view! { <section class="card narrow"><crate::ui::ErrorNotice error=e /></section> }.into_any(),
            })}
        </Suspense>
    }
}

#[component]
fn RoomView(first: SessionRoom, live: ReadSignal<Option<SessionRoom>>) -> impl IntoView {
    let room = Memo::new(move |_| live.get().unwrap_or_else(|| first.clone()));
    let send = ServerAction::<SendChat>::new();
    let end = ServerAction::<EndSession>::new();
    let rate = ServerAction::<RateSession>::new();
    let send_error = action_error(send);
    let end_error = action_error(end);
    let rate_error = action_error(rate);
    let chat_form = NodeRef::<leptos::html::Form>::new();
    Effect::new(move |_| {
        if let (Some(Ok(())), Some(form)) = (send.value().get(), chat_form.get()) {
            form.reset();
        }
    });
    let r = room.get_untracked();
    let sid = r.session_id.to_string();
    let (sid_end, sid_rate) = (sid.clone(), sid.clone());
    let viewer_is_mechanic = r.viewer_is_mechanic;
    let other = if viewer_is_mechanic { r.customer_name.clone() } else { r.mechanic_name.clone() };
    let with_whom = match (&r.workshop_name, viewer_is_mechanic) {
        (Some(w), false) => format!("{} of {w}", r.mechanic_name),
        (None, false) => format!("{} (independent mechanic)", r.mechanic_name),
        (_, true) => r.customer_name.clone(),
    };
    let open = move || room.with(|r| r.status.is_open());
    let status = move || room.with(|r| r.status);
    view! {
        <header class="page-header">
            <div>
                <h1>{format!("Session with {with_whom}")}</h1>
                <p>{r.plan_name.clone()} " · " {format!("{} min", r.minutes)} " · " {r.vehicle.clone()}</p>
            </div>
            <span class=move || if open() { "badge info" } else { "badge success" } id="session-status">{move || status().label()}</span>
        </header>
        <section class="card">
            <h2>"The problem"</h2>
            <p class="problem">{r.problem.clone()}</p>
        </section>
        <section class="card chat" aria-labelledby="chat-heading">
            <h2 id="chat-heading">"Chat"</h2>
            <ol class="chat-log" id="chat-log" aria-live="polite">
                {move || {
                    let messages = room.with(|r| r.messages.clone());
                    if messages.is_empty() {
                        view! { <li class="muted">{format!("No messages yet. Say hello to {other}.")}</li> }.into_any()
                    } else {
                        messages.into_iter().map(|m| view! {
                            <li class="chat-line" data-sender=m.sender_name.clone()>
                                <span class="chat-meta">{m.sender_name.clone()} " · " {m.created_at.format("%H:%M").to_string()}</span>
                                <span class="chat-body">{m.body.clone()}</span>
                            </li>
                        }).collect_view().into_any()
                    }
                }}
            </ol>
            <Show when=open>
                <ChatForm action=send form_ref=chat_form session_id=sid.clone() />
                <FormError error=send_error />
            </Show>
        </section>
        <Show when=move || open() && viewer_is_mechanic>
            <section class="card">
                <EndForm action=end session_id=sid_end.clone() />
                <FormError error=end_error />
            </section>
        </Show>
        <Show when=move || status() == SessionStatus::Completed && !viewer_is_mechanic && room.with(|r| r.rating.is_none())>
            <section class="card" id="rate-card">
                <h2>"How did it go?"</h2>
                <RateForm action=rate session_id=sid_rate.clone() error=rate_error />
            </section>
        </Show>
        {move || room.with(|r| r.rating.map(|n| (n, r.rating_comment.clone().unwrap_or_default()))).map(|(n, comment)| view! {
            <section class="card" id="rated">
                <p>{format!("Rated {n} of 5.")} " " {comment}</p>
            </section>
        })}
    }
}

#[component]
fn ChatForm(
    action: ServerAction<SendChat>,
    form_ref: NodeRef<leptos::html::Form>,
    session_id: String,
) -> impl IntoView {
    view! {
        <ActionForm action node_ref=form_ref attr:class="chat-form" attr:id="chat-form">
            <input type="hidden" name="session_id" value=session_id />
            <input type="text" name="body" id="chat-input" maxlength="2000" autocomplete="off" placeholder="Write a message" aria-label="Message" />
            <button type="submit" class="primary" disabled=move || action.pending().get()>"Send"</button>
        </ActionForm>
    }
}

#[component]
fn EndForm(action: ServerAction<EndSession>, session_id: String) -> impl IntoView {
    view! {
        <ActionForm action attr:id="end-form">
            <input type="hidden" name="session_id" value=session_id />
            <button type="submit" class="danger">"End the session"</button>
        </ActionForm>
    }
}

#[component]
fn RateForm(
    action: ServerAction<RateSession>,
    session_id: String,
    error: Signal<Option<crate::error::AppError>>,
) -> impl IntoView {
    view! {
        <ActionForm action attr:class="stack" attr:id="rate-form">
            <input type="hidden" name="session_id" value=session_id />
            <fieldset class="stars">
                <legend>"Your rating"</legend>
                {(1..=5).rev().map(|n| view! {
                    <label><input type="radio" name="rating" value=n.to_string() id=format!("rating-{n}") />{format!(" {n} ★")}</label>
                }).collect_view()}
            </fieldset>
            <span class="field-error">{move || error.get().and_then(|e| e.field_message("rating"))}</span>
            <label for="rating-comment">"Comment (optional)"</label>
            <textarea id="rating-comment" name="comment" maxlength="1000"></textarea>
            <FormError error />
            <button type="submit" class="primary">"Send rating"</button>
        </ActionForm>
    }
}

// ---------------------------------------------------------------- customer order

pub type OrderResource = Resource<Result<CustomerOrder, crate::error::AppError>>;

/// The customer's order, for a page to create where it starts.
pub fn order_resource(order_id: Option<Uuid>) -> OrderResource {
    Resource::new(
        move || order_id,
        |id| async move {
            match id {
                Some(id) => get_order(id).await,
                None => Err(crate::error::AppError::not_found("That booking link is not valid.")),
            }
        },
    )
}

/// A customer's booking, following it live: waiting, taken (by whom, which
/// workshop), in session, completed; widen or cancel when nobody took it.
#[component]
pub fn OrderLive(
    order_id: Option<Uuid>,
    order: OrderResource,
    #[prop(optional)] payment_cancelled: bool,
) -> impl IntoView {
    let initial = order;
    let (live, set_live) = signal::<Option<CustomerOrder>>(None);
    if let Some(order_id) = order_id {
        follow(format!("/api/live/order/{order_id}"), "order", set_live);
    }
    view! {
        <Suspense fallback=|| view! { <p class="muted">"Loading…"</p> }>
            {move || {
                let order = match live.get() {
                    Some(o) => Some(Ok(o)),
                    None => initial.get(),
                };
                order.map(|r| match r {
                    Ok(o) => view! { <OrderStatusCard o payment_cancelled /> }.into_any(),
                    Err(e) => view! { <section class="card narrow"><crate::ui::ErrorNotice error=e /></section> }.into_any(),
                })
            }}
        </Suspense>
    }
}

#[component]
fn OrderStatusCard(o: CustomerOrder, payment_cancelled: bool) -> impl IntoView {
    let state = o.state();
    let pay_again = (state == CustomerState::AwaitingPayment).then(|| o.checkout_url.clone()).flatten();
    let who = match (&o.mechanic_name, &o.serving_workshop_name) {
        (Some(m), Some(w)) => Some(format!("{m} of {w}")),
        (Some(m), None) => Some(format!("{m}, independent mechanic")),
        _ => None,
    };
    let (title, text) = match state {
        CustomerState::AwaitingPayment => {
            ("Confirming your payment…", "This takes a few seconds; the page updates by itself.")
        }
        CustomerState::WaitingForMechanic => (
            "Waiting for a mechanic",
            "Mechanics are being offered your session now. This page updates by itself.",
        ),
        CustomerState::MechanicAssigned => {
            ("A mechanic has taken your session", "Open the session room to talk to them.")
        }
        CustomerState::InSession => ("In session", "Your mechanic is with you in the session room."),
        CustomerState::Completed => ("Session completed", "Thank you. You can rate the session in its room."),
        CustomerState::NoMechanicFound => (
            "No mechanic of your workshop was available",
            "Open your request to other mechanics, or cancel it for a full refund.",
        ),
        CustomerState::Cancelled => ("Cancelled", "This booking was cancelled."),
        CustomerState::Refunded => ("Refunded", "Your payment was refunded in full."),
    };
    let widen = ServerAction::<WidenRequest>::new();
    let cancel = ServerAction::<CancelRequest>::new();
    let error = Signal::derive(move || action_error(widen).get().or_else(|| action_error(cancel).get()));
    let oid = o.order_id.to_string();
    let oid2 = oid.clone();
    let oid3 = oid.clone();
    let can_cancel = matches!(state, CustomerState::WaitingForMechanic | CustomerState::NoMechanicFound);
    let here = format!("/orders/{}", o.order_id);
    view! {
        <section class="card narrow center" id="order-status" data-state=format!("{state:?}")>
            <p><span class=state.badge() id="order-state">{state.label()}</span></p>
            <h1>{title}</h1>
            <p>{text}</p>
            {who.map(|w| view! { <p id="order-mechanic">"Mechanic: " <strong>{w}</strong></p> })}
            <p class="muted small">{o.plan_name.clone()} " · " {o.vehicle.clone()} " · " {format_money(o.amount_cents, &o.currency)}
                {(o.amount_refunded_cents > 0).then(|| format!(" · refunded {}", format_money(o.amount_refunded_cents, &o.currency)))}</p>
            {o.session_id.map(|s| view! {
                <p><a class="button primary" id="open-room" href=format!("/session/{s}")>
                    {if state == CustomerState::Completed { "Open the session (rate it)" } else { "Open the session room" }}
                </a></p>
            })}
            {pay_again.filter(|_| payment_cancelled).map(|url| view! {
                <p><a class="button primary" href=url>"Continue to payment"</a></p>
            })}
            {(state == CustomerState::NoMechanicFound).then(|| view! {
                <div class="row" style="justify-content:center">
                    <ActionForm action=widen attr:class="inline-form">
                        <input type="hidden" name="order_id" value=oid.clone() />
                        <input type="hidden" name="routing_type" value="hybrid" />
                        <button type="submit" class="primary">"Open to other mechanics"</button>
                    </ActionForm>
                    <ActionForm action=widen attr:class="inline-form">
                        <input type="hidden" name="order_id" value=oid2.clone() />
                        <input type="hidden" name="routing_type" value="broadcast" />
                        <button type="submit">"Anyone available"</button>
                    </ActionForm>
                </div>
            })}
            {can_cancel.then(|| view! {
                <ActionForm action=cancel attr:class="inline-form" attr:id="cancel-form">
                    <input type="hidden" name="order_id" value=oid3.clone() />
                    <button type="submit" class="danger small">"Cancel and refund"</button>
                </ActionForm>
            })}
            <FormError error=error />
            <p class="row" style="justify-content:center">
                <a class="button" href="/sessions">"My sessions"</a>
                <a class="button" href=here>"Refresh"</a>
            </p>
        </section>
    }
}

#[component]
pub fn OrderPage() -> impl IntoView {
    let params = use_params_map();
    let order_id = params.with_untracked(|p| p.get("id")).and_then(|s| Uuid::parse_str(&s).ok());
    let order = order_resource(order_id);
    view! {
        <Title text="Your booking" />
        <RoleGate role=Role::Customer children=move |_| view! { <OrderLive order_id order /> } />
    }
}

// ---------------------------------------------------------------- admin

type AuditResource = Resource<Result<Option<Vec<super::RoutingAuditRow>>, crate::error::AppError>>;

#[component]
pub fn AdminRequestsPage() -> impl IntoView {
    let requests = Resource::new(|| (), |_| admin_requests());
    let (selected, set_selected) = signal::<Option<Uuid>>(None);
    let audit: AuditResource = Resource::new(
        move || selected.get(),
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
            <crate::admin::pages::AdminNav />
            <AdminRequests requests audit set_selected />
            <AnalyticsTable data=analytics />
        } />
    }
}

#[component]
fn AdminRequests(
    requests: Resource<Result<Vec<super::AdminRequest>, crate::error::AppError>>,
    audit: AuditResource,
    set_selected: WriteSignal<Option<Uuid>>,
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
                                            <td><button class="small audit-button" on:click=move |_| set_selected.set(Some(id))>"Audit"</button></td>
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

/// The session analytics table (one row per workshop).
#[component]
pub fn AnalyticsRows(rows: Vec<WorkshopAnalytics>) -> impl IntoView {
    view! {
        <div class="table-wrap">
            <table class="analytics">
                <thead><tr><th>"Workshop"</th><th class="num">"Chose it"</th><th class="num">"Acceptance"</th><th class="num">"Served"</th>
                    <th class="num">"Completed"</th><th class="num">"Rating"</th><th class="num">"Accepts in"</th></tr></thead>
                <tbody>
                    {rows.into_iter().map(|a| view! {
                        <tr>
                            <td>{a.workshop_name.clone()}</td>
                            <td class="num">{a.requests_preferred}</td>
                            <td class="num">{a.acceptance_rate_percent().map(|p| format!("{p}%")).unwrap_or_else(|| "–".into())}</td>
                            <td class="num">{a.sessions_served}</td>
                            <td class="num">{a.sessions_completed}</td>
                            <td class="num">{a.avg_rating.map(|r| format!("{r:.2} ({})", a.rating_count)).unwrap_or_else(|| "–".into())}</td>
                            <td class="num">{describe_accept_time(a.median_accept_seconds).unwrap_or_else(|| "–".into())}</td>
                        </tr>
                    }).collect_view()}
                </tbody>
            </table>
        </div>
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
