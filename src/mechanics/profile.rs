//! The mechanic's own profile: bio, specialties and years of experience. Only
//! the mechanic themself (the session's user) reads this form or saves it.

use crate::error::AppError;
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

/// What a mechanic tells customers about themself.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MechanicBio {
    pub bio: String,
    pub specialties: Vec<String>,
    pub years_experience: i32,
}

pub const BIO_MAX: usize = 1000;

#[server(prefix = "/api", endpoint = "mechanic/bio")]
pub async fn get_mechanic_bio() -> Result<MechanicBio, AppError> {
    let state = crate::state::app_state()?;
    let (user, _) = super::api::require_mechanic(&state).await?;
    let row =
        sqlx::query!("SELECT bio, specialties, years_experience FROM mechanics WHERE user_id = $1", user.id)
            .fetch_one(&state.pool)
            .await?;
    Ok(MechanicBio { bio: row.bio, specialties: row.specialties, years_experience: row.years_experience })
}

#[server(prefix = "/api", endpoint = "mechanic/bio/save")]
pub async fn save_mechanic_bio(
    bio: String,
    specialties: String,
    years_experience: String,
) -> Result<(), AppError> {
    let state = crate::state::app_state()?;
    let (user, _) = super::api::require_mechanic(&state).await?;
    let mut errors = crate::error::FieldErrors::new();
    if let Some(p) = crate::validate::text_problem(&bio, 0, BIO_MAX, "your bio") {
        errors.add("bio", p);
    }
    // The same rules as the application's (certifications are not on this form).
    let details = super::validate_details(&specialties, &years_experience, "", &mut errors);
    errors.into_result()?;
    sqlx::query!(
        "UPDATE mechanics SET bio = $2, specialties = $3, years_experience = $4, updated_at = now() WHERE user_id = $1",
        user.id,
        bio.trim(),
        &details.specialties,
        details.years_experience
    )
    .execute(&state.pool)
    .await?;
    tracing::info!(mechanic = %user.id, "mechanic profile saved");
    crate::auth::guard::redirect_form_post("/mechanic/profile?saved=1");
    Ok(())
}
