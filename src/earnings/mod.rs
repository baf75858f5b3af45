//! Earnings, read from the ledger: the workshop owner's panel (totals, a 30-day
//! chart, per-session rows, CSV export), the mechanic's earnings page, and the
//! admin's platform revenue.

pub mod api;
pub mod pages;

#[cfg(feature = "ssr")]
pub mod csv;
#[cfg(feature = "ssr")]
pub mod queries;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EarningsTotals {
    /// Earned and not yet paid out (the payable's balance).
    pub pending_cents: i64,
    pub paid_cents: i64,
    /// Everything earned, net of refunds: pending plus paid.
    pub lifetime_cents: i64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DailyPoint {
    pub day: chrono::NaiveDate,
    pub cents: i64,
}

/// One line of a payee's earnings: a share credited for a session, a refund
/// taken back from one, or a reversal that recovered a paid-out share. Over an
/// account's whole history the rows add up to its totals: `net_cents` to the
/// lifetime total, `pending_cents` to what is pending, `paid_cents` to what was
/// paid out.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EarningRow {
    pub posting_id: i64,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub session_id: Uuid,
    pub mechanic_name: String,
    pub plan_name: String,
    pub gross_cents: i64,
    pub platform_fee_cents: i64,
    /// The referral paid out of this session (on service rows), or earned (on referral rows).
    pub referral_cents: i64,
    /// What the row did to the lifetime total (a reversal: nothing).
    pub net_cents: i64,
    /// "workshop_service", "mechanic_service", "referral" or "reversal".
    pub share_kind: String,
    /// "session_revenue", "refund" or "transfer_reversal".
    pub entry_kind: String,
    /// What the row did to the pending total, and to the paid-out total.
    pub pending_cents: i64,
    pub paid_cents: i64,
    /// Pending, or paid once a payout carried (or netted) it out.
    pub payout_status: crate::status::PayoutStatus,
    pub paid_at: Option<chrono::DateTime<chrono::Utc>>,
    pub transfer_id: Option<String>,
}

impl EarningRow {
    pub fn kind_label(&self) -> &'static str {
        match (self.entry_kind.as_str(), self.share_kind.as_str()) {
            ("transfer_reversal", _) => "Reversal",
            ("refund", "referral") => "Referral refund",
            ("refund", _) => "Refund",
            (_, "referral") => "Referral",
            _ => "Session",
        }
    }
}

/// What a list of rows adds up to: (net, pending, paid).
pub fn row_sums(rows: &[EarningRow]) -> (i64, i64, i64) {
    rows.iter().fold((0, 0, 0), |(n, pe, pa), r| (n + r.net_cents, pe + r.pending_cents, pa + r.paid_cents))
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct WorkshopEarnings {
    pub workshop_name: String,
    pub currency: String,
    pub totals: EarningsTotals,
    /// The last 30 days, oldest first, one point per day.
    pub chart: Vec<DailyPoint>,
    pub rows: Vec<EarningRow>,
    pub from: chrono::NaiveDate,
    pub to: chrono::NaiveDate,
    pub more_rows: bool,
}

/// A session a workshop mechanic served (their pay comes from the workshop).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(sqlx::FromRow))]
pub struct ServedSession {
    pub session_id: Uuid,
    pub ended_at: Option<chrono::DateTime<chrono::Utc>>,
    pub plan_name: String,
    pub customer_name: String,
    pub rating: Option<i16>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MechanicEarnings {
    pub currency: String,
    /// For workshop mechanics: the workshop that pays them.
    pub workshop_name: Option<String>,
    pub totals: Option<EarningsTotals>,
    pub rows: Vec<EarningRow>,
    pub served: Vec<ServedSession>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(sqlx::FromRow))]
pub struct WorkshopRevenue {
    pub workshop_id: Option<Uuid>,
    pub workshop_name: Option<String>,
    pub sessions: i64,
    pub platform_fee_cents: i64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PlatformRevenue {
    pub currency: String,
    pub total_30d_cents: i64,
    pub by_day: Vec<DailyPoint>,
    pub by_workshop: Vec<WorkshopRevenue>,
}

/// Parses an optional `YYYY-MM-DD` date from a form or query string.
pub fn parse_day(
    raw: Option<&str>,
    field: &str,
) -> Result<Option<chrono::NaiveDate>, crate::error::AppError> {
    match raw.map(str::trim).filter(|s| !s.is_empty()) {
        None => Ok(None),
        Some(s) => chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d")
            .map(Some)
            .map_err(|_| crate::error::AppError::field(field, "Enter a date as YYYY-MM-DD.")),
    }
}

/// The date range to show: defaults to the last 30 days; at most two years.
pub fn date_range(
    from: Option<chrono::NaiveDate>,
    to: Option<chrono::NaiveDate>,
    today: chrono::NaiveDate,
) -> Result<(chrono::NaiveDate, chrono::NaiveDate), crate::error::AppError> {
    let to = to.unwrap_or(today);
    let from = from.unwrap_or(to - chrono::Duration::days(29));
    if from > to {
        return Err(crate::error::AppError::field("from", "The start date is after the end date."));
    }
    if (to - from).num_days() > 731 {
        return Err(crate::error::AppError::field("from", "Choose a range of at most two years."));
    }
    Ok((from, to))
}

/// Fills the days without earnings with zero, so the chart has one bar per day.
pub fn fill_days(points: &[DailyPoint], last: chrono::NaiveDate, days: i64) -> Vec<DailyPoint> {
    (0..days)
        .rev()
        .map(|back| {
            let day = last - chrono::Duration::days(back);
            let cents = points.iter().filter(|p| p.day == day).map(|p| p.cents).sum();
            DailyPoint { day, cents }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    #[test]
    fn date_ranges_default_and_are_checked() {
        let today = d(2026, 11, 22);
        assert_eq!(date_range(None, None, today).unwrap(), (d(2026, 10, 24), today));
        assert!(date_range(Some(d(2026, 11, 23)), Some(today), today).is_err());
        assert!(date_range(Some(d(2020, 1, 1)), Some(today), today).is_err());
        assert!(parse_day(Some("2026-02-30"), "from").is_err());
        assert!(parse_day(Some("yesterday"), "from").is_err());
        assert_eq!(parse_day(Some(" "), "from").unwrap(), None);
    }

    #[test]
    fn chart_has_one_point_per_day() {
        let pts = vec![DailyPoint { day: d(2026, 11, 20), cents: 500 }];
        let filled = fill_days(&pts, d(2026, 11, 22), 30);
        assert_eq!(filled.len(), 30);
        assert_eq!(filled.last().unwrap().day, d(2026, 11, 22));
        assert_eq!(filled.iter().map(|p| p.cents).sum::<i64>(), 500);
        assert_eq!(filled[27].cents, 500);
    }
}
