//! Accounts, roles, log-in sessions and the authorization helpers every server
//! function and route uses.

#[cfg(feature = "ssr")]
pub mod admin;
pub mod api;
pub mod pages;

#[cfg(feature = "ssr")]
pub mod guard;
#[cfg(feature = "ssr")]
pub mod password;
#[cfg(feature = "ssr")]
pub mod queries;
#[cfg(feature = "ssr")]
pub mod session;
#[cfg(feature = "ssr")]
pub mod throttle;

#[cfg(all(test, feature = "ssr"))]
mod db_tests;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// What a person is on the platform. One account has exactly one role.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(sqlx::Type))]
#[cfg_attr(feature = "ssr", sqlx(type_name = "user_role", rename_all = "snake_case"))]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Customer,
    Mechanic,
    /// An owner or staff member of a workshop (see `organization_members`).
    WorkshopMember,
    Admin,
}

impl Role {
    pub fn label(self) -> &'static str {
        match self {
            Role::Customer => "Customer",
            Role::Mechanic => "Mechanic",
            Role::WorkshopMember => "Workshop",
            Role::Admin => "Platform admin",
        }
    }

    /// Where this role starts after logging in.
    pub fn home_path(self) -> &'static str {
        match self {
            Role::Customer => "/sessions",
            Role::Mechanic => "/mechanic",
            Role::WorkshopMember => "/workshop",
            Role::Admin => "/admin",
        }
    }
}

/// The logged-in person as pages see them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CurrentUser {
    pub id: Uuid,
    pub email: String,
    pub name: String,
    pub role: Role,
}

pub const PASSWORD_MIN: usize = 8;
pub const PASSWORD_MAX: usize = 128;
pub const NAME_MAX: usize = 100;
pub const EMAIL_MAX: usize = 254;

/// Normalises an email address for storage and lookup.
pub fn normalize_email(raw: &str) -> String {
    raw.trim().to_lowercase()
}

/// A plausibility check, not RFC 5322: one `@`, something on both sides, a dot in
/// the domain, no spaces. The address is proven by use (invites, receipts).
pub fn email_looks_valid(email: &str) -> bool {
    if email.len() > EMAIL_MAX || email.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return false;
    }
    match email.split_once('@') {
        Some((local, domain)) => {
            !local.is_empty()
                && !domain.contains('@')
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
                && !domain.contains("..")
        }
        None => false,
    }
}

/// Checks a new password's length in characters; returns the problem, if any.
pub fn password_problem(password: &str) -> Option<String> {
    let len = password.chars().count();
    if len < PASSWORD_MIN {
        Some(format!("Use at least {PASSWORD_MIN} characters."))
    } else if len > PASSWORD_MAX {
        Some(format!("Use at most {PASSWORD_MAX} characters."))
    } else {
        None
    }
}

/// Checks a display name; returns the problem, if any.
pub fn name_problem(name: &str) -> Option<String> {
    let name = name.trim();
    if name.is_empty() {
        Some("Enter your name.".into())
    } else if name.chars().count() > NAME_MAX {
        Some(format!("Use at most {NAME_MAX} characters."))
    } else if name.chars().any(|c| c.is_control()) {
        Some("Use letters, spaces and punctuation only.".into())
    } else {
        None
    }
}

/// A local path to continue to after logging in; anything else (other sites,
/// protocol-relative `//host` links) falls back to the role's home.
pub fn safe_next_path(next: Option<&str>) -> Option<String> {
    let next = next?.trim();
    let ok = next.starts_with('/')
        && !next.starts_with("//")
        && !next.starts_with("/\\")
        && !next.contains(['\r', '\n'])
        && next.len() <= 512;
    ok.then(|| next.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_normalised_and_checked() {
        assert_eq!(normalize_email("  Ann@Example.COM "), "ann@example.com");
        assert!(email_looks_valid("ann@example.com"));
        for bad in [
            "",
            "ann",
            "ann@",
            "@example.com",
            "ann@example",
            "a b@example.com",
            "a@b@c.com",
            "a@.com",
            "a@b..com",
        ] {
            assert!(!email_looks_valid(bad), "{bad:?} should be rejected");
        }
        assert!(!email_looks_valid(&format!("{}@example.com", "a".repeat(250))));
    }

    #[test]
    fn password_length_is_counted_in_characters() {
        assert!(password_problem("1234567").is_some());
        assert!(password_problem("12345678").is_none());
        assert!(password_problem(&"é".repeat(128)).is_none());
        assert!(password_problem(&"x".repeat(129)).is_some());
    }

    #[test]
    fn names_are_required_and_bounded() {
        assert!(name_problem("  ").is_some());
        assert!(name_problem("Ann Lee").is_none());
        assert!(name_problem(&"x".repeat(101)).is_some());
        assert!(name_problem("bad\u{0}name").is_some());
    }

    #[test]
    fn next_path_stays_on_this_site() {
        assert_eq!(safe_next_path(Some("/account")).as_deref(), Some("/account"));
        assert_eq!(safe_next_path(Some("//evil.example")), None);
        assert_eq!(safe_next_path(Some("https://evil.example")), None);
        assert_eq!(safe_next_path(Some("/\\evil.example")), None);
        assert_eq!(safe_next_path(None), None);
    }
}
