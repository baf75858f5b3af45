//! Cross-cutting HTTP middleware: request ids, access logs, security headers,
//! cross-site request forgery protection and proper status codes for
//! server-function errors.

use crate::error::AppError;
use axum::body::{Body, Bytes};
use axum::extract::{MatchedPath, Request, State};
use axum::http::{header, HeaderName, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use tower_http::request_id::{MakeRequestId, RequestId};

pub static REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Gives every request a random id, logged with each line and echoed in the response.
#[derive(Clone, Copy, Default)]
pub struct MakeRequestUuid;

impl MakeRequestId for MakeRequestUuid {
    fn make_request_id<B>(&mut self, _request: &axum::http::Request<B>) -> Option<RequestId> {
        HeaderValue::from_str(&uuid::Uuid::new_v4().to_string()).ok().map(RequestId::new)
    }
}

/// The span of one request: id, method and path. The path is the route pattern
/// when one matched (so tokens in paths are not written to the logs) and the
/// query string is never logged.
pub fn request_span(req: &axum::http::Request<Body>) -> tracing::Span {
    let request_id = req.headers().get(&REQUEST_ID).and_then(|v| v.to_str().ok()).unwrap_or("-").to_string();
    let path = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| req.uri().path().to_string());
    tracing::info_span!("request", request_id = %request_id, method = %req.method(), path = %path)
}

pub fn log_response(res: &Response, latency: std::time::Duration, _span: &tracing::Span) {
    let status = res.status().as_u16();
    let latency_ms = latency.as_secs_f64() * 1000.0;
    if status >= 500 {
        tracing::error!(status, latency_ms, "response");
    } else {
        tracing::info!(status, latency_ms, "response");
    }
}

/// The Content-Security-Policy for pages. Scripts must come from this origin or
/// carry the per-response nonce (Leptos' hydration bootstrap is an inline module
/// script); `wasm-unsafe-eval` lets the browser compile the app's WebAssembly.
pub fn content_security_policy(nonce: Option<&str>) -> String {
    let script_src = match nonce {
        Some(n) => format!("script-src 'self' 'wasm-unsafe-eval' 'nonce-{n}'"),
        None => "script-src 'self' 'wasm-unsafe-eval'".to_string(),
    };
    format!(
        "default-src 'self'; {script_src}; style-src 'self' 'unsafe-inline'; img-src 'self' data:; \
         connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'self'; \
         form-action 'self'; frame-ancestors 'none'"
    )
}

/// Security headers on every response. Pages set their own CSP with a nonce
/// (see `app_context`); everything else gets the strict default.
pub async fn security_headers(State(https): State<bool>, req: Request, next: Next) -> Response {
    let room = is_session_room(req.uri().path());
    let mut res = next.run(req).await;
    let headers = res.headers_mut();
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("same-origin"));
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(
        HeaderName::from_static("permissions-policy"),
        // The camera and microphone are for the session room's call, and nowhere else.
        HeaderValue::from_static(if room {
            "camera=(self), microphone=(self), geolocation=()"
        } else {
            "camera=(), microphone=(), geolocation=()"
        }),
    );
    if !headers.contains_key(header::CONTENT_SECURITY_POLICY) {
        if let Ok(v) = HeaderValue::from_str(&content_security_policy(None)) {
            headers.insert(header::CONTENT_SECURITY_POLICY, v);
        }
    }
    if https {
        headers.insert(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static("max-age=31536000; includeSubDomains"),
        );
    }
    res
}

/// Whether a path is a session room's page, `/session/{uuid}` exactly.
pub fn is_session_room(path: &str) -> bool {
    path.strip_prefix("/session/").is_some_and(|id| uuid::Uuid::parse_str(id).is_ok())
}

/// Paths that accept state-changing requests from other sites on purpose.
/// Stripe's webhook calls come from Stripe's servers and are authenticated by
/// their signature instead.
fn csrf_exempt(path: &str) -> bool {
    // The webhook is signed; an unsubscribe link's token is its own credential, and
    // mail providers post RFC 8058 one-click unsubscribes from their own servers.
    path == "/api/stripe/webhook" || path.starts_with("/unsubscribe/")
}

/// Whether an `Origin` header value names this application.
fn same_origin(origin: &str, host: Option<&str>, public_origin: &str) -> bool {
    if origin == public_origin {
        return true;
    }
    // Behind the same host name (e.g. 127.0.0.1 vs the configured URL in tests),
    // compare the authority with the Host header the browser sent, and the scheme
    // with the configured one: `https://host` and `http://host` are different
    // origins (a page on the plain-HTTP one must not act on the HTTPS site).
    let Some((scheme, authority)) = origin.split_once("://") else { return false };
    let public_scheme = public_origin.split_once("://").map(|(s, _)| s).unwrap_or("");
    scheme.eq_ignore_ascii_case(public_scheme) && matches!(host, Some(h) if !h.is_empty() && authority == h)
}

/// Rejects state-changing requests that a browser sent on behalf of another site.
///
/// Leptos server functions have no CSRF protection of their own, and SameSite=Lax
/// cookies still travel with top-level cross-site POST navigations from some
/// browsers' older versions, so every non-safe method is checked here.
pub async fn csrf_guard(
    State(public_origin): State<std::sync::Arc<str>>,
    req: Request,
    next: Next,
) -> Response {
    let safe = matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS);
    if !safe && !csrf_exempt(req.uri().path()) {
        let headers = req.headers();
        let fetch_site = headers.get("sec-fetch-site").and_then(|v| v.to_str().ok());
        if matches!(fetch_site, Some("cross-site") | Some("same-site")) {
            return AppError::forbidden("Cross-site requests are not accepted.").into_response();
        }
        if let Some(origin) = headers.get(header::ORIGIN) {
            let origin = origin.to_str().unwrap_or("");
            let host = headers.get(header::HOST).and_then(|v| v.to_str().ok());
            if origin == "null" || !same_origin(origin, host, &public_origin) {
                return AppError::forbidden("Cross-site requests are not accepted.").into_response();
            }
        }
    }
    next.run(req).await
}

const SERVER_FN_ERROR_HEADER: &str = "serverfnerror";
const MAX_ERROR_BODY: usize = 64 * 1024;

/// Server functions answer every error with status 500 and the encoded error in
/// the body. This gives each error its real status (400, 401, 403, 404, 409, 429,
/// 503, ...) so that a user's mistake never looks like a server fault.
pub async fn server_fn_status(req: Request, next: Next) -> Response {
    let res = next.run(req).await;
    if res.status() != StatusCode::INTERNAL_SERVER_ERROR
        || !res.headers().contains_key(SERVER_FN_ERROR_HEADER)
    {
        return res;
    }
    let (mut parts, body) = res.into_parts();
    let bytes: Bytes = match axum::body::to_bytes(body, MAX_ERROR_BODY).await {
        Ok(b) => b,
        Err(_) => return (StatusCode::INTERNAL_SERVER_ERROR, "internal error").into_response(),
    };
    if let Ok(err) = serde_json::from_slice::<AppError>(&bytes) {
        parts.status = StatusCode::from_u16(err.status_code()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        if let AppError::TooManyRequests { retry_after_secs, .. } = &err {
            if let Ok(v) = HeaderValue::from_str(&retry_after_secs.to_string()) {
                parts.headers.insert(header::RETRY_AFTER, v);
            }
        }
    }
    Response::from_parts(parts, Body::from(bytes))
}

/// Refuses a body announced as larger than the limit before reading it, with
/// the app's own error (a message the page can show), and stops a body of
/// unknown length at the limit. The limit is the app's usual one, or a photo's
/// on the photo upload route (`super::body_limit`).
pub async fn body_size_limit(req: Request, next: Next) -> Response {
    let (limit, too_large) = super::body_limit(req.method().as_str(), req.uri().path());
    let announced = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    if announced.is_some_and(|n| n > limit as u64) {
        let err = AppError::PayloadTooLarge(too_large);
        // A server function's caller reads errors in the server functions' encoding.
        return if crate::auth::guard::server_fn_paths().contains(req.uri().path()) {
            crate::auth::guard::server_fn_error_response(err)
        } else {
            err.into_response()
        };
    }
    next.run(req.map(|body| Body::new(http_body_util::Limited::new(body, limit)))).await
}

/// Long-lived caching for the content-hashed files under `/pkg`. A file sent
/// as its precompressed copy depends on the client's Accept-Encoding, and says so.
pub async fn immutable_cache(req: Request, next: Next) -> Response {
    let mut res = next.run(req).await;
    if res.status() == StatusCode::OK {
        res.headers_mut()
            .insert(header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=31536000, immutable"));
        let varies = res
            .headers()
            .get_all(header::VARY)
            .iter()
            .any(|v| v.to_str().is_ok_and(|v| v.to_ascii_lowercase().contains("accept-encoding")));
        if !varies {
            res.headers_mut().append(header::VARY, HeaderValue::from_static("accept-encoding"));
        }
    }
    res
}

/// File extensions of the assets copied from `public/`.
const ASSET_EXTENSIONS: &[&str] =
    &["ico", "png", "svg", "jpg", "jpeg", "webp", "txt", "webmanifest", "woff2", "css", "js"];

/// Pages the same for every visitor who is not logged in, which a browser may
/// keep for a minute: the home page and the workshop directory.
const PUBLIC_PAGES: &[&str] = &["/", "/workshops"];

/// Public JSON that any cache may keep for a minute.
const PUBLIC_JSON: &[&str] = &["/api/workshops/directory"];

/// What a response may be cached as, when its handler said nothing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CacheRequest<'a> {
    pub get: bool,
    pub path: &'a str,
    /// The request carried the session cookie: the answer may be one person's.
    pub has_session: bool,
}

/// The `Cache-Control` value, and whether the answer varies by cookie.
pub fn cache_control(req: CacheRequest<'_>, status: StatusCode, html: bool) -> (&'static str, bool) {
    let is_asset = req.path.rsplit_once('.').is_some_and(|(_, ext)| ASSET_EXTENSIONS.contains(&ext));
    if !req.get || status != StatusCode::OK {
        return ("no-store", false);
    }
    if is_asset {
        return ("public, max-age=3600", false);
    }
    if req.has_session {
        // Anything asked for with a log-in may carry that person's data.
        return ("private, no-store", false);
    }
    if html {
        // Only the browser's own cache: the page carries a per-response CSP
        // nonce, which a shared cache would hand to everyone.
        return if PUBLIC_PAGES.contains(&req.path) {
            ("private, max-age=60", true)
        } else {
            ("no-cache", true)
        };
    }
    if PUBLIC_JSON.contains(&req.path) {
        return ("public, max-age=60", true);
    }
    ("no-store", false)
}

/// Caching policy for everything that did not set its own (see [`cache_control`]):
/// an hour for the files copied from `public/` (their names are not hashed), a
/// minute for the public directory, and nothing for a logged-in person's pages,
/// server functions and API answers.
pub async fn cache_policy(req: Request, next: Next) -> Response {
    let get = req.method() == Method::GET;
    let path = req.uri().path().to_string();
    let has_session = req
        .headers()
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .any(|c| c.trim().starts_with(&format!("{}=", crate::auth::login::COOKIE_NAME)));
    let mut res = next.run(req).await;
    if !res.headers().contains_key(header::CACHE_CONTROL) {
        let html = res
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("text/html"));
        let (value, vary_cookie) =
            cache_control(CacheRequest { get, path: &path, has_session }, res.status(), html);
        res.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static(value));
        if vary_cookie {
            res.headers_mut().append(header::VARY, HeaderValue::from_static("cookie"));
        }
    }
    res
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_origin_accepts_public_url_and_matching_host() {
        assert!(same_origin("http://127.0.0.1:3000", None, "http://127.0.0.1:3000"));
        assert!(same_origin("http://localhost:4000", Some("localhost:4000"), "http://127.0.0.1:3000"));
        assert!(!same_origin("https://evil.example", Some("127.0.0.1:3000"), "http://127.0.0.1:3000"));
        assert!(!same_origin("", Some(""), "http://127.0.0.1:3000"));
        // Same host, another scheme: another origin.
        assert!(!same_origin("https://localhost:4000", Some("localhost:4000"), "http://127.0.0.1:3000"));
        assert!(!same_origin("http://app.example", Some("app.example"), "https://app.example"));
        assert!(!same_origin("localhost:4000", Some("localhost:4000"), "http://127.0.0.1:3000"));
    }

    #[test]
    fn caching_keeps_personal_answers_private() {
        let req = |get, path, has_session| CacheRequest { get, path, has_session };
        let ok = StatusCode::OK;
        // The public directory and the home page: a minute, in the browser only, per cookie.
        assert_eq!(cache_control(req(true, "/workshops", false), ok, true), ("private, max-age=60", true));
        assert_eq!(cache_control(req(true, "/", false), ok, true), ("private, max-age=60", true));
        // The same pages for a logged-in person: never stored.
        assert_eq!(cache_control(req(true, "/workshops", true), ok, true), ("private, no-store", false));
        assert_eq!(cache_control(req(true, "/sessions", true), ok, true), ("private, no-store", false));
        // Other anonymous pages (log-in, sign-up) are checked again each time.
        assert_eq!(cache_control(req(true, "/login", false), ok, true), ("no-cache", true));
        // Public JSON, any cache, a minute; with a log-in, private.
        assert_eq!(
            cache_control(req(true, "/api/workshops/directory", false), ok, false),
            ("public, max-age=60", true)
        );
        assert_eq!(
            cache_control(req(true, "/api/workshops/directory", true), ok, false),
            ("private, no-store", false)
        );
        // Server functions (POST), errors and other API answers: never.
        assert_eq!(cache_control(req(false, "/api/public/plans", false), ok, false), ("no-store", false));
        assert_eq!(
            cache_control(req(true, "/workshops", false), StatusCode::NOT_FOUND, true),
            ("no-store", false)
        );
        assert_eq!(
            cache_control(req(true, "/api/live/offers", true), ok, false),
            ("private, no-store", false)
        );
        assert_eq!(
            cache_control(req(true, "/api/session/x/photos/y", false), ok, false),
            ("no-store", false)
        );
        // Files copied from public/: an hour.
        assert_eq!(
            cache_control(req(true, "/favicon.ico", false), ok, false),
            ("public, max-age=3600", false)
        );
        assert_eq!(cache_control(req(true, "/call.js", true), ok, false), ("public, max-age=3600", false));
    }

    #[test]
    fn csp_carries_the_nonce_and_forbids_framing() {
        let csp = content_security_policy(Some("abc"));
        assert!(csp.contains("'nonce-abc'"));
        assert!(csp.contains("frame-ancestors 'none'"));
        assert!(!content_security_policy(None).contains("nonce"));
    }
}
