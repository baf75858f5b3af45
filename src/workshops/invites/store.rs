//! The invites' database side and their email: finding an invite by its token
//! (locked), marking it used, and sending the invite message through the outbox.

use super::token;
use crate::error::AppError;
use crate::ids::UserId;
use crate::mail::outbox;
use sqlx::{Postgres, Transaction};
use uuid::Uuid;

/// The invite behind a token.
pub struct InviteRow {
    pub id: Uuid,
    pub organization_id: Uuid,
    pub email: String,
    pub invited_by: Uuid,
    pub expires_at: chrono::DateTime<chrono::Utc>,
    pub accepted_at: Option<chrono::DateTime<chrono::Utc>>,
    pub revoked_at: Option<chrono::DateTime<chrono::Utc>>,
    pub workshop_name: String,
    pub workshop_status: crate::status::WorkshopStatus,
}

impl InviteRow {
    pub fn link_state(&self) -> super::InviteLinkState {
        use super::InviteLinkState as S;
        if self.accepted_at.is_some() {
            S::Used
        } else if self.revoked_at.is_some() {
            S::Revoked
        } else if self.expires_at <= chrono::Utc::now() {
            S::Expired
        } else if self.workshop_status != crate::status::WorkshopStatus::Active {
            S::WorkshopUnavailable
        } else {
            S::Valid
        }
    }

    /// An error explaining why the invite cannot be used, if it cannot.
    pub fn usable(&self) -> Result<(), AppError> {
        match self.link_state() {
            super::InviteLinkState::Valid => Ok(()),
            other => Err(AppError::Conflict(other.explanation().to_string())),
        }
    }
}

/// The invite behind a well-formed token's hash, if any (not locked).
pub async fn find_by_hash(
    db: impl sqlx::PgExecutor<'_>,
    token_hash: &[u8],
) -> Result<Option<InviteRow>, sqlx::Error> {
    sqlx::query_as!(
        InviteRow,
        r#"SELECT i.id, i.organization_id, i.email, i.invited_by,
                  i.expires_at AS "expires_at: chrono::DateTime<chrono::Utc>",
                  i.accepted_at AS "accepted_at: chrono::DateTime<chrono::Utc>",
                  i.revoked_at AS "revoked_at: chrono::DateTime<chrono::Utc>", o.name AS workshop_name,
                  o.status AS "workshop_status: crate::status::WorkshopStatus"
             FROM mechanic_invites i JOIN organizations o ON o.id = i.organization_id
            WHERE i.token_hash = $1"#,
        token_hash
    )
    .fetch_optional(db)
    .await
}

/// The invite behind a token, locked for the rest of the transaction.
pub async fn lock_by_token(
    tx: &mut Transaction<'_, Postgres>,
    raw_token: &str,
) -> Result<InviteRow, AppError> {
    if !token::well_formed(raw_token) {
        return Err(AppError::NotFound(super::InviteLinkState::Invalid.explanation().into()));
    }
    let token_hash = token::hash(raw_token);
    sqlx::query_as!(
        InviteRow,
        r#"SELECT i.id, i.organization_id, i.email, i.invited_by,
                  i.expires_at AS "expires_at: chrono::DateTime<chrono::Utc>",
                  i.accepted_at AS "accepted_at: chrono::DateTime<chrono::Utc>",
                  i.revoked_at AS "revoked_at: chrono::DateTime<chrono::Utc>", o.name AS workshop_name,
                  o.status AS "workshop_status: crate::status::WorkshopStatus"
             FROM mechanic_invites i JOIN organizations o ON o.id = i.organization_id
            WHERE i.token_hash = $1
              FOR UPDATE OF i"#,
        token_hash
    )
    .fetch_optional(&mut **tx)
    .await?
    .ok_or_else(|| AppError::NotFound(super::InviteLinkState::Invalid.explanation().into()))
}

pub async fn mark_used(
    tx: &mut Transaction<'_, Postgres>,
    invite: Uuid,
    user: UserId,
) -> Result<(), AppError> {
    let user = user.uuid();
    let used = sqlx::query_scalar!(
        "UPDATE mechanic_invites SET accepted_at = now(), accepted_by = $2
          WHERE id = $1 AND accepted_at IS NULL AND revoked_at IS NULL RETURNING token_hash",
        invite,
        user
    )
    .fetch_optional(&mut **tx)
    .await?;
    let Some(token_hash) = used else {
        return Err(AppError::Conflict(super::InviteLinkState::Used.explanation().into()));
    };
    // Used: its link leaves the stored copy of the email (the admin mailbox).
    outbox::forget_secret(&mut **tx, &token_hash).await?;
    Ok(())
}

/// The link of an invite that is being replaced or revoked leaves the stored
/// copies of its emails.
pub async fn forget_link(tx: &mut Transaction<'_, Postgres>, invite_id: Uuid) -> Result<(), AppError> {
    let hash = sqlx::query_scalar!("SELECT token_hash FROM mechanic_invites WHERE id = $1", invite_id)
        .fetch_optional(&mut **tx)
        .await?;
    if let Some(hash) = hash {
        outbox::forget_secret(&mut **tx, &hash).await?;
    }
    Ok(())
}

/// Queues the invite email with its link.
pub async fn send_email(
    tx: &mut Transaction<'_, Postgres>,
    public_url: &str,
    to: &str,
    workshop_name: &str,
    inviter_name: &str,
    raw_token: &str,
    expires_at: chrono::DateTime<chrono::Utc>,
) -> Result<(), AppError> {
    let link = format!("{public_url}/invite/{raw_token}");
    let body = format!(
        "Hello,\n\n{inviter_name} invites you to join {workshop_name} on autodoctor, where customers book \
         remote diagnostic sessions with mechanics.\n\nCreate your mechanic account (or join with your \
         existing one) here:\n{link}\n\nThe link works once and expires on {}.\n\nIf you were not expecting \
         this, you can ignore this email.\n",
        expires_at.format("%Y-%m-%d %H:%M UTC")
    );
    outbox::enqueue_with_secret(
        &mut **tx,
        to,
        &format!("Join {workshop_name} on autodoctor"),
        &body,
        "mechanic_invite",
        raw_token,
        &token::hash(raw_token),
    )
    .await?;
    Ok(())
}
