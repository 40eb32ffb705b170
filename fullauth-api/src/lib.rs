#![doc = include_str!("../README.md")]
#![cfg_attr(docsrs, feature(doc_cfg))]
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod backend;
pub mod compose;
pub mod digest;
pub mod error;
pub mod features;
pub mod guide;
pub mod ids;
pub mod migrate;
#[cfg(feature = "password")]
#[cfg_attr(docsrs, doc(cfg(feature = "password")))]
pub mod password;
pub mod records;
pub mod sql;
pub mod store;
pub mod timestamp;
pub mod user;
pub mod validate;

pub use async_trait::async_trait;
pub use compose::{ComposedStore, ComposedStoreBuilder};
pub use digest::{TokenDigest, constant_time_eq};
pub use error::{BoxError, ConflictKind, Entity, ErrorContext, StoreError, StoreResult};
pub use features::{Feature, Features};
pub use ids::{MAX_TEXT_USER_ID_BYTES, UserId, UserIdType, new_record_id};
#[cfg(feature = "password")]
pub use password::PasswordHasher;
pub use records::{
    ClientInfo, LockoutOutcome, LockoutPolicy, MAX_COUNTER, MfaFactor, NewOAuthAccount, NewPasskey,
    NewRefreshToken, NextRefreshToken, OAuthAccount, OAuthAccountPatch, OAuthLink, Passkey,
    Principal, RateLimitDecision, RateLimitPolicy, RefreshToken, Rotation, Session, ttl_seconds,
};
pub use store::{
    BlacklistStore, ChallengeStore, DurableStore, LockoutStore, MfaStore, OAuthStore, PasskeyStore,
    PermissionStore, RateLimitStore, RefreshTokenStore, RoleStore, Store, StoreInfo, Transaction,
    UserStore,
};
pub use timestamp::{Clock, Timestamp};
pub use user::{ExtraFields, NewUser, User, UserLookup, UserPatch};
pub use validate::MAX_PASSWORD_CHARS;
pub use validate::{
    CredentialId, DeviceName, Email, FamilyId, HashedPassword, MfaSecret, PermissionName,
    ProviderName, ProviderUserId, RoleName, StateKey, Text, Transports,
};

#[doc(hidden)]
pub mod __private {
    pub use uuid::Uuid;
}
