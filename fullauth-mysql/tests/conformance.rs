//! The whole conformance suite against MariaDB (`FULLAUTH_TEST_MYSQL_URL`),
//! every feature, once per user key type MariaDB serves: UUID (the
//! default) and integer (`id INTEGER AUTO_INCREMENT`, `user_id INTEGER`).
//! Each key type has a database of this run's own
//! (`fullauth_test_<time>_<random>`), migrated for that key type, with the
//! suite's three app columns added after migrating and declared to the
//! subject: `display_name MEDIUMTEXT` (the suite writes 64 KiB into it;
//! `TEXT` holds 65,535 bytes), `newsletter BOOLEAN`, `login_count INTEGER`,
//! all nullable (see `common::shared_keyed_database`).
//!
//! Each case gets a store with its own small pool (a sqlx pool belongs to the
//! runtime that opened its connections, and each case runs on its own
//! runtime) and its own manual clock (so TTL and expiry cases move time
//! instead of sleeping; `FULLAUTH_TEST_CLOCK=system` uses the real clock).
//! The stores are opened on the app's pool, which does no I/O: the UUID
//! store takes the default key type, the integer store is built for its
//! own ([`MySqlStoreBuilder::user_id_type`](fullauth_mysql::MySqlStoreBuilder::user_id_type)).

mod common;

use std::sync::Arc;

use fullauth_api::{StoreInfo, UserIdType};
use fullauth_conformance::{ColumnKind, Subject, conformance_tests};
use fullauth_mysql::MySqlStore;

async fn subject() -> Option<Subject> {
    keyed(UserIdType::Uuid).await
}

/// The subject on the database of key type `key`.
async fn keyed(key: UserIdType) -> Option<Subject> {
    let url = common::database_url()?; // None: not configured here (a CI run panics instead)
    let database = common::shared_keyed_database(&url, key);
    let clock = common::test_clock();
    let builder = match key {
        UserIdType::Uuid => MySqlStore::builder(),
        other => MySqlStore::builder().user_id_type(other),
    };
    let store = common::store_with(&url, database, clock.clone(), builder).await;
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
