//! Guide: implement a custom store.
//!
//! Your users already live somewhere — DynamoDB, MySQL, a legacy table. To
//! plug that into fullauth, implement the traits of the features you serve,
//! report them in [`DurableStore::features`], and run the conformance suite
//! (`fullauth-conformance`) against your store in your own `cargo test`.
//!
//! 1. **Pick the features.** Core ([`UserStore`] + [`RefreshTokenStore`]) is
//!    the minimum for a durable store. Every trait method has a default body
//!    that answers [`StoreError::FeatureDisabled`], so for a feature you do not
//!    serve, an empty `impl RoleStore for MyStore {}` is enough.
//! 2. **Trust the inputs.** Methods take validated types ([`Email`],
//!    [`RoleName`], [`TokenDigest`], ...), so lengths, normalisation and
//!    control characters are already checked. Store strings byte for byte.
//! 3. **Make each atomic step one conditional write.** Revoke is "set revoked
//!    where not revoked", and its answer is whether a row changed. Never read
//!    then write.
//! 4. **Map errors.** Unique violations become [`StoreError::Conflict`],
//!    lost connections [`StoreError::Unavailable`].
//! 5. **Transactions.** [`DurableStore::begin`] returns a handle with the same
//!    traits. If your storage cannot offer atomic multi-call transactions,
//!    say so in your docs; the conformance suite's transaction cases will fail
//!    rather than pass silently.
//!
//! A minimal store that serves only users (refresh tokens and the rest are
//! left out here for brevity; `fullauth-conformance` ships a complete example
//! under `examples/custom_store.rs` that passes the whole suite):
//!
//! ```
//! use std::collections::HashMap;
//! use std::sync::Mutex;
//! use fullauth_api::*;
//!
//! #[derive(Default)]
//! struct MyStore {
//!     users: Mutex<HashMap<UserId, (User, Option<HashedPassword>)>>,
//! }
//!
//! #[async_trait]
//! impl UserStore for MyStore {
//!     async fn create_user(&self, new: NewUser) -> StoreResult<User> {
//!         let mut users = self.users.lock().unwrap();
//!         if users.values().any(|(u, _)| u.email == new.email) {
//!             return Err(StoreError::Conflict { what: ConflictKind::Email });
//!         }
//!         if !new.extra.is_empty() {
//!             let field = new.extra.names().next().unwrap_or_default().to_string();
//!             return Err(StoreError::UnknownField { field });
//!         }
//!         let user = User {
//!             id: new.id.unwrap_or_else(UserId::generate),
//!             email: new.email,
//!             is_active: new.is_active,
//!             is_verified: new.is_verified,
//!             is_superuser: new.is_superuser,
//!             created_at: Timestamp::now(),
//!             extra: ExtraFields::new(),
//!         };
//!         users.insert(user.id, (user.clone(), new.hashed_password));
//!         Ok(user)
//!     }
//!
//!     async fn get_user(&self, id: &UserId) -> StoreResult<Option<User>> {
//!         Ok(self.users.lock().unwrap().get(id).map(|(u, _)| u.clone()))
//!     }
//!     // ... the other methods of UserStore
//! }
//!
//! // Features this store does not serve: the defaults answer FeatureDisabled.
//! impl RefreshTokenStore for MyStore {}
//! impl RoleStore for MyStore {}
//! impl PermissionStore for MyStore {}
//! impl OAuthStore for MyStore {}
//! impl PasskeyStore for MyStore {}
//! impl MfaStore for MyStore {}
//! impl BlacklistStore for MyStore {}
//! impl LockoutStore for MyStore {}
//! impl RateLimitStore for MyStore {}
//! impl ChallengeStore for MyStore {}
//!
//! #[async_trait]
//! impl DurableStore for MyStore {
//!     fn features(&self) -> Features { Features::empty() }
//!     fn backend_name(&self) -> &'static str { "my-store" }
//!     async fn begin(&self) -> StoreResult<Box<dyn Transaction>> {
//!         Err(StoreError::feature_disabled(Feature::Core))
//!     }
//! }
//!
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! let store: std::sync::Arc<dyn Store> = std::sync::Arc::new(MyStore::default());
//! let ada = store.create_user(NewUser::new("ada@example.com")?).await?;
//! assert_eq!(store.get_user(&ada.id).await?.unwrap().email.as_str(), "ada@example.com");
//! assert!(matches!(
//!     store.assign_role(&ada.id, &RoleName::new("editor")?).await,
//!     Err(StoreError::FeatureDisabled { feature: Feature::Roles, .. })
//! ));
//! # Ok::<(), StoreError>(()) }).unwrap();
//! ```

#[allow(unused_imports)]
use crate::{DurableStore, Email, RefreshTokenStore, RoleName, StoreError, TokenDigest, UserStore};
