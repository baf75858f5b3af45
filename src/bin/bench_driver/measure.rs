//! The measurements: throughput and latency with wrk, the booking pipeline from a
//! signed webhook to a mechanic's live stream, and the accept race.

use autodoctor::payments::sandbox::{checkout_event, SessionRow};
use autodoctor::payments::signing::signature_header;
use serde::Serialize;
use sqlx::PgPool;
use std::collections::HashMap;
use std::path::Path;
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use uuid::Uuid;

pub type Error = Box<dyn std::error::Error + Send + Sync>;

// ---------------------------------------------------------------- wrk

/// One wrk run: throughput and latency percentiles (from wrk's own histogram).
#[derive(Clone, Debug, Default, Serialize, serde::Deserialize)]
#[serde(default)]
pub struct Load {
    pub label: String,
    pub url: String,
    pub connections: u32,
    pub seconds: u32,
    pub requests: u64,
    pub rps: f64,
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
    /// Non-2xx/3xx answers plus socket errors: must be 0 for the figures to count.
    pub errors: u64,
}

/// What wrk sends: method, form body, and cookies used in turn (one per request).
#[derive(Clone, Debug, Default)]
pub struct WrkRequest {
    pub post: bool,
    pub cookies: Vec<String>,
    pub origin: Option<String>,
}

fn lua_string(s: &str) -> String {
    format!("{s:?}")
}

fn wrk_script(req: &WrkRequest) -> String {
    let cookies: Vec<String> = req.cookies.iter().map(|c| lua_string(c)).collect();
    format!(
        r#"local cookies = {{{cookies}}}
local method = {method}
local origin = {origin}
local counter = 0
request = function()
  counter = counter + 1
  local headers = {{}}
  if #cookies > 0 then headers["Cookie"] = cookies[(counter % #cookies) + 1] end
  if origin ~= "" then headers["Origin"] = origin end
  local body = nil
  if method == "POST" then
    headers["Content-Type"] = "application/x-www-form-urlencoded"
    body = ""
  end
  return wrk.format(method, nil, headers, body)
end
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("BENCH_RESULT %d %d %d %d %d %d %d %d %d\n",
    summary.requests, summary.duration, e.connect + e.read + e.write + e.timeout, e.status,
    latency:percentile(50.0), latency:percentile(90.0), latency:percentile(99.0), latency.max, 0))
end
"#,
        cookies = cookies.join(", "),
        method = lua_string(if req.post { "POST" } else { "GET" }),
        origin = lua_string(req.origin.as_deref().unwrap_or("")),
    )
}

/// Runs wrk for `seconds` with `connections` connections on one thread.
pub fn wrk(
    label: &str,
    url: &str,
    connections: u32,
    seconds: u32,
    req: &WrkRequest,
    work_dir: &Path,
) -> Result<Load, Error> {
    let script = work_dir.join("wrk.lua");
    std::fs::write(&script, wrk_script(req))?;
    let out = Command::new("wrk")
        .args(["-t1", &format!("-c{connections}"), &format!("-d{seconds}s"), "--timeout", "10s", "-s"])
        .arg(&script)
        .arg(url)
        .output()
        .map_err(|e| format!("cannot run wrk: {e}"))?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    let line = stdout.lines().find(|l| l.starts_with("BENCH_RESULT ")).ok_or_else(|| {
        format!("wrk printed no result for {url}:\n{stdout}\n{}", String::from_utf8_lossy(&out.stderr))
    })?;
    let v: Vec<f64> = line.split_whitespace().skip(1).filter_map(|x| x.parse().ok()).collect();
    if v.len() < 8 {
        return Err(format!("unreadable wrk result: {line}").into());
    }
    let secs = v[1] / 1e6;
    Ok(Load {
        label: label.into(),
        url: url.into(),
        connections,
        seconds,
        requests: v[0] as u64,
        rps: if secs > 0.0 { v[0] / secs } else { 0.0 },
        p50_ms: v[4] / 1000.0,
        p90_ms: v[5] / 1000.0,
        p99_ms: v[6] / 1000.0,
        max_ms: v[7] / 1000.0,
        errors: (v[2] + v[3]) as u64,
    })
}

// ---------------------------------------------------------------- percentiles

#[derive(Clone, Debug, Default, Serialize, serde::Deserialize)]
#[serde(default)]
pub struct Latency {
    pub count: usize,
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
    pub mean_ms: f64,
}

pub fn latency(samples: &[Duration]) -> Latency {
    if samples.is_empty() {
        return Latency::default();
    }
    let mut ms: Vec<f64> = samples.iter().map(|d| d.as_secs_f64() * 1000.0).collect();
    ms.sort_by(|a, b| a.partial_cmp(b).unwrap());
    // Nearest rank.
    let pick = |p: f64| ms[((p / 100.0 * ms.len() as f64).ceil() as usize).clamp(1, ms.len()) - 1];
    Latency {
        count: ms.len(),
        p50_ms: pick(50.0),
        p90_ms: pick(90.0),
        p99_ms: pick(99.0),
        max_ms: *ms.last().unwrap(),
        mean_ms: ms.iter().sum::<f64>() / ms.len() as f64,
    }
}

// ---------------------------------------------------------------- logging in

pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .pool_max_idle_per_host(256)
        .timeout(Duration::from_secs(30))
        .build()
        .expect("a reqwest client")
}

/// Logs in through the app's own form endpoint; returns the `Cookie` header value.
pub async fn log_in(
    client: &reqwest::Client,
    base: &str,
    email: &str,
    password: &str,
) -> Result<String, Error> {
    let res = client
        .post(format!("{base}/api/public/auth/log-in"))
        .header("Origin", base)
        .form(&[("email", email), ("password", password)])
        .send()
        .await?;
    let status = res.status();
    let cookie = res
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with("autodoctor_session="))
        .and_then(|v| v.split(';').next())
        .map(str::to_string);
    match cookie {
        Some(c) if status.is_success() || status.is_redirection() => Ok(c),
        _ => {
            Err(format!("log-in of {email} failed: {status} {}", res.text().await.unwrap_or_default()).into())
        }
    }
}

/// Logs in many accounts, a few at a time (argon2 is slow on purpose).
pub async fn log_in_all(
    client: &reqwest::Client,
    base: &str,
    emails: &[String],
    password: &str,
) -> Result<Vec<String>, Error> {
    let mut cookies = vec![String::new(); emails.len()];
    for (chunk_i, chunk) in emails.chunks(4).enumerate() {
        let futures = chunk.iter().map(|e| log_in(client, base, e, password));
        for (i, r) in futures::future::join_all(futures).await.into_iter().enumerate() {
            cookies[chunk_i * 4 + i] = r?;
        }
    }
    Ok(cookies)
}

// ---------------------------------------------------------------- paid orders

/// Creates an order awaiting payment (what the booking form does) for a broadcast request.
pub async fn new_order(db: &PgPool, customer: Uuid) -> Result<Uuid, Error> {
    Ok(sqlx::query_scalar(
        "INSERT INTO orders (customer_id, request_key, plan_code, plan_name, plan_minutes, amount_cents, currency,
                             vehicle_make, vehicle_model, vehicle_year, problem_description, routing_type,
                             platform_fee_bps, referral_fee_bps)
         VALUES ($1, gen_random_uuid(), 'video15', 'Video diagnosis', 15, 2900, 'usd', 'Toyota', 'Corolla', 2015,
                 'Grinding noise from the front left wheel when braking.', 'broadcast', 2000, 1000)
         RETURNING id",
    )
    .bind(customer)
    .fetch_one(db)
    .await?)
}

/// A signed `checkout.session.completed` for the order, as the gateway would send it.
pub fn paid_event(secret: &str, order: Uuid, customer: Uuid, email: &str) -> (String, String) {
    let now = chrono::Utc::now();
    let row = SessionRow {
        id: format!("cs_bench_live_{}", order.simple()),
        order_id: order,
        amount_cents: 2900,
        currency: "usd".into(),
        product_name: "Video diagnosis".into(),
        customer_email: email.into(),
        metadata: serde_json::json!({
            "order_id": order.to_string(),
            "plan": "video15",
            "user_id": customer.to_string(),
            "preferred_workshop_id": "",
            "routing_type": "broadcast",
        }),
        success_url: "http://127.0.0.1/orders".into(),
        cancel_url: "http://127.0.0.1/book".into(),
        status: "complete".into(),
        payment_intent: Some(format!("pi_bench_live_{}", order.simple())),
        created_at: now,
        expires_at: now + chrono::Duration::hours(1),
    };
    let (_, payload) = checkout_event("checkout.session.completed", &row);
    let signature = signature_header(secret, now.timestamp(), &payload);
    (payload, signature)
}

/// Posts the signed event; returns the request the webhook created.
pub async fn deliver(
    client: &reqwest::Client,
    base: &str,
    db: &PgPool,
    order: Uuid,
    payload: String,
    signature: &str,
) -> Result<Uuid, Error> {
    let res = client
        .post(format!("{base}/api/stripe/webhook"))
        .header("stripe-signature", signature)
        .header("content-type", "application/json")
        .body(payload)
        .send()
        .await?;
    let status = res.status();
    let body = res.text().await.unwrap_or_default();
    if !status.is_success() || !body.contains("fulfilled") {
        return Err(format!("webhook answered {status}: {body}").into());
    }
    Ok(sqlx::query_scalar("SELECT id FROM session_requests WHERE order_id = $1")
        .bind(order)
        .fetch_one(db)
        .await?)
}

// ---------------------------------------------------------------- webhook to offer

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

// ---------------------------------------------------------------- the accept race

#[derive(Clone, Debug, Default, Serialize, serde::Deserialize)]
#[serde(default)]
pub struct Race {
    pub rounds: usize,
    pub racers: usize,
    /// Rounds with exactly one winner (and exactly one session in the database).
    pub rounds_one_winner: usize,
    pub winners_total: usize,
    /// Answers other than 200 (won) or 409 (taken): must be 0.
    pub unexpected: usize,
    pub unexpected_examples: Vec<String>,
    /// Every accept's latency, from the moment all were released.
    pub all: Latency,
    pub winner: Latency,
    /// The time until the last of the 100 answers, per round.
    pub round_total: Latency,
}

pub async fn race(
    client: &reqwest::Client,
    base: &str,
    db: &PgPool,
    racers: &[(Uuid, String)],
    customer: (Uuid, String),
    rounds: usize,
    warmup: usize,
    on_round: &mut dyn FnMut(),
) -> Result<Race, Error> {
    let ids: Vec<Uuid> = racers.iter().map(|r| r.0).collect();
    sqlx::query("UPDATE mechanics SET active_sessions = 0 WHERE user_id = ANY($1)")
        .bind(&ids)
        .execute(db)
        .await?;
    let secret = autodoctor::payments::sandbox::install_webhook_secret(db).await?;
    let mut out = Race { rounds, racers: racers.len(), ..Default::default() };
    let (mut all, mut winners, mut totals) = (Vec::new(), Vec::new(), Vec::new());
    for round in 0..warmup + rounds {
        let order = new_order(db, customer.0).await?;
        let (payload, signature) = paid_event(&secret, order, customer.0, &customer.1);
        let request = deliver(client, base, db, order, payload, &signature).await?;
        tokio::time::sleep(Duration::from_millis(100)).await;

        let barrier = Arc::new(tokio::sync::Barrier::new(racers.len() + 1));
        let mut tasks = Vec::new();
        for (_, cookie) in racers {
            let (client, barrier, cookie) = (client.clone(), barrier.clone(), cookie.clone());
            let url = format!("{base}/api/mechanic/accept");
            let origin = base.to_string();
            tasks.push(tokio::spawn(async move {
                let req = client
                    .post(url)
                    .header("Cookie", cookie)
                    .header("Origin", origin)
                    .form(&[("request_id", request.to_string())]);
                barrier.wait().await;
                let started = Instant::now();
                let res = req.send().await;
                let elapsed = started.elapsed();
                match res {
                    Ok(r) => {
                        let status = r.status().as_u16();
                        let body = r.text().await.unwrap_or_default();
                        (status, elapsed, body)
                    }
                    Err(e) => (0, elapsed, e.to_string()),
                }
            }));
        }
        barrier.wait().await;
        let released = Instant::now();
        let mut results = Vec::new();
        for t in tasks {
            results.push(t.await?);
        }
        let round_time = released.elapsed();
        let sessions: i64 = sqlx::query_scalar("SELECT count(*) FROM sessions WHERE request_id = $1")
            .bind(request)
            .fetch_one(db)
            .await?;
        let winner: Option<Uuid> =
            sqlx::query_scalar("SELECT mechanic_id FROM session_requests WHERE id = $1")
                .bind(request)
                .fetch_one(db)
                .await?;
        if round >= warmup {
            let won = results.iter().filter(|r| r.0 == 200).count();
            out.winners_total += won;
            if won == 1 && sessions == 1 {
                out.rounds_one_winner += 1;
            }
            for (status, elapsed, body) in &results {
                all.push(*elapsed);
                match status {
                    200 => winners.push(*elapsed),
                    409 => {}
                    _ => {
                        out.unexpected += 1;
                        if out.unexpected_examples.len() < 5 {
                            out.unexpected_examples
                                .push(format!("{status}: {}", body.chars().take(200).collect::<String>()));
                        }
                    }
                }
            }
            totals.push(round_time);
            on_round();
        }
        // Free the winner again (their session is set aside) for the next round.
        if let Some(w) = winner {
            sqlx::query("UPDATE mechanics SET active_sessions = 0 WHERE user_id = $1")
                .bind(w)
                .execute(db)
                .await?;
            sqlx::query("UPDATE sessions SET status = 'cancelled' WHERE request_id = $1")
                .bind(request)
                .execute(db)
                .await?;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    out.all = latency(&all);
    out.winner = latency(&winners);
    out.round_total = latency(&totals);
    Ok(out)
}

/// GETs (or POSTs an empty form to) `url` and checks the answer before it is loaded with wrk.
pub async fn check(
    client: &reqwest::Client,
    url: &str,
    req: &WrkRequest,
    must_contain: &str,
) -> Result<usize, Error> {
    let mut r = if req.post {
        client.post(url).header("content-type", "application/x-www-form-urlencoded").body("")
    } else {
        client.get(url)
    };
    if let Some(c) = req.cookies.first() {
        r = r.header("Cookie", c);
    }
    if let Some(o) = &req.origin {
        r = r.header("Origin", o);
    }
    let res = r.send().await?;
    let status = res.status();
    let body = res.text().await?;
    if !status.is_success() || !body.contains(must_contain) {
        return Err(format!(
            "{url} answered {status} without {must_contain:?}: {}",
            body.chars().take(300).collect::<String>()
        )
        .into());
    }
    Ok(body.len())
}
