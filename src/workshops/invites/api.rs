//! Server functions for invites: the owner's side (invite, resend, revoke) and
//! the invited mechanic's side (look at an invite, accept it).

use super::InviteDetails;
use crate::error::AppError;
use leptos::prelude::*;
use uuid::Uuid;

#[cfg(feature = "ssr")]
use super::store as server_side;

/// Invites a mechanic by email. Inviting an address that already has an open
/// invite sends that invite again, with a fresh link.
#[server(prefix = "/api", endpoint = "workshop/invite")]
pub async fn invite_mechanic(email: String) -> Result<(), AppError> {
    use super::token;
    use crate::auth::{email_looks_valid, normalize_email};
    use server_side::send_email;

    let state = crate::state::app_state()?;
    let (owner, membership) = crate::workshops::api::require_active_workshop_owner(&state).await?;
    let email = normalize_email(&email);
    if !email_looks_valid(&email) {
        return Err(AppError::field("email", "Enter the mechanic's email address, like name@example.com."));
    }
    if email == owner.email {
        return Err(AppError::field("email", "That is your own address. Invite the mechanic's email."));
    }
    crate::limits::check(
        &state.pool,
        state.config.rate_limit_scale,
        crate::limits::Action::SendInvite,
        &crate::auth::guard::client_address(state.config.trust_proxy),
        &owner.id.to_string(),
    )
    .await?;
    let org = membership.organization_id;
    let mut tx = state.pool.begin().await?;
    let already_member = sqlx::query_scalar!(
        r#"SELECT EXISTS (SELECT 1 FROM mechanics m JOIN users u ON u.id = m.user_id
                           WHERE u.email = $1 AND m.workshop_id = $2) AS "exists!""#,
        email,
        org
    )
    .fetch_one(&mut *tx)
    .await?;
    if already_member {
        return Err(AppError::field("email", "This mechanic is already part of your workshop."));
    }
    let (raw, hash) = token::new_token();
    let expires_at = chrono::Utc::now() + state.config.invite_ttl;
    // Reuse the open invite for this address if there is one (a resend), else create one.
    let open = sqlx::query_scalar!(
        "SELECT id FROM mechanic_invites
          WHERE organization_id = $1 AND email = $2 AND accepted_at IS NULL AND revoked_at IS NULL FOR UPDATE",
        org,
        email
    )
    .fetch_optional(&mut *tx)
    .await?;
    if let Some(id) = open {
        server_side::forget_link(&mut tx, id).await?;
    }
    let updated = sqlx::query!(
        "UPDATE mechanic_invites SET token_hash = $3, expires_at = $4, last_sent_at = now(),
                send_count = send_count + 1, invited_by = $5
          WHERE organization_id = $1 AND email = $2 AND accepted_at IS NULL AND revoked_at IS NULL",
        org,
        email,
        hash,
        expires_at as _,
        owner.id
    )
    .execute(&mut *tx)
    .await?;
    if updated.rows_affected() == 0 {
        sqlx::query!(
            "INSERT INTO mechanic_invites (organization_id, email, token_hash, invited_by, expires_at)
             VALUES ($1, $2, $3, $4, $5)",
            org,
            email,
            hash,
            owner.id,
            expires_at as _
        )
        .execute(&mut *tx)
        .await?;
    }
    send_email(
        &mut tx,
        &state.config.public_url,
        &email,
        &membership.organization_name,
        &owner.name,
        &raw,
        expires_at,
    )
    .await?;
    tx.commit().await?;
    tracing::info!(workshop = %org, "mechanic invited");
    Ok(())
}

/// Sends an invite again with a new link (the old link stops working) and a new expiry.
#[server(prefix = "/api", endpoint = "workshop/invite/resend")]
pub async fn resend_invite(invite_id: Uuid) -> Result<(), AppError> {
    use super::token;
    let state = crate::state::app_state()?;
    let (owner, membership) = crate::workshops::api::require_active_workshop_owner(&state).await?;
    crate::limits::check(
        &state.pool,
        state.config.rate_limit_scale,
        crate::limits::Action::SendInvite,
        &crate::auth::guard::client_address(state.config.trust_proxy),
        &owner.id.to_string(),
    )
    .await?;
    let (raw, hash) = token::new_token();
    let expires_at = chrono::Utc::now() + state.config.invite_ttl;
    let mut tx = state.pool.begin().await?;
    server_side::forget_link(&mut tx, invite_id).await?;
    let email = sqlx::query_scalar!(
        "UPDATE mechanic_invites SET token_hash = $3, expires_at = $4, last_sent_at = now(), send_count = send_count + 1
          WHERE id = $1 AND organization_id = $2 AND accepted_at IS NULL AND revoked_at IS NULL
          RETURNING email",
        invite_id,
        membership.organization_id,
        hash,
        expires_at as _
    )
    .fetch_optional(&mut *tx)
    .await?;
    let Some(email) = email else {
        return Err(AppError::not_found("There is no open invite of your workshop with that id."));
    };
    server_side::send_email(
        &mut tx,
        &state.config.public_url,
        &email,
        &membership.organization_name,
        &owner.name,
        &raw,
        expires_at,
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Withdraws an open invite: its link stops working.
#[server(prefix = "/api", endpoint = "workshop/invite/revoke")]
pub async fn revoke_invite(invite_id: Uuid) -> Result<(), AppError> {
    let state = crate::state::app_state()?;
    let (_, membership) = crate::workshops::api::require_workshop_owner(&state).await?;
    let mut tx = state.pool.begin().await?;
    let revoked = sqlx::query_scalar!(
        "UPDATE mechanic_invites SET revoked_at = now()
          WHERE id = $1 AND organization_id = $2 AND accepted_at IS NULL AND revoked_at IS NULL RETURNING token_hash",
        invite_id,
        membership.organization_id
    )
    .fetch_optional(&mut *tx)
    .await?;
    let Some(token_hash) = revoked else {
        return Err(AppError::not_found("There is no open invite of your workshop with that id."));
    };
    crate::mail::outbox::forget_secret(&mut *tx, &token_hash).await?;
    tx.commit().await?;
    Ok(())
}

/// What an invite link leads to. Public: the token is the credential.
#[server(prefix = "/api/public", endpoint = "invites/details")]
pub async fn get_invite_details(token: String) -> Result<InviteDetails, AppError> {
    use super::{token as tok, InviteLinkState, InviteViewer};
    use crate::auth::{guard, Role};

    let state = crate::state::app_state()?;
    let invalid =
        InviteDetails { state: InviteLinkState::Invalid, workshop_name: None, email: None, viewer: None };
    if !tok::well_formed(&token) {
        return Ok(invalid);
    }
    let row = server_side::find_by_hash(&state.pool, &tok::hash(&token)).await?;
    let Some(row) = row else { return Ok(invalid) };
    let link_state = row.link_state();
    let viewer = if link_state != InviteLinkState::Valid {
        None
    } else {
        Some(match guard::current_user() {
            Some(u) if u.email == row.email && u.role == Role::Mechanic => {
                let in_workshop = sqlx::query_scalar!(
                    r#"SELECT workshop_id IS NOT NULL AS "in_workshop!" FROM mechanics WHERE user_id = $1"#,
                    u.id
                )
                .fetch_optional(&state.pool)
                .await?
                .unwrap_or(true);
                if in_workshop {
                    InviteViewer::OtherAccount { email: u.email }
                } else {
                    InviteViewer::CanJoin
                }
            }
            Some(u) => InviteViewer::OtherAccount { email: u.email },
            None => {
                if crate::auth::queries::email_taken(&state.pool, &row.email).await? {
                    InviteViewer::ExistingAccount
                } else {
                    InviteViewer::NewMechanic
                }
            }
        })
    };
    Ok(InviteDetails {
        state: link_state,
        workshop_name: Some(row.workshop_name),
        email: Some(row.email),
        viewer,
    })
}

/// Creates the invited mechanic's account, linked to the workshop and approved,
/// in one transaction with using up the invite. The email is the invite's.
#[server(prefix = "/api/public", endpoint = "invites/accept")]
pub async fn accept_invite(
    token: String,
    name: String,
    password: String,
    specialties: String,
    years_experience: String,
    certifications: String,
) -> Result<String, AppError> {
    use crate::auth::{guard, name_problem, password, password_problem, Role};
    use crate::error::FieldErrors;

    let state = crate::state::app_state()?;
    let mut errors = FieldErrors::new();
    if let Some(p) = name_problem(&name) {
        errors.add("name", p);
    }
    if let Some(p) = password_problem(&password) {
        errors.add("password", p);
    }
    let details =
        crate::mechanics::validate_details(&specialties, &years_experience, &certifications, &mut errors);
    errors.into_result()?;
    // The token first: nobody without a usable invite makes the server hash.
    {
        let mut check = state.pool.begin().await?;
        server_side::lock_by_token(&mut check, &token).await?.usable()?;
        check.rollback().await?;
    }
    // Hash before taking locks: it is the slow part.
    let hash = password::hash(password).await?;

    let mut tx = state.pool.begin().await?;
    let invite = server_side::lock_by_token(&mut tx, &token).await?;
    invite.usable()?;
    let Some(user_id) =
        crate::auth::queries::insert_user(&mut *tx, &invite.email, name.trim(), Role::Mechanic, &hash)
            .await?
    else {
        return Err(AppError::conflict(
            "An account with this email already exists. Log in with it, then open the invite link again to join.",
        ));
    };
    crate::mechanics::queries::insert_workshop_mechanic(
        &mut tx,
        crate::ids::UserId(user_id),
        crate::ids::WorkshopId(invite.organization_id),
        crate::ids::UserId(invite.invited_by),
        &details,
    )
    .await?;
    server_side::mark_used(&mut tx, invite.id, crate::ids::UserId(user_id)).await?;
    tx.commit().await?;

    let session = guard::request_session()?;
    crate::auth::login::log_in(&state.pool, &session, crate::ids::UserId(user_id), 1).await?;
    tracing::info!(%user_id, workshop = %invite.organization_id, "mechanic joined through an invite");
    let next = Role::Mechanic.home_path().to_string();
    guard::redirect_form_post(&next);
    Ok(next)
}

/// An existing independent mechanic, logged in with the invited email, joins
/// the workshop (approved at once).
#[server(prefix = "/api", endpoint = "invites/join")]
pub async fn join_with_invite(token: String) -> Result<String, AppError> {
    use crate::auth::{guard, Role};
    let user = guard::require_role(Role::Mechanic)?;
    let state = crate::state::app_state()?;
    let mut tx = state.pool.begin().await?;
    let invite = server_side::lock_by_token(&mut tx, &token).await?;
    invite.usable()?;
    if invite.email != user.email {
        return Err(AppError::forbidden(format!(
            "This invite was sent to another email address. Log in as {} to accept it.",
            invite.email
        )));
    }
    // The platform's decision stands: a workshop's invite cannot undo a rejection.
    let status = sqlx::query_scalar!(
        r#"SELECT application_status AS "application_status: crate::status::ApplicationStatus"
             FROM mechanics WHERE user_id = $1 FOR UPDATE"#,
        user.id
    )
    .fetch_optional(&mut *tx)
    .await?;
    if status == Some(crate::status::ApplicationStatus::Rejected) {
        return Err(AppError::forbidden(
            "The platform did not approve your application, so a workshop cannot add you. \
             Write to the platform admin if you think this is a mistake.",
        ));
    }
    if !crate::mechanics::queries::join_workshop(
        &mut tx,
        crate::ids::UserId(user.id),
        crate::ids::WorkshopId(invite.organization_id),
        crate::ids::UserId(invite.invited_by),
    )
    .await?
    {
        return Err(AppError::conflict(
            "You are already part of a workshop. Ask it to remove you before joining another.",
        ));
    }
    server_side::mark_used(&mut tx, invite.id, crate::ids::UserId(user.id)).await?;
    tx.commit().await?;
    tracing::info!(user_id = %user.id, workshop = %invite.organization_id, "mechanic joined a workshop");
    let next = Role::Mechanic.home_path().to_string();
    guard::redirect_form_post(&next);
    Ok(next)
}
