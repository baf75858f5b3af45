//! The sandbox's hosted pages, standing in for Stripe's: the checkout page where
//! a test card is entered. Plain HTML from axum (they belong to the "payment
//! provider", not to the app), every value escaped.

use crate::payments::sandbox::{checkout_event, checkout_session, enqueue_event, SessionRow};
use crate::state::AppState;
use crate::ui::format_money;
use axum::extract::{Form, Path, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use serde::Deserialize;

pub const CARD_SUCCEEDS: &str = "4242424242424242";
pub const CARD_DECLINED: &str = "4000000000000002";

pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

fn page(title: &str, body: &str) -> String {
    format!(
        r#"<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title} · Test payment</title><link rel="icon" href="/favicon.ico">
<style>
body{{margin:0;font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;background:#f6f7f9;color:#1b2330}}
.banner{{background:#f59f00;color:#1b2330;text-align:center;padding:.6rem;font-weight:700;letter-spacing:.02em}}
main{{max-width:26rem;margin:2rem auto;padding:0 1rem}}
.card{{background:#fff;border:1px solid #dfe3ea;border-radius:10px;padding:1.5rem;box-shadow:0 1px 3px rgba(16,24,40,.1)}}
h1{{font-size:1.3rem;margin:0 0 .25rem}} .amount{{font-size:2rem;font-weight:700;margin:.5rem 0 1rem}}
label{{display:block;font-weight:600;margin:.75rem 0 .25rem}}
input{{width:100%;box-sizing:border-box;padding:.6rem .75rem;border:1px solid #dfe3ea;border-radius:6px;font:inherit}}
.row{{display:flex;gap:.75rem}} .row>div{{flex:1}}
button{{width:100%;margin-top:1.25rem;padding:.75rem;border:0;border-radius:6px;background:#0b63ce;color:#fff;font:inherit;font-weight:700;cursor:pointer}}
.muted{{color:#5b6675;font-size:.9rem}} .error{{background:#fdecec;border:1px solid #f3b7b7;color:#7f1d1d;padding:.75rem;border-radius:6px}}
a{{color:#0b63ce}} code{{font-family:ui-monospace,monospace}}
</style></head><body><div class="banner">TEST MODE · autodoctor payment sandbox · no real money moves</div><main>{body}</main></body></html>"#
    )
}

async fn load(state: &AppState, id: &str) -> Result<Option<SessionRow>, sqlx::Error> {
    checkout_session(&state.pool, id).await
}

fn not_found() -> Response {
    (
        StatusCode::NOT_FOUND,
        Html(page(
            "Not found",
            "<div class=\"card\"><h1>No such payment</h1><p>This payment link is not valid.</p></div>",
        )),
    )
        .into_response()
}

fn checkout_form(s: &SessionRow, error: Option<&str>) -> String {
    let id = escape(&s.id);
    let error = error
        .map(|e| format!("<p class=\"error\" role=\"alert\" id=\"card-error\">{}</p>", escape(e)))
        .unwrap_or_default();
    page(
        "Pay",
        &format!(
            r#"<div class="card">
<h1 id="product">{product}</h1>
<p class="muted">{email}</p>
<p class="amount" id="amount">{amount}</p>
{error}
<form method="post" action="/sandbox/checkout/{id}/pay" id="sandbox-pay-form">
<label for="card_number">Card number</label>
<input id="card_number" name="card_number" inputmode="numeric" autocomplete="cc-number" placeholder="4242 4242 4242 4242" required>
<div class="row"><div><label for="expiry">Expiry</label><input id="expiry" name="expiry" placeholder="12 / 34" autocomplete="cc-exp"></div>
<div><label for="cvc">CVC</label><input id="cvc" name="cvc" placeholder="123" autocomplete="cc-csc"></div></div>
<button type="submit" id="sandbox-pay">Pay {amount}</button>
</form>
<p class="muted">Test cards: <code>4242 4242 4242 4242</code> pays, <code>4000 0000 0000 0002</code> is declined.</p>
<p class="muted"><a href="{cancel}" id="sandbox-cancel">Cancel and go back</a></p>
</div>"#,
            product = escape(&s.product_name),
            email = escape(&s.customer_email),
            amount = escape(&format_money(s.amount_cents, &s.currency)),
            cancel = escape(&s.cancel_url),
        ),
    )
}

/// `GET /sandbox/checkout/{id}`: the hosted payment page.
pub async fn checkout_page(State(state): State<AppState>, Path(id): Path<String>) -> Response {
    match load(&state, &id).await {
        Ok(Some(s)) if s.status == "open" => Html(checkout_form(&s, None)).into_response(),
        Ok(Some(s)) if s.status == "complete" => Html(page(
            "Paid",
            &format!(
                "<div class=\"card\"><h1>Payment complete</h1><p>This payment has been made.</p><p><a href=\"{}\">Back to autodoctor</a></p></div>",
                escape(&s.success_url)
            ),
        ))
        .into_response(),
        Ok(Some(s)) => (
            StatusCode::GONE,
            Html(page(
                "Expired",
                &format!(
                    "<div class=\"card\"><h1>This payment page has expired</h1><p>Start the booking again.</p><p><a href=\"{}\">Back to autodoctor</a></p></div>",
                    escape(&s.cancel_url)
                ),
            )),
        )
            .into_response(),
        Ok(None) => not_found(),
        Err(e) => crate::error::AppError::from(e).into_response(),
    }
}

#[derive(Deserialize)]
pub struct PayForm {
    #[serde(default)]
    card_number: String,
}

/// `POST /sandbox/checkout/{id}/pay`: takes the test card, completes the session
/// and queues the signed `checkout.session.completed` event, in one transaction.
pub async fn pay(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Form(form): Form<PayForm>,
) -> Response {
    let session = match load(&state, &id).await {
        Ok(Some(session)) => session,
        Ok(None) => return not_found(),
        Err(e) => return crate::error::AppError::from(e).into_response(),
    };
    if session.status != "open" {
        return Redirect::to(&session.success_url).into_response();
    }
    let digits: String = form.card_number.chars().filter(|c| !c.is_whitespace() && *c != '-').collect();
    if digits == CARD_DECLINED {
        let _ = sqlx::query!(
            "UPDATE sandbox_checkout_sessions SET declined_count = declined_count + 1 WHERE id = $1",
            &id
        )
        .execute(&state.pool)
        .await;
        return (
            StatusCode::PAYMENT_REQUIRED,
            Html(checkout_form(
                &session,
                Some("Your card was declined. Try another card; nothing was charged."),
            )),
        )
            .into_response();
    }
    if digits != CARD_SUCCEEDS {
        let message = if digits.is_empty() {
            "Enter a card number."
        } else {
            "This is a test payment page: use 4242 4242 4242 4242 to pay, or 4000 0000 0000 0002 to see a decline."
        };
        return (StatusCode::BAD_REQUEST, Html(checkout_form(&session, Some(message)))).into_response();
    }
    let result = async {
        let mut tx = state.pool.begin().await?;
        let completed = sqlx::query_as!(
            SessionRow,
            r#"UPDATE sandbox_checkout_sessions SET status = 'complete', payment_intent = $2, completed_at = now()
              WHERE id = $1 AND status = 'open'
              RETURNING id, order_id, amount_cents, currency, product_name, customer_email, metadata,
                      success_url, cancel_url, status, payment_intent,
                      created_at AS "created_at: chrono::DateTime<chrono::Utc>", expires_at AS "expires_at: chrono::DateTime<chrono::Utc>""#,
            &id,
            crate::payments::signing::random_id("pi_sbx_")
        )
        .fetch_optional(&mut *tx)
        .await?;
        if let Some(s) = &completed {
            let (event_id, payload) = checkout_event("checkout.session.completed", s);
            enqueue_event(&mut *tx, &event_id, "checkout.session.completed", &payload).await?;
        }
        tx.commit().await?;
        Ok::<_, sqlx::Error>(())
    }
    .await;
    match result {
        Ok(()) => {
            if let Some(notify) = &state.sandbox_deliveries {
                notify.notify_one();
            }
            Redirect::to(&session.success_url).into_response()
        }
        Err(e) => crate::error::AppError::from(e).into_response(),
    }
}

#[derive(Deserialize)]
pub struct ConnectQuery {
    #[serde(default)]
    return_url: String,
    #[serde(default)]
    refresh_url: String,
}

/// Only links back into this app are followed (never an open redirect), and
/// only with a path that is safe in a `Location` header.
fn own_url(state: &AppState, url: &str) -> String {
    let base = &state.config.public_url;
    match url.strip_prefix(base.as_str()).and_then(|path| crate::url::safe_next_path(Some(path))) {
        Some(path) => format!("{base}{path}"),
        None => format!("{base}/"),
    }
}

fn onboarding_form(
    account: &str,
    name: &str,
    return_url: &str,
    refresh_url: &str,
    error: Option<&str>,
) -> String {
    let error =
        error.map(|e| format!("<p class=\"error\" role=\"alert\">{}</p>", escape(e))).unwrap_or_default();
    page(
        "Payout set-up",
        &format!(
            r#"<div class="card">
<h1>Set up payouts</h1>
<p class="muted">{name} · account <code>{account}</code></p>
<p class="muted">Stripe would ask for identity and bank details here. In the sandbox, the test values below are enough.</p>
{error}
<form method="post" action="/sandbox/connect/{account}" id="sandbox-connect-form">
<input type="hidden" name="return_url" value="{return_url}">
<label for="legal_name">Legal name</label>
<input id="legal_name" name="legal_name" value="{name}">
<label for="routing_number">Routing number</label>
<input id="routing_number" name="routing_number" value="110000000" inputmode="numeric">
<label for="account_number">Account number</label>
<input id="account_number" name="account_number" value="000123456789" inputmode="numeric">
<button type="submit" id="sandbox-connect-submit">Submit and enable payouts</button>
</form>
<p class="muted"><a href="{refresh_url}" id="sandbox-connect-later">Finish later</a></p>
</div>"#,
            account = escape(account),
            name = escape(name),
            return_url = escape(return_url),
            refresh_url = escape(refresh_url),
        ),
    )
}

/// `GET /sandbox/connect/{account}`: the sandbox's Connect onboarding page.
pub async fn connect_page(
    State(state): State<AppState>,
    Path(account): Path<String>,
    axum::extract::Query(q): axum::extract::Query<ConnectQuery>,
) -> Response {
    let name: Option<String> =
        match sqlx::query_scalar!("SELECT display_name FROM sandbox_accounts WHERE id = $1", &account)
            .fetch_optional(&state.pool)
            .await
        {
            Ok(n) => n,
            Err(e) => return crate::error::AppError::from(e).into_response(),
        };
    let Some(name) = name else { return not_found() };
    let (return_url, refresh_url) = (own_url(&state, &q.return_url), own_url(&state, &q.refresh_url));
    Html(onboarding_form(&account, &name, &return_url, &refresh_url, None)).into_response()
}

#[derive(Deserialize)]
pub struct ConnectForm {
    #[serde(default)]
    return_url: String,
    #[serde(default)]
    legal_name: String,
    #[serde(default)]
    routing_number: String,
    #[serde(default)]
    account_number: String,
}

/// `POST /sandbox/connect/{account}`: completes onboarding, enables payouts and
/// queues the signed `account.updated` event, in one transaction.
pub async fn connect_submit(
    State(state): State<AppState>,
    Path(account): Path<String>,
    Form(form): Form<ConnectForm>,
) -> Response {
    let return_url = own_url(&state, &form.return_url);
    let digits = |s: &str, n: std::ops::RangeInclusive<usize>| {
        n.contains(&s.trim().len()) && s.trim().bytes().all(|b| b.is_ascii_digit())
    };
    if form.legal_name.trim().is_empty()
        || !digits(&form.routing_number, 9..=9)
        || !digits(&form.account_number, 4..=17)
    {
        let name = form.legal_name.clone();
        return (
            StatusCode::BAD_REQUEST,
            Html(onboarding_form(
                &account,
                &name,
                &return_url,
                &return_url,
                Some("Enter a name, a 9-digit routing number and an account number (4 to 17 digits)."),
            )),
        )
            .into_response();
    }
    let result = async {
        let mut tx = state.pool.begin().await?;
        let updated = sqlx::query!(
            "UPDATE sandbox_accounts SET details_submitted = true, charges_enabled = true, payouts_enabled = true WHERE id = $1",
            &account
        )
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if updated == 1 {
            let (event_id, payload) = crate::payments::sandbox::account_event(&account, true, true, true);
            enqueue_event(&mut *tx, &event_id, "account.updated", &payload).await?;
        }
        tx.commit().await?;
        Ok::<u64, sqlx::Error>(updated)
    }
    .await;
    match result {
        Ok(0) => not_found(),
        Ok(_) => {
            if let Some(notify) = &state.sandbox_deliveries {
                notify.notify_one();
            }
            Redirect::to(&return_url).into_response()
        }
        Err(e) => crate::error::AppError::from(e).into_response(),
    }
}
