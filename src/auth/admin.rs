//! Creating platform admins: from ADMIN_EMAIL/ADMIN_PASSWORD at start-up, from
//! `autodoctor admin create`, and in the demo data.

use super::queries::{self, AdminOutcome};
use super::{email_looks_valid, name_problem, normalize_email, password, password_problem, Role};
use crate::error::AppError;
use sqlx::PgPool;

/// Creates the admin unless an account with that email exists already; an
/// existing non-admin account is not promoted (that would be a surprise).
pub async fn ensure_admin(
    pool: &PgPool,
    email: &str,
    name: &str,
    pass: &str,
) -> Result<AdminOutcome, AppError> {
    let email = normalize_email(email);
    if !email_looks_valid(&email) {
        return Err(AppError::field("email", "That is not an email address."));
    }
    if let Some(p) = name_problem(name) {
        return Err(AppError::field("name", p));
    }
    if let Some(p) = password_problem(pass) {
        return Err(AppError::field("password", p));
    }
    if let Some(existing) = queries::credentials_by_email(pool, &email).await? {
        return if existing.role == Role::Admin {
            Ok(AdminOutcome::AlreadyAdmin(existing.id))
        } else {
            Err(AppError::conflict(format!("{email} already has an account that is not an admin account.")))
        };
    }
    let hash = password::hash(pass.to_string()).await?;
    let id = queries::insert_user(pool, &email, name.trim(), Role::Admin, &hash).await?.ok_or_else(|| {
        AppError::conflict(format!("{email} was registered at the same moment; try again."))
    })?;
    Ok(AdminOutcome::Created(id))
}

/// At start-up: creates the configured admin when the platform has none yet.
pub async fn bootstrap(pool: &PgPool, configured: Option<&(String, String)>) -> Result<(), AppError> {
    let Some((email, pass)) = configured else { return Ok(()) };
    if queries::admin_exists(pool).await? {
        return Ok(());
    }
    match ensure_admin(pool, email, "Platform admin", pass).await? {
        AdminOutcome::Created(id) => {
            tracing::info!(user_id = %id, "created the first admin from ADMIN_EMAIL")
        }
        AdminOutcome::AlreadyAdmin(_) => {}
    }
    Ok(())
}
