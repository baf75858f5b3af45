//! The person's choice of optional email (the account page).

use crate::error::AppError;
use leptos::prelude::*;

/// Whether the caller receives optional email.
#[server(prefix = "/api", endpoint = "account/mail")]
pub async fn get_mail_preference() -> Result<bool, AppError> {
    let user = crate::auth::guard::require_user()?;
    let state = crate::state::app_state()?;
    let optional = sqlx::query_scalar!("SELECT optional_mail FROM users WHERE id = $1", user.id)
        .fetch_optional(&state.pool)
        .await?
        .ok_or(AppError::Unauthenticated)?;
    Ok(optional)
}

/// Switches the caller's optional email on (`on`) or off (`off`). Receipts and
/// notices about the account are sent either way.
#[server(prefix = "/api", endpoint = "account/mail/save")]
pub async fn save_mail_preference(optional_mail: String) -> Result<bool, AppError> {
    let user = crate::auth::guard::require_user()?;
    let state = crate::state::app_state()?;
    let optional = match optional_mail.as_str() {
        "on" => true,
        "off" => false,
        _ => {
            return Err(AppError::field("optional_mail", "Choose whether to get optional emails: on or off."))
        }
    };
    sqlx::query!("UPDATE users SET optional_mail = $2, updated_at = now() WHERE id = $1", user.id, optional)
        .execute(&state.pool)
        .await?;
    crate::auth::guard::redirect_form_post("/account?saved=mail");
    Ok(optional)
}
