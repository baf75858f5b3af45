//! Revocation under open streams (issue 20, audit M10). A live stream that is
//! already open (the mechanic's offers, the customer's order, the session room)
//! ends within a couple of seconds of what revokes it — a log-out, a password
//! change, a suspended account or workshop, a removal from the workshop — even
//! when the stream is served by another app instance than the one that made
//! the change; a stream that is still entitled keeps receiving events.
//!
//! What each revocation ends (the decision these tests hold the code to):
//! - log-out: every stream of that log-in (not the user's other log-ins);
//! - a password change: every stream of the user's other log-ins (they are
//!   ended), not those of the log-in that changed it;
//! - a suspended account (`users.disabled_at`; there is no admin page for it
//!   yet, so the test sets it as an operator would): every stream of the user;
//! - a suspended workshop, or a removal from it: the offers streams of its
//!   mechanics (they may no longer be offered work as its mechanics). A session
//!   room stays open: the room is the session's participants', the customer has
//!   paid for it, and the mechanic who took it finishes it.
//!
//! Every instance learns of a revocation by LISTEN/NOTIFY (`AccessChanged`
//! with the user's id, sent by triggers in the transaction that makes the
//! change), so the tests serve two instances on one database, open the revoked
//! streams on instance two and make every change through instance one.

use crate::testing::fixtures::{mechanic, owner, paid_request, plan, workshop, write_report};
use crate::testing::{create_user, TestApp, ORIGIN, TEST_PASSWORD};
use autodoctor::auth::Role;
use autodoctor::dispatch::RoutingType;
use sqlx::PgPool;
use std::net::SocketAddr;
use std::time::Duration;
use uuid::Uuid;

/// How soon a revoked stream must end.
const PROMPT: Duration = Duration::from_secs(3);

async fn serve(app: &TestApp) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let router = app.router.clone();
    tokio::spawn(async move {
        let _ = axum::serve(listener, router.into_make_service_with_connect_info::<SocketAddr>()).await;
    });
    addr
}

/// A browser logged in as `email` (its own cookie jar: one log-in).
async fn log_in(addr: SocketAddr, email: &str) -> reqwest::Client {
    let http = reqwest::Client::builder().cookie_store(true).build().unwrap();
    let res = http
        .post(format!("http://{addr}/api/public/auth/log-in"))
        .header("origin", ORIGIN)
        .form(&[("email", email), ("password", TEST_PASSWORD)])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200, "log in {email}");
    http
}

async fn post(http: &reqwest::Client, addr: SocketAddr, path: &str, form: &[(&str, &str)]) {
    let res =
        http.post(format!("http://{addr}{path}")).header("origin", ORIGIN).form(form).send().await.unwrap();
    let status = res.status();
    assert_eq!(status, 200, "{path}: {}", res.text().await.unwrap_or_default());
}

/// The open streams in the registry (`live_streams`): (email, kind, log-in).
async fn registered(pool: &PgPool) -> Vec<(String, String, String)> {
    sqlx::query_as(
        "SELECT u.email, ls.kind, ls.login_id FROM live_streams ls JOIN users u ON u.id = ls.user_id
          ORDER BY u.email, ls.kind, ls.login_id",
    )
    .fetch_all(pool)
    .await
    .unwrap()
}

/// The log-ins of `email`, oldest first.
async fn logins(pool: &PgPool, email: &str) -> Vec<String> {
    sqlx::query_scalar(
        "SELECT us.session_id FROM user_sessions us JOIN users u ON u.id = us.user_id
          WHERE u.email = $1 ORDER BY us.created_at, us.session_id",
    )
    .bind(email)
    .fetch_all(pool)
    .await
    .unwrap()
}

/// Waits (up to [`PROMPT`]) until no stream of `login` is recorded as open.
async fn unregistered(pool: &PgPool, login: &str) {
    let deadline = tokio::time::Instant::now() + PROMPT;
    while registered(pool).await.iter().any(|(_, _, l)| l == login) {
        assert!(tokio::time::Instant::now() < deadline, "the ended streams of {login} are still registered");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// What `autodoctor check` says about the live streams.
async fn stream_problems(pool: &PgPool) -> Vec<String> {
    let problems = autodoctor::consistency::check(pool).await.unwrap();
    problems.into_iter().filter(|p| p.starts_with("live stream")).collect()
}

/// One open Server-Sent Events stream.
struct Live {
    what: &'static str,
    res: reqwest::Response,
    buf: String,
}

impl Live {
    /// Opens the stream and reads its first event (the state on connect).
    async fn open(what: &'static str, http: &reqwest::Client, addr: SocketAddr, path: &str) -> Live {
        let res = http.get(format!("http://{addr}{path}")).send().await.unwrap();
        assert_eq!(res.status(), 200, "{what}: {path}");
        let mut live = Live { what, res, buf: String::new() };
        let first = live.next(Duration::from_secs(10)).await;
        assert!(first.as_ref().is_some_and(|(name, _)| name != "ended"), "{what}: {first:?}");
        live
    }

    /// The next named event, or `None` when the stream ended; panics when
    /// neither happens within `within`.
    async fn next(&mut self, within: Duration) -> Option<(String, String)> {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            if let Some(end) = self.buf.find("\n\n") {
                let event: String = self.buf.drain(..end + 2).collect();
                let name = event.lines().find_map(|l| l.strip_prefix("event: ")).unwrap_or("").to_string();
                if name.is_empty() {
                    continue; // a keep-alive comment
                }
                let data = event.lines().find_map(|l| l.strip_prefix("data: ")).unwrap_or("").to_string();
                return Some((name, data));
            }
            let chunk = tokio::time::timeout_at(deadline, self.res.chunk())
                .await
                .unwrap_or_else(|_| panic!("{}: no event and no end within {within:?}", self.what));
            match chunk {
                Ok(Some(bytes)) => self.buf.push_str(&String::from_utf8_lossy(&bytes)),
                Ok(None) | Err(_) => return None,
            }
        }
    }

    /// The stream says `ended` and closes, both within [`PROMPT`].
    async fn ends_promptly(&mut self) {
        let deadline = tokio::time::Instant::now() + PROMPT;
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            match self.next(left).await {
                Some((name, _)) if name == "ended" => break,
                Some(_) => continue, // a reload that raced the revocation
                None => panic!("{}: closed without saying `ended`", self.what),
            }
        }
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        let after = self.next(left.max(Duration::from_millis(100))).await;
        assert!(after.is_none(), "{}: still open after `ended`: {after:?}", self.what);
    }

    /// Reads until an event `name` whose data contains `needle` (within 10 s).
    async fn receives(&mut self, name: &str, needle: &str) {
        loop {
            match self.next(Duration::from_secs(10)).await {
                Some((n, data)) if n == name && data.contains(needle) => return,
                Some((n, data)) => {
                    assert_ne!(n, "ended", "{}: ended, but is still entitled: {data}", self.what)
                }
                None => panic!("{}: closed, but is still entitled (waiting for {needle})", self.what),
            }
        }
    }
}

struct World {
    one: TestApp,
    addr_one: SocketAddr,
    addr_two: SocketAddr,
    a: Uuid,
    a1: Uuid,
    a2: Uuid,
    cust2: Uuid,
    /// The customer's order served by a1, and its session (under way).
    order: Uuid,
    session: Uuid,
}

/// Workshop A (owner, mechanics a1 and a2), workshop B (mechanic b1), an
/// independent, two customers, an admin; a session of the customer with a1.
/// Two instances on the database, both listening.
async fn world(pool: &PgPool) -> World {
    plan(pool).await;
    let a = workshop(pool, "Alpha").await;
    let b = workshop(pool, "Beta").await;
    let a1 = mechanic(pool, "a1@example.com", Some(a), true).await;
    let a2 = mechanic(pool, "a2@example.com", Some(a), true).await;
    mechanic(pool, "b1@example.com", Some(b), true).await;
    owner(pool, "owner.a@example.com", a).await;
    create_user(pool, "admin@example.com", Role::Admin).await;
    let cust = create_user(pool, "cust@example.com", Role::Customer).await;
    let cust2 = create_user(pool, "cust2@example.com", Role::Customer).await;
    sqlx::query("UPDATE mechanics SET capacity = 5").execute(pool).await.unwrap();
    let (order, request) = paid_request(pool, cust, RoutingType::WorkshopOnly, Some(a)).await;
    let policy =
        autodoctor::offers::store::RoutingSettings::from_config(&crate::testing::test_config()).policy;
    let session = autodoctor::offers::accept::accept(
        pool,
        autodoctor::ids::UserId(a1),
        autodoctor::ids::RequestId(request),
        chrono::Utc::now(),
        &policy,
    )
    .await
    .unwrap();
    let (one, two) = (TestApp::new(pool.clone()), TestApp::new(pool.clone()));
    let (addr_one, addr_two) = (serve(&one).await, serve(&two).await);
    one.state.realtime.listening().await;
    two.state.realtime.listening().await;
    World { one, addr_one, addr_two, a, a1, a2, cust2, order, session }
}

impl World {
    fn room(&self) -> String {
        format!("/api/live/session/{}", self.session)
    }

    fn order_stream(&self) -> String {
        format!("/api/live/order/{}", self.order)
    }

    async fn chat(&self, http: &reqwest::Client, body: &str) {
        let sid = self.session.to_string();
        post(http, self.addr_one, "/api/session/chat", &[("session_id", &sid), ("body", body)]).await;
    }

    /// A logged-in in-process client of instance one.
    async fn client_one(&self, email: &str) -> crate::testing::TestClient {
        let mut c = self.one.client();
        assert_eq!(c.log_in(email, TEST_PASSWORD).await.status, 200, "log in {email}");
        c
    }
}

#[sqlx::test(migrator = "autodoctor::db::MIGRATOR")]
async fn log_out_and_a_password_change_end_open_streams_on_every_instance(pool: PgPool) {
    let w = world(&pool).await;
    let (one, two) = (w.addr_one, w.addr_two);
    let (cust_phone, cust_laptop) =
        (log_in(two, "cust@example.com").await, log_in(one, "cust@example.com").await);
    let (a1_phone, a1_laptop) = (log_in(two, "a1@example.com").await, log_in(one, "a1@example.com").await);
    let mut phone_order = Live::open("customer's phone: order", &cust_phone, two, &w.order_stream()).await;
    let mut phone_room = Live::open("customer's phone: room", &cust_phone, two, &w.room()).await;
    let mut laptop_order = Live::open("customer's laptop: order", &cust_laptop, one, &w.order_stream()).await;
    let mut laptop_room = Live::open("customer's laptop: room", &cust_laptop, one, &w.room()).await;
    let mut a1_phone_offers = Live::open("a1's phone: offers", &a1_phone, two, "/api/live/offers").await;
    let mut a1_phone_room = Live::open("a1's phone: room", &a1_phone, two, &w.room()).await;
    let mut a1_laptop_offers = Live::open("a1's laptop: offers", &a1_laptop, one, "/api/live/offers").await;
    let mut a1_laptop_room = Live::open("a1's laptop: room", &a1_laptop, one, &w.room()).await;

    // Every open stream is in the registry under the log-in that opened it.
    let (cust_logins, a1_logins) =
        (logins(&pool, "cust@example.com").await, logins(&pool, "a1@example.com").await);
    assert_eq!((cust_logins.len(), a1_logins.len()), (2, 2));
    let mut expected = Vec::new();
    for (email, logins, kinds) in [
        ("a1@example.com", &a1_logins, ["offers", "session"]),
        ("cust@example.com", &cust_logins, ["order", "session"]),
    ] {
        for kind in kinds {
            for login in logins.iter() {
                expected.push((email.to_string(), kind.to_string(), login.clone()));
            }
        }
    }
    expected.sort();
    assert_eq!(registered(&pool).await, expected);
    assert_eq!(stream_problems(&pool).await, Vec::<String>::new());

    // The customer logs out on the phone (through instance one): the phone's
    // streams on instance two end; the laptop's log-in goes on receiving.
    post(&cust_phone, one, "/api/public/auth/log-out", &[]).await;
    phone_order.ends_promptly().await;
    phone_room.ends_promptly().await;
    let phone_login = &cust_logins[0];
    assert!(!logins(&pool, "cust@example.com").await.contains(phone_login), "the phone's log-in has ended");
    unregistered(&pool, phone_login).await;
    assert_eq!(stream_problems(&pool).await, Vec::<String>::new());
    w.chat(&a1_laptop, "Is the noise there at idle?").await;
    laptop_room.receives("room", "Is the noise there at idle?").await;
    a1_phone_room.receives("room", "Is the noise there at idle?").await;
    a1_laptop_room.receives("room", "Is the noise there at idle?").await;

    // a1 changes the password on the laptop: the phone's log-in is ended, and
    // its streams with it; the laptop's (which made the change) go on.
    post(
        &a1_laptop,
        one,
        "/api/account/password",
        &[
            ("current_password", TEST_PASSWORD),
            ("new_password", "a brand new passphrase"),
            ("confirm_password", "a brand new passphrase"),
        ],
    )
    .await;
    a1_phone_offers.ends_promptly().await;
    a1_phone_room.ends_promptly().await;
    unregistered(&pool, &a1_logins[0]).await;
    let (_, request) = paid_request(&pool, w.cust2, RoutingType::WorkshopOnly, Some(w.a)).await;
    a1_laptop_offers.receives("offers", &request.to_string()).await;
    w.chat(&cust_laptop, "Only when it is cold").await;
    a1_laptop_room.receives("room", "Only when it is cold").await;
    laptop_room.receives("room", "Only when it is cold").await;

    // The customer's laptop still follows the order: the session ends, it says so.
    write_report(&pool, w.session, w.a1).await;
    post(&a1_laptop, one, "/api/session/end", &[("session_id", &w.session.to_string())]).await;
    laptop_order.receives("order", r#""session_status":"completed""#).await;
    let left: Vec<String> = registered(&pool).await.into_iter().map(|(_, _, login)| login).collect();
    assert!(left.iter().all(|l| *l == cust_logins[1] || *l == a1_logins[1]), "{left:?}");
    assert_eq!(stream_problems(&pool).await, Vec::<String>::new());
}

/// `autodoctor check`'s "every live stream belongs to a live log-in", on the
/// rows a stream that failed to end would leave: such a row is added beside a
/// real stream, under the same log-in (no stream owns it, so nothing deletes
/// it), and the check must name it once it outlives the log-in, and only then.
#[sqlx::test(migrator = "autodoctor::db::MIGRATOR")]
async fn the_check_names_a_stream_that_outlives_its_log_in(pool: PgPool) {
    let w = world(&pool).await;
    let (one, two) = (w.addr_one, w.addr_two);

    // A real stream, logged out: past its next re-check (10 s), the check finds
    // nothing and its row is gone. (A stream that took the dead log-in for a
    // live one would have confirmed it by then, and be named.)
    let phone = log_in(two, "cust@example.com").await;
    let mut phone_order = Live::open("customer's phone: order", &phone, two, &w.order_stream()).await;
    let phone_login = logins(&pool, "cust@example.com").await.remove(0);
    assert_eq!(
        registered(&pool).await,
        vec![("cust@example.com".into(), "order".into(), phone_login.clone())]
    );
    post(&phone, one, "/api/public/auth/log-out", &[]).await;
    tokio::time::sleep(Duration::from_secs(12)).await;
    assert_eq!(stream_problems(&pool).await, Vec::<String>::new(), "a logged-out stream past its re-check");
    assert_eq!(registered(&pool).await, Vec::new(), "the logged-out stream's row");
    phone_order.ends_promptly().await;

    // Now a stuck row beside a real stream of a new log-in.
    let cust = log_in(two, "cust@example.com").await;
    let mut order = Live::open("customer: order", &cust, two, &w.order_stream()).await;
    let login = logins(&pool, "cust@example.com").await.remove(0);
    assert_eq!(registered(&pool).await, vec![("cust@example.com".into(), "order".into(), login.clone())]);
    let cust_id: Uuid = sqlx::query_scalar("SELECT id FROM users WHERE email = 'cust@example.com'")
        .fetch_one(&pool)
        .await
        .unwrap();
    w.one.leaves_invariants_broken(
        &["live stream whose log-in has ended"],
        "it plants stream rows that outlive their log-ins, to see them named",
    );
    let stuck = Uuid::new_v4();
    sqlx::query("INSERT INTO live_streams (stream_id, user_id, login_id, kind) VALUES ($1, $2, $3, 'order')")
        .bind(stuck)
        .bind(cust_id)
        .bind(&login)
        .execute(&pool)
        .await
        .unwrap();
    assert_eq!(stream_problems(&pool).await, Vec::<String>::new(), "the log-in holds");

    // Log-out: the real stream ends and its row goes; the stuck row's log-in is
    // stamped as ended.
    post(&cust, one, "/api/public/auth/log-out", &[]).await;
    order.ends_promptly().await;
    let deadline = tokio::time::Instant::now() + PROMPT;
    while registered(&pool).await.len() > 1 {
        assert!(tokio::time::Instant::now() < deadline, "the real stream's row is still there");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let ended: Option<chrono::DateTime<chrono::Utc>> =
        sqlx::query_scalar("SELECT login_ended_at FROM live_streams WHERE stream_id = $1")
            .bind(stuck)
            .fetch_one(&pool)
            .await
            .unwrap();
    let ended = ended.expect("the log-out stamps the end of the log-in");
    assert!((chrono::Utc::now() - ended).num_seconds().abs() < 5, "{ended}");

    let named = vec![format!("live stream whose log-in has ended: {stuck}")];
    let set = |confirmed: &'static str, ended: &'static str| {
        let pool = pool.clone();
        async move {
            sqlx::query(
                "UPDATE live_streams SET confirmed_at = now() - $2::text::interval,
                        login_ended_at = now() - $3::text::interval WHERE stream_id = $1",
            )
            .bind(stuck)
            .bind(confirmed)
            .bind(ended)
            .execute(&pool)
            .await
            .unwrap();
        }
    };
    // Confirmed just before the end: it has until its next re-check to go.
    set("1 second", "0 seconds").await;
    assert_eq!(stream_problems(&pool).await, Vec::<String>::new(), "within the re-check");
    set("8 seconds", "5 seconds").await;
    assert_eq!(stream_problems(&pool).await, Vec::<String>::new(), "within the re-check");
    // Confirmed after the end: its stream took a dead log-in for a live one.
    set("0 seconds", "5 seconds").await;
    assert_eq!(stream_problems(&pool).await, named, "confirmed after the end");
    // Confirmed before the end, and still there well past its next re-check.
    set("25 seconds", "26 seconds").await;
    assert_eq!(stream_problems(&pool).await, named, "left after the re-check");
    // Not confirmed for minutes: a dead instance's row, not an open stream.
    set("2 minutes", "3 minutes").await;
    assert_eq!(stream_problems(&pool).await, Vec::<String>::new(), "a dead instance's row");

    // A suspended account: its real stream ends; a row confirmed after the
    // suspension is named.
    let a1 = log_in(two, "a1@example.com").await;
    let mut offers = Live::open("a1: offers", &a1, two, "/api/live/offers").await;
    let a1_login = logins(&pool, "a1@example.com").await.remove(0);
    let stuck_a1 = Uuid::new_v4();
    sqlx::query(
        "INSERT INTO live_streams (stream_id, user_id, login_id, kind) VALUES ($1, $2, $3, 'offers')",
    )
    .bind(stuck_a1)
    .bind(w.a1)
    .bind(&a1_login)
    .execute(&pool)
    .await
    .unwrap();
    sqlx::query("UPDATE users SET disabled_at = now() - interval '10 seconds' WHERE id = $1")
        .bind(w.a1)
        .execute(&pool)
        .await
        .unwrap();
    offers.ends_promptly().await;
    // (The real stream, confirmed when it opened, after the suspension's stamp,
    // must be gone first: it is, once it has ended.)
    let deadline = tokio::time::Instant::now() + PROMPT;
    while registered(&pool).await.iter().filter(|(_, _, l)| *l == a1_login).count() > 1 {
        assert!(tokio::time::Instant::now() < deadline, "a1's real stream's row is still there");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        stream_problems(&pool).await,
        vec![format!("live stream whose log-in has ended: {stuck_a1}")],
        "confirmed after the suspension"
    );
    sqlx::query("DELETE FROM live_streams WHERE stream_id = $1").bind(stuck_a1).execute(&pool).await.unwrap();

    // An expired log-in (the idle or absolute timeout), its session row still
    // stored: a row confirmed before the expiry is within its re-check, one
    // confirmed after it is named.
    let _a2 = log_in(two, "a2@example.com").await;
    let a2_login = logins(&pool, "a2@example.com").await.remove(0);
    let stuck_a2 = Uuid::new_v4();
    sqlx::query(
        "INSERT INTO live_streams (stream_id, user_id, login_id, kind, confirmed_at)
         VALUES ($1, $2, $3, 'offers', now() - interval '5 seconds')",
    )
    .bind(stuck_a2)
    .bind(w.a2)
    .bind(&a2_login)
    .execute(&pool)
    .await
    .unwrap();
    sqlx::query("UPDATE tower_sessions.session SET expiry_date = now() - interval '3 seconds' WHERE id = $1")
        .bind(&a2_login)
        .execute(&pool)
        .await
        .unwrap();
    assert_eq!(stream_problems(&pool).await, Vec::<String>::new(), "confirmed before the expiry");
    sqlx::query("UPDATE live_streams SET confirmed_at = now() WHERE stream_id = $1")
        .bind(stuck_a2)
        .execute(&pool)
        .await
        .unwrap();
    assert_eq!(
        stream_problems(&pool).await,
        vec![format!("live stream whose log-in has ended: {stuck_a2}")],
        "confirmed after the expiry"
    );
}

#[sqlx::test(migrator = "autodoctor::db::MIGRATOR")]
async fn a_suspended_account_loses_its_open_streams_at_once(pool: PgPool) {
    let w = world(&pool).await;
    let (one, two) = (w.addr_one, w.addr_two);
    let cust = log_in(two, "cust@example.com").await;
    let b1 = log_in(two, "b1@example.com").await;
    let (a1, a2, cust2) = (
        log_in(two, "a1@example.com").await,
        log_in(two, "a2@example.com").await,
        log_in(two, "cust2@example.com").await,
    );
    let (order2, request2) = paid_request(&pool, w.cust2, RoutingType::WorkshopOnly, Some(w.a)).await;
    let mut cust_order = Live::open("customer: order", &cust, two, &w.order_stream()).await;
    let mut cust_room = Live::open("customer: room", &cust, two, &w.room()).await;
    let mut b1_offers = Live::open("b1: offers", &b1, two, "/api/live/offers").await;
    let mut a1_room = Live::open("a1: room", &a1, two, &w.room()).await;
    let mut a2_offers = Live::open("a2: offers", &a2, two, "/api/live/offers").await;
    let mut cust2_order =
        Live::open("customer 2: order", &cust2, two, &format!("/api/live/order/{order2}")).await;

    // The customer's and b1's accounts are suspended (the way an operator does it today).
    sqlx::query("UPDATE users SET disabled_at = now() WHERE email IN ('cust@example.com', 'b1@example.com')")
        .execute(&pool)
        .await
        .unwrap();
    cust_order.ends_promptly().await;
    cust_room.ends_promptly().await;
    b1_offers.ends_promptly().await;

    // Everyone else's streams go on.
    w.chat(&log_in(one, "a1@example.com").await, "Back in a minute").await;
    a1_room.receives("room", "Back in a minute").await;
    let (_, request) = paid_request(&pool, w.cust2, RoutingType::Broadcast, None).await;
    a2_offers.receives("offers", &request.to_string()).await;
    let policy = autodoctor::offers::store::RoutingSettings::from_config(&w.one.state.config).policy;
    let session2 = autodoctor::offers::accept::accept(
        &pool,
        autodoctor::ids::UserId(w.a2),
        autodoctor::ids::RequestId(request2),
        chrono::Utc::now(),
        &policy,
    )
    .await
    .unwrap();
    cust2_order.receives("order", &session2.to_string()).await;
}

#[sqlx::test(migrator = "autodoctor::db::MIGRATOR")]
async fn suspending_a_workshop_ends_its_mechanics_offers_streams(pool: PgPool) {
    let w = world(&pool).await;
    let two = w.addr_two;
    let (a1, a2, b1, cust) = (
        log_in(two, "a1@example.com").await,
        log_in(two, "a2@example.com").await,
        log_in(two, "b1@example.com").await,
        log_in(two, "cust@example.com").await,
    );
    let mut a1_offers = Live::open("a1: offers", &a1, two, "/api/live/offers").await;
    let mut a2_offers = Live::open("a2: offers", &a2, two, "/api/live/offers").await;
    let mut a1_room = Live::open("a1: room", &a1, two, &w.room()).await;
    let mut b1_offers = Live::open("b1: offers", &b1, two, "/api/live/offers").await;

    let mut admin = w.client_one("admin@example.com").await;
    let res = admin
        .call(
            "/api/admin/workshop/decide",
            &[("workshop_id", &w.a.to_string()), ("decision", "suspend"), ("reason", "Insurance lapsed")],
        )
        .await;
    assert_eq!(res.status, 200, "{}", res.body);
    a1_offers.ends_promptly().await;
    a2_offers.ends_promptly().await;

    // The session a1 took goes on (decision above); workshop B's mechanic is still offered work.
    w.chat(&cust, "Still there?").await;
    a1_room.receives("room", "Still there?").await;
    let (_, request) = paid_request(&pool, w.cust2, RoutingType::Broadcast, None).await;
    b1_offers.receives("offers", &request.to_string()).await;
}

#[sqlx::test(migrator = "autodoctor::db::MIGRATOR")]
async fn removal_from_the_workshop_ends_the_mechanics_offers_stream(pool: PgPool) {
    let w = world(&pool).await;
    let two = w.addr_two;
    let (a1, a2, cust) = (
        log_in(two, "a1@example.com").await,
        log_in(two, "a2@example.com").await,
        log_in(two, "cust@example.com").await,
    );
    let mut a1_offers = Live::open("a1: offers", &a1, two, "/api/live/offers").await;
    let mut a1_room = Live::open("a1: room", &a1, two, &w.room()).await;
    let mut a2_offers = Live::open("a2: offers", &a2, two, "/api/live/offers").await;

    let mut owner = w.client_one("owner.a@example.com").await;
    let res = owner.call("/api/workshop/remove-mechanic", &[("mechanic_id", &w.a1.to_string())]).await;
    assert_eq!(res.status, 200, "{}", res.body);
    a1_offers.ends_promptly().await;

    // a1 finishes the session already taken; a2, still in the workshop, is offered its work.
    w.chat(&cust, "Thanks for staying on").await;
    a1_room.receives("room", "Thanks for staying on").await;
    let (_, request) = paid_request(&pool, w.cust2, RoutingType::WorkshopOnly, Some(w.a)).await;
    a2_offers.receives("offers", &request.to_string()).await;
    // Nor is a1 offered it any more.
    let offers = autodoctor::offers::store::offers_for(
        &pool,
        autodoctor::ids::UserId(w.a1),
        chrono::Utc::now(),
        &autodoctor::offers::store::RoutingSettings::from_config(&w.one.state.config).policy,
    )
    .await
    .unwrap();
    assert!(offers.is_empty(), "a removed mechanic is offered nothing: {offers:?}");
}
