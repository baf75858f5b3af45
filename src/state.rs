//! The application state: what every handler, server function and worker
//! shares (the database pool, the configuration, the payment gateway and the
//! live-update fan-out). A leaf of the feature layers: it imports only the
//! layers below it, and every feature reaches it through `app_state()`.

use crate::config::Config;
use crate::error::AppError;
use crate::payments::gateway::PaymentGateway;
use crate::payments::sandbox::SandboxGateway;
use axum::extract::FromRef;
use leptos::prelude::*;
use sqlx::PgPool;
use std::sync::Arc;

/// Everything a handler or server function needs, cloned cheaply per request.
#[derive(Clone)]
pub struct AppState {
    pub leptos_options: LeptosOptions,
    pub pool: PgPool,
    pub config: Arc<Config>,
    pub payments: Arc<dyn PaymentGateway>,
    /// Set in sandbox mode: wakes the sandbox's webhook deliverer.
    pub sandbox_deliveries: Option<Arc<tokio::sync::Notify>>,
    /// Signals from LISTEN/NOTIFY, fanned out to this instance's live streams.
    pub realtime: crate::realtime::server::Realtime,
}

impl FromRef<AppState> for LeptosOptions {
    fn from_ref(state: &AppState) -> Self {
        state.leptos_options.clone()
    }
}

impl AppState {
    pub fn new(config: Config, pool: PgPool) -> Self {
        crate::mail::set_public_url(&config.public_url);
        let leptos_options = leptos_options(&config);
        let (payments, sandbox_deliveries): (Arc<dyn PaymentGateway>, _) = match &config.stripe_secret_key {
            Some(key) => (
                Arc::new(crate::payments::stripe::StripeGateway::new(key, config.stripe_api_base.as_deref())),
                None,
            ),
            None => {
                let sandbox = SandboxGateway::new(pool.clone(), config.public_url.clone());
                let notify = sandbox.deliveries.clone();
                (Arc::new(sandbox), Some(notify))
            }
        };
        let realtime = crate::realtime::server::Realtime::new();
        // Inside a runtime (the server, the tests) the listener starts right away.
        if tokio::runtime::Handle::try_current().is_ok() {
            realtime.spawn_listener(pool.clone());
        }
        AppState { leptos_options, pool, config: Arc::new(config), payments, sandbox_deliveries, realtime }
    }

    /// The state `serve` and the commands use. In sandbox mode without a
    /// configured `STRIPE_WEBHOOK_SECRET`, the webhook signing secret is the
    /// install's own: made once at random, kept in the database (so every
    /// instance on it agrees), never published.
    pub async fn start(mut config: Config, pool: PgPool) -> Result<Self, sqlx::Error> {
        if config.stripe_secret_key.is_none() && config.stripe_webhook_secret.is_empty() {
            config.stripe_webhook_secret = crate::payments::sandbox::install_webhook_secret(&pool).await?;
        }
        Ok(Self::new(config, pool))
    }

    pub fn is_sandbox(&self) -> bool {
        self.sandbox_deliveries.is_some()
    }
}

/// The state inside a server function or a server-side render.
pub fn app_state() -> Result<AppState, AppError> {
    use_context::<AppState>().ok_or_else(|| AppError::internal("app state", "missing from context"))
}

fn leptos_options(config: &Config) -> LeptosOptions {
    // cargo-leptos writes hash.txt next to the server binary when it hashes file names.
    let hash_file_present = std::env::current_exe()
        .ok()
        .and_then(|exe| exe.parent().map(|dir| dir.join("hash.txt").exists()))
        .unwrap_or(false);
    LeptosOptions::builder()
        .output_name("autodoctor")
        .site_root(config.site_root.as_str())
        .site_pkg_dir("pkg")
        .site_addr(config.site_addr())
        .hash_files(hash_file_present)
        .build()
}
