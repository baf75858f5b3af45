//! The bare baseline of `scripts/bench`: one axum route and one sqlx pool answering
//! `GET /api/workshops/directory?limit=&offset=&q=` with the app's own directory
//! loader (`autodoctor::directory::api::load`: the same queries in the same order)
//! and the same JSON, but with no middleware,
//! no sessions and no Leptos. The app's directory throughput is reported as a
//! share of this one's, measured in the same run.
//!
//! Environment: `DATABASE_URL` (required), `HOST` (127.0.0.1), `PORT` (3191),
//! `DATABASE_MAX_CONNECTIONS` (10, the app's default).

use autodoctor::directory::api::load;
use autodoctor::directory::parse_params;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use sqlx::postgres::PgPoolOptions;
use sqlx::PgPool;
use std::collections::HashMap;

async fn directory(State(pool): State<PgPool>, Query(q): Query<HashMap<String, String>>) -> Response {
    let params = match parse_params(
        q.get("limit").map(String::as_str),
        q.get("offset").map(String::as_str),
        q.get("q").map(String::as_str),
        q.get("online").map(String::as_str),
        q.get("sort").map(String::as_str),
    ) {
        Ok(p) => p,
        Err(message) => {
            return (StatusCode::BAD_REQUEST, Json(serde_json::json!({ "ok": false, "error": message })))
                .into_response()
        }
    };
    match load(&pool, &params).await {
        Ok(page) => Json(autodoctor::directory::api::page_json(&page)).into_response(),
        Err(e) => {
            eprintln!("bench_baseline: query failed: {e}");
            (StatusCode::SERVICE_UNAVAILABLE, Json(serde_json::json!({ "ok": false }))).into_response()
        }
    }
}

async fn healthz() -> &'static str {
    "ok"
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let url = std::env::var("DATABASE_URL").map_err(|_| "DATABASE_URL is not set")?;
    let host = std::env::var("HOST").unwrap_or_else(|_| "127.0.0.1".into());
    let port: u16 = std::env::var("PORT").ok().and_then(|p| p.parse().ok()).unwrap_or(3191);
    let connections: u32 =
        std::env::var("DATABASE_MAX_CONNECTIONS").ok().and_then(|p| p.parse().ok()).unwrap_or(10);
    let pool = PgPoolOptions::new().max_connections(connections).connect(&url).await?;
    let app = Router::new()
        .route("/api/workshops/directory", get(directory))
        .route("/healthz", get(healthz))
        .with_state(pool);
    let listener = tokio::net::TcpListener::bind((host.as_str(), port)).await?;
    axum::serve(listener, app).await?;
    Ok(())
}
