//! Workshops (organizations): sign-up, the owner's dashboard, inviting and
//! removing mechanics.

pub mod api;
pub mod pages;

#[cfg(feature = "ssr")]
pub mod queries;

#[cfg(all(test, feature = "ssr"))]
mod db_tests;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(sqlx::Type))]
#[cfg_attr(feature = "ssr", sqlx(type_name = "organization_status", rename_all = "snake_case"))]
#[serde(rename_all = "snake_case")]
pub enum WorkshopStatus {
    Pending,
    Active,
    Rejected,
    Suspended,
}

impl WorkshopStatus {
    pub fn label(self) -> &'static str {
        match self {
            WorkshopStatus::Pending => "Waiting for approval",
            WorkshopStatus::Active => "Active",
            WorkshopStatus::Rejected => "Rejected",
            WorkshopStatus::Suspended => "Suspended",
        }
    }
    pub fn badge(self) -> &'static str {
        match self {
            WorkshopStatus::Pending => "badge warning",
            WorkshopStatus::Active => "badge success",
            WorkshopStatus::Rejected | WorkshopStatus::Suspended => "badge danger",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(sqlx::Type))]
#[cfg_attr(feature = "ssr", sqlx(type_name = "member_role", rename_all = "snake_case"))]
#[serde(rename_all = "snake_case")]
pub enum MemberRole {
    Owner,
    Staff,
}

/// A workshop as its owner sees it.
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
    pub analytics: crate::sessions::WorkshopAnalytics,
}

pub const SPECIALTIES_MAX: usize = 20;
pub const SPECIALTY_LEN_MAX: usize = 40;

/// Splits a comma-separated list of specialties, trimming, dropping empties and
/// duplicates (case-insensitively), keeping the order given.
pub fn parse_specialties(raw: &str) -> Result<Vec<String>, String> {
    let mut out: Vec<String> = Vec::new();
    for part in raw.split([',', '\n', ';']) {
        let s = part.trim();
        if s.is_empty() {
            continue;
        }
        if s.chars().count() > SPECIALTY_LEN_MAX {
            return Err(format!("Keep each specialty under {SPECIALTY_LEN_MAX} characters."));
        }
        if s.chars().any(char::is_control) {
            return Err("Use letters, digits and punctuation only.".into());
        }
        if !out.iter().any(|o| o.eq_ignore_ascii_case(s)) {
            out.push(s.to_string());
        }
    }
    if out.len() > SPECIALTIES_MAX {
        return Err(format!("List at most {SPECIALTIES_MAX} specialties."));
    }
    Ok(out)
}

/// Checks a free-text field: trimmed length within `min..=max` characters and no
/// control characters other than line breaks.
pub fn text_problem(value: &str, min: usize, max: usize, what: &str) -> Option<String> {
    let len = value.trim().chars().count();
    if len < min {
        Some(if min == 1 {
            format!("Enter {what}.")
        } else {
            format!("Use at least {min} characters for {what}.")
        })
    } else if len > max {
        Some(format!("Use at most {max} characters for {what}."))
    } else if value.chars().any(|c| c.is_control() && c != '\n' && c != '\r' && c != '\t') {
        Some(format!("Remove the special characters from {what}."))
    } else {
        None
    }
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
    fn specialties_are_cleaned_up() {
        assert_eq!(
            parse_specialties(" Brakes, engines,,brakes ; EV\n").unwrap(),
            vec!["Brakes".to_string(), "engines".to_string(), "EV".to_string()]
        );
        assert!(parse_specialties(&"x".repeat(41)).is_err());
        let many = (0..21).map(|i| format!("s{i}")).collect::<Vec<_>>().join(",");
        assert!(parse_specialties(&many).is_err());
        assert_eq!(parse_specialties("").unwrap(), Vec::<String>::new());
    }

    #[test]
    fn text_fields_are_bounded() {
        assert!(text_problem("  ", 1, 10, "a city").is_some());
        assert!(text_problem("Lyon", 1, 10, "a city").is_none());
        assert!(text_problem("abcdefghijk", 1, 10, "a city").is_some());
        assert!(text_problem("line\nbreak", 0, 100, "a description").is_none());
        assert!(text_problem("bell\u{7}", 0, 100, "a description").is_some());
    }

    #[test]
    fn basis_points_read_as_percentages() {
        assert_eq!(format_bps(2000), "20%");
        assert_eq!(format_bps(1250), "12.5%");
        assert_eq!(format_bps(1234), "12.34%");
        assert_eq!(format_bps(0), "0%");
    }
}
