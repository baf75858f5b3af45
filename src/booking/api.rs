//! Server functions for booking and paying.

use super::{BookingOptions, CustomerOrder};
use crate::error::AppError;
#[cfg(feature = "ssr")]
use crate::ids::{OrderId, UserId};
use leptos::prelude::*;
use uuid::Uuid;

/// One of a customer's own orders (anyone else's: not found).
#[cfg(feature = "ssr")]
pub async fn load_customer_order(
    pool: &sqlx::PgPool,
    order_id: OrderId,
    customer: UserId,
) -> Result<CustomerOrder, AppError> {
    customer_orders(pool, customer, Some(order_id))
        .await?
        .pop()
        .ok_or_else(|| AppError::not_found("You have no booking with that reference."))
}

/// A customer's bookings, newest first (at most 200), or only `only` of them.
/// The one SELECT of a booking as its customer sees it.
#[cfg(feature = "ssr")]
pub async fn customer_orders(
    pool: &sqlx::PgPool,
    customer: UserId,
    only: Option<OrderId>,
) -> Result<Vec<CustomerOrder>, sqlx::Error> {
    let customer = customer.uuid();
    let only = only.map(OrderId::uuid);
    sqlx::query_as!(
        CustomerOrder,
        r#"SELECT o.id AS order_id, o.plan_name, o.amount_cents,
            o.amount_refunded_cents, o.currency,
            o.vehicle_year::text || ' ' || o.vehicle_make || ' ' || o.vehicle_model AS "vehicle!",
            o.routing_type AS "routing_type: crate::dispatch::RoutingType",
            pw.name AS "preferred_workshop_name?", o.status AS "status: super::OrderStatus", o.checkout_url,
            o.created_at AS "created_at: chrono::DateTime<chrono::Utc>",
            r.status AS "request_status?: super::RequestStatus", mu.name AS "mechanic_name?",
            sw.name AS "serving_workshop_name?", s.id AS "session_id?", s.status AS "session_status?: super::SessionStatus"
       FROM orders o
       LEFT JOIN organizations pw ON pw.id = o.preferred_workshop_id
       LEFT JOIN session_requests r ON r.order_id = o.id
       LEFT JOIN users mu ON mu.id = r.mechanic_id
       LEFT JOIN organizations sw ON sw.id = r.workshop_id
       LEFT JOIN sessions s ON s.request_id = r.id
      WHERE o.customer_id = $1 AND ($2::uuid IS NULL OR o.id = $2)
      ORDER BY o.created_at DESC, o.id LIMIT 200"#,
        customer,
        only
    )
    .fetch_all(pool)
    .await
}

/// The active workshop a customer picked, if it can take bookings.
#[cfg(feature = "ssr")]
async fn bookable_workshop(
    db: impl sqlx::PgExecutor<'_>,
    id: crate::ids::WorkshopId,
) -> Result<Option<super::ChosenWorkshop>, AppError> {
    let id = id.uuid();
    Ok(sqlx::query_as!(
        super::ChosenWorkshop,
        "SELECT o.id, o.name, o.city, s.mechanics_online
           FROM organizations o JOIN workshop_stats s ON s.workshop_id = o.id
          WHERE o.id = $1 AND o.status = 'active'",
        id
    )
    .fetch_optional(db)
    .await?)
}

/// What the booking page offers: the plans, and the workshop picked in the directory.
#[server(prefix = "/api", endpoint = "booking/options")]
pub async fn get_booking_options(workshop: Option<String>) -> Result<BookingOptions, AppError> {
    crate::auth::guard::require_role(crate::auth::Role::Customer)?;
    let state = crate::state::app_state()?;
    let plans = crate::plans::queries::active_plans(&state.pool).await?;
    let workshop = match workshop.as_deref().map(str::trim).filter(|w| !w.is_empty()) {
        None => None,
        Some(raw) => {
            let id = Uuid::parse_str(raw).map_err(|_| {
                AppError::bad_request("That workshop link is not valid. Pick a workshop from the directory.")
            })?;
            Some(bookable_workshop(&state.pool, crate::ids::WorkshopId(id)).await?.ok_or_else(|| {
                AppError::not_found(
                    "That workshop is not taking bookings. Pick another one from the directory.",
                )
            })?)
        }
    };
    Ok(BookingOptions { plans, workshop, request_key: Uuid::new_v4() })
}

/// Creates the order (price from the catalog, fee terms frozen) and a Checkout
/// Session at the payment gateway; answers with the URL to pay at. Submitting
/// the same form twice (same `request_key`) reuses the first order.
#[server(prefix = "/api", endpoint = "booking/checkout")]
pub async fn start_checkout(
    request_key: Uuid,
    plan_code: String,
    vehicle_make: String,
    vehicle_model: String,
    vehicle_year: String,
    problem_description: String,
    workshop_id: Option<String>,
    routing_type: String,
) -> Result<String, AppError> {
    use crate::payments::gateway::CheckoutRequest;
    use chrono::Datelike;

    let customer = crate::auth::guard::require_role(crate::auth::Role::Customer)?;
    let state = crate::state::app_state()?;
    let input = super::validate_booking(
        &plan_code,
        &vehicle_make,
        &vehicle_model,
        &vehicle_year,
        &problem_description,
        workshop_id.as_deref(),
        &routing_type,
        chrono::Utc::now().year(),
    )?;
    crate::limits::check(
        &state.pool,
        state.config.rate_limit_scale,
        crate::limits::Action::StartCheckout,
        &crate::auth::guard::client_address(state.config.trust_proxy),
        &customer.id.to_string(),
    )
    .await?;

    // The same form submitted again: continue with the order it made.
    struct Existing {
        id: Uuid,
        checkout_url: Option<String>,
        status: super::OrderStatus,
        plan_code: String,
        amount_cents: i64,
        currency: String,
        vehicle_make: String,
        vehicle_model: String,
        vehicle_year: i32,
        problem_description: String,
        preferred_workshop_id: Option<Uuid>,
        routing_type: crate::dispatch::RoutingType,
    }
    let existing = sqlx::query_as!(
        Existing,
        r#"SELECT id, checkout_url, status AS "status: super::OrderStatus", plan_code, amount_cents, currency,
                vehicle_make, vehicle_model, vehicle_year, problem_description, preferred_workshop_id,
                routing_type AS "routing_type: crate::dispatch::RoutingType"
           FROM orders WHERE customer_id = $1 AND request_key = $2"#,
        customer.id,
        request_key
    )
    .fetch_optional(&state.pool)
    .await?;
    // Only the same choices continue the same order (as an idempotency key reused
    // with other parameters is refused by Stripe): never a different plan at this
    // order's price, nor this order at another plan's.
    if let Some(e) = &existing {
        let same = e.plan_code == input.plan_code
            && e.vehicle_make == input.vehicle_make
            && e.vehicle_model == input.vehicle_model
            && e.vehicle_year == input.vehicle_year
            && e.problem_description == input.problem_description
            && e.preferred_workshop_id == input.workshop_id
            && e.routing_type == input.routing_type;
        if !same {
            return Err(AppError::conflict(
                "This booking was started with other choices. Reload the booking page to start a new one.",
            ));
        }
    }
    if let Some(Existing { checkout_url: Some(url), status: super::OrderStatus::AwaitingPayment, .. }) =
        &existing
    {
        crate::auth::guard::redirect_form_post(url);
        return Ok(url.clone());
    }
    if let Some(e) = &existing {
        if e.status == super::OrderStatus::Held {
            return Err(AppError::conflict(
                "The payment for this booking is under review: we will refund you or get in touch. Nothing more is charged.",
            ));
        }
        if e.status != super::OrderStatus::AwaitingPayment {
            return Err(AppError::conflict("This booking is already paid. See it under My sessions."));
        }
    }

    let plan = sqlx::query_as!(
        crate::plans::Plan,
        "SELECT code, name, description, price_cents, currency, minutes FROM plans WHERE code = $1 AND active",
        input.plan_code
    )
    .fetch_optional(&state.pool)
    .await?
    .ok_or_else(|| AppError::field("plan_code", "That plan is not on sale. Choose one of the plans shown."))?;

    let (preferred_fee_bps, workshop) = match input.workshop_id {
        None => (None, None),
        Some(id) => {
            let w = bookable_workshop(&state.pool, crate::ids::WorkshopId(id)).await?.ok_or_else(|| {
                AppError::field("workshop_id", "That workshop is not taking bookings. Choose another one.")
            })?;
            let bps = sqlx::query_scalar!("SELECT platform_fee_bps FROM organizations WHERE id = $1", id)
                .fetch_one(&state.pool)
                .await?;
            (Some(bps), Some(w))
        }
    };

    // A reused order is charged what it recorded, even if the plan's price changed since.
    let (order_id, amount_cents, currency) = match existing {
        Some(e) => (e.id, e.amount_cents, e.currency),
        None => {
            let id = sqlx::query_scalar!(
                "INSERT INTO orders (customer_id, request_key, plan_code, plan_name, plan_minutes, amount_cents, currency,
                                     vehicle_make, vehicle_model, vehicle_year, problem_description,
                                     preferred_workshop_id, routing_type, platform_fee_bps, referral_fee_bps,
                                     preferred_workshop_fee_bps)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)
                 ON CONFLICT (customer_id, request_key) DO UPDATE SET updated_at = now()
                 RETURNING id",
                customer.id,
                request_key,
                plan.code,
                plan.name,
                plan.minutes,
                plan.price_cents,
                plan.currency,
                input.vehicle_make,
                input.vehicle_model,
                input.vehicle_year,
                input.problem_description,
                input.workshop_id,
                input.routing_type as crate::dispatch::RoutingType,
                state.config.platform_fee_bps,
                state.config.referral_fee_bps,
                preferred_fee_bps
            )
            .fetch_one(&state.pool)
            .await?;
            (id, plan.price_cents, plan.currency.clone())
        }
    };

    let base = &state.config.public_url;
    let request = CheckoutRequest {
        order_id,
        customer_id: customer.id,
        customer_email: customer.email.clone(),
        plan_code: plan.code.clone(),
        product_name: format!("{} ({} min)", plan.name, plan.minutes),
        description: match &workshop {
            Some(w) => format!("Remote diagnosis with {}", w.name),
            None => "Remote diagnosis with the first available mechanic".to_string(),
        },
        amount_cents,
        currency,
        preferred_workshop_id: input.workshop_id,
        routing_type: input.routing_type.as_str().to_string(),
        success_url: format!("{base}/checkout/return?order={order_id}"),
        cancel_url: format!("{base}/checkout/return?order={order_id}&cancelled=1"),
        idempotency_key: format!("checkout-{order_id}"),
    };
    let session = state.payments.create_checkout_session(&request).await.map_err(|e| {
        tracing::warn!(error = %e, %order_id, "checkout session could not be created");
        if e.is_retryable() {
            AppError::Unavailable
        } else {
            AppError::bad_request("The payment could not be started. Please try again or contact us.")
        }
    })?;
    sqlx::query!(
        "UPDATE orders SET checkout_session_id = $2, checkout_url = $3, updated_at = now() WHERE id = $1",
        order_id,
        session.id,
        session.url
    )
    .execute(&state.pool)
    .await?;
    tracing::info!(%order_id, plan = %plan.code, routing = input.routing_type.as_str(), "checkout started");
    crate::auth::guard::redirect_form_post(&session.url);
    Ok(session.url)
}

/// The customer's bookings, newest first.
#[server(prefix = "/api", endpoint = "booking/mine")]
pub async fn my_orders() -> Result<Vec<CustomerOrder>, AppError> {
    let customer = crate::auth::guard::require_role(crate::auth::Role::Customer)?;
    let state = crate::state::app_state()?;
    Ok(customer_orders(&state.pool, UserId(customer.id), None).await?)
}

/// One of the customer's own bookings.
#[server(prefix = "/api", endpoint = "booking/order")]
pub async fn get_order(order_id: Uuid) -> Result<CustomerOrder, AppError> {
    let customer = crate::auth::guard::require_role(crate::auth::Role::Customer)?;
    let state = crate::state::app_state()?;
    load_customer_order(&state.pool, OrderId(order_id), UserId(customer.id)).await
}

/// An unserved workshop-only request: open it to others (hybrid or broadcast).
#[server(prefix = "/api", endpoint = "booking/widen")]
pub async fn widen_request(order_id: Uuid, routing_type: String) -> Result<(), AppError> {
    use crate::dispatch::RoutingType;
    let customer = crate::auth::guard::require_role(crate::auth::Role::Customer)?;
    let state = crate::state::app_state()?;
    let routing = match RoutingType::parse(&routing_type) {
        Some(r @ (RoutingType::Hybrid | RoutingType::Broadcast)) => r,
        _ => return Err(AppError::field("routing_type", "Choose to open the request to other mechanics.")),
    };
    let now = chrono::Utc::now();
    let mut tx = state.pool.begin().await?;
    let owned = sqlx::query_scalar!(
        r#"SELECT status AS "status: crate::status::RequestStatus" FROM session_requests
            WHERE order_id = $1 AND customer_id = $2 FOR UPDATE"#,
        order_id,
        customer.id
    )
    .fetch_optional(&mut *tx)
    .await?;
    if owned.is_none() {
        return Err(AppError::not_found("You have no paid booking with that reference."));
    }
    let widened = sqlx::query!(
        "UPDATE session_requests SET routing_type = $3, status = 'pending', expires_at = NULL, closed_at = NULL,
                escalated_at = $4
          WHERE order_id = $1 AND customer_id = $2 AND status = 'expired'
          RETURNING id, order_id",
        order_id,
        customer.id,
        routing as RoutingType,
        now as _
    )
    .fetch_optional(&mut *tx)
    .await?
    .map(|w| (w.id, w.order_id));
    let Some((request_id, order_id)) = widened else {
        return Err(AppError::conflict("Only a request that no mechanic took can be opened to others."));
    };
    let details = serde_json::json!({ "routing_type": routing });
    sqlx::query!(
        "INSERT INTO routing_events (request_id, kind, details) VALUES ($1, 'widened', $2)",
        request_id,
        details
    )
    .execute(&mut *tx)
    .await?;
    crate::realtime::server::notify(
        &mut *tx,
        &crate::realtime::Signal::RequestChanged { request_id, order_id },
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Cancels a request no mechanic has taken, with a full refund.
#[server(prefix = "/api", endpoint = "booking/cancel")]
pub async fn cancel_request(order_id: Uuid) -> Result<(), AppError> {
    let customer = crate::auth::guard::require_role(crate::auth::Role::Customer)?;
    let state = crate::state::app_state()?;
    crate::refunds::cancel_unserved(
        &state,
        crate::ids::OrderId(order_id),
        Some(crate::ids::UserId(customer.id)),
    )
    .await
}
