//! Offers to mechanics: a paid request is offered to the mechanics the dispatch
//! rules pick (live, on their dashboard), the first accept wins, and a worker
//! widens or expires requests nobody took, and another mails online mechanics
//! with no dashboard open about what is offered to them. Also the mechanic's dashboard, which
//! shows the offers beside the mechanic's status and sessions.

pub mod api;
pub mod dashboard;
pub mod pages;

#[cfg(feature = "ssr")]
pub mod accept;
#[cfg(feature = "ssr")]
pub mod live;
#[cfg(feature = "ssr")]
pub mod mail;
#[cfg(feature = "ssr")]
pub mod presence;

#[cfg(feature = "ssr")]
pub mod store;

use crate::dispatch::{RoutingType, Tier};
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

/// Everything on the mechanic's dashboard, loaded at once.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MechanicDashboard {
    pub profile: crate::mechanics::MechanicProfile,
    pub offers: Vec<OfferView>,
    pub sessions: Vec<crate::sessions::MechanicSession>,
}

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
}
