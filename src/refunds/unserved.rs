//! Cancelling a paid request that no mechanic took, with a full refund.

use crate::error::AppError;
use crate::ids::{OrderId, UserId};
use crate::payments::gateway::RefundRequest;
use crate::realtime::server::notify;
use crate::realtime::Signal;
use crate::state::AppState;
use uuid::Uuid;

struct CancelRow {
    request_id: Uuid,
    status: crate::status::RequestStatus,
    amount_paid_cents: Option<i64>,
    amount_refunded_cents: i64,
    /// Other refunds of the order still on their way (an admin's, say).
    other_pending_cents: i64,
    payment_intent_id: Option<String>,
}

/// Cancels a paid request that no mechanic took (pending or expired) and
/// refunds it in full. `customer` limits it to that customer's order.
pub async fn cancel_unserved(
    state: &AppState,
    order: OrderId,
    customer: Option<UserId>,
) -> Result<(), AppError> {
    let (order_id, customer) = (order.uuid(), customer.map(UserId::uuid));
    let mut tx = state.pool.begin().await?;
    // The request first, then the order (as refunds lock them): never a deadlock.
    sqlx::query!("SELECT id FROM session_requests WHERE order_id = $1 FOR UPDATE", order_id)
        .fetch_all(&mut *tx)
        .await?;
    let row = sqlx::query_as!(
        CancelRow,
        r#"SELECT r.id AS request_id, r.status AS "status: crate::status::RequestStatus",
                o.amount_paid_cents, o.amount_refunded_cents, o.payment_intent_id,
                coalesce((SELECT sum(f.amount_cents) FROM refunds f
                           WHERE f.order_id = o.id AND f.status = 'pending' AND f.idempotency_key <> $3), 0)::bigint
                    AS "other_pending_cents!"
           FROM session_requests r JOIN orders o ON o.id = r.order_id
          WHERE r.order_id = $1 AND ($2::uuid IS NULL OR r.customer_id = $2)
          FOR UPDATE OF r, o"#,
        order_id,
        customer,
        format!("refund-{order_id}-cancel")
    )
    .fetch_optional(&mut *tx)
    .await?
    .ok_or_else(|| AppError::not_found("You have no paid booking with that reference."))?;
    use crate::status::RequestStatus as S;
    match row.status {
        S::Pending | S::Expired => {
            // From here on nobody can take it: the accept UPDATE needs 'pending'.
            sqlx::query!(
                "UPDATE session_requests SET status = 'cancelled', closed_at = now() WHERE id = $1",
                row.request_id
            )
            .execute(&mut *tx)
            .await?;
            sqlx::query!(
                "INSERT INTO routing_events (request_id, kind, details) VALUES ($1, 'cancelled', '{}')",
                row.request_id
            )
            .execute(&mut *tx)
            .await?;
            notify(&mut *tx, &Signal::RequestChanged { request_id: row.request_id, order_id }).await?;
        }
        // Cancelled earlier but the refund did not go through: try it again below.
        S::Cancelled => {}
        S::Accepted => return Err(AppError::conflict("A mechanic has already taken this request.")),
    }
    // What another refund (already made, or on its way) does not cover.
    let to_refund = row.amount_paid_cents.unwrap_or(0) - row.amount_refunded_cents - row.other_pending_cents;
    let Some(payment_intent) = row.payment_intent_id.filter(|_| to_refund > 0) else {
        tx.commit().await?;
        return Ok(());
    };
    let key = format!("refund-{order_id}-cancel");
    let refund_id: Uuid = sqlx::query_scalar!(
        "INSERT INTO refunds (order_id, amount_cents, reason, idempotency_key, requested_by)
         VALUES ($1, $2, 'Request cancelled before a mechanic took it', $3, $4)
         ON CONFLICT (idempotency_key) DO UPDATE SET idempotency_key = EXCLUDED.idempotency_key
         RETURNING id",
        order_id,
        to_refund,
        &key,
        customer
    )
    .fetch_one(&mut *tx)
    .await?;
    tx.commit().await?;

    let result = state
        .payments
        .create_refund(&RefundRequest {
            payment_intent,
            amount_cents: to_refund,
            metadata: [("order_id".to_string(), order_id.to_string())].into_iter().collect(),
            idempotency_key: key,
        })
        .await;
    match result {
        Ok(refund) => {
            crate::faults::point("refund.after_gateway").await;
            let mut tx = state.pool.begin().await?;
            let done = sqlx::query!(
                "UPDATE refunds SET status = 'succeeded', gateway_refund_id = $2, completed_at = now()
                  WHERE id = $1 AND status <> 'succeeded'",
                refund_id,
                &refund.id
            )
            .execute(&mut *tx)
            .await?;
            if done.rows_affected() == 1 {
                // Nobody earned anything yet: the money leaves clearing.
                crate::ledger::post(
                    &mut tx,
                    "refund",
                    &format!("refund:{refund_id}"),
                    Some(crate::ids::OrderId(order_id)),
                    None,
                    "Refund of a request no mechanic took",
                    &[
                        crate::ledger::Line::new(
                            crate::ledger::AccountRef::PaymentClearing,
                            refund.amount_cents,
                        ),
                        crate::ledger::Line::new(
                            crate::ledger::AccountRef::GatewayCash,
                            -refund.amount_cents,
                        ),
                    ],
                )
                .await?;
                sqlx::query!(
                    "UPDATE orders SET amount_refunded_cents = amount_refunded_cents + $2,
                            status = CASE WHEN amount_refunded_cents + $2 >= coalesce(amount_paid_cents, 0)
                                          THEN 'refunded'::order_status ELSE 'partially_refunded'::order_status END,
                            updated_at = now()
                      WHERE id = $1",
                    order_id,
                    refund.amount_cents
                )
                .execute(&mut *tx)
                .await?;
            }
            notify(&mut *tx, &Signal::RequestChanged { request_id: row.request_id, order_id }).await?;
            tx.commit().await?;
            Ok(())
        }
        Err(e) => {
            tracing::warn!(error = %e, %order_id, "refund failed; the customer can retry");
            sqlx::query!("UPDATE refunds SET failure_reason = $2 WHERE id = $1", refund_id, e.to_string())
                .execute(&state.pool)
                .await?;
            Err(AppError::Unavailable)
        }
    }
}
