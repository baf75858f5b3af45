//! Profiles their owners edit: the workshop's (its owner only) and the
//! mechanic's (the mechanic only), and the header's name after a rename.

use crate::testing::fixtures::{mechanic, owner, workshop};
use crate::testing::{create_user, fingerprint, TestApp, TEST_PASSWORD};
use autodoctor::auth::Role;
use axum::http::StatusCode;
use sqlx::PgPool;
use uuid::Uuid;

async fn profile(pool: &PgPool, w: Uuid) -> (String, String, String, String, Vec<String>) {
    sqlx::query_as("SELECT name, city, address, description, specialties FROM organizations WHERE id = $1")
        .bind(w)
        .fetch_one(pool)
        .await
        .unwrap()
}

const FORM: &[(&str, &str)] = &[
    ("name", "Alpha Motors"),
    ("city", "Lyon"),
    ("address", "3 quai <Perrache>"),
    ("description", "Brakes, clutches & <b>diagnostics</b> since 1990."),
    ("specialties", "Brakes, Clutches"),
];

#[sqlx::test(migrator = "autodoctor::db::MIGRATOR")]
async fn only_the_owner_edits_the_workshops_profile(pool: PgPool) {
    let app = TestApp::new(pool.clone());
    let a = workshop(&pool, "Alpha").await;
    let b = workshop(&pool, "Beta").await;
    owner(&pool, "owner-a@example.com", a).await;
    owner(&pool, "owner-b@example.com", b).await;
    let staff = create_user(&pool, "staff-a@example.com", Role::WorkshopMember).await;
    sqlx::query("INSERT INTO organization_members (organization_id, user_id, role) VALUES ($1, $2, 'staff')")
        .bind(a)
        .bind(staff)
        .execute(&pool)
        .await
        .unwrap();
    mechanic(&pool, "mech-a@example.com", Some(a), true).await;
    create_user(&pool, "cust@example.com", Role::Customer).await;
    create_user(&pool, "admin@example.com", Role::Admin).await;

    let before = profile(&pool, a).await;
    for (who, status) in [
        (None, StatusCode::UNAUTHORIZED),
        (Some("staff-a@example.com"), StatusCode::FORBIDDEN),
        (Some("mech-a@example.com"), StatusCode::FORBIDDEN),
        (Some("cust@example.com"), StatusCode::FORBIDDEN),
        (Some("admin@example.com"), StatusCode::FORBIDDEN),
    ] {
        let mut c = app.client();
        if let Some(email) = who {
            c.log_in(email, TEST_PASSWORD).await;
        }
        let res = c.call("/api/workshop/profile/save", FORM).await;
        assert_eq!(res.status, status, "{who:?}: {}", res.body);
        assert_eq!(c.call("/api/workshop/profile", &[]).await.status, status, "{who:?} reads");
    }
    assert_eq!(profile(&pool, a).await, before, "nobody but the owner changed it");

    // Owner B edits their own workshop only: the form names no workshop.
    let mut owner_b = app.client();
    owner_b.log_in("owner-b@example.com", TEST_PASSWORD).await;
    assert_eq!(owner_b.call("/api/workshop/profile/save", FORM).await.status, StatusCode::OK);
    assert_eq!(profile(&pool, a).await, before);
    assert_eq!(profile(&pool, b).await.0, "Alpha Motors");

    let mut owner_a = app.client();
    owner_a.log_in("owner-a@example.com", TEST_PASSWORD).await;
    let res = owner_a.call("/api/workshop/profile/save", FORM).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    assert_eq!(
        profile(&pool, a).await,
        (
            "Alpha Motors".into(),
            "Lyon".into(),
            "3 quai <Perrache>".into(),
            "Brakes, clutches & <b>diagnostics</b> since 1990.".into(),
            vec!["Brakes".into(), "Clutches".into()]
        )
    );
    let read = owner_a.call("/api/workshop/profile", &[]).await.json();
    assert_eq!(read["description"], "Brakes, clutches & <b>diagnostics</b> since 1990.");

    // At once everywhere: the directory's JSON and the owner's dashboard page (escaped).
    let directory = app.client().get("/api/workshops/directory?q=Alpha%20Motors").await;
    assert!(directory.body.contains("Alpha Motors"), "{}", directory.body);
    let page = owner_a.get("/workshop").await;
    assert!(
        page.body.contains("Brakes, clutches &amp; &lt;b&gt;diagnostics&lt;/b&gt; since 1990."),
        "{}",
        page.body
    );
    assert!(!page.body.contains("<b>diagnostics</b>"));
    let form = owner_a.get("/workshop/profile").await;
    assert_eq!(form.status, StatusCode::OK);
    assert!(form.body.contains("value=\"Alpha Motors\""), "{}", form.body);

    // Bad input: a clear 400 on the field, and nothing changes.
    let saved = profile(&pool, a).await;
    let long = "x".repeat(2001);
    let many = (0..21).map(|i| format!("s{i}")).collect::<Vec<_>>().join(",");
    for (field, value) in [
        ("name", " "),
        ("name", "x"),
        ("city", ""),
        ("description", long.as_str()),
        ("specialties", many.as_str()),
        ("name", "Nul\0Garage"),
    ] {
        let fields: Vec<(&str, &str)> =
            FORM.iter().map(|&(k, v)| if k == field { (k, value) } else { (k, v) }).collect();
        let res = owner_a.call("/api/workshop/profile/save", &fields).await;
        assert_eq!(res.status, StatusCode::BAD_REQUEST, "{field}={value:?}: {}", res.body);
        assert!(res.app_error().field_message(field).is_some(), "{field}: {}", res.body);
    }
    assert_eq!(profile(&pool, a).await, saved);
    let before = fingerprint(&pool).await;
    let missing = owner_a.call("/api/workshop/profile/save", &[("name", "Only a name")]).await;
    assert_eq!(missing.status, StatusCode::BAD_REQUEST, "{}", missing.body);
    assert_eq!(fingerprint(&pool).await, before);
}

#[sqlx::test(migrator = "autodoctor::db::MIGRATOR")]
async fn a_mechanic_edits_their_own_profile_only(pool: PgPool) {
    let app = TestApp::new(pool.clone());
    let a = workshop(&pool, "Alpha").await;
    let ma = mechanic(&pool, "mech-a@example.com", Some(a), true).await;
    let mb = mechanic(&pool, "mech-b@example.com", None, true).await;
    owner(&pool, "owner-a@example.com", a).await;
    create_user(&pool, "cust@example.com", Role::Customer).await;
    let row = |m: Uuid| {
        let pool = pool.clone();
        async move {
            sqlx::query_as::<_, (String, Vec<String>, i32)>(
                "SELECT bio, specialties, years_experience FROM mechanics WHERE user_id = $1",
            )
            .bind(m)
            .fetch_one(&pool)
            .await
            .unwrap()
        }
    };
    let form = [
        ("bio", "Twenty years on <German> cars."),
        ("specialties", "Diagnostics, Electrics"),
        ("years_experience", "20"),
    ];
    for (who, status) in [
        (None, StatusCode::UNAUTHORIZED),
        (Some("owner-a@example.com"), StatusCode::FORBIDDEN),
        (Some("cust@example.com"), StatusCode::FORBIDDEN),
    ] {
        let mut c = app.client();
        if let Some(email) = who {
            c.log_in(email, TEST_PASSWORD).await;
        }
        assert_eq!(c.call("/api/mechanic/bio/save", &form).await.status, status, "{who:?}");
        assert_eq!(c.call("/api/mechanic/bio", &[]).await.status, status, "{who:?}");
    }
    let b_before = row(mb).await;
    let mut mech = app.client();
    mech.log_in("mech-a@example.com", TEST_PASSWORD).await;
    let res = mech.call("/api/mechanic/bio/save", &form).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    assert_eq!(
        row(ma).await,
        ("Twenty years on <German> cars.".into(), vec!["Diagnostics".into(), "Electrics".into()], 20)
    );
    assert_eq!(row(mb).await, b_before, "another mechanic's profile is untouched");
    assert_eq!(mech.call("/api/mechanic/bio", &[]).await.json()["years_experience"], 20);
    let page = mech.get("/mechanic/profile").await;
    assert!(page.body.contains("Twenty years on &lt;German&gt; cars."), "{}", page.body);
    // Stored text cannot close the textarea and become markup.
    let hostile = [
        ("bio", "</textarea><b id=\"injected\">x</b>"),
        ("specialties", "Brakes"),
        ("years_experience", "20"),
    ];
    assert_eq!(mech.call("/api/mechanic/bio/save", &hostile).await.status, StatusCode::OK);
    let page = mech.get("/mechanic/profile").await;
    assert!(!page.body.contains("<b id=\"injected\">"), "{}", page.body);
    assert!(page.body.contains("&lt;/textarea&gt;&lt;b id=\"injected\"&gt;x&lt;/b&gt;"), "{}", page.body);

    let long = "x".repeat(1001);
    for (field, value) in [
        ("years_experience", "71"),
        ("years_experience", "-1"),
        ("years_experience", "ten"),
        ("bio", long.as_str()),
        ("specialties", ""),
    ] {
        let fields: Vec<(&str, &str)> =
            form.iter().map(|&(k, v)| if k == field { (k, value) } else { (k, v) }).collect();
        let res = mech.call("/api/mechanic/bio/save", &fields).await;
        assert_eq!(res.status, StatusCode::BAD_REQUEST, "{field}={value:?}: {}", res.body);
        assert!(res.app_error().field_message(field).is_some(), "{field}: {}", res.body);
    }
    assert_eq!(row(ma).await.2, 20, "bad input changed nothing");
}

/// A renamed person sees the new name in the header on the next page, without
/// logging in again (the header reads the user from the database on every request).
#[sqlx::test(migrator = "autodoctor::db::MIGRATOR")]
async fn a_renamed_user_sees_the_new_name_in_the_header(pool: PgPool) {
    let app = TestApp::new(pool.clone());
    create_user(&pool, "cust@example.com", Role::Customer).await;
    let mut c = app.client();
    c.log_in("cust@example.com", TEST_PASSWORD).await;
    let header_name = |body: &str| {
        let start = body.find("id=\"signed-in-as\"").expect("the header names the person");
        let rest = &body[start..];
        rest[rest.find('>').unwrap() + 1..rest.find("</span>").unwrap()].replace("<!-- -->", "")
    };
    assert_eq!(header_name(&c.get("/sessions").await.body), "Test Person");
    assert_eq!(c.call("/api/account/name", &[("name", "Renamed <Person>")]).await.status, StatusCode::OK);
    assert_eq!(header_name(&c.get("/sessions").await.body), "Renamed &lt;Person&gt;");
}
