//! Refunds to customers through the payment gateway.
//!
//! A refund row is written first (with the idempotency key the gateway call
//! uses), the gateway is called, and the outcome is recorded: a crash or a retry
//! in between never refunds twice, and the customer can simply try again.

#[cfg(feature = "ssr")]
mod ledger;
#[cfg(feature = "ssr")]
mod refund;
#[cfg(feature = "ssr")]
mod unserved;

#[cfg(feature = "ssr")]
pub use ledger::record_refund;
#[cfg(feature = "ssr")]
pub use refund::*;
#[cfg(feature = "ssr")]
pub use unserved::*;
