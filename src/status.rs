//! The statuses of the platform's records, one enum per PostgreSQL enum type,
//! used end to end: in SQL (as `sqlx::Type`), on the wire and in the pages.

use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(sqlx::Type))]
#[cfg_attr(feature = "ssr", sqlx(type_name = "order_status", rename_all = "snake_case"))]
#[serde(rename_all = "snake_case")]
pub enum OrderStatus {
    AwaitingPayment,
    Paid,
    /// A payment arrived whose amount or currency differs from the order: held
    /// for the admin, never fulfilled (`orders.held_reason` says why).
    Held,
    Cancelled,
    Refunded,
    PartiallyRefunded,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(sqlx::Type))]
#[cfg_attr(feature = "ssr", sqlx(type_name = "request_status", rename_all = "snake_case"))]
#[serde(rename_all = "snake_case")]
pub enum RequestStatus {
    Pending,
    Accepted,
    Expired,
    Cancelled,
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
    /// The stored word (`completed`).
    pub fn as_str(self) -> &'static str {
        match self {
            SessionStatus::Accepted => "accepted",
            SessionStatus::Active => "active",
            SessionStatus::Completed => "completed",
            SessionStatus::Cancelled => "cancelled",
        }
    }
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

/// A payout's state (`payouts.status`, a text column with a CHECK): pending
/// until its transfer is made, failed (retried later) or skipped (nothing to send).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(sqlx::Type))]
#[cfg_attr(feature = "ssr", sqlx(type_name = "text", rename_all = "snake_case"))]
#[serde(rename_all = "snake_case")]
pub enum PayoutStatus {
    Pending,
    Paid,
    Failed,
    Skipped,
}

impl PayoutStatus {
    /// The stored word (`paid`), shown as is in the payout tables.
    pub fn as_str(self) -> &'static str {
        match self {
            PayoutStatus::Pending => "pending",
            PayoutStatus::Paid => "paid",
            PayoutStatus::Failed => "failed",
            PayoutStatus::Skipped => "skipped",
        }
    }
    pub fn badge(self) -> &'static str {
        match self {
            PayoutStatus::Paid => "badge success",
            PayoutStatus::Failed => "badge danger",
            PayoutStatus::Skipped => "badge",
            PayoutStatus::Pending => "badge warning",
        }
    }
}

/// The kind of a ledger account (`ledger_account_kind`): the three platform
/// accounts, and one payable per workshop or independent mechanic.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(sqlx::Type))]
#[cfg_attr(feature = "ssr", sqlx(type_name = "ledger_account_kind", rename_all = "snake_case"))]
#[serde(rename_all = "snake_case")]
pub enum LedgerAccountKind {
    GatewayCash,
    PaymentClearing,
    PlatformRevenue,
    WorkshopPayable,
    MechanicPayable,
}

impl LedgerAccountKind {
    /// Who a payable is owed to, as the payout page names them.
    pub fn payee_label(self) -> &'static str {
        match self {
            LedgerAccountKind::WorkshopPayable => "Workshop",
            LedgerAccountKind::MechanicPayable => "Independent mechanic",
            LedgerAccountKind::GatewayCash => "Payment gateway",
            LedgerAccountKind::PaymentClearing => "Payments not yet earned",
            LedgerAccountKind::PlatformRevenue => "Platform",
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

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(sqlx::Type))]
#[cfg_attr(feature = "ssr", sqlx(type_name = "mechanic_account_type", rename_all = "snake_case"))]
#[serde(rename_all = "snake_case")]
pub enum AccountType {
    Independent,
    Workshop,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(sqlx::Type))]
#[cfg_attr(feature = "ssr", sqlx(type_name = "application_status", rename_all = "snake_case"))]
#[serde(rename_all = "snake_case")]
pub enum ApplicationStatus {
    Pending,
    Approved,
    Rejected,
}

impl ApplicationStatus {
    pub fn label(self) -> &'static str {
        match self {
            ApplicationStatus::Pending => "Waiting for approval",
            ApplicationStatus::Approved => "Approved",
            ApplicationStatus::Rejected => "Not approved",
        }
    }
    pub fn badge(self) -> &'static str {
        match self {
            ApplicationStatus::Pending => "badge warning",
            ApplicationStatus::Approved => "badge success",
            ApplicationStatus::Rejected => "badge danger",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{LedgerAccountKind, PayoutStatus};

    #[test]
    fn a_payout_status_is_the_word_the_payouts_table_allows() {
        let all = [PayoutStatus::Pending, PayoutStatus::Paid, PayoutStatus::Failed, PayoutStatus::Skipped];
        let words: Vec<String> = all.iter().map(|s| format!("'{}'", s.as_str())).collect();
        let schema = include_str!("../migrations/0007_payouts_refunds.sql");
        assert!(
            schema.contains(&format!("CHECK (status IN ({}))", words.join(", "))),
            "payouts.status's CHECK lists exactly {words:?}"
        );
        for s in all {
            assert_eq!(serde_json::to_string(&s).unwrap(), format!("\"{}\"", s.as_str()));
            assert_eq!(serde_json::from_str::<PayoutStatus>(&format!("\"{}\"", s.as_str())).unwrap(), s);
        }
    }

    #[test]
    fn a_ledger_account_kind_is_a_label_of_the_postgres_enum_in_its_order() {
        use LedgerAccountKind::*;
        let all = [GatewayCash, PaymentClearing, PlatformRevenue, WorkshopPayable, MechanicPayable];
        let schema = include_str!("../migrations/0006_ledger.sql");
        let body = schema
            .split("CREATE TYPE ledger_account_kind AS ENUM (")
            .nth(1)
            .and_then(|rest| rest.split(");").next())
            .expect("0006 creates ledger_account_kind");
        let labels: Vec<&str> =
            body.lines().filter_map(|l| l.trim().strip_prefix('\'')?.split('\'').next()).collect();
        let words: Vec<String> =
            all.iter().map(|k| serde_json::to_string(k).unwrap().trim_matches('"').to_string()).collect();
        assert_eq!(labels, words);
        assert_eq!(WorkshopPayable.payee_label(), "Workshop");
        assert_eq!(MechanicPayable.payee_label(), "Independent mechanic");
    }
}
