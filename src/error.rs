//! The one error type of the application.
//!
//! Server functions return `Result<T, AppError>`; the same type is turned into an
//! HTTP response by plain axum routes (see `into_response` below) and by the
//! middleware that gives server-function errors their proper status code
//! (`server::middleware::server_fn_status`). Every variant carries a message a
//! person can read; internal details are logged on the server, never sent.

use serde::{Deserialize, Serialize};
use std::fmt;

/// A message attached to one form field, shown next to that field.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
pub enum AppError {
    /// The request is malformed or a value is out of range.
    #[error("{0}")]
    BadRequest(String),
    /// One or more form fields are invalid.
    #[error("Please correct the highlighted fields.")]
    Invalid(Vec<FieldError>),
    #[error("Please log in to continue.")]
    Unauthenticated,
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    #[error("{message}")]
    TooManyRequests { message: String, retry_after_secs: u64 },
    #[error("{0}")]
    PayloadTooLarge(String),
    /// A dependency (the database, the payment gateway) is not reachable right now.
    #[error("The service is temporarily unavailable. Please try again in a moment.")]
    Unavailable,
    #[error("Something went wrong on our side. Please try again.")]
    Internal,
    /// Client side only: the server could not be reached or answered nonsense.
    #[error("Could not reach the server: {0}")]
    Transport(String),
}

impl AppError {
    pub fn bad_request(msg: impl Into<String>) -> Self {
        Self::BadRequest(msg.into())
    }
    pub fn forbidden(msg: impl Into<String>) -> Self {
        Self::Forbidden(msg.into())
    }
    pub fn not_found(msg: impl Into<String>) -> Self {
        Self::NotFound(msg.into())
    }
    pub fn conflict(msg: impl Into<String>) -> Self {
        Self::Conflict(msg.into())
    }
    pub fn field(field: &str, message: impl Into<String>) -> Self {
        Self::Invalid(vec![FieldError { field: field.into(), message: message.into() }])
    }

    /// The HTTP status this error maps to.
    pub fn status_code(&self) -> u16 {
        match self {
            AppError::BadRequest(_) | AppError::Invalid(_) => 400,
            AppError::Unauthenticated => 401,
            AppError::Forbidden(_) => 403,
            AppError::NotFound(_) => 404,
            AppError::Conflict(_) => 409,
            AppError::PayloadTooLarge(_) => 413,
            AppError::TooManyRequests { .. } => 429,
            AppError::Unavailable | AppError::Transport(_) => 503,
            AppError::Internal => 500,
        }
    }

    /// The message for one field, if this is a validation error that names it.
    pub fn field_message(&self, field: &str) -> Option<String> {
        match self {
            AppError::Invalid(fields) => fields.iter().find(|f| f.field == field).map(|f| f.message.clone()),
            _ => None,
        }
    }
}

/// Collects field errors while validating a form, then turns them into one error.
#[derive(Debug, Default)]
pub struct FieldErrors(Vec<FieldError>);

impl FieldErrors {
    pub fn new() -> Self {
        Self::default()
    }
    pub fn add(&mut self, field: &str, message: impl Into<String>) {
        self.0.push(FieldError { field: field.into(), message: message.into() });
    }
    pub fn check(&mut self, ok: bool, field: &str, message: impl Into<String>) {
        if !ok {
            self.add(field, message);
        }
    }
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
    pub fn into_result(self) -> Result<(), AppError> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(AppError::Invalid(self.0))
        }
    }
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.message)
    }
}

/// At most `max` characters of `s`, with an ellipsis when cut.
fn clip(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        Some((cut, _)) => format!("{}…", &s[..cut]),
        None => s.to_string(),
    }
}

impl leptos::server_fn::error::FromServerFnError for AppError {
    type Encoder = leptos::server_fn::codec::JsonEncoding;

    fn from_server_fn_error(value: leptos::server_fn::error::ServerFnErrorErr) -> Self {
        use leptos::server_fn::error::ServerFnErrorErr as E;
        match value {
            // The request's arguments did not decode: the caller sent something we cannot read.
            // The decoder's message quotes the value, which may be huge: keep its start.
            E::Args(msg) => {
                AppError::BadRequest(format!("The request could not be read: {}", clip(&msg, 200)))
            }
            E::MissingArg(name) => AppError::BadRequest(format!("A required value is missing: {name}")),
            // On the server these mean the request body could not be read or decoded;
            // in the browser, that the server could not be reached or answered nonsense.
            E::Request(msg) | E::Deserialization(msg) | E::Serialization(msg) => {
                if cfg!(feature = "ssr") {
                    if msg.contains("length limit") {
                        AppError::PayloadTooLarge("The request is too large.".into())
                    } else {
                        AppError::BadRequest("The request body could not be read.".into())
                    }
                } else {
                    AppError::Transport(msg)
                }
            }
            E::Registration(_)
            | E::UnsupportedRequestMethod(_)
            | E::ServerError(_)
            | E::MiddlewareError(_)
            | E::Response(_) => AppError::Internal,
        }
    }
}

pub type AppResult<T> = Result<T, AppError>;

#[cfg(feature = "ssr")]
mod server_side {
    use super::AppError;
    use axum::http::{header, HeaderValue, StatusCode};
    use axum::response::{IntoResponse, Response};

    impl From<sqlx::Error> for AppError {
        fn from(err: sqlx::Error) -> Self {
            match &err {
                sqlx::Error::PoolTimedOut
                | sqlx::Error::PoolClosed
                | sqlx::Error::Io(_)
                | sqlx::Error::Tls(_) => {
                    tracing::warn!(error = %err, "database unavailable");
                    AppError::Unavailable
                }
                sqlx::Error::RowNotFound => AppError::NotFound("Not found.".into()),
                // Constraints are the last line of defence; the checks before them
                // give the specific messages. These keep a race or a missed check a 4xx.
                sqlx::Error::Database(db) if db.is_unique_violation() => {
                    tracing::info!(constraint = ?db.constraint(), "unique violation");
                    AppError::Conflict("That already exists, or was just changed by someone else.".into())
                }
                sqlx::Error::Database(db) if db.is_check_violation() => {
                    tracing::info!(constraint = ?db.constraint(), "check violation");
                    AppError::BadRequest("A value is outside what is allowed.".into())
                }
                // A deadlock or serialization failure: nothing was changed, and the
                // same request again will go through.
                sqlx::Error::Database(db) if matches!(db.code().as_deref(), Some("40P01" | "40001")) => {
                    tracing::warn!(code = ?db.code(), error = %err, "transaction aborted by a lock conflict");
                    AppError::Unavailable
                }
                // Class 22 (data exception): a value PostgreSQL cannot take, such as a
                // NUL character in text or a timestamp past the year 294276.
                sqlx::Error::Database(db) if db.code().is_some_and(|c| c.starts_with("22")) => {
                    tracing::info!(code = ?db.code(), "data exception");
                    AppError::BadRequest(
                        "A value could not be accepted: it is out of range or contains characters that are not allowed."
                            .into(),
                    )
                }
                sqlx::Error::Database(db) if db.is_foreign_key_violation() => {
                    tracing::info!(constraint = ?db.constraint(), "foreign key violation");
                    AppError::BadRequest("That refers to something that does not exist.".into())
                }
                _ => {
                    tracing::error!(error = %err, "database error");
                    AppError::Internal
                }
            }
        }
    }

    impl AppError {
        /// Logs an unexpected failure and hides its details from the caller.
        pub fn internal(context: &str, err: impl std::fmt::Display) -> Self {
            tracing::error!(error = %err, "{context}");
            AppError::Internal
        }
    }

    impl AppError {
        /// The error as a small HTML page, for a browser navigating to a page when
        /// the app cannot render it at all (the session store is unreachable).
        pub fn into_page_response(self) -> Response {
            let status =
                StatusCode::from_u16(self.status_code()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            let message: String = self
                .to_string()
                .chars()
                .map(|c| match c {
                    '<' => "&lt;".to_string(),
                    '>' => "&gt;".to_string(),
                    '&' => "&amp;".to_string(),
                    '"' => "&quot;".to_string(),
                    '\'' => "&#39;".to_string(),
                    c => c.to_string(),
                })
                .collect();
            let title = status.canonical_reason().unwrap_or("Error");
            let html = format!(
                "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{title} · autodoctor</title>\
                 <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"></head>\
                 <body><main><h1>{title}</h1><p role=\"alert\">{message}</p><p><a href=\"/\">autodoctor home</a></p></main></body></html>"
            );
            (status, axum::response::Html(html)).into_response()
        }
    }

    impl IntoResponse for AppError {
        fn into_response(self) -> Response {
            let status =
                StatusCode::from_u16(self.status_code()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            let fields = match &self {
                AppError::Invalid(fields) => Some(fields.clone()),
                _ => None,
            };
            let body = serde_json::json!({
                "ok": false,
                "error": self.to_string(),
                "fields": fields,
            });
            let mut res = (status, axum::Json(body)).into_response();
            if let AppError::TooManyRequests { retry_after_secs, .. } = &self {
                if let Ok(v) = HeaderValue::from_str(&retry_after_secs.to_string()) {
                    res.headers_mut().insert(header::RETRY_AFTER, v);
                }
            }
            res
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_are_client_errors_for_user_mistakes() {
        assert_eq!(AppError::bad_request("x").status_code(), 400);
        assert_eq!(AppError::field("email", "bad").status_code(), 400);
        assert_eq!(AppError::Unauthenticated.status_code(), 401);
        assert_eq!(
            AppError::TooManyRequests { message: "slow down".into(), retry_after_secs: 3 }.status_code(),
            429
        );
        assert_eq!(AppError::Internal.status_code(), 500);
    }

    #[test]
    fn field_errors_collect_and_report() {
        let mut errs = FieldErrors::new();
        errs.check(true, "name", "never");
        errs.check(false, "email", "Enter an email address.");
        let err = errs.into_result().unwrap_err();
        assert_eq!(err.field_message("email").as_deref(), Some("Enter an email address."));
        assert_eq!(err.field_message("name"), None);
    }

    #[test]
    fn json_round_trip_keeps_the_variant() {
        use leptos::server_fn::{codec::JsonEncoding, Decodes, Encodes};
        let err = AppError::field("password", "Too short.");
        let bytes = <JsonEncoding as Encodes<AppError>>::encode(&err).unwrap();
        let back: AppError = <JsonEncoding as Decodes<AppError>>::decode(bytes).unwrap();
        assert_eq!(back, err);
    }
}
