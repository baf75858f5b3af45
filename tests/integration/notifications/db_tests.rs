//! Notifications: once per event under retried webhooks and two instances, the
//! opt-out (receipts still go), and the one-click unsubscribe link.

use crate::testing::fixtures::{
    completed_session, connect, mechanic, paid_request, plan, serve, write_report,
};
use crate::testing::{create_user, fingerprint, test_config, TestApp, ORIGIN, TEST_PASSWORD};
use autodoctor::auth::Role;
use autodoctor::dispatch::RoutingType;
use autodoctor::notifications::send::{to_user, Content};
use autodoctor::notifications::Kind;
use autodoctor::payments::sandbox::{checkout_event, SessionRow, SESSION_COLUMNS};
use autodoctor::state::AppState;
use axum::body::Body;
use axum::http::{header, Method, Request, StatusCode};
use sqlx::PgPool;
use uuid::Uuid;

/// Two instances of the app on one database, as two servers behind a balancer.
async fn two_instances(pool: &PgPool) -> (TestApp, TestApp) {
    let a = AppState::start(test_config(), pool.clone()).await.unwrap();
    let b = AppState::start(test_config(), pool.clone()).await.unwrap();
    (TestApp::from_state(a), TestApp::from_state(b))
}

async fn mails(pool: &PgPool, kind: &str, to: &str) -> Vec<(String, String, Option<String>, Option<String>)> {
    sqlx::query_as(
        "SELECT subject, body_text, body_html, unsubscribe_url FROM email_outbox
          WHERE kind = $1 AND to_email = $2 ORDER BY created_at",
    )
    .bind(kind)
    .bind(to)
    .fetch_all(pool)
    .await
    .unwrap()
}

fn signed(payload: &str) -> Request<Body> {
    let sig = autodoctor::payments::signing::signature_header(
        crate::testing::TEST_WEBHOOK_SECRET,
        chrono::Utc::now().timestamp(),
        payload,
    );
    Request::builder()
        .method(Method::POST)
        .uri("/api/stripe/webhook")
        .header(header::CONTENT_TYPE, "application/json")
        .header("stripe-signature", sig)
        .body(Body::from(payload.to_string()))
        .unwrap()
}

/// A customer's checkout on instance `a`, and two different paid events for it
/// (Stripe may send `completed` more than once, with new event ids).
async fn customer_checkout(a: &TestApp, email: &str) -> (Uuid, String, String) {
    let mut customer = a.client();
    assert_eq!(customer.sign_up("Casey Customer", email, "a long password").await.status, StatusCode::OK);
    let session = crate::security::start_checkout(&mut customer).await;
    let row = sqlx::query_as::<_, SessionRow>(&format!(
        "SELECT {SESSION_COLUMNS} FROM sandbox_checkout_sessions WHERE id = $1"
    ))
    .bind(&session)
    .fetch_one(a.pool())
    .await
    .unwrap();
    let order = row.order_id;
    let paid = SessionRow {
        status: "complete".into(),
        payment_intent: Some(format!("pi_sbx_{}", Uuid::new_v4())),
        ..row
    };
    let (_, first) = checkout_event("checkout.session.completed", &paid);
    let (_, second) = checkout_event("checkout.session.completed", &paid);
    (order, first, second)
}

#[sqlx::test(migrator = "autodoctor::db::MIGRATOR")]
async fn a_receipt_goes_out_once_under_retried_webhooks_and_two_instances(pool: PgPool) {
    plan(&pool).await;
    let (a, b) = two_instances(&pool).await;
    let (order, first, second) = customer_checkout(&a, "casey@example.com").await;

    // The same event to both instances at once, then again, then another event id.
    let (mut ca, mut cb) = (a.client(), b.client());
    let (ra, rb) = tokio::join!(ca.send(signed(&first)), cb.send(signed(&first)));
    assert_eq!((ra.status, rb.status), (StatusCode::OK, StatusCode::OK), "{} / {}", ra.body, rb.body);
    assert_eq!(a.client().send(signed(&first)).await.status, StatusCode::OK);
    let (ra, rb) = tokio::join!(ca.send(signed(&second)), cb.send(signed(&second)));
    assert_eq!((ra.status, rb.status), (StatusCode::OK, StatusCode::OK));

    let receipts = mails(&pool, "payment_receipt", "casey@example.com").await;
    assert_eq!(receipts.len(), 1, "one receipt for one payment: {receipts:?}");
    let (subject, text, html, unsubscribe) = &receipts[0];
    assert_eq!(subject, "Your receipt from autodoctor");
    assert!(text.starts_with("Hello Casey Customer,"), "{text}");
    assert!(text.contains("Amount paid: $29.00"), "{text}");
    assert!(text.contains(&format!("{ORIGIN}/orders/{order}")), "{text}");
    let html = html.as_deref().expect("an HTML part");
    assert!(html.contains("Amount paid: $29.00") && html.contains("<a href="), "{html}");
    let unsubscribe = unsubscribe.as_deref().expect("a List-Unsubscribe address");
    assert!(unsubscribe.starts_with(&format!("{ORIGIN}/unsubscribe/")), "{unsubscribe}");
    assert!(text.contains(unsubscribe), "the link is in the text too");
}

#[sqlx::test(migrator = "autodoctor::db::MIGRATOR")]
async fn accept_report_refund_and_payout_are_each_mailed_once(pool: PgPool) {
    plan(&pool).await;
    let (a, b) = two_instances(&pool).await;
    let m = mechanic(&pool, "indie@example.com", None, true).await;
    let customer = create_user(&pool, "c@example.com", Role::Customer).await;
    let policy = autodoctor::offers::store::RoutingSettings::from_config(&a.state.config).policy;

    // Two accepts of one request at once (two instances): one wins, one notice.
    let m2 = mechanic(&pool, "indie2@example.com", None, true).await;
    let (_, request) = paid_request(&pool, customer, RoutingType::Broadcast, None).await;
    let now = chrono::Utc::now() + chrono::Duration::seconds(120);
    let (x, y) = tokio::join!(
        autodoctor::offers::accept::accept(
            a.pool(),
            autodoctor::ids::UserId(m),
            autodoctor::ids::RequestId(request),
            now,
            &policy
        ),
        autodoctor::offers::accept::accept(
            b.pool(),
            autodoctor::ids::UserId(m2),
            autodoctor::ids::RequestId(request),
            now,
            &policy
        )
    );
    assert!(x.is_ok() != y.is_ok(), "exactly one accept wins: {x:?} {y:?}");
    let accepted = mails(&pool, "request_accepted", "c@example.com").await;
    assert_eq!(accepted.len(), 1, "{accepted:?}");
    assert!(accepted[0].1.contains("has taken your request"), "{}", accepted[0].1);

    // Ending the session twice (a retry, another instance) mails the report once.
    let (session, winner) = match (x, y) {
        (Ok(s), _) => (s, m),
        (_, Ok(s)) => (s, m2),
        _ => unreachable!(),
    };
    write_report(&pool, session, winner).await;
    let (e1, e2) = tokio::join!(
        autodoctor::sessions::room::end_session(
            a.pool(),
            autodoctor::ids::SessionId(session),
            autodoctor::ids::UserId(winner),
            ORIGIN
        ),
        autodoctor::sessions::room::end_session(
            b.pool(),
            autodoctor::ids::SessionId(session),
            autodoctor::ids::UserId(winner),
            ORIGIN
        )
    );
    assert!(e1.is_ok() || e2.is_ok(), "{e1:?} {e2:?}");
    let reports = mails(&pool, "session_report", "c@example.com").await;
    assert_eq!(reports.len(), 1, "{reports:?}");
    assert!(reports[0].1.contains("Worn front left wheel bearing."), "{}", reports[0].1);

    // A refund asked on both instances at once: one refund, one notice.
    let (order, _) = completed_session(&a, m, RoutingType::Broadcast, None).await;
    let (r1, r2) = tokio::join!(
        autodoctor::refunds::refund_order(
            &a.state,
            autodoctor::ids::OrderId(order),
            2500,
            "Partly unhappy",
            None
        ),
        autodoctor::refunds::refund_order(
            &b.state,
            autodoctor::ids::OrderId(order),
            2500,
            "Partly unhappy",
            None
        )
    );
    let refunds: i64 =
        sqlx::query_scalar("SELECT count(*) FROM refunds WHERE order_id = $1 AND status = 'succeeded'")
            .bind(order)
            .fetch_one(&pool)
            .await
            .unwrap();
    let refund_mails = mails(&pool, "refund_issued", "c@example.com").await;
    assert_eq!(refund_mails.len() as i64, refunds, "one notice per refund: {r1:?} {r2:?} {refund_mails:?}");
    assert!(refunds >= 1);
    assert!(refund_mails[0].1.contains("We have refunded $25.00"), "{}", refund_mails[0].1);

    // A payout run, then runs on both instances at the same moment: one
    // transfer, one notice.
    connect(&pool, None, Some(m), true).await;
    autodoctor::payouts::run::run_now(&a.state, "manual", None).await.unwrap();
    let (x, y) = tokio::join!(
        autodoctor::payouts::run::run_now(&a.state, "manual", None),
        autodoctor::payouts::run::run_now(&b.state, "manual", None)
    );
    x.unwrap();
    y.unwrap();
    autodoctor::payouts::run::process_due(&a.state, chrono::Utc::now()).await.unwrap();
    let paid: i64 =
        sqlx::query_scalar("SELECT count(*) FROM payouts WHERE mechanic_id = $1 AND status = 'paid'")
            .bind(m)
            .fetch_one(&pool)
            .await
            .unwrap();
    assert!(paid >= 1);
    let payout_mails = mails(&pool, "payout_sent", "indie@example.com").await;
    assert_eq!(payout_mails.len() as i64, paid, "one notice per payout: {payout_mails:?}");
    assert!(payout_mails[0].1.contains("We have sent you a payout of"), "{}", payout_mails[0].1);
}

#[sqlx::test(migrator = "autodoctor::db::MIGRATOR")]
async fn admin_decisions_reach_owners_and_applicants_once(pool: PgPool) {
    let app = TestApp::new(pool.clone());
    create_user(&pool, "admin@example.com", Role::Admin).await;
    let mut admin = app.client();
    admin.log_in("admin@example.com", TEST_PASSWORD).await;
    let w: Uuid = sqlx::query_scalar(
        "INSERT INTO organizations (name, contact_email, city) VALUES ('Gamma Garage', 'g@example.com', 'Nice') RETURNING id",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    crate::testing::fixtures::owner(&pool, "gamma@example.com", w).await;
    let id = w.to_string();
    let approve = [("workshop_id", id.as_str()), ("decision", "approve"), ("reason", "")];
    assert_eq!(admin.call("/api/admin/workshop/decide", &approve).await.status, StatusCode::OK);
    // A retried click is refused and mails nothing more.
    assert_eq!(admin.call("/api/admin/workshop/decide", &approve).await.status, StatusCode::CONFLICT);
    let suspend = [("workshop_id", id.as_str()), ("decision", "suspend"), ("reason", "Complaints <b>x</b>")];
    assert_eq!(admin.call("/api/admin/workshop/decide", &suspend).await.status, StatusCode::OK);
    assert_eq!(mails(&pool, "workshop_approved", "gamma@example.com").await.len(), 1);
    let suspended = mails(&pool, "workshop_suspended", "gamma@example.com").await;
    assert_eq!(suspended.len(), 1);
    assert!(suspended[0].1.contains("The reason given: Complaints <b>x</b>"), "{}", suspended[0].1);
    assert!(
        suspended[0].2.as_deref().unwrap().contains("Complaints &lt;b&gt;x&lt;/b&gt;"),
        "escaped in HTML"
    );

    let applicant = create_user(&pool, "applicant@example.com", Role::Mechanic).await;
    sqlx::query(
        "INSERT INTO mechanics (user_id, account_type, application_status, years_experience)
         VALUES ($1, 'independent', 'pending', 3)",
    )
    .bind(applicant)
    .execute(&pool)
    .await
    .unwrap();
    let a = applicant.to_string();
    let reject = [("mechanic_id", a.as_str()), ("decision", "reject"), ("reason", "No certificate")];
    assert_eq!(admin.call("/api/admin/mechanic/decide", &reject).await.status, StatusCode::OK);
    assert_eq!(admin.call("/api/admin/mechanic/decide", &reject).await.status, StatusCode::NOT_FOUND);
    let rejected = mails(&pool, "application_rejected", "applicant@example.com").await;
    assert_eq!(rejected.len(), 1, "{rejected:?}");
    assert!(rejected[0].1.contains("No certificate"));
}

#[sqlx::test(migrator = "autodoctor::db::MIGRATOR")]
async fn an_opted_out_person_gets_receipts_but_no_optional_mail(pool: PgPool) {
    plan(&pool).await;
    let (a, _) = two_instances(&pool).await;
    let (order, first, _) = customer_checkout(&a, "quiet@example.com").await;
    // The customer switches optional mail off on the account page.
    let mut customer = a.client();
    customer.log_in("quiet@example.com", "a long password").await;
    assert_eq!(
        customer.call("/api/account/mail/save", &[("optional_mail", "off")]).await.status,
        StatusCode::OK
    );
    assert_eq!(customer.call("/api/account/mail", &[]).await.json(), serde_json::json!(false));

    assert_eq!(a.client().send(signed(&first)).await.status, StatusCode::OK);
    assert_eq!(mails(&pool, "payment_receipt", "quiet@example.com").await.len(), 1, "receipts always go");
    let request: Uuid = sqlx::query_scalar("SELECT id FROM session_requests WHERE order_id = $1")
        .bind(order)
        .fetch_one(&pool)
        .await
        .unwrap();
    let m = mechanic(&pool, "indie@example.com", None, true).await;
    let policy = autodoctor::offers::store::RoutingSettings::from_config(&a.state.config).policy;
    serve(&pool, &policy, m, request).await;
    assert!(mails(&pool, "request_accepted", "quiet@example.com").await.is_empty(), "optional: not sent");
    assert_eq!(mails(&pool, "session_report", "quiet@example.com").await.len(), 1, "the report is a receipt");

    // Switched back on, optional mail comes again.
    assert_eq!(
        customer.call("/api/account/mail/save", &[("optional_mail", "on")]).await.status,
        StatusCode::OK
    );
    let customer_id: Uuid = sqlx::query_scalar("SELECT id FROM users WHERE email = 'quiet@example.com'")
        .fetch_one(&pool)
        .await
        .unwrap();
    let mut conn = pool.acquire().await.unwrap();
    let content = Content { subject: "Update", text: "Something happened.", greet: true };
    assert!(to_user(
        &mut conn,
        ORIGIN,
        Kind::RequestAccepted,
        "other",
        autodoctor::ids::UserId(customer_id),
        &content
    )
    .await
    .unwrap());
    // A value that is neither on nor off is a clear 400 and changes nothing.
    let bad = customer.call("/api/account/mail/save", &[("optional_mail", "maybe")]).await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST, "{}", bad.body);
    assert!(bad.app_error().field_message("optional_mail").is_some(), "{}", bad.body);
    assert_eq!(customer.call("/api/account/mail", &[]).await.json(), serde_json::json!(true));
}

fn post(path: &str) -> Request<Body> {
    Request::builder()
        .method(Method::POST)
        .uri(path)
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        // A mail provider posts RFC 8058 one-click unsubscribes from its own site.
        .header(header::ORIGIN, "https://mail.example.net")
        .body(Body::from("List-Unsubscribe=One-Click"))
        .unwrap()
}

#[sqlx::test(migrator = "autodoctor::db::MIGRATOR")]
async fn the_unsubscribe_link_works_once_without_login_and_cannot_be_forged(pool: PgPool) {
    let app = TestApp::new(pool.clone());
    let user = create_user(&pool, "reader@example.com", Role::Customer).await;
    let mut conn = pool.acquire().await.unwrap();
    let content = Content { subject: "Update", text: "A mechanic has taken your request.", greet: true };
    assert!(to_user(&mut conn, ORIGIN, Kind::RequestAccepted, "r1", autodoctor::ids::UserId(user), &content)
        .await
        .unwrap());
    assert!(
        !to_user(&mut conn, ORIGIN, Kind::RequestAccepted, "r1", autodoctor::ids::UserId(user), &content)
            .await
            .unwrap(),
        "once per event"
    );
    drop(conn);
    let url: String =
        sqlx::query_scalar("SELECT unsubscribe_url FROM email_outbox WHERE to_email = 'reader@example.com'")
            .fetch_one(&pool)
            .await
            .unwrap();
    let path = url.strip_prefix(ORIGIN).unwrap().to_string();
    let token = path.rsplit('/').next().unwrap().to_string();
    let optional = |pool: PgPool| async move {
        sqlx::query_scalar::<_, bool>("SELECT optional_mail FROM users WHERE id = $1")
            .bind(user)
            .fetch_one(&pool)
            .await
            .unwrap()
    };

    // Opening the link (a mail scanner does) changes nothing; it shows a button.
    let mut anon = app.client();
    let page = anon.get(&path).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert!(page.body.contains("id=\"unsubscribe-confirm\""), "{}", page.body);
    assert!(optional(pool.clone()).await);

    // Forged and tampered tokens: a clear 404, nothing changes.
    let before = fingerprint(&pool).await;
    let mut tampered = token.clone().into_bytes();
    tampered[10] = if tampered[10] == b'A' { b'B' } else { b'A' };
    let tampered = String::from_utf8(tampered).unwrap();
    for bad in [tampered.as_str(), "short", &"A".repeat(43), "%00", "..%2F..%2Fadmin"] {
        let res = anon.send(post(&format!("/unsubscribe/{bad}"))).await;
        assert_eq!(res.status, StatusCode::NOT_FOUND, "{bad}: {}", res.body);
        assert!(res.body.contains("not valid"), "{}", res.body);
    }
    assert_eq!(fingerprint(&pool).await, before, "a forged link changes nothing");
    assert!(optional(pool.clone()).await);

    // The real link, posted without logging in (the mail client's one-click POST).
    let res = anon.send(post(&path)).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    assert!(res.body.contains("you will get no more optional emails"), "{}", res.body);
    assert!(!optional(pool.clone()).await);

    // Once: a second use is a 410 and changes nothing (the person switched back on meanwhile).
    sqlx::query("UPDATE users SET optional_mail = true WHERE id = $1")
        .bind(user)
        .execute(&pool)
        .await
        .unwrap();
    let again = anon.send(post(&path)).await;
    assert_eq!(again.status, StatusCode::GONE, "{}", again.body);
    assert_eq!(anon.get(&path).await.status, StatusCode::GONE);
    assert!(optional(pool.clone()).await, "a used link switches nothing off");
}

/// Two admins (or one admin's two tabs, on two instances) decide at the same
/// moment; the routing workers of two instances find the same expired
/// request; two instances start a payout run at once. Each event is one
/// decision, one mail.
#[sqlx::test(migrator = "autodoctor::db::MIGRATOR")]
async fn decisions_waiting_requests_and_payout_runs_are_mailed_once_on_two_instances(pool: PgPool) {
    plan(&pool).await;
    let (a, b) = two_instances(&pool).await;
    create_user(&pool, "admin@example.com", Role::Admin).await;
    let (mut admin_a, mut admin_b) = (a.client(), b.client());
    admin_a.log_in("admin@example.com", TEST_PASSWORD).await;
    admin_b.log_in("admin@example.com", TEST_PASSWORD).await;

    // The workshop is approved from both at once: one 200, one 409, one mail.
    let w: Uuid = sqlx::query_scalar(
        "INSERT INTO organizations (name, contact_email, city) VALUES ('Gamma Garage', 'g@example.com', 'Nice') RETURNING id",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    crate::testing::fixtures::owner(&pool, "gamma@example.com", w).await;
    let id = w.to_string();
    let approve = [("workshop_id", id.as_str()), ("decision", "approve"), ("reason", "")];
    let (x, y) = tokio::join!(
        admin_a.call("/api/admin/workshop/decide", &approve),
        admin_b.call("/api/admin/workshop/decide", &approve)
    );
    let mut statuses = [x.status, y.status];
    statuses.sort();
    assert_eq!(statuses, [StatusCode::OK, StatusCode::CONFLICT], "{} / {}", x.body, y.body);
    assert_eq!(mails(&pool, "workshop_approved", "gamma@example.com").await.len(), 1);

    // An application approved on one and rejected on the other at once: one decision, one mail.
    let applicant = create_user(&pool, "applicant@example.com", Role::Mechanic).await;
    sqlx::query(
        "INSERT INTO mechanics (user_id, account_type, application_status, years_experience)
         VALUES ($1, 'independent', 'pending', 3)",
    )
    .bind(applicant)
    .execute(&pool)
    .await
    .unwrap();
    let who = applicant.to_string();
    let approve = [("mechanic_id", who.as_str()), ("decision", "approve"), ("reason", "")];
    let reject = [("mechanic_id", who.as_str()), ("decision", "reject"), ("reason", "No certificate")];
    let (x, y) = tokio::join!(
        admin_a.call("/api/admin/mechanic/decide", &approve),
        admin_b.call("/api/admin/mechanic/decide", &reject)
    );
    assert!((x.status == StatusCode::OK) != (y.status == StatusCode::OK), "{} / {}", x.body, y.body);
    let status: String =
        sqlx::query_scalar("SELECT application_status::text FROM mechanics WHERE user_id = $1")
            .bind(applicant)
            .fetch_one(&pool)
            .await
            .unwrap();
    let (approved, rejected) = (
        mails(&pool, "application_approved", "applicant@example.com").await,
        mails(&pool, "application_rejected", "applicant@example.com").await,
    );
    assert_eq!(approved.len() + rejected.len(), 1, "{approved:?} {rejected:?}");
    assert_eq!(
        status == "approved",
        approved.len() == 1,
        "the mail tells the decision that stands: {status}"
    );

    // A workshop-only request nobody took: both instances' workers reach its expiry.
    let customer = create_user(&pool, "c@example.com", Role::Customer).await;
    let (_, request) = paid_request(&pool, customer, RoutingType::WorkshopOnly, Some(w)).await;
    let settings = autodoctor::offers::store::RoutingSettings::from_config(&a.state.config);
    let later = chrono::Utc::now() + chrono::Duration::seconds(601);
    let (x, y) = tokio::join!(
        autodoctor::offers::store::routing_tick(a.pool(), later, &settings),
        autodoctor::offers::store::routing_tick(b.pool(), later, &settings)
    );
    assert_eq!(x.unwrap().1 + y.unwrap().1, 1, "expired once");
    let waiting = mails(&pool, "workshop_request_waiting", "gamma@example.com").await;
    assert_eq!(waiting.len(), 1, "{waiting:?}");
    assert!(waiting[0].1.contains("none of your mechanics took the request in time"), "{}", waiting[0].1);
    assert_eq!(mails(&pool, "request_expired", "c@example.com").await.len(), 1);
    let status: String = sqlx::query_scalar("SELECT status::text FROM session_requests WHERE id = $1")
        .bind(request)
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(status, "expired");

    // "Pay now" on both instances at the same moment: both answer, one payout, one mail.
    let m = mechanic(&pool, "indie@example.com", None, true).await;
    completed_session(&a, m, RoutingType::Broadcast, None).await;
    connect(&pool, None, Some(m), true).await;
    let (x, y) = tokio::join!(
        admin_a.call("/api/admin/payouts/run", &[]),
        admin_b.call("/api/admin/payouts/run", &[])
    );
    assert_eq!((x.status, y.status), (StatusCode::OK, StatusCode::OK), "{} / {}", x.body, y.body);
    autodoctor::payouts::run::process_due(&a.state, chrono::Utc::now()).await.unwrap();
    let payouts: Vec<(String, i64)> = sqlx::query_as(
        "SELECT status::text, amount_cents FROM payouts WHERE mechanic_id = $1 AND status <> 'skipped'",
    )
    .bind(m)
    .fetch_all(&pool)
    .await
    .unwrap();
    assert_eq!(payouts, vec![("paid".to_string(), 8000)], "80% of the $100 session, once");
    let sent = mails(&pool, "payout_sent", "indie@example.com").await;
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert!(sent[0].1.contains("We have sent you a payout of $80.00"), "{}", sent[0].1);
}
