//! Server functions for mechanics.

use super::MechanicProfile;
use crate::error::AppError;
use leptos::prelude::*;

#[cfg(feature = "ssr")]
pub use access::*;

#[cfg(feature = "ssr")]
mod access {
    use crate::auth::guard::{require_role, AuthUser};
    use crate::auth::Role;
    use crate::error::AppError;
    use crate::mechanics::{queries, MechanicProfile};

    /// The caller, who must be a mechanic, with their profile. Request context
    /// is read before the first `.await`, so the state comes from the caller.
    pub async fn require_mechanic(
        state: &crate::state::AppState,
    ) -> Result<(AuthUser, MechanicProfile), AppError> {
        let user = require_role(Role::Mechanic)?;
        let profile = queries::profile(&state.pool, crate::ids::UserId(user.id))
            .await?
            .ok_or_else(|| AppError::forbidden("Your account has no mechanic profile."))?;
        Ok((user, profile))
    }
}

/// An independent mechanic's application: an account and a profile that waits
/// for an admin's approval, created by the link emailed to the address (the
/// answer is the same whether or not it already has an account).
#[server(prefix = "/api/public", endpoint = "mechanics/apply")]
pub async fn apply_as_mechanic(
    name: String,
    email: String,
    password: String,
    specialties: String,
    years_experience: String,
    certifications: String,
) -> Result<String, AppError> {
    use crate::auth::{email_looks_valid, guard, name_problem, normalize_email, password_problem, Role};
    use crate::error::FieldErrors;

    let state = crate::state::app_state()?;
    let email = normalize_email(&email);
    let mut errors = FieldErrors::new();
    if let Some(p) = name_problem(&name) {
        errors.add("name", p);
    }
    errors.check(email_looks_valid(&email), "email", "Enter an email address like name@example.com.");
    if let Some(p) = password_problem(&password) {
        errors.add("password", p);
    }
    let details = super::validate_details(&specialties, &years_experience, &certifications, &mut errors);
    errors.into_result()?;
    crate::limits::check(
        &state.pool,
        state.config.rate_limit_scale,
        crate::limits::Action::ApplyAsMechanic,
        &guard::client_address(state.config.trust_proxy),
        &email,
    )
    .await?;

    let next = crate::auth::signup::start(
        &state,
        &email,
        name.trim(),
        Role::Mechanic,
        password,
        serde_json::to_value(&details).map_err(|e| AppError::internal("application details", e))?,
    )
    .await?;
    guard::redirect_form_post(&next);
    Ok(next)
}

#[server(prefix = "/api", endpoint = "mechanic/profile")]
pub async fn get_mechanic_profile() -> Result<MechanicProfile, AppError> {
    let state = crate::state::app_state()?;
    Ok(require_mechanic(&state).await?.1)
}

/// Goes online (ready to be offered requests) or offline.
#[server(prefix = "/api", endpoint = "mechanic/online")]
pub async fn set_online(online: bool) -> Result<bool, AppError> {
    let state = crate::state::app_state()?;
    let (user, profile) = require_mechanic(&state).await?;
    let mut tx = state.pool.begin().await?;
    let changed = super::queries::set_online(&mut *tx, crate::ids::UserId(user.id), online).await?;
    if changed.is_some() {
        crate::realtime::server::notify(&mut *tx, &crate::realtime::Signal::MechanicsChanged).await?;
    }
    tx.commit().await?;
    match changed {
        Some(now_online) => {
            tracing::info!(mechanic = %user.id, online = now_online, "availability changed");
            Ok(now_online)
        }
        None => Err(AppError::forbidden(match profile.application_status {
            super::ApplicationStatus::Rejected => {
                "Your application was not approved, so you cannot go online."
            }
            _ => "You can go online once an admin has approved your application.",
        })),
    }
}

/// How many sessions the mechanic takes at once.
#[server(prefix = "/api", endpoint = "mechanic/capacity")]
pub async fn set_capacity(capacity: String) -> Result<i32, AppError> {
    let state = crate::state::app_state()?;
    let (user, _) = require_mechanic(&state).await?;
    let capacity = match capacity.trim().parse::<i32>() {
        Ok(c) if (1..=super::CAPACITY_MAX).contains(&c) => c,
        _ => {
            return Err(AppError::field(
                "capacity",
                format!("Choose a number of sessions between 1 and {}.", super::CAPACITY_MAX),
            ))
        }
    };
    let mut tx = state.pool.begin().await?;
    super::queries::set_capacity(&mut *tx, crate::ids::UserId(user.id), capacity).await?;
    crate::realtime::server::notify(&mut *tx, &crate::realtime::Signal::MechanicsChanged).await?;
    tx.commit().await?;
    Ok(capacity)
}
