//! The report itself, section by section: how it was made, the machine, the data
//! set, the targets (with the notes), the directory, the booking pipeline, the
//! accept race, the earnings panel, size and memory.

use super::figures::{
    booking_growth_mb, earnings_p99, figures, find, kib_mb, RSS_TARGET_BYTES, VARIANTS, WASM_TARGET_BYTES,
};
use super::format::{latency_row, load_table, num, verdict};
use super::notes::notes;
use crate::options::Options;
use crate::Results;
use std::fmt::Write;

pub fn markdown(o: &Options, r: &Results) -> String {
    let f = figures(r);
    let m = &r.machine;
    let mut s = String::new();
    let _ = writeln!(s, "# Benchmarks\n");
    let _ = writeln!(
        s,
        "Written by `{}` ({}; the whole run took {:.0} minutes, {:.0} of them loading data). \
         Numbers from one run on one machine: compare figures from the same run, and expect a few \
         percent of noise between runs.\n",
        o.command,
        r.started_at,
        r.duration_secs / 60.0,
        r.load_secs / 60.0
    );
    let _ = writeln!(s, "Reproduce with:\n\n```sh\n{}\n```\n", o.command);
    let _ = writeln!(
        s,
        "`scripts/bench --help` lists the options (a quick run: `scripts/bench --sessions 100000 --small-sessions 10000 --seconds 3`).\n"
    );

    // ---------------------------------------------------------------- machine
    let _ = writeln!(s, "## Machine and conditions\n");
    let _ = writeln!(s, "| | |\n| --- | --- |");
    let _ = writeln!(s, "| CPU | {} ({} cores) |", m.cpu, m.cores);
    let _ = writeln!(s, "| Memory | {:.0} GiB |", m.memory_gib);
    let _ = writeln!(s, "| System | {}, Linux {} |", m.os, m.kernel);
    let _ = writeln!(s, "| Database | {} on the same machine ({}) |", m.postgres, m.postgres_settings);
    let _ = writeln!(s, "| Build | `cargo leptos build --release` ({}); commit {} |", m.rustc, m.commit);
    let _ = writeln!(s, "| Load generator | {} on loopback, one thread, same machine |", m.wrk);
    let others = if r.busy_samples_with_others == 0 {
        "no compiler or test run was seen beside the benchmark".to_string()
    } else {
        format!(
            "other work shared the cores: {} ({} of {} half-second samples taken during the measurements)",
            r.others_seen.join(", "),
            r.busy_samples_with_others,
            r.busy_samples
        )
    };
    let _ = writeln!(s, "| Other activity | {others}; highest 1-minute load average {:.1} |", r.max_load1);
    let _ = writeln!(
        s,
        "\nThe server, PostgreSQL, wrk and the driver all share the {} cores, so every figure \
         includes the load generator's own cost. The server runs with its defaults (a pool of 10 \
         database connections, `RUST_LOG=warn`); so does the baseline (10 connections).\n",
        m.cores
    );

    // ---------------------------------------------------------------- data
    let c = &r.census;
    let _ = writeln!(s, "## Data set\n");
    let _ = writeln!(
        s,
        "Loaded by `bench_driver` with set-based SQL (triggers off during the bulk insert, then every \
         derived table recomputed in bulk) and checked with the app's own consistency suite \
         (`autodoctor::consistency::check`, as `autodoctor check` runs it: every journal entry \
         balances, every cached balance equals its postings, every paid order has one request and its \
         payment in the ledger once, every completed session its revenue split, every counter and \
         statistic equals what it counts).\n"
    );
    let _ = writeln!(s, "| | Small | Full |\n| --- | ---: | ---: |");
    let sc = &r.small_census;
    for (name, a, b) in [
        ("Active workshops", sc.workshops_active, c.workshops_active),
        ("Mechanics (approved and pending)", sc.mechanics, c.mechanics),
        ("… online now", sc.mechanics_online, c.mechanics_online),
        ("… independents", sc.independents, c.independents),
        ("Customers", sc.customers, c.customers),
        ("Completed sessions", sc.sessions_completed, c.sessions_completed),
        ("… rated", sc.sessions_rated, c.sessions_rated),
        ("… of the biggest workshop", sc.big_workshop_sessions, c.big_workshop_sessions),
        ("Journal entries", sc.journal_entries, c.journal_entries),
        ("Postings", sc.postings, c.postings),
    ] {
        let _ = writeln!(s, "| {name} | {} | {} |", num(a), num(b));
    }
    let _ = writeln!(
        s,
        "\nSessions are spread over two years; a tenth are independents', a tenth the big workshop's, \
         the rest spread over the other 999 workshops. Every session has an order, a request, a payment \
         entry and a revenue-split entry (five postings).\n"
    );

    // ---------------------------------------------------------------- targets
    let html_first = f.html_ratio.first().copied().unwrap_or(0.0);
    let html_min = f.html_ratio.iter().copied().fold(f64::INFINITY, f64::min);
    let growth_max = f.growth_p50.iter().copied().fold(0.0, f64::max);
    let rps_min = f.growth_rps.iter().copied().fold(f64::INFINITY, f64::min);
    let pipe = &r.pipeline;
    let race = &r.race;
    let earn_p99 = earnings_p99(r, true);
    let earn_busy_p99 = earnings_p99(r, false);
    let rss_bytes = r.server_peak_rss_kib * 1024;
    let checks = [
        (
            "Directory page ≥ 50% of the bare handler's throughput",
            format!(
                "{:.0}% on the first page, {:.0}% at worst (all four variants)",
                html_first * 100.0,
                html_min * 100.0
            ),
            html_min >= 0.5,
        ),
        (
            "Directory latency independent of past sessions",
            format!(
                "p50 at {} sessions is {:.2}× to {:.2}× the p50 at {}; throughput at least {:.0}% of it",
                num(c.sessions_completed),
                f.growth_p50.iter().copied().fold(f64::INFINITY, f64::min),
                growth_max,
                num(sc.sessions_completed),
                rps_min * 100.0
            ),
            growth_max <= 1.25,
        ),
        (
            "Webhook to offer on a mechanic's stream: p99 < 50 ms",
            format!(
                "p99 {:.1} ms (p50 {:.1} ms), {} timeouts",
                pipe.webhook_to_offer.p99_ms, pipe.webhook_to_offer.p50_ms, pipe.timeouts
            ),
            pipe.webhook_to_offer.p99_ms < 50.0 && pipe.timeouts == 0 && pipe.webhook_to_offer.count > 0,
        ),
        (
            "Accept race: always one winner",
            format!("{} of {} rounds", race.rounds_one_winner, race.rounds),
            race.rounds_one_winner == race.rounds && race.rounds > 0 && race.unexpected == 0,
        ),
        (
            "Accept race: p99 < 5 ms",
            format!(
                "p99 {:.1} ms over all {} answers (winner's p99 {:.1} ms)",
                race.all.p99_ms, race.all.count, race.winner.p99_ms
            ),
            race.all.p99_ms < 5.0 && race.all.count > 0,
        ),
        (
            "Earnings panel of the 100,000-session workshop: p99 < 50 ms",
            format!(
                "p99 {:.1} ms at worst (page and data, one owner at a time); {:.1} ms with {} at once",
                earn_p99, earn_busy_p99, o.earnings_connections
            ),
            earn_p99 > 0.0 && earn_p99 < 50.0,
        ),
        (
            "Release wasm < 350 KB gzipped",
            format!(
                "{:.0} kB gzipped ({:.0} kB raw)",
                r.wasm_gzip_bytes as f64 / 1000.0,
                r.wasm_raw_bytes as f64 / 1000.0
            ),
            r.wasm_gzip_bytes > 0 && r.wasm_gzip_bytes < WASM_TARGET_BYTES,
        ),
        (
            "Server peak RSS < 150 MB",
            if r.rss_phases {
                format!(
                    "{:.0} MB at the peak (the log-in burst); {:.0} MB under the directory load; the \
                     pipeline, the race and the earnings panel added {:.0} MB to what the log-ins left resident",
                    rss_bytes as f64 / 1e6,
                    kib_mb(r.server_peak_rss_directory_kib),
                    booking_growth_mb(r)
                )
            } else {
                format!("{:.0} MB", rss_bytes as f64 / 1e6)
            },
            rss_bytes > 0 && rss_bytes < RSS_TARGET_BYTES,
        ),
    ];
    let _ = writeln!(s, "## Targets\n");
    let _ = writeln!(s, "| Target | Result | |\n| --- | --- | --- |");
    for (name, result, ok) in &checks {
        let _ = writeln!(s, "| {name} | {result} | {} |", verdict(*ok));
    }
    let _ = writeln!(s);
    s.push_str(&notes(r, &f));

    // ---------------------------------------------------------------- figures
    let _ = writeln!(s, "## Directory\n");
    let _ = writeln!(
        s,
        "`GET /workshops` (the server-rendered page), `GET /api/workshops/directory` (the app's JSON) and \
         the same JSON from `bench_baseline`: one axum route and one sqlx pool running the app's own \
         directory queries (`directory::queries`), with no middleware, sessions or Leptos. Pages of 20; \
         the deep page is page 46 (offset 900), the search is `q=brake` (name, city or specialty), and \
         its deep page is page 5. wrk: {} connections, {} s each.\n",
        o.connections, o.seconds
    );
    let _ = writeln!(s, "### At {} sessions\n", num(c.sessions_completed));
    load_table(&mut s, &r.directory);
    let _ = writeln!(s, "\nThe app's share of the baseline's throughput (the headline figure):\n");
    let _ = writeln!(s, "| Variant | HTML page / baseline | app JSON / baseline |\n| --- | ---: | ---: |");
    for (i, v) in VARIANTS.iter().enumerate() {
        let _ = writeln!(s, "| {v} | {:.0}% | {:.0}% |", f.html_ratio[i] * 100.0, f.json_ratio[i] * 100.0);
    }
    let _ = writeln!(s, "\n### At {} sessions\n", num(sc.sessions_completed));
    load_table(&mut s, &r.directory_small);
    let _ = writeln!(
        s,
        "\np50 at {} sessions over p50 at {} (1.00: unchanged):\n",
        num(c.sessions_completed),
        num(sc.sessions_completed)
    );
    let _ = writeln!(s, "| Variant | app HTML | app JSON | baseline JSON |\n| --- | ---: | ---: | ---: |");
    for v in VARIANTS {
        let ratio = |kind: &str| {
            let label = format!("{kind}: {v}");
            match (find(&r.directory_small, &label), find(&r.directory, &label)) {
                (Some(a), Some(b)) if a.p50_ms > 0.0 => format!("{:.2}", b.p50_ms / a.p50_ms),
                _ => "–".into(),
            }
        };
        let _ = writeln!(
            s,
            "| {v} | {} | {} | {} |",
            ratio("app HTML /workshops"),
            ratio("app JSON"),
            ratio("baseline JSON")
        );
    }
    let _ = writeln!(s);

    let _ = writeln!(s, "## Booking pipeline: webhook to offer\n");
    let _ = writeln!(
        s,
        "A mechanic (online, approved) holds `GET /api/live/offers` open. Each round creates an order \
         awaiting payment, posts a signed `checkout.session.completed` to `/api/stripe/webhook` (the \
         sandbox's secret, Stripe's signature format) and times until the new request appears in an \
         `offers` event on the stream. {} rounds one after the other after 5 uncounted ones; each \
         request is withdrawn afterwards so the stream carries one offer at a time.\n",
        pipe.rounds
    );
    let _ = writeln!(s, "| | Count | p50 (ms) | p90 (ms) | p99 (ms) | max (ms) | mean (ms) |");
    let _ = writeln!(s, "| --- | ---: | ---: | ---: | ---: | ---: | ---: |");
    latency_row(&mut s, "Webhook sent → offer on the stream", &pipe.webhook_to_offer);
    latency_row(&mut s, "Webhook sent → webhook answered", &pipe.webhook_response);
    let _ = writeln!(s, "\nTimeouts (no offer within 5 s): {}.\n", pipe.timeouts);

    let _ = writeln!(s, "## Accept race\n");
    let _ = writeln!(
        s,
        "{} mechanics (online, approved, logged in beforehand, each on its own connection) are offered the same \
         broadcast request and post `POST /api/mechanic/accept` at the same instant (a barrier releases them). \
         {} rounds after 2 uncounted ones; the winner is freed again between rounds. Latency is measured from \
         the release to each answer.\n",
        race.racers, race.rounds
    );
    let _ = writeln!(
        s,
        "Rounds with exactly one winner (one `200`, one session row): **{} of {}**; winners in all: {}; \
         answers other than 200 or 409: {}.\n",
        race.rounds_one_winner, race.rounds, race.winners_total, race.unexpected
    );
    if !race.unexpected_examples.is_empty() {
        let _ = writeln!(s, "Unexpected answers, for example: {}\n", race.unexpected_examples.join("; "));
    }
    let _ = writeln!(s, "| | Count | p50 (ms) | p90 (ms) | p99 (ms) | max (ms) | mean (ms) |");
    let _ = writeln!(s, "| --- | ---: | ---: | ---: | ---: | ---: | ---: |");
    latency_row(&mut s, "Every accept (winner and losers)", &race.all);
    latency_row(&mut s, "The winner's accept", &race.winner);
    latency_row(&mut s, "Whole round (last answer)", &race.round_total);
    let _ = writeln!(s);

    let _ = writeln!(s, "## Earnings panel\n");
    let _ = writeln!(
        s,
        "The owner of the workshop with {} sessions: `GET /workshop/earnings` (the server-rendered panel: \
         totals, the 30-day chart and the last 30 days' rows, at most 200) and its data, \
         `POST /api/workshop/earnings` ({} bytes of JSON). {} logged-in sessions of the owner, used in turn; \
         wrk, {} s each: first one connection (one owner opening the panel: the target), then {} at once \
         (throughput; their latency includes queueing for the two cores).\n",
        num(c.big_workshop_sessions),
        num(r.earnings_rows_bytes as i64),
        o.earnings_connections.max(1),
        o.seconds,
        o.earnings_connections
    );
    load_table(&mut s, &r.earnings);
    let _ = writeln!(s);

    let _ = writeln!(s, "## Size and memory\n");
    let _ = writeln!(s, "| | Raw | gzip -9 |\n| --- | ---: | ---: |");
    let _ = writeln!(
        s,
        "| Release wasm (`{}`) | {:.1} kB | {:.1} kB |",
        r.wasm_file,
        r.wasm_raw_bytes as f64 / 1000.0,
        r.wasm_gzip_bytes as f64 / 1000.0
    );
    let _ = writeln!(
        s,
        "| Its JavaScript loader | {:.1} kB | {:.1} kB |",
        r.js_raw_bytes as f64 / 1000.0,
        r.js_gzip_bytes as f64 / 1000.0
    );
    let _ = writeln!(
        s,
        "\nPeak resident memory (VmHWM) of the release server from its start at full size through every \
         measurement above: **{:.1} MB**; of the baseline: {:.1} MB.\n",
        kib_mb(r.server_peak_rss_kib),
        kib_mb(r.baseline_peak_rss_kib)
    );
    if r.rss_phases {
        let _ = writeln!(
            s,
            "By phase (the high-water mark restarted between phases with `/proc/PID/clear_refs`):\n\n\
             | Phase | Peak RSS |\n| --- | ---: |\n\
             | Start-up and the directory measurements (32 connections) | {:.1} MB |\n\
             | Logging in {} mechanics and {} owner sessions, 4 at a time (argon2id, 19 MiB each) | {:.1} MB |\n\
             | … resident when the log-ins were over | {:.1} MB |\n\
             | Webhook pipeline, accept race (100 connections) and earnings panel: peak | {:.1} MB |\n\
             | … of which grown beyond what the log-ins left resident | {:.1} MB |\n",
            kib_mb(r.server_peak_rss_directory_kib),
            r.race.racers + 1,
            o.earnings_connections.max(1),
            kib_mb(r.server_peak_rss_logins_kib),
            kib_mb(r.server_rss_after_logins_kib),
            kib_mb(r.server_peak_rss_booking_kib),
            booking_growth_mb(r),
        );
    }
    s
}
