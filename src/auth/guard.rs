//! Who is calling, and may they? Every server function and route asks here.
//!
//! `load_user` (middleware) resolves the session cookie to a user once per
//! request and stores the result in the request's extensions; the `require_*`
//! helpers read it from there. Server functions outside `/api/public/` are
//! refused to anonymous callers before their arguments are even read.

use super::login::{self, KEY_AUTHENTICATED_AT, KEY_AUTH_VERSION, KEY_USER_ID};
use super::{queries, CurrentUser, Role};
use crate::error::AppError;
use crate::state::AppState;
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
    /// The log-in session this request came with (its tower-sessions id).
    pub login_id: Option<String>,
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
    let user_id: Option<Uuid> = session.get(KEY_USER_ID).await.map_err(login::session_error)?;
    let Some(user_id) = user_id else { return Ok(None) };
    let version: Option<i32> = session.get(KEY_AUTH_VERSION).await.map_err(login::session_error)?;
    let authenticated_at: Option<i64> =
        session.get(KEY_AUTHENTICATED_AT).await.map_err(login::session_error)?;

    let age = chrono::Utc::now().timestamp() - authenticated_at.unwrap_or(0);
    if age > state.config.session_absolute_timeout.as_secs() as i64 {
        // Past the absolute lifetime: the person must log in again, however active.
        login::log_out(&state.pool, session).await?;
        return Ok(None);
    }
    match queries::user_by_id(&state.pool, crate::ids::UserId(user_id)).await? {
        Some(user) if Some(user.auth_version) == version => Ok(Some(AuthUser {
            id: user.id,
            email: user.email,
            name: user.name,
            role: user.role,
            login_id: session.id().map(|id| id.to_string()),
        })),
        // The password changed since this session logged in, or the account is gone.
        _ => {
            login::log_out(&state.pool, session).await?;
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

/// The answer of [`login_probe`]: whether the log-in still holds.
pub type LoginCheck = std::pin::Pin<Box<dyn std::future::Future<Output = bool> + Send>>;

/// A live stream's check that its log-in still holds: the log-in session still
/// exists and has not expired (log-out, a password change elsewhere, the idle or
/// absolute timeout end it), and the account is not disabled.
pub fn login_probe(state: &AppState, user: &AuthUser) -> impl Fn() -> LoginCheck + Send + Sync + 'static {
    let (pool, user_id, login_id) = (state.pool.clone(), user.id, user.login_id.clone());
    move || {
        let (pool, login_id) = (pool.clone(), login_id.clone());
        Box::pin(async move {
            let Some(login_id) = login_id else { return false };
            // A database error is not a log-out: the stream goes on and asks again.
            queries::login_alive(&pool, crate::ids::UserId(user_id), &login_id).await.unwrap_or(true)
        })
    }
}

/// The owner of a new live stream: a slot under the per-user cap (429 past it)
/// and the check of their log-in.
pub fn stream_owner(
    state: &AppState,
    user: &AuthUser,
    kind: crate::realtime::registry::StreamKind,
) -> Result<crate::realtime::server::StreamOwner<impl Fn() -> LoginCheck + Send + Sync + 'static>, AppError> {
    let slot =
        state.realtime.open_stream(crate::ids::UserId(user.id)).ok_or_else(|| AppError::TooManyRequests {
            message: format!(
                "You have {} live pages open already. Close some tabs, then reload this one.",
                crate::realtime::server::MAX_STREAMS_PER_USER
            ),
            retry_after_secs: 30,
        })?;
    let login = crate::realtime::registry::StreamLogin {
        pool: state.pool.clone(),
        user: crate::ids::UserId(user.id),
        login: user.login_id.clone(),
        kind,
    };
    Ok(crate::realtime::server::StreamOwner { user: user.id, slot, alive: login_probe(state, user), login })
}

/// The client's address from an `X-Forwarded-For` value: the right-most entry,
/// the one our own proxy appended. Entries to its left come from the client and
/// can say anything.
pub fn forwarded_client(forwarded: &str) -> Option<&str> {
    forwarded.rsplit(',').map(str::trim).find(|s| !s.is_empty())
}

/// The client's address, for per-address limits. Behind a trusted proxy
/// (`TRUST_PROXY`), the address the proxy saw (see [`forwarded_client`]).
pub fn client_address(trust_proxy: bool) -> String {
    let Some(parts) = use_context::<axum::http::request::Parts>() else { return "unknown".into() };
    if trust_proxy {
        if let Some(client) =
            parts.headers.get("x-forwarded-for").and_then(|v| v.to_str().ok()).and_then(forwarded_client)
        {
            return client.to_string();
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
    // leptos_axum::redirect panics on a value that cannot be a header: never pass one.
    if is_plain_form_post() && axum::http::HeaderValue::from_str(path).is_ok() {
        leptos_axum::redirect(path);
    }
}

#[cfg(test)]
mod tests {
    use super::forwarded_client;

    #[test]
    fn only_the_proxys_own_forwarded_entry_is_trusted() {
        // The client sent "1.2.3.4" itself; our proxy appended what it saw.
        assert_eq!(forwarded_client("1.2.3.4, 203.0.113.9"), Some("203.0.113.9"));
        assert_eq!(forwarded_client("203.0.113.9"), Some("203.0.113.9"));
        assert_eq!(forwarded_client("1.2.3.4, 203.0.113.9 , "), Some("203.0.113.9"));
        assert_eq!(forwarded_client(" , "), None);
    }
}
