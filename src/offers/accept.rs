//! Accepting a request: first accept wins, exactly once, decided by one
//! conditional UPDATE; the session is created in the same transaction.

use super::accept_bucket;
use super::store::{audit, candidate, routing_request_at};
use crate::dispatch::{self, Candidate, RoutingPolicy, RoutingType};
use crate::error::AppError;
use crate::ids::{RequestId, UserId};
use crate::realtime::server::notify;
use crate::realtime::Signal;
use chrono::{DateTime, Utc};
use sqlx::PgPool;
use uuid::Uuid;

/// First accept wins, exactly once: the conditional UPDATE below decides it.
/// A mechanic who is not offered the request (by the routing rules, now) is refused.
pub async fn accept(
    pool: &PgPool,
    mechanic: UserId,
    request: RequestId,
    now: DateTime<Utc>,
    policy: &RoutingPolicy,
) -> Result<Uuid, AppError> {
    let (mechanic, request_id) = (mechanic.uuid(), request.uuid());
    let mut tx = pool.begin().await?;
    // The mechanic's row is locked first: their own concurrent accepts queue up
    // here, so capacity holds.
    sqlx::query_scalar!("SELECT user_id FROM mechanics WHERE user_id = $1 FOR UPDATE", mechanic)
        .fetch_optional(&mut *tx)
        .await?
        .ok_or_else(|| AppError::forbidden("Your account has no mechanic profile."))?;
    let me = candidate(&mut *tx, UserId(mechanic))
        .await?
        .ok_or_else(|| AppError::forbidden("Your account has no mechanic profile."))?;
    let me_candidate = Candidate::from(&me);
    let r = sqlx::query!(
        r#"SELECT r.status AS "status: crate::status::RequestStatus", r.routing_type AS "routing_type: RoutingType",
                  r.preferred_workshop_id, r.created_at AS "created_at: DateTime<Utc>",
                  r.escalated_at AS "escalated_at: DateTime<Utc>",
                  preferred_has_eligible(r.preferred_workshop_id, $1) AS "preferred_has_eligible!"
             FROM session_requests r WHERE r.id = $2"#,
        policy.require_payout_ready,
        request_id
    )
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
        r.preferred_workshop_id.map(crate::ids::WorkshopId),
        r.created_at,
        r.escalated_at,
        now,
        policy,
    );
    let Some(offer) = dispatch::offer_for(&req, &me_candidate, r.preferred_has_eligible, policy) else {
        return Err(AppError::forbidden("This request is not offered to you."));
    };

    let won = sqlx::query!(
        r#"UPDATE session_requests SET status = 'accepted', mechanic_id = $2, workshop_id = $3, accepted_at = $4
            WHERE id = $1 AND status = 'pending'
            RETURNING order_id, customer_id, preferred_workshop_id, routing_type AS "routing_type: RoutingType",
                      plan_code, created_at AS "created_at: DateTime<Utc>""#,
        request_id,
        mechanic,
        me.workshop_id,
        now as _
    )
    .fetch_optional(&mut *tx)
    .await?;
    let Some(won) = won else {
        return Err(AppError::conflict("Another mechanic has already taken this request."));
    };
    let session_id = sqlx::query_scalar!(
        "INSERT INTO sessions (request_id, order_id, customer_id, mechanic_id, workshop_id, preferred_workshop_id,
                               routing_type, plan_code, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id",
        request_id,
        won.order_id,
        won.customer_id,
        mechanic,
        me.workshop_id,
        won.preferred_workshop_id,
        won.routing_type as RoutingType,
        won.plan_code,
        now as _
    )
    .fetch_one(&mut *tx)
    .await?;
    sqlx::query!("UPDATE mechanics SET active_sessions = active_sessions + 1 WHERE user_id = $1", mechanic)
        .execute(&mut *tx)
        .await?;
    let wait_secs = (now - won.created_at).num_seconds().max(0);
    if let Some(workshop) = me.workshop_id {
        sqlx::query!(
            "UPDATE workshop_stats SET requests_served = requests_served + 1,
                    preferred_served_by_self = preferred_served_by_self + CASE WHEN $2 THEN 1 ELSE 0 END,
                    updated_at = now()
              WHERE workshop_id = $1",
            workshop,
            won.preferred_workshop_id == Some(workshop)
        )
        .execute(&mut *tx)
        .await?;
        sqlx::query!(
            "INSERT INTO workshop_accept_histogram (workshop_id, day, bucket_secs, count) VALUES ($1, $2, $3, 1)
             ON CONFLICT (workshop_id, day, bucket_secs) DO UPDATE SET count = workshop_accept_histogram.count + 1",
            workshop,
            now.date_naive() as _,
            accept_bucket(wait_secs)
        )
        .execute(&mut *tx)
        .await?;
        sqlx::query!("SELECT refresh_workshop_median_accept($1, $2)", workshop, now.date_naive() as _)
            .fetch_one(&mut *tx)
            .await?;
    }
    audit(
        &mut tx,
        RequestId(request_id),
        "accepted",
        Some(UserId(mechanic)),
        serde_json::json!({ "workshop_id": me.workshop_id, "tier": offer.tier, "priority": offer.priority,
                            "wait_secs": wait_secs, "session_id": session_id }),
        now,
    )
    .await?;
    notify(&mut *tx, &Signal::RequestChanged { request_id, order_id: won.order_id }).await?;
    notify(&mut *tx, &Signal::SessionChanged { session_id, order_id: won.order_id }).await?;
    crate::notifications::notices::request_accepted(
        &mut tx,
        &crate::mail::public_url(),
        crate::ids::SessionId(session_id),
    )
    .await?;
    crate::faults::point("accept.before_commit").await;
    tx.commit().await?;
    tracing::info!(%request_id, %mechanic, %session_id, "request accepted");
    Ok(session_id)
}
