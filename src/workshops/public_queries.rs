//! The public workshop page's queries (compile-checked). Figures come from
//! `workshop_stats`; reviews page through `sessions_workshop_rated_idx`.

use super::public::{
    first_name, page_count, PublicMechanic, PublicWorkshop, Review, WorkshopPage, NO_SUCH_WORKSHOP,
    REVIEWS_PER_PAGE,
};
use crate::error::AppError;
use sqlx::PgPool;

/// An active workshop's public figures, or `None` (unknown, pending, rejected, suspended).
pub async fn workshop(
    pool: &PgPool,
    id: crate::ids::WorkshopId,
) -> Result<Option<PublicWorkshop>, sqlx::Error> {
    let id = id.uuid();
    sqlx::query_as!(
        PublicWorkshop,
        r#"SELECT o.id, o.name, o.city, o.description, o.specialties,
                  l.version AS "logo_version?",
                  s.mechanics_total, s.mechanics_online, s.rating_avg::float8 AS avg_rating, s.rating_count,
                  s.sessions_completed, s.median_accept_secs_30d AS median_accept_seconds
             FROM organizations o
             JOIN workshop_stats s ON s.workshop_id = o.id
             LEFT JOIN workshop_logos l ON l.workshop_id = o.id
            WHERE o.id = $1 AND o.status = 'active'"#,
        id
    )
    .fetch_optional(pool)
    .await
}

/// The workshop's approved mechanics, those online first.
pub async fn mechanics(
    pool: &PgPool,
    id: crate::ids::WorkshopId,
) -> Result<Vec<PublicMechanic>, sqlx::Error> {
    let id = id.uuid();
    let rows = sqlx::query!(
        r#"SELECT u.name, m.specialties, m.years_experience, m.is_online
             FROM mechanics m JOIN users u ON u.id = m.user_id
            WHERE m.workshop_id = $1 AND m.application_status = 'approved' AND u.disabled_at IS NULL
            ORDER BY m.is_online DESC, u.name, m.user_id
            LIMIT 200"#,
        id
    )
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| PublicMechanic {
            display_name: r.name,
            specialties: r.specialties,
            years_experience: r.years_experience,
            online: r.is_online,
        })
        .collect())
}

/// Ratings per number of stars, 5 first.
pub async fn distribution(pool: &PgPool, id: crate::ids::WorkshopId) -> Result<[i64; 5], sqlx::Error> {
    let id = id.uuid();
    let rows = sqlx::query!(
        r#"SELECT rating AS "rating!", count(*) AS "n!"
             FROM sessions WHERE workshop_id = $1 AND rating IS NOT NULL
            GROUP BY rating"#,
        id
    )
    .fetch_all(pool)
    .await?;
    let mut out = [0i64; 5];
    for r in rows {
        if (1..=5).contains(&r.rating) {
            out[(5 - r.rating) as usize] = r.n;
        }
    }
    Ok(out)
}

/// One page of reviews, newest first. The reviewer's name is cut to its first
/// word here, so a whole name never reaches the page.
pub async fn reviews(
    pool: &PgPool,
    id: crate::ids::WorkshopId,
    page: i64,
) -> Result<Vec<Review>, sqlx::Error> {
    let id = id.uuid();
    let rows = sqlx::query!(
        r#"SELECT u.name, x.rating AS "rating!", x.rating_comment, x.rated_at AS "rated_at!: chrono::DateTime<chrono::Utc>"
             FROM sessions x JOIN users u ON u.id = x.customer_id
            WHERE x.workshop_id = $1 AND x.rating IS NOT NULL
            ORDER BY x.rated_at DESC, x.id DESC
            LIMIT $2 OFFSET $3"#,
        id,
        REVIEWS_PER_PAGE,
        (page - 1) * REVIEWS_PER_PAGE
    )
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| Review {
            first_name: first_name(&r.name),
            rating: r.rating,
            comment: r.rating_comment.filter(|c| !c.trim().is_empty()),
            rated_at: r.rated_at,
        })
        .collect())
}

/// Everything on the page; a 404 for a workshop the public may not see.
pub async fn load(
    pool: &PgPool,
    id: crate::ids::WorkshopId,
    page: i64,
    public_url: &str,
) -> Result<WorkshopPage, AppError> {
    let workshop = workshop(pool, id).await?.ok_or_else(|| AppError::not_found(NO_SUCH_WORKSHOP))?;
    let mechanics = mechanics(pool, id).await?;
    let distribution = distribution(pool, id).await?;
    let pages = page_count(distribution.iter().sum());
    let reviews = if page <= pages { reviews(pool, id, page).await? } else { Vec::new() };
    Ok(WorkshopPage {
        canonical_url: format!(
            "{}{}",
            public_url.trim_end_matches('/'),
            crate::directory::workshop_path(id.uuid())
        ),
        workshop,
        mechanics,
        distribution,
        reviews,
        page,
        pages,
    })
}
