//! The call's database side: who may take part (the session's two
//! participants, while the session is open, the plan includes the call and its
//! time has not run out), the signalling messages in order, and the start of
//! the clock when both sides are in the room.

use super::{CallSignal, SignalKind, MAX_SIGNALS_PER_SESSION, MAX_SIGNAL_BYTES};
use crate::config::CallConfig;
use crate::error::AppError;
use crate::ids::{SessionId, UserId};
use crate::realtime::server::notify;
use crate::realtime::Signal;
use crate::sessions::clock::{self, ClockTimes};
use crate::sessions::SessionStatus;
use chrono::{DateTime, Utc};
use sqlx::PgPool;
use uuid::Uuid;

/// One participant's standing in a session's call.
#[derive(Clone, Debug, PartialEq)]
pub struct CallAccess {
    pub session_id: Uuid,
    pub order_id: Uuid,
    pub is_mechanic: bool,
    pub includes_call: bool,
    pub status: SessionStatus,
    pub clock: Option<ClockTimes>,
}

fn not_yours() -> AppError {
    AppError::not_found("There is no session of yours with that reference.")
}

/// The four moments, when the clock has started (the schema keeps them all or none).
pub fn clock_times(
    started: Option<DateTime<Utc>>,
    warns: Option<DateTime<Utc>>,
    ends: Option<DateTime<Utc>>,
    closes: Option<DateTime<Utc>>,
) -> Option<ClockTimes> {
    Some(ClockTimes { started_at: started?, warns_at: warns?, ends_at: ends?, call_closes_at: closes? })
}

impl CallAccess {
    /// Why the call cannot run now, if it cannot.
    pub fn call_problem(&self, now: DateTime<Utc>) -> Option<AppError> {
        if !self.includes_call {
            Some(AppError::conflict("This plan is chat and photos; it has no video call."))
        } else if !self.status.is_open() {
            Some(AppError::conflict("This session has ended; the call is closed."))
        } else if !clock::phase(self.clock.as_ref(), now).call_allowed() {
            Some(AppError::conflict("The session's time is up, so the call has closed. The chat stays open."))
        } else {
            None
        }
    }
}

/// The viewer's access to a session's call: not found for anyone but its two participants.
pub async fn access(pool: &PgPool, session_id: SessionId, viewer: UserId) -> Result<CallAccess, AppError> {
    let session_id = session_id.uuid();
    let viewer = viewer.uuid();
    let r = sqlx::query!(
        r#"SELECT s.order_id, s.mechanic_id, s.status AS "status: SessionStatus", p.includes_call,
                  s.clock_started_at AS "clock_started_at: DateTime<Utc>",
                  s.clock_warns_at AS "clock_warns_at: DateTime<Utc>",
                  s.clock_ends_at AS "clock_ends_at: DateTime<Utc>",
                  s.call_closes_at AS "call_closes_at: DateTime<Utc>"
             FROM sessions s JOIN plans p ON p.code = s.plan_code
            WHERE s.id = $1 AND (s.customer_id = $2 OR s.mechanic_id = $2)"#,
        session_id,
        viewer,
    )
    .fetch_optional(pool)
    .await?
    .ok_or_else(not_yours)?;
    Ok(CallAccess {
        session_id,
        order_id: r.order_id,
        is_mechanic: r.mechanic_id == viewer,
        includes_call: r.includes_call,
        status: r.status,
        clock: clock_times(r.clock_started_at, r.clock_warns_at, r.clock_ends_at, r.call_closes_at),
    })
}

/// Checks a message before anything is stored: an object, of bounded size.
pub fn check_payload(payload: &serde_json::Value) -> Result<(), AppError> {
    if !payload.is_object() {
        return Err(AppError::bad_request("A call message's payload must be a JSON object."));
    }
    if payload.to_string().len() > MAX_SIGNAL_BYTES {
        return Err(AppError::PayloadTooLarge(format!(
            "A call message can be at most {} KB.",
            MAX_SIGNAL_BYTES / 1024
        )));
    }
    Ok(())
}

/// Stores one message from `sender` and announces it; returns its number. The
/// session row is updated first, so messages are numbered in commit order, and
/// the conditions are checked by that same `UPDATE` (a session ending at the
/// same moment either sees the message pruned or refuses it).
pub async fn send(
    pool: &PgPool,
    session_id: SessionId,
    sender: UserId,
    kind: SignalKind,
    payload: &serde_json::Value,
) -> Result<i64, AppError> {
    let session_id = session_id.uuid();
    let sender = sender.uuid();
    check_payload(payload)?;
    let mut tx = pool.begin().await?;
    let seq = sqlx::query_scalar!(
        "UPDATE sessions s SET signal_seq = s.signal_seq + 1
           FROM plans p
          WHERE s.id = $1 AND (s.customer_id = $2 OR s.mechanic_id = $2) AND p.code = s.plan_code
            AND p.includes_call AND s.status IN ('accepted', 'active')
            AND (s.call_closes_at IS NULL OR s.call_closes_at > now())
            AND s.signal_seq < $3
          RETURNING s.signal_seq",
        session_id,
        sender,
        MAX_SIGNALS_PER_SESSION,
    )
    .fetch_optional(&mut *tx)
    .await?;
    let Some(seq) = seq else {
        drop(tx);
        let a = access(pool, SessionId(session_id), UserId(sender)).await?;
        return Err(a.call_problem(Utc::now()).unwrap_or_else(|| AppError::TooManyRequests {
            message: "This call has sent too many messages. Reload the page to start it again.".into(),
            retry_after_secs: 60,
        }));
    };
    sqlx::query!(
        "INSERT INTO call_signals (session_id, seq, sender_id, kind, payload) VALUES ($1, $2, $3, $4, $5)",
        session_id,
        seq,
        sender,
        kind.as_str(),
        payload,
    )
    .execute(&mut *tx)
    .await?;
    notify(&mut *tx, &Signal::CallSignal { session_id, seq }).await?;
    tx.commit().await?;
    Ok(seq)
}

/// The other side's messages after number `after`, in order.
pub async fn after(
    pool: &PgPool,
    session_id: SessionId,
    viewer: UserId,
    after: i64,
) -> Result<Vec<CallSignal>, AppError> {
    let session_id = session_id.uuid();
    let viewer = viewer.uuid();
    let rows = sqlx::query!(
        "SELECT seq, kind, payload FROM call_signals
          WHERE session_id = $1 AND sender_id <> $2 AND seq > $3
          ORDER BY seq LIMIT 500",
        session_id,
        viewer,
        after,
    )
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .filter_map(|r| {
            Some(CallSignal { seq: r.seq, kind: SignalKind::parse(&r.kind)?, payload: r.payload })
        })
        .collect())
}

/// The number of the session's latest message (a new page starts after it).
pub async fn latest(pool: &PgPool, session_id: SessionId) -> Result<i64, AppError> {
    let session_id = session_id.uuid();
    Ok(sqlx::query_scalar!("SELECT signal_seq FROM sessions WHERE id = $1", session_id)
        .fetch_optional(pool)
        .await?
        .unwrap_or(0))
}

/// A participant is in the room: noted once per side. When both are, the clock
/// starts (once: the row's lock and the `IS NULL` test make one winner).
/// Returns whether this call started it.
pub async fn join(
    pool: &PgPool,
    config: &CallConfig,
    session_id: SessionId,
    viewer: UserId,
) -> Result<bool, AppError> {
    let session_id = session_id.uuid();
    let viewer = viewer.uuid();
    let both = sqlx::query_scalar!(
        r#"UPDATE sessions
              SET customer_joined_at = CASE WHEN customer_id = $2 THEN coalesce(customer_joined_at, now()) ELSE customer_joined_at END,
                  mechanic_joined_at = CASE WHEN mechanic_id = $2 THEN coalesce(mechanic_joined_at, now()) ELSE mechanic_joined_at END
            WHERE id = $1 AND (customer_id = $2 OR mechanic_id = $2) AND status IN ('accepted', 'active')
            RETURNING customer_joined_at IS NOT NULL AND mechanic_joined_at IS NOT NULL AND clock_started_at IS NULL AS "start!""#,
        session_id,
        viewer,
    )
    .fetch_optional(pool)
    .await?;
    match both {
        Some(true) => start_clock(pool, config, SessionId(session_id), None).await,
        _ => Ok(false),
    }
}

/// Starts the session's clock now, unless it has started already. With
/// `mechanic`, only that mechanic may (the "Start the clock" button).
pub async fn start_clock(
    pool: &PgPool,
    config: &CallConfig,
    session_id: SessionId,
    mechanic: Option<UserId>,
) -> Result<bool, AppError> {
    let session_id = session_id.uuid();
    let mechanic = mechanic.map(UserId::uuid);
    let mut tx = pool.begin().await?;
    let row = sqlx::query!(
        r#"SELECT s.order_id, s.mechanic_id, s.status AS "status: SessionStatus", o.plan_minutes,
                  s.clock_started_at IS NOT NULL AS "started!", now() AS "now!: DateTime<Utc>",
                  now() AS "now_db!"
             FROM sessions s JOIN orders o ON o.id = s.order_id
            WHERE s.id = $1 FOR UPDATE OF s"#,
        session_id,
    )
    .fetch_optional(&mut *tx)
    .await?
    .ok_or_else(not_yours)?;
    if mechanic.is_some_and(|m| m != row.mechanic_id) {
        return Err(not_yours());
    }
    if !row.status.is_open() {
        return Err(AppError::conflict("This session has ended."));
    }
    if row.started {
        return Ok(false);
    }
    // The moments are the pure schedule's, from the database's clock (one clock for every instance).
    let c = clock::schedule(row.now, row.plan_minutes, config.seconds_per_minute, config.grace_secs);
    let secs = |t: DateTime<Utc>| (t - c.started_at).num_seconds() as f64;
    sqlx::query!(
        "UPDATE sessions SET clock_started_at = $2::timestamptz,
                clock_warns_at = $2::timestamptz + make_interval(secs => $3),
                clock_ends_at = $2::timestamptz + make_interval(secs => $4),
                call_closes_at = $2::timestamptz + make_interval(secs => $5),
                status = 'active', started_at = coalesce(started_at, $2::timestamptz)
          WHERE id = $1",
        session_id,
        row.now_db,
        secs(c.warns_at),
        secs(c.ends_at),
        secs(c.call_closes_at),
    )
    .execute(&mut *tx)
    .await?;
    notify(&mut *tx, &Signal::SessionChanged { session_id, order_id: row.order_id }).await?;
    tx.commit().await?;
    Ok(true)
}
