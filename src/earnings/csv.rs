//! `GET /workshop/earnings.csv?from=YYYY-MM-DD&to=YYYY-MM-DD`: the earnings rows
//! of the caller's workshop as CSV, for accounting. Refunds and reversals are
//! rows of their own; the `net`, `pending` and `paid` columns of a whole history
//! add up to the panel's lifetime, pending and paid-out totals.

use crate::auth::guard::RequestUser;
use crate::auth::Role;
use crate::error::AppError;
use crate::state::AppState;
use axum::extract::{Query, State};
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::Extension;
use std::collections::HashMap;

pub use crate::ui::csv::{cents, csv_field};

pub async fn workshop_earnings_csv(
    State(state): State<AppState>,
    Extension(user): Extension<RequestUser>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let Some(user) = user.0 else { return AppError::Unauthenticated.into_response() };
    if user.role != Role::WorkshopMember {
        return AppError::forbidden("Only workshop members can export their earnings.").into_response();
    }
    let result = async {
        let membership = crate::workshops::queries::membership_of(&state.pool, crate::ids::UserId(user.id))
            .await?
            .ok_or_else(|| AppError::forbidden("Your account is not part of a workshop."))?;
        let today = chrono::Utc::now().date_naive();
        let (from, to) = super::date_range(
            super::parse_day(q.get("from").map(String::as_str), "from")?,
            super::parse_day(q.get("to").map(String::as_str), "to")?,
            today,
        )?;
        let rows = super::queries::rows(
            &state.pool,
            crate::ledger::AccountRef::Workshop(crate::ids::WorkshopId(membership.organization_id)),
            from,
            to,
            100_000,
        )
        .await?;
        let mut out = String::from(
            "date,session,mechanic,plan,kind,gross,platform_fee,referral,net,currency,status,pending,paid\n",
        );
        for r in rows {
            let line = [
                r.created_at.format("%Y-%m-%d %H:%M:%S").to_string(),
                r.session_id.to_string(),
                csv_field(&r.mechanic_name),
                csv_field(&r.plan_name),
                r.kind_label().to_string(),
                cents(r.gross_cents),
                cents(r.platform_fee_cents),
                cents(r.referral_cents),
                cents(r.net_cents),
                "USD".to_string(),
                r.payout_status.as_str().to_string(),
                cents(r.pending_cents),
                cents(r.paid_cents),
            ]
            .join(",");
            out.push_str(&line);
            out.push('\n');
        }
        Ok::<_, AppError>((from, to, out))
    }
    .await;
    match result {
        Ok((from, to, body)) => {
            let mut res = body.into_response();
            res.headers_mut()
                .insert(header::CONTENT_TYPE, HeaderValue::from_static("text/csv; charset=utf-8"));
            if let Ok(v) =
                HeaderValue::from_str(&format!("attachment; filename=\"earnings-{from}-{to}.csv\""))
            {
                res.headers_mut().insert(header::CONTENT_DISPOSITION, v);
            }
            res
        }
        Err(e) => e.into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_fields_are_quoted_and_formulas_neutralised() {
        assert_eq!(csv_field("plain"), "plain");
        assert_eq!(csv_field("a,b"), "\"a,b\"");
        assert_eq!(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_field("=SUM(A1)"), "'=SUM(A1)");
        assert_eq!(cents(-1234), "-12.34");
        assert_eq!(cents(5), "0.05");
    }
}
