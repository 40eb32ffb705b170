//! The flow cases on the in-memory store (every feature, system clock).

mod common;

use std::sync::Arc;

use fullauth_api::Store;
use fullauth_memory::MemoryStore;

async fn store() -> Option<Arc<dyn Store>> {
    Some(Arc::new(MemoryStore::new()))
}

flow_cases!(store);

// ---- configurations only the memory store shapes easily --------------------

use fullauth_api::Features;
use fullauth_flows::{
    AuthService, FlowConfig, FlowError, LoginField, LoginOutcome, RegisterRequest, SecretKey,
};
use fullauth_memory::ColumnType;
use serde_json::Value;

fn secret() -> SecretKey {
    SecretKey::new(common::SECRET).unwrap()
}

#[test]
fn the_store_must_serve_what_the_configuration_needs() {
    let durable_only: Arc<dyn Store> = Arc::new(
        MemoryStore::builder()
            .features(Features::durable())
            .build()
            .unwrap(),
    );
    let err = AuthService::new(Arc::clone(&durable_only), FlowConfig::new(secret())).unwrap_err();
    assert!(
        matches!(err, FlowError::Config(ref m) if m.contains("blacklist")),
        "{err:?}"
    );
    let mut config = FlowConfig::new(secret());
    config.tokens.blacklist_enabled = false;
    config.lockout = None;
    assert!(matches!(
        AuthService::new(Arc::clone(&durable_only), config.clone()),
        Err(FlowError::Config(ref m)) if m.contains("rate")
    ));
    config.rate_limits = None;
    assert!(AuthService::new(Arc::clone(&durable_only), config.clone()).is_ok());
    // Bounds.
    let mut bad = FlowConfig::new(secret());
    bad.tokens.access_ttl = std::time::Duration::ZERO;
    assert!(matches!(
        AuthService::new(Arc::new(MemoryStore::new()), bad),
        Err(FlowError::Config(_))
    ));
    let mut bad = FlowConfig::new(secret());
    bad.login_field = LoginField::Column("not a column".into());
    assert!(matches!(bad.validate(), Err(FlowError::Config(_))));
    let mut bad = FlowConfig::new(secret());
    bad.tokens.issuer = Some(String::new());
    assert!(bad.validate().is_err());
}

/// Without a blacklist, logout still revokes the session in the store (its
/// refresh token dies), but its access token lives until `exp`, as the
/// reference with `BLACKLIST_ENABLED=False`.
#[tokio::test]
async fn durable_only_store_without_blacklist() {
    let store: Arc<dyn Store> = Arc::new(
        MemoryStore::builder()
            .features(Features::durable())
            .build()
            .unwrap(),
    );
    let mut config = FlowConfig::new(secret());
    config.tokens.blacklist_enabled = false;
    config.lockout = None;
    config.rate_limits = None;
    let auth = AuthService::new(store, config)
        .unwrap()
        .with_hasher(common::hasher());
    let email = common::email();
    common::register(&auth, &email).await;
    let s = common::sign_in(&auth, &email).await;
    let r = auth
        .refresh(&common::ctx(), &s.tokens.refresh_token)
        .await
        .unwrap();
    auth.sign_out(Some(&r.access_token), None).await.unwrap();
    assert!(auth.authenticate(&r.access_token).await.is_ok());
    assert!(
        auth.refresh(&common::ctx(), &r.refresh_token)
            .await
            .is_err()
    );
    // Reuse is still detected by the store.
    assert!(matches!(
        auth.refresh(&common::ctx(), &s.tokens.refresh_token).await,
        Err(FlowError::TokenReused { .. })
    ));
}

/// `LOGIN_FIELD` set to an application column: login by that column, the
/// raw identifier as lockout key, and registration refuses a taken value.
#[tokio::test]
async fn login_by_an_application_column() {
    let store: Arc<dyn Store> = Arc::new(
        MemoryStore::builder()
            .typed_user_column("username", ColumnType::Text, Value::Null)
            .build()
            .unwrap(),
    );
    let mut config = common::config();
    config.login_field = LoginField::Column("username".into());
    config.prevent_registration_enumeration = false;
    let auth = AuthService::new(store, config)
        .unwrap()
        .with_hasher(common::hasher());
    let mut request = RegisterRequest::new(common::email(), common::PASSWORD);
    request.extra.insert("username", "ada").unwrap();
    auth.register(&common::ctx(), request).await.unwrap();
    let mut dup = RegisterRequest::new(common::email(), common::PASSWORD);
    dup.extra.insert("username", "ada").unwrap();
    assert!(matches!(
        auth.register(&common::ctx(), dup).await,
        Err(FlowError::UserAlreadyExists)
    ));
    let outcome = auth
        .login(&common::ctx(), "ada", common::PASSWORD)
        .await
        .unwrap();
    assert!(
        matches!(outcome, LoginOutcome::SignedIn(ref s) if s.user.extra.get("username") == Some(&Value::from("ada")))
    );
    // Matched as given: no case folding for other columns.
    assert!(
        auth.login(&common::ctx(), "ADA", common::PASSWORD)
            .await
            .is_err()
    );
    for _ in 0..2 {
        assert!(
            auth.login(&common::ctx(), "ada", "wrong password")
                .await
                .is_err()
        );
    }
    assert!(matches!(
        auth.login(&common::ctx(), "ada", "wrong password").await,
        Err(FlowError::AccountLocked { .. })
    ));
    assert!(matches!(
        auth.login(&common::ctx(), "ada", common::PASSWORD).await,
        Err(FlowError::AccountLocked { .. })
    ));
}
