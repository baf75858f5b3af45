//! The directory phase: every directory variant, from the app (HTML and JSON) and
//! from the baseline (JSON), checked once and then loaded with wrk.

use crate::measure::{self, Error, Load, WrkRequest};
use crate::options::Options;
use crate::servers::Env;
use crate::step;

/// The directory, as HTML and JSON from the app and as JSON from the baseline:
/// first page, a deep page, a search and a deep page of the search.
pub async fn directory(env: &Env, o: &Options, scale: &str) -> Result<Vec<Load>, Error> {
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
