//! Payments: the gateway trait and its Stripe and sandbox implementations, the
//! webhook endpoint, and fulfilment of paid orders.

#[cfg(feature = "ssr")]
pub mod gateway;
// (stripe adapter module is declared below by its author)
#[cfg(feature = "ssr")]
pub mod sandbox;
#[cfg(feature = "ssr")]
pub mod sandbox_pages;
#[cfg(feature = "ssr")]
pub mod signing;
#[cfg(feature = "ssr")]
pub mod stripe;
#[cfg(feature = "ssr")]
pub mod webhook;
