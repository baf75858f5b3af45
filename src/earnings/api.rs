//! Server functions for earnings.

use super::{MechanicEarnings, PlatformRevenue, WorkshopEarnings};
use crate::error::AppError;
use leptos::prelude::*;

/// How many rows a page of earnings shows (the CSV export has them all).
pub const PAGE_ROWS: i64 = 200;

#[cfg(feature = "ssr")]
pub mod queries {
    use super::super::{DailyPoint, EarningRow, EarningsTotals, ServedSession, WorkshopRevenue};
    use crate::ledger::AccountRef;
    use sqlx::PgPool;
    use uuid::Uuid;

    /// The condition that picks one ledger account by kind ($1), workshop ($2) and
    /// mechanic ($3), shaped so the unique index (kind, organization_id, mechanic_id)
    /// finds it (`IS NOT DISTINCT FROM` would scan every account).
    fn account_condition(org: Option<Uuid>, mechanic: Option<Uuid>) -> &'static str {
        match (org, mechanic) {
            (Some(_), Some(_)) => {
                "a.kind = $1::ledger_account_kind AND a.organization_id = $2 AND a.mechanic_id = $3"
            }
            (Some(_), None) => {
                "a.kind = $1::ledger_account_kind AND a.organization_id = $2 AND a.mechanic_id IS NULL AND $3::uuid IS NULL"
            }
            (None, Some(_)) => {
                "a.kind = $1::ledger_account_kind AND a.organization_id IS NULL AND $2::uuid IS NULL AND a.mechanic_id = $3"
            }
            (None, None) => {
                "a.kind = $1::ledger_account_kind AND a.organization_id IS NULL AND $2::uuid IS NULL
                 AND a.mechanic_id IS NULL AND $3::uuid IS NULL"
            }
        }
    }

    /// Pending, paid and lifetime for one payable, from its cached balance and its
    /// payouts (net of what transfer reversals took back after refunds). The paid
    /// total is kept per account by a trigger (`ledger_account_paid`), so this
    /// never reads the account's history.
    pub async fn totals(pool: &PgPool, account: AccountRef) -> Result<EarningsTotals, sqlx::Error> {
        let pending = crate::ledger::balance(pool, account).await?;
        let (kind, org, mechanic) = match account {
            AccountRef::Workshop(w) => ("workshop_payable", Some(w), None),
            AccountRef::Mechanic(m) => ("mechanic_payable", None, Some(m)),
            _ => return Ok(EarningsTotals { pending_cents: pending, ..Default::default() }),
        };
        let paid: i64 = sqlx::query_scalar(&format!(
            "SELECT coalesce(sum(t.paid_cents), 0)::bigint
               FROM ledger_accounts a JOIN ledger_account_paid t ON t.account_id = a.id
              WHERE {}",
            account_condition(org, mechanic)
        ))
        .bind(kind)
        .bind(org)
        .bind(mechanic)
        .fetch_one(pool)
        .await?;
        Ok(EarningsTotals { pending_cents: pending, paid_cents: paid, lifetime_cents: pending + paid })
    }

    /// Credits per day over the last `days` days, from the daily totals (never from history).
    pub async fn daily_credits(
        pool: &PgPool,
        kind: &str,
        org: Option<Uuid>,
        mechanic: Option<Uuid>,
        last: chrono::NaiveDate,
        days: i64,
    ) -> Result<Vec<DailyPoint>, sqlx::Error> {
        let rows: Vec<(chrono::NaiveDate, i64)> = sqlx::query_as(&format!(
            "SELECT d.day, (d.credits_cents - d.debits_cents)::bigint
               FROM ledger_daily d JOIN ledger_accounts a ON a.id = d.account_id
              WHERE {} AND d.day > $4 - $5::int AND d.day <= $4
              ORDER BY d.day",
            account_condition(org, mechanic)
        ))
        .bind(kind)
        .bind(org)
        .bind(mechanic)
        .bind(last)
        .bind(days as i32)
        .fetch_all(pool)
        .await?;
        Ok(super::super::fill_days(
            &rows.into_iter().map(|(day, cents)| DailyPoint { day, cents }).collect::<Vec<_>>(),
            last,
            days,
        ))
    }

    const ROW_SELECT: &str = "SELECT p.id AS posting_id, p.created_at, p.session_id, mu.name AS mechanic_name,
            o.plan_name, coalesce(o.amount_paid_cents, 0) AS gross_cents,
            coalesce((SELECT -pf.amount_cents FROM postings pf WHERE pf.entry_id = p.entry_id AND pf.share_kind = 'platform_fee'), 0) AS platform_fee_cents,
            coalesce((SELECT -rf.amount_cents FROM postings rf WHERE rf.entry_id = p.entry_id AND rf.share_kind = 'referral'), 0) AS referral_cents,
            -p.amount_cents AS net_cents, p.share_kind,
            CASE WHEN po.status = 'paid' THEN 'paid' ELSE 'pending' END AS payout_status,
            po.paid_at, po.transfer_id
       FROM postings p
       JOIN journal_entries e ON e.id = p.entry_id AND e.kind = 'session_revenue'
       JOIN sessions s ON s.id = p.session_id
       JOIN users mu ON mu.id = s.mechanic_id
       JOIN orders o ON o.id = e.order_id
       LEFT JOIN payout_allocations pa ON pa.posting_id = p.id
       LEFT JOIN payouts po ON po.id = pa.payout_id";

    /// The shares credited to an account between two days (inclusive), newest first.
    pub async fn rows(
        pool: &PgPool,
        account: AccountRef,
        from: chrono::NaiveDate,
        to: chrono::NaiveDate,
        limit: i64,
    ) -> Result<Vec<EarningRow>, sqlx::Error> {
        let (kind, org, mechanic) = match account {
            AccountRef::Workshop(w) => ("workshop_payable", Some(w), None),
            AccountRef::Mechanic(m) => ("mechanic_payable", None, Some(m)),
            _ => return Ok(Vec::new()),
        };
        sqlx::query_as::<_, EarningRow>(&format!(
            "{ROW_SELECT}
              WHERE p.account_id = (SELECT a.id FROM ledger_accounts a WHERE {})
                AND p.created_at >= $4::date AND p.created_at < ($5::date + 1)
              ORDER BY p.created_at DESC, p.id DESC
              LIMIT $6",
            account_condition(org, mechanic)
        ))
        .bind(kind)
        .bind(org)
        .bind(mechanic)
        .bind(from)
        .bind(to)
        .bind(limit)
        .fetch_all(pool)
        .await
    }

    pub async fn served_sessions(pool: &PgPool, mechanic: Uuid) -> Result<Vec<ServedSession>, sqlx::Error> {
        sqlx::query_as::<_, ServedSession>(
            "SELECT s.id AS session_id, s.ended_at, o.plan_name, cu.name AS customer_name, s.rating
               FROM sessions s JOIN orders o ON o.id = s.order_id JOIN users cu ON cu.id = s.customer_id
              WHERE s.mechanic_id = $1 AND s.status = 'completed'
              ORDER BY s.ended_at DESC NULLS LAST LIMIT 200",
        )
        .bind(mechanic)
        .fetch_all(pool)
        .await
    }

    pub async fn revenue_by_workshop(
        pool: &PgPool,
        since: chrono::NaiveDate,
    ) -> Result<Vec<WorkshopRevenue>, sqlx::Error> {
        sqlx::query_as::<_, WorkshopRevenue>(
            "SELECT s.workshop_id, w.name AS workshop_name, count(*) AS sessions,
                    sum(-p.amount_cents)::bigint AS platform_fee_cents
               FROM postings p
               JOIN sessions s ON s.id = p.session_id
               LEFT JOIN organizations w ON w.id = s.workshop_id
              WHERE p.share_kind = 'platform_fee' AND p.created_at >= $1::date
              GROUP BY s.workshop_id, w.name
              ORDER BY platform_fee_cents DESC NULLS LAST
              LIMIT 200",
        )
        .bind(since)
        .fetch_all(pool)
        .await
    }
}

/// The owner's (or staff member's) earnings panel for a date range.
#[server(prefix = "/api", endpoint = "workshop/earnings")]
pub async fn get_workshop_earnings(
    from: Option<String>,
    to: Option<String>,
) -> Result<WorkshopEarnings, AppError> {
    use crate::ledger::AccountRef;
    let state = crate::state::app_state()?;
    let (_, membership) = crate::workshops::api::require_workshop_member(&state).await?;
    let today = chrono::Utc::now().date_naive();
    let (from, to) = super::date_range(
        super::parse_day(from.as_deref(), "from")?,
        super::parse_day(to.as_deref(), "to")?,
        today,
    )?;
    let account = AccountRef::Workshop(membership.organization_id);
    let totals = queries::totals(&state.pool, account).await?;
    let chart = queries::daily_credits(
        &state.pool,
        "workshop_payable",
        Some(membership.organization_id),
        None,
        today,
        30,
    )
    .await?;
    let mut rows = queries::rows(&state.pool, account, from, to, PAGE_ROWS + 1).await?;
    let more_rows = rows.len() as i64 > PAGE_ROWS;
    rows.truncate(PAGE_ROWS as usize);
    Ok(WorkshopEarnings {
        workshop_name: membership.organization_name,
        currency: "usd".into(),
        totals,
        chart,
        rows,
        from,
        to,
        more_rows,
    })
}

/// The mechanic's earnings: an independent's shares and balances, or the
/// sessions a workshop mechanic served (their workshop pays them).
#[server(prefix = "/api", endpoint = "mechanic/earnings")]
pub async fn get_mechanic_earnings() -> Result<MechanicEarnings, AppError> {
    use crate::ledger::AccountRef;
    let state = crate::state::app_state()?;
    let (user, profile) = crate::mechanics::api::require_mechanic(&state).await?;
    let served = queries::served_sessions(&state.pool, user.id).await?;
    let independent_account = AccountRef::Mechanic(user.id);
    let today = chrono::Utc::now().date_naive();
    let rows = queries::rows(
        &state.pool,
        independent_account,
        today - chrono::Duration::days(730),
        today,
        PAGE_ROWS,
    )
    .await?;
    let has_own_earnings = !rows.is_empty() || profile.workshop_id.is_none();
    Ok(MechanicEarnings {
        currency: "usd".into(),
        workshop_name: profile.workshop_name.clone(),
        totals: if has_own_earnings {
            Some(queries::totals(&state.pool, independent_account).await?)
        } else {
            None
        },
        rows,
        served,
    })
}

/// Platform revenue over the last 30 days: by day and by serving workshop.
#[server(prefix = "/api", endpoint = "admin/revenue")]
pub async fn get_platform_revenue() -> Result<PlatformRevenue, AppError> {
    crate::auth::guard::require_admin()?;
    let state = crate::state::app_state()?;
    let today = chrono::Utc::now().date_naive();
    let by_day = queries::daily_credits(&state.pool, "platform_revenue", None, None, today, 30).await?;
    let by_workshop = queries::revenue_by_workshop(&state.pool, today - chrono::Duration::days(29)).await?;
    Ok(PlatformRevenue {
        currency: "usd".into(),
        total_30d_cents: by_day.iter().map(|d| d.cents).sum(),
        by_day,
        by_workshop,
    })
}
