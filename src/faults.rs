//! Fault points for the crash and shutdown tests. With
//! `AUTODOCTOR_FAULTS=name1,name2@1500` set, reaching a named point prints
//! `FAULT POINT <name>` on standard error and then stops there for an hour (the
//! crash tests kill the process with SIGKILL, mid-transaction), or, with
//! `@MILLISECONDS`, pauses that long and goes on (the shutdown tests send SIGTERM
//! during the pause). Without the variable, a point is one check of an empty map.
//!
//! The points: `webhook.before_commit`, `accept.before_commit`,
//! `complete.before_commit` (inside a transaction), and where a side effect at
//! the payment gateway meets a commit: `payout.after_transfer` (the transfer is
//! made, the payout not yet recorded) and `refund.after_gateway` (the refund is
//! made, not yet booked).

use std::collections::HashMap;
use std::sync::OnceLock;
use std::time::Duration;

fn armed() -> &'static HashMap<String, Duration> {
    static ARMED: OnceLock<HashMap<String, Duration>> = OnceLock::new();
    ARMED.get_or_init(|| parse(&std::env::var("AUTODOCTOR_FAULTS").unwrap_or_default()))
}

fn parse(spec: &str) -> HashMap<String, Duration> {
    spec.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| match s.split_once('@') {
            Some((name, ms)) => (name.to_string(), Duration::from_millis(ms.parse().unwrap_or(3_600_000))),
            None => (s.to_string(), Duration::from_secs(3600)),
        })
        .collect()
}

/// Stops here (for an hour, or the armed pause) if this point is armed.
pub async fn point(name: &str) {
    if let Some(pause) = armed().get(name) {
        use std::io::Write;
        let mut err = std::io::stderr();
        let _ = writeln!(err, "FAULT POINT {name}");
        let _ = err.flush();
        tokio::time::sleep(*pause).await;
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn points_stop_for_an_hour_or_pause_as_armed() {
        let armed = super::parse(" a, b@1500 ,,c@x");
        assert_eq!(armed["a"].as_secs(), 3600);
        assert_eq!(armed["b"].as_millis(), 1500);
        assert_eq!(armed["c"].as_secs(), 3600);
        assert_eq!(armed.len(), 3);
    }
}
