//! The one shape of queued work: claim a due job with `FOR UPDATE SKIP LOCKED`,
//! run it while its row stays locked, record the outcome in the claim's
//! transaction, commit.
//!
//! The row lock is the claim: another instance's claim skips the row, so no job
//! runs twice at once; a process that dies mid-job never commits, its lock goes
//! with its connection, and the job is claimed again. A failed run is recorded
//! (with the queue's own back-off), so [`drain`] moves on to the next job.
//! The e-mail outbox, the payout transfers and the payment sandbox's webhook
//! deliveries are queues; the workers that are one conditional `UPDATE` (offer
//! escalation, checkout expiry) need no claim and are plain ticks.

use sqlx::{PgConnection, PgPool, Postgres, Transaction};

/// A queue of jobs kept in a table.
#[async_trait::async_trait]
pub trait Queue: Send + Sync {
    /// What a claimed job's run needs, read from its row.
    type Job: Send + Sync;
    /// What a successful run hands to [`Queue::record`] (the gateway's transfer id, say).
    type Done: Send;
    /// Why a run failed (logged, and recorded by the queue).
    type Error: std::fmt::Display + Send;

    /// Names the queue in logs.
    const NAME: &'static str;

    /// Claims the next due job: a `SELECT ... LIMIT 1 FOR UPDATE SKIP LOCKED` in `tx`.
    async fn claim(&self, tx: &mut PgConnection) -> Result<Option<Self::Job>, sqlx::Error>;

    /// Does the job's work outside the database (the SMTP server, the payment
    /// gateway, a webhook endpoint). The row stays locked meanwhile.
    async fn run(&self, job: &Self::Job) -> Result<Self::Done, Self::Error>;

    /// Records the outcome (and logs a failure, naming the job) and ends the claim by committing `tx` (or by committing
    /// it first and recording in a transaction of its own, when the record takes
    /// locks the claim must not hold).
    async fn record(
        &self,
        tx: Transaction<'static, Postgres>,
        job: Self::Job,
        outcome: Result<Self::Done, Self::Error>,
    ) -> Result<Recorded, sqlx::Error>;
}

/// What [`Queue::record`] made of a run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Recorded {
    /// Done; the job is off the queue.
    Done,
    /// Failed and rescheduled (or given up, as the queue decides).
    Failed,
    /// Ran, but somebody else had already recorded it (a retry after a crash).
    AlreadyDone,
}

/// What one [`drain`] did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Drained {
    pub done: usize,
    pub failed: usize,
    pub already_done: usize,
}

impl Drained {
    pub fn total(&self) -> usize {
        self.done + self.failed + self.already_done
    }
}

/// Claims, runs and records at most one job; `Ok(None)` when none is due.
pub async fn run_one<Q: Queue>(pool: &PgPool, queue: &Q) -> Result<Option<Recorded>, sqlx::Error> {
    let mut tx = pool.begin().await?;
    let Some(job) = queue.claim(&mut tx).await? else {
        return Ok(None);
    };
    let outcome = queue.run(&job).await;
    queue.record(tx, job, outcome).await.map(Some)
}

/// Runs due jobs one after another until none is due, or `limit` have run (a
/// queue whose failures are due again at once cannot keep a worker here forever).
pub async fn drain<Q: Queue>(pool: &PgPool, queue: &Q, limit: usize) -> Result<Drained, sqlx::Error> {
    let mut out = Drained::default();
    while out.total() < limit {
        match run_one(pool, queue).await? {
            None => break,
            Some(Recorded::Done) => out.done += 1,
            Some(Recorded::Failed) => out.failed += 1,
            Some(Recorded::AlreadyDone) => out.already_done += 1,
        }
    }
    if out.total() > 0 {
        tracing::debug!(
            queue = Q::NAME,
            done = out.done,
            failed = out.failed,
            already_done = out.already_done,
            "drained"
        );
    }
    Ok(out)
}
