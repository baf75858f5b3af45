//! SQL for mechanics.

use super::{MechanicDetails, MechanicProfile};
use crate::ids::{UserId, WorkshopId};
use crate::status::{AccountType, ApplicationStatus};
use sqlx::{PgExecutor, Postgres, Transaction};

pub async fn profile(
    db: impl PgExecutor<'_>,
    user_id: UserId,
) -> Result<Option<MechanicProfile>, sqlx::Error> {
    let user_id = user_id.uuid();
    sqlx::query_as!(
        MechanicProfile,
        r#"SELECT m.user_id, u.name, u.email, m.account_type AS "account_type: AccountType", m.workshop_id,
                  o.name AS "workshop_name?", m.application_status AS "application_status: ApplicationStatus",
                  m.rejection_reason, m.auto_approved, m.specialties, m.years_experience, m.certifications,
                  m.is_online, m.capacity, m.active_sessions, m.sessions_completed::bigint AS "sessions_completed!"
             FROM mechanics m JOIN users u ON u.id = m.user_id
             LEFT JOIN organizations o ON o.id = m.workshop_id
            WHERE m.user_id = $1"#,
        user_id
    )
    .fetch_optional(db)
    .await
}

/// The mechanic row of an independent applicant, waiting for approval.
pub async fn insert_independent(
    tx: &mut Transaction<'_, Postgres>,
    user_id: UserId,
    d: &MechanicDetails,
) -> Result<(), sqlx::Error> {
    let user_id = user_id.uuid();
    sqlx::query!(
        "INSERT INTO mechanics (user_id, account_type, application_status, specialties, years_experience, certifications)
         VALUES ($1, 'independent', 'pending', $2, $3, $4)",
        user_id,
        &d.specialties,
        d.years_experience,
        &d.certifications
    )
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// The mechanic row of someone who joined through a workshop's invite: linked to
/// the workshop and approved at once (the workshop vouches for them).
pub async fn insert_workshop_mechanic(
    tx: &mut Transaction<'_, Postgres>,
    user: UserId,
    workshop: WorkshopId,
    invited_by: UserId,
    d: &MechanicDetails,
) -> Result<(), sqlx::Error> {
    let (user_id, workshop_id, invited_by) = (user.uuid(), workshop.uuid(), invited_by.uuid());
    sqlx::query!(
        "INSERT INTO mechanics (user_id, account_type, workshop_id, invited_by, invite_accepted_at, auto_approved,
                                application_status, reviewed_at, specialties, years_experience, certifications)
         VALUES ($1, 'workshop', $2, $3, now(), true, 'approved', now(), $4, $5, $6)",
        user_id,
        workshop_id,
        invited_by,
        &d.specialties,
        d.years_experience,
        &d.certifications
    )
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Links an existing mechanic (not in any workshop) to a workshop through an invite.
pub async fn join_workshop(
    tx: &mut Transaction<'_, Postgres>,
    user: UserId,
    workshop: WorkshopId,
    invited_by: UserId,
) -> Result<bool, sqlx::Error> {
    let (user_id, workshop_id, invited_by) = (user.uuid(), workshop.uuid(), invited_by.uuid());
    let done = sqlx::query!(
        "UPDATE mechanics SET account_type = 'workshop', workshop_id = $2, invited_by = $3,
                invite_accepted_at = now(), auto_approved = true, application_status = 'approved',
                rejection_reason = NULL, reviewed_at = now(), updated_at = now()
          WHERE user_id = $1 AND workshop_id IS NULL",
        user_id,
        workshop_id,
        invited_by
    )
    .execute(&mut **tx)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Goes online or offline; only an approved mechanic can go online. Returns
/// the new state, or `None` when an unapproved mechanic tried to go online.
pub async fn set_online(
    db: impl PgExecutor<'_>,
    user_id: UserId,
    online: bool,
) -> Result<Option<bool>, sqlx::Error> {
    let user_id = user_id.uuid();
    sqlx::query_scalar!(
        "UPDATE mechanics SET is_online = $2,
                online_since = CASE WHEN $2 THEN coalesce(online_since, now()) ELSE NULL END,
                updated_at = now()
          WHERE user_id = $1 AND (NOT $2 OR application_status = 'approved')
          RETURNING is_online",
        user_id,
        online
    )
    .fetch_optional(db)
    .await
}

pub async fn set_capacity(
    db: impl PgExecutor<'_>,
    user_id: UserId,
    capacity: i32,
) -> Result<bool, sqlx::Error> {
    let user_id = user_id.uuid();
    let done = sqlx::query!(
        "UPDATE mechanics SET capacity = $2, updated_at = now() WHERE user_id = $1",
        user_id,
        capacity
    )
    .execute(db)
    .await?;
    Ok(done.rows_affected() == 1)
}
