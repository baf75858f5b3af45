//! Payouts through Stripe Connect (or the sandbox): onboarding of workshops and
//! independent mechanics, payout runs (now, or on a schedule), and the
//! reconciliation of the ledger with the gateway.

pub mod api;
pub mod pages;

#[cfg(feature = "ssr")]
pub mod connect;
#[cfg(feature = "ssr")]
pub mod reconcile;
#[cfg(feature = "ssr")]
pub mod run;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Where a payee stands with payouts, in plain words.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OnboardingState {
    NotStarted,
    DetailsMissing,
    PayoutsEnabled,
}

impl OnboardingState {
    pub fn from_flags(has_account: bool, payouts_enabled: bool) -> Self {
        match (has_account, payouts_enabled) {
            (_, true) => OnboardingState::PayoutsEnabled,
            (true, false) => OnboardingState::DetailsMissing,
            (false, false) => OnboardingState::NotStarted,
        }
    }
    pub fn label(self) -> &'static str {
        match self {
            OnboardingState::NotStarted => "Not started",
            OnboardingState::DetailsMissing => "Details missing",
            OnboardingState::PayoutsEnabled => "Payouts enabled",
        }
    }
    pub fn explanation(self) -> &'static str {
        match self {
            OnboardingState::NotStarted => "Set up payouts to receive your earnings in your bank account.",
            OnboardingState::DetailsMissing => {
                "Your payout account exists, but some details are still missing. Continue where you left off."
            }
            OnboardingState::PayoutsEnabled => "You receive your pending earnings with every payout run.",
        }
    }
    pub fn badge(self) -> &'static str {
        match self {
            OnboardingState::NotStarted => "badge",
            OnboardingState::DetailsMissing => "badge warning",
            OnboardingState::PayoutsEnabled => "badge success",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PayoutSetup {
    pub payee_name: String,
    pub state: OnboardingState,
    pub pending_cents: i64,
    pub last_payouts: Vec<PayoutLine>,
}

/// One payout, as the payee and the admin see it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PayoutLine {
    pub payout_id: crate::ids::PayoutId,
    pub run_id: Uuid,
    pub payee_name: String,
    pub amount_cents: i64,
    pub status: crate::status::PayoutStatus,
    pub transfer_id: Option<String>,
    pub failure_reason: Option<String>,
    pub attempts: i32,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub paid_at: Option<chrono::DateTime<chrono::Utc>>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PayoutsOverview {
    /// Owed now, by payee, with whether they can be paid.
    pub balances: Vec<PayeeBalance>,
    pub recent: Vec<PayoutLine>,
    pub next_scheduled_run: Option<chrono::DateTime<chrono::Utc>>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PayeeBalance {
    pub payee_name: String,
    pub kind: crate::status::LedgerAccountKind,
    pub owed_cents: i64,
    pub payouts_enabled: bool,
}

/// A difference between the ledger and the payment gateway.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Discrepancy {
    pub area: String,
    pub reference: String,
    pub detail: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ReconciliationReport {
    pub checked_orders: usize,
    pub checked_transfers: usize,
    pub checked_refunds: usize,
    pub discrepancies: Vec<Discrepancy>,
    pub generated_at: chrono::DateTime<chrono::Utc>,
}

#[cfg(test)]
mod tests {
    use super::OnboardingState;

    #[test]
    fn onboarding_state_reads_plainly() {
        assert_eq!(OnboardingState::from_flags(false, false), OnboardingState::NotStarted);
        assert_eq!(OnboardingState::from_flags(true, false), OnboardingState::DetailsMissing);
        assert_eq!(OnboardingState::from_flags(true, true), OnboardingState::PayoutsEnabled);
        assert_eq!(OnboardingState::DetailsMissing.label(), "Details missing");
    }
}
