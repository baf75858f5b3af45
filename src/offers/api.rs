//! Server functions of offers: what is offered to the calling mechanic, accepting,
//! and the mechanic's dashboard.

use super::OfferView;
use crate::error::AppError;
use leptos::prelude::*;
use uuid::Uuid;

#[cfg(feature = "ssr")]
fn settings() -> Result<(crate::state::AppState, super::store::RoutingSettings), AppError> {
    let state = crate::state::app_state()?;
    let settings = super::store::RoutingSettings::from_config(&state.config);
    Ok((state, settings))
}

/// The requests offered to the calling mechanic now (the dashboard's first view;
/// the live stream keeps it current).
#[server(prefix = "/api", endpoint = "mechanic/offers")]
pub async fn my_offers() -> Result<Vec<OfferView>, AppError> {
    let (state, s) = settings()?;
    let (user, _) = crate::mechanics::api::require_mechanic(&state).await?;
    super::store::offers_for(&state.pool, crate::ids::UserId(user.id), chrono::Utc::now(), &s.policy).await
}

/// Takes a request. Exactly one mechanic wins; everyone else is told it is taken.
#[server(prefix = "/api", endpoint = "mechanic/accept")]
pub async fn accept_request(request_id: Uuid) -> Result<Uuid, AppError> {
    let (state, s) = settings()?;
    let (user, _) = crate::mechanics::api::require_mechanic(&state).await?;
    super::accept::accept(
        &state.pool,
        crate::ids::UserId(user.id),
        crate::ids::RequestId(request_id),
        chrono::Utc::now(),
        &s.policy,
    )
    .await
}

/// The mechanic's dashboard: profile, offers now, and sessions.
#[server(prefix = "/api", endpoint = "mechanic/dashboard")]
pub async fn get_mechanic_dashboard() -> Result<super::MechanicDashboard, AppError> {
    let (state, s) = settings()?;
    let (user, profile) = crate::mechanics::api::require_mechanic(&state).await?;
    let offers =
        super::store::offers_for(&state.pool, crate::ids::UserId(user.id), chrono::Utc::now(), &s.policy)
            .await?;
    let sessions = mechanic_sessions(&state.pool, crate::ids::UserId(user.id)).await?;
    Ok(super::MechanicDashboard { profile, offers, sessions })
}

/// The mechanic's sessions, open ones first.
#[cfg(feature = "ssr")]
async fn mechanic_sessions(
    pool: &sqlx::PgPool,
    mechanic: crate::ids::UserId,
) -> Result<Vec<crate::sessions::MechanicSession>, AppError> {
    let mechanic = mechanic.uuid();
    Ok(sqlx::query_as!(
        crate::sessions::MechanicSession,
        r#"SELECT s.id AS session_id, cu.name AS customer_name, o.plan_name,
                  o.vehicle_year::text || ' ' || o.vehicle_make || ' ' || o.vehicle_model AS "vehicle!",
                  s.status AS "status: crate::status::SessionStatus",
                  s.created_at AS "created_at: chrono::DateTime<chrono::Utc>"
             FROM sessions s JOIN orders o ON o.id = s.order_id JOIN users cu ON cu.id = s.customer_id
            WHERE s.mechanic_id = $1
            ORDER BY (s.status IN ('accepted', 'active')) DESC, s.created_at DESC LIMIT 50"#,
        mechanic
    )
    .fetch_all(pool)
    .await?)
}
