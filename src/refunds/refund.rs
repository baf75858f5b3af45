//! Refunding an order in full or in part: the refund row first (with the
//! gateway's idempotency key), the gateway call, then the ledger entry, and the
//! recovery of shares already paid out (transfer reversal, or carried).

use super::ledger::{record_refund, recover_paid_share, Recovery};
use crate::error::AppError;
use crate::ids::{OrderId, SessionId, UserId};
use crate::payments::gateway::RefundRequest;
use crate::state::AppState;
use sqlx::{Postgres, Transaction};
use uuid::Uuid;

struct OrderForRefund {
    amount_paid_cents: Option<i64>,
    amount_refunded_cents: i64,
    payment_intent_id: Option<String>,
    session_id: Option<Uuid>,
    revenue_posted: bool,
    pending_refunds: i64,
}

/// What a refund did.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct RefundOutcome {
    pub refund_id: Uuid,
    pub amount_cents: i64,
    /// Shares taken back from payees who had already been paid, by transfer reversal.
    pub recovered_cents: i64,
    /// Shares that could not be recovered now: carried as negative balances.
    pub carried_cents: i64,
}

/// Refunds `amount_cents` of a paid order (fully or partly). Before the session
/// is completed the money comes out of clearing; after, every party's share is
/// reversed in proportion (`revenue::refund_split`), and shares already paid
/// out are recovered with transfer reversals or carried as negative balances.
pub async fn refund_order(
    state: &AppState,
    order: OrderId,
    amount_cents: i64,
    reason: &str,
    requested_by: Option<UserId>,
) -> Result<RefundOutcome, AppError> {
    let (order_id, requested_by) = (order.uuid(), requested_by.map(UserId::uuid));
    if amount_cents <= 0 {
        return Err(AppError::field("amount", "Enter an amount above zero."));
    }
    let mut tx = state.pool.begin().await?;
    // Locks in one order everywhere (the request, then the order), as cancelling
    // an unserved request does, so the two never deadlock.
    sqlx::query!("SELECT id FROM session_requests WHERE order_id = $1 FOR UPDATE", order_id)
        .fetch_all(&mut *tx)
        .await?;
    let order_locked: Option<Uuid> =
        sqlx::query_scalar!("SELECT id FROM orders WHERE id = $1 FOR UPDATE", order_id)
            .fetch_optional(&mut *tx)
            .await?;
    // The same refund tried again after a retryable failure (a timeout, say), or
    // after the process died between the gateway's answer and the books (the row
    // is pending without a failure then): the same row and idempotency key, so the
    // gateway refunds once however often. (A cancelled request's refund has its
    // own retry, by the customer's cancel.)
    let retry: Option<(Uuid, String)> = match order_locked {
        Some(_) => {
            sqlx::query!(
                "SELECT id, idempotency_key FROM refunds
              WHERE order_id = $1 AND amount_cents = $2 AND status = 'pending' AND idempotency_key NOT LIKE '%-cancel'
              ORDER BY created_at LIMIT 1",
                order_id,
                amount_cents
            )
            .fetch_optional(&mut *tx)
            .await?
            .map(|r| (r.id, r.idempotency_key))
        }
        None => None,
    };
    if let Some((refund_id, key)) = retry {
        let payment_intent: Option<String> =
            sqlx::query_scalar!("SELECT payment_intent_id FROM orders WHERE id = $1", order_id)
                .fetch_one(&mut *tx)
                .await?;
        tx.commit().await?;
        let payment_intent =
            payment_intent.ok_or_else(|| AppError::conflict("This order has no payment to refund."))?;
        return call_gateway_and_record(
            state,
            OrderId(order_id),
            refund_id,
            key,
            payment_intent,
            amount_cents,
        )
        .await;
    }
    let order = sqlx::query_as!(
        OrderForRefund,
        r#"SELECT o.amount_paid_cents, o.amount_refunded_cents, o.payment_intent_id, s.id AS "session_id?",
                EXISTS (SELECT 1 FROM journal_entries e WHERE e.session_id = s.id AND e.kind = 'session_revenue')
                    AS "revenue_posted!",
                coalesce((SELECT sum(amount_cents) FROM refunds r WHERE r.order_id = o.id AND r.status = 'pending'), 0)::bigint
                    AS "pending_refunds!"
           FROM orders o LEFT JOIN sessions s ON s.order_id = o.id
          WHERE o.id = $1 AND o.status IN ('paid', 'partially_refunded') FOR UPDATE OF o"#,
        order_id
    )
    .fetch_optional(&mut *tx)
    .await?
    .ok_or_else(|| AppError::not_found("There is no paid order with that reference (or it is fully refunded)."))?;
    let refundable =
        order.amount_paid_cents.unwrap_or(0) - order.amount_refunded_cents - order.pending_refunds;
    if amount_cents > refundable {
        return Err(AppError::field(
            "amount",
            format!("At most {} can be refunded.", crate::ui::format_money(refundable.max(0), "usd")),
        ));
    }
    let Some(payment_intent) = order.payment_intent_id.clone() else {
        return Err(AppError::conflict("This order has no payment to refund."));
    };
    if amount_cents == refundable {
        match (order.session_id, order.revenue_posted) {
            // Nobody serves it yet: withdraw the request first.
            (None, _) => withdraw_unserved_request(&mut tx, OrderId(order_id)).await?,
            // Taken and under way: refunding it all now would have the mechanic work for nothing.
            (Some(_), false) => return Err(session_under_way()),
            (Some(_), true) => {}
        }
    }
    let refund_id = Uuid::new_v4();
    let key = format!("refund-{refund_id}");
    sqlx::query!(
        "INSERT INTO refunds (id, order_id, amount_cents, reason, idempotency_key, requested_by, session_id)
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
        refund_id,
        order_id,
        amount_cents,
        reason,
        &key,
        requested_by,
        order.session_id.filter(|_| order.revenue_posted)
    )
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    call_gateway_and_record(state, OrderId(order_id), refund_id, key, payment_intent, amount_cents).await
}

/// Calls the gateway for a refund row (its idempotency key makes a retry safe),
/// then books it. A retryable failure keeps the row pending, to be tried again
/// with the same key; a refusal marks it failed.
async fn call_gateway_and_record(
    state: &AppState,
    order_id: OrderId,
    refund_id: Uuid,
    key: String,
    payment_intent: String,
    amount_cents: i64,
) -> Result<RefundOutcome, AppError> {
    let order_id = order_id.uuid();
    let result = state
        .payments
        .create_refund(&RefundRequest {
            payment_intent,
            amount_cents,
            metadata: [
                ("order_id".to_string(), order_id.to_string()),
                ("refund_id".to_string(), refund_id.to_string()),
            ]
            .into_iter()
            .collect(),
            idempotency_key: key,
        })
        .await;
    let gateway_refund = match result {
        Ok(r) => r,
        Err(e) => {
            tracing::warn!(error = %e, %order_id, retryable = e.is_retryable(), "refund failed at the gateway");
            // Retryable: still pending (the gateway may even have made it), retried with the same key.
            sqlx::query!(
                "UPDATE refunds SET status = CASE WHEN $3 THEN status ELSE 'failed' END, failure_reason = $2 WHERE id = $1",
                refund_id,
                e.to_string(),
                e.is_retryable()
            )
            .execute(&state.pool)
            .await?;
            return Err(if e.is_retryable() {
                AppError::Unavailable
            } else {
                AppError::bad_request(format!("The payment provider refused the refund: {e}"))
            });
        }
    };
    // The gateway has refunded; the books do not know yet (the crash tests kill here).
    crate::faults::point("refund.after_gateway").await;
    let reversals = record_refund(state, refund_id, &gateway_refund.id).await?;
    let session: Option<Uuid> =
        sqlx::query_scalar!("SELECT session_id FROM refunds WHERE id = $1", refund_id)
            .fetch_one(&state.pool)
            .await?;
    let mut outcome = RefundOutcome { refund_id, amount_cents, recovered_cents: 0, carried_cents: 0 };
    for (account, cents) in reversals {
        match recover_paid_share(state, refund_id, session.map(SessionId), account, cents).await? {
            Recovery::Recovered(c) => outcome.recovered_cents += c,
            Recovery::Carried(c) => outcome.carried_cents += c,
            Recovery::NotPaidYet => {}
        }
    }
    Ok(outcome)
}

fn session_under_way() -> AppError {
    AppError::conflict(
        "A mechanic has taken this request and the session is under way: refund it once the session ends, \
         when every share is reversed.",
    )
}

/// A full refund of an order nobody has served yet withdraws its request first
/// (from every dashboard, live): nobody can accept it afterwards, so nobody works
/// for a customer who was paid back. If the gateway then fails, the request stays
/// withdrawn and the refund can be tried again. A request a mechanic took a moment
/// ago is not refunded in full here: its session is under way, and a refund after
/// it ends reverses every share.
async fn withdraw_unserved_request(
    tx: &mut Transaction<'_, Postgres>,
    order_id: OrderId,
) -> Result<(), AppError> {
    let order_id = order_id.uuid();
    use crate::status::RequestStatus as S;
    let request: Option<(Uuid, S)> = sqlx::query!(
        r#"SELECT id, status AS "status: S" FROM session_requests WHERE order_id = $1 FOR UPDATE"#,
        order_id
    )
    .fetch_optional(&mut **tx)
    .await?
    .map(|r| (r.id, r.status));
    match request {
        Some((request_id, S::Pending | S::Expired)) => {
            sqlx::query!(
                "UPDATE session_requests SET status = 'cancelled', closed_at = now() WHERE id = $1",
                request_id
            )
            .execute(&mut **tx)
            .await?;
            sqlx::query!(
                r#"INSERT INTO routing_events (request_id, kind, details) VALUES ($1, 'cancelled', '{"reason": "refunded in full"}')"#,
                request_id
            )
            .execute(&mut **tx)
            .await?;
            crate::realtime::server::notify(
                &mut **tx,
                &crate::realtime::Signal::RequestChanged { request_id, order_id },
            )
            .await?;
            Ok(())
        }
        Some((_, S::Accepted)) => Err(session_under_way()),
        Some((_, S::Cancelled)) | None => Ok(()),
    }
}
