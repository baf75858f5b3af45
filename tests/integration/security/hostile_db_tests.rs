//! Hostile input: every server function's fields, every path id, the directory's
//! query, invite tokens and webhook bodies, fed with wrong types, empty and huge
//! values, unicode, extreme numbers and injection payloads (a fixed list plus
//! values drawn by proptest from a seeded runner). Every answer must be a
//! success or a 4xx with a message, never a 5xx, and a 4xx must change nothing.
//! Afterwards no page shows any of the markup that went in unescaped.

use super::authz_db_tests::{request, Case, Kind, TABLE};
use super::{Who, World, EVERYONE};
use crate::testing::{form_body, ChangeWatch, RowChange, TestClient, TestResponse, ORIGIN};

#[path = "hostile_allow.rs"]
mod allow;
use axum::body::Body;
use axum::http::{header, Method, Request, StatusCode};
use proptest::strategy::{Strategy, ValueTree};
use proptest::test_runner::{Config as ProptestConfig, RngAlgorithm, TestRng, TestRunner};
use sqlx::PgPool;

/// Markup that must never come back unescaped.
const MARKUP: &[&str] =
    &["<script>alert(1)</script>", "<img src=x onerror=alert(1)>", "</script><script>alert(2)</script>"];

fn hostile_values() -> Vec<String> {
    let mut v: Vec<String> = [
        "",
        " ",
        "\t\n",
        "0",
        "-1",
        "-9223372036854775808",
        "9223372036854775807",
        "99999999999999999999999999999",
        "1e308",
        "-0.0000001",
        "NaN",
        "Infinity",
        "true",
        "null",
        "[]",
        "{}",
        "00000000-0000-0000-0000-000000000000",
        "ffffffff-ffff-ffff-ffff-ffffffffffff",
        "Ωmega 🚗 ñandú 漢字",
        "\u{202e}evil\u{200b}",
        "a\0b",
        "'; DROP TABLE users; --",
        "\" OR 1=1 --",
        "1; SELECT pg_sleep(5)",
        "../../../../etc/passwd",
        "%00%0d%0aSet-Cookie: x=y",
        "\r\nSet-Cookie: x=y",
        "https://evil.example/steal",
        "//evil.example",
        "/\t/evil.example",
        "/\n/evil.example",
        "/\r/evil.example",
        "/\\evil.example",
        "/\u{1}/evil.example",
        "javascript:alert(1)",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    v.extend(MARKUP.iter().map(|s| s.to_string()));
    v.push("x".repeat(100_000));
    v.push("é".repeat(20_000));
    v
}

/// Values drawn by proptest: arbitrary unicode strings and numbers of any size.
fn drawn_values(runner: &mut TestRunner, n: usize) -> Vec<String> {
    let strategies = [
        proptest::string::string_regex("(?s).{0,80}").unwrap().boxed(),
        proptest::num::i64::ANY.prop_map(|n| n.to_string()).boxed(),
        proptest::num::f64::ANY.prop_map(|n| n.to_string()).boxed(),
        proptest::string::string_regex("[0-9a-f-]{0,40}").unwrap().boxed(),
    ];
    (0..n).map(|i| strategies[i % strategies.len()].new_tree(runner).unwrap().current()).collect()
}

/// Problems with one answer: a 5xx, a 4xx without a message, or a 4xx that changed data.
struct Judge {
    watch: ChangeWatch,
    problems: Vec<String>,
    calls: usize,
    /// One-shot objects replaced after an accepted call.
    renewals: usize,
}

impl Judge {
    async fn new(pool: &PgPool) -> Judge {
        Judge { watch: ChangeWatch::install(pool).await, problems: Vec::new(), calls: 0, renewals: 0 }
    }

    /// Takes the present data as the reference for the next call.
    async fn settle(&mut self) {
        self.watch.settle().await;
    }

    /// A 5xx, or a 4xx without a message the app can show.
    fn answer(&mut self, label: &str, status: StatusCode, body: &str, server_fn: bool) {
        self.calls += 1;
        if status.is_server_error() {
            self.problems.push(format!("server error: {label}"));
        }
        if status.is_client_error() {
            if body.trim().is_empty() {
                self.problems.push(format!("4xx without a message: {label}"));
            } else if server_fn && serde_json::from_str::<autodoctor::error::AppError>(body).is_err() {
                self.problems.push(format!("4xx that is not an error the app can show: {label}"));
            }
        }
    }

    /// As `answer`, and a 4xx changed no row of any table (the log-in throttle,
    /// rate limits and sessions included). What a 2xx changed is the caller's to judge.
    async fn judge(&mut self, what: &str, status: StatusCode, body: &str, server_fn: bool) {
        let label = label(what, status, body);
        self.answer(&label, status, body, server_fn);
        if status.is_client_error() {
            let changed = self.watch.row_changes().await;
            if !changed.is_empty() {
                self.problems.push(format!("4xx that changed {}: {label}", list(&changed)));
            }
        }
    }

    /// As `answer`, for a read (a page, a stream, a GET): whatever it answered, it changed nothing.
    async fn judge_read(&mut self, what: &str, status: StatusCode, body: &str) {
        let label = label(what, status, body);
        self.answer(&label, status, body, false);
        let changed = self.watch.row_changes().await;
        if !changed.is_empty() {
            self.problems.push(format!("{status} to a read that changed {}: {label}", list(&changed)));
        }
    }

    /// One fuzzed call of a table row (audit M1). As `answer`; an accepted call (2xx,
    /// 3xx) changed only what its row is for (`allow::ALLOWED`: tables, operations,
    /// whose rows) and did not accept a value the row must refuse (`refuse`); a
    /// refused one changed nothing but the throttling its row counts.
    async fn judge_call(
        &mut self,
        world: &World,
        (case, who, what): (&Case, Who, &str),
        refuse: Option<String>,
        res: &TestResponse,
    ) {
        let label = label(what, res.status, &res.body);
        self.answer(&label, res.status, &res.body, true);
        let accepted = !res.status.is_client_error() && !res.status.is_server_error();
        if let (true, Some(why)) = (accepted, &refuse) {
            self.problems.push(format!("accepted what it must refuse ({why}): {label}"));
        }
        let changed = self.watch.row_changes().await;
        let rule = allow::ALLOWED.iter().find(|a| a.route == case.route);
        let allowed: &[allow::May] = match (accepted, rule) {
            (true, Some(a)) => a.changes,
            (false, Some(a)) => a.on_refusal,
            (_, None) => &[],
        };
        let caller = world.users.get(&who).copied();
        let var = |name: &str| match allow::user_var(name) {
            Some(w) => world.users[&w].to_string(),
            None => world.vars.get(name).cloned().unwrap_or_else(|| panic!("no world variable {name}")),
        };
        for change in &changed {
            if let Some(why) = allow::forbidden(change, allowed, caller, var) {
                let kind = if accepted { "an accepted call" } else { "a refused call" };
                self.problems.push(format!("{kind} changed {why}: {change}: {label}"));
            }
        }
    }
}

fn label(what: &str, status: StatusCode, body: &str) -> String {
    let what: String = what.chars().take(200).collect();
    let body: String = body.chars().take(200).collect();
    format!("{what} -> {status} {body}")
}

fn list(changes: &[RowChange]) -> String {
    changes.iter().map(|c| c.to_string()).collect::<Vec<_>>().join("; ")
}

/// Whether a row changes data when accepted (its object names must then be the world's own).
fn mutates(case: &Case) -> bool {
    allow::ALLOWED.iter().any(|a| a.route == case.route && !a.changes.is_empty())
}

/// Whether the table says no one's call of the row succeeds.
fn never_ok(case: &Case) -> bool {
    !case.expect.split_whitespace().any(|e| e == "ok")
}

fn post_form(path: &str, body: impl Into<Body>, content_type: &str) -> Request<Body> {
    Request::builder()
        .method(Method::POST)
        .uri(path)
        .header(header::CONTENT_TYPE, content_type)
        .header(header::ORIGIN, ORIGIN)
        .header("sec-fetch-site", "same-origin")
        .body(body.into())
        .unwrap()
}

/// Rows no one may call successfully, and the person whose call reaches the handler
/// (past the log-in and role guards) for each of them.
const CALLER_WITHOUT_OK: &[(&str, Who)] = &[
    // Everyone's wrong current password is a 400 from the handler: a customer will do.
    ("/api/account/password", Who::Cust),
    // A request offered to no one here: a mechanic gets past the role guard.
    ("/api/mechanic/accept", Who::MechA),
];

/// The person whose calls reach a row's handler: the first `ok` in it, else the one
/// named in `CALLER_WITHOUT_OK`; anyone for rows that are public.
fn caller(case: &Case) -> Who {
    EVERYONE
        .into_iter()
        .zip(case.expect.split_whitespace())
        .find(|(_, e)| *e == "ok")
        .map(|(w, _)| w)
        .or_else(|| CALLER_WITHOUT_OK.iter().find(|(r, _)| *r == case.route).map(|(_, w)| *w))
        .unwrap_or_else(|| {
            panic!("{}: no one's call reaches the handler, so fuzzing it would test a guard", case.route)
        })
}

/// Every fuzzed row is fuzzed as someone its guards let through (not, say, as an
/// anonymous caller who gets a 401 before any field is parsed).
#[test]
fn every_fuzzed_row_is_called_by_someone_the_guards_let_through() {
    for case in TABLE.iter().filter(|c| matches!(c.kind, Kind::Call | Kind::Fresh)) {
        let who = caller(case);
        let column = EVERYONE.iter().position(|w| *w == who).unwrap();
        let expected = case.expect.split_whitespace().nth(column).unwrap();
        assert!(
            !matches!(expected, "401" | "login")
                && (expected != "403" || case.route == "/api/mechanic/accept"),
            "{} is fuzzed as {who:?}, whose calls the table expects to be refused by a guard ({expected})",
            case.route
        );
    }
}

/// The one-shot objects a row's fields name (see `World::renew`).
fn one_shot_vars(case: &Case) -> Vec<&'static str> {
    const ONE_SHOT: &[&str] = &[
        "order_widen",
        "order_cancel",
        "request_open",
        "session_end",
        "session_done",
        "order_done",
        "share_revoke",
        "invite_revoke",
        "mechanic_a2",
        "workshop_pending",
        "mechanic_pending",
    ];
    ONE_SHOT
        .iter()
        .copied()
        .filter(|name| case.fields.iter().any(|(_, v)| v.contains(&format!("{{{name}}}"))))
        .collect()
}

/// After a call that was accepted, the row's one-shot objects are replaced, so the
/// next hostile value meets a live object and is judged by its input handling,
/// not by a "that is finished" conflict. A conflict on such a row is a problem.
async fn after_call(world: &mut World, judge: &mut Judge, case: &Case, res: &TestResponse, counter: usize) {
    let renew = one_shot_vars(case);
    if renew.is_empty() {
        return;
    }
    if res.status == StatusCode::CONFLICT {
        let body: String = res.body.chars().take(200).collect();
        judge.problems.push(format!(
            "{}: a 409 on a row whose object is renewed after every success (the state check, not the input): {body}",
            case.route
        ));
    }
    if res.status.is_success() {
        judge.renewals += 1;
        for name in renew {
            assert!(world.renew(name, counter).await, "{name} is not renewable");
        }
    }
}

async fn send(world: &mut World, who: Who, kind: Kind, req: Request<Body>) -> TestResponse {
    if kind == Kind::Fresh && who == Who::Anon {
        // Calls that log in or create accounts run on a throwaway client.
        let mut client: TestClient = world.app.client();
        client.send(req).await
    } else {
        world.clients.get_mut(&who).unwrap().send(req).await
    }
}

#[sqlx::test(migrator = "autodoctor::db::MIGRATOR")]
async fn hostile_server_function_input_is_refused_cleanly(pool: PgPool) {
    let mut world = World::new(pool.clone()).await;
    let mut judge = Judge::new(&pool).await;
    let mut runner = TestRunner::new_with_rng(
        ProptestConfig::default(),
        TestRng::from_seed(RngAlgorithm::ChaCha, &[7; 32]),
    );
    let fixed = hostile_values();
    let mut counter = 0;
    let only = only_routes();
    let chosen = |c: &&Case| only.as_ref().is_none_or(|o| o.iter().any(|r| r == c.route));
    for case in TABLE.iter().filter(|c| matches!(c.kind, Kind::Call | Kind::Fresh)).filter(chosen) {
        let who = caller(case);
        // The fresh log-ins of `send` must not count as changes of the call.
        counter += 1;
        let base = world.expand(case.fields, counter).await;
        judge.settle().await;
        for (i, (name, _)) in base.iter().enumerate() {
            let mut values = fixed.clone();
            values.extend(drawn_values(&mut runner, 8));
            for value in values {
                counter += 1;
                let mut fields = world.expand(case.fields, counter).await;
                let refuse = allow::must_refuse(
                    case.route,
                    case.fields[i].1,
                    &fields[i].1,
                    name,
                    Some(value.as_str()),
                    mutates(case),
                    never_ok(case),
                );
                fields[i].1 = value.clone();
                let body =
                    form_body(&fields.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect::<Vec<_>>());
                judge.settle().await;
                let res = send(&mut world, who, case.kind, request(case.kind, case.route, body)).await;
                let what = format!("{} as {who:?} with {name}={value:?}", case.route);
                judge.judge_call(&world, (case, who, &what), refuse, &res).await;
                after_call(&mut world, &mut judge, case, &res, counter).await;
            }
            // The field missing, and given twice.
            counter += 1;
            let mut fields = world.expand(case.fields, counter).await;
            let (_, base) = fields.remove(i);
            let refuse = allow::must_refuse(
                case.route,
                case.fields[i].1,
                &base,
                name,
                None,
                mutates(case),
                never_ok(case),
            );
            let without =
                form_body(&fields.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect::<Vec<_>>());
            judge.settle().await;
            let res = send(&mut world, who, case.kind, request(case.kind, case.route, without.clone())).await;
            let what = format!("{} as {who:?} without {name}", case.route);
            judge.judge_call(&world, (case, who, &what), refuse, &res).await;
            after_call(&mut world, &mut judge, case, &res, counter).await;
            // (expanded again: the call without the field may have finished the row's object)
            counter += 1;
            let mut fields = world.expand(case.fields, counter).await;
            let (k, v) = fields.remove(i);
            let without =
                form_body(&fields.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect::<Vec<_>>());
            let twice = format!("{without}&{k}=a&{k}={}", v.replace('&', ""));
            judge.settle().await;
            let res = send(&mut world, who, case.kind, request(case.kind, case.route, twice)).await;
            // (which of the two values counts is the form decoder's choice: only the changes are judged)
            let refuse = never_ok(case).then(|| "the table says no one's call of this row succeeds".into());
            let what = format!("{} as {who:?} with {name} twice", case.route);
            judge.judge_call(&world, (case, who, &what), refuse, &res).await;
            after_call(&mut world, &mut judge, case, &res, counter).await;
        }
        // Bodies that are not a form at all.
        for (content_type, body) in [
            ("application/x-www-form-urlencoded", Body::from(vec![0xff, 0xfe, b'=', 0x00, b'%', b'z'])),
            ("application/x-www-form-urlencoded", Body::from("%%%%&&&===")),
            ("application/json", Body::from(r#"{"email": 1, "password": [true]}"#)),
            ("text/plain", Body::from("hello")),
            ("multipart/form-data; boundary=x", Body::from("--x\r\n\r\n--x--")),
            ("application/x-www-form-urlencoded", Body::from(vec![b'a'; 1_000_000])),
        ] {
            judge.settle().await;
            let res = send(&mut world, who, case.kind, post_form(case.route, body, content_type)).await;
            let refuse = ((!case.fields.is_empty() && mutates(case)) || never_ok(case))
                .then(|| "a body that is not the row's form, for a row that changes data".to_string());
            let what = format!("{} as {who:?} with a {content_type} body", case.route);
            judge.judge_call(&world, (case, who, &what), refuse, &res).await;
            after_call(&mut world, &mut judge, case, &res, counter).await;
        }
    }
    assert!(judge.problems.is_empty(), "{} problem(s):\n{}", judge.problems.len(), judge.problems.join("\n"));
    if only.is_some() {
        return; // a part of the table: the checks of the whole run's size do not apply
    }
    assert!(judge.calls > 3000, "only {} calls were made", judge.calls);
    // Accepted hostile values did finish one-shot objects (an empty comment rates a
    // session, any reason decides an application): the renewals did happen.
    assert!(judge.renewals >= 20, "only {} one-shot objects were renewed", judge.renewals);
    no_page_shows_markup(&mut world).await;
}

/// `HOSTILE_ROUTES=/api/account/name,/api/session/rate` fuzzes only those rows of
/// the table (to replay one, or to check a change quickly).
fn only_routes() -> Option<Vec<String>> {
    std::env::var("HOSTILE_ROUTES").ok().map(|s| s.split(',').map(|r| r.trim().to_string()).collect())
}

/// Every page, as everyone, after the hostile run: markup that went in (names,
/// chat messages, workshop details) comes back escaped, never as markup.
async fn no_page_shows_markup(world: &mut World) {
    // The hostile run stored markup (the chat keeps what it is sent)...
    let pool = world.app.pool().clone();
    for m in MARKUP {
        let stored: i64 = sqlx::query_scalar("SELECT count(*) FROM chat_messages WHERE body = $1")
            .bind(m)
            .fetch_one(&pool)
            .await
            .unwrap();
        assert!(
            stored >= 1,
            "the hostile run stored no chat message {m:?}: the check below would be vacuous"
        );
    }
    // ...and one more message of it all, the newest, so the room shows it for sure.
    let all = MARKUP.join(" ");
    let session = world.fill("{session_live}");
    let res = world
        .clients
        .get_mut(&Who::Cust)
        .unwrap()
        .call("/api/session/chat", &[("session_id", session.as_str()), ("body", all.as_str())])
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    let escape = |m: &str| m.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;");
    let room = world
        .clients
        .get_mut(&Who::Cust)
        .unwrap()
        .send(request(Kind::Page, &format!("/session/{session}"), String::new()))
        .await;
    for m in MARKUP {
        assert!(room.body.contains(&escape(m)), "the room shows {m:?} escaped (the positive control)");
    }
    let mut shown = Vec::new();
    for case in TABLE.iter().filter(|c| c.kind == Kind::Page) {
        let uri = world.fill(case.uri);
        for who in EVERYONE {
            let res =
                world.clients.get_mut(&who).unwrap().send(request(Kind::Page, &uri, String::new())).await;
            for m in MARKUP {
                if res.body.contains(m) {
                    shown.push(format!("{uri} as {who:?} shows {m}"));
                }
            }
        }
    }
    assert!(shown.is_empty(), "unescaped markup:\n{}", shown.join("\n"));
}

#[sqlx::test(migrator = "autodoctor::db::MIGRATOR")]
async fn hostile_paths_queries_and_tokens_are_refused_cleanly(pool: PgPool) {
    let mut world = World::new(pool.clone()).await;
    let mut judge = Judge::new(&pool).await;
    let mut runner = TestRunner::new_with_rng(
        ProptestConfig::default(),
        TestRng::from_seed(RngAlgorithm::ChaCha, &[11; 32]),
    );
    let mut segments: Vec<String> = [
        "not-a-uuid",
        "-1",
        "0",
        "99999999999999999999999",
        "00000000-0000-0000-0000-000000000000",
        "%00",
        "%2e%2e%2f%2e%2e%2fetc%2fpasswd",
        "%3Cscript%3Ealert(1)%3C%2Fscript%3E",
        "'%20OR%201=1",
        "%F0%9F%9A%97",
        "%FF%FE",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    segments.push("a".repeat(5000));
    segments.extend(
        drawn_values(&mut runner, 12)
            .into_iter()
            .map(|v| autodoctor::url::urlencode(&v))
            .filter(|v| !v.is_empty()),
    );

    // Path ids of pages, live streams and plain routes.
    for case in TABLE.iter().filter(|c| c.route.contains('{') && c.kind != Kind::Json) {
        let prefix = case.route.split('{').next().unwrap();
        let suffix = case.route.rsplit('}').next().unwrap();
        for who in [Who::Anon, Who::Cust, Who::MechA, Who::Admin] {
            for seg in &segments {
                let uri = format!("{prefix}{seg}{suffix}");
                judge.settle().await;
                let (status, body) = if case.kind == Kind::Stream {
                    let req = request(Kind::Stream, &uri, String::new());
                    let (status, _) = world.clients.get_mut(&who).unwrap().status_only(req).await;
                    (status, if status.is_success() { String::new() } else { "(stream refused)".into() })
                } else {
                    let body = form_body(&case.fields.iter().map(|(k, v)| (*k, *v)).collect::<Vec<_>>());
                    let res = world.clients.get_mut(&who).unwrap().send(request(case.kind, &uri, body)).await;
                    (res.status, res.body)
                };
                judge.judge_read(&format!("{} {uri} as {who:?}", case.route), status, &body).await;
            }
        }
    }

    // Query strings: the directory (JSON and page: search, filter, order), a
    // workshop's page of reviews, the log-in page's return path, the checkout
    // return page.
    let mut values = hostile_values();
    values.truncate(values.len() - 2); // a URL is not the place for 100 kB
    values.extend(drawn_values(&mut runner, 16));
    for value in &values {
        let v = autodoctor::url::urlencode(value);
        for uri in [
            format!("/api/workshops/directory?q={v}"),
            format!("/api/workshops/directory?q=garage&limit={v}&offset={v}"),
            format!("/api/workshops/directory?limit=5&cursor={v}"),
            format!("/workshops?q={v}"),
            format!("/workshops?page={v}"),
            format!("/workshops?sort={v}&online={v}"),
            format!("/api/workshops/directory?sort={v}"),
            format!("/api/workshops/directory?online={v}"),
            format!("/workshops/{}?page={v}", world.vars["workshop_a"]),
            format!("/login?next={v}"),
            format!("/checkout/return?order={v}"),
            format!("/invite/{v}"),
        ] {
            judge.settle().await;
            let res = world
                .clients
                .get_mut(&Who::Cust)
                .unwrap()
                .send(request(Kind::Page, &uri, String::new()))
                .await;
            judge.judge_read(&uri, res.status, &res.body).await;
        }
        // A log-in never sends anyone off-site afterwards, whatever `next` says:
        // as the hydrated app calls it (JSON) and as a browser without JavaScript
        // posts the form (a redirect). Judged as a browser resolves the target
        // (WHATWG URL rules), not by restating the check.
        let page = ::url::Url::parse(ORIGIN).unwrap().join("/login").unwrap();
        let fields = [("email", "cust2@example.com"), ("password", "password123"), ("next", value.as_str())];
        let res = world.app.client().call("/api/public/auth/log-in", &fields).await;
        let target = serde_json::from_str::<String>(&res.body).ok();
        match (res.status, target) {
            (StatusCode::OK, Some(target)) => {
                if page.join(&target).map(|u| u.origin()).ok() != Some(page.origin()) {
                    judge.problems.push(format!("log-in with next={value:?} sends the user to {target:?}"));
                }
            }
            (status, _) => judge.problems.push(format!(
                "log-in with the right password and next={value:?} answered {status}: {}",
                res.body.chars().take(200).collect::<String>()
            )),
        }
        let res = world.app.client().form_post("/api/public/auth/log-in", &fields).await;
        let location = res.header("location").unwrap_or_default().to_string();
        if !res.status.is_redirection() {
            judge.problems.push(format!("no-JS log-in with next={value:?} answered {}", res.status));
        } else if page.join(&location).map(|u| u.origin()).ok() != Some(page.origin()) {
            judge.problems.push(format!("no-JS log-in with next={value:?} redirects to {location:?}"));
        }
        judge.settle().await;
    }
    assert!(judge.problems.is_empty(), "{} problem(s):\n{}", judge.problems.len(), judge.problems.join("\n"));
}

/// A signed copy of `event` (as Stripe would sign it with the configured secret).
fn signed(world: &World, payload: &str) -> Request<Body> {
    let secret = &world.app.state.config.stripe_webhook_secret;
    let signature =
        autodoctor::payments::signing::signature_header(secret, chrono::Utc::now().timestamp(), payload);
    Request::builder()
        .method(Method::POST)
        .uri("/api/stripe/webhook")
        .header(header::CONTENT_TYPE, "application/json")
        .header("stripe-signature", signature)
        .body(Body::from(payload.to_string()))
        .unwrap()
}

/// A checkout the customer started and has not paid, and the sandbox's own
/// `checkout.session.completed` event for it (as it would be sent once paid).
struct LiveCheckout {
    order: uuid::Uuid,
    session: String,
    event: serde_json::Value,
}

impl LiveCheckout {
    async fn new(world: &mut World) -> LiveCheckout {
        use autodoctor::payments::sandbox::{checkout_event, SessionRow, SESSION_COLUMNS};
        let session = super::start_checkout(world.clients.get_mut(&Who::Cust).unwrap()).await;
        let row = sqlx::query_as::<_, SessionRow>(&format!(
            "SELECT {SESSION_COLUMNS} FROM sandbox_checkout_sessions WHERE id = $1"
        ))
        .bind(&session)
        .fetch_one(world.app.pool())
        .await
        .unwrap();
        let order = row.order_id;
        let paid = SessionRow {
            status: "complete".into(),
            payment_intent: Some(format!("pi_sbx_{}", uuid::Uuid::new_v4())),
            ..row
        };
        let (_, payload) = checkout_event("checkout.session.completed", &paid);
        let event: serde_json::Value = serde_json::from_str(&payload).unwrap();
        assert_eq!(
            event["data"]["object"]["metadata"]["order_id"],
            order.to_string(),
            "a live event names its order"
        );
        LiveCheckout { order, session, event }
    }

    async fn order_status(&self, pool: &PgPool) -> String {
        sqlx::query_scalar("SELECT status::text FROM orders WHERE id = $1")
            .bind(self.order)
            .fetch_one(pool)
            .await
            .unwrap()
    }
}

/// Every leaf of a JSON document, as a path of keys.
fn leaves(value: &serde_json::Value, path: &mut Vec<String>, out: &mut Vec<Vec<String>>) {
    match value {
        serde_json::Value::Object(map) => {
            for (k, v) in map {
                path.push(k.clone());
                leaves(v, path, out);
                path.pop();
            }
        }
        _ => out.push(path.clone()),
    }
}

fn set_leaf(value: &mut serde_json::Value, path: &[String], new: serde_json::Value) {
    let mut at = value;
    for key in path {
        at = &mut at[key.as_str()];
    }
    *at = new;
}

#[sqlx::test(migrator = "autodoctor::db::MIGRATOR")]
async fn hostile_webhooks_are_refused_cleanly(pool: PgPool) {
    let mut world = World::new(pool.clone()).await;
    let mut judge = Judge::new(&pool).await;
    let mut client = world.app.client();

    // Unsigned, badly signed, stale, and not JSON.
    let event = include_str!("../../../src/payments/fixtures/evt_checkout_completed.json");
    let secret = world.app.state.config.stripe_webhook_secret.clone();
    let stale = autodoctor::payments::signing::signature_header(
        &secret,
        chrono::Utc::now().timestamp() - 3600,
        event,
    );
    for (signature, body) in [
        (None, event.to_string()),
        (Some("t=1,v1=deadbeef".to_string()), event.to_string()),
        (Some("garbage".to_string()), event.to_string()),
        (Some(stale), event.to_string()),
        (Some("t=,v1=".to_string()), String::new()),
    ] {
        let mut req = Request::builder().method(Method::POST).uri("/api/stripe/webhook");
        if let Some(s) = signature {
            req = req.header("stripe-signature", s);
        }
        judge.settle().await;
        let res = client.send(req.body(Body::from(body)).unwrap()).await;
        judge.judge("webhook with a bad signature", res.status, &res.body, false).await;
        assert_eq!(res.status, StatusCode::BAD_REQUEST);
    }
    judge.settle().await;
    let res = client.send(signed(&world, "\u{0}not json")).await;
    judge.judge("signed webhook that is not JSON", res.status, &res.body, false).await;

    // Correctly signed live events (the sandbox's own `checkout.session.completed`
    // for an order awaiting payment, and `account.updated` for a real connected
    // account) whose every field in turn holds a hostile value. The event ids are
    // fresh, so each is processed, not skipped as a replay.
    let victim: uuid::Uuid = world.fill("{order_live}").parse().unwrap();
    let other_checkout = world.fill("{checkout}");
    let mut hostile: Vec<serde_json::Value> =
        hostile_values().into_iter().take(36).map(serde_json::Value::String).collect();
    hostile.extend([
        serde_json::json!(-1),
        serde_json::json!(i64::MAX),
        serde_json::json!(-9.9e300),
        serde_json::json!(null),
        serde_json::json!([]),
        serde_json::json!({}),
        serde_json::json!(victim.to_string()),
        serde_json::json!(other_checkout),
        // Amounts that are valid, but not the price ($29.00), and the price in other shapes.
        serde_json::json!(0),
        serde_json::json!(1),
        serde_json::json!(2899),
        serde_json::json!(2901),
        serde_json::json!(4900),
        serde_json::json!("2900"),
        serde_json::json!(2900.5),
        serde_json::json!("eur"),
        serde_json::json!("USD"),
    ]);
    let mut live = LiveCheckout::new(&mut world).await;
    let mut paths = Vec::new();
    leaves(&live.event, &mut Vec::new(), &mut paths);
    let mut fulfilled = 0;
    for path in paths.iter().filter(|p| p.first().map(String::as_str) != Some("id")) {
        if live.order_status(&pool).await != "awaiting_payment" {
            live = LiveCheckout::new(&mut world).await;
        }
        for value in &hostile {
            let mut event = live.event.clone();
            event["id"] = serde_json::json!(format!("evt_hostile_{}", uuid::Uuid::new_v4().simple()));
            set_leaf(&mut event, path, value.clone());
            let what = format!("signed live checkout event with {}={value}", path.join("."));
            let payload = event.to_string();
            let before = live.order_status(&pool).await;
            judge.settle().await;
            let res = client.send(signed(&world, &payload)).await;
            judge.judge(&what, res.status, &res.body, false).await;
            // What the order became, judged by what the event said, not by the app's answer.
            let after = live.order_status(&pool).await;
            let changed = judge.watch.changes().await;
            let genuine_money = event["data"]["object"]["amount_total"] == serde_json::json!(2900)
                && event["data"]["object"]["currency"].as_str().map(str::to_ascii_lowercase).as_deref()
                    == Some("usd");
            let own_session = event["data"]["object"]["id"] == serde_json::json!(live.session);
            match (before.as_str(), after.as_str()) {
                (b, a) if b == a => {
                    if res.status.is_success() && !changed.iter().all(|t| t == "stripe_events") {
                        judge.problems.push(format!("{what}: changed {changed:?} but not the order"));
                    }
                }
                ("awaiting_payment", "paid") if genuine_money && own_session => fulfilled += 1,
                ("awaiting_payment", "held") if !genuine_money && own_session => {}
                ("awaiting_payment", "cancelled") if event["type"] == "checkout.session.expired" => {}
                (b, a) => judge.problems.push(format!("{what}: the order went from {b} to {a}")),
            }
        }
    }
    let account = world.fill("{connect_account}");
    let (_, account_event) = autodoctor::payments::sandbox::account_event(&account, false, false, false);
    let base: serde_json::Value = serde_json::from_str(&account_event).unwrap();
    let mut paths = Vec::new();
    leaves(&base, &mut Vec::new(), &mut paths);
    for path in paths.iter().filter(|p| p.first().map(String::as_str) != Some("id")) {
        for value in &hostile {
            let mut event = base.clone();
            event["id"] = serde_json::json!(format!("evt_hostile_{}", uuid::Uuid::new_v4().simple()));
            set_leaf(&mut event, path, value.clone());
            let payload = event.to_string();
            judge.settle().await;
            let res = client.send(signed(&world, &payload)).await;
            let what = format!("signed account event with {}={value}", path.join("."));
            judge.judge(&what, res.status, &res.body, false).await;
            let changed = judge.watch.changes().await;
            if !changed.iter().all(|t| ["stripe_events", "organizations"].contains(&t.as_str())) {
                judge.problems.push(format!("{what}: changed {changed:?}"));
            }
        }
    }
    // No hostile value is `true`: the account still has no payouts.
    let payouts: bool = sqlx::query_scalar("SELECT stripe_payouts_enabled FROM organizations WHERE id = $1")
        .bind(world.fill("{workshop_b}").parse::<uuid::Uuid>().unwrap())
        .fetch_one(&pool)
        .await
        .unwrap();
    assert!(!payouts, "a hostile account event enabled payouts");
    // The positive control: the live events did reach fulfilment (an irrelevant
    // field changed pays the order), and the other orders are as they were.
    assert!(
        fulfilled >= 10,
        "only {fulfilled} live events with an irrelevant field changed paid their order"
    );
    let victim_status: String = sqlx::query_scalar("SELECT status::text FROM orders WHERE id = $1")
        .bind(victim)
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(victim_status, "paid", "the live session's order, named by hostile events, is as it was");
    let other_status: String =
        sqlx::query_scalar("SELECT status::text FROM orders WHERE checkout_session_id = $1")
            .bind(&other_checkout)
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(other_status, "awaiting_payment", "the other checkout, named by hostile events, is unpaid");
    assert!(judge.problems.is_empty(), "{} problem(s):\n{}", judge.problems.len(), judge.problems.join("\n"));
    let problems = autodoctor::consistency::check(&pool).await.unwrap();
    assert!(problems.is_empty(), "{problems:?}");
}

/// The change detector itself (audit M1, M2): its row log sees inserts, updates
/// and deletes in the log-in throttle, the known clients, the rate limits, the
/// log-in index and the stored sessions' ids, with the rows before and after;
/// a session saved again by a request, an update to the same values and a
/// statement that matches no row are not changes.
#[sqlx::test(migrator = "autodoctor::db::MIGRATOR")]
async fn the_change_detector_sees_every_table_it_guards(pool: PgPool) {
    let world = World::new(pool.clone()).await;
    let mut watch = ChangeWatch::install(&pool).await;
    let ops = |changes: &[RowChange]| -> Vec<(String, String)> {
        changes.iter().map(|c| (c.table.clone(), c.op.clone())).collect()
    };
    let has =
        |changes: &[RowChange], table: &str, op: &str| changes.iter().any(|c| c.table == table && c.op == op);
    let cust = world.users[&Who::Cust];

    // A log-in: the log-in index and a stored session, the customer's.
    let mut client = World::log_in(&world.app, Who::Cust).await;
    let changed = watch.row_changes().await;
    assert!(
        has(&changed, "user_sessions", "INSERT") && has(&changed, "tower_sessions.session", "INSERT"),
        "{changed:?}"
    );
    let login = changed.iter().find(|c| c.table == "user_sessions").unwrap();
    assert_eq!(login.values("user_id"), vec![Some(cust.to_string())]);
    // A request saves the session again: not a change.
    assert_eq!(client.whoami().await.as_deref(), Some("cust@example.com"));
    assert_eq!(ops(&watch.row_changes().await), vec![], "a request on a session");

    // A refused log-in: the throttle, nothing else.
    let res = world.app.client().log_in("cust2@example.com", "not the password").await;
    assert!(res.status.is_client_error(), "{} {}", res.status, res.body);
    let changed = watch.row_changes().await;
    assert!(has(&changed, "login_throttle", "INSERT"), "{changed:?}");
    assert!(changed.iter().all(|c| c.table == "login_throttle"), "{changed:?}");
    // Its update and delete, the known clients' and the rate limits' rows.
    for (sql, table, op) in [
        ("UPDATE login_throttle SET failures = failures + 1", "login_throttle", "UPDATE"),
        ("DELETE FROM login_throttle", "login_throttle", "DELETE"),
        ("INSERT INTO login_known_clients (email, address) VALUES ('x@example.com', '10.0.0.9')", "login_known_clients", "INSERT"),
        ("UPDATE login_known_clients SET last_success_at = now() - interval '1 day' WHERE address = '10.0.0.9'", "login_known_clients", "UPDATE"),
        ("DELETE FROM login_known_clients WHERE address = '10.0.0.9'", "login_known_clients", "DELETE"),
        ("INSERT INTO rate_limits (bucket, key, window_start, count) VALUES ('signup', '10.0.0.9', now(), 1)", "rate_limits", "INSERT"),
        ("UPDATE rate_limits SET count = count + 1", "rate_limits", "UPDATE"),
        ("DELETE FROM rate_limits", "rate_limits", "DELETE"),
        ("UPDATE tower_sessions.session SET id = id || 'x' WHERE id IN (SELECT session_id FROM user_sessions WHERE user_id = $1)", "tower_sessions.session", "UPDATE"),
        ("DELETE FROM tower_sessions.session WHERE id IN (SELECT session_id || 'x' FROM user_sessions WHERE user_id = $1)", "tower_sessions.session", "DELETE"),
        ("DELETE FROM user_sessions WHERE user_id = $1", "user_sessions", "DELETE"),
    ] {
        let query = sqlx::query(sql);
        let query = if sql.contains("$1") { query.bind(cust) } else { query };
        let n = query.execute(&pool).await.unwrap().rows_affected();
        assert!(n >= 1, "{sql} changed no row");
        let changed = watch.row_changes().await;
        assert_eq!(ops(&changed), vec![(table.to_string(), op.to_string()); n as usize], "{sql}");
        assert!(changed.iter().all(|c| c.old.is_some() == (op != "INSERT") && c.new.is_some() == (op != "DELETE")));
    }
    // Someone else's row: which row, and which column, before and after.
    let other = world.users[&Who::Cust2];
    sqlx::query("UPDATE users SET name = 'Changed' WHERE id = $1").bind(other).execute(&pool).await.unwrap();
    let changed = watch.row_changes().await;
    assert_eq!(ops(&changed), vec![("users".to_string(), "UPDATE".to_string())]);
    assert_eq!(changed[0].values("id"), vec![Some(other.to_string()), Some(other.to_string())]);
    assert_eq!(changed[0].changed_columns(), vec!["name".to_string()]);
    // The same values again, and no row at all: nothing.
    sqlx::query("UPDATE users SET name = name").execute(&pool).await.unwrap();
    sqlx::query("UPDATE orders SET status = status WHERE false").execute(&pool).await.unwrap();
    assert_eq!(ops(&watch.row_changes().await), vec![]);
    // A change made before `settle` is not the next call's.
    sqlx::query("UPDATE users SET name = 'Again' WHERE id = $1").bind(other).execute(&pool).await.unwrap();
    watch.settle().await;
    assert_eq!(ops(&watch.row_changes().await), vec![]);

    // The hostile judge fails a 2xx that writes where its row may not, naming it.
    let case = TABLE.iter().find(|c| c.route == "/api/account/name").unwrap();
    let mut judge = Judge { watch, problems: Vec::new(), calls: 0, renewals: 0 };
    sqlx::query("UPDATE users SET name = 'Bumped' WHERE id = $1").bind(other).execute(&pool).await.unwrap();
    sqlx::query("INSERT INTO login_throttle (scope, key, failures, last_failure_at) VALUES ('account', 'x', 1, now())")
        .execute(&pool)
        .await
        .unwrap();
    let ok = TestResponse { status: StatusCode::OK, headers: Default::default(), body: "\"x\"".into() };
    judge.judge_call(&world, (case, Who::Cust, "the positive control"), None, &ok).await;
    assert_eq!(judge.problems.len(), 2, "{:?}", judge.problems);
    assert!(judge.problems[0].contains(&format!("users row with id = {other}")), "{:?}", judge.problems);
    assert!(judge.problems[1].contains("login_throttle may not be changed (INSERT)"), "{:?}", judge.problems);
}
