use proptest::prelude::*;

use super::*;
use crate::ids::{UserId, WorkshopId};
use uuid::Uuid;

const PLATFORM_AND_SERVER: usize = 2;
const PLATFORM_REFERRER_AND_SERVER: usize = 3;

fn workshop_w() -> WorkshopId {
    WorkshopId(Uuid::from_u128(0x1))
}
fn workshop_p() -> WorkshopId {
    WorkshopId(Uuid::from_u128(0x2))
}
fn mechanic_m() -> UserId {
    UserId(Uuid::from_u128(0x100))
}

fn default_terms(workshop_fee: Option<i32>) -> FeeTerms {
    FeeTerms {
        platform_fee_bps: DEFAULT_PLATFORM_FEE_BPS,
        serving_workshop_fee_bps: workshop_fee,
        referral_fee_bps: DEFAULT_REFERRAL_FEE_BPS,
    }
}

fn by_workshop(w: WorkshopId) -> ServedBy {
    ServedBy::Workshop { workshop: w, mechanic: mechanic_m() }
}
fn by_independent() -> ServedBy {
    ServedBy::Independent { mechanic: mechanic_m() }
}

fn input(
    gross_cents: i64,
    terms: FeeTerms,
    served_by: ServedBy,
    preferred_workshop: Option<WorkshopId>,
    routing: RoutingType,
) -> SplitInput {
    SplitInput { gross_cents, terms, served_by, preferred_workshop, routing }
}

/// Own workshop W served a broadcast request at W's agreement.
fn own(gross: i64, workshop_fee: i32) -> SplitInput {
    input(gross, default_terms(Some(workshop_fee)), by_workshop(workshop_w()), None, RoutingType::Broadcast)
}
/// An independent served a broadcast request.
fn independent(gross: i64) -> SplitInput {
    input(gross, default_terms(None), by_independent(), None, RoutingType::Broadcast)
}
/// W served a hybrid request that preferred P.
fn referral(gross: i64) -> SplitInput {
    input(
        gross,
        default_terms(Some(2_000)),
        by_workshop(workshop_w()),
        Some(workshop_p()),
        RoutingType::Hybrid,
    )
}

fn cents(split: &Split) -> Vec<i64> {
    split.shares.iter().map(|s| s.cents).collect()
}
fn rates(split: &Split) -> Vec<i32> {
    split.shares.iter().map(|s| s.rate_bps).collect()
}

fn share(party: Party, kind: ShareKind, rate_bps: i32, cents: i64) -> Share {
    Share { party, kind, rate_bps, cents }
}

// ---------------------------------------------------------------- seed scenarios

#[test]
fn own_workshop_default_agreement_splits_100_dollars_20_80() {
    let split = split(&own(10_000, 2_000)).unwrap();
    assert_eq!(split.scenario, Scenario::OwnWorkshop);
    assert_eq!(split.gross_cents, 10_000);
    assert_eq!(
        split.shares,
        vec![
            share(Party::Platform, ShareKind::PlatformFee, 2_000, 2_000),
            share(Party::Workshop(workshop_w()), ShareKind::WorkshopService, 8_000, 8_000),
        ]
    );
}

#[test]
fn own_workshop_custom_agreement_uses_the_workshop_rate_not_the_platform_fee() {
    let split = split(&own(10_000, 1_500)).unwrap();
    assert_eq!(split.scenario, Scenario::OwnWorkshop);
    assert_eq!(rates(&split), vec![1_500, 8_500]);
    assert_eq!(cents(&split), vec![1_500, 8_500]);
}

#[test]
fn independent_mechanic_splits_20_80() {
    let split = split(&independent(10_000)).unwrap();
    assert_eq!(split.scenario, Scenario::Independent);
    assert_eq!(
        split.shares,
        vec![
            share(Party::Platform, ShareKind::PlatformFee, 2_000, 2_000),
            share(Party::Mechanic(mechanic_m()), ShareKind::MechanicService, 8_000, 8_000),
        ]
    );
}

#[test]
fn hybrid_served_by_another_workshop_pays_the_preferred_workshop_a_referral() {
    let split = split(&referral(10_000)).unwrap();
    assert_eq!(split.scenario, Scenario::CrossWorkshopReferral);
    assert_eq!(
        split.shares,
        vec![
            share(Party::Platform, ShareKind::PlatformFee, 2_000, 2_000),
            share(Party::Workshop(workshop_p()), ShareKind::Referral, 1_000, 1_000),
            share(Party::Workshop(workshop_w()), ShareKind::WorkshopService, 7_000, 7_000),
        ]
    );
}

#[test]
fn referral_ignores_the_serving_workshops_own_agreement() {
    let mut i = referral(10_000);
    i.terms.serving_workshop_fee_bps = Some(500);
    assert_eq!(cents(&split(&i).unwrap()), vec![2_000, 1_000, 7_000]);
}

#[test]
fn hybrid_served_by_an_independent_pays_the_preferred_workshop_a_referral() {
    let i = input(10_000, default_terms(None), by_independent(), Some(workshop_p()), RoutingType::Hybrid);
    let split = split(&i).unwrap();
    assert_eq!(split.scenario, Scenario::CrossWorkshopReferral);
    assert_eq!(
        split.shares,
        vec![
            share(Party::Platform, ShareKind::PlatformFee, 2_000, 2_000),
            share(Party::Workshop(workshop_p()), ShareKind::Referral, 1_000, 1_000),
            share(Party::Mechanic(mechanic_m()), ShareKind::MechanicService, 7_000, 7_000),
        ]
    );
}

#[test]
fn referral_rate_comes_from_the_terms() {
    let mut i = referral(10_000);
    i.terms.referral_fee_bps = 500;
    let split = split(&i).unwrap();
    assert_eq!(rates(&split), vec![2_000, 500, 7_500]);
    assert_eq!(cents(&split), vec![2_000, 500, 7_500]);
}

#[test]
fn zero_referral_rate_keeps_a_zero_cent_referral_share() {
    let mut i = referral(10_000);
    i.terms.referral_fee_bps = 0;
    let split = split(&i).unwrap();
    assert_eq!(split.shares.len(), PLATFORM_REFERRER_AND_SERVER);
    assert_eq!(split.shares[1].kind, ShareKind::Referral);
    assert_eq!(cents(&split), vec![2_000, 0, 8_000]);
}

#[test]
fn hybrid_served_by_the_preferred_workshop_itself_is_the_own_workshop_case() {
    let i = input(
        10_000,
        default_terms(Some(1_500)),
        by_workshop(workshop_p()),
        Some(workshop_p()),
        RoutingType::Hybrid,
    );
    let split = split(&i).unwrap();
    assert_eq!(split.scenario, Scenario::OwnWorkshop);
    assert_eq!(
        split.shares,
        vec![
            share(Party::Platform, ShareKind::PlatformFee, 1_500, 1_500),
            share(Party::Workshop(workshop_p()), ShareKind::WorkshopService, 8_500, 8_500),
        ]
    );
}

#[test]
fn broadcast_served_by_a_workshop_is_the_own_workshop_case_without_referral() {
    // A stray preferred workshop on a broadcast request must not create a referral.
    for preferred in [None, Some(workshop_p())] {
        let i = input(
            10_000,
            default_terms(Some(2_000)),
            by_workshop(workshop_w()),
            preferred,
            RoutingType::Broadcast,
        );
        let split = split(&i).unwrap();
        assert_eq!(split.scenario, Scenario::OwnWorkshop);
        assert_eq!(cents(&split), vec![2_000, 8_000]);
    }
}

#[test]
fn broadcast_served_by_an_independent_never_pays_a_referral() {
    let i = input(10_000, default_terms(None), by_independent(), Some(workshop_p()), RoutingType::Broadcast);
    let split = split(&i).unwrap();
    assert_eq!(split.scenario, Scenario::Independent);
    assert_eq!(cents(&split), vec![2_000, 8_000]);
}

#[test]
fn workshop_only_never_pays_a_referral() {
    let cases = [
        (by_workshop(workshop_p()), Some(2_000), Scenario::OwnWorkshop),
        // Should not happen (workshop_only is not offered to others); it must
        // still not invent a referral.
        (by_workshop(workshop_w()), Some(2_000), Scenario::OwnWorkshop),
        (by_independent(), None, Scenario::Independent),
    ];
    for (served_by, fee, expected) in cases {
        let i = input(10_000, default_terms(fee), served_by, Some(workshop_p()), RoutingType::WorkshopOnly);
        let split = split(&i).unwrap();
        assert_eq!(split.scenario, expected);
        assert_eq!(split.shares.len(), PLATFORM_AND_SERVER);
        assert!(split.shares.iter().all(|s| s.kind != ShareKind::Referral));
    }
}

#[test]
fn hybrid_without_a_preferred_workshop_has_nobody_to_refer() {
    let i = input(10_000, default_terms(None), by_independent(), None, RoutingType::Hybrid);
    assert_eq!(scenario(&i), Scenario::Independent);
    let i = input(10_000, default_terms(Some(2_000)), by_workshop(workshop_w()), None, RoutingType::Hybrid);
    assert_eq!(scenario(&i), Scenario::OwnWorkshop);
}

#[test]
fn scenario_matches_the_split_for_every_routing_and_server() {
    for routing in RoutingType::ALL {
        for preferred in [None, Some(workshop_p()), Some(workshop_w())] {
            for served_by in [by_workshop(workshop_w()), by_independent()] {
                let i = input(10_000, default_terms(Some(2_000)), served_by, preferred, routing);
                let referral = routing == RoutingType::Hybrid
                    && preferred.is_some()
                    && served_by != by_workshop(preferred.unwrap());
                let expected = match (referral, served_by) {
                    (true, _) => Scenario::CrossWorkshopReferral,
                    (false, ServedBy::Workshop { .. }) => Scenario::OwnWorkshop,
                    (false, ServedBy::Independent { .. }) => Scenario::Independent,
                };
                assert_eq!(scenario(&i), expected, "{routing:?} {preferred:?} {served_by:?}");
                assert_eq!(split(&i).unwrap().scenario, expected);
            }
        }
    }
}

#[test]
fn zero_gross_gives_zero_shares_of_the_same_shape() {
    assert_eq!(cents(&split(&own(0, 2_000)).unwrap()), vec![0, 0]);
    assert_eq!(cents(&split(&independent(0)).unwrap()), vec![0, 0]);
    let s = split(&referral(0)).unwrap();
    assert_eq!(cents(&s), vec![0, 0, 0]);
    assert_eq!(rates(&s), vec![2_000, 1_000, 7_000]);
}

// ---------------------------------------------------------------- odd amounts and the tie-break

#[test]
fn odd_amounts_at_20_80() {
    // (gross, platform, server), worked by hand from the exact quotas.
    let expected = [
        (1, 0, 1),          // .2 / .8: the server's remainder is larger
        (2, 0, 2),          // .4 / 1.6
        (3, 1, 2),          // .6 / 2.4: the platform's .6 beats .4
        (7, 1, 6),          // 1.4 / 5.6
        (99, 20, 79),       // 19.8 / 79.2
        (101, 20, 81),      // 20.2 / 80.8
        (2999, 600, 2399),  // 599.8 / 2399.2
        (4999, 1000, 3999), // 999.8 / 3999.2
    ];
    for (gross, platform, server) in expected {
        assert_eq!(cents(&split(&own(gross, 2_000)).unwrap()), vec![platform, server], "own {gross}");
        assert_eq!(cents(&split(&independent(gross)).unwrap()), vec![platform, server], "indep {gross}");
    }
}

#[test]
fn odd_amounts_at_20_10_70() {
    // (gross, platform, referrer, server), worked by hand from the exact quotas.
    let expected = [
        (1, 0, 0, 1),            // .2 / .1 / .7
        (2, 0, 0, 2),            // .4 / .2 / 1.4: platform and server tie at .4, the server wins
        (3, 1, 0, 2),            // .6 / .3 / 2.1
        (5, 1, 0, 4),            // 1 / .5 / 3.5: referrer and server tie at .5, the server wins
        (7, 1, 1, 5),            // 1.4 / .7 / 4.9: two cents, to .9 and .7
        (15, 3, 1, 11),          // 3 / 1.5 / 10.5: tie, the server wins
        (99, 20, 10, 69),        // 19.8 / 9.9 / 69.3: two cents, to .9 and .8
        (101, 20, 10, 71),       // 20.2 / 10.1 / 70.7
        (2999, 600, 300, 2099),  // 599.8 / 299.9 / 2099.3
        (4999, 1000, 500, 3499), // 999.8 / 499.9 / 3499.3
    ];
    for (gross, platform, referrer, server) in expected {
        assert_eq!(cents(&split(&referral(gross)).unwrap()), vec![platform, referrer, server], "{gross}");
    }
}

#[test]
fn tie_between_platform_and_server_goes_to_the_server() {
    // A 50% agreement makes 1 cent an exact .5 / .5 tie.
    assert_eq!(cents(&split(&own(1, 5_000)).unwrap()), vec![0, 1]);
    assert_eq!(cents(&split(&own(3, 5_000)).unwrap()), vec![1, 2]);
}

#[test]
fn tie_between_platform_and_referrer_goes_to_the_referrer() {
    // 25% / 25% / 50% of 2 cents: .5 / .5 / 1, so only the platform and the
    // referrer compete for the leftover cent.
    let mut i = referral(2);
    i.terms.platform_fee_bps = 2_500;
    i.terms.referral_fee_bps = 2_500;
    assert_eq!(cents(&split(&i).unwrap()), vec![0, 1, 1]);
}

#[test]
fn tie_break_is_by_role_whatever_the_parties_ids() {
    // Swapping which uuid is larger must not move the odd cent.
    let mut i = referral(5);
    i.preferred_workshop = Some(WorkshopId(Uuid::from_u128(u128::MAX)));
    i.served_by = ServedBy::Workshop { workshop: WorkshopId(Uuid::from_u128(0)), mechanic: mechanic_m() };
    assert_eq!(cents(&split(&i).unwrap()), vec![1, 0, 4]);
}

#[test]
fn huge_amounts_do_not_overflow() {
    for gross in [i64::MAX, i64::MAX - 1, 1_000_000_000_000] {
        for i in [own(gross, 2_000), independent(gross), referral(gross)] {
            let s = split(&i).unwrap();
            assert_eq!(s.shares.iter().map(|s| i128::from(s.cents)).sum::<i128>(), i128::from(gross));
        }
    }
    // i64::MAX = 9223372036854775807; 20% = 1844674407370955161.4, 80% = ...6445.6
    assert_eq!(
        cents(&split(&independent(i64::MAX)).unwrap()),
        vec![1_844_674_407_370_955_161, 7_378_697_629_483_820_646]
    );
}

#[test]
fn full_rates_at_either_extreme() {
    assert_eq!(cents(&split(&own(999, 0)).unwrap()), vec![0, 999]);
    assert_eq!(cents(&split(&own(999, 10_000)).unwrap()), vec![999, 0]);
    let mut i = referral(999);
    i.terms.platform_fee_bps = 0;
    i.terms.referral_fee_bps = 10_000;
    assert_eq!(cents(&split(&i).unwrap()), vec![0, 999, 0]);
}

// ---------------------------------------------------------------- errors

#[test]
fn negative_gross_is_rejected() {
    assert_eq!(split(&own(-1, 2_000)), Err(SplitError::NegativeAmount { field: "gross_cents", cents: -1 }));
    assert!(split(&independent(i64::MIN)).is_err());
}

#[test]
fn rates_outside_0_to_10000_are_rejected() {
    let mut i = independent(10_000);
    i.terms.platform_fee_bps = 10_001;
    assert_eq!(split(&i), Err(SplitError::RateOutOfRange { field: "platform_fee_bps", bps: 10_001 }));

    let mut i = independent(10_000);
    i.terms.referral_fee_bps = -1;
    assert_eq!(split(&i), Err(SplitError::RateOutOfRange { field: "referral_fee_bps", bps: -1 }));

    assert_eq!(
        split(&own(10_000, 10_001)),
        Err(SplitError::RateOutOfRange { field: "serving_workshop_fee_bps", bps: 10_001 })
    );
    assert_eq!(
        split(&own(10_000, i32::MIN)),
        Err(SplitError::RateOutOfRange { field: "serving_workshop_fee_bps", bps: i32::MIN })
    );
    // Exactly 10000 is a whole, not an error.
    assert!(split(&own(10_000, 10_000)).is_ok());
}

#[test]
fn missing_workshop_fee_is_rejected_whenever_a_workshop_served() {
    assert_eq!(split(&own(10_000, 2_000).with_fee(None)), Err(SplitError::MissingWorkshopFee));
    assert_eq!(split(&referral(10_000).with_fee(None)), Err(SplitError::MissingWorkshopFee));
    // An independent needs no workshop agreement.
    assert!(split(&independent(10_000).with_fee(None)).is_ok());
}

#[test]
fn platform_plus_referral_above_whole_is_rejected_in_the_referral_case() {
    let mut i = referral(10_000);
    i.terms.platform_fee_bps = 9_500;
    i.terms.referral_fee_bps = 1_000;
    assert_eq!(split(&i), Err(SplitError::RatesExceedWhole { platform_bps: 9_500, referral_bps: 1_000 }));
    // Exactly whole is fine: the server gets nothing.
    i.terms.referral_fee_bps = 500;
    assert_eq!(cents(&split(&i).unwrap()), vec![9_500, 500, 0]);
    // Outside the referral case the referral rate is unused, so the sum does not matter.
    let mut i = independent(10_000);
    i.terms.platform_fee_bps = 9_500;
    i.terms.referral_fee_bps = 1_000;
    assert_eq!(cents(&split(&i).unwrap()), vec![9_500, 500]);
}

#[test]
fn error_messages_name_the_problem() {
    assert_eq!(
        SplitError::RateOutOfRange { field: "platform_fee_bps", bps: 10_001 }.to_string(),
        "platform_fee_bps must be between 0 and 10000 basis points (got 10001)"
    );
    assert_eq!(
        SplitError::RefundExceedsRemaining { refund_cents: 5, remaining_cents: 4 }.to_string(),
        "refund of 5 cents exceeds the 4 cents still held"
    );
    assert!(SplitError::MissingWorkshopFee.to_string().contains("fee agreement"));
}

trait WithFee {
    fn with_fee(self, fee: Option<i32>) -> Self;
}
impl WithFee for SplitInput {
    fn with_fee(mut self, fee: Option<i32>) -> Self {
        self.terms.serving_workshop_fee_bps = fee;
        self
    }
}

// ---------------------------------------------------------------- largest_remainder

#[test]
fn largest_remainder_edge_cases() {
    assert_eq!(largest_remainder(10, &[]), Vec::<i64>::new());
    assert_eq!(largest_remainder(10, &[0, 0]), vec![0, 0]);
    assert_eq!(largest_remainder(0, &[1, 2, 3]), vec![0, 0, 0]);
    assert_eq!(largest_remainder(10, &[-5, 1]), vec![0, 10]);
    assert_eq!(largest_remainder(10, &[1, 1, 1]), vec![3, 3, 4]);
    assert_eq!(largest_remainder(-10, &[1, 1, 1]), vec![-3, -3, -4]);
    assert_eq!(largest_remainder(i64::MIN, &[1]), vec![i64::MIN]);
    assert_eq!(largest_remainder(i64::MAX, &[i64::MAX, i64::MAX]), vec![i64::MAX / 2, i64::MAX / 2 + 1]);
    // Ties go to the later weight.
    assert_eq!(largest_remainder(1, &[1, 1]), vec![0, 1]);
    assert_eq!(largest_remainder(1, &[5_000, 5_000, 0]), vec![0, 1, 0]);
}

// ---------------------------------------------------------------- refund_split

fn remaining(platform: i64, referrer: i64, server: i64) -> Vec<Share> {
    vec![
        share(Party::Platform, ShareKind::PlatformFee, 2_000, platform),
        share(Party::Workshop(workshop_p()), ShareKind::Referral, 1_000, referrer),
        share(Party::Workshop(workshop_w()), ShareKind::WorkshopService, 7_000, server),
    ]
}

fn refund_cents(refund: &[Share]) -> Vec<i64> {
    refund.iter().map(|s| s.cents).collect()
}

#[test]
fn full_refund_returns_every_share() {
    let s = split(&referral(10_000)).unwrap();
    assert_eq!(refund_split(&s.shares, 10_000).unwrap(), s.shares);
}

#[test]
fn partial_refunds_are_proportional_to_what_remains() {
    let held = remaining(2_000, 1_000, 7_000);
    let first = refund_split(&held, 3_333).unwrap();
    // 666.6 / 333.3 / 2333.1: the leftover cent goes to the platform's .6.
    assert_eq!(refund_cents(&first), vec![667, 333, 2_333]);
    assert!(first
        .iter()
        .zip(&held)
        .all(|(r, h)| (r.party, r.kind, r.rate_bps) == (h.party, h.kind, h.rate_bps)));

    let held = remaining(1_333, 667, 4_667);
    assert_eq!(refund_cents(&refund_split(&held, 6_667).unwrap()), vec![1_333, 667, 4_667]);
}

#[test]
fn one_cent_refund_comes_from_the_largest_remainder() {
    assert_eq!(refund_cents(&refund_split(&remaining(2_000, 1_000, 7_000), 1).unwrap()), vec![0, 0, 1]);
    assert_eq!(refund_cents(&refund_split(&remaining(8, 1, 1), 1).unwrap()), vec![1, 0, 0]);
}

#[test]
fn refund_ties_are_taken_from_the_server_then_the_referrer_then_the_platform() {
    assert_eq!(refund_cents(&refund_split(&remaining(1, 1, 1), 1).unwrap()), vec![0, 0, 1]);
    assert_eq!(refund_cents(&refund_split(&remaining(1, 1, 1), 2).unwrap()), vec![0, 1, 1]);
    assert_eq!(refund_cents(&refund_split(&remaining(1, 1, 0), 1).unwrap()), vec![0, 1, 0]);
    // By kind, not by position: the server listed first still gives first.
    let mut reordered = remaining(1, 1, 1);
    reordered.reverse();
    assert_eq!(refund_cents(&refund_split(&reordered, 1).unwrap()), vec![1, 0, 0]);
}

#[test]
fn zero_refund_takes_nothing() {
    assert_eq!(refund_cents(&refund_split(&remaining(5, 5, 5), 0).unwrap()), vec![0, 0, 0]);
    assert_eq!(refund_cents(&refund_split(&remaining(0, 0, 0), 0).unwrap()), vec![0, 0, 0]);
    assert_eq!(refund_split(&[], 0).unwrap(), vec![]);
}

#[test]
fn refund_errors() {
    assert_eq!(
        refund_split(&remaining(1, 1, 1), 4),
        Err(SplitError::RefundExceedsRemaining { refund_cents: 4, remaining_cents: 3 })
    );
    assert_eq!(
        refund_split(&remaining(0, 0, 0), 1),
        Err(SplitError::RefundExceedsRemaining { refund_cents: 1, remaining_cents: 0 })
    );
    assert_eq!(
        refund_split(&[], 1),
        Err(SplitError::RefundExceedsRemaining { refund_cents: 1, remaining_cents: 0 })
    );
    assert_eq!(
        refund_split(&remaining(1, 1, 1), -1),
        Err(SplitError::NegativeAmount { field: "refund_cents", cents: -1 })
    );
    assert_eq!(
        refund_split(&remaining(5, -1, 5), 1),
        Err(SplitError::NegativeAmount { field: "remaining share", cents: -1 })
    );
    assert_eq!(refund_split(&remaining(i64::MAX, 1, 0), 1), Err(SplitError::RemainingOverflow));
}

// ---------------------------------------------------------------- serde shapes

#[test]
fn serde_shapes_are_stable() {
    assert_eq!(json(&Party::Platform), r#"{"kind":"platform"}"#);
    assert_eq!(
        json(&Party::Workshop(WorkshopId(Uuid::from_u128(1)))),
        r#"{"kind":"workshop","id":"00000000-0000-0000-0000-000000000001"}"#
    );
    assert_eq!(
        json(&Party::Mechanic(UserId(Uuid::from_u128(2)))),
        r#"{"kind":"mechanic","id":"00000000-0000-0000-0000-000000000002"}"#
    );
    assert_eq!(json(&ShareKind::PlatformFee), r#""platform_fee""#);
    assert_eq!(json(&ShareKind::WorkshopService), r#""workshop_service""#);
    assert_eq!(json(&ShareKind::MechanicService), r#""mechanic_service""#);
    assert_eq!(json(&ShareKind::Referral), r#""referral""#);
    assert_eq!(json(&Scenario::CrossWorkshopReferral), r#""cross_workshop_referral""#);

    let s = split(&referral(2_999)).unwrap();
    let back: Split = serde_json::from_str(&serde_json::to_string(&s).unwrap()).unwrap();
    assert_eq!(back, s);
    let terms = default_terms(Some(1_500));
    let back: FeeTerms = serde_json::from_str(&serde_json::to_string(&terms).unwrap()).unwrap();
    assert_eq!(back, terms);
}

fn json<T: Serialize>(value: &T) -> String {
    serde_json::to_string(value).unwrap()
}

// ---------------------------------------------------------------- properties

fn workshop_id() -> impl Strategy<Value = WorkshopId> {
    // A small pool so the preferred and the serving workshop often coincide.
    (1u128..=3).prop_map(|n| WorkshopId(Uuid::from_u128(n)))
}

fn served_by_strategy() -> impl Strategy<Value = ServedBy> {
    let mechanic = (0x100u128..=0x102).prop_map(|n| UserId(Uuid::from_u128(n)));
    prop_oneof![
        (workshop_id(), mechanic.clone())
            .prop_map(|(workshop, mechanic)| ServedBy::Workshop { workshop, mechanic }),
        mechanic.prop_map(|mechanic| ServedBy::Independent { mechanic }),
    ]
}

fn gross_strategy() -> impl Strategy<Value = i64> {
    prop_oneof![0i64..=10_000, 0i64..=10_000_000_000, 0i64..=i64::MAX]
}

fn terms_strategy() -> impl Strategy<Value = FeeTerms> {
    (0..=BPS_WHOLE)
        .prop_flat_map(|platform| (Just(platform), 0..=BPS_WHOLE - platform, 0..=BPS_WHOLE))
        .prop_map(|(platform_fee_bps, referral_fee_bps, workshop)| FeeTerms {
            platform_fee_bps,
            serving_workshop_fee_bps: Some(workshop),
            referral_fee_bps,
        })
}

fn valid_input() -> impl Strategy<Value = SplitInput> {
    (
        gross_strategy(),
        terms_strategy(),
        served_by_strategy(),
        proptest::option::of(workshop_id()),
        prop::sample::select(RoutingType::ALL.to_vec()),
    )
        .prop_map(|(gross_cents, mut terms, served_by, preferred_workshop, routing)| {
            if matches!(served_by, ServedBy::Independent { .. }) {
                terms.serving_workshop_fee_bps = None;
            }
            SplitInput { gross_cents, terms, served_by, preferred_workshop, routing }
        })
}

/// Always a referral: a hybrid request preferring a workshop outside the serving pool.
fn referral_input() -> impl Strategy<Value = SplitInput> {
    valid_input().prop_map(|mut i| {
        i.routing = RoutingType::Hybrid;
        i.preferred_workshop = Some(WorkshopId(Uuid::from_u128(0xFFFF)));
        i
    })
}

/// The rate `step` ten-thousandths of the way from `from` to `to`.
fn between(from: i32, to: i32, step: i32) -> i32 {
    from + (to - from) * step / BPS_WHOLE
}

fn platform_rate(i: &SplitInput) -> i32 {
    match scenario(i) {
        Scenario::OwnWorkshop => i.terms.serving_workshop_fee_bps.unwrap(),
        _ => i.terms.platform_fee_bps,
    }
}

fn with_platform_rate(mut i: SplitInput, bps: i32) -> SplitInput {
    match scenario(&i) {
        Scenario::OwnWorkshop => i.terms.serving_workshop_fee_bps = Some(bps),
        _ => i.terms.platform_fee_bps = bps,
    }
    i
}

fn server(split: &Split) -> i64 {
    split.shares.last().unwrap().cents
}

proptest! {
    #[test]
    fn shares_sum_exactly_to_the_gross(i in valid_input()) {
        let s = split(&i).unwrap();
        prop_assert_eq!(s.gross_cents, i.gross_cents);
        prop_assert_eq!(s.shares.iter().map(|s| i128::from(s.cents)).sum::<i128>(), i128::from(i.gross_cents));
        prop_assert_eq!(s.shares.iter().map(|s| s.rate_bps).sum::<i32>(), BPS_WHOLE);
    }

    #[test]
    fn no_share_is_negative(i in valid_input()) {
        let s = split(&i).unwrap();
        prop_assert!(s.shares.iter().all(|s| s.cents >= 0 && s.rate_bps >= 0));
    }

    #[test]
    fn shares_come_in_the_fixed_order(i in valid_input()) {
        let s = split(&i).unwrap();
        prop_assert_eq!(s.scenario, scenario(&i));
        let kinds: Vec<ShareKind> = s.shares.iter().map(|s| s.kind).collect();
        let server_kind = match i.served_by {
            ServedBy::Workshop { .. } => ShareKind::WorkshopService,
            ServedBy::Independent { .. } => ShareKind::MechanicService,
        };
        let expected = match s.scenario {
            Scenario::CrossWorkshopReferral => vec![ShareKind::PlatformFee, ShareKind::Referral, server_kind],
            _ => vec![ShareKind::PlatformFee, server_kind],
        };
        prop_assert_eq!(kinds, expected);
    }

    #[test]
    fn each_share_is_within_one_cent_of_exact(i in valid_input()) {
        let s = split(&i).unwrap();
        for share in &s.shares {
            let scaled = i128::from(share.cents) * i128::from(BPS_WHOLE);
            let exact = i128::from(i.gross_cents) * i128::from(share.rate_bps);
            // Floor or ceiling of the exact amount: strictly less than one cent off.
            prop_assert!((scaled - exact).abs() < i128::from(BPS_WHOLE), "{:?} of {}", share, i.gross_cents);
        }
    }

    #[test]
    fn platform_share_is_monotonic_in_the_platform_rate(i in valid_input(), step in 0..=BPS_WHOLE) {
        let low = platform_rate(&i);
        let ceiling = match scenario(&i) {
            Scenario::CrossWorkshopReferral => BPS_WHOLE - i.terms.referral_fee_bps,
            _ => BPS_WHOLE,
        };
        let higher = with_platform_rate(i, between(low, ceiling, step));
        let (before, after) = (split(&i).unwrap(), split(&higher).unwrap());
        prop_assert!(before.shares[0].cents <= after.shares[0].cents);
        // The server absorbs the difference, so its share moves the other way.
        prop_assert!(server(&before) >= server(&after));
    }

    #[test]
    fn referral_share_is_monotonic_in_the_referral_rate(i in referral_input(), step in 0..=BPS_WHOLE) {
        let mut higher = i;
        higher.terms.referral_fee_bps =
            between(i.terms.referral_fee_bps, BPS_WHOLE - i.terms.platform_fee_bps, step);
        let (before, after) = (split(&i).unwrap(), split(&higher).unwrap());
        prop_assert!(before.shares[1].cents <= after.shares[1].cents);
        prop_assert!(server(&before) >= server(&after));
    }

    #[test]
    fn largest_remainder_sums_and_stays_within_one_unit(
        total in any::<i64>(),
        weights in prop::collection::vec(0i64..=i64::MAX, 1..6),
    ) {
        let parts = largest_remainder(total, &weights);
        prop_assert_eq!(parts.len(), weights.len());
        let denominator: i128 = weights.iter().map(|&w| i128::from(w)).sum();
        if denominator == 0 {
            prop_assert!(parts.iter().all(|&p| p == 0));
        } else {
            prop_assert_eq!(parts.iter().map(|&p| i128::from(p)).sum::<i128>(), i128::from(total));
            for (&p, &w) in parts.iter().zip(&weights) {
                let off = i128::from(p) * denominator - i128::from(total) * i128::from(w);
                prop_assert!(off.abs() < denominator);
            }
        }
        if total != i64::MIN {
            let mirrored: Vec<i64> = largest_remainder(-total, &weights).into_iter().map(|p| -p).collect();
            prop_assert_eq!(mirrored, parts);
        }
    }

    #[test]
    fn refund_of_a_split_is_exact_and_bounded(i in valid_input(), fraction in 0u64..=u64::from(u32::MAX)) {
        let s = split(&i).unwrap();
        let refund = (i128::from(i.gross_cents) * i128::from(fraction) / i128::from(u32::MAX)) as i64;
        let back = refund_split(&s.shares, refund).unwrap();
        prop_assert_eq!(back.iter().map(|s| i128::from(s.cents)).sum::<i128>(), i128::from(refund));
        for (r, held) in back.iter().zip(&s.shares) {
            prop_assert!(r.cents >= 0 && r.cents <= held.cents);
            prop_assert_eq!((r.party, r.kind, r.rate_bps), (held.party, held.kind, held.rate_bps));
        }
    }

    #[test]
    fn refund_of_arbitrary_holdings_is_exact_and_bounded(
        held in prop::collection::vec(0i64..=1_000_000_000_000, 0..5),
        fraction in 0u64..=u64::from(u32::MAX),
    ) {
        let kinds = [ShareKind::PlatformFee, ShareKind::Referral, ShareKind::WorkshopService, ShareKind::MechanicService];
        let shares: Vec<Share> = held
            .iter()
            .enumerate()
            .map(|(n, &cents)| share(Party::Platform, kinds[n % kinds.len()], 0, cents))
            .collect();
        let total: i64 = held.iter().sum();
        let refund = (i128::from(total) * i128::from(fraction) / i128::from(u32::MAX)) as i64;
        let back = refund_split(&shares, refund).unwrap();
        prop_assert_eq!(back.len(), shares.len());
        prop_assert_eq!(back.iter().map(|s| s.cents).sum::<i64>(), refund);
        for (r, h) in back.iter().zip(&shares) {
            prop_assert!(r.cents >= 0 && r.cents <= h.cents);
        }
    }

    #[test]
    fn refunds_adding_up_to_the_gross_return_every_share(
        i in valid_input(),
        cuts in prop::collection::vec(0u64..=u64::from(u32::MAX), 0..8),
    ) {
        let s = split(&i).unwrap();
        let mut points: Vec<i64> = cuts
            .iter()
            .map(|&f| (i128::from(i.gross_cents) * i128::from(f) / i128::from(u32::MAX)) as i64)
            .collect();
        points.push(0);
        points.push(i.gross_cents);
        points.sort_unstable();

        let mut held = s.shares.clone();
        let mut returned = vec![0i64; held.len()];
        for pair in points.windows(2) {
            let refund = pair[1] - pair[0];
            let back = refund_split(&held, refund).unwrap();
            prop_assert_eq!(back.iter().map(|s| i128::from(s.cents)).sum::<i128>(), i128::from(refund));
            for ((h, r), total) in held.iter_mut().zip(&back).zip(returned.iter_mut()) {
                prop_assert!(r.cents >= 0 && r.cents <= h.cents);
                h.cents -= r.cents;
                *total += r.cents;
            }
            // What is left never exceeds the gross, so it fits in an i64.
            let left: i64 = held.iter().map(|s| s.cents).sum();
            if let Some(over) = left.checked_add(1) {
                prop_assert_eq!(
                    refund_split(&held, over),
                    Err(SplitError::RefundExceedsRemaining { refund_cents: over, remaining_cents: left })
                );
            }
        }
        prop_assert!(held.iter().all(|h| h.cents == 0));
        prop_assert_eq!(returned, s.shares.iter().map(|s| s.cents).collect::<Vec<_>>());
        prop_assert_eq!(
            refund_split(&held, 1),
            Err(SplitError::RefundExceedsRemaining { refund_cents: 1, remaining_cents: 0 })
        );
    }

    #[test]
    fn refund_above_what_remains_is_an_error(
        held in prop::collection::vec(0i64..=1_000_000_000, 0..5),
        extra in 1i64..=1_000_000,
    ) {
        let shares: Vec<Share> =
            held.iter().map(|&cents| share(Party::Platform, ShareKind::PlatformFee, 0, cents)).collect();
        let total: i64 = held.iter().sum();
        prop_assert_eq!(
            refund_split(&shares, total + extra),
            Err(SplitError::RefundExceedsRemaining { refund_cents: total + extra, remaining_cents: total })
        );
    }
}
