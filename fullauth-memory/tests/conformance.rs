//! The whole conformance suite against a [`MemoryStore`] with every feature.

use std::sync::Arc;

use fullauth_api::{Clock, Timestamp};
use fullauth_conformance::{ColumnKind, Subject, conformance_tests};
use fullauth_memory::{ColumnType, MemoryStore};
use serde_json::Value;

/// A fresh store on a manual clock shared with the subject, with the three
/// nullable application columns the suite expects: `display_name` (text),
/// `newsletter` (boolean) and `login_count` (integer).
async fn subject() -> Subject {
    let clock = Clock::manual(Timestamp::now());
    let store = MemoryStore::builder()
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
