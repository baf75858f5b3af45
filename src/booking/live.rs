//! `GET /api/live/order/{order_id}`: the customer's booking as a Server-Sent
//! Events stream, reloaded when its request or session changes.

use crate::auth::guard::RequestUser;
use crate::auth::Role;
use crate::error::AppError;
use crate::realtime::server::live_stream;
use crate::realtime::Signal;
use crate::state::AppState;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use axum::Extension;
use uuid::Uuid;

/// `GET /api/live/order/{order_id}`: the customer's booking as it moves along, event `order`.
pub async fn order(
    State(state): State<AppState>,
    Extension(user): Extension<RequestUser>,
    Path(order_id): Path<Uuid>,
) -> Response {
    let Some(user) = user.0 else { return AppError::Unauthenticated.into_response() };
    let owner =
        match crate::auth::guard::stream_owner(&state, &user, crate::realtime::registry::StreamKind::Order) {
            Ok(owner) => owner,
            Err(e) => return e.into_response(),
        };
    if user.role != Role::Customer {
        return AppError::forbidden("Only the customer who booked follows a booking.").into_response();
    }
    let pool = state.pool.clone();
    let load = move || {
        let pool = pool.clone();
        async move {
            super::api::load_customer_order(&pool, crate::ids::OrderId(order_id), crate::ids::UserId(user.id))
                .await
        }
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
        owner,
    )
    .into_response()
}
