//! Model-based differential testing against a real Redis
//! (`FULLAUTH_TEST_REDIS_URL`), the four short-lived features: generated
//! sequences (`FULLAUTH_MODEL_CASES`, default 16) compared with the pure
//! model of the contract (see `fullauth_conformance::model`).
//!
//! Redis keeps time on the server's clock, so the subject is on the system
//! clock: the runner skips clock steps, uses TTLs of at least 30 s and
//! compares deadlines to within two seconds. Every run uses its own key
//! prefix and every sequence its own tag; every key carries a TTL.

mod common;

use std::sync::{Arc, LazyLock};

use fullauth_conformance::{Subject, model_tests};

static PREFIX: LazyLock<String> = LazyLock::new(common::random_prefix);

async fn subject() -> Option<Subject> {
    let url = common::redis_url()?; // None: not configured here (a CI run panics instead)
    Some(Subject::new(Arc::new(
        common::store(&url, &PREFIX, false).await,
    )))
}

model_tests!(
    subject,
    features = [Blacklist, Lockout, RateLimit, Challenges]
);
