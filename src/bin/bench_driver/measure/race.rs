//! The accept race: many mechanics accept the same request at the same instant;
//! exactly one must win.

use super::orders::{deliver, new_order, paid_event};
use super::percentiles::{latency, Latency};
use super::Error;
use serde::Serialize;
use sqlx::PgPool;
use std::sync::Arc;
use std::time::{Duration, Instant};
use uuid::Uuid;

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
