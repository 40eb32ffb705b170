//! The embedded backend of the fullauth family: every storage trait of
//! [`fullauth_api`] in one SQLite file, no server.
//!
//! Pick it for single-node services, desktop and edge apps, tests, and
//! prototypes that must keep their data. It serves the durable features (users,
//! refresh tokens and sessions, roles, permissions, OAuth links, passkeys, TOTP
//! factors) **and** the short-lived ones (token blacklist, lockout, rate
//! limits, one-time challenges) in their own tables, so an embedded deployment
//! needs no Redis and its blacklist survives a restart.
//!
//! The durable tables are those of the Python library fastapi-fullauth 0.18 on
//! SQLite — names, types, indexes, constraint, cascades and value encodings
//! (UUIDs as 32 hex characters, `YYYY-MM-DD HH:MM:SS.ffffff` UTC text, 0/1
//! booleans) — so a Rust and a FastAPI service can share one database file.
//!
//! ```
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! use fullauth_api::{Features, NewUser, RoleStore, UserStore};
//! use fullauth_sqlite::{SqliteOptions, SqliteStore};
//!
//! // A real file in the temp directory, deleted when the store is dropped.
//! // In an app: SqliteStore::open("fullauth.db", SqliteOptions::new()).await
//! let store = SqliteStore::open_temporary(SqliteOptions::new()).await?;
//! store.migrator().apply(Features::all()).await?;
//!
//! let ada = store.create_user(NewUser::new("Ada@Example.com")?).await?;
//! assert_eq!(ada.email.as_str(), "ada@example.com");
//! store.assign_role(&ada.id, &"admin".parse()?).await?;
//! assert_eq!(store.get_user_roles(&ada.id).await?, ["admin"]);
//! # Ok::<(), fullauth_api::StoreError>(())
//! # }).unwrap();
//! ```
//!
//! # Pieces
//!
//! * [`SqliteStore`]: the store; cheap to clone, `Arc<dyn fullauth_api::Store>`
//!   ready. [`SqliteStore::begin`](fullauth_api::DurableStore::begin) gives a
//!   [`SqliteTransaction`].
//! * [`SqliteOptions`]: features, clock, reader pool size, busy timeout.
//! * [`Migrator`] (from [`SqliteStore::migrator`]): plan, apply, status,
//!   adopt an existing fastapi-fullauth database, export the SQL.
//! * How the store stays off the async runtime's threads: the [`pool`] module.
//!   How values are encoded: [`codec`](crate#encodings).
//!
//! # Encodings
//!
//! UUIDs are `CHAR(32)` lowercase hex; times are `DATETIME` text
//! `YYYY-MM-DD HH:MM:SS.ffffff` in UTC, compared as text (fixed width, so
//! text order is time order, also against rows written by Python); booleans
//! are 0/1. The application's own user columns are carried in
//! [`User::extra`](fullauth_api::User::extra) (see the [`users`] module for the
//! JSON mapping; booleans read back as 0/1 numbers).
//!
//! Expiry is always decided with the store clock's now passed as a parameter,
//! never SQL `now`, so a [`Clock::manual`](fullauth_api::Clock::manual) clock
//! drives every TTL.
//!
//! The driver is re-exported as [`rusqlite`].

#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod blacklist;
mod challenges;
mod codec;
mod ephemeral;
mod lockout;
mod mfa;
pub mod migrate;
mod oauth;
mod passkeys;
mod permissions;
pub mod pool;
mod rate_limit;
mod roles;
mod tokens;
pub mod users;

use std::path::{Path, PathBuf};
use std::time::Duration;

use async_trait::async_trait;
use fullauth_api::{
    BlacklistStore, ChallengeStore, Clock, CredentialId, DeviceName, DurableStore, Email, FamilyId,
    Features, HashedPassword, LockoutOutcome, LockoutPolicy, LockoutStore, MfaFactor, MfaSecret,
    MfaStore, NewOAuthAccount, NewPasskey, NewRefreshToken, NewUser, NextRefreshToken,
    OAuthAccount, OAuthAccountPatch, OAuthLink, OAuthStore, Passkey, PasskeyStore, PermissionName,
    PermissionStore, ProviderName, ProviderUserId, RateLimitDecision, RateLimitPolicy,
    RateLimitStore, RefreshToken, RefreshTokenStore, RoleName, RoleStore, Rotation, Session,
    StateKey, StoreResult, Text, Timestamp, TokenDigest, Transaction, User, UserId, UserLookup,
    UserPatch, UserStore,
};
use tracing::Instrument as _;

pub use migrate::Migrator;
pub use rusqlite;

use crate::pool::{Handle, Shared};

/// How to open a [`SqliteStore`].
///
/// ```
/// use std::time::Duration;
/// use fullauth_api::{Clock, Features};
/// use fullauth_sqlite::SqliteOptions;
/// let options = SqliteOptions::new()
///     .features(Features::durable())
///     .readers(8)
///     .busy_timeout(Duration::from_secs(2))
///     .clock(Clock::system());
/// assert_eq!(options.reader_count(), 8);
/// ```
#[derive(Clone, Debug)]
pub struct SqliteOptions {
    features: Features,
    clock: Clock,
    readers: usize,
    busy_timeout: Duration,
}

impl Default for SqliteOptions {
    /// Every feature, the system clock, 4 readers, a 5 s busy timeout.
    fn default() -> Self {
        SqliteOptions {
            features: Features::all(),
            clock: Clock::system(),
            readers: 4,
            busy_timeout: Duration::from_secs(5),
        }
    }
}

impl SqliteOptions {
    /// The defaults: every feature, the system clock, 4 readers, 5 s busy
    /// timeout.
    pub fn new() -> Self {
        Self::default()
    }

    /// The features the store serves (their tables must be migrated); the
    /// methods of every other feature answer `FeatureDisabled`.
    pub fn features(mut self, features: Features) -> Self {
        self.features = features;
        self
    }

    /// Where the store reads "now" from (a manual clock makes TTL tests
    /// instant).
    pub fn clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
    }

    /// How many reader connections (at least 1; default 4).
    pub fn readers(mut self, n: usize) -> Self {
        self.readers = n.max(1);
        self
    }

    /// How long a statement waits for a lock held by another connection or
    /// process, and a call waits for the writer, before answering
    /// `Unavailable` (default 5 s).
    pub fn busy_timeout(mut self, d: Duration) -> Self {
        self.busy_timeout = d;
        self
    }

    /// The configured number of readers.
    pub fn reader_count(&self) -> usize {
        self.readers
    }
}

/// The SQLite store: every durable and short-lived trait of [`fullauth_api`].
///
/// Cheap to clone (clones share the connections). Open it with
/// [`open`](Self::open) or [`open_temporary`](Self::open_temporary), then
/// migrate with [`migrator`](Self::migrator). Needs a tokio runtime with the
/// time driver (see [`pool`]).
#[derive(Clone)]
pub struct SqliteStore {
    handle: Handle,
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStore")
            .field("path", &self.handle.shared.path)
            .field("features", &self.handle.shared.features)
            .finish()
    }
}

impl SqliteStore {
    /// Opens (creating if missing) the database file at `path`, in WAL mode.
    /// Opening does not migrate: call [`migrator`](Self::migrator).
    ///
    /// # Errors
    /// [`fullauth_api::StoreError::InvalidInput`] for an inconsistent feature
    /// set; [`fullauth_api::StoreError::Unavailable`] when the file cannot be
    /// opened or is locked.
    pub async fn open(path: impl AsRef<Path>, options: SqliteOptions) -> StoreResult<Self> {
        Self::open_at(path.as_ref().to_path_buf(), false, options).await
    }

    /// Opens a new database file with a unique name in the system temp
    /// directory, deleted (with its WAL files) when the last clone of the
    /// store and its transactions are dropped. Every call gives an isolated
    /// database: this is what tests use.
    ///
    /// # Errors
    /// As [`open`](Self::open).
    pub async fn open_temporary(options: SqliteOptions) -> StoreResult<Self> {
        let path =
            std::env::temp_dir().join(format!("fullauth-{}.db", uuid::Uuid::new_v4().simple()));
        Self::open_at(path, true, options).await
    }

    async fn open_at(path: PathBuf, temporary: bool, options: SqliteOptions) -> StoreResult<Self> {
        options.features.validate()?;
        let shared = Shared::open(
            path,
            temporary,
            options.features,
            options.clock,
            options.readers,
            options.busy_timeout,
        )
        .await?;
        Ok(SqliteStore {
            handle: Handle::new(shared),
        })
    }

    /// The migrator of this database.
    pub fn migrator(&self) -> Migrator {
        Migrator::new(self.handle.clone())
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.handle.shared.path
    }

    /// The store's clock.
    pub fn clock(&self) -> &Clock {
        &self.handle.shared.clock
    }

    /// Deletes the expired rows of the short-lived tables now (they are
    /// invisible anyway, and purged every few hundred writes) and returns how
    /// many.
    ///
    /// # Errors
    /// Backend errors.
    pub async fn purge_expired(&self) -> StoreResult<u64> {
        let now = self.handle.now();
        let features = self.handle.shared.features;
        self.handle
            .write(move |c| ephemeral::purge(c, features, now))
            .await
    }

    /// Runs `f` on the writer connection, on its thread: an escape
    /// hatch for the app's own statements on the same database (its own
    /// migrations, reports). Not inside any transaction of the store.
    ///
    /// # Errors
    /// [`fullauth_api::StoreError::Unavailable`] when the writer stays busy;
    /// whatever `f` returns.
    pub async fn with_connection<T, F>(&self, f: F) -> StoreResult<T>
    where
        F: FnOnce(&rusqlite::Connection) -> rusqlite::Result<T> + Send + 'static,
        T: Send + 'static,
    {
        use crate::codec::Db as _;
        let shared = self.handle.shared.clone();
        self.handle
            .write(move |c| {
                let out = f(c).db();
                // The app may have altered fullauth_users.
                shared.refresh_user_columns(c)?;
                out
            })
            .await
    }
}

/// An open transaction of a [`SqliteStore`]: the durable traits on the
/// writer connection, between `BEGIN IMMEDIATE` and `COMMIT`.
///
/// Reads see the transaction's own writes; other handles see none of them
/// until [`commit`](Transaction::commit). A failed call undoes only itself
/// and the transaction stays usable: methods of several statements
/// (`link_oauth_account`, `rotate_refresh_token`, `assign_role`, …) run in a
/// savepoint, and a single statement that fails (a duplicate email in
/// `create_user`) is undone alone by SQLite's statement rollback. Dropping the handle without committing rolls
/// back. While it is open it holds the store's writer: other writes of the
/// store wait for it (up to the busy timeout).
pub struct SqliteTransaction {
    handle: Handle,
}

impl std::fmt::Debug for SqliteTransaction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteTransaction")
            .field("path", &self.handle.shared.path)
            .finish()
    }
}

/// Runs a store operation inside a tracing span naming the backend and the
/// operation.
macro_rules! op {
    ($name:literal, $fut:expr) => {
        $fut.instrument(tracing::debug_span!(
            "fullauth.store",
            backend = "sqlite",
            op = $name
        ))
        .await
    };
}

/// Implements the durable traits for a type with a `handle` field.
macro_rules! impl_durable {
    ($ty:ty) => {
        #[async_trait]
        impl UserStore for $ty {
            async fn create_user(&self, new: NewUser) -> StoreResult<User> {
                op!("create_user", users::create_user(&self.handle, new))
            }
            async fn get_user(&self, id: &UserId) -> StoreResult<Option<User>> {
                op!("get_user", users::get_user(&self.handle, id))
            }
            async fn get_user_by_email(&self, email: &Email) -> StoreResult<Option<User>> {
                op!(
                    "get_user_by_email",
                    users::get_user_by_email(&self.handle, email)
                )
            }
            async fn get_user_by_field(&self, lookup: &UserLookup) -> StoreResult<Option<User>> {
                op!(
                    "get_user_by_field",
                    users::get_user_by_field(&self.handle, lookup)
                )
            }
            async fn update_user(&self, id: &UserId, patch: UserPatch) -> StoreResult<User> {
                op!("update_user", users::update_user(&self.handle, id, patch))
            }
            async fn delete_user(&self, id: &UserId) -> StoreResult<bool> {
                op!("delete_user", users::delete_user(&self.handle, id))
            }
            async fn get_password_hash(&self, id: &UserId) -> StoreResult<Option<HashedPassword>> {
                op!(
                    "get_password_hash",
                    users::get_password_hash(&self.handle, id)
                )
            }
            async fn set_password_hash(
                &self,
                id: &UserId,
                hash: Option<HashedPassword>,
            ) -> StoreResult<()> {
                op!(
                    "set_password_hash",
                    users::set_password_hash(&self.handle, id, hash)
                )
            }
            async fn mark_verified(&self, id: &UserId) -> StoreResult<()> {
                op!("mark_verified", users::mark_verified(&self.handle, id))
            }
        }

        #[async_trait]
        impl RefreshTokenStore for $ty {
            async fn store_refresh_token(&self, new: NewRefreshToken) -> StoreResult<RefreshToken> {
                op!(
                    "store_refresh_token",
                    tokens::store_refresh_token(&self.handle, new)
                )
            }
            async fn get_refresh_token(
                &self,
                digest: &TokenDigest,
            ) -> StoreResult<Option<RefreshToken>> {
                op!(
                    "get_refresh_token",
                    tokens::get_refresh_token(&self.handle, digest)
                )
            }
            async fn revoke_refresh_token(&self, digest: &TokenDigest) -> StoreResult<bool> {
                op!(
                    "revoke_refresh_token",
                    tokens::revoke_refresh_token(&self.handle, digest)
                )
            }
            async fn rotate_refresh_token(
                &self,
                old: &TokenDigest,
                next: NextRefreshToken,
            ) -> StoreResult<Rotation> {
                op!(
                    "rotate_refresh_token",
                    tokens::rotate_refresh_token(&self.handle, old, next)
                )
            }
            async fn revoke_family(&self, family_id: &FamilyId) -> StoreResult<u64> {
                op!(
                    "revoke_family",
                    tokens::revoke_family(&self.handle, family_id)
                )
            }
            async fn revoke_all_for_user(&self, user_id: &UserId) -> StoreResult<u64> {
                op!(
                    "revoke_all_for_user",
                    tokens::revoke_all_for_user(&self.handle, user_id)
                )
            }
            async fn prune_expired_refresh_tokens(&self, before: Timestamp) -> StoreResult<u64> {
                op!(
                    "prune_expired_refresh_tokens",
                    tokens::prune_expired_refresh_tokens(&self.handle, before)
                )
            }
            async fn list_sessions(&self, user_id: &UserId) -> StoreResult<Vec<Session>> {
                op!(
                    "list_sessions",
                    tokens::list_sessions(&self.handle, user_id)
                )
            }
            async fn revoke_session(
                &self,
                user_id: &UserId,
                family_id: &FamilyId,
            ) -> StoreResult<bool> {
                op!(
                    "revoke_session",
                    tokens::revoke_session(&self.handle, user_id, family_id)
                )
            }
            async fn revoke_other_sessions(
                &self,
                user_id: &UserId,
                keep: &FamilyId,
            ) -> StoreResult<u64> {
                op!(
                    "revoke_other_sessions",
                    tokens::revoke_other_sessions(&self.handle, user_id, keep)
                )
            }
        }

        #[async_trait]
        impl RoleStore for $ty {
            async fn create_role(&self, role: &RoleName) -> StoreResult<bool> {
                op!("create_role", roles::create_role(&self.handle, role))
            }
            async fn assign_role(&self, user_id: &UserId, role: &RoleName) -> StoreResult<bool> {
                op!(
                    "assign_role",
                    roles::assign_role(&self.handle, user_id, role)
                )
            }
            async fn remove_role(&self, user_id: &UserId, role: &RoleName) -> StoreResult<bool> {
                op!(
                    "remove_role",
                    roles::remove_role(&self.handle, user_id, role)
                )
            }
            async fn get_user_roles(&self, user_id: &UserId) -> StoreResult<Vec<RoleName>> {
                op!(
                    "get_user_roles",
                    roles::get_user_roles(&self.handle, user_id)
                )
            }
            async fn list_roles(&self) -> StoreResult<Vec<RoleName>> {
                op!("list_roles", roles::list_roles(&self.handle))
            }
            async fn delete_role(&self, role: &RoleName) -> StoreResult<bool> {
                op!("delete_role", roles::delete_role(&self.handle, role))
            }
        }

        #[async_trait]
        impl PermissionStore for $ty {
            async fn assign_permission(
                &self,
                role: &RoleName,
                permission: &PermissionName,
            ) -> StoreResult<bool> {
                op!(
                    "assign_permission",
                    permissions::assign_permission(&self.handle, role, permission)
                )
            }
            async fn remove_permission(
                &self,
                role: &RoleName,
                permission: &PermissionName,
            ) -> StoreResult<bool> {
                op!(
                    "remove_permission",
                    permissions::remove_permission(&self.handle, role, permission)
                )
            }
            async fn get_role_permissions(
                &self,
                role: &RoleName,
            ) -> StoreResult<Vec<PermissionName>> {
                op!(
                    "get_role_permissions",
                    permissions::get_role_permissions(&self.handle, role)
                )
            }
            async fn get_permissions_for_roles(
                &self,
                roles: &[RoleName],
            ) -> StoreResult<Vec<PermissionName>> {
                op!(
                    "get_permissions_for_roles",
                    permissions::get_permissions_for_roles(&self.handle, roles)
                )
            }
            async fn get_user_permissions(
                &self,
                user_id: &UserId,
            ) -> StoreResult<Vec<PermissionName>> {
                op!(
                    "get_user_permissions",
                    permissions::get_user_permissions(&self.handle, user_id)
                )
            }
            async fn list_permissions(&self) -> StoreResult<Vec<PermissionName>> {
                op!(
                    "list_permissions",
                    permissions::list_permissions(&self.handle)
                )
            }
        }

        #[async_trait]
        impl OAuthStore for $ty {
            async fn get_oauth_account(
                &self,
                provider: &ProviderName,
                provider_user_id: &ProviderUserId,
            ) -> StoreResult<Option<OAuthAccount>> {
                op!(
                    "get_oauth_account",
                    oauth::get_oauth_account(&self.handle, provider, provider_user_id)
                )
            }
            async fn list_oauth_accounts(
                &self,
                user_id: &UserId,
            ) -> StoreResult<Vec<OAuthAccount>> {
                op!(
                    "list_oauth_accounts",
                    oauth::list_oauth_accounts(&self.handle, user_id)
                )
            }
            async fn link_oauth_account(&self, new: NewOAuthAccount) -> StoreResult<OAuthLink> {
                op!(
                    "link_oauth_account",
                    oauth::link_oauth_account(&self.handle, new)
                )
            }
            async fn update_oauth_account(
                &self,
                provider: &ProviderName,
                provider_user_id: &ProviderUserId,
                patch: OAuthAccountPatch,
            ) -> StoreResult<Option<OAuthAccount>> {
                op!(
                    "update_oauth_account",
                    oauth::update_oauth_account(&self.handle, provider, provider_user_id, patch)
                )
            }
            async fn delete_oauth_account(
                &self,
                provider: &ProviderName,
                provider_user_id: &ProviderUserId,
            ) -> StoreResult<bool> {
                op!(
                    "delete_oauth_account",
                    oauth::delete_oauth_account(&self.handle, provider, provider_user_id)
                )
            }
        }

        #[async_trait]
        impl PasskeyStore for $ty {
            async fn get_passkey(
                &self,
                credential_id: &CredentialId,
            ) -> StoreResult<Option<Passkey>> {
                op!(
                    "get_passkey",
                    passkeys::get_passkey(&self.handle, credential_id)
                )
            }
            async fn list_passkeys(&self, user_id: &UserId) -> StoreResult<Vec<Passkey>> {
                op!(
                    "list_passkeys",
                    passkeys::list_passkeys(&self.handle, user_id)
                )
            }
            async fn store_passkey(&self, new: NewPasskey) -> StoreResult<Passkey> {
                op!("store_passkey", passkeys::store_passkey(&self.handle, new))
            }
            async fn update_sign_count(
                &self,
                credential_id: &CredentialId,
                new_count: u32,
            ) -> StoreResult<bool> {
                op!(
                    "update_sign_count",
                    passkeys::update_sign_count(&self.handle, credential_id, new_count)
                )
            }
            async fn rename_passkey(
                &self,
                user_id: &UserId,
                passkey_id: uuid::Uuid,
                name: &DeviceName,
            ) -> StoreResult<bool> {
                op!(
                    "rename_passkey",
                    passkeys::rename_passkey(&self.handle, user_id, passkey_id, name)
                )
            }
            async fn delete_passkey(
                &self,
                user_id: &UserId,
                passkey_id: uuid::Uuid,
            ) -> StoreResult<bool> {
                op!(
                    "delete_passkey",
                    passkeys::delete_passkey(&self.handle, user_id, passkey_id)
                )
            }
        }

        #[async_trait]
        impl MfaStore for $ty {
            async fn get_mfa(&self, user_id: &UserId) -> StoreResult<Option<MfaFactor>> {
                op!("get_mfa", mfa::get_mfa(&self.handle, user_id))
            }
            async fn store_mfa(
                &self,
                user_id: &UserId,
                secret: &MfaSecret,
            ) -> StoreResult<MfaFactor> {
                op!("store_mfa", mfa::store_mfa(&self.handle, user_id, secret))
            }
            async fn confirm_mfa(
                &self,
                user_id: &UserId,
                recovery_codes: &[TokenDigest],
            ) -> StoreResult<bool> {
                op!(
                    "confirm_mfa",
                    mfa::confirm_mfa(&self.handle, user_id, recovery_codes)
                )
            }
            async fn delete_mfa(&self, user_id: &UserId) -> StoreResult<bool> {
                op!("delete_mfa", mfa::delete_mfa(&self.handle, user_id))
            }
            async fn advance_mfa_counter(
                &self,
                user_id: &UserId,
                counter: u32,
            ) -> StoreResult<bool> {
                op!(
                    "advance_mfa_counter",
                    mfa::advance_mfa_counter(&self.handle, user_id, counter)
                )
            }
            async fn consume_recovery_code(
                &self,
                user_id: &UserId,
                code: &TokenDigest,
            ) -> StoreResult<bool> {
                op!(
                    "consume_recovery_code",
                    mfa::consume_recovery_code(&self.handle, user_id, code)
                )
            }
        }
    };
}

impl_durable!(SqliteStore);
impl_durable!(SqliteTransaction);

#[async_trait]
impl DurableStore for SqliteStore {
    fn features(&self) -> Features {
        self.handle.shared.features
    }

    fn backend_name(&self) -> &'static str {
        "sqlite"
    }

    async fn begin(&self) -> StoreResult<Box<dyn Transaction>> {
        self.handle.require(fullauth_api::Feature::Core)?;
        let handle = op!("begin", self.handle.begin())?;
        Ok(Box::new(SqliteTransaction { handle }))
    }
}

#[async_trait]
impl DurableStore for SqliteTransaction {
    fn features(&self) -> Features {
        self.handle.shared.features
    }

    fn backend_name(&self) -> &'static str {
        "sqlite"
    }

    /// Always [`fullauth_api::StoreError::TransactionNesting`].
    async fn begin(&self) -> StoreResult<Box<dyn Transaction>> {
        Err(fullauth_api::StoreError::TransactionNesting)
    }
}

#[async_trait]
impl Transaction for SqliteTransaction {
    async fn commit(self: Box<Self>) -> StoreResult<()> {
        op!("commit", self.handle.finish(true))
    }

    async fn rollback(self: Box<Self>) -> StoreResult<()> {
        op!("rollback", self.handle.finish(false))
    }
}

#[async_trait]
impl BlacklistStore for SqliteStore {
    async fn blacklist(&self, key: &StateKey, ttl: Duration) -> StoreResult<()> {
        op!("blacklist", blacklist::blacklist(&self.handle, key, ttl))
    }
    async fn is_blacklisted(&self, key: &StateKey) -> StoreResult<bool> {
        op!(
            "is_blacklisted",
            blacklist::is_blacklisted(&self.handle, key)
        )
    }
    async fn any_blacklisted(&self, keys: &[StateKey]) -> StoreResult<bool> {
        op!(
            "any_blacklisted",
            blacklist::any_blacklisted(&self.handle, keys)
        )
    }
}

#[async_trait]
impl LockoutStore for SqliteStore {
    async fn record_failure(
        &self,
        key: &StateKey,
        policy: LockoutPolicy,
    ) -> StoreResult<LockoutOutcome> {
        op!(
            "record_failure",
            lockout::record_failure(&self.handle, key, policy)
        )
    }
    async fn is_locked(&self, key: &StateKey) -> StoreResult<bool> {
        op!("is_locked", lockout::is_locked(&self.handle, key))
    }
    async fn clear_lockout(&self, key: &StateKey) -> StoreResult<()> {
        op!("clear_lockout", lockout::clear_lockout(&self.handle, key))
    }
}

#[async_trait]
impl RateLimitStore for SqliteStore {
    async fn hit(&self, key: &StateKey, policy: RateLimitPolicy) -> StoreResult<RateLimitDecision> {
        op!("hit", rate_limit::hit(&self.handle, key, policy))
    }
    async fn reset_rate_limit(&self, key: &StateKey) -> StoreResult<()> {
        op!(
            "reset_rate_limit",
            rate_limit::reset_rate_limit(&self.handle, key)
        )
    }
}

#[async_trait]
impl ChallengeStore for SqliteStore {
    async fn put_challenge(&self, key: &StateKey, value: &Text, ttl: Duration) -> StoreResult<()> {
        op!(
            "put_challenge",
            challenges::put_challenge(&self.handle, key, value, ttl)
        )
    }
    async fn take_challenge(&self, key: &StateKey) -> StoreResult<Option<Text>> {
        op!(
            "take_challenge",
            challenges::take_challenge(&self.handle, key)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn opens_migrates_and_serves() {
        let store = SqliteStore::open_temporary(SqliteOptions::new())
            .await
            .unwrap();
        let applied = store.migrator().apply(Features::all()).await.unwrap();
        assert_eq!(applied.len(), 13);
        let u = store
            .create_user(NewUser::new("a@b.c").unwrap())
            .await
            .unwrap();
        assert_eq!(store.get_user(&u.id).await.unwrap(), Some(u));
    }
}
