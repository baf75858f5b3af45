//! The ledger and the earnings read from it, on a real database.

use crate::testing::fixtures::{mechanic, paid_order_via_webhook, plan, workshop};
use crate::testing::{create_user, TestApp, TEST_PASSWORD};
use autodoctor::auth::Role;
use autodoctor::dispatch::{RoutingPolicy, RoutingType};
use axum::http::StatusCode;
use chrono::Utc;
use sqlx::PgPool;
use uuid::Uuid;

fn policy() -> RoutingPolicy {
    autodoctor::offers::store::RoutingSettings::from_config(&crate::testing::test_config()).policy
}

/// Accepts (after the hybrid window if need be) and ends a request; returns the session.
async fn serve(pool: &PgPool, mechanic_id: Uuid, request: Uuid) -> Uuid {
    crate::testing::fixtures::serve(pool, &policy(), mechanic_id, request).await
}

/// (account kind, owner, signed amount, share kind) of a session's revenue entry.
async fn postings(pool: &PgPool, session: Uuid) -> Vec<(String, Option<Uuid>, i64, Option<String>)> {
    sqlx::query_as(
        "SELECT a.kind::text, coalesce(a.organization_id, a.mechanic_id), p.amount_cents, p.share_kind
           FROM postings p JOIN journal_entries e ON e.id = p.entry_id JOIN ledger_accounts a ON a.id = p.account_id
          WHERE e.session_id = $1 AND e.kind = 'session_revenue' ORDER BY p.id",
    )
    .bind(session)
    .fetch_all(pool)
    .await
    .unwrap()
}

async fn entries_for(pool: &PgPool, session: Uuid) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM journal_entries WHERE session_id = $1")
        .bind(session)
        .fetch_one(pool)
        .await
        .unwrap()
}

#[sqlx::test(migrator = "autodoctor::db::MIGRATOR")]
async fn completing_a_session_writes_one_balanced_entry_with_the_seed_splits(pool: PgPool) {
    plan(&pool).await;
    let app = TestApp::new(pool.clone());
    let a = workshop(&pool, "Alpha").await;
    let b = workshop(&pool, "Beta").await;
    let a1 = mechanic(&pool, "a1@example.com", Some(a), true).await;
    let b1 = mechanic(&pool, "b1@example.com", Some(b), true).await;
    let indie = mechanic(&pool, "indie@example.com", None, true).await;
    let customer = create_user(&pool, "c@example.com", Role::Customer).await;

    // $100 with the workshop's own mechanic: 2000 platform / 8000 workshop.
    let (_, r) = paid_order_via_webhook(&app, customer, RoutingType::WorkshopOnly, Some(a), "hundred").await;
    let s = serve(&pool, a1, r).await;
    assert_eq!(
        postings(&pool, s).await,
        vec![
            ("payment_clearing".into(), None, 10000, None),
            ("platform_revenue".into(), None, -2000, Some("platform_fee".into())),
            ("workshop_payable".into(), Some(a), -8000, Some("workshop_service".into())),
        ]
    );
    // An independent mechanic: 2000 / 8000.
    let (_, r) = paid_order_via_webhook(&app, customer, RoutingType::Broadcast, None, "hundred").await;
    let s = serve(&pool, indie, r).await;
    assert_eq!(
        postings(&pool, s).await[2],
        ("mechanic_payable".into(), Some(indie), -8000, Some("mechanic_service".into()))
    );
    // Cross-workshop referral: A referred, B served: 2000 / 1000 / 7000.
    let (_, r) = paid_order_via_webhook(&app, customer, RoutingType::Hybrid, Some(a), "hundred").await;
    let s = serve(&pool, b1, r).await;
    assert_eq!(
        postings(&pool, s).await,
        vec![
            ("payment_clearing".into(), None, 10000, None),
            ("platform_revenue".into(), None, -2000, Some("platform_fee".into())),
            ("workshop_payable".into(), Some(a), -1000, Some("referral".into())),
            ("workshop_payable".into(), Some(b), -7000, Some("workshop_service".into())),
        ]
    );
    assert_eq!(
        autodoctor::ledger::balance(
            &pool,
            autodoctor::ledger::AccountRef::Workshop(autodoctor::ids::WorkshopId(a))
        )
        .await
        .unwrap(),
        9000
    );
    assert_eq!(
        autodoctor::ledger::balance(&pool, autodoctor::ledger::AccountRef::PlatformRevenue).await.unwrap(),
        6000
    );
    assert_eq!(autodoctor::ledger::check_consistency(&pool).await.unwrap(), Vec::<String>::new());
}

#[sqlx::test(migrator = "autodoctor::db::MIGRATOR")]
async fn completing_twice_or_concurrently_still_writes_one_entry(pool: PgPool) {
    plan(&pool).await;
    let app = TestApp::new(pool.clone());
    let a = workshop(&pool, "Alpha").await;
    let a1 = mechanic(&pool, "a1@example.com", Some(a), true).await;
    let customer = create_user(&pool, "c@example.com", Role::Customer).await;
    let (_, r) = paid_order_via_webhook(&app, customer, RoutingType::WorkshopOnly, Some(a), "hundred").await;
    let session = autodoctor::offers::accept::accept(
        &pool,
        autodoctor::ids::UserId(a1),
        autodoctor::ids::RequestId(r),
        Utc::now(),
        &policy(),
    )
    .await
    .unwrap();
    crate::testing::fixtures::write_report(&pool, session, a1).await;

    let mut tasks = Vec::new();
    for _ in 0..8 {
        let pool = pool.clone();
        tasks.push(tokio::spawn(async move {
            autodoctor::sessions::room::end_session(
                &pool,
                autodoctor::ids::SessionId(session),
                autodoctor::ids::UserId(a1),
                crate::testing::ORIGIN,
            )
            .await
        }));
    }
    let mut ok = 0;
    for t in tasks {
        match t.await.unwrap() {
            Ok(()) => ok += 1,
            Err(e) => assert_eq!(e.status_code(), 409),
        }
    }
    assert_eq!(ok, 1);
    assert!(autodoctor::sessions::room::end_session(
        &pool,
        autodoctor::ids::SessionId(session),
        autodoctor::ids::UserId(a1),
        crate::testing::ORIGIN
    )
    .await
    .is_err());
    assert_eq!(entries_for(&pool, session).await, 1);
    // Posting again directly (a retry after a crash) writes nothing either.
    let mut tx = pool.begin().await.unwrap();
    assert!(autodoctor::ledger::post_session_revenue(&mut tx, autodoctor::ids::SessionId(session))
        .await
        .unwrap()
        .is_none());
    tx.commit().await.unwrap();
    assert_eq!(entries_for(&pool, session).await, 1);
    assert_eq!(
        autodoctor::ledger::balance(
            &pool,
            autodoctor::ledger::AccountRef::Workshop(autodoctor::ids::WorkshopId(a))
        )
        .await
        .unwrap(),
        8000
    );
}

#[sqlx::test(migrator = "autodoctor::db::MIGRATOR")]
async fn a_fee_change_after_booking_leaves_the_split_unchanged(pool: PgPool) {
    plan(&pool).await;
    let app = TestApp::new(pool.clone());
    let a = workshop(&pool, "Alpha").await;
    sqlx::query("INSERT INTO organization_fee_terms (organization_id, platform_fee_bps, effective_from) VALUES ($1, 2000, now() - interval '1 day')")
        .bind(a)
        .execute(&pool)
        .await
        .unwrap();
    let a1 = mechanic(&pool, "a1@example.com", Some(a), true).await;
    let a2 = mechanic(&pool, "a2@example.com", Some(a), true).await;
    let customer = create_user(&pool, "c@example.com", Role::Customer).await;
    let (_, booked_before) =
        paid_order_via_webhook(&app, customer, RoutingType::WorkshopOnly, Some(a), "hundred").await;

    // The admin gives the workshop 10% from now on (as the admin page does).
    sqlx::query("UPDATE organizations SET platform_fee_bps = 1000 WHERE id = $1")
        .bind(a)
        .execute(&pool)
        .await
        .unwrap();
    sqlx::query("INSERT INTO organization_fee_terms (organization_id, platform_fee_bps, effective_from) VALUES ($1, 1000, clock_timestamp())")
        .bind(a)
        .execute(&pool)
        .await
        .unwrap();
    let (_, booked_after) =
        paid_order_via_webhook(&app, customer, RoutingType::WorkshopOnly, Some(a), "hundred").await;
    sqlx::query("UPDATE orders SET fee_terms_at = clock_timestamp() WHERE id = (SELECT order_id FROM session_requests WHERE id = $1)")
        .bind(booked_after)
        .execute(&pool)
        .await
        .unwrap();

    let before = serve(&pool, a1, booked_before).await;
    let after = serve(&pool, a2, booked_after).await;
    assert_eq!(postings(&pool, before).await[1].2, -2000, "booked under 20%");
    assert_eq!(postings(&pool, after).await[1].2, -1000, "booked under 10%");
}

#[sqlx::test(migrator = "autodoctor::db::MIGRATOR")]
async fn the_ledger_refuses_unbalanced_entries_and_changes(pool: PgPool) {
    let mut tx = pool.begin().await.unwrap();
    let entry: i64 = sqlx::query_scalar(
        "INSERT INTO journal_entries (kind, idempotency_key, memo) VALUES ('payment', 'bad', 'x') RETURNING id",
    )
    .fetch_one(&mut *tx)
    .await
    .unwrap();
    sqlx::query("INSERT INTO postings (entry_id, account_id, amount_cents) SELECT $1, id, 500 FROM ledger_accounts WHERE kind = 'gateway_cash'")
        .bind(entry)
        .execute(&mut *tx)
        .await
        .unwrap();
    let err = tx.commit().await.unwrap_err();
    assert!(err.to_string().contains("not balanced"), "{err}");

    // A good entry, then an attempt to edit it.
    let mut tx = pool.begin().await.unwrap();
    autodoctor::ledger::post(
        &mut tx,
        "payment",
        "good",
        None,
        None,
        "test",
        &[
            autodoctor::ledger::Line::new(autodoctor::ledger::AccountRef::GatewayCash, 500),
            autodoctor::ledger::Line::new(autodoctor::ledger::AccountRef::PaymentClearing, -500),
        ],
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    for (sql, op, table) in [
        ("UPDATE postings SET amount_cents = 1", "UPDATE", "postings"),
        ("DELETE FROM journal_entries", "DELETE", "journal_entries"),
    ] {
        let err = sqlx::query(sql).execute(&pool).await.expect_err(sql).to_string();
        assert!(
            err.contains(&format!("the ledger is append-only: {op} on {table} is not allowed")),
            "{sql}: refused by the append-only trigger, not by something else: {err}"
        );
    }
    assert_eq!(autodoctor::ledger::check_consistency(&pool).await.unwrap(), Vec::<String>::new());
}

#[sqlx::test(migrator = "autodoctor::db::MIGRATOR")]
async fn earnings_views_agree_with_the_ledger(pool: PgPool) {
    plan(&pool).await;
    let app = TestApp::new(pool.clone());
    let a = workshop(&pool, "Alpha").await;
    let b = workshop(&pool, "Beta").await;
    let a1 = mechanic(&pool, "a1@example.com", Some(a), true).await;
    let b1 = mechanic(&pool, "b1@example.com", Some(b), true).await;
    let indie = mechanic(&pool, "indie@example.com", None, true).await;
    let customer = create_user(&pool, "c@example.com", Role::Customer).await;
    for (m, routing, pref) in [
        (a1, RoutingType::WorkshopOnly, Some(a)),
        (b1, RoutingType::Hybrid, Some(a)),
        (indie, RoutingType::Hybrid, Some(b)),
        (indie, RoutingType::Broadcast, None),
        (b1, RoutingType::Broadcast, None),
    ] {
        let (_, r) = paid_order_via_webhook(&app, customer, routing, pref, "hundred").await;
        serve(&pool, m, r).await;
    }
    let mismatches: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM (
            SELECT a.organization_id, -a.balance_cents AS ledger, coalesce(s.pending_cents, 0) AS view
              FROM ledger_accounts a LEFT JOIN workshop_earnings_summary s ON s.workshop_id = a.organization_id
             WHERE a.kind = 'workshop_payable'
            UNION ALL
            SELECT a.mechanic_id, -a.balance_cents, coalesce(s.pending_cents, 0)
              FROM ledger_accounts a LEFT JOIN mechanic_earnings_summary s ON s.mechanic_id = a.mechanic_id
             WHERE a.kind = 'mechanic_payable') x
          WHERE ledger <> view",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(mismatches, 0);
    let (gross, fee, net): (i64, i64, i64) = sqlx::query_as(
        "SELECT gross_amount_cents, platform_fee_cents, workshop_net_cents FROM workshop_earnings
          WHERE workshop_id = $1 AND share_kind = 'workshop_service' LIMIT 1",
    )
    .bind(a)
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!((gross, fee, net), (10000, 2000, 8000));
    let referral: i64 = sqlx::query_scalar(
        "SELECT workshop_net_cents FROM workshop_earnings WHERE workshop_id = $1 AND share_kind = 'referral'",
    )
    .bind(a)
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(referral, 1000);
    let indie_total: i64 =
        sqlx::query_scalar("SELECT pending_cents FROM mechanic_earnings_summary WHERE mechanic_id = $1")
            .bind(indie)
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(indie_total, 7000 + 8000);
    // Every cent paid in is either still in clearing or split out.
    assert_eq!(autodoctor::ledger::check_consistency(&pool).await.unwrap(), Vec::<String>::new());
}

#[sqlx::test(migrator = "autodoctor::db::MIGRATOR")]
async fn owners_read_their_earnings_and_export_them(pool: PgPool) {
    plan(&pool).await;
    let app = TestApp::new(pool.clone());
    let a = workshop(&pool, "Alpha").await;
    let b = workshop(&pool, "Beta").await;
    for (email, org) in [("owner-a@example.com", a), ("owner-b@example.com", b)] {
        let owner = create_user(&pool, email, Role::WorkshopMember).await;
        sqlx::query(
            "INSERT INTO organization_members (organization_id, user_id, role) VALUES ($1, $2, 'owner')",
        )
        .bind(org)
        .bind(owner)
        .execute(&pool)
        .await
        .unwrap();
    }
    let a1 = mechanic(&pool, "a1@example.com", Some(a), true).await;
    let customer = create_user(&pool, "c@example.com", Role::Customer).await;
    let (_, r) = paid_order_via_webhook(&app, customer, RoutingType::WorkshopOnly, Some(a), "hundred").await;
    serve(&pool, a1, r).await;

    let mut owner_a = app.client();
    owner_a.log_in("owner-a@example.com", TEST_PASSWORD).await;
    let e = owner_a.call("/api/workshop/earnings", &[]).await;
    assert_eq!(e.status, StatusCode::OK, "{}", e.body);
    let e = e.json();
    assert_eq!(e["totals"]["pending_cents"], 8000);
    assert_eq!(e["totals"]["lifetime_cents"], 8000);
    assert_eq!(e["rows"][0]["net_cents"], 8000);
    assert_eq!(e["rows"][0]["platform_fee_cents"], 2000);
    assert_eq!(e["rows"][0]["payout_status"], "pending");
    assert_eq!(e["chart"].as_array().unwrap().len(), 30);
    assert_eq!(e["chart"][29]["cents"], 8000);

    let csv = owner_a.get("/workshop/earnings.csv").await;
    assert_eq!(csv.status, StatusCode::OK);
    assert_eq!(csv.header("content-type"), Some("text/csv; charset=utf-8"));
    let lines: Vec<&str> = csv.body.lines().collect();
    assert_eq!(lines.len(), 2, "{}", csv.body);
    assert!(lines[1].ends_with(",100.00,20.00,0.00,80.00,USD,pending,80.00,0.00"), "{}", lines[1]);

    // B's owner sees only B (nothing), and dates are checked.
    let mut owner_b = app.client();
    owner_b.log_in("owner-b@example.com", TEST_PASSWORD).await;
    let e = owner_b.call("/api/workshop/earnings", &[]).await.json();
    assert_eq!(e["totals"]["pending_cents"], 0);
    assert_eq!(e["rows"], serde_json::json!([]));
    assert_eq!(owner_b.get("/workshop/earnings.csv").await.body.lines().count(), 1);
    let bad = owner_a.call("/api/workshop/earnings", &[("from", "2026-13-01")]).await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert_eq!(owner_a.get("/workshop/earnings.csv?from=nonsense").await.status, StatusCode::BAD_REQUEST);
    // Mechanics and anonymous visitors cannot export.
    let mut mech = app.client();
    mech.log_in("a1@example.com", TEST_PASSWORD).await;
    assert_eq!(mech.get("/workshop/earnings.csv").await.status, StatusCode::FORBIDDEN);
    assert_eq!(app.client().get("/workshop/earnings.csv").await.status, StatusCode::UNAUTHORIZED);
    // The workshop mechanic sees the session, and that the workshop pays them.
    let m = mech.call("/api/mechanic/earnings", &[]).await.json();
    assert_eq!(m["workshop_name"], "Alpha");
    assert!(m["totals"].is_null());
    assert_eq!(m["served"].as_array().unwrap().len(), 1);
}

#[sqlx::test(migrator = "autodoctor::db::MIGRATOR")]
async fn the_admin_reads_platform_revenue_by_day_and_workshop(pool: PgPool) {
    plan(&pool).await;
    let app = TestApp::new(pool.clone());
    let a = workshop(&pool, "Alpha").await;
    let a1 = mechanic(&pool, "a1@example.com", Some(a), true).await;
    let indie = mechanic(&pool, "indie@example.com", None, true).await;
    let customer = create_user(&pool, "c@example.com", Role::Customer).await;
    for (m, routing, pref) in
        [(a1, RoutingType::WorkshopOnly, Some(a)), (indie, RoutingType::Broadcast, None)]
    {
        let (_, r) = paid_order_via_webhook(&app, customer, routing, pref, "hundred").await;
        serve(&pool, m, r).await;
    }
    create_user(&pool, "admin@example.com", Role::Admin).await;
    let mut admin = app.client();
    admin.log_in("admin@example.com", TEST_PASSWORD).await;
    let rev = admin.call("/api/admin/revenue", &[]).await;
    assert_eq!(rev.status, StatusCode::OK, "{}", rev.body);
    let rev = rev.json();
    assert_eq!(rev["total_30d_cents"], 4000);
    assert_eq!(rev["by_day"][29]["cents"], 4000);
    let by_workshop = rev["by_workshop"].as_array().unwrap();
    assert_eq!(by_workshop.len(), 2);
    assert!(by_workshop.iter().any(|w| w["workshop_name"] == "Alpha" && w["platform_fee_cents"] == 2000));
    assert!(by_workshop.iter().any(|w| w["workshop_id"].is_null() && w["sessions"] == 1));
    let mut customer_client = app.client();
    customer_client.log_in("c@example.com", TEST_PASSWORD).await;
    assert_eq!(customer_client.call("/api/admin/revenue", &[]).await.status, StatusCode::FORBIDDEN);
}
