//! The report form as typed, and its validation: pure functions shared by the
//! server (which decides) and the browser, each problem a sentence attached to
//! the field it is about. Money is parsed to integer cents exactly.

use super::{Repair, ReportDraft, SafeToDrive, Urgency};
use super::{COST_MAX_CENTS, REPAIRS_MAX, REPAIR_DESCRIPTION_MAX_CHARS, SUMMARY_MAX_CHARS, TEXT_MAX_CHARS};
use crate::error::{AppError, FieldErrors};
use serde::{Deserialize, Serialize};

/// One row of repairs as the form sends it (`repairs[0][description]` and so on);
/// a row left blank is ignored.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct RepairForm {
    pub description: String,
    pub urgency: String,
    pub cost_min: String,
    pub cost_max: String,
}

impl RepairForm {
    fn is_blank(&self) -> bool {
        self.description.trim().is_empty()
            && self.cost_min.trim().is_empty()
            && self.cost_max.trim().is_empty()
    }
}

/// The form name of a repair row's field (also the name its error is attached to).
pub fn repair_field(index: usize, field: &str) -> String {
    format!("repairs[{index}][{field}]")
}

/// Parses an amount of money as people type it ("120", "$120", "120.50",
/// "1,200.50") into integer cents, exactly (no floating point).
pub fn parse_money(raw: &str) -> Result<i64, String> {
    let problem = || "Write an amount like 120 or 120.50.".to_string();
    let mut s = raw.trim();
    if s.contains('-') {
        return Err("Costs cannot be negative.".into());
    }
    for symbol in ["$", "€", "£"] {
        if let Some(rest) = s.strip_prefix(symbol) {
            s = rest.trim_start();
            break;
        }
    }
    if s.is_empty() {
        return Err(problem());
    }
    let (whole, frac) = s.split_once('.').unwrap_or((s, ""));
    // Thousands separators: "1,200" but not "12,00".
    let groups: Vec<&str> = whole.split(',').collect();
    if groups.len() > 1
        && (groups[0].is_empty() || groups[0].len() > 3 || groups[1..].iter().any(|g| g.len() != 3))
    {
        return Err(problem());
    }
    let digits: String = groups.concat();
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(problem());
    }
    if frac.len() > 2 || !frac.bytes().all(|b| b.is_ascii_digit()) || (s.ends_with('.') && frac.is_empty()) {
        return Err(problem());
    }
    let too_much = || format!("Keep each cost at most {}.", crate::ui::format_money(COST_MAX_CENTS, "usd"));
    let digits = digits.trim_start_matches('0');
    if digits.len() > 9 {
        return Err(too_much());
    }
    let whole: i64 = if digits.is_empty() { 0 } else { digits.parse().map_err(|_| problem())? };
    let frac: i64 = match frac.len() {
        0 => 0,
        1 => frac.parse::<i64>().map_err(|_| problem())? * 10,
        _ => frac.parse().map_err(|_| problem())?,
    };
    let cents = whole * 100 + frac;
    if cents > COST_MAX_CENTS {
        return Err(too_much());
    }
    Ok(cents)
}

/// Formats cents back for the form's inputs ("120.50"), so that saving again keeps the value.
pub fn money_input(cents: i64) -> String {
    format!("{}.{:02}", cents / 100, cents % 100)
}

fn text(errors: &mut FieldErrors, field: &str, value: &str, min: usize, max: usize, what: &str) -> String {
    if let Some(p) = crate::validate::text_problem(value, min, max, what) {
        errors.add(field, p);
    }
    value.trim().to_string()
}

/// Checks the whole form; every problem is reported at once, on its field.
pub fn validate_report(
    summary: &str,
    likely_causes: &str,
    safe_to_drive: &str,
    follow_ups: &str,
    repairs: &[RepairForm],
) -> Result<ReportDraft, AppError> {
    let mut errors = FieldErrors::new();
    let summary = text(&mut errors, "summary", summary, 1, SUMMARY_MAX_CHARS, "a summary of the diagnosis");
    let likely_causes =
        text(&mut errors, "likely_causes", likely_causes, 0, TEXT_MAX_CHARS, "the likely causes");
    let follow_ups = text(&mut errors, "follow_ups", follow_ups, 0, TEXT_MAX_CHARS, "the follow-ups");
    let safe = SafeToDrive::parse(safe_to_drive);
    errors.check(safe.is_some(), "safe_to_drive", "Say whether the car is safe to drive.");

    let mut out = Vec::new();
    let rows: Vec<(usize, &RepairForm)> = repairs.iter().enumerate().filter(|(_, r)| !r.is_blank()).collect();
    if rows.is_empty() {
        errors.add("repairs", "Recommend at least one repair or check.");
    }
    if rows.len() > REPAIRS_MAX {
        errors.add("repairs", format!("List at most {REPAIRS_MAX} repairs."));
    }
    for (i, row) in rows.into_iter().take(REPAIRS_MAX) {
        let description = text(
            &mut errors,
            &repair_field(i, "description"),
            &row.description,
            1,
            REPAIR_DESCRIPTION_MAX_CHARS,
            "the repair",
        );
        let urgency = Urgency::parse(&row.urgency);
        errors.check(urgency.is_some(), &repair_field(i, "urgency"), "Choose how urgent this repair is.");
        let min = match parse_money(&row.cost_min) {
            Ok(c) => Some(c),
            Err(p) => {
                let p =
                    if row.cost_min.trim().is_empty() { "Give the lowest likely cost.".into() } else { p };
                errors.add(&repair_field(i, "cost_min"), p);
                None
            }
        };
        // A blank maximum means the cost is known: the same as the minimum.
        let max = if row.cost_max.trim().is_empty() {
            min
        } else {
            match parse_money(&row.cost_max) {
                Ok(c) => Some(c),
                Err(p) => {
                    errors.add(&repair_field(i, "cost_max"), p);
                    None
                }
            }
        };
        if let (Some(lo), Some(hi)) = (min, max) {
            errors.check(
                lo <= hi,
                &repair_field(i, "cost_max"),
                "The highest cost cannot be below the lowest.",
            );
        }
        if let (Some(urgency), Some(lo), Some(hi)) = (urgency, min, max) {
            out.push(Repair { description, urgency, cost_min_cents: lo, cost_max_cents: hi });
        }
    }
    errors.into_result()?;
    Ok(ReportDraft {
        summary,
        likely_causes,
        safe_to_drive: safe.expect("checked above"),
        follow_ups,
        repairs: out,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(description: &str, urgency: &str, min: &str, max: &str) -> RepairForm {
        RepairForm {
            description: description.into(),
            urgency: urgency.into(),
            cost_min: min.into(),
            cost_max: max.into(),
        }
    }

    fn ok_rows() -> Vec<RepairForm> {
        vec![row("Replace the alternator", "now", "$350", "520.50")]
    }

    #[test]
    fn money_parses_to_exact_cents() {
        assert_eq!(parse_money("120"), Ok(12000));
        assert_eq!(parse_money("$120"), Ok(12000));
        assert_eq!(parse_money(" $ 120.5 "), Ok(12050));
        assert_eq!(parse_money("120.50"), Ok(12050));
        assert_eq!(parse_money("0.07"), Ok(7));
        assert_eq!(parse_money("1,200.99"), Ok(120099));
        assert_eq!(parse_money("€100,000"), Ok(10_000_000));
        assert_eq!(parse_money("0"), Ok(0));
        assert_eq!(parse_money("000000000000000000012"), Ok(1200));
        // 0.1 + 0.2 style traps: every value is exact.
        assert_eq!(parse_money("0.29"), Ok(29));
        assert_eq!(parse_money("19.99"), Ok(1999));
    }

    #[test]
    fn bad_money_is_refused_with_a_reason() {
        for bad in
            ["", "$", "abc", "1.234", "1e3", "12,50", ",100", "1,2345", "12.", ".5x", "NaN", "1 000", "١٢"]
        {
            assert!(parse_money(bad).is_err(), "{bad:?}");
        }
        assert_eq!(parse_money("-5"), Err("Costs cannot be negative.".into()));
        assert_eq!(parse_money("$-5"), Err("Costs cannot be negative.".into()));
        assert!(parse_money("1000000.01").unwrap_err().contains("at most"));
        assert!(parse_money("99999999999999999999999").unwrap_err().contains("at most"));
    }

    #[test]
    fn money_input_round_trips() {
        for cents in [0, 7, 1999, 12050, COST_MAX_CENTS] {
            assert_eq!(parse_money(&money_input(cents)), Ok(cents));
        }
    }

    #[test]
    fn a_complete_report_is_accepted_and_trimmed() {
        let mut rows = ok_rows();
        rows.push(row("", "soon", "", "")); // blank: ignored
        rows.push(row(" Check the belt tension ", "can_wait", "0", ""));
        let r = validate_report(" Charging fault ", "Regulator", "with_care", "", &rows).unwrap();
        assert_eq!(r.summary, "Charging fault");
        assert_eq!(r.safe_to_drive, SafeToDrive::WithCare);
        assert_eq!(
            r.repairs,
            vec![
                Repair {
                    description: "Replace the alternator".into(),
                    urgency: Urgency::Now,
                    cost_min_cents: 35000,
                    cost_max_cents: 52050
                },
                Repair {
                    description: "Check the belt tension".into(),
                    urgency: Urgency::CanWait,
                    cost_min_cents: 0,
                    cost_max_cents: 0
                },
            ]
        );
    }

    #[test]
    fn the_summary_is_required_and_lengths_are_limited() {
        let e = validate_report("  ", "", "yes", "", &ok_rows()).unwrap_err();
        assert!(e.field_message("summary").is_some());
        let long = "x".repeat(SUMMARY_MAX_CHARS + 1);
        let e = validate_report(&long, &long, "yes", &long, &ok_rows()).unwrap_err();
        for f in ["summary", "likely_causes", "follow_ups"] {
            assert!(e.field_message(f).unwrap().contains("at most"), "{f}");
        }
        let e = validate_report("ok", "", "yes", "", &[row(&"y".repeat(301), "now", "1", "")]).unwrap_err();
        assert!(e.field_message("repairs[0][description]").is_some());
        let e = validate_report("a\0b", "", "yes", "", &ok_rows()).unwrap_err();
        assert!(e.field_message("summary").is_some(), "control characters are refused");
        assert!(validate_report(&"x".repeat(SUMMARY_MAX_CHARS), "", "yes", "", &ok_rows()).is_ok());
    }

    #[test]
    fn one_to_ten_repairs() {
        let e = validate_report("ok", "", "yes", "", &[row("", "now", "", "")]).unwrap_err();
        assert!(e.field_message("repairs").unwrap().contains("at least one"));
        let ten: Vec<_> = (0..10).map(|i| row(&format!("Repair {i}"), "soon", "10", "20")).collect();
        assert_eq!(validate_report("ok", "", "yes", "", &ten).unwrap().repairs.len(), 10);
        let eleven: Vec<_> = (0..11).map(|i| row(&format!("Repair {i}"), "soon", "10", "20")).collect();
        assert!(validate_report("ok", "", "yes", "", &eleven)
            .unwrap_err()
            .field_message("repairs")
            .is_some());
    }

    #[test]
    fn choices_must_be_known() {
        let e = validate_report("ok", "", "perhaps", "", &[row("Fix", "whenever", "1", "2")]).unwrap_err();
        assert!(e.field_message("safe_to_drive").is_some());
        assert!(e.field_message("repairs[0][urgency]").is_some());
        let e = validate_report("ok", "", "", "", &ok_rows()).unwrap_err();
        assert!(e.field_message("safe_to_drive").is_some());
    }

    #[test]
    fn cost_ranges_are_checked_on_their_row() {
        let rows = vec![
            row("Fine", "now", "10", "20"),
            row("Backwards", "now", "200", "100"),
            row("Negative", "soon", "-1", ""),
            row("No minimum", "soon", "", "50"),
            row("Huge", "soon", "1", "100000000"),
        ];
        let e = validate_report("ok", "", "no", "", &rows).unwrap_err();
        assert_eq!(e.field_message("repairs[0][cost_max]"), None);
        assert!(e.field_message("repairs[1][cost_max]").unwrap().contains("below"));
        assert_eq!(e.field_message("repairs[2][cost_min]").as_deref(), Some("Costs cannot be negative."));
        assert!(e.field_message("repairs[3][cost_min]").is_some());
        assert!(e.field_message("repairs[4][cost_max]").unwrap().contains("at most"));
        assert!(e.field_message("repairs[1][description]").is_none());
    }
}
