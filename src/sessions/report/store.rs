//! The report's database side: the session's mechanic saves it (only while the
//! session is open), the room and the print page load it, ending a session
//! requires it, and it is mailed to the customer once, as the session ends.

use super::{Repair, Report, ReportDraft, ReportPage, SafeToDrive, Urgency};
use crate::error::AppError;
use crate::ids::{SessionId, UserId};
use crate::realtime::server::notify;
use crate::realtime::Signal;
use crate::status::SessionStatus;
use sqlx::{PgConnection, PgPool};

/// Saves (or replaces) the report of `session_id`, written by its mechanic.
/// Anyone else: not found; a session that ended: a conflict. Tells the room.
pub async fn save(
    pool: &PgPool,
    session_id: SessionId,
    mechanic: UserId,
    draft: &ReportDraft,
) -> Result<(), AppError> {
    let session_id = session_id.uuid();
    let mechanic = mechanic.uuid();
    let mut tx = pool.begin().await?;
    let session = sqlx::query!(
        r#"SELECT status AS "status: SessionStatus", order_id FROM sessions
            WHERE id = $1 AND mechanic_id = $2 FOR UPDATE"#,
        session_id,
        mechanic
    )
    .fetch_optional(&mut *tx)
    .await?
    .ok_or_else(|| AppError::not_found("There is no session of yours with that reference."))?;
    if !session.status.is_open() {
        return Err(AppError::conflict("This session has ended; its report can no longer be changed."));
    }
    sqlx::query!(
        "INSERT INTO session_reports (session_id, summary, likely_causes, safe_to_drive, follow_ups)
         VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (session_id) DO UPDATE
            SET summary = EXCLUDED.summary, likely_causes = EXCLUDED.likely_causes,
                safe_to_drive = EXCLUDED.safe_to_drive, follow_ups = EXCLUDED.follow_ups, updated_at = now()",
        session_id,
        draft.summary,
        draft.likely_causes,
        draft.safe_to_drive as SafeToDrive,
        draft.follow_ups
    )
    .execute(&mut *tx)
    .await?;
    sqlx::query!("DELETE FROM session_report_repairs WHERE session_id = $1", session_id)
        .execute(&mut *tx)
        .await?;
    for (i, r) in draft.repairs.iter().enumerate() {
        sqlx::query!(
            "INSERT INTO session_report_repairs (session_id, position, description, urgency, cost_min_cents, cost_max_cents)
             VALUES ($1, $2, $3, $4, $5, $6)",
            session_id,
            i as i16 + 1,
            r.description,
            r.urgency as Urgency,
            r.cost_min_cents,
            r.cost_max_cents
        )
        .execute(&mut *tx)
        .await?;
    }
    notify(&mut *tx, &Signal::SessionChanged { session_id, order_id: session.order_id }).await?;
    tx.commit().await?;
    Ok(())
}

/// The report of a session, if written (whoever asks: callers check access first).
pub async fn load(conn: &mut PgConnection, session_id: SessionId) -> Result<Option<Report>, AppError> {
    let session_id = session_id.uuid();
    let Some(r) = sqlx::query!(
        r#"SELECT r.summary, r.likely_causes, r.safe_to_drive AS "safe_to_drive: SafeToDrive", r.follow_ups,
                  o.currency, r.updated_at AS "updated_at: chrono::DateTime<chrono::Utc>"
             FROM session_reports r
             JOIN sessions s ON s.id = r.session_id
             JOIN orders o ON o.id = s.order_id
            WHERE r.session_id = $1"#,
        session_id
    )
    .fetch_optional(&mut *conn)
    .await?
    else {
        return Ok(None);
    };
    let repairs = sqlx::query_as!(
        Repair,
        r#"SELECT description, urgency AS "urgency: Urgency", cost_min_cents, cost_max_cents
             FROM session_report_repairs WHERE session_id = $1 ORDER BY position"#,
        session_id
    )
    .fetch_all(&mut *conn)
    .await?;
    Ok(Some(Report {
        summary: r.summary,
        likely_causes: r.likely_causes,
        safe_to_drive: r.safe_to_drive,
        follow_ups: r.follow_ups,
        repairs,
        currency: r.currency,
        updated_at: r.updated_at,
    }))
}

/// The print-ready page: for the session's customer (with their share links),
/// its mechanic, or an admin; anyone else: not found.
pub async fn load_page(
    pool: &PgPool,
    session_id: SessionId,
    viewer: UserId,
    viewer_is_admin: bool,
    share_base: String,
) -> Result<ReportPage, AppError> {
    let session_id = session_id.uuid();
    let viewer = viewer.uuid();
    let mut conn = pool.acquire().await?;
    let s = sqlx::query!(
        r#"SELECT s.status AS "status: SessionStatus", s.customer_id, o.plan_name,
                  o.vehicle_year::text || ' ' || o.vehicle_make || ' ' || o.vehicle_model AS "vehicle!",
                  mu.name AS mechanic_name, w.name AS "workshop_name?",
                  coalesce(s.ended_at, s.created_at) AS "session_date!: chrono::DateTime<chrono::Utc>"
             FROM sessions s
             JOIN orders o ON o.id = s.order_id
             JOIN users mu ON mu.id = s.mechanic_id
             LEFT JOIN organizations w ON w.id = s.workshop_id
            WHERE s.id = $1 AND (s.customer_id = $2 OR s.mechanic_id = $2 OR $3)"#,
        session_id,
        viewer,
        viewer_is_admin
    )
    .fetch_optional(&mut *conn)
    .await?
    .ok_or_else(|| AppError::not_found("There is no session of yours with that reference."))?;
    let viewer_is_customer = s.customer_id == viewer;
    let report = load(&mut conn, SessionId(session_id)).await?;
    let shares = if viewer_is_customer {
        super::shares::list(&mut conn, SessionId(session_id)).await?
    } else {
        Vec::new()
    };
    Ok(ReportPage {
        session_id,
        status: s.status,
        plan_name: s.plan_name,
        vehicle: s.vehicle,
        mechanic_name: s.mechanic_name,
        workshop_name: s.workshop_name,
        session_date: s.session_date,
        report,
        viewer_is_customer,
        shares,
        share_base,
    })
}

/// Ending a session needs its report: without one, a conflict (and the caller's
/// transaction, dropped, changes nothing).
pub async fn require_report(conn: &mut PgConnection, session_id: SessionId) -> Result<(), AppError> {
    let session_id = session_id.uuid();
    let written = sqlx::query_scalar!(
        r#"SELECT EXISTS (SELECT 1 FROM session_reports WHERE session_id = $1) AS "written!""#,
        session_id
    )
    .fetch_one(&mut *conn)
    .await?;
    if written {
        Ok(())
    } else {
        Err(AppError::conflict("Write the diagnosis report before ending the session."))
    }
}

/// Queues the report email to the customer, in the transaction that ends the
/// session; once per session, whatever happens (the report remembers it was mailed).
pub async fn mail_on_end(
    conn: &mut PgConnection,
    session_id: SessionId,
    public_url: &str,
) -> Result<(), AppError> {
    let session_id = session_id.uuid();
    let first = sqlx::query_scalar!(
        "UPDATE session_reports SET emailed_at = now() WHERE session_id = $1 AND emailed_at IS NULL
         RETURNING session_id",
        session_id
    )
    .fetch_optional(&mut *conn)
    .await?;
    if first.is_none() {
        return Ok(());
    }
    let who = sqlx::query!(
        r#"SELECT s.customer_id, cu.name AS customer_name, mu.name AS mechanic_name,
                  o.vehicle_year::text || ' ' || o.vehicle_make || ' ' || o.vehicle_model AS "vehicle!"
             FROM sessions s
             JOIN orders o ON o.id = s.order_id
             JOIN users cu ON cu.id = s.customer_id
             JOIN users mu ON mu.id = s.mechanic_id
            WHERE s.id = $1"#,
        session_id
    )
    .fetch_one(&mut *conn)
    .await?;
    let report = load(conn, SessionId(session_id))
        .await?
        .ok_or_else(|| AppError::conflict("Write the diagnosis report before ending the session."))?;
    let url = format!("{}{}", public_url.trim_end_matches('/'), super::report_path(session_id));
    let (subject, body) =
        super::email::report_email(&who.customer_name, &who.mechanic_name, &who.vehicle, &report, &url);
    crate::notifications::notices::session_report(
        conn,
        public_url,
        SessionId(session_id),
        UserId(who.customer_id),
        &subject,
        &body,
    )
    .await?;
    Ok(())
}
