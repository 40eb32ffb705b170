//! The whole conformance suite against PostgreSQL
//! (`FULLAUTH_TEST_DATABASE_URL`), every feature, once per user key type:
//! UUID (the default), integer (`id SERIAL`, `user_id INTEGER`) and text
//! (`VARCHAR`). Each key type has a schema of this run's own
//! (`fullauth_test_<time>_<random>`), migrated for that key type, with the
//! suite's three app columns added after migrating and declared to the
//! subject: `display_name TEXT` (the suite writes 64 KiB into it),
//! `newsletter BOOLEAN`, `login_count INTEGER`, all nullable (see
//! `common::shared_keyed_schema`).
//!
//! Each case gets a store with connections of its own (`connect`: a
//! connection belongs to the runtime that opened it, and each case runs on
//! its own runtime; `tests/conformance_adopted_0_13.rs` runs the suite on
//! the app-pool path) and its own manual clock (so TTL and expiry cases move time
//! instead of sleeping; `FULLAUTH_TEST_CLOCK=system` uses the real clock).
//! The UUID store takes the key type from the catalog (nothing set); the
//! integer and text stores are built for theirs
//! ([`PgStoreBuilder::user_id_type`](fullauth_postgres::PgStoreBuilder::user_id_type)),
//! so both ways of opening are run.

mod common;

use std::sync::Arc;

use fullauth_api::{StoreInfo, UserIdType};
use fullauth_conformance::{ColumnKind, Subject, conformance_tests};
use fullauth_postgres::PgStore;

async fn subject() -> Option<Subject> {
    keyed(UserIdType::Uuid).await
}

/// The subject on the schema of key type `key`.
async fn keyed(key: UserIdType) -> Option<Subject> {
    let url = common::database_url()?; // None: not configured here (a CI run panics instead)
    let schema = common::shared_keyed_schema(&url, key);
    let clock = common::test_clock();
    let builder = match key {
        UserIdType::Uuid => PgStore::builder(),
        other => PgStore::builder().user_id_type(other),
    };
    let store = common::store_with(&url, schema, clock.clone(), builder).await;
    assert_eq!(store.user_id_type(), key);
    Some(
        Subject::new(Arc::new(store))
            .with_clock(clock)
            .with_app_column("display_name", ColumnKind::Text)
            .with_app_column("newsletter", ColumnKind::Boolean)
            .with_app_column("login_count", ColumnKind::Integer),
    )
}

conformance_tests!(subject);

/// The suite on an integer-keyed database.
mod int_keys {
    use super::*;

    async fn subject() -> Option<Subject> {
        keyed(UserIdType::Int).await
    }

    conformance_tests!(subject);
}

/// The suite on a text-keyed database.
mod text_keys {
    use super::*;

    async fn subject() -> Option<Subject> {
        keyed(UserIdType::Text).await
    }

    conformance_tests!(subject);
}
