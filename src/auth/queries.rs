//! SQL for accounts.

use super::Role;
use sqlx::{FromRow, PgExecutor};
use uuid::Uuid;

#[derive(Clone, Debug, FromRow)]
pub struct UserRow {
    pub id: Uuid,
    pub email: String,
    pub name: String,
    pub role: Role,
    pub auth_version: i32,
}

#[derive(Clone, Debug, FromRow)]
pub struct UserCredentials {
    pub id: Uuid,
    pub role: Role,
    pub auth_version: i32,
    pub password_hash: String,
}

pub async fn user_by_id(
    db: impl PgExecutor<'_>,
    id: crate::ids::UserId,
) -> Result<Option<UserRow>, sqlx::Error> {
    let id = id.uuid();
    sqlx::query_as!(
        UserRow,
        r#"SELECT id, email, name, role AS "role: Role", auth_version FROM users WHERE id = $1 AND disabled_at IS NULL"#,
        id
    )
    .fetch_optional(db)
    .await
}

pub async fn credentials_by_email(
    db: impl PgExecutor<'_>,
    email: &str,
) -> Result<Option<UserCredentials>, sqlx::Error> {
    sqlx::query_as!(
        UserCredentials,
        r#"SELECT id, role AS "role: Role", auth_version, password_hash
             FROM users WHERE email = $1 AND disabled_at IS NULL"#,
        email
    )
    .fetch_optional(db)
    .await
}

pub async fn password_hash_of(
    db: impl PgExecutor<'_>,
    id: crate::ids::UserId,
) -> Result<Option<String>, sqlx::Error> {
    let id = id.uuid();
    sqlx::query_scalar!("SELECT password_hash FROM users WHERE id = $1", id).fetch_optional(db).await
}

/// Inserts a user; `None` when the email is already taken.
pub async fn insert_user(
    db: impl PgExecutor<'_>,
    email: &str,
    name: &str,
    role: Role,
    password_hash: &str,
) -> Result<Option<Uuid>, sqlx::Error> {
    sqlx::query_scalar!(
        "INSERT INTO users (email, name, role, password_hash) VALUES ($1, $2, $3, $4)
         ON CONFLICT (email) DO NOTHING RETURNING id",
        email,
        name,
        role as Role,
        password_hash
    )
    .fetch_optional(db)
    .await
}

pub async fn email_taken(db: impl PgExecutor<'_>, email: &str) -> Result<bool, sqlx::Error> {
    let taken =
        sqlx::query_scalar!(r#"SELECT EXISTS (SELECT 1 FROM users WHERE email = $1) AS "taken!""#, email)
            .fetch_one(db)
            .await?;
    Ok(taken)
}

pub async fn record_login(
    db: impl PgExecutor<'_>,
    user_id: crate::ids::UserId,
    session_id: &str,
) -> Result<(), sqlx::Error> {
    let user_id = user_id.uuid();
    sqlx::query!(
        "WITH touched AS (UPDATE users SET last_login_at = now() WHERE id = $1)
         INSERT INTO user_sessions (session_id, user_id) VALUES ($2, $1)
         ON CONFLICT (session_id) DO UPDATE SET user_id = EXCLUDED.user_id",
        user_id,
        session_id
    )
    .execute(db)
    .await?;
    Ok(())
}

pub async fn forget_session(db: impl PgExecutor<'_>, session_id: &str) -> Result<(), sqlx::Error> {
    sqlx::query!("DELETE FROM user_sessions WHERE session_id = $1", session_id).execute(db).await?;
    Ok(())
}

// Runtime SQL (not compile-checked): `tower_sessions.session` is created by the
// session store at start-up, not by migrations/, so the offline data cannot see it.

/// Whether a log-in session still holds: its record exists, has not expired,
/// belongs to the user, and the account is not disabled.
pub async fn login_alive(
    db: impl PgExecutor<'_>,
    user_id: crate::ids::UserId,
    session_id: &str,
) -> Result<bool, sqlx::Error> {
    let user_id = user_id.uuid();
    sqlx::query_scalar(
        "SELECT EXISTS (
             SELECT 1 FROM user_sessions us
               JOIN tower_sessions.session ts ON ts.id = us.session_id
               JOIN users u ON u.id = us.user_id
              WHERE us.session_id = $2 AND us.user_id = $1 AND ts.expiry_date > now() AND u.disabled_at IS NULL)",
    )
    .bind(user_id)
    .bind(session_id)
    .fetch_one(db)
    .await
}

/// Deletes every stored log-in session of the user except `keep`.
pub async fn end_other_sessions(
    db: impl PgExecutor<'_>,
    user_id: crate::ids::UserId,
    keep: Option<&str>,
) -> Result<u64, sqlx::Error> {
    let user_id = user_id.uuid();
    let done = sqlx::query(
        "WITH gone AS (
             DELETE FROM user_sessions WHERE user_id = $1 AND session_id IS DISTINCT FROM $2 RETURNING session_id
         )
         DELETE FROM tower_sessions.session WHERE id IN (SELECT session_id FROM gone)",
    )
    .bind(user_id)
    .bind(keep)
    .execute(db)
    .await?;
    Ok(done.rows_affected())
}

pub async fn update_name(
    db: impl PgExecutor<'_>,
    user_id: crate::ids::UserId,
    name: &str,
) -> Result<(), sqlx::Error> {
    let user_id = user_id.uuid();
    sqlx::query!("UPDATE users SET name = $2, updated_at = now() WHERE id = $1", user_id, name)
        .execute(db)
        .await?;
    Ok(())
}

/// Stores a new password hash and bumps the version that invalidates old sessions.
pub async fn update_password(
    db: impl PgExecutor<'_>,
    user_id: crate::ids::UserId,
    password_hash: &str,
) -> Result<i32, sqlx::Error> {
    let user_id = user_id.uuid();
    sqlx::query_scalar!(
        "UPDATE users SET password_hash = $2, auth_version = auth_version + 1, updated_at = now()
          WHERE id = $1 RETURNING auth_version",
        user_id,
        password_hash
    )
    .fetch_one(db)
    .await
}

pub async fn admin_exists(db: impl PgExecutor<'_>) -> Result<bool, sqlx::Error> {
    let exists =
        sqlx::query_scalar!(r#"SELECT EXISTS (SELECT 1 FROM users WHERE role = 'admin') AS "exists!""#)
            .fetch_one(db)
            .await?;
    Ok(exists)
}

/// What `ensure_admin` did.
#[derive(Debug, PartialEq, Eq)]
pub enum AdminOutcome {
    Created(Uuid),
    AlreadyAdmin(Uuid),
}
