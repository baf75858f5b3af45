//! The one-click unsubscribe link of every notification, without logging in.
//!
//! `GET /unsubscribe/{token}` shows a button (a link opened by a mail scanner
//! changes nothing); `POST /unsubscribe/{token}` (the button, or the mail
//! client's RFC 8058 one-click POST) switches the person's optional mail off.
//! The token is 256 random bits, only its SHA-256 is stored, and it works once:
//! a used link is a 410, an unknown or malformed one a 404, and neither changes
//! anything.

use crate::state::AppState;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};

fn escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

fn page(status: StatusCode, title: &str, body: &str) -> Response {
    let html = format!(
        r#"<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title} · autodoctor</title></head>
<body><main class="page"><section class="card narrow" id="unsubscribe"><h1>{title}</h1>{body}</section></main></body></html>"#,
        title = escape(title)
    );
    let mut res = (status, Html(html)).into_response();
    res.headers_mut().insert(axum::http::header::CACHE_CONTROL, "no-store".parse().unwrap());
    res
}

fn invalid() -> Response {
    page(
        StatusCode::NOT_FOUND,
        "Link not valid",
        "<p id=\"unsubscribe-result\">This unsubscribe link is not valid. You can choose which emails you get on your account page.</p>",
    )
}

fn used() -> Response {
    page(
        StatusCode::GONE,
        "Link already used",
        "<p id=\"unsubscribe-result\">This unsubscribe link has been used already. You can choose which emails you get on your account page.</p>",
    )
}

enum TokenState {
    Unknown,
    Used,
    Live,
}

async fn state_of(state: &AppState, token: &str) -> Result<TokenState, sqlx::Error> {
    if !crate::token::well_formed(token) {
        return Ok(TokenState::Unknown);
    }
    let used = sqlx::query_scalar!(
        "SELECT used_at IS NOT NULL AS \"used!\" FROM mail_unsubscribe_tokens WHERE token_hash = $1",
        crate::token::hash(token)
    )
    .fetch_optional(&state.pool)
    .await?;
    Ok(match used {
        None => TokenState::Unknown,
        Some(true) => TokenState::Used,
        Some(false) => TokenState::Live,
    })
}

fn unavailable(e: sqlx::Error) -> Response {
    crate::error::AppError::from(e).into_page_response()
}

pub async fn show(State(state): State<AppState>, Path(token): Path<String>) -> Response {
    match state_of(&state, &token).await {
        Ok(TokenState::Unknown) => invalid(),
        Ok(TokenState::Used) => used(),
        Ok(TokenState::Live) => page(
            StatusCode::OK,
            "Stop optional emails",
            &format!(
                "<p>Receipts and notices about your account keep coming; request updates and other optional emails stop.</p>\
                 <form method=\"post\" action=\"/unsubscribe/{}\"><button type=\"submit\" class=\"primary\" id=\"unsubscribe-confirm\">Stop optional emails</button></form>",
                escape(&token)
            ),
        ),
        Err(e) => unavailable(e),
    }
}

pub async fn confirm(State(state): State<AppState>, Path(token): Path<String>) -> Response {
    if !crate::token::well_formed(&token) {
        return invalid();
    }
    let done = async {
        let mut tx = state.pool.begin().await?;
        let user = sqlx::query_scalar!(
            "UPDATE mail_unsubscribe_tokens SET used_at = now() WHERE token_hash = $1 AND used_at IS NULL
             RETURNING user_id",
            crate::token::hash(&token)
        )
        .fetch_optional(&mut *tx)
        .await?;
        if let Some(user) = user {
            sqlx::query!("UPDATE users SET optional_mail = false, updated_at = now() WHERE id = $1", user)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok::<_, sqlx::Error>(user)
    }
    .await;
    match done {
        Ok(Some(user)) => {
            tracing::info!(%user, "optional email switched off by unsubscribe link");
            page(
                StatusCode::OK,
                "Optional emails stopped",
                "<p id=\"unsubscribe-result\">Done: you will get no more optional emails. Receipts and notices about your account keep coming. \
                 You can switch optional emails back on from your account page.</p>",
            )
        }
        Ok(None) => match state_of(&state, &token).await {
            Ok(TokenState::Used) => used(),
            Ok(_) => invalid(),
            Err(e) => unavailable(e),
        },
        Err(e) => unavailable(e),
    }
}
