//! Who is calling, and may they? Every server function and route asks here.
//!
//! `load_user` (middleware) resolves the session cookie to a user once per
//! request and stores the result in the request's extensions; the `require_*`
//! helpers read it from there. Server functions outside `/api/public/` are
//! refused to anonymous callers before their arguments are even read.

use super::session::{self, KEY_AUTHENTICATED_AT, KEY_AUTH_VERSION, KEY_USER_ID};
use super::{queries, CurrentUser, Role};
use crate::error::AppError;
use crate::server::AppState;
use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use leptos::prelude::use_context;
use std::collections::HashSet;
use std::sync::OnceLock;
use tower_sessions::Session;
use uuid::Uuid;

/// The authenticated user of a request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuthUser {
    pub id: Uuid,
    pub email: String,
    pub name: String,
    pub role: Role,
}

impl AuthUser {
    pub fn to_current(&self) -> CurrentUser {
        CurrentUser { id: self.id, email: self.email.clone(), name: self.name.clone(), role: self.role }
    }
}

/// Request extension: the user behind the session cookie, if any.
#[derive(Clone, Debug, Default)]
pub struct RequestUser(pub Option<AuthUser>);

/// Server functions under this prefix may be called without logging in, on purpose.
pub const PUBLIC_PREFIX: &str = "/api/public/";

pub fn server_fn_paths() -> &'static HashSet<String> {
    static PATHS: OnceLock<HashSet<String>> = OnceLock::new();
    PATHS.get_or_init(|| {
        leptos::server_fn::axum::server_fn_paths().map(|(path, _)| path.to_string()).collect()
    })
}

/// An error in the encoding server-function clients expect (JSON of `AppError`).
pub fn server_fn_error_response(err: AppError) -> Response {
    let status = StatusCode::from_u16(err.status_code()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let body = serde_json::to_vec(&err).unwrap_or_default();
    let mut res = (status, body).into_response();
    res.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    res.headers_mut().insert("serverfnerror", HeaderValue::from_static("1"));
    res
}

async fn resolve(state: &AppState, session: &Session) -> Result<Option<AuthUser>, AppError> {
    let user_id: Option<Uuid> = session.get(KEY_USER_ID).await.map_err(session::session_error)?;
    let Some(user_id) = user_id else { return Ok(None) };
    let version: Option<i32> = session.get(KEY_AUTH_VERSION).await.map_err(session::session_error)?;
    let authenticated_at: Option<i64> =
        session.get(KEY_AUTHENTICATED_AT).await.map_err(session::session_error)?;

    let age = chrono::Utc::now().timestamp() - authenticated_at.unwrap_or(0);
    if age > state.config.session_absolute_timeout.as_secs() as i64 {
        // Past the absolute lifetime: the person must log in again, however active.
        session::log_out(&state.pool, session).await?;
        return Ok(None);
    }
    match queries::user_by_id(&state.pool, user_id).await? {
        Some(user) if Some(user.auth_version) == version => {
            Ok(Some(AuthUser { id: user.id, email: user.email, name: user.name, role: user.role }))
        }
        // The password changed since this session logged in, or the account is gone.
        _ => {
            session::log_out(&state.pool, session).await?;
            Ok(None)
        }
    }
}

fn accepts_html(req: &Request) -> bool {
    req.headers()
        .get(axum::http::header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("text/html"))
}

/// Middleware: resolves the session to a user and guards non-public server functions.
pub async fn load_user(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    // GET on a server function's path is answered by the router (405): none accepts it.
    let is_server_fn =
        req.method() == axum::http::Method::POST && server_fn_paths().contains(req.uri().path());
    let user = match req.extensions().get::<Session>().cloned() {
        Some(session) => match resolve(&state, &session).await {
            Ok(user) => user,
            Err(err) if is_server_fn => return server_fn_error_response(err),
            Err(err) if accepts_html(&req) => return err.into_page_response(),
            Err(err) => return err.into_response(),
        },
        None => None,
    };
    if is_server_fn && user.is_none() && !req.uri().path().starts_with(PUBLIC_PREFIX) {
        return server_fn_error_response(AppError::Unauthenticated);
    }
    req.extensions_mut().insert(RequestUser(user));
    next.run(req).await
}

/// The user of the current request (inside a server function or a server render).
pub fn current_user() -> Option<AuthUser> {
    use_context::<axum::http::request::Parts>()
        .and_then(|parts| parts.extensions.get::<RequestUser>().cloned())
        .and_then(|u| u.0)
}

pub fn require_user() -> Result<AuthUser, AppError> {
    current_user().ok_or(AppError::Unauthenticated)
}

pub fn require_role(role: Role) -> Result<AuthUser, AppError> {
    require_any_role(&[role])
}

pub fn require_any_role(roles: &[Role]) -> Result<AuthUser, AppError> {
    let user = require_user()?;
    if roles.contains(&user.role) {
        Ok(user)
    } else {
        Err(AppError::forbidden("Your account cannot do this."))
    }
}

pub fn require_admin() -> Result<AuthUser, AppError> {
    require_role(Role::Admin)
}

/// The session of the current request, for logging in and out.
pub fn request_session() -> Result<Session, AppError> {
    use_context::<axum::http::request::Parts>()
        .and_then(|parts| parts.extensions.get::<Session>().cloned())
        .ok_or_else(|| AppError::internal("session", "session layer missing"))
}

/// The client's address, for per-address limits. Behind a trusted proxy the
/// first `X-Forwarded-For` entry is used instead.
pub fn client_address(trust_proxy: bool) -> String {
    let Some(parts) = use_context::<axum::http::request::Parts>() else { return "unknown".into() };
    if trust_proxy {
        if let Some(forwarded) = parts.headers.get("x-forwarded-for").and_then(|v| v.to_str().ok()) {
            if let Some(first) = forwarded.split(',').next().map(str::trim).filter(|s| !s.is_empty()) {
                return first.to_string();
            }
        }
    }
    parts
        .extensions
        .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
        .map(|c| c.0.ip().to_string())
        .unwrap_or_else(|| "unknown".into())
}

/// Whether the current server-function call is a plain HTML form post (no
/// JavaScript): then it should answer with a redirect, not data.
pub fn is_plain_form_post() -> bool {
    use_context::<axum::http::request::Parts>()
        .and_then(|parts| {
            parts.headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()).map(|a| a.contains("text/html"))
        })
        .unwrap_or(false)
}

/// Redirects plain form posts to `path`; JavaScript callers navigate themselves.
pub fn redirect_form_post(path: &str) {
    if is_plain_form_post() {
        leptos_axum::redirect(path);
    }
}
