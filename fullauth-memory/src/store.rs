//! [`MemoryStore`]: the shared state, how operations reach it, and the trait
//! implementations.
//!
//! Every durable operation is written once, as a synchronous function over
//! [`State`] in its feature's module. [`durable_traits!`] generates the seven
//! durable trait implementations from those functions for both handles — the
//! store and a transaction — which differ only in their `read` and `write`
//! methods:
//!
//! * on the store, `read` looks at the committed state under its read lock,
//!   and `write` first takes the writer lock (so it waits while a transaction
//!   is open) and then mutates the committed state under its write lock;
//! * on a transaction, both work on the transaction's private copy.
//!
//! Each operation runs entirely inside one critical section, which is what
//! makes every compare-and-set step atomic under concurrency.

use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use async_trait::async_trait;
use fullauth_api::{
    BlacklistStore, ChallengeStore, DurableStore, Feature, Features, LockoutOutcome, LockoutPolicy,
    LockoutStore, RateLimitDecision, RateLimitPolicy, RateLimitStore, StateKey, StoreError,
    StoreResult, Text, Transaction,
};
use tracing::Instrument as _;

use crate::state::{Ctx, ShortLived, State, lock, read_lock, write_lock};
use crate::transaction::MemoryTransaction;

/// What every handle of one store shares.
#[derive(Debug)]
pub(crate) struct Shared {
    /// Configuration and clock.
    pub(crate) ctx: Ctx,
    /// The committed durable state. Reads share it; a write holds the writer
    /// lock first, so at most one thread ever waits for the write side.
    pub(crate) committed: RwLock<State>,
    /// Serialises writers: held by a plain write for one operation, and by a
    /// transaction for its whole life.
    pub(crate) writer: Arc<tokio::sync::Mutex<()>>,
    /// The short-lived state.
    pub(crate) short: Mutex<ShortLived>,
}

/// An in-process store serving every feature of fullauth: users, refresh
/// tokens and sessions, roles, permissions, OAuth links, passkeys, MFA, and
/// the four short-lived features.
///
/// Cloning is cheap and every clone shares the same data (it is an `Arc`).
/// The data lives as long as the last clone and is never persisted.
///
/// # Concurrency and transactions
///
/// Each operation runs atomically, inside one short critical section. Reads
/// run in parallel and never wait for a transaction. Writes are serialised,
/// and a transaction ([`DurableStore::begin`]) holds the right to write for
/// its whole life: writes through the store (not through the transaction)
/// wait until it commits, rolls back or is dropped. Do not write through the
/// store from the task that holds an open transaction — that write would wait
/// for itself.
///
/// The transaction works on a private snapshot of the committed tables
/// (copied lazily, per table, on its first write to each), so its reads see
/// its own writes, other handles see none of them until
/// [`Transaction::commit`], and a failed operation inside it changes nothing
/// (the savepoint behaviour of `create_user` and `link_oauth_account`).
///
/// The short-lived features (blacklist, lockout, rate limits, challenges) are
/// not transactional; transaction handles serve only the durable traits.
#[derive(Clone, Debug)]
pub struct MemoryStore {
    pub(crate) shared: Arc<Shared>,
}

impl MemoryStore {
    /// A store with every feature, the system clock and no application
    /// columns.
    pub fn new() -> Self {
        Self::from_ctx(Ctx {
            features: Features::all(),
            clock: fullauth_api::Clock::system(),
            columns: Default::default(),
        })
    }

    pub(crate) fn from_ctx(ctx: Ctx) -> Self {
        MemoryStore {
            shared: Arc::new(Shared {
                ctx,
                committed: RwLock::new(State::default()),
                writer: Arc::new(tokio::sync::Mutex::new(())),
                short: Mutex::new(ShortLived::default()),
            }),
        }
    }

    /// Runs a read of the committed state.
    pub(crate) async fn read<T, F>(
        &self,
        feature: Feature,
        op: &'static str,
        f: F,
    ) -> StoreResult<T>
    where
        F: FnOnce(&State, &Ctx) -> StoreResult<T> + Send,
        T: Send,
    {
        let cx = &self.shared.ctx;
        let _span = span(op).entered();
        cx.require(feature)?;
        let st = read_lock(&self.shared.committed);
        f(&st, cx)
    }

    /// Runs a write of the committed state, behind the writer lock.
    pub(crate) async fn write<T, F>(
        &self,
        feature: Feature,
        op: &'static str,
        f: F,
    ) -> StoreResult<T>
    where
        F: FnOnce(&mut State, &Ctx) -> StoreResult<T> + Send,
        T: Send,
    {
        let cx = &self.shared.ctx;
        cx.require(feature)?;
        async move {
            let _writer = self.shared.writer.lock().await;
            let mut st = write_lock(&self.shared.committed);
            f(&mut st, cx)
        }
        .instrument(span(op))
        .await
    }

    /// Runs an operation on the short-lived state.
    fn short<T>(
        &self,
        feature: Feature,
        op: &'static str,
        f: impl FnOnce(&mut ShortLived, fullauth_api::Timestamp) -> StoreResult<T>,
    ) -> StoreResult<T> {
        let cx = &self.shared.ctx;
        let _span = span(op).entered();
        cx.require(feature)?;
        let mut short = lock(&self.shared.short);
        let now = cx.now();
        short.maybe_sweep(now);
        f(&mut short, now)
    }
}

impl Default for MemoryStore {
    fn default() -> Self {
        Self::new()
    }
}

/// The span of one store operation.
pub(crate) fn span(op: &'static str) -> tracing::Span {
    tracing::debug_span!("fullauth.store", backend = "memory", op)
}

/// Implements the seven durable traits for a handle with `read` and `write`
/// methods (see the module docs).
macro_rules! durable_traits {
    ($ty:ty) => {
        #[async_trait::async_trait]
        impl fullauth_api::UserStore for $ty {
            async fn create_user(
                &self,
                new: fullauth_api::NewUser,
            ) -> fullauth_api::StoreResult<fullauth_api::User> {
                self.write(fullauth_api::Feature::Core, "create_user", move |st, cx| {
                    $crate::users::create_user(st, cx, new)
                })
                .await
            }

            async fn get_user(
                &self,
                id: &fullauth_api::UserId,
            ) -> fullauth_api::StoreResult<Option<fullauth_api::User>> {
                self.read(fullauth_api::Feature::Core, "get_user", |st, _| {
                    Ok($crate::users::get_user(st, id))
                })
                .await
            }

            async fn get_user_by_email(
                &self,
                email: &fullauth_api::Email,
            ) -> fullauth_api::StoreResult<Option<fullauth_api::User>> {
                self.read(fullauth_api::Feature::Core, "get_user_by_email", |st, _| {
                    Ok($crate::users::get_user_by_email(st, email))
                })
                .await
            }

            async fn get_user_by_field(
                &self,
                lookup: &fullauth_api::UserLookup,
            ) -> fullauth_api::StoreResult<Option<fullauth_api::User>> {
                self.read(
                    fullauth_api::Feature::Core,
                    "get_user_by_field",
                    |st, cx| $crate::users::get_user_by_field(st, cx, lookup),
                )
                .await
            }

            async fn update_user(
                &self,
                id: &fullauth_api::UserId,
                patch: fullauth_api::UserPatch,
            ) -> fullauth_api::StoreResult<fullauth_api::User> {
                self.write(fullauth_api::Feature::Core, "update_user", move |st, cx| {
                    $crate::users::update_user(st, cx, id, patch)
                })
                .await
            }

            async fn delete_user(
                &self,
                id: &fullauth_api::UserId,
            ) -> fullauth_api::StoreResult<bool> {
                self.write(fullauth_api::Feature::Core, "delete_user", |st, _| {
                    Ok($crate::users::delete_user(st, id))
                })
                .await
            }

            async fn get_password_hash(
                &self,
                id: &fullauth_api::UserId,
            ) -> fullauth_api::StoreResult<Option<fullauth_api::HashedPassword>> {
                self.read(fullauth_api::Feature::Core, "get_password_hash", |st, _| {
                    $crate::users::get_password_hash(st, id)
                })
                .await
            }

            async fn set_password_hash(
                &self,
                id: &fullauth_api::UserId,
                hash: Option<fullauth_api::HashedPassword>,
            ) -> fullauth_api::StoreResult<()> {
                self.write(
                    fullauth_api::Feature::Core,
                    "set_password_hash",
                    move |st, _| $crate::users::set_password_hash(st, id, hash),
                )
                .await
            }

            async fn mark_verified(
                &self,
                id: &fullauth_api::UserId,
            ) -> fullauth_api::StoreResult<()> {
                self.write(fullauth_api::Feature::Core, "mark_verified", |st, _| {
                    $crate::users::mark_verified(st, id)
                })
                .await
            }
        }

        #[async_trait::async_trait]
        impl fullauth_api::RefreshTokenStore for $ty {
            async fn store_refresh_token(
                &self,
                new: fullauth_api::NewRefreshToken,
            ) -> fullauth_api::StoreResult<fullauth_api::RefreshToken> {
                self.write(
                    fullauth_api::Feature::Core,
                    "store_refresh_token",
                    move |st, cx| $crate::tokens::store_refresh_token(st, cx, new),
                )
                .await
            }

            async fn get_refresh_token(
                &self,
                digest: &fullauth_api::TokenDigest,
            ) -> fullauth_api::StoreResult<Option<fullauth_api::RefreshToken>> {
                self.read(fullauth_api::Feature::Core, "get_refresh_token", |st, _| {
                    Ok($crate::tokens::get_refresh_token(st, digest))
                })
                .await
            }

            async fn revoke_refresh_token(
                &self,
                digest: &fullauth_api::TokenDigest,
            ) -> fullauth_api::StoreResult<bool> {
                self.write(
                    fullauth_api::Feature::Core,
                    "revoke_refresh_token",
                    |st, _| Ok($crate::tokens::revoke_refresh_token(st, digest)),
                )
                .await
            }

            async fn rotate_refresh_token(
                &self,
                old: &fullauth_api::TokenDigest,
                next: fullauth_api::NextRefreshToken,
            ) -> fullauth_api::StoreResult<fullauth_api::Rotation> {
                self.write(
                    fullauth_api::Feature::Core,
                    "rotate_refresh_token",
                    move |st, cx| $crate::tokens::rotate_refresh_token(st, cx, old, next),
                )
                .await
            }

            async fn revoke_family(
                &self,
                family_id: &fullauth_api::FamilyId,
            ) -> fullauth_api::StoreResult<u64> {
                self.write(fullauth_api::Feature::Core, "revoke_family", |st, _| {
                    Ok($crate::tokens::revoke_family(st, family_id))
                })
                .await
            }

            async fn revoke_all_for_user(
                &self,
                user_id: &fullauth_api::UserId,
            ) -> fullauth_api::StoreResult<u64> {
                self.write(
                    fullauth_api::Feature::Core,
                    "revoke_all_for_user",
                    |st, _| Ok($crate::tokens::revoke_all_for_user(st, user_id)),
                )
                .await
            }

            async fn prune_expired_refresh_tokens(
                &self,
                before: fullauth_api::Timestamp,
            ) -> fullauth_api::StoreResult<u64> {
                self.write(
                    fullauth_api::Feature::Core,
                    "prune_expired_refresh_tokens",
                    move |st, _| Ok($crate::tokens::prune_expired_refresh_tokens(st, before)),
                )
                .await
            }

            async fn list_sessions(
                &self,
                user_id: &fullauth_api::UserId,
            ) -> fullauth_api::StoreResult<Vec<fullauth_api::Session>> {
                self.read(fullauth_api::Feature::Core, "list_sessions", |st, cx| {
                    Ok($crate::tokens::list_sessions(st, cx, user_id))
                })
                .await
            }

            async fn revoke_session(
                &self,
                user_id: &fullauth_api::UserId,
                family_id: &fullauth_api::FamilyId,
            ) -> fullauth_api::StoreResult<bool> {
                self.write(fullauth_api::Feature::Core, "revoke_session", |st, _| {
                    Ok($crate::tokens::revoke_session(st, user_id, family_id))
                })
                .await
            }

            async fn revoke_other_sessions(
                &self,
                user_id: &fullauth_api::UserId,
                keep: &fullauth_api::FamilyId,
            ) -> fullauth_api::StoreResult<u64> {
                self.write(
                    fullauth_api::Feature::Core,
                    "revoke_other_sessions",
                    |st, _| Ok($crate::tokens::revoke_other_sessions(st, user_id, keep)),
                )
                .await
            }
        }

        #[async_trait::async_trait]
        impl fullauth_api::RoleStore for $ty {
            async fn create_role(
                &self,
                role: &fullauth_api::RoleName,
            ) -> fullauth_api::StoreResult<bool> {
                self.write(fullauth_api::Feature::Roles, "create_role", |st, _| {
                    Ok($crate::roles::create_role(st, role))
                })
                .await
            }

            async fn assign_role(
                &self,
                user_id: &fullauth_api::UserId,
                role: &fullauth_api::RoleName,
            ) -> fullauth_api::StoreResult<bool> {
                self.write(fullauth_api::Feature::Roles, "assign_role", |st, _| {
                    $crate::roles::assign_role(st, user_id, role)
                })
                .await
            }

            async fn remove_role(
                &self,
                user_id: &fullauth_api::UserId,
                role: &fullauth_api::RoleName,
            ) -> fullauth_api::StoreResult<bool> {
                self.write(fullauth_api::Feature::Roles, "remove_role", |st, _| {
                    Ok($crate::roles::remove_role(st, user_id, role))
                })
                .await
            }

            async fn get_user_roles(
                &self,
                user_id: &fullauth_api::UserId,
            ) -> fullauth_api::StoreResult<Vec<fullauth_api::RoleName>> {
                self.read(fullauth_api::Feature::Roles, "get_user_roles", |st, _| {
                    Ok($crate::roles::get_user_roles(st, user_id))
                })
                .await
            }

            async fn list_roles(&self) -> fullauth_api::StoreResult<Vec<fullauth_api::RoleName>> {
                self.read(fullauth_api::Feature::Roles, "list_roles", |st, _| {
                    Ok($crate::roles::list_roles(st))
                })
                .await
            }

            async fn delete_role(
                &self,
                role: &fullauth_api::RoleName,
            ) -> fullauth_api::StoreResult<bool> {
                self.write(fullauth_api::Feature::Roles, "delete_role", |st, _| {
                    Ok($crate::roles::delete_role(st, role))
                })
                .await
            }
        }

        #[async_trait::async_trait]
        impl fullauth_api::PermissionStore for $ty {
            async fn assign_permission(
                &self,
                role: &fullauth_api::RoleName,
                permission: &fullauth_api::PermissionName,
            ) -> fullauth_api::StoreResult<bool> {
                self.write(
                    fullauth_api::Feature::Permissions,
                    "assign_permission",
                    |st, _| Ok($crate::permissions::assign_permission(st, role, permission)),
                )
                .await
            }

            async fn remove_permission(
                &self,
                role: &fullauth_api::RoleName,
                permission: &fullauth_api::PermissionName,
            ) -> fullauth_api::StoreResult<bool> {
                self.write(
                    fullauth_api::Feature::Permissions,
                    "remove_permission",
                    |st, _| Ok($crate::permissions::remove_permission(st, role, permission)),
                )
                .await
            }

            async fn get_role_permissions(
                &self,
                role: &fullauth_api::RoleName,
            ) -> fullauth_api::StoreResult<Vec<fullauth_api::PermissionName>> {
                self.read(
                    fullauth_api::Feature::Permissions,
                    "get_role_permissions",
                    |st, _| Ok($crate::permissions::get_role_permissions(st, role)),
                )
                .await
            }

            async fn get_permissions_for_roles(
                &self,
                roles: &[fullauth_api::RoleName],
            ) -> fullauth_api::StoreResult<Vec<fullauth_api::PermissionName>> {
                self.read(
                    fullauth_api::Feature::Permissions,
                    "get_permissions_for_roles",
                    |st, _| Ok($crate::permissions::get_permissions_for_roles(st, roles)),
                )
                .await
            }

            async fn get_user_permissions(
                &self,
                user_id: &fullauth_api::UserId,
            ) -> fullauth_api::StoreResult<Vec<fullauth_api::PermissionName>> {
                self.read(
                    fullauth_api::Feature::Permissions,
                    "get_user_permissions",
                    |st, _| Ok($crate::permissions::get_user_permissions(st, user_id)),
                )
                .await
            }

            async fn list_permissions(
                &self,
            ) -> fullauth_api::StoreResult<Vec<fullauth_api::PermissionName>> {
                self.read(
                    fullauth_api::Feature::Permissions,
                    "list_permissions",
                    |st, _| Ok($crate::permissions::list_permissions(st)),
                )
                .await
            }
        }

        #[async_trait::async_trait]
        impl fullauth_api::OAuthStore for $ty {
            async fn get_oauth_account(
                &self,
                provider: &fullauth_api::ProviderName,
                provider_user_id: &fullauth_api::ProviderUserId,
            ) -> fullauth_api::StoreResult<Option<fullauth_api::OAuthAccount>> {
                self.read(
                    fullauth_api::Feature::OAuth,
                    "get_oauth_account",
                    |st, _| {
                        Ok($crate::oauth::get_oauth_account(
                            st,
                            provider,
                            provider_user_id,
                        ))
                    },
                )
                .await
            }

            async fn list_oauth_accounts(
                &self,
                user_id: &fullauth_api::UserId,
            ) -> fullauth_api::StoreResult<Vec<fullauth_api::OAuthAccount>> {
                self.read(
                    fullauth_api::Feature::OAuth,
                    "list_oauth_accounts",
                    |st, _| Ok($crate::oauth::list_oauth_accounts(st, user_id)),
                )
                .await
            }

            async fn link_oauth_account(
                &self,
                new: fullauth_api::NewOAuthAccount,
            ) -> fullauth_api::StoreResult<fullauth_api::OAuthLink> {
                self.write(
                    fullauth_api::Feature::OAuth,
                    "link_oauth_account",
                    move |st, cx| $crate::oauth::link_oauth_account(st, cx, new),
                )
                .await
            }

            async fn update_oauth_account(
                &self,
                provider: &fullauth_api::ProviderName,
                provider_user_id: &fullauth_api::ProviderUserId,
                patch: fullauth_api::OAuthAccountPatch,
            ) -> fullauth_api::StoreResult<Option<fullauth_api::OAuthAccount>> {
                self.write(
                    fullauth_api::Feature::OAuth,
                    "update_oauth_account",
                    move |st, _| {
                        Ok($crate::oauth::update_oauth_account(
                            st,
                            provider,
                            provider_user_id,
                            patch,
                        ))
                    },
                )
                .await
            }

            async fn delete_oauth_account(
                &self,
                provider: &fullauth_api::ProviderName,
                provider_user_id: &fullauth_api::ProviderUserId,
            ) -> fullauth_api::StoreResult<bool> {
                self.write(
                    fullauth_api::Feature::OAuth,
                    "delete_oauth_account",
                    |st, _| {
                        Ok($crate::oauth::delete_oauth_account(
                            st,
                            provider,
                            provider_user_id,
                        ))
                    },
                )
                .await
            }
        }

        #[async_trait::async_trait]
        impl fullauth_api::PasskeyStore for $ty {
            async fn get_passkey(
                &self,
                credential_id: &fullauth_api::CredentialId,
            ) -> fullauth_api::StoreResult<Option<fullauth_api::Passkey>> {
                self.read(fullauth_api::Feature::Passkeys, "get_passkey", |st, _| {
                    Ok($crate::passkeys::get_passkey(st, credential_id))
                })
                .await
            }

            async fn list_passkeys(
                &self,
                user_id: &fullauth_api::UserId,
            ) -> fullauth_api::StoreResult<Vec<fullauth_api::Passkey>> {
                self.read(fullauth_api::Feature::Passkeys, "list_passkeys", |st, _| {
                    Ok($crate::passkeys::list_passkeys(st, user_id))
                })
                .await
            }

            async fn store_passkey(
                &self,
                new: fullauth_api::NewPasskey,
            ) -> fullauth_api::StoreResult<fullauth_api::Passkey> {
                self.write(
                    fullauth_api::Feature::Passkeys,
                    "store_passkey",
                    move |st, cx| $crate::passkeys::store_passkey(st, cx, new),
                )
                .await
            }

            async fn update_sign_count(
                &self,
                credential_id: &fullauth_api::CredentialId,
                new_count: u32,
            ) -> fullauth_api::StoreResult<bool> {
                self.write(
                    fullauth_api::Feature::Passkeys,
                    "update_sign_count",
                    move |st, cx| {
                        $crate::passkeys::update_sign_count(st, cx, credential_id, new_count)
                    },
                )
                .await
            }

            async fn rename_passkey(
                &self,
                user_id: &fullauth_api::UserId,
                passkey_id: uuid::Uuid,
                name: &fullauth_api::DeviceName,
            ) -> fullauth_api::StoreResult<bool> {
                self.write(
                    fullauth_api::Feature::Passkeys,
                    "rename_passkey",
                    move |st, _| {
                        Ok($crate::passkeys::rename_passkey(
                            st, user_id, passkey_id, name,
                        ))
                    },
                )
                .await
            }

            async fn delete_passkey(
                &self,
                user_id: &fullauth_api::UserId,
                passkey_id: uuid::Uuid,
            ) -> fullauth_api::StoreResult<bool> {
                self.write(
                    fullauth_api::Feature::Passkeys,
                    "delete_passkey",
                    move |st, _| Ok($crate::passkeys::delete_passkey(st, user_id, passkey_id)),
                )
                .await
            }
        }

        #[async_trait::async_trait]
        impl fullauth_api::MfaStore for $ty {
            async fn get_mfa(
                &self,
                user_id: &fullauth_api::UserId,
            ) -> fullauth_api::StoreResult<Option<fullauth_api::MfaFactor>> {
                self.read(fullauth_api::Feature::Mfa, "get_mfa", |st, _| {
                    Ok($crate::mfa::get_mfa(st, user_id))
                })
                .await
            }

            async fn store_mfa(
                &self,
                user_id: &fullauth_api::UserId,
                secret: &fullauth_api::MfaSecret,
            ) -> fullauth_api::StoreResult<fullauth_api::MfaFactor> {
                self.write(fullauth_api::Feature::Mfa, "store_mfa", |st, cx| {
                    $crate::mfa::store_mfa(st, cx, user_id, secret)
                })
                .await
            }

            async fn confirm_mfa(
                &self,
                user_id: &fullauth_api::UserId,
                recovery_codes: &[fullauth_api::TokenDigest],
            ) -> fullauth_api::StoreResult<bool> {
                self.write(fullauth_api::Feature::Mfa, "confirm_mfa", |st, cx| {
                    Ok($crate::mfa::confirm_mfa(st, cx, user_id, recovery_codes))
                })
                .await
            }

            async fn delete_mfa(
                &self,
                user_id: &fullauth_api::UserId,
            ) -> fullauth_api::StoreResult<bool> {
                self.write(fullauth_api::Feature::Mfa, "delete_mfa", |st, _| {
                    Ok($crate::mfa::delete_mfa(st, user_id))
                })
                .await
            }

            async fn advance_mfa_counter(
                &self,
                user_id: &fullauth_api::UserId,
                counter: u32,
            ) -> fullauth_api::StoreResult<bool> {
                self.write(
                    fullauth_api::Feature::Mfa,
                    "advance_mfa_counter",
                    move |st, _| $crate::mfa::advance_mfa_counter(st, user_id, counter),
                )
                .await
            }

            async fn consume_recovery_code(
                &self,
                user_id: &fullauth_api::UserId,
                code: &fullauth_api::TokenDigest,
            ) -> fullauth_api::StoreResult<bool> {
                self.write(
                    fullauth_api::Feature::Mfa,
                    "consume_recovery_code",
                    |st, _| Ok($crate::mfa::consume_recovery_code(st, user_id, code)),
                )
                .await
            }
        }
    };
}
pub(crate) use durable_traits;

durable_traits!(MemoryStore);

#[async_trait]
impl DurableStore for MemoryStore {
    fn features(&self) -> Features {
        self.shared.ctx.features
    }

    fn backend_name(&self) -> &'static str {
        "memory"
    }

    async fn begin(&self) -> StoreResult<Box<dyn Transaction>> {
        self.shared.ctx.require(Feature::Core)?;
        async move {
            let writer = self.shared.writer.clone().lock_owned().await;
            let snapshot = read_lock(&self.shared.committed).clone();
            let tx: Box<dyn Transaction> = Box::new(MemoryTransaction::new(
                self.shared.clone(),
                snapshot,
                writer,
            ));
            Ok(tx)
        }
        .instrument(span("begin"))
        .await
    }
}

#[async_trait]
impl BlacklistStore for MemoryStore {
    async fn blacklist(&self, key: &StateKey, ttl: Duration) -> StoreResult<()> {
        self.short(Feature::Blacklist, "blacklist", |s, now| {
            s.blacklist.add(now, key, ttl);
            Ok(())
        })
    }

    async fn is_blacklisted(&self, key: &StateKey) -> StoreResult<bool> {
        self.short(Feature::Blacklist, "is_blacklisted", |s, now| {
            Ok(s.blacklist.contains(now, key))
        })
    }

    async fn any_blacklisted(&self, keys: &[StateKey]) -> StoreResult<bool> {
        self.short(Feature::Blacklist, "any_blacklisted", |s, now| {
            Ok(s.blacklist.contains_any(now, keys))
        })
    }
}

#[async_trait]
impl LockoutStore for MemoryStore {
    async fn record_failure(
        &self,
        key: &StateKey,
        policy: LockoutPolicy,
    ) -> StoreResult<LockoutOutcome> {
        self.short(Feature::Lockout, "record_failure", |s, now| {
            policy.validate()?;
            Ok(s.lockouts.record_failure(now, key, policy))
        })
    }

    async fn is_locked(&self, key: &StateKey) -> StoreResult<bool> {
        self.short(Feature::Lockout, "is_locked", |s, now| {
            Ok(s.lockouts.is_locked(now, key))
        })
    }

    async fn clear_lockout(&self, key: &StateKey) -> StoreResult<()> {
        self.short(Feature::Lockout, "clear_lockout", |s, _| {
            s.lockouts.clear(key);
            Ok(())
        })
    }
}

#[async_trait]
impl RateLimitStore for MemoryStore {
    async fn hit(&self, key: &StateKey, policy: RateLimitPolicy) -> StoreResult<RateLimitDecision> {
        self.short(Feature::RateLimit, "hit", |s, now| {
            policy.validate()?;
            Ok(s.rate_limits.hit(now, key, policy))
        })
    }

    async fn reset_rate_limit(&self, key: &StateKey) -> StoreResult<()> {
        self.short(Feature::RateLimit, "reset_rate_limit", |s, _| {
            s.rate_limits.reset(key);
            Ok(())
        })
    }
}

#[async_trait]
impl ChallengeStore for MemoryStore {
    async fn put_challenge(&self, key: &StateKey, value: &Text, ttl: Duration) -> StoreResult<()> {
        self.short(Feature::Challenges, "put_challenge", |s, now| {
            s.challenges.put(now, key, value, ttl);
            Ok(())
        })
    }

    async fn take_challenge(&self, key: &StateKey) -> StoreResult<Option<Text>> {
        self.short(Feature::Challenges, "take_challenge", |s, now| {
            Ok(s.challenges.take(now, key))
        })
    }
}

/// The error of `begin` on a transaction handle.
pub(crate) fn nesting() -> StoreError {
    StoreError::TransactionNesting
}
