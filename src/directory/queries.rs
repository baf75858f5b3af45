//! The directory query. Its cost depends on the number of workshops, not on the
//! number of past sessions: every figure is read from `workshop_stats`.

use super::{AnyAvailable, DirectoryParams, DirectoryWorkshop, Sort};
use sqlx::{PgExecutor, Postgres, QueryBuilder};

/// Escapes LIKE wildcards so a search for "50%" finds "50%", not everything.
pub fn like_pattern(q: &str) -> String {
    let escaped = q.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_");
    format!("%{escaped}%")
}

/// The columns of a card; `FROM workshop_stats s JOIN organizations o` follows.
const CARD_SELECT: &str =
    "SELECT o.id AS workshop_id, o.name AS workshop_name, o.contact_email AS workshop_email,
        o.status AS workshop_status, o.city, o.specialties,
        s.mechanics_total AS total_mechanics, s.mechanics_online AS available_mechanics,
        s.rating_avg::float8 AS avg_rating, s.rating_count, s.sessions_completed AS total_sessions,
        s.median_accept_secs_30d AS median_accept_seconds, o.created_at,
        (SELECT l.version FROM workshop_logos l WHERE l.workshop_id = o.id) AS logo_version
   FROM workshop_stats s
   JOIN organizations o ON o.id = s.workshop_id";

/// The listed workshops: active, with mechanics, matching the search and the
/// "online now" filter. Every value is a bound parameter.
fn push_filter(qb: &mut QueryBuilder<'_, Postgres>, p: &DirectoryParams) {
    qb.push(" WHERE o.status = 'active' AND s.mechanics_total > 0");
    if !p.query.is_empty() {
        let pattern = like_pattern(&p.query);
        qb.push(" AND (o.name ILIKE ")
            .push_bind(pattern.clone())
            .push(" OR o.city ILIKE ")
            .push_bind(pattern.clone())
            .push(" OR EXISTS (SELECT 1 FROM unnest(o.specialties) sp WHERE sp ILIKE ")
            .push_bind(pattern)
            .push("))");
    }
    if p.online {
        qb.push(" AND s.mechanics_online > 0");
    }
}

/// The order of each sort (fixed text: nothing from the request), ending in
/// the id so that pages never overlap.
pub fn order_by(sort: Sort) -> &'static str {
    match sort {
        Sort::Online => {
            " ORDER BY s.mechanics_online DESC, s.rating_avg DESC NULLS LAST, s.sessions_completed DESC, o.name, o.id"
        }
        Sort::Rating => {
            " ORDER BY s.rating_avg DESC NULLS LAST, s.rating_count DESC, s.mechanics_online DESC, o.name, o.id"
        }
        Sort::Accept => {
            " ORDER BY s.median_accept_secs_30d ASC NULLS LAST, s.mechanics_online DESC, s.rating_avg DESC NULLS LAST, o.name, o.id"
        }
    }
}

/// The cards of one page, in the chosen order. The default order's leading keys
/// come from `workshop_stats_directory_idx`, so a page reads its `offset + limit`
/// workshops and stops (no window count over every workshop); the total, when
/// the page does not reveal it, is `count`'s.
pub async fn page(
    db: impl PgExecutor<'_>,
    p: &DirectoryParams,
) -> Result<Vec<DirectoryWorkshop>, sqlx::Error> {
    let mut qb = QueryBuilder::<Postgres>::new(CARD_SELECT);
    push_filter(&mut qb, p);
    qb.push(order_by(p.sort));
    qb.push(" LIMIT ").push_bind(p.limit).push(" OFFSET ").push_bind(p.offset);
    qb.build_query_as::<DirectoryWorkshop>().fetch_all(db).await
}

/// The total a page shows without counting: on a short last page it is the
/// offset plus the page; on a first page with nothing, nothing. Otherwise `None`
/// (a full page, or a page past the end): ask `count`.
pub fn total_from_page(p: &DirectoryParams, rows: usize) -> Option<i64> {
    let rows = rows as i64;
    if rows > 0 && rows < p.limit {
        Some(p.offset + rows)
    } else if rows == 0 && p.offset == 0 {
        Some(0)
    } else {
        None
    }
}

/// How many workshops the directory lists for the search and filter.
pub async fn count(db: impl PgExecutor<'_>, p: &DirectoryParams) -> Result<i64, sqlx::Error> {
    let mut qb = QueryBuilder::<Postgres>::new(
        "SELECT count(*) FROM workshop_stats s JOIN organizations o ON o.id = s.workshop_id",
    );
    push_filter(&mut qb, p);
    qb.build_query_scalar::<i64>().fetch_one(db).await
}

/// The online counts of some listed workshops (the directory's live stream):
/// counts only, of active workshops.
pub async fn online_counts(
    db: impl PgExecutor<'_>,
    ids: &[uuid::Uuid],
) -> Result<Vec<super::live::OnlineCount>, sqlx::Error> {
    sqlx::query_as!(
        super::live::OnlineCount,
        r#"SELECT s.workshop_id, s.mechanics_online AS available_mechanics, s.mechanics_total AS total_mechanics
             FROM workshop_stats s JOIN organizations o ON o.id = s.workshop_id
            WHERE s.workshop_id = ANY($1) AND o.status = 'active'
            ORDER BY s.workshop_id"#,
        ids
    )
    .fetch_all(db)
    .await
}

/// Approved mechanics online now, of active workshops or independent: the
/// workshops' share from their kept counters (`workshop_stats.mechanics_online`,
/// maintained by the `mechanics_workshop_stats` trigger), the independents' from
/// the partial index `mechanics_online_independent_idx`, so it never reads every
/// online mechanic's row.
pub async fn any_available(db: impl PgExecutor<'_>) -> Result<AnyAvailable, sqlx::Error> {
    let n = sqlx::query_scalar!(
        r#"SELECT (SELECT coalesce(sum(s.mechanics_online), 0)::bigint
                   FROM workshop_stats s JOIN organizations o ON o.id = s.workshop_id
                  WHERE o.status = 'active')
              + (SELECT count(*) FROM mechanics
                  WHERE workshop_id IS NULL AND is_online AND application_status = 'approved') AS "n!""#
    )
    .fetch_one(db)
    .await?;
    Ok(AnyAvailable { available_mechanics: n })
}

#[cfg(test)]
mod tests {
    use super::{like_pattern, total_from_page};
    use crate::directory::DirectoryParams;

    #[test]
    fn wildcards_are_escaped() {
        assert_eq!(like_pattern("50%_off\\"), "%50\\%\\_off\\\\%");
    }

    #[test]
    fn a_short_or_empty_first_page_tells_its_total() {
        let p = |offset| DirectoryParams {
            limit: 20,
            offset,
            query: String::new(),
            online: false,
            sort: Default::default(),
        };
        assert_eq!(total_from_page(&p(0), 0), Some(0));
        assert_eq!(total_from_page(&p(0), 7), Some(7));
        assert_eq!(total_from_page(&p(40), 7), Some(47));
        assert_eq!(total_from_page(&p(0), 20), None);
        assert_eq!(total_from_page(&p(60), 0), None);
    }
}
