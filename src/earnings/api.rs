//! Server functions for earnings.

#[cfg(feature = "ssr")]
use super::queries;
use super::{MechanicEarnings, PlatformRevenue, WorkshopEarnings};
use crate::error::AppError;
use leptos::prelude::*;

/// How many rows a page of earnings shows (the CSV export has them all).
pub const PAGE_ROWS: i64 = 200;

/// The owner's (or staff member's) earnings panel for a date range.
#[server(prefix = "/api", endpoint = "workshop/earnings")]
pub async fn get_workshop_earnings(
    from: Option<String>,
    to: Option<String>,
) -> Result<WorkshopEarnings, AppError> {
    use crate::ledger::AccountRef;
    let state = crate::state::app_state()?;
    let (_, membership) = crate::workshops::api::require_workshop_member(&state).await?;
    let today = chrono::Utc::now().date_naive();
    let (from, to) = super::date_range(
        super::parse_day(from.as_deref(), "from")?,
        super::parse_day(to.as_deref(), "to")?,
        today,
    )?;
    let account = AccountRef::Workshop(crate::ids::WorkshopId(membership.organization_id));
    let totals = queries::totals(&state.pool, account).await?;
    let chart = queries::daily_credits(&state.pool, account, today, 30).await?;
    let mut rows = queries::rows(&state.pool, account, from, to, PAGE_ROWS + 1).await?;
    let more_rows = rows.len() as i64 > PAGE_ROWS;
    rows.truncate(PAGE_ROWS as usize);
    Ok(WorkshopEarnings {
        workshop_name: membership.organization_name,
        currency: "usd".into(),
        totals,
        chart,
        rows,
        from,
        to,
        more_rows,
    })
}

/// The mechanic's earnings: an independent's shares and balances, or the
/// sessions a workshop mechanic served (their workshop pays them).
#[server(prefix = "/api", endpoint = "mechanic/earnings")]
pub async fn get_mechanic_earnings() -> Result<MechanicEarnings, AppError> {
    use crate::ledger::AccountRef;
    let state = crate::state::app_state()?;
    let (user, profile) = crate::mechanics::api::require_mechanic(&state).await?;
    let served = queries::served_sessions(&state.pool, crate::ids::UserId(user.id)).await?;
    let independent_account = AccountRef::Mechanic(crate::ids::UserId(user.id));
    let today = chrono::Utc::now().date_naive();
    let rows = queries::rows(
        &state.pool,
        independent_account,
        today - chrono::Duration::days(730),
        today,
        PAGE_ROWS,
    )
    .await?;
    let has_own_earnings = !rows.is_empty() || profile.workshop_id.is_none();
    Ok(MechanicEarnings {
        currency: "usd".into(),
        workshop_name: profile.workshop_name.clone(),
        totals: if has_own_earnings {
            Some(queries::totals(&state.pool, independent_account).await?)
        } else {
            None
        },
        rows,
        served,
    })
}

/// Platform revenue over the last 30 days: by day and by serving workshop.
#[server(prefix = "/api", endpoint = "admin/revenue")]
pub async fn get_platform_revenue() -> Result<PlatformRevenue, AppError> {
    use crate::ledger::AccountRef;
    crate::auth::guard::require_admin()?;
    let state = crate::state::app_state()?;
    let today = chrono::Utc::now().date_naive();
    let by_day = queries::daily_credits(&state.pool, AccountRef::PlatformRevenue, today, 30).await?;
    let by_workshop = queries::revenue_by_workshop(&state.pool, today - chrono::Duration::days(29)).await?;
    Ok(PlatformRevenue {
        currency: "usd".into(),
        total_30d_cents: by_day.iter().map(|d| d.cents).sum(),
        by_day,
        by_workshop,
    })
}
