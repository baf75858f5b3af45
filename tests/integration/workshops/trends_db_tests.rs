//! The analytics over time equal what they count, on known data: week
//! boundaries (a session one second before Monday 00:00 UTC is last week's),
//! weeks without sessions, a session before the 12 weeks, and the CSV holds the
//! page's figures.

use crate::testing::fixtures::{completed_session_for, mechanic, owner, paid_request, plan, workshop};
use crate::testing::{create_user, TestApp, TEST_PASSWORD};
use autodoctor::auth::Role;
use autodoctor::dispatch::RoutingType;
use autodoctor::workshops::trends::{midnight, window, MechanicFigures, WeekFigures};
use axum::http::StatusCode;
use chrono::{DateTime, Duration, Utc};
use sqlx::PgPool;
use uuid::Uuid;

/// Moves a completed session to `at`: taken at `at` after `accept_secs`
/// waiting, rated then (if `rating`), its revenue credited then.
async fn place(pool: &PgPool, session: Uuid, at: DateTime<Utc>, accept_secs: i64, rating: Option<i16>) {
    sqlx::query(
        "UPDATE session_requests SET created_at = $2, accepted_at = $3
          WHERE id = (SELECT request_id FROM sessions WHERE id = $1)",
    )
    .bind(session)
    .bind(at - Duration::seconds(accept_secs))
    .bind(at)
    .execute(pool)
    .await
    .unwrap();
    if let Some(rating) = rating {
        // Rated as the room rates (the statistics follow), then moved in time below.
        let customer: Uuid = sqlx::query_scalar(
            "SELECT o.customer_id FROM sessions s JOIN orders o ON o.id = s.order_id WHERE s.id = $1",
        )
        .bind(session)
        .fetch_one(pool)
        .await
        .unwrap();
        autodoctor::sessions::room::rate_session(
            pool,
            autodoctor::ids::SessionId(session),
            autodoctor::ids::UserId(customer),
            rating,
            None,
        )
        .await
        .unwrap();
    }
    sqlx::query("UPDATE sessions SET created_at = $2, rated_at = CASE WHEN rating IS NULL THEN NULL ELSE $2 END WHERE id = $1")
        .bind(session)
        .bind(at)
        .execute(pool)
        .await
        .unwrap();
    // The ledger is append-only; this test moves its rows in time, and only this.
    sqlx::query("ALTER TABLE postings DISABLE TRIGGER postings_append_only").execute(pool).await.unwrap();
    sqlx::query("UPDATE postings SET created_at = $2 WHERE session_id = $1")
        .bind(session)
        .bind(at)
        .execute(pool)
        .await
        .unwrap();
    sqlx::query("ALTER TABLE postings ENABLE TRIGGER postings_append_only").execute(pool).await.unwrap();
}

fn empty(week_start: chrono::NaiveDate) -> WeekFigures {
    WeekFigures {
        week_start,
        sessions: 0,
        median_accept_seconds: None,
        requests_preferred: 0,
        preferred_served_by_self: 0,
        avg_rating: None,
        rating_count: 0,
        earnings_cents: 0,
    }
}

#[sqlx::test]
async fn weekly_figures_equal_what_they_count(pool: PgPool) {
    let app = TestApp::new(pool.clone());
    plan(&pool).await;
    let w = workshop(&pool, "Harbor Garage").await;
    let ana = mechanic(&pool, "ana@example.com", Some(w), true).await;
    let ben = mechanic(&pool, "ben@example.com", Some(w), true).await;
    for (id, name) in [(ana, "Ana Ortiz"), (ben, "Ben Okafor")] {
        sqlx::query("UPDATE users SET name = $2 WHERE id = $1")
            .bind(id)
            .bind(name)
            .execute(&pool)
            .await
            .unwrap();
    }
    let customer = create_user(&pool, "c@example.com", Role::Customer).await;
    let now = Utc::now();
    let (first, weeks) = window(now);
    let monday = midnight(weeks[11]);
    // (mechanic, when, seconds to accept, rating)
    let sessions = [
        (ana, monday - Duration::seconds(1), 30, Some(5)), // last week's last second
        (ana, monday, 90, Some(3)),                        // this week's first second
        (ben, monday + Duration::hours(1), 60, None),
        (ben, midnight(weeks[8]) + Duration::days(2), 120, Some(4)),
        (ana, first - Duration::seconds(1), 10, Some(1)), // before the 12 weeks
    ];
    for (m, at, accept, rating) in sessions {
        let (_, s) = completed_session_for(&app, customer, m, RoutingType::WorkshopOnly, Some(w)).await;
        place(&pool, s, at, accept, rating).await;
    }
    // A request that chose the workshop this week and that nobody took (yet).
    let (_, waiting) = paid_request(&pool, customer, RoutingType::WorkshopOnly, Some(w)).await;
    sqlx::query("UPDATE session_requests SET created_at = $2 WHERE id = $1")
        .bind(waiting)
        .bind(monday + Duration::hours(2))
        .execute(&pool)
        .await
        .unwrap();

    // Worked out by hand: each $100 session credits the workshop $80 (20% fee).
    let mut expected: Vec<WeekFigures> = weeks.iter().map(|d| empty(*d)).collect();
    expected[8] = WeekFigures {
        sessions: 1,
        median_accept_seconds: Some(120),
        requests_preferred: 1,
        preferred_served_by_self: 1,
        avg_rating: Some(4.0),
        rating_count: 1,
        earnings_cents: 8000,
        ..empty(weeks[8])
    };
    // Last week: its own session, and the request of this week's first session,
    // made 90 s before Monday 00:00 (requests count in the week they were made).
    expected[10] = WeekFigures {
        sessions: 1,
        median_accept_seconds: Some(30),
        requests_preferred: 2,
        preferred_served_by_self: 2,
        avg_rating: Some(5.0),
        rating_count: 1,
        earnings_cents: 8000,
        ..empty(weeks[10])
    };
    expected[11] = WeekFigures {
        sessions: 2,
        median_accept_seconds: Some(75),
        requests_preferred: 2,
        preferred_served_by_self: 1,
        avg_rating: Some(3.0),
        rating_count: 1,
        earnings_cents: 16000,
        ..empty(weeks[11])
    };
    let t = autodoctor::workshops::trends_queries::load(
        &pool,
        autodoctor::ids::WorkshopId(w),
        "Harbor Garage",
        now,
    )
    .await
    .unwrap();
    assert_eq!(t.weeks, expected);
    assert_eq!(t.weeks[11].acceptance_rate_percent(), Some(50));
    assert_eq!(t.weeks[9], empty(weeks[9]), "a week with no sessions is there, at zero");
    assert_eq!(
        t.mechanics,
        vec![
            MechanicFigures {
                mechanic_id: ana,
                name: "Ana Ortiz".into(),
                sessions: 2,
                median_accept_seconds: Some(60),
                avg_rating: Some(4.0),
                rating_count: 2,
                earnings_cents: 16000,
            },
            MechanicFigures {
                mechanic_id: ben,
                name: "Ben Okafor".into(),
                sessions: 2,
                median_accept_seconds: Some(90),
                avg_rating: Some(4.0),
                rating_count: 1,
                earnings_cents: 16000,
            },
        ]
    );

    // The owner's server function, the CSV and the dashboard show these figures.
    owner(&pool, "owner@example.com", w).await;
    let mut o = app.client();
    o.log_in("owner@example.com", TEST_PASSWORD).await;
    let res = o.call("/api/workshop/analytics", &[]).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    assert_eq!(res.json(), serde_json::to_value(&t).unwrap());
    let csv = o.get("/workshop/analytics.csv").await;
    assert_eq!(csv.status, StatusCode::OK);
    assert_eq!(csv.header("content-type"), Some("text/csv; charset=utf-8"));
    assert_eq!(csv.body, autodoctor::workshops::trends_csv::render(&t));
    let lines: Vec<&str> = csv.body.lines().collect();
    assert_eq!(lines.len(), 1 + 12 + 2);
    assert_eq!(lines[0], autodoctor::workshops::trends_csv::HEADER.trim_end());
    assert_eq!(lines[1], format!("week,{},,0,,,,0,0.00,USD", weeks[0]));
    assert_eq!(lines[9], format!("week,{},,1,120,100,4.00,1,80.00,USD", weeks[8]));
    assert_eq!(lines[11], format!("week,{},,1,30,100,5.00,1,80.00,USD", weeks[10]));
    assert_eq!(lines[12], format!("week,{},,2,75,50,3.00,1,160.00,USD", weeks[11]));
    assert_eq!(lines[13], format!("mechanic,{},Ana Ortiz,2,60,,4.00,2,160.00,USD", weeks[0]));
    assert_eq!(lines[14], format!("mechanic,{},Ben Okafor,2,90,,4.00,1,160.00,USD", weeks[0]));
    let page = o.get("/workshop").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("The last 12 weeks"));
    assert!(page.body.contains(&format!("<tr data-week=\"{}\"><th scope=\"row\">{}</th><td class=\"num\">2</td><td class=\"num\">1 min 15 s</td><td class=\"num\">50%</td><td class=\"num\">3.00 (1)</td>", weeks[11], weeks[11])), "the week's row");
    assert!(page.body.contains("href=\"/workshop/analytics.csv\""));
    assert!(page.body.contains("Sessions per week"), "the charts carry a text summary");

    // Staff of the workshop: no analytics, no CSV.
    let staff = create_user(&pool, "staff@example.com", Role::WorkshopMember).await;
    sqlx::query("INSERT INTO organization_members (organization_id, user_id, role) VALUES ($1, $2, 'staff')")
        .bind(w)
        .bind(staff)
        .execute(&pool)
        .await
        .unwrap();
    let mut s = app.client();
    s.log_in("staff@example.com", TEST_PASSWORD).await;
    assert_eq!(s.get("/workshop/analytics.csv").await.status, StatusCode::FORBIDDEN);
    assert_eq!(s.call("/api/workshop/analytics", &[]).await.status, StatusCode::FORBIDDEN);
    let staff_page = s.get("/workshop").await;
    assert_eq!(staff_page.status, StatusCode::OK);
    assert!(!staff_page.body.contains("The last 12 weeks"));
}
