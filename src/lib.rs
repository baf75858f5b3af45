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

pub mod admin;
pub mod app;
pub mod auth;
pub mod booking;
pub mod directory;
pub mod earnings;
pub mod error;
pub mod home;
pub mod invites;
pub mod ledger;
pub mod mail;
pub mod mechanics;
pub mod payments;
pub mod payouts;
pub mod plans;
pub mod realtime;
pub mod refunds;
pub mod revenue;
pub mod routing;
pub mod sessions;
pub mod ui;
pub mod workshops;

#[cfg(feature = "ssr")]
pub mod config;
#[cfg(feature = "ssr")]
pub mod consistency;
#[cfg(feature = "ssr")]
pub mod db;
#[cfg(feature = "ssr")]
pub mod faults;
#[cfg(feature = "ssr")]
pub mod seed;
#[cfg(feature = "ssr")]
pub mod server;
#[cfg(feature = "ssr")]
pub mod telemetry;
#[cfg(all(test, feature = "ssr"))]
pub mod testing;

#[cfg(feature = "hydrate")]
#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    leptos::mount::hydrate_body(app::App);
}
#[cfg(all(test, feature = "ssr"))]
mod security;
