//! The consistency suite finds what is wrong: each invariant passes on data the
//! app made, and fails once that data is made wrong the way a bug would.

use crate::testing::fixtures::{completed_session, mechanic, paid_request, plan, sandbox_payment, workshop};
use crate::testing::{create_user, TestApp};
use autodoctor::auth::Role;
use autodoctor::dispatch::RoutingType;
use sqlx::PgPool;

async fn problems(pool: &PgPool) -> Vec<String> {
    autodoctor::consistency::check(pool).await.unwrap()
}

fn names(problems: &[String], what: &str) -> usize {
    problems.iter().filter(|p| p.starts_with(what)).count()
}

/// A full refund of an order nobody served leaves it refunded with no live
/// request; the request put back to pending (the bug of the hardening issue:
/// a refund that left the request open to mechanics) is found.
#[sqlx::test(migrator = "autodoctor::db::MIGRATOR")]
async fn a_fully_refunded_order_has_no_live_request_or_open_session(pool: PgPool) {
    let app = TestApp::new(pool.clone());
    plan(&pool).await;
    let a = workshop(&pool, "Alpha").await;
    let m = mechanic(&pool, "m@example.com", Some(a), true).await;
    let customer = create_user(&pool, "c@example.com", Role::Customer).await;
    let (order, request) = paid_request(&pool, customer, RoutingType::WorkshopOnly, Some(a)).await;
    sandbox_payment(&pool, order).await;
    autodoctor::refunds::refund_order(&app.state, autodoctor::ids::OrderId(order), 2900, "Goodwill", None)
        .await
        .unwrap();
    assert_eq!(problems(&pool).await, Vec::<String>::new());
    let (status, request_status): (String, String) = sqlx::query_as(
        "SELECT o.status::text, r.status::text FROM orders o JOIN session_requests r ON r.order_id = o.id
          WHERE o.id = $1",
    )
    .bind(order)
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!((status.as_str(), request_status.as_str()), ("refunded", "cancelled"));

    let live = "fully refunded order with a live request or an open session";
    app.leaves_invariants_broken(
        &["fully refunded order with a live request or an open session"],
        "it plants live requests and a session on refunded orders, to see them named",
    );
    for bad in ["pending", "expired"] {
        sqlx::query("UPDATE session_requests SET status = $2::request_status WHERE id = $1")
            .bind(request)
            .bind(bad)
            .execute(&pool)
            .await
            .unwrap();
        assert_eq!(names(&problems(&pool).await, live), 1, "a {bad} request of a refunded order");
    }

    // A session under way on a refunded order.
    let (order, request) = paid_request(&pool, customer, RoutingType::WorkshopOnly, Some(a)).await;
    let policy = autodoctor::offers::store::RoutingSettings::from_config(&app.state.config).policy;
    autodoctor::offers::accept::accept(
        &pool,
        autodoctor::ids::UserId(m),
        autodoctor::ids::RequestId(request),
        chrono::Utc::now(),
        &policy,
    )
    .await
    .unwrap();
    sqlx::query("UPDATE orders SET status = 'refunded' WHERE id = $1")
        .bind(order)
        .execute(&pool)
        .await
        .unwrap();
    let found = problems(&pool).await;
    assert_eq!(names(&found, live), 2, "the expired request above and this open session: {found:?}");
}

/// Every completed session has its report; one without is found.
#[sqlx::test(migrator = "autodoctor::db::MIGRATOR")]
async fn every_completed_session_has_its_report(pool: PgPool) {
    let app = TestApp::new(pool.clone());
    plan(&pool).await;
    let m = mechanic(&pool, "m@example.com", None, true).await;
    let (_, session) = completed_session(&app, m, RoutingType::Broadcast, None).await;
    assert_eq!(problems(&pool).await, Vec::<String>::new());
    app.leaves_invariants_broken(
        &["completed session without its diagnosis report"],
        "it deletes a completed session's report, to see it named",
    );
    sqlx::query("DELETE FROM session_reports WHERE session_id = $1")
        .bind(session)
        .execute(&pool)
        .await
        .unwrap();
    assert_eq!(
        problems(&pool).await,
        vec![format!("completed session without its diagnosis report: {session}")]
    );
}

/// What was paid is the price of what was bought; a payment that differs is held
/// (no request, nothing in the ledger, a reason), and an order never paid has no
/// payment.
#[sqlx::test(migrator = "autodoctor::db::MIGRATOR")]
async fn what_was_paid_is_the_price_and_a_mismatch_is_held(pool: PgPool) {
    plan(&pool).await;
    let customer = create_user(&pool, "c@example.com", Role::Customer).await;
    let (order, _) = paid_request(&pool, customer, RoutingType::Broadcast, None).await;
    assert_eq!(problems(&pool).await, Vec::<String>::new());

    // Paid one cent for a $29.00 plan, but fulfilled (the bug of the hardening issue).
    sqlx::query("UPDATE orders SET amount_paid_cents = 1 WHERE id = $1")
        .bind(order)
        .execute(&pool)
        .await
        .unwrap();
    let found = problems(&pool).await;
    assert_eq!(names(&found, "paid order whose payment differs from the price"), 1, "{found:?}");

    // Held as the webhook holds it: consistent. Held with its request or ledger entry: not.
    let (held, held_request) = paid_request(&pool, customer, RoutingType::Broadcast, None).await;
    sqlx::query("UPDATE orders SET amount_paid_cents = 2900 WHERE id = $1")
        .bind(order)
        .execute(&pool)
        .await
        .unwrap();
    let unpaid: uuid::Uuid = sqlx::query_scalar(
        "INSERT INTO orders (customer_id, request_key, plan_code, plan_name, plan_minutes, amount_cents, currency,
                             vehicle_make, vehicle_model, vehicle_year, problem_description, routing_type,
                             platform_fee_bps, referral_fee_bps, status, amount_paid_cents, held_reason, held_at)
         VALUES ($1, gen_random_uuid(), 'video15', 'Video diagnosis', 15, 2900, 'usd', 'Ford', 'Focus', 2012,
                 'Clunk over bumps at low speed.', 'broadcast', 2000, 1000, 'held', 1, 'Paid $0.01 for an order of $29.00.', now())
         RETURNING id",
    )
    .bind(customer)
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(problems(&pool).await, Vec::<String>::new(), "a held order is consistent");
    sqlx::query("UPDATE orders SET status = 'held', held_reason = 'x', held_at = now() WHERE id = $1")
        .bind(held)
        .execute(&pool)
        .await
        .unwrap();
    let found = problems(&pool).await;
    assert_eq!(names(&found, "held order"), 1, "held with a request and a payment posted: {found:?}");
    let _ = held_request;

    sqlx::query("UPDATE orders SET status = 'awaiting_payment', held_reason = NULL WHERE id = $1")
        .bind(unpaid)
        .execute(&pool)
        .await
        .unwrap();
    let found = problems(&pool).await;
    assert_eq!(names(&found, "order never paid with a payment recorded"), 1, "{found:?}");
}
