//! Server functions for the platform admin. Every one starts with `require_admin`.

use super::{AdminRequest, RoutingAuditRow};
use super::{AdminWorkshop, ApprovalQueues, MechanicDecision, WorkshopDecision};
use crate::error::AppError;
use crate::mail::MailboxMessage;
use leptos::prelude::*;
use uuid::Uuid;

#[server(prefix = "/api", endpoint = "admin/queues")]
pub async fn get_approval_queues() -> Result<ApprovalQueues, AppError> {
    crate::auth::guard::require_admin()?;
    let state = crate::state::app_state()?;
    let workshops = sqlx::query_as!(
        AdminWorkshop,
        r#"SELECT o.id, o.name, o.city, o.contact_email, u.name AS "owner_name?",
                u.email AS "owner_email?", o.description, o.specialties,
                o.status AS "status: crate::status::WorkshopStatus", o.status_reason, o.platform_fee_bps,
                o.custom_fee_agreement,
                (SELECT count(*) FROM mechanics m WHERE m.workshop_id = o.id) AS "mechanics!",
                o.created_at AS "created_at: chrono::DateTime<chrono::Utc>"
           FROM organizations o
           LEFT JOIN organization_members om ON om.organization_id = o.id AND om.role = 'owner'
           LEFT JOIN users u ON u.id = om.user_id
          WHERE o.status = 'pending' ORDER BY o.created_at, o.id"#
    )
    .fetch_all(&state.pool)
    .await?;
    let mechanics = sqlx::query_as!(
        super::PendingMechanic,
        r#"SELECT m.user_id, u.name, u.email, m.specialties, m.years_experience, m.certifications,
                m.created_at AS "applied_at: chrono::DateTime<chrono::Utc>"
           FROM mechanics m JOIN users u ON u.id = m.user_id
          WHERE m.application_status = 'pending' AND m.workshop_id IS NULL
          ORDER BY m.created_at, m.user_id"#
    )
    .fetch_all(&state.pool)
    .await?;
    Ok(ApprovalQueues { workshops, mechanics })
}

#[server(prefix = "/api", endpoint = "admin/workshops")]
pub async fn admin_workshops() -> Result<Vec<AdminWorkshop>, AppError> {
    crate::auth::guard::require_admin()?;
    let state = crate::state::app_state()?;
    Ok(sqlx::query_as!(
        AdminWorkshop,
        r#"SELECT o.id, o.name, o.city, o.contact_email, u.name AS "owner_name?",
                u.email AS "owner_email?", o.description, o.specialties,
                o.status AS "status: crate::status::WorkshopStatus", o.status_reason, o.platform_fee_bps,
                o.custom_fee_agreement,
                (SELECT count(*) FROM mechanics m WHERE m.workshop_id = o.id) AS "mechanics!",
                o.created_at AS "created_at: chrono::DateTime<chrono::Utc>"
           FROM organizations o
           LEFT JOIN organization_members om ON om.organization_id = o.id AND om.role = 'owner'
           LEFT JOIN users u ON u.id = om.user_id
          ORDER BY (o.status = 'pending') DESC, o.name, o.id LIMIT 1000"#
    )
    .fetch_all(&state.pool)
    .await?)
}

/// Approves, rejects, suspends or reactivates a workshop. Rejecting and
/// suspending need a reason, which the owner sees.
#[server(prefix = "/api", endpoint = "admin/workshop/decide")]
pub async fn decide_workshop(
    workshop_id: Uuid,
    decision: WorkshopDecision,
    reason: Option<String>,
) -> Result<(), AppError> {
    let admin = crate::auth::guard::require_admin()?;
    let state = crate::state::app_state()?;
    let reason = reason.map(|r| r.trim().to_string()).filter(|r| !r.is_empty());
    if decision.needs_reason() && reason.is_none() {
        return Err(AppError::field("reason", "Give a reason: the workshop's owner will see it."));
    }
    if let Some(p) = reason.as_deref().and_then(|r| crate::validate::text_problem(r, 1, 500, "the reason")) {
        return Err(AppError::field("reason", p));
    }
    let (to, from) = decision.transition();
    let mut tx = state.pool.begin().await?;
    let current = sqlx::query_scalar!(
        r#"SELECT status AS "status: crate::status::WorkshopStatus" FROM organizations WHERE id = $1 FOR UPDATE"#,
        workshop_id
    )
    .fetch_optional(&mut *tx)
    .await?;
    let Some(current) = current else { return Err(AppError::not_found("There is no such workshop.")) };
    if !from.contains(&current) {
        return Err(AppError::conflict(format!(
            "The workshop is {} now, so it cannot be changed that way.",
            current.label().to_lowercase()
        )));
    }
    let stored_reason = if decision.needs_reason() { reason.clone() } else { None };
    let changed_at = sqlx::query_scalar!(
        r#"UPDATE organizations SET status = $2, status_reason = $3, status_changed_at = now(),
                status_changed_by = $4, updated_at = now()
          WHERE id = $1 RETURNING status_changed_at AS "status_changed_at!: chrono::DateTime<chrono::Utc>""#,
        workshop_id,
        to as crate::status::WorkshopStatus,
        stored_reason,
        admin.id
    )
    .fetch_one(&mut *tx)
    .await?;
    let kind = match to {
        crate::status::WorkshopStatus::Active => Some(crate::notifications::Kind::WorkshopApproved),
        crate::status::WorkshopStatus::Rejected => Some(crate::notifications::Kind::WorkshopRejected),
        crate::status::WorkshopStatus::Suspended => Some(crate::notifications::Kind::WorkshopSuspended),
        _ => None,
    };
    if let Some(kind) = kind {
        // The event is this transition: the workshop and the moment it changed.
        let event = format!("{workshop_id}:{}", changed_at.timestamp_micros());
        let reason = if decision.needs_reason() { reason.as_deref() } else { None };
        crate::notifications::notices::workshop_decision(
            &mut tx,
            &state.config.public_url,
            crate::ids::WorkshopId(workshop_id),
            kind,
            reason,
            &event,
        )
        .await?;
    }
    if to != crate::status::WorkshopStatus::Active {
        // A workshop that is not active serves nobody: its mechanics go offline.
        sqlx::query!(
            "UPDATE mechanics SET is_online = false, online_since = NULL WHERE workshop_id = $1",
            workshop_id
        )
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    tracing::info!(admin = %admin.id, workshop = %workshop_id, ?decision, "workshop status changed");
    Ok(())
}

/// Approves or rejects an independent mechanic's application.
#[server(prefix = "/api", endpoint = "admin/mechanic/decide")]
pub async fn decide_mechanic(
    mechanic_id: Uuid,
    decision: MechanicDecision,
    reason: Option<String>,
) -> Result<(), AppError> {
    let admin = crate::auth::guard::require_admin()?;
    let state = crate::state::app_state()?;
    let reason = reason.map(|r| r.trim().to_string()).filter(|r| !r.is_empty());
    if decision == MechanicDecision::Reject && reason.is_none() {
        return Err(AppError::field("reason", "Give a reason: the mechanic will see it."));
    }
    if let Some(p) = reason.as_deref().and_then(|r| crate::validate::text_problem(r, 1, 500, "the reason")) {
        return Err(AppError::field("reason", p));
    }
    let status = match decision {
        MechanicDecision::Approve => crate::status::ApplicationStatus::Approved,
        MechanicDecision::Reject => crate::status::ApplicationStatus::Rejected,
    };
    let reason = if decision == MechanicDecision::Reject { reason } else { None };
    let mut tx = state.pool.begin().await?;
    let reviewed_at = sqlx::query_scalar!(
        r#"UPDATE mechanics SET application_status = $2::application_status, rejection_reason = $3, reviewed_at = now(),
                reviewed_by = $4, is_online = CASE WHEN $2::application_status = 'approved' THEN is_online ELSE false END,
                updated_at = now()
          WHERE user_id = $1 AND workshop_id IS NULL AND application_status = 'pending'
          RETURNING reviewed_at AS "reviewed_at!: chrono::DateTime<chrono::Utc>""#,
        mechanic_id,
        status as crate::status::ApplicationStatus,
        reason,
        admin.id
    )
    .fetch_optional(&mut *tx)
    .await?;
    let Some(reviewed_at) = reviewed_at else {
        return Err(AppError::not_found("There is no pending independent application with that id."));
    };
    // The event is this decision: the mechanic and the moment it was made.
    let event = format!("{mechanic_id}:{}", reviewed_at.timestamp_micros());
    crate::notifications::notices::application_decision(
        &mut tx,
        &state.config.public_url,
        crate::ids::UserId(mechanic_id),
        decision == MechanicDecision::Approve,
        reason.as_deref(),
        &event,
    )
    .await?;
    tx.commit().await?;
    tracing::info!(admin = %admin.id, mechanic = %mechanic_id, ?decision, "mechanic application decided");
    Ok(())
}

/// Changes a workshop's platform fee. It applies to bookings made from now on;
/// sessions already booked keep the terms they were booked under.
#[server(prefix = "/api", endpoint = "admin/workshop/fee")]
pub async fn set_workshop_fee(
    workshop_id: Uuid,
    fee_percent: String,
    note: Option<String>,
) -> Result<i32, AppError> {
    let admin = crate::auth::guard::require_admin()?;
    let state = crate::state::app_state()?;
    let bps = super::parse_percent_to_bps(&fee_percent).map_err(|p| AppError::field("fee_percent", p))?;
    let note = note.map(|n| n.trim().to_string()).filter(|n| !n.is_empty());
    if let Some(p) = note.as_deref().and_then(|n| crate::validate::text_problem(n, 1, 500, "the note")) {
        return Err(AppError::field("note", p));
    }
    let mut tx = state.pool.begin().await?;
    let done = sqlx::query!(
        "UPDATE organizations SET platform_fee_bps = $2, custom_fee_agreement = $3, updated_at = now() WHERE id = $1",
        workshop_id,
        bps,
        note
    )
    .execute(&mut *tx)
    .await?;
    if done.rows_affected() != 1 {
        return Err(AppError::not_found("There is no such workshop."));
    }
    sqlx::query!(
        "INSERT INTO organization_fee_terms (organization_id, platform_fee_bps, note, set_by) VALUES ($1, $2, $3, $4)",
        workshop_id,
        bps,
        note,
        admin.id
    )
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    tracing::info!(admin = %admin.id, workshop = %workshop_id, bps, "workshop fee changed");
    Ok(bps)
}

/// The newest outgoing emails (the whole flow works without SMTP through this page).
#[server(prefix = "/api", endpoint = "admin/mailbox")]
pub async fn mailbox() -> Result<Vec<MailboxMessage>, AppError> {
    crate::auth::guard::require_admin()?;
    let state = crate::state::app_state()?;
    Ok(crate::mail::outbox::recent(&state.pool, 200).await?)
}

/// Recent requests, for the admin's routing audit.
#[server(prefix = "/api", endpoint = "admin/requests")]
pub async fn admin_requests() -> Result<Vec<AdminRequest>, AppError> {
    crate::auth::guard::require_admin()?;
    let state = crate::state::app_state()?;
    Ok(sqlx::query_as!(
        AdminRequest,
        r#"SELECT r.id AS request_id, r.order_id, cu.email AS customer_email,
                r.routing_type AS "routing_type: crate::dispatch::RoutingType",
                pw.name AS "preferred_workshop_name?", r.status AS "status: crate::status::RequestStatus",
                mu.name AS "mechanic_name?", sw.name AS "serving_workshop_name?",
                r.created_at AS "created_at: chrono::DateTime<chrono::Utc>",
                r.accepted_at AS "accepted_at: chrono::DateTime<chrono::Utc>"
           FROM session_requests r
           JOIN users cu ON cu.id = r.customer_id
           LEFT JOIN organizations pw ON pw.id = r.preferred_workshop_id
           LEFT JOIN users mu ON mu.id = r.mechanic_id
           LEFT JOIN organizations sw ON sw.id = r.workshop_id
          ORDER BY r.created_at DESC, r.id LIMIT 100"#
    )
    .fetch_all(&state.pool)
    .await?)
}

/// Every routing decision about one request, in order.
#[server(prefix = "/api", endpoint = "admin/request-audit")]
pub async fn request_audit(request_id: Uuid) -> Result<Vec<RoutingAuditRow>, AppError> {
    crate::auth::guard::require_admin()?;
    let state = crate::state::app_state()?;
    Ok(sqlx::query_as!(
        RoutingAuditRow,
        r#"SELECT e.id, e.kind, u.name AS "mechanic_name?", e.details,
                  e.created_at AS "created_at: chrono::DateTime<chrono::Utc>"
           FROM routing_events e LEFT JOIN users u ON u.id = e.mechanic_id
          WHERE e.request_id = $1 ORDER BY e.id"#,
        request_id
    )
    .fetch_all(&state.pool)
    .await?)
}
