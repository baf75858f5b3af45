//! The directory query. Its cost depends on the number of workshops, not on the
//! number of past sessions: every figure is read from `workshop_stats`.

use super::{AnyAvailable, DirectoryParams, DirectoryWorkshop};
use sqlx::PgExecutor;

/// Escapes LIKE wildcards so a search for "50%" finds "50%", not everything.
pub fn like_pattern(q: &str) -> String {
    let escaped = q.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_");
    format!("%{escaped}%")
}

#[derive(sqlx::FromRow)]
struct Row {
    #[sqlx(flatten)]
    workshop: DirectoryWorkshop,
    total: i64,
}

pub async fn page(
    db: impl PgExecutor<'_>,
    p: &DirectoryParams,
) -> Result<(Vec<DirectoryWorkshop>, i64), sqlx::Error> {
    let rows = sqlx::query_as::<_, Row>(
        "SELECT o.id AS workshop_id, o.name AS workshop_name, o.contact_email AS workshop_email,
                o.status::text AS workshop_status, o.city, o.specialties,
                s.mechanics_total AS total_mechanics, s.mechanics_online AS available_mechanics,
                s.rating_avg::float8 AS avg_rating, s.rating_count, s.sessions_completed AS total_sessions,
                s.median_accept_secs_30d AS median_accept_seconds, o.created_at,
                count(*) OVER () AS total
           FROM workshop_stats s
           JOIN organizations o ON o.id = s.workshop_id
          WHERE o.status = 'active' AND s.mechanics_total > 0
            AND ($1 = '' OR o.name ILIKE $2 OR o.city ILIKE $2
                 OR EXISTS (SELECT 1 FROM unnest(o.specialties) sp WHERE sp ILIKE $2))
          ORDER BY s.mechanics_online DESC, s.rating_avg DESC NULLS LAST, s.sessions_completed DESC, o.name, o.id
          LIMIT $3 OFFSET $4",
    )
    .bind(&p.query)
    .bind(like_pattern(&p.query))
    .bind(p.limit)
    .bind(p.offset)
    .fetch_all(db)
    .await?;
    let total = rows.first().map(|r| r.total).unwrap_or(0);
    Ok((rows.into_iter().map(|r| r.workshop).collect(), total))
}

/// The total for a page past the end (where the window count has no row to ride on).
pub async fn count(db: impl PgExecutor<'_>, p: &DirectoryParams) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT count(*) FROM workshop_stats s JOIN organizations o ON o.id = s.workshop_id
          WHERE o.status = 'active' AND s.mechanics_total > 0
            AND ($1 = '' OR o.name ILIKE $2 OR o.city ILIKE $2
                 OR EXISTS (SELECT 1 FROM unnest(o.specialties) sp WHERE sp ILIKE $2))",
    )
    .bind(&p.query)
    .bind(like_pattern(&p.query))
    .fetch_one(db)
    .await
}

/// Approved mechanics online now, of active workshops or independent.
pub async fn any_available(db: impl PgExecutor<'_>) -> Result<AnyAvailable, sqlx::Error> {
    let n: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM mechanics m LEFT JOIN organizations o ON o.id = m.workshop_id
          WHERE m.is_online AND m.application_status = 'approved'
            AND (m.workshop_id IS NULL OR o.status = 'active')",
    )
    .fetch_one(db)
    .await?;
    Ok(AnyAvailable { available_mechanics: n })
}

#[cfg(test)]
mod tests {
    use super::like_pattern;

    #[test]
    fn wildcards_are_escaped() {
        assert_eq!(like_pattern("50%_off\\"), "%50\\%\\_off\\\\%");
    }
}
