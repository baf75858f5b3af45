//! `GET /api/session/{session_id}/photos/{photo_id}` (the photo) and
//! `.../thumb` (its thumbnail): for the session's two participants and the
//! platform's admins; anyone else is told there is no such photo (404).

use super::queries;
use super::store::Size;
use crate::auth::guard::RequestUser;
use crate::auth::Role;
use crate::error::AppError;
use crate::ids::SessionId;
use crate::state::AppState;
use axum::extract::{Path, State};
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::Extension;
use uuid::Uuid;

const NO_PHOTO: &str = "There is no such photo in a session of yours.";

async fn serve(
    state: &AppState,
    user: &RequestUser,
    session_id: SessionId,
    photo_id: Uuid,
    size: Size,
) -> Response {
    let Some(user) = &user.0 else { return AppError::Unauthenticated.into_response() };
    let is_admin = user.role == Role::Admin;
    let found = queries::image_for_viewer(
        &state.pool,
        session_id,
        photo_id,
        crate::ids::UserId(user.id),
        is_admin,
        size,
    )
    .await;
    let bytes = match found {
        Err(e) => return e.into_response(),
        Ok(None) => return AppError::not_found(NO_PHOTO).into_response(),
        Ok(Some(image)) => match (image.data, image.storage_key) {
            (Some(data), _) => data,
            (None, Some(key)) => match super::store::from_config(&state.config).get(&key, size).await {
                Ok(Some(data)) => data,
                Ok(None) => return AppError::not_found(NO_PHOTO).into_response(),
                Err(e) => return e.into_response(),
            },
            (None, None) => return AppError::not_found(NO_PHOTO).into_response(),
        },
    };
    let mut res = bytes.into_response();
    let headers = res.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("image/jpeg"));
    // Private: one person's photo, never kept by a shared cache. Its URL never
    // changes content (a photo is never edited), so the browser keeps it a day.
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("private, max-age=86400"));
    headers.insert(header::CONTENT_DISPOSITION, HeaderValue::from_static("inline"));
    res
}

pub async fn photo(
    State(state): State<AppState>,
    Extension(user): Extension<RequestUser>,
    Path((session_id, photo_id)): Path<(Uuid, Uuid)>,
) -> Response {
    serve(&state, &user, crate::ids::SessionId(session_id), photo_id, Size::Full).await
}

pub async fn thumb(
    State(state): State<AppState>,
    Extension(user): Extension<RequestUser>,
    Path((session_id, photo_id)): Path<(Uuid, Uuid)>,
) -> Response {
    serve(&state, &user, crate::ids::SessionId(session_id), photo_id, Size::Thumb).await
}
