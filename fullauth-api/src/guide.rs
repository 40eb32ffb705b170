//! Guide: implement a custom store.
//!
//! Your users already live somewhere — DynamoDB, MySQL, a legacy table. To
//! plug that into fullauth, implement the traits of the features you serve,
//! report them in [`StoreInfo::features`], and run the conformance suite
//! (`fullauth-conformance`) against your store in your own `cargo test`.
//!
//! 1. **Pick the features.** Any subset stands alone (only Permissions needs
//!    Roles): a store may serve only MFA over your own user table, or only
//!    the blacklist. Every trait method has a default body that answers
//!    [`StoreError::FeatureDisabled`], so for a feature you do not serve, an
//!    empty `impl RoleStore for MyStore {}` is enough. The conformance suite
//!    gets user ids for a store without Core from a hook you give it
//!    (`Subject::with_user_factory`).
//! 2. **Trust the inputs.** Methods take validated types ([`Email`],
//!    [`RoleName`], [`TokenDigest`], ...), so lengths, normalisation and
//!    control characters are already checked. Store strings byte for byte.
//! 3. **Make each atomic step one conditional write.** Revoke is "set revoked
//!    where not revoked", and its answer is whether a row changed. Never read
//!    then write.
//! 4. **Map errors.** Build them with the constructors:
//!    unique violations become [`StoreError::conflict`], lost connections
//!    [`StoreError::unavailable`], serialization failures and deadlocks
//!    [`StoreError::contention`], missing tables [`StoreError::not_migrated`].
//!    [`StoreError::with_context`] records your backend and operation.
//! 5. **Transactions.** [`DurableStore::begin`] returns a handle with the same
//!    traits. If your storage cannot offer atomic multi-call transactions,
//!    say so in your docs; the conformance suite's transaction cases will fail
//!    rather than pass silently.
//!
//! The backends of this family generate their trait implementations with
//! [`backend_impls!`](crate::backend_impls) (see [`crate::backend`]); a custom
//! store may do the same or, as here, implement the traits directly.
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
//!             return Err(StoreError::conflict(ConflictKind::Email));
//!         }
//!         if let Some(field) = new.extra.names().next() {
//!             return Err(StoreError::unknown_field(field));
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
//!         users.insert(user.id.clone(), (user.clone(), new.hashed_password));
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
//! impl StoreInfo for MyStore {
//!     // Honest about what it serves: only part of Core is written here.
//!     fn features(&self) -> Features { Features::empty() }
//!     fn backend_name(&self) -> &'static str { "my-store" }
//! }
//!
//! #[async_trait]
//! impl DurableStore for MyStore {
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
use crate::{
    DurableStore, Email, RefreshTokenStore, RoleName, StoreError, StoreInfo, TokenDigest, UserStore,
};
