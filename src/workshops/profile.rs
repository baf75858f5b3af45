//! The workshop's public profile, edited by its owner: name, city, address,
//! description and specialties. Only an owner of the workshop, read from the
//! session's user, can change it; what they save shows at once wherever the
//! workshop is shown (every page reads it from the database).

use super::Workshop;
use crate::error::AppError;
use leptos::prelude::*;

/// The owner's workshop, for the profile form.
#[server(prefix = "/api", endpoint = "workshop/profile")]
pub async fn get_workshop_profile() -> Result<Workshop, AppError> {
    let state = crate::state::app_state()?;
    let (_, membership) = super::api::require_workshop_owner(&state).await?;
    super::queries::workshop(&state.pool, crate::ids::WorkshopId(membership.organization_id))
        .await?
        .ok_or_else(|| AppError::not_found("Your workshop no longer exists."))
}

/// Saves the owner's workshop's profile.
#[server(prefix = "/api", endpoint = "workshop/profile/save")]
pub async fn save_workshop_profile(
    name: String,
    city: String,
    address: String,
    description: String,
    specialties: String,
) -> Result<(), AppError> {
    use super::text_problem;
    let state = crate::state::app_state()?;
    let (user, membership) = super::api::require_workshop_owner(&state).await?;
    let mut errors = crate::error::FieldErrors::new();
    if let Some(p) = text_problem(&name, 2, 120, "the workshop's name") {
        errors.add("name", p);
    }
    let specialties =
        super::check_place_and_description(&city, &address, &description, &specialties, &mut errors);
    errors.into_result()?;
    sqlx::query!(
        "UPDATE organizations SET name = $2, city = $3, address = $4, description = $5, specialties = $6,
                updated_at = now()
          WHERE id = $1",
        membership.organization_id,
        name.trim(),
        city.trim(),
        address.trim(),
        description.trim(),
        &specialties
    )
    .execute(&state.pool)
    .await?;
    tracing::info!(owner = %user.id, workshop = %membership.organization_id, "workshop profile saved");
    crate::auth::guard::redirect_form_post("/workshop/profile?saved=1");
    Ok(())
}
