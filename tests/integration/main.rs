//! The integration tests: one binary, every test on a fresh PostgreSQL database
//! (`#[sqlx::test]`) through the crate's public API and its real router.
//!
//! The modules mirror the crate's (`booking::db_tests` tests `autodoctor::booking`),
//! so a test's name says what it tests and filters such as `payouts::db_tests`
//! pick it out. `testing` is the shared support (a `TestApp` on the real router,
//! a cookie-keeping client, fixtures); `security` holds the cross-cutting suites
//! (the authorization matrix, hostile input, the lifecycle state machine, the
//! soak, revocation of live streams).
//!
//! The tests need the server half of the crate: `cargo test --features ssr`
//! (which `scripts/test` runs, with a database). Built without it, this binary
//! holds one test that fails and says so, so that a plain `cargo test` never
//! passes while skipping every database test.

#[cfg(not(feature = "ssr"))]
#[test]
fn the_database_tests_need_the_ssr_feature() {
    panic!(
        "the integration tests are built only with the server half of the crate: \
         run `scripts/test db` (which starts the local PostgreSQL cluster), or \
         `DATABASE_URL=postgres://... cargo test --features ssr --test integration`"
    );
}

#[cfg(feature = "ssr")]
mod testing;

#[cfg(feature = "ssr")]
#[allow(dead_code)] // shared with the unit tests, which use the rest of it
#[path = "../../src/sessions/photos/fixtures_tests.rs"]
mod photo_fixtures;

#[cfg(feature = "ssr")]
mod config;
#[cfg(feature = "ssr")]
mod security;

#[cfg(feature = "ssr")]
mod auth {
    mod db_tests;
}
#[cfg(feature = "ssr")]
mod booking {
    mod db_tests;
}
#[cfg(feature = "ssr")]
mod checkout {
    mod db_tests;
}
#[cfg(feature = "ssr")]
mod consistency {
    mod db_tests;
}
#[cfg(feature = "ssr")]
mod directory {
    mod db_tests;
}
#[cfg(feature = "ssr")]
mod earnings {
    mod db_tests;
}
#[cfg(feature = "ssr")]
mod ledger {
    mod db_tests;
}
#[cfg(feature = "ssr")]
mod mail {
    mod sender_db_tests;
}
#[cfg(feature = "ssr")]
mod notifications {
    mod db_tests;
}
#[cfg(feature = "ssr")]
mod offers {
    mod mail_db_tests;
}
#[cfg(feature = "ssr")]
mod payouts {
    mod db_tests;
}
#[cfg(feature = "ssr")]
mod server {
    mod detach_db_tests;
}
#[cfg(feature = "ssr")]
mod sessions {
    mod db_tests;
    mod call {
        mod db_tests;
    }
    mod photos {
        mod db_tests;
    }
    mod report {
        mod db_tests;
    }
}
#[cfg(feature = "ssr")]
mod signup {
    mod db_tests;
}
#[cfg(feature = "ssr")]
mod workers {
    mod queue_db_tests;
}
#[cfg(feature = "ssr")]
mod workshops {
    mod db_tests;
    mod page_db_tests;
    mod profile_db_tests;
    mod trends_db_tests;
}
