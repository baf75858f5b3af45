//! The built-in stand-in for Stripe, used when no Stripe key is configured.
//!
//! It keeps its objects in PostgreSQL (`sandbox_*` tables), serves a hosted
//! checkout page and a Connect onboarding page of its own (`sandbox_pages`), and
//! delivers events built from complete Stripe objects, signed in Stripe's format,
//! to the app's own webhook endpoint, so the same verification and fulfilment
//! code runs as with Stripe. Idempotency keys behave like Stripe's: a repeated
//! key returns the object the first request created.

use super::gateway::*;
use super::signing::{random_id, signature_header};
use serde_json::{json, Value};
use sqlx::PgPool;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;

#[derive(Clone)]
pub struct SandboxGateway {
    pool: PgPool,
    public_url: String,
    /// Wakes the webhook deliverer when a new event is queued.
    pub deliveries: Arc<Notify>,
}

fn db_err(e: sqlx::Error) -> GatewayError {
    GatewayError::Unavailable(format!("sandbox storage: {e}"))
}

fn metadata_map(v: &Value) -> BTreeMap<String, String> {
    v.as_object()
        .map(|o| o.iter().map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string())).collect())
        .unwrap_or_default()
}

fn metadata_json(m: &BTreeMap<String, String>) -> Value {
    Value::Object(m.iter().map(|(k, v)| (k.clone(), Value::String(v.clone()))).collect())
}

#[derive(sqlx::FromRow, Clone, Debug)]
pub struct SessionRow {
    pub id: String,
    pub order_id: uuid::Uuid,
    pub amount_cents: i64,
    pub currency: String,
    pub product_name: String,
    pub customer_email: String,
    pub metadata: Value,
    pub success_url: String,
    pub cancel_url: String,
    pub status: String,
    pub payment_intent: Option<String>,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub expires_at: chrono::DateTime<chrono::Utc>,
}

pub const SESSION_COLUMNS: &str =
    "id, order_id, amount_cents, currency, product_name, customer_email, metadata, \
     success_url, cancel_url, status, payment_intent, created_at, expires_at";

#[derive(sqlx::FromRow)]
struct AccountRow {
    id: String,
    details_submitted: bool,
    charges_enabled: bool,
    payouts_enabled: bool,
}

impl From<AccountRow> for ConnectedAccount {
    fn from(a: AccountRow) -> Self {
        ConnectedAccount {
            id: a.id,
            details_submitted: a.details_submitted,
            charges_enabled: a.charges_enabled,
            payouts_enabled: a.payouts_enabled,
        }
    }
}

#[derive(sqlx::FromRow)]
struct TransferRow {
    id: String,
    amount_cents: i64,
    amount_reversed_cents: i64,
    currency: String,
    destination: String,
    transfer_group: Option<String>,
    metadata: Value,
    created_at: chrono::DateTime<chrono::Utc>,
}

impl From<TransferRow> for TransferInfo {
    fn from(t: TransferRow) -> Self {
        TransferInfo {
            id: t.id,
            amount_cents: t.amount_cents,
            amount_reversed_cents: t.amount_reversed_cents,
            currency: t.currency,
            destination: Some(t.destination),
            transfer_group: t.transfer_group,
            metadata: metadata_map(&t.metadata),
            created: t.created_at.timestamp(),
        }
    }
}

#[derive(sqlx::FromRow)]
struct RefundRow {
    id: String,
    amount_cents: i64,
    currency: String,
    payment_intent: String,
    status: String,
    metadata: Value,
    created_at: chrono::DateTime<chrono::Utc>,
}

impl From<RefundRow> for RefundInfo {
    fn from(r: RefundRow) -> Self {
        RefundInfo {
            id: r.id,
            amount_cents: r.amount_cents,
            currency: r.currency,
            payment_intent: Some(r.payment_intent),
            status: r.status,
            metadata: metadata_map(&r.metadata),
            created: r.created_at.timestamp(),
        }
    }
}

impl SandboxGateway {
    pub fn new(pool: PgPool, public_url: String) -> Self {
        SandboxGateway { pool, public_url, deliveries: Arc::new(Notify::new()) }
    }

    pub fn checkout_url(&self, id: &str) -> String {
        format!("{}/sandbox/checkout/{id}", self.public_url)
    }

    pub fn onboarding_url(&self, account_id: &str, return_url: &str, refresh_url: &str) -> String {
        format!(
            "{}/sandbox/connect/{account_id}?return_url={}&refresh_url={}",
            self.public_url,
            crate::auth::pages::urlencode(return_url),
            crate::auth::pages::urlencode(refresh_url)
        )
    }
}

#[async_trait::async_trait]
impl PaymentGateway for SandboxGateway {
    fn mode(&self) -> GatewayMode {
        GatewayMode::Sandbox
    }

    async fn create_checkout_session(&self, req: &CheckoutRequest) -> Result<CheckoutSession, GatewayError> {
        if req.amount_cents <= 0 {
            return Err(GatewayError::InvalidRequest("amount must be positive".into()));
        }
        let id: String = sqlx::query_scalar(
            "INSERT INTO sandbox_checkout_sessions (id, idempotency_key, order_id, amount_cents, currency, product_name,
                                                    customer_email, metadata, success_url, cancel_url, expires_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, now() + interval '24 hours')
             ON CONFLICT (idempotency_key) DO UPDATE SET idempotency_key = EXCLUDED.idempotency_key
             RETURNING id",
        )
        .bind(random_id("cs_test_"))
        .bind(&req.idempotency_key)
        .bind(req.order_id)
        .bind(req.amount_cents)
        .bind(&req.currency)
        .bind(&req.product_name)
        .bind(&req.customer_email)
        .bind(metadata_json(&req.metadata()))
        .bind(&req.success_url)
        .bind(&req.cancel_url)
        .fetch_one(&self.pool)
        .await
        .map_err(db_err)?;
        Ok(CheckoutSession { url: self.checkout_url(&id), id })
    }

    async fn retrieve_checkout_session(&self, id: &str) -> Result<CheckoutSessionInfo, GatewayError> {
        let s = sqlx::query_as::<_, SessionRow>(&format!(
            "SELECT {SESSION_COLUMNS} FROM sandbox_checkout_sessions WHERE id = $1"
        ))
        .bind(id)
        .fetch_optional(&self.pool)
        .await
        .map_err(db_err)?
        .ok_or_else(|| GatewayError::NotFound(format!("no checkout session {id}")))?;
        Ok(CheckoutSessionInfo {
            status: match s.status.as_str() {
                "complete" => CheckoutStatus::Complete,
                "expired" => CheckoutStatus::Expired,
                _ => CheckoutStatus::Open,
            },
            paid: s.status == "complete",
            amount_total_cents: Some(s.amount_cents),
            currency: Some(s.currency.clone()),
            payment_intent: s.payment_intent.clone(),
            metadata: metadata_map(&s.metadata),
            id: s.id,
        })
    }

    async fn create_connected_account(
        &self,
        req: &ConnectAccountRequest,
    ) -> Result<ConnectedAccount, GatewayError> {
        let kind = match req.kind {
            PayeeKind::Workshop => "company",
            PayeeKind::Individual => "individual",
        };
        let row = sqlx::query_as::<_, AccountRow>(
            "INSERT INTO sandbox_accounts (id, idempotency_key, email, display_name, kind, metadata)
             VALUES ($1, $2, $3, $4, $5, $6)
             ON CONFLICT (idempotency_key) DO UPDATE SET idempotency_key = EXCLUDED.idempotency_key
             RETURNING id, details_submitted, charges_enabled, payouts_enabled",
        )
        .bind(random_id("acct_sbx_"))
        .bind(&req.idempotency_key)
        .bind(&req.email)
        .bind(&req.display_name)
        .bind(kind)
        .bind(metadata_json(&req.metadata))
        .fetch_one(&self.pool)
        .await
        .map_err(db_err)?;
        Ok(row.into())
    }

    async fn retrieve_account(&self, id: &str) -> Result<ConnectedAccount, GatewayError> {
        sqlx::query_as::<_, AccountRow>(
            "SELECT id, details_submitted, charges_enabled, payouts_enabled FROM sandbox_accounts WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(&self.pool)
        .await
        .map_err(db_err)?
        .map(Into::into)
        .ok_or_else(|| GatewayError::NotFound(format!("no account {id}")))
    }

    async fn create_account_link(&self, req: &AccountLinkRequest) -> Result<String, GatewayError> {
        self.retrieve_account(&req.account_id).await?;
        Ok(self.onboarding_url(&req.account_id, &req.return_url, &req.refresh_url))
    }

    async fn create_transfer(&self, req: &TransferRequest) -> Result<TransferInfo, GatewayError> {
        if req.amount_cents <= 0 {
            return Err(GatewayError::InvalidRequest("amount must be positive".into()));
        }
        let mut tx = self.pool.begin().await.map_err(db_err)?;
        if let Some(existing) = sqlx::query_as::<_, TransferRow>(
            "SELECT id, amount_cents, amount_reversed_cents, currency, destination, transfer_group, metadata, created_at
               FROM sandbox_transfers WHERE idempotency_key = $1",
        )
        .bind(&req.idempotency_key)
        .fetch_optional(&mut *tx)
        .await
        .map_err(db_err)?
        {
            return Ok(existing.into());
        }
        let payouts: Option<bool> =
            sqlx::query_scalar("SELECT payouts_enabled FROM sandbox_accounts WHERE id = $1")
                .bind(&req.destination)
                .fetch_optional(&mut *tx)
                .await
                .map_err(db_err)?;
        match payouts {
            None => {
                return Err(GatewayError::InvalidRequest(format!(
                    "No such destination: '{}'",
                    req.destination
                )))
            }
            Some(false) => {
                return Err(GatewayError::InvalidRequest(
                    "The destination account has not completed onboarding: payouts are not enabled".into(),
                ))
            }
            Some(true) => {}
        }
        let row = sqlx::query_as::<_, TransferRow>(
            "INSERT INTO sandbox_transfers (id, idempotency_key, amount_cents, currency, destination, transfer_group,
                                            description, metadata)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
             RETURNING id, amount_cents, amount_reversed_cents, currency, destination, transfer_group, metadata, created_at",
        )
        .bind(random_id("tr_sbx_"))
        .bind(&req.idempotency_key)
        .bind(req.amount_cents)
        .bind(&req.currency)
        .bind(&req.destination)
        .bind(&req.transfer_group)
        .bind(&req.description)
        .bind(metadata_json(&req.metadata))
        .fetch_one(&mut *tx)
        .await
        .map_err(db_err)?;
        tx.commit().await.map_err(db_err)?;
        Ok(row.into())
    }

    async fn retrieve_transfer(&self, id: &str) -> Result<TransferInfo, GatewayError> {
        sqlx::query_as::<_, TransferRow>(
            "SELECT id, amount_cents, amount_reversed_cents, currency, destination, transfer_group, metadata, created_at
               FROM sandbox_transfers WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(&self.pool)
        .await
        .map_err(db_err)?
        .map(Into::into)
        .ok_or_else(|| GatewayError::NotFound(format!("no transfer {id}")))
    }

    async fn list_transfers(&self, created_gte: i64) -> Result<Vec<TransferInfo>, GatewayError> {
        Ok(sqlx::query_as::<_, TransferRow>(
            "SELECT id, amount_cents, amount_reversed_cents, currency, destination, transfer_group, metadata, created_at
               FROM sandbox_transfers WHERE created_at >= to_timestamp($1) ORDER BY created_at, id",
        )
        .bind(created_gte as f64)
        .fetch_all(&self.pool)
        .await
        .map_err(db_err)?
        .into_iter()
        .map(Into::into)
        .collect())
    }

    async fn create_transfer_reversal(&self, req: &ReversalRequest) -> Result<ReversalInfo, GatewayError> {
        let mut tx = self.pool.begin().await.map_err(db_err)?;
        if let Some((id, transfer_id, amount)) = sqlx::query_as::<_, (String, String, i64)>(
            "SELECT id, transfer_id, amount_cents FROM sandbox_transfer_reversals WHERE idempotency_key = $1",
        )
        .bind(&req.idempotency_key)
        .fetch_optional(&mut *tx)
        .await
        .map_err(db_err)?
        {
            return Ok(ReversalInfo { id, transfer_id, amount_cents: amount });
        }
        let updated = sqlx::query(
            "UPDATE sandbox_transfers SET amount_reversed_cents = amount_reversed_cents + $2
              WHERE id = $1 AND amount_reversed_cents + $2 <= amount_cents AND $2 > 0",
        )
        .bind(&req.transfer_id)
        .bind(req.amount_cents)
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
        if updated.rows_affected() != 1 {
            return Err(GatewayError::InvalidRequest(format!(
                "Cannot reverse {} on transfer {}: more than what remains, or no such transfer",
                req.amount_cents, req.transfer_id
            )));
        }
        let id = random_id("trr_sbx_");
        sqlx::query(
            "INSERT INTO sandbox_transfer_reversals (id, idempotency_key, transfer_id, amount_cents, metadata)
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(&id)
        .bind(&req.idempotency_key)
        .bind(&req.transfer_id)
        .bind(req.amount_cents)
        .bind(metadata_json(&req.metadata))
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
        tx.commit().await.map_err(db_err)?;
        Ok(ReversalInfo { id, transfer_id: req.transfer_id.clone(), amount_cents: req.amount_cents })
    }

    async fn create_refund(&self, req: &RefundRequest) -> Result<RefundInfo, GatewayError> {
        let mut tx = self.pool.begin().await.map_err(db_err)?;
        if let Some(existing) = sqlx::query_as::<_, RefundRow>(
            "SELECT id, amount_cents, currency, payment_intent, status, metadata, created_at
               FROM sandbox_refunds WHERE idempotency_key = $1",
        )
        .bind(&req.idempotency_key)
        .fetch_optional(&mut *tx)
        .await
        .map_err(db_err)?
        {
            return Ok(existing.into());
        }
        // Lock the payment so two refunds cannot together exceed it.
        let paid: Option<(i64, String)> = sqlx::query_as(
            "SELECT amount_cents, currency FROM sandbox_checkout_sessions
              WHERE payment_intent = $1 AND status = 'complete' FOR UPDATE",
        )
        .bind(&req.payment_intent)
        .fetch_optional(&mut *tx)
        .await
        .map_err(db_err)?;
        let Some((paid, currency)) = paid else {
            return Err(GatewayError::InvalidRequest(format!(
                "No such payment_intent: '{}'",
                req.payment_intent
            )));
        };
        let refunded: i64 = sqlx::query_scalar(
            "SELECT coalesce(sum(amount_cents), 0)::bigint FROM sandbox_refunds WHERE payment_intent = $1",
        )
        .bind(&req.payment_intent)
        .fetch_one(&mut *tx)
        .await
        .map_err(db_err)?;
        if req.amount_cents <= 0 || refunded + req.amount_cents > paid {
            return Err(GatewayError::InvalidRequest(format!(
                "Refund amount ({}) is greater than the unrefunded amount ({})",
                req.amount_cents,
                paid - refunded
            )));
        }
        let row = sqlx::query_as::<_, RefundRow>(
            "INSERT INTO sandbox_refunds (id, idempotency_key, payment_intent, amount_cents, currency, status, metadata)
             VALUES ($1, $2, $3, $4, $5, 'succeeded', $6)
             RETURNING id, amount_cents, currency, payment_intent, status, metadata, created_at",
        )
        .bind(random_id("re_sbx_"))
        .bind(&req.idempotency_key)
        .bind(&req.payment_intent)
        .bind(req.amount_cents)
        .bind(currency)
        .bind(metadata_json(&req.metadata))
        .fetch_one(&mut *tx)
        .await
        .map_err(db_err)?;
        tx.commit().await.map_err(db_err)?;
        Ok(row.into())
    }

    async fn list_refunds(&self, created_gte: i64) -> Result<Vec<RefundInfo>, GatewayError> {
        Ok(sqlx::query_as::<_, RefundRow>(
            "SELECT id, amount_cents, currency, payment_intent, status, metadata, created_at
               FROM sandbox_refunds WHERE created_at >= to_timestamp($1) ORDER BY created_at, id",
        )
        .bind(created_gte as f64)
        .fetch_all(&self.pool)
        .await
        .map_err(db_err)?
        .into_iter()
        .map(Into::into)
        .collect())
    }
}

// ---------------------------------------------------------------- events

/// A `checkout.session.*` event as Stripe would send it, built from the complete
/// fixture objects so that async-stripe's strict parser accepts it.
pub fn checkout_event(event_type: &str, s: &SessionRow) -> (String, String) {
    let mut event: Value =
        serde_json::from_str(include_str!("fixtures/evt_checkout_completed.json")).expect("fixture is JSON");
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
        serde_json::from_str(include_str!("fixtures/evt_account_updated.json")).expect("fixture is JSON");
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
    sqlx::query("INSERT INTO sandbox_webhook_deliveries (event_id, event_type, payload) VALUES ($1, $2, $3)")
        .bind(event_id)
        .bind(event_type)
        .bind(payload)
        .execute(db)
        .await?;
    Ok(())
}

/// Expires open checkout sessions past their time and queues their events.
pub async fn expire_sessions(pool: &PgPool) -> Result<u64, sqlx::Error> {
    let mut tx = pool.begin().await?;
    let expired = sqlx::query_as::<_, SessionRow>(&format!(
        "UPDATE sandbox_checkout_sessions SET status = 'expired'
          WHERE id IN (SELECT id FROM sandbox_checkout_sessions WHERE status = 'open' AND expires_at <= now()
                       LIMIT 100 FOR UPDATE SKIP LOCKED)
          RETURNING {SESSION_COLUMNS}"
    ))
    .fetch_all(&mut *tx)
    .await?;
    for s in &expired {
        let (id, payload) = checkout_event("checkout.session.expired", s);
        enqueue_event(&mut *tx, &id, "checkout.session.expired", &payload).await?;
    }
    tx.commit().await?;
    Ok(expired.len() as u64)
}

/// Sends one signed event; answers the HTTP status.
#[async_trait::async_trait]
pub trait WebhookSender: Send + Sync {
    async fn send(&self, payload: String, signature: String) -> Result<u16, String>;
}

/// Posts to the app's webhook URL over HTTP.
pub struct HttpSender {
    url: String,
    client: hyper_util::client::legacy::Client<
        hyper_util::client::legacy::connect::HttpConnector,
        http_body_util::Full<axum::body::Bytes>,
    >,
}

impl HttpSender {
    pub fn new(url: String) -> Self {
        let client =
            hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new()).build_http();
        HttpSender { url, client }
    }
}

#[async_trait::async_trait]
impl WebhookSender for HttpSender {
    async fn send(&self, payload: String, signature: String) -> Result<u16, String> {
        let req = axum::http::Request::post(&self.url)
            .header("content-type", "application/json")
            .header("stripe-signature", signature)
            .header("user-agent", "autodoctor-sandbox/1.0 (+https://stripe.com/docs/webhooks)")
            .body(http_body_util::Full::new(axum::body::Bytes::from(payload)))
            .map_err(|e| e.to_string())?;
        let res = tokio::time::timeout(Duration::from_secs(10), self.client.request(req))
            .await
            .map_err(|_| "timed out".to_string())?
            .map_err(|e| e.to_string())?;
        Ok(res.status().as_u16())
    }
}

/// Delivers every due event once (each claimed with SKIP LOCKED, so several app
/// instances share the work). Each attempt is signed at send time, as Stripe does.
/// Returns how many were delivered.
pub async fn deliver_due(
    pool: &PgPool,
    secret: &str,
    sender: &dyn WebhookSender,
) -> Result<usize, sqlx::Error> {
    let mut delivered = 0;
    loop {
        let mut tx = pool.begin().await?;
        let due: Option<(i64, String)> = sqlx::query_as(
            "SELECT id, payload FROM sandbox_webhook_deliveries
              WHERE delivered_at IS NULL AND next_attempt_at <= now()
              ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED",
        )
        .fetch_optional(&mut *tx)
        .await?;
        let Some((id, payload)) = due else { break };
        let signature = signature_header(secret, chrono::Utc::now().timestamp(), &payload);
        let result = sender.send(payload, signature).await;
        match result {
            Ok(status) if (200..300).contains(&status) => {
                sqlx::query(
                    "UPDATE sandbox_webhook_deliveries SET delivered_at = now(), attempts = attempts + 1 WHERE id = $1",
                )
                .bind(id)
                .execute(&mut *tx)
                .await?;
                delivered += 1;
            }
            other => {
                let error = match other {
                    Ok(status) => format!("HTTP {status}"),
                    Err(e) => e,
                };
                tracing::warn!(delivery = id, %error, "sandbox webhook delivery failed; will retry");
                sqlx::query(
                    "UPDATE sandbox_webhook_deliveries SET attempts = attempts + 1, last_error = $2,
                            next_attempt_at = now() + make_interval(secs => least(3600, power(2, attempts)))
                      WHERE id = $1",
                )
                .bind(id)
                .bind(error)
                .execute(&mut *tx)
                .await?;
            }
        }
        tx.commit().await?;
    }
    Ok(delivered)
}

/// The background deliverer: wakes on new events, and every second for retries
/// and expiries, until the process stops.
pub async fn run_deliverer(pool: PgPool, secret: String, webhook_url: String, notify: Arc<Notify>) {
    let sender = HttpSender::new(webhook_url);
    loop {
        if let Err(e) = expire_sessions(&pool).await {
            tracing::warn!(error = %e, "sandbox could not expire sessions");
        }
        if let Err(e) = deliver_due(&pool, &secret, &sender).await {
            tracing::warn!(error = %e, "sandbox webhook deliverer could not reach the database");
        }
        tokio::select! {
            _ = notify.notified() => {}
            _ = tokio::time::sleep(Duration::from_secs(1)) => {}
        }
    }
}
