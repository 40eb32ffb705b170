//! The whole conformance suite against a [`SqliteStore`] with every feature,
//! on a file database.
//!
//! Every case gets its own temporary database file (deleted afterwards) and
//! its own manual clock, shared with the subject: cases that move the clock
//! or prune by time cannot disturb each other, and TTL cases need no sleep.

use std::sync::Arc;

use fullauth_api::{Clock, Timestamp};
use fullauth_conformance::{ColumnKind, Subject, conformance_tests};
use fullauth_sqlite::SqliteStore;

/// A fresh, migrated file database on a manual clock, with the three
/// nullable app columns the suite's app-column cases use.
async fn subject() -> Subject {
    let clock = Clock::manual(Timestamp::now());
    let store = SqliteStore::builder()
        .clock(clock.clone())
        .migrate(true)
        .open_temporary()
        .await
        .expect("open and migrate a temporary database");
    store
        .with_connection(|c| {
            c.execute_batch(
                "ALTER TABLE fullauth_users ADD COLUMN display_name TEXT;
                 ALTER TABLE fullauth_users ADD COLUMN newsletter BOOLEAN;
                 ALTER TABLE fullauth_users ADD COLUMN login_count INTEGER;",
            )
        })
        .await
        .expect("add the app columns");
    Subject::new(Arc::new(store))
        .with_clock(clock)
        .with_app_column("display_name", ColumnKind::Text)
        .with_app_column("newsletter", ColumnKind::Boolean)
        .with_app_column("login_count", ColumnKind::Integer)
}

conformance_tests!(subject);
