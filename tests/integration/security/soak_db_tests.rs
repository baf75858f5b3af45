//! Load with faults: customers book and pay, mechanics accept and complete,
//! customers rate and cancel, all over a real loopback socket, while the
//! sandbox delivers its webhooks and a chaos task replays old ones, shuffled,
//! puts delivered ones back in the queue, sends stale signatures, and clients
//! hang up in the middle of requests (so handlers are cancelled mid-transaction).
//! It also sends events forged with the sandbox's once-published secret and
//! correctly signed ones for the wrong amount, and refunds unserved orders in
//! full while mechanics race to accept them. The admin, through the admin's own
//! calls, refunds paid orders in full and in part (served or not) and runs
//! payouts to the workshops and independent mechanics, all of whom can be paid.
//!
//! Afterwards the books must be whole, against the gateway's own records (the
//! sandbox's checkouts, refunds, transfers and reversals) and the test's record
//! of every refund it was told succeeded: the refunds of each order at the
//! gateway are exactly those, and the app's; the ledger's cash is what the
//! gateway took, less what it refunded and what it transferred net of
//! reversals, to the cent; the money waiting in clearing is what was paid and
//! not refunded for the orders not yet served; each payee was transferred what
//! the app's payouts say, once per run, and after a last payout run nobody is
//! owed anything; every paid order paid its plan's catalog price; the
//! consistency suite finds nothing; each paid checkout is one order with
//! exactly one request; and each event was processed once.
//!
//! `SOAK_SECONDS` sets the length (default 15); `SOAK_SECONDS=300 scripts/test db`
//! is the long run.

use crate::testing::{create_user, fixtures, test_config, TestApp, ORIGIN, TEST_PASSWORD};
use autodoctor::auth::Role;
use autodoctor::payments::signing::signature_header;
use rand::seq::SliceRandom;
use rand::Rng;
use sqlx::PgPool;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use uuid::Uuid;

const CUSTOMERS: usize = 5;

/// What the soak saw, shared by its tasks.
#[derive(Default)]
struct Tally {
    /// Answers that should never happen: 5xx, or a status the step can't give.
    unexpected: Mutex<Vec<String>>,
    checkouts: AtomicU64,
    payments: AtomicU64,
    accepts: AtomicU64,
    lost_races: AtomicU64,
    completions: AtomicU64,
    ratings: AtomicU64,
    cancels: AtomicU64,
    /// Calls given up on before their answer came.
    hang_ups: AtomicU64,
    /// Calls meant to be hung up on that were answered in time.
    answered_before_hang_up: AtomicU64,
    replays: AtomicU64,
    requeued: AtomicU64,
    forged: AtomicU64,
    wrong_amounts: AtomicU64,
    full_refunds: AtomicU64,
    /// Refunds the test was told succeeded (order, cents): the admin's and the chaos's.
    refunded: Mutex<Vec<(Uuid, i64)>>,
    /// Orders the customer cancelled (refunded in full).
    cancelled: Mutex<Vec<Uuid>>,
    admin_full_refunds: AtomicU64,
    admin_partial_refunds: AtomicU64,
    /// Admin refunds refused for a clear reason (the order changed meanwhile).
    admin_refunds_refused: AtomicU64,
    payout_runs: AtomicU64,
}

impl Tally {
    fn unexpected(&self, what: String) {
        self.unexpected.lock().unwrap().push(what);
    }
}

/// A browser-like client on the loopback socket: a cookie jar, the app's
/// origin on every POST, redirects not followed.
struct Browser {
    base: String,
    http: reqwest::Client,
    tally: Arc<Tally>,
}

impl Browser {
    fn new(base: &str, tally: Arc<Tally>) -> Self {
        let http = reqwest::Client::builder()
            .cookie_store(true)
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(30))
            .build()
            .unwrap();
        Browser { base: base.to_string(), http, tally }
    }

    fn post(&self, path: &str, fields: &[(&str, &str)]) -> reqwest::RequestBuilder {
        self.http
            .post(format!("{}{path}", self.base))
            .header("origin", ORIGIN)
            .header("sec-fetch-site", "same-origin")
            .form(fields)
    }

    /// Posts, and answers (status, body); a 5xx is recorded as unexpected.
    async fn call(&self, path: &str, fields: &[(&str, &str)]) -> Option<(u16, String)> {
        match self.post(path, fields).send().await {
            Ok(res) => {
                let status = res.status().as_u16();
                let body = res.text().await.unwrap_or_default();
                if status >= 500 {
                    self.tally.unexpected(format!("{path}: {status} {body}"));
                }
                Some((status, body))
            }
            Err(e) => {
                self.tally.unexpected(format!("{path}: {e}"));
                None
            }
        }
    }

    /// Sends the request and hangs up before the answer: the server's handler
    /// is dropped wherever it happens to be.
    async fn hang_up(&self, path: &str, fields: &[(&str, &str)]) {
        let wait = pause(1..15);
        // Only a call still in flight when the client gives up is a hang-up; one
        // that was answered in time is an ordinary call (audit M6).
        match tokio::time::timeout(wait, self.post(path, fields).send()).await {
            Err(_) => self.tally.hang_ups.fetch_add(1, Ordering::Relaxed),
            Ok(_) => self.tally.answered_before_hang_up.fetch_add(1, Ordering::Relaxed),
        };
    }
}

// The thread's random generator is not Send: these take it and let it go
// before any await.
fn chance(p: f64) -> bool {
    rand::thread_rng().gen_bool(p)
}

fn pause(millis: std::ops::Range<u64>) -> Duration {
    Duration::from_millis(rand::thread_rng().gen_range(millis))
}

/// A number from 1 to n - 1.
fn below(n: i64) -> i64 {
    rand::thread_rng().gen_range(1..n)
}

fn pick<T: Clone>(items: &[T]) -> Option<T> {
    items.choose(&mut rand::thread_rng()).cloned()
}

async fn log_in(browser: &Browser, email: &str) {
    let (status, body) = browser
        .call("/api/public/auth/log-in", &[("email", email), ("password", TEST_PASSWORD)])
        .await
        .expect("log-in answers");
    assert_eq!(status, 200, "log-in of {email}: {body}");
}

/// One customer: books (sometimes hanging up and submitting the same form
/// again), pays, rates finished sessions and now and then cancels a booking.
async fn customer(pool: PgPool, browser: Browser, id: Uuid, workshops: [Uuid; 2], until: Instant) {
    let tally = browser.tally.clone();
    while Instant::now() < until {
        let key = Uuid::new_v4().to_string();
        let workshop = pick(&workshops).unwrap().to_string();
        let routing = pick(&["broadcast", "hybrid", "workshop_only"]).unwrap();
        let mut fields = vec![
            ("request_key", key.as_str()),
            ("plan_code", "video15"),
            ("vehicle_make", "Ford"),
            ("vehicle_model", "Fiesta"),
            ("vehicle_year", "2011"),
            ("problem_description", "A whine from the gearbox above 50 km/h."),
            ("routing_type", routing),
        ];
        if routing != "broadcast" {
            fields.push(("workshop_id", workshop.as_str()));
        }
        if chance(0.2) {
            browser.hang_up("/api/booking/checkout", &fields).await;
        }
        let Some((status, body)) = browser.call("/api/booking/checkout", &fields).await else { continue };
        if status == 409 && body.contains("under review") {
            continue; // The chaos held this order with a wrong-amount event before the form came again.
        }
        if status != 200 {
            tally.unexpected(format!("checkout: {status} {body}"));
            continue;
        }
        tally.checkouts.fetch_add(1, Ordering::Relaxed);
        let url: String = serde_json::from_str(&body).unwrap();
        let checkout = url.rsplit('/').next().unwrap().to_string();
        let pay = format!("/sandbox/checkout/{checkout}/pay");
        let card = [("card_number", "4242 4242 4242 4242")];
        if chance(0.2) {
            browser.hang_up(&pay, &card).await;
        }
        // A paid checkout answers with the redirect to the return page; paying
        // again (after a hang-up) redirects too and charges nothing.
        match browser.call(&pay, &card).await {
            Some((303, _)) => {
                tally.payments.fetch_add(1, Ordering::Relaxed);
            }
            Some((status, body)) => tally.unexpected(format!("pay: {status} {body}")),
            None => {}
        }

        // Rate what has finished; cancel a booking nobody has taken yet now and then.
        let unrated: Vec<Uuid> = sqlx::query_scalar(
            "SELECT s.id FROM sessions s JOIN orders o ON o.id = s.order_id
              WHERE o.customer_id = $1 AND s.status = 'completed' AND s.rating IS NULL",
        )
        .bind(id)
        .fetch_all(&pool)
        .await
        .unwrap();
        for session in unrated {
            let stars = pick(&["1", "2", "3", "4", "5"]).unwrap();
            let session = session.to_string();
            match browser.call("/api/session/rate", &[("session_id", &session), ("rating", stars)]).await {
                Some((200, _)) => {
                    tally.ratings.fetch_add(1, Ordering::Relaxed);
                }
                Some((status, body)) => tally.unexpected(format!("rate: {status} {body}")),
                None => {}
            }
        }
        if chance(0.15) {
            let waiting: Option<Uuid> = sqlx::query_scalar(
                "SELECT order_id FROM session_requests WHERE customer_id = $1 AND status = 'pending' LIMIT 1",
            )
            .bind(id)
            .fetch_optional(&pool)
            .await
            .unwrap();
            if let Some(order) = waiting {
                let order = order.to_string();
                match browser.call("/api/booking/cancel", &[("order_id", &order)]).await {
                    Some((200, _)) => {
                        tally.cancels.fetch_add(1, Ordering::Relaxed);
                        tally.cancelled.lock().unwrap().push(order.parse().unwrap());
                    }
                    // A mechanic took it first.
                    Some((409, _)) => {}
                    Some((status, body)) => tally.unexpected(format!("cancel: {status} {body}")),
                    None => {}
                }
            }
        }
        tokio::time::sleep(pause(10..60)).await;
    }
}

/// One mechanic: takes an offer (racing the others), then ends the session.
async fn mechanic(pool: PgPool, browser: Browser, id: Uuid, until: Instant) {
    let tally = browser.tally.clone();
    while Instant::now() < until {
        let open: Option<Uuid> = sqlx::query_scalar(
            "SELECT id FROM sessions WHERE mechanic_id = $1 AND status IN ('accepted', 'active') LIMIT 1",
        )
        .bind(id)
        .fetch_optional(&pool)
        .await
        .unwrap();
        if let Some(session) = open {
            let session = session.to_string();
            let fields = [("session_id", session.as_str())];
            // Ending needs the diagnosis report.
            let report = [
                ("session_id", session.as_str()),
                ("summary", "Worn brake pads."),
                ("safe_to_drive", "with_care"),
                ("repairs[0][description]", "Replace the front brake pads"),
                ("repairs[0][urgency]", "soon"),
                ("repairs[0][cost_min]", "$120"),
                ("repairs[0][cost_max]", "180.50"),
            ];
            match browser.call("/api/session/report/save", &report).await {
                // A hung-up end had finished the session: the report is closed.
                Some((200 | 409, _)) | None => {}
                Some((status, body)) => tally.unexpected(format!("report: {status} {body}")),
            }
            if chance(0.2) {
                browser.hang_up("/api/session/end", &fields).await;
            }
            match browser.call("/api/session/end", &fields).await {
                Some((200, _)) => {
                    tally.completions.fetch_add(1, Ordering::Relaxed);
                }
                // The hung-up call had finished it.
                Some((409, _)) => {}
                Some((status, body)) => tally.unexpected(format!("end: {status} {body}")),
                None => {}
            }
        } else if let Some((status, body)) = browser.call("/api/mechanic/offers", &[]).await {
            if status != 200 {
                tally.unexpected(format!("offers: {status} {body}"));
                continue;
            }
            let offers: Vec<serde_json::Value> = serde_json::from_str(&body).unwrap();
            if let Some(offer) = pick(&offers) {
                let request = offer["request_id"].as_str().unwrap().to_string();
                let fields = [("request_id", request.as_str())];
                if chance(0.15) {
                    browser.hang_up("/api/mechanic/accept", &fields).await;
                }
                match browser.call("/api/mechanic/accept", &fields).await {
                    Some((200, _)) => {
                        tally.accepts.fetch_add(1, Ordering::Relaxed);
                    }
                    // Taken by another mechanic, cancelled by the customer, or
                    // already ours through the hung-up call: all told as 409.
                    // Or no longer offered to this mechanic: a hybrid request goes
                    // back to its workshop when one of its mechanics frees up.
                    Some((409, _)) => {
                        tally.lost_races.fetch_add(1, Ordering::Relaxed);
                    }
                    // A 403 for those two reasons only (the mechanic filled up through
                    // a hung-up accept, too): any other refusal, such as the role
                    // guard's, is an authorization regression, not a lost race.
                    Some((403, body))
                        if body.contains("This request is not offered to you.")
                            || body.contains("You are at your capacity") =>
                    {
                        tally.lost_races.fetch_add(1, Ordering::Relaxed);
                    }
                    Some((status, body)) => tally.unexpected(format!("accept: {status} {body}")),
                    None => {}
                }
            }
        }
        tokio::time::sleep(pause(10..80)).await;
    }
}

/// Replays delivered webhooks (freshly signed, in shuffled order), sends some
/// with a stale signature, and puts some back in the sandbox's queue.
/// A correctly signed `checkout.session.completed` for an unpaid checkout, but
/// for one cent: it must hold the order, never fulfil it.
async fn wrong_amount_event(pool: &PgPool, secret: &str) -> Option<(String, String)> {
    use autodoctor::payments::sandbox::{checkout_event, SessionRow, SESSION_COLUMNS};
    let row = sqlx::query_as::<_, SessionRow>(&format!(
        "SELECT {SESSION_COLUMNS} FROM sandbox_checkout_sessions WHERE status = 'open' ORDER BY random() LIMIT 1"
    ))
    .fetch_optional(pool)
    .await
    .unwrap()?;
    let (_, payload) =
        checkout_event("checkout.session.completed", &SessionRow { status: "complete".into(), ..row });
    let mut event: serde_json::Value = serde_json::from_str(&payload).unwrap();
    event["data"]["object"]["amount_total"] = serde_json::json!(1);
    let body = event.to_string();
    let sig = signature_header(secret, chrono::Utc::now().timestamp(), &body);
    Some((body, sig))
}

/// Refunds an unserved order in full while the mechanics race to accept it.
async fn refund_unserved(state: &autodoctor::state::AppState, tally: &Tally) {
    let order: Option<(Uuid, i64)> = sqlx::query_as(
        "SELECT o.id, o.amount_paid_cents - o.amount_refunded_cents FROM orders o
           JOIN session_requests r ON r.order_id = o.id
          WHERE r.status = 'pending' AND o.status = 'paid' ORDER BY random() LIMIT 1",
    )
    .fetch_optional(&state.pool)
    .await
    .unwrap();
    let Some((order, amount)) = order else { return };
    match autodoctor::refunds::refund_order(
        state,
        autodoctor::ids::OrderId(order),
        amount,
        "Soak: full refund",
        None,
    )
    .await
    {
        Ok(outcome) => {
            assert_eq!(outcome.amount_cents, amount, "a full refund refunds what was left");
            tally.full_refunds.fetch_add(1, Ordering::Relaxed);
            tally.refunded.lock().unwrap().push((order, amount));
        }
        // Taken a moment ago, refunded meanwhile, or a deadlock victim: each is a clear answer.
        Err(e) if [404, 409, 400, 503].contains(&e.status_code()) => {}
        Err(e) => tally.unexpected(format!("full refund: {e}")),
    }
}

/// The admin: refunds a paid order in full or in part (served, unserved or under
/// way), and now and then pays everyone out, through the admin's own calls.
async fn admin(pool: PgPool, browser: Browser, until: Instant) {
    let tally = browser.tally.clone();
    while Instant::now() < until {
        if chance(0.25) {
            match browser.call("/api/admin/payouts/run", &[]).await {
                Some((200, _)) => {
                    tally.payout_runs.fetch_add(1, Ordering::Relaxed);
                }
                Some((status, body)) => tally.unexpected(format!("payout run: {status} {body}")),
                None => {}
            }
        }
        let order: Option<(Uuid, i64)> = sqlx::query_as(
            "SELECT id, amount_paid_cents - amount_refunded_cents FROM orders
              WHERE status IN ('paid', 'partially_refunded') AND amount_paid_cents > amount_refunded_cents
              ORDER BY random() LIMIT 1",
        )
        .fetch_optional(&pool)
        .await
        .unwrap();
        if let Some((order, left)) = order {
            let full = left == 1 || chance(0.4);
            let cents = if full { left } else { below(left) };
            let amount = format!("{}.{:02}", cents / 100, cents % 100);
            let order_id = order.to_string();
            let fields = [("order_id", order_id.as_str()), ("amount", amount.as_str()), ("reason", "Soak")];
            match browser.call("/api/admin/refund", &fields).await {
                Some((200, _)) => {
                    let kind = if full { &tally.admin_full_refunds } else { &tally.admin_partial_refunds };
                    kind.fetch_add(1, Ordering::Relaxed);
                    tally.refunded.lock().unwrap().push((order, cents));
                }
                // Refunded (404) or cancelled meanwhile, less left than read a moment
                // ago (400 "At most"), or a session under way (409): clear refusals.
                Some((404 | 409, _)) => {
                    tally.admin_refunds_refused.fetch_add(1, Ordering::Relaxed);
                }
                Some((400, body)) if body.contains("At most") => {
                    tally.admin_refunds_refused.fetch_add(1, Ordering::Relaxed);
                }
                Some((status, body)) => {
                    tally.unexpected(format!("admin refund of {amount}: {status} {body}"))
                }
                None => {}
            }
        }
        tokio::time::sleep(pause(30..120)).await;
    }
}

async fn chaos(state: autodoctor::state::AppState, base: String, tally: Arc<Tally>, until: Instant) {
    let (pool, secret) = (state.pool.clone(), state.config.stripe_webhook_secret.clone());
    let http = reqwest::Client::new();
    let url = format!("{base}/api/stripe/webhook");
    while Instant::now() < until {
        if chance(0.3) {
            refund_unserved(&state, &tally).await;
        }
        if let Some((body, sig)) = wrong_amount_event(&pool, &secret).await {
            let forged = signature_header(
                autodoctor::config::PUBLISHED_SANDBOX_WEBHOOK_SECRET,
                chrono::Utc::now().timestamp(),
                &body,
            );
            for (sig, want) in [(forged, 400u16), (sig, 200)] {
                let res = http
                    .post(&url)
                    .header("content-type", "application/json")
                    .header("stripe-signature", sig)
                    .body(body.clone())
                    .send()
                    .await
                    .map(|r| r.status().as_u16());
                match res {
                    Ok(s) if s == want && want == 400 => {
                        tally.forged.fetch_add(1, Ordering::Relaxed);
                    }
                    Ok(s) if s == want => {
                        tally.wrong_amounts.fetch_add(1, Ordering::Relaxed);
                    }
                    other => {
                        tally.unexpected(format!("wrong-amount or forged event: {other:?}, wanted {want}"))
                    }
                }
            }
        }
        let mut payloads: Vec<String> = sqlx::query_scalar(
            "SELECT payload FROM sandbox_webhook_deliveries WHERE delivered_at IS NOT NULL ORDER BY random() LIMIT 4",
        )
        .fetch_all(&pool)
        .await
        .unwrap();
        {
            payloads.shuffle(&mut rand::thread_rng());
        }
        for payload in payloads {
            let stale = chance(0.1);
            let at = chrono::Utc::now().timestamp() - if stale { 3600 } else { 0 };
            let res = http
                .post(&url)
                .header("content-type", "application/json")
                .header("stripe-signature", signature_header(&secret, at, &payload))
                .body(payload)
                .send()
                .await;
            match res.map(|r| r.status().as_u16()) {
                Ok(s) if stale && s == 400 => {}
                Ok(s) if !stale && (200..300).contains(&s) => {
                    tally.replays.fetch_add(1, Ordering::Relaxed);
                }
                other => tally.unexpected(format!("webhook replay (stale: {stale}): {other:?}")),
            }
        }
        let requeued = sqlx::query(
            "UPDATE sandbox_webhook_deliveries SET delivered_at = NULL, next_attempt_at = now()
              WHERE id IN (SELECT id FROM sandbox_webhook_deliveries WHERE delivered_at IS NOT NULL
                            ORDER BY random() LIMIT 2)",
        )
        .execute(&pool)
        .await
        .unwrap()
        .rows_affected();
        tally.requeued.fetch_add(requeued, Ordering::Relaxed);
        tokio::time::sleep(pause(50..150)).await;
    }
}

fn soak_seconds() -> u64 {
    std::env::var("SOAK_SECONDS").ok().and_then(|s| s.parse().ok()).unwrap_or(15)
}

#[sqlx::test(migrations = "./migrations")]
async fn booking_accepting_and_completing_under_replayed_webhooks_and_hang_ups(pool: PgPool) {
    // Server-side errors are logged; the test prints them when it fails.
    let _ = tracing_subscriber::fmt().with_test_writer().with_env_filter("warn").try_init();
    fixtures::plan(&pool).await;
    let a = fixtures::workshop(&pool, "Soak North").await;
    let b = fixtures::workshop(&pool, "Soak Harbor").await;
    let mut mechanics = Vec::new();
    for (i, workshop) in [Some(a), Some(a), Some(a), Some(b), Some(b), None, None].into_iter().enumerate() {
        let email = format!("mechanic{i}@soak.test");
        mechanics.push((fixtures::mechanic(&pool, &email, workshop, true).await, email));
    }
    // Everyone who earns can be paid out: the two workshops and the independents.
    for workshop in [a, b] {
        fixtures::connect(&pool, Some(workshop), None, true).await;
    }
    for (id, _) in &mechanics[5..] {
        fixtures::connect(&pool, None, Some(*id), true).await;
    }
    create_user(&pool, "admin@soak.test", Role::Admin).await;
    let mut customers = Vec::new();
    for i in 0..CUSTOMERS {
        let email = format!("customer{i}@soak.test");
        customers.push((create_user(&pool, &email, Role::Customer).await, email));
    }

    // The app as `autodoctor serve` runs it, on a loopback port, with its
    // sandbox deliverer and routing worker (escalating hybrid requests quickly).
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let mut config = test_config();
    config.routing_escalation_secs = 1;
    config.database_max_connections = 20;
    let app = TestApp::with_config(pool.clone(), config);
    let state = app.state.clone();
    let server = tokio::spawn(async move {
        axum::serve(listener, app.router.into_make_service_with_connect_info::<std::net::SocketAddr>())
            .await
            .unwrap()
    });
    let workers = autodoctor::workers::Supervisor::new();
    let deliverer = tokio::spawn(autodoctor::payments::sandbox::run_deliverer(
        pool.clone(),
        state.config.stripe_webhook_secret.clone(),
        format!("{base}/api/stripe/webhook"),
        state.sandbox_deliveries.clone().expect("sandbox mode"),
        workers.shutdown_handle(),
    ));
    let routing = tokio::spawn(autodoctor::offers::store::run_routing_worker(
        pool.clone(),
        autodoctor::offers::store::RoutingSettings::from_config(&state.config),
        workers.shutdown_handle(),
    ));

    let tally = Arc::new(Tally::default());
    let until = Instant::now() + Duration::from_secs(soak_seconds());
    let mut tasks = Vec::new();
    for (id, email) in &customers {
        let browser = Browser::new(&base, tally.clone());
        log_in(&browser, email).await;
        tasks.push(tokio::spawn(customer(pool.clone(), browser, *id, [a, b], until)));
    }
    for (id, email) in &mechanics {
        let browser = Browser::new(&base, tally.clone());
        log_in(&browser, email).await;
        tasks.push(tokio::spawn(mechanic(pool.clone(), browser, *id, until)));
    }
    tasks.push(tokio::spawn(chaos(state.clone(), base.clone(), tally.clone(), until)));
    let admin_browser = Browser::new(&base, tally.clone());
    log_in(&admin_browser, "admin@soak.test").await;
    tasks.push(tokio::spawn(admin(pool.clone(), admin_browser, until)));
    for t in tasks {
        t.await.expect("no soak task panics");
    }

    // Let the sandbox deliver what is still queued (requeued events included).
    let drained = Instant::now() + Duration::from_secs(30);
    loop {
        let queued: i64 =
            sqlx::query_scalar("SELECT count(*) FROM sandbox_webhook_deliveries WHERE delivered_at IS NULL")
                .fetch_one(&pool)
                .await
                .unwrap();
        if queued == 0 {
            break;
        }
        assert!(Instant::now() < drained, "{queued} webhook(s) still undelivered after 30 s");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // A last payout run once everything has settled: afterwards nobody is owed anything.
    let admin_browser = Browser::new(&base, tally.clone());
    log_in(&admin_browser, "admin@soak.test").await;
    match admin_browser.call("/api/admin/payouts/run", &[]).await {
        Some((200, _)) => {}
        other => panic!("the last payout run: {other:?}"),
    }
    deliverer.abort();
    routing.abort();
    server.abort();

    let unexpected = tally.unexpected.lock().unwrap().clone();
    assert!(unexpected.is_empty(), "unexpected answers:\n{}", unexpected.join("\n"));
    // The money, against sources outside the app's own records: what the gateway
    // (the sandbox's checkout sessions and refunds) took and gave back, and the
    // catalog's prices. The ledger's cash is what the gateway took for every order
    // that was not held (a held payment waits for the admin, outside the books),
    // less what the gateway refunded, to the cent
    let (cash, gateway_paid, gateway_refunded): (i64, i64, i64) = sqlx::query_as(
        "SELECT coalesce((SELECT sum(p.amount_cents) FROM postings p JOIN ledger_accounts a ON a.id = p.account_id
                           WHERE a.kind = 'gateway_cash'), 0)::bigint,
                coalesce((SELECT sum(c.amount_cents) FROM sandbox_checkout_sessions c JOIN orders o ON o.id = c.order_id
                           WHERE c.status = 'complete' AND o.status <> 'held'), 0)::bigint,
                coalesce((SELECT sum(amount_cents) FROM sandbox_refunds WHERE status = 'succeeded'), 0)::bigint",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    // (less what it transferred to the payees net of reversals: see books_match_the_gateway)
    // Every order that was paid paid the catalog's price of its plan, at the gateway and in the app.
    let off_price: Vec<(Uuid, i64, Option<i64>, i64)> = sqlx::query_as(
        "SELECT o.id, p.price_cents, o.amount_paid_cents, c.amount_cents
           FROM orders o JOIN plans p ON p.code = o.plan_code
           JOIN sandbox_checkout_sessions c ON c.order_id = o.id AND c.status = 'complete'
          WHERE o.paid_at IS NOT NULL
            AND (o.amount_paid_cents IS DISTINCT FROM p.price_cents OR c.amount_cents <> p.price_cents)",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    assert_eq!(
        off_price,
        vec![],
        "orders paid other than the catalog price (order, price, paid, at the gateway)"
    );
    let refunded: i64 = sqlx::query_scalar(
        "SELECT coalesce(sum(amount_cents), 0)::bigint FROM refunds WHERE status = 'succeeded'",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(refunded, gateway_refunded, "the app's refunds are the gateway's");
    books_match_the_gateway(&pool, &tally, cash, gateway_paid, gateway_refunded).await;

    let problems = autodoctor::consistency::check(&pool).await.unwrap();
    assert!(problems.is_empty(), "the books are not whole after the soak:\n{}", problems.join("\n"));

    // Every paid checkout became one paid order (refunded ones included) or, when
    // a wrong amount reached it first, stayed held; no more.
    let (paid_checkouts, paid_orders, held_paid, requests): (i64, i64, i64, i64) = sqlx::query_as(
        "SELECT (SELECT count(*) FROM sandbox_checkout_sessions WHERE status = 'complete'),
                (SELECT count(*) FROM orders WHERE paid_at IS NOT NULL),
                (SELECT count(*) FROM orders o WHERE o.status = 'held'
                    AND EXISTS (SELECT 1 FROM sandbox_checkout_sessions c WHERE c.order_id = o.id AND c.status = 'complete')),
                (SELECT count(*) FROM session_requests)",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(paid_checkouts, paid_orders + held_paid, "each paid checkout is one paid (or held) order");
    let held_served: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM orders o WHERE o.status = 'held' AND EXISTS (SELECT 1 FROM session_requests r WHERE r.order_id = o.id)",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(held_served, 0, "no held order is offered to anyone");
    let refunded_then_served: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM orders o JOIN sessions s ON s.order_id = o.id
          WHERE o.status = 'refunded'
            AND NOT EXISTS (SELECT 1 FROM refunds f WHERE f.order_id = o.id AND f.session_id IS NOT NULL)",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(refunded_then_served, 0, "no order refunded in full before its session was served anyway");
    assert_eq!(paid_orders, requests, "each paid order has exactly one request");

    // Every event was recorded once however often it came.
    let (events, distinct_payloads): (i64, i64) = sqlx::query_as(
        "SELECT (SELECT count(*) FROM stripe_events),
                (SELECT count(DISTINCT payload::json ->> 'id') FROM sandbox_webhook_deliveries)",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    let n = |c: &AtomicU64| c.load(Ordering::Relaxed);
    // The sandbox's events, and the wrong-amount ones the chaos signed itself (each its own id).
    assert_eq!(
        events,
        distinct_payloads + n(&tally.wrong_amounts) as i64,
        "one stripe_events row per event id"
    );

    eprintln!(
        "soak: {} checkouts, {} payments, {} accepts ({} lost races), {} completions, {} ratings, {} cancels, \
         {} hang-ups ({} answered in time), {} webhook replays, {} redeliveries, {} forged and {} wrong-amount events, {} full refunds, \
         admin: {} full and {} partial refunds ({} refused as the order changed), {} payout runs",
        n(&tally.checkouts),
        n(&tally.payments),
        n(&tally.accepts),
        n(&tally.lost_races),
        n(&tally.completions),
        n(&tally.ratings),
        n(&tally.cancels),
        n(&tally.hang_ups),
        n(&tally.answered_before_hang_up),
        n(&tally.replays),
        n(&tally.requeued),
        n(&tally.forged),
        n(&tally.wrong_amounts),
        n(&tally.full_refunds),
        n(&tally.admin_full_refunds),
        n(&tally.admin_partial_refunds),
        n(&tally.admin_refunds_refused),
        n(&tally.payout_runs),
    );
    // The soak did real work, and every kind of fault happened.
    assert!(paid_orders >= 5, "only {paid_orders} paid orders");
    assert!(n(&tally.completions) >= 2, "only {} completed sessions", n(&tally.completions));
    assert!(n(&tally.replays) >= 5 && n(&tally.requeued) >= 5, "too few replays");
    // Calls still in flight when the client gave up (not just attempts).
    assert!(n(&tally.hang_ups) >= 5, "too few hang-ups");
    assert!(
        n(&tally.forged) >= 1 && n(&tally.wrong_amounts) >= 1,
        "no forged or wrong-amount event was sent"
    );
    assert!(
        n(&tally.admin_full_refunds) >= 1
            && n(&tally.admin_partial_refunds) >= 1
            && n(&tally.payout_runs) >= 1,
        "the admin made no full refund, no partial refund or no payout run"
    );
}

/// The books against the gateway's own records (the sandbox's checkouts, refunds,
/// transfers and reversals) and the test's record of the refunds it was told
/// succeeded; run after a last payout run.
async fn books_match_the_gateway(pool: &PgPool, tally: &Tally, cash: i64, paid: i64, refunded: i64) {
    use std::collections::BTreeMap;
    // Each order's refunds at the gateway (its payment intent's), and the app's.
    let rows: Vec<(Uuid, i64, i64, i64)> = sqlx::query_as(
        "SELECT c.order_id, c.amount_cents,
                coalesce((SELECT sum(r.amount_cents) FROM sandbox_refunds r
                           WHERE r.payment_intent = c.payment_intent AND r.status = 'succeeded'), 0)::bigint,
                o.amount_refunded_cents
           FROM sandbox_checkout_sessions c JOIN orders o ON o.id = c.order_id
          WHERE c.status = 'complete' AND c.payment_intent IS NOT NULL",
    )
    .fetch_all(pool)
    .await
    .unwrap();
    let mut asked: BTreeMap<Uuid, i64> = BTreeMap::new();
    for (order, cents) in tally.refunded.lock().unwrap().iter() {
        *asked.entry(*order).or_default() += cents;
    }
    let cancelled = tally.cancelled.lock().unwrap().clone();
    let mut wrong = Vec::new();
    for (order, gateway_paid, at_gateway, in_app) in &rows {
        // A cancel refunds whatever was left: the order is then refunded in full.
        let expected =
            if cancelled.contains(order) { *gateway_paid } else { asked.remove(order).unwrap_or(0) };
        asked.remove(order);
        if *at_gateway != expected || *in_app != *at_gateway {
            wrong.push(format!(
                "{order}: refunded at the gateway {at_gateway}, by the app {in_app}, asked {expected}"
            ));
        }
    }
    assert!(asked.is_empty(), "refunds of orders the gateway took no payment for: {asked:?}");
    assert!(wrong.is_empty(), "orders whose refunds are not what was asked:\n{}", wrong.join("\n"));

    // What the gateway transferred to each payee's account, net of reversals, and
    // what the app says it paid out there.
    let transfers: Vec<(String, i64, i64, i64)> = sqlx::query_as(
        "SELECT t.destination, sum(t.amount_cents)::bigint,
                coalesce(sum((SELECT sum(v.amount_cents) FROM sandbox_transfer_reversals v WHERE v.transfer_id = t.id)), 0)::bigint,
                count(*)
           FROM sandbox_transfers t GROUP BY t.destination ORDER BY 1",
    )
    .fetch_all(pool)
    .await
    .unwrap();
    let payouts: Vec<(String, i64)> = sqlx::query_as(
        "SELECT coalesce(destination, ''), sum(amount_cents)::bigint FROM payouts WHERE status = 'paid' GROUP BY 1 ORDER BY 1",
    )
    .fetch_all(pool)
    .await
    .unwrap();
    let gross: Vec<(String, i64)> = transfers.iter().map(|(d, t, _, _)| (d.clone(), *t)).collect();
    assert_eq!(gross, payouts, "each payee was transferred what the app's payouts say (account, cents)");
    assert!(!transfers.is_empty(), "the payout runs transferred nothing");
    let net_transferred: i64 = transfers.iter().map(|(_, t, r, _)| t - r).sum();
    let twice: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM (SELECT 1 FROM payouts WHERE status = 'paid' GROUP BY run_id, ledger_account_id
                                HAVING count(*) > 1) x",
    )
    .fetch_one(pool)
    .await
    .unwrap();
    assert_eq!(twice, 0, "a payee paid twice in one run");

    // The cash held is what the gateway took, less its refunds and its net transfers.
    let reversed: i64 = transfers.iter().map(|(_, _, r, _)| r).sum();
    assert_eq!(
        cash,
        paid - refunded - net_transferred,
        "ledger cash = taken {paid} - refunded {refunded} - transferred {} + reversed {reversed}, at the gateway",
        net_transferred + reversed
    );
    // Clearing holds what was paid and not refunded for the orders not yet served.
    let (clearing, unserved): (i64, i64) = sqlx::query_as(
        "SELECT (SELECT balance_cents FROM ledger_accounts WHERE kind = 'payment_clearing'),
                coalesce((SELECT sum(c.amount_cents - coalesce((SELECT sum(r.amount_cents) FROM sandbox_refunds r
                                     WHERE r.payment_intent = c.payment_intent AND r.status = 'succeeded'), 0))
                    FROM sandbox_checkout_sessions c JOIN orders o ON o.id = c.order_id
                   WHERE c.status = 'complete' AND o.status <> 'held'
                     AND NOT EXISTS (SELECT 1 FROM sessions s WHERE s.order_id = o.id AND s.status = 'completed')), 0)::bigint",
    )
    .fetch_one(pool)
    .await
    .unwrap();
    assert_eq!(clearing, -unserved, "clearing = paid and not refunded at the gateway for unserved orders");
    // After the last run every payee with payouts (all of them) is owed nothing;
    // a refund after a payout that could not be taken back may leave a debt.
    let owed: Vec<(String, i64)> = sqlx::query_as(
        "SELECT kind::text || ' ' || coalesce(organization_id, mechanic_id)::text, balance_cents FROM ledger_accounts
          WHERE kind IN ('workshop_payable', 'mechanic_payable') AND balance_cents < 0",
    )
    .fetch_all(pool)
    .await
    .unwrap();
    assert_eq!(owed, vec![], "payees still owed money after the last payout run (liabilities are negative)");
}
