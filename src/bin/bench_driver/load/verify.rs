//! Checking the data set with the app's own consistency suite, and counting what
//! it holds (the census in the report).

use crate::progress::Bar;
use sqlx::PgPool;

/// What the data set holds, as checked by `verify`.
#[derive(Clone, Debug, Default, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct Census {
    pub workshops_active: i64,
    pub mechanics: i64,
    pub mechanics_online: i64,
    pub independents: i64,
    pub customers: i64,
    pub sessions_completed: i64,
    pub sessions_rated: i64,
    pub big_workshop_sessions: i64,
    pub journal_entries: i64,
    pub postings: i64,
}

/// Runs the app's own consistency suite (`autodoctor::consistency::check`: every
/// journal entry balances, cached balances equal their postings, every paid order
/// has one request and its payment in the ledger once, every completed session its
/// split, statistics and counters equal what they count) plus a check that no entry
/// has fewer than two postings; returns what the set holds.
pub async fn verify(pool: &PgPool) -> Result<Census, crate::measure::Error> {
    let mut bar = Bar::new("verify", 3, "checks");
    bar.set_message("the app's consistency suite");
    let problems = autodoctor::consistency::check(pool).await?;
    if !problems.is_empty() {
        return Err(format!("the data set is inconsistent: {}", problems.join("; ")).into());
    }
    bar.inc(1);
    bar.set_message("postings per entry");
    let short: Option<i64> =
        sqlx::query_scalar("SELECT entry_id FROM postings GROUP BY entry_id HAVING count(*) < 2 LIMIT 1")
            .fetch_optional(pool)
            .await?;
    if let Some(e) = short {
        return Err(format!("journal entry {e} has fewer than two postings").into());
    }
    bar.inc(1);
    bar.set_message("census");
    let c: (i64, i64, i64, i64, i64, i64, i64, i64, i64, i64) = sqlx::query_as(
        "SELECT (SELECT count(*) FROM organizations WHERE status = 'active'),
                (SELECT count(*) FROM mechanics),
                (SELECT count(*) FROM mechanics WHERE is_online),
                (SELECT count(*) FROM mechanics WHERE account_type = 'independent'),
                (SELECT count(*) FROM users WHERE role = 'customer'),
                (SELECT count(*) FROM sessions WHERE status = 'completed'),
                (SELECT count(*) FROM sessions WHERE rating IS NOT NULL),
                (SELECT s.sessions_completed FROM workshop_stats s JOIN bench.workshop w ON w.id = s.workshop_id
                  WHERE w.n = 0),
                (SELECT count(*) FROM journal_entries),
                (SELECT count(*) FROM postings)",
    )
    .fetch_one(pool)
    .await?;
    bar.inc(1);
    bar.finish("data set consistent: the app's consistency suite finds nothing");
    Ok(Census {
        workshops_active: c.0,
        mechanics: c.1,
        mechanics_online: c.2,
        independents: c.3,
        customers: c.4,
        sessions_completed: c.5,
        sessions_rated: c.6,
        big_workshop_sessions: c.7,
        journal_entries: c.8,
        postings: c.9,
    })
}
