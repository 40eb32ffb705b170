//! The whole conformance suite against MariaDB (`FULLAUTH_TEST_MYSQL_URL`),
//! every feature, in a database of this run's own
//! (`fullauth_test_<time>_<random>`) with the suite's three app columns
//! added after migrating and declared to the subject: `display_name
//! MEDIUMTEXT` (the suite writes 64 KiB into it; `TEXT` holds 65,535 bytes), `newsletter BOOLEAN`, `login_count
//! INTEGER`, all nullable (see `common::shared_database`).
//!
//! Each case gets a store with its own small pool (a sqlx pool belongs to the
//! runtime that opened its connections, and each case runs on its own
//! runtime) and its own manual clock (so TTL and expiry cases move time
//! instead of sleeping; `FULLAUTH_TEST_CLOCK=system` uses the real clock).

mod common;

use std::sync::Arc;

use fullauth_conformance::{ColumnKind, Subject, conformance_tests};

async fn subject() -> Option<Subject> {
    let url = common::database_url()?; // None: not configured here (a CI run panics instead)
    let database = common::shared_database(&url);
    let clock = common::test_clock();
    let store = common::store(&url, database, clock.clone()).await;
    Some(
        Subject::new(Arc::new(store))
            .with_clock(clock)
            .with_app_column("display_name", ColumnKind::Text)
            .with_app_column("newsletter", ColumnKind::Boolean)
            .with_app_column("login_count", ColumnKind::Integer),
    )
}

conformance_tests!(subject);
