//! Checks of what people type: emails, passwords, names, free text and lists of
//! specialties. Pure functions; every form and server function uses them, and each
//! answers with a sentence a person can act on.

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

pub const SPECIALTIES_MAX: usize = 20;

pub const SPECIALTY_LEN_MAX: usize = 40;

/// Splits a comma-separated list of specialties, trimming, dropping empties and
/// duplicates (case-insensitively), keeping the order given.
pub fn parse_specialties(raw: &str) -> Result<Vec<String>, String> {
    let mut out: Vec<String> = Vec::new();
    for part in raw.split([',', '\n', ';']) {
        let s = part.trim();
        if s.is_empty() {
            continue;
        }
        if s.chars().count() > SPECIALTY_LEN_MAX {
            return Err(format!("Keep each specialty under {SPECIALTY_LEN_MAX} characters."));
        }
        if s.chars().any(char::is_control) {
            return Err("Use letters, digits and punctuation only.".into());
        }
        if !out.iter().any(|o| o.eq_ignore_ascii_case(s)) {
            out.push(s.to_string());
        }
    }
    if out.len() > SPECIALTIES_MAX {
        return Err(format!("List at most {SPECIALTIES_MAX} specialties."));
    }
    Ok(out)
}

/// Checks a free-text field: trimmed length within `min..=max` characters and no
/// control characters other than line breaks.
pub fn text_problem(value: &str, min: usize, max: usize, what: &str) -> Option<String> {
    let len = value.trim().chars().count();
    if len < min {
        Some(if min == 1 {
            format!("Enter {what}.")
        } else {
            format!("Use at least {min} characters for {what}.")
        })
    } else if len > max {
        Some(format!("Use at most {max} characters for {what}."))
    } else if value.chars().any(|c| c.is_control() && c != '\n' && c != '\r' && c != '\t') {
        Some(format!("Remove the special characters from {what}."))
    } else {
        None
    }
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
    fn specialties_are_cleaned_up() {
        assert_eq!(
            parse_specialties(" Brakes, engines,,brakes ; EV\n").unwrap(),
            vec!["Brakes".to_string(), "engines".to_string(), "EV".to_string()]
        );
        assert!(parse_specialties(&"x".repeat(41)).is_err());
        let many = (0..21).map(|i| format!("s{i}")).collect::<Vec<_>>().join(",");
        assert!(parse_specialties(&many).is_err());
        assert_eq!(parse_specialties("").unwrap(), Vec::<String>::new());
    }

    #[test]
    fn text_fields_are_bounded() {
        assert!(text_problem("  ", 1, 10, "a city").is_some());
        assert!(text_problem("Lyon", 1, 10, "a city").is_none());
        assert!(text_problem("abcdefghijk", 1, 10, "a city").is_some());
        assert!(text_problem("line\nbreak", 0, 100, "a description").is_none());
        assert!(text_problem("bell\u{7}", 0, 100, "a description").is_some());
    }
}
