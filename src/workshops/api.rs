//! Server functions for workshop owners and staff.

use super::WorkshopDashboard;
use crate::error::AppError;
use leptos::prelude::*;
use uuid::Uuid;

#[cfg(feature = "ssr")]
pub use access::*;

#[cfg(feature = "ssr")]
mod access {
    use super::super::queries::{self, Membership};
    use super::super::{MemberRole, WorkshopStatus};
    use crate::auth::guard::{require_role, AuthUser};
    use crate::auth::Role;
    use crate::error::AppError;
    use crate::state::AppState;

    /// The caller, who must belong to a workshop, and their membership.
    ///
    /// Like every helper here it takes the state from its caller: request
    /// context is read before the first `.await` (during server rendering it is
    /// not guaranteed after one).
    pub async fn require_workshop_member(state: &AppState) -> Result<(AuthUser, Membership), AppError> {
        let user = require_role(Role::WorkshopMember)?;
        let membership = queries::membership_of(&state.pool, crate::ids::UserId(user.id))
            .await?
            .ok_or_else(|| AppError::forbidden("Your account is not part of a workshop."))?;
        Ok((user, membership))
    }

    /// The caller, who must own a workshop.
    pub async fn require_workshop_owner(state: &AppState) -> Result<(AuthUser, Membership), AppError> {
        let (user, membership) = require_workshop_member(state).await?;
        if membership.role != MemberRole::Owner {
            return Err(AppError::forbidden("Only the workshop's owner can do this."));
        }
        Ok((user, membership))
    }

    /// The caller, who must own a workshop that the admin has approved.
    pub async fn require_active_workshop_owner(state: &AppState) -> Result<(AuthUser, Membership), AppError> {
        let (user, membership) = require_workshop_owner(state).await?;
        if membership.status != WorkshopStatus::Active {
            return Err(AppError::forbidden(
                "Your workshop is not active yet: you can invite mechanics once an admin has approved it.",
            ));
        }
        Ok((user, membership))
    }

    /// The caller must be a member of this particular workshop (or an admin).
    pub async fn require_member_of(
        state: &AppState,
        org: crate::ids::WorkshopId,
    ) -> Result<AuthUser, AppError> {
        let org = org.uuid();
        let user = crate::auth::guard::require_user()?;
        if user.role == Role::Admin {
            return Ok(user);
        }
        match queries::membership_of(&state.pool, crate::ids::UserId(user.id)).await? {
            Some(m) if m.organization_id == org => Ok(user),
            _ => Err(AppError::forbidden("You are not a member of this workshop.")),
        }
    }
}

/// Registers a workshop and its owner's account, created by the link emailed
/// to the owner's address (the answer is the same whether or not it already
/// has an account). The workshop then waits for an admin's approval.
#[server(prefix = "/api/public", endpoint = "workshops/register")]
pub async fn register_workshop(
    owner_name: String,
    email: String,
    password: String,
    workshop_name: String,
    contact_email: String,
    phone: String,
    city: String,
    address: String,
    description: String,
    specialties: String,
) -> Result<String, AppError> {
    use super::text_problem;
    use crate::auth::{email_looks_valid, guard, name_problem, normalize_email, password_problem, Role};
    use crate::error::FieldErrors;

    let state = crate::state::app_state()?;
    let email = normalize_email(&email);
    let contact_email =
        if contact_email.trim().is_empty() { email.clone() } else { normalize_email(&contact_email) };
    let mut errors = FieldErrors::new();
    if let Some(p) = name_problem(&owner_name) {
        errors.add("owner_name", p);
    }
    errors.check(email_looks_valid(&email), "email", "Enter an email address like name@example.com.");
    if let Some(p) = password_problem(&password) {
        errors.add("password", p);
    }
    if let Some(p) = text_problem(&workshop_name, 2, 120, "the workshop's name") {
        errors.add("workshop_name", p);
    }
    errors.check(
        email_looks_valid(&contact_email),
        "contact_email",
        "Enter the email customers can reach you at.",
    );
    if let Some(p) = text_problem(&phone, 0, 40, "the phone number") {
        errors.add("phone", p);
    }
    let specialties =
        super::check_place_and_description(&city, &address, &description, &specialties, &mut errors);
    errors.into_result()?;
    crate::limits::check(
        &state.pool,
        state.config.rate_limit_scale,
        crate::limits::Action::RegisterWorkshop,
        &guard::client_address(state.config.trust_proxy),
        &email,
    )
    .await?;

    let application = super::WorkshopApplication {
        name: workshop_name.trim().to_string(),
        contact_email,
        phone: phone.trim().to_string(),
        city: city.trim().to_string(),
        address: address.trim().to_string(),
        description: description.trim().to_string(),
        specialties,
    };
    let next = crate::auth::signup::start(
        &state,
        &email,
        owner_name.trim(),
        Role::WorkshopMember,
        password,
        serde_json::to_value(&application).map_err(|e| AppError::internal("workshop details", e))?,
    )
    .await?;
    guard::redirect_form_post(&next);
    Ok(next)
}

/// The owner's (or staff member's) view of their workshop.
#[server(prefix = "/api", endpoint = "workshop/dashboard")]
pub async fn get_workshop_dashboard() -> Result<WorkshopDashboard, AppError> {
    use super::queries;
    let state = crate::state::app_state()?;
    let (_, membership) = require_workshop_member(&state).await?;
    let workshop = queries::workshop(&state.pool, crate::ids::WorkshopId(membership.organization_id))
        .await?
        .ok_or_else(|| AppError::not_found("Your workshop no longer exists."))?;
    let mechanics = queries::mechanics_of(&state.pool, crate::ids::WorkshopId(workshop.id)).await?;
    let invites = queries::invites_of(&state.pool, crate::ids::WorkshopId(workshop.id)).await?;
    let analytics =
        super::analytics::workshop_analytics(&state.pool, crate::ids::WorkshopId(workshop.id)).await?;
    Ok(WorkshopDashboard { workshop, my_role: membership.role, mechanics, invites, analytics })
}

/// Removes a mechanic from the owner's workshop; they become an independent
/// mechanic whose application an admin must approve before they work again.
#[server(prefix = "/api", endpoint = "workshop/remove-mechanic")]
pub async fn remove_mechanic(mechanic_id: Uuid) -> Result<(), AppError> {
    let state = crate::state::app_state()?;
    let (user, membership) = require_workshop_owner(&state).await?;
    if !super::queries::remove_mechanic(
        &state.pool,
        crate::ids::WorkshopId(membership.organization_id),
        crate::ids::UserId(mechanic_id),
    )
    .await?
    {
        return Err(AppError::not_found("That mechanic is not part of your workshop."));
    }
    tracing::info!(owner = %user.id, mechanic = %mechanic_id, "mechanic removed from workshop");
    Ok(())
}
