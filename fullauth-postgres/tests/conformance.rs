//! The whole conformance suite against PostgreSQL
//! (`FULLAUTH_TEST_DATABASE_URL`), every feature, in a schema of this run's
//! own (`fullauth_test_<time>_<random>`) with the suite's app column
//! `display_name text` added after migrating (see `common::shared_schema`).
//!
//! Each case gets a store with its own small pool (a sqlx pool belongs to the
//! runtime that opened its connections, and each case runs on its own
//! runtime) and its own manual clock (so TTL and expiry cases move time
//! instead of sleeping; `FULLAUTH_TEST_CLOCK=system` uses the real clock).

mod common;

use std::sync::Arc;

use fullauth_conformance::{Subject, conformance_tests};

async fn subject() -> Subject {
    let Some(url) = common::database_url() else {
        // The harness cannot skip a test from inside it: end the test binary
        // successfully after the loud message.
        std::process::exit(0);
    };
    let schema = common::shared_schema(&url);
    let clock = common::test_clock();
    let store = common::store(&url, schema, clock.clone()).await;
    Subject::new(Arc::new(store)).with_clock(clock)
}

conformance_tests!(subject);
