//! Sandbox events: built from complete Stripe fixture objects (so async-stripe's
//! strict parser accepts them), queued for delivery, and the expiry of stale
//! checkout sessions.

use super::super::signing::random_id;
use super::SessionRow;
use serde_json::{json, Value};
use sqlx::PgPool;

/// A `checkout.session.*` event as Stripe would send it, built from the complete
/// fixture objects so that async-stripe's strict parser accepts it.
pub fn checkout_event(event_type: &str, s: &SessionRow) -> (String, String) {
    let mut event: Value = serde_json::from_str(include_str!("../fixtures/evt_checkout_completed.json"))
        .expect("fixture is JSON");
    let event_id = random_id("evt_sbx_");
    let complete = s.status == "complete";
    event["id"] = json!(event_id);
    event["type"] = json!(event_type);
    event["created"] = json!(chrono::Utc::now().timestamp());
    let o = &mut event["data"]["object"];
    o["id"] = json!(s.id);
    o["amount_total"] = json!(s.amount_cents);
    o["amount_subtotal"] = json!(s.amount_cents);
    o["currency"] = json!(s.currency);
    o["metadata"] = s.metadata.clone();
    o["client_reference_id"] = json!(s.order_id.to_string());
    o["customer_email"] = json!(s.customer_email);
    o["customer_details"]["email"] = json!(s.customer_email);
    o["payment_intent"] = if complete { json!(s.payment_intent) } else { Value::Null };
    o["payment_status"] = json!(if complete { "paid" } else { "unpaid" });
    o["status"] = json!(s.status);
    o["success_url"] = json!(s.success_url);
    o["cancel_url"] = json!(s.cancel_url);
    o["url"] = Value::Null;
    o["created"] = json!(s.created_at.timestamp());
    o["expires_at"] = json!(s.expires_at.timestamp());
    o["livemode"] = json!(false);
    (event_id, event.to_string())
}

/// An `account.updated` event for a sandbox account.
pub fn account_event(
    account_id: &str,
    details_submitted: bool,
    charges: bool,
    payouts: bool,
) -> (String, String) {
    let mut event: Value =
        serde_json::from_str(include_str!("../fixtures/evt_account_updated.json")).expect("fixture is JSON");
    let event_id = random_id("evt_sbx_");
    event["id"] = json!(event_id);
    event["created"] = json!(chrono::Utc::now().timestamp());
    let o = &mut event["data"]["object"];
    o["id"] = json!(account_id);
    o["details_submitted"] = json!(details_submitted);
    o["charges_enabled"] = json!(charges);
    o["payouts_enabled"] = json!(payouts);
    (event_id, event.to_string())
}

/// Queues an event for delivery (in the caller's transaction).
pub async fn enqueue_event(
    db: impl sqlx::PgExecutor<'_>,
    event_id: &str,
    event_type: &str,
    payload: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "INSERT INTO sandbox_webhook_deliveries (event_id, event_type, payload) VALUES ($1, $2, $3)",
        event_id,
        event_type,
        payload
    )
    .execute(db)
    .await?;
    Ok(())
}

/// Expires open checkout sessions past their time and queues their events.
pub async fn expire_sessions(pool: &PgPool) -> Result<u64, sqlx::Error> {
    let mut tx = pool.begin().await?;
    let expired = sqlx::query_as!(
        SessionRow,
        r#"UPDATE sandbox_checkout_sessions SET status = 'expired'
          WHERE id IN (SELECT id FROM sandbox_checkout_sessions WHERE status = 'open' AND expires_at <= now()
                       LIMIT 100 FOR UPDATE SKIP LOCKED)
          RETURNING id, order_id, amount_cents, currency, product_name, customer_email, metadata,
                  success_url, cancel_url, status, payment_intent,
                  created_at AS "created_at: chrono::DateTime<chrono::Utc>", expires_at AS "expires_at: chrono::DateTime<chrono::Utc>""#
    )
    .fetch_all(&mut *tx)
    .await?;
    for s in &expired {
        let (id, payload) = checkout_event("checkout.session.expired", s);
        enqueue_event(&mut *tx, &id, "checkout.session.expired", &payload).await?;
    }
    tx.commit().await?;
    Ok(expired.len() as u64)
}

/// This install's webhook signing secret: made at random the first time (256
/// bits), then read back. Concurrent first starts agree on one.
pub async fn install_webhook_secret(pool: &PgPool) -> Result<String, sqlx::Error> {
    use rand::RngCore;
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    let fresh = format!("whsec_{}", hex::encode(bytes));
    sqlx::query!(
        "INSERT INTO sandbox_install (id, webhook_secret) VALUES (true, $1) ON CONFLICT (id) DO NOTHING",
        &fresh
    )
    .execute(pool)
    .await?;
    sqlx::query_scalar!("SELECT webhook_secret FROM sandbox_install WHERE id").fetch_one(pool).await
}
