//! Starting a sign-up without telling anyone whether the address has an account
//! (issue 16, item 10f; SECURITY.md). Every sign-up form (customer, independent
//! mechanic, workshop) ends here once its fields are valid and within limits:
//! the password is hashed in every case (so the answer takes as long either
//! way), then a new address gets a link that creates the account
//! (`pending_signups`) and a taken one gets a notice to its owner. The form
//! answers the same in both cases. The account is created by the link
//! (`crate::signup`), which proves the address is the person's own.

use super::{password, queries, Role};
use crate::error::AppError;
use crate::mail::outbox;
use crate::state::AppState;
use sqlx::PgExecutor;

/// How long a confirmation link works.
pub const CONFIRM_HOURS: i64 = 24;

/// Where every sign-up form sends the person next.
pub const CHECK_EMAIL_PATH: &str = "/check-email";

/// What the person asked to become, for the emails' wording.
fn becoming(role: Role) -> &'static str {
    match role {
        Role::Mechanic => "an independent mechanic's account",
        Role::WorkshopMember => "a workshop's account",
        _ => "an account",
    }
}

/// Starts a sign-up (see the module's comment). Returns the path to go to next.
pub async fn start(
    state: &AppState,
    email: &str,
    name: &str,
    role: Role,
    password: String,
    details: serde_json::Value,
) -> Result<String, AppError> {
    let hash = password::hash(password).await?;
    let mut tx = state.pool.begin().await?;
    if queries::email_taken(&mut *tx, email).await? {
        let body = format!(
            "Hello,\n\nSomeone (perhaps you) just tried to create {} on autodoctor with this email \
             address. It already has an account, so nothing was created or changed.\n\n\
             If it was you, log in here:\n{}/login\n\nIf it was not you, you can ignore this email: \
             your account and its password are unchanged.\n",
            becoming(role),
            state.config.public_url
        );
        outbox::enqueue(&mut *tx, email, "You already have an autodoctor account", &body, "signup_existing")
            .await?;
        tracing::info!("sign-up for a taken address: its owner was told");
    } else {
        let token = create_pending(&mut *tx, email, name, role, &hash, &details).await?;
        let link = format!("{}/confirm/{token}", state.config.public_url);
        let body = format!(
            "Hello {name},\n\nTo finish creating {} on autodoctor, open this link:\n{link}\n\n\
             The link works once, for {CONFIRM_HOURS} hours.\n\nIf you did not ask for this, you can \
             ignore this email: no account is created without the link.\n",
            becoming(role)
        );
        outbox::enqueue_with_secret(
            &mut *tx,
            email,
            "Confirm your email to finish signing up",
            &body,
            "signup_confirm",
            &token,
            &crate::token::hash(&token),
        )
        .await?;
        tracing::info!("sign-up started: confirmation link sent");
    }
    tx.commit().await?;
    Ok(CHECK_EMAIL_PATH.to_string())
}

/// Stores a pending sign-up and returns the raw token for its link.
pub async fn create_pending(
    db: impl PgExecutor<'_>,
    email: &str,
    name: &str,
    role: Role,
    password_hash: &str,
    details: &serde_json::Value,
) -> Result<String, sqlx::Error> {
    let (token, token_hash) = crate::token::new_token();
    sqlx::query!(
        "INSERT INTO pending_signups (token_hash, email, name, role, password_hash, details, expires_at)
         VALUES ($1, $2, $3, $4, $5, $6, now() + make_interval(hours => $7))",
        token_hash,
        email,
        name,
        role as Role,
        password_hash,
        details,
        CONFIRM_HOURS as i32
    )
    .execute(db)
    .await?;
    Ok(token)
}
