//! Server functions for payouts, refunds and reconciliation.

use super::{PayoutSetup, PayoutsOverview, ReconciliationReport};
use crate::error::AppError;
use leptos::prelude::*;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// A paid order, for the admin's refunds list.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AdminOrder {
    pub order_id: Uuid,
    pub customer_email: String,
    pub plan_name: String,
    pub amount_paid_cents: i64,
    pub amount_refunded_cents: i64,
    pub currency: String,
    pub status: crate::status::OrderStatus,
    pub session_status: Option<crate::status::SessionStatus>,
    pub served_by: Option<String>,
    pub paid_at: Option<chrono::DateTime<chrono::Utc>>,
    /// Why a payment is held (it did not match the order), when it is.
    pub held_reason: Option<String>,
    /// The session's start (its clock's, or its first message's) and end, and how long it really ran.
    pub session_started_at: Option<chrono::DateTime<chrono::Utc>>,
    pub session_ended_at: Option<chrono::DateTime<chrono::Utc>>,
    pub session_seconds: Option<i64>,
}

#[cfg(feature = "ssr")]
mod access {
    use super::super::connect::Payee;
    use crate::auth::Role;
    use crate::error::AppError;
    use crate::state::AppState;

    /// The payee the caller manages: their workshop (owners manage, staff read),
    /// or themselves as an independent mechanic. Answers (payee, may manage, page path).
    pub async fn my_payee(state: &AppState) -> Result<(Payee, bool, &'static str), AppError> {
        let user = crate::auth::guard::require_user()?;
        match user.role {
            Role::WorkshopMember => {
                let membership =
                    crate::workshops::queries::membership_of(&state.pool, crate::ids::UserId(user.id))
                        .await?
                        .ok_or_else(|| AppError::forbidden("Your account is not part of a workshop."))?;
                Ok((
                    Payee::Workshop(membership.organization_id),
                    membership.role == crate::status::MemberRole::Owner,
                    "/workshop/payouts",
                ))
            }
            Role::Mechanic => {
                let profile = crate::mechanics::queries::profile(&state.pool, crate::ids::UserId(user.id))
                    .await?
                    .ok_or_else(|| AppError::forbidden("Your account has no mechanic profile."))?;
                if let Some(w) = profile.workshop_name {
                    return Err(AppError::forbidden(format!(
                        "{w} receives the payouts for your sessions and pays you; there is nothing to set up here."
                    )));
                }
                Ok((Payee::Mechanic(user.id), true, "/mechanic/payouts"))
            }
            _ => Err(AppError::forbidden("Only workshops and independent mechanics receive payouts.")),
        }
    }
}

/// A payee's last 20 payouts, newest first (one query per kind of payee).
#[cfg(feature = "ssr")]
async fn last_payouts_of(
    db: &sqlx::PgPool,
    payee: super::connect::Payee,
) -> Result<Vec<super::PayoutLine>, sqlx::Error> {
    use super::connect::Payee;
    let (workshop, mechanic) = match payee {
        Payee::Workshop(w) => (Some(w), None),
        Payee::Mechanic(m) => (None, Some(m)),
    };
    // One of the two is NULL, and `= NULL` is never true: the payee's own payouts.
    sqlx::query_as!(
        super::PayoutLine,
        r#"SELECT po.id AS "payout_id: crate::ids::PayoutId", po.run_id, coalesce(o.name, u.name) AS "payee_name!",
                po.amount_cents, po.status AS "status: crate::status::PayoutStatus", po.transfer_id, po.failure_reason, po.attempts,
                po.created_at AS "created_at: chrono::DateTime<chrono::Utc>",
                po.paid_at AS "paid_at: chrono::DateTime<chrono::Utc>"
           FROM payouts po LEFT JOIN organizations o ON o.id = po.organization_id LEFT JOIN users u ON u.id = po.mechanic_id
          WHERE po.organization_id = $1 OR po.mechanic_id = $2 ORDER BY po.created_at DESC LIMIT 20"#,
        workshop,
        mechanic
    )
    .fetch_all(db)
    .await
}

#[server(prefix = "/api", endpoint = "payouts/setup")]
pub async fn get_payout_setup() -> Result<PayoutSetup, AppError> {
    use super::connect::Payee;
    let state = crate::state::app_state()?;
    let (payee, _, _) = access::my_payee(&state).await?;
    let (name, onboarding) = super::connect::state_of(&state, payee).await?;
    let account = match payee {
        Payee::Workshop(w) => crate::ledger::AccountRef::Workshop(crate::ids::WorkshopId(w)),
        Payee::Mechanic(m) => crate::ledger::AccountRef::Mechanic(crate::ids::UserId(m)),
    };
    let pending_cents = crate::ledger::balance(&state.pool, account).await?;
    let last_payouts = last_payouts_of(&state.pool, payee).await?;
    Ok(PayoutSetup { payee_name: name, state: onboarding, pending_cents, last_payouts })
}

/// Creates the payout account if needed and answers where to complete it.
#[server(prefix = "/api", endpoint = "payouts/start")]
pub async fn start_payout_setup() -> Result<String, AppError> {
    let state = crate::state::app_state()?;
    let (payee, may_manage, path) = access::my_payee(&state).await?;
    if !may_manage {
        return Err(AppError::forbidden("Only the workshop's owner can set up payouts."));
    }
    let url = super::connect::start(&state, payee, path).await?;
    crate::auth::guard::redirect_form_post(&url);
    Ok(url)
}

/// Reads the payout account's state from the provider (after returning from onboarding).
#[server(prefix = "/api", endpoint = "payouts/refresh")]
pub async fn refresh_payout_setup() -> Result<super::OnboardingState, AppError> {
    let state = crate::state::app_state()?;
    let (payee, _, _) = access::my_payee(&state).await?;
    super::connect::refresh(&state, payee).await
}

#[server(prefix = "/api", endpoint = "admin/payouts")]
pub async fn get_payouts_overview() -> Result<PayoutsOverview, AppError> {
    crate::auth::guard::require_admin()?;
    let state = crate::state::app_state()?;
    let balances = sqlx::query_as!(
        super::PayeeBalance,
        r#"SELECT coalesce(o.name, u.name) AS "payee_name!",
                a.kind AS "kind: crate::status::LedgerAccountKind",
                -a.balance_cents AS "owed_cents!",
                coalesce(o.stripe_payouts_enabled, m.stripe_payouts_enabled, false) AS "payouts_enabled!"
           FROM ledger_accounts a
           LEFT JOIN organizations o ON o.id = a.organization_id
           LEFT JOIN users u ON u.id = a.mechanic_id
           LEFT JOIN mechanics m ON m.user_id = a.mechanic_id
          WHERE a.kind IN ('workshop_payable', 'mechanic_payable') AND a.balance_cents <> 0
          ORDER BY a.balance_cents, coalesce(o.name, u.name) LIMIT 500"#
    )
    .fetch_all(&state.pool)
    .await?;
    let recent = sqlx::query_as!(
        super::PayoutLine,
        r#"SELECT po.id AS "payout_id: crate::ids::PayoutId", po.run_id, coalesce(o.name, u.name) AS "payee_name!",
                po.amount_cents, po.status AS "status: crate::status::PayoutStatus", po.transfer_id, po.failure_reason, po.attempts,
                po.created_at AS "created_at: chrono::DateTime<chrono::Utc>",
                po.paid_at AS "paid_at: chrono::DateTime<chrono::Utc>"
           FROM payouts po LEFT JOIN organizations o ON o.id = po.organization_id LEFT JOIN users u ON u.id = po.mechanic_id
          ORDER BY po.created_at DESC, coalesce(o.name, u.name) LIMIT 100"#
    )
    .fetch_all(&state.pool)
    .await?;
    let next_scheduled_run = if state.config.payout_interval_hours > 0 {
        sqlx::query_scalar!(
            r#"SELECT next_run_at AS "next_run_at: chrono::DateTime<chrono::Utc>" FROM scheduled_jobs WHERE name = 'payouts'"#
        )
        .fetch_optional(&state.pool)
        .await?
    } else {
        None
    };
    Ok(PayoutsOverview { balances, recent, next_scheduled_run })
}

/// Pays out every payee's pending balance now; answers a summary.
#[server(prefix = "/api", endpoint = "admin/payouts/run")]
pub async fn run_payouts_now() -> Result<String, AppError> {
    let admin = crate::auth::guard::require_admin()?;
    let state = crate::state::app_state()?;
    let (_, processed) = super::run::run_now(&state, "manual", Some(crate::ids::UserId(admin.id))).await?;
    tracing::info!(admin = %admin.id, paid = processed.paid, failed = processed.failed, "manual payout run");
    Ok(format!("{} payout(s) made, {} failed (they are retried later).", processed.paid, processed.failed))
}

#[server(prefix = "/api", endpoint = "admin/orders")]
pub async fn admin_orders() -> Result<Vec<AdminOrder>, AppError> {
    crate::auth::guard::require_admin()?;
    let state = crate::state::app_state()?;
    Ok(sqlx::query_as!(
        AdminOrder,
        r#"SELECT o.id AS order_id, u.email AS customer_email, o.plan_name,
                coalesce(o.amount_paid_cents, 0) AS "amount_paid_cents!",
                o.amount_refunded_cents, o.currency, o.status AS "status: crate::status::OrderStatus",
                s.status AS "session_status?: crate::status::SessionStatus",
                coalesce(mu.name || coalesce(' (' || w.name || ')', ''), NULL) AS "served_by?",
                coalesce(o.paid_at, o.held_at) AS "paid_at?: chrono::DateTime<chrono::Utc>", o.held_reason,
                coalesce(s.clock_started_at, s.started_at) AS "session_started_at?: chrono::DateTime<chrono::Utc>",
                s.ended_at AS "session_ended_at?: chrono::DateTime<chrono::Utc>",
                extract(epoch FROM s.ended_at - coalesce(s.clock_started_at, s.started_at))::int8 AS "session_seconds?"
           FROM orders o JOIN users u ON u.id = o.customer_id
           LEFT JOIN sessions s ON s.order_id = o.id
           LEFT JOIN users mu ON mu.id = s.mechanic_id
           LEFT JOIN organizations w ON w.id = s.workshop_id
          WHERE o.status IN ('paid', 'partially_refunded', 'refunded', 'held')
          ORDER BY (o.status = 'held') DESC, coalesce(o.paid_at, o.held_at) DESC NULLS LAST, o.id LIMIT 200"#
    )
    .fetch_all(&state.pool)
    .await?)
}

/// Parses money typed as dollars ("12", "12.5", "12.50") into cents.
pub fn parse_amount(raw: &str) -> Result<i64, String> {
    let s = raw.trim().trim_start_matches('$').trim();
    let problem = || "Enter an amount like 12.50.".to_string();
    let (whole, frac) = s.split_once('.').unwrap_or((s, ""));
    if whole.is_empty() || whole.len() > 9 || frac.len() > 2 || !whole.bytes().all(|b| b.is_ascii_digit()) {
        return Err(problem());
    }
    if !frac.bytes().all(|b| b.is_ascii_digit()) {
        return Err(problem());
    }
    let whole: i64 = whole.parse().map_err(|_| problem())?;
    let frac: i64 = if frac.is_empty() { 0 } else { format!("{frac:0<2}").parse().map_err(|_| problem())? };
    Ok(whole * 100 + frac)
}

/// Refunds an order fully or partly; every share is reversed in proportion.
#[server(prefix = "/api", endpoint = "admin/refund")]
pub async fn refund_order(order_id: Uuid, amount: String, reason: String) -> Result<String, AppError> {
    let admin = crate::auth::guard::require_admin()?;
    let state = crate::state::app_state()?;
    let cents = parse_amount(&amount).map_err(|p| AppError::field("amount", p))?;
    if let Some(p) = crate::validate::text_problem(&reason, 1, 500, "the reason") {
        return Err(AppError::field("reason", p));
    }
    let outcome = crate::refunds::refund_order(
        &state,
        crate::ids::OrderId(order_id),
        cents,
        reason.trim(),
        Some(crate::ids::UserId(admin.id)),
    )
    .await?;
    tracing::info!(admin = %admin.id, %order_id, cents, "refund made");
    let mut text = format!("Refunded {}.", crate::ui::format_money(outcome.amount_cents, "usd"));
    if outcome.recovered_cents > 0 {
        text.push_str(&format!(
            " {} recovered from payouts.",
            crate::ui::format_money(outcome.recovered_cents, "usd")
        ));
    }
    if outcome.carried_cents > 0 {
        text.push_str(&format!(
            " {} could not be recovered now and is deducted from the next payouts.",
            crate::ui::format_money(outcome.carried_cents, "usd")
        ));
    }
    Ok(text)
}

#[server(prefix = "/api", endpoint = "admin/reconcile")]
pub async fn run_reconciliation() -> Result<ReconciliationReport, AppError> {
    crate::auth::guard::require_admin()?;
    let state = crate::state::app_state()?;
    super::reconcile::reconcile(&state, 90).await
}

#[cfg(test)]
mod tests {
    use super::parse_amount;

    #[test]
    fn amounts_parse_to_exact_cents() {
        assert_eq!(parse_amount("12"), Ok(1200));
        assert_eq!(parse_amount("$12.5"), Ok(1250));
        assert_eq!(parse_amount(" 0.07 "), Ok(7));
        for bad in ["", "-1", "1.234", "abc", "1e3", "12,50", "9999999999"] {
            assert!(parse_amount(bad).is_err(), "{bad}");
        }
    }
}
