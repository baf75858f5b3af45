//! The logo form on the owner's dashboard: a plain `multipart/form-data` form
//! (no script) posting to `/workshop/logo` (see `logo.rs`).

use crate::error::AppError;
use leptos::prelude::*;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Where the owner uploads the logo.
pub const LOGO_UPLOAD_PATH: &str = "/workshop/logo";

/// Whether a request is a logo upload: a body as large as a photo's is allowed.
pub fn is_upload(method: &str, path: &str) -> bool {
    method == "POST" && path == LOGO_UPLOAD_PATH
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogoSettings {
    pub workshop_id: Uuid,
    pub logo_version: Option<i64>,
}

/// The owner's workshop and its logo, for the form.
#[server(prefix = "/api", endpoint = "workshop/logo")]
pub async fn get_logo_settings() -> Result<LogoSettings, AppError> {
    let state = crate::state::app_state()?;
    let (_, membership) = super::api::require_workshop_owner(&state).await?;
    let logo_version =
        super::logo::current_version(&state.pool, crate::ids::WorkshopId(membership.organization_id)).await?;
    Ok(LogoSettings { workshop_id: membership.organization_id, logo_version })
}

/// The form, for the owner (nothing for staff).
#[component]
pub fn LogoForm(settings: LogoSettings) -> impl IntoView {
    let current = settings.logo_version.map(|v| crate::directory::logo_path(settings.workshop_id, v));
    view! {
        <section class="card" id="workshop-logo-form" aria-labelledby="logo-heading">
            <h2 id="logo-heading">"Logo"</h2>
            {match current {
                Some(src) => view! { <img class="workshop-logo" id="current-logo" src=src alt="Your workshop's logo" width="96" height="96" /> }.into_any(),
                None => view! { <p class="muted">"No logo yet: the directory shows your workshop's name only."</p> }.into_any(),
            }}
            <form method="post" action=LOGO_UPLOAD_PATH enctype="multipart/form-data" class="stack" id="logo-form">
                <div class="field">
                    <label for="logo-file">"A new logo"</label>
                    <input type="file" id="logo-file" name="logo" accept=crate::sessions::photos::ACCEPTED_TYPES required />
                    <span class="hint">"JPEG, PNG, WebP or HEIC, up to 10 MB. It is shown at most 320 pixels wide, without the file's metadata."</span>
                </div>
                <button type="submit" class="primary">"Upload the logo"</button>
            </form>
            <p class="muted small"><a href=crate::directory::workshop_path(settings.workshop_id)>"See your public page"</a></p>
        </section>
    }
}
