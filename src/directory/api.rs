//! The directory as a server function (for the page) and as JSON
//! (`GET /api/workshops/directory`).

use super::DirectoryPage;
use crate::error::AppError;
use leptos::prelude::*;

#[cfg(feature = "ssr")]
pub async fn load(pool: &sqlx::PgPool, params: &super::DirectoryParams) -> Result<DirectoryPage, AppError> {
    let workshops = super::queries::page(pool, params).await?;
    let total = match super::queries::total_from_page(params, workshops.len()) {
        Some(total) => total,
        None => super::queries::count(pool, params).await?,
    };
    let any_available = super::queries::any_available(pool).await?;
    Ok(DirectoryPage {
        workshops,
        total,
        limit: params.limit,
        offset: params.offset,
        query: params.query.clone(),
        online: params.online,
        sort: params.sort,
        any_available,
    })
}

/// A page of the directory. Public: anyone may browse workshops.
#[server(prefix = "/api/public", endpoint = "directory")]
pub async fn get_directory_page(
    q: Option<String>,
    limit: Option<String>,
    offset: Option<String>,
    online: Option<String>,
    sort: Option<String>,
) -> Result<DirectoryPage, AppError> {
    let params = super::parse_params(
        limit.as_deref(),
        offset.as_deref(),
        q.as_deref(),
        online.as_deref(),
        sort.as_deref(),
    )
    .map_err(AppError::BadRequest)?;
    let state = crate::state::app_state()?;
    load(&state.pool, &params).await
}

/// The directory's JSON answer (also served by the benchmark's bare handler).
#[cfg(feature = "ssr")]
pub fn page_json(page: &DirectoryPage) -> serde_json::Value {
    serde_json::json!({
        "ok": true,
        "workshops": page.workshops,
        "total": page.total,
        "limit": page.limit,
        "offset": page.offset,
        "any_available": page.any_available,
    })
}

/// `GET /api/workshops/directory?limit=20&offset=0&q=&online=1&sort=rating`
#[cfg(feature = "ssr")]
pub async fn directory_json(
    axum::extract::State(state): axum::extract::State<crate::state::AppState>,
    axum::extract::Query(query): axum::extract::Query<std::collections::HashMap<String, String>>,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    let params = match super::parse_params(
        query.get("limit").map(String::as_str),
        query.get("offset").map(String::as_str),
        query.get("q").map(String::as_str),
        query.get("online").map(String::as_str),
        query.get("sort").map(String::as_str),
    ) {
        Ok(p) => p,
        Err(message) => return AppError::BadRequest(message).into_response(),
    };
    match load(&state.pool, &params).await {
        Ok(page) => axum::Json(page_json(&page)).into_response(),
        Err(e) => e.into_response(),
    }
}
