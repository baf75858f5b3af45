//! Markdown formatting shared by the sections: thousands separators, verdicts,
//! and the tables of wrk runs and of latencies.

use crate::measure::{Latency, Load};
use std::fmt::Write;

pub(super) fn num(n: i64) -> String {
    let s = n.abs().to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    if n < 0 {
        format!("-{out}")
    } else {
        out
    }
}

pub(super) fn verdict(ok: bool) -> &'static str {
    if ok {
        "**met**"
    } else {
        "**missed**"
    }
}

pub(super) fn load_table(out: &mut String, loads: &[Load]) {
    let _ = writeln!(out, "| Measurement | Throughput (req/s) | p50 (ms) | p90 (ms) | p99 (ms) | max (ms) | Requests | Errors |");
    let _ = writeln!(out, "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
    for l in loads {
        let _ = writeln!(
            out,
            "| {} | {:.0} | {:.2} | {:.2} | {:.2} | {:.1} | {} | {} |",
            l.label,
            l.rps,
            l.p50_ms,
            l.p90_ms,
            l.p99_ms,
            l.max_ms,
            num(l.requests as i64),
            l.errors
        );
    }
}

pub(super) fn latency_row(out: &mut String, name: &str, l: &Latency) {
    let _ = writeln!(
        out,
        "| {name} | {} | {:.2} | {:.2} | {:.2} | {:.2} | {:.2} |",
        l.count, l.p50_ms, l.p90_ms, l.p99_ms, l.max_ms, l.mean_ms
    );
}
