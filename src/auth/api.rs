//! Server functions for signing up, logging in and out, and managing one's account.

use super::CurrentUser;
use crate::error::AppError;
use leptos::prelude::*;

#[cfg(feature = "ssr")]
use super::{
    email_looks_valid, guard, login, name_problem, normalize_email, password, password_problem, queries,
    safe_next_path, throttle, Role,
};
#[cfg(feature = "ssr")]
use crate::error::FieldErrors;

/// Who is logged in, if anyone. Public: anonymous callers simply get `None`.
#[server(prefix = "/api/public", endpoint = "me")]
pub async fn get_current_user() -> Result<Option<CurrentUser>, AppError> {
    Ok(guard::current_user().map(|u| u.to_current()))
}

/// Starts a customer's sign-up: the account is created by the link emailed to
/// the address, and the answer is the same whether or not the address already
/// has an account (`auth::signup`). Answers with the path to go to.
#[server(prefix = "/api/public", endpoint = "auth/sign-up")]
pub async fn sign_up(name: String, email: String, password: String) -> Result<String, AppError> {
    let state = crate::state::app_state()?;
    let email = normalize_email(&email);
    let name = name.trim().to_string();
    let mut errors = FieldErrors::new();
    if let Some(p) = name_problem(&name) {
        errors.add("name", p);
    }
    errors.check(email_looks_valid(&email), "email", "Enter an email address like name@example.com.");
    if let Some(p) = password_problem(&password) {
        errors.add("password", p);
    }
    errors.into_result()?;
    crate::limits::check(
        &state.pool,
        state.config.rate_limit_scale,
        crate::limits::Action::SignUp,
        &guard::client_address(state.config.trust_proxy),
        &email,
    )
    .await?;
    let next =
        super::signup::start(&state, &email, &name, Role::Customer, password, serde_json::json!({})).await?;
    guard::redirect_form_post(&next);
    Ok(next)
}

/// Logs in. Failed attempts are limited per account and per address (429 when
/// exceeded). Answers with the path to go to next.
#[server(prefix = "/api/public", endpoint = "auth/log-in")]
pub async fn log_in(email: String, password: String, next: Option<String>) -> Result<String, AppError> {
    let state = crate::state::app_state()?;
    let email = normalize_email(&email);
    let mut errors = FieldErrors::new();
    errors.check(!email.is_empty(), "email", "Enter your email address.");
    errors.check(!password.is_empty(), "password", "Enter your password.");
    errors.check(password.chars().count() <= super::PASSWORD_MAX, "password", "That password is too long.");
    errors.into_result()?;

    let address = guard::client_address(state.config.trust_proxy);
    throttle::check(&state.pool, &email, &address).await?;

    let account = queries::credentials_by_email(&state.pool, &email).await?;
    let stored = account.as_ref().map(|a| a.password_hash.clone());
    // Verified against a decoy when the account does not exist: same cost either way.
    let ok = password::verify(password, stored).await?;
    let Some(account) = account.filter(|_| ok) else {
        throttle::record_failure(&state.pool, &email, &address, &state.config.login_throttle).await?;
        tracing::info!("failed log-in");
        return Err(AppError::field("password", "The email or password is not right."));
    };
    throttle::record_success(&state.pool, &email, &address).await?;
    let session = guard::request_session()?;
    login::log_in(&state.pool, &session, crate::ids::UserId(account.id), account.auth_version).await?;
    tracing::info!(user_id = %account.id, "logged in");
    let next = safe_next_path(next.as_deref()).unwrap_or_else(|| account.role.home_path().to_string());
    guard::redirect_form_post(&next);
    Ok(next)
}

/// Logs out: the session is deleted on the server, not just forgotten by the browser.
#[server(prefix = "/api/public", endpoint = "auth/log-out")]
pub async fn log_out() -> Result<(), AppError> {
    let state = crate::state::app_state()?;
    let session = guard::request_session()?;
    login::log_out(&state.pool, &session).await?;
    guard::redirect_form_post("/");
    Ok(())
}

#[server(prefix = "/api", endpoint = "account/name")]
pub async fn update_name(name: String) -> Result<String, AppError> {
    let user = guard::require_user()?;
    let state = crate::state::app_state()?;
    let name = name.trim().to_string();
    if let Some(p) = name_problem(&name) {
        return Err(AppError::field("name", p));
    }
    queries::update_name(&state.pool, crate::ids::UserId(user.id), &name).await?;
    guard::redirect_form_post("/account?saved=name");
    Ok(name)
}

/// Changes the password after checking the current one; every other session of
/// the user ends.
#[server(prefix = "/api", endpoint = "account/password")]
pub async fn change_password(
    current_password: String,
    new_password: String,
    confirm_password: String,
) -> Result<(), AppError> {
    let user = guard::require_user()?;
    let state = crate::state::app_state()?;
    let mut errors = FieldErrors::new();
    errors.check(!current_password.is_empty(), "current_password", "Enter your current password.");
    if let Some(p) = password_problem(&new_password) {
        errors.add("new_password", p);
    }
    errors.check(new_password == confirm_password, "confirm_password", "The two new passwords differ.");
    errors.into_result()?;

    let address = guard::client_address(state.config.trust_proxy);
    throttle::check(&state.pool, &user.email, &address).await?;
    let stored = queries::password_hash_of(&state.pool, crate::ids::UserId(user.id)).await?;
    if !password::verify(current_password, stored).await? {
        throttle::record_failure(&state.pool, &user.email, &address, &state.config.login_throttle).await?;
        return Err(AppError::field("current_password", "That is not your current password."));
    }
    let hash = password::hash(new_password).await?;
    let session = guard::request_session()?;
    let keep = session.id().map(|id| id.to_string());
    let mut tx = state.pool.begin().await?;
    let version = queries::update_password(&mut *tx, crate::ids::UserId(user.id), &hash).await?;
    let ended = queries::end_other_sessions(&mut *tx, crate::ids::UserId(user.id), keep.as_deref()).await?;
    tx.commit().await?;
    // The other log-ins' streams end at once: the commit announced it (triggers on
    // `users` and `user_sessions` send `AccessChanged`).
    login::refresh_version(&session, version).await?;
    tracing::info!(user_id = %user.id, other_sessions_ended = ended, "password changed");
    guard::redirect_form_post("/account?saved=password");
    Ok(())
}
