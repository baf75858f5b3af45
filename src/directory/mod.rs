//! The workshop directory customers choose from: a page and a JSON endpoint,
//! both reading the statistics kept in `workshop_stats` (never scanning history).

pub mod api;
pub mod pages;

#[cfg(feature = "ssr")]
pub mod queries;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// One workshop card. Field names follow the earlier API's JSON example.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(sqlx::FromRow))]
pub struct DirectoryWorkshop {
    pub workshop_id: Uuid,
    pub workshop_name: String,
    pub workshop_email: String,
    pub workshop_status: String,
    pub city: String,
    pub specialties: Vec<String>,
    pub total_mechanics: i32,
    pub available_mechanics: i32,
    /// Average rating, 1.00 to 5.00, or none before the first rating.
    pub avg_rating: Option<f64>,
    pub rating_count: i64,
    pub total_sessions: i64,
    /// Median seconds from request to acceptance over the last 30 days.
    pub median_accept_seconds: Option<i32>,
    pub created_at: chrono::DateTime<chrono::Utc>,
}

/// The "Any available" card: every approved mechanic online now.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AnyAvailable {
    pub available_mechanics: i64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DirectoryPage {
    pub workshops: Vec<DirectoryWorkshop>,
    pub total: i64,
    pub limit: i64,
    pub offset: i64,
    pub query: String,
    pub any_available: AnyAvailable,
}

pub const DEFAULT_LIMIT: i64 = 20;
pub const MAX_LIMIT: i64 = 100;
pub const MAX_OFFSET: i64 = 1_000_000;
pub const MAX_QUERY_CHARS: usize = 100;

/// Validated directory parameters.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DirectoryParams {
    pub limit: i64,
    pub offset: i64,
    pub query: String,
}

/// Checks raw query-string values; the message says what is wrong and what is allowed.
pub fn parse_params(
    limit: Option<&str>,
    offset: Option<&str>,
    q: Option<&str>,
) -> Result<DirectoryParams, String> {
    let limit = match limit.map(str::trim) {
        None | Some("") => DEFAULT_LIMIT,
        Some(raw) => match raw.parse::<i64>() {
            Ok(n) if (1..=MAX_LIMIT).contains(&n) => n,
            _ => return Err(format!("limit must be a whole number from 1 to {MAX_LIMIT} (got {raw:.20})")),
        },
    };
    let offset = match offset.map(str::trim) {
        None | Some("") => 0,
        Some(raw) => match raw.parse::<i64>() {
            Ok(n) if (0..=MAX_OFFSET).contains(&n) => n,
            _ => return Err(format!("offset must be a whole number from 0 to {MAX_OFFSET} (got {raw:.20})")),
        },
    };
    let query = q.unwrap_or("").trim().to_string();
    if query.chars().count() > MAX_QUERY_CHARS {
        return Err(format!("q must be at most {MAX_QUERY_CHARS} characters"));
    }
    if query.chars().any(char::is_control) {
        return Err("q must not contain control characters".into());
    }
    Ok(DirectoryParams { limit, offset, query })
}

/// "about 2 min", "under a minute": how quickly a workshop usually accepts.
pub fn describe_accept_time(seconds: Option<i32>) -> Option<String> {
    let s = seconds?;
    Some(match s {
        0..=59 => "under a minute".to_string(),
        60..=3599 => format!("about {} min", (s + 30) / 60),
        _ => format!("about {} h", (s + 1800) / 3600),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameters_default_and_bound() {
        assert_eq!(
            parse_params(None, None, None).unwrap(),
            DirectoryParams { limit: 20, offset: 0, query: String::new() }
        );
        assert_eq!(parse_params(Some("100"), Some("40"), Some(" brakes ")).unwrap().query, "brakes");
        for (l, o) in [
            ("0", "0"),
            ("101", "0"),
            ("abc", "0"),
            ("-1", "0"),
            ("1.5", "0"),
            ("20", "-1"),
            ("20", "x"),
            ("20", "99999999999"),
        ] {
            assert!(parse_params(Some(l), Some(o), None).is_err(), "{l} {o}");
        }
        assert!(parse_params(None, None, Some(&"q".repeat(101))).is_err());
        assert!(parse_params(None, None, Some("a\u{0}b")).is_err());
    }

    #[test]
    fn accept_times_read_naturally() {
        assert_eq!(describe_accept_time(None), None);
        assert_eq!(describe_accept_time(Some(20)).as_deref(), Some("under a minute"));
        assert_eq!(describe_accept_time(Some(150)).as_deref(), Some("about 3 min"));
        assert_eq!(describe_accept_time(Some(7200)).as_deref(), Some("about 2 h"));
    }
}
