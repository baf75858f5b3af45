//! Onboarding, payout runs, refunds and reconciliation against the sandbox gateway.

use crate::testing::fixtures::{
    completed_session_via_webhook, connect, mechanic, paid_order_via_webhook, plan, workshop,
};
use crate::testing::{create_user, TestApp, ORIGIN, TEST_PASSWORD};
use autodoctor::auth::Role;
use autodoctor::dispatch::RoutingType;
use autodoctor::ledger::{balance, AccountRef};
use autodoctor::payments::sandbox::{deliver_due, WebhookSender};
use autodoctor::payouts::run;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use chrono::Utc;
use sqlx::PgPool;
use tower::ServiceExt;
use uuid::Uuid;

/// A completed $100 session of the customer c@example.com, paid through the
/// signed webhook (audit M8: webhook fulfilment runs, not a fixture's inserts).
async fn completed_session(
    app: &TestApp,
    m: Uuid,
    routing: RoutingType,
    preferred: Option<Uuid>,
) -> (Uuid, Uuid) {
    let pool = app.pool();
    let customer: Uuid = match sqlx::query_scalar!("SELECT id FROM users WHERE email = 'c@example.com'")
        .fetch_optional(pool)
        .await
        .unwrap()
    {
        Some(id) => id,
        None => create_user(pool, "c@example.com", Role::Customer).await,
    };
    completed_session_via_webhook(app, customer, m, routing, preferred).await
}

struct RouterSender(axum::Router);

#[async_trait::async_trait]
impl WebhookSender for RouterSender {
    async fn send(&self, payload: String, signature: String) -> Result<u16, String> {
        let req = Request::post("/api/stripe/webhook")
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

async fn owed(pool: &PgPool, a: AccountRef) -> i64 {
    balance(pool, a).await.unwrap()
}

#[sqlx::test(migrator = "autodoctor::db::MIGRATOR")]
async fn an_owner_completes_sandbox_onboarding(pool: PgPool) {
    let app = TestApp::new(pool.clone());
    let w = workshop(&pool, "Alpha").await;
    let owner = create_user(&pool, "owner@example.com", Role::WorkshopMember).await;
    sqlx::query("INSERT INTO organization_members (organization_id, user_id, role) VALUES ($1, $2, 'owner')")
        .bind(w)
        .bind(owner)
        .execute(&pool)
        .await
        .unwrap();
    let mut c = app.client();
    c.log_in("owner@example.com", TEST_PASSWORD).await;
    assert_eq!(c.call("/api/payouts/setup", &[]).await.json()["state"], "not_started");

    let url = c.call("/api/payouts/start", &[]).await.json().as_str().unwrap().to_string();
    assert!(url.contains("/sandbox/connect/acct_sbx_"), "{url}");
    assert_eq!(c.call("/api/payouts/setup", &[]).await.json()["state"], "details_missing");
    // Starting again reuses the same account.
    let again = c.call("/api/payouts/start", &[]).await.json().as_str().unwrap().to_string();
    assert_eq!(url.split('?').next(), again.split('?').next());

    let path = url.trim_start_matches(ORIGIN).split('?').next().unwrap().to_string();
    let page = c.get(&format!("{path}?return_url={ORIGIN}/workshop/payouts%3Fonboarding%3Dreturn")).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("TEST MODE"));
    let res = c
        .post_raw(
            &path,
            "application/x-www-form-urlencoded",
            format!("return_url={ORIGIN}/workshop/payouts&legal_name=Alpha&routing_number=110000000&account_number=000123456789"),
            &[("origin", ORIGIN)],
        )
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER);
    assert_eq!(res.header("location"), Some(&*format!("{ORIGIN}/workshop/payouts")));
    assert_eq!(deliver(&app).await, 1, "account.updated delivered to the webhook");
    let (done, enabled): (bool, bool) = sqlx::query_as(
        "SELECT stripe_onboarding_completed, stripe_payouts_enabled FROM organizations WHERE id = $1",
    )
    .bind(w)
    .fetch_one(&pool)
    .await
    .unwrap();
    assert!(done && enabled);
    assert_eq!(c.call("/api/payouts/setup", &[]).await.json()["state"], "payouts_enabled");

    // An older account.updated arriving late does not undo the newer one.
    let account: String =
        sqlx::query_scalar("SELECT stripe_connect_account_id FROM organizations WHERE id = $1")
            .bind(w)
            .fetch_one(&pool)
            .await
            .unwrap();
    let (_, stale) = autodoctor::payments::sandbox::account_event(&account, false, false, false);
    let mut stale: serde_json::Value = serde_json::from_str(&stale).unwrap();
    stale["created"] = serde_json::json!(Utc::now().timestamp() - 3600);
    let body = stale.to_string();
    let sig = autodoctor::payments::signing::signature_header(
        &app.state.config.stripe_webhook_secret,
        Utc::now().timestamp(),
        &body,
    );
    let res = app
        .client()
        .post_raw("/api/stripe/webhook", "application/json", body, &[("stripe-signature", &sig)])
        .await;
    assert_eq!(res.json()["outcome"], "account_unknown_or_stale");
    assert_eq!(c.call("/api/payouts/setup", &[]).await.json()["state"], "payouts_enabled");

    // Redirects only ever lead back into the app.
    let evil = c
        .post_raw(
            &path,
            "application/x-www-form-urlencoded",
            "return_url=https://evil.example/&legal_name=A&routing_number=110000000&account_number=0001234",
            &[("origin", ORIGIN)],
        )
        .await;
    assert_eq!(evil.header("location"), Some(&*format!("{ORIGIN}/")));
}

#[sqlx::test(migrator = "autodoctor::db::MIGRATOR")]
async fn a_payout_run_pays_each_ready_payee_once_and_lists_the_others(pool: PgPool) {
    plan(&pool).await;
    let app = TestApp::new(pool.clone());
    let a = workshop(&pool, "Alpha").await;
    let a1 = mechanic(&pool, "a1@example.com", Some(a), true).await;
    let indie = mechanic(&pool, "indie@example.com", None, true).await;
    let destination = connect(&pool, Some(a), None, true).await;
    completed_session(&app, a1, RoutingType::WorkshopOnly, Some(a)).await;
    completed_session(&app, indie, RoutingType::Broadcast, None).await;
    assert_eq!(owed(&pool, AccountRef::Workshop(autodoctor::ids::WorkshopId(a))).await, 8000);

    let (run_id, processed) = run::run_now(&app.state, "manual", None).await.unwrap();
    assert_eq!(processed, run::Processed { paid: 1, failed: 0 });
    let transfers: Vec<(i64, String, Option<String>)> =
        sqlx::query_as("SELECT amount_cents, destination, transfer_group FROM sandbox_transfers")
            .fetch_all(&pool)
            .await
            .unwrap();
    assert_eq!(transfers, vec![(8000, destination, Some(format!("payout_run_{run_id}")))]);
    assert_eq!(owed(&pool, AccountRef::Workshop(autodoctor::ids::WorkshopId(a))).await, 0);
    assert_eq!(
        owed(&pool, AccountRef::Mechanic(autodoctor::ids::UserId(indie))).await,
        8000,
        "not set up: stays pending"
    );
    let skipped: (String, i64) =
        sqlx::query_as("SELECT status, amount_cents FROM payouts WHERE mechanic_id = $1")
            .bind(indie)
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(skipped, ("skipped".into(), 8000));
    let status: String =
        sqlx::query_scalar("SELECT payout_status FROM workshop_earnings WHERE workshop_id = $1")
            .bind(a)
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(status, "paid");

    // Nothing new: a second run transfers nothing.
    let (_, processed) = run::run_now(&app.state, "manual", None).await.unwrap();
    assert_eq!(processed.paid, 0);
    let count: i64 =
        sqlx::query_scalar("SELECT count(*) FROM sandbox_transfers").fetch_one(&pool).await.unwrap();
    assert_eq!(count, 1);
    assert_eq!(autodoctor::ledger::check_consistency(&pool).await.unwrap(), Vec::<String>::new());
    let report = autodoctor::payouts::reconcile::reconcile(&app.state, 30).await.unwrap();
    assert_eq!(report.discrepancies, vec![], "a clean system has no differences");
    assert_eq!(report.checked_transfers, 1);
}

#[sqlx::test(migrator = "autodoctor::db::MIGRATOR")]
async fn a_crash_between_transfer_and_commit_never_pays_twice(pool: PgPool) {
    plan(&pool).await;
    let app = TestApp::new(pool.clone());
    let a = workshop(&pool, "Alpha").await;
    let a1 = mechanic(&pool, "a1@example.com", Some(a), true).await;
    connect(&pool, Some(a), None, true).await;
    completed_session(&app, a1, RoutingType::WorkshopOnly, Some(a)).await;
    run::create_run(&pool, "manual", None).await.unwrap();
    let due: run::DuePayout = sqlx::query_as(
        "SELECT id, run_id, ledger_account_id, organization_id, mechanic_id, destination, amount_cents, currency,
                idempotency_key, through_posting_id, attempts, created_at FROM payouts",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    // The transfer is made at the gateway... and the process dies before writing it down.
    let first = run::transfer(&app.state, &due).await.unwrap();
    let paid: i64 = sqlx::query_scalar("SELECT count(*) FROM payouts WHERE status = 'paid'")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(paid, 0);

    // After the restart the retry finds the same transfer (same idempotency key).
    let processed = run::process_due(&app.state, Utc::now()).await.unwrap();
    assert_eq!(processed.paid, 1);
    let (transfers, entries): (i64, i64) = sqlx::query_as(
        "SELECT (SELECT count(*) FROM sandbox_transfers), (SELECT count(*) FROM journal_entries WHERE kind = 'payout')",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!((transfers, entries), (1, 1));
    let recorded: String =
        sqlx::query_scalar("SELECT transfer_id FROM payouts").fetch_one(&pool).await.unwrap();
    assert_eq!(recorded, first);
    assert_eq!(owed(&pool, AccountRef::Workshop(autodoctor::ids::WorkshopId(a))).await, 0);
}

#[sqlx::test(migrator = "autodoctor::db::MIGRATOR")]
async fn a_failed_payout_is_recorded_and_retried(pool: PgPool) {
    plan(&pool).await;
    let app = TestApp::new(pool.clone());
    let a = workshop(&pool, "Alpha").await;
    let a1 = mechanic(&pool, "a1@example.com", Some(a), true).await;
    // Our records say payouts are on, but the provider's account is not ready.
    let account = connect(&pool, Some(a), None, false).await;
    sqlx::query("UPDATE organizations SET stripe_payouts_enabled = true WHERE id = $1")
        .bind(a)
        .execute(&pool)
        .await
        .unwrap();
    completed_session(&app, a1, RoutingType::WorkshopOnly, Some(a)).await;

    let (_, processed) = run::run_now(&app.state, "manual", None).await.unwrap();
    assert_eq!(processed, run::Processed { paid: 0, failed: 1 });
    let (status, reason, attempts): (String, Option<String>, i32) =
        sqlx::query_as("SELECT status, failure_reason, attempts FROM payouts")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!((status.as_str(), attempts), ("failed", 1));
    assert!(reason.unwrap().contains("payouts are not enabled"));
    assert_eq!(
        owed(&pool, AccountRef::Workshop(autodoctor::ids::WorkshopId(a))).await,
        8000,
        "nothing moved"
    );
    // A new run does not pay what the failed payout covers.
    run::create_run(&pool, "manual", None).await.unwrap();
    let open: i64 = sqlx::query_scalar("SELECT count(*) FROM payouts WHERE status IN ('pending', 'failed')")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(open, 1);

    // The account gets fixed; the retry, when due, pays.
    sqlx::query("UPDATE sandbox_accounts SET payouts_enabled = true WHERE id = $1")
        .bind(&account)
        .execute(&pool)
        .await
        .unwrap();
    assert_eq!(run::process_due(&app.state, Utc::now()).await.unwrap().paid, 0, "not due yet");
    assert_eq!(run::process_due(&app.state, Utc::now() + chrono::Duration::hours(2)).await.unwrap().paid, 1);
    assert_eq!(owed(&pool, AccountRef::Workshop(autodoctor::ids::WorkshopId(a))).await, 0);
}

#[sqlx::test(migrator = "autodoctor::db::MIGRATOR")]
async fn refunds_reverse_every_share_in_proportion(pool: PgPool) {
    plan(&pool).await;
    let app = TestApp::new(pool.clone());
    let a = workshop(&pool, "Alpha").await;
    let b = workshop(&pool, "Beta").await;
    let b1 = mechanic(&pool, "b1@example.com", Some(b), true).await;
    // A referral split (2000 / 1000 to A / 7000 to B), then a 25% refund before any payout.
    let (order, _) = completed_session(&app, b1, RoutingType::Hybrid, Some(a)).await;
    let outcome = autodoctor::refunds::refund_order(
        &app.state,
        autodoctor::ids::OrderId(order),
        2500,
        "Partly unhappy",
        None,
    )
    .await
    .unwrap();
    assert_eq!((outcome.recovered_cents, outcome.carried_cents), (0, 0));
    assert_eq!(owed(&pool, AccountRef::Workshop(autodoctor::ids::WorkshopId(a))).await, 750);
    assert_eq!(owed(&pool, AccountRef::Workshop(autodoctor::ids::WorkshopId(b))).await, 5250);
    assert_eq!(owed(&pool, AccountRef::PlatformRevenue).await, 1500);
    let (status, refunded): (String, i64) =
        sqlx::query_as("SELECT status::text, amount_refunded_cents FROM orders WHERE id = $1")
            .bind(order)
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!((status.as_str(), refunded), ("partially_refunded", 2500));

    // More than what is left is refused, and changes nothing.
    let err = autodoctor::refunds::refund_order(
        &app.state,
        autodoctor::ids::OrderId(order),
        7501,
        "Too much",
        None,
    )
    .await
    .unwrap_err();
    assert!(err.field_message("amount").is_some());
    // The rest, with an odd amount: every cent accounted for.
    autodoctor::refunds::refund_order(&app.state, autodoctor::ids::OrderId(order), 7499, "Goodwill", None)
        .await
        .unwrap();
    autodoctor::refunds::refund_order(&app.state, autodoctor::ids::OrderId(order), 1, "Last cent", None)
        .await
        .unwrap();
    for acct in [
        AccountRef::Workshop(autodoctor::ids::WorkshopId(a)),
        AccountRef::Workshop(autodoctor::ids::WorkshopId(b)),
        AccountRef::PlatformRevenue,
        AccountRef::PaymentClearing,
    ] {
        assert_eq!(owed(&pool, acct).await, 0, "{acct:?}");
    }
    let status: String = sqlx::query_scalar("SELECT status::text FROM orders WHERE id = $1")
        .bind(order)
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(status, "refunded");
    assert_eq!(autodoctor::ledger::check_consistency(&pool).await.unwrap(), Vec::<String>::new());
    let report = autodoctor::payouts::reconcile::reconcile(&app.state, 30).await.unwrap();
    assert_eq!(report.discrepancies, vec![]);
    assert_eq!(report.checked_refunds, 3);
}

#[sqlx::test(migrator = "autodoctor::db::MIGRATOR")]
async fn a_refund_after_payout_is_recovered_or_carried(pool: PgPool) {
    plan(&pool).await;
    let app = TestApp::new(pool.clone());
    let a = workshop(&pool, "Alpha").await;
    let a1 = mechanic(&pool, "a1@example.com", Some(a), true).await;
    connect(&pool, Some(a), None, true).await;
    let (first, _) = completed_session(&app, a1, RoutingType::WorkshopOnly, Some(a)).await;
    let (second, _) = completed_session(&app, a1, RoutingType::WorkshopOnly, Some(a)).await;
    run::run_now(&app.state, "manual", None).await.unwrap();
    assert_eq!(owed(&pool, AccountRef::Workshop(autodoctor::ids::WorkshopId(a))).await, 0);

    // Half of the first session refunded: the workshop's 4000 comes back from its transfer.
    let outcome =
        autodoctor::refunds::refund_order(&app.state, autodoctor::ids::OrderId(first), 5000, "Half", None)
            .await
            .unwrap();
    assert_eq!((outcome.recovered_cents, outcome.carried_cents), (4000, 0));
    let reversed: i64 = sqlx::query_scalar("SELECT amount_reversed_cents FROM sandbox_transfers")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(reversed, 4000);
    assert_eq!(owed(&pool, AccountRef::Workshop(autodoctor::ids::WorkshopId(a))).await, 0);

    // The provider refuses the next reversal: the share is carried as a negative balance...
    sqlx::query("UPDATE sandbox_transfers SET amount_reversed_cents = amount_cents")
        .execute(&pool)
        .await
        .unwrap();
    let outcome =
        autodoctor::refunds::refund_order(&app.state, autodoctor::ids::OrderId(second), 10000, "All", None)
            .await
            .unwrap();
    assert_eq!((outcome.recovered_cents, outcome.carried_cents), (0, 8000));
    assert_eq!(owed(&pool, AccountRef::Workshop(autodoctor::ids::WorkshopId(a))).await, -8000);
    // ...which the next earnings pay off before anything is transferred.
    completed_session(&app, a1, RoutingType::WorkshopOnly, Some(a)).await;
    assert_eq!(owed(&pool, AccountRef::Workshop(autodoctor::ids::WorkshopId(a))).await, 0);
    let (_, processed) = run::run_now(&app.state, "manual", None).await.unwrap();
    assert_eq!(processed.paid, 0);
    assert_eq!(autodoctor::ledger::check_consistency(&pool).await.unwrap(), Vec::<String>::new());
}

#[sqlx::test(migrator = "autodoctor::db::MIGRATOR")]
async fn a_refund_that_takes_nothing_from_a_paid_share_reverses_nothing_of_it(pool: PgPool) {
    // Mutation testing found it untested (refunds/ledger.rs, `cents > 0` -> `>= 0`):
    // a share the refund takes 0 cents from must not become a transfer reversal.
    plan(&pool).await;
    let app = TestApp::new(pool.clone());
    let a = workshop(&pool, "Alpha").await;
    let b = workshop(&pool, "Beta").await;
    let b1 = mechanic(&pool, "b1@example.com", Some(b), true).await;
    connect(&pool, Some(a), None, true).await;
    connect(&pool, Some(b), None, true).await;
    // The referral split: 2000 platform, 1000 to A (referral), 7000 to B; both paid out.
    let (order, _) = completed_session(&app, b1, RoutingType::Hybrid, Some(a)).await;
    let (_, processed) = run::run_now(&app.state, "manual", None).await.unwrap();
    assert_eq!(processed.paid, 2);
    // One cent back: by the largest remainder (0.7 / 0.2 / 0.1) it comes out of B's share alone.
    let outcome =
        autodoctor::refunds::refund_order(&app.state, autodoctor::ids::OrderId(order), 1, "A cent", None)
            .await
            .unwrap();
    assert_eq!((outcome.recovered_cents, outcome.carried_cents), (1, 0));
    let reversals: Vec<(Uuid, i64)> = sqlx::query_as(
        "SELECT a.organization_id, r.amount_cents FROM transfer_reversals r
           JOIN ledger_accounts a ON a.id = r.ledger_account_id ORDER BY r.created_at",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    assert_eq!(reversals, vec![(b, 1)], "one reversal, of B's cent; none of A's nothing");
    let reversed: Vec<(String, i64)> = sqlx::query_as(
        "SELECT destination, amount_reversed_cents FROM sandbox_transfers ORDER BY amount_cents",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    assert_eq!(
        reversed.iter().map(|r| r.1).collect::<Vec<_>>(),
        vec![0, 1],
        "A's transfer untouched, B's less a cent"
    );
    assert_eq!(
        (
            owed(&pool, AccountRef::Workshop(autodoctor::ids::WorkshopId(a))).await,
            owed(&pool, AccountRef::Workshop(autodoctor::ids::WorkshopId(b))).await
        ),
        (0, 0)
    );
    assert_eq!(autodoctor::consistency::check(&pool).await.unwrap(), Vec::<String>::new());
}

#[sqlx::test(migrator = "autodoctor::db::MIGRATOR")]
async fn reconciliation_lists_what_differs(pool: PgPool) {
    plan(&pool).await;
    let app = TestApp::new(pool.clone());
    let a = workshop(&pool, "Alpha").await;
    let a1 = mechanic(&pool, "a1@example.com", Some(a), true).await;
    connect(&pool, Some(a), None, true).await;
    let (order, _) = completed_session(&app, a1, RoutingType::WorkshopOnly, Some(a)).await;
    run::run_now(&app.state, "manual", None).await.unwrap();
    assert_eq!(
        autodoctor::payouts::reconcile::reconcile(&app.state, 30).await.unwrap().discrepancies,
        vec![]
    );

    // Someone changes things behind the books' back.
    sqlx::query("UPDATE sandbox_transfers SET amount_cents = amount_cents + 1").execute(&pool).await.unwrap();
    sqlx::query("UPDATE sandbox_checkout_sessions SET amount_cents = 9999 WHERE order_id = $1")
        .bind(order)
        .execute(&pool)
        .await
        .unwrap();
    sqlx::query(
        "INSERT INTO sandbox_refunds (id, idempotency_key, payment_intent, amount_cents, currency, status, metadata)
         VALUES ('re_rogue', 're_rogue', 'pi_x', 500, 'usd', 'succeeded', '{}')",
    )
    .execute(&pool)
    .await
    .unwrap();
    let report = autodoctor::payouts::reconcile::reconcile(&app.state, 30).await.unwrap();
    let areas: Vec<&str> = report.discrepancies.iter().map(|d| d.area.as_str()).collect();
    assert_eq!(areas, vec!["charges", "transfers", "refunds"], "{:#?}", report.discrepancies);
}

#[sqlx::test(migrator = "autodoctor::db::MIGRATOR")]
async fn only_the_admin_runs_payouts_refunds_and_reconciliation(pool: PgPool) {
    let app = TestApp::new(pool.clone());
    create_user(&pool, "cust@example.com", Role::Customer).await;
    create_user(&pool, "owner@example.com", Role::WorkshopMember).await;
    create_user(&pool, "admin@example.com", Role::Admin).await;
    let order = Uuid::new_v4().to_string();
    for email in ["cust@example.com", "owner@example.com"] {
        let mut c = app.client();
        c.log_in(email, TEST_PASSWORD).await;
        for (path, fields) in [
            ("/api/admin/payouts/run", vec![]),
            ("/api/admin/payouts", vec![]),
            ("/api/admin/orders", vec![]),
            ("/api/admin/reconcile", vec![]),
            ("/api/admin/refund", vec![("order_id", order.as_str()), ("amount", "1"), ("reason", "x")]),
        ] {
            assert_eq!(c.call(path, &fields).await.status, StatusCode::FORBIDDEN, "{email} {path}");
        }
    }
    let mut admin = app.client();
    admin.log_in("admin@example.com", TEST_PASSWORD).await;
    let res =
        admin.call("/api/admin/refund", &[("order_id", &order), ("amount", "abc"), ("reason", "x")]).await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST);
    let res =
        admin.call("/api/admin/refund", &[("order_id", &order), ("amount", "1.00"), ("reason", "x")]).await;
    assert_eq!(res.status, StatusCode::NOT_FOUND);
    let res = admin.call("/api/admin/payouts/run", &[]).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    let res = admin.call("/api/admin/reconcile", &[]).await;
    assert_eq!(res.json()["discrepancies"], serde_json::json!([]));
}

/// Issue: the admin refunded an unserved $29.00 order in full, and its request
/// was still offered; a mechanic accepted and ended it and was credited for an
/// order paid back in full. A full refund withdraws the request (live, from
/// every dashboard) and accepting or widening it is refused; a partial refund
/// leaves it live.
#[sqlx::test(migrator = "autodoctor::db::MIGRATOR")]
async fn a_full_refund_withdraws_the_unserved_request_and_a_partial_one_does_not(pool: PgPool) {
    plan(&pool).await;
    let app = TestApp::new(pool.clone());
    let m = mechanic(&pool, "m@example.com", None, true).await;
    let customer = create_user(&pool, "cust@example.com", Role::Customer).await;
    let policy = autodoctor::offers::store::RoutingSettings::from_config(&app.state.config).policy;
    let offered = |pool: PgPool| async move {
        autodoctor::offers::store::offers_for(&pool, autodoctor::ids::UserId(m), Utc::now(), &policy)
            .await
            .unwrap()
            .into_iter()
            .map(|o| o.request_id)
            .collect::<Vec<_>>()
    };

    // Partial refund: still offered, and the mechanic can take it.
    let (partial_order, partial_request) =
        paid_order_via_webhook(&app, customer, RoutingType::Broadcast, None, "video15").await;
    autodoctor::refunds::refund_order(
        &app.state,
        autodoctor::ids::OrderId(partial_order),
        900,
        "Goodwill",
        None,
    )
    .await
    .unwrap();
    assert!(offered(pool.clone()).await.contains(&partial_request), "a partly refunded request stays live");

    // Full refund: withdrawn at once, with a signal for the live dashboards.
    let (order, request) =
        paid_order_via_webhook(&app, customer, RoutingType::Broadcast, None, "video15").await;
    assert!(offered(pool.clone()).await.contains(&request));
    let mut signals = app.state.realtime.subscribe();
    autodoctor::refunds::refund_order(
        &app.state,
        autodoctor::ids::OrderId(order),
        2900,
        "Customer changed their mind",
        None,
    )
    .await
    .unwrap();
    assert!(!offered(pool.clone()).await.contains(&request), "no longer offered to anyone");
    let signal = tokio::time::timeout(std::time::Duration::from_secs(5), async {
        loop {
            if let Ok(autodoctor::realtime::Signal::RequestChanged { request_id, .. }) = signals.recv().await
            {
                if request_id == request {
                    return request_id;
                }
            }
        }
    })
    .await;
    assert!(signal.is_ok(), "the withdrawal is announced to every instance's live streams");
    let status: String = sqlx::query_scalar("SELECT status::text FROM session_requests WHERE id = $1")
        .bind(request)
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(status, "cancelled");

    let err = autodoctor::offers::accept::accept(
        &pool,
        autodoctor::ids::UserId(m),
        autodoctor::ids::RequestId(request),
        Utc::now(),
        &policy,
    )
    .await
    .unwrap_err();
    assert_eq!(err.status_code(), 409, "{err}");
    let sessions: i64 = sqlx::query_scalar("SELECT count(*) FROM sessions WHERE order_id = $1")
        .bind(order)
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(sessions, 0, "nobody serves a refunded order");
    // The partly refunded one can still be served; once its session is under
    // way, refunding the rest is refused (the mechanic would work for nothing).
    autodoctor::offers::accept::accept(
        &pool,
        autodoctor::ids::UserId(m),
        autodoctor::ids::RequestId(partial_request),
        Utc::now(),
        &policy,
    )
    .await
    .unwrap();
    let err = autodoctor::refunds::refund_order(
        &app.state,
        autodoctor::ids::OrderId(partial_order),
        2000,
        "All of it",
        None,
    )
    .await
    .unwrap_err();
    assert_eq!(err.status_code(), 409, "{err}");
    let (refunded, refund_rows): (i64, i64) = sqlx::query_as(
        "SELECT amount_refunded_cents, (SELECT count(*) FROM refunds WHERE order_id = $1) FROM orders WHERE id = $1",
    )
    .bind(partial_order)
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!((refunded, refund_rows), (900, 1), "the refused refund changed nothing");
    assert!(autodoctor::consistency::check(&pool).await.unwrap().is_empty());
}

type RefundHook =
    Box<dyn Fn(usize) -> std::pin::Pin<Box<dyn std::future::Future<Output = bool> + Send>> + Send + Sync>;

/// The sandbox gateway, with a hook run after it made each refund and before it
/// answers (`true` from the hook: the answer is lost, as in a timeout); every
/// idempotency key it is called with is kept.
struct HookedGateway {
    inner: std::sync::Arc<dyn autodoctor::payments::gateway::PaymentGateway>,
    refund_keys: std::sync::Mutex<Vec<String>>,
    after_refund: RefundHook,
}

#[async_trait::async_trait]
impl autodoctor::payments::gateway::PaymentGateway for HookedGateway {
    fn mode(&self) -> autodoctor::payments::gateway::GatewayMode {
        self.inner.mode()
    }
    async fn create_checkout_session(
        &self,
        r: &autodoctor::payments::gateway::CheckoutRequest,
    ) -> Result<autodoctor::payments::gateway::CheckoutSession, autodoctor::payments::gateway::GatewayError>
    {
        self.inner.create_checkout_session(r).await
    }
    async fn retrieve_checkout_session(
        &self,
        id: &str,
    ) -> Result<autodoctor::payments::gateway::CheckoutSessionInfo, autodoctor::payments::gateway::GatewayError>
    {
        self.inner.retrieve_checkout_session(id).await
    }
    async fn create_connected_account(
        &self,
        r: &autodoctor::payments::gateway::ConnectAccountRequest,
    ) -> Result<autodoctor::payments::gateway::ConnectedAccount, autodoctor::payments::gateway::GatewayError>
    {
        self.inner.create_connected_account(r).await
    }
    async fn retrieve_account(
        &self,
        id: &str,
    ) -> Result<autodoctor::payments::gateway::ConnectedAccount, autodoctor::payments::gateway::GatewayError>
    {
        self.inner.retrieve_account(id).await
    }
    async fn create_account_link(
        &self,
        r: &autodoctor::payments::gateway::AccountLinkRequest,
    ) -> Result<String, autodoctor::payments::gateway::GatewayError> {
        self.inner.create_account_link(r).await
    }
    async fn create_transfer(
        &self,
        r: &autodoctor::payments::gateway::TransferRequest,
    ) -> Result<autodoctor::payments::gateway::TransferInfo, autodoctor::payments::gateway::GatewayError>
    {
        self.inner.create_transfer(r).await
    }
    async fn retrieve_transfer(
        &self,
        id: &str,
    ) -> Result<autodoctor::payments::gateway::TransferInfo, autodoctor::payments::gateway::GatewayError>
    {
        self.inner.retrieve_transfer(id).await
    }
    async fn list_transfers(
        &self,
        since: i64,
    ) -> Result<Vec<autodoctor::payments::gateway::TransferInfo>, autodoctor::payments::gateway::GatewayError>
    {
        self.inner.list_transfers(since).await
    }
    async fn create_transfer_reversal(
        &self,
        r: &autodoctor::payments::gateway::ReversalRequest,
    ) -> Result<autodoctor::payments::gateway::ReversalInfo, autodoctor::payments::gateway::GatewayError>
    {
        self.inner.create_transfer_reversal(r).await
    }
    async fn create_refund(
        &self,
        r: &autodoctor::payments::gateway::RefundRequest,
    ) -> Result<autodoctor::payments::gateway::RefundInfo, autodoctor::payments::gateway::GatewayError> {
        let call = {
            let mut keys = self.refund_keys.lock().unwrap();
            keys.push(r.idempotency_key.clone());
            keys.len() - 1
        };
        let made = self.inner.create_refund(r).await?;
        if (self.after_refund)(call).await {
            return Err(autodoctor::payments::gateway::GatewayError::Unavailable("timed out".into()));
        }
        Ok(made)
    }
    async fn list_refunds(
        &self,
        since: i64,
    ) -> Result<Vec<autodoctor::payments::gateway::RefundInfo>, autodoctor::payments::gateway::GatewayError>
    {
        self.inner.list_refunds(since).await
    }
}

/// Issue: a refund whose gateway call timed out was marked failed, so trying
/// again made a second refund at the gateway. A retryable failure stays pending
/// and the retry uses the same idempotency key: one refund at the gateway, once
/// in the ledger.
#[sqlx::test(migrator = "autodoctor::db::MIGRATOR")]
async fn a_refund_retried_after_a_timeout_refunds_once(pool: PgPool) {
    plan(&pool).await;
    let mut app = TestApp::new(pool.clone());
    let gateway = std::sync::Arc::new(HookedGateway {
        inner: app.state.payments.clone(),
        refund_keys: Default::default(),
        after_refund: Box::new(|call| Box::pin(async move { call == 0 })),
    });
    app.state.payments = gateway.clone();
    let customer = create_user(&pool, "cust@example.com", Role::Customer).await;
    let (order, _) = paid_order_via_webhook(&app, customer, RoutingType::Broadcast, None, "video15").await;

    let first = autodoctor::refunds::refund_order(
        &app.state,
        autodoctor::ids::OrderId(order),
        1000,
        "Partly unhappy",
        None,
    )
    .await
    .unwrap_err();
    assert_eq!(first.status_code(), 503, "a timeout is worth retrying: {first}");
    let (status, failure): (String, Option<String>) =
        sqlx::query_as("SELECT status::text, failure_reason FROM refunds WHERE order_id = $1")
            .bind(order)
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(status, "pending", "still retryable, not failed ({failure:?})");

    autodoctor::refunds::refund_order(
        &app.state,
        autodoctor::ids::OrderId(order),
        1000,
        "Partly unhappy",
        None,
    )
    .await
    .unwrap();
    let keys = gateway.refund_keys.lock().unwrap().clone();
    assert_eq!(keys.len(), 2);
    assert_eq!(keys[0], keys[1], "the retry used the same idempotency key");
    let at_gateway: i64 =
        sqlx::query_scalar("SELECT count(*) FROM sandbox_refunds").fetch_one(&pool).await.unwrap();
    assert_eq!(at_gateway, 1, "one refund at the gateway");
    let (refunds, refunded): (i64, i64) = sqlx::query_as(
        "SELECT (SELECT count(*) FROM refunds WHERE order_id = $1 AND status = 'succeeded'), amount_refunded_cents
           FROM orders WHERE id = $1",
    )
    .bind(order)
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!((refunds, refunded), (1, 1000), "booked once");
    assert!(autodoctor::consistency::check(&pool).await.unwrap().is_empty());
}

/// Mutation testing found it untested (refunds/refund.rs: the refundable amount
/// with `+ pending_refunds` for `- pending_refunds` survived): a refund still
/// pending at the gateway counts against what can be refunded, so two refunds
/// together never exceed the payment.
#[sqlx::test(migrator = "autodoctor::db::MIGRATOR")]
async fn a_pending_refund_counts_against_what_can_still_be_refunded(pool: PgPool) {
    plan(&pool).await;
    let mut app = TestApp::new(pool.clone());
    let gateway = std::sync::Arc::new(HookedGateway {
        inner: app.state.payments.clone(),
        refund_keys: Default::default(),
        after_refund: Box::new(|call| Box::pin(async move { call == 0 })),
    });
    app.state.payments = gateway.clone();
    let customer = create_user(&pool, "cust@example.com", Role::Customer).await;
    let (order, _) = paid_order_via_webhook(&app, customer, RoutingType::Broadcast, None, "video15").await;
    let paid: i64 = sqlx::query_scalar("SELECT amount_paid_cents FROM orders WHERE id = $1")
        .bind(order)
        .fetch_one(&pool)
        .await
        .unwrap();
    let first = autodoctor::refunds::refund_order(
        &app.state,
        autodoctor::ids::OrderId(order),
        1000,
        "Partly unhappy",
        None,
    )
    .await
    .unwrap_err();
    assert_eq!(first.status_code(), 503, "the first refund timed out and stays pending: {first}");

    // The rest of the payment, counting the pending 1000 as refunded: refused, nothing changes.
    let err = autodoctor::refunds::refund_order(
        &app.state,
        autodoctor::ids::OrderId(order),
        paid - 999,
        "Everything else",
        None,
    )
    .await
    .unwrap_err();
    let at_most = format!("At most {} can be refunded.", autodoctor::ui::format_money(paid - 1000, "usd"));
    assert_eq!(err.field_message("amount"), Some(at_most), "{err}");
    let rows: Vec<(i64, String)> = sqlx::query_as(
        "SELECT amount_cents, status::text FROM refunds WHERE order_id = $1 ORDER BY created_at",
    )
    .bind(order)
    .fetch_all(&pool)
    .await
    .unwrap();
    assert_eq!(rows, vec![(1000, "pending".to_string())], "no second refund row");
    assert_eq!(gateway.refund_keys.lock().unwrap().len(), 1, "no second call to the gateway");

    // Exactly the rest is allowed; with the pending one finished, all of it is refunded once.
    autodoctor::refunds::refund_order(
        &app.state,
        autodoctor::ids::OrderId(order),
        paid - 1000,
        "Everything else",
        None,
    )
    .await
    .unwrap();
    autodoctor::refunds::refund_order(
        &app.state,
        autodoctor::ids::OrderId(order),
        1000,
        "Partly unhappy",
        None,
    )
    .await
    .unwrap();
    let (status, refunded): (String, i64) =
        sqlx::query_as("SELECT status::text, amount_refunded_cents FROM orders WHERE id = $1")
            .bind(order)
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!((status.as_str(), refunded), ("refunded", paid));
    let at_gateway: i64 =
        sqlx::query_scalar("SELECT coalesce(sum(amount_cents), 0)::int8 FROM sandbox_refunds")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(at_gateway, paid, "the gateway refunded the payment once, not more");
    assert!(autodoctor::consistency::check(&pool).await.unwrap().is_empty());
}

/// Audit M7: the process dies after the gateway made a refund and before the
/// books record it (the future is dropped there, as a SIGKILL would leave it:
/// the refund row committed as pending, no failure noted). Asking for the same
/// refund again finishes that one, with the same idempotency key: one refund
/// at the gateway, booked once, the ledger whole. (It made a second refund
/// with a new key before: a pending row without a failure was never retried.)
#[sqlx::test(migrator = "autodoctor::db::MIGRATOR")]
async fn a_refund_cut_off_after_the_gateway_is_finished_once_on_retry(pool: PgPool) {
    plan(&pool).await;
    let mut app = TestApp::new(pool.clone());
    let gateway = std::sync::Arc::new(HookedGateway {
        inner: app.state.payments.clone(),
        refund_keys: Default::default(),
        // The first call never answers: the process is gone once the gateway has refunded.
        after_refund: Box::new(|call| {
            Box::pin(async move {
                if call == 0 {
                    std::future::pending::<()>().await;
                }
                false
            })
        }),
    });
    app.state.payments = gateway.clone();
    let customer = create_user(&pool, "cust@example.com", Role::Customer).await;
    let (order, _) = paid_order_via_webhook(&app, customer, RoutingType::Broadcast, None, "video15").await;

    let cut = tokio::time::timeout(
        std::time::Duration::from_millis(500),
        autodoctor::refunds::refund_order(
            &app.state,
            autodoctor::ids::OrderId(order),
            1000,
            "Partly unhappy",
            None,
        ),
    )
    .await;
    assert!(cut.is_err(), "the first attempt is cut off after the gateway call");
    let at_gateway = || async {
        sqlx::query_scalar::<_, i64>("SELECT count(*) FROM sandbox_refunds").fetch_one(&pool).await.unwrap()
    };
    assert_eq!(at_gateway().await, 1, "the gateway made the refund");
    let (status, failure): (String, Option<String>) =
        sqlx::query_as("SELECT status::text, failure_reason FROM refunds WHERE order_id = $1")
            .bind(order)
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!((status.as_str(), failure), ("pending", None), "committed as pending, nothing recorded");

    let outcome = autodoctor::refunds::refund_order(
        &app.state,
        autodoctor::ids::OrderId(order),
        1000,
        "Partly unhappy",
        None,
    )
    .await
    .unwrap();
    assert_eq!(outcome.amount_cents, 1000);
    let keys = gateway.refund_keys.lock().unwrap().clone();
    assert_eq!(keys.len(), 2);
    assert_eq!(keys[0], keys[1], "the retry used the same idempotency key");
    assert_eq!(at_gateway().await, 1, "still one refund at the gateway");
    let (refunds, refunded, entries, cash): (i64, i64, i64, i64) = sqlx::query_as(
        "SELECT (SELECT count(*) FROM refunds WHERE order_id = $1),
                (SELECT amount_refunded_cents FROM orders WHERE id = $1),
                (SELECT count(*) FROM journal_entries WHERE kind = 'refund'),
                (SELECT coalesce(sum(p.amount_cents), 0)::bigint FROM postings p
                   JOIN journal_entries e ON e.id = p.entry_id AND e.kind = 'refund'
                   JOIN ledger_accounts a ON a.id = p.account_id AND a.kind = 'gateway_cash')",
    )
    .bind(order)
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(
        (refunds, refunded, entries, cash),
        (1, 1000, 1, -1000),
        "one refund, booked once, to the cent"
    );
    assert!(autodoctor::consistency::check(&pool).await.unwrap().is_empty());
}

/// Decision (SECURITY.md): a suspended workshop's balance is held. A run
/// lists it as skipped with the reason and makes no transfer; a payout made
/// before the suspension but not yet sent waits too; once the workshop is
/// reinstated, the next run pays it, once.
#[sqlx::test(migrator = "autodoctor::db::MIGRATOR")]
async fn a_suspended_workshop_is_not_paid_out_until_reinstated(pool: PgPool) {
    plan(&pool).await;
    let app = TestApp::new(pool.clone());
    let a = workshop(&pool, "Alpha").await;
    let a1 = mechanic(&pool, "a1@example.com", Some(a), true).await;
    connect(&pool, Some(a), None, true).await;
    completed_session(&app, a1, RoutingType::WorkshopOnly, Some(a)).await;
    let suspend = |status: &'static str| {
        let pool = pool.clone();
        async move {
            sqlx::query("UPDATE organizations SET status = $2::organization_status WHERE id = $1")
                .bind(a)
                .bind(status)
                .execute(&pool)
                .await
                .unwrap();
        }
    };
    let transfers = || {
        let pool = pool.clone();
        async move {
            sqlx::query_scalar::<_, i64>("SELECT count(*) FROM sandbox_transfers")
                .fetch_one(&pool)
                .await
                .unwrap()
        }
    };

    suspend("suspended").await;
    let (_, processed) = run::run_now(&app.state, "manual", None).await.unwrap();
    assert_eq!(processed, run::Processed { paid: 0, failed: 0 });
    assert_eq!(transfers().await, 0, "no money to a suspended workshop");
    let (status, reason): (String, Option<String>) =
        sqlx::query_as("SELECT status::text, failure_reason FROM payouts WHERE organization_id = $1")
            .bind(a)
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(status, "skipped");
    assert!(reason.unwrap_or_default().contains("suspended"));
    assert_eq!(owed(&pool, AccountRef::Workshop(autodoctor::ids::WorkshopId(a))).await, 8000, "still owed");

    // A payout created while active, then suspended before it is sent: it waits.
    suspend("active").await;
    run::create_run(&pool, "manual", None).await.unwrap();
    suspend("suspended").await;
    assert_eq!(run::process_due(&app.state, Utc::now()).await.unwrap().paid, 0);
    assert_eq!(transfers().await, 0);

    suspend("active").await;
    assert_eq!(run::process_due(&app.state, Utc::now()).await.unwrap().paid, 1, "reinstated: paid once");
    assert_eq!(transfers().await, 1);
    assert_eq!(owed(&pool, AccountRef::Workshop(autodoctor::ids::WorkshopId(a))).await, 0);
    assert!(autodoctor::consistency::check(&pool).await.unwrap().is_empty());
}

/// Issue: a refund asked for before the session's completion, but booked after
/// it, came out of clearing while the split had already given every party its
/// full share. Now the refund is booked against the shares whenever the split
/// is there at booking time (the order's lock orders the two).
#[sqlx::test(migrator = "autodoctor::db::MIGRATOR")]
async fn a_refund_racing_with_the_completion_still_reverses_every_share(pool: PgPool) {
    plan(&pool).await;
    let mut app = TestApp::new(pool.clone());
    let m = mechanic(&pool, "indie@example.com", None, true).await;
    let customer = create_user(&pool, "cust@example.com", Role::Customer).await;
    let (order, request) =
        paid_order_via_webhook(&app, customer, RoutingType::Broadcast, None, "hundred").await;
    let policy = autodoctor::offers::store::RoutingSettings::from_config(&app.state.config).policy;
    let session = autodoctor::offers::accept::accept(
        &pool,
        autodoctor::ids::UserId(m),
        autodoctor::ids::RequestId(request),
        Utc::now(),
        &policy,
    )
    .await
    .unwrap();
    crate::testing::fixtures::write_report(&pool, session, m).await;
    // The session completes while the gateway is making the refund.
    let hook_pool = pool.clone();
    app.state.payments = std::sync::Arc::new(HookedGateway {
        inner: app.state.payments.clone(),
        refund_keys: Default::default(),
        after_refund: Box::new(move |_| {
            let pool = hook_pool.clone();
            Box::pin(async move {
                autodoctor::sessions::room::end_session(
                    &pool,
                    autodoctor::ids::SessionId(session),
                    autodoctor::ids::UserId(m),
                    crate::testing::ORIGIN,
                )
                .await
                .unwrap();
                false
            })
        }),
    });
    autodoctor::refunds::refund_order(&app.state, autodoctor::ids::OrderId(order), 5000, "Half", None)
        .await
        .unwrap();
    // $100 split 20 / 80, then half refunded from each share: 10 / 40 left, clearing empty.
    assert_eq!(owed(&pool, AccountRef::Mechanic(autodoctor::ids::UserId(m))).await, 4000);
    assert_eq!(owed(&pool, AccountRef::PlatformRevenue).await, 1000);
    assert_eq!(balance(&pool, AccountRef::PaymentClearing).await.unwrap(), 0, "nothing left in clearing");
    let booked: Option<Uuid> = sqlx::query_scalar("SELECT session_id FROM refunds WHERE order_id = $1")
        .bind(order)
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(booked, Some(session), "booked against the session's shares");
    assert!(autodoctor::consistency::check(&pool).await.unwrap().is_empty());
}
