//! The HTTP server: shared state, the router with its middleware, and start-up.

pub mod middleware;

use crate::app::{shell, App};
use crate::config::Config;
use crate::error::AppError;
use crate::payments::gateway::PaymentGateway;
use crate::payments::sandbox::SandboxGateway;
use axum::extract::{FromRef, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::{Json, Router};
use leptos::prelude::*;
use leptos_axum::{generate_route_list, LeptosRoutes, ResponseOptions};
use sqlx::PgPool;
use std::sync::Arc;
use std::time::Duration;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::request_id::{PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::services::ServeDir;
use tower_http::trace::TraceLayer;
use tower_sessions::cookie::SameSite;
use tower_sessions::{Expiry, SessionManagerLayer};
use tower_sessions_sqlx_store::PostgresStore;

/// Largest request body accepted anywhere (forms, JSON, webhooks).
pub const MAX_BODY_BYTES: usize = 256 * 1024;

/// Everything a handler or server function needs, cloned cheaply per request.
#[derive(Clone)]
pub struct AppState {
    pub leptos_options: LeptosOptions,
    pub pool: PgPool,
    pub config: Arc<Config>,
    pub payments: Arc<dyn PaymentGateway>,
    /// Set in sandbox mode: wakes the sandbox's webhook deliverer.
    pub sandbox_deliveries: Option<Arc<tokio::sync::Notify>>,
    /// Signals from LISTEN/NOTIFY, fanned out to this instance's live streams.
    pub realtime: crate::realtime::server::Realtime,
}

impl FromRef<AppState> for LeptosOptions {
    fn from_ref(state: &AppState) -> Self {
        state.leptos_options.clone()
    }
}

impl AppState {
    pub fn new(config: Config, pool: PgPool) -> Self {
        let leptos_options = leptos_options(&config);
        let (payments, sandbox_deliveries): (Arc<dyn PaymentGateway>, _) = match &config.stripe_secret_key {
            Some(key) => (
                Arc::new(crate::payments::stripe::StripeGateway::new(key, config.stripe_api_base.as_deref())),
                None,
            ),
            None => {
                let sandbox = SandboxGateway::new(pool.clone(), config.public_url.clone());
                let notify = sandbox.deliveries.clone();
                (Arc::new(sandbox), Some(notify))
            }
        };
        let realtime = crate::realtime::server::Realtime::new();
        // Inside a runtime (the server, the tests) the listener starts right away.
        if tokio::runtime::Handle::try_current().is_ok() {
            realtime.spawn_listener(pool.clone());
        }
        AppState { leptos_options, pool, config: Arc::new(config), payments, sandbox_deliveries, realtime }
    }

    pub fn is_sandbox(&self) -> bool {
        self.sandbox_deliveries.is_some()
    }
}

/// The state inside a server function or a server-side render.
pub fn app_state() -> Result<AppState, AppError> {
    use_context::<AppState>().ok_or_else(|| AppError::internal("app state", "missing from context"))
}

fn leptos_options(config: &Config) -> LeptosOptions {
    // cargo-leptos writes hash.txt next to the server binary when it hashes file names.
    let hash_file_present = std::env::current_exe()
        .ok()
        .and_then(|exe| exe.parent().map(|dir| dir.join("hash.txt").exists()))
        .unwrap_or(false);
    LeptosOptions::builder()
        .output_name("autodoctor")
        .site_root(config.site_root.as_str())
        .site_pkg_dir("pkg")
        .site_addr(config.site_addr())
        .hash_files(hash_file_present)
        .build()
}

/// Per-request context for pages and server functions: a fresh CSP nonce, and the
/// Content-Security-Policy header that allows exactly that nonce.
fn app_context() {
    leptos::nonce::provide_nonce();
    if let (Some(nonce), Some(response)) = (leptos::nonce::use_nonce(), use_context::<ResponseOptions>()) {
        if let Ok(v) = HeaderValue::from_str(&middleware::content_security_policy(Some(&nonce))) {
            response.insert_header(header::CONTENT_SECURITY_POLICY, v);
        }
    }
}

async fn healthz(State(state): State<AppState>) -> impl IntoResponse {
    let db = tokio::time::timeout(
        Duration::from_secs(2),
        sqlx::query_scalar::<_, i32>("SELECT 1").fetch_one(&state.pool),
    )
    .await;
    match db {
        Ok(Ok(_)) => (StatusCode::OK, Json(serde_json::json!({"status": "ok", "database": "ok"}))),
        _ => (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(serde_json::json!({"status": "unavailable", "database": "unreachable"})),
        ),
    }
}

/// The whole application as one router; used by `main` and by the tests.
pub fn router(state: AppState) -> Router {
    let routes = generate_route_list(App);
    let options = state.leptos_options.clone();
    let pkg_dir = format!("{}/{}", options.site_root, options.site_pkg_dir);
    let public_origin: Arc<str> = state.config.public_origin().into();
    let https = state.config.is_https();

    let session_layer = SessionManagerLayer::new(PostgresStore::new(state.pool.clone()))
        .with_name(crate::auth::session::COOKIE_NAME)
        .with_http_only(true)
        .with_same_site(SameSite::Lax)
        .with_secure(https)
        .with_path("/")
        .with_expiry(Expiry::OnInactivity(
            tower_sessions::cookie::time::Duration::try_from(state.config.session_idle_timeout)
                .unwrap_or(tower_sessions::cookie::time::Duration::hours(12)),
        ));

    let pkg = Router::new()
        .fallback_service(ServeDir::new(pkg_dir))
        .layer(axum::middleware::from_fn(middleware::immutable_cache));

    // Routes that need no session (static files, the health check, signed
    // webhooks, public JSON, the sandbox's pages) are merged in after the
    // session and user layers, so they never touch the session store.
    let mut unauthenticated = Router::new().nest("/pkg", pkg);
    let mut with_session = Router::new();
    for route in plain_routes(state.is_sandbox()) {
        match route.access {
            Access::Public => unauthenticated = unauthenticated.route(route.path, route.handler),
            Access::Session => with_session = with_session.route(route.path, route.handler),
        }
    }

    with_session
        .leptos_routes_with_context(&state, routes, app_context, {
            let options = options.clone();
            move || shell(options.clone())
        })
        .fallback(leptos_axum::file_and_error_handler_with_context::<AppState, _>(app_context, shell))
        .layer(axum::middleware::from_fn_with_state(state.clone(), crate::auth::guard::load_user))
        .layer(session_layer)
        .merge(unauthenticated)
        .with_state(state)
        .layer(axum::middleware::from_fn(middleware::cache_policy))
        .layer(axum::middleware::from_fn(middleware::server_fn_status))
        .layer(axum::middleware::from_fn_with_state(public_origin, middleware::csrf_guard))
        .layer(axum::middleware::from_fn_with_state(https, middleware::security_headers))
        .layer(PropagateRequestIdLayer::new(middleware::REQUEST_ID.clone()))
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(middleware::request_span)
                .on_request(())
                .on_response(middleware::log_response),
        )
        .layer(SetRequestIdLayer::new(middleware::REQUEST_ID.clone(), middleware::MakeRequestUuid))
        .layer(RequestBodyLimitLayer::new(MAX_BODY_BYTES))
        .layer(axum::middleware::from_fn(middleware::body_size_limit))
}

/// Whether a plain route runs behind the session and user layers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    /// No session: public data, or authenticated otherwise (signature, capability URL).
    Public,
    /// The handler authorises against the session's user itself.
    Session,
}

/// A route outside Leptos (pages and server functions are listed by Leptos).
pub struct PlainRoute {
    pub method: &'static str,
    pub path: &'static str,
    pub access: Access,
    pub handler: axum::routing::MethodRouter<AppState>,
}

/// Every plain route. The router is built from this list, and the authorization
/// tests enumerate it, so a route cannot be added without being tested.
pub fn plain_routes(sandbox: bool) -> Vec<PlainRoute> {
    use crate::payments::sandbox_pages;
    let route = |method, path, access, handler| PlainRoute { method, path, access, handler };
    let mut routes = vec![
        route("GET", "/healthz", Access::Public, get(healthz)),
        route("POST", "/api/stripe/webhook", Access::Public, post(crate::payments::webhook::stripe_webhook)),
        route("GET", "/api/workshops/directory", Access::Public, get(crate::directory::api::directory_json)),
        route("GET", "/api/live/offers", Access::Session, get(crate::sessions::live::offers)),
        route("GET", "/api/live/order/{order_id}", Access::Session, get(crate::sessions::live::order)),
        route("GET", "/api/live/session/{session_id}", Access::Session, get(crate::sessions::live::session)),
        route(
            "GET",
            "/workshop/earnings.csv",
            Access::Session,
            get(crate::earnings::csv::workshop_earnings_csv),
        ),
    ];
    if sandbox {
        routes.push(route(
            "GET",
            "/sandbox/checkout/{id}",
            Access::Public,
            get(sandbox_pages::checkout_page),
        ));
        routes.push(route("POST", "/sandbox/checkout/{id}/pay", Access::Public, post(sandbox_pages::pay)));
        routes.push(route(
            "GET",
            "/sandbox/connect/{account}",
            Access::Public,
            get(sandbox_pages::connect_page),
        ));
        routes.push(route(
            "POST",
            "/sandbox/connect/{account}",
            Access::Public,
            post(sandbox_pages::connect_submit),
        ));
    }
    routes
}

/// Resolves when the process is asked to stop (Ctrl-C or SIGTERM).
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = terminate => {},
    }
    tracing::info!("shutdown requested; finishing open requests");
}

/// Binds the configured address and serves until a shutdown signal.
pub async fn serve(state: AppState) -> std::io::Result<()> {
    let addr = state.config.site_addr();
    let app = router(state);
    let listener = tokio::net::TcpListener::bind(addr).await?;
    tracing::info!("listening on http://{addr}");
    axum::serve(listener, app.into_make_service_with_connect_info::<std::net::SocketAddr>())
        .with_graceful_shutdown(shutdown_signal())
        .await
}
