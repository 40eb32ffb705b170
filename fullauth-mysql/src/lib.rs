#![doc = include_str!("../README.md")]
#![cfg_attr(docsrs, feature(doc_cfg))]
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub use sqlx;

mod blacklist;
mod challenges;
mod columns;
mod ctx;
mod error;
mod handle;
mod keys;
mod lockout;
mod mfa;
pub mod migrate;
mod migrations;
mod oauth;
mod passkeys;
mod permissions;
mod rate_limit;
mod roles;
mod tokens;
mod users;

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use fullauth_api::backend::Backend;
use fullauth_api::{
    Clock, DurableStore, Feature, Features, StoreError, StoreInfo, StoreResult, Transaction,
    UserIdType,
};
use sqlx::MySqlPool;
use sqlx::mysql::{MySqlConnectOptions, MySqlPoolOptions};
use tokio::sync::Mutex;

use crate::ctx::{Ctx, check_database_name};
use crate::error::{Retry, map_sqlx};
use crate::handle::{ConnRef, Handle, TxSlot, run};

pub use crate::migrate::{MySqlMigrations, MySqlMigrator};
pub use crate::migrations::MIGRATIONS;
pub use fullauth_api::migrate::{
    AdoptReport, AppliedMigration, FeatureState, FeatureStatus, Migration, MigrationStatus,
    SqlMigrator,
};

/// The backend name in [`StoreInfo::backend_name`], logs and error contexts.
const BACKEND: &str = "mysql";

/// Settings of a [`MySqlStore`]; start from [`MySqlStore::builder`], finish with
/// [`connect`](MySqlStoreBuilder::connect) (a pool of the store's own) or
/// [`from_pool`](MySqlStoreBuilder::from_pool) (the app's pool).
#[derive(Clone, Debug)]
pub struct MySqlStoreBuilder {
    database: Option<String>,
    features: Features,
    clock: Clock,
    max_connections: u32,
    acquire_timeout: Duration,
    connect_timeout: Duration,
    migrate: bool,
    user_id_type: Option<UserIdType>,
}

impl Default for MySqlStoreBuilder {
    fn default() -> Self {
        MySqlStoreBuilder {
            database: None,
            features: Features::all(),
            clock: Clock::system(),
            max_connections: 10,
            acquire_timeout: Duration::from_secs(5),
            connect_timeout: Duration::from_secs(5),
            migrate: false,
            user_id_type: None,
        }
    }
}

impl MySqlStoreBuilder {
    /// The database that holds the tables (MariaDB's schema; default: the
    /// database the URL or the pool's options name). Quoted in every
    /// statement, so any name MariaDB accepts works.
    pub fn database(mut self, database: impl Into<String>) -> Self {
        self.database = Some(database.into());
        self
    }

    /// The features to serve (default: all). Methods of other features
    /// answer [`StoreError::FeatureDisabled`].
    pub fn features(mut self, features: Features) -> Self {
        self.features = features;
        self
    }

    /// The clock "now" is read from (default: the system clock).
    pub fn clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
    }

    /// The pool size when the store builds its own pool (default 10).
    pub fn max_connections(mut self, n: u32) -> Self {
        self.max_connections = n.max(1);
        self
    }

    /// How long an operation waits for a pooled connection before failing
    /// with [`StoreError::Unavailable`] (default 5 s), when the store builds
    /// its own pool.
    pub fn acquire_timeout(mut self, timeout: Duration) -> Self {
        self.acquire_timeout = timeout;
        self
    }

    /// How long opening a connection may take (default 5 s).
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// Apply the pending migrations of the features in
    /// [`connect`](Self::connect) (default false: run [`MySqlStore::migrate`]
    /// or the [`MySqlMigrator`] yourself). [`from_pool`](Self::from_pool) does
    /// no I/O and refuses this setting: call [`MySqlStore::migrate`] after it.
    pub fn migrate(mut self, yes: bool) -> Self {
        self.migrate = yes;
        self
    }

    /// How the database keys its users ([`UserIdType`]): UUID (the
    /// default of fastapi-fullauth) or integer (an app declared with
    /// `UserSchema[int]`: `id INTEGER NOT NULL AUTO_INCREMENT`, every
    /// `user_id INTEGER`). The store's [`StoreInfo::user_id_type`] then
    /// answers `t`, every user id it returns has that type, an id of another
    /// type is refused with [`StoreError::InvalidInput`], new integer ids
    /// come from the `AUTO_INCREMENT` column, and its migrations create the
    /// key columns of that type.
    ///
    /// Text keys are refused ([`StoreError::InvalidInput`], field
    /// `user_id_type`, by [`connect`](Self::connect) and
    /// [`from_pool`](Self::from_pool)): fastapi-fullauth cannot create a
    /// text-keyed database on MariaDB (SQLAlchemy's `String` without a
    /// length: "VARCHAR requires a length on dialect mysql").
    ///
    /// Unset, [`connect`](Self::connect) takes the key type of the
    /// database it opens (read from the catalog: the type of
    /// `fullauth_users.id`, integer for `int(11)`; UUID when there is no
    /// such table yet), and [`from_pool`](Self::from_pool), which does no
    /// I/O, takes UUID. Set, a database whose `fullauth_users.id` holds
    /// keys of another type is refused, naming both types
    /// ([`fullauth_api::sql::check_user_key`]): by `connect`, or by the
    /// first operation on users of a store from `from_pool`.
    ///
    /// ```no_run
    /// # async fn demo() -> Result<(), fullauth_api::StoreError> {
    /// use fullauth_api::{NewUser, StoreInfo, UserIdType, UserStore};
    /// use fullauth_mysql::MySqlStore;
    ///
    /// // The database of a Python app declared with UserSchema[int].
    /// let store = MySqlStore::builder()
    ///     .user_id_type(UserIdType::Int)
    ///     .connect("mysql://app@db.internal/app")
    ///     .await?;
    /// let user = store.create_user(NewUser::new("ada@example.com")?).await?;
    /// assert_eq!(user.id.id_type(), UserIdType::Int); // numbered by AUTO_INCREMENT
    /// let sub = user.id.to_string(); // the JWT `sub`, as Python's str(id)
    /// assert_eq!(store.user_id_type().parse(&sub)?, user.id);
    /// # Ok(()) }
    /// ```
    pub fn user_id_type(mut self, t: UserIdType) -> Self {
        self.user_id_type = Some(t);
        self
    }

    /// Builds a pool for `url` and the store on it, and applies the
    /// migrations if asked. The pool does not ping a connection before each
    /// use (that would double the round trips of every operation); dead
    /// connections are handled by retrying safe operations once.
    ///
    /// # Errors
    /// [`StoreError::InvalidInput`] for a malformed URL, a URL without a
    /// database (and none given to [`database`](Self::database)), an invalid
    /// database name or feature set, text user keys
    /// ([`user_id_type`](Self::user_id_type)); [`StoreError::Unavailable`]
    /// when the server cannot be reached; [`StoreError::Backend`] when the
    /// database keys its users by another type than the one set with
    /// [`user_id_type`](Self::user_id_type), or by text
    /// ([`fullauth_api::sql::check_user_key`]).
    pub async fn connect(self, url: &str) -> StoreResult<MySqlStore> {
        let options = MySqlConnectOptions::from_str(url)
            .map_err(|e| StoreError::invalid("url", e.to_string()))?
            .charset("utf8mb4")
            .statement_cache_capacity(256);
        let database = self.resolve(options.get_database())?;
        let pool = MySqlPoolOptions::new()
            .max_connections(self.max_connections)
            .acquire_timeout(self.acquire_timeout)
            .test_before_acquire(false)
            .connect_with(options)
            .await
            .map_err(map_sqlx)?;
        let migrate = self.migrate;
        let configured = self.user_id_type;
        // The users' columns and key type now: a database of another key
        // type than the one set (or of text keys) is refused here, at open.
        let probe = self.clone().build(
            database.clone(),
            pool.clone(),
            configured.unwrap_or_default(),
        );
        let found = probe.read_user_catalog().await?;
        let key = match (configured, found.as_ref().and_then(|f| f.key.as_ref())) {
            (Some(t), Some((f, column_type))) => {
                fullauth_api::sql::check_user_key(t, *f, column_type)?;
                t
            }
            (None, Some((UserIdType::Text, column_type))) => {
                let refused = fullauth_api::sql::check_user_key(
                    UserIdType::Uuid,
                    UserIdType::Text,
                    column_type,
                );
                return Err(refused.err().unwrap_or_else(text_keys_refused));
            }
            (Some(t), None) => t,
            (None, Some((f, _))) => *f,
            (None, None) => UserIdType::default(),
        };
        let store = self.build(database, pool, key);
        if migrate {
            store.migrate().await?;
        } else if let Some(found) = found {
            store.ctx.columns.set(Some(found.columns));
        }
        Ok(store)
    }

    /// The store on an existing pool (the app's own). No I/O: the user
    /// columns are discovered by the first operation on users, and an
    /// unreachable server is reported by the first operation. The key type
    /// of the users is the one set with
    /// [`user_id_type`](Self::user_id_type), UUID when unset; the first
    /// operation on users refuses a database of another key type
    /// ([`StoreError::Backend`], [`fullauth_api::sql::check_user_key`]).
    ///
    /// # Errors
    /// [`StoreError::InvalidInput`] when neither the builder nor the pool's
    /// options name a database, for an invalid database name or feature
    /// set, text user keys ([`user_id_type`](Self::user_id_type)), or when
    /// [`migrate(true)`](Self::migrate) was asked for (call
    /// [`MySqlStore::migrate`] instead).
    pub fn from_pool(self, pool: MySqlPool) -> StoreResult<MySqlStore> {
        let database = self.resolve(pool.connect_options().get_database())?;
        if self.migrate {
            return Err(StoreError::invalid(
                "migrate",
                "from_pool does no I/O and cannot migrate: call MySqlStore::migrate() on the store \
                 it returns (or use connect)",
            ));
        }
        let key = self.user_id_type.unwrap_or_default();
        Ok(self.build(database, pool, key))
    }

    /// The database of the tables: the builder's, else the connection's;
    /// checked, as the feature set.
    fn resolve(&self, from_options: Option<&str>) -> StoreResult<String> {
        let database = match (&self.database, from_options) {
            (Some(d), _) => d.clone(),
            (None, Some(d)) => d.to_string(),
            (None, None) => {
                return Err(StoreError::invalid(
                    "database",
                    "the URL names no database (mysql://user@host/DATABASE) and none was given \
                     to MySqlStoreBuilder::database",
                ));
            }
        };
        check_database_name(&database)?;
        self.features.validate()?;
        if self.user_id_type == Some(UserIdType::Text) {
            return Err(text_keys_refused());
        }
        Ok(database)
    }

    fn build(self, database: String, pool: MySqlPool, key: UserIdType) -> MySqlStore {
        MySqlStore {
            ctx: Arc::new(Ctx::new(database, self.clock, self.features, key)),
            pool,
        }
    }
}

/// The refusal of text user keys ([`MySqlStoreBuilder::user_id_type`]).
pub(crate) fn text_keys_refused() -> StoreError {
    StoreError::invalid(
        "user_id_type",
        "the MariaDB store serves UUID and integer user ids, not text: fastapi-fullauth cannot \
         create a text-keyed database on MariaDB (its UserSchema[str] models declare the key as \
         a String without a length, and SQLAlchemy refuses it: \"VARCHAR requires a length on \
         dialect mysql\")",
    )
}

/// Every fullauth store on one MariaDB database. Cheap to clone (a pool
/// handle and shared settings). See [the crate docs](crate#constructors)
/// for the constructors.
#[derive(Clone)]
pub struct MySqlStore {
    ctx: Arc<Ctx>,
    pool: MySqlPool,
}

impl std::fmt::Debug for MySqlStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MySqlStore")
            .field("database", &self.ctx.database)
            .field("features", &self.ctx.features)
            .field("user_id_type", &self.ctx.key)
            .field("clock", &self.ctx.clock)
            .finish()
    }
}

impl MySqlStore {
    /// The default settings, to adjust and then
    /// [`connect`](MySqlStoreBuilder::connect) or
    /// [`from_pool`](MySqlStoreBuilder::from_pool).
    pub fn builder() -> MySqlStoreBuilder {
        MySqlStoreBuilder::default()
    }

    /// Connects with the default settings (the URL's database, every
    /// feature, the system clock, no migration).
    ///
    /// # Errors
    /// As [`MySqlStoreBuilder::connect`].
    pub async fn connect(url: &str) -> StoreResult<MySqlStore> {
        Self::builder().connect(url).await
    }

    /// The store on the app's pool with the default settings (the pool's
    /// database, every feature, the system clock). No I/O.
    ///
    /// # Errors
    /// [`StoreError::InvalidInput`] when the pool's options name no
    /// database (use [`MySqlStoreBuilder::database`]).
    pub fn from_pool(pool: MySqlPool) -> StoreResult<MySqlStore> {
        Self::builder().from_pool(pool)
    }

    /// The pool.
    pub fn pool(&self) -> &MySqlPool {
        &self.pool
    }

    /// The database of the tables.
    pub fn database(&self) -> &str {
        &self.ctx.database
    }

    /// The store's clock.
    pub fn clock(&self) -> &Clock {
        &self.ctx.clock
    }

    /// The migrator of this store's database on its pool
    /// ([`fullauth_api::migrate::SqlMigrator`]).
    pub fn migrator(&self) -> MySqlMigrator {
        MySqlMigrator::from_parts(self.pool.clone(), self.migrations())
    }

    /// The migrations of this store's database, for the app's own connection
    /// or transaction ([`MySqlMigrations::apply`]) and the exports.
    pub fn migrations(&self) -> MySqlMigrations {
        MySqlMigrations::from_checked(
            &self.ctx.database,
            self.ctx.texts.quoted_schema(),
            self.ctx.key,
        )
    }

    /// Applies the pending migrations of the store's features and refreshes
    /// the user columns. Returns the ids applied.
    ///
    /// # Errors
    /// As [`MySqlMigrator::apply`].
    pub async fn migrate(&self) -> StoreResult<Vec<String>> {
        let applied = self.migrator().apply(self.ctx.features).await?;
        self.refresh_user_columns().await?;
        Ok(applied)
    }

    /// Reads the application's columns of `fullauth_users` from the catalog
    /// again (after the app's own migration added one). `connect` reads
    /// them once already.
    ///
    /// # Errors
    /// [`StoreError::Unavailable`] when the server cannot be reached;
    /// [`StoreError::Backend`] when `fullauth_users.id` holds keys of
    /// another type than the store's ([`fullauth_api::sql::check_user_key`]).
    pub async fn refresh_user_columns(&self) -> StoreResult<()> {
        let h = self.handle();
        run!(h, Retry::Idempotent, atomic = false, |c| async move {
            columns::refresh(c, h.ctx).await.map(drop)
        })
    }

    /// What the catalog says of `fullauth_users` (its key type and the
    /// application's columns), without judging the key type; `None` when
    /// the table does not exist yet.
    async fn read_user_catalog(&self) -> StoreResult<Option<columns::Discovered>> {
        let h = self.handle();
        run!(h, Retry::Idempotent, atomic = false, |c| async move {
            columns::read_catalog(c, &h.ctx.database).await
        })
    }

    /// Names of the application's columns of `fullauth_users`, as last
    /// discovered (by `connect`, else by the first operation on users; see
    /// [`refresh_user_columns`](Self::refresh_user_columns)).
    pub fn user_columns(&self) -> Vec<String> {
        self.ctx
            .columns
            .get()
            .map(|cols| cols.extras.iter().map(|c| c.name.clone()).collect())
            .unwrap_or_default()
    }

    /// Deletes the expired rows of the short-lived tables the store serves
    /// (expired entries are never visible, but they take space until
    /// removed). Returns how many rows were deleted. Run it periodically.
    ///
    /// # Errors
    /// [`StoreError::Unavailable`] when the server cannot be reached.
    pub async fn purge_expired(&self) -> StoreResult<u64> {
        let h = self.handle();
        let mut total = 0;
        // (feature, statement, how many times it binds "now")
        let statements: [(Feature, &'static str, usize); 4] = [
            (
                Feature::Blacklist,
                "DELETE FROM {s}.fullauth_blacklist WHERE expires_at <= ?",
                1,
            ),
            (
                Feature::Challenges,
                "DELETE FROM {s}.fullauth_challenges WHERE expires_at <= ?",
                1,
            ),
            (
                Feature::Lockout,
                "DELETE FROM {s}.fullauth_lockouts WHERE (locked_until IS NULL OR locked_until <= ?) \
                 AND last_failure_at <= ? - INTERVAL 1 DAY",
                2,
            ),
            (
                Feature::RateLimit,
                "DELETE FROM {s}.fullauth_rate_limits WHERE updated_at <= ? - INTERVAL 1 DAY",
                1,
            ),
        ];
        for (feature, sql, binds) in statements {
            if !self.ctx.features.contains(feature) {
                continue;
            }
            let now = h.ctx.now().to_datetime();
            total += run!(h, Retry::Idempotent, atomic = false, |c| async move {
                let mut q = sqlx::query(h.ctx.sql(sql));
                for _ in 0..binds {
                    q = q.bind(now);
                }
                Ok(q.execute(c).await?.rows_affected())
            })
            .map_err(|e| e.with_context(BACKEND, "purge_expired"))?;
        }
        Ok(total)
    }

    fn handle(&self) -> Handle<'_> {
        Handle {
            ctx: &self.ctx,
            conn: ConnRef::Pool(&self.pool),
        }
    }
}

/// An open transaction of a [`MySqlStore`]: the same durable traits, on one
/// connection, committed or rolled back together. Dropping it without
/// [`Transaction::commit`] rolls back. A conflict or missing user on a
/// write inside it is undone by a savepoint and leaves the rest usable; any
/// other failure of a statement ends it (MariaDB aborts the transaction):
/// later calls answer [`StoreError::TransactionFinished`].
pub struct MySqlTransaction {
    ctx: Arc<Ctx>,
    tx: TxSlot,
}

impl std::fmt::Debug for MySqlTransaction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MySqlTransaction")
            .field("database", &self.ctx.database)
            .finish()
    }
}

impl MySqlTransaction {
    fn handle(&self) -> Handle<'_> {
        Handle {
            ctx: &self.ctx,
            conn: ConnRef::Tx(&self.tx),
        }
    }

    /// Takes the open transaction out of its slot (it ends either way).
    async fn finish(&self) -> StoreResult<sqlx::Transaction<'static, sqlx::MySql>> {
        self.tx.lock().await.take().ok_or_else(handle::finished)
    }
}

impl StoreInfo for MySqlStore {
    fn features(&self) -> Features {
        self.ctx.features
    }

    fn backend_name(&self) -> &'static str {
        BACKEND
    }

    /// The key type set with [`MySqlStoreBuilder::user_id_type`], else the
    /// database's as [`MySqlStoreBuilder::connect`] found it (UUID for a
    /// store from [`MySqlStoreBuilder::from_pool`]).
    fn user_id_type(&self) -> UserIdType {
        self.ctx.key
    }
}

impl StoreInfo for MySqlTransaction {
    fn features(&self) -> Features {
        self.ctx.features
    }

    fn backend_name(&self) -> &'static str {
        BACKEND
    }

    /// The key type of the store that began the transaction.
    fn user_id_type(&self) -> UserIdType {
        self.ctx.key
    }
}

impl Backend for MySqlStore {
    type Ops<'a> = Handle<'a>;

    fn ops(&self) -> Handle<'_> {
        self.handle()
    }
}

impl Backend for MySqlTransaction {
    type Ops<'a> = Handle<'a>;

    fn ops(&self) -> Handle<'_> {
        self.handle()
    }
}

fullauth_api::backend_impls!(MySqlStore: durable, short_lived);
fullauth_api::backend_impls!(MySqlTransaction: durable);

#[fullauth_api::async_trait]
impl DurableStore for MySqlStore {
    async fn begin(&self) -> StoreResult<Box<dyn Transaction>> {
        if !self.ctx.features.iter().any(|f| !f.is_short_lived()) {
            return Err(StoreError::feature_disabled(Feature::Core).with_context(BACKEND, "begin"));
        }
        let mut last = None;
        for _ in 0..2 {
            match self.pool.begin().await {
                Ok(tx) => {
                    return Ok(Box::new(MySqlTransaction {
                        ctx: self.ctx.clone(),
                        tx: Mutex::new(Some(tx)),
                    }));
                }
                // Nothing ran yet: a dead pooled connection is safe to retry.
                Err(e) if error::is_connection_error(&e) => last = Some(e),
                Err(e) => return Err(map_sqlx(e).with_context(BACKEND, "begin")),
            }
        }
        let e = last.map_or_else(handle::finished, map_sqlx);
        Err(e.with_context(BACKEND, "begin"))
    }
}

#[fullauth_api::async_trait]
impl DurableStore for MySqlTransaction {
    async fn begin(&self) -> StoreResult<Box<dyn Transaction>> {
        Err(StoreError::transaction_nesting().with_context(BACKEND, "begin"))
    }
}

#[fullauth_api::async_trait]
impl Transaction for MySqlTransaction {
    async fn commit(self: Box<Self>) -> StoreResult<()> {
        let done = match self.finish().await {
            Ok(tx) => tx.commit().await.map_err(map_sqlx),
            Err(e) => Err(e),
        };
        done.map_err(|e| e.with_context(BACKEND, "commit"))
    }

    async fn rollback(self: Box<Self>) -> StoreResult<()> {
        let done = match self.finish().await {
            Ok(tx) => tx.rollback().await.map_err(map_sqlx),
            Err(e) => Err(e),
        };
        done.map_err(|e| e.with_context(BACKEND, "rollback"))
    }
}

/// The fixed statements of two hot operations exactly as the store runs them
/// (`{s}` stands for the quoted database), so a benchmark can run the same
/// SQL straight on sqlx. Not part of the stable API.
#[doc(hidden)]
pub mod hot_sql {
    pub use crate::permissions::FOR_USER as USER_PERMISSIONS;
    pub use crate::tokens::{ROTATE, ROTATE_SUCCESSOR};
}
