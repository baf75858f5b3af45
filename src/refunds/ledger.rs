//! Booking a refund the gateway has made: the ledger entry (out of clearing
//! before the session's split, or from every party's share in proportion
//! after), the order's totals, and the recovery of shares already paid out
//! (a transfer reversal, or a negative balance carried).

use crate::error::AppError;
use crate::ids::{OrderId, SessionId, UserId, WorkshopId};
use crate::ledger::{self, AccountRef, Line};
use crate::payments::gateway::ReversalRequest;
use crate::revenue::{self, Party, Share, ShareKind};
use crate::state::AppState;
use crate::status::LedgerAccountKind;
use sqlx::{Postgres, Transaction};
use uuid::Uuid;

fn kind_from(name: &str) -> Option<ShareKind> {
    Some(match name {
        "platform_fee" => ShareKind::PlatformFee,
        "workshop_service" => ShareKind::WorkshopService,
        "mechanic_service" => ShareKind::MechanicService,
        "referral" => ShareKind::Referral,
        _ => return None,
    })
}

struct ShareHeld {
    kind: LedgerAccountKind,
    organization_id: Option<Uuid>,
    mechanic_id: Option<Uuid>,
    share_kind: String,
    held: i64,
}

/// What each party of a completed session still holds of it: its share minus
/// what earlier refunds took back.
async fn shares_held(
    tx: &mut Transaction<'_, Postgres>,
    session: SessionId,
) -> Result<Vec<Share>, sqlx::Error> {
    let session = session.uuid();
    let rows = sqlx::query_as!(
        ShareHeld,
        r#"SELECT a.kind AS "kind: LedgerAccountKind", a.organization_id, a.mechanic_id, p.share_kind AS "share_kind!",
                (-sum(p.amount_cents))::bigint AS "held!"
           FROM postings p JOIN journal_entries e ON e.id = p.entry_id JOIN ledger_accounts a ON a.id = p.account_id
          WHERE p.session_id = $1 AND p.share_kind IS NOT NULL AND e.kind IN ('session_revenue', 'refund')
          GROUP BY a.kind, a.organization_id, a.mechanic_id, p.share_kind
          ORDER BY a.kind, p.share_kind"#,
        session
    )
    .fetch_all(&mut **tx)
    .await?;
    Ok(rows
        .into_iter()
        .filter_map(|r| {
            let party = match (r.kind, r.organization_id, r.mechanic_id) {
                (LedgerAccountKind::PlatformRevenue, _, _) => Party::Platform,
                (LedgerAccountKind::WorkshopPayable, Some(w), _) => Party::Workshop(WorkshopId(w)),
                (LedgerAccountKind::MechanicPayable, _, Some(m)) => Party::Mechanic(UserId(m)),
                _ => return None,
            };
            Some(Share { party, kind: kind_from(&r.share_kind)?, rate_bps: 0, cents: r.held })
        })
        .collect())
}

/// Books a refund the gateway has made: the ledger entry and the order's totals,
/// once. Returns the payables it reversed (for recovering paid-out shares).
pub async fn record_refund(
    state: &AppState,
    refund_id: Uuid,
    gateway_refund_id: &str,
) -> Result<Vec<(AccountRef, i64)>, AppError> {
    let mut tx = state.pool.begin().await?;
    // The order's lock orders this against the session's completion, which
    // takes it too: whichever comes first, every share ends up reversed.
    sqlx::query!(
        "SELECT o.id FROM orders o JOIN refunds f ON f.order_id = o.id WHERE f.id = $1 FOR UPDATE OF o",
        refund_id
    )
    .fetch_all(&mut *tx)
    .await?;
    // The session's split may have been posted since the refund was asked for:
    // then the refund comes out of the shares, not out of clearing.
    sqlx::query!(
        "UPDATE refunds f SET session_id = s.id FROM sessions s
          WHERE f.id = $1 AND f.session_id IS NULL AND f.status <> 'succeeded' AND s.order_id = f.order_id
            AND EXISTS (SELECT 1 FROM journal_entries e WHERE e.session_id = s.id AND e.kind = 'session_revenue')",
        refund_id
    )
    .execute(&mut *tx)
    .await?;
    let refund: Option<(Uuid, i64, Option<Uuid>)> = sqlx::query!(
        "UPDATE refunds SET status = 'succeeded', gateway_refund_id = $2, completed_at = now(), ledger_posted = true
          WHERE id = $1 AND status <> 'succeeded' RETURNING order_id, amount_cents, session_id",
        refund_id,
        gateway_refund_id
    )
    .fetch_optional(&mut *tx)
    .await?
    .map(|r| (r.order_id, r.amount_cents, r.session_id));
    let Some((order_id, amount, session)) = refund else { return Ok(Vec::new()) };
    let mut lines = vec![Line::new(AccountRef::GatewayCash, -amount)];
    let mut payables = Vec::new();
    match session {
        Some(session) => {
            let held = shares_held(&mut tx, SessionId(session)).await?;
            let taken =
                revenue::refund_split(&held, amount).map_err(|e| AppError::internal("refund split", e))?;
            for share in taken.into_iter().filter(|s| s.cents > 0) {
                let account: AccountRef = share.party.into();
                if !matches!(account, AccountRef::PlatformRevenue) {
                    payables.push((account, share.cents));
                }
                lines.push(Line {
                    account,
                    amount_cents: share.cents,
                    share_kind: Some(match share.kind {
                        ShareKind::PlatformFee => "platform_fee",
                        ShareKind::WorkshopService => "workshop_service",
                        ShareKind::MechanicService => "mechanic_service",
                        ShareKind::Referral => "referral",
                    }),
                    session_id: Some(session),
                });
            }
        }
        None => lines.push(Line::new(AccountRef::PaymentClearing, amount)),
    }
    ledger::post(
        &mut tx,
        "refund",
        &format!("refund:{refund_id}"),
        Some(OrderId(order_id)),
        session.map(SessionId),
        "Refund",
        &lines,
    )
    .await?;
    sqlx::query!(
        "UPDATE orders SET amount_refunded_cents = amount_refunded_cents + $2,
                status = CASE WHEN amount_refunded_cents + $2 >= coalesce(amount_paid_cents, 0)
                              THEN 'refunded'::order_status ELSE 'partially_refunded'::order_status END,
                updated_at = now()
          WHERE id = $1",
        order_id,
        amount
    )
    .execute(&mut *tx)
    .await?;
    crate::notifications::notices::refund_issued(&mut tx, &state.config.public_url, refund_id).await?;
    let request: Option<Uuid> =
        sqlx::query_scalar!("SELECT id FROM session_requests WHERE order_id = $1", order_id)
            .fetch_optional(&mut *tx)
            .await?;
    if let Some(request_id) = request {
        crate::realtime::server::notify(
            &mut *tx,
            &crate::realtime::Signal::RequestChanged { request_id, order_id },
        )
        .await?;
    }
    tx.commit().await?;
    Ok(payables)
}

pub(super) enum Recovery {
    NotPaidYet,
    Recovered(i64),
    Carried(i64),
}

/// A reversed share that was already paid out: take it back from the payee's
/// transfer; if the gateway refuses, it stays as a negative balance that the
/// payee's next payout nets out.
pub(super) async fn recover_paid_share(
    state: &AppState,
    refund_id: Uuid,
    session: Option<SessionId>,
    account: AccountRef,
    cents: i64,
) -> Result<Recovery, AppError> {
    let session = session.map(SessionId::uuid);
    let Some(session) = session else { return Ok(Recovery::NotPaidYet) };
    let account_id = {
        let mut tx = state.pool.begin().await?;
        let id = ledger::account_id(&mut tx, account).await?;
        tx.commit().await?;
        id
    };
    let paid: Option<(Uuid, String)> = sqlx::query!(
        r#"SELECT po.id, po.transfer_id AS "transfer_id!" FROM postings p
           JOIN journal_entries e ON e.id = p.entry_id AND e.kind = 'session_revenue'
           JOIN payout_allocations pa ON pa.posting_id = p.id
           JOIN payouts po ON po.id = pa.payout_id AND po.status = 'paid'
          WHERE p.session_id = $1 AND p.account_id = $2 LIMIT 1"#,
        session,
        account_id
    )
    .fetch_optional(&state.pool)
    .await?
    .map(|r| (r.id, r.transfer_id));
    let Some((payout_id, transfer_id)) = paid else { return Ok(Recovery::NotPaidYet) };
    let key = format!("reversal-{refund_id}-{account_id}");
    let reversal_id: Uuid = sqlx::query_scalar!(
        "INSERT INTO transfer_reversals (refund_id, payout_id, ledger_account_id, amount_cents, idempotency_key, status)
         VALUES ($1, $2, $3, $4, $5, 'pending')
         ON CONFLICT (idempotency_key) DO UPDATE SET idempotency_key = EXCLUDED.idempotency_key RETURNING id",
        refund_id,
        payout_id,
        account_id,
        cents,
        &key
    )
    .fetch_one(&state.pool)
    .await?;
    let result = state
        .payments
        .create_transfer_reversal(&ReversalRequest {
            transfer_id,
            amount_cents: cents,
            metadata: [("refund_id".to_string(), refund_id.to_string())].into_iter().collect(),
            idempotency_key: key,
        })
        .await;
    match result {
        Ok(reversal) => {
            let mut tx = state.pool.begin().await?;
            let first = sqlx::query!(
                "UPDATE transfer_reversals SET status = 'succeeded', gateway_reversal_id = $2, completed_at = now()
                  WHERE id = $1 AND status <> 'succeeded'",
                reversal_id,
                &reversal.id
            )
            .execute(&mut *tx)
            .await?
            .rows_affected()
                == 1;
            if first {
                ledger::post(
                    &mut tx,
                    "transfer_reversal",
                    &format!("reversal:{reversal_id}"),
                    None,
                    Some(SessionId(session)),
                    "Paid-out share recovered after a refund",
                    &[Line::new(AccountRef::GatewayCash, cents), Line::new(account, -cents)],
                )
                .await?;
            }
            tx.commit().await?;
            Ok(Recovery::Recovered(cents))
        }
        Err(e) => {
            tracing::warn!(error = %e, "transfer reversal failed; carried as a negative balance");
            sqlx::query!(
                "UPDATE transfer_reversals SET status = 'failed', failure_reason = $2 WHERE id = $1",
                reversal_id,
                e.to_string()
            )
            .execute(&state.pool)
            .await?;
            Ok(Recovery::Carried(cents))
        }
    }
}
