//! Connect onboarding: one connected account per payee (a workshop, or an
//! independent mechanic), created with an idempotency key, then an Account Link.
//! `account.updated` events keep the flags current, newest first.

use crate::error::AppError;
use crate::payments::gateway::{AccountLinkRequest, ConnectAccountRequest, PayeeKind};
use crate::state::AppState;
use sqlx::{Postgres, Transaction};
use uuid::Uuid;

/// Who receives payouts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Payee {
    Workshop(Uuid),
    Mechanic(Uuid),
}

struct PayeeRow {
    name: String,
    email: String,
    account_id: Option<String>,
    payouts_enabled: bool,
}

async fn payee_row(state: &AppState, payee: Payee) -> Result<PayeeRow, AppError> {
    let row = match payee {
        Payee::Workshop(w) => {
            sqlx::query_as!(
                PayeeRow,
                "SELECT name, contact_email AS email, stripe_connect_account_id AS account_id,
                        stripe_payouts_enabled AS payouts_enabled
                   FROM organizations WHERE id = $1",
                w
            )
            .fetch_optional(&state.pool)
            .await?
        }
        Payee::Mechanic(m) => {
            sqlx::query_as!(
                PayeeRow,
                "SELECT u.name, u.email, m.stripe_connect_account_id AS account_id,
                        m.stripe_payouts_enabled AS payouts_enabled
                   FROM mechanics m JOIN users u ON u.id = m.user_id WHERE m.user_id = $1",
                m
            )
            .fetch_optional(&state.pool)
            .await?
        }
    };
    row.ok_or_else(|| AppError::not_found("There is no such payee."))
}

pub async fn state_of(state: &AppState, payee: Payee) -> Result<(String, super::OnboardingState), AppError> {
    let row = payee_row(state, payee).await?;
    Ok((row.name, super::OnboardingState::from_flags(row.account_id.is_some(), row.payouts_enabled)))
}

/// Creates the connected account if there is none (the same key on a retry
/// returns the same account), and answers the onboarding URL to send the payee to.
pub async fn start(state: &AppState, payee: Payee, return_path: &str) -> Result<String, AppError> {
    let row = payee_row(state, payee).await?;
    let unavailable = |e: crate::payments::gateway::GatewayError| {
        tracing::warn!(error = %e, "connect onboarding failed");
        if e.is_retryable() {
            AppError::Unavailable
        } else {
            AppError::bad_request("The payment provider refused to set up payouts. Please contact us.")
        }
    };
    let account_id = match row.account_id {
        Some(id) => id,
        None => {
            let (kind, key, meta) = match payee {
                Payee::Workshop(w) => {
                    (PayeeKind::Workshop, format!("connect-workshop-{w}"), ("organization_id", w))
                }
                Payee::Mechanic(m) => {
                    (PayeeKind::Individual, format!("connect-mechanic-{m}"), ("mechanic_id", m))
                }
            };
            let account = state
                .payments
                .create_connected_account(&ConnectAccountRequest {
                    email: row.email.clone(),
                    display_name: row.name.clone(),
                    kind,
                    country: "US".into(),
                    metadata: [(meta.0.to_string(), meta.1.to_string())].into_iter().collect(),
                    idempotency_key: key,
                })
                .await
                .map_err(unavailable)?;
            match payee {
                Payee::Workshop(id) => {
                    sqlx::query_scalar!(
                        r#"UPDATE organizations SET stripe_connect_account_id = coalesce(stripe_connect_account_id, $2)
                          WHERE id = $1 RETURNING stripe_connect_account_id AS "account_id!""#,
                        id,
                        &account.id
                    )
                    .fetch_one(&state.pool)
                    .await?
                }
                Payee::Mechanic(id) => {
                    sqlx::query_scalar!(
                        r#"UPDATE mechanics SET stripe_connect_account_id = coalesce(stripe_connect_account_id, $2)
                          WHERE user_id = $1 RETURNING stripe_connect_account_id AS "account_id!""#,
                        id,
                        &account.id
                    )
                    .fetch_one(&state.pool)
                    .await?
                }
            }
        }
    };
    let base = &state.config.public_url;
    state
        .payments
        .create_account_link(&AccountLinkRequest {
            account_id,
            refresh_url: format!("{base}{return_path}?onboarding=refresh"),
            return_url: format!("{base}{return_path}?onboarding=return"),
        })
        .await
        .map_err(unavailable)
}

/// Reads the account from the gateway and stores its flags (after the payee returns).
pub async fn refresh(state: &AppState, payee: Payee) -> Result<super::OnboardingState, AppError> {
    let row = payee_row(state, payee).await?;
    let Some(account_id) = row.account_id else { return Ok(super::OnboardingState::NotStarted) };
    let account = state.payments.retrieve_account(&account_id).await.map_err(|e| {
        tracing::warn!(error = %e, "account refresh failed");
        AppError::Unavailable
    })?;
    let mut tx = state.pool.begin().await?;
    apply_account_flags(&mut tx, &account_id, account.details_submitted, account.payouts_enabled, None)
        .await?;
    tx.commit().await?;
    Ok(super::OnboardingState::from_flags(true, account.payouts_enabled))
}

/// Stores an account's flags. With an event time, only an event newer than the
/// last one applied changes anything (events arrive out of order). Returns
/// whether a payee was updated.
pub async fn apply_account_flags(
    tx: &mut Transaction<'_, Postgres>,
    account_id: &str,
    details_submitted: bool,
    payouts_enabled: bool,
    event_time: Option<chrono::DateTime<chrono::Utc>>,
) -> Result<bool, sqlx::Error> {
    // The same update of both payee tables (an account id belongs to one of them).
    let workshops = sqlx::query!(
        "UPDATE organizations SET stripe_onboarding_completed = $2, stripe_payouts_enabled = $3,
                stripe_account_synced_at = coalesce($4, stripe_account_synced_at)
          WHERE stripe_connect_account_id = $1
            AND ($4::timestamptz IS NULL OR stripe_account_synced_at IS NULL OR stripe_account_synced_at <= $4)",
        account_id,
        details_submitted,
        payouts_enabled,
        event_time as _
    )
    .execute(&mut **tx)
    .await?
    .rows_affected();
    let mechanics = sqlx::query!(
        "UPDATE mechanics SET stripe_onboarding_completed = $2, stripe_payouts_enabled = $3,
                stripe_account_synced_at = coalesce($4, stripe_account_synced_at)
          WHERE stripe_connect_account_id = $1
            AND ($4::timestamptz IS NULL OR stripe_account_synced_at IS NULL OR stripe_account_synced_at <= $4)",
        account_id,
        details_submitted,
        payouts_enabled,
        event_time as _
    )
    .execute(&mut **tx)
    .await?
    .rows_affected();
    Ok(workshops + mechanics > 0)
}
