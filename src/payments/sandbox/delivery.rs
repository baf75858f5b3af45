//! Delivering the queued sandbox events to the app's webhook, each signed at send
//! time as Stripe does, with retries, and the worker that does it.

use super::super::signing::signature_header;
use super::expire_sessions;
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

/// Delivers every due event once (each claimed with SKIP LOCKED, so several app
/// instances share the work). Each attempt is signed at send time, as Stripe does.
/// Returns how many were delivered.
pub async fn deliver_due(
    pool: &PgPool,
    secret: &str,
    sender: &dyn WebhookSender,
) -> Result<usize, sqlx::Error> {
    let mut delivered = 0;
    loop {
        let mut tx = pool.begin().await?;
        let due: Option<(i64, String)> = sqlx::query!(
            "SELECT id, payload FROM sandbox_webhook_deliveries
              WHERE delivered_at IS NULL AND next_attempt_at <= now()
              ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED"
        )
        .fetch_optional(&mut *tx)
        .await?
        .map(|r| (r.id, r.payload));
        let Some((id, payload)) = due else { break };
        let signature = signature_header(secret, chrono::Utc::now().timestamp(), &payload);
        let result = sender.send(payload, signature).await;
        match result {
            Ok(status) if (200..300).contains(&status) => {
                sqlx::query!(
                    "UPDATE sandbox_webhook_deliveries SET delivered_at = now(), attempts = attempts + 1 WHERE id = $1",
                    id
                )
                .execute(&mut *tx)
                .await?;
                delivered += 1;
            }
            other => {
                let error = match other {
                    Ok(status) => format!("HTTP {status}"),
                    Err(e) => e,
                };
                tracing::warn!(delivery = id, %error, "sandbox webhook delivery failed; will retry");
                sqlx::query!(
                    "UPDATE sandbox_webhook_deliveries SET attempts = attempts + 1, last_error = $2,
                            next_attempt_at = now() + make_interval(secs => least(3600, power(2, attempts)))
                      WHERE id = $1",
                    id,
                    error
                )
                .execute(&mut *tx)
                .await?;
            }
        }
        tx.commit().await?;
    }
    Ok(delivered)
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
