//! The constructors of the family's scheme (`connect`, `connect_lazy`,
//! `from_connection`, the builder's `build`), the 0.1 names kept as
//! deprecated aliases, and what the store says about itself. The parts
//! that talk to a server need `FULLAUTH_TEST_REDIS_URL`.

mod common;

use std::time::Duration;

use fullauth_api::{
    BlacklistStore, DurableStore, Feature, Features, RateLimitPolicy, RateLimitStore, StateKey,
    StoreError, StoreInfo, UserId, UserStore,
};
use fullauth_redis::{FailurePolicy, RedisStore};

fn key(s: &str) -> StateKey {
    StateKey::new(s).unwrap()
}

/// A store on the application's own multiplexed connection: the
/// generic store serves every trait on a connection other than the default
/// `ConnectionManager`.
#[tokio::test]
async fn a_store_on_the_apps_connection() {
    let Some(url) = common::redis_url() else {
        return;
    };
    let prefix = common::random_prefix();
    let mut raw = common::raw(&url).await;

    let store = RedisStore::builder()
        .key_prefix(&prefix)
        .blacklist_policy(FailurePolicy::Error)
        .build(raw.clone())
        .unwrap();
    let jti = key("jti-from-connection");
    store
        .blacklist(&jti, Duration::from_secs(30))
        .await
        .unwrap();
    assert!(store.is_blacklisted(&jti).await.unwrap());
    let policy = RateLimitPolicy {
        limit: 1,
        window: Duration::from_secs(30),
    };
    let route = key("login:from-connection");
    assert!(store.hit(&route, policy).await.unwrap().allowed);
    assert!(!store.hit(&route, policy).await.unwrap().allowed);

    // The default settings: the reference's prefix, so under another key.
    let defaults = RedisStore::from_connection(raw.clone());
    assert_eq!(defaults.keys().prefix(), fullauth_redis::DEFAULT_PREFIX);
    assert_eq!(defaults.timeout(), fullauth_redis::DEFAULT_TIMEOUT);
    defaults.ping().await.unwrap();

    common::cleanup(&mut raw, &prefix).await;
}

#[tokio::test]
async fn connect_checks_the_server_and_connect_lazy_does_not() {
    let Some(url) = common::redis_url() else {
        return;
    };
    let store = RedisStore::connect(&url).await.unwrap();
    store.ping().await.unwrap();
    let lazy = RedisStore::connect_lazy(&url).unwrap();
    lazy.ping().await.unwrap();
    // Nothing listens on port 1: only the eager one notices.
    assert!(RedisStore::connect_lazy("redis://127.0.0.1:1").is_ok());
    let err = RedisStore::builder()
        .timeout(Duration::from_millis(300))
        .connect("redis://127.0.0.1:1")
        .await
        .unwrap_err();
    assert!(err.is_retryable(), "{err}");
}

#[tokio::test]
#[allow(deprecated)]
async fn the_names_of_0_1_still_work() {
    let store = RedisStore::open("redis://127.0.0.1:1").unwrap();
    assert!(matches!(
        RedisStore::builder().open("not a url"),
        Err(StoreError::InvalidInput {
            field: "redis_url",
            ..
        })
    ));
    let manager = store.connection();
    let _ = RedisStore::from_manager(manager.clone());
    let _ = RedisStore::with_connection(manager);
}

/// `redis`, the four short-lived features, and the durable traits
/// answering `FeatureDisabled` with the context of the call.
#[tokio::test]
async fn the_store_serves_the_short_lived_features_only() {
    let store = RedisStore::connect_lazy("redis://127.0.0.1:1").unwrap();
    assert_eq!(store.backend_name(), "redis");
    assert_eq!(store.features(), Features::short_lived());

    let err = match store.begin().await {
        Err(e) => e,
        Ok(_) => panic!("a redis store has no transactions"),
    };
    assert!(err.is_feature_disabled(Feature::Core), "{err}");
    assert_eq!(err.context().backend(), Some("redis"));
    assert_eq!(err.context().operation(), Some("begin"));

    let err = store.get_user(&UserId::generate()).await.unwrap_err();
    assert!(err.is_feature_disabled(Feature::Core), "{err}");
}
