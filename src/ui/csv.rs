//! CSV fields for the exports (earnings, workshop analytics).

/// Quotes a CSV field when needed, and neutralises spreadsheet formulas.
pub fn csv_field(raw: &str) -> String {
    let value = if raw.starts_with(['=', '+', '-', '@']) { format!("'{raw}") } else { raw.to_string() };
    if value.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", value.replace('"', "\"\""))
    } else {
        value
    }
}

/// Integer cents as a plain decimal amount ("-12.34").
pub fn cents(c: i64) -> String {
    let sign = if c < 0 { "-" } else { "" };
    format!("{sign}{}.{:02}", c.unsigned_abs() / 100, c.unsigned_abs() % 100)
}
