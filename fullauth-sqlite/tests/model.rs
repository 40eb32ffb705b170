//! Model-based differential testing of a [`SqliteStore`] with every feature,
//! on a file database: generated sequences (`FULLAUTH_MODEL_CASES`, default
//! 16) compared with the pure model of the contract (see
//! `fullauth_conformance::model`). Every sequence gets its own temporary
//! database and manual clock.

use std::sync::Arc;

use fullauth_api::{Clock, Timestamp};
use fullauth_conformance::{Subject, model_tests};
use fullauth_sqlite::SqliteStore;

/// A fresh, migrated file database on a manual clock shared with the subject.
async fn subject() -> Subject {
    let clock = Clock::manual(Timestamp::now());
    let store = SqliteStore::builder()
        .clock(clock.clone())
        .migrate(true)
        .open_temporary()
        .await
        .expect("open and migrate a temporary database");
    Subject::new(Arc::new(store)).with_clock(clock)
}

model_tests!(subject);
