//! After a bulk insert: recomputes in bulk what the triggers and the app's
//! transactions would have kept, then vacuums, checkpoints and analyzes.

use super::exec;
use crate::progress::Bar;
use sqlx::{Connection, PgConnection};
use std::time::Instant;

/// Recomputes, in bulk, what the triggers and the app's transactions maintain:
/// balances, daily totals, workshop and mechanic statistics, the accept-time
/// histogram and the medians. Then vacuums and analyzes.
pub async fn recompute(conn: &mut PgConnection) -> Result<(), crate::measure::Error> {
    let started = Instant::now();
    let steps: [(&str, &str); 11] = [
        (
            "balances",
            "UPDATE ledger_accounts a SET balance_cents = coalesce(s.total, 0)
               FROM ledger_accounts a2
               LEFT JOIN (SELECT account_id, sum(amount_cents)::bigint AS total FROM postings GROUP BY account_id) s
                 ON s.account_id = a2.id
              WHERE a.id = a2.id AND a.balance_cents IS DISTINCT FROM coalesce(s.total, 0)",
        ),
        (
            "paid totals",
            "TRUNCATE ledger_account_paid;
             INSERT INTO ledger_account_paid (account_id, paid_cents)
             SELECT p.account_id, sum(p.amount_cents)::bigint
               FROM postings p JOIN journal_entries e ON e.id = p.entry_id
              WHERE e.kind IN ('payout', 'transfer_reversal') GROUP BY p.account_id",
        ),
        (
            "daily totals",
            "TRUNCATE ledger_daily;
             INSERT INTO ledger_daily (account_id, day, debits_cents, credits_cents)
             SELECT account_id, (created_at AT TIME ZONE 'UTC')::date,
                    sum(greatest(amount_cents, 0))::bigint, sum(greatest(-amount_cents, 0))::bigint
               FROM postings GROUP BY 1, 2",
        ),
        (
            "mechanic counts",
            "UPDATE workshop_stats s SET mechanics_total = c.total, mechanics_online = c.online, updated_at = now()
               FROM (SELECT o.id,
                            count(m.user_id) FILTER (WHERE m.application_status = 'approved') AS total,
                            count(m.user_id) FILTER (WHERE m.application_status = 'approved' AND m.is_online) AS online
                       FROM organizations o LEFT JOIN mechanics m ON m.workshop_id = o.id GROUP BY o.id) c
              WHERE s.workshop_id = c.id",
        ),
        (
            "workshop statistics",
            "UPDATE workshop_stats s SET sessions_completed = coalesce(c.done, 0), rating_sum = coalesce(c.rs, 0),
                    rating_count = coalesce(c.rc, 0), requests_served = coalesce(c.served, 0),
                    preferred_served_by_self = coalesce(c.pref_self, 0),
                    requests_preferred = coalesce(p.preferred, 0), updated_at = now()
               FROM organizations o
               LEFT JOIN (SELECT workshop_id, count(*) FILTER (WHERE status = 'completed') AS done,
                                 sum(rating)::bigint AS rs, count(rating) AS rc, count(*) AS served,
                                 count(*) FILTER (WHERE preferred_workshop_id = workshop_id) AS pref_self
                            FROM sessions WHERE workshop_id IS NOT NULL GROUP BY workshop_id) c ON c.workshop_id = o.id
               LEFT JOIN (SELECT preferred_workshop_id, count(*) AS preferred FROM session_requests
                           WHERE preferred_workshop_id IS NOT NULL GROUP BY preferred_workshop_id) p
                      ON p.preferred_workshop_id = o.id
              WHERE s.workshop_id = o.id",
        ),
        (
            "mechanic statistics",
            "UPDATE mechanics m SET sessions_completed = c.done, rating_sum = c.rs, rating_count = c.rc
               FROM (SELECT mechanic_id, count(*) FILTER (WHERE status = 'completed') AS done,
                            coalesce(sum(rating), 0)::bigint AS rs, count(rating) AS rc
                       FROM sessions GROUP BY mechanic_id) c
              WHERE m.user_id = c.mechanic_id
                AND (m.sessions_completed, m.rating_sum, m.rating_count) IS DISTINCT FROM (c.done, c.rs, c.rc)",
        ),
        (
            "accept histogram",
            "TRUNCATE workshop_accept_histogram;
             INSERT INTO workshop_accept_histogram (workshop_id, day, bucket_secs, count)
             SELECT workshop_id, (accepted_at AT TIME ZONE 'UTC')::date,
                    CASE WHEN w < 60 THEN w WHEN w < 600 THEN w - w % 10 WHEN w < 3600 THEN w - w % 60 ELSE 3600 END,
                    count(*)
               FROM (SELECT workshop_id, accepted_at,
                            greatest(floor(extract(epoch FROM accepted_at - created_at)), 0)::int AS w
                       FROM session_requests WHERE status = 'accepted' AND workshop_id IS NOT NULL) r
              GROUP BY 1, 2, 3",
        ),
        (
            "median accept times",
            "SELECT refresh_workshop_median_accept(id, (now() AT TIME ZONE 'UTC')::date) FROM organizations",
        ),
        ("vacuum", "VACUUM"),
        // Writes out what the bulk load left in shared buffers now, so the measurements
        // do not run beside (and commit behind) the load's checkpoint.
        ("checkpoint", "CHECKPOINT"),
        ("analyze", "ANALYZE"),
    ];
    let mut bar = Bar::new("recompute", steps.len() as u64, "steps");
    for (name, sql) in steps {
        bar.set_message(name);
        if matches!(name, "vacuum" | "checkpoint" | "analyze") {
            exec(conn, sql).await?;
        } else {
            let mut tx = conn.begin().await?;
            exec(&mut tx, "SET LOCAL session_replication_role = replica").await?;
            exec(&mut tx, sql).await?;
            tx.commit().await?;
        }
        bar.inc(1);
    }
    bar.finish(&format!("derived tables recomputed in {:.1} s", started.elapsed().as_secs_f64()));
    Ok(())
}
