//! The HTTP server: shared state, the router with its middleware, and start-up.

pub mod detach;
pub mod middleware;

use crate::app::{shell, App};
use crate::state::AppState;
use axum::extract::State;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::{Json, Router};
use leptos::prelude::*;
use leptos_axum::{generate_route_list, LeptosRoutes, ResponseOptions};
use std::sync::Arc;
use std::time::Duration;
use tower_http::compression::CompressionLayer;
use tower_http::request_id::{PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::services::ServeDir;
use tower_http::trace::TraceLayer;
use tower_sessions::cookie::SameSite;
use tower_sessions::{Expiry, SessionManagerLayer};
use tower_sessions_sqlx_store::PostgresStore;

/// Largest request body accepted anywhere (forms, JSON, webhooks), but photo uploads.
pub const MAX_BODY_BYTES: usize = 256 * 1024;

/// The largest body a request may have, and the sentence for one larger: a
/// photo upload may carry a photo, everything else the usual limit.
pub fn body_limit(method: &str, path: &str) -> (usize, String) {
    if crate::sessions::photos::is_upload(method, path)
        || crate::workshops::logo_pages::is_upload(method, path)
    {
        (crate::sessions::photos::MAX_UPLOAD_BODY_BYTES, crate::sessions::photos::TOO_LARGE.into())
    } else {
        (
            MAX_BODY_BYTES,
            format!("The request is too large: at most {} KB can be sent at once.", MAX_BODY_BYTES / 1024),
        )
    }
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
        sqlx::query_scalar!(r#"SELECT 1 AS "one!""#).fetch_one(&state.pool),
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
        .with_name(crate::auth::login::COOKIE_NAME)
        .with_http_only(true)
        .with_same_site(SameSite::Lax)
        .with_secure(https)
        .with_path("/")
        .with_expiry(Expiry::OnInactivity(
            tower_sessions::cookie::time::Duration::try_from(state.config.session_idle_timeout)
                .unwrap_or(tower_sessions::cookie::time::Duration::hours(12)),
        ));

    // The build writes a .br and a .gz beside each hashed file (cargo leptos
    // --precompress, scripts/lib/precompress.mjs): they are sent as they are.
    let pkg = Router::new()
        .fallback_service(ServeDir::new(pkg_dir).precompressed_br().precompressed_gzip())
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
        // br or gzip, as the client asks, for pages, JSON, server functions and any
        // static file without a precompressed copy. Outside the layers that read
        // answers (server_fn_status). Event streams are left alone (the default
        // predicate skips text/event-stream), so each event leaves at once.
        .layer(CompressionLayer::new().br(true).gzip(true))
        .layer(PropagateRequestIdLayer::new(middleware::REQUEST_ID.clone()))
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(middleware::request_span)
                .on_request(())
                .on_response(middleware::log_response),
        )
        .layer(SetRequestIdLayer::new(middleware::REQUEST_ID.clone(), middleware::MakeRequestUuid))
        .layer(axum::middleware::from_fn(middleware::body_size_limit))
        // Outermost: a client that hangs up does not cut a request short.
        .layer(axum::middleware::from_fn(detach::run_to_completion))
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
    use crate::checkout::sandbox_pages;
    let route = |method, path, access, handler| PlainRoute { method, path, access, handler };
    let mut routes = vec![
        route("GET", "/healthz", Access::Public, get(healthz)),
        route("POST", "/api/stripe/webhook", Access::Public, post(crate::checkout::webhook::stripe_webhook)),
        route("GET", "/api/workshops/directory", Access::Public, get(crate::directory::api::directory_json)),
        route("GET", "/api/live/offers", Access::Session, get(crate::offers::live::offers)),
        route("GET", "/api/live/directory", Access::Public, get(crate::directory::live::directory)),
        route("GET", "/api/workshops/{workshop_id}/logo", Access::Public, get(crate::workshops::logo::logo)),
        route(
            "POST",
            crate::workshops::logo_pages::LOGO_UPLOAD_PATH,
            Access::Session,
            post(crate::workshops::logo::upload)
                .layer(axum::extract::DefaultBodyLimit::max(crate::sessions::photos::MAX_UPLOAD_BODY_BYTES)),
        ),
        route("GET", "/api/live/order/{order_id}", Access::Session, get(crate::booking::live::order)),
        route("GET", "/api/live/session/{session_id}", Access::Session, get(crate::sessions::live::session)),
        route(
            "POST",
            "/api/session/{session_id}/photos",
            Access::Session,
            post(crate::sessions::photos::upload::upload)
                .layer(axum::extract::DefaultBodyLimit::max(crate::sessions::photos::MAX_UPLOAD_BODY_BYTES)),
        ),
        route(
            "GET",
            "/api/session/{session_id}/photos/{photo_id}",
            Access::Session,
            get(crate::sessions::photos::fetch::photo),
        ),
        route(
            "GET",
            "/api/session/{session_id}/photos/{photo_id}/thumb",
            Access::Session,
            get(crate::sessions::photos::fetch::thumb),
        ),
        route(
            "GET",
            "/api/live/session/{session_id}/call",
            Access::Session,
            get(crate::sessions::call::http::stream),
        ),
        route(
            "POST",
            "/api/session/{session_id}/call/signals",
            Access::Session,
            post(crate::sessions::call::http::post_signal),
        ),
        route(
            "GET",
            "/api/session/{session_id}/call/ice",
            Access::Session,
            get(crate::sessions::call::http::ice),
        ),
        route("GET", "/unsubscribe/{token}", Access::Public, get(crate::notifications::unsubscribe::show)),
        route(
            "POST",
            "/unsubscribe/{token}",
            Access::Public,
            post(crate::notifications::unsubscribe::confirm),
        ),
        route(
            "GET",
            "/workshop/earnings.csv",
            Access::Session,
            get(crate::earnings::csv::workshop_earnings_csv),
        ),
        route(
            "GET",
            "/workshop/analytics.csv",
            Access::Session,
            get(crate::workshops::trends_csv::workshop_analytics_csv),
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

/// Binds the configured address and serves until `shutdown`: then it stops
/// accepting connections, ends the live streams, and lets the requests in
/// progress finish, waiting at most `grace` for them.
pub async fn serve(
    state: AppState,
    shutdown: crate::workers::Shutdown,
    grace: Duration,
) -> std::io::Result<()> {
    let addr = state.config.site_addr();
    let realtime = state.realtime.clone();
    let app = router(state);
    let listener = tokio::net::TcpListener::bind(addr).await?;
    tracing::info!("listening on http://{addr}");
    let stopping = {
        let shutdown = shutdown.clone();
        async move {
            shutdown.requested().await;
            realtime.close_streams();
        }
    };
    let server = axum::serve(listener, app.into_make_service_with_connect_info::<std::net::SocketAddr>())
        .with_graceful_shutdown(stopping);
    tokio::select! {
        served = std::future::IntoFuture::into_future(server) => served,
        _ = async { shutdown.requested().await; tokio::time::sleep(grace).await } => {
            tracing::warn!(grace_secs = grace.as_secs(), "requests still open after the grace period; closing them");
            Ok(())
        }
    }
}
