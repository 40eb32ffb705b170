//! The whole conformance suite against a [`SqliteStore`] with every feature,
//! on a file database.
//!
//! Every case gets its own temporary database file (deleted afterwards) and
//! its own manual clock, shared with the subject: cases that move the clock
//! or prune by time cannot disturb each other, and TTL cases need no sleep.

use std::sync::Arc;

use fullauth_api::{Clock, Features, Timestamp};
use fullauth_conformance::{Subject, conformance_tests};
use fullauth_sqlite::{SqliteOptions, SqliteStore};

/// A fresh, migrated file database with the app column `display_name` the
/// suite expects, on a manual clock.
async fn subject() -> Subject {
    let clock = Clock::manual(Timestamp::now());
    let store = SqliteStore::open_temporary(SqliteOptions::new().clock(clock.clone()))
        .await
        .expect("open a temporary database");
    store
        .migrator()
        .apply(Features::all())
        .await
        .expect("migrate every feature");
    store
        .with_connection(|c| {
            c.execute_batch("ALTER TABLE fullauth_users ADD COLUMN display_name VARCHAR(100)")
        })
        .await
        .expect("add the app column");
    Subject::new(Arc::new(store)).with_clock(clock)
}

conformance_tests!(subject);
