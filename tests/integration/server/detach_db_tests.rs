//! A request whose client hangs up still runs to the end (`detach`).

use crate::testing::fixtures::{mechanic, paid_request, plan};
use crate::testing::{create_user, TestApp, TEST_PASSWORD};
use autodoctor::dispatch::RoutingType;
use sqlx::PgPool;
use std::time::Duration;

#[sqlx::test(migrator = "autodoctor::db::MIGRATOR")]
async fn an_accept_whose_client_hangs_up_is_still_made_once(pool: PgPool) {
    plan(&pool).await;
    let m = mechanic(&pool, "m@example.com", None, true).await;
    let customer = create_user(&pool, "c@example.com", autodoctor::auth::Role::Customer).await;
    let (_, request) = paid_request(&pool, customer, RoutingType::Broadcast, None).await;
    let app = TestApp::new(pool.clone());
    let mut client = app.client();
    client.log_in("m@example.com", TEST_PASSWORD).await;

    // The mechanic's row is locked, so the accept waits inside the handler;
    // the client gives up meanwhile.
    let mut lock = pool.begin().await.unwrap();
    sqlx::query("SELECT 1 FROM mechanics WHERE user_id = $1 FOR UPDATE")
        .bind(m)
        .execute(&mut *lock)
        .await
        .unwrap();
    let id = request.to_string();
    let hung_up = tokio::time::timeout(
        Duration::from_millis(300),
        client.call("/api/mechanic/accept", &[("request_id", &id)]),
    )
    .await;
    assert!(hung_up.is_err(), "the call was still waiting for the lock");
    lock.commit().await.unwrap();

    // The accept goes on after the hang-up and is made, once.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        let (status, sessions): (String, i64) = sqlx::query_as(
            "SELECT r.status::text, (SELECT count(*) FROM sessions s WHERE s.request_id = r.id)
               FROM session_requests r WHERE r.id = $1",
        )
        .bind(request)
        .fetch_one(&pool)
        .await
        .unwrap();
        if status == "accepted" {
            assert_eq!(sessions, 1);
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "the hung-up accept was cut short: request {status}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let active: i32 = sqlx::query_scalar("SELECT active_sessions FROM mechanics WHERE user_id = $1")
        .bind(m)
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(active, 1);
}
