//! The database side of offer dispatch: a paid request is offered to the
//! mechanics the pure `dispatch` rules pick, a mechanic lists what is offered to
//! them now, and a worker widens hybrid requests and expires workshop-only ones.
//! Every change is announced with NOTIFY in its transaction. Functions take `now`
//! so tests can move the clock.

use super::OfferView;
use crate::dispatch::{self, Candidate, RoutingPolicy, RoutingRequest, RoutingType};
use crate::error::AppError;
use crate::ids::{RequestId, UserId, WorkshopId};
use crate::realtime::server::notify;
use crate::realtime::Signal;
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

#[derive(Clone, Debug)]
pub(super) struct CandidateRow {
    pub(super) user_id: Uuid,
    pub(super) workshop_id: Option<Uuid>,
    pub(super) approved: bool,
    pub(super) is_online: bool,
    pub(super) active_sessions: i32,
    pub(super) capacity: i32,
    pub(super) payout_ready: bool,
}

impl From<&CandidateRow> for Candidate {
    fn from(r: &CandidateRow) -> Self {
        Candidate {
            mechanic_id: UserId(r.user_id),
            workshop_id: r.workshop_id.map(WorkshopId),
            approved: r.approved,
            online: r.is_online,
            active_sessions: r.active_sessions,
            capacity: r.capacity,
            payout_ready: r.payout_ready,
        }
    }
}

/// The dispatch facts of one mechanic (view `offer_candidates`), or `None`
/// without a mechanic profile.
pub(super) async fn candidate<'e>(
    db: impl sqlx::PgExecutor<'e>,
    mechanic: UserId,
) -> Result<Option<CandidateRow>, sqlx::Error> {
    let mechanic = mechanic.uuid();
    sqlx::query_as!(
        CandidateRow,
        r#"SELECT user_id AS "user_id!", workshop_id, approved AS "approved!", is_online AS "is_online!",
                  active_sessions AS "active_sessions!", capacity AS "capacity!", payout_ready AS "payout_ready!"
             FROM offer_candidates WHERE user_id = $1"#,
        mechanic
    )
    .fetch_optional(db)
    .await
}

fn routing_request(
    routing: RoutingType,
    preferred: Option<WorkshopId>,
    created: DateTime<Utc>,
    now: DateTime<Utc>,
) -> RoutingRequest {
    RoutingRequest { routing, preferred_workshop: preferred, age_secs: (now - created).num_seconds().max(0) }
}

/// A request already widened (by the worker, or by the customer) counts as past
/// its window whatever its age, so every instance agrees with what was recorded.
pub(super) fn routing_request_at(
    routing: RoutingType,
    preferred: Option<WorkshopId>,
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

pub(super) async fn audit(
    tx: &mut Transaction<'_, Postgres>,
    request: RequestId,
    kind: &str,
    mechanic: Option<UserId>,
    details: serde_json::Value,
    at: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    let request = request.uuid();
    let mechanic = mechanic.map(UserId::uuid);
    sqlx::query!(
        "INSERT INTO routing_events (request_id, kind, mechanic_id, details, created_at) VALUES ($1, $2, $3, $4, $5)",
        request,
        kind,
        mechanic,
        details,
        at as _,
    )
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Records whom a request is offered to now (at most 100 named; the tier counts are complete).
async fn audit_offers(
    tx: &mut Transaction<'_, Postgres>,
    request: RequestId,
    req: &RoutingRequest,
    policy: &RoutingPolicy,
    kind: &str,
    extra: serde_json::Value,
    at: DateTime<Utc>,
) -> Result<usize, sqlx::Error> {
    let request = request.uuid();
    let online = sqlx::query_as!(
        CandidateRow,
        r#"SELECT user_id AS "user_id!", workshop_id, approved AS "approved!", is_online AS "is_online!",
                  active_sessions AS "active_sessions!", capacity AS "capacity!", payout_ready AS "payout_ready!"
             FROM offer_candidates WHERE is_online"#
    )
    .fetch_all(&mut **tx)
    .await?;
    let offline = sqlx::query_scalar!(r#"SELECT count(*) AS "n!" FROM mechanics WHERE NOT is_online"#)
        .fetch_one(&mut **tx)
        .await?;
    let candidates: Vec<Candidate> = online.iter().map(Candidate::from).collect();
    let offers = dispatch::offers(req, &candidates, policy);
    let counts = dispatch::tier_counts(req, &candidates, policy);
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
    audit(tx, RequestId(request), kind, None, details, at).await?;
    Ok(offers.len())
}

/// Right after a paid order's request is inserted (same transaction): sets the
/// expiry of a workshop-only request, widens a hybrid one at once when its
/// workshop has nobody available, records the decision, and announces it.
pub async fn on_request_created(
    tx: &mut Transaction<'_, Postgres>,
    request_id: RequestId,
    settings: &RoutingSettings,
) -> Result<(), sqlx::Error> {
    let request_id = request_id.uuid();
    let r = sqlx::query!(
        r#"SELECT r.routing_type AS "routing_type: RoutingType", r.preferred_workshop_id,
                  r.created_at AS "created_at: DateTime<Utc>", r.order_id,
                  preferred_has_eligible(r.preferred_workshop_id, $1) AS "preferred_has_eligible!"
             FROM session_requests r WHERE r.id = $2"#,
        settings.policy.require_payout_ready,
        request_id
    )
    .fetch_one(&mut **tx)
    .await?;
    let now = r.created_at;
    let req = routing_request(r.routing_type, r.preferred_workshop_id.map(WorkshopId), r.created_at, now);
    match r.routing_type {
        RoutingType::WorkshopOnly => {
            sqlx::query!(
                "UPDATE session_requests SET expires_at = $2 WHERE id = $1",
                request_id,
                (now + settings.workshop_only_expiry) as _
            )
            .execute(&mut **tx)
            .await?;
        }
        RoutingType::Hybrid if dispatch::is_escalated(&req, r.preferred_has_eligible, &settings.policy) => {
            sqlx::query!("UPDATE session_requests SET escalated_at = $2 WHERE id = $1", request_id, now as _)
                .execute(&mut **tx)
                .await?;
        }
        _ => {}
    }
    let escalated_at_once = r.routing_type == RoutingType::Hybrid && !r.preferred_has_eligible;
    audit_offers(
        tx,
        RequestId(request_id),
        &req,
        &settings.policy,
        "created",
        serde_json::json!({ "escalated_at_once": escalated_at_once }),
        now,
    )
    .await?;
    notify(&mut **tx, &Signal::RequestChanged { request_id, order_id: r.order_id }).await
}

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
    mechanic: UserId,
    now: DateTime<Utc>,
    policy: &RoutingPolicy,
) -> Result<Vec<OfferView>, AppError> {
    let Some(me) = candidate(pool, mechanic).await? else {
        return Ok(Vec::new());
    };
    let me = Candidate::from(&me);
    if dispatch::eligibility(&me, policy).is_err() {
        return Ok(Vec::new());
    }
    // Workshop-only requests of other workshops can never be offered: skip them in SQL.
    let rows = sqlx::query_as!(
        PendingRow,
        r#"SELECT r.id, r.routing_type AS "routing_type: RoutingType", r.preferred_workshop_id,
                  r.created_at AS "created_at: DateTime<Utc>", r.escalated_at AS "escalated_at: DateTime<Utc>",
                  o.plan_name, o.plan_minutes,
                  o.vehicle_year::text || ' ' || o.vehicle_make || ' ' || o.vehicle_model AS "vehicle!",
                  o.problem_description, pw.name AS "preferred_workshop_name?",
                  preferred_has_eligible(r.preferred_workshop_id, $1) AS "preferred_has_eligible!"
             FROM session_requests r
             JOIN orders o ON o.id = r.order_id
             LEFT JOIN organizations pw ON pw.id = r.preferred_workshop_id
            WHERE r.status = 'pending'
              AND (r.routing_type <> 'workshop_only' OR r.preferred_workshop_id IS NOT DISTINCT FROM $2)
            ORDER BY r.created_at, r.id
            LIMIT 200"#,
        policy.require_payout_ready,
        me.workshop_id.map(WorkshopId::uuid)
    )
    .fetch_all(pool)
    .await?;
    let mut offers: Vec<OfferView> = rows
        .into_iter()
        .filter_map(|r| {
            let req = routing_request_at(
                r.routing_type,
                r.preferred_workshop_id.map(WorkshopId),
                r.created_at,
                r.escalated_at,
                now,
                policy,
            );
            let waiting_secs = (now - r.created_at).num_seconds().max(0);
            dispatch::offer_for(&req, &me, r.preferred_has_eligible, policy).map(|o| OfferView {
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
    let due = sqlx::query_as!(
        DueRow,
        r#"SELECT r.id, r.order_id, r.routing_type AS "routing_type: RoutingType", r.preferred_workshop_id,
                  r.created_at AS "created_at: DateTime<Utc>", u.email AS customer_email
             FROM session_requests r JOIN users u ON u.id = r.customer_id
            WHERE r.status = 'pending' AND r.routing_type = 'hybrid' AND r.escalated_at IS NULL AND r.created_at <= $1
            ORDER BY r.created_at LIMIT 100 FOR UPDATE OF r SKIP LOCKED"#,
        (now - window) as _
    )
    .fetch_all(&mut *tx)
    .await?;
    for r in &due {
        sqlx::query!("UPDATE session_requests SET escalated_at = $2 WHERE id = $1", r.id, now as _)
            .execute(&mut *tx)
            .await?;
        let req = routing_request(r.routing_type, r.preferred_workshop_id.map(WorkshopId), r.created_at, now);
        audit_offers(
            &mut tx,
            RequestId(r.id),
            &req,
            &settings.policy,
            "escalated",
            serde_json::json!({ "after_secs": req.age_secs }),
            now,
        )
        .await?;
        notify(&mut *tx, &Signal::RequestChanged { request_id: r.id, order_id: r.order_id }).await?;
    }
    let expired = sqlx::query_as!(
        DueRow,
        r#"UPDATE session_requests r SET status = 'expired', closed_at = $1
             FROM users u
            WHERE u.id = r.customer_id AND r.id IN (
                  SELECT id FROM session_requests
                   WHERE status = 'pending' AND routing_type = 'workshop_only' AND expires_at <= $1
                   ORDER BY expires_at LIMIT 100 FOR UPDATE SKIP LOCKED)
            RETURNING r.id, r.order_id, r.routing_type AS "routing_type: RoutingType", r.preferred_workshop_id,
                      r.created_at AS "created_at: DateTime<Utc>", u.email AS customer_email"#,
        now as _
    )
    .fetch_all(&mut *tx)
    .await?;
    for r in &expired {
        audit(
            &mut tx,
            RequestId(r.id),
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
        if let Some(workshop) = r.preferred_workshop_id {
            crate::notifications::notices::workshop_request_waiting(
                &mut tx,
                &settings.public_url,
                RequestId(r.id),
                WorkshopId(workshop),
            )
            .await?;
        }
        notify(&mut *tx, &Signal::RequestChanged { request_id: r.id, order_id: r.order_id }).await?;
    }
    tx.commit().await?;
    Ok((due.len(), expired.len()))
}

/// The background worker: a tick every two seconds until the process stops.
pub async fn run_routing_worker(pool: PgPool, settings: RoutingSettings, shutdown: crate::workers::Shutdown) {
    crate::workers::every("dispatch", shutdown, std::time::Duration::from_secs(2), None, || async {
        let (escalated, expired) = routing_tick(&pool, Utc::now(), &settings).await?;
        if escalated + expired > 0 {
            tracing::info!(escalated, expired, "routing tick");
        }
        Ok::<usize, sqlx::Error>(escalated + expired)
    })
    .await
}
