//! `GET /api/live/session/{session_id}`: the session room as a Server-Sent Events stream.
//! Each reloads its state when a relevant signal arrives from LISTEN/NOTIFY.

use crate::auth::guard::RequestUser;
use crate::error::AppError;
use crate::realtime::server::live_stream;
use crate::realtime::Signal;
use crate::state::AppState;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use axum::Extension;
use uuid::Uuid;

/// `GET /api/live/session/{session_id}`: the room (status and chat), event `room`.
pub async fn session(
    State(state): State<AppState>,
    Extension(user): Extension<RequestUser>,
    Path(session_id): Path<Uuid>,
) -> Response {
    let Some(user) = user.0 else { return AppError::Unauthenticated.into_response() };
    let owner =
        match crate::auth::guard::stream_owner(&state, &user, crate::realtime::registry::StreamKind::Session)
        {
            Ok(owner) => owner,
            Err(e) => return e.into_response(),
        };
    let pool = state.pool.clone();
    let load = move || {
        let pool = pool.clone();
        async move {
            super::room::load_room(&pool, crate::ids::SessionId(session_id), crate::ids::UserId(user.id))
                .await
        }
    };
    if let Err(e) = load().await {
        return e.into_response();
    }
    // An open room page is a participant in the room: the clock may start now.
    if let Err(e) = crate::sessions::call::signals::join(
        &state.pool,
        &state.config.call,
        crate::ids::SessionId(session_id),
        crate::ids::UserId(user.id),
    )
    .await
    {
        return e.into_response();
    }
    live_stream(
        state.realtime.subscribe(),
        "room",
        move |s| match s {
            Signal::ChatMessage { session_id: id } | Signal::SessionChanged { session_id: id, .. } => {
                *id == session_id
            }
            _ => false,
        },
        load,
        owner,
    )
    .into_response()
}
