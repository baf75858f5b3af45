//! The public workshop page (`/workshops/{id}`): what a customer reads before
//! choosing a workshop. Only an active workshop has one: a pending, rejected or
//! suspended workshop's page is a 404 for everyone.

use crate::error::AppError;
use leptos::prelude::*;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Reviews on one page of the workshop page.
pub const REVIEWS_PER_PAGE: i64 = 5;
/// The last page a link may ask for.
pub const MAX_REVIEW_PAGE: i64 = 10_000;

pub const NO_SUCH_WORKSHOP: &str =
    "There is no workshop at this address. It may have closed, or the link may be mistyped.";

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(sqlx::FromRow))]
pub struct PublicWorkshop {
    pub id: Uuid,
    pub name: String,
    pub city: String,
    pub description: String,
    pub specialties: Vec<String>,
    pub logo_version: Option<i64>,
    pub mechanics_total: i32,
    pub mechanics_online: i32,
    pub avg_rating: Option<f64>,
    pub rating_count: i64,
    pub sessions_completed: i64,
    pub median_accept_seconds: Option<i32>,
}

/// One of the workshop's approved mechanics.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PublicMechanic {
    pub display_name: String,
    pub specialties: Vec<String>,
    pub years_experience: i32,
    pub online: bool,
}

/// A rating with its comment; the reviewer is named by their first name only.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Review {
    pub first_name: String,
    pub rating: i16,
    pub comment: Option<String>,
    pub rated_at: chrono::DateTime<chrono::Utc>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct WorkshopPage {
    pub workshop: PublicWorkshop,
    pub mechanics: Vec<PublicMechanic>,
    /// How many ratings gave 5, 4, 3, 2 and 1 stars (in that order).
    pub distribution: [i64; 5],
    pub reviews: Vec<Review>,
    pub page: i64,
    pub pages: i64,
    /// The page's canonical address (PUBLIC_URL and the path).
    pub canonical_url: String,
}

impl WorkshopPage {
    pub fn review_count(&self) -> i64 {
        self.distribution.iter().sum()
    }
}

/// The review page asked for (`?page=`): a whole number from 1; none is 1.
pub fn parse_page(raw: Option<&str>) -> Result<i64, AppError> {
    match raw.map(str::trim) {
        None | Some("") => Ok(1),
        Some(raw) => match raw.parse::<i64>() {
            Ok(n) if (1..=MAX_REVIEW_PAGE).contains(&n) => Ok(n),
            _ => Err(AppError::bad_request(format!(
                "page must be a whole number from 1 to {MAX_REVIEW_PAGE} (got {raw:.20})"
            ))),
        },
    }
}

/// Pages of reviews for a count (at least one, so an empty list is page 1 of 1).
pub fn page_count(reviews: i64) -> i64 {
    ((reviews + REVIEWS_PER_PAGE - 1) / REVIEWS_PER_PAGE).max(1)
}

/// The first word of a name: what a review shows of its author.
pub fn first_name(name: &str) -> String {
    name.split_whitespace().next().unwrap_or("A customer").to_string()
}

/// The meta description: the workshop's own words, cut at about 160 characters.
pub fn meta_description(w: &PublicWorkshop) -> String {
    let text = if w.description.trim().is_empty() {
        format!(
            "{} in {}: book a remote diagnostic session with its mechanics on autodoctor.",
            w.name, w.city
        )
    } else {
        format!(
            "{} in {}. {}",
            w.name,
            w.city,
            w.description.split_whitespace().collect::<Vec<_>>().join(" ")
        )
    };
    if text.chars().count() <= 160 {
        text
    } else {
        let cut: String = text.chars().take(157).collect();
        format!("{}…", cut.trim_end())
    }
}

/// One workshop's public page, with a page of its reviews. Public on purpose.
#[server(prefix = "/api/public", endpoint = "workshops/page")]
pub async fn get_workshop_page(workshop_id: String, page: Option<String>) -> Result<WorkshopPage, AppError> {
    let id = Uuid::parse_str(workshop_id.trim()).map_err(|_| AppError::not_found(NO_SUCH_WORKSHOP))?;
    let page = parse_page(page.as_deref())?;
    let state = crate::state::app_state()?;
    super::public_queries::load(&state.pool, crate::ids::WorkshopId(id), page, state.config.public_origin())
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn review_pages_are_checked() {
        assert_eq!(parse_page(None).unwrap(), 1);
        assert_eq!(parse_page(Some(" 3 ")).unwrap(), 3);
        for bad in ["0", "-1", "x", "1.5", "10001"] {
            assert!(matches!(parse_page(Some(bad)), Err(AppError::BadRequest(_))), "{bad}");
        }
        assert_eq!(page_count(0), 1);
        assert_eq!(page_count(5), 1);
        assert_eq!(page_count(6), 2);
    }

    #[test]
    fn reviewers_are_named_by_their_first_name() {
        assert_eq!(first_name("Dana Scully"), "Dana");
        assert_eq!(first_name("  Jean-Luc   Picard "), "Jean-Luc");
        assert_eq!(first_name(""), "A customer");
    }

    #[test]
    fn descriptions_are_short() {
        let mut w = PublicWorkshop {
            id: Uuid::nil(),
            name: "Harbor".into(),
            city: "Lyon".into(),
            description: String::new(),
            specialties: vec![],
            logo_version: None,
            mechanics_total: 1,
            mechanics_online: 0,
            avg_rating: None,
            rating_count: 0,
            sessions_completed: 0,
            median_accept_seconds: None,
        };
        assert!(meta_description(&w).starts_with("Harbor in Lyon: book"));
        w.description = "word ".repeat(100);
        let d = meta_description(&w);
        assert_eq!(d.chars().count(), 158);
        assert!(d.ends_with('…'));
    }
}
