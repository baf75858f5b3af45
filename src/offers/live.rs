//! `GET /api/live/offers`: the calling mechanic's offers as a Server-Sent Events
//! stream, reloaded when a request, a mechanic or a session changes. It ends
//! with the log-in, and when the mechanic's standing changes (removed from the
//! workshop, the workshop suspended, the application decided again): offers are
//! for the standing the stream was opened under. While it is open, the
//! mechanic counts as having their dashboard open (`super::presence`).

use crate::auth::guard::RequestUser;
use crate::auth::Role;
use crate::error::AppError;
use crate::ids::{UserId, WorkshopId};
use crate::realtime::server::{live_stream, StreamOwner};
use crate::realtime::Signal;
use crate::state::AppState;
use crate::status::{ApplicationStatus, WorkshopStatus};
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::Extension;
use sqlx::PgPool;

/// What a mechanic's offers depend on, besides being online: their workshop,
/// their application and their workshop's status (`None`: no mechanic profile).
#[derive(Clone, Debug, PartialEq, Eq)]
struct Standing(Option<StandingRow>);

#[derive(Clone, Debug, PartialEq, Eq)]
struct StandingRow {
    workshop_id: Option<WorkshopId>,
    application_status: ApplicationStatus,
    workshop_status: Option<WorkshopStatus>,
}

async fn standing(pool: &PgPool, mechanic: UserId) -> Result<Standing, sqlx::Error> {
    let row = sqlx::query_as!(
        StandingRow,
        r#"SELECT m.workshop_id AS "workshop_id: WorkshopId",
                m.application_status AS "application_status: ApplicationStatus",
                o.status AS "workshop_status?: WorkshopStatus"
           FROM mechanics m LEFT JOIN organizations o ON o.id = m.workshop_id
          WHERE m.user_id = $1"#,
        mechanic.uuid()
    )
    .fetch_optional(pool)
    .await?;
    Ok(Standing(row))
}

/// `GET /api/live/offers`: the calling mechanic's offers, event `offers`.
pub async fn offers(State(state): State<AppState>, Extension(user): Extension<RequestUser>) -> Response {
    let Some(user) = user.0 else { return AppError::Unauthenticated.into_response() };
    let owner = match crate::auth::guard::stream_owner(
        &state,
        &user,
        crate::realtime::registry::StreamKind::Offers,
    ) {
        Ok(owner) => owner,
        Err(e) => return e.into_response(),
    };
    if user.role != Role::Mechanic {
        return AppError::forbidden("Only mechanics receive offers.").into_response();
    }
    let opened_under = match standing(&state.pool, UserId(user.id)).await {
        Ok(s) => s,
        Err(e) => return AppError::from(e).into_response(),
    };
    // While this stream is open, the mechanic gets no mail about new offers
    // (`super::mail`): they see them here.
    let presence = match super::presence::Presence::open(&state.pool, UserId(user.id)).await {
        Ok(p) => std::sync::Arc::new(p),
        Err(e) => return AppError::from(e).into_response(),
    };
    let StreamOwner { user: owner_id, slot, alive: login_alive, login } = owner;
    let pool = state.pool.clone();
    let mechanic = UserId(user.id);
    let alive = move || {
        let (pool, login) = (pool.clone(), login_alive());
        let opened_under = opened_under.clone();
        let presence = presence.clone();
        async move {
            presence.touch().await;
            // A database error is not a revocation: the stream goes on and asks again.
            login.await && standing(&pool, mechanic).await.map(|now| now == opened_under).unwrap_or(true)
        }
    };
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
            async move { super::store::offers_for(&pool, mechanic, chrono::Utc::now(), &policy).await }
        },
        StreamOwner { user: owner_id, slot, alive, login },
    )
    .into_response()
}
