//! Refunds to customers through the payment gateway.
//!
//! A refund row is written first (with the idempotency key the gateway call
//! uses), the gateway is called, and the outcome is recorded: a crash or a retry
//! in between never refunds twice, and the customer can simply try again.

#[cfg(feature = "ssr")]
pub use server_side::*;

#[cfg(feature = "ssr")]
mod server_side {
    use crate::error::AppError;
    use crate::payments::gateway::RefundRequest;
    use crate::realtime::server::notify;
    use crate::realtime::Signal;
    use crate::server::AppState;
    use uuid::Uuid;

    #[derive(sqlx::FromRow)]
    struct CancelRow {
        request_id: Uuid,
        status: crate::booking::RequestStatus,
        amount_paid_cents: Option<i64>,
        amount_refunded_cents: i64,
        payment_intent_id: Option<String>,
    }

    /// Cancels a paid request that no mechanic took (pending or expired) and
    /// refunds it in full. `customer` limits it to that customer's order.
    pub async fn cancel_unserved(
        state: &AppState,
        order_id: Uuid,
        customer: Option<Uuid>,
    ) -> Result<(), AppError> {
        let mut tx = state.pool.begin().await?;
        let row = sqlx::query_as::<_, CancelRow>(
            "SELECT r.id AS request_id, r.status, o.amount_paid_cents, o.amount_refunded_cents, o.payment_intent_id
               FROM session_requests r JOIN orders o ON o.id = r.order_id
              WHERE r.order_id = $1 AND ($2::uuid IS NULL OR r.customer_id = $2)
              FOR UPDATE OF r, o",
        )
        .bind(order_id)
        .bind(customer)
        .fetch_optional(&mut *tx)
        .await?
        .ok_or_else(|| AppError::not_found("You have no paid booking with that reference."))?;
        use crate::booking::RequestStatus as S;
        match row.status {
            S::Pending | S::Expired => {
                // From here on nobody can take it: the accept UPDATE needs 'pending'.
                sqlx::query(
                    "UPDATE session_requests SET status = 'cancelled', closed_at = now() WHERE id = $1",
                )
                .bind(row.request_id)
                .execute(&mut *tx)
                .await?;
                sqlx::query(
                    "INSERT INTO routing_events (request_id, kind, details) VALUES ($1, 'cancelled', '{}')",
                )
                .bind(row.request_id)
                .execute(&mut *tx)
                .await?;
                notify(&mut *tx, &Signal::RequestChanged { request_id: row.request_id, order_id }).await?;
            }
            // Cancelled earlier but the refund did not go through: try it again below.
            S::Cancelled => {}
            S::Accepted => return Err(AppError::conflict("A mechanic has already taken this request.")),
        }
        let to_refund = row.amount_paid_cents.unwrap_or(0) - row.amount_refunded_cents;
        let Some(payment_intent) = row.payment_intent_id.filter(|_| to_refund > 0) else {
            tx.commit().await?;
            return Ok(());
        };
        let key = format!("refund-{order_id}-cancel");
        let refund_id: Uuid = sqlx::query_scalar(
            "INSERT INTO refunds (order_id, amount_cents, reason, idempotency_key, requested_by)
             VALUES ($1, $2, 'Request cancelled before a mechanic took it', $3, $4)
             ON CONFLICT (idempotency_key) DO UPDATE SET idempotency_key = EXCLUDED.idempotency_key
             RETURNING id",
        )
        .bind(order_id)
        .bind(to_refund)
        .bind(&key)
        .bind(customer)
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
                let mut tx = state.pool.begin().await?;
                let done = sqlx::query(
                    "UPDATE refunds SET status = 'succeeded', gateway_refund_id = $2, completed_at = now()
                      WHERE id = $1 AND status <> 'succeeded'",
                )
                .bind(refund_id)
                .bind(&refund.id)
                .execute(&mut *tx)
                .await?;
                if done.rows_affected() == 1 {
                    // Nobody earned anything yet: the money leaves clearing.
                    crate::ledger::post(
                        &mut tx,
                        "refund",
                        &format!("refund:{refund_id}"),
                        Some(order_id),
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
                    sqlx::query(
                        "UPDATE orders SET amount_refunded_cents = amount_refunded_cents + $2,
                                status = CASE WHEN amount_refunded_cents + $2 >= coalesce(amount_paid_cents, 0)
                                              THEN 'refunded'::order_status ELSE 'partially_refunded'::order_status END,
                                updated_at = now()
                          WHERE id = $1",
                    )
                    .bind(order_id)
                    .bind(refund.amount_cents)
                    .execute(&mut *tx)
                    .await?;
                }
                notify(&mut *tx, &Signal::RequestChanged { request_id: row.request_id, order_id }).await?;
                tx.commit().await?;
                Ok(())
            }
            Err(e) => {
                tracing::warn!(error = %e, %order_id, "refund failed; the customer can retry");
                sqlx::query("UPDATE refunds SET failure_reason = $2 WHERE id = $1")
                    .bind(refund_id)
                    .bind(e.to_string())
                    .execute(&state.pool)
                    .await?;
                Err(AppError::Unavailable)
            }
        }
    }
}
