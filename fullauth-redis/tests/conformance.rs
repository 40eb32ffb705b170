//! The conformance suite against a real Redis (`FULLAUTH_TEST_REDIS_URL`).
//!
//! Only the four short-lived features are under test; the durable cases are
//! generated as ignored. Every run uses its own key prefix
//! (`fullauth-test-<random>:`); every key the store writes carries a TTL, so
//! nothing outlives the run for long.

mod common;

use std::sync::{Arc, LazyLock};

use fullauth_conformance::{Subject, conformance_tests};

static PREFIX: LazyLock<String> = LazyLock::new(common::random_prefix);

async fn subject() -> Option<Subject> {
    let url = common::redis_url()?; // None: not configured here (a CI run panics instead)
    Some(Subject::new(Arc::new(
        common::store(&url, &PREFIX, false).await,
    )))
}

conformance_tests!(
    subject,
    features = [Blacklist, Lockout, RateLimit, Challenges]
);
