//! The catalog of session plans customers can buy.

use crate::error::AppError;
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(sqlx::FromRow))]
pub struct Plan {
    pub code: String,
    pub name: String,
    pub description: String,
    pub price_cents: i64,
    pub currency: String,
    pub minutes: i32,
}

#[cfg(feature = "ssr")]
pub mod queries {
    use super::Plan;
    use sqlx::PgExecutor;

    pub async fn active_plans(db: impl PgExecutor<'_>) -> Result<Vec<Plan>, sqlx::Error> {
        sqlx::query_as!(
            Plan,
            "SELECT code, name, description, price_cents, currency, minutes
               FROM plans WHERE active ORDER BY sort_order, price_cents"
        )
        .fetch_all(db)
        .await
    }
}

/// The plans on sale, cheapest first. Public on purpose: anyone may see prices.
#[server(prefix = "/api/public", endpoint = "plans")]
pub async fn list_plans() -> Result<Vec<Plan>, AppError> {
    let state = crate::state::app_state()?;
    Ok(queries::active_plans(&state.pool).await?)
}
