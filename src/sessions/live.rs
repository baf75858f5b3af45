//! Server-Sent Event streams: a mechanic's offers, a customer's order, a session room.
//! Each reloads its state when a relevant signal arrives from LISTEN/NOTIFY.

use crate::auth::guard::RequestUser;
use crate::auth::Role;
use crate::error::AppError;
use crate::realtime::server::live_stream;
use crate::realtime::Signal;
use crate::server::AppState;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use axum::Extension;
use uuid::Uuid;

/// `GET /api/live/offers`: the calling mechanic's offers, event `offers`.
pub async fn offers(State(state): State<AppState>, Extension(user): Extension<RequestUser>) -> Response {
    let Some(user) = user.0 else { return AppError::Unauthenticated.into_response() };
    if user.role != Role::Mechanic {
        return AppError::forbidden("Only mechanics receive offers.").into_response();
    }
    let settings = super::lifecycle::RoutingSettings::from_config(&state.config);
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
            async move { super::lifecycle::offers_for(&pool, user.id, chrono::Utc::now(), &policy).await }
        },
    )
    .into_response()
}

/// `GET /api/live/order/{order_id}`: the customer's booking as it moves along, event `order`.
pub async fn order(
    State(state): State<AppState>,
    Extension(user): Extension<RequestUser>,
    Path(order_id): Path<Uuid>,
) -> Response {
    let Some(user) = user.0 else { return AppError::Unauthenticated.into_response() };
    if user.role != Role::Customer {
        return AppError::forbidden("Only the customer who booked follows a booking.").into_response();
    }
    let pool = state.pool.clone();
    let load = move || {
        let pool = pool.clone();
        async move { crate::booking::api::load_customer_order(&pool, order_id, user.id).await }
    };
    // Refuse at once, with a status, rather than opening a stream that says nothing.
    if let Err(e) = load().await {
        return e.into_response();
    }
    live_stream(
        state.realtime.subscribe(),
        "order",
        move |s| match s {
            Signal::RequestChanged { order_id: o, .. } | Signal::SessionChanged { order_id: o, .. } => {
                *o == order_id
            }
            _ => false,
        },
        load,
    )
    .into_response()
}

/// `GET /api/live/session/{session_id}`: the room (status and chat), event `room`.
pub async fn session(
    State(state): State<AppState>,
    Extension(user): Extension<RequestUser>,
    Path(session_id): Path<Uuid>,
) -> Response {
    let Some(user) = user.0 else { return AppError::Unauthenticated.into_response() };
    let pool = state.pool.clone();
    let load = move || {
        let pool = pool.clone();
        async move { super::lifecycle::load_room(&pool, session_id, user.id).await }
    };
    if let Err(e) = load().await {
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
    )
    .into_response()
}
