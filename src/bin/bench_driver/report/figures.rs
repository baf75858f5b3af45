//! The figures the targets are judged on, derived from the results: ratios to the
//! baseline, growth with the data set, memory by phase, the earnings panel's p99,
//! and the targets' bounds.

use crate::measure::Load;
use crate::Results;

pub(super) fn find<'a>(loads: &'a [Load], label: &str) -> Option<&'a Load> {
    loads.iter().find(|l| l.label == label)
}

pub(super) const VARIANTS: [&str; 4] = ["first page", "deep page", "search", "search, deep page"];

pub struct Figures {
    pub html_ratio: Vec<f64>,
    pub json_ratio: Vec<f64>,
    /// Full-size p50 over small-size p50, app HTML and JSON per variant.
    pub growth_p50: Vec<f64>,
    pub growth_rps: Vec<f64>,
    /// What each `growth_p50` entry measures.
    pub growth_labels: Vec<String>,
    /// The same for the baseline (same queries, no app): the machine's share of any growth.
    pub baseline_growth_p50: Vec<f64>,
}

pub fn figures(r: &Results) -> Figures {
    let mut f = Figures {
        html_ratio: vec![],
        json_ratio: vec![],
        growth_p50: vec![],
        growth_rps: vec![],
        growth_labels: vec![],
        baseline_growth_p50: vec![],
    };
    for v in VARIANTS {
        let base = find(&r.directory, &format!("baseline JSON: {v}")).map(|l| l.rps).unwrap_or(0.0);
        let html = find(&r.directory, &format!("app HTML /workshops: {v}")).map(|l| l.rps).unwrap_or(0.0);
        let json = find(&r.directory, &format!("app JSON: {v}")).map(|l| l.rps).unwrap_or(0.0);
        f.html_ratio.push(if base > 0.0 { html / base } else { 0.0 });
        f.json_ratio.push(if base > 0.0 { json / base } else { 0.0 });
        for kind in ["app HTML /workshops", "app JSON"] {
            let label = format!("{kind}: {v}");
            if let (Some(s), Some(l)) = (find(&r.directory_small, &label), find(&r.directory, &label)) {
                f.growth_p50.push(if s.p50_ms > 0.0 { l.p50_ms / s.p50_ms } else { 0.0 });
                f.growth_rps.push(if s.rps > 0.0 { l.rps / s.rps } else { 0.0 });
                f.growth_labels.push(label);
            }
        }
        let label = format!("baseline JSON: {v}");
        if let (Some(s), Some(l)) = (find(&r.directory_small, &label), find(&r.directory, &label)) {
            f.baseline_growth_p50.push(if s.p50_ms > 0.0 { l.p50_ms / s.p50_ms } else { 0.0 });
        }
    }
    f
}

pub(super) fn kib_mb(kib: u64) -> f64 {
    kib as f64 * 1024.0 / 1e6
}

/// How much the pipeline, race and earnings phase grew the server beyond what the
/// log-ins left resident (that phase's peak is counted from there).
pub(super) fn booking_growth_mb(r: &Results) -> f64 {
    kib_mb(r.server_peak_rss_booking_kib.saturating_sub(r.server_rss_after_logins_kib))
}

/// The earnings panel's worst p99: with one connection (`single`) or with more.
pub(super) fn earnings_p99(r: &Results, single: bool) -> f64 {
    r.earnings.iter().filter(|l| (l.connections == 1) == single).map(|l| l.p99_ms).fold(0.0, f64::max)
}

pub const WASM_TARGET_BYTES: u64 = 350_000;
pub const RSS_TARGET_BYTES: u64 = 150_000_000;
