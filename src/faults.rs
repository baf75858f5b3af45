//! Fault points for the crash tests. With `AUTODOCTOR_FAULTS=name1,name2` set,
//! reaching a named point prints `FAULT POINT <name>` on standard error and
//! stops there (the test then kills the process with SIGKILL, mid-transaction).
//! Without the variable, a point is one check of an empty set.

use std::collections::HashSet;
use std::sync::OnceLock;

fn armed() -> &'static HashSet<String> {
    static ARMED: OnceLock<HashSet<String>> = OnceLock::new();
    ARMED.get_or_init(|| {
        std::env::var("AUTODOCTOR_FAULTS")
            .unwrap_or_default()
            .split(',')
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
            .collect()
    })
}

/// Stops here for an hour if this point is armed.
pub async fn point(name: &str) {
    if armed().contains(name) {
        use std::io::Write;
        let mut err = std::io::stderr();
        let _ = writeln!(err, "FAULT POINT {name}");
        let _ = err.flush();
        tokio::time::sleep(std::time::Duration::from_secs(3600)).await;
    }
}
