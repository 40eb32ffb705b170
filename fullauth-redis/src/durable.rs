//! The durable traits, which this backend does not serve: every method
//! answers [`StoreError::FeatureDisabled`] (the traits' default bodies), so
//! the store is a whole [`fullauth_api::Store`] and can sit behind
//! `Arc<dyn Store>` next to a durable backend (or, better, in a
//! [`fullauth_api::ComposedStore`]).

use async_trait::async_trait;
use fullauth_api::{
    DurableStore, Feature, MfaStore, OAuthStore, PasskeyStore, PermissionStore, RefreshTokenStore,
    RoleStore, StoreError, StoreResult, Transaction, UserStore,
};

use crate::store::{RedisConnection, RedisStore};

impl<C: RedisConnection> UserStore for RedisStore<C> {}
impl<C: RedisConnection> RefreshTokenStore for RedisStore<C> {}
impl<C: RedisConnection> RoleStore for RedisStore<C> {}
impl<C: RedisConnection> PermissionStore for RedisStore<C> {}
impl<C: RedisConnection> OAuthStore for RedisStore<C> {}
impl<C: RedisConnection> PasskeyStore for RedisStore<C> {}
impl<C: RedisConnection> MfaStore for RedisStore<C> {}

#[async_trait]
impl<C: RedisConnection> DurableStore for RedisStore<C> {
    /// Always [`StoreError::FeatureDisabled`] `Core`: there are no durable
    /// features to put in a transaction.
    async fn begin(&self) -> StoreResult<Box<dyn Transaction>> {
        Err(StoreError::feature_disabled(Feature::Core).with_context("redis", "begin"))
    }
}
