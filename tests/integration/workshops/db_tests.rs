//! Workshops, invites, mechanics and the admin's decisions, through the HTTP stack.

use crate::testing::{create_user, TestApp, TestClient, TEST_PASSWORD};
use autodoctor::auth::Role;
use autodoctor::error::AppError;
use axum::http::StatusCode;
use sqlx::PgPool;
use uuid::Uuid;

async fn logged_in(app: &TestApp, email: &str, role: Role) -> (TestClient, Uuid) {
    let id = create_user(app.pool(), email, role).await;
    let mut c = app.client();
    let res = c.log_in(email, TEST_PASSWORD).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    (c, id)
}

/// Registers a workshop through the public form; returns its logged-in owner and id.
async fn register(app: &TestApp, owner_email: &str, name: &str) -> (TestClient, Uuid) {
    let mut owner = app.client();
    let res = owner
        .call(
            "/api/public/workshops/register",
            &[
                ("owner_name", "Olive Owner"),
                ("email", owner_email),
                ("password", "owner password"),
                ("workshop_name", name),
                ("contact_email", ""),
                ("phone", "+1 555 0199"),
                ("city", "Denver"),
                ("address", "5 Oak Road"),
                ("description", "We fix things."),
                ("specialties", "Brakes, Diagnostics"),
            ],
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    let res = owner.confirm_sign_up(owner_email).await.expect("a confirmation link");
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    let id: Uuid = sqlx::query_scalar("SELECT id FROM organizations WHERE name = $1")
        .bind(name)
        .fetch_one(app.pool())
        .await
        .unwrap();
    (owner, id)
}

async fn decide(
    admin: &mut TestClient,
    workshop: Uuid,
    decision: &str,
    reason: &str,
) -> crate::testing::TestResponse {
    let id = workshop.to_string();
    admin
        .call(
            "/api/admin/workshop/decide",
            &[("workshop_id", &id), ("decision", decision), ("reason", reason)],
        )
        .await
}

/// An active workshop with its owner logged in.
async fn active_workshop(
    app: &TestApp,
    admin: &mut TestClient,
    owner_email: &str,
    name: &str,
) -> (TestClient, Uuid) {
    let (owner, id) = register(app, owner_email, name).await;
    assert_eq!(decide(admin, id, "approve", "").await.status, StatusCode::OK);
    (owner, id)
}

async fn invite(owner: &mut TestClient, email: &str) -> crate::testing::TestResponse {
    owner.call("/api/workshop/invite", &[("email", email)]).await
}

/// The token in the newest invite email to `email`.
async fn token_from_outbox(pool: &PgPool, email: &str) -> String {
    let body: String = sqlx::query_scalar(
        "SELECT body_text FROM email_outbox WHERE to_email = $1 ORDER BY created_at DESC, id LIMIT 1",
    )
    .bind(email)
    .fetch_one(pool)
    .await
    .expect("an invite email");
    let start = body.find("/invite/").expect("a link") + "/invite/".len();
    body[start..].split_whitespace().next().unwrap().to_string()
}

async fn accept(client: &mut TestClient, token: &str, name: &str) -> crate::testing::TestResponse {
    client
        .call(
            "/api/public/invites/accept",
            &[
                ("token", token),
                ("name", name),
                ("password", "mechanic password"),
                ("specialties", "Brakes, EV"),
                ("years_experience", "6"),
                ("certifications", "ASE"),
            ],
        )
        .await
}

async fn details_state(client: &mut TestClient, token: &str) -> String {
    let res = client.call("/api/public/invites/details", &[("token", token)]).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    res.json()["state"].as_str().unwrap().to_string()
}

#[sqlx::test(migrator = "autodoctor::db::MIGRATOR")]
async fn a_registered_workshop_waits_for_approval(pool: PgPool) {
    let app = TestApp::new(pool.clone());
    let (mut owner, id) = register(&app, "olive@example.com", "Olive Autos").await;
    let (status, fee, contact): (String, i32, String) = sqlx::query_as(
        "SELECT status::text, platform_fee_bps, contact_email FROM organizations WHERE id = $1",
    )
    .bind(id)
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!((status.as_str(), fee, contact.as_str()), ("pending", 2000, "olive@example.com"));
    let terms: i64 =
        sqlx::query_scalar("SELECT count(*) FROM organization_fee_terms WHERE organization_id = $1")
            .bind(id)
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(terms, 1, "the standard terms are on record from the start");

    let dash = owner.call("/api/workshop/dashboard", &[]).await;
    assert_eq!(dash.status, StatusCode::OK, "{}", dash.body);
    assert_eq!(dash.json()["workshop"]["status"], "pending");
    assert_eq!(dash.json()["my_role"], "owner");

    // A pending workshop cannot invite yet.
    let res = invite(&mut owner, "mech@example.com").await;
    assert_eq!(res.status, StatusCode::FORBIDDEN);
    // (The owner's own sign-up confirmation is the only mail.)
    let mails: i64 = sqlx::query_scalar("SELECT count(*) FROM email_outbox WHERE kind <> 'signup_confirm'")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(mails, 0);
}

#[sqlx::test(migrator = "autodoctor::db::MIGRATOR")]
async fn workshop_registration_validates_and_creates_nothing_on_error(pool: PgPool) {
    let app = TestApp::new(pool.clone());
    let res = app
        .client()
        .call(
            "/api/public/workshops/register",
            &[
                ("owner_name", ""),
                ("email", "bad"),
                ("password", "short"),
                ("workshop_name", "X"),
                ("contact_email", "nope"),
                ("phone", ""),
                ("city", ""),
                ("address", ""),
                ("description", ""),
                ("specialties", &"y".repeat(50)),
            ],
        )
        .await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST);
    let err = res.app_error();
    for f in ["owner_name", "email", "password", "workshop_name", "contact_email", "city", "specialties"] {
        assert!(err.field_message(f).is_some(), "{f}: {err:?}");
    }
    let n: i64 = sqlx::query_scalar("SELECT count(*) FROM organizations").fetch_one(&pool).await.unwrap();
    assert_eq!(n, 0);
}

#[sqlx::test(migrator = "autodoctor::db::MIGRATOR")]
async fn admin_approves_rejects_and_suspends(pool: PgPool) {
    let app = TestApp::new(pool.clone());
    let (mut admin, _) = logged_in(&app, "admin@example.com", Role::Admin).await;
    let (_, a) = register(&app, "a@example.com", "Alpha Garage").await;
    let (_, b) = register(&app, "b@example.com", "Beta Garage").await;

    // Rejecting needs a reason the owner can read.
    let res = decide(&mut admin, b, "reject", " ").await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST);
    assert!(res.app_error().field_message("reason").is_some());
    assert_eq!(decide(&mut admin, b, "reject", "No business licence").await.status, StatusCode::OK);
    assert_eq!(decide(&mut admin, a, "approve", "").await.status, StatusCode::OK);
    // Suspending a pending or rejected workshop is not a thing.
    assert_eq!(decide(&mut admin, b, "suspend", "x").await.status, StatusCode::CONFLICT);
    assert_eq!(decide(&mut admin, a, "suspend", "Complaints").await.status, StatusCode::OK);
    assert_eq!(decide(&mut admin, a, "reactivate", "").await.status, StatusCode::OK);
    assert_eq!(decide(&mut admin, Uuid::new_v4(), "approve", "").await.status, StatusCode::NOT_FOUND);
    let bad = admin
        .call("/api/admin/workshop/decide", &[("workshop_id", &a.to_string()), ("decision", "destroy")])
        .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);

    let rows: Vec<(String, Option<String>)> =
        sqlx::query_as("SELECT status::text, status_reason FROM organizations ORDER BY name")
            .fetch_all(&pool)
            .await
            .unwrap();
    assert_eq!(
        rows,
        vec![("active".to_string(), None), ("rejected".to_string(), Some("No business licence".to_string()))]
    );
}

#[sqlx::test(migrator = "autodoctor::db::MIGRATOR")]
async fn only_the_admin_decides_and_changes_fees(pool: PgPool) {
    let app = TestApp::new(pool.clone());
    let (mut admin, _) = logged_in(&app, "admin@example.com", Role::Admin).await;
    let (mut owner, id) = active_workshop(&app, &mut admin, "o@example.com", "Gamma Garage").await;
    let (mut mechanic, mechanic_id) = logged_in(&app, "m@example.com", Role::Mechanic).await;
    let (mut customer, _) = logged_in(&app, "c@example.com", Role::Customer).await;
    let ws = id.to_string();
    for who in [&mut owner, &mut mechanic, &mut customer] {
        assert_eq!(decide(who, id, "suspend", "mine now").await.status, StatusCode::FORBIDDEN);
        let res = who.call("/api/admin/workshop/fee", &[("workshop_id", &ws), ("fee_percent", "1")]).await;
        assert_eq!(res.status, StatusCode::FORBIDDEN);
        let res = who
            .call(
                "/api/admin/mechanic/decide",
                &[("mechanic_id", &mechanic_id.to_string()), ("decision", "approve")],
            )
            .await;
        assert_eq!(res.status, StatusCode::FORBIDDEN);
        for path in ["/api/admin/queues", "/api/admin/workshops", "/api/admin/mailbox"] {
            assert_eq!(who.call(path, &[]).await.status, StatusCode::FORBIDDEN, "{path}");
        }
    }

    let res = admin
        .call("/api/admin/workshop/fee", &[("workshop_id", &ws), ("fee_percent", "150"), ("note", "")])
        .await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST);
    let res = admin
        .call(
            "/api/admin/workshop/fee",
            &[("workshop_id", &ws), ("fee_percent", "17.5"), ("note", "Volume deal 2026")],
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    let (bps, note): (i32, Option<String>) =
        sqlx::query_as("SELECT platform_fee_bps, custom_fee_agreement FROM organizations WHERE id = $1")
            .bind(id)
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!((bps, note.as_deref()), (1750, Some("Volume deal 2026")));
    let history: Vec<i32> = sqlx::query_scalar(
        "SELECT platform_fee_bps FROM organization_fee_terms WHERE organization_id = $1 ORDER BY effective_from",
    )
    .bind(id)
    .fetch_all(&pool)
    .await
    .unwrap();
    assert_eq!(history, vec![2000, 1750], "earlier terms stay on record for earlier bookings");
}

#[sqlx::test(migrator = "autodoctor::db::MIGRATOR")]
async fn an_invited_mechanic_signs_up_linked_and_approved(pool: PgPool) {
    let app = TestApp::new(pool.clone());
    let (mut admin, _) = logged_in(&app, "admin@example.com", Role::Admin).await;
    let (mut owner, ws) = active_workshop(&app, &mut admin, "o@example.com", "Delta Garage").await;
    let owner_id: Uuid = sqlx::query_scalar("SELECT id FROM users WHERE email = 'o@example.com'")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(invite(&mut owner, " New.Mech@Example.com ").await.status, StatusCode::OK);
    let token = token_from_outbox(&pool, "new.mech@example.com").await;

    // Only the hash is stored.
    let stored: Vec<u8> =
        sqlx::query_scalar("SELECT token_hash FROM mechanic_invites").fetch_one(&pool).await.unwrap();
    assert_eq!(stored, autodoctor::workshops::invites::token::hash(&token));
    let leaked: bool = sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM mechanic_invites WHERE encode(token_hash, 'escape') LIKE '%' || $1 || '%')",
    )
    .bind(&token)
    .fetch_one(&pool)
    .await
    .unwrap();
    assert!(!leaked);

    let mut mechanic = app.client();
    let details = mechanic.call("/api/public/invites/details", &[("token", &token)]).await;
    assert_eq!(details.json()["state"], "valid");
    assert_eq!(details.json()["workshop_name"], "Delta Garage");
    assert_eq!(details.json()["email"], "new.mech@example.com");
    assert_eq!(details.json()["viewer"], "new_mechanic");

    let res = accept(&mut mechanic, &token, "Nina New").await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    assert_eq!(res.json(), serde_json::json!("/mechanic"));
    assert_eq!(mechanic.whoami().await.as_deref(), Some("new.mech@example.com"));

    type Row = (String, Option<Uuid>, Option<Uuid>, bool, bool, String);
    let row: Row = sqlx::query_as(
        "SELECT m.account_type::text, m.workshop_id, m.invited_by, m.invite_accepted_at IS NOT NULL,
                m.auto_approved, m.application_status::text
           FROM mechanics m JOIN users u ON u.id = m.user_id WHERE u.email = 'new.mech@example.com'",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(row, ("workshop".into(), Some(ws), Some(owner_id), true, true, "approved".into()));
    let accepted: bool = sqlx::query_scalar("SELECT accepted_at IS NOT NULL FROM mechanic_invites")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert!(accepted);

    // The mechanic can go online straight away, and the owner sees them.
    let res = mechanic.call("/api/mechanic/online", &[("online", "true")]).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    let dash = owner.call("/api/workshop/dashboard", &[]).await.json();
    assert_eq!(dash["mechanics"][0]["email"], "new.mech@example.com");
    assert_eq!(dash["mechanics"][0]["is_online"], true);
    assert_eq!(dash["invites"][0]["state"], "accepted");

    // The link works once.
    let again = accept(&mut app.client(), &token, "Someone Else").await;
    assert_eq!(again.status, StatusCode::CONFLICT);
    assert!(again.app_error().to_string().contains("already been used"));
}

#[sqlx::test(migrator = "autodoctor::db::MIGRATOR")]
async fn bad_invite_tokens_explain_themselves_and_create_nothing(pool: PgPool) {
    let app = TestApp::new(pool.clone());
    let (mut admin, _) = logged_in(&app, "admin@example.com", Role::Admin).await;
    let (mut owner, ws) = active_workshop(&app, &mut admin, "o@example.com", "Epsilon Garage").await;
    let users_before: i64 = sqlx::query_scalar("SELECT count(*) FROM users").fetch_one(&pool).await.unwrap();
    let mut visitor = app.client();

    // Garbage and a well-formed token nobody issued.
    for token in ["nonsense", "", &"A".repeat(43), "<script>alert(1)</script>", &"x".repeat(10_000)] {
        assert_eq!(details_state(&mut visitor, token).await, "invalid");
        let res = accept(&mut visitor, token, "Eve").await;
        assert_eq!(res.status, StatusCode::NOT_FOUND, "{token:.20}: {}", res.body);
    }

    // Expired.
    invite(&mut owner, "late@example.com").await;
    let expired = token_from_outbox(&pool, "late@example.com").await;
    sqlx::query("UPDATE mechanic_invites SET expires_at = now() - interval '1 minute' WHERE email = 'late@example.com'")
        .execute(&pool)
        .await
        .unwrap();
    assert_eq!(details_state(&mut visitor, &expired).await, "expired");
    let res = accept(&mut visitor, &expired, "Late").await;
    assert_eq!(res.status, StatusCode::CONFLICT);
    assert!(res.app_error().to_string().contains("expired"));

    // Revoked.
    invite(&mut owner, "gone@example.com").await;
    let revoked = token_from_outbox(&pool, "gone@example.com").await;
    let invite_id: Uuid =
        sqlx::query_scalar("SELECT id FROM mechanic_invites WHERE email = 'gone@example.com'")
            .fetch_one(&pool)
            .await
            .unwrap();
    let res = owner.call("/api/workshop/invite/revoke", &[("invite_id", &invite_id.to_string())]).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    assert_eq!(details_state(&mut visitor, &revoked).await, "revoked");
    assert_eq!(accept(&mut visitor, &revoked, "Gone").await.status, StatusCode::CONFLICT);

    // Resent: the old link dies, the new one works.
    invite(&mut owner, "twice@example.com").await;
    let first = token_from_outbox(&pool, "twice@example.com").await;
    let invite_id: Uuid =
        sqlx::query_scalar("SELECT id FROM mechanic_invites WHERE email = 'twice@example.com'")
            .fetch_one(&pool)
            .await
            .unwrap();
    let res = owner.call("/api/workshop/invite/resend", &[("invite_id", &invite_id.to_string())]).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    let second = token_from_outbox(&pool, "twice@example.com").await;
    assert_ne!(first, second);
    assert_eq!(details_state(&mut visitor, &first).await, "invalid");
    assert_eq!(details_state(&mut visitor, &second).await, "valid");

    // A suspended workshop's invites cannot be used.
    decide(&mut admin, ws, "suspend", "Paperwork").await;
    assert_eq!(details_state(&mut visitor, &second).await, "workshop_unavailable");
    assert_eq!(accept(&mut visitor, &second, "Twice").await.status, StatusCode::CONFLICT);

    let users_after: i64 = sqlx::query_scalar("SELECT count(*) FROM users").fetch_one(&pool).await.unwrap();
    assert_eq!(users_before, users_after, "no bad token created an account");
}

#[sqlx::test(migrator = "autodoctor::db::MIGRATOR")]
async fn owners_only_reach_their_own_workshop(pool: PgPool) {
    let app = TestApp::new(pool.clone());
    let (mut admin, _) = logged_in(&app, "admin@example.com", Role::Admin).await;
    let (mut owner_a, _) = active_workshop(&app, &mut admin, "a@example.com", "Garage A").await;
    let (mut owner_b, _) = active_workshop(&app, &mut admin, "b@example.com", "Garage B").await;

    invite(&mut owner_a, "for-a@example.com").await;
    let token = token_from_outbox(&pool, "for-a@example.com").await;
    accept(&mut app.client(), &token, "Mechanic A").await;
    let mechanic_a: Uuid = sqlx::query_scalar("SELECT id FROM users WHERE email = 'for-a@example.com'")
        .fetch_one(&pool)
        .await
        .unwrap();
    invite(&mut owner_a, "pending-a@example.com").await;
    let invite_a: Uuid =
        sqlx::query_scalar("SELECT id FROM mechanic_invites WHERE email = 'pending-a@example.com'")
            .fetch_one(&pool)
            .await
            .unwrap();

    // B sees nothing of A.
    let dash_b = owner_b.call("/api/workshop/dashboard", &[]).await.json();
    assert_eq!(dash_b["workshop"]["name"], "Garage B");
    assert_eq!(dash_b["mechanics"].as_array().unwrap().len(), 0);
    assert_eq!(dash_b["invites"].as_array().unwrap().len(), 0);
    // B cannot act on A's invite or mechanic, even knowing their ids.
    for path in ["/api/workshop/invite/revoke", "/api/workshop/invite/resend"] {
        let res = owner_b.call(path, &[("invite_id", &invite_a.to_string())]).await;
        assert_eq!(res.status, StatusCode::NOT_FOUND, "{path}");
    }
    let res =
        owner_b.call("/api/workshop/remove-mechanic", &[("mechanic_id", &mechanic_a.to_string())]).await;
    assert_eq!(res.status, StatusCode::NOT_FOUND);
    // Inviting creates B's own invite, never touches A's.
    invite(&mut owner_b, "pending-a@example.com").await;
    let invites: i64 =
        sqlx::query_scalar("SELECT count(*) FROM mechanic_invites WHERE email = 'pending-a@example.com'")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(invites, 2);
    let a_still_open: bool =
        sqlx::query_scalar("SELECT revoked_at IS NULL FROM mechanic_invites WHERE id = $1")
            .bind(invite_a)
            .fetch_one(&pool)
            .await
            .unwrap();
    assert!(a_still_open);

    // Mechanics and customers have no workshop dashboard.
    let (mut customer, _) = logged_in(&app, "c@example.com", Role::Customer).await;
    assert_eq!(customer.call("/api/workshop/dashboard", &[]).await.status, StatusCode::FORBIDDEN);
    assert_eq!(invite(&mut customer, "x@example.com").await.status, StatusCode::FORBIDDEN);
}

#[sqlx::test(migrator = "autodoctor::db::MIGRATOR")]
async fn an_existing_independent_mechanic_joins_through_an_invite(pool: PgPool) {
    let app = TestApp::new(pool.clone());
    let (mut admin, _) = logged_in(&app, "admin@example.com", Role::Admin).await;
    let (mut owner, ws) = active_workshop(&app, &mut admin, "o@example.com", "Zeta Garage").await;
    // An independent applicant, still pending.
    let mut indie = app.client();
    let res = indie
        .call(
            "/api/public/mechanics/apply",
            &[
                ("name", "Ian Indie"),
                ("email", "ian@example.com"),
                ("password", "indie password"),
                ("specialties", "Engines"),
                ("years_experience", "3"),
                ("certifications", ""),
            ],
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    assert_eq!(
        indie.confirm_sign_up("ian@example.com").await.expect("a confirmation link").status,
        StatusCode::OK
    );
    invite(&mut owner, "ian@example.com").await;
    let token = token_from_outbox(&pool, "ian@example.com").await;

    // Not logged in: told to log in. A new account with that email is refused.
    let mut anon = app.client();
    assert_eq!(
        anon.call("/api/public/invites/details", &[("token", &token)]).await.json()["viewer"],
        "existing_account"
    );
    let res = accept(&mut anon, &token, "Impostor").await;
    assert_eq!(res.status, StatusCode::CONFLICT);
    // Someone else logged in cannot use it.
    let (mut other, _) = logged_in(&app, "other@example.com", Role::Mechanic).await;
    sqlx::query("INSERT INTO mechanics (user_id, account_type, years_experience) SELECT id, 'independent', 1 FROM users WHERE email = 'other@example.com'")
        .execute(&pool)
        .await
        .unwrap();
    let res = other.call("/api/invites/join", &[("token", &token)]).await;
    assert_eq!(res.status, StatusCode::FORBIDDEN);

    // The invited mechanic, logged in, joins.
    assert_eq!(
        indie.call("/api/public/invites/details", &[("token", &token)]).await.json()["viewer"],
        "can_join"
    );
    let res = indie.call("/api/invites/join", &[("token", &token)]).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    let (workshop_id, status, auto): (Option<Uuid>, String, bool) = sqlx::query_as(
        "SELECT workshop_id, application_status::text, auto_approved FROM mechanics m JOIN users u ON u.id = m.user_id
          WHERE u.email = 'ian@example.com'",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!((workshop_id, status.as_str(), auto), (Some(ws), "approved", true));
}

#[sqlx::test(migrator = "autodoctor::db::MIGRATOR")]
async fn independent_applications_wait_for_the_admin(pool: PgPool) {
    let app = TestApp::new(pool.clone());
    let (mut admin, _) = logged_in(&app, "admin@example.com", Role::Admin).await;
    let mut mech = app.client();
    let res = mech
        .call(
            "/api/public/mechanics/apply",
            &[
                ("name", "Pia Pending"),
                ("email", "pia@example.com"),
                ("password", "pia password"),
                ("specialties", "Electrical, Diagnostics"),
                ("years_experience", "9"),
                ("certifications", "ASE"),
            ],
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    assert_eq!(
        mech.confirm_sign_up("pia@example.com").await.expect("a confirmation link").status,
        StatusCode::OK
    );
    let profile = mech.call("/api/mechanic/profile", &[]).await.json();
    assert_eq!(profile["application_status"], "pending");
    assert_eq!(profile["account_type"], "independent");

    // Not approved: cannot go online.
    let res = mech.call("/api/mechanic/online", &[("online", "true")]).await;
    assert_eq!(res.status, StatusCode::FORBIDDEN);
    assert!(res.app_error().to_string().contains("approved"));

    let queues = admin.call("/api/admin/queues", &[]).await.json();
    assert_eq!(queues["mechanics"][0]["email"], "pia@example.com");
    let id = queues["mechanics"][0]["user_id"].as_str().unwrap().to_string();
    // A mechanic cannot approve themselves.
    assert_eq!(
        mech.call("/api/admin/mechanic/decide", &[("mechanic_id", &id), ("decision", "approve")])
            .await
            .status,
        StatusCode::FORBIDDEN
    );
    let res =
        admin.call("/api/admin/mechanic/decide", &[("mechanic_id", &id), ("decision", "approve")]).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    // Deciding twice is refused.
    let res = admin
        .call("/api/admin/mechanic/decide", &[("mechanic_id", &id), ("decision", "reject"), ("reason", "x")])
        .await;
    assert_eq!(res.status, StatusCode::NOT_FOUND);

    assert_eq!(
        mech.call("/api/mechanic/online", &[("online", "true")]).await.json(),
        serde_json::json!(true)
    );
    assert_eq!(mech.call("/api/mechanic/profile", &[]).await.json()["is_online"], true);
    for bad in ["0", "11", "two", "", "-3", "99999999999"] {
        let res = mech.call("/api/mechanic/capacity", &[("capacity", bad)]).await;
        assert_eq!(res.status, StatusCode::BAD_REQUEST, "{bad:?}");
    }
    assert_eq!(mech.call("/api/mechanic/capacity", &[("capacity", "3")]).await.json(), serde_json::json!(3));
}

#[sqlx::test(migrator = "autodoctor::db::MIGRATOR")]
async fn rejected_applicants_see_the_reason(pool: PgPool) {
    let app = TestApp::new(pool.clone());
    let (mut admin, _) = logged_in(&app, "admin@example.com", Role::Admin).await;
    let (mut mech, id) = logged_in(&app, "r@example.com", Role::Mechanic).await;
    sqlx::query(
        "INSERT INTO mechanics (user_id, account_type, years_experience) VALUES ($1, 'independent', 1)",
    )
    .bind(id)
    .execute(&pool)
    .await
    .unwrap();
    let res = admin
        .call("/api/admin/mechanic/decide", &[("mechanic_id", &id.to_string()), ("decision", "reject")])
        .await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST, "a reason is required");
    admin
        .call(
            "/api/admin/mechanic/decide",
            &[
                ("mechanic_id", &id.to_string()),
                ("decision", "reject"),
                ("reason", "Certificate could not be verified"),
            ],
        )
        .await;
    let profile = mech.call("/api/mechanic/profile", &[]).await.json();
    assert_eq!(profile["application_status"], "rejected");
    assert_eq!(profile["rejection_reason"], "Certificate could not be verified");
}

#[sqlx::test(migrator = "autodoctor::db::MIGRATOR")]
async fn removing_a_mechanic_makes_them_an_unapproved_independent(pool: PgPool) {
    let app = TestApp::new(pool.clone());
    let (mut admin, _) = logged_in(&app, "admin@example.com", Role::Admin).await;
    let (mut owner, ws) = active_workshop(&app, &mut admin, "o@example.com", "Eta Garage").await;
    invite(&mut owner, "m@example.com").await;
    let token = token_from_outbox(&pool, "m@example.com").await;
    let mut mech = app.client();
    accept(&mut mech, &token, "Max").await;
    mech.call("/api/mechanic/online", &[("online", "true")]).await;
    let id: Uuid = sqlx::query_scalar("SELECT id FROM users WHERE email = 'm@example.com'")
        .fetch_one(&pool)
        .await
        .unwrap();

    // A workshop mechanic cannot remove anyone, and staff-only actions need ownership.
    assert_eq!(
        mech.call("/api/workshop/remove-mechanic", &[("mechanic_id", &id.to_string())]).await.status,
        StatusCode::FORBIDDEN
    );
    let res = owner.call("/api/workshop/remove-mechanic", &[("mechanic_id", &id.to_string())]).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    let profile = mech.call("/api/mechanic/profile", &[]).await.json();
    assert_eq!(profile["account_type"], "independent");
    assert_eq!(profile["application_status"], "pending");
    assert_eq!(profile["is_online"], false);
    assert!(profile["workshop_id"].is_null());
    let left: i64 = sqlx::query_scalar("SELECT count(*) FROM mechanics WHERE workshop_id = $1")
        .bind(ws)
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(left, 0);
}

#[sqlx::test(migrator = "autodoctor::db::MIGRATOR")]
async fn suspending_a_workshop_takes_its_mechanics_offline(pool: PgPool) {
    let app = TestApp::new(pool.clone());
    let (mut admin, _) = logged_in(&app, "admin@example.com", Role::Admin).await;
    let (mut owner, ws) = active_workshop(&app, &mut admin, "o@example.com", "Theta Garage").await;
    invite(&mut owner, "m@example.com").await;
    let token = token_from_outbox(&pool, "m@example.com").await;
    let mut mech = app.client();
    accept(&mut mech, &token, "Max").await;
    mech.call("/api/mechanic/online", &[("online", "true")]).await;
    decide(&mut admin, ws, "suspend", "Insurance lapsed").await;
    assert_eq!(mech.call("/api/mechanic/profile", &[]).await.json()["is_online"], false);
    let dash = owner.call("/api/workshop/dashboard", &[]).await.json();
    assert_eq!(dash["workshop"]["status"], "suspended");
    assert_eq!(dash["workshop"]["status_reason"], "Insurance lapsed");
}

#[sqlx::test(migrator = "autodoctor::db::MIGRATOR")]
async fn inviting_validates_the_address(pool: PgPool) {
    let app = TestApp::new(pool.clone());
    let (mut admin, _) = logged_in(&app, "admin@example.com", Role::Admin).await;
    let (mut owner, _) = active_workshop(&app, &mut admin, "o@example.com", "Iota Garage").await;
    for bad in ["", "nope", "o@example.com"] {
        let res = invite(&mut owner, bad).await;
        assert_eq!(res.status, StatusCode::BAD_REQUEST, "{bad:?}");
        assert!(matches!(res.app_error(), AppError::Invalid(_)));
    }
    // Inviting the same address twice sends the same invite again.
    invite(&mut owner, "twice@example.com").await;
    invite(&mut owner, "twice@example.com").await;
    let (count, sends): (i64, i32) = sqlx::query_as(
        "SELECT count(*), max(send_count) FROM mechanic_invites WHERE email = 'twice@example.com'",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!((count, sends), (1, 2));
    let mails: i64 =
        sqlx::query_scalar("SELECT count(*) FROM email_outbox WHERE to_email = 'twice@example.com'")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(mails, 2);
}

#[sqlx::test(migrator = "autodoctor::db::MIGRATOR")]
async fn demo_data_loads_twice_without_duplicates(pool: PgPool) {
    let first = autodoctor::seed::load_demo_data(&pool).await.unwrap();
    let counts = |pool: PgPool| async move {
        sqlx::query_as::<_, (i64, i64, i64, i64)>(
            "SELECT (SELECT count(*) FROM users), (SELECT count(*) FROM organizations),
                    (SELECT count(*) FROM mechanics), (SELECT count(*) FROM mechanic_invites)",
        )
        .fetch_one(&pool)
        .await
        .unwrap()
    };
    let before = counts(pool.clone()).await;
    let second = autodoctor::seed::load_demo_data(&pool).await.unwrap();
    assert_eq!(before, counts(pool.clone()).await);
    assert_eq!(first.len(), second.len());
    let statuses: Vec<String> = sqlx::query_scalar("SELECT status::text FROM organizations ORDER BY name")
        .fetch_all(&pool)
        .await
        .unwrap();
    assert_eq!(statuses, vec!["active", "active", "pending"]);
}

/// Issue: invite acceptance computed an argon2 hash (tens of milliseconds of CPU)
/// before it looked at the token, so anyone could make the server hash with
/// made-up tokens. A bad token is refused before any hashing.
#[sqlx::test(migrator = "autodoctor::db::MIGRATOR")]
async fn a_bad_invite_token_is_refused_before_any_password_is_hashed(pool: PgPool) {
    let app = TestApp::new(pool.clone());
    let (mut admin, _) = logged_in(&app, "admin@example.com", Role::Admin).await;
    let (mut owner, _) = active_workshop(&app, &mut admin, "o@example.com", "Zeta Garage").await;
    invite(&mut owner, "late@example.com").await;
    let expired = token_from_outbox(&pool, "late@example.com").await;
    sqlx::query("UPDATE mechanic_invites SET expires_at = now() - interval '1 minute'")
        .execute(&pool)
        .await
        .unwrap();
    for token in ["made-up-token", expired.as_str()] {
        let password = format!("never hashed {}", Uuid::new_v4());
        let res = app
            .client()
            .call(
                "/api/public/invites/accept",
                &[
                    ("token", token),
                    ("name", "Eve"),
                    ("password", &password),
                    ("specialties", "Brakes"),
                    ("years_experience", "3"),
                    ("certifications", ""),
                ],
            )
            .await;
        assert!(res.status.is_client_error(), "{token}: {} {}", res.status, res.body);
        let hashed = autodoctor::auth::password::HASHED.lock().unwrap().contains(&password);
        assert!(!hashed, "{token}: no hash for a token that cannot be used");
    }
}

/// Issue: a workshop's invite silently turned an admin's rejection of a mechanic
/// into an approval. Decision: the platform's decision stands; the invite is
/// refused with a message and changes nothing.
#[sqlx::test(migrator = "autodoctor::db::MIGRATOR")]
async fn a_workshop_invite_cannot_undo_the_admins_rejection(pool: PgPool) {
    let app = TestApp::new(pool.clone());
    let (mut admin, _) = logged_in(&app, "admin@example.com", Role::Admin).await;
    let (mut owner, _) = active_workshop(&app, &mut admin, "o@example.com", "Eta Garage").await;
    let (mut mech, id) = logged_in(&app, "r@example.com", Role::Mechanic).await;
    sqlx::query(
        "INSERT INTO mechanics (user_id, account_type, years_experience) VALUES ($1, 'independent', 1)",
    )
    .bind(id)
    .execute(&pool)
    .await
    .unwrap();
    let res = admin
        .call(
            "/api/admin/mechanic/decide",
            &[("mechanic_id", &id.to_string()), ("decision", "reject"), ("reason", "Fake certificate")],
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    invite(&mut owner, "r@example.com").await;
    let token = token_from_outbox(&pool, "r@example.com").await;
    let res = mech.call("/api/invites/join", &[("token", &token)]).await;
    assert_eq!(res.status, StatusCode::FORBIDDEN, "{}", res.body);
    let (status, workshop, used): (String, Option<Uuid>, bool) = sqlx::query_as(
        "SELECT m.application_status::text, m.workshop_id,
                EXISTS (SELECT 1 FROM mechanic_invites i WHERE i.email = 'r@example.com' AND i.accepted_at IS NOT NULL)
           FROM mechanics m WHERE m.user_id = $1",
    )
    .bind(id)
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!((status.as_str(), workshop, used), ("rejected", None, false), "nothing changed");
}

/// Issue: raw invite tokens stayed readable in the outbox and the admin mailbox
/// after they were of use. A link leaves the stored copy of its email once the
/// invite is used, revoked or replaced (and after SMTP delivery).
#[sqlx::test(migrator = "autodoctor::db::MIGRATOR")]
async fn invite_links_leave_the_stored_email_once_used_revoked_or_replaced(pool: PgPool) {
    let app = TestApp::new(pool.clone());
    let (mut admin, _) = logged_in(&app, "admin@example.com", Role::Admin).await;
    let (mut owner, _) = active_workshop(&app, &mut admin, "o@example.com", "Theta Garage").await;
    let bodies = |email: &'static str| {
        let pool = pool.clone();
        async move {
            sqlx::query_scalar::<_, String>(
                "SELECT body_text FROM email_outbox WHERE to_email = $1 ORDER BY created_at, id",
            )
            .bind(email)
            .fetch_all(&pool)
            .await
            .unwrap()
        }
    };
    let mailbox_shows = |token: String| {
        let app = app.clone();
        async move {
            let mut admin = app.client();
            admin.log_in("admin@example.com", TEST_PASSWORD).await;
            admin.call("/api/admin/mailbox", &[]).await.body.contains(&token)
        }
    };

    // Used.
    invite(&mut owner, "used@example.com").await;
    let token = token_from_outbox(&pool, "used@example.com").await;
    assert!(mailbox_shows(token.clone()).await, "readable while it is the way to deliver it");
    assert_eq!(accept(&mut app.client(), &token, "Uma").await.status, StatusCode::OK);
    assert!(bodies("used@example.com").await.iter().all(|b| !b.contains(&token)), "gone once used");
    assert!(!mailbox_shows(token).await);

    // Revoked.
    invite(&mut owner, "gone@example.com").await;
    let token = token_from_outbox(&pool, "gone@example.com").await;
    let id: Uuid = sqlx::query_scalar("SELECT id FROM mechanic_invites WHERE email = 'gone@example.com'")
        .fetch_one(&pool)
        .await
        .unwrap();
    let res = owner.call("/api/workshop/invite/revoke", &[("invite_id", &id.to_string())]).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    assert!(bodies("gone@example.com").await.iter().all(|b| !b.contains(&token)), "gone once revoked");

    // Replaced by a resend: the old link goes, the new one stays until used.
    invite(&mut owner, "twice@example.com").await;
    let first = token_from_outbox(&pool, "twice@example.com").await;
    invite(&mut owner, "twice@example.com").await;
    let second = token_from_outbox(&pool, "twice@example.com").await;
    let stored = bodies("twice@example.com").await;
    assert!(stored.iter().all(|b| !b.contains(&first)), "the replaced link is gone");
    assert!(stored.iter().any(|b| b.contains(&second)), "the live link is still there to deliver");
}
