//! The measurements: throughput and latency with wrk, the booking pipeline from a
//! signed webhook to a mechanic's live stream, and the accept race.
//!
//! Each measurement is a file of its own (`wrk`, `pipeline`, `race`), beside what
//! they share: percentiles, logging in, and paid orders.

mod login;
mod orders;
mod percentiles;
mod pipeline;
mod race;
mod wrk;

pub use login::{client, log_in_all};
pub use percentiles::Latency;
pub use pipeline::{pipeline, Pipeline};
pub use race::{race, Race};
pub use wrk::{check, wrk, Load, WrkRequest};

pub type Error = Box<dyn std::error::Error + Send + Sync>;
