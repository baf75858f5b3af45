//! Accepting a request: first accept wins, exactly once, decided by one
//! conditional UPDATE; the session is created in the same transaction.

use super::accept_bucket;
use super::store::{audit, routing_request_at, CandidateRow, CANDIDATE_SELECT, PREFERRED_HAS_ELIGIBLE};
use crate::dispatch::{self, Candidate, RoutingPolicy, RoutingType};
use crate::error::AppError;
use crate::realtime::server::notify;
use crate::realtime::Signal;
use chrono::{DateTime, Utc};
use sqlx::PgPool;
use uuid::Uuid;

#[derive(sqlx::FromRow)]
struct RequestForAccept {
    status: crate::status::RequestStatus,
    routing_type: RoutingType,
    preferred_workshop_id: Option<Uuid>,
    created_at: DateTime<Utc>,
    escalated_at: Option<DateTime<Utc>>,
    preferred_has_eligible: bool,
}

#[derive(sqlx::FromRow)]
struct Accepted {
    order_id: Uuid,
    customer_id: Uuid,
    preferred_workshop_id: Option<Uuid>,
    routing_type: RoutingType,
    plan_code: String,
    created_at: DateTime<Utc>,
}

/// First accept wins, exactly once: the conditional UPDATE below decides it.
/// A mechanic who is not offered the request (by the routing rules, now) is refused.
pub async fn accept(
    pool: &PgPool,
    mechanic: Uuid,
    request_id: Uuid,
    now: DateTime<Utc>,
    policy: &RoutingPolicy,
) -> Result<Uuid, AppError> {
    let mut tx = pool.begin().await?;
    // The mechanic's row is locked first: their own concurrent accepts queue up
    // here, so capacity holds.
    let me = sqlx::query_as::<_, CandidateRow>(&format!(
        "{CANDIDATE_SELECT} WHERE m.user_id = $1 FOR UPDATE OF m"
    ))
    .bind(mechanic)
    .fetch_optional(&mut *tx)
    .await?
    .ok_or_else(|| AppError::forbidden("Your account has no mechanic profile."))?;
    let me_candidate = Candidate::from(&me);
    let r = sqlx::query_as::<_, RequestForAccept>(&format!(
        "SELECT r.status, r.routing_type, r.preferred_workshop_id, r.created_at, r.escalated_at,
                {PREFERRED_HAS_ELIGIBLE} AS preferred_has_eligible
           FROM session_requests r WHERE r.id = $2"
    ))
    .bind(policy.require_payout_ready)
    .bind(request_id)
    .fetch_optional(&mut *tx)
    .await?
    .ok_or_else(|| AppError::not_found("There is no such request."))?;
    match r.status {
        crate::status::RequestStatus::Pending => {}
        crate::status::RequestStatus::Accepted => {
            return Err(AppError::conflict("Another mechanic has already taken this request."));
        }
        crate::status::RequestStatus::Cancelled => {
            return Err(AppError::conflict("The customer has cancelled this request."));
        }
        crate::status::RequestStatus::Expired => {
            return Err(AppError::conflict("This request has expired."));
        }
    }
    if let Err(why) = dispatch::eligibility(&me_candidate, policy) {
        return Err(AppError::forbidden(match why {
            dispatch::Ineligible::NotApproved => "You can take requests once your account is approved.",
            dispatch::Ineligible::Offline => "Go online to take requests.",
            dispatch::Ineligible::AtCapacity => {
                "You are at your capacity: end a session first, or raise your capacity."
            }
            dispatch::Ineligible::NotPayable => "Finish your payout set-up before taking requests.",
        }));
    }
    let req = routing_request_at(
        r.routing_type,
        r.preferred_workshop_id,
        r.created_at,
        r.escalated_at,
        now,
        policy,
    );
    let Some(offer) = dispatch::offer_for(&req, &me_candidate, r.preferred_has_eligible, policy) else {
        return Err(AppError::forbidden("This request is not offered to you."));
    };

    let won = sqlx::query_as::<_, Accepted>(
        "UPDATE session_requests SET status = 'accepted', mechanic_id = $2, workshop_id = $3, accepted_at = $4
          WHERE id = $1 AND status = 'pending'
          RETURNING order_id, customer_id, preferred_workshop_id, routing_type, plan_code, created_at",
    )
    .bind(request_id)
    .bind(mechanic)
    .bind(me.workshop_id)
    .bind(now)
    .fetch_optional(&mut *tx)
    .await?;
    let Some(won) = won else {
        return Err(AppError::conflict("Another mechanic has already taken this request."));
    };
    let session_id: Uuid = sqlx::query_scalar(
        "INSERT INTO sessions (request_id, order_id, customer_id, mechanic_id, workshop_id, preferred_workshop_id,
                               routing_type, plan_code, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id",
    )
    .bind(request_id)
    .bind(won.order_id)
    .bind(won.customer_id)
    .bind(mechanic)
    .bind(me.workshop_id)
    .bind(won.preferred_workshop_id)
    .bind(won.routing_type)
    .bind(&won.plan_code)
    .bind(now)
    .fetch_one(&mut *tx)
    .await?;
    sqlx::query("UPDATE mechanics SET active_sessions = active_sessions + 1 WHERE user_id = $1")
        .bind(mechanic)
        .execute(&mut *tx)
        .await?;
    let wait_secs = (now - won.created_at).num_seconds().max(0);
    if let Some(workshop) = me.workshop_id {
        sqlx::query(
            "UPDATE workshop_stats SET requests_served = requests_served + 1,
                    preferred_served_by_self = preferred_served_by_self + CASE WHEN $2 THEN 1 ELSE 0 END,
                    updated_at = now()
              WHERE workshop_id = $1",
        )
        .bind(workshop)
        .bind(won.preferred_workshop_id == Some(workshop))
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "INSERT INTO workshop_accept_histogram (workshop_id, day, bucket_secs, count) VALUES ($1, $2, $3, 1)
             ON CONFLICT (workshop_id, day, bucket_secs) DO UPDATE SET count = workshop_accept_histogram.count + 1",
        )
        .bind(workshop)
        .bind(now.date_naive())
        .bind(accept_bucket(wait_secs))
        .execute(&mut *tx)
        .await?;
        sqlx::query("SELECT refresh_workshop_median_accept($1, $2)")
            .bind(workshop)
            .bind(now.date_naive())
            .execute(&mut *tx)
            .await?;
    }
    audit(
        &mut tx,
        request_id,
        "accepted",
        Some(mechanic),
        serde_json::json!({ "workshop_id": me.workshop_id, "tier": offer.tier, "priority": offer.priority,
                            "wait_secs": wait_secs, "session_id": session_id }),
        now,
    )
    .await?;
    notify(&mut *tx, &Signal::RequestChanged { request_id, order_id: won.order_id }).await?;
    notify(&mut *tx, &Signal::SessionChanged { session_id, order_id: won.order_id }).await?;
    crate::notifications::notices::request_accepted(&mut tx, &crate::mail::public_url(), session_id).await?;
    crate::faults::point("accept.before_commit").await;
    tx.commit().await?;
    tracing::info!(%request_id, %mechanic, %session_id, "request accepted");
    Ok(session_id)
}
