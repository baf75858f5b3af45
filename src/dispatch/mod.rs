//! Smart routing: who is offered a session request, in what order. Pure Rust:
//! no I/O, compiled for the server and the browser alike.

use std::collections::BTreeSet;

use crate::ids::{UserId, WorkshopId};
use serde::{Deserialize, Serialize};

/// How a customer wants their request routed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[cfg_attr(feature = "ssr", derive(sqlx::Type))]
#[cfg_attr(feature = "ssr", sqlx(type_name = "routing_type", rename_all = "snake_case"))]
#[serde(rename_all = "snake_case")]
pub enum RoutingType {
    /// Every available mechanic, equally ("Any available").
    #[default]
    Broadcast,
    /// Only the chosen workshop's mechanics.
    WorkshopOnly,
    /// The chosen workshop first; other mechanics after a short wait.
    Hybrid,
}

impl RoutingType {
    pub const ALL: [RoutingType; 3] =
        [RoutingType::Broadcast, RoutingType::WorkshopOnly, RoutingType::Hybrid];

    pub fn as_str(self) -> &'static str {
        match self {
            RoutingType::Broadcast => "broadcast",
            RoutingType::WorkshopOnly => "workshop_only",
            RoutingType::Hybrid => "hybrid",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.as_str() == raw.trim())
    }

    /// Whether the strategy needs a chosen workshop.
    pub fn needs_workshop(self) -> bool {
        !matches!(self, RoutingType::Broadcast)
    }

    pub fn label(self) -> &'static str {
        match self {
            RoutingType::Broadcast => "Any available mechanic",
            RoutingType::WorkshopOnly => "Only this workshop",
            RoutingType::Hybrid => "This workshop first",
        }
    }

    /// The choice explained in plain words, for the booking form.
    pub fn explanation(self) -> &'static str {
        match self {
            RoutingType::Broadcast => {
                "The first qualified mechanic who is free takes your session. Usually the fastest."
            }
            RoutingType::WorkshopOnly => {
                "Only this workshop's mechanics see your request. If none of them takes it within 10 minutes, \
                 we tell you, and you can open it to everyone or cancel for a full refund."
            }
            RoutingType::Hybrid => {
                "This workshop's mechanics see your request first. If none of them takes it within a minute, \
                 other qualified mechanics are offered it too."
            }
        }
    }
}

/// Offered first, before anyone else sees the request.
pub const PRIORITY_PREFERRED: u8 = 100;
pub const PRIORITY_OTHER_WORKSHOP: u8 = 50;
/// Below other workshops: once widened, a workshop the customer did not pick still
/// beats a lone mechanic, because a workshop stands behind its people.
pub const PRIORITY_INDEPENDENT: u8 = 25;
/// Same weight as another workshop so a broadcast favours nobody.
pub const PRIORITY_BROADCAST: u8 = 50;
/// Long enough for the chosen workshop to react, short enough that the customer does not give up.
pub const DEFAULT_ESCALATION_SECS: i64 = 60;

/// Why a mechanic sees a request, which also fixes the priority.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Tier {
    PreferredWorkshop,
    OtherWorkshop,
    Independent,
    Broadcast,
}

impl Tier {
    pub fn priority(self) -> u8 {
        match self {
            Tier::PreferredWorkshop => PRIORITY_PREFERRED,
            Tier::OtherWorkshop => PRIORITY_OTHER_WORKSHOP,
            Tier::Independent => PRIORITY_INDEPENDENT,
            Tier::Broadcast => PRIORITY_BROADCAST,
        }
    }
}

/// A paid request waiting for a mechanic.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RoutingRequest {
    pub routing: RoutingType,
    /// Always set for workshop-only and hybrid requests; if it is missing anyway,
    /// the request is broadcast rather than stranded.
    pub preferred_workshop: Option<WorkshopId>,
    /// Seconds since the request was paid; negative values (clock skew) count as 0.
    pub age_secs: i64,
}

/// A mechanic who might be offered the request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Candidate {
    pub mechanic_id: UserId,
    /// `None` = independent.
    pub workshop_id: Option<WorkshopId>,
    /// Application approved and, for workshop mechanics, the workshop is active.
    pub approved: bool,
    pub online: bool,
    pub active_sessions: i32,
    pub capacity: i32,
    /// Can be paid out (Stripe payouts enabled for them or their workshop).
    pub payout_ready: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RoutingPolicy {
    /// Hybrid requests widen once they are at least this old.
    pub escalation_secs: i64,
    /// Off by default so that onboarding mechanics can work before Stripe is finished;
    /// turned on where unpaid work must never happen.
    pub require_payout_ready: bool,
}

impl Default for RoutingPolicy {
    fn default() -> Self {
        RoutingPolicy { escalation_secs: DEFAULT_ESCALATION_SECS, require_payout_ready: false }
    }
}

/// The first reason a mechanic cannot be offered anything.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Ineligible {
    NotApproved,
    Offline,
    AtCapacity,
    NotPayable,
}

/// One mechanic's view of a request.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Offer {
    pub mechanic_id: UserId,
    pub priority: u8,
    pub tier: Tier,
    /// Shown to the mechanic.
    pub reason: String,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TierCounts {
    pub preferred: u32,
    pub other_workshops: u32,
    pub independents: u32,
    pub ineligible: u32,
}

const REASON_PREFERRED: &str = "The customer chose your workshop";
const REASON_NOBODY_AVAILABLE: &str = "Opened to all mechanics: the chosen workshop has nobody available";
const REASON_BROADCAST: &str = "Open to every mechanic";

/// The strategy actually applied. Folding the defensive "needs a workshop but has none"
/// case into `Broadcast` here keeps every public function consistent about it.
#[derive(Clone, Copy)]
enum Plan {
    Broadcast,
    WorkshopOnly(WorkshopId),
    Hybrid(WorkshopId),
}

fn plan(req: &RoutingRequest) -> Plan {
    match (req.routing, req.preferred_workshop) {
        (RoutingType::WorkshopOnly, Some(w)) => Plan::WorkshopOnly(w),
        (RoutingType::Hybrid, Some(w)) => Plan::Hybrid(w),
        _ => Plan::Broadcast,
    }
}

fn preferred_of(req: &RoutingRequest) -> Option<WorkshopId> {
    match plan(req) {
        Plan::Broadcast => None,
        Plan::WorkshopOnly(w) | Plan::Hybrid(w) => Some(w),
    }
}

fn past_window(req: &RoutingRequest, policy: &RoutingPolicy) -> bool {
    req.age_secs.max(0) >= policy.escalation_secs
}

/// Callers may pass rows with repeated mechanics (e.g. from a join); the first row wins so
/// that a mechanic's offer never depends on which duplicate happened to be looked at.
/// A `BTreeSet` rather than a `HashSet`: hashing is randomly seeded and this module stays deterministic.
fn first_occurrences(candidates: &[Candidate]) -> Vec<&Candidate> {
    let mut seen = BTreeSet::new();
    candidates.iter().filter(|c| seen.insert(c.mechanic_id)).collect()
}

pub fn eligibility(c: &Candidate, policy: &RoutingPolicy) -> Result<(), Ineligible> {
    if !c.approved {
        Err(Ineligible::NotApproved)
    } else if !c.online {
        Err(Ineligible::Offline)
    } else if c.active_sessions >= c.capacity {
        Err(Ineligible::AtCapacity)
    } else if policy.require_payout_ready && !c.payout_ready {
        Err(Ineligible::NotPayable)
    } else {
        Ok(())
    }
}

/// Whether any mechanic of the request's preferred workshop is eligible; false when no preferred
/// workshop is in effect (none given, or a broadcast, which ignores it).
/// This is the flag [`offer_for`] needs; duplicates are resolved as [`offers`] resolves them.
pub fn preferred_has_eligible(
    req: &RoutingRequest,
    candidates: &[Candidate],
    policy: &RoutingPolicy,
) -> bool {
    let Some(w) = preferred_of(req) else { return false };
    first_occurrences(candidates)
        .into_iter()
        .any(|c| c.workshop_id == Some(w) && eligibility(c, policy).is_ok())
}

/// Hybrid only (false for other types): widened to other mechanics now?
///
/// A hybrid request without a preferred workshop is broadcast, so it is not "escalated" either.
pub fn is_escalated(req: &RoutingRequest, preferred_has_eligible: bool, policy: &RoutingPolicy) -> bool {
    match plan(req) {
        Plan::Hybrid(_) => !preferred_has_eligible || past_window(req, policy),
        Plan::Broadcast | Plan::WorkshopOnly(_) => false,
    }
}

/// Everyone offered the request now, each once, sorted by priority (highest first), ties by mechanic_id ascending.
pub fn offers(req: &RoutingRequest, candidates: &[Candidate], policy: &RoutingPolicy) -> Vec<Offer> {
    let unique = first_occurrences(candidates);
    let has_eligible = match preferred_of(req) {
        Some(w) => unique.iter().any(|c| c.workshop_id == Some(w) && eligibility(c, policy).is_ok()),
        None => false,
    };
    let mut out: Vec<Offer> =
        unique.into_iter().filter_map(|c| offer_for(req, c, has_eligible, policy)).collect();
    out.sort_by(|a, b| b.priority.cmp(&a.priority).then_with(|| a.mechanic_id.cmp(&b.mechanic_id)));
    out
}

/// The offer for one mechanic, given only whether the preferred workshop has any eligible mechanic.
/// Agrees with `offers` (same `Option<Offer>` as finding that mechanic in `offers(...)`), which lets
/// a mechanic's dashboard decide without loading every other candidate.
pub fn offer_for(
    req: &RoutingRequest,
    me: &Candidate,
    preferred_has_eligible: bool,
    policy: &RoutingPolicy,
) -> Option<Offer> {
    eligibility(me, policy).ok()?;
    let widened_tier = || if me.workshop_id.is_some() { Tier::OtherWorkshop } else { Tier::Independent };
    let tier = match plan(req) {
        Plan::Broadcast => Tier::Broadcast,
        Plan::WorkshopOnly(w) if me.workshop_id == Some(w) => Tier::PreferredWorkshop,
        Plan::WorkshopOnly(_) => return None,
        Plan::Hybrid(w) if me.workshop_id == Some(w) => Tier::PreferredWorkshop,
        Plan::Hybrid(_) if is_escalated(req, preferred_has_eligible, policy) => widened_tier(),
        Plan::Hybrid(_) => return None,
    };
    let reason = match tier {
        Tier::PreferredWorkshop => REASON_PREFERRED.to_owned(),
        Tier::Broadcast => REASON_BROADCAST.to_owned(),
        // Once the window has passed that is the lasting explanation: who is free in the chosen
        // workshop changes from minute to minute, the wait does not.
        Tier::OtherWorkshop | Tier::Independent if past_window(req, policy) => {
            format!("Opened to all mechanics after {} s", policy.escalation_secs.max(0))
        }
        Tier::OtherWorkshop | Tier::Independent => REASON_NOBODY_AVAILABLE.to_owned(),
    };
    Some(Offer { mechanic_id: me.mechanic_id, priority: tier.priority(), tier, reason })
}

/// Eligible candidates per tier as the request would see them fully widened (preferred = preferred
/// workshop's, other_workshops, independents), plus how many are ineligible. For broadcast/no preferred
/// workshop, workshop mechanics count in other_workshops and independents in independents, preferred = 0.
///
/// Workshop-only requests are counted widened as well: the customer may still open them to everyone,
/// and these numbers are what they would gain. Duplicates count once, as in [`offers`].
pub fn tier_counts(req: &RoutingRequest, candidates: &[Candidate], policy: &RoutingPolicy) -> TierCounts {
    let preferred = preferred_of(req);
    let mut counts = TierCounts::default();
    for c in first_occurrences(candidates) {
        let slot = if eligibility(c, policy).is_err() {
            &mut counts.ineligible
        } else if preferred.is_some() && c.workshop_id == preferred {
            &mut counts.preferred
        } else if c.workshop_id.is_some() {
            &mut counts.other_workshops
        } else {
            &mut counts.independents
        };
        *slot = slot.saturating_add(1);
    }
    counts
}

#[cfg(test)]
mod tests;

#[cfg(test)]
mod type_tests {
    use super::RoutingType;

    #[test]
    fn routing_types_round_trip_through_text() {
        for r in RoutingType::ALL {
            assert_eq!(RoutingType::parse(r.as_str()), Some(r));
            assert_eq!(serde_json::to_value(r).unwrap(), serde_json::json!(r.as_str()));
        }
        assert_eq!(RoutingType::parse("preferred"), None);
        assert!(!RoutingType::Broadcast.needs_workshop());
        assert!(RoutingType::Hybrid.needs_workshop());
    }
}
