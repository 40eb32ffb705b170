//! The whole conformance suite against a [`MemoryStore`] with every feature.

use std::sync::Arc;

use fullauth_api::{Clock, Timestamp};
use fullauth_conformance::{Subject, conformance_tests};
use fullauth_memory::MemoryStore;

/// A fresh store on a manual clock shared with the subject, with the
/// `display_name` column the suite expects.
async fn subject() -> Subject {
    let clock = Clock::manual(Timestamp::now());
    let store = MemoryStore::builder()
        .clock(clock.clone())
        .user_column("display_name", serde_json::Value::Null)
        .build()
        .expect("a valid configuration");
    Subject::new(Arc::new(store)).with_clock(clock)
}

conformance_tests!(subject);
