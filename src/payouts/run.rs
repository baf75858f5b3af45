//! Payout runs. A run takes each payee's whole pending balance (read with the
//! ledger account locked) and makes one transfer per payee whose payouts are
//! enabled, with an idempotency key derived from the run and the payee: a crash
//! between the transfer and the database write, or any retry, never pays twice.
//! Work is claimed with FOR UPDATE SKIP LOCKED, so several instances can share it.

use crate::ledger::{self, AccountRef, Line};
use crate::payments::gateway::TransferRequest;
use crate::state::AppState;
use crate::status::LedgerAccountKind;
use crate::workers::queue::{self, Queue, Recorded};
use chrono::{DateTime, Utc};
use sqlx::PgPool;
use uuid::Uuid;

struct OwedAccount {
    id: i64,
    kind: LedgerAccountKind,
    organization_id: Option<Uuid>,
    mechanic_id: Option<Uuid>,
}

struct PayeeDetails {
    destination: Option<String>,
    payouts_enabled: bool,
    /// A suspended workshop's balance is held: not paid until it is reinstated.
    suspended: bool,
}

/// Starts a run: one payout row per payee owed money (skipped rows for those who
/// cannot be paid yet). Payees with an unfinished payout are left to it.
pub async fn create_run(
    pool: &PgPool,
    trigger: &str,
    requested_by: Option<crate::ids::UserId>,
) -> Result<Uuid, sqlx::Error> {
    let requested_by = requested_by.map(crate::ids::UserId::uuid);
    let mut tx = pool.begin().await?;
    let run: Uuid = sqlx::query_scalar!(
        "INSERT INTO payout_runs (trigger, requested_by) VALUES ($1, $2) RETURNING id",
        trigger,
        requested_by
    )
    .fetch_one(&mut *tx)
    .await?;
    let owed = sqlx::query_as!(
        OwedAccount,
        r#"SELECT a.id, a.kind AS "kind: LedgerAccountKind", a.organization_id, a.mechanic_id FROM ledger_accounts a
          WHERE a.kind IN ('workshop_payable', 'mechanic_payable') AND a.balance_cents < 0
            AND NOT EXISTS (SELECT 1 FROM payouts p WHERE p.ledger_account_id = a.id AND p.status IN ('pending', 'failed'))
          ORDER BY a.id"#
    )
    .fetch_all(&mut *tx)
    .await?;
    for account in owed {
        // Locking the account stops new postings to it until this run has read
        // the balance and the last posting it covers.
        let balance: i64 = sqlx::query_scalar!(
            "SELECT balance_cents FROM ledger_accounts WHERE id = $1 FOR UPDATE",
            account.id
        )
        .fetch_one(&mut *tx)
        .await?;
        // Another run may have opened a payout for this account while this one
        // waited for the lock: its row is visible now, and this run leaves it.
        let open = sqlx::query_scalar!(
            r#"SELECT EXISTS (SELECT 1 FROM payouts WHERE ledger_account_id = $1 AND status IN ('pending', 'failed')) AS "open!""#,
            account.id
        )
        .fetch_one(&mut *tx)
        .await?;
        let owed_cents = -balance;
        if owed_cents <= 0 || open {
            continue;
        }
        let through: i64 = sqlx::query_scalar!(
            r#"SELECT coalesce(max(id), 0) AS "through!" FROM postings WHERE account_id = $1"#,
            account.id
        )
        .fetch_one(&mut *tx)
        .await?;
        let payee = if account.kind == LedgerAccountKind::WorkshopPayable {
            sqlx::query_as!(
                PayeeDetails,
                r#"SELECT stripe_connect_account_id AS destination, stripe_payouts_enabled AS payouts_enabled,
                        status <> 'active' AS "suspended!"
                   FROM organizations WHERE id = $1"#,
                account.organization_id
            )
            .fetch_one(&mut *tx)
            .await?
        } else {
            sqlx::query_as!(
                PayeeDetails,
                r#"SELECT stripe_connect_account_id AS destination, stripe_payouts_enabled AS payouts_enabled,
                        false AS "suspended!"
                   FROM mechanics WHERE user_id = $1"#,
                account.mechanic_id
            )
            .fetch_one(&mut *tx)
            .await?
        };
        let ready = payee.payouts_enabled && payee.destination.is_some() && !payee.suspended;
        let why_not = if payee.suspended {
            "Held: the workshop is suspended; its balance is paid once it is reinstated."
        } else {
            "Payouts are not set up for this payee yet; the balance stays pending."
        };
        sqlx::query!(
            "INSERT INTO payouts (run_id, ledger_account_id, organization_id, mechanic_id, destination, amount_cents,
                                  status, idempotency_key, through_posting_id, failure_reason)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
            run,
            account.id,
            account.organization_id,
            account.mechanic_id,
            payee.destination.as_deref(),
            owed_cents,
            if ready { "pending" } else { "skipped" },
            format!("payout-{run}-{}", account.id),
            through,
            (!ready).then_some(why_not)
        )
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    Ok(run)
}

#[derive(sqlx::FromRow, Clone, Debug)]
pub struct DuePayout {
    pub id: Uuid,
    pub run_id: Uuid,
    pub ledger_account_id: i64,
    pub organization_id: Option<Uuid>,
    pub mechanic_id: Option<Uuid>,
    pub destination: Option<String>,
    pub amount_cents: i64,
    pub currency: String,
    pub idempotency_key: String,
    pub through_posting_id: i64,
    pub attempts: i32,
    pub created_at: DateTime<Utc>,
}

/// What happened to the payouts that were due.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Processed {
    pub paid: usize,
    pub failed: usize,
}

fn transfer_request(p: &DuePayout) -> Option<TransferRequest> {
    Some(TransferRequest {
        amount_cents: p.amount_cents,
        currency: p.currency.clone(),
        destination: p.destination.clone()?,
        transfer_group: Some(format!("payout_run_{}", p.run_id)),
        description: "autodoctor earnings".into(),
        metadata: [("payout_id".to_string(), p.id.to_string()), ("run_id".to_string(), p.run_id.to_string())]
            .into_iter()
            .collect(),
        idempotency_key: p.idempotency_key.clone(),
    })
}

/// Makes (or finds again) the transfer of one payout at the gateway. Idempotent:
/// the same key returns the same transfer. A payout retried after the gateway's
/// idempotency window is looked up by its metadata first.
pub async fn transfer(
    state: &AppState,
    p: &DuePayout,
) -> Result<String, crate::payments::gateway::GatewayError> {
    use crate::payments::gateway::GatewayError;
    let req =
        transfer_request(p).ok_or_else(|| GatewayError::InvalidRequest("no destination account".into()))?;
    if p.attempts > 0 && Utc::now() - p.created_at > chrono::Duration::hours(20) {
        let earlier = state.payments.list_transfers(p.created_at.timestamp() - 60).await?;
        if let Some(t) = earlier.iter().find(|t| t.metadata.get("payout_id") == Some(&p.id.to_string())) {
            return Ok(t.id.clone());
        }
    }
    Ok(state.payments.create_transfer(&req).await?.id)
}

/// Records a made transfer: the payout is paid, the payable is debited, and the
/// earnings it covers are marked paid, in one transaction, once.
pub async fn record_paid(
    pool: &PgPool,
    p: &DuePayout,
    transfer_id: &str,
    public_url: &str,
) -> Result<bool, sqlx::Error> {
    let mut tx = pool.begin().await?;
    let done = sqlx::query!(
        "UPDATE payouts SET status = 'paid', transfer_id = $2, paid_at = now(), attempts = attempts + 1,
                failure_reason = NULL
          WHERE id = $1 AND status IN ('pending', 'failed')",
        p.id,
        transfer_id
    )
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if done == 0 {
        return Ok(false);
    }
    let payee = match (p.organization_id, p.mechanic_id) {
        (Some(w), _) => AccountRef::Workshop(crate::ids::WorkshopId(w)),
        (None, Some(m)) => AccountRef::Mechanic(crate::ids::UserId(m)),
        (None, None) => return Err(sqlx::Error::Protocol("payout without payee".into())),
    };
    ledger::post(
        &mut tx,
        "payout",
        &format!("payout:{}", p.id),
        None,
        None,
        &format!("Payout {transfer_id}"),
        &[Line::new(payee, p.amount_cents), Line::new(AccountRef::GatewayCash, -p.amount_cents)],
    )
    .await?;
    sqlx::query!(
        "INSERT INTO payout_allocations (posting_id, payout_id)
         SELECT p.id, $2 FROM postings p
          WHERE p.account_id = $1 AND p.id <= $3 AND p.amount_cents < 0 AND p.share_kind IS NOT NULL
            AND NOT EXISTS (SELECT 1 FROM payout_allocations a WHERE a.posting_id = p.id)",
        p.ledger_account_id,
        p.id,
        p.through_posting_id
    )
    .execute(&mut *tx)
    .await?;
    crate::notifications::notices::payout_sent(&mut tx, public_url, crate::ids::PayoutId(p.id)).await?;
    tx.commit().await?;
    Ok(true)
}

/// The due payouts as a [`Queue`]: new ones, and failed ones whose retry time
/// came. The row stays locked during the gateway call, so no other instance
/// transfers it meanwhile; the transfer carries the payout's idempotency key, so a
/// crash before the record, and the retry after it, never pays twice.
struct DuePayouts<'a> {
    state: &'a AppState,
    now: DateTime<Utc>,
}

#[async_trait::async_trait]
impl Queue for DuePayouts<'_> {
    type Job = DuePayout;
    type Done = String;
    type Error = crate::payments::gateway::GatewayError;
    const NAME: &'static str = "payouts";

    async fn claim(&self, tx: &mut sqlx::PgConnection) -> Result<Option<DuePayout>, sqlx::Error> {
        sqlx::query_as!(
            DuePayout,
            r#"SELECT id, run_id, ledger_account_id, organization_id, mechanic_id, destination, amount_cents, currency,
                    idempotency_key, through_posting_id, attempts, created_at AS "created_at: DateTime<Utc>"
               FROM payouts WHERE status IN ('pending', 'failed') AND next_attempt_at <= $1
                AND NOT EXISTS (SELECT 1 FROM organizations o WHERE o.id = payouts.organization_id AND o.status <> 'active')
              ORDER BY created_at, id LIMIT 1 FOR UPDATE SKIP LOCKED"#,
            self.now as _
        )
        .fetch_optional(tx)
        .await
    }

    async fn run(&self, p: &DuePayout) -> Result<String, Self::Error> {
        transfer(self.state, p).await
    }

    async fn record(
        &self,
        mut tx: sqlx::Transaction<'static, sqlx::Postgres>,
        p: DuePayout,
        outcome: Result<String, Self::Error>,
    ) -> Result<Recorded, sqlx::Error> {
        match outcome {
            Ok(transfer_id) => {
                crate::faults::point("payout.after_transfer").await;
                // The ledger postings take the payee's account lock: recorded
                // after the claim's row lock is let go.
                tx.commit().await?;
                if record_paid(&self.state.pool, &p, &transfer_id, &self.state.config.public_url).await? {
                    tracing::info!(payout = %p.id, transfer = %transfer_id, amount = p.amount_cents, "payout paid");
                    Ok(Recorded::Done)
                } else {
                    Ok(Recorded::AlreadyDone)
                }
            }
            Err(e) => {
                let delay_secs =
                    if e.is_retryable() { 300 * 2i64.pow(p.attempts.min(6) as u32) } else { 3600 };
                let next_attempt_at = self.now + chrono::Duration::seconds(delay_secs);
                sqlx::query!(
                    "UPDATE payouts SET status = 'failed', failure_reason = $2, attempts = attempts + 1,
                            next_attempt_at = $3 WHERE id = $1",
                    p.id,
                    e.to_string(),
                    next_attempt_at as _
                )
                .execute(&mut *tx)
                .await?;
                tx.commit().await?;
                tracing::warn!(payout = %p.id, error = %e, "payout failed; will retry");
                Ok(Recorded::Failed)
            }
        }
    }
}

/// Processes every payout that is due (new ones, and failed ones whose retry time came).
pub async fn process_due(state: &AppState, now: DateTime<Utc>) -> Result<Processed, sqlx::Error> {
    let drained = queue::drain(&state.pool, &DuePayouts { state, now }, usize::MAX).await?;
    Ok(Processed { paid: drained.done, failed: drained.failed })
}

/// Creates a run and processes it (and any retries that are due).
pub async fn run_now(
    state: &AppState,
    trigger: &str,
    requested_by: Option<crate::ids::UserId>,
) -> Result<(Uuid, Processed), sqlx::Error> {
    let requested_by = requested_by.map(crate::ids::UserId::uuid);
    let run = create_run(&state.pool, trigger, requested_by.map(crate::ids::UserId)).await?;
    let processed = process_due(state, Utc::now()).await?;
    sqlx::query!("UPDATE payout_runs SET finished_at = now() WHERE id = $1", run)
        .execute(&state.pool)
        .await?;
    Ok((run, processed))
}

/// Runs the payout schedule: when the job is due (claimed by one instance with
/// SKIP LOCKED), a run; every minute, retries of failed payouts.
pub async fn run_scheduler(state: AppState, interval_hours: i64, shutdown: crate::workers::Shutdown) {
    while !shutdown.is_requested() {
        if interval_hours > 0 {
            let due = async {
                let mut tx = state.pool.begin().await?;
                let claimed: Option<DateTime<Utc>> = sqlx::query_scalar!(
                    r#"SELECT next_run_at AS "next_run_at: DateTime<Utc>" FROM scheduled_jobs
                        WHERE name = 'payouts' AND next_run_at <= now()
                        FOR UPDATE SKIP LOCKED"#
                )
                .fetch_optional(&mut *tx)
                .await?;
                if claimed.is_some() {
                    // The next run is a whole number of intervals later (missed runs are not repeated).
                    let hours = interval_hours as i32;
                    sqlx::query!(
                        "UPDATE scheduled_jobs SET last_run_at = now(),
                                next_run_at = next_run_at + make_interval(hours => $1::int)
                                              * (floor(extract(epoch FROM now() - next_run_at) / ($1::int * 3600)) + 1)
                          WHERE name = 'payouts'",
                        hours
                    )
                    .execute(&mut *tx)
                    .await?;
                }
                tx.commit().await?;
                Ok::<bool, sqlx::Error>(claimed.is_some())
            }
            .await;
            match due {
                Ok(true) => match run_now(&state, "schedule", None).await {
                    Ok((run, p)) => {
                        tracing::info!(%run, paid = p.paid, failed = p.failed, "scheduled payout run")
                    }
                    Err(e) => tracing::warn!(error = %e, "scheduled payout run failed"),
                },
                Ok(false) => {}
                Err(e) => tracing::warn!(error = %e, "payout scheduler could not reach the database"),
            }
        }
        if let Err(e) = process_due(&state, Utc::now()).await {
            tracing::warn!(error = %e, "payout retries failed");
        }
        if !shutdown.pause(std::time::Duration::from_secs(60), None).await {
            break;
        }
    }
}
