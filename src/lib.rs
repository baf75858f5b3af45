//! autodoctor: remote diagnostic sessions with mechanics, routed to workshops,
//! paid through Stripe and split to the cent.
//!
//! The crate is built twice: with `ssr` as the server (axum + sqlx) and with
//! `hydrate` as the WebAssembly that takes over the server-rendered pages.
//! Each feature module keeps its shared types, server functions, queries and
//! components together.

// The optimised (release) WebAssembly build inlines deeply nested view types;
// the default limit of 128 stops it on the payouts pages.
#![recursion_limit = "256"]

// The layers, lowest first. A module may import modules of its own layer (without
// a cycle) or of lower layers, never of a higher one; `scripts/test` checks this
// (scripts/lib/layers.py reads these headings). README.md explains each layer.

// layer 0 core: errors, configuration, the database pool, logging, and checks of input
#[cfg(feature = "ssr")]
pub mod config;
#[cfg(feature = "ssr")]
pub mod db;
pub mod error;
#[cfg(feature = "ssr")]
pub mod faults;
pub mod ids;
#[cfg(feature = "ssr")]
pub mod telemetry;
#[cfg(feature = "ssr")]
pub mod token;
pub mod url;
pub mod validate;

// layer 1 domain: the platform's vocabulary and its pure rules (no I/O)
pub mod account;
pub mod dispatch;
pub mod revenue;
pub mod status;

// layer 2 shared: shared UI, and the infrastructure and integrations the features use
#[cfg(feature = "ssr")]
pub mod consistency;
pub mod ledger;
#[cfg(feature = "ssr")]
pub mod limits;
pub mod mail;
pub mod payments;
pub mod realtime;
pub mod ui;
#[cfg(feature = "ssr")]
pub mod workers;

// layer 3 state: the application state, a leaf every feature reaches
#[cfg(feature = "ssr")]
pub mod state;

// layer 4 features: one module per product area (types, server functions, pages, server-only code)
pub mod admin;
pub mod auth;
pub mod booking;
pub mod checkout;
pub mod directory;
pub mod earnings;
pub mod home;
pub mod mechanics;
pub mod notifications;
pub mod offers;
pub mod payouts;
pub mod plans;
pub mod refunds;
pub mod sessions;
pub mod signup;
pub mod workshops;

// layer 5 app: the page shell and the URL routes of the pages
pub mod app;

// layer 6 server: the HTTP server (router, middleware, start-up) and the command-line tasks
#[cfg(feature = "ssr")]
pub mod seed;
#[cfg(feature = "ssr")]
pub mod server;

#[cfg(feature = "hydrate")]
#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    // Islands: only the components marked #[island] hydrate (leptos's island
    // script calls this, then hydrates each island it finds).
    leptos::mount::hydrate_islands();
}
