//! Mail to mechanics who are online with no dashboard open (issue 18): who is
//! mailed about what, at most once per interval and once per request, not
//! while a dashboard is open on any instance, and once under two instances.

use crate::testing::fixtures::{mechanic, paid_request, plan, workshop};
use crate::testing::{create_user, test_config, TestApp, ORIGIN, TEST_PASSWORD};
use autodoctor::auth::Role;
use autodoctor::dispatch::RoutingType;
use autodoctor::offers::mail::offer_mail_tick;
use autodoctor::offers::store::RoutingSettings;
use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use chrono::{Duration, Utc};
use sqlx::PgPool;
use tower::ServiceExt;
use uuid::Uuid;

fn settings() -> RoutingSettings {
    RoutingSettings::from_config(&test_config())
}

const INTERVAL: Duration = Duration::seconds(300);

/// The new-offers mails sent to `to`, oldest first: (subject, text, unsubscribe URL).
async fn mails(pool: &PgPool, to: &str) -> Vec<(String, String, Option<String>)> {
    sqlx::query_as(
        "SELECT subject, body_text, unsubscribe_url FROM email_outbox
          WHERE kind = 'new_offers' AND to_email = $1 ORDER BY created_at, id",
    )
    .bind(to)
    .fetch_all(pool)
    .await
    .unwrap()
}

/// What was told to `m`, as (request, how), by request id.
async fn told(pool: &PgPool, m: Uuid) -> Vec<(Uuid, String)> {
    sqlx::query_as("SELECT request_id, how FROM offers_told WHERE mechanic_id = $1 ORDER BY request_id")
        .bind(m)
        .fetch_all(pool)
        .await
        .unwrap()
}

fn sorted(mut v: Vec<(Uuid, String)>) -> Vec<(Uuid, String)> {
    v.sort();
    v
}

/// The lines of a mail that list a request.
fn listed(text: &str) -> usize {
    text.lines().filter(|l| l.starts_with("- Video diagnosis (15 min), 2012 Ford Focus: ")).count()
}

#[sqlx::test(migrator = "autodoctor::db::MIGRATOR")]
async fn an_online_mechanic_with_no_dashboard_is_mailed_each_request_once_and_at_most_once_per_interval(
    pool: PgPool,
) {
    plan(&pool).await;
    let m = mechanic(&pool, "indie@example.com", None, true).await;
    let customer = create_user(&pool, "c@example.com", Role::Customer).await;
    let (_, r1) = paid_request(&pool, customer, RoutingType::Broadcast, None).await;
    let t0 = Utc::now();

    assert_eq!(offer_mail_tick(&pool, t0, &settings(), INTERVAL).await.unwrap(), 1);
    let sent = mails(&pool, "indie@example.com").await;
    assert_eq!(sent.len(), 1, "{sent:?}");
    let (subject, text, unsubscribe) = &sent[0];
    assert_eq!(subject, "A customer is waiting for a mechanic");
    assert!(text.starts_with("Hello Test Person,"), "{text}");
    assert_eq!(listed(text), 1, "{text}");
    assert!(text.contains("Clunk over bumps at low speed."), "the problem, as on the dashboard: {text}");
    assert!(text.contains(&format!("{ORIGIN}/mechanic")), "{text}");
    assert!(text.contains("at most one such email every 5 min"), "{text}");
    let unsubscribe = unsubscribe.as_deref().expect("a List-Unsubscribe address");
    assert!(text.contains(unsubscribe), "{text}");
    assert_eq!(told(&pool, m).await, vec![(r1, "mail".to_string())]);

    // The same request is never mailed again.
    assert_eq!(offer_mail_tick(&pool, t0 + Duration::seconds(20), &settings(), INTERVAL).await.unwrap(), 0);
    // Two new requests within the interval wait for it...
    let (_, r2) = paid_request(&pool, customer, RoutingType::Broadcast, None).await;
    let (_, r3) = paid_request(&pool, customer, RoutingType::Broadcast, None).await;
    assert_eq!(offer_mail_tick(&pool, t0 + Duration::seconds(299), &settings(), INTERVAL).await.unwrap(), 0);
    assert_eq!(mails(&pool, "indie@example.com").await.len(), 1);
    // ...and then go out together, in one mail that lists only them.
    assert_eq!(offer_mail_tick(&pool, t0 + Duration::seconds(300), &settings(), INTERVAL).await.unwrap(), 1);
    let sent = mails(&pool, "indie@example.com").await;
    assert_eq!(sent.len(), 2, "{sent:?}");
    assert_eq!(sent[1].0, "2 customers are waiting for a mechanic");
    assert_eq!(listed(&sent[1].1), 2, "{}", sent[1].1);
    assert_eq!(
        told(&pool, m).await,
        sorted(vec![(r1, "mail".into()), (r2, "mail".into()), (r3, "mail".into())])
    );

    // A request someone took is not mailed, even after the interval.
    let (_, r4) = paid_request(&pool, customer, RoutingType::Broadcast, None).await;
    sqlx::query("UPDATE session_requests SET status = 'cancelled', closed_at = now() WHERE id = $1")
        .bind(r4)
        .execute(&pool)
        .await
        .unwrap();
    assert_eq!(offer_mail_tick(&pool, t0 + Duration::seconds(900), &settings(), INTERVAL).await.unwrap(), 0);
    assert_eq!(mails(&pool, "indie@example.com").await.len(), 2);
}

#[sqlx::test(migrator = "autodoctor::db::MIGRATOR")]
async fn only_what_is_offered_goes_to_online_mechanics_who_want_optional_mail(pool: PgPool) {
    plan(&pool).await;
    let (a, b) = (workshop(&pool, "Alpha Garage").await, workshop(&pool, "Beta Garage").await);
    let a1 = mechanic(&pool, "a1@example.com", Some(a), true).await;
    let b1 = mechanic(&pool, "b1@example.com", Some(b), true).await;
    let offline = mechanic(&pool, "offline@example.com", None, false).await;
    let quiet = mechanic(&pool, "quiet@example.com", None, true).await;
    sqlx::query("UPDATE users SET optional_mail = false WHERE id = $1")
        .bind(quiet)
        .execute(&pool)
        .await
        .unwrap();
    let customer = create_user(&pool, "c@example.com", Role::Customer).await;

    // A workshop-only request for Alpha is offered to Alpha's mechanic alone.
    let (_, only_a) = paid_request(&pool, customer, RoutingType::WorkshopOnly, Some(a)).await;
    assert_eq!(offer_mail_tick(&pool, Utc::now(), &settings(), INTERVAL).await.unwrap(), 1);
    let to_a1 = mails(&pool, "a1@example.com").await;
    assert_eq!(to_a1.len(), 1);
    assert!(to_a1[0].1.contains("The customer chose your workshop."), "{}", to_a1[0].1);
    assert_eq!(told(&pool, a1).await, vec![(only_a, "mail".to_string())]);
    for (who, id) in [("b1@example.com", b1), ("offline@example.com", offline), ("quiet@example.com", quiet)]
    {
        assert!(mails(&pool, who).await.is_empty(), "{who}");
        assert!(told(&pool, id).await.is_empty(), "{who}");
    }

    // Once switched back on, the quiet mechanic is mailed what is offered now.
    sqlx::query("UPDATE users SET optional_mail = true WHERE id = $1")
        .bind(quiet)
        .execute(&pool)
        .await
        .unwrap();
    let (_, open) = paid_request(&pool, customer, RoutingType::Broadcast, None).await;
    assert_eq!(offer_mail_tick(&pool, Utc::now(), &settings(), INTERVAL).await.unwrap(), 2, "b1 and quiet");
    assert_eq!(told(&pool, quiet).await, vec![(open, "mail".to_string())]);
    assert_eq!(told(&pool, b1).await, vec![(open, "mail".to_string())]);
    assert!(mails(&pool, "offline@example.com").await.is_empty());
    assert_eq!(mails(&pool, "a1@example.com").await.len(), 1, "a1 was mailed less than 5 minutes ago");
}

/// Opens the mechanic's live offers the way the dashboard does; the stream
/// stays open while the response is kept.
async fn open_dashboard(app: &TestApp, email: &str) -> axum::response::Response {
    let mut client = app.client();
    assert_eq!(client.log_in(email, TEST_PASSWORD).await.status, StatusCode::OK);
    let req = Request::get("/api/live/offers")
        .header(header::COOKIE, client.cookie.clone().unwrap())
        .body(Body::empty())
        .unwrap();
    let res = app.router.clone().oneshot(req).await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    res
}

async fn presence(pool: &PgPool, m: Uuid) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM offer_stream_presence WHERE mechanic_id = $1")
        .bind(m)
        .fetch_one(pool)
        .await
        .unwrap()
}

#[sqlx::test(migrator = "autodoctor::db::MIGRATOR")]
async fn an_open_dashboard_on_any_instance_means_no_mail_and_a_closed_or_dead_one_means_mail(pool: PgPool) {
    plan(&pool).await;
    let (one, two) = (TestApp::new(pool.clone()), TestApp::new(pool.clone()));
    let m = mechanic(&pool, "indie@example.com", None, true).await;
    let customer = create_user(&pool, "c@example.com", Role::Customer).await;

    // The dashboard is open on instance two; instance one's worker sends nothing.
    let dashboard = open_dashboard(&two, "indie@example.com").await;
    assert_eq!(presence(&pool, m).await, 1);
    let (_, seen) = paid_request(&pool, customer, RoutingType::Broadcast, None).await;
    assert_eq!(offer_mail_tick(one.pool(), Utc::now(), &settings(), INTERVAL).await.unwrap(), 0);
    assert!(mails(&pool, "indie@example.com").await.is_empty());
    assert_eq!(told(&pool, m).await, vec![(seen, "live".to_string())], "seen on the dashboard");

    // The tab is closed: the row goes, and what comes next is mailed (not what was seen).
    drop(dashboard);
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(5);
    while presence(&pool, m).await > 0 {
        assert!(tokio::time::Instant::now() < deadline, "the closed stream's row stays");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let (_, next) = paid_request(&pool, customer, RoutingType::Broadcast, None).await;
    assert_eq!(offer_mail_tick(one.pool(), Utc::now(), &settings(), INTERVAL).await.unwrap(), 1);
    let sent = mails(&pool, "indie@example.com").await;
    assert_eq!(sent.len(), 1);
    assert_eq!(listed(&sent[0].1), 1, "only the request not seen: {}", sent[0].1);
    assert_eq!(told(&pool, m).await, sorted(vec![(seen, "live".into()), (next, "mail".into())]));

    // An instance that died with a dashboard open leaves a row nobody touches:
    // once it is stale, the mechanic counts as away.
    let m2 = mechanic(&pool, "indie2@example.com", None, true).await;
    sqlx::query(
        "INSERT INTO offer_stream_presence (stream_id, mechanic_id, opened_at, seen_at)
         VALUES (gen_random_uuid(), $1, now() - interval '10 minutes', now() - interval '46 seconds')",
    )
    .bind(m2)
    .execute(&pool)
    .await
    .unwrap();
    assert_eq!(offer_mail_tick(one.pool(), Utc::now(), &settings(), INTERVAL).await.unwrap(), 1);
    assert_eq!(mails(&pool, "indie2@example.com").await.len(), 1);
    assert_eq!(told(&pool, m2).await, sorted(vec![(seen, "mail".into()), (next, "mail".into())]));

    // A stream touches its row while it is open.
    let p = autodoctor::offers::presence::Presence::open(&pool, autodoctor::ids::UserId(m2)).await.unwrap();
    sqlx::query(
        "UPDATE offer_stream_presence SET seen_at = now() - interval '1 hour' WHERE mechanic_id = $1",
    )
    .bind(m2)
    .execute(&pool)
    .await
    .unwrap();
    p.touch().await;
    let fresh: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM offer_stream_presence WHERE mechanic_id = $1 AND seen_at > now() - interval '5 seconds'",
    )
    .bind(m2)
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(fresh, 1, "the touched row is fresh, the dead instance's is not");
}

#[sqlx::test(migrator = "autodoctor::db::MIGRATOR")]
async fn two_instances_mail_each_mechanic_once(pool: PgPool) {
    plan(&pool).await;
    let (one, two) = (TestApp::new(pool.clone()), TestApp::new(pool.clone()));
    let mechanics = [
        mechanic(&pool, "m1@example.com", None, true).await,
        mechanic(&pool, "m2@example.com", None, true).await,
        mechanic(&pool, "m3@example.com", None, true).await,
    ];
    let customer = create_user(&pool, "c@example.com", Role::Customer).await;
    let (t0, settings) = (Utc::now(), settings());
    for round in 0..8 {
        let (_, request) = paid_request(&pool, customer, RoutingType::Broadcast, None).await;
        let at = t0 + Duration::seconds(301 * round);
        let (x, y) = tokio::join!(
            offer_mail_tick(one.pool(), at, &settings, INTERVAL),
            offer_mail_tick(two.pool(), at, &settings, INTERVAL)
        );
        let (x, y) = (x.unwrap(), y.unwrap());
        assert_eq!(x + y, 3, "round {round}: one mail per mechanic ({x} + {y})");
        for (i, m) in mechanics.iter().enumerate() {
            let sent = mails(&pool, &format!("m{}@example.com", i + 1)).await;
            assert_eq!(sent.len() as i64, round + 1, "round {round}, m{}", i + 1);
            assert_eq!(listed(&sent[round as usize].1), 1, "{}", sent[round as usize].1);
            let mailed: Vec<Uuid> = told(&pool, *m).await.into_iter().map(|(r, _)| r).collect();
            assert!(mailed.contains(&request), "round {round}");
        }
    }
}
