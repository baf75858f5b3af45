//! SQL for workshops and their members.

use super::{InviteState, InviteSummary, MemberRole, Workshop, WorkshopMechanic, WorkshopStatus};
use crate::ids::{UserId, WorkshopId};
use sqlx::{PgExecutor, Postgres, Transaction};
use uuid::Uuid;

/// A person's place in a workshop.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct Membership {
    pub organization_id: Uuid,
    pub role: MemberRole,
    pub status: WorkshopStatus,
    pub organization_name: String,
}

pub async fn membership_of(
    db: impl PgExecutor<'_>,
    user_id: UserId,
) -> Result<Option<Membership>, sqlx::Error> {
    let user_id = user_id.uuid();
    sqlx::query_as!(
        Membership,
        r#"SELECT m.organization_id, m.role AS "role: MemberRole", o.status AS "status: WorkshopStatus",
                  o.name AS organization_name
             FROM organization_members m JOIN organizations o ON o.id = m.organization_id
            WHERE m.user_id = $1"#,
        user_id
    )
    .fetch_optional(db)
    .await
}

pub async fn workshop(db: impl PgExecutor<'_>, id: WorkshopId) -> Result<Option<Workshop>, sqlx::Error> {
    let id = id.uuid();
    sqlx::query_as!(
        Workshop,
        r#"SELECT id, name, contact_email, phone, city, address, description, specialties,
                  status AS "status: WorkshopStatus", status_reason, platform_fee_bps, custom_fee_agreement,
                  stripe_onboarding_completed, stripe_payouts_enabled
             FROM organizations WHERE id = $1"#,
        id
    )
    .fetch_optional(db)
    .await
}

pub struct NewWorkshop<'a> {
    pub name: &'a str,
    pub contact_email: &'a str,
    pub phone: &'a str,
    pub city: &'a str,
    pub address: &'a str,
    pub description: &'a str,
    pub specialties: &'a [String],
}

/// Creates a pending workshop owned by `owner`, with the default fee terms on record.
pub async fn insert_workshop(
    tx: &mut Transaction<'_, Postgres>,
    owner: UserId,
    w: &NewWorkshop<'_>,
) -> Result<Uuid, sqlx::Error> {
    let owner = owner.uuid();
    let id: Uuid = sqlx::query_scalar!(
        "INSERT INTO organizations (name, contact_email, phone, city, address, description, specialties)
         VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
        w.name,
        w.contact_email,
        w.phone,
        w.city,
        w.address,
        w.description,
        w.specialties
    )
    .fetch_one(&mut **tx)
    .await?;
    sqlx::query!(
        "INSERT INTO organization_members (organization_id, user_id, role) VALUES ($1, $2, 'owner')",
        id,
        owner
    )
    .execute(&mut **tx)
    .await?;
    sqlx::query!(
        "INSERT INTO organization_fee_terms (organization_id, platform_fee_bps, note)
         SELECT id, platform_fee_bps, 'Standard terms' FROM organizations WHERE id = $1",
        id
    )
    .execute(&mut **tx)
    .await?;
    Ok(id)
}

pub async fn mechanics_of(
    db: impl PgExecutor<'_>,
    workshop_id: WorkshopId,
) -> Result<Vec<WorkshopMechanic>, sqlx::Error> {
    let workshop_id = workshop_id.uuid();
    sqlx::query_as!(
        WorkshopMechanic,
        r#"SELECT m.user_id, u.name, u.email, m.is_online, m.capacity, m.active_sessions,
                  m.sessions_completed::bigint AS "sessions_served!",
                  coalesce(m.invite_accepted_at, m.created_at) AS "joined_at!: chrono::DateTime<chrono::Utc>"
             FROM mechanics m JOIN users u ON u.id = m.user_id
            WHERE m.workshop_id = $1
            ORDER BY m.is_online DESC, u.name, m.user_id"#,
        workshop_id
    )
    .fetch_all(db)
    .await
}

#[derive(sqlx::FromRow)]
struct InviteRow {
    id: Uuid,
    email: String,
    created_at: chrono::DateTime<chrono::Utc>,
    expires_at: chrono::DateTime<chrono::Utc>,
    send_count: i32,
    accepted_at: Option<chrono::DateTime<chrono::Utc>>,
    revoked_at: Option<chrono::DateTime<chrono::Utc>>,
}

pub fn invite_state(
    accepted_at: Option<chrono::DateTime<chrono::Utc>>,
    revoked_at: Option<chrono::DateTime<chrono::Utc>>,
    expires_at: chrono::DateTime<chrono::Utc>,
    now: chrono::DateTime<chrono::Utc>,
) -> InviteState {
    if accepted_at.is_some() {
        InviteState::Accepted
    } else if revoked_at.is_some() {
        InviteState::Revoked
    } else if expires_at <= now {
        InviteState::Expired
    } else {
        InviteState::Pending
    }
}

pub async fn invites_of(
    db: impl PgExecutor<'_>,
    workshop_id: WorkshopId,
) -> Result<Vec<InviteSummary>, sqlx::Error> {
    let workshop_id = workshop_id.uuid();
    let rows = sqlx::query_as!(
        InviteRow,
        r#"SELECT id, email, created_at AS "created_at: chrono::DateTime<chrono::Utc>",
                  expires_at AS "expires_at: chrono::DateTime<chrono::Utc>", send_count,
                  accepted_at AS "accepted_at: chrono::DateTime<chrono::Utc>",
                  revoked_at AS "revoked_at: chrono::DateTime<chrono::Utc>"
             FROM mechanic_invites WHERE organization_id = $1
            ORDER BY created_at DESC, id LIMIT 200"#,
        workshop_id
    )
    .fetch_all(db)
    .await?;
    let now = chrono::Utc::now();
    Ok(rows
        .into_iter()
        .map(|r| InviteSummary {
            state: invite_state(r.accepted_at, r.revoked_at, r.expires_at, now),
            id: r.id,
            email: r.email,
            created_at: r.created_at,
            expires_at: r.expires_at,
            send_count: r.send_count,
        })
        .collect())
}

/// Detaches a mechanic from the workshop: they become an independent mechanic
/// whose application the admin has to approve. Returns false when the mechanic
/// is not in that workshop.
pub async fn remove_mechanic(
    db: impl PgExecutor<'_>,
    workshop: WorkshopId,
    mechanic: UserId,
) -> Result<bool, sqlx::Error> {
    let (workshop_id, mechanic) = (workshop.uuid(), mechanic.uuid());
    let done = sqlx::query!(
        "UPDATE mechanics SET account_type = 'independent', workshop_id = NULL, application_status = 'pending',
                auto_approved = false, is_online = false, online_since = NULL, reviewed_at = NULL,
                reviewed_by = NULL, updated_at = now()
          WHERE user_id = $1 AND workshop_id = $2",
        mechanic,
        workshop_id
    )
    .execute(db)
    .await?;
    Ok(done.rows_affected() == 1)
}
