//! The email that brings the customer their report when the session ends: plain
//! text, the whole report, and a link to its print-ready page (pure, so that it
//! is tested without a database).

use super::{cost_range, Report};

/// The subject and the body of the report email.
pub fn report_email(
    customer_name: &str,
    mechanic_name: &str,
    vehicle: &str,
    report: &Report,
    report_url: &str,
) -> (String, String) {
    let subject = format!("Your diagnosis report: {vehicle}");
    let mut body = format!(
        "Hello {customer_name},\n\n{mechanic_name} has finished your session about your {vehicle}. \
         Here is the written diagnosis.\n\nSummary\n{}\n",
        report.summary
    );
    if !report.likely_causes.is_empty() {
        body.push_str(&format!("\nLikely causes\n{}\n", report.likely_causes));
    }
    body.push_str(&format!("\nSafe to drive: {}\n\nRecommended repairs\n", report.safe_to_drive.label()));
    for (i, r) in report.repairs.iter().enumerate() {
        body.push_str(&format!(
            "{}. {} (urgency: {}; {})\n",
            i + 1,
            r.description,
            r.urgency.label().to_lowercase(),
            cost_range(r.cost_min_cents, r.cost_max_cents, &report.currency)
        ));
    }
    if !report.follow_ups.is_empty() {
        body.push_str(&format!("\nFollow-ups\n{}\n", report.follow_ups));
    }
    body.push_str(&format!(
        "\nSee it, print it or share it with any garage:\n{report_url}\n\nThank you for using autodoctor.\n"
    ));
    (subject, body)
}

#[cfg(test)]
mod tests {
    use super::super::{Repair, SafeToDrive, Urgency};
    use super::*;

    #[test]
    fn the_email_carries_the_report_and_its_link() {
        let report = Report {
            summary: "Charging fault".into(),
            likely_causes: String::new(),
            safe_to_drive: SafeToDrive::WithCare,
            follow_ups: "Test the battery in a month.".into(),
            repairs: vec![Repair {
                description: "Replace the alternator".into(),
                urgency: Urgency::Now,
                cost_min_cents: 35000,
                cost_max_cents: 52050,
            }],
            currency: "usd".into(),
            updated_at: chrono::Utc::now(),
        };
        let (subject, body) =
            report_email("Casey", "Sam", "2011 Volkswagen Golf", &report, "https://a.test/session/x/report");
        assert_eq!(subject, "Your diagnosis report: 2011 Volkswagen Golf");
        assert!(body.starts_with("Hello Casey,"));
        assert!(body.contains("1. Replace the alternator (urgency: now; $350.00 – $520.50)"));
        assert!(body.contains("Safe to drive: Yes, with care"));
        assert!(body.contains("Follow-ups\nTest the battery in a month."));
        assert!(!body.contains("Likely causes"), "empty sections are left out");
        assert!(body.contains("https://a.test/session/x/report"));
    }
}
