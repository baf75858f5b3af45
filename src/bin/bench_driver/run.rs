//! One whole run, phase after phase: the small data set and its directory
//! figures, the full data set, the log-ins, the webhook pipeline, the accept
//! race, the earnings panel, then memory and the bundle's size; writes
//! `results.json` and the report.

use crate::directory::directory;
use crate::measure::{self, WrkRequest};
use crate::options::Options;
use crate::servers::{env_or, start_both, Env};
use crate::{kept_sections, load, procs, progress, report, step, Results};
use sqlx::postgres::PgPoolOptions;
use sqlx::PgPool;
use std::path::PathBuf;
use std::time::Instant;
use uuid::Uuid;

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

pub async fn run(o: Options) -> Result<(), crate::measure::Error> {
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
