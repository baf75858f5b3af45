//! Email notifications: what is sent to whom when something happens (a payment,
//! an accept, a report, a refund, a payout, a decision), the one-click
//! unsubscribe links in them, and each person's choice to receive optional mail.
//!
//! Every notification goes through the outbox (`crate::mail`) under a key made
//! of its kind, its event and its recipient, written in the transaction of the
//! change it reports: however often an event is processed, and on however many
//! instances, it is mailed once.

pub mod api;
pub mod pages;

#[cfg(feature = "ssr")]
pub mod notices;
#[cfg(feature = "ssr")]
pub mod send;
#[cfg(feature = "ssr")]
pub mod unsubscribe;

/// What a notification is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    PaymentReceipt,
    RequestAccepted,
    SessionReport,
    RefundIssued,
    PayoutSent,
    WorkshopApproved,
    WorkshopRejected,
    WorkshopSuspended,
    WorkshopRequestWaiting,
    ApplicationApproved,
    ApplicationRejected,
    NewOffers,
}

impl Kind {
    /// The outbox's `kind` (and the first part of the key).
    pub fn code(self) -> &'static str {
        match self {
            Kind::PaymentReceipt => "payment_receipt",
            Kind::RequestAccepted => "request_accepted",
            Kind::SessionReport => "session_report",
            Kind::RefundIssued => "refund_issued",
            Kind::PayoutSent => "payout_sent",
            Kind::WorkshopApproved => "workshop_approved",
            Kind::WorkshopRejected => "workshop_rejected",
            Kind::WorkshopSuspended => "workshop_suspended",
            Kind::WorkshopRequestWaiting => "workshop_request_waiting",
            Kind::ApplicationApproved => "application_approved",
            Kind::ApplicationRejected => "application_rejected",
            Kind::NewOffers => "new_offers",
        }
    }

    /// Receipts (of a payment, a refund, a payout, the report paid for) and
    /// decisions about the account always go out; the rest can be switched off.
    pub fn essential(self) -> bool {
        !matches!(self, Kind::RequestAccepted | Kind::WorkshopRequestWaiting | Kind::NewOffers)
    }
}

#[cfg(test)]
mod tests {
    use super::Kind;

    #[test]
    fn receipts_and_account_decisions_are_essential() {
        for k in [Kind::PaymentReceipt, Kind::RefundIssued, Kind::PayoutSent, Kind::SessionReport] {
            assert!(k.essential(), "{k:?}");
        }
        for k in [Kind::WorkshopApproved, Kind::WorkshopSuspended, Kind::ApplicationRejected] {
            assert!(k.essential(), "{k:?}");
        }
        assert!(!Kind::RequestAccepted.essential());
        assert!(!Kind::WorkshopRequestWaiting.essential());
        assert!(!Kind::NewOffers.essential());
    }
}
