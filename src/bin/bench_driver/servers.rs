//! The two servers measured: where their programs, the database, the site and
//! the work folder are (`Env`, from the environment), and starting the release
//! server and the bare baseline side by side.

use crate::procs;
use std::path::PathBuf;

pub fn env_or(name: &str, default: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| default.to_string())
}

pub struct Env {
    pub db_url: String,
    pub server_bin: PathBuf,
    pub baseline_bin: PathBuf,
    pub site_root: String,
    pub work: PathBuf,
    pub port: u16,
    pub baseline_port: u16,
}

impl Env {
    pub fn app(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
    pub fn baseline(&self) -> String {
        format!("http://127.0.0.1:{}", self.baseline_port)
    }
}

pub async fn start_both(env: &Env, tag: &str) -> Result<(procs::Proc, procs::Proc), crate::measure::Error> {
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
