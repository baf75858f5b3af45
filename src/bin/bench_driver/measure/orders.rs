//! Paid orders as the pipeline and the race need them: an order awaiting payment,
//! its signed `checkout.session.completed`, and delivering that to the webhook.

use super::Error;
use autodoctor::payments::sandbox::{checkout_event, SessionRow};
use autodoctor::payments::signing::signature_header;
use sqlx::PgPool;
use uuid::Uuid;

/// Creates an order awaiting payment (what the booking form does) for a broadcast request.
pub async fn new_order(db: &PgPool, customer: Uuid) -> Result<Uuid, Error> {
    Ok(sqlx::query_scalar(
        "INSERT INTO orders (customer_id, request_key, plan_code, plan_name, plan_minutes, amount_cents, currency,
                             vehicle_make, vehicle_model, vehicle_year, problem_description, routing_type,
                             platform_fee_bps, referral_fee_bps)
         VALUES ($1, gen_random_uuid(), 'video15', 'Video diagnosis', 15, 2900, 'usd', 'Toyota', 'Corolla', 2015,
                 'Grinding noise from the front left wheel when braking.', 'broadcast', 2000, 1000)
         RETURNING id",
    )
    .bind(customer)
    .fetch_one(db)
    .await?)
}

/// A signed `checkout.session.completed` for the order, as the gateway would send it.
pub fn paid_event(secret: &str, order: Uuid, customer: Uuid, email: &str) -> (String, String) {
    let now = chrono::Utc::now();
    let row = SessionRow {
        id: format!("cs_bench_live_{}", order.simple()),
        order_id: order,
        amount_cents: 2900,
        currency: "usd".into(),
        product_name: "Video diagnosis".into(),
        customer_email: email.into(),
        metadata: serde_json::json!({
            "order_id": order.to_string(),
            "plan": "video15",
            "user_id": customer.to_string(),
            "preferred_workshop_id": "",
            "routing_type": "broadcast",
        }),
        success_url: "http://127.0.0.1/orders".into(),
        cancel_url: "http://127.0.0.1/book".into(),
        status: "complete".into(),
        payment_intent: Some(format!("pi_bench_live_{}", order.simple())),
        created_at: now,
        expires_at: now + chrono::Duration::hours(1),
    };
    let (_, payload) = checkout_event("checkout.session.completed", &row);
    let signature = signature_header(secret, now.timestamp(), &payload);
    (payload, signature)
}

/// Posts the signed event; returns the request the webhook created.
pub async fn deliver(
    client: &reqwest::Client,
    base: &str,
    db: &PgPool,
    order: Uuid,
    payload: String,
    signature: &str,
) -> Result<Uuid, Error> {
    let res = client
        .post(format!("{base}/api/stripe/webhook"))
        .header("stripe-signature", signature)
        .header("content-type", "application/json")
        .body(payload)
        .send()
        .await?;
    let status = res.status();
    let body = res.text().await.unwrap_or_default();
    if !status.is_success() || !body.contains("fulfilled") {
        return Err(format!("webhook answered {status}: {body}").into());
    }
    Ok(sqlx::query_scalar("SELECT id FROM session_requests WHERE order_id = $1")
        .bind(order)
        .fetch_one(db)
        .await?)
}
