//! The session room's database side: what each participant sees, chat, the
//! mechanic ending the session (which posts its revenue split), and the
//! customer's rating.

use super::{ChatLine, SessionRoom, SessionStatus};
use crate::error::AppError;
use crate::ids::{SessionId, UserId};
use crate::realtime::server::notify;
use crate::realtime::Signal;
use chrono::{DateTime, Utc};
use sqlx::PgPool;
use uuid::Uuid;

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
    includes_call: bool,
    clock_started_at: Option<DateTime<Utc>>,
    clock_warns_at: Option<DateTime<Utc>>,
    clock_ends_at: Option<DateTime<Utc>>,
    call_closes_at: Option<DateTime<Utc>>,
    rating: Option<i16>,
    rating_comment: Option<String>,
}

/// The room, for one of its two participants (anyone else: not found).
pub async fn load_room(pool: &PgPool, session: SessionId, viewer: UserId) -> Result<SessionRoom, AppError> {
    let (session_id, viewer) = (session.uuid(), viewer.uuid());
    let r = sqlx::query_as!(
        RoomRow,
        r#"SELECT s.id, s.order_id, s.status AS "status: SessionStatus", s.customer_id, s.mechanic_id,
                cu.name AS customer_name, mu.name AS mechanic_name, w.name AS "workshop_name?", o.plan_name,
                o.plan_minutes,
                o.vehicle_year::text || ' ' || o.vehicle_make || ' ' || o.vehicle_model AS "vehicle!",
                o.problem_description, s.started_at AS "started_at: DateTime<Utc>",
                s.ended_at AS "ended_at: DateTime<Utc>", p.includes_call,
                s.clock_started_at AS "clock_started_at: DateTime<Utc>",
                s.clock_warns_at AS "clock_warns_at: DateTime<Utc>",
                s.clock_ends_at AS "clock_ends_at: DateTime<Utc>",
                s.call_closes_at AS "call_closes_at: DateTime<Utc>",
                s.rating, s.rating_comment
           FROM sessions s
           JOIN orders o ON o.id = s.order_id
           JOIN plans p ON p.code = s.plan_code
           JOIN users cu ON cu.id = s.customer_id
           JOIN users mu ON mu.id = s.mechanic_id
           LEFT JOIN organizations w ON w.id = s.workshop_id
          WHERE s.id = $1 AND (s.customer_id = $2 OR s.mechanic_id = $2)"#,
        session_id,
        viewer
    )
    .fetch_optional(pool)
    .await?
    .ok_or_else(|| AppError::not_found("There is no session of yours with that reference."))?;
    let messages = sqlx::query_as!(
        ChatLine,
        r#"SELECT c.id, c.sender_id, u.name AS sender_name, c.body,
                  c.created_at AS "created_at: DateTime<Utc>", c.photo_id
           FROM chat_messages c JOIN users u ON u.id = c.sender_id
          WHERE c.session_id = $1 ORDER BY c.id DESC LIMIT 500"#,
        session_id
    )
    .fetch_all(pool)
    .await?
    .into_iter()
    .rev()
    .collect();
    let report = super::report::store::load(&mut *pool.acquire().await?, SessionId(session_id)).await?;
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
        includes_call: r.includes_call,
        clock: crate::sessions::call::signals::clock_times(
            r.clock_started_at,
            r.clock_warns_at,
            r.clock_ends_at,
            r.call_closes_at,
        ),
        rating: r.rating,
        rating_comment: r.rating_comment,
        messages,
        report,
    })
}

pub async fn send_chat(
    pool: &PgPool,
    session: SessionId,
    sender: UserId,
    body: &str,
) -> Result<(), AppError> {
    let (session_id, sender) = (session.uuid(), sender.uuid());
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
    let session = sqlx::query!(
        r#"SELECT status AS "status: SessionStatus", order_id FROM sessions
            WHERE id = $1 AND (customer_id = $2 OR mechanic_id = $2) FOR UPDATE"#,
        session_id,
        sender
    )
    .fetch_optional(&mut *tx)
    .await?
    .map(|s| (s.status, s.order_id));
    let Some((status, order_id)) = session else {
        return Err(AppError::not_found("There is no session of yours with that reference."));
    };
    if !status.is_open() {
        return Err(AppError::conflict("This session has ended; the chat is closed."));
    }
    sqlx::query!(
        "INSERT INTO chat_messages (session_id, sender_id, body) VALUES ($1, $2, $3)",
        session_id,
        sender,
        body
    )
    .execute(&mut *tx)
    .await?;
    if status == SessionStatus::Accepted {
        // The first message starts the session.
        sqlx::query!("UPDATE sessions SET status = 'active', started_at = now() WHERE id = $1", session_id)
            .execute(&mut *tx)
            .await?;
        notify(&mut *tx, &Signal::SessionChanged { session_id, order_id }).await?;
    }
    notify(&mut *tx, &Signal::ChatMessage { session_id }).await?;
    tx.commit().await?;
    Ok(())
}

struct Ended {
    order_id: Uuid,
    mechanic_id: Uuid,
    workshop_id: Option<Uuid>,
}

/// The mechanic ends the session, once its report is written. Statistics (and,
/// with the ledger, the split of the money) change, and the report is mailed to
/// the customer, in the same transaction; ending twice changes nothing.
pub async fn end_session(
    pool: &PgPool,
    session: SessionId,
    mechanic: UserId,
    public_url: &str,
) -> Result<(), AppError> {
    let (session_id, mechanic) = (session.uuid(), mechanic.uuid());
    let mut tx = pool.begin().await?;
    let ended = sqlx::query_as!(
        Ended,
        "UPDATE sessions SET status = 'completed', ended_at = now(), started_at = coalesce(started_at, now())
          WHERE id = $1 AND mechanic_id = $2 AND status IN ('accepted', 'active')
          RETURNING order_id, mechanic_id, workshop_id",
        session_id,
        mechanic
    )
    .fetch_optional(&mut *tx)
    .await?;
    let Some(ended) = ended else {
        let exists = sqlx::query_scalar!(
            r#"SELECT status AS "status: SessionStatus" FROM sessions WHERE id = $1 AND mechanic_id = $2"#,
            session_id,
            mechanic
        )
        .fetch_optional(&mut *tx)
        .await?;
        return match exists {
            Some(_) => Err(AppError::conflict("This session has already ended.")),
            None => Err(AppError::not_found("There is no session of yours with that reference.")),
        };
    };
    // No report, no ending: the transaction is dropped, nothing changes.
    super::report::store::require_report(&mut tx, SessionId(session_id)).await?;
    sqlx::query!(
        "UPDATE mechanics SET active_sessions = greatest(active_sessions - 1, 0), sessions_completed = sessions_completed + 1
          WHERE user_id = $1",
        ended.mechanic_id
    )
    .execute(&mut *tx)
    .await?;
    // The order's lock orders completion against a refund being booked (which
    // takes it too): the split is then of what is left after the refund, or the
    // refund reverses the split. Taken after the mechanic's row and before the
    // statistics, as every other transaction orders them.
    sqlx::query!("SELECT id FROM orders WHERE id = $1 FOR UPDATE", ended.order_id)
        .fetch_optional(&mut *tx)
        .await?;
    if let Some(w) = ended.workshop_id {
        sqlx::query!(
            "UPDATE workshop_stats SET sessions_completed = sessions_completed + 1, updated_at = now() WHERE workshop_id = $1",
            w
        )
        .execute(&mut *tx)
            .await?;
    }
    // The money is split in the same transaction, once per session.
    crate::ledger::post_session_revenue(&mut tx, SessionId(session_id)).await?;
    super::report::store::mail_on_end(&mut tx, SessionId(session_id), public_url).await?;
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
    session: SessionId,
    customer: UserId,
    rating: i16,
    comment: Option<&str>,
) -> Result<(), AppError> {
    let (session_id, customer) = (session.uuid(), customer.uuid());
    if !(1..=5).contains(&rating) {
        return Err(AppError::field("rating", "Choose from 1 to 5 stars."));
    }
    let comment = comment.map(str::trim).filter(|c| !c.is_empty());
    if let Some(p) = comment
        .and_then(|c| crate::validate::text_problem(c, 1, super::RATING_COMMENT_MAX_CHARS, "the comment"))
    {
        return Err(AppError::field("comment", p));
    }
    let mut tx = pool.begin().await?;
    let rated = sqlx::query!(
        "UPDATE sessions SET rating = $3, rating_comment = $4, rated_at = now()
          WHERE id = $1 AND customer_id = $2 AND status = 'completed' AND rated_at IS NULL
          RETURNING order_id, mechanic_id, workshop_id",
        session_id,
        customer,
        rating,
        comment
    )
    .fetch_optional(&mut *tx)
    .await?
    .map(|r| (r.order_id, r.mechanic_id, r.workshop_id));
    let Some((order_id, mechanic, workshop)) = rated else {
        let status = sqlx::query!(
            r#"SELECT status AS "status: SessionStatus", rated_at IS NOT NULL AS "rated!"
                 FROM sessions WHERE id = $1 AND customer_id = $2"#,
            session_id,
            customer
        )
        .fetch_optional(&mut *tx)
        .await?
        .map(|s| (s.status, s.rated));
        return Err(match status {
            None => AppError::not_found("There is no session of yours with that reference."),
            Some((_, true)) => AppError::conflict("You have already rated this session."),
            Some(_) => AppError::conflict("You can rate the session once it has ended."),
        });
    };
    let stars = i64::from(rating);
    sqlx::query!(
        "UPDATE mechanics SET rating_sum = rating_sum + $2, rating_count = rating_count + 1 WHERE user_id = $1",
        mechanic,
        stars
    )
    .execute(&mut *tx)
        .await?;
    if let Some(w) = workshop {
        sqlx::query!(
            "UPDATE workshop_stats SET rating_sum = rating_sum + $2, rating_count = rating_count + 1, updated_at = now()
              WHERE workshop_id = $1",
            w,
            stars
        )
        .execute(&mut *tx)
        .await?;
    }
    notify(&mut *tx, &Signal::SessionChanged { session_id, order_id }).await?;
    tx.commit().await?;
    Ok(())
}
