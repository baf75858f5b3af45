//! `scripts/bench`'s driver: loads the data set, starts the release server and the
//! bare baseline, measures, and writes BENCHMARKS.md. See `bench_driver --help`.

mod load;
mod measure;
mod procs;
mod progress;
mod report;

use measure::{Error, Load, WrkRequest};
use serde::Serialize;
use sqlx::postgres::PgPoolOptions;
use sqlx::PgPool;
use std::path::PathBuf;
use std::time::Instant;
use uuid::Uuid;

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

fn parse_options() -> Result<Options, String> {
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

fn env_or(name: &str, default: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| default.to_string())
}

fn step(text: &str) {
    eprintln!("\x1b[1;34m[bench]\x1b[0m {text}");
}

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

struct Env {
    db_url: String,
    server_bin: PathBuf,
    baseline_bin: PathBuf,
    site_root: String,
    work: PathBuf,
    port: u16,
    baseline_port: u16,
}

impl Env {
    fn app(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
    fn baseline(&self) -> String {
        format!("http://127.0.0.1:{}", self.baseline_port)
    }
}

async fn start_both(env: &Env, tag: &str) -> Result<(procs::Proc, procs::Proc), crate::measure::Error> {
    let server = procs::start(
        "server",
        &env.server_bin,
        &["serve"],
        &[
            ("DATABASE_URL", env.db_url.clone()),
            ("HOST", "127.0.0.1".into()),
            ("PORT", env.port.to_string()),
            ("LEPTOS_SITE_ROOT", env.site_root.clone()),
            ("RUST_LOG", "warn".into()),
            ("PAYOUT_INTERVAL_HOURS", "0".into()),
        ],
        env.app(),
        &env.work.join(format!("server-{tag}.log")),
    )
    .await?;
    let baseline = procs::start(
        "baseline",
        &env.baseline_bin,
        &[],
        &[
            ("DATABASE_URL", env.db_url.clone()),
            ("HOST", "127.0.0.1".into()),
            ("PORT", env.baseline_port.to_string()),
        ],
        env.baseline(),
        &env.work.join(format!("baseline-{tag}.log")),
    )
    .await?;
    Ok((server, baseline))
}

/// The directory, as HTML and JSON from the app and as JSON from the baseline:
/// first page, a deep page, a search and a deep page of the search.
async fn directory(env: &Env, o: &Options, scale: &str) -> Result<Vec<Load>, Error> {
    let client = measure::client();
    let variants = [
        ("first page", "", ""),
        ("deep page", "page=46", "offset=900"),
        ("search", "q=brake", "q=brake"),
        ("search, deep page", "q=brake&page=5", "q=brake&offset=80"),
    ];
    let mut out = Vec::new();
    let plain = WrkRequest::default();
    for (name, page_q, json_q) in variants {
        let targets = [
            (
                format!("app HTML /workshops: {name}"),
                format!("{}/workshops?{page_q}", env.app()),
                "data-workshop-id",
            ),
            (
                format!("app JSON: {name}"),
                format!("{}/api/workshops/directory?{json_q}", env.app()),
                "\"workshop_id\"",
            ),
            (
                format!("baseline JSON: {name}"),
                format!("{}/api/workshops/directory?{json_q}", env.baseline()),
                "\"workshop_id\"",
            ),
        ];
        for (label, url, marker) in targets {
            measure::check(&client, &url, &plain, marker).await?;
            step(&format!("{scale}: {label} ({} s, {} connections)", o.seconds, o.connections));
            let r = measure::wrk(&label, &url, o.connections, o.seconds, &plain, &env.work)?;
            eprintln!(
                "        {:>8.0} req/s  p50 {:>6.2} ms  p99 {:>6.2} ms{}",
                r.rps,
                r.p50_ms,
                r.p99_ms,
                if r.errors > 0 { format!("  ERRORS {}", r.errors) } else { String::new() }
            );
            out.push(r);
        }
    }
    Ok(out)
}

#[derive(sqlx::FromRow)]
struct Account {
    user_id: Uuid,
    n: i32,
}

async fn online_mechanics(db: &PgPool, count: i64) -> Result<Vec<Account>, sqlx::Error> {
    // Online, approved, in an active workshop or independent: offered every broadcast request.
    sqlx::query_as(
        "SELECT b.user_id, b.n FROM bench.mech b JOIN mechanics m ON m.user_id = b.user_id
          WHERE m.is_online AND m.application_status = 'approved' ORDER BY b.n LIMIT $1",
    )
    .bind(count)
    .fetch_all(db)
    .await
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

async fn run(o: Options) -> Result<(), crate::measure::Error> {
    let began = Instant::now();
    let env = Env {
        db_url: std::env::var("DATABASE_URL").map_err(|_| "DATABASE_URL is not set")?,
        server_bin: PathBuf::from(env_or("SERVER_BIN", "target/release/autodoctor")),
        baseline_bin: PathBuf::from(env_or("BASELINE_BIN", "target/release/bench_baseline")),
        site_root: env_or("LEPTOS_SITE_ROOT", "target/site"),
        work: PathBuf::from(env_or("BENCH_WORK_DIR", "target/bench")),
        port: env_or("BENCH_PORT", "3190").parse()?,
        baseline_port: env_or("BENCH_BASELINE_PORT", "3191").parse()?,
    };
    std::fs::create_dir_all(&env.work)?;
    let mut results = Results {
        started_at: chrono::Utc::now().format("%Y-%m-%d %H:%M UTC").to_string(),
        ..Default::default()
    };

    step("applying the migrations");
    let migrate = std::process::Command::new(&env.server_bin)
        .arg("migrate")
        .env("DATABASE_URL", &env.db_url)
        .env("RUST_LOG", "warn")
        .output()?;
    if !migrate.status.success() {
        return Err(format!("autodoctor migrate failed: {}", String::from_utf8_lossy(&migrate.stderr)).into());
    }
    let db = PgPoolOptions::new().max_connections(4).connect(&env.db_url).await?;
    results.machine = report::machine(&db).await;
    let shape = load::Shape::default();

    // ------------------------------------------------------------ small
    let load_started = Instant::now();
    step(&format!("loading the base data and {} sessions", o.small_sessions));
    load::base(&db, &shape).await?;
    load::grow(&db, &shape, o.small_sessions).await?;
    results.small_census = load::verify(&db).await?;
    results.load_secs += load_started.elapsed().as_secs_f64();

    step("starting the release server and the baseline");
    let (server, baseline) = start_both(&env, "small").await?;
    results.directory_small = directory(&env, &o, &format!("{} sessions", o.small_sessions)).await?;
    server.stop();
    baseline.stop();

    // ------------------------------------------------------------ full
    let load_started = Instant::now();
    step(&format!("growing the data set to {} sessions", o.sessions));
    load::grow(&db, &shape, o.sessions).await?;
    results.census = load::verify(&db).await?;
    results.load_secs += load_started.elapsed().as_secs_f64();

    step("restarting the release server and the baseline (peak memory counts from here)");
    let (server, baseline) = start_both(&env, "full").await?;
    let sampler = procs::Sampler::start();
    results.directory = directory(&env, &o, &format!("{} sessions", o.sessions)).await?;
    results.server_peak_rss_directory_kib = server.peak_rss_kib().unwrap_or(0);
    // Each phase's peak separately: clear_refs restarts VmHWM from the present size.
    let phases = server.reset_peak();

    // ------------------------------------------------------------ logins
    let client = measure::client();
    let mechanics = online_mechanics(&db, o.racers as i64 + 1).await?;
    if mechanics.len() < o.racers + 1 {
        return Err(format!("only {} online mechanics; {} needed", mechanics.len(), o.racers + 1).into());
    }
    step(&format!("logging in {} mechanics and the big workshop's owner", mechanics.len()));
    let emails: Vec<String> = mechanics.iter().map(|m| format!("mechanic{}@bench.test", m.n)).collect();
    let cookies = measure::log_in_all(&client, &env.app(), &emails, load::PASSWORD).await?;
    let owner_emails: Vec<String> =
        (0..o.earnings_connections.max(1)).map(|_| "owner0@bench.test".to_string()).collect();
    let owner_cookies = measure::log_in_all(&client, &env.app(), &owner_emails, load::PASSWORD).await?;
    results.server_peak_rss_logins_kib = server.peak_rss_kib().unwrap_or(0);
    results.server_rss_after_logins_kib = procs::status_field(server.pid(), "VmRSS:").unwrap_or(0);
    server.reset_peak();
    let customer: (Uuid, String) = (
        sqlx::query_scalar("SELECT id FROM bench.customer WHERE n = 0").fetch_one(&db).await?,
        "customer0@bench.test".into(),
    );

    // ------------------------------------------------------------ webhook to offer
    step(&format!(
        "booking pipeline: signed webhook to the offer on a mechanic's stream, {} times",
        o.webhook_rounds
    ));
    let mut bar = progress::Bar::new("pipeline", o.webhook_rounds as u64, "rounds");
    results.pipeline = measure::pipeline(
        &client,
        &env.app(),
        &db,
        &cookies[0],
        customer.clone(),
        o.webhook_rounds,
        5,
        &mut || bar.inc(1),
    )
    .await?;
    bar.finish(&format!(
        "p50 {:.1} ms, p99 {:.1} ms",
        results.pipeline.webhook_to_offer.p50_ms, results.pipeline.webhook_to_offer.p99_ms
    ));

    // ------------------------------------------------------------ accept race
    step(&format!("accept race: {} mechanics at once, {} rounds", o.racers, o.race_rounds));
    let racers: Vec<(Uuid, String)> =
        mechanics[1..].iter().zip(&cookies[1..]).map(|(m, c)| (m.user_id, c.clone())).collect();
    let mut bar = progress::Bar::new("race", o.race_rounds as u64, "rounds");
    results.race =
        measure::race(&client, &env.app(), &db, &racers, customer.clone(), o.race_rounds, 2, &mut || {
            bar.inc(1)
        })
        .await?;
    bar.finish(&format!(
        "{} of {} rounds with exactly one winner, p99 {:.1} ms",
        results.race.rounds_one_winner, results.race.rounds, results.race.all.p99_ms
    ));

    // ------------------------------------------------------------ earnings
    let owner = WrkRequest { post: false, cookies: owner_cookies.clone(), origin: Some(env.app()) };
    let owner_post = WrkRequest { post: true, ..owner.clone() };
    let page = format!("{}/workshop/earnings", env.app());
    let data = format!("{}/api/workshop/earnings", env.app());
    measure::check(&client, &page, &owner, "earnings-totals").await?;
    results.earnings_rows_bytes = measure::check(&client, &data, &owner_post, "\"totals\"").await?;
    // One connection: the latency one owner sees (the target). Then several at once:
    // throughput, and the latency when requests queue for the two cores.
    let mut levels = vec![1];
    if o.earnings_connections > 1 {
        levels.push(o.earnings_connections);
    }
    for connections in levels {
        for (what, url, req) in [
            ("earnings panel page (HTML)", &page, &owner),
            ("earnings data (server function)", &data, &owner_post),
        ] {
            let label =
                format!("{what}, {connections} connection{}", if connections == 1 { "" } else { "s" });
            step(&format!("{label}, big workshop ({} s)", o.seconds));
            let r = measure::wrk(&label, url, connections, o.seconds, req, &env.work)?;
            eprintln!("        {:>8.0} req/s  p50 {:>6.2} ms  p99 {:>6.2} ms", r.rps, r.p50_ms, r.p99_ms);
            results.earnings.push(r);
        }
    }

    // ------------------------------------------------------------ memory, bundle
    let activity = sampler.finish();
    results.busy_samples = activity.samples;
    results.busy_samples_with_others = activity.samples_with_others;
    results.others_seen = activity.others_seen.into_iter().collect();
    results.max_load1 = activity.max_load1;
    results.server_peak_rss_booking_kib = server.peak_rss_kib().unwrap_or(0);
    results.server_peak_rss_kib = if phases {
        results
            .server_peak_rss_directory_kib
            .max(results.server_peak_rss_logins_kib)
            .max(results.server_peak_rss_booking_kib)
    } else {
        // Without clear_refs the high-water mark was never reset: it is the overall peak.
        results.server_peak_rss_booking_kib
    };
    results.rss_phases = phases;
    results.baseline_peak_rss_kib = baseline.peak_rss_kib().unwrap_or(0);
    server.stop();
    baseline.stop();

    let pkg = PathBuf::from(&env.site_root).join("pkg");
    if let Some(wasm) = procs::newest_with_suffix(&pkg, ".wasm") {
        results.wasm_file = wasm.file_name().unwrap_or_default().to_string_lossy().into();
        results.wasm_raw_bytes = std::fs::metadata(&wasm)?.len();
        results.wasm_gzip_bytes = procs::gzip_size(&wasm).unwrap_or(0);
    }
    if let Some(js) = procs::newest_with_suffix(&pkg, ".js") {
        results.js_raw_bytes = std::fs::metadata(&js)?.len();
        results.js_gzip_bytes = procs::gzip_size(&js).unwrap_or(0);
    }
    results.duration_secs = began.elapsed().as_secs_f64();

    std::fs::write(env.work.join("results.json"), serde_json::to_string_pretty(&results)?)?;
    std::fs::write(&o.out, report::markdown(&o, &results) + &kept_sections(&o.out))?;
    step(&format!(
        "done in {:.0} min: {} (raw figures in {})",
        results.duration_secs / 60.0,
        o.out.display(),
        env.work.join("results.json").display()
    ));
    print!("{}", report::summary(&results));
    Ok(())
}

/// Sections other `scripts/bench` commands write (`scripts/bench call`, below this
/// marker in the report) survive a rewrite of the server benchmarks.
pub const KEPT_MARKER: &str =
    "<!-- Below: sections written by other scripts/bench commands; kept as they are. -->";

fn kept_sections(path: &std::path::Path) -> String {
    let old = std::fs::read_to_string(path).unwrap_or_default();
    old.find(KEPT_MARKER).map(|i| format!("\n{}", &old[i..])).unwrap_or_default()
}
