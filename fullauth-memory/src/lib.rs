//! An in-process backend of the fullauth family: every storage trait, with
//! real transactions and TTLs.
//!
//! [`MemoryStore`] serves every feature — users, refresh tokens and sessions,
//! roles, permissions, OAuth links, passkeys, TOTP factors, and the short-lived
//! blacklist, lockout counters, rate limits and one-time challenges — from
//! memory. It is meant for tests, prototypes and single-process apps: nothing
//! is persisted, and the data lives as long as the last clone of the store.
//!
//! It behaves as the contract of `fullauth-api` says, like every other
//! backend, and passes the same conformance suite: every security-critical
//! step is atomic, transactions commit or roll back as a whole, and time comes
//! from a [`Clock`](fullauth_api::Clock) that tests can move by hand.
//!
//! ```
//! # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
//! use std::time::Duration;
//! use fullauth_api::{
//!     ClientInfo, Clock, FamilyId, NewRefreshToken, NewUser, NextRefreshToken, PasswordHasher,
//!     RefreshTokenStore, Rotation, Timestamp, TokenDigest, UserStore,
//! };
//! use fullauth_memory::MemoryStore;
//!
//! let clock = Clock::manual(Timestamp::now());
//! let store = MemoryStore::builder()
//!     .clock(clock.clone())
//!     .user_column("display_name", serde_json::Value::Null)
//!     .build()?;
//!
//! // Register a user with a password (cheap parameters to keep the example fast).
//! let hasher = PasswordHasher::new(8, 1, 1)?;
//! let hash = hasher.hash("correct horse battery staple").await?;
//! let user = store
//!     .create_user(NewUser::new("Ada@Example.com")?.with_password_hash(hash).with_extra("display_name", "Ada")?)
//!     .await?;
//! assert_eq!(user.email.as_str(), "ada@example.com");
//! let stored = store.get_password_hash(&user.id).await?.expect("a password was set");
//! assert!(hasher.verify("correct horse battery staple", &stored).await?);
//!
//! // Sign in: store the first refresh token of a new session (as a digest).
//! let first = TokenDigest::of("refresh-jwt-1");
//! store
//!     .store_refresh_token(NewRefreshToken {
//!         digest: first.clone(),
//!         user_id: user.id,
//!         family_id: FamilyId::generate(),
//!         expires_at: clock.now() + Duration::from_secs(3600),
//!         client: ClientInfo::new(Some("curl/8"), Some("203.0.113.7")),
//!     })
//!     .await?;
//!
//! // Refresh: rotate the token.
//! let next = |jwt: &str| NextRefreshToken {
//!     digest: TokenDigest::of(jwt),
//!     expires_at: clock.now() + Duration::from_secs(3600),
//!     client: ClientInfo::default(),
//! };
//! let rotated = store.rotate_refresh_token(&first, next("refresh-jwt-2")).await?;
//! assert!(matches!(rotated, Rotation::Rotated(_)));
//!
//! // A replay of the old token is detected, and the whole session is revoked.
//! let replay = store.rotate_refresh_token(&first, next("refresh-jwt-3")).await?;
//! assert!(matches!(replay, Rotation::Reused { user_id, .. } if user_id == user.id));
//! assert!(store.list_sessions(&user.id).await?.is_empty());
//! # Ok::<(), fullauth_api::StoreError>(())
//! # }).unwrap();
//! ```
//!
//! # Configuration
//!
//! [`MemoryStore::builder`] chooses the features served (all by default), the
//! clock (the system clock by default) and the application's own columns of
//! `fullauth_users` with their defaults — what a SQL backend discovers from
//! the table. A method of a feature the store was not built with answers
//! [`StoreError::FeatureDisabled`](fullauth_api::StoreError::FeatureDisabled).
//!
//! # Transactions
//!
//! [`DurableStore::begin`](fullauth_api::DurableStore::begin) gives a handle
//! with the durable traits whose writes become visible together at
//! [`Transaction::commit`](fullauth_api::Transaction::commit), and are
//! discarded by a rollback or a drop. Writes through the store wait while a
//! transaction is open; see [`MemoryStore`] for the details.

#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod blacklist;
mod builder;
mod challenges;
mod lockout;
mod mfa;
mod oauth;
mod passkeys;
mod permissions;
mod rate_limit;
mod roles;
mod state;
mod store;
mod tokens;
mod transaction;
mod users;

pub use builder::MemoryStoreBuilder;
pub use store::MemoryStore;
