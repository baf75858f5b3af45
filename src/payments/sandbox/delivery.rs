//! Delivering the queued sandbox events to the app's webhook, each signed at send
//! time as Stripe does, with retries, and the worker that does it.

use super::super::signing::signature_header;
use super::expire_sessions;
use crate::workers::queue::{self, Queue, Recorded};
use sqlx::PgPool;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;

/// Sends one signed event; answers the HTTP status.
#[async_trait::async_trait]
pub trait WebhookSender: Send + Sync {
    async fn send(&self, payload: String, signature: String) -> Result<u16, String>;
}

/// Posts to the app's webhook URL over HTTP.
pub struct HttpSender {
    url: String,
    client: hyper_util::client::legacy::Client<
        hyper_util::client::legacy::connect::HttpConnector,
        http_body_util::Full<axum::body::Bytes>,
    >,
}

impl HttpSender {
    pub fn new(url: String) -> Self {
        let client =
            hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new()).build_http();
        HttpSender { url, client }
    }
}

#[async_trait::async_trait]
impl WebhookSender for HttpSender {
    async fn send(&self, payload: String, signature: String) -> Result<u16, String> {
        let req = axum::http::Request::post(&self.url)
            .header("content-type", "application/json")
            .header("stripe-signature", signature)
            .header("user-agent", "autodoctor-sandbox/1.0 (+https://stripe.com/docs/webhooks)")
            .body(http_body_util::Full::new(axum::body::Bytes::from(payload)))
            .map_err(|e| e.to_string())?;
        let res = tokio::time::timeout(Duration::from_secs(10), self.client.request(req))
            .await
            .map_err(|_| "timed out".to_string())?
            .map_err(|e| e.to_string())?;
        Ok(res.status().as_u16())
    }
}

/// The queued deliveries as a [`Queue`]: a due event is claimed, signed at send
/// time as Stripe does, posted, and marked delivered on a 2xx, or rescheduled
/// with a delay that doubles up to an hour.
struct Deliveries<'a> {
    secret: &'a str,
    sender: &'a dyn WebhookSender,
}

struct Due {
    id: i64,
    payload: String,
}

#[async_trait::async_trait]
impl Queue for Deliveries<'_> {
    type Job = Due;
    type Done = ();
    type Error = String;
    const NAME: &'static str = "sandbox-webhooks";

    async fn claim(&self, tx: &mut sqlx::PgConnection) -> Result<Option<Due>, sqlx::Error> {
        sqlx::query_as!(
            Due,
            "SELECT id, payload FROM sandbox_webhook_deliveries
              WHERE delivered_at IS NULL AND next_attempt_at <= now()
              ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED"
        )
        .fetch_optional(tx)
        .await
    }

    async fn run(&self, due: &Due) -> Result<(), String> {
        let signature = signature_header(self.secret, chrono::Utc::now().timestamp(), &due.payload);
        match self.sender.send(due.payload.clone(), signature).await? {
            status if (200..300).contains(&status) => Ok(()),
            status => Err(format!("HTTP {status}")),
        }
    }

    async fn record(
        &self,
        mut tx: sqlx::Transaction<'static, sqlx::Postgres>,
        due: Due,
        outcome: Result<(), String>,
    ) -> Result<Recorded, sqlx::Error> {
        let recorded = match outcome {
            Ok(()) => {
                sqlx::query!(
                    "UPDATE sandbox_webhook_deliveries SET delivered_at = now(), attempts = attempts + 1 WHERE id = $1",
                    due.id
                )
                .execute(&mut *tx)
                .await?;
                Recorded::Done
            }
            Err(error) => {
                tracing::warn!(delivery = due.id, %error, "sandbox webhook delivery failed; will retry");
                sqlx::query!(
                    "UPDATE sandbox_webhook_deliveries SET attempts = attempts + 1, last_error = $2,
                            next_attempt_at = now() + make_interval(secs => least(3600, power(2, attempts)))
                      WHERE id = $1",
                    due.id,
                    error
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

/// Delivers every due event once (each claimed with SKIP LOCKED, so several app
/// instances share the work). Each attempt is signed at send time, as Stripe does.
/// Returns how many were delivered.
pub async fn deliver_due(
    pool: &PgPool,
    secret: &str,
    sender: &dyn WebhookSender,
) -> Result<usize, sqlx::Error> {
    Ok(queue::drain(pool, &Deliveries { secret, sender }, 1000).await?.done)
}

/// The background deliverer: wakes on new events, and every second for retries
/// and expiries, until the process stops.
pub async fn run_deliverer(
    pool: PgPool,
    secret: String,
    webhook_url: String,
    notify: Arc<Notify>,
    shutdown: crate::workers::Shutdown,
) {
    let sender = HttpSender::new(webhook_url);
    crate::workers::every("sandbox-webhooks", shutdown, Duration::from_secs(1), Some(notify), || async {
        if let Err(e) = expire_sessions(&pool).await {
            tracing::warn!(error = %e, "sandbox could not expire sessions");
        }
        deliver_due(&pool, &secret, &sender).await
    })
    .await
}
