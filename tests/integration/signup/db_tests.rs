//! Sign-ups confirmed by the emailed link, and forms that never say whether an
//! address has an account (issue 16, item 10f).

use crate::testing::{create_user, TestApp, TestClient, TEST_PASSWORD};
use autodoctor::auth::Role;
use axum::http::StatusCode;
use sqlx::PgPool;

const CUSTOMER: &str = "/api/public/auth/sign-up";
const MECHANIC: &str = "/api/public/mechanics/apply";
const WORKSHOP: &str = "/api/public/workshops/register";

fn form(path: &str, email: &str) -> Vec<(&'static str, String)> {
    let mut fields = vec![("email", email.to_string()), ("password", "a long password".to_string())];
    match path {
        CUSTOMER => fields.push(("name", "Nia New".into())),
        MECHANIC => fields.extend([
            ("name", "Nia New".into()),
            ("specialties", "Brakes".into()),
            ("years_experience", "4".into()),
            ("certifications", String::new()),
        ]),
        _ => fields.extend([
            ("owner_name", "Nia New".into()),
            ("workshop_name", format!("Nia's Garage {email}")),
            ("contact_email", String::new()),
            ("phone", String::new()),
            ("city", "Austin".into()),
            ("address", String::new()),
            ("description", String::new()),
            ("specialties", "Tyres".into()),
        ]),
    }
    fields
}

async fn post(client: &mut TestClient, path: &str, email: &str) -> crate::testing::TestResponse {
    let fields = form(path, email);
    let fields: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
    client.call(path, &fields).await
}

async fn count(pool: &PgPool, sql: &str) -> i64 {
    sqlx::query_scalar(sql).fetch_one(pool).await.unwrap()
}

#[sqlx::test(migrator = "autodoctor::db::MIGRATOR")]
async fn no_sign_up_form_tells_whether_an_address_has_an_account(pool: PgPool) {
    crate::testing::fixtures::plan(&pool).await;
    let app = TestApp::new(pool.clone());
    create_user(&pool, "taken@example.com", Role::Customer).await;
    for path in [CUSTOMER, MECHANIC, WORKSHOP] {
        let users = count(&pool, "SELECT count(*) FROM users").await;
        let (mut a, mut b) = (app.client(), app.client());
        let new = post(&mut a, path, &format!("new-{}@example.com", path.len())).await;
        let taken = post(&mut b, path, "TAKEN@example.com").await;
        // The same status, body and headers (apart from the per-request ones).
        assert_eq!((new.status, &new.body), (StatusCode::OK, &"\"/check-email\"".to_string()), "{path}");
        assert_eq!((taken.status, &taken.body), (new.status, &new.body), "{path}");
        let names = |r: &crate::testing::TestResponse| {
            let mut n: Vec<String> = r.headers.keys().map(|k| k.to_string()).collect();
            n.sort();
            n
        };
        assert_eq!(names(&new), names(&taken), "{path}");
        // Nobody is logged in and no account is created yet, by either.
        assert_eq!(a.whoami().await, None);
        assert_eq!(b.whoami().await, None);
        assert_eq!(count(&pool, "SELECT count(*) FROM users").await, users, "{path}");
    }
    // The taken address got three notices without a link; nothing of it changed.
    let notices: Vec<(String, String)> = sqlx::query_as(
        "SELECT kind, body_text FROM email_outbox WHERE to_email = 'taken@example.com' ORDER BY created_at, id",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    assert_eq!(notices.len(), 3);
    assert!(notices.iter().all(|(k, b)| k == "signup_existing" && !b.contains("/confirm/")));
    assert!(notices[1].1.contains("an independent mechanic's account"), "{}", notices[1].1);
    assert_eq!(
        count(&pool, "SELECT count(*) FROM pending_signups WHERE email = 'taken@example.com'").await,
        0
    );
    assert_eq!(count(&pool, "SELECT count(*) FROM organizations").await, 0);
    assert_eq!(count(&pool, "SELECT count(*) FROM mechanics").await, 0);
    // Each new address got one link.
    assert_eq!(count(&pool, "SELECT count(*) FROM email_outbox WHERE kind = 'signup_confirm'").await, 3);
    assert_eq!(count(&pool, "SELECT count(*) FROM pending_signups").await, 3);
}

#[sqlx::test(migrator = "autodoctor::db::MIGRATOR")]
async fn the_link_creates_the_account_once_with_what_was_typed(pool: PgPool) {
    crate::testing::fixtures::plan(&pool).await;
    let app = TestApp::new(pool.clone());

    // A workshop: the owner's account, the workshop (waiting for approval) and the membership.
    let mut owner = app.client();
    assert_eq!(post(&mut owner, WORKSHOP, "wanda@example.com").await.status, StatusCode::OK);
    let token = owner.sign_up_token("wanda@example.com").await.expect("a link");
    let page = app.client().get(&format!("/confirm/{token}")).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("wanda@example.com") && page.body.contains("your workshop"), "{}", page.body);
    assert_eq!(count(&pool, "SELECT count(*) FROM users").await, 0, "opening the link creates nothing");
    let res = owner.call("/api/public/auth/confirm", &[("token", &token)]).await;
    assert_eq!((res.status, res.body.as_str()), (StatusCode::OK, "\"/workshop\""));
    assert_eq!(owner.whoami().await.as_deref(), Some("wanda@example.com"));
    let (status, city, specialties, member_role): (String, String, Vec<String>, String) = sqlx::query_as(
        "SELECT o.status::text, o.city, o.specialties, m.role::text FROM organizations o
           JOIN organization_members m ON m.organization_id = o.id JOIN users u ON u.id = m.user_id
          WHERE u.email = 'wanda@example.com'",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(
        (status.as_str(), city.as_str(), specialties, member_role.as_str()),
        ("pending", "Austin", vec!["Tyres".to_string()], "owner")
    );
    // Used: a second post is a 404, the page says so, and the stored email lost the token.
    let again = app.client().call("/api/public/auth/confirm", &[("token", &token)]).await;
    assert_eq!(again.status, StatusCode::NOT_FOUND);
    assert!(again.app_error().to_string().contains("not valid"), "{}", again.body);
    assert_eq!(app.client().get(&format!("/confirm/{token}")).await.status, StatusCode::NOT_FOUND);
    assert_eq!(count(&pool, "SELECT count(*) FROM organizations").await, 1);
    let stored: String =
        sqlx::query_scalar("SELECT body_text FROM email_outbox WHERE to_email = 'wanda@example.com'")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert!(!stored.contains(&token), "{stored}");

    // An independent mechanic: the application, waiting for the admin.
    let mut mech = app.client();
    post(&mut mech, MECHANIC, "ivan@example.com").await;
    let res = mech.confirm_sign_up("ivan@example.com").await.expect("a link");
    assert_eq!((res.status, res.body.as_str()), (StatusCode::OK, "\"/mechanic\""));
    let (kind, years, application): (String, i32, String) = sqlx::query_as(
        "SELECT m.account_type::text, m.years_experience, m.application_status::text FROM mechanics m
           JOIN users u ON u.id = m.user_id WHERE u.email = 'ivan@example.com'",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!((kind.as_str(), years, application.as_str()), ("independent", 4, "pending"));

    // The password typed at sign-up is the one that logs in.
    let mut again = app.client();
    assert_eq!(again.log_in("ivan@example.com", "a long password").await.status, StatusCode::OK);
    assert_eq!(app.client().log_in("ivan@example.com", TEST_PASSWORD).await.status, StatusCode::BAD_REQUEST);
}

#[sqlx::test(migrator = "autodoctor::db::MIGRATOR")]
async fn forged_expired_and_raced_links_create_nothing(pool: PgPool) {
    let app = TestApp::new(pool.clone());
    let mut c = app.client();
    post(&mut c, CUSTOMER, "nia@example.com").await;
    let token = c.sign_up_token("nia@example.com").await.unwrap();
    let mut forged = token.clone();
    forged.replace_range(0..1, if token.starts_with('A') { "B" } else { "A" });
    for bad in [forged.as_str(), "short", "", &"x".repeat(5000), "../../etc/passwd"] {
        let res = app.client().call("/api/public/auth/confirm", &[("token", bad)]).await;
        assert_eq!(res.status, StatusCode::NOT_FOUND, "{bad:.20}: {}", res.body);
        let res = app.client().call("/api/public/auth/pending", &[("token", bad)]).await;
        assert_eq!(res.status, StatusCode::NOT_FOUND, "{bad:.20}");
    }
    assert_eq!(count(&pool, "SELECT count(*) FROM users").await, 0);
    // Expired.
    sqlx::query("UPDATE pending_signups SET expires_at = now() - interval '1 second'")
        .execute(&pool)
        .await
        .unwrap();
    assert_eq!(
        app.client().call("/api/public/auth/confirm", &[("token", &token)]).await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(count(&pool, "SELECT count(*) FROM users").await, 0);

    // Two links for one address, both used: one account; the other link is moot.
    post(&mut app.client(), CUSTOMER, "twice@example.com").await;
    let first = c.sign_up_token("twice@example.com").await.unwrap();
    post(&mut app.client(), CUSTOMER, "twice@example.com").await;
    let second = c.sign_up_token("twice@example.com").await.unwrap();
    assert_ne!(first, second);
    let (r1, r2) = tokio::join!(
        async { app.client().call("/api/public/auth/confirm", &[("token", &first)]).await },
        async { app.client().call("/api/public/auth/confirm", &[("token", &second)]).await },
    );
    let mut statuses = [r1.status, r2.status];
    statuses.sort();
    assert!(statuses[0] == StatusCode::OK && statuses[1].is_client_error(), "{statuses:?}");
    assert_eq!(count(&pool, "SELECT count(*) FROM users WHERE email = 'twice@example.com'").await, 1);
    assert_eq!(
        count(&pool, "SELECT count(*) FROM pending_signups WHERE email = 'twice@example.com'").await,
        0
    );
}
