//! The workshop directory customers choose from: a page and a JSON endpoint,
//! both reading the statistics kept in `workshop_stats` (never scanning history).

pub mod api;
pub mod pages;

#[cfg(feature = "ssr")]
pub mod live;
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
    pub workshop_status: crate::status::WorkshopStatus,
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
    /// The logo's version (part of its URL), or none without a logo.
    pub logo_version: Option<i64>,
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
    pub online: bool,
    pub sort: Sort,
    pub any_available: AnyAvailable,
}

/// The directory's order.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Sort {
    /// Mechanics online now, then rating (the default).
    #[default]
    Online,
    /// Best rated first (unrated last).
    Rating,
    /// Quickest to accept first (workshops without a figure last).
    Accept,
}

impl Sort {
    pub const ALL: [Sort; 3] = [Sort::Online, Sort::Rating, Sort::Accept];

    /// The value in the query string (`sort=`).
    pub fn code(self) -> &'static str {
        match self {
            Sort::Online => "online",
            Sort::Rating => "rating",
            Sort::Accept => "accept",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Sort::Online => "Online now",
            Sort::Rating => "Best rated",
            Sort::Accept => "Quickest to accept",
        }
    }

    pub fn parse(raw: &str) -> Option<Sort> {
        Sort::ALL.into_iter().find(|s| s.code() == raw)
    }
}

/// The query string of a directory link (search, filter, order and page).
pub fn directory_query(query: &str, online: bool, sort: Sort, page: i64) -> String {
    let mut parts = Vec::new();
    if !query.is_empty() {
        parts.push(format!("q={}", crate::url::urlencode(query)));
    }
    if online {
        parts.push("online=1".to_string());
    }
    if sort != Sort::Online {
        parts.push(format!("sort={}", sort.code()));
    }
    if page > 1 {
        parts.push(format!("page={page}"));
    }
    format!("?{}", parts.join("&"))
}

/// The path of a workshop's public page.
pub fn workshop_path(id: Uuid) -> String {
    format!("/workshops/{id}")
}

/// The URL of a workshop's logo; the version makes a new logo a new URL.
pub fn logo_path(id: Uuid, version: i64) -> String {
    format!("/api/workshops/{id}/logo?v={version}")
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
    /// Only workshops with a mechanic online now.
    pub online: bool,
    pub sort: Sort,
}

/// Checks raw query-string values; the message says what is wrong and what is allowed.
pub fn parse_params(
    limit: Option<&str>,
    offset: Option<&str>,
    q: Option<&str>,
    online: Option<&str>,
    sort: Option<&str>,
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
    let online = match online.map(str::trim) {
        None | Some("") | Some("0") | Some("false") => false,
        Some("1") | Some("true") | Some("on") => true,
        Some(raw) => return Err(format!("online must be 1 or 0 (got {raw:.20})")),
    };
    let sort = match sort.map(str::trim) {
        None | Some("") => Sort::Online,
        Some(raw) => Sort::parse(raw)
            .ok_or_else(|| format!("sort must be one of online, rating or accept (got {raw:.20})"))?,
    };
    Ok(DirectoryParams { limit, offset, query, online, sort })
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
            parse_params(None, None, None, None, None).unwrap(),
            DirectoryParams { limit: 20, offset: 0, query: String::new(), online: false, sort: Sort::Online }
        );
        assert_eq!(
            parse_params(Some("100"), Some("40"), Some(" brakes "), None, None).unwrap().query,
            "brakes"
        );
        let p = parse_params(None, None, None, Some("1"), Some("accept")).unwrap();
        assert!(p.online);
        assert_eq!(p.sort, Sort::Accept);
        assert_eq!(parse_params(None, None, None, Some("on"), Some("rating")).unwrap().sort, Sort::Rating);
        assert!(parse_params(None, None, None, Some("yes please"), None).is_err());
        assert!(parse_params(None, None, None, None, Some("price")).is_err());
        assert!(parse_params(None, None, None, None, Some("RATING")).is_err());
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
            assert!(parse_params(Some(l), Some(o), None, None, None).is_err(), "{l} {o}");
        }
        assert!(parse_params(None, None, Some(&"q".repeat(101)), None, None).is_err());
        assert!(parse_params(None, None, Some("a\u{0}b"), None, None).is_err());
    }

    #[test]
    fn directory_links_keep_the_search_filter_and_order() {
        assert_eq!(directory_query("", false, Sort::Online, 1), "?");
        assert_eq!(directory_query("", false, Sort::Online, 2), "?page=2");
        assert_eq!(directory_query("a b", true, Sort::Accept, 3), "?q=a%20b&online=1&sort=accept&page=3");
        assert_eq!(directory_query("", false, Sort::Rating, 1), "?sort=rating");
    }

    #[test]
    fn accept_times_read_naturally() {
        assert_eq!(describe_accept_time(None), None);
        assert_eq!(describe_accept_time(Some(20)).as_deref(), Some("under a minute"));
        assert_eq!(describe_accept_time(Some(150)).as_deref(), Some("about 3 min"));
        assert_eq!(describe_accept_time(Some(7200)).as_deref(), Some("about 2 h"));
    }
}
