//! The machine and conditions of a run: CPU, memory, system, PostgreSQL and its
//! settings, the tools' versions and the commit.

use serde::Serialize;
use sqlx::PgPool;

#[derive(Clone, Debug, Default, Serialize, serde::Deserialize)]
#[serde(default)]
pub struct Machine {
    pub cpu: String,
    pub cores: usize,
    pub memory_gib: f64,
    pub os: String,
    pub kernel: String,
    pub postgres: String,
    pub postgres_settings: String,
    pub rustc: String,
    pub wrk: String,
    pub commit: String,
}

pub async fn machine(db: &PgPool) -> Machine {
    let os = std::fs::read_to_string("/etc/os-release")
        .ok()
        .and_then(|s| {
            s.lines().find(|l| l.starts_with("PRETTY_NAME=")).map(|l| l[12..].trim_matches('"').to_string())
        })
        .unwrap_or_else(|| "unknown".into());
    let postgres: String = sqlx::query_scalar("SELECT split_part(version(), ' on ', 1)")
        .fetch_one(db)
        .await
        .unwrap_or_else(|_| "unknown".into());
    let settings: Vec<(String, String)> = sqlx::query_as(
        "SELECT name, setting || coalesce(unit, '') FROM pg_settings
          WHERE name IN ('shared_buffers', 'work_mem', 'fsync', 'synchronous_commit', 'max_connections') ORDER BY name",
    )
    .fetch_all(db)
    .await
    .unwrap_or_default();
    let dirty = crate::procs::command_line("git", &["status", "--porcelain", "--untracked-files=no"]);
    let commit = crate::procs::command_line("git", &["rev-parse", "--short", "HEAD"]);
    Machine {
        cpu: crate::procs::cpu_model(),
        cores: std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0),
        memory_gib: crate::procs::mem_total_gib(),
        os,
        kernel: std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default().trim().into(),
        postgres,
        postgres_settings: settings.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(", "),
        rustc: crate::procs::command_line("rustc", &["-V"]),
        wrk: crate::procs::command_line("wrk", &["--version"])
            .split(" Copyright")
            .next()
            .unwrap_or("")
            .to_string(),
        commit: if dirty == "unknown" { commit } else { format!("{commit} with uncommitted changes") },
    }
}
