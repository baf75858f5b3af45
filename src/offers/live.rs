//! `GET /api/live/offers`: the calling mechanic's offers as a Server-Sent Events
//! stream, reloaded when a request, a mechanic or a session changes.

use crate::auth::guard::RequestUser;
use crate::auth::Role;
use crate::error::AppError;
use crate::realtime::server::live_stream;
use crate::realtime::Signal;
use crate::state::AppState;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::Extension;

/// `GET /api/live/offers`: the calling mechanic's offers, event `offers`.
pub async fn offers(State(state): State<AppState>, Extension(user): Extension<RequestUser>) -> Response {
    let Some(user) = user.0 else { return AppError::Unauthenticated.into_response() };
    let owner = match crate::auth::guard::stream_owner(&state, &user) {
        Ok(owner) => owner,
        Err(e) => return e.into_response(),
    };
    if user.role != Role::Mechanic {
        return AppError::forbidden("Only mechanics receive offers.").into_response();
    }
    let settings = super::store::RoutingSettings::from_config(&state.config);
    let signals = state.realtime.subscribe();
    let pool = state.pool.clone();
    live_stream(
        signals,
        "offers",
        |s| {
            matches!(
                s,
                Signal::RequestChanged { .. } | Signal::MechanicsChanged | Signal::SessionChanged { .. }
            )
        },
        move || {
            let pool = pool.clone();
            let policy = settings.policy;
            async move { super::store::offers_for(&pool, user.id, chrono::Utc::now(), &policy).await }
        },
        owner,
    )
    .into_response()
}
