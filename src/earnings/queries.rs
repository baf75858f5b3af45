//! The earnings panels' SQL, read from the ledger (compile-checked). Rows come
//! from the `payable_lines` view (migration 0020): every posting on a payable
//! apart from the payouts themselves, so session shares, refunds and transfer
//! reversals are rows of their own and always add up to the totals.

use super::{DailyPoint, EarningRow, EarningsTotals, ServedSession, WorkshopRevenue};
use crate::ledger::AccountRef;
use sqlx::PgPool;

/// The ledger account of a payable or of the platform's revenue, if it exists
/// yet (accounts are created with their first posting). Each shape is written so
/// the unique index (kind, organization_id, mechanic_id) finds it.
async fn find_account(pool: &PgPool, account: AccountRef) -> Result<Option<i64>, sqlx::Error> {
    match account {
        AccountRef::Workshop(w) => {
            sqlx::query_scalar!(
                "SELECT id FROM ledger_accounts
                  WHERE kind = 'workshop_payable' AND organization_id = $1 AND mechanic_id IS NULL",
                w.uuid()
            )
            .fetch_optional(pool)
            .await
        }
        AccountRef::Mechanic(m) => {
            sqlx::query_scalar!(
                "SELECT id FROM ledger_accounts
                  WHERE kind = 'mechanic_payable' AND organization_id IS NULL AND mechanic_id = $1",
                m.uuid()
            )
            .fetch_optional(pool)
            .await
        }
        AccountRef::PlatformRevenue => {
            sqlx::query_scalar!(
                "SELECT id FROM ledger_accounts
                  WHERE kind = 'platform_revenue' AND organization_id IS NULL AND mechanic_id IS NULL"
            )
            .fetch_optional(pool)
            .await
        }
        AccountRef::GatewayCash | AccountRef::PaymentClearing => Ok(None),
    }
}

/// Pending, paid and lifetime for one payable, from its cached balance and its
/// payouts (net of what transfer reversals took back after refunds). The paid
/// total is kept per account by a trigger (`ledger_account_paid`), so this
/// never reads the account's history.
pub async fn totals(pool: &PgPool, account: AccountRef) -> Result<EarningsTotals, sqlx::Error> {
    let pending = crate::ledger::balance(pool, account).await?;
    if !matches!(account, AccountRef::Workshop(_) | AccountRef::Mechanic(_)) {
        return Ok(EarningsTotals { pending_cents: pending, ..Default::default() });
    }
    let Some(id) = find_account(pool, account).await? else { return Ok(EarningsTotals::default()) };
    let paid = sqlx::query_scalar!(
        r#"SELECT coalesce(sum(paid_cents), 0)::bigint AS "paid!" FROM ledger_account_paid WHERE account_id = $1"#,
        id
    )
    .fetch_one(pool)
    .await?;
    Ok(EarningsTotals { pending_cents: pending, paid_cents: paid, lifetime_cents: pending + paid })
}

/// Credits per day over the last `days` days, from the daily totals (never from history).
pub async fn daily_credits(
    pool: &PgPool,
    account: AccountRef,
    last: chrono::NaiveDate,
    days: i64,
) -> Result<Vec<DailyPoint>, sqlx::Error> {
    let points =
        match find_account(pool, account).await? {
            None => Vec::new(),
            Some(id) => sqlx::query_as!(
                DailyPoint,
                r#"SELECT day AS "day!: chrono::NaiveDate", (credits_cents - debits_cents)::bigint AS "cents!"
                 FROM ledger_daily
                WHERE account_id = $1 AND day > $2::date - $3::int AND day <= $2::date
                ORDER BY day"#,
                id,
                last as _,
                days as i32
            )
            .fetch_all(pool)
            .await?,
        };
    Ok(super::fill_days(&points, last, days))
}

/// The lines of an account between two days (inclusive), newest first: session
/// shares, refunds taken back from them, and reversals of paid-out shares.
pub async fn rows(
    pool: &PgPool,
    account: AccountRef,
    from: chrono::NaiveDate,
    to: chrono::NaiveDate,
    limit: i64,
) -> Result<Vec<EarningRow>, sqlx::Error> {
    if !matches!(account, AccountRef::Workshop(_) | AccountRef::Mechanic(_)) {
        return Ok(Vec::new());
    }
    let Some(id) = find_account(pool, account).await? else { return Ok(Vec::new()) };
    sqlx::query_as!(
        EarningRow,
        r#"SELECT l.posting_id AS "posting_id!", l.created_at AS "created_at!: chrono::DateTime<chrono::Utc>", l.session_id AS "session_id!",
                  mu.name AS mechanic_name, o.plan_name,
                  CASE l.entry_kind
                       WHEN 'session_revenue' THEN coalesce(o.amount_paid_cents, 0)
                       WHEN 'refund' THEN coalesce((SELECT gc.amount_cents FROM postings gc
                                                      JOIN ledger_accounts ga ON ga.id = gc.account_id
                                                     WHERE gc.entry_id = l.entry_id AND ga.kind = 'gateway_cash'), 0)
                       ELSE 0 END AS "gross_cents!",
                  coalesce((SELECT -pf.amount_cents FROM postings pf
                             WHERE pf.entry_id = l.entry_id AND pf.share_kind = 'platform_fee'), 0) AS "platform_fee_cents!",
                  coalesce((SELECT -rf.amount_cents FROM postings rf
                             WHERE rf.entry_id = l.entry_id AND rf.share_kind = 'referral'), 0) AS "referral_cents!",
                  l.net_cents AS "net_cents!", l.line_kind AS "share_kind!", l.entry_kind AS "entry_kind!",
                  l.pending_cents AS "pending_cents!", l.paid_cents AS "paid_cents!",
                  CASE WHEN l.payout_id IS NULL THEN 'pending' ELSE 'paid' END AS "payout_status!: crate::status::PayoutStatus",
                  l.paid_at AS "paid_at: chrono::DateTime<chrono::Utc>", l.transfer_id
             FROM payable_lines l
             JOIN sessions s ON s.id = l.session_id
             JOIN users mu ON mu.id = s.mechanic_id
             JOIN orders o ON o.id = s.order_id
            WHERE l.account_id = $1 AND l.created_at >= $2::date AND l.created_at < ($3::date + 1)
            ORDER BY l.created_at DESC, l.posting_id DESC
            LIMIT $4"#,
        id,
        from as _,
        to as _,
        limit
    )
    .fetch_all(pool)
    .await
}

pub async fn served_sessions(
    pool: &PgPool,
    mechanic: crate::ids::UserId,
) -> Result<Vec<ServedSession>, sqlx::Error> {
    let mechanic = mechanic.uuid();
    sqlx::query_as!(
        ServedSession,
        r#"SELECT s.id AS session_id, s.ended_at AS "ended_at: chrono::DateTime<chrono::Utc>", o.plan_name, cu.name AS customer_name, s.rating
           FROM sessions s JOIN orders o ON o.id = s.order_id JOIN users cu ON cu.id = s.customer_id
          WHERE s.mechanic_id = $1 AND s.status = 'completed'
          ORDER BY s.ended_at DESC NULLS LAST LIMIT 200"#,
        mechanic
    )
    .fetch_all(pool)
    .await
}

/// The platform's fees by serving workshop since a day, net of refunds.
pub async fn revenue_by_workshop(
    pool: &PgPool,
    since: chrono::NaiveDate,
) -> Result<Vec<WorkshopRevenue>, sqlx::Error> {
    sqlx::query_as!(
        WorkshopRevenue,
        r#"SELECT s.workshop_id AS "workshop_id?", w.name AS "workshop_name?",
                  count(DISTINCT p.session_id) AS "sessions!",
                  sum(-p.amount_cents)::bigint AS "platform_fee_cents!"
             FROM postings p
             JOIN sessions s ON s.id = p.session_id
             LEFT JOIN organizations w ON w.id = s.workshop_id
            WHERE p.share_kind = 'platform_fee' AND p.created_at >= $1::date
            GROUP BY s.workshop_id, w.name
            ORDER BY 4 DESC
            LIMIT 200"#,
        since as _
    )
    .fetch_all(pool)
    .await
}
