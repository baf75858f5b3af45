//! The session lifecycle: offers to mechanics (live), first-accept-wins, the
//! session room with chat, ending and rating, widening or cancelling an
//! unserved request, the routing audit and workshop analytics.

pub mod api;
pub mod pages;

#[cfg(feature = "ssr")]
pub mod lifecycle;
#[cfg(feature = "ssr")]
pub mod live;

#[cfg(all(test, feature = "ssr"))]
mod db_tests;

use crate::routing::{RoutingType, Tier};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// A request as a mechanic sees it on their dashboard.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct OfferView {
    pub request_id: Uuid,
    pub plan_name: String,
    pub minutes: i32,
    pub vehicle: String,
    pub problem: String,
    pub routing_type: RoutingType,
    pub preferred_workshop_name: Option<String>,
    pub priority: u8,
    pub tier: Tier,
    pub reason: String,
    pub waiting_secs: i64,
}

impl OfferView {
    /// Offered because the customer chose this mechanic's workshop.
    pub fn is_preferred(&self) -> bool {
        self.tier == Tier::PreferredWorkshop
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(sqlx::Type))]
#[cfg_attr(feature = "ssr", sqlx(type_name = "session_status", rename_all = "snake_case"))]
#[serde(rename_all = "snake_case")]
pub enum SessionStatus {
    Accepted,
    Active,
    Completed,
    Cancelled,
}

impl SessionStatus {
    pub fn label(self) -> &'static str {
        match self {
            SessionStatus::Accepted => "Mechanic assigned",
            SessionStatus::Active => "In session",
            SessionStatus::Completed => "Completed",
            SessionStatus::Cancelled => "Cancelled",
        }
    }
    pub fn is_open(self) -> bool {
        matches!(self, SessionStatus::Accepted | SessionStatus::Active)
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(sqlx::FromRow))]
pub struct ChatLine {
    pub id: i64,
    pub sender_id: Uuid,
    pub sender_name: String,
    pub body: String,
    pub created_at: chrono::DateTime<chrono::Utc>,
}

/// Everything the session room shows; the same for both participants, with
/// `viewer_is_mechanic` telling which one is looking.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SessionRoom {
    pub session_id: Uuid,
    pub order_id: Uuid,
    pub status: SessionStatus,
    pub viewer_is_mechanic: bool,
    pub customer_name: String,
    pub mechanic_name: String,
    pub workshop_name: Option<String>,
    pub plan_name: String,
    pub minutes: i32,
    pub vehicle: String,
    pub problem: String,
    pub started_at: Option<chrono::DateTime<chrono::Utc>>,
    pub ended_at: Option<chrono::DateTime<chrono::Utc>>,
    pub rating: Option<i16>,
    pub rating_comment: Option<String>,
    pub messages: Vec<ChatLine>,
}

/// One of the mechanic's sessions on their dashboard.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(sqlx::FromRow))]
pub struct MechanicSession {
    pub session_id: Uuid,
    pub customer_name: String,
    pub plan_name: String,
    pub vehicle: String,
    pub status: SessionStatus,
    pub created_at: chrono::DateTime<chrono::Utc>,
}

/// Everything on the mechanic's dashboard, loaded at once.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MechanicDashboard {
    pub profile: crate::mechanics::MechanicProfile,
    pub offers: Vec<OfferView>,
    pub sessions: Vec<MechanicSession>,
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
    pub status: crate::booking::RequestStatus,
    pub mechanic_name: Option<String>,
    pub serving_workshop_name: Option<String>,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub accepted_at: Option<chrono::DateTime<chrono::Utc>>,
}

/// The seed's `workshop_session_analytics`, per workshop.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(sqlx::FromRow))]
pub struct WorkshopAnalytics {
    pub workshop_id: Uuid,
    pub workshop_name: String,
    /// Paid requests whose customer chose this workshop.
    pub requests_preferred: i64,
    /// Of those, taken by this workshop's own mechanics.
    pub preferred_served_by_self: i64,
    /// Sessions this workshop's mechanics took (whoever the customer chose).
    pub sessions_served: i64,
    pub sessions_completed: i64,
    pub avg_rating: Option<f64>,
    pub rating_count: i64,
    pub median_accept_seconds: Option<i32>,
}

impl WorkshopAnalytics {
    /// Share of the requests that chose this workshop which its mechanics took, in percent.
    pub fn acceptance_rate_percent(&self) -> Option<i64> {
        (self.requests_preferred > 0).then(|| self.preferred_served_by_self * 100 / self.requests_preferred)
    }
}

pub const CHAT_MAX_CHARS: usize = 2000;
pub const RATING_COMMENT_MAX_CHARS: usize = 1000;

/// The histogram bucket of a time-to-accept: seconds up to a minute, tens of
/// seconds up to ten minutes, minutes up to an hour, then one bucket.
pub fn accept_bucket(secs: i64) -> i32 {
    let s = secs.max(0);
    let bucket = match s {
        0..=59 => s,
        60..=599 => s - s % 10,
        600..=3599 => s - s % 60,
        _ => 3600,
    };
    bucket as i32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_times_fall_into_bounded_buckets() {
        assert_eq!(accept_bucket(-5), 0);
        assert_eq!(accept_bucket(42), 42);
        assert_eq!(accept_bucket(67), 60);
        assert_eq!(accept_bucket(599), 590);
        assert_eq!(accept_bucket(661), 660);
        assert_eq!(accept_bucket(100_000), 3600);
        let distinct: std::collections::BTreeSet<i32> = (0..10_000).map(accept_bucket).collect();
        assert!(distinct.len() < 170, "{}", distinct.len());
    }

    #[test]
    fn acceptance_rate_is_of_the_requests_that_chose_the_workshop() {
        let mut a = WorkshopAnalytics {
            workshop_id: Uuid::nil(),
            workshop_name: "W".into(),
            requests_preferred: 0,
            preferred_served_by_self: 0,
            sessions_served: 0,
            sessions_completed: 0,
            avg_rating: None,
            rating_count: 0,
            median_accept_seconds: None,
        };
        assert_eq!(a.acceptance_rate_percent(), None);
        a.requests_preferred = 4;
        a.preferred_served_by_self = 3;
        assert_eq!(a.acceptance_rate_percent(), Some(75));
    }
}
