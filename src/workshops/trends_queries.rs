//! The queries behind the analytics over time (compile-checked): one query for
//! the 12 weeks, one for the mechanics. Each figure reads the rows of its own
//! window through the workshop's indexes (sessions, requests, its payable's
//! postings), never the whole history.

use super::trends::{window, MechanicFigures, WeekFigures, WorkshopTrends};
use crate::error::AppError;
use chrono::{DateTime, Utc};
use sqlx::PgPool;

pub async fn weeks(
    pool: &PgPool,
    workshop: crate::ids::WorkshopId,
    first: DateTime<Utc>,
) -> Result<Vec<WeekFigures>, sqlx::Error> {
    let workshop = workshop.uuid();
    let rows = sqlx::query!(
        r#"WITH payable AS (
               SELECT a.id FROM ledger_accounts a
                WHERE a.kind = 'workshop_payable' AND a.organization_id = $1 AND a.mechanic_id IS NULL)
           SELECT w.week_start AS "week_start!: DateTime<Utc>",
                  (SELECT count(*) FROM sessions x
                    WHERE x.workshop_id = $1 AND x.created_at >= w.week_start
                      AND x.created_at < w.week_start + interval '7 days') AS "sessions!",
                  (SELECT round(percentile_cont(0.5) WITHIN GROUP (
                              ORDER BY extract(epoch FROM r.accepted_at - r.created_at)::float8))::int8
                     FROM session_requests r
                    WHERE r.workshop_id = $1 AND r.accepted_at >= w.week_start
                      AND r.accepted_at < w.week_start + interval '7 days') AS median_accept,
                  (SELECT count(*) FROM session_requests r
                    WHERE r.preferred_workshop_id = $1 AND r.created_at >= w.week_start
                      AND r.created_at < w.week_start + interval '7 days') AS "preferred!",
                  (SELECT count(*) FROM session_requests r
                    WHERE r.preferred_workshop_id = $1 AND r.workshop_id = $1 AND r.created_at >= w.week_start
                      AND r.created_at < w.week_start + interval '7 days') AS "preferred_self!",
                  (SELECT avg(x.rating)::float8 FROM sessions x
                    WHERE x.workshop_id = $1 AND x.rated_at >= w.week_start
                      AND x.rated_at < w.week_start + interval '7 days') AS avg_rating,
                  (SELECT count(*) FROM sessions x
                    WHERE x.workshop_id = $1 AND x.rated_at >= w.week_start
                      AND x.rated_at < w.week_start + interval '7 days') AS "rating_count!",
                  (SELECT coalesce(sum(-p.amount_cents), 0)::int8
                     FROM postings p JOIN journal_entries e ON e.id = p.entry_id
                    WHERE p.account_id = (SELECT id FROM payable) AND p.share_kind IS NOT NULL
                      AND e.kind IN ('session_revenue', 'refund')
                      AND p.created_at >= w.week_start AND p.created_at < w.week_start + interval '7 days') AS "earnings!"
             FROM generate_series($2::timestamptz, $2::timestamptz + interval '77 days', interval '7 days') AS w(week_start)
            ORDER BY 1"#,
        workshop,
        first as _
    )
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| WeekFigures {
            week_start: r.week_start.date_naive(),
            sessions: r.sessions,
            median_accept_seconds: r.median_accept,
            requests_preferred: r.preferred,
            preferred_served_by_self: r.preferred_self,
            avg_rating: r.avg_rating,
            rating_count: r.rating_count,
            earnings_cents: r.earnings,
        })
        .collect())
}

pub async fn mechanics(
    pool: &PgPool,
    workshop: crate::ids::WorkshopId,
    first: DateTime<Utc>,
) -> Result<Vec<MechanicFigures>, sqlx::Error> {
    let workshop = workshop.uuid();
    let rows = sqlx::query!(
        r#"WITH payable AS (
               SELECT a.id FROM ledger_accounts a
                WHERE a.kind = 'workshop_payable' AND a.organization_id = $1 AND a.mechanic_id IS NULL)
           SELECT m.user_id AS mechanic_id, u.name,
                  (SELECT count(*) FROM sessions x
                    WHERE x.workshop_id = $1 AND x.mechanic_id = m.user_id AND x.created_at >= $2) AS "sessions!",
                  (SELECT round(percentile_cont(0.5) WITHIN GROUP (
                              ORDER BY extract(epoch FROM r.accepted_at - r.created_at)::float8))::int8
                     FROM session_requests r
                    WHERE r.workshop_id = $1 AND r.mechanic_id = m.user_id AND r.accepted_at >= $2) AS median_accept,
                  (SELECT avg(x.rating)::float8 FROM sessions x
                    WHERE x.workshop_id = $1 AND x.mechanic_id = m.user_id AND x.rated_at >= $2) AS avg_rating,
                  (SELECT count(*) FROM sessions x
                    WHERE x.workshop_id = $1 AND x.mechanic_id = m.user_id AND x.rated_at >= $2) AS "rating_count!",
                  (SELECT coalesce(sum(-p.amount_cents), 0)::int8
                     FROM postings p JOIN journal_entries e ON e.id = p.entry_id JOIN sessions x ON x.id = p.session_id
                    WHERE p.account_id = (SELECT id FROM payable) AND x.mechanic_id = m.user_id
                      AND p.share_kind IS NOT NULL AND e.kind IN ('session_revenue', 'refund')
                      AND p.created_at >= $2) AS "earnings!"
             FROM mechanics m JOIN users u ON u.id = m.user_id
            WHERE m.workshop_id = $1
            ORDER BY u.name, m.user_id
            LIMIT 500"#,
        workshop,
        first as _
    )
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| MechanicFigures {
            mechanic_id: r.mechanic_id,
            name: r.name,
            sessions: r.sessions,
            median_accept_seconds: r.median_accept,
            avg_rating: r.avg_rating,
            rating_count: r.rating_count,
            earnings_cents: r.earnings,
        })
        .collect())
}

/// The 12 weeks ending with the week of `now`, and the mechanics over them.
pub async fn load(
    pool: &PgPool,
    workshop: crate::ids::WorkshopId,
    workshop_name: &str,
    now: DateTime<Utc>,
) -> Result<WorkshopTrends, AppError> {
    let (first, _) = window(now);
    Ok(WorkshopTrends {
        workshop_name: workshop_name.to_string(),
        currency: "usd".into(),
        weeks: weeks(pool, workshop, first).await?,
        mechanics: mechanics(pool, workshop, first).await?,
    })
}
