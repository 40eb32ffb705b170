//! The whole conformance suite against PostgreSQL
//! (`FULLAUTH_TEST_DATABASE_URL`), every feature, in a schema of this run's
//! own (`fullauth_test_<time>_<random>`) with the suite's three app columns
//! added after migrating and declared to the subject: `display_name
//! TEXT` (the suite writes 64 KiB into it), `newsletter BOOLEAN`, `login_count INTEGER`, all nullable
//! (see `common::shared_schema`).
//!
//! Each case gets a store with connections of its own (`connect`: a
//! connection belongs to the runtime that opened it, and each case runs on
//! its own runtime; `tests/conformance_adopted_0_13.rs` runs the suite on
//! the app-pool path) and its own manual clock (so TTL and expiry cases move time
//! instead of sleeping; `FULLAUTH_TEST_CLOCK=system` uses the real clock).

mod common;

use std::sync::Arc;

use fullauth_conformance::{ColumnKind, Subject, conformance_tests};

async fn subject() -> Option<Subject> {
    let url = common::database_url()?; // None: not configured here (a CI run panics instead)
    let schema = common::shared_schema(&url);
    let clock = common::test_clock();
    let store = common::store(&url, schema, clock.clone()).await;
    Some(
        Subject::new(Arc::new(store))
            .with_clock(clock)
            .with_app_column("display_name", ColumnKind::Text)
            .with_app_column("newsletter", ColumnKind::Boolean)
            .with_app_column("login_count", ColumnKind::Integer),
    )
}

conformance_tests!(subject);
