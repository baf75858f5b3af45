//! Server functions of the session room.

use super::SessionRoom;
use crate::error::AppError;
use leptos::prelude::*;
use uuid::Uuid;

#[server(prefix = "/api", endpoint = "session/room")]
pub async fn get_session_room(session_id: Uuid) -> Result<SessionRoom, AppError> {
    let user = crate::auth::guard::require_user()?;
    let state = crate::state::app_state()?;
    super::room::load_room(&state.pool, crate::ids::SessionId(session_id), crate::ids::UserId(user.id)).await
}

#[server(prefix = "/api", endpoint = "session/chat")]
pub async fn send_chat(session_id: Uuid, body: String) -> Result<(), AppError> {
    let user = crate::auth::guard::require_user()?;
    let state = crate::state::app_state()?;
    super::room::send_chat(&state.pool, crate::ids::SessionId(session_id), crate::ids::UserId(user.id), &body)
        .await
}

/// The mechanic ends the session.
#[server(prefix = "/api", endpoint = "session/end")]
pub async fn end_session(session_id: Uuid) -> Result<(), AppError> {
    let state = crate::state::app_state()?;
    let (user, _) = crate::mechanics::api::require_mechanic(&state).await?;
    super::room::end_session(
        &state.pool,
        crate::ids::SessionId(session_id),
        crate::ids::UserId(user.id),
        &state.config.public_url,
    )
    .await
}

/// The customer rates a completed session, once, 1 to 5 with an optional comment.
#[server(prefix = "/api", endpoint = "session/rate")]
pub async fn rate_session(session_id: Uuid, rating: String, comment: Option<String>) -> Result<(), AppError> {
    let user = crate::auth::guard::require_role(crate::auth::Role::Customer)?;
    let state = crate::state::app_state()?;
    let rating =
        rating.trim().parse::<i16>().map_err(|_| AppError::field("rating", "Choose from 1 to 5 stars."))?;
    super::room::rate_session(
        &state.pool,
        crate::ids::SessionId(session_id),
        crate::ids::UserId(user.id),
        rating,
        comment.as_deref(),
    )
    .await
}

/// The mechanic starts the session clock without waiting for the customer to
/// be in the room (it starts by itself when both are).
#[server(prefix = "/api", endpoint = "session/start-clock")]
pub async fn start_clock(session_id: Uuid) -> Result<(), AppError> {
    let state = crate::state::app_state()?;
    let (user, _) = crate::mechanics::api::require_mechanic(&state).await?;
    super::call::signals::start_clock(
        &state.pool,
        &state.config.call,
        crate::ids::SessionId(session_id),
        Some(crate::ids::UserId(user.id)),
    )
    .await
    .map(|_| ())
}
