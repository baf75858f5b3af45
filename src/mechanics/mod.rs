//! Mechanics: independent applications, the mechanic's dashboard (status,
//! online switch, capacity).

pub mod api;
pub mod pages;
pub mod profile;
pub mod profile_page;

#[cfg(feature = "ssr")]
pub mod queries;

use crate::error::FieldErrors;
pub use crate::status::{AccountType, ApplicationStatus};
use crate::validate::{parse_specialties, text_problem};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// The mechanic's own view of their account.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(sqlx::FromRow))]
pub struct MechanicProfile {
    pub user_id: Uuid,
    pub name: String,
    pub email: String,
    pub account_type: AccountType,
    pub workshop_id: Option<Uuid>,
    pub workshop_name: Option<String>,
    pub application_status: ApplicationStatus,
    pub rejection_reason: Option<String>,
    pub auto_approved: bool,
    pub specialties: Vec<String>,
    pub years_experience: i32,
    pub certifications: String,
    pub is_online: bool,
    pub capacity: i32,
    pub active_sessions: i32,
    pub sessions_completed: i64,
}

pub const CAPACITY_MAX: i32 = 10;

/// The professional details every mechanic gives.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MechanicDetails {
    pub specialties: Vec<String>,
    pub years_experience: i32,
    pub certifications: String,
}

/// Validates the details as typed into a form, adding field errors.
pub fn validate_details(
    specialties: &str,
    years_experience: &str,
    certifications: &str,
    errors: &mut FieldErrors,
) -> MechanicDetails {
    let specialties = match parse_specialties(specialties) {
        Ok(s) if s.is_empty() => {
            errors.add("specialties", "List at least one thing you are good at, e.g. brakes, diagnostics.");
            s
        }
        Ok(s) => s,
        Err(p) => {
            errors.add("specialties", p);
            Vec::new()
        }
    };
    let years = match years_experience.trim().parse::<i32>() {
        Ok(y) if (0..=70).contains(&y) => y,
        _ => {
            errors.add("years_experience", "Enter a whole number of years between 0 and 70.");
            0
        }
    };
    if let Some(p) = text_problem(certifications, 0, 500, "the certifications") {
        errors.add("certifications", p);
    }
    MechanicDetails {
        specialties,
        years_experience: years,
        certifications: certifications.trim().to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn details_are_validated_field_by_field() {
        let mut errors = FieldErrors::new();
        let d = validate_details("Brakes, EV", " 12 ", "ASE Master", &mut errors);
        assert!(errors.is_empty());
        assert_eq!(d.years_experience, 12);
        assert_eq!(d.specialties, vec!["Brakes", "EV"]);

        let mut errors = FieldErrors::new();
        validate_details("", "-1", &"x".repeat(501), &mut errors);
        let err = errors.into_result().unwrap_err();
        for f in ["specialties", "years_experience", "certifications"] {
            assert!(err.field_message(f).is_some(), "{f}");
        }
        let mut errors = FieldErrors::new();
        validate_details("Brakes", "ten", "", &mut errors);
        assert!(errors.into_result().unwrap_err().field_message("years_experience").is_some());
    }
}
