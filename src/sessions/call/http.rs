//! The call's HTTP side, for the two participants only (anyone else: 404):
//! - `POST /api/session/{session_id}/call/signals`: one signalling message, JSON `{kind, payload}`;
//! - `GET /api/session/{session_id}/call/ice`: the ICE servers, with fresh TURN credentials;
//! - `GET /api/live/session/{session_id}/call`: the other side's messages as Server-Sent
//!   Events (`signal`, numbered, so a reconnecting `EventSource` resumes after the last
//!   one it saw), the call's `state` (at connect, on every change and when the time is
//!   up), and `ended` when the session or the log-in ends.

use super::{signals, turn, CallSignal, SignalKind};
use crate::auth::guard::RequestUser;
use crate::error::AppError;
use crate::realtime::Signal;
use crate::sessions::clock::ClockTimes;
use crate::sessions::SessionStatus;
use crate::state::AppState;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::time::Duration;
use tokio::sync::broadcast::error::RecvError;
use uuid::Uuid;

#[derive(Deserialize)]
struct SignalBody {
    kind: String,
    payload: serde_json::Value,
}

/// `POST /api/session/{session_id}/call/signals`
pub async fn post_signal(
    State(state): State<AppState>,
    Extension(user): Extension<RequestUser>,
    Path(session_id): Path<Uuid>,
    body: Bytes,
) -> Response {
    let Some(user) = user.0 else { return AppError::Unauthenticated.into_response() };
    let body: SignalBody = match serde_json::from_slice(&body) {
        Ok(b) => b,
        Err(_) => {
            return AppError::bad_request("Send a call message as JSON: {\"kind\": …, \"payload\": {…}}.")
                .into_response()
        }
    };
    let Some(kind) = SignalKind::parse(&body.kind) else {
        return AppError::bad_request("Unknown kind of call message.").into_response();
    };
    match signals::send(
        &state.pool,
        crate::ids::SessionId(session_id),
        crate::ids::UserId(user.id),
        kind,
        &body.payload,
    )
    .await
    {
        Ok(seq) => (StatusCode::CREATED, Json(serde_json::json!({ "ok": true, "seq": seq }))).into_response(),
        Err(e) => e.into_response(),
    }
}

/// `GET /api/session/{session_id}/call/ice`
pub async fn ice(
    State(state): State<AppState>,
    Extension(user): Extension<RequestUser>,
    Path(session_id): Path<Uuid>,
) -> Response {
    let Some(user) = user.0 else { return AppError::Unauthenticated.into_response() };
    let access =
        match signals::access(&state.pool, crate::ids::SessionId(session_id), crate::ids::UserId(user.id))
            .await
        {
            Ok(a) => a,
            Err(e) => return e.into_response(),
        };
    let now = Utc::now();
    if let Some(problem) = access.call_problem(now) {
        return problem.into_response();
    }
    let not_after = access.clock.map(|c| c.call_closes_at);
    Json(turn::ice_config(
        &state.config.call,
        crate::ids::SessionId(session_id),
        access.is_mechanic,
        now,
        not_after,
    ))
    .into_response()
}

/// What the call's page is told about the session.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct CallState {
    pub status: SessionStatus,
    pub includes_call: bool,
    /// Whether the call may run now.
    pub call_open: bool,
    /// Why not, when it may not.
    pub message: Option<String>,
    pub clock: Option<ClockTimes>,
    /// The server's clock, so a page can correct for its own.
    pub server_now: DateTime<Utc>,
}

fn call_state(access: &signals::CallAccess) -> CallState {
    let now = Utc::now();
    let problem = access.call_problem(now);
    CallState {
        status: access.status,
        includes_call: access.includes_call,
        call_open: problem.is_none(),
        message: problem.map(|p| p.to_string()),
        clock: access.clock,
        server_now: now,
    }
}

fn signal_event(s: &CallSignal) -> Event {
    Event::default().event("signal").id(s.seq.to_string()).data(serde_json::to_string(s).unwrap_or_default())
}

fn state_event(s: &CallState) -> Event {
    Event::default().event("state").data(serde_json::to_string(s).unwrap_or_default())
}

/// `GET /api/live/session/{session_id}/call`
pub async fn stream(
    State(state): State<AppState>,
    Extension(user): Extension<RequestUser>,
    Path(session_id): Path<Uuid>,
    headers: HeaderMap,
) -> Response {
    let Some(user) = user.0 else { return AppError::Unauthenticated.into_response() };
    let pool = state.pool.clone();
    let first =
        match signals::access(&pool, crate::ids::SessionId(session_id), crate::ids::UserId(user.id)).await {
            Ok(a) => a,
            Err(e) => return e.into_response(),
        };
    if !first.includes_call {
        return AppError::conflict("This plan is chat and photos; it has no video call.").into_response();
    }
    let owner =
        match crate::auth::guard::stream_owner(&state, &user, crate::realtime::registry::StreamKind::Call) {
            Ok(owner) => owner,
            Err(e) => return e.into_response(),
        };
    // Being here is being in the room: the clock may start now.
    if let Err(e) = signals::join(
        &pool,
        &state.config.call,
        crate::ids::SessionId(session_id),
        crate::ids::UserId(user.id),
    )
    .await
    {
        return e.into_response();
    }
    // A reconnecting EventSource says where it stopped; a new page starts after the latest message.
    let resume =
        headers.get("last-event-id").and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<i64>().ok());
    let mut last = match resume {
        Some(n) if n >= 0 => n,
        _ => match signals::latest(&pool, crate::ids::SessionId(session_id)).await {
            Ok(n) => n,
            Err(e) => return e.into_response(),
        },
    };
    let mut receiver = state.realtime.subscribe();
    let owner_id = owner.user;
    let viewer = user.id;
    let events = async_stream::stream! {
        let watch = match owner.start().await {
            Ok(watch) => watch,
            Err(e) => {
                tracing::warn!(error = %e, "could not record the call's stream as open");
                yield Ok::<_, std::convert::Infallible>(Event::default().event("ended").data(crate::realtime::server::NOT_STARTED));
                return;
            }
        };
        let mut recheck = tokio::time::interval(Duration::from_secs(10));
        recheck.tick().await;
        let mut access = first;
        let mut deliver = true;
        let mut send_state = true;
        loop {
            if send_state {
                match signals::access(&pool, crate::ids::SessionId(session_id), crate::ids::UserId(viewer)).await {
                    Ok(a) => access = a,
                    Err(e) => {
                        yield Ok::<_, std::convert::Infallible>(Event::default().event("ended").data(e.to_string()));
                        break;
                    }
                }
                let s = call_state(&access);
                yield Ok(state_event(&s));
                if !s.status.is_open() {
                    yield Ok(Event::default().event("ended").data("This session has ended."));
                    break;
                }
                send_state = false;
            }
            if deliver {
                match signals::after(&pool, crate::ids::SessionId(session_id), crate::ids::UserId(viewer), last).await {
                    Ok(list) => {
                        for s in &list {
                            last = s.seq;
                            yield Ok(signal_event(s));
                        }
                        // More than one page of messages: read on at once.
                        deliver = list.len() == 500;
                        if deliver { continue; }
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "reading call signals");
                        deliver = false;
                    }
                }
            }
            // Wake when the call's time is up, to say so.
            let closes_in = access
                .clock
                .map(|c| (c.call_closes_at - Utc::now()).to_std().unwrap_or(Duration::ZERO))
                .filter(|_| call_state(&access).call_open)
                .unwrap_or(Duration::from_secs(24 * 3600));
            tokio::select! {
                received = receiver.recv() => match received {
                    Ok(Signal::Shutdown) | Err(RecvError::Closed) => break,
                    Ok(Signal::CallSignal { session_id: id, .. }) if id == session_id => deliver = true,
                    Ok(Signal::SessionChanged { session_id: id, .. }) if id == session_id => send_state = true,
                    Ok(Signal::Resync) | Err(RecvError::Lagged(_)) => { deliver = true; send_state = true; }
                    Ok(Signal::AccessChanged { user_id }) if user_id == owner_id => {
                        if !watch.holds().await {
                            yield Ok(Event::default().event("ended").data("Your log-in has ended. Log in again to rejoin the call."));
                            break;
                        }
                    }
                    Ok(_) => {}
                },
                _ = recheck.tick() => {
                    if !watch.holds().await {
                        yield Ok(Event::default().event("ended").data("Your log-in has ended. Log in again to rejoin the call."));
                        break;
                    }
                }
                _ = tokio::time::sleep(closes_in + Duration::from_millis(50)) => send_state = true,
            }
        }
    };
    Sse::new(events).keep_alive(KeepAlive::new().interval(Duration::from_secs(15))).into_response()
}
