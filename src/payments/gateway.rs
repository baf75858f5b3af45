//! The payment gateway seen by the rest of the app: one trait, two
//! implementations. `stripe::StripeGateway` talks to Stripe through async-stripe
//! when `STRIPE_SECRET_KEY` is set; `sandbox::SandboxGateway` stands in for
//! Stripe Checkout and Connect otherwise, with its own hosted pages and signed
//! webhooks delivered to the app's own webhook endpoint.
//!
//! Amounts are integer cents; currencies are lower-case ISO codes ("usd").

use std::collections::BTreeMap;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GatewayMode {
    Stripe,
    Sandbox,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GatewayError {
    /// The gateway refused the request as invalid (Stripe 4xx other than 409 and 429).
    #[error("the payment provider refused the request: {0}")]
    InvalidRequest(String),
    /// Not reachable, rate limited, busy with the same idempotency key, or failing
    /// (Stripe 409/429/5xx, network errors): retry later.
    #[error("the payment provider is unavailable: {0}")]
    Unavailable(String),
    /// The object asked for does not exist.
    #[error("not found at the payment provider: {0}")]
    NotFound(String),
}

impl GatewayError {
    pub fn is_retryable(&self) -> bool {
        matches!(self, GatewayError::Unavailable(_))
    }
}

/// What a Checkout Session is created from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckoutRequest {
    pub order_id: uuid::Uuid,
    pub customer_id: uuid::Uuid,
    pub customer_email: String,
    pub plan_code: String,
    /// Shown on the payment page, e.g. "Video diagnosis (15 min)".
    pub product_name: String,
    pub description: String,
    pub amount_cents: i64,
    pub currency: String,
    pub preferred_workshop_id: Option<uuid::Uuid>,
    /// "broadcast", "workshop_only" or "hybrid".
    pub routing_type: String,
    pub success_url: String,
    pub cancel_url: String,
    /// Sent as the Idempotency-Key: a retry returns the same session.
    pub idempotency_key: String,
}

impl CheckoutRequest {
    /// The metadata put on the Checkout Session (and its PaymentIntent), read back by the webhook.
    pub fn metadata(&self) -> BTreeMap<String, String> {
        let mut m = BTreeMap::new();
        m.insert("order_id".into(), self.order_id.to_string());
        m.insert("plan".into(), self.plan_code.clone());
        m.insert("user_id".into(), self.customer_id.to_string());
        m.insert(
            "preferred_workshop_id".into(),
            self.preferred_workshop_id.map(|w| w.to_string()).unwrap_or_default(),
        );
        m.insert("routing_type".into(), self.routing_type.clone());
        m
    }

    /// Groups the charge with the transfers paid out of it later.
    pub fn transfer_group(&self) -> String {
        format!("order_{}", self.order_id)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckoutSession {
    pub id: String,
    /// Where to send the customer to pay.
    pub url: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CheckoutStatus {
    Open,
    Complete,
    Expired,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckoutSessionInfo {
    pub id: String,
    pub status: CheckoutStatus,
    pub paid: bool,
    pub amount_total_cents: Option<i64>,
    pub currency: Option<String>,
    pub payment_intent: Option<String>,
    pub metadata: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PayeeKind {
    /// A workshop (a company).
    Workshop,
    /// An independent mechanic (an individual).
    Individual,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectAccountRequest {
    pub email: String,
    pub display_name: String,
    pub kind: PayeeKind,
    /// Two-letter country code of the payee.
    pub country: String,
    /// e.g. {"organization_id": ...} or {"mechanic_id": ...}
    pub metadata: BTreeMap<String, String>,
    pub idempotency_key: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectedAccount {
    pub id: String,
    pub details_submitted: bool,
    pub charges_enabled: bool,
    pub payouts_enabled: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountLinkRequest {
    pub account_id: String,
    pub refresh_url: String,
    pub return_url: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransferRequest {
    pub amount_cents: i64,
    pub currency: String,
    /// The connected account id ("acct_...").
    pub destination: String,
    pub transfer_group: Option<String>,
    pub description: String,
    pub metadata: BTreeMap<String, String>,
    pub idempotency_key: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransferInfo {
    pub id: String,
    pub amount_cents: i64,
    pub amount_reversed_cents: i64,
    pub currency: String,
    pub destination: Option<String>,
    pub transfer_group: Option<String>,
    pub metadata: BTreeMap<String, String>,
    /// Unix seconds.
    pub created: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReversalRequest {
    pub transfer_id: String,
    pub amount_cents: i64,
    pub metadata: BTreeMap<String, String>,
    pub idempotency_key: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReversalInfo {
    pub id: String,
    pub transfer_id: String,
    pub amount_cents: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefundRequest {
    pub payment_intent: String,
    pub amount_cents: i64,
    pub metadata: BTreeMap<String, String>,
    pub idempotency_key: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefundInfo {
    pub id: String,
    pub amount_cents: i64,
    pub currency: String,
    pub payment_intent: Option<String>,
    /// "pending", "succeeded", "failed", "canceled" or "requires_action".
    pub status: String,
    pub metadata: BTreeMap<String, String>,
    /// Unix seconds.
    pub created: i64,
}

#[async_trait::async_trait]
pub trait PaymentGateway: Send + Sync + 'static {
    fn mode(&self) -> GatewayMode;

    async fn create_checkout_session(&self, req: &CheckoutRequest) -> Result<CheckoutSession, GatewayError>;
    async fn retrieve_checkout_session(&self, id: &str) -> Result<CheckoutSessionInfo, GatewayError>;

    async fn create_connected_account(
        &self,
        req: &ConnectAccountRequest,
    ) -> Result<ConnectedAccount, GatewayError>;
    async fn retrieve_account(&self, id: &str) -> Result<ConnectedAccount, GatewayError>;
    /// An onboarding link for the account; returns the URL to send the payee to.
    async fn create_account_link(&self, req: &AccountLinkRequest) -> Result<String, GatewayError>;

    async fn create_transfer(&self, req: &TransferRequest) -> Result<TransferInfo, GatewayError>;
    async fn retrieve_transfer(&self, id: &str) -> Result<TransferInfo, GatewayError>;
    /// Transfers created at or after `created_gte` (Unix seconds), all pages.
    async fn list_transfers(&self, created_gte: i64) -> Result<Vec<TransferInfo>, GatewayError>;
    async fn create_transfer_reversal(&self, req: &ReversalRequest) -> Result<ReversalInfo, GatewayError>;

    async fn create_refund(&self, req: &RefundRequest) -> Result<RefundInfo, GatewayError>;
    /// Refunds created at or after `created_gte` (Unix seconds), all pages.
    async fn list_refunds(&self, created_gte: i64) -> Result<Vec<RefundInfo>, GatewayError>;
}
