//! `scripts/bench`'s driver: loads the data set, starts the release server and the
//! bare baseline, measures, and writes BENCHMARKS.md. See `bench_driver --help`.
//!
//! This file is the command itself: read the options, then either rewrite the
//! report from an earlier run's results or run every phase (`run`); and how the
//! report file keeps what other commands wrote into it.

mod directory;
mod load;
mod measure;
mod options;
mod procs;
mod progress;
mod report;
mod results;
mod run;
mod servers;

use options::parse_options;
use results::Results;
use run::run;

pub(crate) fn step(text: &str) {
    eprintln!("\x1b[1;34m[bench]\x1b[0m {text}");
}

#[tokio::main]
async fn main() {
    let options = match parse_options() {
        Ok(o) => o,
        Err(e) => {
            eprintln!("bench_driver: {e}");
            std::process::exit(2);
        }
    };
    if let Some(path) = &options.report_from {
        let results: Result<Results, String> = std::fs::read_to_string(path)
            .map_err(|e| e.to_string())
            .and_then(|text| serde_json::from_str(&text).map_err(|e| e.to_string()));
        match results.and_then(|r| {
            std::fs::write(&options.out, report::markdown(&options, &r) + &kept_sections(&options.out))
                .map_err(|e| e.to_string())?;
            Ok(r)
        }) {
            Ok(r) => {
                step(&format!("rewrote {} from {}", options.out.display(), path.display()));
                print!("{}", report::summary(&r));
                return;
            }
            Err(e) => {
                eprintln!("bench_driver: {}: {e}", path.display());
                std::process::exit(1);
            }
        }
    }
    if let Err(e) = run(options).await {
        eprintln!("bench_driver: {e}");
        std::process::exit(1);
    }
}

/// Sections other `scripts/bench` commands write (`scripts/bench call`, below this
/// marker in the report) survive a rewrite of the server benchmarks.
pub const KEPT_MARKER: &str =
    "<!-- Below: sections written by other scripts/bench commands; kept as they are. -->";

pub(crate) fn kept_sections(path: &std::path::Path) -> String {
    let old = std::fs::read_to_string(path).unwrap_or_default();
    old.find(KEPT_MARKER).map(|i| format!("\n{}", &old[i..])).unwrap_or_default()
}
