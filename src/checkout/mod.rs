//! Checkout's server side: the Stripe webhook that fulfils paid orders (and
//! records Connect account updates), and, in sandbox mode, the hosted payment and
//! onboarding pages that stand in for Stripe's.

#[cfg(feature = "ssr")]
pub mod sandbox_pages;
#[cfg(feature = "ssr")]
pub mod webhook;
