//! Server functions of the report: the mechanic saves it, the customer, the
//! mechanic and an admin read it, the customer makes and revokes share links,
//! and anyone with a link reads what it shares (`/api/public/`, on purpose).

use super::form::RepairForm;
use super::{ReportPage, SharedReport};
use crate::error::AppError;
use leptos::prelude::*;
use uuid::Uuid;

/// The session's mechanic writes (or rewrites) the report, while the session is open.
#[server(prefix = "/api", endpoint = "session/report/save")]
pub async fn save_report(
    session_id: Uuid,
    #[server(default)] summary: String,
    #[server(default)] likely_causes: String,
    #[server(default)] safe_to_drive: String,
    #[server(default)] follow_ups: String,
    #[server(default)] repairs: Vec<RepairForm>,
) -> Result<(), AppError> {
    let state = crate::state::app_state()?;
    let (user, _) = crate::mechanics::api::require_mechanic(&state).await?;
    let draft =
        super::form::validate_report(&summary, &likely_causes, &safe_to_drive, &follow_ups, &repairs)?;
    super::store::save(&state.pool, crate::ids::SessionId(session_id), crate::ids::UserId(user.id), &draft)
        .await
}

/// The print-ready page's data: the session's customer, its mechanic, or an admin.
#[server(prefix = "/api", endpoint = "session/report")]
pub async fn get_report_page(session_id: Uuid) -> Result<ReportPage, AppError> {
    let user = crate::auth::guard::require_user()?;
    let state = crate::state::app_state()?;
    let share_base = format!("{}/report/", state.config.public_url.trim_end_matches('/'));
    let is_admin = user.role == crate::auth::Role::Admin;
    super::store::load_page(
        &state.pool,
        crate::ids::SessionId(session_id),
        crate::ids::UserId(user.id),
        is_admin,
        share_base,
    )
    .await
}

/// The customer makes a share link; answers its token (shown once).
#[server(prefix = "/api", endpoint = "session/report/share")]
pub async fn create_report_share(session_id: Uuid) -> Result<String, AppError> {
    let user = crate::auth::guard::require_role(crate::auth::Role::Customer)?;
    let state = crate::state::app_state()?;
    let (_, token) =
        super::shares::create(&state.pool, crate::ids::SessionId(session_id), crate::ids::UserId(user.id))
            .await?;
    // Without JavaScript, the page shows the new link from its address.
    crate::auth::guard::redirect_form_post(&format!("{}?link={token}", super::report_path(session_id)));
    Ok(token)
}

/// The customer revokes a share link: it stops working at once.
#[server(prefix = "/api", endpoint = "session/report/share/revoke")]
pub async fn revoke_report_share(share_id: Uuid) -> Result<(), AppError> {
    let user = crate::auth::guard::require_role(crate::auth::Role::Customer)?;
    let state = crate::state::app_state()?;
    let session_id = super::shares::revoke(&state.pool, share_id, crate::ids::UserId(user.id)).await?;
    crate::auth::guard::redirect_form_post(&super::report_path(session_id));
    Ok(())
}

/// What a share link shows; no account needed.
#[server(prefix = "/api", endpoint = "public/report")]
pub async fn get_shared_report(token: String) -> Result<SharedReport, AppError> {
    let state = crate::state::app_state()?;
    super::shares::shared_report(&state.pool, token.trim()).await
}
