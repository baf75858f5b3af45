//! The data set: workshops, mechanics, customers and completed sessions with
//! their ratings and ledger entries, inserted with set-based SQL.
//!
//! Sessions are inserted in batches with `session_replication_role = replica`
//! (no triggers, so neither the ledger's per-posting balance updates nor the
//! deferred balance check run row by row); everything the triggers and the
//! app's transactions would have maintained is then recomputed in bulk
//! (`recompute`), and `verify` checks the result.
//!
//! Helper tables live in the schema `bench` of the benchmark database.
//!
//! This file holds the data set's shape and what its steps share; each step is a
//! file of its own: `base`, `grow`, `recompute`, `verify`.

mod base;
mod grow;
mod recompute;
mod verify;

pub use base::base;
pub use grow::grow;
pub use verify::{verify, Census};

use sqlx::PgConnection;

/// The shape of the data set.
#[derive(Clone, Debug)]
pub struct Shape {
    pub workshops: i32,
    pub mechanics: i32,
    /// Of the mechanics, this many are independents (the rest belong to workshops).
    pub independents: i32,
    pub customers: i32,
    /// Mechanics of the one big workshop (workshop 0).
    pub big_workshop_mechanics: i32,
    /// One session in this many goes to the big workshop (10: 100,000 of 1,000,000).
    pub big_every: i64,
    /// One approved mechanic in this many is online.
    pub online_every: i32,
    /// Days of history the sessions are spread over.
    pub history_days: i32,
}

impl Default for Shape {
    fn default() -> Self {
        Shape {
            workshops: 1000,
            mechanics: 20_000,
            independents: 2000,
            customers: 50_000,
            big_workshop_mechanics: 100,
            big_every: 10,
            online_every: 5,
            history_days: 730,
        }
    }
}

pub const PASSWORD: &str = "bench-password";

pub(super) async fn exec(conn: &mut PgConnection, sql: &str) -> Result<(), sqlx::Error> {
    sqlx::raw_sql(sql).execute(&mut *conn).await?;
    Ok(())
}
