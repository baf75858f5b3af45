//! Writing to the outbox, and the sender that empties it over SMTP.

use super::MailboxMessage;
use crate::workers::queue::{self, Queue, Recorded};
use sqlx::{PgExecutor, PgPool};
use std::time::Duration;

pub async fn enqueue(
    db: impl PgExecutor<'_>,
    to: &str,
    subject: &str,
    body: &str,
    kind: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "INSERT INTO email_outbox (to_email, subject, body_text, kind) VALUES ($1, $2, $3, $4)",
        to,
        subject,
        body,
        kind
    )
    .execute(db)
    .await?;
    Ok(())
}

/// A notification: one per (kind, event, recipient), however often its event is
/// processed.
pub struct Notice<'a> {
    pub to: &'a str,
    pub subject: &'a str,
    pub text: &'a str,
    pub html: &'a str,
    pub kind: &'a str,
    pub dedupe_key: &'a str,
    pub unsubscribe_url: Option<&'a str>,
}

/// Queues a notification unless one with its key exists; returns whether it was
/// queued now.
pub async fn enqueue_notice(db: impl PgExecutor<'_>, n: &Notice<'_>) -> Result<bool, sqlx::Error> {
    let id = sqlx::query_scalar!(
        "INSERT INTO email_outbox (to_email, subject, body_text, body_html, kind, dedupe_key, unsubscribe_url)
         VALUES ($1, $2, $3, $4, $5, $6, $7)
         ON CONFLICT (dedupe_key) WHERE dedupe_key IS NOT NULL DO NOTHING RETURNING id",
        n.to,
        n.subject,
        n.text,
        n.html,
        n.kind,
        n.dedupe_key,
        n.unsubscribe_url
    )
    .fetch_optional(db)
    .await?;
    Ok(id.is_some())
}

/// Queues a message whose body carries a one-time `secret` (hashed as
/// `secret_hash`): the stored copy loses it after delivery, or when
/// [`forget_secret`] is called.
pub async fn enqueue_with_secret(
    db: impl PgExecutor<'_>,
    to: &str,
    subject: &str,
    body: &str,
    kind: &str,
    secret: &str,
    secret_hash: &[u8],
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "INSERT INTO email_outbox (to_email, subject, body_text, kind, secret, secret_hash) VALUES ($1, $2, $3, $4, $5, $6)",
        to,
        subject,
        body,
        kind,
        secret,
        secret_hash
    )
    .execute(db)
    .await?;
    Ok(())
}

/// Removes a secret from every stored message that carries it (it was used,
/// revoked or replaced). Returns how many messages changed.
pub async fn forget_secret(db: impl PgExecutor<'_>, secret_hash: &[u8]) -> Result<u64, sqlx::Error> {
    Ok(sqlx::query!(
        "UPDATE email_outbox SET body_text = replace(body_text, secret, '(link no longer valid)'),
                secret = NULL, secret_hash = NULL
          WHERE secret_hash = $1",
        secret_hash
    )
    .execute(db)
    .await?
    .rows_affected())
}

pub async fn recent(db: impl PgExecutor<'_>, limit: i64) -> Result<Vec<MailboxMessage>, sqlx::Error> {
    sqlx::query_as!(
        MailboxMessage,
        r#"SELECT id, to_email, subject, body_text, kind, created_at AS "created_at: chrono::DateTime<chrono::Utc>",
                  sent_at AS "sent_at: chrono::DateTime<chrono::Utc>", attempts, last_error
             FROM email_outbox ORDER BY created_at DESC, id LIMIT $1"#,
        limit
    )
    .fetch_all(db)
    .await
}

struct Pending {
    id: uuid::Uuid,
    to_email: String,
    subject: String,
    body_text: String,
    body_html: Option<String>,
    unsubscribe_url: Option<String>,
}

/// The outbox as a [`Queue`]: a due message is claimed, sent over SMTP while its
/// row stays locked, and marked sent (its secret link removed from the stored
/// text) or rescheduled with a growing delay, up to 20 attempts.
struct SmtpQueue {
    transport: lettre::AsyncSmtpTransport<lettre::Tokio1Executor>,
    from: lettre::message::Mailbox,
}

#[async_trait::async_trait]
impl Queue for SmtpQueue {
    type Job = Pending;
    type Done = ();
    type Error = String;
    const NAME: &'static str = "email";

    async fn claim(&self, tx: &mut sqlx::PgConnection) -> Result<Option<Pending>, sqlx::Error> {
        sqlx::query_as!(
            Pending,
            "SELECT id, to_email, subject, body_text, body_html, unsubscribe_url FROM email_outbox
              WHERE sent_at IS NULL AND send_after <= now() AND attempts < 20
              ORDER BY send_after LIMIT 1 FOR UPDATE SKIP LOCKED"
        )
        .fetch_optional(tx)
        .await
    }

    async fn run(&self, msg: &Pending) -> Result<(), String> {
        use lettre::AsyncTransport;
        let outgoing = super::message::Outgoing {
            to: &msg.to_email,
            subject: &msg.subject,
            text: &msg.body_text,
            html: msg.body_html.as_deref(),
            unsubscribe_url: msg.unsubscribe_url.as_deref(),
        };
        let email = super::message::build(&self.from, &outgoing)?;
        self.transport.send(email).await.map(|_| ()).map_err(|e| e.to_string())
    }

    async fn record(
        &self,
        mut tx: sqlx::Transaction<'static, sqlx::Postgres>,
        msg: Pending,
        outcome: Result<(), String>,
    ) -> Result<Recorded, sqlx::Error> {
        let recorded = match outcome {
            Ok(()) => {
                sqlx::query!(
                    "UPDATE email_outbox SET sent_at = now(), attempts = attempts + 1,
                            body_text = CASE WHEN secret IS NULL THEN body_text
                                             ELSE replace(body_text, secret, '(link removed after delivery)') END,
                            secret = NULL, secret_hash = NULL
                      WHERE id = $1",
                    msg.id
                )
                .execute(&mut *tx)
                .await?;
                Recorded::Done
            }
            Err(err) => {
                tracing::warn!(message = %msg.id, error = %err, "email delivery failed; will retry");
                sqlx::query!(
                    "UPDATE email_outbox SET attempts = attempts + 1, last_error = $2,
                            send_after = now() + make_interval(secs => least(3600, 30 * power(2, attempts)))
                      WHERE id = $1",
                    msg.id,
                    err
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

/// Delivers due messages over SMTP until the process stops (every 5 seconds,
/// all that are due). Claims use `FOR UPDATE SKIP LOCKED`, so several instances
/// never send the same message twice; a failure is recorded and retried later.
pub async fn run_sender(pool: PgPool, smtp_url: String, from: String, shutdown: crate::workers::Shutdown) {
    let transport = match lettre::AsyncSmtpTransport::<lettre::Tokio1Executor>::from_url(&smtp_url) {
        Ok(builder) => builder.build(),
        Err(e) => {
            tracing::error!(error = %e, "SMTP_URL is not usable; email stays in the outbox");
            return;
        }
    };
    let from = match from.parse::<lettre::message::Mailbox>() {
        Ok(m) => m,
        Err(e) => {
            tracing::error!(error = %e, "MAIL_FROM is not an address; email stays in the outbox");
            return;
        }
    };
    let queue = SmtpQueue { transport, from };
    crate::workers::every("email", shutdown, Duration::from_secs(5), None, || async {
        queue::drain(&pool, &queue, 500).await.map(|d| d.total())
    })
    .await
}
