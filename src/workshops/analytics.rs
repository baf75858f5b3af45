//! Session analytics per workshop (the seed's `workshop_session_analytics`): on
//! the owner's dashboard and, for every workshop, on the admin's requests page.

use crate::directory::describe_accept_time;
use crate::error::AppError;
use leptos::prelude::*;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// The seed's `workshop_session_analytics`, per workshop.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(sqlx::FromRow))]
pub struct WorkshopAnalytics {
    pub workshop_id: Uuid,
    pub workshop_name: String,
    /// Paid requests whose customer chose this workshop.
    pub requests_preferred: i64,
    /// Of those, taken by this workshop's own mechanics.
    pub preferred_served_by_self: i64,
    /// Sessions this workshop's mechanics took (whoever the customer chose).
    pub sessions_served: i64,
    pub sessions_completed: i64,
    pub avg_rating: Option<f64>,
    pub rating_count: i64,
    pub median_accept_seconds: Option<i32>,
    /// How long its completed sessions really ran, on average (clock start to end).
    pub avg_session_seconds: Option<i64>,
}

impl WorkshopAnalytics {
    /// Share of the requests that chose this workshop which its mechanics took, in percent.
    pub fn acceptance_rate_percent(&self) -> Option<i64> {
        (self.requests_preferred > 0).then(|| self.preferred_served_by_self * 100 / self.requests_preferred)
    }
}

/// Session analytics of one workshop (for its dashboard).
#[cfg(feature = "ssr")]
pub async fn workshop_analytics(
    pool: &sqlx::PgPool,
    workshop: crate::ids::WorkshopId,
) -> Result<WorkshopAnalytics, AppError> {
    Ok(analytics_rows(pool, Some(workshop)).await?.pop().ok_or(sqlx::Error::RowNotFound)?)
}

/// Session analytics of every workshop, for the admin.
#[server(prefix = "/api", endpoint = "admin/analytics")]
pub async fn all_workshop_analytics() -> Result<Vec<WorkshopAnalytics>, AppError> {
    crate::auth::guard::require_admin()?;
    let state = crate::state::app_state()?;
    Ok(analytics_rows(&state.pool, None).await?)
}

/// The one SELECT of the analytics: one workshop's (whatever its status), or
/// every workshop's but the rejected ones, busiest first (at most 500).
#[cfg(feature = "ssr")]
async fn analytics_rows(
    pool: &sqlx::PgPool,
    only: Option<crate::ids::WorkshopId>,
) -> Result<Vec<WorkshopAnalytics>, sqlx::Error> {
    let only = only.map(crate::ids::WorkshopId::uuid);
    sqlx::query_as!(
        WorkshopAnalytics,
        r#"SELECT o.id AS workshop_id, o.name AS workshop_name, s.requests_preferred,
                s.preferred_served_by_self, s.requests_served AS sessions_served, s.sessions_completed,
                s.rating_avg::float8 AS "avg_rating?", s.rating_count,
                s.median_accept_secs_30d AS "median_accept_seconds?",
                (SELECT avg(extract(epoch FROM x.ended_at - coalesce(x.clock_started_at, x.started_at)))::int8
                   FROM sessions x WHERE x.workshop_id = o.id AND x.status = 'completed') AS "avg_session_seconds?"
           FROM workshop_stats s JOIN organizations o ON o.id = s.workshop_id
          WHERE CASE WHEN $1::uuid IS NULL THEN o.status <> 'rejected' ELSE o.id = $1 END
          ORDER BY s.requests_served DESC, o.name LIMIT 500"#,
        only
    )
    .fetch_all(pool)
    .await
}

/// The session analytics table (one row per workshop).
#[component]
pub fn AnalyticsRows(rows: Vec<WorkshopAnalytics>) -> impl IntoView {
    view! {
        <div class="table-wrap">
            <table class="analytics">
                <thead><tr><th>"Workshop"</th><th class="num">"Chose it"</th><th class="num">"Acceptance"</th><th class="num">"Served"</th>
                    <th class="num">"Completed"</th><th class="num">"Rating"</th><th class="num">"Accepts in"</th><th class="num">"Avg. length"</th></tr></thead>
                <tbody>
                    {rows.into_iter().map(|a| view! {
                        <tr>
                            <td>{a.workshop_name.clone()}</td>
                            <td class="num">{a.requests_preferred}</td>
                            <td class="num">{a.acceptance_rate_percent().map(|p| format!("{p}%")).unwrap_or_else(|| "–".into())}</td>
                            <td class="num">{a.sessions_served}</td>
                            <td class="num">{a.sessions_completed}</td>
                            <td class="num">{a.avg_rating.map(|r| format!("{r:.2} ({})", a.rating_count)).unwrap_or_else(|| "–".into())}</td>
                            <td class="num">{describe_accept_time(a.median_accept_seconds).unwrap_or_else(|| "–".into())}</td>
                            <td class="num">{a.avg_session_seconds.map(crate::sessions::clock::human_length).unwrap_or_else(|| "–".into())}</td>
                        </tr>
                    }).collect_view()}
                </tbody>
            </table>
        </div>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn acceptance_rate_is_of_the_requests_that_chose_the_workshop() {
        let mut a = WorkshopAnalytics {
            workshop_id: Uuid::nil(),
            workshop_name: "W".into(),
            requests_preferred: 0,
            preferred_served_by_self: 0,
            sessions_served: 0,
            sessions_completed: 0,
            avg_rating: None,
            rating_count: 0,
            median_accept_seconds: None,
            avg_session_seconds: None,
        };
        assert_eq!(a.acceptance_rate_percent(), None);
        a.requests_preferred = 4;
        a.preferred_served_by_self = 3;
        assert_eq!(a.acceptance_rate_percent(), Some(75));
    }
}
