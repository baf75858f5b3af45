//! The log-in session: what is kept in the tower-sessions record, and logging
//! in and out. The cookie holds only a random id; the record lives in PostgreSQL.

use super::queries;
use crate::error::AppError;
use sqlx::PgPool;
use tower_sessions::Session;

pub const COOKIE_NAME: &str = "autodoctor_session";
pub const KEY_USER_ID: &str = "uid";
pub const KEY_AUTH_VERSION: &str = "av";
pub const KEY_AUTHENTICATED_AT: &str = "at";

pub fn session_error(err: tower_sessions::session::Error) -> AppError {
    tracing::warn!(error = %err, "session store error");
    AppError::Unavailable
}

/// Starts a logged-in session: a new session id (so an id planted before log-in
/// is worthless), the user, the password version and the time of log-in.
pub async fn log_in(
    pool: &PgPool,
    session: &Session,
    user_id: crate::ids::UserId,
    auth_version: i32,
) -> Result<(), AppError> {
    session.cycle_id().await.map_err(session_error)?;
    session.clear().await;
    session.insert(KEY_USER_ID, user_id.uuid()).await.map_err(session_error)?;
    session.insert(KEY_AUTH_VERSION, auth_version).await.map_err(session_error)?;
    session.insert(KEY_AUTHENTICATED_AT, chrono::Utc::now().timestamp()).await.map_err(session_error)?;
    session.save().await.map_err(session_error)?;
    if let Some(id) = session.id() {
        queries::record_login(pool, user_id, &id.to_string()).await?;
    }
    Ok(())
}

/// Ends the session on the server (the record is deleted, not just the cookie).
/// Deleting its `user_sessions` row tells every instance (a trigger sends
/// `AccessChanged`), so the user's live streams of it end at once.
pub async fn log_out(pool: &PgPool, session: &Session) -> Result<(), AppError> {
    if let Some(id) = session.id() {
        queries::forget_session(pool, &id.to_string()).await?;
    }
    session.flush().await.map_err(session_error)?;
    Ok(())
}

/// Records the new password version in the current session after a change.
pub async fn refresh_version(session: &Session, auth_version: i32) -> Result<(), AppError> {
    session.insert(KEY_AUTH_VERSION, auth_version).await.map_err(session_error)?;
    session.save().await.map_err(session_error)
}
