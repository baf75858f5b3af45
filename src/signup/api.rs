//! Server functions for the confirmation link: public on purpose (the unguessable
//! token is the credential, as for invites).

use super::PendingSignUp;
use crate::error::AppError;
use leptos::prelude::*;

/// What a confirmation link is for; 404 when it is not valid.
#[server(prefix = "/api/public", endpoint = "auth/pending")]
pub async fn get_pending_sign_up(token: String) -> Result<PendingSignUp, AppError> {
    let state = crate::state::app_state()?;
    if !crate::token::well_formed(&token) {
        return Err(AppError::not_found(super::LINK_PROBLEM));
    }
    super::accounts::pending(&state.pool, &token)
        .await?
        .ok_or_else(|| AppError::not_found(super::LINK_PROBLEM))
}

/// Creates the account a confirmation link is for, and logs it in. Answers with
/// the path to go to.
#[server(prefix = "/api/public", endpoint = "auth/confirm")]
pub async fn confirm_sign_up(token: String) -> Result<String, AppError> {
    let state = crate::state::app_state()?;
    if !crate::token::well_formed(&token) {
        return Err(AppError::not_found(super::LINK_PROBLEM));
    }
    let (user_id, role) = super::accounts::create_from_link(&state.pool, &token).await?;
    let session = crate::auth::guard::request_session()?;
    crate::auth::login::log_in(&state.pool, &session, crate::ids::UserId(user_id), 1).await?;
    tracing::info!(%user_id, ?role, "sign-up confirmed");
    let next = role.home_path().to_string();
    crate::auth::guard::redirect_form_post(&next);
    Ok(next)
}
