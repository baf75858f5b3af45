//! Creating the account a confirmation link is for, in one transaction: the
//! pending sign-up is taken (deleted) as the user and their role's rows are
//! inserted, so a link works once however often it is posted, and two links
//! for one address make one account.

use super::PendingSignUp;
use crate::account::Role;
use crate::error::AppError;
use sqlx::PgPool;
use uuid::Uuid;

pub async fn pending(pool: &PgPool, token: &str) -> Result<Option<PendingSignUp>, sqlx::Error> {
    sqlx::query_as!(
        PendingSignUp,
        r#"SELECT email, name, role AS "role: Role" FROM pending_signups
            WHERE token_hash = $1 AND expires_at > now()"#,
        crate::token::hash(token)
    )
    .fetch_optional(pool)
    .await
}

pub async fn create_from_link(pool: &PgPool, token: &str) -> Result<(Uuid, Role), AppError> {
    let token_hash = crate::token::hash(token);
    let mut tx = pool.begin().await?;
    let email = sqlx::query_scalar!(
        "SELECT email FROM pending_signups WHERE token_hash = $1 AND expires_at > now()",
        token_hash
    )
    .fetch_optional(&mut *tx)
    .await?
    .ok_or_else(|| AppError::not_found(super::LINK_PROBLEM))?;
    // One confirmation per address at a time: two links for one address never
    // wait on each other's rows (the second finds its sign-up gone: 404).
    sqlx::query!("SELECT pg_advisory_xact_lock(hashtextextended('signup:' || $1, 0))", email)
        .execute(&mut *tx)
        .await?;
    let row = sqlx::query!(
        r#"DELETE FROM pending_signups WHERE token_hash = $1 AND email = $2 AND expires_at > now()
           RETURNING email, name, role AS "role: Role", password_hash, details"#,
        token_hash,
        email
    )
    .fetch_optional(&mut *tx)
    .await?
    .ok_or_else(|| AppError::not_found(super::LINK_PROBLEM))?;
    let taken = || AppError::conflict("An account with this email already exists. Log in instead.");
    let user_id =
        crate::auth::queries::insert_user(&mut *tx, &row.email, &row.name, row.role, &row.password_hash)
            .await?
            .ok_or_else(taken)?;
    match row.role {
        Role::Mechanic => {
            let details: crate::mechanics::MechanicDetails = serde_json::from_value(row.details)
                .map_err(|e| AppError::internal("pending application", e))?;
            crate::mechanics::queries::insert_independent(&mut tx, crate::ids::UserId(user_id), &details)
                .await?;
        }
        Role::WorkshopMember => {
            let w: crate::workshops::WorkshopApplication =
                serde_json::from_value(row.details).map_err(|e| AppError::internal("pending workshop", e))?;
            let workshop_id = crate::workshops::queries::insert_workshop(
                &mut tx,
                crate::ids::UserId(user_id),
                &crate::workshops::queries::NewWorkshop {
                    name: &w.name,
                    contact_email: &w.contact_email,
                    phone: &w.phone,
                    city: &w.city,
                    address: &w.address,
                    description: &w.description,
                    specialties: &w.specialties,
                },
            )
            .await?;
            tracing::info!(%workshop_id, owner = %user_id, "workshop registered");
        }
        Role::Customer | Role::Admin => {}
    }
    // The link is used: it leaves the stored emails, and the address's other
    // pending sign-ups are moot.
    crate::mail::outbox::forget_secret(&mut *tx, &token_hash).await?;
    sqlx::query!("DELETE FROM pending_signups WHERE email = $1", row.email).execute(&mut *tx).await?;
    tx.commit().await?;
    Ok((user_id, row.role))
}
