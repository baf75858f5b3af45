//! `POST /api/stripe/webhook`: verifies Stripe's signature (async-stripe), then
//! applies the event exactly once: its id is recorded under a unique key in the
//! same transaction as its effect, so a replay, a retry or a concurrent
//! duplicate changes nothing. Events may arrive in any order.

use crate::error::AppError;
use crate::state::AppState;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use sqlx::{Postgres, Transaction};
use stripe_webhook::{Event, EventObject, Webhook};

pub async fn stripe_webhook(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    let Some(signature) = headers.get("stripe-signature").and_then(|v| v.to_str().ok()) else {
        return AppError::bad_request("Missing Stripe-Signature header.").into_response();
    };
    let Ok(payload) = std::str::from_utf8(&body) else {
        return AppError::bad_request("The webhook body is not UTF-8.").into_response();
    };
    if state.config.stripe_webhook_secret.is_empty() {
        // Never verify against an empty key (anyone could sign with it).
        tracing::error!("webhook refused: no signing secret is configured");
        return AppError::Unavailable.into_response();
    }
    let event = match Webhook::construct_event(payload, signature, &state.config.stripe_webhook_secret) {
        Ok(event) => event,
        Err(e) => {
            tracing::warn!(error = %e, "webhook rejected");
            return AppError::bad_request(
                "The webhook signature is invalid or too old, or the event is malformed.",
            )
            .into_response();
        }
    };
    match handle_event(&state, &event).await {
        Ok(outcome) => {
            tracing::info!(event_id = %event.id, event_type = %event.type_, outcome, "webhook handled");
            (StatusCode::OK, axum::Json(serde_json::json!({ "ok": true, "outcome": outcome })))
                .into_response()
        }
        // 503 and 500 make Stripe retry later; the event was not recorded.
        Err(e) => e.into_response(),
    }
}

/// Applies one verified event; answers what happened ("fulfilled", "duplicate", ...).
pub async fn handle_event(state: &AppState, event: &Event) -> Result<&'static str, AppError> {
    let mut tx = state.pool.begin().await?;
    let created = event.created as f64;
    let first_time = sqlx::query!(
        "INSERT INTO stripe_events (id, type, created, outcome) VALUES ($1, $2, to_timestamp($3), 'processing')
         ON CONFLICT (id) DO NOTHING",
        event.id.as_str(),
        event.type_.to_string(),
        created
    )
    .execute(&mut *tx)
    .await?
    .rows_affected()
        == 1;
    if !first_time {
        return Ok("duplicate");
    }
    let outcome = match &event.data.object {
        EventObject::CheckoutSessionCompleted(s) | EventObject::CheckoutSessionAsyncPaymentSucceeded(s) => {
            checkout_paid(state, &mut tx, s).await?
        }
        EventObject::CheckoutSessionExpired(s) => checkout_expired(&mut tx, s).await?,
        EventObject::AccountUpdated(account) => {
            let at = chrono::DateTime::from_timestamp(event.created, 0);
            let applied = crate::payouts::connect::apply_account_flags(
                &mut tx,
                account.id.as_str(),
                account.details_submitted.unwrap_or(false),
                account.payouts_enabled.unwrap_or(false),
                at,
            )
            .await?;
            if applied {
                "account_updated"
            } else {
                "account_unknown_or_stale"
            }
        }
        _ => "ignored",
    };
    sqlx::query!("UPDATE stripe_events SET outcome = $2 WHERE id = $1", event.id.as_str(), outcome)
        .execute(&mut *tx)
        .await?;
    crate::faults::point("webhook.before_commit").await;
    tx.commit().await?;
    Ok(outcome)
}

struct OrderRow {
    id: uuid::Uuid,
    customer_id: uuid::Uuid,
    plan_code: String,
    status: crate::status::OrderStatus,
    amount_cents: i64,
    currency: String,
    preferred_workshop_id: Option<uuid::Uuid>,
    routing_type: crate::dispatch::RoutingType,
    checkout_session_id: Option<String>,
}

/// The order an event is about, if its checkout session is the order's own.
enum Lookup {
    Found(OrderRow),
    Unknown,
    /// The metadata names an order whose checkout is another session.
    OtherSession,
}

async fn lock_order(
    tx: &mut Transaction<'_, Postgres>,
    session: &stripe_shared::CheckoutSession,
) -> Result<Lookup, AppError> {
    // The order id from our metadata; the session id as a fallback.
    let by_metadata = session
        .metadata
        .as_ref()
        .and_then(|m| m.get("order_id"))
        .and_then(|id| uuid::Uuid::parse_str(id).ok());
    let row = sqlx::query_as!(
        OrderRow,
        r#"SELECT id, customer_id, plan_code, status AS "status: crate::status::OrderStatus", amount_cents, currency,
                preferred_workshop_id, routing_type AS "routing_type: crate::dispatch::RoutingType",
                checkout_session_id
           FROM orders WHERE id = $1 OR ($1 IS NULL AND checkout_session_id = $2) FOR UPDATE"#,
        by_metadata,
        session.id.as_str()
    )
    .fetch_optional(&mut **tx)
    .await?;
    Ok(match row {
        None => Lookup::Unknown,
        // A session's payment pays for that session's order only, whatever the metadata says.
        Some(o) if o.checkout_session_id.as_deref().is_some_and(|id| id != session.id.as_str()) => {
            tracing::error!(order = %o.id, session = %session.id, "event for another checkout session than the order's");
            Lookup::OtherSession
        }
        Some(o) => Lookup::Found(o),
    })
}

async fn checkout_paid(
    state: &AppState,
    tx: &mut Transaction<'_, Postgres>,
    session: &stripe_shared::CheckoutSession,
) -> Result<&'static str, AppError> {
    use stripe_shared::CheckoutSessionPaymentStatus as Paid;
    if !matches!(session.payment_status, Paid::Paid | Paid::NoPaymentRequired) {
        // Delayed payment methods: checkout.session.async_payment_succeeded follows.
        return Ok("awaiting_async_payment");
    }
    let order = match lock_order(tx, session).await? {
        Lookup::Found(order) => order,
        Lookup::OtherSession => return Ok("other_checkout_session"),
        Lookup::Unknown => {
            tracing::error!(session = %session.id, "paid checkout session for an unknown order");
            return Ok("unknown_order");
        }
    };
    if order.status != crate::status::OrderStatus::AwaitingPayment
        && order.status != crate::status::OrderStatus::Cancelled
    {
        return Ok("already_paid");
    }
    let amount = session.amount_total.unwrap_or(0);
    let currency = session.currency.as_ref().map(|c| c.to_string().to_ascii_lowercase()).unwrap_or_default();
    let payment_intent = session.payment_intent.as_ref().map(|p| p.id().as_str().to_string());
    if amount != order.amount_cents || currency != order.currency.to_ascii_lowercase() {
        // Never accepted: held for the admin with what arrived, no request, no ledger entry.
        let reason = format!(
            "Paid {} for an order of {}: held until the admin refunds or settles it.",
            crate::ui::format_money(amount, &currency),
            crate::ui::format_money(order.amount_cents, &order.currency)
        );
        tracing::error!(order = %order.id, amount, %currency, expected = order.amount_cents,
            expected_currency = %order.currency, "payment differs from the order; held");
        sqlx::query!(
            "UPDATE orders SET status = 'held', held_reason = $2, held_at = now(), amount_paid_cents = $3,
                    payment_intent_id = $4, checkout_session_id = coalesce(checkout_session_id, $5), updated_at = now()
              WHERE id = $1",
            order.id,
            &reason,
            amount,
            payment_intent.as_deref(),
            session.id.as_str()
        )
        .execute(&mut **tx)
        .await?;
        return Ok("held_payment_mismatch");
    }
    sqlx::query!(
        "UPDATE orders SET status = 'paid', amount_paid_cents = $2, payment_intent_id = $3, paid_at = now(),
                checkout_session_id = coalesce(checkout_session_id, $4), cancelled_at = NULL, updated_at = now()
          WHERE id = $1",
        order.id,
        amount,
        payment_intent.as_deref(),
        session.id.as_str()
    )
    .execute(&mut **tx)
    .await?;

    // Routing as the order recorded it at checkout: an event's metadata never overrides it.
    let (routing, preferred) = match (order.routing_type.needs_workshop(), order.preferred_workshop_id) {
        (true, None) => (crate::dispatch::RoutingType::Broadcast, None),
        (false, _) => (order.routing_type, None),
        (true, Some(w)) => (order.routing_type, Some(w)),
    };
    let request_id: Option<uuid::Uuid> = sqlx::query_scalar!(
        "INSERT INTO session_requests (order_id, customer_id, plan_code, preferred_workshop_id, routing_type)
         VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (order_id) DO NOTHING RETURNING id",
        order.id,
        order.customer_id,
        &order.plan_code,
        preferred,
        routing as crate::dispatch::RoutingType
    )
    .fetch_optional(&mut **tx)
    .await?;
    if let Some(id) = request_id {
        if let Some(w) = preferred {
            sqlx::query!(
                "UPDATE workshop_stats SET requests_preferred = requests_preferred + 1 WHERE workshop_id = $1",
                w
            )
            .execute(&mut **tx)
            .await?;
        }
        // Routing starts in the same transaction: offers go out when it commits.
        let settings = crate::offers::store::RoutingSettings::from_config(&state.config);
        crate::offers::store::on_request_created(tx, crate::ids::RequestId(id), &settings).await?;
        tracing::info!(request_id = %id, order_id = %order.id, "session request created");
    }
    // The ledger last: every transaction that touches both the workshops'
    // statistics and the ledger takes its locks in that order (a session's
    // completion does too), so they never deadlock.
    crate::ledger::post_payment(tx, crate::ids::OrderId(order.id), amount).await?;
    crate::notifications::notices::payment_receipt(
        tx,
        &state.config.public_url,
        crate::ids::OrderId(order.id),
    )
    .await?;
    Ok("fulfilled")
}

async fn checkout_expired(
    tx: &mut Transaction<'_, Postgres>,
    session: &stripe_shared::CheckoutSession,
) -> Result<&'static str, AppError> {
    let order = match lock_order(tx, session).await? {
        Lookup::Found(order) => order,
        Lookup::OtherSession => return Ok("other_checkout_session"),
        Lookup::Unknown => return Ok("unknown_order"),
    };
    if order.status != crate::status::OrderStatus::AwaitingPayment {
        // Paid meanwhile (or already cancelled): an expiry changes nothing.
        return Ok("ignored_not_awaiting_payment");
    }
    sqlx::query!(
        "UPDATE orders SET status = 'cancelled', cancelled_at = now(), updated_at = now() WHERE id = $1",
        order.id
    )
    .execute(&mut **tx)
    .await?;
    Ok("cancelled")
}
