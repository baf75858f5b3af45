//! The workshop's analytics over time, on the owner's dashboard: per week over
//! the last 12 weeks (Monday to Sunday, UTC; the current week so far last) the
//! sessions served, the median time to accept, the acceptance rate, the average
//! rating and the earnings; and one row per mechanic over the same 12 weeks.
//! The page and the CSV (`/workshop/analytics.csv`) read the same figures.
//!
//! What each figure counts, per week:
//! - sessions: sessions its mechanics took, by the time they were taken;
//! - median time to accept: of the requests its mechanics accepted that week;
//! - acceptance rate: of the paid requests that chose the workshop that week,
//!   the share its own mechanics took (whole percent, rounded down);
//! - average rating: of the ratings given that week to its sessions;
//! - earnings: its shares of session revenue credited that week, net of the
//!   refunds taken back that week (integer cents).

use crate::error::AppError;
use chrono::{DateTime, Datelike, Duration, NaiveDate, TimeZone, Utc};
use leptos::prelude::*;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

pub const WEEKS: i64 = 12;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct WeekFigures {
    /// The Monday the week starts on.
    pub week_start: NaiveDate,
    pub sessions: i64,
    pub median_accept_seconds: Option<i64>,
    pub requests_preferred: i64,
    pub preferred_served_by_self: i64,
    pub avg_rating: Option<f64>,
    pub rating_count: i64,
    pub earnings_cents: i64,
}

impl WeekFigures {
    pub fn acceptance_rate_percent(&self) -> Option<i64> {
        acceptance_rate(self.requests_preferred, self.preferred_served_by_self)
    }
}

/// A mechanic's figures over the 12 weeks.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MechanicFigures {
    pub mechanic_id: Uuid,
    pub name: String,
    pub sessions: i64,
    pub median_accept_seconds: Option<i64>,
    pub avg_rating: Option<f64>,
    pub rating_count: i64,
    /// The workshop's shares of the sessions this mechanic served.
    pub earnings_cents: i64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct WorkshopTrends {
    pub workshop_name: String,
    pub currency: String,
    /// Oldest first; always `WEEKS` weeks, weeks without sessions at zero.
    pub weeks: Vec<WeekFigures>,
    pub mechanics: Vec<MechanicFigures>,
}

/// Share taken of the requests that chose the workshop, in whole percent.
pub fn acceptance_rate(preferred: i64, served_by_self: i64) -> Option<i64> {
    (preferred > 0).then(|| served_by_self * 100 / preferred)
}

/// The Monday of the week `day` is in.
pub fn week_monday(day: NaiveDate) -> NaiveDate {
    day - Duration::days(day.weekday().num_days_from_monday() as i64)
}

/// The first instant of the 12 weeks that end with the week of `now`, and the
/// Monday of each week (oldest first).
pub fn window(now: DateTime<Utc>) -> (DateTime<Utc>, Vec<NaiveDate>) {
    let this_week = week_monday(now.date_naive());
    let first = this_week - Duration::weeks(WEEKS - 1);
    let weeks = (0..WEEKS).map(|i| first + Duration::weeks(i)).collect();
    (midnight(first), weeks)
}

pub fn midnight(day: NaiveDate) -> DateTime<Utc> {
    Utc.from_utc_datetime(&day.and_hms_opt(0, 0, 0).unwrap_or_default())
}

/// Seconds as the dashboard shows them ("2 min 5 s", "45 s", "1 h 3 min").
pub fn human_seconds(s: i64) -> String {
    match s {
        ..=59 => format!("{s} s"),
        60..=3599 if s % 60 == 0 => format!("{} min", s / 60),
        60..=3599 => format!("{} min {} s", s / 60, s % 60),
        _ => format!("{} h {} min", s / 3600, (s % 3600) / 60),
    }
}

/// The owner's analytics over the last 12 weeks. Owners only (like the CSV).
#[server(prefix = "/api", endpoint = "workshop/analytics")]
pub async fn get_workshop_trends() -> Result<WorkshopTrends, AppError> {
    let state = crate::state::app_state()?;
    let (_, membership) = super::api::require_workshop_owner(&state).await?;
    super::trends_queries::load(
        &state.pool,
        crate::ids::WorkshopId(membership.organization_id),
        &membership.organization_name,
        Utc::now(),
    )
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    #[test]
    fn weeks_start_on_monday_and_end_with_this_week() {
        // 2026-12-01 is a Tuesday.
        assert_eq!(week_monday(d(2026, 12, 1)), d(2026, 11, 30));
        assert_eq!(week_monday(d(2026, 11, 30)), d(2026, 11, 30));
        assert_eq!(week_monday(d(2026, 12, 6)), d(2026, 11, 30));
        let (start, weeks) = window(midnight(d(2026, 12, 6)) + Duration::hours(23));
        assert_eq!(weeks.len(), 12);
        assert_eq!(*weeks.last().unwrap(), d(2026, 11, 30));
        assert_eq!(weeks[0], d(2026, 9, 14));
        assert_eq!(start, midnight(d(2026, 9, 14)));
    }

    #[test]
    fn rates_and_lengths_read_naturally() {
        assert_eq!(acceptance_rate(0, 0), None);
        assert_eq!(acceptance_rate(3, 2), Some(66));
        assert_eq!(human_seconds(45), "45 s");
        assert_eq!(human_seconds(120), "2 min");
        assert_eq!(human_seconds(125), "2 min 5 s");
        assert_eq!(human_seconds(3780), "1 h 3 min");
    }
}
