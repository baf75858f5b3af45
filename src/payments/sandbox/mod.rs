//! The built-in stand-in for Stripe, used when no Stripe key is configured.
//!
//! It keeps its objects in PostgreSQL (`sandbox_*` tables), serves a hosted
//! checkout page and a Connect onboarding page of its own (`sandbox_pages`), and
//! delivers events built from complete Stripe objects, signed in Stripe's format,
//! to the app's own webhook endpoint, so the same verification and fulfilment
//! code runs as with Stripe. Idempotency keys behave like Stripe's: a repeated
//! key returns the object the first request created.
//!
//! `gateway.rs` implements the gateway trait, `events.rs` builds and queues the
//! events, and `delivery.rs` signs and delivers them to the webhook.

mod delivery;
mod events;
mod gateway;

pub use delivery::{deliver_due, run_deliverer, HttpSender, WebhookSender};
pub use events::{account_event, checkout_event, enqueue_event, expire_sessions, install_webhook_secret};

use super::gateway::*;

use serde_json::Value;
use sqlx::PgPool;
use std::collections::BTreeMap;
use std::sync::Arc;

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

/// The columns of a `SessionRow`, for tests that read sessions their own way.
pub const SESSION_COLUMNS: &str =
    "id, order_id, amount_cents, currency, product_name, customer_email, metadata, \
     success_url, cancel_url, status, payment_intent, created_at, expires_at";

/// A checkout session by its id.
pub async fn checkout_session(
    db: impl sqlx::PgExecutor<'_>,
    id: &str,
) -> Result<Option<SessionRow>, sqlx::Error> {
    sqlx::query_as!(
        SessionRow,
        r#"SELECT id, order_id, amount_cents, currency, product_name, customer_email, metadata,
                  success_url, cancel_url, status, payment_intent,
                  created_at AS "created_at: chrono::DateTime<chrono::Utc>", expires_at AS "expires_at: chrono::DateTime<chrono::Utc>"
             FROM sandbox_checkout_sessions WHERE id = $1"#,
        id
    )
    .fetch_optional(db)
    .await
}

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
            crate::url::urlencode(return_url),
            crate::url::urlencode(refresh_url)
        )
    }
}
