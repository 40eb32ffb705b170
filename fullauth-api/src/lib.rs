//! The storage contract of the fullauth family.
//!
//! fullauth stores everything an authentication system must remember — users
//! and password hashes, refresh tokens and the sessions they form, roles,
//! permissions, OAuth links, passkeys, TOTP factors — and the short-lived state
//! of a login: token blacklist, lockout counters, rate limits and one-time
//! challenges. This crate defines the domain types, the one error type, one
//! storage trait per feature, the validation every store shares, token
//! digests and password hashing. Backends implement the traits:
//!
//! | crate | serves |
//! | --- | --- |
//! | `fullauth-memory` | everything, in process (tests, prototypes, single-process apps) |
//! | `fullauth-sqlite` | everything, in one SQLite file |
//! | `fullauth-postgres` | everything, on PostgreSQL |
//! | `fullauth-redis` | the four short-lived features |
//!
//! The schema and behaviour follow the Python library fastapi-fullauth 0.18, so
//! a Rust and a Python service can share one database.
//!
//! ```
//! use fullauth_api::{Email, NewUser, RoleName, TokenDigest, FamilyId, UserLookup};
//!
//! // Inputs are validated once, when they become typed values…
//! let email = Email::new("  Ada@Example.com ").unwrap();
//! assert_eq!(email.as_str(), "ada@example.com");
//! assert!(RoleName::new("x".repeat(101)).is_err());
//! // …so every store receives the same, checked values.
//! let new = NewUser::new("ada@example.com").unwrap().with_extra("display_name", "Ada").unwrap();
//! assert_eq!(new.email, email);
//! // Bearer secrets are only ever stored as digests.
//! let digest = TokenDigest::of("the refresh JWT");
//! assert_eq!(digest.as_str().len(), 64);
//! assert_eq!(FamilyId::generate().as_str().len(), 32);
//! assert!(UserLookup::parse("hashed_password", "x").is_err());
//! ```
//!
//! # Features
//!
//! | feature | trait | tables |
//! | --- | --- | --- |
//! | [`Feature::Core`] | [`UserStore`], [`RefreshTokenStore`] | `fullauth_users`, `fullauth_refresh_tokens` |
//! | [`Feature::Roles`] | [`RoleStore`] | `fullauth_roles`, `fullauth_user_roles` |
//! | [`Feature::Permissions`] | [`PermissionStore`] | `fullauth_permissions`, `fullauth_role_permissions` |
//! | [`Feature::OAuth`] | [`OAuthStore`] | `fullauth_oauth_accounts` |
//! | [`Feature::Passkeys`] | [`PasskeyStore`] | `fullauth_passkeys` |
//! | [`Feature::Mfa`] | [`MfaStore`] | `fullauth_mfa` |
//! | [`Feature::Blacklist`] | [`BlacklistStore`] | short-lived |
//! | [`Feature::Lockout`] | [`LockoutStore`] | short-lived |
//! | [`Feature::RateLimit`] | [`RateLimitStore`] | short-lived |
//! | [`Feature::Challenges`] | [`ChallengeStore`] | short-lived |
//!
//! A store reports what it serves with [`DurableStore::features`]; a method of
//! any other feature answers [`StoreError::FeatureDisabled`], never a panic and
//! never a silent empty answer.
//!
//! # Atomic steps
//!
//! Every security-critical step is one method decided by one conditional
//! write: [`RefreshTokenStore::revoke_refresh_token`],
//! [`RefreshTokenStore::rotate_refresh_token`] (with reuse detection),
//! [`PasskeyStore::update_sign_count`], [`MfaStore::advance_mfa_counter`],
//! [`MfaStore::consume_recovery_code`], [`ChallengeStore::take_challenge`],
//! [`OAuthStore::link_oauth_account`], [`RoleStore::assign_role`],
//! [`LockoutStore::record_failure`] and [`RateLimitStore::hit`]. Of N callers
//! racing on one of them, exactly the right number win.
//!
//! Writing a store of your own: see [`guide`].

#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod digest;
pub mod error;
pub mod features;
pub mod guide;
pub mod ids;
pub mod migrate;
pub mod password;
pub mod records;
pub mod store;
pub mod timestamp;
pub mod user;
pub mod validate;

pub use async_trait::async_trait;
pub use digest::{TokenDigest, constant_time_eq};
pub use error::{BoxError, ConflictKind, Entity, StoreError, StoreResult};
pub use features::{Feature, Features};
pub use ids::{UserId, new_record_id};
pub use password::{MAX_PASSWORD_CHARS, PasswordHasher};
pub use records::{
    ClientInfo, LockoutOutcome, LockoutPolicy, MAX_COUNTER, MfaFactor, NewOAuthAccount, NewPasskey,
    NewRefreshToken, NextRefreshToken, OAuthAccount, OAuthAccountPatch, OAuthLink, Passkey,
    RateLimitDecision, RateLimitPolicy, RefreshToken, Rotation, Session, ttl_seconds,
};
pub use store::{
    BlacklistStore, ChallengeStore, DurableStore, LockoutStore, MfaStore, OAuthStore, PasskeyStore,
    PermissionStore, RateLimitStore, RefreshTokenStore, RoleStore, Store, Transaction, UserStore,
};
pub use timestamp::{Clock, Timestamp};
pub use user::{ExtraFields, NewUser, User, UserLookup, UserPatch};
pub use validate::{
    CredentialId, DeviceName, Email, FamilyId, HashedPassword, MfaSecret, PermissionName,
    ProviderName, ProviderUserId, RoleName, StateKey, Text, Transports,
};
