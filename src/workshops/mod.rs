//! Workshops (organizations): sign-up, the owner's dashboard, inviting and
//! removing mechanics; the public workshop page (`public*`), the logo (`logo*`)
//! and the analytics over time (`trends*`).

pub mod analytics;
pub mod api;
pub mod invites;
pub mod logo_pages;
pub mod pages;
pub mod profile;
pub mod profile_page;
pub mod public;
pub mod public_page;
pub mod trends;
pub mod trends_pages;

#[cfg(feature = "ssr")]
pub mod logo;
#[cfg(feature = "ssr")]
pub mod public_queries;
#[cfg(feature = "ssr")]
pub mod queries;
#[cfg(feature = "ssr")]
pub mod trends_csv;
#[cfg(feature = "ssr")]
pub mod trends_queries;

pub use crate::status::{MemberRole, WorkshopStatus};
pub use crate::validate::{parse_specialties, text_problem, SPECIALTIES_MAX, SPECIALTY_LEN_MAX};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// A workshop as its owner sees it.
/// Checks the city, address, description and specialties of a workshop as
/// typed (registration and the owner's profile edits share these limits),
/// adding field errors; returns the specialties.
pub fn check_place_and_description(
    city: &str,
    address: &str,
    description: &str,
    specialties: &str,
    errors: &mut crate::error::FieldErrors,
) -> Vec<String> {
    if let Some(p) = text_problem(city, 1, 80, "the city") {
        errors.add("city", p);
    }
    if let Some(p) = text_problem(address, 0, 200, "the address") {
        errors.add("address", p);
    }
    if let Some(p) = text_problem(description, 0, 2000, "the description") {
        errors.add("description", p);
    }
    match parse_specialties(specialties) {
        Ok(s) => s,
        Err(p) => {
            errors.add("specialties", p);
            Vec::new()
        }
    }
}

/// A workshop's registration as typed, kept with a pending sign-up until the
/// owner confirms their email (`crate::signup`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkshopApplication {
    pub name: String,
    pub contact_email: String,
    pub phone: String,
    pub city: String,
    pub address: String,
    pub description: String,
    pub specialties: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(sqlx::FromRow))]
pub struct Workshop {
    pub id: Uuid,
    pub name: String,
    pub contact_email: String,
    pub phone: String,
    pub city: String,
    pub address: String,
    pub description: String,
    pub specialties: Vec<String>,
    pub status: WorkshopStatus,
    pub status_reason: Option<String>,
    pub platform_fee_bps: i32,
    pub custom_fee_agreement: Option<String>,
    pub stripe_onboarding_completed: bool,
    pub stripe_payouts_enabled: bool,
}

/// One of the workshop's mechanics on the owner's dashboard.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(sqlx::FromRow))]
pub struct WorkshopMechanic {
    pub user_id: Uuid,
    pub name: String,
    pub email: String,
    pub is_online: bool,
    pub capacity: i32,
    pub active_sessions: i32,
    pub sessions_served: i64,
    pub joined_at: chrono::DateTime<chrono::Utc>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InviteState {
    Pending,
    Accepted,
    Expired,
    Revoked,
}

impl InviteState {
    pub fn label(self) -> &'static str {
        match self {
            InviteState::Pending => "Pending",
            InviteState::Accepted => "Accepted",
            InviteState::Expired => "Expired",
            InviteState::Revoked => "Revoked",
        }
    }
    pub fn badge(self) -> &'static str {
        match self {
            InviteState::Pending => "badge info",
            InviteState::Accepted => "badge success",
            InviteState::Expired => "badge warning",
            InviteState::Revoked => "badge",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct InviteSummary {
    pub id: Uuid,
    pub email: String,
    pub state: InviteState,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub expires_at: chrono::DateTime<chrono::Utc>,
    pub send_count: i32,
}

/// Everything on the owner's dashboard.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct WorkshopDashboard {
    pub workshop: Workshop,
    pub my_role: MemberRole,
    pub mechanics: Vec<WorkshopMechanic>,
    pub invites: Vec<InviteSummary>,
    pub analytics: analytics::WorkshopAnalytics,
}

/// Formats basis points as a percentage, e.g. 2000 -> "20%", 1250 -> "12.5%".
pub fn format_bps(bps: i32) -> String {
    let whole = bps / 100;
    let frac = bps % 100;
    if frac == 0 {
        format!("{whole}%")
    } else if frac % 10 == 0 {
        format!("{whole}.{}%", frac / 10)
    } else {
        format!("{whole}.{frac:02}%")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basis_points_read_as_percentages() {
        assert_eq!(format_bps(2000), "20%");
        assert_eq!(format_bps(1250), "12.5%");
        assert_eq!(format_bps(1234), "12.34%");
        assert_eq!(format_bps(0), "0%");
    }
}
