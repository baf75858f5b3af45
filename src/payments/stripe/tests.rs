//! Runs `StripeGateway` against a local HTTP fake, so the exact requests it
//! sends (form fields, headers, paths) and its reading of real Stripe objects are
//! checked without the network.

use std::collections::BTreeMap;

use serde_json::{json, Value};
use wiremock::matchers::{header, method, path, query_param, query_param_is_missing};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

use super::StripeGateway;
use crate::payments::gateway::{
    AccountLinkRequest, CheckoutRequest, CheckoutStatus, ConnectAccountRequest, GatewayError, GatewayMode,
    PayeeKind, PaymentGateway, RefundRequest, ReversalRequest, TransferRequest,
};

const ACCOUNT: &str = include_str!("../fixtures/account.json");
const ACCOUNT_LINK: &str = include_str!("../fixtures/account_link.json");
const CHECKOUT_SESSION: &str = include_str!("../fixtures/checkout_session.json");
const TRANSFER: &str = include_str!("../fixtures/transfer.json");
const TRANSFER_REVERSAL: &str = include_str!("../fixtures/transfer_reversal.json");
const REFUND: &str = include_str!("../fixtures/refund.json");

const ORDER_ID: &str = "6f1c2d3e-4b5a-4c6d-8e7f-901a2b3c4d5e";
const CUSTOMER_ID: &str = "0a9b8c7d-6e5f-4a3b-9c2d-1e0f9a8b7c6d";
const WORKSHOP_ID: &str = "11111111-2222-4333-8444-555555555555";

/// A fixture with some fields replaced, so every response stays a complete
/// Stripe object (async-stripe refuses partial ones).
fn fixture(raw: &str, overrides: Value) -> Value {
    let mut value: Value = serde_json::from_str(raw).expect("fixture is JSON");
    let target = value.as_object_mut().expect("fixture is an object");
    for (key, field) in overrides.as_object().expect("overrides are an object") {
        target.insert(key.clone(), field.clone());
    }
    value
}

fn list(url: &str, data: Vec<Value>, has_more: bool) -> Value {
    json!({ "object": "list", "data": data, "has_more": has_more, "url": url })
}

fn stripe_error(kind: &str, code: Option<&str>, message: &str) -> Value {
    json!({ "error": { "type": kind, "code": code, "message": message } })
}

fn ok(body: Value) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(body)
}

fn gateway(server: &MockServer) -> StripeGateway {
    // No trailing slash on purpose: `new` must add the one the client needs.
    StripeGateway::new("sk_test_fake", Some(&server.uri()))
}

/// The body is `application/x-www-form-urlencoded` with percent-encoded
/// bracketed keys; decoded here so assertions read like Stripe's docs.
fn form(request: &Request) -> BTreeMap<String, String> {
    let body = std::str::from_utf8(&request.body).expect("form body is UTF-8");
    let url = reqwest::Url::parse(&format!("http://form.invalid/?{body}")).expect("form body parses");
    url.query_pairs().map(|(k, v)| (k.into_owned(), v.into_owned())).collect()
}

fn query(request: &Request) -> BTreeMap<String, String> {
    request.url.query_pairs().map(|(k, v)| (k.into_owned(), v.into_owned())).collect()
}

fn idempotency_key(request: &Request) -> Option<String> {
    request.headers.get("idempotency-key").map(|v| v.to_str().expect("ASCII header").to_owned())
}

async fn received(server: &MockServer) -> Vec<Request> {
    server.received_requests().await.expect("request recording is on")
}

fn checkout_request() -> CheckoutRequest {
    CheckoutRequest {
        order_id: ORDER_ID.parse().unwrap(),
        customer_id: CUSTOMER_ID.parse().unwrap(),
        customer_email: "driver@example.com".into(),
        plan_code: "video_15".into(),
        product_name: "Video diagnosis (15 min)".into(),
        description: "A mechanic looks at your car over video".into(),
        amount_cents: 2900,
        currency: "usd".into(),
        preferred_workshop_id: Some(WORKSHOP_ID.parse().unwrap()),
        routing_type: "hybrid".into(),
        success_url: "https://autodoctor.test/orders/ok".into(),
        cancel_url: "https://autodoctor.test/orders/cancel".into(),
        idempotency_key: format!("checkout-{ORDER_ID}-1"),
    }
}

fn metadata(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

#[tokio::test]
async fn mode_is_stripe() {
    let server = MockServer::start().await;
    assert_eq!(gateway(&server).mode(), GatewayMode::Stripe);
}

#[tokio::test]
async fn create_checkout_session_sends_line_item_metadata_and_idempotency_key() {
    let server = MockServer::start().await;
    let req = checkout_request();
    let session = fixture(CHECKOUT_SESSION, json!({}));
    Mock::given(method("POST"))
        .and(path("/v1/checkout/sessions"))
        .and(header("Idempotency-Key", req.idempotency_key.as_str()))
        .respond_with(ok(session.clone()))
        .expect(1)
        .mount(&server)
        .await;

    let created = gateway(&server).create_checkout_session(&req).await.unwrap();

    assert_eq!(created.id, session["id"].as_str().unwrap());
    assert_eq!(created.url, session["url"].as_str().unwrap());

    let requests = received(&server).await;
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0].headers.get("authorization").unwrap(), "Bearer sk_test_fake");
    let form = form(&requests[0]);
    let expected = [
        ("mode", "payment"),
        ("line_items[0][quantity]", "1"),
        ("line_items[0][price_data][currency]", "usd"),
        ("line_items[0][price_data][unit_amount]", "2900"),
        ("line_items[0][price_data][product_data][name]", "Video diagnosis (15 min)"),
        ("line_items[0][price_data][product_data][description]", "A mechanic looks at your car over video"),
        ("metadata[order_id]", ORDER_ID),
        ("metadata[user_id]", CUSTOMER_ID),
        ("metadata[plan]", "video_15"),
        ("metadata[routing_type]", "hybrid"),
        ("metadata[preferred_workshop_id]", WORKSHOP_ID),
        ("payment_intent_data[transfer_group]", &format!("order_{ORDER_ID}")),
        ("payment_intent_data[metadata][order_id]", ORDER_ID),
        ("payment_intent_data[metadata][routing_type]", "hybrid"),
        ("payment_intent_data[metadata][preferred_workshop_id]", WORKSHOP_ID),
        ("client_reference_id", ORDER_ID),
        ("customer_email", "driver@example.com"),
        ("success_url", "https://autodoctor.test/orders/ok"),
        ("cancel_url", "https://autodoctor.test/orders/cancel"),
    ];
    for (key, value) in expected {
        assert_eq!(form.get(key).map(String::as_str), Some(value), "form field {key} in {form:#?}");
    }
}

#[tokio::test]
async fn create_checkout_session_leaves_out_empty_workshop_preference() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/checkout/sessions"))
        .respond_with(ok(fixture(CHECKOUT_SESSION, json!({}))))
        .mount(&server)
        .await;
    let req = CheckoutRequest { preferred_workshop_id: None, ..checkout_request() };

    gateway(&server).create_checkout_session(&req).await.unwrap();

    let form = form(&received(&server).await[0]);
    assert!(!form.contains_key("metadata[preferred_workshop_id]"), "{form:#?}");
    assert_eq!(form.get("metadata[order_id]").map(String::as_str), Some(ORDER_ID));
}

/// The key Stripe deduplicates on is the caller's, not one the client makes up per
/// call (as async-stripe's `RequestStrategy::Idempotent` with a random key, or a
/// retry strategy, would): a retry of the same order's checkout sends the same key
/// and the same body (Stripe refuses a replayed key with different parameters), and
/// another order's checkout its own key. (audit L3: this test used to compare two
/// answers of a fake that always gives the same answer.)
#[tokio::test]
async fn create_checkout_session_sends_the_callers_key_and_the_same_body_on_a_retry() {
    let server = MockServer::start().await;
    let req = checkout_request();
    Mock::given(method("POST"))
        .and(path("/v1/checkout/sessions"))
        .respond_with(ok(fixture(CHECKOUT_SESSION, json!({}))))
        .expect(3)
        .mount(&server)
        .await;
    let gateway = gateway(&server);

    let first = gateway.create_checkout_session(&req).await.unwrap();
    let second = gateway.create_checkout_session(&req).await.unwrap();
    let other_order = CheckoutRequest {
        order_id: CUSTOMER_ID.parse().unwrap(),
        idempotency_key: format!("checkout-{CUSTOMER_ID}-1"),
        ..checkout_request()
    };
    gateway.create_checkout_session(&other_order).await.unwrap();

    assert_eq!(first, second);
    let requests = received(&server).await;
    let keys: Vec<_> = requests.iter().map(idempotency_key).collect();
    assert_eq!(
        keys,
        vec![
            Some(req.idempotency_key.clone()),
            Some(req.idempotency_key.clone()),
            Some(other_order.idempotency_key.clone())
        ]
    );
    // The same parameters (in whatever order the client writes them: its metadata
    // is a hash map, and Stripe compares parameters, not bytes).
    assert_eq!(form(&requests[0]), form(&requests[1]), "a retry sends the same parameters");
    assert_ne!(form(&requests[0]), form(&requests[2]), "another order's checkout is another request");
}

#[tokio::test]
async fn create_checkout_session_without_url_is_invalid() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/checkout/sessions"))
        .respond_with(ok(fixture(CHECKOUT_SESSION, json!({ "url": null }))))
        .mount(&server)
        .await;

    let err = gateway(&server).create_checkout_session(&checkout_request()).await.unwrap_err();

    assert!(matches!(err, GatewayError::InvalidRequest(_)), "{err:?}");
}

#[tokio::test]
async fn retrieve_checkout_session_reads_payment_state_and_metadata() {
    let server = MockServer::start().await;
    let session = fixture(
        CHECKOUT_SESSION,
        json!({
            "id": "cs_test_paid",
            "status": "complete",
            "payment_status": "paid",
            "amount_total": 2900,
            "currency": "usd",
            "payment_intent": "pi_paid",
            "metadata": { "order_id": ORDER_ID, "routing_type": "broadcast" },
        }),
    );
    Mock::given(method("GET"))
        .and(path("/v1/checkout/sessions/cs_test_paid"))
        .respond_with(ok(session))
        .expect(1)
        .mount(&server)
        .await;

    let info = gateway(&server).retrieve_checkout_session("cs_test_paid").await.unwrap();

    assert_eq!(info.id, "cs_test_paid");
    assert_eq!(info.status, CheckoutStatus::Complete);
    assert!(info.paid);
    assert_eq!(info.amount_total_cents, Some(2900));
    assert_eq!(info.currency.as_deref(), Some("usd"));
    assert_eq!(info.payment_intent.as_deref(), Some("pi_paid"));
    assert_eq!(info.metadata, metadata(&[("order_id", ORDER_ID), ("routing_type", "broadcast")]));
}

#[tokio::test]
async fn retrieve_checkout_session_open_and_expired() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/v1/checkout/sessions/cs_open"))
        .respond_with(ok(fixture(CHECKOUT_SESSION, json!({ "id": "cs_open" }))))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/v1/checkout/sessions/cs_expired"))
        .respond_with(ok(fixture(CHECKOUT_SESSION, json!({ "id": "cs_expired", "status": "expired" }))))
        .mount(&server)
        .await;
    let gateway = gateway(&server);

    let open = gateway.retrieve_checkout_session("cs_open").await.unwrap();
    let expired = gateway.retrieve_checkout_session("cs_expired").await.unwrap();

    assert_eq!(open.status, CheckoutStatus::Open);
    assert!(!open.paid);
    assert_eq!(open.currency, None);
    assert_eq!(expired.status, CheckoutStatus::Expired);
}

#[tokio::test]
async fn create_connected_account_uses_controller_properties() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/accounts"))
        .and(header("Idempotency-Key", "payee-org-42"))
        .respond_with(ok(fixture(ACCOUNT, json!({ "id": "acct_workshop42" }))))
        .expect(1)
        .mount(&server)
        .await;
    let req = ConnectAccountRequest {
        email: "shop@example.com".into(),
        display_name: "Main Street Garage".into(),
        kind: PayeeKind::Workshop,
        country: "US".into(),
        metadata: metadata(&[("organization_id", "42")]),
        idempotency_key: "payee-org-42".into(),
    };

    let account = gateway(&server).create_connected_account(&req).await.unwrap();

    assert_eq!(account.id, "acct_workshop42");
    assert!(!account.details_submitted);
    let form = form(&received(&server).await[0]);
    let expected = [
        ("controller[fees][payer]", "application"),
        ("controller[losses][payments]", "application"),
        ("controller[stripe_dashboard][type]", "express"),
        ("controller[requirement_collection]", "stripe"),
        ("capabilities[transfers][requested]", "true"),
        ("business_type", "company"),
        ("business_profile[name]", "Main Street Garage"),
        ("email", "shop@example.com"),
        ("country", "US"),
        ("metadata[organization_id]", "42"),
    ];
    for (key, value) in expected {
        assert_eq!(form.get(key).map(String::as_str), Some(value), "form field {key} in {form:#?}");
    }
    // The legacy account type must not be mixed with controller properties.
    assert!(!form.contains_key("type"), "{form:#?}");
}

#[tokio::test]
async fn create_connected_account_for_an_individual() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/accounts"))
        .respond_with(ok(fixture(ACCOUNT, json!({}))))
        .mount(&server)
        .await;
    let req = ConnectAccountRequest {
        email: "mech@example.com".into(),
        display_name: "Sam Wrench".into(),
        kind: PayeeKind::Individual,
        country: "US".into(),
        metadata: metadata(&[("mechanic_id", "7")]),
        idempotency_key: "payee-mech-7".into(),
    };

    gateway(&server).create_connected_account(&req).await.unwrap();

    let form = form(&received(&server).await[0]);
    assert_eq!(form.get("business_type").map(String::as_str), Some("individual"));
    assert_eq!(form.get("metadata[mechanic_id]").map(String::as_str), Some("7"));
}

#[tokio::test]
async fn retrieve_account_reads_onboarding_flags() {
    let server = MockServer::start().await;
    let account = fixture(
        ACCOUNT,
        json!({
            "id": "acct_ready",
            "details_submitted": true,
            "charges_enabled": false,
            "payouts_enabled": true,
        }),
    );
    Mock::given(method("GET"))
        .and(path("/v1/accounts/acct_ready"))
        .respond_with(ok(account))
        .expect(1)
        .mount(&server)
        .await;

    let account = gateway(&server).retrieve_account("acct_ready").await.unwrap();

    assert_eq!(account.id, "acct_ready");
    assert!(account.details_submitted);
    assert!(!account.charges_enabled);
    assert!(account.payouts_enabled);
}

#[tokio::test]
async fn create_account_link_asks_for_onboarding() {
    let server = MockServer::start().await;
    let url = "https://connect.stripe.com/setup/e/acct_ready/abc";
    Mock::given(method("POST"))
        .and(path("/v1/account_links"))
        .respond_with(ok(fixture(ACCOUNT_LINK, json!({ "url": url }))))
        .expect(1)
        .mount(&server)
        .await;
    let req = AccountLinkRequest {
        account_id: "acct_ready".into(),
        refresh_url: "https://autodoctor.test/payouts/refresh".into(),
        return_url: "https://autodoctor.test/payouts/done".into(),
    };

    let link = gateway(&server).create_account_link(&req).await.unwrap();

    assert_eq!(link, url);
    let form = form(&received(&server).await[0]);
    assert_eq!(form.get("account").map(String::as_str), Some("acct_ready"));
    assert_eq!(form.get("type").map(String::as_str), Some("account_onboarding"));
    assert_eq!(form.get("refresh_url").map(String::as_str), Some("https://autodoctor.test/payouts/refresh"));
    assert_eq!(form.get("return_url").map(String::as_str), Some("https://autodoctor.test/payouts/done"));
}

#[tokio::test]
async fn create_transfer_sends_destination_group_and_idempotency_key() {
    let server = MockServer::start().await;
    let group = format!("order_{ORDER_ID}");
    let transfer = fixture(
        TRANSFER,
        json!({
            "id": "tr_payout1",
            "amount": 2175,
            "destination": "acct_workshop42",
            "transfer_group": group,
            "metadata": { "order_id": ORDER_ID },
        }),
    );
    Mock::given(method("POST"))
        .and(path("/v1/transfers"))
        .and(header("Idempotency-Key", "transfer-order-1-workshop"))
        .respond_with(ok(transfer))
        .expect(1)
        .mount(&server)
        .await;
    let req = TransferRequest {
        amount_cents: 2175,
        currency: "USD".into(),
        destination: "acct_workshop42".into(),
        transfer_group: Some(group.clone()),
        description: "Workshop share".into(),
        metadata: metadata(&[("order_id", ORDER_ID)]),
        idempotency_key: "transfer-order-1-workshop".into(),
    };

    let info = gateway(&server).create_transfer(&req).await.unwrap();

    assert_eq!(info.id, "tr_payout1");
    assert_eq!(info.amount_cents, 2175);
    assert_eq!(info.amount_reversed_cents, 0);
    assert_eq!(info.currency, "usd");
    assert_eq!(info.destination.as_deref(), Some("acct_workshop42"));
    assert_eq!(info.transfer_group.as_deref(), Some(group.as_str()));
    assert_eq!(info.metadata, metadata(&[("order_id", ORDER_ID)]));
    assert_eq!(info.created, 1234567890);
    let form = form(&received(&server).await[0]);
    let expected = [
        ("amount", "2175"),
        ("currency", "usd"),
        ("destination", "acct_workshop42"),
        ("transfer_group", group.as_str()),
        ("description", "Workshop share"),
        ("metadata[order_id]", ORDER_ID),
    ];
    for (key, value) in expected {
        assert_eq!(form.get(key).map(String::as_str), Some(value), "form field {key} in {form:#?}");
    }
}

#[tokio::test]
async fn retrieve_transfer_reads_reversed_amount() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/v1/transfers/tr_payout1"))
        .respond_with(ok(fixture(
            TRANSFER,
            json!({ "id": "tr_payout1", "amount_reversed": 500, "reversed": false }),
        )))
        .expect(1)
        .mount(&server)
        .await;

    let info = gateway(&server).retrieve_transfer("tr_payout1").await.unwrap();

    assert_eq!(info.id, "tr_payout1");
    assert_eq!(info.amount_cents, 1100);
    assert_eq!(info.amount_reversed_cents, 500);
    assert_eq!(info.transfer_group, None);
}

#[tokio::test]
async fn create_transfer_reversal_posts_to_the_transfer() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/transfers/tr_payout1/reversals"))
        .and(header("Idempotency-Key", "reversal-refund-1"))
        .respond_with(ok(fixture(
            TRANSFER_REVERSAL,
            json!({ "id": "trr_back1", "amount": 500, "transfer": "tr_payout1" }),
        )))
        .expect(1)
        .mount(&server)
        .await;
    let req = ReversalRequest {
        transfer_id: "tr_payout1".into(),
        amount_cents: 500,
        metadata: metadata(&[("refund_id", "r1")]),
        idempotency_key: "reversal-refund-1".into(),
    };

    let info = gateway(&server).create_transfer_reversal(&req).await.unwrap();

    assert_eq!(info.id, "trr_back1");
    assert_eq!(info.transfer_id, "tr_payout1");
    assert_eq!(info.amount_cents, 500);
    let form = form(&received(&server).await[0]);
    assert_eq!(form.get("amount").map(String::as_str), Some("500"));
    assert_eq!(form.get("metadata[refund_id]").map(String::as_str), Some("r1"));
}

#[tokio::test]
async fn create_refund_does_not_reverse_transfers() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/refunds"))
        .and(header("Idempotency-Key", "refund-order-1"))
        .respond_with(ok(fixture(
            REFUND,
            json!({
                "id": "re_1",
                "amount": 1450,
                "payment_intent": "pi_paid",
                "status": "pending",
                "metadata": { "order_id": ORDER_ID },
            }),
        )))
        .expect(1)
        .mount(&server)
        .await;
    let req = RefundRequest {
        payment_intent: "pi_paid".into(),
        amount_cents: 1450,
        metadata: metadata(&[("order_id", ORDER_ID)]),
        idempotency_key: "refund-order-1".into(),
    };

    let info = gateway(&server).create_refund(&req).await.unwrap();

    assert_eq!(info.id, "re_1");
    assert_eq!(info.amount_cents, 1450);
    assert_eq!(info.currency, "usd");
    assert_eq!(info.payment_intent.as_deref(), Some("pi_paid"));
    assert_eq!(info.status, "pending");
    assert_eq!(info.metadata, metadata(&[("order_id", ORDER_ID)]));
    let form = form(&received(&server).await[0]);
    assert_eq!(form.get("payment_intent").map(String::as_str), Some("pi_paid"));
    assert_eq!(form.get("amount").map(String::as_str), Some("1450"));
    assert_eq!(form.get("metadata[order_id]").map(String::as_str), Some(ORDER_ID));
    assert!(!form.contains_key("reverse_transfer"), "{form:#?}");
    assert!(!form.contains_key("refund_application_fee"), "{form:#?}");
}

#[tokio::test]
async fn list_transfers_follows_pages() {
    let server = MockServer::start().await;
    let transfer = |id: &str, created: i64| fixture(TRANSFER, json!({ "id": id, "created": created }));
    Mock::given(method("GET"))
        .and(path("/v1/transfers"))
        .and(query_param_is_missing("starting_after"))
        .respond_with(ok(list(
            "/v1/transfers",
            vec![transfer("tr_c", 1_700_000_300), transfer("tr_b", 1_700_000_200)],
            true,
        )))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/v1/transfers"))
        .and(query_param("starting_after", "tr_b"))
        .respond_with(ok(list("/v1/transfers", vec![transfer("tr_a", 1_700_000_100)], false)))
        .expect(1)
        .mount(&server)
        .await;

    let transfers = gateway(&server).list_transfers(1_700_000_000).await.unwrap();

    let ids: Vec<_> = transfers.iter().map(|t| t.id.as_str()).collect();
    assert_eq!(ids, ["tr_c", "tr_b", "tr_a"]);
    assert_eq!(transfers[2].created, 1_700_000_100);
    let requests = received(&server).await;
    assert_eq!(requests.len(), 2);
    let first = query(&requests[0]);
    assert_eq!(first.get("created[gte]").map(String::as_str), Some("1700000000"));
    assert!(!first.contains_key("starting_after"));
    let second = query(&requests[1]);
    assert_eq!(second.get("created[gte]").map(String::as_str), Some("1700000000"));
    assert_eq!(second.get("starting_after").map(String::as_str), Some("tr_b"));
}

#[tokio::test]
async fn list_refunds_follows_pages() {
    let server = MockServer::start().await;
    let refund = |id: &str| fixture(REFUND, json!({ "id": id, "payment_intent": "pi_paid" }));
    Mock::given(method("GET"))
        .and(path("/v1/refunds"))
        .and(query_param_is_missing("starting_after"))
        .respond_with(ok(list("/v1/refunds", vec![refund("re_2")], true)))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/v1/refunds"))
        .and(query_param("starting_after", "re_2"))
        .respond_with(ok(list("/v1/refunds", vec![refund("re_1")], false)))
        .expect(1)
        .mount(&server)
        .await;

    let refunds = gateway(&server).list_refunds(1_700_000_000).await.unwrap();

    let ids: Vec<_> = refunds.iter().map(|r| r.id.as_str()).collect();
    assert_eq!(ids, ["re_2", "re_1"]);
    assert_eq!(refunds[0].payment_intent.as_deref(), Some("pi_paid"));
    assert_eq!(refunds[0].status, "succeeded");
    for request in received(&server).await {
        assert_eq!(query(&request).get("created[gte]").map(String::as_str), Some("1700000000"));
    }
}

#[tokio::test]
async fn list_stops_on_an_empty_page_that_claims_more() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/v1/refunds"))
        .respond_with(ok(list("/v1/refunds", vec![], true)))
        .expect(1)
        .mount(&server)
        .await;

    let refunds = gateway(&server).list_refunds(0).await.unwrap();

    assert!(refunds.is_empty());
}

#[tokio::test]
async fn not_found_maps_to_not_found() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/v1/transfers/tr_missing"))
        .respond_with(ResponseTemplate::new(404).set_body_json(stripe_error(
            "invalid_request_error",
            Some("resource_missing"),
            "No such transfer: 'tr_missing'",
        )))
        .mount(&server)
        .await;

    let err = gateway(&server).retrieve_transfer("tr_missing").await.unwrap_err();

    assert_eq!(err, GatewayError::NotFound("No such transfer: 'tr_missing'".into()));
}

#[tokio::test]
async fn resource_missing_on_a_400_maps_to_not_found() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/account_links"))
        .respond_with(ResponseTemplate::new(400).set_body_json(stripe_error(
            "invalid_request_error",
            Some("resource_missing"),
            "No such account: 'acct_gone'",
        )))
        .mount(&server)
        .await;
    let req = AccountLinkRequest {
        account_id: "acct_gone".into(),
        refresh_url: "https://autodoctor.test/r".into(),
        return_url: "https://autodoctor.test/d".into(),
    };

    let err = gateway(&server).create_account_link(&req).await.unwrap_err();

    assert!(matches!(err, GatewayError::NotFound(_)), "{err:?}");
}

#[tokio::test]
async fn server_error_maps_to_unavailable() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/v1/accounts/acct_x"))
        .respond_with(ResponseTemplate::new(500).set_body_json(stripe_error(
            "api_error",
            None,
            "Something went wrong",
        )))
        .mount(&server)
        .await;

    let err = gateway(&server).retrieve_account("acct_x").await.unwrap_err();

    assert_eq!(err, GatewayError::Unavailable("Something went wrong".into()));
    assert!(err.is_retryable());
}

#[tokio::test]
async fn rate_limit_maps_to_unavailable() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/v1/refunds"))
        .respond_with(ResponseTemplate::new(429).set_body_json(stripe_error(
            "invalid_request_error",
            Some("rate_limit"),
            "Too many requests",
        )))
        .mount(&server)
        .await;

    let err = gateway(&server).list_refunds(0).await.unwrap_err();

    assert!(matches!(err, GatewayError::Unavailable(_)), "{err:?}");
}

#[tokio::test]
async fn idempotency_conflict_maps_to_unavailable() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/transfers"))
        .respond_with(ResponseTemplate::new(409).set_body_json(stripe_error(
            "idempotency_error",
            None,
            "There is currently another in-progress request using this Idempotent Key.",
        )))
        .mount(&server)
        .await;
    let req = TransferRequest {
        amount_cents: 100,
        currency: "usd".into(),
        destination: "acct_1".into(),
        transfer_group: None,
        description: String::new(),
        metadata: Default::default(),
        idempotency_key: "payout-1-acct_1".into(),
    };

    let err = gateway(&server).create_transfer(&req).await.unwrap_err();

    assert!(
        matches!(err, GatewayError::Unavailable(_)),
        "a retry later gets the first request's result: {err:?}"
    );
}

#[tokio::test]
async fn card_error_maps_to_invalid_request() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/refunds"))
        .respond_with(ResponseTemplate::new(400).set_body_json(stripe_error(
            "invalid_request_error",
            Some("charge_already_refunded"),
            "Charge ch_1 has already been refunded.",
        )))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/v1/checkout/sessions"))
        .respond_with(ResponseTemplate::new(402).set_body_json(stripe_error(
            "card_error",
            Some("card_declined"),
            "Your card was declined.",
        )))
        .mount(&server)
        .await;
    let gateway = gateway(&server);
    let refund = RefundRequest {
        payment_intent: "pi_paid".into(),
        amount_cents: 100,
        metadata: BTreeMap::new(),
        idempotency_key: "refund-x".into(),
    };

    let refund_err = gateway.create_refund(&refund).await.unwrap_err();
    let card_err = gateway.create_checkout_session(&checkout_request()).await.unwrap_err();

    assert_eq!(refund_err, GatewayError::InvalidRequest("Charge ch_1 has already been refunded.".into()));
    assert_eq!(card_err, GatewayError::InvalidRequest("Your card was declined.".into()));
    assert!(!card_err.is_retryable());
}

#[tokio::test]
async fn unparsable_responses_map_to_unavailable() {
    let server = MockServer::start().await;
    // A proxy's HTML error page: not a Stripe error, so the status is lost.
    Mock::given(method("GET"))
        .and(path("/v1/transfers/tr_html"))
        .respond_with(ResponseTemplate::new(502).set_body_string("<html>Bad Gateway</html>"))
        .mount(&server)
        .await;
    // A success with an object missing required fields.
    Mock::given(method("GET"))
        .and(path("/v1/transfers/tr_partial"))
        .respond_with(ok(json!({ "id": "tr_partial", "object": "transfer" })))
        .mount(&server)
        .await;
    let gateway = gateway(&server);

    let html = gateway.retrieve_transfer("tr_html").await.unwrap_err();
    let partial = gateway.retrieve_transfer("tr_partial").await.unwrap_err();

    assert!(matches!(html, GatewayError::Unavailable(_)), "{html:?}");
    assert!(matches!(partial, GatewayError::Unavailable(ref m) if !m.is_empty()), "{partial:?}");
}

#[tokio::test]
async fn unreachable_stripe_maps_to_unavailable() {
    // A port that was free a moment ago: the connection is refused.
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let gateway = StripeGateway::new("sk_test_fake", Some(&format!("http://127.0.0.1:{port}/")));

    let err = gateway.retrieve_account("acct_x").await.unwrap_err();

    assert!(matches!(err, GatewayError::Unavailable(_)), "{err:?}");
}

#[tokio::test]
async fn ids_that_would_change_the_path_are_refused_before_sending() {
    let server = MockServer::start().await;
    let gateway = gateway(&server);

    let err = gateway.retrieve_transfer("tr_1/reversals").await.unwrap_err();
    let empty = gateway.retrieve_account("").await.unwrap_err();

    assert!(matches!(err, GatewayError::InvalidRequest(_)), "{err:?}");
    assert!(matches!(empty, GatewayError::InvalidRequest(_)), "{empty:?}");
    assert!(received(&server).await.is_empty());
}

#[tokio::test]
async fn empty_idempotency_key_is_refused_before_sending() {
    let server = MockServer::start().await;
    let req = CheckoutRequest { idempotency_key: String::new(), ..checkout_request() };

    let err = gateway(&server).create_checkout_session(&req).await.unwrap_err();

    assert!(matches!(err, GatewayError::InvalidRequest(_)), "{err:?}");
    assert!(received(&server).await.is_empty());
}
