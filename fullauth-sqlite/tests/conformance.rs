//! The whole conformance suite against a [`SqliteStore`] with every feature,
//! on a file database, once per user key type: UUID, integer (`INTEGER`
//! rowid alias) and text (`VARCHAR`), each database migrated for its type.
//!
//! Every case gets its own temporary database file (deleted afterwards) and
//! its own manual clock, shared with the subject: cases that move the clock
//! or prune by time cannot disturb each other, and TTL cases need no sleep.

use std::sync::Arc;

use fullauth_api::{Clock, StoreInfo, Timestamp, UserIdType};
use fullauth_conformance::{ColumnKind, Subject, conformance_tests};
use fullauth_sqlite::SqliteStore;

/// A fresh, migrated file database on a manual clock, with the three
/// nullable app columns the suite's app-column cases use.
async fn subject() -> Subject {
    keyed(UserIdType::Uuid).await
}

async fn keyed(user_id_type: UserIdType) -> Subject {
    let clock = Clock::manual(Timestamp::now());
    let store = SqliteStore::builder()
        .user_id_type(user_id_type)
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
    assert_eq!(store.user_id_type(), user_id_type);
    Subject::new(Arc::new(store))
        .with_clock(clock)
        .with_app_column("display_name", ColumnKind::Text)
        .with_app_column("newsletter", ColumnKind::Boolean)
        .with_app_column("login_count", ColumnKind::Integer)
}

conformance_tests!(subject);

/// The suite on an integer-keyed database.
mod int_keys {
    use super::*;

    async fn subject() -> Subject {
        keyed(UserIdType::Int).await
    }

    conformance_tests!(subject);
}

/// The suite on a text-keyed database.
mod text_keys {
    use super::*;

    async fn subject() -> Subject {
        keyed(UserIdType::Text).await
    }

    conformance_tests!(subject);
}
