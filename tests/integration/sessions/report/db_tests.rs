//! The report on a real database, through the real router: who may write and
//! read it, ending a session needs it (and mails it once), and share links.

use crate::testing::fixtures::{mechanic, paid_request, plan, workshop};
use crate::testing::{create_user, ChangeWatch, TestApp, TestClient, TEST_PASSWORD};
use autodoctor::auth::Role;
use autodoctor::dispatch::RoutingType;
use axum::http::StatusCode;
use sqlx::PgPool;
use uuid::Uuid;

const CUSTOMER_NAME: &str = "Casey Customerson";
const CUSTOMER_EMAIL: &str = "casey.customerson@example.com";
const MECHANIC_NAME: &str = "Sam Mechanicson";
const PROBLEM: &str = "Clunk over bumps at low speed.";

struct World {
    app: TestApp,
    session: Uuid,
    customer: TestClient,
    mechanic: TestClient,
}

async fn client(app: &TestApp, email: &str) -> TestClient {
    let mut c = app.client();
    let res = c.log_in(email, TEST_PASSWORD).await;
    assert_eq!(res.status, StatusCode::OK, "log in {email}: {}", res.body);
    c
}

/// A customer and a mechanic of workshop Alpha in an open session; another
/// customer, another mechanic and an admin exist too.
async fn world(pool: &PgPool) -> World {
    plan(pool).await;
    let a = workshop(pool, "Alpha").await;
    let b = workshop(pool, "Beta").await;
    let m = mechanic(pool, "sam@example.com", Some(a), true).await;
    mechanic(pool, "other.mech@example.com", Some(b), true).await;
    let c = create_user(pool, CUSTOMER_EMAIL, Role::Customer).await;
    create_user(pool, "other@example.com", Role::Customer).await;
    create_user(pool, "admin@example.com", Role::Admin).await;
    sqlx::query!("UPDATE users SET name = $2 WHERE id = $1", c, CUSTOMER_NAME).execute(pool).await.unwrap();
    sqlx::query!("UPDATE users SET name = $2 WHERE id = $1", m, MECHANIC_NAME).execute(pool).await.unwrap();
    let (_, request) = paid_request(pool, c, RoutingType::WorkshopOnly, Some(a)).await;
    let app = TestApp::new(pool.clone());
    let policy = autodoctor::offers::store::RoutingSettings::from_config(&app.state.config).policy;
    let session = autodoctor::offers::accept::accept(
        pool,
        autodoctor::ids::UserId(m),
        autodoctor::ids::RequestId(request),
        chrono::Utc::now(),
        &policy,
    )
    .await
    .unwrap();
    let customer = client(&app, CUSTOMER_EMAIL).await;
    let mechanic = client(&app, "sam@example.com").await;
    World { app, session, customer, mechanic }
}

fn report_form(session: &str) -> Vec<(&'static str, String)> {
    vec![
        ("session_id", session.to_string()),
        ("summary", "The front left wheel bearing is worn.".into()),
        ("likely_causes", "Age; a pothole last winter.".into()),
        ("safe_to_drive", "with_care".into()),
        ("follow_ups", "Check the other bearings at the next service.".into()),
        ("repairs[0][description]", "Replace the front left wheel bearing".into()),
        ("repairs[0][urgency]", "soon".into()),
        ("repairs[0][cost_min]", "$180".into()),
        ("repairs[0][cost_max]", "260.50".into()),
        // A blank row, as the form always sends some.
        ("repairs[1][description]", "".into()),
        ("repairs[1][urgency]", "soon".into()),
        ("repairs[1][cost_min]", "".into()),
        ("repairs[1][cost_max]", "".into()),
        ("repairs[2][description]", "Align the wheels".into()),
        ("repairs[2][urgency]", "can_wait".into()),
        ("repairs[2][cost_min]", "80".into()),
        ("repairs[2][cost_max]", "".into()),
    ]
}

async fn save(c: &mut TestClient, fields: &[(&'static str, String)]) -> crate::testing::TestResponse {
    let fields: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
    c.call("/api/session/report/save", &fields).await
}

async fn repairs(pool: &PgPool, session: Uuid) -> Vec<(i16, String, i64, i64)> {
    sqlx::query!(
        "SELECT position, description, cost_min_cents, cost_max_cents FROM session_report_repairs
          WHERE session_id = $1 ORDER BY position",
        session
    )
    .fetch_all(pool)
    .await
    .unwrap()
    .into_iter()
    .map(|r| (r.position, r.description, r.cost_min_cents, r.cost_max_cents))
    .collect()
}

async fn report_mails(pool: &PgPool) -> Vec<(String, String)> {
    sqlx::query!("SELECT to_email, body_text FROM email_outbox WHERE kind = 'session_report'")
        .fetch_all(pool)
        .await
        .unwrap()
        .into_iter()
        .map(|r| (r.to_email, r.body_text))
        .collect()
}

#[sqlx::test(migrator = "autodoctor::db::MIGRATOR")]
async fn ending_needs_the_report_and_mails_it_exactly_once(pool: PgPool) {
    let mut w = world(&pool).await;
    let sid = w.session.to_string();
    let mut watch = ChangeWatch::install(&pool).await;

    // Without a report: refused, and nothing at all changed (no postings, same status).
    let res = w.mechanic.call("/api/session/end", &[("session_id", &sid)]).await;
    assert_eq!(res.status, StatusCode::CONFLICT, "{}", res.body);
    assert_eq!(res.app_error().to_string(), "Write the diagnosis report before ending the session.");
    assert_eq!(watch.changes().await, Vec::<String>::new());
    let status = sqlx::query_scalar!("SELECT status::text FROM sessions WHERE id = $1", w.session)
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(status.as_deref(), Some("accepted"));
    let postings = sqlx::query_scalar!(
        r#"SELECT count(*) AS "n!" FROM journal_entries WHERE session_id = $1"#,
        w.session
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(postings, 0);

    // With it: the session ends, the money is split, and the customer gets the report by email.
    let res = save(&mut w.mechanic, &report_form(&sid)).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    assert!(report_mails(&pool).await.is_empty(), "saving mails nothing");
    let res = w.mechanic.call("/api/session/end", &[("session_id", &sid)]).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    let postings = sqlx::query_scalar!(
        r#"SELECT count(*) AS "n!" FROM journal_entries WHERE session_id = $1"#,
        w.session
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(postings, 1);
    let mails = report_mails(&pool).await;
    assert_eq!(mails.len(), 1);
    let (to, body) = &mails[0];
    assert_eq!(to, CUSTOMER_EMAIL);
    assert!(body.contains("The front left wheel bearing is worn."), "{body}");
    assert!(
        body.contains("Replace the front left wheel bearing (urgency: soon; $180.00 – $260.50)"),
        "{body}"
    );
    assert!(body.contains("Align the wheels (urgency: can wait; $80.00)"), "{body}");
    assert!(body.contains(&format!("{}/session/{sid}/report", crate::testing::ORIGIN)), "{body}");

    // Ending twice: refused, still one mail and one posting.
    watch.settle().await;
    let res = w.mechanic.call("/api/session/end", &[("session_id", &sid)]).await;
    assert_eq!(res.status, StatusCode::CONFLICT);
    assert_eq!(watch.changes().await, Vec::<String>::new());
    assert_eq!(report_mails(&pool).await.len(), 1);
    // Mailing again directly (a retry) queues nothing either.
    let mut tx = pool.begin().await.unwrap();
    autodoctor::sessions::report::store::mail_on_end(
        &mut tx,
        autodoctor::ids::SessionId(w.session),
        crate::testing::ORIGIN,
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    assert_eq!(report_mails(&pool).await.len(), 1);
}

#[sqlx::test(migrator = "autodoctor::db::MIGRATOR")]
async fn only_the_sessions_mechanic_writes_it_while_the_session_is_open(pool: PgPool) {
    let mut w = world(&pool).await;
    let sid = w.session.to_string();
    let mut other_mechanic = client(&w.app, "other.mech@example.com").await;
    let mut watch = ChangeWatch::install(&pool).await;

    // The customer, another mechanic, an unknown session, nobody: refused, nothing changed.
    for (who, status) in
        [(&mut w.customer, StatusCode::FORBIDDEN), (&mut other_mechanic, StatusCode::NOT_FOUND)]
    {
        assert_eq!(save(who, &report_form(&sid)).await.status, status);
    }
    let mut anon = w.app.client();
    assert_eq!(save(&mut anon, &report_form(&sid)).await.status, StatusCode::UNAUTHORIZED);
    let stranger_session = Uuid::new_v4().to_string();
    assert_eq!(save(&mut w.mechanic, &report_form(&stranger_session)).await.status, StatusCode::NOT_FOUND);
    assert_eq!(watch.changes().await, Vec::<String>::new());

    // Bad input: a 400 naming the fields, nothing changed.
    let mut bad = report_form(&sid);
    bad[1].1 = "   ".into();
    bad[3].1 = "maybe".into();
    bad[7].1 = "-5".into();
    bad[15].1 = "lots".into();
    let res = save(&mut w.mechanic, &bad).await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST);
    let e = res.app_error();
    assert!(e.field_message("summary").is_some());
    assert!(e.field_message("safe_to_drive").is_some());
    assert_eq!(e.field_message("repairs[0][cost_min]").as_deref(), Some("Costs cannot be negative."));
    assert!(e.field_message("repairs[2][cost_min]").is_some());
    assert_eq!(watch.changes().await, Vec::<String>::new());

    // The mechanic saves it; blank rows are skipped; money is exact cents.
    assert_eq!(save(&mut w.mechanic, &report_form(&sid)).await.status, StatusCode::OK);
    assert_eq!(
        repairs(&pool, w.session).await,
        vec![
            (1, "Replace the front left wheel bearing".to_string(), 18000, 26050),
            (2, "Align the wheels".to_string(), 8000, 8000),
        ]
    );
    // Saving again replaces it (one report, the new repairs), and the room shows it.
    let mut again = report_form(&sid);
    again.truncate(9);
    again[1].1 = "Both front wheel bearings are worn.".into();
    let res = save(&mut w.mechanic, &again).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    let reports = sqlx::query_scalar!(r#"SELECT count(*) AS "n!" FROM session_reports"#)
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(reports, 1);
    assert_eq!(repairs(&pool, w.session).await.len(), 1);
    let room = w.customer.call("/api/session/room", &[("session_id", &sid)]).await.json();
    assert_eq!(room["report"]["summary"], "Both front wheel bearings are worn.");
    assert_eq!(room["report"]["repairs"][0]["cost_max_cents"], 26050);

    // The chat stays open after the clock ran out, and so does the report.
    sqlx::query!(
        "UPDATE sessions SET status = 'active', started_at = now() - interval '2 hours' WHERE id = $1",
        w.session
    )
    .execute(&pool)
    .await
    .unwrap();
    assert_eq!(save(&mut w.mechanic, &report_form(&sid)).await.status, StatusCode::OK);

    // Once the session has ended, it can no longer change.
    assert_eq!(w.mechanic.call("/api/session/end", &[("session_id", &sid)]).await.status, StatusCode::OK);
    watch.settle().await;
    let res = save(&mut w.mechanic, &again).await;
    assert_eq!(res.status, StatusCode::CONFLICT);
    assert!(res.app_error().to_string().contains("can no longer be changed"));
    assert_eq!(watch.changes().await, Vec::<String>::new());
}

#[sqlx::test(migrator = "autodoctor::db::MIGRATOR")]
async fn a_plain_form_post_saves_the_report_without_javascript(pool: PgPool) {
    let mut w = world(&pool).await;
    let sid = w.session.to_string();
    let fields = report_form(&sid);
    let fields: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let res = w.mechanic.form_post("/api/session/report/save", &fields).await;
    assert!(res.status.is_redirection(), "{} {}", res.status, res.body);
    assert_eq!(repairs(&pool, w.session).await.len(), 2);
}

#[sqlx::test(migrator = "autodoctor::db::MIGRATOR")]
async fn the_customer_the_mechanic_and_admins_read_it_strangers_do_not(pool: PgPool) {
    let mut w = world(&pool).await;
    let sid = w.session.to_string();
    let page = format!("/session/{sid}/report");
    // Before it is written: the page says so.
    let res = w.customer.get(&page).await;
    assert_eq!(res.status, StatusCode::OK);
    assert!(res.body.contains("has not written the report yet"));
    assert_eq!(save(&mut w.mechanic, &report_form(&sid)).await.status, StatusCode::OK);

    let mut admin = client(&w.app, "admin@example.com").await;
    for c in [&mut w.customer, &mut w.mechanic, &mut admin] {
        let res = c.call("/api/session/report", &[("session_id", &sid)]).await;
        assert_eq!(res.status, StatusCode::OK, "{}", res.body);
        let p = res.json();
        assert_eq!(p["report"]["summary"], "The front left wheel bearing is worn.");
        assert_eq!(p["report"]["safe_to_drive"], "with_care");
        let html = c.get(&page).await;
        assert_eq!(html.status, StatusCode::OK);
        assert!(html.body.contains("The front left wheel bearing is worn."));
        assert!(html.body.contains("$180.00 – $260.50"));
    }
    // Only the customer manages links.
    assert!(w.customer.get(&page).await.body.contains("Make a share link"));
    assert!(!admin.get(&page).await.body.contains("Make a share link"));

    let mut other_customer = client(&w.app, "other@example.com").await;
    let mut other_mechanic = client(&w.app, "other.mech@example.com").await;
    for c in [&mut other_customer, &mut other_mechanic] {
        let res = c.call("/api/session/report", &[("session_id", &sid)]).await;
        assert_eq!(res.status, StatusCode::NOT_FOUND);
        let html = c.get(&page).await;
        assert_eq!(html.status, StatusCode::NOT_FOUND);
        assert!(!html.body.contains("wheel bearing"));
    }
    let mut anon = w.app.client();
    assert_eq!(
        anon.call("/api/session/report", &[("session_id", &sid)]).await.status,
        StatusCode::UNAUTHORIZED
    );
    assert!(!anon.get(&page).await.body.contains("wheel bearing"));
}

#[sqlx::test(migrator = "autodoctor::db::MIGRATOR")]
async fn share_links_valid_revoked_and_wrong_tokens(pool: PgPool) {
    let mut w = world(&pool).await;
    let sid = w.session.to_string();
    let mut other_customer = client(&w.app, "other@example.com").await;
    let mut watch = ChangeWatch::install(&pool).await;
    // Nothing to share before the report exists; the mechanic never makes links.
    let res = w.customer.call("/api/session/report/share", &[("session_id", &sid)]).await;
    assert_eq!(res.status, StatusCode::CONFLICT);
    assert_eq!(watch.changes().await, Vec::<String>::new());
    assert_eq!(save(&mut w.mechanic, &report_form(&sid)).await.status, StatusCode::OK);
    assert_eq!(
        w.mechanic.call("/api/session/chat", &[("session_id", &sid), ("body", "Report done")]).await.status,
        StatusCode::OK
    );
    assert_eq!(w.mechanic.call("/api/session/end", &[("session_id", &sid)]).await.status, StatusCode::OK);
    watch.settle().await;
    assert_eq!(
        w.mechanic.call("/api/session/report/share", &[("session_id", &sid)]).await.status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        other_customer.call("/api/session/report/share", &[("session_id", &sid)]).await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(watch.changes().await, Vec::<String>::new());

    // A valid link: anyone opens it, without an account, and sees nothing personal.
    let res = w.customer.call("/api/session/report/share", &[("session_id", &sid)]).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    let token = res.json().as_str().unwrap().to_string();
    let stored = sqlx::query!("SELECT token_hash, revoked_at IS NULL AS active FROM report_shares")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(
        stored.token_hash,
        autodoctor::sessions::report::shares::hash(&token),
        "only the hash is kept"
    );
    assert_eq!(stored.active, Some(true));
    let mut anon = w.app.client();
    let page = anon.get(&format!("/report/{token}")).await;
    assert_eq!(page.status, StatusCode::OK);
    for shown in
        ["The front left wheel bearing is worn.", "2012 Ford Focus", "Video diagnosis", "$180.00 – $260.50"]
    {
        assert!(page.body.contains(shown), "the share page shows {shown}");
    }
    assert!(page.body.contains(r#"name="robots" content="noindex"#), "not indexed");
    for personal in
        [CUSTOMER_NAME, CUSTOMER_EMAIL, MECHANIC_NAME, "sam@example.com", PROBLEM, "Alpha", "Report done"]
    {
        assert!(!page.body.contains(personal), "the share page shows {personal}");
    }
    let api = anon.call("/api/public/report", &[("token", &token)]).await;
    assert_eq!(api.status, StatusCode::OK);
    for personal in [CUSTOMER_NAME, CUSTOMER_EMAIL, MECHANIC_NAME, PROBLEM] {
        assert!(!api.body.contains(personal), "the share data carries {personal}");
    }
    // The customer sees the link listed as working.
    let listed = w.customer.call("/api/session/report", &[("session_id", &sid)]).await.json();
    assert_eq!(listed["shares"].as_array().unwrap().len(), 1);
    let share_id = listed["shares"][0]["id"].as_str().unwrap().to_string();

    // Wrong tokens: well-formed but unknown, malformed: a 404 page with a message.
    let (unknown, _) = autodoctor::sessions::report::shares::new_token();
    for bad in [unknown.as_str(), "not-a-token", &token[..42]] {
        let res = anon.get(&format!("/report/{bad}")).await;
        assert_eq!(res.status, StatusCode::NOT_FOUND, "{bad}");
        assert!(res.body.contains("not valid"));
        assert!(!res.body.contains("wheel bearing"));
    }

    // Only its customer revokes it; then it stops working, and revoking again is a conflict.
    watch.settle().await;
    for (c, status) in
        [(&mut other_customer, StatusCode::NOT_FOUND), (&mut w.mechanic, StatusCode::FORBIDDEN)]
    {
        assert_eq!(
            c.call("/api/session/report/share/revoke", &[("share_id", &share_id)]).await.status,
            status
        );
    }
    assert_eq!(watch.changes().await, Vec::<String>::new());
    let res = w.customer.call("/api/session/report/share/revoke", &[("share_id", &share_id)]).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    let res = anon.get(&format!("/report/{token}")).await;
    assert_eq!(res.status, StatusCode::NOT_FOUND);
    assert!(!res.body.contains("wheel bearing"));
    assert_eq!(anon.call("/api/public/report", &[("token", &token)]).await.status, StatusCode::NOT_FOUND);
    watch.settle().await;
    let res = w.customer.call("/api/session/report/share/revoke", &[("share_id", &share_id)]).await;
    assert_eq!(res.status, StatusCode::CONFLICT);
    assert_eq!(watch.changes().await, Vec::<String>::new());
}

#[sqlx::test(migrator = "autodoctor::db::MIGRATOR")]
async fn active_links_are_limited(pool: PgPool) {
    let mut w = world(&pool).await;
    let sid = w.session.to_string();
    assert_eq!(save(&mut w.mechanic, &report_form(&sid)).await.status, StatusCode::OK);
    for _ in 0..autodoctor::sessions::report::ACTIVE_SHARES_MAX {
        assert_eq!(
            w.customer.call("/api/session/report/share", &[("session_id", &sid)]).await.status,
            StatusCode::OK
        );
    }
    let res = w.customer.call("/api/session/report/share", &[("session_id", &sid)]).await;
    assert_eq!(res.status, StatusCode::CONFLICT);
    assert!(res.app_error().to_string().contains("Revoke one"));
}

/// Stored report text that looks like markup comes back into the mechanic's
/// form as text: a `</textarea>` in it does not end the field and add elements.
#[sqlx::test(migrator = "autodoctor::db::MIGRATOR")]
async fn stored_report_text_is_written_into_the_form_escaped(pool: PgPool) {
    let mut w = world(&pool).await;
    let sid = w.session.to_string();
    let hostile = "Bearing </textarea><b id=\"injected\">worn</b> & noisy";
    let mut fields = report_form(&sid);
    for (name, value) in fields.iter_mut() {
        if matches!(*name, "summary" | "likely_causes" | "follow_ups") {
            *value = format!("{name}: {hostile}");
        }
    }
    assert_eq!(save(&mut w.mechanic, &fields).await.status, StatusCode::OK);
    let page = w.mechanic.get(&format!("/session/{sid}")).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(!page.body.contains("<b id=\"injected\">"), "stored text became markup");
    for name in ["summary", "likely_causes", "follow_ups"] {
        let escaped =
            format!("{name}: Bearing &lt;/textarea&gt;&lt;b id=\"injected\"&gt;worn&lt;/b&gt; &amp; noisy");
        assert!(page.body.contains(&escaped), "{name} is in its field as text");
    }
}
