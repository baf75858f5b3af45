//! Photos in the session room's chat: either participant attaches a photo (the
//! JPEG, PNG, WebP or HEIC files phones and browsers make, up to 10 MB); the
//! server decodes it, re-encodes it without any metadata, makes a thumbnail,
//! keeps both (in the database, or in S3-compatible storage) and posts a chat
//! message with it. Only the two participants and the admin can fetch it.

pub mod view;

#[cfg(feature = "ssr")]
pub mod fetch;
#[cfg(feature = "ssr")]
pub mod heic;
#[cfg(feature = "ssr")]
pub mod image;
#[cfg(feature = "ssr")]
pub mod queries;
#[cfg(feature = "ssr")]
pub mod s3;
#[cfg(feature = "ssr")]
pub mod store;
#[cfg(feature = "ssr")]
pub mod upload;

#[cfg(all(test, feature = "ssr"))]
pub(crate) mod fixtures_tests;

use uuid::Uuid;

/// The largest photo accepted, in bytes (10 MB).
pub const MAX_PHOTO_BYTES: usize = 10 * 1024 * 1024;
/// The largest upload request: the photo, a caption and the form's framing.
pub const MAX_UPLOAD_BODY_BYTES: usize = MAX_PHOTO_BYTES + 64 * 1024;
/// The longest edge of the stored photo and of its thumbnail, in pixels.
pub const FULL_EDGE: u32 = 2048;
pub const THUMB_EDGE: u32 = 320;

/// What the file input offers (the server sniffs the bytes regardless).
pub const ACCEPTED_TYPES: &str = "image/jpeg,image/png,image/webp,image/heic,image/heif";

pub const NOT_A_PHOTO: &str = "That file is not a photo we can read (JPEG, PNG, WebP or HEIC).";
pub const TOO_LARGE: &str = "Photos can be at most 10 MB.";

/// Where a session's photos are uploaded (a `multipart/form-data` POST).
pub fn upload_path(session_id: Uuid) -> String {
    format!("/api/session/{session_id}/photos")
}

/// The full image of a photo.
pub fn photo_path(session_id: Uuid, photo_id: Uuid) -> String {
    format!("/api/session/{session_id}/photos/{photo_id}")
}

/// The thumbnail of a photo.
pub fn thumb_path(session_id: Uuid, photo_id: Uuid) -> String {
    format!("/api/session/{session_id}/photos/{photo_id}/thumb")
}

/// Whether a request is a photo upload (`POST /api/session/{id}/photos`): the
/// one route whose body may be larger than the app's usual limit.
pub fn is_upload(method: &str, path: &str) -> bool {
    method == "POST"
        && path
            .strip_prefix("/api/session/")
            .and_then(|rest| rest.strip_suffix("/photos"))
            .is_some_and(|id| !id.is_empty() && !id.contains('/'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_upload_route_is_an_upload() {
        let id = Uuid::nil();
        assert!(is_upload("POST", &upload_path(id)));
        assert!(!is_upload("GET", &upload_path(id)));
        assert!(!is_upload("POST", &photo_path(id, id)));
        assert!(!is_upload("POST", "/api/session//photos"));
        assert!(!is_upload("POST", "/api/session/a/b/photos"));
        assert!(!is_upload("POST", "/api/session/chat"));
    }
}
