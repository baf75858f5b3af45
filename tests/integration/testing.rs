//! Test support: the real router on a real (fresh, per-test) database, and a
//! small HTTP client that keeps cookies like a browser.

use autodoctor::config::{Config, LogFormat};
use autodoctor::server::router;
use autodoctor::state::AppState;
use axum::body::Body;
use axum::http::{header, HeaderMap, Method, Request, StatusCode};
use axum::Router;
use sqlx::PgPool;
use std::time::Duration;
use tower::ServiceExt;

pub const ORIGIN: &str = "http://127.0.0.1:3000";

/// The tests' webhook signing secret (a real install makes its own).
pub const TEST_WEBHOOK_SECRET: &str = "whsec_tests_only_0123456789abcdef";

pub fn test_config() -> Config {
    Config {
        database_url: std::env::var("DATABASE_URL").unwrap_or_default(),
        database_max_connections: 5,
        database_connect_timeout: Duration::from_secs(5),
        host: [127, 0, 0, 1].into(),
        port: 3000,
        public_url: ORIGIN.into(),
        site_root: "target/site".into(),
        log_format: LogFormat::Text,
        session_idle_timeout: Duration::from_secs(3600),
        shutdown_grace: std::time::Duration::from_secs(5),
        session_absolute_timeout: Duration::from_secs(7 * 24 * 3600),
        trust_proxy: false,
        login_throttle: Default::default(),
        // The suites sign up and book far more from one address than a person would.
        rate_limit_scale: 1000,
        bootstrap_admin: None,
        invite_ttl: chrono::Duration::days(7),
        smtp_url: None,
        mail_from: "autodoctor <no-reply@autodoctor.test>".into(),
        stripe_secret_key: None,
        stripe_webhook_secret: TEST_WEBHOOK_SECRET.into(),
        stripe_api_base: None,
        sandbox_webhook_url: "http://127.0.0.1:3000/api/stripe/webhook".into(),
        platform_fee_bps: 2000,
        referral_fee_bps: 1000,
        routing_escalation_secs: 60,
        workshop_only_expiry_secs: 600,
        offer_mail_interval_secs: 300,
        routing_require_payouts: false,
        payout_interval_hours: 0,
        call: autodoctor::config::CallConfig::default(),
        photo_storage: autodoctor::config::PhotoStorage::Postgres,
    }
}

/// The application, as the server runs it, on the test's database.
///
/// When the test is over (the last clone of its `TestApp` is dropped, the test
/// not already failing), the invariants of `autodoctor check` are checked on its
/// database, so every test that moves money through the app ends by asserting
/// them: what was paid equals the price, a fully refunded order has no live
/// request or session, every completed session has its report, every live
/// stream belongs to a live log-in, and the ledger balances.
#[derive(Clone)]
pub struct TestApp {
    pub state: AppState,
    pub router: Router,
    books: std::sync::Arc<BooksAtEnd>,
}

impl TestApp {
    pub fn new(pool: PgPool) -> Self {
        Self::with_config(pool, test_config())
    }

    pub fn with_config(pool: PgPool, config: Config) -> Self {
        Self::from_state(AppState::new(config, pool))
    }

    /// The router on a state the test made (for example with `AppState::start`).
    pub fn from_state(state: AppState) -> Self {
        let books = std::sync::Arc::new(BooksAtEnd { pool: state.pool.clone() });
        let router = router(state.clone());
        TestApp { state, router, books }
    }

    /// For a test that breaks invariants on purpose (to see them named, or to
    /// make a state the app never makes): at the end, problems of the checks
    /// `checks` names (their text before `: id`) are not held against it, by
    /// this `TestApp` or any other on its database; every other check still is.
    /// A waived check that then finds nothing fails the test (the waiver is
    /// stale). `why` says why.
    pub fn leaves_invariants_broken(&self, checks: &[&'static str], why: &'static str) {
        assert!(!why.trim().is_empty() && !checks.is_empty(), "say which checks are left broken, and why");
        WAIVED.lock().unwrap().entry(self.books.database()).or_default().extend_from_slice(checks);
    }

    pub fn pool(&self) -> &PgPool {
        &self.state.pool
    }

    /// A browser-like client with its own cookie jar.
    pub fn client(&self) -> TestClient {
        TestClient { app: self.clone(), cookie: None }
    }

    /// Waits (up to 5 s) until no live stream is recorded as open.
    pub async fn streams_closed(&self) {
        for _ in 0..100 {
            let open: i64 = sqlx::query_scalar(
                "SELECT (SELECT count(*) FROM live_streams) + (SELECT count(*) FROM offer_stream_presence)",
            )
            .fetch_one(&self.state.pool)
            .await
            .unwrap();
            if open == 0 {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        panic!("a closed live stream is still recorded as open after 5 s");
    }
}

/// Runs `autodoctor::consistency::check` on the test's database when dropped.
struct BooksAtEnd {
    pool: PgPool,
}

/// The test databases whose tests break invariants on purpose: which checks.
static WAIVED: std::sync::Mutex<std::collections::BTreeMap<String, Vec<&'static str>>> =
    std::sync::Mutex::new(std::collections::BTreeMap::new());

impl BooksAtEnd {
    fn database(&self) -> String {
        self.pool.connect_options().get_database().unwrap_or_default().to_string()
    }
}

impl Drop for BooksAtEnd {
    fn drop(&mut self) {
        if std::thread::panicking() {
            return;
        }
        let waived =
            WAIVED.lock().map(|w| w.get(&self.database()).cloned().unwrap_or_default()).unwrap_or_default();
        // The test's runtime is the one this drop runs on, so the check gets a
        // runtime and a connection of its own, on the same database.
        let options = (*self.pool.connect_options()).clone();
        let problems = std::thread::spawn(move || {
            let runtime =
                tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a runtime");
            runtime.block_on(async move {
                let pool = sqlx::postgres::PgPoolOptions::new()
                    .max_connections(1)
                    .connect_with(options)
                    .await
                    .map_err(|e| format!("could not connect to check the invariants: {e}"))?;
                let problems = autodoctor::consistency::check(&pool)
                    .await
                    .map_err(|e| format!("could not check the invariants: {e}"));
                pool.close().await;
                problems
            })
        })
        .join()
        .expect("the invariant check ran");
        let problems = problems.map(|problems| {
            let named =
                |check: &str, p: &String| p.strip_prefix(check).is_some_and(|rest| rest.starts_with(": "));
            for check in &waived {
                assert!(
                    problems.iter().any(|p| named(check, p)),
                    "the waived check {check:?} found nothing: the waiver is stale (or names no check)"
                );
            }
            problems.into_iter().filter(|p| !waived.iter().any(|c| named(c, p))).collect::<Vec<_>>()
        });
        match problems {
            Ok(problems) if problems.is_empty() => {}
            Ok(problems) => panic!(
                "the test ended with its invariants broken (autodoctor check):\n  {}",
                problems.join("\n  ")
            ),
            Err(e) => panic!("{e}"),
        }
    }
}

#[derive(Debug)]
pub struct TestResponse {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: String,
}

impl TestResponse {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }

    /// The error a server function answered with.
    pub fn app_error(&self) -> autodoctor::error::AppError {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not an AppError ({e}): {}", self.body))
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

pub struct TestClient {
    pub app: TestApp,
    /// The session cookie (`name=value`), as a browser would keep it.
    pub cookie: Option<String>,
}

pub fn form_body(fields: &[(&str, &str)]) -> String {
    fields
        .iter()
        .map(|(k, v)| format!("{}={}", autodoctor::url::urlencode(k), autodoctor::url::urlencode(v)))
        .collect::<Vec<_>>()
        .join("&")
}

impl TestClient {
    pub async fn send(&mut self, mut req: Request<Body>) -> TestResponse {
        // Like a real client, announce the length of a body of known size.
        if let Some(len) = axum::body::HttpBody::size_hint(req.body()).exact() {
            if len > 0 && !req.headers().contains_key(header::CONTENT_LENGTH) {
                req.headers_mut().insert(header::CONTENT_LENGTH, len.into());
            }
        }
        if let Some(c) = &self.cookie {
            req.headers_mut().insert(header::COOKIE, c.parse().unwrap());
        }
        let res = self.app.router.clone().oneshot(req).await.expect("router is infallible");
        for set in res.headers().get_all(header::SET_COOKIE) {
            let set = set.to_str().unwrap_or("");
            let pair = set.split(';').next().unwrap_or("").trim();
            if pair.starts_with(&format!("{}=", autodoctor::auth::login::COOKIE_NAME)) {
                let removed = set.contains("Max-Age=0") || pair.ends_with('=');
                self.cookie = if removed { None } else { Some(pair.to_string()) };
            }
        }
        let status = res.status();
        let headers = res.headers().clone();
        let bytes = axum::body::to_bytes(res.into_body(), 16 * 1024 * 1024).await.unwrap();
        TestResponse { status, headers, body: String::from_utf8_lossy(&bytes).into_owned() }
    }

    /// Sends a request and answers only its status and headers, without reading
    /// the body (for live streams, which never end).
    pub async fn status_only(&mut self, mut req: Request<Body>) -> (StatusCode, HeaderMap) {
        if let Some(c) = &self.cookie {
            req.headers_mut().insert(header::COOKIE, c.parse().unwrap());
        }
        let res = self.app.router.clone().oneshot(req).await.expect("router is infallible");
        (res.status(), res.headers().clone())
    }

    /// Opens a live stream and reads it until its first complete event (or for at
    /// most two seconds): the status, headers and what was read.
    pub async fn first_event(&mut self, mut req: Request<Body>) -> TestResponse {
        if let Some(c) = &self.cookie {
            req.headers_mut().insert(header::COOKIE, c.parse().unwrap());
        }
        let res = self.app.router.clone().oneshot(req).await.expect("router is infallible");
        let (status, headers) = (res.status(), res.headers().clone());
        let mut body = res.into_body();
        let mut text = String::new();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(2);
        while !text.contains("\n\n") {
            match tokio::time::timeout_at(deadline, http_body_util::BodyExt::frame(&mut body)).await {
                Ok(Some(Ok(frame))) => {
                    if let Some(data) = frame.data_ref() {
                        text.push_str(&String::from_utf8_lossy(data));
                    }
                }
                _ => break,
            }
        }
        drop(body);
        // The closed stream's rows (the stream registry, an offers stream's
        // presence) go in a spawned delete: wait for it, so that what the next
        // call changes is only the next call's.
        self.app.streams_closed().await;
        TestResponse { status, headers, body: text }
    }

    pub async fn get(&mut self, path: &str) -> TestResponse {
        self.send(Request::builder().uri(path).body(Body::empty()).unwrap()).await
    }

    /// Calls a server function the way the hydrated app does (form-encoded POST
    /// from this origin).
    pub async fn call(&mut self, path: &str, fields: &[(&str, &str)]) -> TestResponse {
        let req = Request::builder()
            .method(Method::POST)
            .uri(path)
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .header(header::ORIGIN, ORIGIN)
            .header("sec-fetch-site", "same-origin")
            .body(Body::from(form_body(fields)))
            .unwrap();
        self.send(req).await
    }

    /// Posts a form the way a browser without JavaScript does (it accepts HTML,
    /// so server functions answer with a redirect).
    pub async fn form_post(&mut self, path: &str, fields: &[(&str, &str)]) -> TestResponse {
        let req = Request::builder()
            .method(Method::POST)
            .uri(path)
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .header(header::ACCEPT, "text/html,application/xhtml+xml")
            .header(header::ORIGIN, ORIGIN)
            .header("sec-fetch-site", "same-origin")
            .body(Body::from(form_body(fields)))
            .unwrap();
        self.send(req).await
    }

    pub async fn post_raw(
        &mut self,
        path: &str,
        content_type: &str,
        body: impl Into<Body>,
        headers: &[(&str, &str)],
    ) -> TestResponse {
        let mut req =
            Request::builder().method(Method::POST).uri(path).header(header::CONTENT_TYPE, content_type);
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        self.send(req.body(body.into()).unwrap()).await
    }

    /// Signs up a customer, follows the emailed confirmation link (when one was
    /// sent: a taken address gets a notice instead) and stays logged in. Answers
    /// with the confirmation's response, or the sign-up's when there is none.
    pub async fn sign_up(&mut self, name: &str, email: &str, password: &str) -> TestResponse {
        let res = self
            .call("/api/public/auth/sign-up", &[("name", name), ("email", email), ("password", password)])
            .await;
        if res.status != StatusCode::OK {
            return res;
        }
        match self.confirm_sign_up(email).await {
            Some(confirmed) => confirmed,
            None => res,
        }
    }

    /// The raw token of the newest unused confirmation link emailed to `email`.
    pub async fn sign_up_token(&self, email: &str) -> Option<String> {
        sqlx::query_scalar::<_, String>(
            "SELECT secret FROM email_outbox
              WHERE to_email = $1 AND kind = 'signup_confirm' AND secret IS NOT NULL
              ORDER BY created_at DESC, id DESC LIMIT 1",
        )
        .bind(autodoctor::auth::normalize_email(email))
        .fetch_optional(self.app.pool())
        .await
        .unwrap()
    }

    /// Posts the newest confirmation link emailed to `email`, if there is one.
    pub async fn confirm_sign_up(&mut self, email: &str) -> Option<TestResponse> {
        let token = self.sign_up_token(email).await?;
        Some(self.call("/api/public/auth/confirm", &[("token", &token)]).await)
    }

    pub async fn log_in(&mut self, email: &str, password: &str) -> TestResponse {
        self.call("/api/public/auth/log-in", &[("email", email), ("password", password)]).await
    }

    /// The logged-in user's email, if any.
    pub async fn whoami(&mut self) -> Option<String> {
        let res = self.call("/api/public/me", &[]).await;
        assert_eq!(res.status, StatusCode::OK, "{}", res.body);
        res.json().get("email").and_then(|e| e.as_str()).map(str::to_string)
    }
}

/// A digest of every row of every application table, of the log-in index
/// (`user_sessions`: who is logged in on which session) and of the stored
/// sessions' ids (`tower_sessions.session`: their data and expiry move on every
/// request, the ids only on a log-in or log-out). Log-in throttling and rate
/// limits are left out: a refused log-in counts against them by design. Two equal
/// fingerprints mean that nothing the application owns has changed, that no one
/// was logged in or out and that no session changed its id.
pub async fn fingerprint(pool: &PgPool) -> std::collections::BTreeMap<String, String> {
    digests(pool, &fingerprinted_tables(pool).await).await
}

/// The tables `fingerprint` digests.
async fn fingerprinted_tables(pool: &PgPool) -> Vec<String> {
    sqlx::query_scalar(
        "SELECT table_name::text FROM information_schema.tables
          WHERE table_schema = 'public' AND table_type = 'BASE TABLE'
            AND table_name NOT IN ('login_throttle', 'login_known_clients', 'rate_limits', '_sqlx_migrations')
          ORDER BY table_name",
    )
    .fetch_all(pool)
    .await
    .unwrap()
}

async fn digests(pool: &PgPool, tables: &[String]) -> std::collections::BTreeMap<String, String> {
    let mut out = std::collections::BTreeMap::new();
    for table in tables {
        let digest: String = sqlx::query_scalar(&format!(
            "SELECT coalesce(md5(string_agg(t::text, '|' ORDER BY t::text)), '') FROM \"{table}\" t"
        ))
        .fetch_one(pool)
        .await
        .unwrap();
        out.insert(table.clone(), digest);
    }
    let sessions: String = sqlx::query_scalar(
        "SELECT coalesce(md5(string_agg(id, '|' ORDER BY id)), '') FROM tower_sessions.session",
    )
    .fetch_one(pool)
    .await
    .unwrap();
    out.insert("tower_sessions.session (ids)".into(), sessions);
    out
}

/// The tables whose contents differ between two fingerprints.
pub fn changed_tables(
    before: &std::collections::BTreeMap<String, String>,
    after: &std::collections::BTreeMap<String, String>,
) -> Vec<String> {
    after.iter().filter(|(t, d)| before.get(*t) != Some(*d)).map(|(t, _)| t.clone()).collect()
}

/// Notices any change to the application's tables, cheaply: a statement trigger
/// on every table (installed in the test's own database only) bumps a counter,
/// and only when the counter moved are the tables' fingerprints compared.
///
/// It also keeps a row log (`row_changes`): a row trigger on every table of
/// `public`, the log-in throttle, known clients and rate limits included, and on
/// the stored sessions (an insert, a delete or a new id: a log-in, a log-out, a
/// session fixed or rotated), records each row inserted, updated to other values
/// or deleted, with its values before and after, so a test can see whose rows a
/// call touched and not only which tables.
pub struct ChangeWatch {
    pool: PgPool,
    seen: i64,
    fingerprint: std::collections::BTreeMap<String, String>,
    /// The tables of `fingerprint` (read once: the schema does not change in a test).
    tables: Vec<String>,
}

/// One row a statement inserted, updated (to different values) or deleted, as the
/// row log of `ChangeWatch` recorded it: the table (`tower_sessions.session` for
/// stored sessions, whose only recorded column is `id`), `INSERT`, `UPDATE`,
/// `DELETE` or `TRUNCATE`, and the row before and after as JSON.
#[derive(Clone, Debug, PartialEq)]
pub struct RowChange {
    pub table: String,
    pub op: String,
    pub old: Option<serde_json::Value>,
    pub new: Option<serde_json::Value>,
}

impl RowChange {
    /// The column's values in the row before and after (those that exist), as text.
    pub fn values(&self, column: &str) -> Vec<Option<String>> {
        [&self.old, &self.new]
            .into_iter()
            .flatten()
            .map(|row| match row.get(column) {
                None => None,
                Some(serde_json::Value::String(s)) => Some(s.clone()),
                Some(other) => Some(other.to_string()),
            })
            .collect()
    }

    /// The columns whose values differ between before and after (an update).
    pub fn changed_columns(&self) -> Vec<String> {
        match (&self.old, &self.new) {
            (Some(serde_json::Value::Object(old)), Some(serde_json::Value::Object(new))) => {
                new.iter().filter(|(k, v)| old.get(*k) != Some(*v)).map(|(k, _)| k.clone()).collect()
            }
            _ => Vec::new(),
        }
    }
}

impl std::fmt::Display for RowChange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let short = |v: &Option<serde_json::Value>| -> String {
            v.as_ref().map(|v| v.to_string().chars().take(300).collect()).unwrap_or_else(|| "-".into())
        };
        let columns = self.changed_columns();
        if columns.is_empty() {
            write!(f, "{} {} (before {}, after {})", self.op, self.table, short(&self.old), short(&self.new))
        } else {
            let of = |v: &Option<serde_json::Value>| -> String {
                let v = v.as_ref();
                columns
                    .iter()
                    .map(|c| format!("{c}={}", v.and_then(|v| v.get(c)).unwrap_or(&serde_json::Value::Null)))
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            write!(
                f,
                "UPDATE {} of {} from {} to {} (before {})",
                self.table,
                columns.join(", "),
                of(&self.old),
                of(&self.new),
                short(&self.old)
            )
        }
    }
}

impl ChangeWatch {
    pub async fn install(pool: &PgPool) -> ChangeWatch {
        sqlx::raw_sql(
            "CREATE SEQUENCE test_change_counter;
             CREATE FUNCTION test_count_change() RETURNS trigger LANGUAGE plpgsql AS $$
             BEGIN PERFORM nextval('test_change_counter'); RETURN NULL; END $$;
             DO $$ DECLARE t text; BEGIN
               FOR t IN SELECT tablename FROM pg_tables WHERE schemaname = 'public'
                          AND tablename NOT IN ('login_throttle', '_sqlx_migrations') LOOP
                 EXECUTE format('CREATE TRIGGER test_count_change AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON %I
                                 FOR EACH STATEMENT EXECUTE FUNCTION test_count_change()', t);
               END LOOP;
             END $$;
             -- A row trigger: every request's save is an upsert, and only a real insert
             -- (a new session) or delete (a log-out) fires it.
             CREATE FUNCTION test_count_session_change() RETURNS trigger LANGUAGE plpgsql AS $$
             BEGIN PERFORM nextval('test_change_counter'); RETURN NULL; END $$;
             CREATE TRIGGER test_count_change AFTER INSERT OR DELETE ON tower_sessions.session
               FOR EACH ROW EXECUTE FUNCTION test_count_session_change();
             CREATE TRIGGER test_count_change_ids AFTER UPDATE OF id ON tower_sessions.session
               FOR EACH ROW EXECUTE FUNCTION test_count_session_change();
             -- The row log, outside `public` (so no fingerprint or trigger sees it).
             CREATE SCHEMA test_watch;
             CREATE TABLE test_watch.row_changes (
                 seq bigserial PRIMARY KEY, tbl text NOT NULL, op text NOT NULL, old jsonb, new jsonb);
             CREATE FUNCTION test_watch.log_row() RETURNS trigger LANGUAGE plpgsql AS $$
             BEGIN
               IF TG_OP = 'UPDATE' AND to_jsonb(OLD) = to_jsonb(NEW) THEN RETURN NULL; END IF;
               PERFORM nextval('test_change_counter');
               INSERT INTO test_watch.row_changes (tbl, op, old, new)
               VALUES (TG_TABLE_NAME, TG_OP,
                       CASE WHEN TG_OP <> 'INSERT' THEN to_jsonb(OLD) END,
                       CASE WHEN TG_OP <> 'DELETE' THEN to_jsonb(NEW) END);
               RETURN NULL;
             END $$;
             CREATE FUNCTION test_watch.log_truncate() RETURNS trigger LANGUAGE plpgsql AS $$
             BEGIN
               PERFORM nextval('test_change_counter');
               INSERT INTO test_watch.row_changes (tbl, op) VALUES (TG_TABLE_NAME, TG_OP);
               RETURN NULL;
             END $$;
             CREATE FUNCTION test_watch.log_session() RETURNS trigger LANGUAGE plpgsql AS $$
             BEGIN
               IF TG_OP = 'UPDATE' AND OLD.id = NEW.id THEN RETURN NULL; END IF;
               PERFORM nextval('test_change_counter');
               INSERT INTO test_watch.row_changes (tbl, op, old, new)
               VALUES ('tower_sessions.session', TG_OP,
                       CASE WHEN TG_OP <> 'INSERT' THEN jsonb_build_object('id', OLD.id) END,
                       CASE WHEN TG_OP <> 'DELETE' THEN jsonb_build_object('id', NEW.id) END);
               RETURN NULL;
             END $$;
             DO $$ DECLARE t text; BEGIN
               FOR t IN SELECT tablename FROM pg_tables WHERE schemaname = 'public'
                          AND tablename <> '_sqlx_migrations' LOOP
                 EXECUTE format('CREATE TRIGGER test_log_row AFTER INSERT OR UPDATE OR DELETE ON %I
                                 FOR EACH ROW EXECUTE FUNCTION test_watch.log_row()', t);
                 EXECUTE format('CREATE TRIGGER test_log_truncate AFTER TRUNCATE ON %I
                                 FOR EACH STATEMENT EXECUTE FUNCTION test_watch.log_truncate()', t);
               END LOOP;
             END $$;
             CREATE TRIGGER test_log_row AFTER INSERT OR DELETE OR UPDATE OF id ON tower_sessions.session
               FOR EACH ROW EXECUTE FUNCTION test_watch.log_session();",
        )
        .execute(pool)
        .await
        .unwrap();
        let tables = fingerprinted_tables(pool).await;
        let mut watch = ChangeWatch { pool: pool.clone(), seen: -1, fingerprint: Default::default(), tables };
        watch.settle().await;
        watch
    }

    async fn counter(&self) -> i64 {
        let (value, called): (i64, bool) =
            sqlx::query_as("SELECT last_value, is_called FROM test_change_counter")
                .fetch_one(&self.pool)
                .await
                .unwrap();
        if called {
            value
        } else {
            0
        }
    }

    /// Empties the row log (the present becomes its reference), answering what it held.
    /// (The log lives in the test's own schema, outside the migrations, so these
    /// queries cannot be checked against the offline query data.)
    async fn take_log(&self) -> Vec<RowChange> {
        type Logged = (String, String, Option<serde_json::Value>, Option<serde_json::Value>);
        let rows: Vec<Logged> = sqlx::query_as(
            "WITH gone AS (DELETE FROM test_watch.row_changes RETURNING seq, tbl, op, old, new)
             SELECT tbl, op, old, new FROM gone ORDER BY seq",
        )
        .fetch_all(&self.pool)
        .await
        .unwrap();
        rows.into_iter().map(|(table, op, old, new)| RowChange { table, op, old, new }).collect()
    }

    /// Takes the present state as the reference (before a call).
    pub async fn settle(&mut self) {
        let counter = self.counter().await;
        if counter != self.seen {
            self.fingerprint = digests(&self.pool, &self.tables).await;
            self.take_log().await;
            self.seen = counter;
        }
    }

    /// The tables that changed since the reference (and makes the present the reference).
    pub async fn changes(&mut self) -> Vec<String> {
        let counter = self.counter().await;
        if counter == self.seen {
            return Vec::new();
        }
        let now = digests(&self.pool, &self.tables).await;
        let changed = changed_tables(&self.fingerprint, &now);
        self.take_log().await;
        self.fingerprint = now;
        self.seen = counter;
        changed
    }

    /// Every row changed since the reference, in every table (log-in throttling,
    /// known clients, rate limits and stored sessions' ids included), in the order
    /// the changes were made; makes the present the reference. Every table the
    /// fingerprint saw change must be in the row log: the log is never the weaker check.
    pub async fn row_changes(&mut self) -> Vec<RowChange> {
        let counter = self.counter().await;
        if counter == self.seen {
            return Vec::new();
        }
        let log = self.take_log().await;
        let now = digests(&self.pool, &self.tables).await;
        for table in changed_tables(&self.fingerprint, &now) {
            let name = if table == "tower_sessions.session (ids)" {
                "tower_sessions.session"
            } else {
                table.as_str()
            };
            assert!(
                log.iter().any(|c| c.table == name),
                "the row log missed a change of {table} that the fingerprint saw: {log:?}"
            );
        }
        self.fingerprint = now;
        self.seen = counter;
        log
    }
}

/// Creates a user directly in the database (fast: a pre-computed hash of "password123").
pub async fn create_user(pool: &PgPool, email: &str, role: autodoctor::auth::Role) -> uuid::Uuid {
    static HASH: tokio::sync::OnceCell<String> = tokio::sync::OnceCell::const_new();
    let hash = HASH
        .get_or_init(|| async { autodoctor::auth::password::hash(TEST_PASSWORD.to_string()).await.unwrap() })
        .await;
    autodoctor::auth::queries::insert_user(pool, email, "Test Person", role, hash)
        .await
        .unwrap()
        .expect("email is new")
}

pub const TEST_PASSWORD: &str = "password123";

/// Shared set-ups for database tests: plans, workshops, mechanics and paid requests.
pub mod fixtures {
    use super::create_user;
    use autodoctor::auth::Role;
    use autodoctor::dispatch::RoutingType;
    use autodoctor::offers::store::RoutingSettings;
    use chrono::Utc;
    use sqlx::PgPool;
    use uuid::Uuid;

    fn settings() -> RoutingSettings {
        RoutingSettings::from_config(&super::test_config())
    }

    pub async fn plan(pool: &PgPool) {
        sqlx::query(
            "INSERT INTO plans (code, name, description, price_cents, currency, minutes)
             VALUES ('video15', 'Video diagnosis', 'Fifteen minutes', 2900, 'usd', 15),
                    ('hundred', 'Hundred dollar session', 'For exact splits', 10000, 'usd', 30) ON CONFLICT DO NOTHING",
        )
        .execute(pool)
        .await
        .unwrap();
    }

    pub async fn workshop(pool: &PgPool, name: &str) -> Uuid {
        sqlx::query_scalar(
            "INSERT INTO organizations (name, contact_email, city, status) VALUES ($1, 'w@example.com', 'Lyon', 'active')
             RETURNING id",
        )
        .bind(name)
        .fetch_one(pool)
        .await
        .unwrap()
    }

    /// An approved mechanic, online, in `workshop` (or independent).
    pub async fn mechanic(pool: &PgPool, email: &str, workshop: Option<Uuid>, online: bool) -> Uuid {
        let id = create_user(pool, email, Role::Mechanic).await;
        sqlx::query(
            "INSERT INTO mechanics (user_id, account_type, workshop_id, application_status, years_experience, is_online, capacity)
             VALUES ($1, CASE WHEN $2::uuid IS NULL THEN 'independent' ELSE 'workshop' END::mechanic_account_type, $2,
                     'approved', 5, $3, 1)",
        )
        .bind(id)
        .bind(workshop)
        .bind(online)
        .execute(pool)
        .await
        .unwrap();
        id
    }

    /// A paid order and its pending request, created as the webhook does: the
    /// payment in the ledger and routing started, in one transaction. It writes
    /// the paid state straight into the tables, so webhook fulfilment does not
    /// run (audit M8): the money tests (payouts, refunds, ledger, earnings) pay
    /// through `paid_order_via_webhook` instead. This one stays for tests about
    /// something else (sessions, offers, streams, the authorization worlds) and
    /// for states the webhook cannot make (consistency's tests edit the order
    /// into a broken one after it).
    pub async fn paid_request(
        pool: &PgPool,
        customer: Uuid,
        routing: RoutingType,
        preferred: Option<Uuid>,
    ) -> (Uuid, Uuid) {
        paid_order(pool, customer, routing, preferred, ("video15", "Video diagnosis", 2900)).await
    }

    /// A paid request for the $100 plan (for exact splits).
    pub async fn paid_hundred(
        pool: &PgPool,
        customer: Uuid,
        routing: RoutingType,
        preferred: Option<Uuid>,
    ) -> (Uuid, Uuid) {
        paid_order(pool, customer, routing, preferred, ("hundred", "Hundred dollar session", 10000)).await
    }

    async fn paid_order(
        pool: &PgPool,
        customer: Uuid,
        routing: RoutingType,
        preferred: Option<Uuid>,
        (plan_code, plan_name, amount): (&str, &str, i64),
    ) -> (Uuid, Uuid) {
        let mut tx = pool.begin().await.unwrap();
        let order: Uuid = sqlx::query_scalar(
            "INSERT INTO orders (customer_id, request_key, plan_code, plan_name, plan_minutes, amount_cents, currency,
                                 vehicle_make, vehicle_model, vehicle_year, problem_description, preferred_workshop_id,
                                 routing_type, platform_fee_bps, referral_fee_bps, status, amount_paid_cents, paid_at,
                                 payment_intent_id)
             VALUES ($1, gen_random_uuid(), $4, $5, 15, $6, 'usd', 'Ford', 'Focus', 2012,
                     'Clunk over bumps at low speed.', $2, $3, 2000, 1000, 'paid', $6, now(), 'pi_test_' || gen_random_uuid())
             RETURNING id",
        )
        .bind(customer)
        .bind(preferred)
        .bind(routing)
        .bind(plan_code)
        .bind(plan_name)
        .bind(amount)
        .fetch_one(&mut *tx)
        .await
        .unwrap();
        let request: Uuid = sqlx::query_scalar(
            "INSERT INTO session_requests (order_id, customer_id, plan_code, preferred_workshop_id, routing_type)
             VALUES ($1, $2, $3, $4, $5) RETURNING id",
        )
        .bind(order)
        .bind(customer)
        .bind(plan_code)
        .bind(preferred)
        .bind(routing)
        .fetch_one(&mut *tx)
        .await
        .unwrap();
        autodoctor::ledger::post_payment(&mut tx, autodoctor::ids::OrderId(order), amount).await.unwrap();
        autodoctor::offers::store::on_request_created(
            &mut tx,
            autodoctor::ids::RequestId(request),
            &settings(),
        )
        .await
        .unwrap();
        tx.commit().await.unwrap();
        (order, request)
    }

    /// A paid order and its pending request, paid as a customer pays (audit M8):
    /// an order awaiting payment with its completed sandbox checkout session,
    /// then that session's `checkout.session.completed` event, built by the
    /// sandbox's own builder, signed with the app's webhook secret as Stripe
    /// signs, and posted to `/api/stripe/webhook`. So webhook fulfilment runs:
    /// the amount and currency check, the order's payment, the request and its
    /// routing, the ledger's payment entry, the receipt. The payment exists at
    /// the sandbox gateway, so it can be refunded. `plan_code` is `video15`
    /// ($29) or `hundred` ($100, for exact splits).
    pub async fn paid_order_via_webhook(
        app: &super::TestApp,
        customer: Uuid,
        routing: RoutingType,
        preferred: Option<Uuid>,
        plan_code: &str,
    ) -> (Uuid, Uuid) {
        use autodoctor::payments::sandbox::{checkout_event, SessionRow};
        let pool = app.pool();
        let order = sqlx::query_scalar!(
            "INSERT INTO orders (customer_id, request_key, plan_code, plan_name, plan_minutes, amount_cents, currency,
                                 vehicle_make, vehicle_model, vehicle_year, problem_description, preferred_workshop_id,
                                 routing_type, platform_fee_bps, referral_fee_bps)
             SELECT $1, gen_random_uuid(), p.code, p.name, p.minutes, p.price_cents, p.currency, 'Ford', 'Focus', 2012,
                    'Clunk over bumps at low speed.', $2, $3, 2000, 1000
               FROM plans p WHERE p.code = $4
             RETURNING id",
            customer,
            preferred,
            routing as _,
            plan_code,
        )
        .fetch_one(pool)
        .await
        .expect("the plan exists (fixtures::plan)");
        let checkout = format!("cs_test_{}", order.simple());
        let payment_intent = format!("pi_test_{}", order.simple());
        let s = sqlx::query_as!(
            SessionRow,
            r#"INSERT INTO sandbox_checkout_sessions (id, idempotency_key, order_id, amount_cents, currency, product_name,
                        customer_email, metadata, success_url, cancel_url, status, payment_intent, expires_at, completed_at)
               SELECT $1, $1, o.id, o.amount_cents, o.currency, o.plan_name, u.email, jsonb_build_object('order_id', o.id::text),
                      'http://127.0.0.1:3000/checkout/return', 'http://127.0.0.1:3000/book', 'complete', $3,
                      now() + interval '1 day', now()
                 FROM orders o JOIN users u ON u.id = o.customer_id WHERE o.id = $2
               RETURNING id, order_id, amount_cents, currency, product_name, customer_email, metadata, success_url,
                         cancel_url, status, payment_intent, created_at AS "created_at: chrono::DateTime<Utc>",
                         expires_at AS "expires_at: chrono::DateTime<Utc>""#,
            checkout,
            order,
            payment_intent,
        )
        .fetch_one(pool)
        .await
        .unwrap();
        sqlx::query!("UPDATE orders SET checkout_session_id = $2 WHERE id = $1", order, checkout)
            .execute(pool)
            .await
            .unwrap();
        let (_, payload) = checkout_event("checkout.session.completed", &s);
        let signature = autodoctor::payments::signing::signature_header(
            &app.state.config.stripe_webhook_secret,
            Utc::now().timestamp(),
            &payload,
        );
        let res = app
            .client()
            .post_raw("/api/stripe/webhook", "application/json", payload, &[("stripe-signature", &signature)])
            .await;
        assert_eq!(res.status, axum::http::StatusCode::OK, "{}", res.body);
        assert_eq!(res.json()["outcome"], "fulfilled", "{}", res.body);
        let request = sqlx::query_scalar!("SELECT id FROM session_requests WHERE order_id = $1", order)
            .fetch_one(pool)
            .await
            .expect("fulfilment made the request");
        (order, request)
    }

    /// A completed $100 session of `customer`, paid through the webhook
    /// (`paid_order_via_webhook`), accepted by `m` and ended.
    pub async fn completed_session_via_webhook(
        app: &super::TestApp,
        customer: Uuid,
        m: Uuid,
        routing: RoutingType,
        preferred: Option<Uuid>,
    ) -> (Uuid, Uuid) {
        let (order, request) = paid_order_via_webhook(app, customer, routing, preferred, "hundred").await;
        let policy = autodoctor::offers::store::RoutingSettings::from_config(&app.state.config).policy;
        (order, serve(app.pool(), &policy, m, request).await)
    }

    /// A sandbox connected account with payouts enabled, linked to the workshop or mechanic.
    pub async fn connect(
        pool: &PgPool,
        workshop: Option<Uuid>,
        mechanic: Option<Uuid>,
        enabled: bool,
    ) -> String {
        let id = format!("acct_sbx_test{}", Uuid::new_v4().simple());
        sqlx::query(
            "INSERT INTO sandbox_accounts (id, idempotency_key, email, display_name, kind, metadata, details_submitted,
                                           charges_enabled, payouts_enabled)
             VALUES ($1, $1, 'p@example.com', 'Payee', 'company', '{}', $2, $2, $2)",
        )
        .bind(&id)
        .bind(enabled)
        .execute(pool)
        .await
        .unwrap();
        if let Some(w) = workshop {
            sqlx::query("UPDATE organizations SET stripe_connect_account_id = $2, stripe_payouts_enabled = $3 WHERE id = $1")
                .bind(w)
                .bind(&id)
                .bind(enabled)
                .execute(pool)
                .await
                .unwrap();
        }
        if let Some(m) = mechanic {
            sqlx::query("UPDATE mechanics SET stripe_connect_account_id = $2, stripe_payouts_enabled = $3 WHERE user_id = $1")
                .bind(m)
                .bind(&id)
                .bind(enabled)
                .execute(pool)
                .await
                .unwrap();
        }
        id
    }

    /// A completed $100 session, paid through the sandbox so that it can be refunded.
    pub async fn completed_session(
        app: &super::TestApp,
        m: Uuid,
        routing: RoutingType,
        preferred: Option<Uuid>,
    ) -> (Uuid, Uuid) {
        let pool = app.pool();
        let customer: Uuid = match sqlx::query_scalar("SELECT id FROM users WHERE email = 'c@example.com'")
            .fetch_optional(pool)
            .await
            .unwrap()
        {
            Some(id) => id,
            None => create_user(pool, "c@example.com", Role::Customer).await,
        };
        completed_session_for(app, customer, m, routing, preferred).await
    }

    /// A completed $100 session of `customer`, paid through the sandbox.
    pub async fn completed_session_for(
        app: &super::TestApp,
        customer: Uuid,
        m: Uuid,
        routing: RoutingType,
        preferred: Option<Uuid>,
    ) -> (Uuid, Uuid) {
        let pool = app.pool();
        let (order, request) = paid_hundred(pool, customer, routing, preferred).await;
        sandbox_payment(pool, order).await;
        let policy = autodoctor::offers::store::RoutingSettings::from_config(&app.state.config).policy;
        (order, serve(pool, &policy, m, request).await)
    }

    /// Accepts a request as `m` (past the hybrid window, so any routing offers it)
    /// and ends the session; returns the session.
    pub async fn serve(
        pool: &PgPool,
        policy: &autodoctor::dispatch::RoutingPolicy,
        m: Uuid,
        request: Uuid,
    ) -> Uuid {
        let created: chrono::DateTime<Utc> =
            sqlx::query_scalar("SELECT created_at FROM session_requests WHERE id = $1")
                .bind(request)
                .fetch_one(pool)
                .await
                .unwrap();
        let session = autodoctor::offers::accept::accept(
            pool,
            autodoctor::ids::UserId(m),
            autodoctor::ids::RequestId(request),
            created + chrono::Duration::seconds(120),
            policy,
        )
        .await
        .unwrap();
        write_report(pool, session, m).await;
        autodoctor::sessions::room::end_session(
            pool,
            autodoctor::ids::SessionId(session),
            autodoctor::ids::UserId(m),
            super::ORIGIN,
        )
        .await
        .unwrap();
        session
    }

    /// The mechanic's diagnosis report of a session (ending a session needs one).
    pub async fn write_report(pool: &PgPool, session: Uuid, m: Uuid) {
        use autodoctor::sessions::report::{Repair, ReportDraft, SafeToDrive, Urgency};
        let draft = ReportDraft {
            summary: "Worn front left wheel bearing.".into(),
            likely_causes: "Age and mileage.".into(),
            safe_to_drive: SafeToDrive::WithCare,
            follow_ups: String::new(),
            repairs: vec![Repair {
                description: "Replace the front left wheel bearing".into(),
                urgency: Urgency::Soon,
                cost_min_cents: 18000,
                cost_max_cents: 26000,
            }],
        };
        autodoctor::sessions::report::store::save(
            pool,
            autodoctor::ids::SessionId(session),
            autodoctor::ids::UserId(m),
            &draft,
        )
        .await
        .unwrap();
    }

    /// Makes a paid order's payment exist at the sandbox gateway too (so that it
    /// can be refunded).
    pub async fn sandbox_payment(pool: &PgPool, order: Uuid) {
        let amount: i64 = sqlx::query_scalar("SELECT amount_paid_cents FROM orders WHERE id = $1")
            .bind(order)
            .fetch_one(pool)
            .await
            .unwrap();
        let pi: String = sqlx::query_scalar("SELECT payment_intent_id FROM orders WHERE id = $1")
            .bind(order)
            .fetch_one(pool)
            .await
            .unwrap();
        sqlx::query(
            "INSERT INTO sandbox_checkout_sessions (id, idempotency_key, order_id, amount_cents, currency, product_name,
                        customer_email, metadata, success_url, cancel_url, status, payment_intent, expires_at, completed_at)
             VALUES ('cs_' || $1, 'k_' || $1, $2, $3, 'usd', 'Plan', 'c@example.com', '{}', 'x', 'y', 'complete', $1,
                     now() + interval '1 day', now())",
        )
        .bind(&pi)
        .bind(order)
        .bind(amount)
        .execute(pool)
        .await
        .unwrap();
        sqlx::query("UPDATE orders SET checkout_session_id = 'cs_' || payment_intent_id WHERE id = $1")
            .bind(order)
            .execute(pool)
            .await
            .unwrap();
    }

    /// A workshop owner (a workshop member with the owner membership).
    pub async fn owner(pool: &PgPool, email: &str, workshop: Uuid) -> Uuid {
        let id = create_user(pool, email, Role::WorkshopMember).await;
        sqlx::query(
            "INSERT INTO organization_members (organization_id, user_id, role) VALUES ($1, $2, 'owner')",
        )
        .bind(workshop)
        .bind(id)
        .execute(pool)
        .await
        .unwrap();
        id
    }

    /// A photo (a small real JPEG) posted to `session`'s chat by `uploader`, for
    /// suites that need one to exist (the authorization matrix).
    pub async fn stored_photo(pool: &sqlx::PgPool, session: uuid::Uuid, uploader: uuid::Uuid) -> uuid::Uuid {
        let p = autodoctor::sessions::photos::image::process(&crate::photo_fixtures::jpeg(48, 32)).unwrap();
        let new = autodoctor::sessions::photos::queries::NewPhoto {
            id: uuid::Uuid::new_v4(),
            session_id: session,
            uploader,
            caption: "",
            width: p.width,
            height: p.height,
            thumb_width: p.thumb_width,
            thumb_height: p.thumb_height,
            byte_size: p.full.len(),
        };
        let placement =
            autodoctor::sessions::photos::store::Placement::Inline { full: p.full, thumb: p.thumb };
        autodoctor::sessions::photos::queries::insert_photo_message(pool, &new, &placement).await.unwrap();
        new.id
    }
}
