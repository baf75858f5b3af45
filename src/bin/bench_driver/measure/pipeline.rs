//! The booking pipeline: from a signed webhook to the offer arriving on a
//! mechanic's live stream (read as Server-Sent Events).

use super::orders::{deliver, new_order, paid_event};
use super::percentiles::{latency, Latency};
use super::Error;
use serde::Serialize;
use sqlx::PgPool;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use uuid::Uuid;

#[derive(Clone, Debug, Default, Serialize, serde::Deserialize)]
#[serde(default)]
pub struct Pipeline {
    pub rounds: usize,
    pub timeouts: usize,
    /// Rounds whose offer took 50 ms or more (the target's bound).
    pub over_50ms: usize,
    /// From sending the signed webhook to the offer arriving on the mechanic's stream.
    pub webhook_to_offer: Latency,
    /// The webhook's own answer (fulfilment committed).
    pub webhook_response: Latency,
}

/// The first time each request id appeared in an `offers` event.
type Seen = Arc<Mutex<HashMap<Uuid, Instant>>>;

async fn read_offers(res: reqwest::Response, seen: Seen, tick: tokio::sync::watch::Sender<u64>) {
    use futures::StreamExt;
    let mut stream = res.bytes_stream();
    let mut buf: Vec<u8> = Vec::new();
    while let Some(Ok(chunk)) = stream.next().await {
        buf.extend_from_slice(&chunk);
        while let Some(end) = find_event_end(&buf) {
            let block: Vec<u8> = buf.drain(..end).collect();
            let now = Instant::now();
            let text = String::from_utf8_lossy(&block);
            let mut name = "";
            let mut data = String::new();
            for line in text.lines() {
                if let Some(v) = line.strip_prefix("event:") {
                    name = v.trim();
                } else if let Some(v) = line.strip_prefix("data:") {
                    if !data.is_empty() {
                        data.push('\n');
                    }
                    data.push_str(v.strip_prefix(' ').unwrap_or(v));
                }
            }
            if name != "offers" {
                continue;
            }
            if let Ok(serde_json::Value::Array(offers)) = serde_json::from_str::<serde_json::Value>(&data) {
                let mut map = seen.lock().unwrap();
                for o in offers {
                    if let Some(id) =
                        o.get("request_id").and_then(|v| v.as_str()).and_then(|s| Uuid::parse_str(s).ok())
                    {
                        map.entry(id).or_insert(now);
                    }
                }
                drop(map);
                tick.send_modify(|n| *n += 1);
            }
        }
    }
}

/// The end (exclusive, including the blank line) of the first complete SSE event in `buf`.
fn find_event_end(buf: &[u8]) -> Option<usize> {
    let lf = buf.windows(2).position(|w| w == b"\n\n").map(|p| p + 2);
    let crlf = buf.windows(4).position(|w| w == b"\r\n\r\n").map(|p| p + 4);
    match (lf, crlf) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// Webhook to offer, `rounds` times one after the other (after `warmup` uncounted rounds).
#[allow(clippy::too_many_arguments)]
pub async fn pipeline(
    client: &reqwest::Client,
    base: &str,
    db: &PgPool,
    mechanic_cookie: &str,
    customer: (Uuid, String),
    rounds: usize,
    warmup: usize,
    on_round: &mut dyn FnMut(),
) -> Result<Pipeline, Error> {
    let res = client.get(format!("{base}/api/live/offers")).header("Cookie", mechanic_cookie).send().await?;
    if !res.status().is_success() {
        return Err(format!("the offers stream answered {}", res.status()).into());
    }
    let seen: Seen = Arc::new(Mutex::new(HashMap::new()));
    let (tick, mut ticks) = tokio::sync::watch::channel(0u64);
    let reader = tokio::spawn(read_offers(res, seen.clone(), tick));
    // The stream's first event (the offers now) before the clock starts.
    let _ = tokio::time::timeout(Duration::from_secs(5), ticks.changed()).await;

    let secret = autodoctor::payments::sandbox::install_webhook_secret(db).await?;
    let mut to_offer = Vec::new();
    let mut webhook = Vec::new();
    let mut timeouts = 0;
    for round in 0..warmup + rounds {
        let order = new_order(db, customer.0).await?;
        let (payload, signature) = paid_event(&secret, order, customer.0, &customer.1);
        ticks.borrow_and_update();
        let started = Instant::now();
        let request = deliver(client, base, db, order, payload, &signature).await?;
        let answered = started.elapsed();
        let deadline = started + Duration::from_secs(5);
        let arrived = loop {
            if let Some(at) = seen.lock().unwrap().get(&request).copied() {
                break Some(at);
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() || tokio::time::timeout(left, ticks.changed()).await.is_err() {
                break None;
            }
        };
        if round >= warmup {
            webhook.push(answered);
            match arrived {
                Some(at) => to_offer.push(at.saturating_duration_since(started)),
                None => timeouts += 1,
            }
            on_round();
        }
        // Taken off the market again, so the stream keeps offering one request at a time.
        sqlx::query("UPDATE session_requests SET status = 'cancelled', closed_at = now() WHERE id = $1")
            .bind(request)
            .execute(db)
            .await?;
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    reader.abort();
    Ok(Pipeline {
        rounds,
        timeouts,
        over_50ms: to_offer.iter().filter(|d| d.as_millis() >= 50).count(),
        webhook_to_offer: latency(&to_offer),
        webhook_response: latency(&webhook),
    })
}
