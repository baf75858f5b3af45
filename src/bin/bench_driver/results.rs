//! Everything one run measured: what the report is written from and what
//! `results.json` keeps (read back by `--report-from`).

use crate::measure::Load;
use crate::{load, measure, report};
use serde::Serialize;

/// Everything measured, for the report and results.json.
#[derive(Clone, Debug, Default, Serialize, serde::Deserialize)]
#[serde(default)]
pub struct Results {
    pub started_at: String,
    pub duration_secs: f64,
    pub machine: report::Machine,
    pub small_census: load::Census,
    pub census: load::Census,
    /// Directory figures at the small and the full size.
    pub directory_small: Vec<Load>,
    pub directory: Vec<Load>,
    pub pipeline: measure::Pipeline,
    pub race: measure::Race,
    pub earnings: Vec<Load>,
    pub earnings_rows_bytes: usize,
    pub wasm_file: String,
    pub wasm_raw_bytes: u64,
    pub wasm_gzip_bytes: u64,
    pub js_raw_bytes: u64,
    pub js_gzip_bytes: u64,
    /// The server's peak over everything at full size (the largest of the phases below).
    pub server_peak_rss_kib: u64,
    /// Peak from start-up through the directory measurements.
    pub server_peak_rss_directory_kib: u64,
    /// Peak of the log-in burst (the phase's peak, counted from the directory's end).
    pub server_peak_rss_logins_kib: u64,
    /// Peak of the pipeline, the race and the earnings panel, counted afresh after the log-ins.
    pub server_peak_rss_booking_kib: u64,
    /// Resident size when the log-ins were over (what the burst left behind).
    pub server_rss_after_logins_kib: u64,
    pub baseline_peak_rss_kib: u64,
    /// Whether the per-phase peaks above are separate (clear_refs worked).
    pub rss_phases: bool,
    pub load_secs: f64,
    pub busy_samples: u64,
    pub busy_samples_with_others: u64,
    pub others_seen: Vec<String>,
    pub max_load1: f64,
}
