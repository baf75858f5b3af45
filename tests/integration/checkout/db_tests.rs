//! The webhook endpoint's own defences against forged events.

use crate::testing::fixtures::{connect, workshop};
use crate::testing::{test_config, TestApp};
use autodoctor::config::PUBLISHED_SANDBOX_WEBHOOK_SECRET;
use autodoctor::payments::signing::signature_header;
use autodoctor::state::AppState;
use axum::http::StatusCode;
use sqlx::PgPool;

/// Issue: the sandbox signed its events with a secret published in the source,
/// so anyone reaching a sandbox install could sign `account.updated` (payouts
/// enabled on any payee) or a paid checkout. Each install now makes its own.
#[sqlx::test(migrator = "autodoctor::db::MIGRATOR")]
async fn each_sandbox_install_signs_with_a_secret_of_its_own(pool: PgPool) {
    let mut config = test_config();
    config.stripe_webhook_secret = String::new();
    let state = AppState::start(config.clone(), pool.clone()).await.unwrap();
    let secret = state.config.stripe_webhook_secret.clone();
    assert!(secret.starts_with("whsec_") && secret.len() == 6 + 64, "{secret}");
    assert_ne!(secret, PUBLISHED_SANDBOX_WEBHOOK_SECRET);
    let other_instance = AppState::start(config, pool.clone()).await.unwrap();
    assert_eq!(other_instance.config.stripe_webhook_secret, secret, "kept, and shared by every instance");

    let app = TestApp::from_state(state);
    let w = workshop(&pool, "Alpha").await;
    let account = connect(&pool, Some(w), None, false).await;
    let (_, payload) = autodoctor::payments::sandbox::account_event(&account, true, true, true);
    let now = chrono::Utc::now().timestamp();
    let post = |sig: String| {
        let (app, payload) = (app.clone(), payload.clone());
        async move {
            app.client()
                .post_raw("/api/stripe/webhook", "application/json", payload, &[("stripe-signature", &sig)])
                .await
        }
    };
    let forged = post(signature_header(PUBLISHED_SANDBOX_WEBHOOK_SECRET, now, &payload)).await;
    assert_eq!(forged.status, StatusCode::BAD_REQUEST, "{}", forged.body);
    let enabled: bool = sqlx::query_scalar("SELECT stripe_payouts_enabled FROM organizations WHERE id = $1")
        .bind(w)
        .fetch_one(&pool)
        .await
        .unwrap();
    assert!(!enabled, "a forged account.updated changes nothing");

    let genuine = post(signature_header(&secret, now, &payload)).await;
    assert_eq!(genuine.status, StatusCode::OK, "{}", genuine.body);
    let enabled: bool = sqlx::query_scalar("SELECT stripe_payouts_enabled FROM organizations WHERE id = $1")
        .bind(w)
        .fetch_one(&pool)
        .await
        .unwrap();
    assert!(enabled, "the install's own events still work");
}

/// With no secret at all (never the case after start-up), nothing verifies.
#[sqlx::test(migrator = "autodoctor::db::MIGRATOR")]
async fn an_empty_secret_verifies_nothing(pool: PgPool) {
    let mut config = test_config();
    config.stripe_webhook_secret = String::new();
    let app = TestApp::with_config(pool.clone(), config);
    let w = workshop(&pool, "Alpha").await;
    let account = connect(&pool, Some(w), None, false).await;
    let (_, payload) = autodoctor::payments::sandbox::account_event(&account, true, true, true);
    let sig = signature_header("", chrono::Utc::now().timestamp(), &payload);
    let res = app
        .client()
        .post_raw("/api/stripe/webhook", "application/json", payload, &[("stripe-signature", &sig)])
        .await;
    assert_eq!(res.status, StatusCode::SERVICE_UNAVAILABLE, "{}", res.body);
}
