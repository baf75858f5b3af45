//! Mail to a mechanic who is online but has no dashboard open, about requests
//! offered to them: at most one mail per `OFFER_MAIL_INTERVAL_SECS`, each
//! request in at most one mail per mechanic, however many instances run the
//! worker.
//!
//! A tick looks at every online mechanic. Requests offered to one whose offers
//! stream is open (on any instance, `super::presence`) are recorded as told
//! live, and never mailed. For the others, the requests not yet told are
//! mailed in one message. Two rows decide this in SQL, in the transaction that
//! queues the mail: the mechanic's `offer_mail_state` row (a conditional upsert:
//! one instance wins the next mail) and one `offers_told` row per request
//! (primary key: told once).

use super::store::{offers_for, RoutingSettings};
use super::OfferView;
use crate::error::AppError;
use crate::notifications::send::{to_user, Content};
use crate::notifications::Kind;
use chrono::{DateTime, Utc};
use sqlx::PgPool;
use std::time::Duration;
use uuid::Uuid;

/// How often the worker looks.
const TICK: Duration = Duration::from_secs(15);

/// The most requests one mail lists (the dashboard has them all).
const LISTED: usize = 5;

/// One tick at `now`; returns how many mails were queued.
pub async fn offer_mail_tick(
    pool: &PgPool,
    now: DateTime<Utc>,
    settings: &RoutingSettings,
    interval: chrono::Duration,
) -> Result<usize, AppError> {
    let anything_pending = sqlx::query_scalar!(
        r#"SELECT EXISTS (SELECT 1 FROM session_requests WHERE status = 'pending') AS "e!""#
    )
    .fetch_one(pool)
    .await?;
    if !anything_pending {
        return Ok(0);
    }
    let mechanics = sqlx::query!(
        r#"SELECT m.user_id, u.optional_mail,
                  EXISTS (SELECT 1 FROM offer_stream_presence p
                           WHERE p.mechanic_id = m.user_id AND p.seen_at > $1) AS "watching!",
                  EXISTS (SELECT 1 FROM offer_mail_state s
                           WHERE s.mechanic_id = m.user_id AND s.last_sent_at > $2) AS "mailed_lately!"
             FROM mechanics m JOIN users u ON u.id = m.user_id
            WHERE m.is_online AND u.disabled_at IS NULL
            ORDER BY m.user_id"#,
        (now - super::presence::FRESH_FOR) as _,
        (now - interval) as _,
    )
    .fetch_all(pool)
    .await?;
    let mut queued = 0;
    for m in mechanics {
        if !m.watching && (!m.optional_mail || m.mailed_lately) {
            continue;
        }
        let offers = untold(
            pool,
            crate::ids::UserId(m.user_id),
            offers_for(pool, crate::ids::UserId(m.user_id), now, &settings.policy).await?,
        )
        .await?;
        if offers.is_empty() {
            continue;
        }
        if m.watching {
            told(pool, crate::ids::UserId(m.user_id), &offers, now, "live").await?;
        } else if mail(pool, crate::ids::UserId(m.user_id), &offers, now, settings, interval).await? {
            queued += 1;
        }
    }
    Ok(queued)
}

/// `offers` without those told to `mechanic` before.
async fn untold(
    pool: &PgPool,
    mechanic: crate::ids::UserId,
    offers: Vec<OfferView>,
) -> Result<Vec<OfferView>, sqlx::Error> {
    let mechanic = mechanic.uuid();
    if offers.is_empty() {
        return Ok(offers);
    }
    let ids: Vec<Uuid> = offers.iter().map(|o| o.request_id).collect();
    let told = sqlx::query_scalar!(
        "SELECT request_id FROM offers_told WHERE mechanic_id = $1 AND request_id = ANY($2)",
        mechanic,
        &ids
    )
    .fetch_all(pool)
    .await?;
    Ok(offers.into_iter().filter(|o| !told.contains(&o.request_id)).collect())
}

/// Records `offers` as told to `mechanic` (`how`: live or mail) unless they
/// were before; returns the ids recorded now.
async fn told<'e>(
    db: impl sqlx::PgExecutor<'e>,
    mechanic: crate::ids::UserId,
    offers: &[OfferView],
    now: DateTime<Utc>,
    how: &str,
) -> Result<Vec<Uuid>, sqlx::Error> {
    let mechanic = mechanic.uuid();
    let ids: Vec<Uuid> = offers.iter().map(|o| o.request_id).collect();
    sqlx::query_scalar!(
        "INSERT INTO offers_told (mechanic_id, request_id, told_at, how)
         SELECT $1, r, $2, $4 FROM unnest($3::uuid[]) AS r
         ON CONFLICT (mechanic_id, request_id) DO NOTHING
         RETURNING request_id",
        mechanic,
        now as _,
        &ids,
        how,
    )
    .fetch_all(db)
    .await
}

/// Mails `mechanic` the offers not told yet, if this instance wins the next
/// mail; returns whether it queued one.
async fn mail(
    pool: &PgPool,
    mechanic: crate::ids::UserId,
    offers: &[OfferView],
    now: DateTime<Utc>,
    settings: &RoutingSettings,
    interval: chrono::Duration,
) -> Result<bool, AppError> {
    let mechanic = mechanic.uuid();
    let mut tx = pool.begin().await?;
    let won = sqlx::query_scalar!(
        "INSERT INTO offer_mail_state (mechanic_id, last_sent_at) VALUES ($1, $2)
         ON CONFLICT (mechanic_id) DO UPDATE SET last_sent_at = EXCLUDED.last_sent_at
          WHERE offer_mail_state.last_sent_at <= $3
         RETURNING mechanic_id",
        mechanic,
        now as _,
        (now - interval) as _,
    )
    .fetch_optional(&mut *tx)
    .await?;
    if won.is_none() {
        return Ok(false);
    }
    let new = told(&mut *tx, crate::ids::UserId(mechanic), offers, now, "mail").await?;
    let new: Vec<&OfferView> = offers.iter().filter(|o| new.contains(&o.request_id)).collect();
    let Some(first) = new.first() else {
        // Nothing new: the mail is not spent (the transaction is rolled back).
        return Ok(false);
    };
    let (subject, text) = content(&new, &settings.public_url, interval);
    let content = Content { subject: &subject, text: &text, greet: true };
    let queued = to_user(
        &mut tx,
        &settings.public_url,
        Kind::NewOffers,
        &first.request_id.to_string(),
        crate::ids::UserId(mechanic),
        &content,
    )
    .await?;
    tx.commit().await?;
    Ok(queued)
}

/// The mail's subject and text.
fn content(new: &[&OfferView], public_url: &str, interval: chrono::Duration) -> (String, String) {
    let subject = match new.len() {
        1 => "A customer is waiting for a mechanic".to_string(),
        n => format!("{n} customers are waiting for a mechanic"),
    };
    let mut lines = String::new();
    for o in new.iter().take(LISTED) {
        let problem: String = o.problem.chars().take(140).collect();
        let more = if o.problem.chars().count() > 140 { "…" } else { "" };
        lines.push_str(&format!("- {} ({} min), {}: {problem}{more}\n", o.plan_name, o.minutes, o.vehicle));
        if o.is_preferred() {
            lines.push_str("  The customer chose your workshop.\n");
        }
    }
    if new.len() > LISTED {
        lines.push_str(&format!("- and {} more\n", new.len() - LISTED));
    }
    let minutes = (interval.num_seconds() + 59) / 60;
    let text = format!(
        "You are online, and {} offered to you:\n\n{lines}\n\
         The first mechanic to accept takes it. Open your dashboard:\n{}/mechanic\n\n\
         You get this because you are online with no dashboard open (at most one such email every {minutes} min). \
         Going offline on your dashboard stops them.",
        if new.len() == 1 { "this request is" } else { "these requests are" },
        public_url.trim_end_matches('/'),
    );
    (subject, text)
}

/// The background worker: a tick every [`TICK`] until the process stops.
pub async fn run_offer_mail_worker(
    pool: PgPool,
    settings: RoutingSettings,
    interval: chrono::Duration,
    shutdown: crate::workers::Shutdown,
) {
    crate::workers::every("offer-mail", shutdown, TICK, None, || async {
        let queued = offer_mail_tick(&pool, Utc::now(), &settings, interval).await?;
        if queued > 0 {
            tracing::info!(queued, "mailed mechanics about new offers");
        }
        Ok::<usize, AppError>(queued)
    })
    .await
}
