//! `POST /api/session/{session_id}/photos`: a participant attaches a photo to
//! the chat, as `multipart/form-data` with the file in `photo` and an optional
//! `caption`. A plain form post (no JavaScript, `Accept: text/html`) is sent
//! back to the room (303), or shown a short page with the reason; a script
//! gets JSON with the message's and the photo's ids.
//!
//! Who may post is checked before the upload is read; every refusal is a 4xx
//! with a sentence, and stores nothing.

use super::image::{self as photo_image, Refusal};
use super::queries::{self, NewPhoto};
use super::{MAX_PHOTO_BYTES, NOT_A_PHOTO, TOO_LARGE};
use crate::auth::guard::RequestUser;
use crate::error::AppError;
use crate::ids::{SessionId, UserId};
use crate::state::AppState;
use axum::extract::multipart::{Field, MultipartError};
use axum::extract::{FromRequest, Multipart, Path, Request, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::{Extension, Json};
use tokio::sync::Semaphore;
use uuid::Uuid;

/// Decodes at once, at most: each may hold a couple of hundred megabytes of pixels.
static DECODES: Semaphore = Semaphore::const_new(2);

/// An answer other than success: its status and its sentence. Shared with the
/// workshop logo upload (`workshops::logo`), which checks images the same way.
#[derive(Debug)]
pub(crate) struct Refused {
    pub(crate) status: StatusCode,
    pub(crate) error: AppError,
}

impl From<AppError> for Refused {
    fn from(error: AppError) -> Self {
        let status = StatusCode::from_u16(error.status_code()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        Refused { status, error }
    }
}

pub(crate) fn unsupported(message: &str) -> Refused {
    Refused { status: StatusCode::UNSUPPORTED_MEDIA_TYPE, error: AppError::bad_request(message) }
}

pub(crate) fn too_large() -> Refused {
    AppError::PayloadTooLarge(TOO_LARGE.into()).into()
}

pub(crate) fn read_error(err: MultipartError) -> Refused {
    if err.status() == StatusCode::PAYLOAD_TOO_LARGE {
        too_large()
    } else {
        AppError::bad_request("The upload could not be read. Please try sending the photo again.").into()
    }
}

pub(crate) fn wants_html(headers: &HeaderMap) -> bool {
    headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()).is_some_and(|a| a.contains("text/html"))
}

pub(crate) fn escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

impl Refused {
    fn respond(self, html: bool, session_id: Uuid) -> Response {
        if !html {
            let mut res = self.error.into_response();
            *res.status_mut() = self.status;
            return res;
        }
        // A browser without JavaScript: a page with the reason and the way back.
        let message = escape(&self.error.to_string());
        let page = format!(
            "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Photo not sent · autodoctor</title>\
             <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"></head>\
             <body><main><h1>The photo was not sent</h1><p role=\"alert\" id=\"photo-error\">{message}</p>\
             <p><a href=\"/session/{session_id}\">Back to the session</a></p></main></body></html>"
        );
        (self.status, Html(page)).into_response()
    }
}

/// What the form sent.
#[derive(Default)]
struct Form {
    photo: Option<(Option<String>, Vec<u8>)>,
    caption: String,
}

pub(crate) async fn read_photo(mut field: Field<'_>) -> Result<Vec<u8>, Refused> {
    let mut bytes = Vec::new();
    while let Some(chunk) = field.chunk().await.map_err(read_error)? {
        if bytes.len() + chunk.len() > MAX_PHOTO_BYTES {
            return Err(too_large());
        }
        bytes.extend_from_slice(&chunk);
    }
    Ok(bytes)
}

async fn read_form(state: &AppState, req: Request) -> Result<Form, Refused> {
    let content_type = req.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    if !content_type.to_ascii_lowercase().starts_with("multipart/form-data") {
        return Err(unsupported(
            "Send the photo as a file upload (multipart/form-data, in the field \"photo\").",
        ));
    }
    let mut multipart = Multipart::from_request(req, state)
        .await
        .map_err(|_| Refused::from(AppError::bad_request("The upload could not be read.")))?;
    let mut form = Form::default();
    while let Some(field) = multipart.next_field().await.map_err(read_error)? {
        match field.name() {
            Some("photo") => {
                if form.photo.is_some() {
                    return Err(AppError::field("photo", "Send one photo at a time.").into());
                }
                let declared = field.content_type().map(str::to_string);
                form.photo = Some((declared, read_photo(field).await?));
            }
            Some("caption") => form.caption = field.text().await.map_err(read_error)?,
            // Anything else is skipped.
            _ => {}
        }
    }
    Ok(form)
}

/// Decodes and re-encodes off the async threads, a couple at a time.
pub(crate) async fn process(bytes: Vec<u8>) -> Result<photo_image::Processed, Refused> {
    let _permit = DECODES.acquire().await.map_err(|e| AppError::internal("photo decode", e))?;
    let done = tokio::task::spawn_blocking(move || photo_image::process(&bytes)).await;
    match done {
        Ok(Ok(p)) => Ok(p),
        Ok(Err(Refusal::NotAPhoto)) => Err(unsupported(NOT_A_PHOTO)),
        Ok(Err(Refusal::TooManyPixels)) => Err(AppError::PayloadTooLarge(format!(
            "That photo has too many pixels: at most {} on a side.",
            photo_image::MAX_EDGE
        ))
        .into()),
        // A decoder that panics on a hostile file: the file is refused, the server goes on.
        Err(e) => {
            tracing::warn!(error = %e, "photo decoder failed");
            Err(unsupported(NOT_A_PHOTO))
        }
    }
}

/// The upload, from the logged-in user to the recorded message: (message, photo).
async fn accept(
    state: &AppState,
    user: UserId,
    session_id: SessionId,
    req: Request,
) -> Result<(i64, Uuid), Refused> {
    let session_id = session_id.uuid();
    let user = user.uuid();
    queries::check_can_post(&state.pool, SessionId(session_id), UserId(user)).await?;
    let form = read_form(state, req).await?;
    let caption = form.caption.trim();
    if let Some(problem) =
        crate::validate::text_problem(caption, 0, crate::sessions::CHAT_MAX_CHARS, "the caption")
    {
        return Err(AppError::field("caption", problem).into());
    }
    let Some((declared, bytes)) = form.photo.filter(|(_, b)| !b.is_empty()) else {
        return Err(AppError::field("photo", "Choose a photo to send.").into());
    };
    if !photo_image::declared_type_may_be_photo(declared.as_deref()) {
        return Err(unsupported("Only photos can be sent here: JPEG, PNG, WebP or HEIC."));
    }
    let processed = process(bytes).await?;
    let photo_id = Uuid::new_v4();
    let new = NewPhoto {
        id: photo_id,
        session_id,
        uploader: user,
        caption,
        width: processed.width,
        height: processed.height,
        thumb_width: processed.thumb_width,
        thumb_height: processed.thumb_height,
        byte_size: processed.full.len(),
    };
    let store = super::store::from_config(&state.config);
    let placement = store.put(session_id, photo_id, processed.full, processed.thumb).await?;
    match queries::insert_photo_message(&state.pool, &new, &placement).await {
        Ok(message_id) => Ok((message_id, photo_id)),
        Err(e) => {
            store.discard(&placement).await;
            Err(e.into())
        }
    }
}

pub async fn upload(
    State(state): State<AppState>,
    Extension(user): Extension<RequestUser>,
    Path(session_id): Path<Uuid>,
    req: Request,
) -> Response {
    let html = wants_html(req.headers());
    let Some(user) = user.0 else {
        return Refused::from(AppError::Unauthenticated).respond(html, session_id);
    };
    match accept(&state, crate::ids::UserId(user.id), crate::ids::SessionId(session_id), req).await {
        Ok(_) if html => Redirect::to(&format!("/session/{session_id}")).into_response(),
        Ok((message_id, photo_id)) => (
            StatusCode::CREATED,
            Json(serde_json::json!({
                "ok": true,
                "message_id": message_id,
                "photo_id": photo_id,
                "url": super::photo_path(session_id, photo_id),
                "thumb_url": super::thumb_path(session_id, photo_id),
            })),
        )
            .into_response(),
        Err(refused) => refused.respond(html, session_id),
    }
}
