//! The few lines printed on the terminal at the end of a run.

use super::figures::{earnings_p99, figures};
use crate::Results;

/// A few lines for the terminal.
pub fn summary(r: &Results) -> String {
    let f = figures(r);
    format!(
        "directory HTML/baseline {:.0}% (first page), JSON/baseline {:.0}%; webhook→offer p99 {:.1} ms; \
         accept race {} of {} one winner, p99 {:.1} ms; earnings p99 {:.1} ms; wasm {:.0} kB gz; peak RSS {:.0} MB\n",
        f.html_ratio.first().copied().unwrap_or(0.0) * 100.0,
        f.json_ratio.first().copied().unwrap_or(0.0) * 100.0,
        r.pipeline.webhook_to_offer.p99_ms,
        r.race.rounds_one_winner,
        r.race.rounds,
        r.race.all.p99_ms,
        earnings_p99(r, true),
        r.wasm_gzip_bytes as f64 / 1000.0,
        r.server_peak_rss_kib as f64 * 1024.0 / 1e6,
    )
}
