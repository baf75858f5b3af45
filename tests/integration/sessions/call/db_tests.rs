//! The call, against a real database and the real router: who may signal and
//! when, the order of the messages and their pruning, two app instances
//! relaying to each other, TURN credentials and the session clock.

use crate::testing::fixtures::{mechanic, paid_request, plan};
use crate::testing::{create_user, test_config, TestApp, TestClient, TEST_PASSWORD};
use autodoctor::auth::Role;
use autodoctor::dispatch::RoutingType;
use autodoctor::ids::{SessionId, UserId};
use autodoctor::sessions::call::signals;
use autodoctor::sessions::clock;
use axum::http::StatusCode;
use chrono::Utc;
use sqlx::PgPool;
use uuid::Uuid;

struct Room {
    session: Uuid,
    customer: Uuid,
    mechanic: Uuid,
}

/// A session just accepted by an independent mechanic, on `plan_code`.
async fn room(pool: &PgPool, plan_code: &str) -> Room {
    plan(pool).await;
    sqlx::query(
        "INSERT INTO plans (code, name, description, price_cents, currency, minutes, includes_call)
         VALUES ('chat10', 'Quick chat', 'Ten minutes of chat', 1500, 'usd', 10, false) ON CONFLICT DO NOTHING",
    )
    .execute(pool)
    .await
    .unwrap();
    let customer = create_user(pool, "cust@example.com", Role::Customer).await;
    let m = mechanic(pool, "mech@example.com", None, true).await;
    let (_, request) = paid_request(pool, customer, RoutingType::Broadcast, None).await;
    sqlx::query("UPDATE session_requests SET plan_code = $2 WHERE id = $1")
        .bind(request)
        .bind(plan_code)
        .execute(pool)
        .await
        .unwrap();
    let policy = autodoctor::offers::store::RoutingSettings::from_config(&test_config()).policy;
    let session = autodoctor::offers::accept::accept(
        pool,
        autodoctor::ids::UserId(m),
        autodoctor::ids::RequestId(request),
        Utc::now(),
        &policy,
    )
    .await
    .unwrap();
    Room { session, customer, mechanic: m }
}

async fn logged_in(app: &TestApp, email: &str) -> TestClient {
    let mut c = app.client();
    assert_eq!(c.log_in(email, TEST_PASSWORD).await.status, StatusCode::OK);
    c
}

async fn post_signal(c: &mut TestClient, session: Uuid, body: &str) -> crate::testing::TestResponse {
    c.post_raw(
        &format!("/api/session/{session}/call/signals"),
        "application/json",
        body.to_string(),
        &[("origin", crate::testing::ORIGIN), ("sec-fetch-site", "same-origin")],
    )
    .await
}

async fn stored(pool: &PgPool, session: Uuid) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM call_signals WHERE session_id = $1")
        .bind(session)
        .fetch_one(pool)
        .await
        .unwrap()
}

/// The sentence a plain route's error carries.
fn message(res: &crate::testing::TestResponse) -> String {
    res.json()["error"].as_str().unwrap_or_default().to_string()
}

const HELLO: &str = r#"{"kind":"hello","payload":{"from":"abc"}}"#;

#[sqlx::test(migrator = "autodoctor::db::MIGRATOR")]
async fn only_the_two_participants_signal_and_only_while_the_call_may_run(pool: PgPool) {
    let r = room(&pool, "video15").await;
    create_user(&pool, "other@example.com", Role::Customer).await;
    mechanic(&pool, "othermech@example.com", None, true).await;
    create_user(&pool, "admin@example.com", Role::Admin).await;
    let app = TestApp::new(pool.clone());

    let mut anon = app.client();
    assert_eq!(post_signal(&mut anon, r.session, HELLO).await.status, StatusCode::UNAUTHORIZED);
    for stranger in ["other@example.com", "othermech@example.com", "admin@example.com"] {
        let mut c = logged_in(&app, stranger).await;
        let res = post_signal(&mut c, r.session, HELLO).await;
        assert_eq!(res.status, StatusCode::NOT_FOUND, "{stranger}: {}", res.body);
        assert_eq!(
            c.get(&format!("/api/session/{}/call/ice", r.session)).await.status,
            StatusCode::NOT_FOUND
        );
    }
    assert_eq!(stored(&pool, r.session).await, 0, "strangers stored nothing");

    let mut cust = logged_in(&app, "cust@example.com").await;
    let mut mech = logged_in(&app, "mech@example.com").await;
    let res = post_signal(&mut cust, r.session, HELLO).await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.body);
    assert_eq!(res.json()["seq"], 1);
    let res =
        post_signal(&mut mech, r.session, r#"{"kind":"welcome","payload":{"from":"m","to":"abc"}}"#).await;
    assert_eq!(res.json()["seq"], 2);

    // Bad messages: a clear 4xx, nothing stored.
    for (body, status, words) in [
        ("not json", StatusCode::BAD_REQUEST, "JSON"),
        (r#"{"kind":"shout","payload":{}}"#, StatusCode::BAD_REQUEST, "Unknown kind"),
        (r#"{"kind":"offer","payload":"v=0"}"#, StatusCode::BAD_REQUEST, "JSON object"),
    ] {
        let res = post_signal(&mut cust, r.session, body).await;
        assert_eq!(res.status, status, "{body}: {}", res.body);
        assert!(message(&res).contains(words), "{}", res.body);
    }
    let big = format!(r#"{{"kind":"offer","payload":{{"sdp":"{}"}}}}"#, "a".repeat(70 * 1024));
    assert_eq!(post_signal(&mut cust, r.session, &big).await.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(stored(&pool, r.session).await, 2);
    assert_eq!(
        signals::latest(&pool, autodoctor::ids::SessionId(r.session)).await.unwrap(),
        2,
        "refusals take no number"
    );

    // Time up (the clock's close has passed): refused, with the reason.
    sqlx::query(
        "UPDATE sessions SET clock_started_at = now() - interval '20 minutes', clock_warns_at = now() - interval '7 minutes',
                clock_ends_at = now() - interval '5 minutes', call_closes_at = now() - interval '1 second' WHERE id = $1",
    )
    .bind(r.session)
    .execute(&pool)
    .await
    .unwrap();
    let res = post_signal(&mut cust, r.session, HELLO).await;
    assert_eq!(res.status, StatusCode::CONFLICT);
    assert!(message(&res).contains("time is up"), "{}", res.body);
    assert_eq!(cust.get(&format!("/api/session/{}/call/ice", r.session)).await.status, StatusCode::CONFLICT);

    // Ended: refused too.
    sqlx::query(
        "UPDATE sessions SET call_closes_at = now() + interval '1 hour', clock_ends_at = now() WHERE id = $1",
    )
    .bind(r.session)
    .execute(&pool)
    .await
    .unwrap();
    assert_eq!(post_signal(&mut mech, r.session, HELLO).await.status, StatusCode::CREATED);
    // Ended as the room ends it: the report first.
    crate::testing::fixtures::write_report(&pool, r.session, r.mechanic).await;
    autodoctor::sessions::room::end_session(
        &pool,
        autodoctor::ids::SessionId(r.session),
        autodoctor::ids::UserId(r.mechanic),
        crate::testing::ORIGIN,
    )
    .await
    .unwrap();
    let res = post_signal(&mut mech, r.session, HELLO).await;
    assert_eq!(res.status, StatusCode::CONFLICT);
    assert!(message(&res).contains("ended"), "{}", res.body);
    assert_eq!(stored(&pool, r.session).await, 0, "ending pruned the messages");
}

#[sqlx::test(migrator = "autodoctor::db::MIGRATOR")]
async fn the_chat_plan_has_no_call(pool: PgPool) {
    let r = room(&pool, "chat10").await;
    let app = TestApp::new(pool.clone());
    let mut cust = logged_in(&app, "cust@example.com").await;
    let res = post_signal(&mut cust, r.session, HELLO).await;
    assert_eq!(res.status, StatusCode::CONFLICT);
    assert!(message(&res).contains("no video call"), "{}", res.body);
    assert_eq!(cust.get(&format!("/api/session/{}/call/ice", r.session)).await.status, StatusCode::CONFLICT);
    let room = cust.call("/api/session/room", &[("session_id", &r.session.to_string())]).await.json();
    assert_eq!(room["includes_call"], false);
    let page = cust.get(&format!("/session/{}", r.session)).await;
    assert!(!page.body.contains("data-call-session"), "no call panel on the chat plan's room");
    assert_eq!(stored(&pool, r.session).await, 0);
}

#[sqlx::test(migrator = "autodoctor::db::MIGRATOR")]
async fn signals_are_numbered_in_order_and_each_side_reads_only_the_others(pool: PgPool) {
    let r = room(&pool, "video15").await;
    // 40 messages at once from the customer (candidates come in bursts) and 10 from the mechanic.
    let mut tasks = Vec::new();
    for i in 0..50 {
        let (pool, session) = (pool.clone(), r.session);
        let sender = if i % 5 == 0 { r.mechanic } else { r.customer };
        tasks.push(tokio::spawn(async move {
            let payload = serde_json::json!({ "from": "x", "i": i });
            signals::send(
                &pool,
                SessionId(session),
                UserId(sender),
                autodoctor::sessions::call::SignalKind::Candidate,
                &payload,
            )
            .await
            .unwrap()
        }));
    }
    let mut seqs: Vec<i64> = Vec::new();
    for t in tasks {
        seqs.push(t.await.unwrap());
    }
    seqs.sort();
    assert_eq!(seqs, (1..=50).collect::<Vec<_>>(), "every number once, no gaps");

    let for_mechanic = signals::after(&pool, SessionId(r.session), UserId(r.mechanic), 0).await.unwrap();
    assert_eq!(for_mechanic.len(), 40);
    assert!(for_mechanic.windows(2).all(|w| w[0].seq < w[1].seq), "in order");
    assert!(for_mechanic.iter().all(|s| s.payload["i"].as_i64().unwrap() % 5 != 0), "only the customer's");
    let for_customer = signals::after(&pool, SessionId(r.session), UserId(r.customer), 0).await.unwrap();
    assert_eq!(for_customer.len(), 10);
    // Resuming after a number gives exactly what came after it.
    let tail =
        signals::after(&pool, SessionId(r.session), UserId(r.mechanic), for_mechanic[29].seq).await.unwrap();
    assert_eq!(tail, for_mechanic[30..].to_vec());

    // A cancelled session (a refund) prunes them too.
    sqlx::query("UPDATE sessions SET status = 'cancelled' WHERE id = $1")
        .bind(r.session)
        .execute(&pool)
        .await
        .unwrap();
    assert_eq!(stored(&pool, r.session).await, 0);
}

/// Reads Server-Sent Events until one named `name`, within `secs`: (id, data).
async fn next_named(
    stream: &mut reqwest::Response,
    buf: &mut String,
    name: &str,
    secs: u64,
) -> Option<(Option<String>, String)> {
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(secs);
    loop {
        while let Some(end) = buf.find("\n\n") {
            let event: String = buf.drain(..end + 2).collect();
            if event.lines().any(|l| l == format!("event: {name}")) {
                let id = event.lines().find_map(|l| l.strip_prefix("id: ")).map(String::from);
                let data = event.lines().find_map(|l| l.strip_prefix("data: ")).unwrap_or("").to_string();
                return Some((id, data));
            }
        }
        match tokio::time::timeout_at(deadline, stream.chunk()).await {
            Ok(Ok(Some(bytes))) => buf.push_str(&String::from_utf8_lossy(&bytes)),
            _ => return None,
        }
    }
}

async fn serve(app: &TestApp) -> (std::net::SocketAddr, tokio::task::JoinHandle<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let router = app.router.clone();
    let handle = tokio::spawn(async move {
        let _ =
            axum::serve(listener, router.into_make_service_with_connect_info::<std::net::SocketAddr>()).await;
    });
    (addr, handle)
}

async fn http_login(addr: std::net::SocketAddr, email: &str) -> reqwest::Client {
    let http = reqwest::Client::builder().cookie_store(true).build().unwrap();
    let res = http
        .post(format!("http://{addr}/api/public/auth/log-in"))
        .header("origin", crate::testing::ORIGIN)
        .form(&[("email", email), ("password", TEST_PASSWORD)])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    http
}

#[sqlx::test(migrator = "autodoctor::db::MIGRATOR")]
async fn two_instances_relay_signals_to_each_other(pool: PgPool) {
    let r = room(&pool, "video15").await;
    // Two app instances on one database, each with its own listener.
    let (one, two) = (TestApp::new(pool.clone()), TestApp::new(pool.clone()));
    let ((addr_one, h1), (addr_two, h2)) = (serve(&one).await, serve(&two).await);
    let customer = http_login(addr_one, "cust@example.com").await;
    let mechanic = http_login(addr_two, "mech@example.com").await;

    let mut stream =
        mechanic.get(format!("http://{addr_two}/api/live/session/{}/call", r.session)).send().await.unwrap();
    assert_eq!(stream.status(), 200);
    let mut buf = String::new();
    let (_, state) = next_named(&mut stream, &mut buf, "state", 10).await.expect("the state on connect");
    let state: serde_json::Value = serde_json::from_str(&state).unwrap();
    assert_eq!(state["call_open"], true);
    assert_eq!(state["includes_call"], true);
    // Instance two's LISTEN is in place: what instance one commits from now on reaches this stream.
    two.state.realtime.listening().await;

    // An SDP-sized offer (bigger than a NOTIFY payload may be) crosses from instance one to two.
    let sdp = format!("v=0\r\n{}", "a=candidate:1 1 udp 2122260223 192.0.2.1 54400 typ host\r\n".repeat(150));
    assert!(sdp.len() > 8000);
    let body = serde_json::json!({ "kind": "offer", "payload": { "from": "c1", "to": "m1", "sdp": { "type": "offer", "sdp": sdp } } });
    let res = customer
        .post(format!("http://{addr_one}/api/session/{}/call/signals", r.session))
        .header("origin", crate::testing::ORIGIN)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    let (id, data) = next_named(&mut stream, &mut buf, "signal", 10)
        .await
        .expect("the offer arrives on the other instance");
    let got: serde_json::Value = serde_json::from_str(&data).unwrap();
    assert_eq!(id.as_deref(), Some("1"));
    assert_eq!(got["kind"], "offer");
    assert_eq!(got["payload"]["sdp"]["sdp"], sdp, "the whole SDP, from the table");

    // The mechanic's own messages never come back to the mechanic.
    let own = serde_json::json!({ "kind": "answer", "payload": { "from": "m1", "to": "c1" } });
    mechanic
        .post(format!("http://{addr_two}/api/session/{}/call/signals", r.session))
        .header("origin", crate::testing::ORIGIN)
        .json(&own)
        .send()
        .await
        .unwrap();
    let cand = serde_json::json!({ "kind": "candidate", "payload": { "from": "c1", "to": "m1", "n": 3 } });
    customer
        .post(format!("http://{addr_one}/api/session/{}/call/signals", r.session))
        .header("origin", crate::testing::ORIGIN)
        .json(&cand)
        .send()
        .await
        .unwrap();
    let (id, data) = next_named(&mut stream, &mut buf, "signal", 10).await.unwrap();
    assert_eq!(id.as_deref(), Some("3"), "number 2 was the mechanic's own");
    assert!(data.contains("\"n\":3"));

    // A reconnecting EventSource (Last-Event-ID) resumes after what it saw.
    let mut resumed = mechanic
        .get(format!("http://{addr_one}/api/live/session/{}/call", r.session))
        .header("last-event-id", "0")
        .send()
        .await
        .unwrap();
    let mut buf2 = String::new();
    let first = next_named(&mut resumed, &mut buf2, "signal", 10).await.unwrap();
    let second = next_named(&mut resumed, &mut buf2, "signal", 10).await.unwrap();
    assert_eq!((first.0.as_deref(), second.0.as_deref()), (Some("1"), Some("3")));

    // The session ends (the mechanic ends it): the stream says so and closes.
    // Ended as the room ends it: the report first.
    crate::testing::fixtures::write_report(&pool, r.session, r.mechanic).await;
    autodoctor::sessions::room::end_session(
        &pool,
        autodoctor::ids::SessionId(r.session),
        autodoctor::ids::UserId(r.mechanic),
        crate::testing::ORIGIN,
    )
    .await
    .unwrap();
    autodoctor::realtime::server::notify(
        &pool,
        &autodoctor::realtime::Signal::SessionChanged { session_id: r.session, order_id: Uuid::nil() },
    )
    .await
    .unwrap();
    assert!(next_named(&mut stream, &mut buf, "ended", 10).await.is_some());
    h1.abort();
    h2.abort();
}

#[sqlx::test(migrator = "autodoctor::db::MIGRATOR")]
async fn turn_credentials_are_issued_per_session_and_expire(pool: PgPool) {
    let r = room(&pool, "video15").await;
    let mut config = test_config();
    config.call.turn_urls = vec!["turn:127.0.0.1:3478?transport=udp".into()];
    config.call.turn_secret = Some("a-long-shared-turn-secret".into());
    config.call.turn_ttl_secs = 600;
    let app = TestApp::with_config(pool.clone(), config);
    let mut cust = logged_in(&app, "cust@example.com").await;
    let mut mech = logged_in(&app, "mech@example.com").await;

    let before = Utc::now().timestamp();
    let ice = cust.get(&format!("/api/session/{}/call/ice", r.session)).await;
    assert_eq!(ice.status, StatusCode::OK, "{}", ice.body);
    let ice = ice.json();
    let turn = &ice["iceServers"][0];
    let (user, pass) = (turn["username"].as_str().unwrap(), turn["credential"].as_str().unwrap());
    let (expiry, who) = user.split_once(':').unwrap();
    let expiry: i64 = expiry.parse().unwrap();
    assert!((before + 600..=Utc::now().timestamp() + 600).contains(&expiry), "{expiry}");
    assert_eq!(who, format!("{}-c", r.session.simple()), "bound to the session and the side");
    assert_eq!(ice["expires_at"], expiry);
    // coturn's check: the HMAC of the username under the shared secret, before the expiry only.
    assert_eq!(pass, autodoctor::sessions::call::turn::turn_password("a-long-shared-turn-secret", user));
    assert!(autodoctor::sessions::call::turn::credential_valid(
        "a-long-shared-turn-secret",
        user,
        pass,
        Utc::now()
    ));
    let after_expiry = chrono::DateTime::from_timestamp(expiry, 0).unwrap();
    assert!(!autodoctor::sessions::call::turn::credential_valid(
        "a-long-shared-turn-secret",
        user,
        pass,
        after_expiry
    ));
    assert!(!ice.to_string().contains("a-long-shared-turn-secret"), "the secret never leaves the server");

    // The mechanic gets their own, and once the clock runs, none outlives the call by more than a minute.
    mech.call("/api/session/start-clock", &[("session_id", &r.session.to_string())]).await;
    let closes: chrono::DateTime<Utc> =
        sqlx::query_scalar("SELECT call_closes_at FROM sessions WHERE id = $1")
            .bind(r.session)
            .fetch_one(&pool)
            .await
            .unwrap();
    let ice = mech.get(&format!("/api/session/{}/call/ice", r.session)).await.json();
    let user = ice["iceServers"][0]["username"].as_str().unwrap().to_string();
    assert!(user.ends_with(&format!("{}-m", r.session.simple())));
    let expiry: i64 = user.split_once(':').unwrap().0.parse().unwrap();
    assert!(expiry <= closes.timestamp() + 60, "{expiry} vs {}", closes.timestamp());
}

#[sqlx::test(migrator = "autodoctor::db::MIGRATOR")]
async fn the_clock_starts_once_when_both_are_in_the_room(pool: PgPool) {
    let r = room(&pool, "video15").await;
    let mut config = test_config().call;
    config.seconds_per_minute = 2;
    config.grace_secs = 5;
    let times = |pool: PgPool| async move {
        sqlx::query_as::<_, (Option<chrono::DateTime<Utc>>, Option<chrono::DateTime<Utc>>, Option<chrono::DateTime<Utc>>, Option<chrono::DateTime<Utc>>, String)>(
            "SELECT clock_started_at, clock_warns_at, clock_ends_at, call_closes_at, status::text FROM sessions WHERE id = $1",
        )
        .bind(r.session)
        .fetch_one(&pool)
        .await
        .unwrap()
    };
    assert!(!signals::join(&pool, &config, SessionId(r.session), UserId(r.customer)).await.unwrap());
    assert!(
        !signals::join(&pool, &config, SessionId(r.session), UserId(r.customer)).await.unwrap(),
        "the same side twice"
    );
    assert_eq!(times(pool.clone()).await.0, None, "one side is not enough");
    let stranger = create_user(&pool, "x@example.com", Role::Customer).await;
    assert!(!signals::join(&pool, &config, SessionId(r.session), UserId(stranger)).await.unwrap());
    assert_eq!(times(pool.clone()).await.0, None, "a stranger does not count");

    assert!(
        signals::join(&pool, &config, SessionId(r.session), UserId(r.mechanic)).await.unwrap(),
        "both: it starts"
    );
    let (start, warns, ends, closes, status) = times(pool.clone()).await;
    let start = start.unwrap();
    // The plan's 15 minutes at 2 s each, warned 2 minutes (4 s) before, closing 5 s after.
    assert_eq!(
        clock::schedule(start, 15, 2, 5),
        clock::ClockTimes {
            started_at: start,
            warns_at: warns.unwrap(),
            ends_at: ends.unwrap(),
            call_closes_at: closes.unwrap(),
        }
    );
    assert_eq!((ends.unwrap() - start).num_seconds(), 30);
    assert_eq!(status, "active");
    assert!(!signals::join(&pool, &config, SessionId(r.session), UserId(r.mechanic)).await.unwrap());
    assert!(
        !signals::start_clock(&pool, &config, SessionId(r.session), Some(UserId(r.mechanic))).await.unwrap(),
        "never restarted"
    );
    assert_eq!(times(pool.clone()).await.0, Some(start));
}

#[sqlx::test(migrator = "autodoctor::db::MIGRATOR")]
async fn only_the_sessions_mechanic_starts_the_clock_early(pool: PgPool) {
    let r = room(&pool, "video15").await;
    mechanic(&pool, "othermech@example.com", None, true).await;
    let app = TestApp::new(pool.clone());
    let started = || async {
        sqlx::query_scalar::<_, Option<chrono::DateTime<Utc>>>(
            "SELECT clock_started_at FROM sessions WHERE id = $1",
        )
        .bind(r.session)
        .fetch_one(&pool)
        .await
        .unwrap()
    };
    let sid = r.session.to_string();
    let mut other = logged_in(&app, "othermech@example.com").await;
    assert_eq!(
        other.call("/api/session/start-clock", &[("session_id", &sid)]).await.status,
        StatusCode::NOT_FOUND
    );
    let mut cust = logged_in(&app, "cust@example.com").await;
    assert_eq!(
        cust.call("/api/session/start-clock", &[("session_id", &sid)]).await.status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(started().await, None);
    let mut mech = logged_in(&app, "mech@example.com").await;
    assert_eq!(mech.call("/api/session/start-clock", &[("session_id", &sid)]).await.status, StatusCode::OK);
    let at = started().await.expect("started");
    // The room shows it to both.
    let room = cust.call("/api/session/room", &[("session_id", &sid)]).await.json();
    assert_eq!(
        room["clock"]["started_at"].as_str().map(|s| s.parse::<chrono::DateTime<Utc>>().unwrap()),
        Some(at)
    );
}

#[sqlx::test(migrator = "autodoctor::db::MIGRATOR")]
async fn the_camera_is_allowed_on_the_room_page_only(pool: PgPool) {
    let r = room(&pool, "video15").await;
    let app = TestApp::new(pool.clone());
    let mut cust = logged_in(&app, "cust@example.com").await;
    let page = cust.get(&format!("/session/{}", r.session)).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains(&format!("data-call-session=\"{}\"", r.session)), "the call panel is there");
    assert!(page.body.contains("src=\"/call.js\""));
    assert_eq!(page.header("permissions-policy"), Some("camera=(self), microphone=(self), geolocation=()"));
    for other in ["/", "/sessions", "/book", &format!("/session/{}/report", r.session), "/api/public/me"] {
        let res = cust.get(other).await;
        assert_eq!(
            res.header("permissions-policy"),
            Some("camera=(), microphone=(), geolocation=()"),
            "{other}"
        );
    }
}

#[sqlx::test(migrator = "autodoctor::db::MIGRATOR")]
async fn start_end_and_actual_length_reach_the_admin_and_the_workshop_analytics(pool: PgPool) {
    plan(&pool).await;
    let w = crate::testing::fixtures::workshop(&pool, "Timed Motors").await;
    let customer = create_user(&pool, "cust@example.com", Role::Customer).await;
    create_user(&pool, "admin@example.com", Role::Admin).await;
    let m = mechanic(&pool, "mech@example.com", Some(w), true).await;
    sqlx::query("UPDATE mechanics SET capacity = 5 WHERE user_id = $1").bind(m).execute(&pool).await.unwrap();
    let policy = autodoctor::offers::store::RoutingSettings::from_config(&test_config()).policy;
    let mut lengths = Vec::new();
    for secs in [845i64, 615] {
        let (_, request) = paid_request(&pool, customer, RoutingType::WorkshopOnly, Some(w)).await;
        let session = autodoctor::offers::accept::accept(
            &pool,
            autodoctor::ids::UserId(m),
            autodoctor::ids::RequestId(request),
            Utc::now(),
            &policy,
        )
        .await
        .unwrap();
        // The clock started, then the mechanic wrote the report and ended the session `secs` later.
        crate::testing::fixtures::write_report(&pool, session, m).await;
        sqlx::query(
            "UPDATE sessions SET clock_started_at = now() - make_interval(secs => $2), clock_warns_at = now(),
                    clock_ends_at = now(), call_closes_at = now(), started_at = now() - interval '1 hour' WHERE id = $1",
        )
        .bind(session)
        .bind(secs as f64)
        .execute(&pool)
        .await
        .unwrap();
        autodoctor::sessions::room::end_session(
            &pool,
            autodoctor::ids::SessionId(session),
            autodoctor::ids::UserId(m),
            crate::testing::ORIGIN,
        )
        .await
        .unwrap();
        // Ended `secs` after the clock started, to the second.
        sqlx::query(
            "UPDATE sessions SET ended_at = clock_started_at + make_interval(secs => $2) WHERE id = $1",
        )
        .bind(session)
        .bind(secs as f64)
        .execute(&pool)
        .await
        .unwrap();
        lengths.push((session, secs));
    }
    let app = TestApp::new(pool.clone());
    let mut admin = logged_in(&app, "admin@example.com").await;
    let orders = admin.call("/api/admin/orders", &[]).await.json();
    let mut seen: Vec<i64> =
        orders.as_array().unwrap().iter().filter_map(|o| o["session_seconds"].as_i64()).collect();
    seen.sort();
    assert_eq!(seen, vec![615, 845], "the clock's start, not the first message, to the end");
    let page = admin.get("/admin/orders").await;
    assert!(
        page.body.contains("ran 14 min 5 s") && page.body.contains("ran 10 min 15 s"),
        "shown to the admin"
    );
    let analytics =
        autodoctor::workshops::analytics::workshop_analytics(&pool, autodoctor::ids::WorkshopId(w))
            .await
            .unwrap();
    assert_eq!(analytics.avg_session_seconds, Some(730), "the mean of 845 and 615");
}
