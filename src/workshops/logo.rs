//! The workshop's logo: the owner uploads it (`POST /workshop/logo`, a
//! `multipart/form-data` form with the file in `logo`), and anyone fetches it
//! (`GET /api/workshops/{id}/logo?v=N`) while the workshop is active.
//!
//! The upload goes through the session photos' checks and re-encoding
//! (`sessions::photos`: the format from the bytes, decoding within limits, a
//! new JPEG of the pixels only, so no EXIF or location survives), and keeps the
//! 320-pixel image in `workshop_logos`. The URL carries the logo's version, so
//! it is cached for a year and a new logo is a new URL.

use crate::auth::guard::RequestUser;
use crate::error::AppError;
use crate::sessions::photos::image as photo_image;
use crate::sessions::photos::upload::{self as photo_upload, Refused};
use crate::state::AppState;
use axum::extract::{FromRequest, Multipart, Path, Query, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::{Extension, Json};
use std::collections::HashMap;
use uuid::Uuid;

const NO_LOGO: &str = "This workshop has no logo.";

/// The owner's workshop, or why not.
async fn owned_workshop(state: &AppState, user: &RequestUser) -> Result<Uuid, AppError> {
    let Some(user) = &user.0 else { return Err(AppError::Unauthenticated) };
    if user.role != crate::auth::Role::WorkshopMember {
        return Err(AppError::forbidden("Only a workshop's owner can change its logo."));
    }
    let membership = super::queries::membership_of(&state.pool, crate::ids::UserId(user.id))
        .await?
        .ok_or_else(|| AppError::forbidden("Your account is not part of a workshop."))?;
    if membership.role != super::MemberRole::Owner {
        return Err(AppError::forbidden("Only the workshop's owner can change its logo."));
    }
    Ok(membership.organization_id)
}

/// The `logo` file of the form (other fields are skipped).
async fn read_logo(state: &AppState, req: Request) -> Result<(Option<String>, Vec<u8>), Refused> {
    let content_type = req.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    if !content_type.to_ascii_lowercase().starts_with("multipart/form-data") {
        return Err(photo_upload::unsupported(
            "Send the logo as a file upload (multipart/form-data, in the field \"logo\").",
        ));
    }
    let mut multipart = Multipart::from_request(req, state)
        .await
        .map_err(|_| Refused::from(AppError::bad_request("The upload could not be read.")))?;
    let mut logo = None;
    while let Some(field) = multipart.next_field().await.map_err(photo_upload::read_error)? {
        if field.name() == Some("logo") {
            if logo.is_some() {
                return Err(AppError::field("logo", "Send one image.").into());
            }
            let declared = field.content_type().map(str::to_string);
            logo = Some((declared, photo_upload::read_photo(field).await?));
        }
    }
    logo.filter(|(_, bytes)| !bytes.is_empty())
        .ok_or_else(|| AppError::field("logo", "Choose an image for the logo.").into())
}

/// From the logged-in owner's upload to the stored logo: its new version.
async fn accept(state: &AppState, user: &RequestUser, req: Request) -> Result<(Uuid, i64), Refused> {
    let workshop = owned_workshop(state, user).await?;
    let (declared, bytes) = read_logo(state, req).await?;
    if !photo_image::declared_type_may_be_photo(declared.as_deref()) {
        return Err(photo_upload::unsupported("A logo must be an image: JPEG, PNG, WebP or HEIC."));
    }
    let processed = photo_upload::process(bytes).await?;
    let uploader = user.0.as_ref().map(|u| u.id);
    let version = sqlx::query_scalar!(
        r#"INSERT INTO workshop_logos (workshop_id, image, width, height, uploaded_by)
           VALUES ($1, $2, $3, $4, $5)
           ON CONFLICT (workshop_id) DO UPDATE
              SET image = EXCLUDED.image, width = EXCLUDED.width, height = EXCLUDED.height,
                  uploaded_by = EXCLUDED.uploaded_by, version = workshop_logos.version + 1, updated_at = now()
           RETURNING version"#,
        workshop,
        processed.thumb,
        processed.thumb_width as i32,
        processed.thumb_height as i32,
        uploader
    )
    .fetch_one(&state.pool)
    .await
    .map_err(AppError::from)?;
    tracing::info!(%workshop, version, "workshop logo changed");
    Ok((workshop, version))
}

fn refusal_page(refused: Refused) -> Response {
    let message = photo_upload::escape(&refused.error.to_string());
    let page = format!(
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Logo not changed · autodoctor</title>\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"></head>\
         <body><main><h1>The logo was not changed</h1><p role=\"alert\" id=\"logo-error\">{message}</p>\
         <p><a href=\"/workshop\">Back to your workshop</a></p></main></body></html>"
    );
    (refused.status, Html(page)).into_response()
}

/// `POST /workshop/logo`: a plain form post goes back to the dashboard (303);
/// a script gets JSON with the new URL.
pub async fn upload(
    State(state): State<AppState>,
    Extension(user): Extension<RequestUser>,
    req: Request,
) -> Response {
    let html = photo_upload::wants_html(req.headers());
    match accept(&state, &user, req).await {
        Ok(_) if html => Redirect::to("/workshop#workshop-logo-form").into_response(),
        Ok((workshop, version)) => (
            StatusCode::CREATED,
            Json(serde_json::json!({
                "ok": true,
                "version": version,
                "url": crate::directory::logo_path(workshop, version),
            })),
        )
            .into_response(),
        Err(refused) if html => refusal_page(refused),
        Err(refused) => {
            let mut res = refused.error.into_response();
            *res.status_mut() = refused.status;
            res
        }
    }
}

/// `GET /api/workshops/{id}/logo?v=N`: an active workshop's logo, for anyone.
pub async fn logo(
    State(state): State<AppState>,
    Path(workshop): Path<Uuid>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    let found = sqlx::query!(
        r#"SELECT l.image, l.version FROM workshop_logos l JOIN organizations o ON o.id = l.workshop_id
            WHERE l.workshop_id = $1 AND o.status = 'active'"#,
        workshop
    )
    .fetch_optional(&state.pool)
    .await;
    let row = match found {
        Ok(Some(row)) => row,
        Ok(None) => return AppError::not_found(NO_LOGO).into_response(),
        Err(e) => return AppError::from(e).into_response(),
    };
    let etag = format!("\"logo-{}\"", row.version);
    // The versioned URL never changes content: a year, anywhere. Any other
    // (an old version, none): five minutes, then asked again.
    let cache = if query.get("v").is_some_and(|v| *v == row.version.to_string()) {
        "public, max-age=31536000, immutable"
    } else {
        "public, max-age=300"
    };
    let not_modified = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag));
    let mut res =
        if not_modified { StatusCode::NOT_MODIFIED.into_response() } else { row.image.into_response() };
    let h = res.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("image/jpeg"));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    if let Ok(v) = HeaderValue::from_str(&etag) {
        h.insert(header::ETAG, v);
    }
    h.insert(header::CONTENT_DISPOSITION, HeaderValue::from_static("inline"));
    res
}

/// The owner's current logo (for the dashboard's form).
pub async fn current_version(
    pool: &sqlx::PgPool,
    workshop: crate::ids::WorkshopId,
) -> Result<Option<i64>, sqlx::Error> {
    let workshop = workshop.uuid();
    sqlx::query_scalar!("SELECT version FROM workshop_logos WHERE workshop_id = $1", workshop)
        .fetch_optional(pool)
        .await
}
