//! The one forwarding layer: how a backend crate implements the storage
//! traits without writing them out.
//!
//! The storage traits have about sixty methods. A backend of this family
//! writes each **operation** once — one function per trait method, named like
//! it, in one module per feature — and [`backend_impls!`](crate::backend_impls)
//! generates the trait implementations from the method table kept here. The
//! generated methods check the feature ([`StoreInfo::features`]), run the
//! operation in a `tracing` span named `fullauth.store` with the backend and
//! the operation, and record both in the [`ErrorContext`](crate::ErrorContext)
//! of every error. The same table generates the forwarding impls for
//! `Arc<T>`, `Box<T>` and `&T` and the routing of
//! [`ComposedStore`](crate::ComposedStore), so a trait method added to the API
//! and forgotten in the table fails the lint `clippy::missing_trait_methods`
//! on those impls, and a table row without the backend's function fails to
//! compile.
//!
//! # The convention
//!
//! | trait | module | feature |
//! | --- | --- | --- |
//! | [`UserStore`](crate::UserStore) | `users` | Core |
//! | [`RefreshTokenStore`](crate::RefreshTokenStore) | `tokens` | Core |
//! | [`RoleStore`](crate::RoleStore) | `roles` | Roles |
//! | [`PermissionStore`](crate::PermissionStore) | `permissions` | Permissions |
//! | [`OAuthStore`](crate::OAuthStore) | `oauth` | OAuth |
//! | [`PasskeyStore`](crate::PasskeyStore) | `passkeys` | Passkeys |
//! | [`MfaStore`](crate::MfaStore) | `mfa` | Mfa |
//! | [`BlacklistStore`](crate::BlacklistStore) | `blacklist` | Blacklist |
//! | [`LockoutStore`](crate::LockoutStore) | `lockout` | Lockout |
//! | [`RateLimitStore`](crate::RateLimitStore) | `rate_limit` | RateLimit |
//! | [`ChallengeStore`](crate::ChallengeStore) | `challenges` | Challenges |
//!
//! Each module, reachable by that name from where the macro is invoked,
//! holds `async fn <method>(ops, <the method's arguments>) -> StoreResult<T>`
//! for every method of its trait, where `ops` is what [`Backend::ops`]
//! returns (a handle, a connection, a reference to shared state).
//!
//! ```
//! use fullauth_api::backend::Backend;
//! use fullauth_api::{Feature, Features, StateKey, StoreInfo, StoreResult, Text};
//! use std::collections::HashMap;
//! use std::sync::Mutex;
//! use std::time::Duration;
//!
//! /// A store serving only one-time challenges (no expiry, for brevity).
//! #[derive(Default)]
//! struct Challenges(Mutex<HashMap<String, String>>);
//!
//! impl StoreInfo for Challenges {
//!     fn features(&self) -> Features { Feature::Challenges.into() }
//!     fn backend_name(&self) -> &'static str { "example" }
//! }
//! impl Backend for Challenges {
//!     type Ops<'a> = &'a Mutex<HashMap<String, String>>;
//!     fn ops(&self) -> Self::Ops<'_> { &self.0 }
//! }
//!
//! mod challenges {
//!     use super::*;
//!     type Map<'a> = &'a Mutex<HashMap<String, String>>;
//!     pub async fn put_challenge(m: Map<'_>, key: &StateKey, value: &Text, _ttl: Duration) -> StoreResult<()> {
//!         m.lock().unwrap().insert(key.as_str().into(), value.as_str().into());
//!         Ok(())
//!     }
//!     pub async fn take_challenge(m: Map<'_>, key: &StateKey) -> StoreResult<Option<Text>> {
//!         m.lock().unwrap().remove(key.as_str()).map(Text::new).transpose()
//!     }
//! }
//!
//! fullauth_api::backend_impls!(Challenges: ChallengeStore);
//!
//! # fn main() {
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! use fullauth_api::ChallengeStore;
//! let store = Challenges::default();
//! let key = StateKey::new("webauthn:1").unwrap();
//! store.put_challenge(&key, &Text::new("c").unwrap(), Duration::from_secs(60)).await.unwrap();
//! assert_eq!(store.take_challenge(&key).await.unwrap().unwrap().as_str(), "c");
//! assert!(store.take_challenge(&key).await.unwrap().is_none());
//! # });
//! # }
//! ```
//!
//! A custom store does not have to use this layer: implementing the traits
//! directly (see [`crate::guide`]) is just as good.

use std::future::Future;

use tracing::Instrument as _;

use crate::error::StoreResult;
use crate::features::Feature;
use crate::store::StoreInfo;

/// A store whose trait implementations come from
/// [`backend_impls!`](crate::backend_impls): it says what its operations
/// take as their first argument.
pub trait Backend: StoreInfo {
    /// The first argument of every operation function (a handle, a
    /// connection, a reference to shared state).
    type Ops<'a>: Send
    where
        Self: 'a;

    /// The value handed to the operation of the call being made.
    fn ops(&self) -> Self::Ops<'_>;
}

/// Runs one operation the way every generated method does: answers
/// [`StoreError::FeatureDisabled`](crate::StoreError::FeatureDisabled) when
/// `store` does not serve `feature` (the operation is not polled), else runs
/// it inside a `fullauth.store` debug span with the backend and operation
/// names, and records both in the context of any error.
pub async fn call<S, T, F>(
    store: &S,
    feature: Feature,
    operation: &'static str,
    op: F,
) -> StoreResult<T>
where
    S: StoreInfo + ?Sized,
    F: Future<Output = StoreResult<T>>,
{
    let backend = store.backend_name();
    if !store.features().contains(feature) {
        return Err(crate::StoreError::feature_disabled(feature).with_context(backend, operation));
    }
    op.instrument(tracing::debug_span!(
        "fullauth.store",
        backend,
        op = operation
    ))
    .await
    .map_err(|e| e.with_context(backend, operation))
}

/// An argument of a storage method, checked against the store's key type
/// before the operation runs: every user id it carries must be of the
/// store's [`UserIdType`](crate::UserIdType), and a [`NewUser`](crate::NewUser)'s
/// id must follow [`UserIdType::check_new_user_id`](crate::UserIdType::check_new_user_id).
/// So every backend generated with [`backend_impls!`](crate::backend_impls)
/// answers an id of another type with the same
/// [`StoreError::InvalidInput`](crate::StoreError::InvalidInput).
pub trait KeyedArg {
    /// `Ok` when the argument fits a store keyed by `key`.
    ///
    /// # Errors
    /// [`StoreError::InvalidInput`](crate::StoreError::InvalidInput), field
    /// `user_id`.
    fn check_key(&self, key: crate::UserIdType) -> StoreResult<()>;
}

impl<T: KeyedArg + ?Sized> KeyedArg for &T {
    fn check_key(&self, key: crate::UserIdType) -> StoreResult<()> {
        (**self).check_key(key)
    }
}

impl KeyedArg for crate::UserId {
    fn check_key(&self, key: crate::UserIdType) -> StoreResult<()> {
        self.expect_type(key).map(drop)
    }
}

impl KeyedArg for crate::NewUser {
    fn check_key(&self, key: crate::UserIdType) -> StoreResult<()> {
        key.check_new_user_id(self.id.as_ref())
    }
}

impl KeyedArg for crate::UserLookup {
    fn check_key(&self, key: crate::UserIdType) -> StoreResult<()> {
        match self {
            crate::UserLookup::Id(id) => id.check_key(key),
            _ => Ok(()),
        }
    }
}

macro_rules! keyed_by_user_id {
    ($($t:ty),*) => {$(
        impl KeyedArg for $t {
            fn check_key(&self, key: crate::UserIdType) -> StoreResult<()> {
                self.user_id.check_key(key)
            }
        }
    )*};
}
keyed_by_user_id!(
    crate::NewRefreshToken,
    crate::NewOAuthAccount,
    crate::NewPasskey
);

macro_rules! no_user_key {
    ($($t:ty),*) => {$(
        impl KeyedArg for $t {
            fn check_key(&self, _key: crate::UserIdType) -> StoreResult<()> {
                Ok(())
            }
        }
    )*};
}
no_user_key!(
    crate::Email,
    crate::UserPatch,
    Option<crate::HashedPassword>,
    crate::TokenDigest,
    crate::NextRefreshToken,
    crate::FamilyId,
    crate::Timestamp,
    crate::RoleName,
    crate::PermissionName,
    [crate::RoleName],
    [crate::TokenDigest],
    [crate::StateKey],
    crate::ProviderName,
    crate::ProviderUserId,
    crate::OAuthAccountPatch,
    crate::CredentialId,
    u32,
    uuid::Uuid,
    crate::DeviceName,
    crate::MfaSecret,
    crate::StateKey,
    std::time::Duration,
    crate::LockoutPolicy,
    crate::RateLimitPolicy,
    crate::Text
);

/// The durable rows of the method table: `Trait module Feature { method(args) -> T; }`.
/// Calls `$crate::$callback!` with `{ $args }` and the rows.
#[doc(hidden)]
#[macro_export]
macro_rules! __durable_table {
    ($callback:ident { $($args:tt)* }) => {
        $crate::$callback! { { $($args)* }
            UserStore users Core {
                create_user(new: $crate::NewUser) -> $crate::User;
                get_user(id: &$crate::UserId) -> ::core::option::Option<$crate::User>;
                get_user_by_email(email: &$crate::Email) -> ::core::option::Option<$crate::User>;
                get_user_by_field(lookup: &$crate::UserLookup) -> ::core::option::Option<$crate::User>;
                get_principal(lookup: &$crate::UserLookup) -> ::core::option::Option<$crate::Principal>;
                update_user(id: &$crate::UserId, patch: $crate::UserPatch) -> $crate::User;
                delete_user(id: &$crate::UserId) -> bool;
                get_password_hash(id: &$crate::UserId) -> ::core::option::Option<$crate::HashedPassword>;
                set_password_hash(id: &$crate::UserId, hash: ::core::option::Option<$crate::HashedPassword>) -> ();
                mark_verified(id: &$crate::UserId) -> ();
            }
            RefreshTokenStore tokens Core {
                store_refresh_token(new: $crate::NewRefreshToken) -> $crate::RefreshToken;
                get_refresh_token(digest: &$crate::TokenDigest) -> ::core::option::Option<$crate::RefreshToken>;
                revoke_refresh_token(digest: &$crate::TokenDigest) -> bool;
                rotate_refresh_token(old: &$crate::TokenDigest, next: $crate::NextRefreshToken) -> $crate::Rotation;
                revoke_family(family_id: &$crate::FamilyId) -> u64;
                revoke_all_for_user(user_id: &$crate::UserId) -> u64;
                prune_expired_refresh_tokens(before: $crate::Timestamp) -> u64;
                list_sessions(user_id: &$crate::UserId) -> ::std::vec::Vec<$crate::Session>;
                revoke_session(user_id: &$crate::UserId, family_id: &$crate::FamilyId) -> bool;
                revoke_other_sessions(user_id: &$crate::UserId, keep: &$crate::FamilyId) -> u64;
            }
            RoleStore roles Roles {
                create_role(role: &$crate::RoleName) -> bool;
                assign_role(user_id: &$crate::UserId, role: &$crate::RoleName) -> bool;
                remove_role(user_id: &$crate::UserId, role: &$crate::RoleName) -> bool;
                get_user_roles(user_id: &$crate::UserId) -> ::std::vec::Vec<$crate::RoleName>;
                list_roles() -> ::std::vec::Vec<$crate::RoleName>;
                delete_role(role: &$crate::RoleName) -> bool;
            }
            PermissionStore permissions Permissions {
                assign_permission(role: &$crate::RoleName, permission: &$crate::PermissionName) -> bool;
                remove_permission(role: &$crate::RoleName, permission: &$crate::PermissionName) -> bool;
                get_role_permissions(role: &$crate::RoleName) -> ::std::vec::Vec<$crate::PermissionName>;
                get_permissions_for_roles(roles: &[$crate::RoleName]) -> ::std::vec::Vec<$crate::PermissionName>;
                get_user_permissions(user_id: &$crate::UserId) -> ::std::vec::Vec<$crate::PermissionName>;
                list_permissions() -> ::std::vec::Vec<$crate::PermissionName>;
            }
            OAuthStore oauth OAuth {
                get_oauth_account(provider: &$crate::ProviderName, provider_user_id: &$crate::ProviderUserId) -> ::core::option::Option<$crate::OAuthAccount>;
                list_oauth_accounts(user_id: &$crate::UserId) -> ::std::vec::Vec<$crate::OAuthAccount>;
                link_oauth_account(new: $crate::NewOAuthAccount) -> $crate::OAuthLink;
                update_oauth_account(provider: &$crate::ProviderName, provider_user_id: &$crate::ProviderUserId, patch: $crate::OAuthAccountPatch) -> ::core::option::Option<$crate::OAuthAccount>;
                delete_oauth_account(provider: &$crate::ProviderName, provider_user_id: &$crate::ProviderUserId) -> bool;
            }
            PasskeyStore passkeys Passkeys {
                get_passkey(credential_id: &$crate::CredentialId) -> ::core::option::Option<$crate::Passkey>;
                list_passkeys(user_id: &$crate::UserId) -> ::std::vec::Vec<$crate::Passkey>;
                store_passkey(new: $crate::NewPasskey) -> $crate::Passkey;
                update_sign_count(credential_id: &$crate::CredentialId, new_count: u32) -> bool;
                rename_passkey(user_id: &$crate::UserId, passkey_id: $crate::__private::Uuid, name: &$crate::DeviceName) -> bool;
                delete_passkey(user_id: &$crate::UserId, passkey_id: $crate::__private::Uuid) -> bool;
            }
            MfaStore mfa Mfa {
                get_mfa(user_id: &$crate::UserId) -> ::core::option::Option<$crate::MfaFactor>;
                store_mfa(user_id: &$crate::UserId, secret: &$crate::MfaSecret) -> $crate::MfaFactor;
                confirm_mfa(user_id: &$crate::UserId, recovery_codes: &[$crate::TokenDigest]) -> bool;
                delete_mfa(user_id: &$crate::UserId) -> bool;
                advance_mfa_counter(user_id: &$crate::UserId, counter: u32) -> bool;
                consume_recovery_code(user_id: &$crate::UserId, code: &$crate::TokenDigest) -> bool;
            }
        }
    };
}

/// The short-lived rows of the method table (see [`__durable_table!`]).
#[doc(hidden)]
#[macro_export]
macro_rules! __short_lived_table {
    ($callback:ident { $($args:tt)* }) => {
        $crate::$callback! { { $($args)* }
            BlacklistStore blacklist Blacklist {
                blacklist(key: &$crate::StateKey, ttl: ::core::time::Duration) -> ();
                is_blacklisted(key: &$crate::StateKey) -> bool;
                any_blacklisted(keys: &[$crate::StateKey]) -> bool;
            }
            LockoutStore lockout Lockout {
                record_failure(key: &$crate::StateKey, policy: $crate::LockoutPolicy) -> $crate::LockoutOutcome;
                is_locked(key: &$crate::StateKey) -> bool;
                clear_lockout(key: &$crate::StateKey) -> ();
            }
            RateLimitStore rate_limit RateLimit {
                hit(key: &$crate::StateKey, policy: $crate::RateLimitPolicy) -> $crate::RateLimitDecision;
                reset_rate_limit(key: &$crate::StateKey) -> ();
            }
            ChallengeStore challenges Challenges {
                put_challenge(key: &$crate::StateKey, value: &$crate::Text, ttl: ::core::time::Duration) -> ();
                take_challenge(key: &$crate::StateKey) -> ::core::option::Option<$crate::Text>;
            }
        }
    };
}

/// Generates storage trait implementations for a type that implements
/// [`Backend`](crate::backend::Backend), from the operation functions of its
/// feature modules (see [the module docs](crate::backend)).
///
/// `backend_impls!(MyStore: durable)` implements the seven durable traits,
/// `backend_impls!(MyStore: short_lived)` the four short-lived ones,
/// `backend_impls!(MyStore: durable, short_lived)` all eleven, and single
/// traits can be named (`backend_impls!(MyStore: MfaStore, BlacklistStore)`).
/// [`DurableStore::begin`](crate::DurableStore::begin) and
/// [`StoreInfo`](crate::StoreInfo) stay the backend's to write.
///
/// A generic store declares its parameters like an impl does, one bound
/// each: `backend_impls!(impl<C: RedisConnection> RedisStore<C>: short_lived)`.
#[macro_export]
macro_rules! backend_impls {
    (impl<$($g:ident : $bound:path),+ $(,)?> $ty:ty : $($what:ident),+ $(,)?) => {
        $crate::backend_impls!(@generics [$($g: $bound),+] $ty : $($what),+);
    };
    (@generics $gen:tt $ty:ty : $($what:ident),+) => {
        $( $crate::__backend_impls_one!($gen $ty; $what); )+
    };
    ($ty:ty : $($what:ident),+ $(,)?) => {
        $( $crate::__backend_impls_one!([] $ty; $what); )+
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __backend_impls_one {
    ($gen:tt $ty:ty; durable) => { $crate::__durable_table!(__impl_backend { $gen $ty; * }); };
    ($gen:tt $ty:ty; short_lived) => { $crate::__short_lived_table!(__impl_backend { $gen $ty; * }); };
    ($gen:tt $ty:ty; $trait:ident) => {
        $crate::__durable_table!(__impl_backend { $gen $ty; $trait });
        $crate::__short_lived_table!(__impl_backend { $gen $ty; $trait });
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __impl_backend {
    ({ $gen:tt $ty:ty; $only:tt } $( $trait:ident $module:ident $feature:ident {
        $( $m:ident ( $($a:ident : $t:ty),* ) -> $r:ty ; )*
    } )*) => {
        $( $crate::__impl_backend_trait! { $only $trait; $gen $ty; $module; $feature; $( $m ( $($a : $t),* ) -> $r ; )* } )*
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __impl_backend_trait {
    (* $trait:ident; $gen:tt $ty:ty; $module:ident; $feature:ident; $($rest:tt)*) => {
        $crate::__impl_backend_trait_body! { $trait; $gen $ty; $module; $feature; $($rest)* }
    };
    ($only:ident $trait:ident; $gen:tt $ty:ty; $module:ident; $feature:ident; $($rest:tt)*) => {
        $crate::__if_same_ident! { $only $trait {
            $crate::__impl_backend_trait_body! { $trait; $gen $ty; $module; $feature; $($rest)* }
        } }
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __impl_backend_trait_body {
    ($trait:ident; [$($gen:tt)*] $ty:ty; $module:ident; $feature:ident; $( $m:ident ( $($a:ident : $t:ty),* ) -> $r:ty ; )*) => {
        #[$crate::async_trait]
        impl<$($gen)*> $crate::$trait for $ty {
            $(
                async fn $m(&self, $($a: $t),*) -> $crate::StoreResult<$r> {
                    let key = $crate::StoreInfo::user_id_type(self);
                    $crate::backend::call(
                        self,
                        $crate::Feature::$feature,
                        ::core::stringify!($m),
                        async move {
                            $( $crate::backend::KeyedArg::check_key(&$a, key)?; )*
                            $module::$m($crate::backend::Backend::ops(self), $($a),*).await
                        },
                    )
                    .await
                }
            )*
        }
    };
}

/// Expands to the block when the two identifiers are the same trait name.
#[doc(hidden)]
#[macro_export]
macro_rules! __if_same_ident {
    (UserStore UserStore { $($y:tt)* }) => { $($y)* };
    (RefreshTokenStore RefreshTokenStore { $($y:tt)* }) => { $($y)* };
    (RoleStore RoleStore { $($y:tt)* }) => { $($y)* };
    (PermissionStore PermissionStore { $($y:tt)* }) => { $($y)* };
    (OAuthStore OAuthStore { $($y:tt)* }) => { $($y)* };
    (PasskeyStore PasskeyStore { $($y:tt)* }) => { $($y)* };
    (MfaStore MfaStore { $($y:tt)* }) => { $($y)* };
    (BlacklistStore BlacklistStore { $($y:tt)* }) => { $($y)* };
    (LockoutStore LockoutStore { $($y:tt)* }) => { $($y)* };
    (RateLimitStore RateLimitStore { $($y:tt)* }) => { $($y)* };
    (ChallengeStore ChallengeStore { $($y:tt)* }) => { $($y)* };
    ($a:ident $b:ident { $($y:tt)* }) => {};
}

/// Forwarding impls of every storage trait for `Arc<T>`, `Box<T>` and `&T`.
#[doc(hidden)]
#[macro_export]
macro_rules! __impl_forward {
    ({} $( $trait:ident $module:ident $feature:ident {
        $( $m:ident ( $($a:ident : $t:ty),* ) -> $r:ty ; )*
    } )*) => {
        $(
            #[deny(clippy::missing_trait_methods)]
            #[$crate::async_trait]
            impl<T: $crate::$trait + ?Sized> $crate::$trait for ::std::sync::Arc<T> {
                $(
                    async fn $m(&self, $($a: $t),*) -> $crate::StoreResult<$r> {
                        (**self).$m($($a),*).await
                    }
                )*
            }

            #[deny(clippy::missing_trait_methods)]
            #[$crate::async_trait]
            impl<T: $crate::$trait + ?Sized> $crate::$trait for ::std::boxed::Box<T> {
                $(
                    async fn $m(&self, $($a: $t),*) -> $crate::StoreResult<$r> {
                        (**self).$m($($a),*).await
                    }
                )*
            }

            #[deny(clippy::missing_trait_methods)]
            #[$crate::async_trait]
            impl<'r, T: $crate::$trait + ?Sized> $crate::$trait for &'r T {
                $(
                    async fn $m(&self, $($a: $t),*) -> $crate::StoreResult<$r> {
                        (**self).$m($($a),*).await
                    }
                )*
            }
        )*
    };
}

/// [`ComposedStore`](crate::ComposedStore)'s durable traits: every call goes
/// to the durable part.
#[doc(hidden)]
#[macro_export]
macro_rules! __impl_composed_durable {
    ({} $( $trait:ident $module:ident $feature:ident {
        $( $m:ident ( $($a:ident : $t:ty),* ) -> $r:ty ; )*
    } )*) => {
        $(
            #[deny(clippy::missing_trait_methods)]
            #[$crate::async_trait]
            impl $crate::$trait for $crate::ComposedStore {
                $(
                    async fn $m(&self, $($a: $t),*) -> $crate::StoreResult<$r> {
                        self.part(&self.durable, $crate::Feature::$feature, ::core::stringify!($m))?
                            .$m($($a),*)
                            .await
                    }
                )*
            }
        )*
    };
}

/// [`ComposedStore`](crate::ComposedStore)'s short-lived traits: every call
/// goes to the part of its feature (the field named like the module).
#[doc(hidden)]
#[macro_export]
macro_rules! __impl_composed_short_lived {
    ({} $( $trait:ident $module:ident $feature:ident {
        $( $m:ident ( $($a:ident : $t:ty),* ) -> $r:ty ; )*
    } )*) => {
        $(
            #[deny(clippy::missing_trait_methods)]
            #[$crate::async_trait]
            impl $crate::$trait for $crate::ComposedStore {
                $(
                    async fn $m(&self, $($a: $t),*) -> $crate::StoreResult<$r> {
                        self.part(&self.$module, $crate::Feature::$feature, ::core::stringify!($m))?
                            .$m($($a),*)
                            .await
                    }
                )*
            }
        )*
    };
}

crate::__durable_table!(__impl_forward {});
crate::__short_lived_table!(__impl_forward {});
