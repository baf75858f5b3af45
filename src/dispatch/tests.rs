use std::collections::{BTreeMap, BTreeSet};

use crate::ids::{UserId, WorkshopId};
use proptest::prelude::*;
use uuid::Uuid;

use super::*;

// ---------- fixtures ----------

// Distinct ranges so that a mechanic id can never be mistaken for a workshop id.
fn mech(n: u128) -> UserId {
    UserId(Uuid::from_u128(0x1000 + n))
}

fn shop(n: u128) -> WorkshopId {
    WorkshopId(Uuid::from_u128(0xA000 + n))
}

const PREFERRED: u128 = 1;
const OTHER: u128 = 2;

/// Eligible under any policy: approved, online, free, payable.
fn ready(id: u128, workshop: Option<u128>) -> Candidate {
    Candidate {
        mechanic_id: mech(id),
        workshop_id: workshop.map(shop),
        approved: true,
        online: true,
        active_sessions: 0,
        capacity: 1,
        payout_ready: true,
    }
}

fn req(routing: RoutingType, preferred: Option<u128>, age_secs: i64) -> RoutingRequest {
    RoutingRequest { routing, preferred_workshop: preferred.map(shop), age_secs }
}

fn strict() -> RoutingPolicy {
    RoutingPolicy { require_payout_ready: true, ..RoutingPolicy::default() }
}

/// Two preferred-workshop mechanics, two of another workshop, two independents, all eligible,
/// listed out of order so that sorting is exercised.
fn mixed() -> Vec<Candidate> {
    vec![
        ready(6, None),
        ready(4, Some(OTHER)),
        ready(2, Some(PREFERRED)),
        ready(5, None),
        ready(3, Some(OTHER)),
        ready(1, Some(PREFERRED)),
    ]
}

fn summary(offers: &[Offer]) -> Vec<(UserId, u8, Tier)> {
    offers.iter().map(|o| (o.mechanic_id, o.priority, o.tier)).collect()
}

fn ids(offers: &[Offer]) -> Vec<UserId> {
    offers.iter().map(|o| o.mechanic_id).collect()
}

// ---------- constants, policy, serde ----------

#[test]
fn tier_priorities_match_the_constants() {
    assert_eq!(Tier::PreferredWorkshop.priority(), 100);
    assert_eq!(Tier::OtherWorkshop.priority(), 50);
    assert_eq!(Tier::Independent.priority(), 25);
    assert_eq!(Tier::Broadcast.priority(), 50);
    assert_eq!(Tier::PreferredWorkshop.priority(), PRIORITY_PREFERRED);
    assert_eq!(Tier::OtherWorkshop.priority(), PRIORITY_OTHER_WORKSHOP);
    assert_eq!(Tier::Independent.priority(), PRIORITY_INDEPENDENT);
    assert_eq!(Tier::Broadcast.priority(), PRIORITY_BROADCAST);
}

#[test]
fn default_policy_is_sixty_seconds_without_payout_requirement() {
    let p = RoutingPolicy::default();
    assert_eq!(p.escalation_secs, 60);
    assert_eq!(p.escalation_secs, DEFAULT_ESCALATION_SECS);
    assert!(!p.require_payout_ready);
}

#[test]
fn enums_serialize_as_snake_case() {
    use serde_json::json;
    assert_eq!(serde_json::to_value(Tier::PreferredWorkshop).unwrap(), json!("preferred_workshop"));
    assert_eq!(serde_json::to_value(Tier::OtherWorkshop).unwrap(), json!("other_workshop"));
    assert_eq!(serde_json::to_value(Tier::Independent).unwrap(), json!("independent"));
    assert_eq!(serde_json::to_value(Tier::Broadcast).unwrap(), json!("broadcast"));
    assert_eq!(serde_json::to_value(Ineligible::NotApproved).unwrap(), json!("not_approved"));
    assert_eq!(serde_json::to_value(Ineligible::Offline).unwrap(), json!("offline"));
    assert_eq!(serde_json::to_value(Ineligible::AtCapacity).unwrap(), json!("at_capacity"));
    assert_eq!(serde_json::to_value(Ineligible::NotPayable).unwrap(), json!("not_payable"));
}

#[test]
fn offer_and_counts_round_trip_through_json() {
    let offer =
        offers(&req(RoutingType::Hybrid, Some(PREFERRED), 0), &mixed(), &RoutingPolicy::default()).remove(0);
    let back: Offer = serde_json::from_value(serde_json::to_value(&offer).unwrap()).unwrap();
    assert_eq!(back, offer);
    assert_eq!(serde_json::to_value(&offer).unwrap()["tier"], serde_json::json!("preferred_workshop"));

    let counts = TierCounts { preferred: 1, other_workshops: 2, independents: 3, ineligible: 4 };
    let back: TierCounts = serde_json::from_value(serde_json::to_value(counts).unwrap()).unwrap();
    assert_eq!(back, counts);
}

// ---------- eligibility ----------

#[test]
fn ready_mechanic_is_eligible_under_both_policies() {
    let c = ready(1, None);
    assert_eq!(eligibility(&c, &RoutingPolicy::default()), Ok(()));
    assert_eq!(eligibility(&c, &strict()), Ok(()));
}

#[test]
fn unapproved_mechanic_is_not_approved() {
    let c = Candidate { approved: false, ..ready(1, Some(PREFERRED)) };
    assert_eq!(eligibility(&c, &RoutingPolicy::default()), Err(Ineligible::NotApproved));
}

#[test]
fn offline_mechanic_is_offline() {
    let c = Candidate { online: false, ..ready(1, Some(PREFERRED)) };
    assert_eq!(eligibility(&c, &RoutingPolicy::default()), Err(Ineligible::Offline));
}

#[test]
fn full_mechanic_is_at_capacity() {
    let p = RoutingPolicy::default();
    let exactly_full = Candidate { active_sessions: 2, capacity: 2, ..ready(1, None) };
    let over_full = Candidate { active_sessions: 3, capacity: 2, ..ready(1, None) };
    let no_capacity = Candidate { active_sessions: 0, capacity: 0, ..ready(1, None) };
    let one_slot_left = Candidate { active_sessions: 1, capacity: 2, ..ready(1, None) };
    assert_eq!(eligibility(&exactly_full, &p), Err(Ineligible::AtCapacity));
    assert_eq!(eligibility(&over_full, &p), Err(Ineligible::AtCapacity));
    assert_eq!(eligibility(&no_capacity, &p), Err(Ineligible::AtCapacity));
    assert_eq!(eligibility(&one_slot_left, &p), Ok(()));
}

#[test]
fn unpayable_mechanic_is_not_payable_only_when_the_policy_requires_it() {
    let c = Candidate { payout_ready: false, ..ready(1, None) };
    assert_eq!(eligibility(&c, &RoutingPolicy::default()), Ok(()));
    assert_eq!(eligibility(&c, &strict()), Err(Ineligible::NotPayable));
}

#[test]
fn first_failing_check_is_reported() {
    let p = strict();
    let broken = Candidate {
        approved: false,
        online: false,
        active_sessions: 5,
        capacity: 1,
        payout_ready: false,
        ..ready(1, None)
    };
    assert_eq!(eligibility(&broken, &p), Err(Ineligible::NotApproved));
    let broken = Candidate { approved: true, ..broken };
    assert_eq!(eligibility(&broken, &p), Err(Ineligible::Offline));
    let broken = Candidate { online: true, ..broken };
    assert_eq!(eligibility(&broken, &p), Err(Ineligible::AtCapacity));
    let broken = Candidate { active_sessions: 0, ..broken };
    assert_eq!(eligibility(&broken, &p), Err(Ineligible::NotPayable));
    let fixed = Candidate { payout_ready: true, ..broken };
    assert_eq!(eligibility(&fixed, &p), Ok(()));
}

#[test]
fn ineligible_mechanics_are_never_offered_under_any_strategy() {
    let p = strict();
    let bad = vec![
        Candidate { approved: false, ..ready(1, Some(PREFERRED)) },
        Candidate { online: false, ..ready(2, Some(OTHER)) },
        Candidate { active_sessions: 1, ..ready(3, None) },
        Candidate { payout_ready: false, ..ready(4, Some(PREFERRED)) },
    ];
    for routing in RoutingType::ALL {
        for age in [0, 59, 60, 10_000] {
            assert!(offers(&req(routing, Some(PREFERRED), age), &bad, &p).is_empty(), "{routing:?} {age}");
        }
    }
}

// ---------- workshop_only ----------

#[test]
fn workshop_only_at_age_zero_offers_only_the_preferred_workshop() {
    let out =
        offers(&req(RoutingType::WorkshopOnly, Some(PREFERRED), 0), &mixed(), &RoutingPolicy::default());
    assert_eq!(
        summary(&out),
        vec![(mech(1), 100, Tier::PreferredWorkshop), (mech(2), 100, Tier::PreferredWorkshop)]
    );
    assert!(out.iter().all(|o| o.reason == "The customer chose your workshop"));
}

#[test]
fn workshop_only_never_leaks_even_at_age_ten_thousand() {
    let r = req(RoutingType::WorkshopOnly, Some(PREFERRED), 10_000);
    let out = offers(&r, &mixed(), &RoutingPolicy::default());
    assert_eq!(ids(&out), vec![mech(1), mech(2)]);
    assert!(!is_escalated(&r, true, &RoutingPolicy::default()));
    assert!(!is_escalated(&r, false, &RoutingPolicy::default()));
}

#[test]
fn workshop_only_with_nobody_eligible_in_the_workshop_offers_nobody() {
    let mut cands = mixed();
    for c in cands.iter_mut().filter(|c| c.workshop_id == Some(shop(PREFERRED))) {
        c.online = false;
    }
    for age in [0, 60, 10_000] {
        let out =
            offers(&req(RoutingType::WorkshopOnly, Some(PREFERRED), age), &cands, &RoutingPolicy::default());
        assert!(out.is_empty(), "age {age}: {out:?}");
    }
}

#[test]
fn workshop_only_without_preferred_workshop_behaves_like_broadcast() {
    let p = RoutingPolicy::default();
    let defensive = offers(&req(RoutingType::WorkshopOnly, None, 0), &mixed(), &p);
    let broadcast = offers(&req(RoutingType::Broadcast, None, 0), &mixed(), &p);
    assert_eq!(defensive, broadcast);
    assert_eq!(defensive.len(), 6);
    assert!(!is_escalated(&req(RoutingType::WorkshopOnly, None, 10_000), false, &p));
}

// ---------- hybrid ----------

#[test]
fn hybrid_before_the_window_offers_only_the_preferred_workshop() {
    let p = RoutingPolicy::default();
    for age in [0, 1, 30, 59] {
        let r = req(RoutingType::Hybrid, Some(PREFERRED), age);
        assert!(!is_escalated(&r, true, &p), "age {age}");
        let out = offers(&r, &mixed(), &p);
        assert_eq!(
            summary(&out),
            vec![(mech(1), 100, Tier::PreferredWorkshop), (mech(2), 100, Tier::PreferredWorkshop)],
            "age {age}"
        );
    }
}

#[test]
fn hybrid_after_the_window_offers_all_three_tiers_in_order() {
    let p = RoutingPolicy::default();
    let r = req(RoutingType::Hybrid, Some(PREFERRED), 61);
    assert!(is_escalated(&r, true, &p));
    let out = offers(&r, &mixed(), &p);
    assert_eq!(
        summary(&out),
        vec![
            (mech(1), 100, Tier::PreferredWorkshop),
            (mech(2), 100, Tier::PreferredWorkshop),
            (mech(3), 50, Tier::OtherWorkshop),
            (mech(4), 50, Tier::OtherWorkshop),
            (mech(5), 25, Tier::Independent),
            (mech(6), 25, Tier::Independent),
        ]
    );
    assert_eq!(out[0].reason, "The customer chose your workshop");
    for o in &out[2..] {
        assert_eq!(o.reason, "Opened to all mechanics after 60 s");
    }
}

#[test]
fn hybrid_escalates_exactly_at_the_window_boundary() {
    let p = RoutingPolicy::default();
    assert!(!is_escalated(&req(RoutingType::Hybrid, Some(PREFERRED), 59), true, &p));
    assert!(is_escalated(&req(RoutingType::Hybrid, Some(PREFERRED), 60), true, &p));
    assert_eq!(offers(&req(RoutingType::Hybrid, Some(PREFERRED), 59), &mixed(), &p).len(), 2);
    assert_eq!(offers(&req(RoutingType::Hybrid, Some(PREFERRED), 60), &mixed(), &p).len(), 6);

    let quick = RoutingPolicy { escalation_secs: 15, ..p };
    assert!(!is_escalated(&req(RoutingType::Hybrid, Some(PREFERRED), 14), true, &quick));
    assert!(is_escalated(&req(RoutingType::Hybrid, Some(PREFERRED), 15), true, &quick));
    let out = offers(&req(RoutingType::Hybrid, Some(PREFERRED), 15), &mixed(), &quick);
    assert_eq!(out.last().unwrap().reason, "Opened to all mechanics after 15 s");
}

#[test]
fn hybrid_with_zero_window_is_widened_from_the_start() {
    let p = RoutingPolicy { escalation_secs: 0, ..RoutingPolicy::default() };
    let r = req(RoutingType::Hybrid, Some(PREFERRED), 0);
    assert!(is_escalated(&r, true, &p));
    assert_eq!(offers(&r, &mixed(), &p).len(), 6);
}

#[test]
fn negative_age_counts_as_zero() {
    let p = RoutingPolicy::default();
    let r = req(RoutingType::Hybrid, Some(PREFERRED), -500);
    assert!(!is_escalated(&r, true, &p));
    assert_eq!(offers(&r, &mixed(), &p), offers(&req(RoutingType::Hybrid, Some(PREFERRED), 0), &mixed(), &p));
    // A zero window is reached by age 0, so a skewed clock must not hold the request back.
    let zero = RoutingPolicy { escalation_secs: 0, ..p };
    assert!(is_escalated(&r, true, &zero));
}

#[test]
fn hybrid_escalates_at_once_when_the_preferred_workshop_has_no_mechanics() {
    let p = RoutingPolicy::default();
    let cands: Vec<Candidate> =
        mixed().into_iter().filter(|c| c.workshop_id != Some(shop(PREFERRED))).collect();
    let r = req(RoutingType::Hybrid, Some(PREFERRED), 0);
    assert!(is_escalated(&r, false, &p));
    let out = offers(&r, &cands, &p);
    assert_eq!(
        summary(&out),
        vec![
            (mech(3), 50, Tier::OtherWorkshop),
            (mech(4), 50, Tier::OtherWorkshop),
            (mech(5), 25, Tier::Independent),
            (mech(6), 25, Tier::Independent),
        ]
    );
    assert!(out
        .iter()
        .all(|o| o.reason == "Opened to all mechanics: the chosen workshop has nobody available"));
}

#[test]
fn hybrid_escalates_at_once_when_the_preferred_workshop_has_only_ineligible_mechanics() {
    type Break = fn(&mut Candidate);
    let breaks: [(&str, Break); 4] = [
        ("offline", |c| c.online = false),
        ("at capacity", |c| c.active_sessions = c.capacity),
        ("unapproved", |c| c.approved = false),
        ("mixed", |c| if c.mechanic_id == mech(1) { c.online = false } else { c.active_sessions = 7 }),
    ];
    let p = RoutingPolicy::default();
    for (name, f) in breaks {
        let mut cands = mixed();
        for c in cands.iter_mut().filter(|c| c.workshop_id == Some(shop(PREFERRED))) {
            f(c);
        }
        let r = req(RoutingType::Hybrid, Some(PREFERRED), 0);
        assert!(!preferred_has_eligible(&r, &cands, &p), "{name}");
        let out = offers(&r, &cands, &p);
        assert_eq!(ids(&out), vec![mech(3), mech(4), mech(5), mech(6)], "{name}");
        assert!(out.iter().all(|o| o.tier != Tier::PreferredWorkshop), "{name}");
    }
}

#[test]
fn hybrid_with_unpayable_preferred_mechanics_escalates_only_under_a_strict_policy() {
    let mut cands = mixed();
    for c in cands.iter_mut().filter(|c| c.workshop_id == Some(shop(PREFERRED))) {
        c.payout_ready = false;
    }
    let r = req(RoutingType::Hybrid, Some(PREFERRED), 0);
    assert_eq!(ids(&offers(&r, &cands, &RoutingPolicy::default())), vec![mech(1), mech(2)]);
    assert_eq!(ids(&offers(&r, &cands, &strict())), vec![mech(3), mech(4), mech(5), mech(6)]);
}

#[test]
fn hybrid_after_the_window_keeps_the_time_reason_even_if_the_workshop_is_empty() {
    let cands = vec![ready(3, Some(OTHER))];
    let out = offers(&req(RoutingType::Hybrid, Some(PREFERRED), 120), &cands, &RoutingPolicy::default());
    assert_eq!(out[0].reason, "Opened to all mechanics after 60 s");
}

#[test]
fn hybrid_without_preferred_workshop_behaves_like_broadcast() {
    let p = RoutingPolicy::default();
    let r = req(RoutingType::Hybrid, None, 0);
    assert_eq!(offers(&r, &mixed(), &p), offers(&req(RoutingType::Broadcast, None, 0), &mixed(), &p));
    assert!(!is_escalated(&r, false, &p));
    assert!(!is_escalated(&r, true, &p));
}

// ---------- broadcast ----------

#[test]
fn broadcast_offers_every_eligible_mechanic_equally() {
    let mut cands = mixed();
    cands.push(Candidate { online: false, ..ready(7, Some(OTHER)) });
    // The preferred workshop is irrelevant to a broadcast; it must not be favoured.
    for preferred in [None, Some(PREFERRED)] {
        let out = offers(&req(RoutingType::Broadcast, preferred, 0), &cands, &RoutingPolicy::default());
        assert_eq!(ids(&out), (1..=6).map(mech).collect::<Vec<_>>());
        assert!(out.iter().all(|o| o.priority == 50 && o.tier == Tier::Broadcast));
        assert!(out.iter().all(|o| o.reason == "Open to every mechanic"));
    }
}

#[test]
fn broadcast_is_never_escalated() {
    let p = RoutingPolicy::default();
    for age in [0, 60, 10_000] {
        assert!(!is_escalated(&req(RoutingType::Broadcast, Some(PREFERRED), age), false, &p));
        assert!(!is_escalated(&req(RoutingType::Broadcast, None, age), true, &p));
    }
}

#[test]
fn broadcast_ties_are_ordered_by_mechanic_id() {
    let cands = vec![ready(9, None), ready(3, Some(OTHER)), ready(5, None), ready(1, Some(PREFERRED))];
    let out = offers(&req(RoutingType::Broadcast, None, 0), &cands, &RoutingPolicy::default());
    assert_eq!(ids(&out), vec![mech(1), mech(3), mech(5), mech(9)]);
}

#[test]
fn no_candidates_means_no_offers() {
    for routing in RoutingType::ALL {
        assert!(offers(&req(routing, Some(PREFERRED), 100), &[], &RoutingPolicy::default()).is_empty());
    }
}

// ---------- duplicates ----------

#[test]
fn duplicate_mechanics_are_offered_once() {
    let cands = vec![ready(1, None), ready(1, None), ready(2, None), ready(1, None)];
    let out = offers(&req(RoutingType::Broadcast, None, 0), &cands, &RoutingPolicy::default());
    assert_eq!(ids(&out), vec![mech(1), mech(2)]);
}

#[test]
fn first_occurrence_of_a_duplicate_wins() {
    let p = RoutingPolicy::default();
    let eligible_first = vec![ready(1, None), Candidate { online: false, ..ready(1, None) }];
    let offline_first = vec![Candidate { online: false, ..ready(1, None) }, ready(1, None)];
    let r = req(RoutingType::Broadcast, None, 0);
    assert_eq!(ids(&offers(&r, &eligible_first, &p)), vec![mech(1)]);
    assert!(offers(&r, &offline_first, &p).is_empty());

    // The workshop of the first row decides the tier too.
    let moved = vec![ready(1, Some(PREFERRED)), ready(1, None)];
    let out = offers(&req(RoutingType::Hybrid, Some(PREFERRED), 100), &moved, &p);
    assert_eq!(summary(&out), vec![(mech(1), 100, Tier::PreferredWorkshop)]);
}

#[test]
fn a_dropped_duplicate_does_not_count_as_an_eligible_preferred_mechanic() {
    let p = RoutingPolicy::default();
    // Mechanic 1 is offline in its first row, so the preferred workshop has nobody and the request widens.
    let cands = vec![
        Candidate { online: false, ..ready(1, Some(PREFERRED)) },
        ready(1, Some(PREFERRED)),
        ready(5, None),
    ];
    let r = req(RoutingType::Hybrid, Some(PREFERRED), 0);
    assert!(!preferred_has_eligible(&r, &cands, &p));
    assert_eq!(summary(&offers(&r, &cands, &p)), vec![(mech(5), 25, Tier::Independent)]);
    assert_eq!(
        tier_counts(&r, &cands, &p),
        TierCounts { preferred: 0, other_workshops: 0, independents: 1, ineligible: 1 }
    );
}

// ---------- offer_for ----------

#[test]
fn offer_for_matches_offers_on_the_fixture() {
    let p = RoutingPolicy::default();
    for routing in RoutingType::ALL {
        for age in [0, 59, 60, 500] {
            let r = req(routing, Some(PREFERRED), age);
            let cands = mixed();
            let all = offers(&r, &cands, &p);
            let has = preferred_has_eligible(&r, &cands, &p);
            for c in &cands {
                let expected = all.iter().find(|o| o.mechanic_id == c.mechanic_id).cloned();
                assert_eq!(offer_for(&r, c, has, &p), expected, "{routing:?} age {age}");
            }
        }
    }
}

#[test]
fn offer_for_an_ineligible_mechanic_is_none() {
    let me = Candidate { approved: false, ..ready(1, Some(PREFERRED)) };
    for routing in RoutingType::ALL {
        assert_eq!(
            offer_for(&req(routing, Some(PREFERRED), 1000), &me, true, &RoutingPolicy::default()),
            None
        );
    }
}

#[test]
fn offer_for_uses_the_flag_to_decide_escalation() {
    let p = RoutingPolicy::default();
    let r = req(RoutingType::Hybrid, Some(PREFERRED), 0);
    let outsider = ready(5, None);
    assert_eq!(offer_for(&r, &outsider, true, &p), None);
    let offer = offer_for(&r, &outsider, false, &p).unwrap();
    assert_eq!((offer.priority, offer.tier), (25, Tier::Independent));
    let insider = ready(1, Some(PREFERRED));
    assert_eq!(offer_for(&r, &insider, true, &p).unwrap().tier, Tier::PreferredWorkshop);
}

#[test]
fn preferred_has_eligible_is_false_without_a_preferred_workshop() {
    let p = RoutingPolicy::default();
    assert!(preferred_has_eligible(&req(RoutingType::Hybrid, Some(PREFERRED), 0), &mixed(), &p));
    assert!(!preferred_has_eligible(&req(RoutingType::Hybrid, Some(3), 0), &mixed(), &p));
    assert!(!preferred_has_eligible(&req(RoutingType::Hybrid, None, 0), &mixed(), &p));
    assert!(!preferred_has_eligible(&req(RoutingType::Broadcast, None, 0), &mixed(), &p));
}

// ---------- tier_counts ----------

#[test]
fn tier_counts_for_hybrid_and_workshop_only_split_by_tier() {
    let mut cands = mixed();
    cands.push(Candidate { online: false, ..ready(7, Some(PREFERRED)) });
    cands.push(Candidate { active_sessions: 3, ..ready(8, None) });
    let expected = TierCounts { preferred: 2, other_workshops: 2, independents: 2, ineligible: 2 };
    for routing in [RoutingType::Hybrid, RoutingType::WorkshopOnly] {
        // Independent of age: the counts describe the fully widened request.
        for age in [0, 10_000] {
            let counts = tier_counts(&req(routing, Some(PREFERRED), age), &cands, &RoutingPolicy::default());
            assert_eq!(counts, expected, "{routing:?} age {age}");
        }
    }
}

#[test]
fn tier_counts_for_broadcast_put_nobody_in_preferred() {
    let mut cands = mixed();
    cands.push(Candidate { approved: false, ..ready(7, None) });
    let expected = TierCounts { preferred: 0, other_workshops: 4, independents: 2, ineligible: 1 };
    let p = RoutingPolicy::default();
    assert_eq!(tier_counts(&req(RoutingType::Broadcast, Some(PREFERRED), 0), &cands, &p), expected);
    assert_eq!(tier_counts(&req(RoutingType::Broadcast, None, 0), &cands, &p), expected);
    assert_eq!(tier_counts(&req(RoutingType::WorkshopOnly, None, 0), &cands, &p), expected);
    assert_eq!(tier_counts(&req(RoutingType::Hybrid, None, 0), &cands, &p), expected);
}

#[test]
fn tier_counts_follow_the_payout_policy() {
    let cands = vec![Candidate { payout_ready: false, ..ready(1, Some(PREFERRED)) }, ready(2, None)];
    let r = req(RoutingType::Hybrid, Some(PREFERRED), 0);
    assert_eq!(
        tier_counts(&r, &cands, &RoutingPolicy::default()),
        TierCounts { preferred: 1, other_workshops: 0, independents: 1, ineligible: 0 }
    );
    assert_eq!(
        tier_counts(&r, &cands, &strict()),
        TierCounts { preferred: 0, other_workshops: 0, independents: 1, ineligible: 1 }
    );
}

#[test]
fn tier_counts_of_nothing_are_zero() {
    assert_eq!(
        tier_counts(&req(RoutingType::Hybrid, Some(PREFERRED), 0), &[], &strict()),
        TierCounts::default()
    );
}

#[test]
fn tier_counts_count_duplicates_once() {
    let cands = vec![ready(1, Some(OTHER)), ready(1, Some(OTHER)), ready(2, None), ready(2, None)];
    assert_eq!(
        tier_counts(&req(RoutingType::Broadcast, None, 0), &cands, &RoutingPolicy::default()),
        TierCounts { preferred: 0, other_workshops: 1, independents: 1, ineligible: 0 }
    );
}

// ---------- properties ----------

/// Workshops 1..=4 hold the candidates; 5 is a workshop with nobody in it.
fn arb_workshop() -> impl Strategy<Value = Option<WorkshopId>> {
    prop_oneof![1 => Just(None), 4 => (1u128..=4).prop_map(|n| Some(shop(n)))]
}

fn arb_candidate() -> impl Strategy<Value = Candidate> {
    // Ids from a small range so that duplicates show up regularly.
    (
        0u128..60,
        arb_workshop(),
        prop::bool::weighted(0.85),
        prop::bool::weighted(0.8),
        0i32..4,
        0i32..4,
        prop::bool::weighted(0.75),
    )
        .prop_map(|(id, workshop_id, approved, online, active_sessions, capacity, payout_ready)| {
            Candidate {
                mechanic_id: mech(id),
                workshop_id,
                approved,
                online,
                active_sessions,
                capacity,
                payout_ready,
            }
        })
}

fn arb_candidates() -> impl Strategy<Value = Vec<Candidate>> {
    prop::collection::vec(arb_candidate(), 0..40)
}

fn arb_routing() -> impl Strategy<Value = RoutingType> {
    prop::sample::select(RoutingType::ALL.to_vec())
}

fn arb_request() -> impl Strategy<Value = RoutingRequest> {
    (
        arb_routing(),
        prop_oneof![1 => Just(None), 6 => (1u128..=5).prop_map(|n| Some(shop(n)))],
        // A few negative ages for clock skew.
        -10i64..200,
    )
        .prop_map(|(routing, preferred_workshop, age_secs)| RoutingRequest {
            routing,
            preferred_workshop,
            age_secs,
        })
}

fn arb_policy() -> impl Strategy<Value = RoutingPolicy> {
    (prop_oneof![Just(DEFAULT_ESCALATION_SECS), 0i64..120], any::<bool>()).prop_map(
        |(escalation_secs, require_payout_ready)| RoutingPolicy { escalation_secs, require_payout_ready },
    )
}

/// First row per mechanic, by the rule the module documents; written independently of it.
fn dedup(cands: &[Candidate]) -> BTreeMap<UserId, Candidate> {
    let mut map = BTreeMap::new();
    for c in cands {
        map.entry(c.mechanic_id).or_insert_with(|| c.clone());
    }
    map
}

fn eligible_ids(cands: &[Candidate], policy: &RoutingPolicy) -> BTreeSet<UserId> {
    dedup(cands).into_values().filter(|c| eligibility(c, policy).is_ok()).map(|c| c.mechanic_id).collect()
}

/// `cands` with one more mechanic, at a random place, who is offered the request
/// whatever its routing and age: ready under any policy, in the preferred
/// workshop if the request names one (independent otherwise).
fn with_one_sure_offer(
    mut cands: Vec<Candidate>,
    r: &RoutingRequest,
    at: prop::sample::Index,
) -> Vec<Candidate> {
    let sure = Candidate { workshop_id: r.preferred_workshop, ..ready(999, None) };
    cands.insert(at.index(cands.len() + 1), sure);
    cands
}

fn offered_ids(offers: &[Offer]) -> BTreeSet<UserId> {
    offers.iter().map(|o| o.mechanic_id).collect()
}

proptest! {
    // No regression files: this module must not write outside src/routing, and the shrunk
    // failing input is printed anyway.
    #![proptest_config(ProptestConfig { cases: 512, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn prop_sorted_by_priority_then_id(r in arb_request(), cands in arb_candidates(), p in arb_policy()) {
        let out = offers(&r, &cands, &p);
        for pair in out.windows(2) {
            let (a, b) = (&pair[0], &pair[1]);
            prop_assert!(
                a.priority > b.priority || (a.priority == b.priority && a.mechanic_id < b.mechanic_id),
                "{a:?} before {b:?}"
            );
        }
    }

    // The loops below would pass on an empty answer: each case therefore holds one
    // mechanic who must be offered (an id no generated row uses), and checks that
    // the answer is not empty before checking every offer in it (audit L4).

    #[test]
    fn prop_workshop_only_never_leaves_the_workshop(
        preferred in 1u128..=5, age in -10i64..200, cands in arb_candidates(),
        at in any::<prop::sample::Index>(), p in arb_policy()
    ) {
        let r = req(RoutingType::WorkshopOnly, Some(preferred), age);
        let cands = with_one_sure_offer(cands, &r, at);
        let unique = dedup(&cands);
        let out = offers(&r, &cands, &p);
        prop_assert!(out.iter().any(|o| o.mechanic_id == mech(999)), "the sure mechanic is offered: {out:?}");
        for o in out {
            prop_assert_eq!(unique[&o.mechanic_id].workshop_id, Some(shop(preferred)));
            prop_assert_eq!((o.priority, o.tier), (PRIORITY_PREFERRED, Tier::PreferredWorkshop));
        }
    }

    #[test]
    fn prop_no_ineligible_mechanic_is_offered(
        r in arb_request(), cands in arb_candidates(), at in any::<prop::sample::Index>(), p in arb_policy()
    ) {
        prop_assume!(!(r.routing == RoutingType::WorkshopOnly && r.preferred_workshop.is_none()));
        let cands = with_one_sure_offer(cands, &r, at);
        let eligible = eligible_ids(&cands, &p);
        let out = offers(&r, &cands, &p);
        prop_assert!(out.iter().any(|o| o.mechanic_id == mech(999)), "the sure mechanic is offered: {out:?}");
        for o in out {
            prop_assert!(eligible.contains(&o.mechanic_id), "{o:?}");
        }
    }

    #[test]
    fn prop_each_mechanic_at_most_once(r in arb_request(), cands in arb_candidates(), p in arb_policy()) {
        let out = offers(&r, &cands, &p);
        prop_assert_eq!(offered_ids(&out).len(), out.len());
    }

    #[test]
    fn prop_tier_and_priority_agree(
        r in arb_request(), cands in arb_candidates(), at in any::<prop::sample::Index>(), p in arb_policy()
    ) {
        prop_assume!(!(r.routing == RoutingType::WorkshopOnly && r.preferred_workshop.is_none()));
        let cands = with_one_sure_offer(cands, &r, at);
        let out = offers(&r, &cands, &p);
        prop_assert!(!out.is_empty());
        for o in out {
            prop_assert_eq!(o.priority, o.tier.priority());
            prop_assert!(!o.reason.is_empty());
        }
    }

    #[test]
    fn prop_hybrid_before_window_with_eligible_preferred_offers_only_preferred(
        preferred in 1u128..=4,
        window in 1i64..200,
        age_frac in 0.0f64..1.0,
        cands in arb_candidates(),
        insert_at in any::<prop::sample::Index>(),
        p in arb_policy(),
    ) {
        let p = RoutingPolicy { escalation_secs: window, ..p };
        // Truncation keeps the age strictly inside the window.
        let age = (age_frac * window as f64) as i64;
        prop_assume!(age < window);
        // Guarantee one eligible preferred mechanic with an id no generated row uses.
        let mut cands = cands;
        cands.insert(insert_at.index(cands.len() + 1), ready(999, Some(preferred)));
        let r = req(RoutingType::Hybrid, Some(preferred), age);
        prop_assert!(!is_escalated(&r, true, &p));
        let unique = dedup(&cands);
        let out = offers(&r, &cands, &p);
        prop_assert!(out.iter().any(|o| o.mechanic_id == mech(999)));
        for o in out {
            prop_assert_eq!(unique[&o.mechanic_id].workshop_id, Some(shop(preferred)));
            prop_assert_eq!(o.tier, Tier::PreferredWorkshop);
        }
    }

    #[test]
    fn prop_hybrid_preferred_mechanics_always_offered_first(
        preferred in 1u128..=5, age in -10i64..200, cands in arb_candidates(), p in arb_policy()
    ) {
        let r = req(RoutingType::Hybrid, Some(preferred), age);
        let unique = dedup(&cands);
        let in_workshop: BTreeSet<UserId> = eligible_ids(&cands, &p)
            .into_iter()
            .filter(|id| unique[id].workshop_id == Some(shop(preferred)))
            .collect();
        let out = offers(&r, &cands, &p);
        let head: BTreeSet<UserId> = out.iter().take(in_workshop.len()).map(|o| o.mechanic_id).collect();
        prop_assert_eq!(head, in_workshop);
    }

    #[test]
    fn prop_broadcast_offers_exactly_the_eligible_set(
        preferred in proptest::option::of(1u128..=5),
        age in -10i64..200,
        cands in arb_candidates(),
        p in arb_policy(),
    ) {
        let r = req(RoutingType::Broadcast, preferred, age);
        let out = offers(&r, &cands, &p);
        prop_assert_eq!(offered_ids(&out), eligible_ids(&cands, &p));
        prop_assert!(out.iter().all(|o| o.priority == PRIORITY_BROADCAST && o.tier == Tier::Broadcast));
    }

    #[test]
    fn prop_escalated_hybrid_offers_exactly_the_eligible_set(
        preferred in 1u128..=5, cands in arb_candidates(), p in arb_policy()
    ) {
        let age = p.escalation_secs.max(0);
        let out = offers(&req(RoutingType::Hybrid, Some(preferred), age), &cands, &p);
        prop_assert_eq!(offered_ids(&out), eligible_ids(&cands, &p));
    }

    #[test]
    fn prop_offer_for_agrees_with_offers(r in arb_request(), cands in arb_candidates(), p in arb_policy()) {
        let unique = dedup(&cands);
        let has_eligible = r.preferred_workshop.is_some()
            && unique.values().any(|c| c.workshop_id == r.preferred_workshop && eligibility(c, &p).is_ok());
        // The helper is what callers of `offer_for` use, so it must compute the same flag whenever it matters.
        if r.routing == RoutingType::Hybrid {
            prop_assert_eq!(preferred_has_eligible(&r, &cands, &p), has_eligible);
        }
        let out = offers(&r, &cands, &p);
        for c in unique.values() {
            let expected = out.iter().find(|o| o.mechanic_id == c.mechanic_id).cloned();
            prop_assert_eq!(offer_for(&r, c, has_eligible, &p), expected);
        }
    }

    #[test]
    fn prop_hybrid_widening_never_removes_anyone(
        preferred in 1u128..=5,
        ages in (-10i64..200, -10i64..200),
        cands in arb_candidates(),
        p in arb_policy(),
    ) {
        let (young, old) = if ages.0 <= ages.1 { ages } else { (ages.1, ages.0) };
        let before = offers(&req(RoutingType::Hybrid, Some(preferred), young), &cands, &p);
        let after = offers(&req(RoutingType::Hybrid, Some(preferred), old), &cands, &p);
        for o in &before {
            let later = after.iter().find(|a| a.mechanic_id == o.mechanic_id);
            prop_assert!(later.is_some(), "{o:?} dropped between {young} s and {old} s");
            let later = later.unwrap();
            prop_assert_eq!((later.priority, later.tier), (o.priority, o.tier));
        }
    }

    #[test]
    fn prop_tier_counts_partition_the_unique_candidates(
        r in arb_request(), cands in arb_candidates(), p in arb_policy()
    ) {
        let counts = tier_counts(&r, &cands, &p);
        let total = counts.preferred + counts.other_workshops + counts.independents + counts.ineligible;
        prop_assert_eq!(total as usize, dedup(&cands).len());
        prop_assert_eq!(
            (counts.preferred + counts.other_workshops + counts.independents) as usize,
            eligible_ids(&cands, &p).len()
        );
        if r.routing == RoutingType::Broadcast || r.preferred_workshop.is_none() {
            prop_assert_eq!(counts.preferred, 0);
        }
        // The fully widened hybrid request offers exactly what the counts promise, tier by tier.
        let widened = RoutingRequest { routing: RoutingType::Hybrid, age_secs: p.escalation_secs.max(0), ..r.clone() };
        let out = offers(&widened, &cands, &p);
        let count = |tier| out.iter().filter(|o| o.tier == tier).count() as u32;
        if r.routing != RoutingType::Broadcast && r.preferred_workshop.is_some() {
            prop_assert_eq!(count(Tier::PreferredWorkshop), counts.preferred);
            prop_assert_eq!(count(Tier::OtherWorkshop), counts.other_workshops);
            prop_assert_eq!(count(Tier::Independent), counts.independents);
        }
    }

    #[test]
    fn prop_input_order_does_not_matter_without_duplicates(
        r in arb_request(), cands in arb_candidates(), p in arb_policy()
    ) {
        let unique: Vec<Candidate> = dedup(&cands).into_values().collect();
        let mut reversed = unique.clone();
        reversed.reverse();
        prop_assert_eq!(offers(&r, &unique, &p), offers(&r, &reversed, &p));
        prop_assert_eq!(tier_counts(&r, &unique, &p), tier_counts(&r, &reversed, &p));
    }

    #[test]
    fn prop_duplicates_after_the_first_row_change_nothing(
        r in arb_request(), cands in arb_candidates(), extra in arb_candidates(), p in arb_policy()
    ) {
        let known: BTreeSet<UserId> = cands.iter().map(|c| c.mechanic_id).collect();
        let mut padded = cands.clone();
        padded.extend(extra.into_iter().filter(|c| known.contains(&c.mechanic_id)));
        prop_assert_eq!(offers(&r, &padded, &p), offers(&r, &cands, &p));
        prop_assert_eq!(tier_counts(&r, &padded, &p), tier_counts(&r, &cands, &p));
    }
}

/// The booking form shows the three choices side by side: each needs words of
/// its own (cargo-mutants: a label or explanation replaced by "" or by one
/// string for all three went unnoticed).
#[test]
fn each_routing_choice_has_a_label_and_an_explanation_of_its_own() {
    let labels: BTreeSet<&str> = RoutingType::ALL.iter().map(|r| r.label()).collect();
    let explanations: BTreeSet<&str> = RoutingType::ALL.iter().map(|r| r.explanation()).collect();
    assert_eq!(labels.len(), 3, "{labels:?}");
    assert_eq!(explanations.len(), 3, "{explanations:?}");
    for r in RoutingType::ALL {
        assert!(r.label().len() >= 10 && r.label() != r.as_str(), "{r:?}: {:?}", r.label());
        assert!(r.explanation().ends_with('.') && r.explanation().len() > r.label().len(), "{r:?}");
    }
    assert!(RoutingType::WorkshopOnly.explanation().contains("full refund"));
    assert!(RoutingType::Hybrid.explanation().contains("other qualified mechanics"));
}
