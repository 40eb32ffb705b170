//! The conformance suite of the fullauth family on composed stores: one
//! [`ComposedStore`] from a durable store and a store of the short-lived
//! features, tested like any other store (see `tests/compositions.rs`):
//!
//! | durable | short-lived |
//! | --- | --- |
//! | PostgreSQL | Redis |
//! | SQLite | Redis |
//! | memory | Redis |
//! | PostgreSQL | memory |
//!
//! This crate is not published; it holds the tests and [`production`], the
//! production recipe of the README, compiled.

#![forbid(unsafe_code)]
#![deny(missing_docs)]

use std::sync::Arc;

use fullauth_api::{ComposedStore, Store, StoreResult};
use fullauth_postgres::PgStore;
use fullauth_redis::RedisStore;

/// The production recipe: durable state on PostgreSQL, the short-lived state
/// of a login on Redis, as one store.
///
/// ```no_run
/// # async fn demo() -> fullauth_api::StoreResult<()> {
/// let store = fullauth_composition_tests::production(
///     "postgres://app@127.0.0.1/app",
///     "redis://127.0.0.1:6379",
/// )
/// .await?;
/// assert!(store.features().contains(fullauth_api::Feature::Blacklist));
/// # Ok(()) }
/// ```
///
/// # Errors
/// [`fullauth_api::StoreError::Unavailable`] when either server does not
/// answer; the migration's errors.
pub async fn production(database_url: &str, redis_url: &str) -> StoreResult<Arc<dyn Store>> {
    let pg = PgStore::connect(database_url).await?;
    pg.migrate().await?;
    let redis = RedisStore::connect(redis_url).await?;
    Ok(Arc::new(
        ComposedStore::builder()
            .durable(pg) // users, tokens, roles, permissions, OAuth, passkeys, MFA
            .short_lived(redis) // blacklist, lockout, rate limits, challenges
            .build()?,
    ))
}
