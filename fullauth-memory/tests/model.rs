//! Model-based differential testing of a [`MemoryStore`] with every feature:
//! generated sequences (`FULLAUTH_MODEL_CASES`, default 16) compared with the
//! pure model of the contract (see `fullauth_conformance::model`).

use std::sync::Arc;

use fullauth_api::{Clock, Timestamp};
use fullauth_conformance::{Subject, model_tests};
use fullauth_memory::MemoryStore;

/// A fresh store on a manual clock shared with the subject.
async fn subject() -> Subject {
    let clock = Clock::manual(Timestamp::now());
    let store = MemoryStore::builder()
        .clock(clock.clone())
        .build()
        .expect("a valid configuration");
    Subject::new(Arc::new(store)).with_clock(clock)
}

model_tests!(subject);
