//! The queue abstraction on a real table: the e-mail outbox, with a fake
//! "sender" whose runs are counted, fail or panic on demand.

use autodoctor::workers::queue::{drain, run_one, Drained, Queue, Recorded};
use sqlx::PgPool;
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;
use uuid::Uuid;

/// Claims outbox rows as the SMTP queue does; `run` counts the runs of each
/// message, and fails (or panics) its first run when the subject says so.
#[derive(Default)]
struct Counting {
    runs: Mutex<HashMap<Uuid, u32>>,
    run_for: Duration,
}

struct Msg {
    id: Uuid,
    subject: String,
}

#[async_trait::async_trait]
impl Queue for Counting {
    type Job = Msg;
    type Done = ();
    type Error = String;
    const NAME: &'static str = "test";

    async fn claim(&self, tx: &mut sqlx::PgConnection) -> Result<Option<Msg>, sqlx::Error> {
        sqlx::query_as!(
            Msg,
            "SELECT id, subject FROM email_outbox
              WHERE sent_at IS NULL AND send_after <= now()
              ORDER BY send_after, id LIMIT 1 FOR UPDATE SKIP LOCKED"
        )
        .fetch_optional(tx)
        .await
    }

    async fn run(&self, msg: &Msg) -> Result<(), String> {
        let nth = {
            let mut runs = self.runs.lock().unwrap();
            let n = runs.entry(msg.id).or_default();
            *n += 1;
            *n
        };
        tokio::time::sleep(self.run_for).await;
        match (msg.subject.as_str(), nth) {
            ("fails once", 1) => Err("the server said no".into()),
            ("always fails", _) => Err("the server said no".into()),
            ("panics once", 1) => panic!("injected panic in the middle of a job"),
            _ => Ok(()),
        }
    }

    async fn record(
        &self,
        mut tx: sqlx::Transaction<'static, sqlx::Postgres>,
        msg: Msg,
        outcome: Result<(), String>,
    ) -> Result<Recorded, sqlx::Error> {
        let recorded = match outcome {
            Ok(()) => {
                sqlx::query!(
                    "UPDATE email_outbox SET sent_at = now(), attempts = attempts + 1 WHERE id = $1",
                    msg.id
                )
                .execute(&mut *tx)
                .await?;
                Recorded::Done
            }
            Err(e) => {
                // "always fails" is due again at once; the others in an hour.
                sqlx::query!(
                    "UPDATE email_outbox SET attempts = attempts + 1, last_error = $2,
                            send_after = CASE WHEN subject = 'always fails' THEN now() - interval '1 second'
                                              ELSE now() + interval '1 hour' END
                      WHERE id = $1",
                    msg.id,
                    e
                )
                .execute(&mut *tx)
                .await?;
                Recorded::Failed
            }
        };
        tx.commit().await?;
        Ok(recorded)
    }
}

async fn enqueue(pool: &PgPool, subject: &str) -> Uuid {
    sqlx::query_scalar!(
        "INSERT INTO email_outbox (to_email, subject, body_text, kind) VALUES ('q@example.test', $1, 'body', 'test')
         RETURNING id",
        subject
    )
    .fetch_one(pool)
    .await
    .unwrap()
}

struct Row {
    sent: bool,
    attempts: i32,
    last_error: Option<String>,
}

async fn row(pool: &PgPool, id: Uuid) -> Row {
    sqlx::query_as!(
        Row,
        r#"SELECT sent_at IS NOT NULL AS "sent!", attempts, last_error FROM email_outbox WHERE id = $1"#,
        id
    )
    .fetch_one(pool)
    .await
    .unwrap()
}

#[sqlx::test(migrator = "autodoctor::db::MIGRATOR")]
async fn two_instances_draining_at_once_run_every_job_exactly_once(pool: PgPool) {
    let mut ids = Vec::new();
    for i in 0..30 {
        ids.push(enqueue(&pool, &format!("message {i}")).await);
    }
    // Two instances: two pools on the same database, one queue each, at once.
    let other = sqlx::postgres::PgPoolOptions::new()
        .max_connections(4)
        .connect_with((*pool.connect_options()).clone())
        .await
        .unwrap();
    let a = Counting { run_for: Duration::from_millis(15), ..Default::default() };
    let b = Counting { run_for: Duration::from_millis(15), ..Default::default() };
    let (da, db) = tokio::join!(drain(&pool, &a, 1000), drain(&other, &b, 1000));
    let (da, db) = (da.unwrap(), db.unwrap());
    assert_eq!(da.done + db.done, 30, "every job done once: {da:?} + {db:?}");
    assert!(da.done > 0 && db.done > 0, "both instances took work: {da:?} + {db:?}");
    let ra = a.runs.lock().unwrap().clone();
    let rb = b.runs.lock().unwrap().clone();
    for id in &ids {
        let runs = ra.get(id).copied().unwrap_or(0) + rb.get(id).copied().unwrap_or(0);
        assert_eq!(runs, 1, "job {id} ran {runs} times");
        let r = row(&pool, *id).await;
        assert!(r.sent && r.attempts == 1, "job {id} recorded once as done");
    }
    assert_eq!(drain(&pool, &a, 1000).await.unwrap(), Drained::default(), "nothing left");
}

#[sqlx::test(migrator = "autodoctor::db::MIGRATOR")]
async fn a_failed_job_is_recorded_and_retried_once_it_is_due(pool: PgPool) {
    let ok = enqueue(&pool, "fine").await;
    let flaky = enqueue(&pool, "fails once").await;
    let q = Counting::default();
    let d = drain(&pool, &q, 1000).await.unwrap();
    assert_eq!((d.done, d.failed), (1, 1), "one done, one failed: {d:?}");
    let r = row(&pool, flaky).await;
    assert!(!r.sent, "the failed job is not done");
    assert_eq!(
        (r.attempts, r.last_error.as_deref()),
        (1, Some("the server said no")),
        "its failure is recorded"
    );
    assert!(row(&pool, ok).await.sent);
    // Not due yet: the next drain leaves it.
    assert_eq!(drain(&pool, &q, 1000).await.unwrap().total(), 0);
    sqlx::query!("UPDATE email_outbox SET send_after = now() WHERE id = $1", flaky)
        .execute(&pool)
        .await
        .unwrap();
    let d = drain(&pool, &q, 1000).await.unwrap();
    assert_eq!((d.done, d.failed), (1, 0), "retried and done: {d:?}");
    let r = row(&pool, flaky).await;
    assert!(r.sent && r.attempts == 2);
    assert_eq!(q.runs.lock().unwrap()[&flaky], 2, "the failed job ran again");
    assert_eq!(q.runs.lock().unwrap()[&ok], 1, "the done one did not");
}

#[sqlx::test(migrator = "autodoctor::db::MIGRATOR")]
async fn a_job_whose_run_panics_is_not_recorded_and_is_claimed_again(pool: PgPool) {
    let id = enqueue(&pool, "panics once").await;
    let q = std::sync::Arc::new(Counting::default());
    let (p, q2) = (pool.clone(), q.clone());
    let crashed = tokio::spawn(async move { run_one(&p, &*q2).await }).await;
    assert!(crashed.unwrap_err().is_panic(), "the run panicked");
    // The claim's transaction was never committed: nothing recorded, the lock is gone.
    let r = row(&pool, id).await;
    assert!(!r.sent && r.attempts == 0 && r.last_error.is_none(), "a panicked run records nothing");
    assert_eq!(run_one(&pool, &*q).await.unwrap(), Some(Recorded::Done), "claimed again and done");
    let r = row(&pool, id).await;
    assert!(r.sent && r.attempts == 1);
    assert_eq!(q.runs.lock().unwrap()[&id], 2);
}

#[sqlx::test(migrator = "autodoctor::db::MIGRATOR")]
async fn a_job_that_is_due_again_at_once_cannot_hold_a_drain_forever(pool: PgPool) {
    let id = enqueue(&pool, "always fails").await;
    let q = Counting::default();
    let d = drain(&pool, &q, 5).await.unwrap();
    assert_eq!(d, Drained { done: 0, failed: 5, already_done: 0 }, "stops at the limit");
    assert_eq!(row(&pool, id).await.attempts, 5);
    assert_eq!(run_one(&pool, &q).await.unwrap(), Some(Recorded::Failed));
}
