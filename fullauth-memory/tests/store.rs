//! What the conformance suite cannot see: sharing between clones, the
//! builder, feature gating on a partial store, and how writes wait for an
//! open transaction.

use std::sync::Arc;
use std::time::Duration;

use fullauth_api::{
    BlacklistStore, ChallengeStore, Clock, DurableStore, Feature, Features, LockoutPolicy,
    LockoutStore, MfaSecret, MfaStore, NewUser, RateLimitPolicy, RateLimitStore, RoleName,
    RoleStore, StateKey, Store, StoreError, Text, Timestamp, UserId, UserLookup, UserPatch,
    UserStore,
};
use fullauth_memory::{ColumnType, MemoryStore};
use serde_json::{Value, json};

fn email() -> String {
    format!("u-{}@example.test", uuid::Uuid::new_v4().simple())
}

#[tokio::test]
async fn clones_share_state() {
    let a = MemoryStore::new();
    let b = a.clone();
    let u = a.create_user(NewUser::new(email()).unwrap()).await.unwrap();
    assert_eq!(b.get_user(&u.id).await.unwrap(), Some(u));
    let k = StateKey::new("jti").unwrap();
    b.blacklist(&k, Duration::from_secs(60)).await.unwrap();
    assert!(a.is_blacklisted(&k).await.unwrap());
    // Separate stores share nothing.
    assert!(!MemoryStore::new().is_blacklisted(&k).await.unwrap());
}

#[tokio::test]
async fn usable_as_dyn_store() {
    fn assert_send_sync<T: Send + Sync + Clone + 'static>() {}
    assert_send_sync::<MemoryStore>();
    let store: Arc<dyn Store> = Arc::new(MemoryStore::default());
    assert_eq!(store.backend_name(), "memory");
    assert_eq!(store.features(), Features::all());
}

#[test]
fn builder_refuses_bad_configurations() {
    let perms_without_roles = Features::from(Feature::Core).with(Feature::Permissions);
    assert!(matches!(
        MemoryStore::builder().features(perms_without_roles).build(),
        Err(StoreError::InvalidInput {
            field: "features",
            ..
        })
    ));
    // Any subset without Permissions-without-Roles is valid, Core included.
    assert!(
        MemoryStore::builder()
            .features(Features::from(Feature::Roles))
            .build()
            .is_ok()
    );
    assert!(matches!(
        MemoryStore::builder()
            .user_column("email", Value::Null)
            .build(),
        Err(StoreError::ProtectedField { .. })
    ));
    assert!(matches!(
        MemoryStore::builder().user_column("bad name", 1).build(),
        Err(StoreError::UnknownField { .. })
    ));
    assert!(matches!(
        MemoryStore::builder()
            .user_column("tags", json!(["a"]))
            .build(),
        Err(StoreError::InvalidInput { .. })
    ));
    assert!(matches!(
        MemoryStore::builder()
            .user_column("nick", Value::Null)
            .user_column("nick", "x")
            .build(),
        Err(StoreError::InvalidInput {
            field: "user_column",
            ..
        })
    ));
    assert!(
        MemoryStore::builder()
            .features(Features::short_lived())
            .build()
            .is_ok()
    );
}

#[tokio::test]
async fn app_columns_get_their_defaults() {
    let store = MemoryStore::builder()
        .user_column("locale", "en")
        .user_column("display_name", Value::Null)
        .build()
        .unwrap();
    let u = store
        .create_user(
            NewUser::new(email())
                .unwrap()
                .with_extra("display_name", "Ada")
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(u.extra.get("locale"), Some(&json!("en")));
    assert_eq!(u.extra.get("display_name"), Some(&json!("Ada")));
    assert_eq!(u.extra.len(), 2);
    let r = store
        .create_user(
            NewUser::new(email())
                .unwrap()
                .with_extra("nope", 1)
                .unwrap(),
        )
        .await;
    assert!(matches!(r, Err(StoreError::UnknownField { ref field, .. }) if field == "nope"));
    let e = r.unwrap_err();
    assert_eq!(e.context().backend(), Some("memory"));
    assert_eq!(e.context().operation(), Some("create_user"));
}

#[tokio::test]
async fn unserved_features_answer_feature_disabled() {
    let store = MemoryStore::builder()
        .features(Features::from(Feature::Core).with(Feature::Blacklist))
        .build()
        .unwrap();
    let u = store
        .create_user(NewUser::new(email()).unwrap())
        .await
        .unwrap();
    let k = StateKey::new("k").unwrap();
    let disabled = |r: Result<(), StoreError>, f: Feature| {
        assert!(
            matches!(r, Err(StoreError::FeatureDisabled { feature, .. }) if feature == f),
            "{f}"
        );
    };
    // A principal is served without Roles and Permissions, with empty lists.
    let p = store
        .get_principal(&UserLookup::Id(u.id.clone()))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(p.user, u);
    assert!(p.roles.is_empty() && p.permissions.is_empty());
    let role = RoleName::new("admin").unwrap();
    disabled(store.list_roles().await.map(drop), Feature::Roles);
    disabled(
        store.assign_role(&u.id, &role).await.map(drop),
        Feature::Roles,
    );
    disabled(
        store
            .store_mfa(&u.id, &MfaSecret::new("ABC").unwrap())
            .await
            .map(drop),
        Feature::Mfa,
    );
    disabled(
        store
            .record_failure(
                &k,
                LockoutPolicy {
                    max_attempts: 3,
                    duration: Duration::from_secs(60),
                },
            )
            .await
            .map(drop),
        Feature::Lockout,
    );
    disabled(
        store
            .hit(
                &k,
                RateLimitPolicy {
                    limit: 1,
                    window: Duration::from_secs(1),
                },
            )
            .await
            .map(drop),
        Feature::RateLimit,
    );
    disabled(
        store
            .put_challenge(&k, &Text::new("c").unwrap(), Duration::from_secs(1))
            .await,
        Feature::Challenges,
    );
    // Served features work, and the transaction handle gates the same way.
    store.blacklist(&k, Duration::from_secs(1)).await.unwrap();
    let tx = store.begin().await.unwrap();
    disabled(tx.list_roles().await.map(drop), Feature::Roles);
    tx.rollback().await.unwrap();

    let short_only = MemoryStore::builder()
        .features(Features::short_lived())
        .build()
        .unwrap();
    assert!(matches!(
        short_only.begin().await,
        Err(StoreError::FeatureDisabled {
            feature: Feature::Core,
            ..
        })
    ));
}

#[tokio::test]
async fn writes_wait_for_an_open_transaction() {
    let store = MemoryStore::new();
    let tx = store.begin().await.unwrap();
    let in_tx = tx
        .create_user(NewUser::new(email()).unwrap())
        .await
        .unwrap();

    let writer = store.clone();
    let outside = email();
    let pending = tokio::spawn({
        let outside = outside.clone();
        async move { writer.create_user(NewUser::new(outside).unwrap()).await }
    });
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(
        !pending.is_finished(),
        "the write waits for the transaction"
    );
    // Reads do not wait, and do not see the transaction's writes.
    assert!(store.get_user(&in_tx.id).await.unwrap().is_none());

    tx.commit().await.unwrap();
    let created = pending.await.unwrap().unwrap();
    assert_eq!(created.email.as_str(), outside);
    assert!(store.get_user(&in_tx.id).await.unwrap().is_some());
}

#[tokio::test]
async fn dropping_a_transaction_releases_the_store() {
    let store = MemoryStore::new();
    {
        let tx = store.begin().await.unwrap();
        tx.create_user(NewUser::new(email()).unwrap())
            .await
            .unwrap();
    }
    let again = tokio::time::timeout(Duration::from_secs(5), store.begin()).await;
    let tx = again.expect("begin does not wait after a drop").unwrap();
    assert!(matches!(
        tx.begin().await,
        Err(StoreError::TransactionNesting { .. })
    ));
}

#[tokio::test]
async fn committing_does_not_lose_tables_the_transaction_did_not_touch() {
    let store = MemoryStore::new();
    let u = store
        .create_user(NewUser::new(email()).unwrap())
        .await
        .unwrap();
    let role = RoleName::new("editor").unwrap();
    store.assign_role(&u.id, &role).await.unwrap();
    let tx = store.begin().await.unwrap();
    let v = tx
        .create_user(NewUser::new(email()).unwrap())
        .await
        .unwrap();
    tx.commit().await.unwrap();
    assert_eq!(store.get_user_roles(&u.id).await.unwrap(), vec![role]);
    assert!(store.get_user(&v.id).await.unwrap().is_some());
}

#[tokio::test]
async fn short_lived_state_follows_the_clock() {
    let clock = Clock::manual(Timestamp::now());
    let store = MemoryStore::builder().clock(clock.clone()).build().unwrap();
    let k = StateKey::new("challenge").unwrap();
    store
        .put_challenge(&k, &Text::new("abc").unwrap(), Duration::from_secs(60))
        .await
        .unwrap();
    clock.advance(Duration::from_secs(60)).await;
    assert_eq!(store.take_challenge(&k).await.unwrap(), None);
    // Expired entries are swept on later writes; live ones stay.
    let live = StateKey::new("live").unwrap();
    store
        .blacklist(&live, Duration::from_secs(600))
        .await
        .unwrap();
    for i in 0..100 {
        let key = StateKey::new(format!("old-{i}")).unwrap();
        store.blacklist(&key, Duration::from_secs(1)).await.unwrap();
    }
    clock.advance(Duration::from_secs(120)).await;
    store
        .blacklist(&StateKey::new("new").unwrap(), Duration::from_secs(1))
        .await
        .unwrap();
    assert!(store.is_blacklisted(&live).await.unwrap());
}

#[tokio::test]
async fn typed_columns_convert_what_is_written() {
    let store = MemoryStore::builder()
        .typed_user_column("display_name", ColumnType::Text, Value::Null)
        .typed_user_column("newsletter", ColumnType::Boolean, Value::Null)
        .typed_user_column("login_count", ColumnType::Integer, 0)
        .build()
        .unwrap();
    let u = store
        .create_user(
            NewUser::new(email())
                .unwrap()
                .with_extra("newsletter", "yes")
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(u.extra.get("display_name"), Some(&Value::Null));
    assert_eq!(u.extra.get("newsletter"), Some(&json!(true)));
    assert_eq!(u.extra.get("login_count"), Some(&json!(0)));
    let patch = UserPatch::new()
        .with_extra("display_name", 42)
        .unwrap()
        .with_extra("newsletter", false)
        .unwrap()
        .with_extra("login_count", "7")
        .unwrap();
    let u = store.update_user(&u.id, patch).await.unwrap();
    assert_eq!(u.extra.get("display_name"), Some(&json!("42")));
    assert_eq!(u.extra.get("newsletter"), Some(&json!(false)));
    assert_eq!(u.extra.get("login_count"), Some(&json!(7)));
    assert_eq!(store.get_user(&u.id).await.unwrap(), Some(u.clone()));

    // Lookups convert their value the same way.
    let by = |field: &str, v: Value| UserLookup::parse(field, v).unwrap();
    let found = store
        .get_user_by_field(&by("login_count", json!("7")))
        .await;
    assert_eq!(found.unwrap().map(|f| f.id), Some(u.id.clone()));

    // A value the type refuses is a backend error, and nothing is written.
    let refused = store
        .update_user(
            &u.id,
            UserPatch::new()
                .with_extra("login_count", "many")
                .unwrap()
                .with_extra("newsletter", true)
                .unwrap(),
        )
        .await;
    assert!(
        matches!(refused, Err(StoreError::Backend { .. })),
        "{refused:?}"
    );
    let got = store.get_user(&u.id).await.unwrap().unwrap();
    assert_eq!(got.extra.get("newsletter"), Some(&json!(false)));
    let lookup = store.get_user_by_field(&by("newsletter", json!(2))).await;
    assert!(
        matches!(lookup, Err(StoreError::Backend { .. })),
        "{lookup:?}"
    );
}

#[tokio::test]
async fn a_store_without_core_serves_the_apps_own_users() {
    let store = MemoryStore::builder()
        .features(Features::from(Feature::Mfa))
        .build()
        .unwrap();
    let user = UserId::generate();
    let factor = store
        .store_mfa(&user, &MfaSecret::new("ABC").unwrap())
        .await
        .unwrap();
    assert_eq!(factor.user_id, user);
    // It serves a durable feature, so it has transactions.
    let tx = store.begin().await.unwrap();
    assert!(tx.delete_mfa(&user).await.unwrap());
    tx.commit().await.unwrap();
    assert!(store.get_mfa(&user).await.unwrap().is_none());
    let e = store.get_user(&user).await.unwrap_err();
    assert!(e.is_feature_disabled(Feature::Core));
    assert_eq!(e.context().operation(), Some("get_user"));
}
