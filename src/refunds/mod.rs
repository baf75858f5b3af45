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

#[cfg(feature = "ssr")]
pub use partial::*;

#[cfg(feature = "ssr")]
mod partial {
    use crate::error::AppError;
    use crate::ledger::{self, AccountRef, Line};
    use crate::payments::gateway::{RefundRequest, ReversalRequest};
    use crate::revenue::{self, Party, Share, ShareKind};
    use crate::server::AppState;
    use sqlx::{Postgres, Transaction};
    use uuid::Uuid;

    #[derive(sqlx::FromRow)]
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

    fn kind_from(name: &str) -> Option<ShareKind> {
        Some(match name {
            "platform_fee" => ShareKind::PlatformFee,
            "workshop_service" => ShareKind::WorkshopService,
            "mechanic_service" => ShareKind::MechanicService,
            "referral" => ShareKind::Referral,
            _ => return None,
        })
    }

    #[derive(sqlx::FromRow)]
    struct ShareHeld {
        kind: String,
        organization_id: Option<Uuid>,
        mechanic_id: Option<Uuid>,
        share_kind: String,
        held: i64,
    }

    /// What each party of a completed session still holds of it: its share minus
    /// what earlier refunds took back.
    async fn shares_held(
        tx: &mut Transaction<'_, Postgres>,
        session: Uuid,
    ) -> Result<Vec<Share>, sqlx::Error> {
        let rows = sqlx::query_as::<_, ShareHeld>(
            "SELECT a.kind::text, a.organization_id, a.mechanic_id, p.share_kind, (-sum(p.amount_cents))::bigint AS held
               FROM postings p JOIN journal_entries e ON e.id = p.entry_id JOIN ledger_accounts a ON a.id = p.account_id
              WHERE p.session_id = $1 AND p.share_kind IS NOT NULL AND e.kind IN ('session_revenue', 'refund')
              GROUP BY a.kind, a.organization_id, a.mechanic_id, p.share_kind
              ORDER BY a.kind, p.share_kind",
        )
        .bind(session)
        .fetch_all(&mut **tx)
        .await?;
        Ok(rows
            .into_iter()
            .filter_map(|r| {
                let party = match (r.kind.as_str(), r.organization_id, r.mechanic_id) {
                    ("platform_revenue", _, _) => Party::Platform,
                    ("workshop_payable", Some(w), _) => Party::Workshop(w),
                    ("mechanic_payable", _, Some(m)) => Party::Mechanic(m),
                    _ => return None,
                };
                Some(Share { party, kind: kind_from(&r.share_kind)?, rate_bps: 0, cents: r.held })
            })
            .collect())
    }

    /// Refunds `amount_cents` of a paid order (fully or partly). Before the session
    /// is completed the money comes out of clearing; after, every party's share is
    /// reversed in proportion (`revenue::refund_split`), and shares already paid
    /// out are recovered with transfer reversals or carried as negative balances.
    pub async fn refund_order(
        state: &AppState,
        order_id: Uuid,
        amount_cents: i64,
        reason: &str,
        requested_by: Option<Uuid>,
    ) -> Result<RefundOutcome, AppError> {
        if amount_cents <= 0 {
            return Err(AppError::field("amount", "Enter an amount above zero."));
        }
        let mut tx = state.pool.begin().await?;
        let order = sqlx::query_as::<_, OrderForRefund>(
            "SELECT o.amount_paid_cents, o.amount_refunded_cents, o.payment_intent_id, s.id AS session_id,
                    EXISTS (SELECT 1 FROM journal_entries e WHERE e.session_id = s.id AND e.kind = 'session_revenue')
                        AS revenue_posted,
                    coalesce((SELECT sum(amount_cents) FROM refunds r WHERE r.order_id = o.id AND r.status = 'pending'), 0)::bigint
                        AS pending_refunds
               FROM orders o LEFT JOIN sessions s ON s.order_id = o.id
              WHERE o.id = $1 AND o.status IN ('paid', 'partially_refunded') FOR UPDATE OF o",
        )
        .bind(order_id)
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
        let refund_id = Uuid::new_v4();
        let key = format!("refund-{refund_id}");
        sqlx::query(
            "INSERT INTO refunds (id, order_id, amount_cents, reason, idempotency_key, requested_by, session_id)
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(refund_id)
        .bind(order_id)
        .bind(amount_cents)
        .bind(reason)
        .bind(&key)
        .bind(requested_by)
        .bind(order.session_id.filter(|_| order.revenue_posted))
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;

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
                tracing::warn!(error = %e, %order_id, "refund failed at the gateway");
                sqlx::query("UPDATE refunds SET status = 'failed', failure_reason = $2 WHERE id = $1")
                    .bind(refund_id)
                    .bind(e.to_string())
                    .execute(&state.pool)
                    .await?;
                return Err(if e.is_retryable() {
                    AppError::Unavailable
                } else {
                    AppError::bad_request(format!("The payment provider refused the refund: {e}"))
                });
            }
        };
        let reversals = record_refund(state, refund_id, &gateway_refund.id).await?;
        let mut outcome = RefundOutcome { refund_id, amount_cents, recovered_cents: 0, carried_cents: 0 };
        for (account, cents) in reversals {
            match recover_paid_share(state, refund_id, order.session_id, account, cents).await? {
                Recovery::Recovered(c) => outcome.recovered_cents += c,
                Recovery::Carried(c) => outcome.carried_cents += c,
                Recovery::NotPaidYet => {}
            }
        }
        Ok(outcome)
    }

    /// Books a refund the gateway has made: the ledger entry and the order's totals,
    /// once. Returns the payables it reversed (for recovering paid-out shares).
    pub async fn record_refund(
        state: &AppState,
        refund_id: Uuid,
        gateway_refund_id: &str,
    ) -> Result<Vec<(AccountRef, i64)>, AppError> {
        let mut tx = state.pool.begin().await?;
        let refund: Option<(Uuid, i64, Option<Uuid>)> = sqlx::query_as(
            "UPDATE refunds SET status = 'succeeded', gateway_refund_id = $2, completed_at = now(), ledger_posted = true
              WHERE id = $1 AND status <> 'succeeded' RETURNING order_id, amount_cents, session_id",
        )
        .bind(refund_id)
        .bind(gateway_refund_id)
        .fetch_optional(&mut *tx)
        .await?;
        let Some((order_id, amount, session)) = refund else { return Ok(Vec::new()) };
        let mut lines = vec![Line::new(AccountRef::GatewayCash, -amount)];
        let mut payables = Vec::new();
        match session {
            Some(session) => {
                let held = shares_held(&mut tx, session).await?;
                let taken = revenue::refund_split(&held, amount)
                    .map_err(|e| AppError::internal("refund split", e))?;
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
            Some(order_id),
            session,
            "Refund",
            &lines,
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
        .bind(amount)
        .execute(&mut *tx)
        .await?;
        let request: Option<Uuid> = sqlx::query_scalar("SELECT id FROM session_requests WHERE order_id = $1")
            .bind(order_id)
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

    enum Recovery {
        NotPaidYet,
        Recovered(i64),
        Carried(i64),
    }

    /// A reversed share that was already paid out: take it back from the payee's
    /// transfer; if the gateway refuses, it stays as a negative balance that the
    /// payee's next payout nets out.
    async fn recover_paid_share(
        state: &AppState,
        refund_id: Uuid,
        session: Option<Uuid>,
        account: AccountRef,
        cents: i64,
    ) -> Result<Recovery, AppError> {
        let Some(session) = session else { return Ok(Recovery::NotPaidYet) };
        let account_id = {
            let mut tx = state.pool.begin().await?;
            let id = ledger::account_id(&mut tx, account).await?;
            tx.commit().await?;
            id
        };
        let paid: Option<(Uuid, String)> = sqlx::query_as(
            "SELECT po.id, po.transfer_id FROM postings p
               JOIN journal_entries e ON e.id = p.entry_id AND e.kind = 'session_revenue'
               JOIN payout_allocations pa ON pa.posting_id = p.id
               JOIN payouts po ON po.id = pa.payout_id AND po.status = 'paid'
              WHERE p.session_id = $1 AND p.account_id = $2 LIMIT 1",
        )
        .bind(session)
        .bind(account_id)
        .fetch_optional(&state.pool)
        .await?;
        let Some((payout_id, transfer_id)) = paid else { return Ok(Recovery::NotPaidYet) };
        let key = format!("reversal-{refund_id}-{account_id}");
        let reversal_id: Uuid = sqlx::query_scalar(
            "INSERT INTO transfer_reversals (refund_id, payout_id, ledger_account_id, amount_cents, idempotency_key, status)
             VALUES ($1, $2, $3, $4, $5, 'pending')
             ON CONFLICT (idempotency_key) DO UPDATE SET idempotency_key = EXCLUDED.idempotency_key RETURNING id",
        )
        .bind(refund_id)
        .bind(payout_id)
        .bind(account_id)
        .bind(cents)
        .bind(&key)
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
                let first = sqlx::query(
                    "UPDATE transfer_reversals SET status = 'succeeded', gateway_reversal_id = $2, completed_at = now()
                      WHERE id = $1 AND status <> 'succeeded'",
                )
                .bind(reversal_id)
                .bind(&reversal.id)
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
                        Some(session),
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
                sqlx::query(
                    "UPDATE transfer_reversals SET status = 'failed', failure_reason = $2 WHERE id = $1",
                )
                .bind(reversal_id)
                .bind(e.to_string())
                .execute(&state.pool)
                .await?;
                Ok(Recovery::Carried(cents))
            }
        }
    }
}
