//! The platform admin's pages: approval queues, workshops and their fees, the
//! mailbox, and the requests with their routing audit.

pub mod api;
pub mod pages;
pub mod requests_page;

use crate::dispatch::RoutingType;
use crate::status::WorkshopStatus;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// A workshop in the admin's lists.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(sqlx::FromRow))]
pub struct AdminWorkshop {
    pub id: Uuid,
    pub name: String,
    pub city: String,
    pub contact_email: String,
    pub owner_name: Option<String>,
    pub owner_email: Option<String>,
    pub description: String,
    pub specialties: Vec<String>,
    pub status: WorkshopStatus,
    pub status_reason: Option<String>,
    pub platform_fee_bps: i32,
    pub custom_fee_agreement: Option<String>,
    pub mechanics: i64,
    pub created_at: chrono::DateTime<chrono::Utc>,
}

/// An independent mechanic waiting for approval.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(sqlx::FromRow))]
pub struct PendingMechanic {
    pub user_id: Uuid,
    pub name: String,
    pub email: String,
    pub specialties: Vec<String>,
    pub years_experience: i32,
    pub certifications: String,
    pub applied_at: chrono::DateTime<chrono::Utc>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ApprovalQueues {
    pub workshops: Vec<AdminWorkshop>,
    pub mechanics: Vec<PendingMechanic>,
}

/// What the admin decides about a workshop.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WorkshopDecision {
    Approve,
    Reject,
    Suspend,
    Reactivate,
}

impl WorkshopDecision {
    /// The status it moves to, and the statuses it may move from.
    pub fn transition(self) -> (WorkshopStatus, &'static [WorkshopStatus]) {
        use WorkshopStatus::*;
        match self {
            WorkshopDecision::Approve => (Active, &[Pending, Rejected]),
            WorkshopDecision::Reject => (Rejected, &[Pending]),
            WorkshopDecision::Suspend => (Suspended, &[Active]),
            WorkshopDecision::Reactivate => (Active, &[Suspended]),
        }
    }
    pub fn needs_reason(self) -> bool {
        matches!(self, WorkshopDecision::Reject | WorkshopDecision::Suspend)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MechanicDecision {
    Approve,
    Reject,
}

/// Parses a fee typed as a percentage ("20", "17.5", "12.25%") into basis points.
pub fn parse_percent_to_bps(raw: &str) -> Result<i32, String> {
    let s = raw.trim().trim_end_matches('%').trim();
    let problem = || "Enter a percentage between 0 and 100 with at most two decimals, e.g. 17.5.".to_string();
    if s.is_empty() {
        return Err(problem());
    }
    let (whole, frac) = s.split_once('.').unwrap_or((s, ""));
    if whole.is_empty() || !whole.bytes().all(|b| b.is_ascii_digit()) || frac.len() > 2 {
        return Err(problem());
    }
    if !frac.bytes().all(|b| b.is_ascii_digit()) || whole.len() > 3 {
        return Err(problem());
    }
    let whole: i32 = whole.parse().map_err(|_| problem())?;
    let frac: i32 = if frac.is_empty() { 0 } else { format!("{frac:0<2}").parse().map_err(|_| problem())? };
    let bps = whole * 100 + frac;
    if (0..=10_000).contains(&bps) {
        Ok(bps)
    } else {
        Err(problem())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentages_become_basis_points_exactly() {
        assert_eq!(parse_percent_to_bps("20"), Ok(2000));
        assert_eq!(parse_percent_to_bps("17.5"), Ok(1750));
        assert_eq!(parse_percent_to_bps("12.25%"), Ok(1225));
        assert_eq!(parse_percent_to_bps("0"), Ok(0));
        assert_eq!(parse_percent_to_bps("100"), Ok(10_000));
        for bad in ["", "-1", "100.01", "1.234", "abc", "1e3", "12,5", ".5", "1000"] {
            assert!(parse_percent_to_bps(bad).is_err(), "{bad:?}");
        }
        assert_eq!(parse_percent_to_bps("5."), Ok(500));
    }

    #[test]
    fn workshop_decisions_only_move_from_allowed_states() {
        let (to, from) = WorkshopDecision::Suspend.transition();
        assert_eq!(to, WorkshopStatus::Suspended);
        assert_eq!(from, &[WorkshopStatus::Active]);
        assert!(WorkshopDecision::Reject.needs_reason());
        assert!(!WorkshopDecision::Approve.needs_reason());
    }
}

/// A routing decision, as the admin reads it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(sqlx::FromRow))]
pub struct RoutingAuditRow {
    pub id: i64,
    pub kind: String,
    pub mechanic_name: Option<String>,
    pub details: serde_json::Value,
    pub created_at: chrono::DateTime<chrono::Utc>,
}

/// A request in the admin's list.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(sqlx::FromRow))]
pub struct AdminRequest {
    pub request_id: Uuid,
    pub order_id: Uuid,
    pub customer_email: String,
    pub routing_type: RoutingType,
    pub preferred_workshop_name: Option<String>,
    pub status: crate::status::RequestStatus,
    pub mechanic_name: Option<String>,
    pub serving_workshop_name: Option<String>,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub accepted_at: Option<chrono::DateTime<chrono::Utc>>,
}
