//! Share links of a report ("a repair plan you can take to any garage"): 256
//! random bits in the link, only their SHA-256 in the database; made and
//! revoked by the session's customer; opened by anyone holding the link.

use super::{ShareLink, SharedReport, ACTIVE_SHARES_MAX};
use crate::error::AppError;
use crate::ids::{SessionId, UserId};
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

pub use crate::token::{hash, new_token, well_formed};

const NOT_YOURS: &str = "There is no session of yours with that reference.";
const NOT_VALID: &str = "This report link is not valid, or the person who shared it has revoked it.";

/// The customer makes a new link to their session's report; returns its id and token.
pub async fn create(
    pool: &PgPool,
    session_id: SessionId,
    customer: UserId,
) -> Result<(Uuid, String), AppError> {
    let session_id = session_id.uuid();
    let customer = customer.uuid();
    let mut tx = pool.begin().await?;
    // The session's row orders concurrent link-making (the limit below holds).
    let s = sqlx::query!(
        r#"SELECT EXISTS (SELECT 1 FROM session_reports r WHERE r.session_id = s.id) AS "written!",
                  (SELECT count(*) FROM report_shares rs WHERE rs.session_id = s.id AND rs.revoked_at IS NULL) AS "active!"
             FROM sessions s WHERE s.id = $1 AND s.customer_id = $2 FOR UPDATE"#,
        session_id,
        customer
    )
    .fetch_optional(&mut *tx)
    .await?
    .ok_or_else(|| AppError::not_found(NOT_YOURS))?;
    if !s.written {
        return Err(AppError::conflict("There is no report to share yet."));
    }
    if s.active >= ACTIVE_SHARES_MAX {
        return Err(AppError::conflict(format!(
            "This report already has {ACTIVE_SHARES_MAX} working links. Revoke one before making another."
        )));
    }
    let (token, hash) = new_token();
    let id = sqlx::query_scalar!(
        "INSERT INTO report_shares (session_id, token_hash) VALUES ($1, $2) RETURNING id",
        session_id,
        hash
    )
    .fetch_one(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok((id, token))
}

/// The customer revokes one of their links; returns the session it belongs to.
pub async fn revoke(pool: &PgPool, share_id: Uuid, customer: UserId) -> Result<Uuid, AppError> {
    let customer = customer.uuid();
    let mut tx = pool.begin().await?;
    let share = sqlx::query!(
        r#"SELECT rs.session_id, rs.revoked_at IS NOT NULL AS "revoked!"
             FROM report_shares rs JOIN sessions s ON s.id = rs.session_id
            WHERE rs.id = $1 AND s.customer_id = $2 FOR UPDATE OF rs"#,
        share_id,
        customer
    )
    .fetch_optional(&mut *tx)
    .await?
    .ok_or_else(|| AppError::not_found("There is no share link of yours with that reference."))?;
    if share.revoked {
        return Err(AppError::conflict("This link was already revoked."));
    }
    sqlx::query!("UPDATE report_shares SET revoked_at = now() WHERE id = $1", share_id)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(share.session_id)
}

/// The links of a session's report, newest first.
pub async fn list(conn: &mut PgConnection, session_id: SessionId) -> Result<Vec<ShareLink>, AppError> {
    let session_id = session_id.uuid();
    Ok(sqlx::query_as!(
        ShareLink,
        r#"SELECT id, created_at AS "created_at: chrono::DateTime<chrono::Utc>",
                  revoked_at AS "revoked_at: chrono::DateTime<chrono::Utc>"
             FROM report_shares WHERE session_id = $1 ORDER BY created_at DESC, id LIMIT 200"#,
        session_id
    )
    .fetch_all(&mut *conn)
    .await?)
}

/// What a link shows, to anyone: unknown, malformed or revoked links are not found.
pub async fn shared_report(pool: &PgPool, token: &str) -> Result<SharedReport, AppError> {
    if !well_formed(token) {
        return Err(AppError::not_found(NOT_VALID));
    }
    let mut conn = pool.acquire().await?;
    let s = sqlx::query!(
        r#"SELECT rs.session_id, o.plan_name,
                  o.vehicle_year::text || ' ' || o.vehicle_make || ' ' || o.vehicle_model AS "vehicle!",
                  coalesce(s.ended_at, s.created_at) AS "session_date!: chrono::DateTime<chrono::Utc>"
             FROM report_shares rs
             JOIN sessions s ON s.id = rs.session_id
             JOIN orders o ON o.id = s.order_id
            WHERE rs.token_hash = $1 AND rs.revoked_at IS NULL"#,
        hash(token)
    )
    .fetch_optional(&mut *conn)
    .await?
    .ok_or_else(|| AppError::not_found(NOT_VALID))?;
    let report = super::store::load(&mut conn, SessionId(s.session_id))
        .await?
        .ok_or_else(|| AppError::not_found(NOT_VALID))?;
    Ok(SharedReport { plan_name: s.plan_name, vehicle: s.vehicle, session_date: s.session_date, report })
}
