//! The database side of routing and sessions. Decisions about who is offered
//! what come from the pure `routing` module; who wins is decided by one
//! conditional UPDATE; every change is announced with NOTIFY in its transaction.
//! Functions take `now` so tests can move the clock.

use super::{accept_bucket, ChatLine, OfferView, SessionRoom, SessionStatus};
use crate::error::AppError;
use crate::realtime::server::notify;
use crate::realtime::Signal;
use crate::routing::{self, Candidate, RoutingPolicy, RoutingRequest, RoutingType};
use chrono::{DateTime, Utc};
use sqlx::{PgPool, Postgres, Transaction};
use uuid::Uuid;

/// Routing settings from the configuration.
#[derive(Clone, Debug)]
pub struct RoutingSettings {
    pub policy: RoutingPolicy,
    /// A workshop-only request nobody takes within this time expires.
    pub workshop_only_expiry: chrono::Duration,
    /// For links in the emails the worker sends.
    pub public_url: String,
}

impl RoutingSettings {
    pub fn from_config(c: &crate::config::Config) -> Self {
        RoutingSettings {
            policy: RoutingPolicy {
                escalation_secs: c.routing_escalation_secs,
                require_payout_ready: c.routing_require_payouts,
            },
            workshop_only_expiry: chrono::Duration::seconds(c.workshop_only_expiry_secs),
            public_url: c.public_url.clone(),
        }
    }
}

#[derive(sqlx::FromRow, Clone, Debug)]
struct CandidateRow {
    user_id: Uuid,
    workshop_id: Option<Uuid>,
    approved: bool,
    is_online: bool,
    active_sessions: i32,
    capacity: i32,
    payout_ready: bool,
}

impl From<&CandidateRow> for Candidate {
    fn from(r: &CandidateRow) -> Self {
        Candidate {
            mechanic_id: r.user_id,
            workshop_id: r.workshop_id,
            approved: r.approved,
            online: r.is_online,
            active_sessions: r.active_sessions,
            capacity: r.capacity,
            payout_ready: r.payout_ready,
        }
    }
}

const CANDIDATE_SELECT: &str = "SELECT m.user_id, m.workshop_id,
        (m.application_status = 'approved' AND (m.workshop_id IS NULL OR o.status = 'active')) AS approved,
        m.is_online, m.active_sessions, m.capacity,
        CASE WHEN m.workshop_id IS NULL THEN m.stripe_payouts_enabled
             ELSE coalesce(o.stripe_payouts_enabled, false) END AS payout_ready
   FROM mechanics m LEFT JOIN organizations o ON o.id = m.workshop_id";

/// SQL: whether the request `r`'s preferred workshop has a mechanic who could take it ($1 = payouts required).
const PREFERRED_HAS_ELIGIBLE: &str = "EXISTS (
        SELECT 1 FROM mechanics pm JOIN organizations po ON po.id = pm.workshop_id
         WHERE pm.workshop_id = r.preferred_workshop_id AND po.status = 'active'
           AND pm.application_status = 'approved' AND pm.is_online AND pm.active_sessions < pm.capacity
           AND (NOT $1 OR po.stripe_payouts_enabled))";

fn routing_request(
    routing: RoutingType,
    preferred: Option<Uuid>,
    created: DateTime<Utc>,
    now: DateTime<Utc>,
) -> RoutingRequest {
    RoutingRequest { routing, preferred_workshop: preferred, age_secs: (now - created).num_seconds().max(0) }
}

/// A request already widened (by the worker, or by the customer) counts as past
/// its window whatever its age, so every instance agrees with what was recorded.
fn routing_request_at(
    routing: RoutingType,
    preferred: Option<Uuid>,
    created: DateTime<Utc>,
    escalated_at: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
    policy: &RoutingPolicy,
) -> RoutingRequest {
    let mut req = routing_request(routing, preferred, created, now);
    if escalated_at.is_some_and(|at| at <= now) {
        req.age_secs = req.age_secs.max(policy.escalation_secs);
    }
    req
}

async fn audit(
    tx: &mut Transaction<'_, Postgres>,
    request: Uuid,
    kind: &str,
    mechanic: Option<Uuid>,
    details: serde_json::Value,
    at: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    sqlx::query("INSERT INTO routing_events (request_id, kind, mechanic_id, details, created_at) VALUES ($1, $2, $3, $4, $5)")
        .bind(request)
        .bind(kind)
        .bind(mechanic)
        .bind(details)
        .bind(at)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// Records whom a request is offered to now (at most 100 named; the tier counts are complete).
async fn audit_offers(
    tx: &mut Transaction<'_, Postgres>,
    request: Uuid,
    req: &RoutingRequest,
    policy: &RoutingPolicy,
    kind: &str,
    extra: serde_json::Value,
    at: DateTime<Utc>,
) -> Result<usize, sqlx::Error> {
    let online = sqlx::query_as::<_, CandidateRow>(&format!("{CANDIDATE_SELECT} WHERE m.is_online"))
        .fetch_all(&mut **tx)
        .await?;
    let offline: i64 =
        sqlx::query_scalar("SELECT count(*) FROM mechanics WHERE NOT is_online").fetch_one(&mut **tx).await?;
    let candidates: Vec<Candidate> = online.iter().map(Candidate::from).collect();
    let offers = routing::offers(req, &candidates, policy);
    let counts = routing::tier_counts(req, &candidates, policy);
    let named: Vec<serde_json::Value> = offers
        .iter()
        .take(100)
        .map(|o| serde_json::json!({ "mechanic_id": o.mechanic_id, "priority": o.priority, "tier": o.tier }))
        .collect();
    let mut details = serde_json::json!({
        "routing_type": req.routing,
        "preferred_workshop_id": req.preferred_workshop,
        "candidates": counts,
        "offline": offline,
        "offered_count": offers.len(),
        "offered": named,
    });
    if let (Some(d), Some(e)) = (details.as_object_mut(), extra.as_object()) {
        d.extend(e.clone());
    }
    audit(tx, request, kind, None, details, at).await?;
    Ok(offers.len())
}

#[derive(sqlx::FromRow)]
struct NewRequest {
    routing_type: RoutingType,
    preferred_workshop_id: Option<Uuid>,
    created_at: DateTime<Utc>,
    order_id: Uuid,
    preferred_has_eligible: bool,
}

/// Right after a paid order's request is inserted (same transaction): sets the
/// expiry of a workshop-only request, widens a hybrid one at once when its
/// workshop has nobody available, records the decision, and announces it.
pub async fn on_request_created(
    tx: &mut Transaction<'_, Postgres>,
    request_id: Uuid,
    settings: &RoutingSettings,
) -> Result<(), sqlx::Error> {
    let r = sqlx::query_as::<_, NewRequest>(&format!(
        "SELECT r.routing_type, r.preferred_workshop_id, r.created_at, r.order_id, {PREFERRED_HAS_ELIGIBLE} AS preferred_has_eligible
           FROM session_requests r WHERE r.id = $2"
    ))
    .bind(settings.policy.require_payout_ready)
    .bind(request_id)
    .fetch_one(&mut **tx)
    .await?;
    let now = r.created_at;
    let req = routing_request(r.routing_type, r.preferred_workshop_id, r.created_at, now);
    match r.routing_type {
        RoutingType::WorkshopOnly => {
            sqlx::query("UPDATE session_requests SET expires_at = $2 WHERE id = $1")
                .bind(request_id)
                .bind(now + settings.workshop_only_expiry)
                .execute(&mut **tx)
                .await?;
        }
        RoutingType::Hybrid if routing::is_escalated(&req, r.preferred_has_eligible, &settings.policy) => {
            sqlx::query("UPDATE session_requests SET escalated_at = $2 WHERE id = $1")
                .bind(request_id)
                .bind(now)
                .execute(&mut **tx)
                .await?;
        }
        _ => {}
    }
    let escalated_at_once = r.routing_type == RoutingType::Hybrid && !r.preferred_has_eligible;
    audit_offers(
        tx,
        request_id,
        &req,
        &settings.policy,
        "created",
        serde_json::json!({ "escalated_at_once": escalated_at_once }),
        now,
    )
    .await?;
    notify(&mut **tx, &Signal::RequestChanged { request_id, order_id: r.order_id }).await
}

#[derive(sqlx::FromRow)]
struct PendingRow {
    id: Uuid,
    routing_type: RoutingType,
    preferred_workshop_id: Option<Uuid>,
    created_at: DateTime<Utc>,
    escalated_at: Option<DateTime<Utc>>,
    plan_name: String,
    plan_minutes: i32,
    vehicle: String,
    problem_description: String,
    preferred_workshop_name: Option<String>,
    preferred_has_eligible: bool,
}

/// The requests offered to this mechanic now, highest priority first, then oldest first.
pub async fn offers_for(
    pool: &PgPool,
    mechanic: Uuid,
    now: DateTime<Utc>,
    policy: &RoutingPolicy,
) -> Result<Vec<OfferView>, AppError> {
    let Some(me) = sqlx::query_as::<_, CandidateRow>(&format!("{CANDIDATE_SELECT} WHERE m.user_id = $1"))
        .bind(mechanic)
        .fetch_optional(pool)
        .await?
    else {
        return Ok(Vec::new());
    };
    let me = Candidate::from(&me);
    if routing::eligibility(&me, policy).is_err() {
        return Ok(Vec::new());
    }
    // Workshop-only requests of other workshops can never be offered: skip them in SQL.
    let rows = sqlx::query_as::<_, PendingRow>(&format!(
        "SELECT r.id, r.routing_type, r.preferred_workshop_id, r.created_at, r.escalated_at, o.plan_name, o.plan_minutes,
                o.vehicle_year::text || ' ' || o.vehicle_make || ' ' || o.vehicle_model AS vehicle,
                o.problem_description, pw.name AS preferred_workshop_name,
                {PREFERRED_HAS_ELIGIBLE} AS preferred_has_eligible
           FROM session_requests r
           JOIN orders o ON o.id = r.order_id
           LEFT JOIN organizations pw ON pw.id = r.preferred_workshop_id
          WHERE r.status = 'pending'
            AND (r.routing_type <> 'workshop_only' OR r.preferred_workshop_id IS NOT DISTINCT FROM $2)
          ORDER BY r.created_at, r.id
          LIMIT 200"
    ))
    .bind(policy.require_payout_ready)
    .bind(me.workshop_id)
    .fetch_all(pool)
    .await?;
    let mut offers: Vec<OfferView> = rows
        .into_iter()
        .filter_map(|r| {
            let req = routing_request_at(
                r.routing_type,
                r.preferred_workshop_id,
                r.created_at,
                r.escalated_at,
                now,
                policy,
            );
            let waiting_secs = (now - r.created_at).num_seconds().max(0);
            routing::offer_for(&req, &me, r.preferred_has_eligible, policy).map(|o| OfferView {
                request_id: r.id,
                plan_name: r.plan_name,
                minutes: r.plan_minutes,
                vehicle: r.vehicle,
                problem: r.problem_description,
                routing_type: r.routing_type,
                preferred_workshop_name: r.preferred_workshop_name,
                priority: o.priority,
                tier: o.tier,
                reason: o.reason,
                waiting_secs,
            })
        })
        .collect();
    offers.sort_by(|a, b| b.priority.cmp(&a.priority).then(b.waiting_secs.cmp(&a.waiting_secs)));
    Ok(offers)
}

#[derive(sqlx::FromRow)]
struct RequestForAccept {
    status: crate::booking::RequestStatus,
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
        crate::booking::RequestStatus::Pending => {}
        crate::booking::RequestStatus::Accepted => {
            return Err(AppError::conflict("Another mechanic has already taken this request."));
        }
        crate::booking::RequestStatus::Cancelled => {
            return Err(AppError::conflict("The customer has cancelled this request."));
        }
        crate::booking::RequestStatus::Expired => {
            return Err(AppError::conflict("This request has expired."));
        }
    }
    if let Err(why) = routing::eligibility(&me_candidate, policy) {
        return Err(AppError::forbidden(match why {
            routing::Ineligible::NotApproved => "You can take requests once your account is approved.",
            routing::Ineligible::Offline => "Go online to take requests.",
            routing::Ineligible::AtCapacity => {
                "You are at your capacity: end a session first, or raise your capacity."
            }
            routing::Ineligible::NotPayable => "Finish your payout set-up before taking requests.",
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
    let Some(offer) = routing::offer_for(&req, &me_candidate, r.preferred_has_eligible, policy) else {
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
    crate::faults::point("accept.before_commit").await;
    tx.commit().await?;
    tracing::info!(%request_id, %mechanic, %session_id, "request accepted");
    Ok(session_id)
}

#[derive(sqlx::FromRow)]
struct DueRow {
    id: Uuid,
    order_id: Uuid,
    routing_type: RoutingType,
    preferred_workshop_id: Option<Uuid>,
    created_at: DateTime<Utc>,
    customer_email: String,
}

/// Widens hybrid requests whose window has passed and expires workshop-only
/// requests nobody took. Rows are claimed with SKIP LOCKED, so several
/// instances can run this at once. Returns (escalated, expired).
pub async fn routing_tick(
    pool: &PgPool,
    now: DateTime<Utc>,
    settings: &RoutingSettings,
) -> Result<(usize, usize), sqlx::Error> {
    let mut tx = pool.begin().await?;
    let window = chrono::Duration::seconds(settings.policy.escalation_secs);
    let due = sqlx::query_as::<_, DueRow>(
        "SELECT r.id, r.order_id, r.routing_type, r.preferred_workshop_id, r.created_at, u.email AS customer_email
           FROM session_requests r JOIN users u ON u.id = r.customer_id
          WHERE r.status = 'pending' AND r.routing_type = 'hybrid' AND r.escalated_at IS NULL AND r.created_at <= $1
          ORDER BY r.created_at LIMIT 100 FOR UPDATE OF r SKIP LOCKED",
    )
    .bind(now - window)
    .fetch_all(&mut *tx)
    .await?;
    for r in &due {
        sqlx::query("UPDATE session_requests SET escalated_at = $2 WHERE id = $1")
            .bind(r.id)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        let req = routing_request(r.routing_type, r.preferred_workshop_id, r.created_at, now);
        audit_offers(
            &mut tx,
            r.id,
            &req,
            &settings.policy,
            "escalated",
            serde_json::json!({ "after_secs": req.age_secs }),
            now,
        )
        .await?;
        notify(&mut *tx, &Signal::RequestChanged { request_id: r.id, order_id: r.order_id }).await?;
    }
    let expired = sqlx::query_as::<_, DueRow>(
        "UPDATE session_requests r SET status = 'expired', closed_at = $1
           FROM users u
          WHERE u.id = r.customer_id AND r.id IN (
                SELECT id FROM session_requests
                 WHERE status = 'pending' AND routing_type = 'workshop_only' AND expires_at <= $1
                 ORDER BY expires_at LIMIT 100 FOR UPDATE SKIP LOCKED)
          RETURNING r.id, r.order_id, r.routing_type, r.preferred_workshop_id, r.created_at, u.email AS customer_email",
    )
    .bind(now)
    .fetch_all(&mut *tx)
    .await?;
    for r in &expired {
        audit(
            &mut tx,
            r.id,
            "expired",
            None,
            serde_json::json!({ "after_secs": (now - r.created_at).num_seconds() }),
            now,
        )
        .await?;
        crate::mail::outbox::enqueue(
            &mut *tx,
            &r.customer_email,
            "No mechanic was available at your workshop",
            &format!(
                "Hello,\n\nNone of the mechanics of the workshop you chose could take your session in time.\n\n\
                 You can open your request to other mechanics, or cancel it for a full refund, here:\n\
                 {}/orders/{}\n",
                settings.public_url,
                r.order_id
            ),
            "request_expired",
        )
        .await?;
        notify(&mut *tx, &Signal::RequestChanged { request_id: r.id, order_id: r.order_id }).await?;
    }
    tx.commit().await?;
    Ok((due.len(), expired.len()))
}

/// The background worker: a tick every two seconds until the process stops.
pub async fn run_routing_worker(pool: PgPool, settings: RoutingSettings) {
    loop {
        match routing_tick(&pool, Utc::now(), &settings).await {
            Ok((0, 0)) => {}
            Ok((escalated, expired)) => tracing::info!(escalated, expired, "routing tick"),
            Err(e) => tracing::warn!(error = %e, "routing tick failed; retrying"),
        }
        tokio::time::sleep(std::time::Duration::from_secs(2)).await;
    }
}

// ---------------------------------------------------------------- the session room

#[derive(sqlx::FromRow)]
struct RoomRow {
    id: Uuid,
    order_id: Uuid,
    status: SessionStatus,
    customer_id: Uuid,
    mechanic_id: Uuid,
    customer_name: String,
    mechanic_name: String,
    workshop_name: Option<String>,
    plan_name: String,
    plan_minutes: i32,
    vehicle: String,
    problem_description: String,
    started_at: Option<DateTime<Utc>>,
    ended_at: Option<DateTime<Utc>>,
    rating: Option<i16>,
    rating_comment: Option<String>,
}

/// The room, for one of its two participants (anyone else: not found).
pub async fn load_room(pool: &PgPool, session_id: Uuid, viewer: Uuid) -> Result<SessionRoom, AppError> {
    let r = sqlx::query_as::<_, RoomRow>(
        "SELECT s.id, s.order_id, s.status, s.customer_id, s.mechanic_id, cu.name AS customer_name,
                mu.name AS mechanic_name, w.name AS workshop_name, o.plan_name, o.plan_minutes,
                o.vehicle_year::text || ' ' || o.vehicle_make || ' ' || o.vehicle_model AS vehicle,
                o.problem_description, s.started_at, s.ended_at, s.rating, s.rating_comment
           FROM sessions s
           JOIN orders o ON o.id = s.order_id
           JOIN users cu ON cu.id = s.customer_id
           JOIN users mu ON mu.id = s.mechanic_id
           LEFT JOIN organizations w ON w.id = s.workshop_id
          WHERE s.id = $1 AND (s.customer_id = $2 OR s.mechanic_id = $2)",
    )
    .bind(session_id)
    .bind(viewer)
    .fetch_optional(pool)
    .await?
    .ok_or_else(|| AppError::not_found("There is no session of yours with that reference."))?;
    let messages = sqlx::query_as::<_, ChatLine>(
        "SELECT c.id, c.sender_id, u.name AS sender_name, c.body, c.created_at
           FROM chat_messages c JOIN users u ON u.id = c.sender_id
          WHERE c.session_id = $1 ORDER BY c.id DESC LIMIT 500",
    )
    .bind(session_id)
    .fetch_all(pool)
    .await?
    .into_iter()
    .rev()
    .collect();
    Ok(SessionRoom {
        session_id: r.id,
        order_id: r.order_id,
        status: r.status,
        viewer_is_mechanic: viewer == r.mechanic_id && viewer != r.customer_id,
        customer_name: r.customer_name,
        mechanic_name: r.mechanic_name,
        workshop_name: r.workshop_name,
        plan_name: r.plan_name,
        minutes: r.plan_minutes,
        vehicle: r.vehicle,
        problem: r.problem_description,
        started_at: r.started_at,
        ended_at: r.ended_at,
        rating: r.rating,
        rating_comment: r.rating_comment,
        messages,
    })
}

pub async fn send_chat(pool: &PgPool, session_id: Uuid, sender: Uuid, body: &str) -> Result<(), AppError> {
    let body = body.trim();
    if body.is_empty() {
        return Err(AppError::field("body", "Write a message first."));
    }
    if body.chars().count() > super::CHAT_MAX_CHARS {
        return Err(AppError::field(
            "body",
            format!("Keep a message under {} characters.", super::CHAT_MAX_CHARS),
        ));
    }
    let mut tx = pool.begin().await?;
    let session: Option<(SessionStatus, Uuid)> = sqlx::query_as(
        "SELECT status, order_id FROM sessions WHERE id = $1 AND (customer_id = $2 OR mechanic_id = $2) FOR UPDATE",
    )
    .bind(session_id)
    .bind(sender)
    .fetch_optional(&mut *tx)
    .await?;
    let Some((status, order_id)) = session else {
        return Err(AppError::not_found("There is no session of yours with that reference."));
    };
    if !status.is_open() {
        return Err(AppError::conflict("This session has ended; the chat is closed."));
    }
    sqlx::query("INSERT INTO chat_messages (session_id, sender_id, body) VALUES ($1, $2, $3)")
        .bind(session_id)
        .bind(sender)
        .bind(body)
        .execute(&mut *tx)
        .await?;
    if status == SessionStatus::Accepted {
        // The first message starts the session.
        sqlx::query("UPDATE sessions SET status = 'active', started_at = now() WHERE id = $1")
            .bind(session_id)
            .execute(&mut *tx)
            .await?;
        notify(&mut *tx, &Signal::SessionChanged { session_id, order_id }).await?;
    }
    notify(&mut *tx, &Signal::ChatMessage { session_id }).await?;
    tx.commit().await?;
    Ok(())
}

#[derive(sqlx::FromRow)]
struct Ended {
    order_id: Uuid,
    mechanic_id: Uuid,
    workshop_id: Option<Uuid>,
}

/// The mechanic ends the session. Statistics (and, with the ledger, the split
/// of the money) change in the same transaction; ending twice changes nothing.
pub async fn end_session(pool: &PgPool, session_id: Uuid, mechanic: Uuid) -> Result<(), AppError> {
    let mut tx = pool.begin().await?;
    let ended = sqlx::query_as::<_, Ended>(
        "UPDATE sessions SET status = 'completed', ended_at = now(), started_at = coalesce(started_at, now())
          WHERE id = $1 AND mechanic_id = $2 AND status IN ('accepted', 'active')
          RETURNING order_id, mechanic_id, workshop_id",
    )
    .bind(session_id)
    .bind(mechanic)
    .fetch_optional(&mut *tx)
    .await?;
    let Some(ended) = ended else {
        let exists: Option<SessionStatus> =
            sqlx::query_scalar("SELECT status FROM sessions WHERE id = $1 AND mechanic_id = $2")
                .bind(session_id)
                .bind(mechanic)
                .fetch_optional(&mut *tx)
                .await?;
        return match exists {
            Some(_) => Err(AppError::conflict("This session has already ended.")),
            None => Err(AppError::not_found("There is no session of yours with that reference.")),
        };
    };
    sqlx::query(
        "UPDATE mechanics SET active_sessions = greatest(active_sessions - 1, 0), sessions_completed = sessions_completed + 1
          WHERE user_id = $1",
    )
    .bind(ended.mechanic_id)
    .execute(&mut *tx)
    .await?;
    if let Some(w) = ended.workshop_id {
        sqlx::query("UPDATE workshop_stats SET sessions_completed = sessions_completed + 1, updated_at = now() WHERE workshop_id = $1")
            .bind(w)
            .execute(&mut *tx)
            .await?;
    }
    // The money is split in the same transaction, once per session.
    crate::ledger::post_session_revenue(&mut tx, session_id).await?;
    notify(&mut *tx, &Signal::SessionChanged { session_id, order_id: ended.order_id }).await?;
    // Capacity freed: offers may change for this mechanic and for hybrid requests.
    notify(&mut *tx, &Signal::MechanicsChanged).await?;
    crate::faults::point("complete.before_commit").await;
    tx.commit().await?;
    Ok(())
}

/// The customer rates a completed session, once.
pub async fn rate_session(
    pool: &PgPool,
    session_id: Uuid,
    customer: Uuid,
    rating: i16,
    comment: Option<&str>,
) -> Result<(), AppError> {
    if !(1..=5).contains(&rating) {
        return Err(AppError::field("rating", "Choose from 1 to 5 stars."));
    }
    let comment = comment.map(str::trim).filter(|c| !c.is_empty());
    if let Some(p) = comment
        .and_then(|c| crate::workshops::text_problem(c, 1, super::RATING_COMMENT_MAX_CHARS, "the comment"))
    {
        return Err(AppError::field("comment", p));
    }
    let mut tx = pool.begin().await?;
    let rated: Option<(Uuid, Uuid, Option<Uuid>)> = sqlx::query_as(
        "UPDATE sessions SET rating = $3, rating_comment = $4, rated_at = now()
          WHERE id = $1 AND customer_id = $2 AND status = 'completed' AND rated_at IS NULL
          RETURNING order_id, mechanic_id, workshop_id",
    )
    .bind(session_id)
    .bind(customer)
    .bind(rating)
    .bind(comment)
    .fetch_optional(&mut *tx)
    .await?;
    let Some((order_id, mechanic, workshop)) = rated else {
        let status: Option<(SessionStatus, bool)> = sqlx::query_as(
            "SELECT status, rated_at IS NOT NULL FROM sessions WHERE id = $1 AND customer_id = $2",
        )
        .bind(session_id)
        .bind(customer)
        .fetch_optional(&mut *tx)
        .await?;
        return Err(match status {
            None => AppError::not_found("There is no session of yours with that reference."),
            Some((_, true)) => AppError::conflict("You have already rated this session."),
            Some(_) => AppError::conflict("You can rate the session once it has ended."),
        });
    };
    sqlx::query("UPDATE mechanics SET rating_sum = rating_sum + $2, rating_count = rating_count + 1 WHERE user_id = $1")
        .bind(mechanic)
        .bind(rating as i64)
        .execute(&mut *tx)
        .await?;
    if let Some(w) = workshop {
        sqlx::query(
            "UPDATE workshop_stats SET rating_sum = rating_sum + $2, rating_count = rating_count + 1, updated_at = now()
              WHERE workshop_id = $1",
        )
        .bind(w)
        .bind(rating as i64)
        .execute(&mut *tx)
        .await?;
    }
    notify(&mut *tx, &Signal::SessionChanged { session_id, order_id }).await?;
    tx.commit().await?;
    Ok(())
}
