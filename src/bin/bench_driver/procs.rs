//! The processes under test (the release server and the bare baseline), their
//! memory, and what else the machine was doing meanwhile.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub struct Proc {
    pub child: Child,
    pub base_url: String,
}

impl Proc {
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Peak resident memory since start (VmHWM), in KiB.
    pub fn peak_rss_kib(&self) -> Option<u64> {
        status_field(self.pid(), "VmHWM:")
    }

    /// Starts the peak (VmHWM) afresh from the present resident size, so that a
    /// later `peak_rss_kib` covers only what came after (Linux `clear_refs` 5).
    pub fn reset_peak(&self) -> bool {
        std::fs::write(format!("/proc/{}/clear_refs", self.pid()), "5").is_ok()
    }

    pub fn stop(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn status_field(pid: u32, field: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find(|l| l.starts_with(field))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
}

/// Starts a program with the given environment, output to `log`, and waits until
/// `GET {base_url}/healthz` answers 200.
pub async fn start(
    name: &'static str,
    program: &Path,
    args: &[&str],
    env: &[(&str, String)],
    base_url: String,
    log: &Path,
) -> Result<Proc, crate::measure::Error> {
    let out = std::fs::File::create(log)?;
    let mut cmd = Command::new(program);
    cmd.args(args).stdin(Stdio::null()).stdout(out.try_clone()?).stderr(out);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let child = cmd.spawn().map_err(|e| format!("cannot start {}: {e}", program.display()))?;
    let mut proc = Proc { child, base_url };
    let client = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        if let Some(status) = proc.child.try_wait()? {
            let tail = std::fs::read_to_string(log).unwrap_or_default();
            return Err(format!("{name} exited ({status}) before answering:\n{tail}").into());
        }
        if let Ok(r) = client.get(format!("{}/healthz", proc.base_url)).send().await {
            if r.status().is_success() {
                return Ok(proc);
            }
        }
        if Instant::now() > deadline {
            proc.child.kill().ok();
            return Err(format!("{name} did not answer /healthz within 90 s (log: {})", log.display()).into());
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Samples, while a measurement runs, the machine's load and whether other
/// heavy programs (compilers, test runners) ran beside it.
#[derive(Default)]
pub struct Activity {
    pub samples: u64,
    pub samples_with_others: u64,
    pub others_seen: std::collections::BTreeSet<String>,
    pub max_load1: f64,
}

pub struct Sampler {
    stop: Arc<AtomicBool>,
    handle: Option<std::thread::JoinHandle<()>>,
    pub activity: Arc<Mutex<Activity>>,
}

const HEAVY: &[&str] = &[
    "rustc",
    "cargo",
    "cargo-leptos",
    "clippy-driver",
    "cc1",
    "ld",
    "rust-lld",
    "wasm-opt",
    "node",
    "chromium",
];

impl Sampler {
    pub fn start() -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let activity = Arc::new(Mutex::new(Activity::default()));
        let me = std::process::id();
        let handle = {
            let stop = stop.clone();
            let activity = activity.clone();
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    let mut others = Vec::new();
                    if let Ok(dir) = std::fs::read_dir("/proc") {
                        for entry in dir.flatten() {
                            let Some(pid) = entry.file_name().to_str().and_then(|s| s.parse::<u32>().ok())
                            else {
                                continue;
                            };
                            if pid == me {
                                continue;
                            }
                            if let Ok(comm) = std::fs::read_to_string(format!("/proc/{pid}/comm")) {
                                let comm = comm.trim();
                                if HEAVY.contains(&comm) {
                                    others.push(comm.to_string());
                                }
                            }
                        }
                    }
                    let load1 = std::fs::read_to_string("/proc/loadavg")
                        .ok()
                        .and_then(|s| s.split_whitespace().next().and_then(|v| v.parse::<f64>().ok()))
                        .unwrap_or(0.0);
                    if let Ok(mut a) = activity.lock() {
                        a.samples += 1;
                        if !others.is_empty() {
                            a.samples_with_others += 1;
                        }
                        a.others_seen.extend(others);
                        a.max_load1 = a.max_load1.max(load1);
                    }
                    std::thread::sleep(Duration::from_millis(500));
                }
            })
        };
        Sampler { stop, handle: Some(handle), activity }
    }

    pub fn finish(mut self) -> Activity {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
        std::mem::take(&mut *self.activity.lock().unwrap())
    }
}

/// The first line a command prints, or "unknown".
pub fn command_line(program: &str, args: &[&str]) -> String {
    Command::new(program)
        .args(args)
        .output()
        .ok()
        .map(|o| {
            let text = if o.stdout.is_empty() { o.stderr } else { o.stdout };
            String::from_utf8_lossy(&text).lines().next().unwrap_or("").trim().to_string()
        })
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "unknown".into())
}

pub fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|v| v.trim().into())
        })
        .unwrap_or_else(|| "unknown".into())
}

pub fn mem_total_gib() -> f64 {
    std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("MemTotal:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse::<f64>().ok())
        })
        .map(|kib| kib / 1024.0 / 1024.0)
        .unwrap_or(0.0)
}

/// The newest file in `dir` whose name ends with `suffix`.
pub fn newest_with_suffix(dir: &Path, suffix: &str) -> Option<PathBuf> {
    std::fs::read_dir(dir)
        .ok()?
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().ends_with(suffix))
        .max_by_key(|e| e.metadata().and_then(|m| m.modified()).ok())
        .map(|e| e.path())
}

/// Size of `path` compressed with `gzip -9`.
pub fn gzip_size(path: &Path) -> Option<u64> {
    let out = Command::new("gzip").arg("-9").arg("-c").arg(path).output().ok()?;
    out.status.success().then_some(out.stdout.len() as u64)
}
