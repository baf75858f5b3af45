//! The directory's filter and orders on known data, and its live counts.

use crate::testing::fixtures::{mechanic, workshop};
use crate::testing::TestApp;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use sqlx::PgPool;
use uuid::Uuid;

/// Four workshops with known figures:
///
/// | name  | online / total | rating (count) | median accept |
/// |-------|----------------|----------------|---------------|
/// | Alpha | 1 / 2          | 4.00 (2)       | 300 s         |
/// | Bravo | 0 / 1          | 5.00 (1)       | 60 s          |
/// | Charl | 2 / 2          | none           | none          |
/// | Delta | 1 / 1          | 3.00 (3)       | 30 s          |
/// A workshop's name, its mechanics (online or not), its rating (sum, count) and
/// its time to accept in seconds.
type Known = (&'static str, &'static [bool], Option<(i64, i64)>, Option<i32>);

async fn known(pool: &PgPool) -> [Uuid; 4] {
    let mut ids = [Uuid::nil(); 4];
    let figures: [Known; 4] = [
        ("Alpha", &[true, false], Some((8, 2)), Some(300)),
        ("Bravo", &[false], Some((5, 1)), Some(60)),
        ("Charl", &[true, true], None, None),
        ("Delta", &[true], Some((9, 3)), Some(30)),
    ];
    for (i, (name, mechanics, rating, accept)) in figures.into_iter().enumerate() {
        let w = workshop(pool, name).await;
        for (j, online) in mechanics.iter().enumerate() {
            mechanic(pool, &format!("m{j}.{name}@example.com").to_lowercase(), Some(w), *online).await;
        }
        let (sum, count) = rating.unwrap_or((0, 0));
        sqlx::query(
            "UPDATE workshop_stats SET rating_sum = $2, rating_count = $3, median_accept_secs_30d = $4
              WHERE workshop_id = $1",
        )
        .bind(w)
        .bind(sum)
        .bind(count)
        .bind(accept)
        .execute(pool)
        .await
        .unwrap();
        ids[i] = w;
    }
    ids
}

fn names(json: &serde_json::Value) -> Vec<String> {
    json["workshops"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["workshop_name"].as_str().unwrap().to_string())
        .collect()
}

#[sqlx::test]
async fn the_directory_filters_online_and_sorts_by_rating_or_time_to_accept(pool: PgPool) {
    let app = TestApp::new(pool.clone());
    app.leaves_invariants_broken(
        &["workshop whose session or rating statistics are wrong"],
        "it writes the directory's ratings and counts directly, without the sessions behind them",
    );
    known(&pool).await;
    let mut c = app.client();
    for (query, expected, total) in [
        ("", vec!["Charl", "Alpha", "Delta", "Bravo"], 4),
        ("?online=1", vec!["Charl", "Alpha", "Delta"], 3),
        ("?sort=rating", vec!["Bravo", "Alpha", "Delta", "Charl"], 4),
        ("?sort=accept", vec!["Delta", "Bravo", "Alpha", "Charl"], 4),
        ("?sort=accept&online=1", vec!["Delta", "Alpha", "Charl"], 3),
        ("?sort=rating&online=1", vec!["Alpha", "Delta", "Charl"], 3),
        ("?sort=online&online=0&q=a", vec!["Charl", "Alpha", "Delta", "Bravo"], 4),
        // A page of two, then the rest: no workshop twice, none left out.
        ("?sort=accept&limit=2", vec!["Delta", "Bravo"], 4),
        ("?sort=accept&limit=2&offset=2", vec!["Alpha", "Charl"], 4),
    ] {
        let res = c.get(&format!("/api/workshops/directory{query}")).await;
        assert_eq!(res.status, StatusCode::OK, "{query}: {}", res.body);
        let json = res.json();
        assert_eq!(names(&json), expected, "{query}");
        assert_eq!(json["total"], total, "{query}");
    }
    // The page shows the same order, keeps the choices in its form, and links
    // every card to the workshop's page.
    let page = c.get("/workshops?sort=rating&online=1").await;
    assert_eq!(page.status, StatusCode::OK);
    let at = |name: &str| page.body.find(&format!("data-workshop-name=\"{name}\"")).unwrap_or(usize::MAX);
    assert!(at("Alpha") < at("Delta") && at("Delta") < at("Charl"), "page order");
    assert_eq!(at("Bravo"), usize::MAX, "Bravo has nobody online");
    assert!(page.body.contains("value=\"rating\" selected"), "the order stays chosen");
    assert!(page.body.contains("id=\"directory-online\" checked"), "the filter stays on");
    assert!(page.body.contains("<script src=\"/directory.js\" defer"), "the live counts' script");
    assert!(!page.body.contains("<leptos-island"), "the directory has no island (no WebAssembly)");
    // Bad values are a 400 with a sentence, on the page and in JSON.
    for bad in ["?sort=price", "?online=maybe", "?sort=%00"] {
        let res = c.get(&format!("/api/workshops/directory{bad}")).await;
        assert_eq!(res.status, StatusCode::BAD_REQUEST, "{bad}");
        assert!(
            res.body.contains("sort must be") || res.body.contains("online must be"),
            "{bad}: {}",
            res.body
        );
        let page = c.get(&format!("/workshops{bad}")).await;
        assert_eq!(page.status, StatusCode::BAD_REQUEST, "{bad}");
    }
}

#[sqlx::test]
async fn the_live_directory_sends_counts_only(pool: PgPool) {
    let app = TestApp::new(pool.clone());
    app.leaves_invariants_broken(
        &["workshop whose session or rating statistics are wrong"],
        "it writes the directory's ratings and counts directly, without the sessions behind them",
    );
    let [alpha, bravo, charl, _] = known(&pool).await;
    let stream = |ids: String| {
        Request::builder().uri(format!("/api/live/directory?ids={ids}")).body(Body::empty()).unwrap()
    };
    let mut c = app.client();
    let res = c.first_event(stream(format!("{alpha},{bravo}"))).await;
    assert_eq!(res.status, StatusCode::OK);
    assert_eq!(res.header("content-type"), Some("text/event-stream"));
    let data: serde_json::Value = serde_json::from_str(
        res.body.lines().find_map(|l| l.strip_prefix("data: ")).expect("a counts event"),
    )
    .unwrap();
    assert!(res.body.starts_with("event: counts"), "{}", res.body);
    // Alpha 1 of 2, Bravo 0 of 1; anywhere 4 (Alpha 1, Charl 2, Delta 1).
    let mut expected = vec![
        serde_json::json!({"workshop_id": alpha, "available_mechanics": 1, "total_mechanics": 2}),
        serde_json::json!({"workshop_id": bravo, "available_mechanics": 0, "total_mechanics": 1}),
    ];
    expected.sort_by_key(|v| v["workshop_id"].as_str().unwrap().to_string());
    assert_eq!(data, serde_json::json!({"any_available": 4, "workshops": expected}));

    // A mechanic of Charl goes offline: the counts say so.
    sqlx::query("UPDATE mechanics SET is_online = false WHERE workshop_id = $1 AND user_id = (SELECT user_id FROM mechanics WHERE workshop_id = $1 LIMIT 1)")
        .bind(charl)
        .execute(&pool)
        .await
        .unwrap();
    let counts = autodoctor::directory::live::counts(&pool, &[charl]).await.unwrap();
    assert_eq!(counts.any_available, 3);
    assert_eq!(counts.workshops[0].available_mechanics, 1);
    // A suspended workshop's counts are not sent.
    sqlx::query("UPDATE organizations SET status = 'suspended' WHERE id = $1")
        .bind(charl)
        .execute(&pool)
        .await
        .unwrap();
    assert!(autodoctor::directory::live::counts(&pool, &[charl]).await.unwrap().workshops.is_empty());

    for bad in ["nonsense", "%2C%2C"] {
        let res = c.first_event(stream(bad.into())).await;
        assert_eq!(res.status, StatusCode::BAD_REQUEST, "{bad}");
    }
}
