//! Payments: the gateway trait and its Stripe and sandbox implementations, and
//! the signing of webhook events. The webhook endpoint and the fulfilment of paid
//! orders are the `checkout` feature.

#[cfg(feature = "ssr")]
pub mod gateway;
#[cfg(feature = "ssr")]
pub mod sandbox;
#[cfg(feature = "ssr")]
pub mod signing;
#[cfg(feature = "ssr")]
pub mod stripe;
