//! The mechanic's written diagnosis of a session: its types (shared by the
//! server and the browser), how each choice reads, and the pages and server
//! functions around it. Validation of the form lives in `form.rs`; the SQL in
//! `store.rs` and `shares.rs` (server only).

pub mod api;
pub mod email;
pub mod form;
pub mod print;
pub mod share;
pub mod view;

#[cfg(feature = "ssr")]
pub mod shares;
#[cfg(feature = "ssr")]
pub mod store;

use crate::status::SessionStatus;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// How soon a recommended repair should be done.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(sqlx::Type))]
#[cfg_attr(feature = "ssr", sqlx(type_name = "repair_urgency", rename_all = "snake_case"))]
#[serde(rename_all = "snake_case")]
pub enum Urgency {
    Now,
    Soon,
    CanWait,
}

impl Urgency {
    pub const ALL: [Urgency; 3] = [Urgency::Now, Urgency::Soon, Urgency::CanWait];

    /// The form value (and the PostgreSQL label).
    pub fn code(self) -> &'static str {
        match self {
            Urgency::Now => "now",
            Urgency::Soon => "soon",
            Urgency::CanWait => "can_wait",
        }
    }
    pub fn label(self) -> &'static str {
        match self {
            Urgency::Now => "Now",
            Urgency::Soon => "Soon",
            Urgency::CanWait => "Can wait",
        }
    }
    pub fn parse(code: &str) -> Option<Urgency> {
        Urgency::ALL.into_iter().find(|u| u.code() == code.trim())
    }
}

/// Whether the car can be driven until it is repaired.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(sqlx::Type))]
#[cfg_attr(feature = "ssr", sqlx(type_name = "safe_to_drive", rename_all = "snake_case"))]
#[serde(rename_all = "snake_case")]
pub enum SafeToDrive {
    Yes,
    WithCare,
    No,
}

impl SafeToDrive {
    pub const ALL: [SafeToDrive; 3] = [SafeToDrive::Yes, SafeToDrive::WithCare, SafeToDrive::No];

    pub fn code(self) -> &'static str {
        match self {
            SafeToDrive::Yes => "yes",
            SafeToDrive::WithCare => "with_care",
            SafeToDrive::No => "no",
        }
    }
    pub fn label(self) -> &'static str {
        match self {
            SafeToDrive::Yes => "Yes",
            SafeToDrive::WithCare => "Yes, with care",
            SafeToDrive::No => "No: have it towed or repaired first",
        }
    }
    pub fn parse(code: &str) -> Option<SafeToDrive> {
        SafeToDrive::ALL.into_iter().find(|s| s.code() == code.trim())
    }
}

/// One recommended repair, its cost range in integer cents (min ≤ max).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Repair {
    pub description: String,
    pub urgency: Urgency,
    pub cost_min_cents: i64,
    pub cost_max_cents: i64,
}

/// What the mechanic wrote, validated (see [`form::validate_report`]).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReportDraft {
    pub summary: String,
    pub likely_causes: String,
    pub safe_to_drive: SafeToDrive,
    pub follow_ups: String,
    pub repairs: Vec<Repair>,
}

/// A saved report, as every page shows it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Report {
    pub summary: String,
    pub likely_causes: String,
    pub safe_to_drive: SafeToDrive,
    pub follow_ups: String,
    pub repairs: Vec<Repair>,
    /// The order's currency, for the cost ranges.
    pub currency: String,
    pub updated_at: chrono::DateTime<chrono::Utc>,
}

/// One of the customer's share links (the token itself is shown only once, when made).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ShareLink {
    pub id: Uuid,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub revoked_at: Option<chrono::DateTime<chrono::Utc>>,
}

/// The print-ready page of a session's report, for its customer, its mechanic or an admin.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ReportPage {
    pub session_id: Uuid,
    pub status: SessionStatus,
    pub plan_name: String,
    pub vehicle: String,
    pub mechanic_name: String,
    pub workshop_name: Option<String>,
    pub session_date: chrono::DateTime<chrono::Utc>,
    pub report: Option<Report>,
    /// Only the customer manages share links; empty for everyone else.
    pub viewer_is_customer: bool,
    pub shares: Vec<ShareLink>,
    /// The start of a share link (`PUBLIC_URL/report/`), before its token.
    pub share_base: String,
}

/// What a share link shows: the plan, the date, the vehicle and the report;
/// nothing about the people (no names, no emails, not the customer's own words).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SharedReport {
    pub plan_name: String,
    pub vehicle: String,
    pub session_date: chrono::DateTime<chrono::Utc>,
    pub report: Report,
}

pub const SUMMARY_MAX_CHARS: usize = 2000;
pub const TEXT_MAX_CHARS: usize = 2000;
pub const REPAIR_DESCRIPTION_MAX_CHARS: usize = 300;
pub const REPAIRS_MAX: usize = 10;
/// The largest cost a repair may be given: $100,000.00.
pub const COST_MAX_CENTS: i64 = 10_000_000;
/// How many share links of one report may be active at once.
pub const ACTIVE_SHARES_MAX: i64 = 20;

/// A cost range for people: "$120.00" or "$120.00 – $200.00".
pub fn cost_range(min: i64, max: i64, currency: &str) -> String {
    if min == max {
        crate::ui::format_money(min, currency)
    } else {
        format!("{} – {}", crate::ui::format_money(min, currency), crate::ui::format_money(max, currency))
    }
}

/// The path of a session's print-ready report page.
pub fn report_path(session_id: Uuid) -> String {
    format!("/session/{session_id}/report")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn choices_round_trip_through_their_codes() {
        for u in Urgency::ALL {
            assert_eq!(Urgency::parse(u.code()), Some(u));
        }
        for s in SafeToDrive::ALL {
            assert_eq!(SafeToDrive::parse(s.code()), Some(s));
        }
        assert_eq!(Urgency::parse("later"), None);
        assert_eq!(SafeToDrive::parse("maybe"), None);
        assert_eq!(serde_json::to_string(&Urgency::CanWait).unwrap(), "\"can_wait\"");
        assert_eq!(serde_json::to_string(&SafeToDrive::WithCare).unwrap(), "\"with_care\"");
    }

    #[test]
    fn cost_ranges_read_naturally() {
        assert_eq!(cost_range(12000, 12000, "usd"), "$120.00");
        assert_eq!(cost_range(12000, 20050, "usd"), "$120.00 – $200.50");
    }
}
