//! The room's photo pieces: the form that attaches a photo (a real
//! `multipart/form-data` form, so it works without JavaScript; with it, the
//! live stream shows the photo to the other side), and a photo in the chat, a
//! thumbnail that links to the full image.

use super::{photo_path, thumb_path, upload_path, ACCEPTED_TYPES};
use leptos::prelude::*;
use uuid::Uuid;

/// Attaches a photo, with an optional caption, to the session's chat.
#[component]
pub fn PhotoAttachForm(session_id: Uuid) -> impl IntoView {
    view! {
        <form
            class="photo-form"
            id="photo-form"
            method="post"
            enctype="multipart/form-data"
            action=upload_path(session_id)
        >
            <div class="field">
                <label for="photo-input">"Attach a photo"</label>
                <span class="hint" id="photo-hint">
                    "JPEG, PNG, WebP or HEIC, up to 10 MB. Its location and other details are removed."
                </span>
                <input
                    type="file"
                    id="photo-input"
                    name="photo"
                    accept=ACCEPTED_TYPES
                    required=true
                    aria-describedby="photo-hint"
                />
            </div>
            <div class="field">
                <label for="photo-caption">"Caption (optional)"</label>
                <input type="text" id="photo-caption" name="caption" maxlength="2000" autocomplete="off" />
            </div>
            <button type="submit" class="secondary">"Send photo"</button>
        </form>
    }
}

/// A photo in a chat line: its thumbnail, linking to the full image (`rel=external`:
/// the browser opens it, not the app's router).
#[component]
pub fn ChatPhoto(session_id: Uuid, photo_id: Uuid, sender: String, caption: String) -> impl IntoView {
    let alt = match caption.trim() {
        "" => format!("Photo from {sender}"),
        c => format!("Photo from {sender}: {c}"),
    };
    view! {
        <a class="chat-photo" href=photo_path(session_id, photo_id) rel="external" data-photo-id=photo_id.to_string()>
            <img src=thumb_path(session_id, photo_id) alt=alt loading="lazy" decoding="async" />
        </a>
    }
}
