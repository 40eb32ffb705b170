//! Model-based differential testing against MariaDB
//! (`FULLAUTH_TEST_MYSQL_URL`), every feature: generated sequences
//! (`FULLAUTH_MODEL_CASES`, default 16) compared with the pure model of the
//! contract (see `fullauth_conformance::model`).
//!
//! The sequences share this binary's database (`common::shared_database`);
//! each tags its names with a random tag, so they never see each other's
//! rows. Each gets a store with its own small pool and its own manual clock.

mod common;

use std::sync::Arc;

use fullauth_api::{Clock, Timestamp};
use fullauth_conformance::{Subject, model_tests};

async fn subject() -> Option<Subject> {
    let url = common::database_url()?; // None: not configured here (a CI run panics instead)
    let database = common::shared_database(&url);
    let clock = Clock::manual(Timestamp::now());
    let store = common::store(&url, database, clock.clone()).await;
    Some(Subject::new(Arc::new(store)).with_clock(clock))
}

model_tests!(subject);
