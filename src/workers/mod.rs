//! Background workers under one supervisor.
//!
//! Every worker has the same shape ([`every`]): a *tick* claims the jobs that
//! are due (`FOR UPDATE SKIP LOCKED`, so several instances share the work and
//! never run one job twice), runs them and records their outcome in the same
//! transaction; then the worker waits for its interval, or until it is woken.
//! A tick that fails is logged and the next one retries.
//!
//! The [`Supervisor`] runs each worker in a task of its own. A worker that
//! panics is logged and started again (after a short delay that grows with
//! repeated panics); the job it was running was never committed, so the next
//! tick claims it again. On shutdown the supervisor stops the workers between
//! ticks: a job in progress finishes and is recorded, then the worker returns.
//!
//! Queued work (mail to send, payouts to transfer, webhooks to deliver) has one
//! shape, [`queue::Queue`]: claim a due job with `SKIP LOCKED`, run it, record
//! its outcome; [`queue::drain`] is the tick of such a worker.

pub mod queue;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{watch, Notify};
use tokio::task::JoinSet;

/// Tells a worker (or the server) that the process is stopping. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Shutdown(watch::Receiver<bool>);

impl Shutdown {
    /// True once shutdown was requested, or once the supervisor is gone.
    pub fn is_requested(&self) -> bool {
        *self.0.borrow() || self.0.has_changed().is_err()
    }

    /// Resolves once shutdown is requested.
    pub async fn requested(mut self) {
        let _ = self.0.wait_for(|stop| *stop).await;
    }

    /// Sleeps for `duration`, ending early when shutdown is requested or `wake`
    /// is notified. Returns false when the caller should stop.
    pub async fn pause(&self, duration: Duration, wake: Option<&Notify>) -> bool {
        let woken = async {
            match wake {
                Some(n) => n.notified().await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            _ = tokio::time::sleep(duration) => {}
            _ = woken => {}
            _ = self.clone().requested() => {}
        }
        !self.is_requested()
    }
}

/// Starts the workers, restarts them after a panic, and stops them on shutdown.
pub struct Supervisor {
    stop: watch::Sender<bool>,
    tasks: JoinSet<()>,
}

impl Default for Supervisor {
    fn default() -> Self {
        Self::new()
    }
}

impl Supervisor {
    pub fn new() -> Self {
        let (stop, _) = watch::channel(false);
        Supervisor { stop, tasks: JoinSet::new() }
    }

    /// A handle that resolves when [`Supervisor::request_shutdown`] is called.
    pub fn shutdown_handle(&self) -> Shutdown {
        Shutdown(self.stop.subscribe())
    }

    /// Runs `worker` until shutdown. It is started again when it panics, or when
    /// it returns before shutdown was requested.
    pub fn spawn<F, Fut>(&mut self, name: &'static str, worker: F)
    where
        F: Fn(Shutdown) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let stop = self.shutdown_handle();
        self.tasks.spawn(async move {
            let mut panics: u32 = 0;
            loop {
                let outcome = tokio::spawn(worker(stop.clone())).await;
                if stop.is_requested() {
                    if let Err(e) = outcome {
                        if e.is_panic() {
                            tracing::error!(worker = name, panic = %panic_message(e), "worker panicked while stopping");
                        }
                    }
                    break;
                }
                match outcome {
                    Ok(()) => tracing::warn!(worker = name, "worker returned before shutdown; starting it again"),
                    Err(e) if e.is_panic() => {
                        panics += 1;
                        tracing::error!(worker = name, panics, panic = %panic_message(e), "worker panicked; starting it again");
                    }
                    Err(_) => break,
                }
                if !stop.pause(restart_delay(panics), None).await {
                    break;
                }
            }
            tracing::info!(worker = name, "worker stopped");
        });
    }

    /// The sender behind [`Supervisor::request_shutdown`], for a signal handler.
    pub fn stop_sender(&self) -> watch::Sender<bool> {
        self.stop.clone()
    }

    /// Asks every worker to stop after its current tick.
    pub fn request_shutdown(&self) {
        let _ = self.stop.send(true);
    }

    /// Requests shutdown and waits up to `grace` for the workers to finish
    /// their current jobs. Returns false if some were still running (they are
    /// then abandoned; their uncommitted jobs are claimed again at the next start).
    pub async fn shutdown(mut self, grace: Duration) -> bool {
        self.request_shutdown();
        let all = async { while self.tasks.join_next().await.is_some() {} };
        if tokio::time::timeout(grace, all).await.is_ok() {
            tracing::info!("background workers stopped");
            true
        } else {
            tracing::warn!(
                grace_secs = grace.as_secs(),
                "background workers still busy after the grace period; abandoning them"
            );
            self.tasks.abort_all();
            false
        }
    }
}

/// The common loop of a worker: `tick` claims due jobs, runs them and records
/// their outcome (returning how many it handled), every `interval` or when
/// `wake` is notified, until shutdown. A failed tick is logged and retried.
pub async fn every<F, Fut, E>(
    name: &'static str,
    shutdown: Shutdown,
    interval: Duration,
    wake: Option<Arc<Notify>>,
    mut tick: F,
) where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<usize, E>>,
    E: std::fmt::Display,
{
    while !shutdown.is_requested() {
        match tick().await {
            Ok(0) => {}
            Ok(done) => tracing::debug!(worker = name, done, "tick"),
            Err(e) => tracing::warn!(worker = name, error = %e, "tick failed; the next one retries"),
        }
        if !shutdown.pause(interval, wake.as_deref()).await {
            break;
        }
    }
}

fn restart_delay(panics: u32) -> Duration {
    Duration::from_millis(200u64.saturating_mul(1 << panics.min(6)))
}

fn panic_message(e: tokio::task::JoinError) -> String {
    match e.try_into_panic() {
        Ok(payload) => payload
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "a panic without a message".to_string()),
        Err(e) => e.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[tokio::test]
    async fn a_panicking_worker_is_started_again_and_its_job_retried() {
        // The "job" is done only by a run that does not panic; the first run panics mid-job.
        let runs = Arc::new(AtomicUsize::new(0));
        let done = Arc::new(AtomicUsize::new(0));
        let mut sup = Supervisor::new();
        let (r, d) = (runs.clone(), done.clone());
        sup.spawn("flaky", move |stop| {
            let (r, d) = (r.clone(), d.clone());
            async move {
                every("flaky", stop, Duration::from_millis(10), None, || {
                    let (r, d) = (r.clone(), d.clone());
                    async move {
                        if r.fetch_add(1, Ordering::SeqCst) == 0 {
                            panic!("injected fault in the middle of a job");
                        }
                        if d.load(Ordering::SeqCst) == 0 {
                            d.store(1, Ordering::SeqCst);
                        }
                        Ok::<usize, String>(1)
                    }
                })
                .await
            }
        });
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        while done.load(Ordering::SeqCst) == 0 && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert_eq!(done.load(Ordering::SeqCst), 1, "the job was retried after the panic");
        assert!(runs.load(Ordering::SeqCst) >= 2, "the worker ran again");
        assert!(sup.shutdown(Duration::from_secs(2)).await, "stopped within the grace period");
    }

    #[tokio::test]
    async fn shutdown_lets_the_current_job_finish_and_starts_no_new_one() {
        let started = Arc::new(AtomicUsize::new(0));
        let finished = Arc::new(AtomicUsize::new(0));
        let mut sup = Supervisor::new();
        let (s, f) = (started.clone(), finished.clone());
        sup.spawn("slow", move |stop| {
            let (s, f) = (s.clone(), f.clone());
            async move {
                every("slow", stop, Duration::from_millis(1), None, || {
                    let (s, f) = (s.clone(), f.clone());
                    async move {
                        s.fetch_add(1, Ordering::SeqCst);
                        tokio::time::sleep(Duration::from_millis(300)).await;
                        f.fetch_add(1, Ordering::SeqCst);
                        Ok::<usize, String>(1)
                    }
                })
                .await
            }
        });
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert!(sup.shutdown(Duration::from_secs(5)).await);
        let (s, f) = (started.load(Ordering::SeqCst), finished.load(Ordering::SeqCst));
        assert_eq!(s, f, "every job that started also finished ({s} started, {f} finished)");
        assert_eq!(s, 1, "no job started after shutdown was requested");
    }

    #[tokio::test]
    async fn a_stuck_worker_is_abandoned_after_the_grace_period() {
        let mut sup = Supervisor::new();
        sup.spawn("stuck", |_stop| async move {
            tokio::time::sleep(Duration::from_secs(3600)).await;
        });
        tokio::time::sleep(Duration::from_millis(20)).await;
        let t = std::time::Instant::now();
        assert!(!sup.shutdown(Duration::from_millis(200)).await);
        assert!(t.elapsed() < Duration::from_secs(2));
    }
}
