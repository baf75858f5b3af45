//! The `PaymentGateway` backed by the real Stripe API, through async-stripe.
//!
//! Charges are "separate charges and transfers": the customer pays the platform
//! through Checkout, and the platform later moves each payee's share to their
//! connected account with a transfer in the order's transfer group. Refunds
//! never reverse transfers on their own; the platform decides what to claw back
//! and does it with explicit transfer reversals.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use ::stripe::{
    ApiErrorsCode, Client, ClientBuilder, IdempotencyKey, RequestStrategy, StripeError, StripeRequest,
};
use stripe_checkout::checkout_session::{
    CreateCheckoutSession, CreateCheckoutSessionLineItems, CreateCheckoutSessionLineItemsPriceData,
    CreateCheckoutSessionPaymentIntentData, ProductData, RetrieveCheckoutSession,
};
use stripe_connect::account::{
    CreateAccount, CreateAccountBusinessProfile, CreateAccountCapabilities,
    CreateAccountCapabilitiesTransfers, CreateAccountController, CreateAccountControllerFees,
    CreateAccountControllerFeesPayer, CreateAccountControllerLosses, CreateAccountControllerLossesPayments,
    CreateAccountControllerRequirementCollection, CreateAccountControllerStripeDashboard,
    CreateAccountControllerStripeDashboardType, RetrieveAccount,
};
use stripe_connect::account_link::{CreateAccountLink, CreateAccountLinkType};
use stripe_connect::transfer::{CreateTransfer, ListTransfer, RetrieveTransfer};
use stripe_connect::transfer_reversal::CreateIdTransferReversal;
use stripe_core::refund::{CreateRefund, ListRefund};
use stripe_shared::{
    Account, AccountBusinessType, CheckoutSessionMode, CheckoutSessionPaymentStatus, CheckoutSessionStatus,
    Refund, Transfer,
};
use stripe_types::{Currency, RangeQueryTs};

use super::gateway::{
    AccountLinkRequest, CheckoutRequest, CheckoutSession, CheckoutSessionInfo, CheckoutStatus,
    ConnectAccountRequest, ConnectedAccount, GatewayError, GatewayMode, PayeeKind, PaymentGateway,
    RefundInfo, RefundRequest, ReversalInfo, ReversalRequest, TransferInfo, TransferRequest,
};

/// The async client has no timeout of its own; without one a stalled connection
/// would hold a request handler (or a payout job) forever. Matches the default of
/// Stripe's official libraries.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(80);

/// The largest page Stripe serves, to keep reconciliation runs to few requests.
const PAGE_SIZE: i64 = 100;

mod convert;
use convert::*;

#[derive(Clone)]
pub struct StripeGateway {
    client: Client,
}

impl std::fmt::Debug for StripeGateway {
    // Kept opaque so the secret key can never end up in a log line.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StripeGateway").finish_non_exhaustive()
    }
}

impl StripeGateway {
    /// A gateway for `secret_key`, talking to `api_base` (default
    /// `https://api.stripe.com/`). A trailing slash is added to `api_base` when
    /// missing, since the client appends `v1/...` to it.
    ///
    /// # Panics
    /// If the key is not usable as a header value or `api_base` is not a valid
    /// URL; both are configuration mistakes that should stop the server at start.
    pub fn new(secret_key: &str, api_base: Option<&str>) -> Self {
        Self::try_new(secret_key, api_base).expect("invalid Stripe configuration")
    }

    /// Like [`StripeGateway::new`], but reports a bad key or URL instead of panicking.
    pub fn try_new(secret_key: &str, api_base: Option<&str>) -> Result<Self, GatewayError> {
        let mut builder = ClientBuilder::new(secret_key).timeout(REQUEST_TIMEOUT);
        if let Some(base) = api_base {
            let base = if base.ends_with('/') { base.to_owned() } else { format!("{base}/") };
            builder = builder.url(base);
        }
        let client = builder.build().map_err(|e| GatewayError::InvalidRequest(e.to_string()))?;
        Ok(Self { client })
    }
}

#[async_trait::async_trait]
impl PaymentGateway for StripeGateway {
    fn mode(&self) -> GatewayMode {
        GatewayMode::Stripe
    }

    async fn create_checkout_session(&self, req: &CheckoutRequest) -> Result<CheckoutSession, GatewayError> {
        let metadata = metadata_param(req.metadata());

        let mut product = ProductData::new(req.product_name.clone());
        product.description = non_empty(&req.description);
        let mut price = CreateCheckoutSessionLineItemsPriceData::new(currency(&req.currency));
        price.unit_amount = Some(req.amount_cents);
        price.product_data = Some(product);
        let mut line_item = CreateCheckoutSessionLineItems::new();
        line_item.price_data = Some(price);
        line_item.quantity = Some(1);

        // The PaymentIntent carries the same metadata so that charge, refund and
        // dispute events can be tied back to the order without the session.
        let mut intent = CreateCheckoutSessionPaymentIntentData::new();
        intent.metadata = Some(metadata.clone());
        intent.transfer_group = Some(req.transfer_group());

        let mut create = CreateCheckoutSession::new()
            .mode(CheckoutSessionMode::Payment)
            .line_items(vec![line_item])
            .metadata(metadata)
            .payment_intent_data(intent)
            .client_reference_id(req.order_id.to_string())
            .success_url(req.success_url.clone())
            .cancel_url(req.cancel_url.clone());
        if let Some(email) = non_empty(&req.customer_email) {
            create = create.customer_email(email);
        }

        let session = create
            .customize()
            .request_strategy(idempotent(&req.idempotency_key)?)
            .send(&self.client)
            .await
            .map_err(map_error)?;
        let url = session.url.ok_or_else(|| {
            GatewayError::InvalidRequest(format!("checkout session {} came back without a url", session.id))
        })?;
        Ok(CheckoutSession { id: session.id.to_string(), url })
    }

    async fn retrieve_checkout_session(&self, id: &str) -> Result<CheckoutSessionInfo, GatewayError> {
        let session =
            RetrieveCheckoutSession::new(object_id(id)?).send(&self.client).await.map_err(map_error)?;
        let status = match session.status {
            Some(CheckoutSessionStatus::Complete) => CheckoutStatus::Complete,
            Some(CheckoutSessionStatus::Expired) => CheckoutStatus::Expired,
            // A status this client does not know yet is treated as still open, so
            // nothing gets fulfilled or cancelled on a guess; `paid` is reported apart.
            _ => CheckoutStatus::Open,
        };
        Ok(CheckoutSessionInfo {
            id: session.id.to_string(),
            status,
            paid: session.payment_status == CheckoutSessionPaymentStatus::Paid,
            amount_total_cents: session.amount_total,
            currency: session.currency.map(|c| c.to_string()),
            payment_intent: session.payment_intent.map(|pi| pi.id().to_string()),
            metadata: session.metadata.map(sorted).unwrap_or_default(),
        })
    }

    async fn create_connected_account(
        &self,
        req: &ConnectAccountRequest,
    ) -> Result<ConnectedAccount, GatewayError> {
        // Controller properties instead of the legacy `type=express`: the platform
        // pays Stripe's fees and carries negative balances (required with the
        // Express dashboard), while Stripe collects KYC requirements itself.
        let mut fees = CreateAccountControllerFees::new();
        fees.payer = Some(CreateAccountControllerFeesPayer::Application);
        let mut losses = CreateAccountControllerLosses::new();
        losses.payments = Some(CreateAccountControllerLossesPayments::Application);
        let mut dashboard = CreateAccountControllerStripeDashboard::new();
        dashboard.type_ = Some(CreateAccountControllerStripeDashboardType::Express);
        let mut controller = CreateAccountController::new();
        controller.fees = Some(fees);
        controller.losses = Some(losses);
        controller.stripe_dashboard = Some(dashboard);
        controller.requirement_collection = Some(CreateAccountControllerRequirementCollection::Stripe);

        // Payees only ever receive transfers; card payments are taken by the platform.
        let mut transfers = CreateAccountCapabilitiesTransfers::new();
        transfers.requested = Some(true);
        let mut capabilities = CreateAccountCapabilities::new();
        capabilities.transfers = Some(transfers);

        let business_type = match req.kind {
            PayeeKind::Workshop => AccountBusinessType::Company,
            PayeeKind::Individual => AccountBusinessType::Individual,
        };

        let mut create = CreateAccount::new()
            .controller(controller)
            .capabilities(capabilities)
            .business_type(business_type)
            .country(req.country.clone())
            .metadata(metadata_param(req.metadata.clone()));
        if let Some(email) = non_empty(&req.email) {
            create = create.email(email);
        }
        if let Some(name) = non_empty(&req.display_name) {
            // Prefills onboarding, so the payee does not retype the name they signed up with.
            let mut profile = CreateAccountBusinessProfile::new();
            profile.name = Some(name);
            create = create.business_profile(profile);
        }

        let account = create
            .customize()
            .request_strategy(idempotent(&req.idempotency_key)?)
            .send(&self.client)
            .await
            .map_err(map_error)?;
        Ok(connected_account(account))
    }

    async fn retrieve_account(&self, id: &str) -> Result<ConnectedAccount, GatewayError> {
        let account = RetrieveAccount::new(object_id(id)?).send(&self.client).await.map_err(map_error)?;
        Ok(connected_account(account))
    }

    async fn create_account_link(&self, req: &AccountLinkRequest) -> Result<String, GatewayError> {
        let link =
            CreateAccountLink::new(object_id(&req.account_id)?, CreateAccountLinkType::AccountOnboarding)
                .refresh_url(req.refresh_url.clone())
                .return_url(req.return_url.clone())
                .send(&self.client)
                .await
                .map_err(map_error)?;
        Ok(link.url)
    }

    async fn create_transfer(&self, req: &TransferRequest) -> Result<TransferInfo, GatewayError> {
        let mut create = CreateTransfer::new(currency(&req.currency), object_id(&req.destination)?)
            .amount(req.amount_cents)
            .metadata(metadata_param(req.metadata.clone()));
        if let Some(group) = req.transfer_group.as_deref().and_then(non_empty) {
            create = create.transfer_group(group);
        }
        if let Some(description) = non_empty(&req.description) {
            create = create.description(description);
        }
        let transfer = create
            .customize()
            .request_strategy(idempotent(&req.idempotency_key)?)
            .send(&self.client)
            .await
            .map_err(map_error)?;
        Ok(transfer_info(transfer))
    }

    async fn retrieve_transfer(&self, id: &str) -> Result<TransferInfo, GatewayError> {
        let transfer = RetrieveTransfer::new(object_id(id)?).send(&self.client).await.map_err(map_error)?;
        Ok(transfer_info(transfer))
    }

    async fn list_transfers(&self, created_gte: i64) -> Result<Vec<TransferInfo>, GatewayError> {
        let mut all = Vec::new();
        let mut starting_after: Option<String> = None;
        loop {
            let mut list = ListTransfer::new().created(RangeQueryTs::gte(created_gte)).limit(PAGE_SIZE);
            if let Some(cursor) = &starting_after {
                list = list.starting_after(cursor.clone());
            }
            let page = list.send(&self.client).await.map_err(map_error)?;
            let has_more = page.has_more;
            let last = page.data.last().map(|t| t.id.to_string());
            all.extend(page.data.into_iter().map(transfer_info));
            // An empty page claiming more would otherwise loop forever on the same cursor.
            match last {
                Some(last) if has_more => starting_after = Some(last),
                _ => break,
            }
        }
        Ok(all)
    }

    async fn create_transfer_reversal(&self, req: &ReversalRequest) -> Result<ReversalInfo, GatewayError> {
        let reversal = CreateIdTransferReversal::new(object_id(&req.transfer_id)?)
            .amount(req.amount_cents)
            .metadata(metadata_param(req.metadata.clone()))
            .customize()
            .request_strategy(idempotent(&req.idempotency_key)?)
            .send(&self.client)
            .await
            .map_err(map_error)?;
        Ok(ReversalInfo {
            id: reversal.id.to_string(),
            transfer_id: reversal.transfer.id().to_string(),
            amount_cents: reversal.amount,
        })
    }

    async fn create_refund(&self, req: &RefundRequest) -> Result<RefundInfo, GatewayError> {
        // No `reverse_transfer`: the charge lives on the platform, and which
        // payee gives back how much is decided (and reversed) by the platform.
        let refund = CreateRefund::new()
            .payment_intent(object_id(&req.payment_intent)?)
            .amount(req.amount_cents)
            .metadata(metadata_param(req.metadata.clone()))
            .customize()
            .request_strategy(idempotent(&req.idempotency_key)?)
            .send(&self.client)
            .await
            .map_err(map_error)?;
        Ok(refund_info(refund))
    }

    async fn list_refunds(&self, created_gte: i64) -> Result<Vec<RefundInfo>, GatewayError> {
        let mut all = Vec::new();
        let mut starting_after: Option<String> = None;
        loop {
            let mut list = ListRefund::new().created(RangeQueryTs::gte(created_gte)).limit(PAGE_SIZE);
            if let Some(cursor) = &starting_after {
                list = list.starting_after(cursor.clone());
            }
            let page = list.send(&self.client).await.map_err(map_error)?;
            let has_more = page.has_more;
            let last = page.data.last().map(|r| r.id.to_string());
            all.extend(page.data.into_iter().map(refund_info));
            match last {
                Some(last) if has_more => starting_after = Some(last),
                _ => break,
            }
        }
        Ok(all)
    }
}

#[cfg(test)]
mod tests;
