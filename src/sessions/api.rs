//! Server functions of the session lifecycle.

use super::{AdminRequest, OfferView, RoutingAuditRow, SessionRoom, WorkshopAnalytics};
use crate::error::AppError;
use leptos::prelude::*;
use uuid::Uuid;

#[cfg(feature = "ssr")]
fn settings() -> Result<(crate::server::AppState, super::lifecycle::RoutingSettings), AppError> {
    let state = crate::server::app_state()?;
    let settings = super::lifecycle::RoutingSettings::from_config(&state.config);
    Ok((state, settings))
}

/// The requests offered to the calling mechanic now (the dashboard's first view;
/// the live stream keeps it current).
#[server(prefix = "/api", endpoint = "mechanic/offers")]
pub async fn my_offers() -> Result<Vec<OfferView>, AppError> {
    let (state, s) = settings()?;
    let (user, _) = crate::mechanics::api::require_mechanic(&state).await?;
    super::lifecycle::offers_for(&state.pool, user.id, chrono::Utc::now(), &s.policy).await
}

/// Takes a request. Exactly one mechanic wins; everyone else is told it is taken.
#[server(prefix = "/api", endpoint = "mechanic/accept")]
pub async fn accept_request(request_id: Uuid) -> Result<Uuid, AppError> {
    let (state, s) = settings()?;
    let (user, _) = crate::mechanics::api::require_mechanic(&state).await?;
    super::lifecycle::accept(&state.pool, user.id, request_id, chrono::Utc::now(), &s.policy).await
}

/// The mechanic's dashboard: profile, offers now, and sessions.
#[server(prefix = "/api", endpoint = "mechanic/dashboard")]
pub async fn get_mechanic_dashboard() -> Result<super::MechanicDashboard, AppError> {
    let (state, s) = settings()?;
    let (user, profile) = crate::mechanics::api::require_mechanic(&state).await?;
    let offers = super::lifecycle::offers_for(&state.pool, user.id, chrono::Utc::now(), &s.policy).await?;
    let sessions = mechanic_sessions(&state.pool, user.id).await?;
    Ok(super::MechanicDashboard { profile, offers, sessions })
}

/// The mechanic's sessions, open ones first.
#[cfg(feature = "ssr")]
async fn mechanic_sessions(
    pool: &sqlx::PgPool,
    mechanic: Uuid,
) -> Result<Vec<super::MechanicSession>, AppError> {
    Ok(sqlx::query_as::<_, super::MechanicSession>(
        "SELECT s.id AS session_id, cu.name AS customer_name, o.plan_name,
                o.vehicle_year::text || ' ' || o.vehicle_make || ' ' || o.vehicle_model AS vehicle, s.status, s.created_at
           FROM sessions s JOIN orders o ON o.id = s.order_id JOIN users cu ON cu.id = s.customer_id
          WHERE s.mechanic_id = $1
          ORDER BY (s.status IN ('accepted', 'active')) DESC, s.created_at DESC LIMIT 50",
    )
    .bind(mechanic)
    .fetch_all(pool)
    .await?)
}

#[server(prefix = "/api", endpoint = "session/room")]
pub async fn get_session_room(session_id: Uuid) -> Result<SessionRoom, AppError> {
    let user = crate::auth::guard::require_user()?;
    let state = crate::server::app_state()?;
    super::lifecycle::load_room(&state.pool, session_id, user.id).await
}

#[server(prefix = "/api", endpoint = "session/chat")]
pub async fn send_chat(session_id: Uuid, body: String) -> Result<(), AppError> {
    let user = crate::auth::guard::require_user()?;
    let state = crate::server::app_state()?;
    super::lifecycle::send_chat(&state.pool, session_id, user.id, &body).await
}

/// The mechanic ends the session.
#[server(prefix = "/api", endpoint = "session/end")]
pub async fn end_session(session_id: Uuid) -> Result<(), AppError> {
    let state = crate::server::app_state()?;
    let (user, _) = crate::mechanics::api::require_mechanic(&state).await?;
    super::lifecycle::end_session(&state.pool, session_id, user.id).await
}

/// The customer rates a completed session, once, 1 to 5 with an optional comment.
#[server(prefix = "/api", endpoint = "session/rate")]
pub async fn rate_session(session_id: Uuid, rating: String, comment: Option<String>) -> Result<(), AppError> {
    let user = crate::auth::guard::require_role(crate::auth::Role::Customer)?;
    let state = crate::server::app_state()?;
    let rating =
        rating.trim().parse::<i16>().map_err(|_| AppError::field("rating", "Choose from 1 to 5 stars."))?;
    super::lifecycle::rate_session(&state.pool, session_id, user.id, rating, comment.as_deref()).await
}

/// An unserved workshop-only request: open it to others (hybrid or broadcast).
#[server(prefix = "/api", endpoint = "booking/widen")]
pub async fn widen_request(order_id: Uuid, routing_type: String) -> Result<(), AppError> {
    use crate::routing::RoutingType;
    let customer = crate::auth::guard::require_role(crate::auth::Role::Customer)?;
    let state = crate::server::app_state()?;
    let routing = match RoutingType::parse(&routing_type) {
        Some(r @ (RoutingType::Hybrid | RoutingType::Broadcast)) => r,
        _ => return Err(AppError::field("routing_type", "Choose to open the request to other mechanics.")),
    };
    let now = chrono::Utc::now();
    let mut tx = state.pool.begin().await?;
    let owned: Option<crate::booking::RequestStatus> = sqlx::query_scalar(
        "SELECT status FROM session_requests WHERE order_id = $1 AND customer_id = $2 FOR UPDATE",
    )
    .bind(order_id)
    .bind(customer.id)
    .fetch_optional(&mut *tx)
    .await?;
    if owned.is_none() {
        return Err(AppError::not_found("You have no paid booking with that reference."));
    }
    let widened: Option<(Uuid, Uuid)> = sqlx::query_as(
        "UPDATE session_requests SET routing_type = $3, status = 'pending', expires_at = NULL, closed_at = NULL,
                escalated_at = $4
          WHERE order_id = $1 AND customer_id = $2 AND status = 'expired'
          RETURNING id, order_id",
    )
    .bind(order_id)
    .bind(customer.id)
    .bind(routing)
    .bind(now)
    .fetch_optional(&mut *tx)
    .await?;
    let Some((request_id, order_id)) = widened else {
        return Err(AppError::conflict("Only a request that no mechanic took can be opened to others."));
    };
    sqlx::query("INSERT INTO routing_events (request_id, kind, details) VALUES ($1, 'widened', $2)")
        .bind(request_id)
        .bind(serde_json::json!({ "routing_type": routing }))
        .execute(&mut *tx)
        .await?;
    crate::realtime::server::notify(
        &mut *tx,
        &crate::realtime::Signal::RequestChanged { request_id, order_id },
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Cancels a request no mechanic has taken, with a full refund.
#[server(prefix = "/api", endpoint = "booking/cancel")]
pub async fn cancel_request(order_id: Uuid) -> Result<(), AppError> {
    let customer = crate::auth::guard::require_role(crate::auth::Role::Customer)?;
    let state = crate::server::app_state()?;
    crate::refunds::cancel_unserved(&state, order_id, Some(customer.id)).await
}

/// Recent requests, for the admin's routing audit.
#[server(prefix = "/api", endpoint = "admin/requests")]
pub async fn admin_requests() -> Result<Vec<AdminRequest>, AppError> {
    crate::auth::guard::require_admin()?;
    let state = crate::server::app_state()?;
    Ok(sqlx::query_as::<_, AdminRequest>(
        "SELECT r.id AS request_id, r.order_id, cu.email AS customer_email, r.routing_type,
                pw.name AS preferred_workshop_name, r.status, mu.name AS mechanic_name, sw.name AS serving_workshop_name,
                r.created_at, r.accepted_at
           FROM session_requests r
           JOIN users cu ON cu.id = r.customer_id
           LEFT JOIN organizations pw ON pw.id = r.preferred_workshop_id
           LEFT JOIN users mu ON mu.id = r.mechanic_id
           LEFT JOIN organizations sw ON sw.id = r.workshop_id
          ORDER BY r.created_at DESC, r.id LIMIT 100",
    )
    .fetch_all(&state.pool)
    .await?)
}

/// Every routing decision about one request, in order.
#[server(prefix = "/api", endpoint = "admin/request-audit")]
pub async fn request_audit(request_id: Uuid) -> Result<Vec<RoutingAuditRow>, AppError> {
    crate::auth::guard::require_admin()?;
    let state = crate::server::app_state()?;
    Ok(sqlx::query_as::<_, RoutingAuditRow>(
        "SELECT e.id, e.kind, u.name AS mechanic_name, e.details, e.created_at
           FROM routing_events e LEFT JOIN users u ON u.id = e.mechanic_id
          WHERE e.request_id = $1 ORDER BY e.id",
    )
    .bind(request_id)
    .fetch_all(&state.pool)
    .await?)
}

#[cfg(feature = "ssr")]
const ANALYTICS_SELECT: &str = "SELECT o.id AS workshop_id, o.name AS workshop_name, s.requests_preferred,
        s.preferred_served_by_self, s.requests_served AS sessions_served, s.sessions_completed,
        s.rating_avg::float8 AS avg_rating, s.rating_count, s.median_accept_secs_30d AS median_accept_seconds
   FROM workshop_stats s JOIN organizations o ON o.id = s.workshop_id";

/// Session analytics of one workshop (for its dashboard).
#[cfg(feature = "ssr")]
pub async fn workshop_analytics(pool: &sqlx::PgPool, workshop: Uuid) -> Result<WorkshopAnalytics, AppError> {
    Ok(sqlx::query_as::<_, WorkshopAnalytics>(&format!("{ANALYTICS_SELECT} WHERE o.id = $1"))
        .bind(workshop)
        .fetch_one(pool)
        .await?)
}

/// Session analytics of every workshop, for the admin.
#[server(prefix = "/api", endpoint = "admin/analytics")]
pub async fn all_workshop_analytics() -> Result<Vec<WorkshopAnalytics>, AppError> {
    crate::auth::guard::require_admin()?;
    let state = crate::server::app_state()?;
    Ok(sqlx::query_as::<_, WorkshopAnalytics>(&format!(
        "{ANALYTICS_SELECT} WHERE o.status <> 'rejected' ORDER BY s.requests_served DESC, o.name LIMIT 500"
    ))
    .fetch_all(&state.pool)
    .await?)
}
