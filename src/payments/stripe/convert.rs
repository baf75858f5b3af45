//! Between async-stripe's types and the gateway's: errors (with their
//! retryability), ids, metadata, currencies and the objects the gateway returns.

use super::*;

/// Sorts Stripe's errors into what the caller can act on: retry later, give up,
/// or treat the object as gone.
pub(super) fn map_error(err: StripeError) -> GatewayError {
    match err {
        StripeError::Stripe(api, status) => {
            let message = api.message.clone().unwrap_or_else(|| format!("{} ({status})", api.type_.as_str()));
            // Stripe answers "No such destination" and the like with 400 +
            // resource_missing; for the caller that is the same as a 404.
            if status == 404 || api.code == Some(ApiErrorsCode::ResourceMissing) {
                GatewayError::NotFound(message)
            } else if status == 409 || status == 429 || status >= 500 {
                // 409: a request with the same idempotency key is still in flight;
                // retrying later returns its result instead of failing a payout.
                GatewayError::Unavailable(message)
            } else {
                GatewayError::InvalidRequest(message)
            }
        }
        // Also what a non-JSON error page (from a proxy, say) turns into: the
        // status is lost, and an unreadable answer is best retried later.
        StripeError::JSONDeserialize(message) => GatewayError::Unavailable(message),
        StripeError::ClientError(message) => GatewayError::Unavailable(message),
        StripeError::Timeout => GatewayError::Unavailable("timed out talking to Stripe".into()),
        StripeError::ConfigError(message) => GatewayError::InvalidRequest(message),
    }
}

pub(super) fn idempotent(key: &str) -> Result<RequestStrategy, GatewayError> {
    IdempotencyKey::new(key)
        .map(RequestStrategy::Idempotent)
        .map_err(|e| GatewayError::InvalidRequest(e.to_string()))
}

/// Ids are pasted into request paths unescaped by async-stripe, so one holding
/// `/` or `?` would reach a different endpoint; Stripe ids never contain more
/// than letters, digits and underscores.
pub(super) fn object_id(id: &str) -> Result<&str, GatewayError> {
    if !id.is_empty() && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
        Ok(id)
    } else {
        Err(GatewayError::InvalidRequest(format!("not a Stripe object id: {id:?}")))
    }
}

/// Stripe rejects an empty string for most optional fields ("cannot be unset"),
/// so an empty value means "leave it out".
pub(super) fn non_empty(value: &str) -> Option<String> {
    let value = value.trim();
    (!value.is_empty()).then(|| value.to_owned())
}

/// An empty metadata value tells Stripe to unset the key, so it would not come
/// back anyway; leaving it out keeps the request what Stripe will store.
pub(super) fn metadata_param(metadata: BTreeMap<String, String>) -> HashMap<String, String> {
    metadata.into_iter().filter(|(_, v)| !v.is_empty()).collect()
}

pub(super) fn sorted(metadata: HashMap<String, String>) -> BTreeMap<String, String> {
    metadata.into_iter().collect()
}

/// Stripe wants lower-case ISO codes; unknown ones are passed through for Stripe to judge.
pub(super) fn currency(code: &str) -> Currency {
    match code.trim().to_ascii_lowercase().parse::<Currency>() {
        Ok(currency) => currency,
        Err(never) => match never {},
    }
}

pub(super) fn connected_account(account: Account) -> ConnectedAccount {
    ConnectedAccount {
        id: account.id.to_string(),
        details_submitted: account.details_submitted.unwrap_or(false),
        charges_enabled: account.charges_enabled.unwrap_or(false),
        payouts_enabled: account.payouts_enabled.unwrap_or(false),
    }
}

pub(super) fn transfer_info(transfer: Transfer) -> TransferInfo {
    TransferInfo {
        id: transfer.id.to_string(),
        amount_cents: transfer.amount,
        amount_reversed_cents: transfer.amount_reversed,
        currency: transfer.currency.to_string(),
        destination: transfer.destination.map(|d| d.id().to_string()),
        transfer_group: transfer.transfer_group,
        metadata: sorted(transfer.metadata),
        created: transfer.created,
    }
}

pub(super) fn refund_info(refund: Refund) -> RefundInfo {
    RefundInfo {
        id: refund.id.to_string(),
        amount_cents: refund.amount,
        currency: refund.currency.to_string(),
        payment_intent: refund.payment_intent.map(|pi| pi.id().to_string()),
        // Read as not settled yet rather than as a success nobody saw.
        status: refund.status.unwrap_or_else(|| "pending".to_owned()),
        metadata: refund.metadata.map(sorted).unwrap_or_default(),
        created: refund.created,
    }
}
