//! The session room (chat, ending, rating), rendered on the server and then
//! following its Server-Sent Events stream in the browser; and the mechanic's
//! list of their sessions.

use super::api::{get_session_room, EndSession, RateSession, SendChat};
use super::photos::view::{ChatPhoto, PhotoAttachForm};
use super::{SessionRoom, SessionStatus};
use crate::auth::CurrentUser;
use crate::ui::gate::RequireLogin;
use crate::ui::live::follow;
use crate::ui::{action_error, FormError};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_params_map;
use uuid::Uuid;

// ---------------------------------------------------------------- mechanic

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
                                <a rel="external" href=format!("/session/{}", s.session_id)>{s.customer_name.clone()} " · " {s.plan_name.clone()} " · " {s.vehicle.clone()}</a>
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
        <RequireLogin children=move |_: CurrentUser| view! { <Room initial /> } />
    }
}

#[component]
fn Room(initial: RoomResource) -> impl IntoView {
    view! {
        <Suspense fallback=|| view! { <p class="muted">"Loading…"</p> }>
            {move || initial.get().map(|r| match r {
                Ok(first) => view! { <LiveRoom first /> }.into_any(),
                Err(e) => view! { <section class="card narrow"><crate::ui::ErrorNotice error=e /></section> }.into_any(),
            })}
        </Suspense>
    }
}

/// The room in the browser: rendered once on the server with its first state,
/// then only its changing parts (status, messages, which forms show) follow the
/// live stream, so typing is never interrupted.
#[island]
fn LiveRoom(first: SessionRoom) -> impl IntoView {
    let (live, set_live) = signal::<Option<SessionRoom>>(None);
    follow(format!("/api/live/session/{}", first.session_id), "room", set_live);
    view! { <RoomView first live /> }
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
    let (sid_end, sid_rate, sid_report) = (sid.clone(), sid.clone(), sid.clone());
    let viewer_is_mechanic = r.viewer_is_mechanic;
    let room_id = r.session_id;
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
        <crate::sessions::clock_view::SessionClock room />
        {r.includes_call.then(|| view! {
            <crate::sessions::call::view::CallPanel session_id=r.session_id viewer_is_mechanic other_name=other.clone() />
        })}
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
                                {m.photo_id.map(|p| view! { <ChatPhoto session_id=room_id photo_id=p sender=m.sender_name.clone() caption=m.body.clone() /> })}
                                <span class="chat-body">{m.body.clone()}</span>
                            </li>
                        }).collect_view().into_any()
                    }
                }}
            </ol>
            <Show when=open>
                <ChatForm action=send form_ref=chat_form session_id=sid.clone() />
                <FormError error=send_error />
                <PhotoAttachForm session_id=room_id />
            </Show>
        </section>
        <super::report::view::RoomReport
            session_id=sid_report
            viewer_is_mechanic
            open=Signal::derive(open)
            report=Signal::derive(move || room.with(|r| r.report.clone()))
        />
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

// ---------------------------------------------------------------- admin
