//! The public workshop page (404 unless active, reviews, first names only) and
//! the logo (upload by the owner, checks, stable cached URL).

use crate::photo_fixtures as fx;
use crate::testing::fixtures::{completed_session_for, mechanic, owner, plan, workshop};
use crate::testing::{create_user, TestApp, TestClient, TEST_PASSWORD};
use autodoctor::auth::Role;
use autodoctor::dispatch::RoutingType;
use axum::http::StatusCode;
use sqlx::PgPool;
use uuid::Uuid;

async fn described(pool: &PgPool, name: &str) -> Uuid {
    let w = workshop(pool, name).await;
    sqlx::query(
        "UPDATE organizations SET description = 'Family garage since 1982. Brakes, <b>clutches</b> and diagnostics.',
                specialties = '{Brakes,Diagnostics}' WHERE id = $1",
    )
    .bind(w)
    .execute(pool)
    .await
    .unwrap();
    w
}

#[sqlx::test]
async fn only_an_active_workshop_has_a_public_page(pool: PgPool) {
    let app = TestApp::new(pool.clone());
    let w = described(&pool, "Harbor Garage").await;
    let m = mechanic(&pool, "sam@example.com", Some(w), true).await;
    sqlx::query("UPDATE users SET name = 'Sam Rivera' WHERE id = $1").bind(m).execute(&pool).await.unwrap();
    sqlx::query("UPDATE mechanics SET specialties = '{Electrics}', years_experience = 12 WHERE user_id = $1")
        .bind(m)
        .execute(&pool)
        .await
        .unwrap();
    let mut c = app.client();
    let page = c.get(&format!("/workshops/{w}")).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    for shown in [
        "<h1 id=\"workshop-name\">Harbor Garage</h1>",
        "Family garage since 1982. Brakes, &lt;b&gt;clutches&lt;/b&gt; and diagnostics.",
        "<li>Diagnostics</li>",
        "Sam Rivera",
        "12 years of experience",
        "<li>Electrics</li>",
        "Online now",
        &format!("href=\"/book?workshop={w}\""),
        "<title>Harbor Garage in Lyon · autodoctor</title>",
        &format!("<link href=\"http://127.0.0.1:3000/workshops/{w}\" rel=\"canonical\""),
        "<meta property=\"og:title\" content=\"Harbor Garage in Lyon\"",
        "<meta name=\"description\" content=\"Harbor Garage in Lyon. Family garage since 1982.",
    ] {
        assert!(page.body.contains(shown), "the page shows {shown}");
    }
    assert!(!page.body.contains("<b>clutches"), "the description is escaped");
    assert!(!page.body.contains("<leptos-island"), "no island: the page downloads no WebAssembly");
    // The directory links to it.
    assert!(c.get("/workshops").await.body.contains(&format!("href=\"/workshops/{w}\"")));

    let pending: Uuid = sqlx::query_scalar(
        "INSERT INTO organizations (name, contact_email, city, status, description)
         VALUES ('Waiting Garage', 'p@example.com', 'Nantes', 'pending', 'Not approved yet') RETURNING id",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    sqlx::query("UPDATE organizations SET status = 'suspended' WHERE id = $1")
        .bind(w)
        .execute(&pool)
        .await
        .unwrap();
    for (id, hidden) in [(w.to_string(), "Family garage"), (pending.to_string(), "Not approved yet")] {
        let page = c.get(&format!("/workshops/{id}")).await;
        assert_eq!(page.status, StatusCode::NOT_FOUND, "{id}");
        assert!(page.body.contains("Workshop not found"));
        assert!(!page.body.contains(hidden), "nothing of the workshop is shown");
        let res = c.call("/api/public/workshops/page", &[("workshop_id", &id)]).await;
        assert_eq!(res.status, StatusCode::NOT_FOUND, "{}", res.body);
        assert!(!res.body.contains(hidden));
    }
    // The logged-in owner of the suspended workshop does not see it either.
    let o = owner(&pool, "owner@example.com", w).await;
    let mut oc = app.client();
    oc.log_in("owner@example.com", TEST_PASSWORD).await;
    assert_eq!(oc.get(&format!("/workshops/{w}")).await.status, StatusCode::NOT_FOUND, "owner {o}");
    for bad in [Uuid::new_v4().to_string(), "not-an-id".to_string()] {
        assert_eq!(c.get(&format!("/workshops/{bad}")).await.status, StatusCode::NOT_FOUND, "{bad}");
    }
    // The sign-up page at /workshops/join is still the sign-up page.
    assert!(c.get("/workshops/join").await.body.contains("Register your workshop"));
}

#[sqlx::test]
async fn reviews_paginate_newest_first_and_name_reviewers_by_first_name(pool: PgPool) {
    let app = TestApp::new(pool.clone());
    plan(&pool).await;
    let w = described(&pool, "Harbor Garage").await;
    let m = mechanic(&pool, "sam@example.com", Some(w), true).await;
    // Seven rated sessions, the newest first in this list, and one without a rating.
    let reviews: [(&str, i16, Option<&str>); 7] = [
        ("Alice Marchetti", 5, Some("Found the fault in ten minutes.")),
        ("Bruno Keller", 4, None),
        ("Chloé Dubois-Ferrand", 3, Some("<script>alert(1)</script> fine")),
        ("Dmitri Volkov", 5, Some("Clear advice.")),
        ("Elena Ruiz", 1, Some("Never showed up on video.")),
        ("Farid Haddad", 4, Some("Good.")),
        ("Greta Lindqvist", 5, Some("Saved me a tow.")),
    ];
    for (i, (name, rating, comment)) in reviews.iter().enumerate() {
        let email = format!("customer{i}@example.com");
        let customer = create_user(&pool, &email, Role::Customer).await;
        sqlx::query("UPDATE users SET name = $2 WHERE id = $1")
            .bind(customer)
            .bind(name)
            .execute(&pool)
            .await
            .unwrap();
        let (_, session) = completed_session_for(&app, customer, m, RoutingType::WorkshopOnly, Some(w)).await;
        // Rated as the room rates (the statistics follow), then moved back in time.
        autodoctor::sessions::room::rate_session(
            &pool,
            autodoctor::ids::SessionId(session),
            autodoctor::ids::UserId(customer),
            *rating,
            *comment,
        )
        .await
        .unwrap();
        sqlx::query("UPDATE sessions SET rated_at = now() - make_interval(hours => $2) WHERE id = $1")
            .bind(session)
            .bind(i as i32)
            .execute(&pool)
            .await
            .unwrap();
    }
    let unrated = create_user(&pool, "quiet@example.com", Role::Customer).await;
    completed_session_for(&app, unrated, m, RoutingType::WorkshopOnly, Some(w)).await;

    let mut c = app.client();
    let wid = w.to_string();
    let first = c.call("/api/public/workshops/page", &[("workshop_id", &wid)]).await.json();
    assert_eq!(first["distribution"], serde_json::json!([3, 2, 1, 0, 1]), "5, 4, 3, 2 and 1 stars");
    assert_eq!(first["pages"], 2);
    let authors = |page: &serde_json::Value| -> Vec<String> {
        page["reviews"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["first_name"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(authors(&first), ["Alice", "Bruno", "Chloé", "Dmitri", "Elena"]);
    assert_eq!(first["reviews"][0]["comment"], "Found the fault in ten minutes.");
    assert_eq!(first["reviews"][1]["comment"], serde_json::Value::Null);
    assert_eq!(first["reviews"][4]["rating"], 1);
    let second = c.call("/api/public/workshops/page", &[("workshop_id", &wid), ("page", "2")]).await.json();
    assert_eq!(authors(&second), ["Farid", "Greta"]);
    assert_eq!(second["page"], 2);
    let past = c.call("/api/public/workshops/page", &[("workshop_id", &wid), ("page", "3")]).await.json();
    assert_eq!(authors(&past), Vec::<String>::new());
    for bad in ["0", "-2", "two", "99999999999"] {
        let res = c.call("/api/public/workshops/page", &[("workshop_id", &wid), ("page", bad)]).await;
        assert_eq!(res.status, StatusCode::BAD_REQUEST, "{bad}: {}", res.body);
        assert_eq!(
            c.get(&format!("/workshops/{w}?page={bad}")).await.status,
            StatusCode::BAD_REQUEST,
            "{bad}"
        );
    }

    // The page: first names only, comments escaped, links to the other page.
    let html = c.get(&format!("/workshops/{w}")).await.body;
    for (name, ..) in reviews {
        let (first_name, surname) = name.split_once(' ').unwrap();
        assert!(!html.contains(surname), "no surname ({surname}) on the page");
        if ["Farid", "Greta"].contains(&first_name) {
            assert!(!html.contains(first_name), "{first_name} is on page 2");
        } else {
            assert!(
                html.contains(&format!("<strong class=\"review-author\">{first_name}</strong>")),
                "{first_name}"
            );
        }
    }
    assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt; fine"));
    assert!(html.contains("Reviews (7)"));
    assert!(html.contains("href=\"?page=2#reviews\""));
    assert!(html.contains("Page 1 of 2"));
    let html2 = c.get(&format!("/workshops/{w}?page=2")).await.body;
    assert!(
        html2.contains("<strong class=\"review-author\">Greta</strong>") && html2.contains("Saved me a tow.")
    );
    assert!(html2.contains("href=\"?page=1#reviews\"") && !html2.contains("Alice"));
}

const BOUNDARY: &str = "----autodoctor-logo-boundary-QZ3u";

fn logo_form(bytes: &[u8], content_type: &str) -> Vec<u8> {
    let mut body = format!(
        "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"logo\"; filename=\"logo\"\r\nContent-Type: {content_type}\r\n\r\n"
    )
    .into_bytes();
    body.extend_from_slice(bytes);
    body.extend(format!("\r\n--{BOUNDARY}--\r\n").as_bytes());
    body
}

async fn upload(c: &mut TestClient, bytes: &[u8], content_type: &str) -> crate::testing::TestResponse {
    c.post_raw(
        "/workshop/logo",
        &format!("multipart/form-data; boundary={BOUNDARY}"),
        logo_form(bytes, content_type),
        &[("origin", crate::testing::ORIGIN), ("sec-fetch-site", "same-origin")],
    )
    .await
}

#[sqlx::test]
async fn the_owner_uploads_a_logo_that_is_checked_cleaned_and_cached(pool: PgPool) {
    let app = TestApp::new(pool.clone());
    let w = described(&pool, "Harbor Garage").await;
    mechanic(&pool, "sam@example.com", Some(w), true).await;
    owner(&pool, "owner@example.com", w).await;
    let mut o = app.client();
    o.log_in("owner@example.com", TEST_PASSWORD).await;

    // Not an image, and not a file upload: refused, nothing kept.
    let res = upload(&mut o, b"Hello, this is a text file called logo.png", "image/png").await;
    assert_eq!(res.status, StatusCode::UNSUPPORTED_MEDIA_TYPE, "{}", res.body);
    let res = o.call("/workshop/logo", &[("logo", "x")]).await;
    assert_eq!(res.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let res = upload(&mut o, b"", "image/png").await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST);
    let kept: i64 = sqlx::query_scalar("SELECT count(*) FROM workshop_logos").fetch_one(&pool).await.unwrap();
    assert_eq!(kept, 0);
    // No logo yet: none on the page, and its URL is a 404.
    assert!(!o.get(&format!("/workshops/{w}")).await.body.contains("id=\"workshop-logo\""));
    assert_eq!(o.get(&format!("/api/workshops/{w}/logo")).await.status, StatusCode::NOT_FOUND);

    // A photo with a location in its EXIF: kept re-encoded, at most 320 pixels, without it.
    let res = upload(&mut o, &fx::jpeg_with_gps(1200, 600), "image/jpeg").await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.body);
    let url = res.json()["url"].as_str().unwrap().to_string();
    assert_eq!(url, format!("/api/workshops/{w}/logo?v=1"));
    let (width, height): (i32, i32) =
        sqlx::query_as("SELECT width, height FROM workshop_logos WHERE workshop_id = $1")
            .bind(w)
            .fetch_one(&pool)
            .await
            .unwrap();
    // The fixture's EXIF turns it a quarter: kept upright, 160 x 320.
    assert_eq!((width, height), (160, 320));
    let anon = app.client().get(&url).await;
    assert_eq!(anon.status, StatusCode::OK);
    assert_eq!(anon.header("content-type"), Some("image/jpeg"));
    assert_eq!(anon.header("cache-control"), Some("public, max-age=31536000, immutable"));
    assert_eq!(anon.header("etag"), Some("\"logo-1\""));
    let stored: Vec<u8> =
        sqlx::query_scalar("SELECT image FROM workshop_logos").fetch_one(&pool).await.unwrap();
    assert!(stored.starts_with(&[0xFF, 0xD8, 0xFF]));
    assert!(!stored.windows(4).any(|w| w == b"Exif"), "no EXIF survives");
    // The page and the directory card show it.
    assert!(o
        .get(&format!("/workshops/{w}"))
        .await
        .body
        .contains(&format!("src=\"{}\"", url.replace('&', "&amp;"))));
    assert!(o.get("/workshops").await.body.contains(&format!("src=\"{url}\"")));

    // A new logo is a new URL; the old one is no longer cached for long.
    let res = upload(&mut o, &fx::png(64, 64), "image/png").await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.body);
    assert_eq!(res.json()["url"], format!("/api/workshops/{w}/logo?v=2"));
    assert_eq!(o.get(&url).await.header("cache-control"), Some("public, max-age=300"));
    // A plain form post (no JavaScript) goes back to the dashboard.
    let res = o
        .post_raw(
            "/workshop/logo",
            &format!("multipart/form-data; boundary={BOUNDARY}"),
            logo_form(&fx::png(8, 8), "image/png"),
            &[("origin", crate::testing::ORIGIN), ("sec-fetch-site", "same-origin"), ("accept", "text/html")],
        )
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER);
    // A suspended workshop's logo is not served.
    sqlx::query("UPDATE organizations SET status = 'suspended' WHERE id = $1")
        .bind(w)
        .execute(&pool)
        .await
        .unwrap();
    assert_eq!(app.client().get(&format!("/api/workshops/{w}/logo?v=3")).await.status, StatusCode::NOT_FOUND);
}
