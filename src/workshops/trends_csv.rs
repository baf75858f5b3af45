//! `GET /workshop/analytics.csv`: the analytics over time as CSV, for the
//! workshop's owner: one `week` row per week (oldest first), then one
//! `mechanic` row per mechanic over the 12 weeks. The same figures as the page.

use super::trends::WorkshopTrends;
use crate::auth::guard::RequestUser;
use crate::error::AppError;
use crate::state::AppState;
use crate::ui::csv::{cents, csv_field};
use axum::extract::State;
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::Extension;

pub const HEADER: &str =
    "scope,week_start,mechanic,sessions,median_accept_seconds,acceptance_rate_percent,average_rating,ratings,earnings,currency\n";

fn opt<T: ToString>(v: Option<T>) -> String {
    v.map(|v| v.to_string()).unwrap_or_default()
}

/// The CSV text of the figures.
pub fn render(t: &WorkshopTrends) -> String {
    let mut out = String::from(HEADER);
    for w in &t.weeks {
        let line = [
            "week".to_string(),
            w.week_start.to_string(),
            String::new(),
            w.sessions.to_string(),
            opt(w.median_accept_seconds),
            opt(w.acceptance_rate_percent()),
            opt(w.avg_rating.map(|r| format!("{r:.2}"))),
            w.rating_count.to_string(),
            cents(w.earnings_cents),
            "USD".into(),
        ];
        out.push_str(&line.join(","));
        out.push('\n');
    }
    let first = t.weeks.first().map(|w| w.week_start.to_string()).unwrap_or_default();
    for m in &t.mechanics {
        let line = [
            "mechanic".to_string(),
            first.clone(),
            csv_field(&m.name),
            m.sessions.to_string(),
            opt(m.median_accept_seconds),
            String::new(),
            opt(m.avg_rating.map(|r| format!("{r:.2}"))),
            m.rating_count.to_string(),
            cents(m.earnings_cents),
            "USD".into(),
        ];
        out.push_str(&line.join(","));
        out.push('\n');
    }
    out
}

pub async fn workshop_analytics_csv(
    State(state): State<AppState>,
    Extension(user): Extension<RequestUser>,
) -> Response {
    let Some(user) = user.0 else { return AppError::Unauthenticated.into_response() };
    if user.role != crate::auth::Role::WorkshopMember {
        return AppError::forbidden("Only a workshop's owner can export its analytics.").into_response();
    }
    let result = async {
        let membership = super::queries::membership_of(&state.pool, crate::ids::UserId(user.id))
            .await?
            .ok_or_else(|| AppError::forbidden("Your account is not part of a workshop."))?;
        if membership.role != super::MemberRole::Owner {
            return Err(AppError::forbidden("Only the workshop's owner can export its analytics."));
        }
        let t = super::trends_queries::load(
            &state.pool,
            crate::ids::WorkshopId(membership.organization_id),
            &membership.organization_name,
            chrono::Utc::now(),
        )
        .await?;
        Ok::<_, AppError>((t.weeks.last().map(|w| w.week_start), render(&t)))
    }
    .await;
    match result {
        Ok((week, body)) => {
            let mut res = body.into_response();
            res.headers_mut()
                .insert(header::CONTENT_TYPE, HeaderValue::from_static("text/csv; charset=utf-8"));
            let name = format!("attachment; filename=\"analytics-{}.csv\"", opt(week));
            if let Ok(v) = HeaderValue::from_str(&name) {
                res.headers_mut().insert(header::CONTENT_DISPOSITION, v);
            }
            res
        }
        Err(e) => e.into_response(),
    }
}
