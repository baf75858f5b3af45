//! The directory, checkout and webhook fulfilment against a real database,
//! with the payment sandbox playing Stripe.

use crate::testing::{create_user, TestApp, TestClient, TestResponse, TEST_PASSWORD};
use autodoctor::auth::Role;
use autodoctor::payments::sandbox::{deliver_due, WebhookSender};
use autodoctor::payments::signing::signature_header;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use sqlx::PgPool;
use tower::ServiceExt;
use uuid::Uuid;

/// Delivers sandbox events through the router, as the HTTP deliverer would.
struct RouterSender(axum::Router);

#[async_trait::async_trait]
impl WebhookSender for RouterSender {
    async fn send(&self, payload: String, signature: String) -> Result<u16, String> {
        let req = Request::post("/api/stripe/webhook")
            .header("content-type", "application/json")
            .header("stripe-signature", signature)
            .body(Body::from(payload))
            .unwrap();
        Ok(self.0.clone().oneshot(req).await.map_err(|e| e.to_string())?.status().as_u16())
    }
}

async fn deliver(app: &TestApp) -> usize {
    deliver_due(app.pool(), &app.state.config.stripe_webhook_secret, &RouterSender(app.router.clone()))
        .await
        .unwrap()
}

async fn customer(app: &TestApp, email: &str) -> TestClient {
    create_user(app.pool(), email, Role::Customer).await;
    let mut c = app.client();
    assert_eq!(c.log_in(email, TEST_PASSWORD).await.status, StatusCode::OK);
    c
}

async fn seed_plans(pool: &PgPool) {
    sqlx::query(
        "INSERT INTO plans (code, name, description, price_cents, currency, minutes, sort_order) VALUES
           ('video15', 'Video diagnosis', 'Fifteen minutes on video', 2900, 'usd', 15, 1),
           ('video30', 'In-depth', 'Thirty minutes', 4900, 'usd', 30, 2)",
    )
    .execute(pool)
    .await
    .unwrap();
}

/// An organization with `approved` approved mechanics of whom `online` are online.
async fn workshop(
    pool: &PgPool,
    name: &str,
    city: &str,
    status: &str,
    approved: usize,
    online: usize,
) -> Uuid {
    let id: Uuid = sqlx::query_scalar(
        "INSERT INTO organizations (name, contact_email, city, specialties, status)
         VALUES ($1, 'w@example.com', $2, ARRAY['Brakes', 'Electrical'], $3::organization_status) RETURNING id",
    )
    .bind(name)
    .bind(city)
    .bind(status)
    .fetch_one(pool)
    .await
    .unwrap();
    for i in 0..approved {
        let email = format!("{}-{i}@example.com", name.to_lowercase().replace(' ', "-"));
        let user = create_user(pool, &email, Role::Mechanic).await;
        sqlx::query(
            "INSERT INTO mechanics (user_id, account_type, workshop_id, application_status, years_experience, is_online)
             VALUES ($1, 'workshop', $2, 'approved', 5, $3)",
        )
        .bind(user)
        .bind(id)
        .bind(i < online)
        .execute(pool)
        .await
        .unwrap();
    }
    id
}

fn checkout_fields<'a>(
    key: &'a str,
    plan: &'a str,
    workshop: &'a str,
    routing: &'a str,
) -> Vec<(&'a str, &'a str)> {
    vec![
        ("request_key", key),
        ("plan_code", plan),
        ("vehicle_make", "Toyota"),
        ("vehicle_model", "Corolla"),
        ("vehicle_year", "2016"),
        ("problem_description", "Grinding noise from the front left wheel when braking."),
        ("workshop_id", workshop),
        ("routing_type", routing),
    ]
}

async fn start(c: &mut TestClient, workshop: &str, routing: &str) -> TestResponse {
    let key = Uuid::new_v4().to_string();
    c.call("/api/booking/checkout", &checkout_fields(&key, "video15", workshop, routing)).await
}

/// The sandbox session id at the end of a checkout URL.
fn session_id(url: &str) -> String {
    url.rsplit('/').next().unwrap().to_string()
}

async fn pay(c: &mut TestClient, url: &str, card: &str) -> TestResponse {
    let path = format!("/sandbox/checkout/{}/pay", session_id(url));
    c.post_raw(
        &path,
        "application/x-www-form-urlencoded",
        format!("card_number={card}"),
        &[("origin", crate::testing::ORIGIN)],
    )
    .await
}

#[sqlx::test(migrator = "autodoctor::db::MIGRATOR")]
async fn directory_json_validates_its_parameters(pool: PgPool) {
    let app = TestApp::new(pool);
    let mut c = app.client();
    for q in ["limit=0", "limit=101", "limit=abc", "limit=1.5", "offset=-1", "offset=x", "limit=-5&offset=2"]
    {
        let res = c.get(&format!("/api/workshops/directory?{q}")).await;
        assert_eq!(res.status, StatusCode::BAD_REQUEST, "{q}");
        assert_eq!(res.json()["ok"], false);
        assert!(res.json()["error"].as_str().unwrap().contains("must be"), "{q}: {}", res.body);
    }
    let res = c.get(&format!("/api/workshops/directory?q={}", "x".repeat(101))).await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST);
    let res = c.get("/api/workshops/directory").await;
    assert_eq!(res.status, StatusCode::OK);
    let body = res.json();
    assert_eq!(body["ok"], true);
    assert_eq!(body["limit"], 20);
    assert_eq!(body["offset"], 0);
    assert_eq!(body["total"], 0);
    assert_eq!(body["workshops"], serde_json::json!([]));
}

#[sqlx::test(migrator = "autodoctor::db::MIGRATOR")]
async fn directory_orders_by_online_then_rating_and_searches(pool: PgPool) {
    let app = TestApp::new(pool.clone());
    app.leaves_invariants_broken(
        &["workshop whose session or rating statistics are wrong"],
        "it writes the directory's ratings and counts directly, without the sessions behind them",
    );
    let quiet = workshop(&pool, "Quiet Garage", "Denver", "active", 2, 0).await;
    let busy = workshop(&pool, "Busy Motors", "Austin", "active", 3, 2).await;
    let rated = workshop(&pool, "Rated Repairs", "Austin", "active", 2, 2).await;
    workshop(&pool, "Pending Place", "Austin", "pending", 2, 2).await;
    workshop(&pool, "Empty Shop", "Austin", "active", 0, 0).await;
    // Ratings and sessions as the completion and rating code keeps them.
    sqlx::query("UPDATE workshop_stats SET rating_sum = 45, rating_count = 10, sessions_completed = 10 WHERE workshop_id = $1")
        .bind(rated)
        .execute(&pool)
        .await
        .unwrap();
    sqlx::query("UPDATE workshop_stats SET rating_sum = 40, rating_count = 10, sessions_completed = 12, median_accept_secs_30d = 95 WHERE workshop_id = $1")
        .bind(busy)
        .execute(&pool)
        .await
        .unwrap();

    let mut c = app.client();
    let body = c.get("/api/workshops/directory").await.json();
    let names: Vec<&str> =
        body["workshops"].as_array().unwrap().iter().map(|w| w["workshop_name"].as_str().unwrap()).collect();
    assert_eq!(names, vec!["Rated Repairs", "Busy Motors", "Quiet Garage"], "online desc, then rating");
    assert_eq!(body["total"], 3);
    let first = &body["workshops"][0];
    assert_eq!(first["workshop_id"], rated.to_string());
    assert_eq!(first["workshop_status"], "active");
    assert_eq!(first["available_mechanics"], 2);
    assert_eq!(first["total_mechanics"], 2);
    assert_eq!(first["avg_rating"], 4.5);
    assert_eq!(first["total_sessions"], 10);
    assert_eq!(body["workshops"][1]["median_accept_seconds"], 95);
    assert!(first["created_at"].is_string());
    assert!(body["workshops"][2]["avg_rating"].is_null());

    // Going online or offline moves a workshop at once (the counters follow in the same transaction).
    sqlx::query("UPDATE mechanics SET is_online = true WHERE workshop_id = $1")
        .bind(quiet)
        .execute(&pool)
        .await
        .unwrap();
    let body = c.get("/api/workshops/directory?limit=1").await.json();
    assert_eq!(
        body["workshops"][0]["workshop_name"], "Rated Repairs",
        "2 online + rating 4.5 beats 2 online unrated"
    );
    assert_eq!(body["workshops"].as_array().unwrap().len(), 1);
    assert_eq!(body["total"], 3);
    let body = c.get("/api/workshops/directory?limit=2&offset=2").await.json();
    assert_eq!(body["workshops"][0]["workshop_name"], "Quiet Garage");

    // Search by name, city or specialty; wildcards are literal.
    let names = |b: serde_json::Value| -> Vec<String> {
        b["workshops"]
            .as_array()
            .unwrap()
            .iter()
            .map(|w| w["workshop_name"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(names(c.get("/api/workshops/directory?q=busy").await.json()), vec!["Busy Motors"]);
    assert_eq!(names(c.get("/api/workshops/directory?q=denver").await.json()), vec!["Quiet Garage"]);
    assert_eq!(c.get("/api/workshops/directory?q=electri").await.json()["total"], 3);
    assert_eq!(c.get("/api/workshops/directory?q=%25").await.json()["total"], 0);
    assert_eq!(
        c.get("/api/workshops/directory?offset=50").await.json()["total"],
        3,
        "a page past the end still counts"
    );
}

#[sqlx::test(migrator = "autodoctor::db::MIGRATOR")]
async fn checkout_uses_the_catalog_price_and_freezes_the_fee_terms(pool: PgPool) {
    seed_plans(&pool).await;
    let app = TestApp::new(pool.clone());
    let w = workshop(&pool, "Fee Garage", "Boston", "active", 1, 1).await;
    sqlx::query("UPDATE organizations SET platform_fee_bps = 1500 WHERE id = $1")
        .bind(w)
        .execute(&pool)
        .await
        .unwrap();
    let mut c = customer(&app, "cust@example.com").await;
    let key = Uuid::new_v4().to_string();
    let ws = w.to_string();
    let res = c.call("/api/booking/checkout", &checkout_fields(&key, "video15", &ws, "hybrid")).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    let url = res.json().as_str().unwrap().to_string();
    assert!(url.starts_with("http://127.0.0.1:3000/sandbox/checkout/cs_test_"), "{url}");

    type OrderRow = (i64, String, String, Option<Uuid>, i32, i32, Option<i32>, String);
    let order: OrderRow = sqlx::query_as(
        "SELECT amount_cents, currency, routing_type::text, preferred_workshop_id, platform_fee_bps, referral_fee_bps,
                preferred_workshop_fee_bps, checkout_session_id FROM orders",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(order.0, 2900, "the catalog's price");
    assert_eq!((order.1.as_str(), order.2.as_str(), order.3), ("usd", "hybrid", Some(w)));
    assert_eq!((order.4, order.5, order.6), (2000, 1000, Some(1500)));
    assert_eq!(order.7, session_id(&url));

    // The gateway got the order's metadata.
    let metadata: serde_json::Value =
        sqlx::query_scalar("SELECT metadata FROM sandbox_checkout_sessions").fetch_one(&pool).await.unwrap();
    let order_id: Uuid = sqlx::query_scalar("SELECT id FROM orders").fetch_one(&pool).await.unwrap();
    assert_eq!(metadata["order_id"], order_id.to_string());
    assert_eq!(metadata["plan"], "video15");
    assert_eq!(metadata["preferred_workshop_id"], w.to_string());
    assert_eq!(metadata["routing_type"], "hybrid");
    let user: Uuid = sqlx::query_scalar("SELECT id FROM users WHERE email = 'cust@example.com'")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(metadata["user_id"], user.to_string());

    // The same form again: the same order and payment page.
    let again = c.call("/api/booking/checkout", &checkout_fields(&key, "video15", &ws, "hybrid")).await;
    assert_eq!(again.json().as_str().unwrap(), url);
    let (orders, sessions): (i64, i64) = sqlx::query_as(
        "SELECT (SELECT count(*) FROM orders), (SELECT count(*) FROM sandbox_checkout_sessions)",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!((orders, sessions), (1, 1));
}

#[sqlx::test(migrator = "autodoctor::db::MIGRATOR")]
async fn checkout_refuses_bad_choices_with_a_message(pool: PgPool) {
    seed_plans(&pool).await;
    let app = TestApp::new(pool.clone());
    let pending = workshop(&pool, "Pending Garage", "Reno", "pending", 1, 1).await.to_string();
    let suspended = workshop(&pool, "Suspended Garage", "Reno", "suspended", 1, 1).await.to_string();
    let mut c = customer(&app, "cust@example.com").await;
    for (workshop, routing, field) in [
        ("", "workshop_only", "workshop_id"),
        ("", "hybrid", "workshop_id"),
        (pending.as_str(), "workshop_only", "workshop_id"),
        (suspended.as_str(), "hybrid", "workshop_id"),
        ("not-a-uuid", "hybrid", "workshop_id"),
        (&Uuid::new_v4().to_string(), "hybrid", "workshop_id"),
        ("", "telepathy", "routing_type"),
    ] {
        let res = start(&mut c, workshop, routing).await;
        assert_eq!(res.status, StatusCode::BAD_REQUEST, "{workshop} {routing}: {}", res.body);
        assert!(res.app_error().field_message(field).is_some(), "{field}: {}", res.body);
    }
    let key = Uuid::new_v4().to_string();
    let res = c.call("/api/booking/checkout", &checkout_fields(&key, "gold-plated", "", "broadcast")).await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST);
    assert!(res.app_error().field_message("plan_code").is_some());
    let orders: i64 = sqlx::query_scalar("SELECT count(*) FROM orders").fetch_one(&pool).await.unwrap();
    assert_eq!(orders, 0, "no bad booking made an order");

    // Only customers book.
    create_user(&pool, "mech@example.com", Role::Mechanic).await;
    let mut mech = app.client();
    mech.log_in("mech@example.com", TEST_PASSWORD).await;
    assert_eq!(start(&mut mech, "", "broadcast").await.status, StatusCode::FORBIDDEN);
}

#[sqlx::test(migrator = "autodoctor::db::MIGRATOR")]
async fn paying_in_the_sandbox_creates_one_request_through_the_signed_webhook(pool: PgPool) {
    seed_plans(&pool).await;
    let app = TestApp::new(pool.clone());
    let w = workshop(&pool, "Only Garage", "Miami", "active", 2, 1).await;
    let mut c = customer(&app, "cust@example.com").await;
    let url = start(&mut c, &w.to_string(), "workshop_only").await.json().as_str().unwrap().to_string();

    // A declined card: a clear message, no event, no request.
    let declined = pay(&mut c, &url, "4000 0000 0000 0002").await;
    assert_eq!(declined.status, StatusCode::PAYMENT_REQUIRED);
    assert!(declined.body.contains("Your card was declined"));
    assert_eq!(deliver(&app).await, 0);
    let bad = pay(&mut c, &url, "1234").await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);

    let paid = pay(&mut c, &url, "4242 4242 4242 4242").await;
    assert_eq!(paid.status, StatusCode::SEE_OTHER);
    assert!(paid.header("location").unwrap().contains("/checkout/return?order="));
    assert_eq!(deliver(&app).await, 1);

    let (status, amount, pi): (String, i64, Option<String>) =
        sqlx::query_as("SELECT status::text, amount_paid_cents, payment_intent_id FROM orders")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!((status.as_str(), amount), ("paid", 2900));
    assert!(pi.unwrap().starts_with("pi_sbx_"));
    let (preferred, routing, req_status): (Option<Uuid>, String, String) = sqlx::query_as(
        "SELECT preferred_workshop_id, routing_type::text, status::text FROM session_requests",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!((preferred, routing.as_str(), req_status.as_str()), (Some(w), "workshop_only", "pending"));
    let preferred_count: i64 =
        sqlx::query_scalar("SELECT requests_preferred FROM workshop_stats WHERE workshop_id = $1")
            .bind(w)
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(preferred_count, 1);

    // The customer sees it waiting for a mechanic.
    let orders = c.call("/api/booking/mine", &[]).await.json();
    assert_eq!(orders[0]["status"], "paid");
    assert_eq!(orders[0]["request_status"], "pending");
}

/// Pays a fresh order in the sandbox and returns the queued (signed later) event payload.
async fn paid_event(app: &TestApp, c: &mut TestClient) -> String {
    let url = start(c, "", "broadcast").await.json().as_str().unwrap().to_string();
    pay(c, &url, "4242424242424242").await;
    sqlx::query_scalar("SELECT payload FROM sandbox_webhook_deliveries ORDER BY id DESC LIMIT 1")
        .fetch_one(app.pool())
        .await
        .unwrap()
}

async fn post_webhook(app: &TestApp, payload: &str, signature: &str) -> TestResponse {
    app.client()
        .post_raw(
            "/api/stripe/webhook",
            "application/json",
            payload.to_string(),
            &[("stripe-signature", signature)],
        )
        .await
}

async fn counts(pool: &PgPool) -> (i64, i64, i64) {
    sqlx::query_as(
        "SELECT (SELECT count(*) FROM orders WHERE status = 'paid'), (SELECT count(*) FROM session_requests),
                (SELECT count(*) FROM stripe_events)",
    )
    .fetch_one(pool)
    .await
    .unwrap()
}

/// Events that are not signed by the configured secret (a body altered after it
/// was signed, a stale timestamp, another secret, a bad or missing header) are
/// refused, and no table changes at all.
#[sqlx::test(migrator = "autodoctor::db::MIGRATOR")]
async fn badly_signed_stale_and_unsigned_webhooks_change_nothing(pool: PgPool) {
    seed_plans(&pool).await;
    let app = TestApp::new(pool.clone());
    let mut c = customer(&app, "cust@example.com").await;
    let payload = paid_event(&app, &mut c).await;
    let secret = app.state.config.stripe_webhook_secret.clone();
    let now = chrono::Utc::now().timestamp();
    let mut watch = crate::testing::ChangeWatch::install(&pool).await;

    let altered = payload.replacen("\"amount_total\":2900", "\"amount_total\":1", 1);
    assert_ne!(altered, payload);
    let cases = [
        ("altered after signing", altered.clone(), signature_header(&secret, now, &payload)),
        ("ten minutes old", payload.clone(), signature_header(&secret, now - 600, &payload)),
        ("another secret", payload.clone(), signature_header("whsec_wrong", now, &payload)),
        ("a made-up signature", payload.clone(), "t=1,v1=deadbeef".to_string()),
        ("an empty signature", payload.clone(), String::new()),
        (
            "not an event",
            "{\"not\":\"an event\"}".to_string(),
            signature_header(&secret, now, "{\"not\":\"an event\"}"),
        ),
    ];
    for (what, body, sig) in cases {
        watch.settle().await;
        let res = post_webhook(&app, &body, &sig).await;
        assert_eq!(res.status, StatusCode::BAD_REQUEST, "{what}: {}", res.body);
        assert_eq!(watch.changes().await, Vec::<String>::new(), "{what} changed nothing");
    }
    watch.settle().await;
    let no_header =
        app.client().post_raw("/api/stripe/webhook", "application/json", payload.clone(), &[]).await;
    assert_eq!(no_header.status, StatusCode::BAD_REQUEST);
    assert_eq!(watch.changes().await, Vec::<String>::new(), "no header changed nothing");
    assert_eq!(counts(&pool).await, (0, 0, 0), "nothing paid, offered or recorded");

    // The positive control: the genuine event, correctly signed, pays the order.
    let res = post_webhook(&app, &payload, &signature_header(&secret, now, &payload)).await;
    assert_eq!(res.json()["outcome"], "fulfilled", "{}", res.body);
    assert_eq!(counts(&pool).await, (1, 1, 1));
}

/// Issue 20: events correctly signed but tampered with (any amount but the price,
/// no amount, another currency, another order's id in the metadata, another
/// checkout session) never fulfil an order: no order is paid, none is offered
/// to a mechanic, nothing reaches the ledger, and the only rows that change are
/// the event's own record and, for a payment of the wrong amount or currency,
/// the order it names, now held.
#[sqlx::test(migrator = "autodoctor::db::MIGRATOR")]
async fn correctly_signed_tampered_webhooks_never_fulfil_an_order(pool: PgPool) {
    seed_plans(&pool).await;
    let app = TestApp::new(pool.clone());
    let mut c = customer(&app, "cust@example.com").await;
    let mut watch = crate::testing::ChangeWatch::install(&pool).await;
    let order_of = |payload: &str| -> Uuid {
        serde_json::from_str::<serde_json::Value>(payload).unwrap()["data"]["object"]["metadata"]["order_id"]
            .as_str()
            .unwrap()
            .parse()
            .unwrap()
    };
    type Change = Box<dyn Fn(&mut serde_json::Value, &str)>;
    let amount = |v: serde_json::Value| -> Change {
        Box::new(move |e, _| e["data"]["object"]["amount_total"] = v.clone())
    };
    let cases: Vec<(&str, Change, bool)> = vec![
        ("nothing paid", amount(serde_json::json!(0)), true),
        ("one cent", amount(serde_json::json!(1)), true),
        ("a cent short", amount(serde_json::json!(2899)), true),
        ("a cent too much", amount(serde_json::json!(2901)), true),
        ("the price of the other plan", amount(serde_json::json!(4900)), true),
        ("no amount", amount(serde_json::Value::Null), true),
        (
            "another currency",
            Box::new(|e, _| e["data"]["object"]["currency"] = serde_json::json!("eur")),
            true,
        ),
        (
            "another order's id in the metadata",
            Box::new(|e, other| e["data"]["object"]["metadata"]["order_id"] = serde_json::json!(other)),
            false,
        ),
        (
            "another checkout session",
            Box::new(|e, _| e["data"]["object"]["id"] = serde_json::json!("cs_test_someone_elses")),
            false,
        ),
    ];
    let n = cases.len() as i64;
    for (what, change, holds) in cases {
        // The event's own order, and another one awaiting payment (at the same price).
        let payload = paid_event(&app, &mut c).await;
        let other_payload = paid_event(&app, &mut c).await;
        let (order, other) = (order_of(&payload), order_of(&other_payload));
        let other_text = other.to_string();
        let (body, sig) = resigned(&app, &payload, |e| change(e, &other_text));
        watch.settle().await;
        let res = post_webhook(&app, &body, &sig).await;
        assert_eq!(res.status, StatusCode::OK, "{what}: {}", res.body);
        let mut changed = watch.changes().await;
        changed.sort();
        let expected: Vec<String> =
            if holds { vec!["orders".into(), "stripe_events".into()] } else { vec!["stripe_events".into()] };
        assert_eq!(changed, expected, "{what}: only the event's record (and the held order) change");
        let states: Vec<(Uuid, String, i64, i64)> = sqlx::query_as(
            "SELECT o.id, o.status::text, (SELECT count(*) FROM session_requests r WHERE r.order_id = o.id),
                    (SELECT count(*) FROM journal_entries e WHERE e.order_id = o.id)
               FROM orders o WHERE o.id = ANY($1) ORDER BY o.id = $2 DESC",
        )
        .bind(vec![order, other])
        .bind(order)
        .fetch_all(&pool)
        .await
        .unwrap();
        let want = if holds { "held" } else { "awaiting_payment" };
        assert_eq!(
            states,
            vec![(order, want.to_string(), 0, 0), (other, "awaiting_payment".to_string(), 0, 0)],
            "{what}: not paid, not offered, nothing in the ledger"
        );
        assert_eq!(autodoctor::consistency::check(&pool).await.unwrap(), Vec::<String>::new(), "{what}");
        // The other order's genuine event still pays it, at its price (a positive control).
        let genuine = signature_header(
            &app.state.config.stripe_webhook_secret,
            chrono::Utc::now().timestamp(),
            &other_payload,
        );
        let res = post_webhook(&app, &other_payload, &genuine).await;
        assert_eq!(res.json()["outcome"], "fulfilled", "{what}: {}", res.body);
    }
    assert_eq!(counts(&pool).await.0, n, "the genuine events paid their orders, and nothing else paid any");
}

#[sqlx::test(migrator = "autodoctor::db::MIGRATOR")]
async fn a_thousand_replays_of_one_event_create_one_request(pool: PgPool) {
    seed_plans(&pool).await;
    let app = TestApp::new(pool.clone());
    let mut c = customer(&app, "cust@example.com").await;
    let payload = paid_event(&app, &mut c).await;
    let sig =
        signature_header(&app.state.config.stripe_webhook_secret, chrono::Utc::now().timestamp(), &payload);
    let mut outcomes = std::collections::BTreeMap::<String, usize>::new();
    // Concurrently, in batches, as a retrying provider and a flaky network would.
    for _ in 0..20 {
        let mut tasks = Vec::new();
        for _ in 0..50 {
            let router = app.router.clone();
            let (payload, sig) = (payload.clone(), sig.clone());
            tasks.push(tokio::spawn(async move {
                let req = Request::post("/api/stripe/webhook")
                    .header("content-type", "application/json")
                    .header("stripe-signature", sig)
                    .body(Body::from(payload))
                    .unwrap();
                let res = router.oneshot(req).await.unwrap();
                assert_eq!(res.status(), StatusCode::OK);
                let body = axum::body::to_bytes(res.into_body(), 1 << 16).await.unwrap();
                serde_json::from_slice::<serde_json::Value>(&body).unwrap()["outcome"]
                    .as_str()
                    .unwrap()
                    .to_string()
            }));
        }
        for t in tasks {
            *outcomes.entry(t.await.unwrap()).or_default() += 1;
        }
    }
    assert_eq!(outcomes.get("fulfilled"), Some(&1), "{outcomes:?}");
    assert_eq!(outcomes.get("duplicate"), Some(&999), "{outcomes:?}");
    assert_eq!(counts(&pool).await, (1, 1, 1));
}

#[sqlx::test(migrator = "autodoctor::db::MIGRATOR")]
async fn events_out_of_order_and_of_unknown_types(pool: PgPool) {
    seed_plans(&pool).await;
    let app = TestApp::new(pool.clone());
    let secret = app.state.config.stripe_webhook_secret.clone();
    let now = chrono::Utc::now().timestamp();
    let mut c = customer(&app, "cust@example.com").await;

    // Completed, then an expiry for the same session arrives late: stays paid.
    let completed = paid_event(&app, &mut c).await;
    let expired_late = completed
        .replacen("\"type\":\"checkout.session.completed\"", "\"type\":\"checkout.session.expired\"", 1)
        .replacen("\"id\":\"evt_sbx_", "\"id\":\"evt_sbx_late", 1);
    assert_eq!(
        post_webhook(&app, &completed, &signature_header(&secret, now, &completed)).await.status,
        StatusCode::OK
    );
    let res = post_webhook(&app, &expired_late, &signature_header(&secret, now, &expired_late)).await;
    assert_eq!(res.json()["outcome"], "ignored_not_awaiting_payment");

    // Expired first, then completed (money was taken): paid, with its request.
    let second = paid_event(&app, &mut c).await;
    let expired_first = second
        .replacen("\"type\":\"checkout.session.completed\"", "\"type\":\"checkout.session.expired\"", 1)
        .replacen("\"id\":\"evt_sbx_", "\"id\":\"evt_sbx_early", 1);
    let res = post_webhook(&app, &expired_first, &signature_header(&secret, now, &expired_first)).await;
    assert_eq!(res.json()["outcome"], "cancelled");
    let res = post_webhook(&app, &second, &signature_header(&secret, now, &second)).await;
    assert_eq!(res.json()["outcome"], "fulfilled");
    assert_eq!(counts(&pool).await.0, 2);
    assert_eq!(counts(&pool).await.1, 2);

    // An event type nobody handles: 200, recorded, ignored.
    let mut unknown: serde_json::Value = serde_json::from_str(&completed).unwrap();
    unknown["id"] = serde_json::json!("evt_unknown_1");
    unknown["type"] = serde_json::json!("issuing_token.some_future_event");
    unknown["data"]["object"] = serde_json::from_str(r#"{"id":"cus_1","object":"customer"}"#).unwrap();
    let body = unknown.to_string();
    let res = post_webhook(&app, &body, &signature_header(&secret, now, &body)).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    assert_eq!(res.json()["outcome"], "ignored");
}

#[sqlx::test(migrator = "autodoctor::db::MIGRATOR")]
async fn customers_only_see_their_own_orders(pool: PgPool) {
    seed_plans(&pool).await;
    let app = TestApp::new(pool.clone());
    let mut alice = customer(&app, "alice@example.com").await;
    let mut bob = customer(&app, "bob@example.com").await;
    start(&mut alice, "", "broadcast").await;
    let order: Uuid = sqlx::query_scalar("SELECT id FROM orders").fetch_one(&pool).await.unwrap();
    assert_eq!(
        alice.call("/api/booking/order", &[("order_id", &order.to_string())]).await.status,
        StatusCode::OK
    );
    let res = bob.call("/api/booking/order", &[("order_id", &order.to_string())]).await;
    assert_eq!(res.status, StatusCode::NOT_FOUND);
    assert_eq!(bob.call("/api/booking/mine", &[]).await.json(), serde_json::json!([]));
}

/// The event, parsed, changed by `change`, and signed again with the right secret:
/// what a holder of the signing secret, or a provider bug, could send.
fn resigned(app: &TestApp, payload: &str, change: impl FnOnce(&mut serde_json::Value)) -> (String, String) {
    let mut event: serde_json::Value = serde_json::from_str(payload).unwrap();
    change(&mut event);
    event["id"] = serde_json::json!(format!("evt_changed_{}", Uuid::new_v4().simple()));
    let body = event.to_string();
    let sig =
        signature_header(&app.state.config.stripe_webhook_secret, chrono::Utc::now().timestamp(), &body);
    (body, sig)
}

/// Issue: a correctly signed `checkout.session.completed` for one cent paid a
/// $29.00 order and offered its request to every mechanic. A payment whose
/// amount or currency differs is held for the admin: no request, no ledger entry.
#[sqlx::test(migrator = "autodoctor::db::MIGRATOR")]
async fn a_payment_of_the_wrong_amount_or_currency_is_held_never_fulfilled(pool: PgPool) {
    seed_plans(&pool).await;
    let app = TestApp::new(pool.clone());
    let mut c = customer(&app, "cust@example.com").await;
    type Change = fn(&mut serde_json::Value);
    let changes: [(&str, Change); 3] = [
        ("one cent", |e| e["data"]["object"]["amount_total"] = serde_json::json!(1)),
        ("a cent too much", |e| e["data"]["object"]["amount_total"] = serde_json::json!(2901)),
        ("another currency", |e| e["data"]["object"]["currency"] = serde_json::json!("eur")),
    ];
    for (what, change) in changes {
        let payload = paid_event(&app, &mut c).await;
        let order: Uuid = serde_json::from_str::<serde_json::Value>(&payload).unwrap()["data"]["object"]
            ["metadata"]["order_id"]
            .as_str()
            .unwrap()
            .parse()
            .unwrap();
        let (body, sig) = resigned(&app, &payload, change);
        let res = post_webhook(&app, &body, &sig).await;
        assert_eq!(res.status, StatusCode::OK, "{what}: {}", res.body);
        assert_eq!(res.json()["outcome"], "held_payment_mismatch", "{what}");
        let (status, reason, requests, entries): (String, Option<String>, i64, i64) = sqlx::query_as(
            "SELECT o.status::text, o.held_reason,
                    (SELECT count(*) FROM session_requests r WHERE r.order_id = o.id),
                    (SELECT count(*) FROM journal_entries e WHERE e.order_id = o.id)
               FROM orders o WHERE o.id = $1",
        )
        .bind(order)
        .fetch_one(&pool)
        .await
        .unwrap();
        assert_eq!(status, "held", "{what}");
        assert!(reason.as_deref().unwrap_or_default().contains("$29.00"), "{what}: {reason:?}");
        assert_eq!((requests, entries), (0, 0), "{what}: no request offered, nothing posted");
        // The genuine event arriving afterwards does not release it either.
        let genuine = signature_header(
            &app.state.config.stripe_webhook_secret,
            chrono::Utc::now().timestamp(),
            &payload,
        );
        assert_eq!(post_webhook(&app, &payload, &genuine).await.status, StatusCode::OK);
        let still: (String, i64) = sqlx::query_as(
            "SELECT status::text, (SELECT count(*) FROM session_requests WHERE order_id = $1) FROM orders WHERE id = $1",
        )
        .bind(order)
        .fetch_one(&pool)
        .await
        .unwrap();
        assert_eq!(still, ("held".to_string(), 0), "{what}: held until the admin acts");
    }
    // The admin sees each held order with its reason.
    create_user(&pool, "admin@example.com", Role::Admin).await;
    let mut admin = app.client();
    admin.log_in("admin@example.com", TEST_PASSWORD).await;
    let orders = admin.call("/api/admin/orders", &[]).await.json();
    let held: Vec<_> = orders.as_array().unwrap().iter().filter(|o| o["status"] == "held").collect();
    assert_eq!(held.len(), 3, "{orders}");
    assert!(
        held.iter().all(|o| o["held_reason"].as_str().unwrap_or_default().starts_with("Paid ")),
        "{orders}"
    );
    assert!(autodoctor::consistency::check(&pool).await.unwrap().is_empty(), "consistent");
}

/// The event's metadata (routing type, preferred workshop) never overrides what
/// the order recorded at checkout.
#[sqlx::test(migrator = "autodoctor::db::MIGRATOR")]
async fn event_metadata_cannot_reroute_a_paid_order(pool: PgPool) {
    seed_plans(&pool).await;
    let app = TestApp::new(pool.clone());
    let mut c = customer(&app, "cust@example.com").await;
    let other = workshop(&pool, "Elsewhere Garage", "Lyon", "active", 1, 1).await;
    let payload = paid_event(&app, &mut c).await;
    let (body, sig) = resigned(&app, &payload, |e| {
        e["data"]["object"]["metadata"]["routing_type"] = serde_json::json!("workshop_only");
        e["data"]["object"]["metadata"]["preferred_workshop_id"] = serde_json::json!(other.to_string());
    });
    let res = post_webhook(&app, &body, &sig).await;
    assert_eq!(res.json()["outcome"], "fulfilled", "{}", res.body);
    let (routing, preferred): (String, Option<Uuid>) =
        sqlx::query_as("SELECT routing_type::text, preferred_workshop_id FROM session_requests")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!((routing.as_str(), preferred), ("broadcast", None), "as booked, not as the event says");
}

/// Issue: submitting the booking form again with the same key but another plan
/// reused the first order, at the other plan's price. The same key continues
/// only the same choices; anything else is refused and changes nothing.
#[sqlx::test(migrator = "autodoctor::db::MIGRATOR")]
async fn a_resubmitted_booking_never_changes_its_plan_or_price(pool: PgPool) {
    seed_plans(&pool).await;
    let app = TestApp::new(pool.clone());
    let mut c = customer(&app, "cust@example.com").await;
    let key = Uuid::new_v4().to_string();
    let first = c.call("/api/booking/checkout", &checkout_fields(&key, "video15", "", "broadcast")).await;
    assert_eq!(first.status, StatusCode::OK, "{}", first.body);
    let again = c.call("/api/booking/checkout", &checkout_fields(&key, "video15", "", "broadcast")).await;
    assert_eq!(again.json(), first.json(), "the same form again continues the same checkout");

    let other = c.call("/api/booking/checkout", &checkout_fields(&key, "video30", "", "broadcast")).await;
    assert_eq!(other.status, StatusCode::CONFLICT, "{}", other.body);
    let (orders, plan, amount, sessions): (i64, String, i64, Vec<i64>) = sqlx::query_as(
        "SELECT (SELECT count(*) FROM orders), (SELECT plan_code FROM orders), (SELECT amount_cents FROM orders),
                ARRAY(SELECT amount_cents FROM sandbox_checkout_sessions)",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!((orders, plan.as_str(), amount), (1, "video15", 2900));
    assert_eq!(sessions, vec![2900], "one checkout, at the order's price");
}
