//! The command line: `--help`, the options and their defaults, and their checks.

use serde::Serialize;
use std::path::PathBuf;

const HELP: &str = "\
usage: bench_driver [OPTIONS]

Loads the benchmark data set into DATABASE_URL (a database of its own, e.g.
autodoctor_bench), measures the release server against the bare baseline, and
writes the report. scripts/bench builds everything and runs this.

options (defaults in brackets):
  --sessions N          completed sessions of the full data set [1000000]
  --small-sessions N    sessions of the first, small measurement [10000]
  --seconds N           length of each wrk measurement [10]
  --connections N       wrk connections for the directory [32]
  --earnings-connections N   wrk connections for the earnings panel's throughput
                        (its latency is also measured with one) [8]
  --webhook-rounds N    webhook-to-offer round trips [200]
  --race-rounds N       accept races of 100 mechanics [30]
  --racers N            mechanics per race [100]
  --out FILE            the report [BENCHMARKS.md]
  --command TEXT        the command line shown in the report [scripts/bench]
  --report-from FILE    measure nothing: rewrite the report from an earlier run's
                        results.json (give that run's options too)

environment: DATABASE_URL (required), SERVER_BIN, BASELINE_BIN, LEPTOS_SITE_ROOT,
BENCH_WORK_DIR (logs and results), BENCH_PORT [3190], BENCH_BASELINE_PORT [3191].";

#[derive(Clone, Debug, Serialize)]
pub struct Options {
    pub sessions: i64,
    pub small_sessions: i64,
    pub seconds: u32,
    pub connections: u32,
    pub earnings_connections: u32,
    pub webhook_rounds: usize,
    pub race_rounds: usize,
    pub racers: usize,
    pub out: PathBuf,
    pub command: String,
    /// Only rewrite the report from a results.json of an earlier run.
    pub report_from: Option<PathBuf>,
}

pub fn parse_options() -> Result<Options, String> {
    let mut o = Options {
        sessions: 1_000_000,
        small_sessions: 10_000,
        seconds: 10,
        connections: 32,
        earnings_connections: 8,
        webhook_rounds: 200,
        race_rounds: 30,
        racers: 100,
        out: PathBuf::from("BENCHMARKS.md"),
        command: "scripts/bench".into(),
        report_from: None,
    };
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut i = 0;
    while i < args.len() {
        let flag = args[i].as_str();
        if matches!(flag, "-h" | "--help") {
            println!("{HELP}");
            std::process::exit(0);
        }
        let value = args.get(i + 1).ok_or_else(|| format!("{flag} needs a value"))?;
        let num = || value.parse::<i64>().map_err(|_| format!("{flag} needs a number (got {value})"));
        match flag {
            "--sessions" => o.sessions = num()?,
            "--small-sessions" => o.small_sessions = num()?,
            "--seconds" => o.seconds = num()? as u32,
            "--connections" => o.connections = num()? as u32,
            "--earnings-connections" => o.earnings_connections = num()? as u32,
            "--webhook-rounds" => o.webhook_rounds = num()? as usize,
            "--race-rounds" => o.race_rounds = num()? as usize,
            "--racers" => o.racers = num()? as usize,
            "--out" => o.out = PathBuf::from(value),
            "--command" => o.command = value.clone(),
            "--report-from" => o.report_from = Some(PathBuf::from(value)),
            _ => return Err(format!("unknown option {flag} (try --help)")),
        }
        i += 2;
    }
    if o.small_sessions >= o.sessions || o.small_sessions < 1 {
        return Err("--small-sessions must be at least 1 and below --sessions".into());
    }
    if o.seconds < 1 || o.connections < 1 || o.racers < 2 {
        return Err("--seconds, --connections must be positive and --racers at least 2".into());
    }
    Ok(o)
}
