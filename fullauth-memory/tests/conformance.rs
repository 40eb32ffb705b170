//! The whole conformance suite against a [`MemoryStore`] with every feature,
//! once per user key type: UUID (the default), integer and text.

use std::sync::Arc;

use fullauth_api::{Clock, Timestamp, UserIdType};
use fullauth_conformance::{ColumnKind, Subject, conformance_tests};
use fullauth_memory::{ColumnType, MemoryStore};
use serde_json::Value;

/// A fresh store on a manual clock shared with the subject, with the three
/// nullable application columns the suite expects: `display_name` (text),
/// `newsletter` (boolean) and `login_count` (integer).
async fn subject() -> Subject {
    keyed(UserIdType::Uuid)
}

fn keyed(user_id_type: UserIdType) -> Subject {
    let clock = Clock::manual(Timestamp::now());
    let store = MemoryStore::builder()
        .user_id_type(user_id_type)
        .clock(clock.clone())
        .typed_user_column("display_name", ColumnType::Text, Value::Null)
        .typed_user_column("newsletter", ColumnType::Boolean, Value::Null)
        .typed_user_column("login_count", ColumnType::Integer, Value::Null)
        .build()
        .expect("a valid configuration");
    Subject::new(Arc::new(store))
        .with_clock(clock)
        .with_app_column("display_name", ColumnKind::Text)
        .with_app_column("newsletter", ColumnKind::Boolean)
        .with_app_column("login_count", ColumnKind::Integer)
}

conformance_tests!(subject);

/// The suite on an integer-keyed store.
mod int_keys {
    use super::*;

    async fn subject() -> Subject {
        keyed(UserIdType::Int)
    }

    conformance_tests!(subject);
}

/// The suite on a text-keyed store.
mod text_keys {
    use super::*;

    async fn subject() -> Subject {
        keyed(UserIdType::Text)
    }

    conformance_tests!(subject);
}
