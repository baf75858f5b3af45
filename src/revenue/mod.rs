//! Revenue splits: who gets which cents of a paid session, and how a refund is
//! taken back. Pure Rust: no I/O, no clock and no floating point, so the server
//! and the browser compute the very same cents.
//!
//! Money is integer cents (`i64`) and rates are basis points (`i32`, 10000 =
//! 100%). Intermediate products are computed in `i128`, which holds
//! `i64::MAX * i64::MAX`, so every non-negative `i64` amount is accepted and no
//! upper limit on the gross is imposed.
//!
//! # Rounding
//!
//! Amounts are allocated by the largest-remainder (Hamilton) method: each share
//! first gets `floor(total * weight / sum_of_weights)`; the cents left over (fewer
//! than the number of shares) then go one each to the shares with the largest
//! fractional remainders. Every share therefore lands on the floor or the ceiling
//! of its exact proportional amount (within one cent), and the shares always add
//! up to the total exactly.
//!
//! **Tie-break for the odd cent:** when remainders are equal, the cent goes to the
//! party doing the work (the server: the serving workshop or mechanic), then to
//! the referring workshop, then to the platform. Example: 5 cents at 20% / 10% /
//! 70% are 1.0 / 0.5 / 3.5 exactly; the referrer and the server tie for the one
//! leftover cent and the server gets it: 1 / 0 / 4. Refunds use the same ranking,
//! so on a tie the server is the first to give a cent back — the one who was
//! first to receive it.

use serde::{Deserialize, Serialize};

use crate::dispatch::RoutingType;
use crate::ids::{UserId, WorkshopId};

/// 100% in basis points.
pub const BPS_WHOLE: i32 = 10_000;
/// The platform's usual fee (20%), for independents and referral cases.
pub const DEFAULT_PLATFORM_FEE_BPS: i32 = 2_000;
/// The usual fee a workshop pays the platform on its own mechanics' sessions (20%).
pub const DEFAULT_WORKSHOP_FEE_BPS: i32 = 2_000;
/// The usual fee paid to a workshop that referred a session it did not serve (10%).
pub const DEFAULT_REFERRAL_FEE_BPS: i32 = 1_000;

/// The rates agreed when the session was booked. They are frozen then so that a
/// later change of agreement does not alter what an earlier customer's payment
/// is split into.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FeeTerms {
    /// The platform's rate when an independent serves, and in referral cases.
    pub platform_fee_bps: i32,
    /// The serving workshop's own agreement with the platform (`None` if an
    /// independent mechanic served). Required whenever a workshop served.
    pub serving_workshop_fee_bps: Option<i32>,
    /// What the preferred workshop earns when someone else serves its hybrid request.
    pub referral_fee_bps: i32,
}

/// Who receives a share.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind", content = "id")]
pub enum Party {
    Platform,
    Workshop(WorkshopId),
    Mechanic(UserId),
}

/// Why a party receives a share.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ShareKind {
    PlatformFee,
    /// A workshop's pay for a session one of its mechanics served; the workshop
    /// pays its mechanic itself.
    WorkshopService,
    /// An independent mechanic's pay for a session they served.
    MechanicService,
    Referral,
}

impl ShareKind {
    /// Tie-break rank for the odd cent: higher wins.
    fn tie_rank(self) -> u8 {
        match self {
            ShareKind::PlatformFee => 0,
            ShareKind::Referral => 1,
            ShareKind::WorkshopService | ShareKind::MechanicService => 2,
        }
    }
}

/// Which of the business rules applies to a session.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Scenario {
    /// A workshop's own mechanic served: the platform takes the workshop's agreed
    /// rate, the workshop the rest.
    OwnWorkshop,
    /// An independent mechanic served, no referral: platform fee, mechanic the rest.
    Independent,
    /// A hybrid request the preferred workshop did not serve: platform fee,
    /// referral fee to the preferred workshop, the server the rest.
    CrossWorkshopReferral,
}

/// Who actually served the session.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ServedBy {
    Workshop { workshop: WorkshopId, mechanic: UserId },
    Independent { mechanic: UserId },
}

/// Everything a split depends on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SplitInput {
    pub gross_cents: i64,
    pub terms: FeeTerms,
    pub served_by: ServedBy,
    /// The workshop the customer chose (for `WorkshopOnly` and `Hybrid` routing).
    pub preferred_workshop: Option<WorkshopId>,
    pub routing: RoutingType,
}

/// One party's part of a split (or of a refund).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Share {
    pub party: Party,
    pub kind: ShareKind,
    /// The rate this share was split at; the server's is whatever the others leave.
    pub rate_bps: i32,
    pub cents: i64,
}

/// A gross amount split into shares.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Split {
    pub scenario: Scenario,
    pub gross_cents: i64,
    /// In a fixed order: the platform first, then the referrer (only in a referral
    /// case), then the server. Zero-cent shares are kept so the shape depends only
    /// on the scenario.
    pub shares: Vec<Share>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SplitError {
    #[error("{field} must not be negative (got {cents} cents)")]
    NegativeAmount { field: &'static str, cents: i64 },
    #[error("{field} must be between 0 and 10000 basis points (got {bps})")]
    RateOutOfRange { field: &'static str, bps: i32 },
    #[error("platform fee ({platform_bps} bps) plus referral fee ({referral_bps} bps) exceed 10000 bps")]
    RatesExceedWhole { platform_bps: i32, referral_bps: i32 },
    #[error("a workshop served the session but its fee agreement is missing from the fee terms")]
    MissingWorkshopFee,
    #[error("refund of {refund_cents} cents exceeds the {remaining_cents} cents still held")]
    RefundExceedsRemaining { refund_cents: i64, remaining_cents: i64 },
    #[error("the shares still held add up to more than an amount can hold")]
    RemainingOverflow,
}

/// The scenario together with the parties it involves, so `split` never has to
/// re-derive (or unwrap) what `scenario` already decided.
enum Case {
    OwnWorkshop { workshop: WorkshopId },
    Independent { mechanic: UserId },
    Referral { referrer: WorkshopId, server: (Party, ShareKind) },
}

fn classify(input: &SplitInput) -> Case {
    // Only hybrid routing hands a chosen workshop's request to others; a
    // workshop_only request cannot leave the workshop and a broadcast one has
    // nobody to refer it, so neither ever pays a referral.
    let referrer = match (input.routing, input.preferred_workshop) {
        (RoutingType::Hybrid, Some(preferred)) => Some(preferred),
        _ => None,
    };
    match (input.served_by, referrer) {
        (ServedBy::Workshop { workshop, .. }, Some(referrer)) if workshop != referrer => {
            Case::Referral { referrer, server: (Party::Workshop(workshop), ShareKind::WorkshopService) }
        }
        (ServedBy::Independent { mechanic }, Some(referrer)) => {
            Case::Referral { referrer, server: (Party::Mechanic(mechanic), ShareKind::MechanicService) }
        }
        (ServedBy::Workshop { workshop, .. }, _) => Case::OwnWorkshop { workshop },
        (ServedBy::Independent { mechanic }, None) => Case::Independent { mechanic },
    }
}

/// Which business rule applies. Never fails: the rates are not looked at.
pub fn scenario(input: &SplitInput) -> Scenario {
    match classify(input) {
        Case::OwnWorkshop { .. } => Scenario::OwnWorkshop,
        Case::Independent { .. } => Scenario::Independent,
        Case::Referral { .. } => Scenario::CrossWorkshopReferral,
    }
}

fn check_rate(field: &'static str, bps: i32) -> Result<i32, SplitError> {
    if (0..=BPS_WHOLE).contains(&bps) {
        Ok(bps)
    } else {
        Err(SplitError::RateOutOfRange { field, bps })
    }
}

/// Splits the gross of a session between the platform, a referrer (if any) and
/// the server, by the largest-remainder method with the tie-break documented on
/// this module (server, then referrer, then platform).
///
/// Every rate present in the terms must be within 0..=10000, even one the
/// scenario does not use, because out-of-range terms mean the stored agreement is
/// corrupt. The serving workshop's rate is required whenever a workshop served.
pub fn split(input: &SplitInput) -> Result<Split, SplitError> {
    if input.gross_cents < 0 {
        return Err(SplitError::NegativeAmount { field: "gross_cents", cents: input.gross_cents });
    }
    let terms = input.terms;
    let platform_bps = check_rate("platform_fee_bps", terms.platform_fee_bps)?;
    let referral_bps = check_rate("referral_fee_bps", terms.referral_fee_bps)?;
    let workshop_bps =
        terms.serving_workshop_fee_bps.map(|bps| check_rate("serving_workshop_fee_bps", bps)).transpose()?;
    if matches!(input.served_by, ServedBy::Workshop { .. }) && workshop_bps.is_none() {
        return Err(SplitError::MissingWorkshopFee);
    }

    let unfilled = |party, kind, rate_bps| Share { party, kind, rate_bps, cents: 0 };
    let (mut shares, (server_party, server_kind)) = match classify(input) {
        Case::OwnWorkshop { workshop } => (
            vec![unfilled(
                Party::Platform,
                ShareKind::PlatformFee,
                workshop_bps.ok_or(SplitError::MissingWorkshopFee)?,
            )],
            (Party::Workshop(workshop), ShareKind::WorkshopService),
        ),
        Case::Independent { mechanic } => (
            vec![unfilled(Party::Platform, ShareKind::PlatformFee, platform_bps)],
            (Party::Mechanic(mechanic), ShareKind::MechanicService),
        ),
        Case::Referral { referrer, server } => {
            if platform_bps + referral_bps > BPS_WHOLE {
                return Err(SplitError::RatesExceedWhole { platform_bps, referral_bps });
            }
            (
                vec![
                    unfilled(Party::Platform, ShareKind::PlatformFee, platform_bps),
                    unfilled(Party::Workshop(referrer), ShareKind::Referral, referral_bps),
                ],
                server,
            )
        }
    };
    // The server's rate is what the others leave, so it is derived, never configured.
    let server_bps = BPS_WHOLE - shares.iter().map(|s| s.rate_bps).sum::<i32>();
    shares.push(unfilled(server_party, server_kind, server_bps));

    // Shares are ordered platform, referrer, server, and `largest_remainder` gives
    // ties to the later part: exactly the documented tie-break.
    let weights: Vec<i64> = shares.iter().map(|s| i64::from(s.rate_bps)).collect();
    for (share, cents) in shares.iter_mut().zip(largest_remainder(input.gross_cents, &weights)) {
        share.cents = cents;
    }
    Ok(Split { scenario: scenario(input), gross_cents: input.gross_cents, shares })
}

/// Allocates `total` cents in proportion to `weights` (basis points summing to
/// 10000, or any non-negative weights) by the largest-remainder method; returns
/// one amount per weight, summing exactly to `total`, each the floor or the
/// ceiling of its exact proportional amount.
///
/// On equal remainders the later weight gets the cent first, so callers list
/// their parts from lowest to highest tie-break priority (`split` lists the
/// platform, the referrer, then the server).
///
/// Edge cases, chosen so the function never panics: negative weights count as
/// zero; if no weight is positive there is no proportion to follow and every
/// amount is 0 (the only case where the sum differs from a non-zero `total`); a
/// negative `total` is allocated as the negation of allocating its magnitude.
pub fn largest_remainder(total: i64, weights: &[i64]) -> Vec<i64> {
    allocate(total, weights, |_| 0)
}

/// `largest_remainder` with ties decided first by `rank` (higher wins), then by
/// the later index.
fn allocate(total: i64, weights: &[i64], rank: impl Fn(usize) -> u8) -> Vec<i64> {
    let weights: Vec<i128> = weights.iter().map(|&w| i128::from(w.max(0))).collect();
    // At most len * 2^63: far inside i128 for any slice that fits in memory.
    let denominator: i128 = weights.iter().sum();
    if denominator == 0 {
        return vec![0; weights.len()];
    }
    let magnitude = i128::from(total).abs();
    // magnitude * weight <= 2^63 * 2^63 = 2^126 < i128::MAX.
    let mut amounts: Vec<i128> = Vec::with_capacity(weights.len());
    let mut remainders: Vec<i128> = Vec::with_capacity(weights.len());
    for &w in &weights {
        let product = magnitude * w;
        amounts.push(product / denominator);
        remainders.push(product % denominator);
    }
    // The leftover equals sum(remainders) / denominator and each remainder is below
    // the denominator, so the leftover is smaller than the number of parts with a
    // non-zero remainder: a zero-weight part never receives a cent.
    let leftover = magnitude - amounts.iter().sum::<i128>();
    let mut order: Vec<usize> = (0..weights.len()).collect();
    order.sort_by(|&a, &b| {
        remainders[b].cmp(&remainders[a]).then_with(|| rank(b).cmp(&rank(a))).then_with(|| b.cmp(&a))
    });
    for &i in order.iter().take(usize::try_from(leftover).unwrap_or(usize::MAX)) {
        amounts[i] += 1;
    }
    let sign = if total < 0 { -1 } else { 1 };
    // Each amount is at most the magnitude (<= 2^63), so with its sign it is within
    // i64 (only i64::MIN itself reaches 2^63, and it stays negative).
    amounts.into_iter().map(|a| (sign * a) as i64).collect()
}

/// Takes a refund back from the shares still held (`remaining`: each original
/// share minus what earlier refunds took from it), in proportion to what remains,
/// by the largest-remainder method.
///
/// Returns one share per remaining share, in the same order, with the same party,
/// kind and `rate_bps` (the rate of the share being reversed) and the cents taken
/// back from it (0 allowed). The amounts sum exactly to `refund_cents`, none is
/// negative and none exceeds what that share still holds. On equal remainders the
/// server gives the cent back first, then the referrer, then the platform
/// (mirroring who received the odd cent), and among equals the later share.
///
/// Refunding everything that remains returns every share in full, so any sequence
/// of partial refunds that adds up to the gross leaves nothing behind.
pub fn refund_split(remaining: &[Share], refund_cents: i64) -> Result<Vec<Share>, SplitError> {
    if refund_cents < 0 {
        return Err(SplitError::NegativeAmount { field: "refund_cents", cents: refund_cents });
    }
    if let Some(negative) = remaining.iter().find(|s| s.cents < 0) {
        return Err(SplitError::NegativeAmount { field: "remaining share", cents: negative.cents });
    }
    let held: i128 = remaining.iter().map(|s| i128::from(s.cents)).sum();
    let held = i64::try_from(held).map_err(|_| SplitError::RemainingOverflow)?;
    if refund_cents > held {
        return Err(SplitError::RefundExceedsRemaining { refund_cents, remaining_cents: held });
    }
    let weights: Vec<i64> = remaining.iter().map(|s| s.cents).collect();
    let cents = allocate(refund_cents, &weights, |i| remaining[i].kind.tie_rank());
    Ok(remaining.iter().zip(cents).map(|(share, cents)| Share { cents, ..*share }).collect())
}

#[cfg(test)]
mod tests;
