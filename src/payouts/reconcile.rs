//! Reconciliation: the ledger against itself and against the payment gateway's
//! charges, transfers and refunds. Every difference is listed; a clean system
//! has none.

use super::{Discrepancy, ReconciliationReport};
use crate::error::AppError;
use crate::state::AppState;
use std::collections::{BTreeMap, HashMap};
use uuid::Uuid;

fn gateway_error(e: crate::payments::gateway::GatewayError) -> AppError {
    tracing::warn!(error = %e, "reconciliation could not read the gateway");
    AppError::Unavailable
}

struct PaidOrder {
    id: Uuid,
    checkout_session_id: Option<String>,
    amount_paid_cents: i64,
    ledger_payment_cents: Option<i64>,
}

struct PaidPayout {
    id: Uuid,
    transfer_id: String,
    amount_cents: i64,
    destination: Option<String>,
    reversed_cents: i64,
    ledger_cents: Option<i64>,
}

struct DoneRefund {
    id: Uuid,
    gateway_refund_id: String,
    amount_cents: i64,
}

/// Compares everything since `days` ago with the gateway (and the whole ledger with itself).
pub async fn reconcile(state: &AppState, days: i64) -> Result<ReconciliationReport, AppError> {
    let since = chrono::Utc::now() - chrono::Duration::days(days);
    let mut out = Vec::new();
    let mut add = |area: &str, reference: String, detail: String| {
        out.push(Discrepancy { area: area.into(), reference, detail });
    };

    // The books themselves: the consistency suite (ledger balanced, every paid
    // order with one request, every completed session split once, ...).
    for problem in crate::consistency::check(&state.pool).await? {
        add("consistency", "books".into(), problem);
    }
    // Every fulfilled order and every completed session is in the ledger once.
    let missing_sessions: Vec<Uuid> = sqlx::query_scalar!(
        "SELECT s.id FROM sessions s JOIN orders o ON o.id = s.order_id
          WHERE s.status = 'completed' AND o.amount_paid_cents > 0
            AND NOT EXISTS (SELECT 1 FROM journal_entries e WHERE e.session_id = s.id AND e.kind = 'session_revenue')"
    )
    .fetch_all(&state.pool)
    .await?;
    for s in missing_sessions {
        add("ledger", format!("session {s}"), "completed, but its revenue split is not in the ledger".into());
    }

    // Charges: what the gateway says each paid order paid, against the order and the ledger.
    let orders = sqlx::query_as!(
        PaidOrder,
        r#"SELECT o.id, o.checkout_session_id, coalesce(o.amount_paid_cents, 0) AS "amount_paid_cents!",
                (SELECT sum(p.amount_cents)::bigint FROM journal_entries e JOIN postings p ON p.entry_id = e.id
                   JOIN ledger_accounts a ON a.id = p.account_id AND a.kind = 'gateway_cash'
                  WHERE e.idempotency_key = 'payment:' || o.id) AS ledger_payment_cents
           FROM orders o
          WHERE o.status IN ('paid', 'refunded', 'partially_refunded') AND o.paid_at >= $1
          ORDER BY o.paid_at"#,
        since as _
    )
    .fetch_all(&state.pool)
    .await?;
    for o in &orders {
        if o.ledger_payment_cents != Some(o.amount_paid_cents) {
            add(
                "charges",
                format!("order {}", o.id),
                format!(
                    "paid {} but the ledger recorded {}",
                    o.amount_paid_cents,
                    o.ledger_payment_cents.map(|c| c.to_string()).unwrap_or_else(|| "nothing".into())
                ),
            );
        }
        let Some(session) = &o.checkout_session_id else {
            add("charges", format!("order {}", o.id), "paid without a checkout session".into());
            continue;
        };
        let at_gateway = state.payments.retrieve_checkout_session(session).await.map_err(gateway_error)?;
        if !at_gateway.paid {
            add("charges", format!("order {}", o.id), format!("the gateway's session {session} is not paid"));
        } else if at_gateway.amount_total_cents != Some(o.amount_paid_cents) {
            add(
                "charges",
                format!("order {}", o.id),
                format!(
                    "the gateway charged {:?}, the order says {}",
                    at_gateway.amount_total_cents, o.amount_paid_cents
                ),
            );
        }
    }

    // Transfers: every paid payout at the gateway with its amount and reversals; nothing unknown.
    let payouts = sqlx::query_as!(
        PaidPayout,
        r#"SELECT po.id, po.transfer_id AS "transfer_id!", po.amount_cents, po.destination,
                coalesce((SELECT sum(r.amount_cents) FROM transfer_reversals r
                           WHERE r.payout_id = po.id AND r.status = 'succeeded'), 0)::bigint AS "reversed_cents!",
                (SELECT sum(p.amount_cents)::bigint FROM journal_entries e JOIN postings p ON p.entry_id = e.id
                   JOIN ledger_accounts a ON a.id = p.account_id AND a.kind = 'gateway_cash'
                  WHERE e.idempotency_key = 'payout:' || po.id) AS ledger_cents
           FROM payouts po WHERE po.status = 'paid' AND po.created_at >= $1"#,
        since as _
    )
    .fetch_all(&state.pool)
    .await?;
    let transfers = state.payments.list_transfers(since.timestamp() - 86_400).await.map_err(gateway_error)?;
    let by_id: HashMap<&str, &crate::payments::gateway::TransferInfo> =
        transfers.iter().map(|t| (t.id.as_str(), t)).collect();
    for p in &payouts {
        if p.ledger_cents != Some(-p.amount_cents) {
            add(
                "transfers",
                format!("payout {}", p.id),
                "paid, but its ledger entry is missing or differs".into(),
            );
        }
        match by_id.get(p.transfer_id.as_str()) {
            None => add(
                "transfers",
                format!("payout {}", p.id),
                format!("transfer {} is not at the gateway", p.transfer_id),
            ),
            Some(t) => {
                if t.amount_cents != p.amount_cents {
                    add(
                        "transfers",
                        format!("payout {}", p.id),
                        format!(
                            "the gateway's transfer is {}, the payout {}",
                            t.amount_cents, p.amount_cents
                        ),
                    );
                }
                if t.destination.is_some() && t.destination != p.destination {
                    add(
                        "transfers",
                        format!("payout {}", p.id),
                        "the transfer went to another account".into(),
                    );
                }
                if t.amount_reversed_cents != p.reversed_cents {
                    add(
                        "transfers",
                        format!("payout {}", p.id),
                        format!(
                            "the gateway reversed {}, the ledger {}",
                            t.amount_reversed_cents, p.reversed_cents
                        ),
                    );
                }
            }
        }
    }
    let known: BTreeMap<&str, ()> = payouts.iter().map(|p| (p.transfer_id.as_str(), ())).collect();
    for t in transfers.iter().filter(|t| t.created >= since.timestamp()) {
        if !known.contains_key(t.id.as_str()) {
            let explained: bool = sqlx::query_scalar!(
                r#"SELECT EXISTS (SELECT 1 FROM payouts WHERE transfer_id = $1) AS "explained!""#,
                &t.id
            )
            .fetch_one(&state.pool)
            .await?;
            if !explained {
                add(
                    "transfers",
                    format!("transfer {}", t.id),
                    format!("{} at the gateway matches no payout", t.amount_cents),
                );
            }
        }
    }

    // Refunds: every refund made at the gateway is booked, with the same amount.
    let refunds = sqlx::query_as!(
        DoneRefund,
        r#"SELECT id, gateway_refund_id AS "gateway_refund_id!", amount_cents FROM refunds
          WHERE status = 'succeeded' AND gateway_refund_id IS NOT NULL AND created_at >= $1"#,
        since as _
    )
    .fetch_all(&state.pool)
    .await?;
    let gateway_refunds =
        state.payments.list_refunds(since.timestamp() - 86_400).await.map_err(gateway_error)?;
    let gateway_by_id: HashMap<&str, &crate::payments::gateway::RefundInfo> =
        gateway_refunds.iter().map(|r| (r.id.as_str(), r)).collect();
    for r in &refunds {
        match gateway_by_id.get(r.gateway_refund_id.as_str()) {
            None => add("refunds", format!("refund {}", r.id), "booked, but not at the gateway".into()),
            Some(g) if g.amount_cents != r.amount_cents => add(
                "refunds",
                format!("refund {}", r.id),
                format!("the gateway refunded {}, the books say {}", g.amount_cents, r.amount_cents),
            ),
            Some(_) => {}
        }
    }
    for g in gateway_refunds.iter().filter(|g| g.created >= since.timestamp()) {
        let booked: bool = sqlx::query_scalar!(
            r#"SELECT EXISTS (SELECT 1 FROM refunds WHERE gateway_refund_id = $1 AND status = 'succeeded') AS "booked!""#,
            &g.id
        )
        .fetch_one(&state.pool)
        .await?;
        if !booked {
            add(
                "refunds",
                format!("refund {}", g.id),
                format!("{} refunded at the gateway is not in the books", g.amount_cents),
            );
        }
    }

    Ok(ReconciliationReport {
        checked_orders: orders.len(),
        checked_transfers: payouts.len(),
        checked_refunds: refunds.len(),
        discrepancies: out,
        generated_at: chrono::Utc::now(),
    })
}
