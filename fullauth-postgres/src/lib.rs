#![doc = include_str!("../README.md")]
#![cfg_attr(docsrs, feature(doc_cfg))]
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub use sqlx;

mod blacklist;
mod challenges;
mod columns;
mod conns;
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
use sqlx::PgPool;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use tokio::sync::Mutex;

use crate::conns::{ConnSet, SetOptions, Source, TxConn};
use crate::ctx::{Ctx, check_schema_name};
use crate::error::{Retry, map_sqlx};
use crate::handle::{ConnRef, Handle, TxSlot, run};

pub use crate::migrate::{PgMigrations, PgMigrator};
pub use crate::migrations::MIGRATIONS;
pub use fullauth_api::migrate::{
    AdoptReport, AppliedMigration, FeatureState, FeatureStatus, Migration, MigrationStatus,
    SqlMigrator,
};

/// The backend name in [`StoreInfo::backend_name`], logs and error contexts.
const BACKEND: &str = "postgres";

/// The application name the pools this crate builds report to the server
/// (`pg_stat_activity.application_name`) unless told otherwise.
pub const DEFAULT_APPLICATION_NAME: &str = "fullauth";

/// Settings of a [`PgStore`]; start from [`PgStore::builder`], finish with
/// [`connect`](PgStoreBuilder::connect) (a pool of the store's own) or
/// [`from_pool`](PgStoreBuilder::from_pool) (the app's pool).
#[derive(Clone, Debug)]
pub struct PgStoreBuilder {
    schema: String,
    features: Features,
    clock: Clock,
    max_connections: u32,
    acquire_timeout: Duration,
    connect_timeout: Duration,
    application_name: String,
    migrate: bool,
    pooler_transaction_mode: bool,
    operation_timeout: Option<Duration>,
    user_id_type: Option<UserIdType>,
}

impl Default for PgStoreBuilder {
    fn default() -> Self {
        PgStoreBuilder {
            schema: "public".into(),
            features: Features::all(),
            clock: Clock::system(),
            max_connections: 10,
            acquire_timeout: Duration::from_secs(5),
            connect_timeout: Duration::from_secs(5),
            application_name: DEFAULT_APPLICATION_NAME.into(),
            migrate: false,
            pooler_transaction_mode: false,
            operation_timeout: None,
            user_id_type: None,
        }
    }
}

impl PgStoreBuilder {
    /// The schema that holds the tables (default `public`). Quoted in every
    /// statement, so any name PostgreSQL accepts works.
    pub fn schema(mut self, schema: impl Into<String>) -> Self {
        self.schema = schema.into();
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

    /// The `application_name` of the store's own connections (default
    /// [`DEFAULT_APPLICATION_NAME`]).
    pub fn application_name(mut self, name: impl Into<String>) -> Self {
        self.application_name = name.into();
        self
    }

    /// Apply the pending migrations of the features in
    /// [`connect`](Self::connect) (default false: run [`PgStore::migrate`]
    /// or the [`PgMigrator`] yourself). [`from_pool`](Self::from_pool) does
    /// no I/O and refuses this setting: call [`PgStore::migrate`] after it.
    pub fn migrate(mut self, yes: bool) -> Self {
        self.migrate = yes;
        self
    }

    /// Serve the store through a connection pooler in transaction mode
    /// (PgBouncer `pool_mode = transaction`, and the poolers that work like
    /// it), where consecutive transactions of one client connection may run
    /// on different server connections (default false: a direct
    /// connection, or a pooler in session mode).
    ///
    /// With it, statements are unnamed (parsed on every use instead of
    /// prepared once per connection and cached, since a named statement
    /// exists only on the server connection that prepared it), and every
    /// operation on the pool runs inside `BEGIN … COMMIT` of its own (sqlx
    /// sends a statement in two exchanges, which the pooler could route to
    /// two server connections otherwise). A one-statement operation then
    /// takes 4 round trips instead of 1. Transactions
    /// ([`DurableStore::begin`]) and the migrator work unchanged: they
    /// already run in one transaction. [`connect`](Self::connect) also
    /// turns sqlx's statement cache off; with
    /// [`from_pool`](Self::from_pool), build the app's pool with
    /// [`PgConnectOptions::statement_cache_capacity(0)`](PgConnectOptions::statement_cache_capacity)
    /// for its own queries. See the crate docs, "Behind PgBouncer".
    pub fn pooler_transaction_mode(mut self, yes: bool) -> Self {
        self.pooler_transaction_mode = yes;
        self
    }

    /// Bounds every operation of the store and of its transactions, from
    /// the call to the answer: the wait for a pooled connection, opening
    /// one, the statements and the retries on a fresh connection (default:
    /// no bound beyond [`acquire_timeout`](Self::acquire_timeout), so a
    /// statement on a connection whose server went silent, without closing
    /// it, may wait as long as the operating system keeps the connection).
    ///
    /// An operation that runs out of time answers
    /// [`StoreError::Unavailable`], and its connection is closed rather than
    /// returned to the pool. A write that timed out may or may not have been
    /// applied: the server may have committed it just before the answer was
    /// lost. Inside a transaction a timed-out call ends the transaction
    /// (later calls answer [`StoreError::TransactionFinished`]) and closes
    /// its connection (the server rolls back); on the app's pool
    /// ([`from_pool`](Self::from_pool)) the connection goes back to sqlx's
    /// pool, which tests it before reuse.
    /// [`DurableStore::begin`], [`Transaction::commit`] and
    /// [`Transaction::rollback`] are bounded too. Migrations are not. A zero
    /// duration is raised to one millisecond.
    pub fn operation_timeout(mut self, timeout: Duration) -> Self {
        self.operation_timeout = Some(timeout.max(Duration::from_millis(1)));
        self
    }

    /// How the database keys its users ([`UserIdType`]): UUID (the
    /// default of fastapi-fullauth), integer (`UserSchema[int]`, an `id
    /// SERIAL` column) or text (`UserSchema[str]`, `id VARCHAR`). The
    /// store's [`StoreInfo::user_id_type`] then answers `t`, every user id
    /// it returns has that type, an id of another type is refused with
    /// [`StoreError::InvalidInput`], and its migrations create the key
    /// columns of that type.
    ///
    /// Unset, [`connect`](Self::connect) takes the key type of the
    /// database it opens (read from the catalog: the type of
    /// `fullauth_users.id`; UUID when there is no such table yet), and
    /// [`from_pool`](Self::from_pool), which does no I/O, takes UUID.
    /// Set, a database whose `fullauth_users.id` holds keys of another type
    /// is refused, naming both types ([`fullauth_api::sql::check_user_key`]):
    /// by `connect`, or by the first operation on users of a store from
    /// `from_pool`.
    ///
    /// ```no_run
    /// # async fn demo() -> Result<(), fullauth_api::StoreError> {
    /// use fullauth_api::{NewUser, StoreInfo, UserIdType, UserStore};
    /// use fullauth_postgres::PgStore;
    ///
    /// // The database of a Python app declared with UserSchema[int].
    /// let store = PgStore::builder()
    ///     .user_id_type(UserIdType::Int)
    ///     .connect("postgres://app@db.internal/app")
    ///     .await?;
    /// let user = store.create_user(NewUser::new("ada@example.com")?).await?;
    /// assert_eq!(user.id.id_type(), UserIdType::Int); // numbered by the SERIAL column
    /// let sub = user.id.to_string(); // the JWT `sub`, as Python's str(id)
    /// assert_eq!(store.user_id_type().parse(&sub)?, user.id);
    /// # Ok(()) }
    /// ```
    pub fn user_id_type(mut self, t: UserIdType) -> Self {
        self.user_id_type = Some(t);
        self
    }

    /// Opens the store on `url`, with connections of its own, and applies
    /// the migrations if asked. One connection is opened now (to report an
    /// unreachable server here); the others when needed, up to
    /// [`max_connections`](Self::max_connections).
    ///
    /// Each operation takes one round trip: the store's connections go back
    /// to its set without the test sqlx's pool makes on every connection it
    /// takes back (a second round trip per operation). A connection is not
    /// tested before use either; a dead one is found by the statement sent
    /// on it, and the operation runs again on a fresh connection when that
    /// is safe. Idle connections are closed after 10 minutes, any after 30.
    ///
    /// [`PgStore::pool`] is a pool on the same URL with the same settings,
    /// opened lazily (no connection until it is used), for the migrator and
    /// the app's own statements.
    ///
    /// The key type of the users is the one set with
    /// [`user_id_type`](Self::user_id_type), else the database's (read from
    /// the catalog with the application's user columns; UUID when it has no
    /// `fullauth_users` yet).
    ///
    /// # Errors
    /// [`StoreError::InvalidInput`] for a malformed URL, schema or feature
    /// set; [`StoreError::Unavailable`] when the server cannot be reached;
    /// [`StoreError::Backend`] when the database keys its users by another
    /// type than the one set with [`user_id_type`](Self::user_id_type)
    /// ([`fullauth_api::sql::check_user_key`]).
    pub async fn connect(self, url: &str) -> StoreResult<PgStore> {
        self.check()?;
        let options = PgConnectOptions::from_str(url)
            .map_err(|e| StoreError::invalid("url", e.to_string()))?
            .application_name(&self.application_name)
            .statement_cache_capacity(if self.pooler_transaction_mode { 0 } else { 256 });
        let pool = PgPoolOptions::new()
            .max_connections(self.max_connections)
            .acquire_timeout(self.acquire_timeout)
            .test_before_acquire(false)
            .connect_lazy_with(options.clone());
        let set = ConnSet::new(SetOptions {
            connect: options,
            max_connections: self.max_connections,
            acquire_timeout: self.acquire_timeout,
            connect_timeout: self.connect_timeout,
        });
        // Reachable now, or an error now; the connection stays for later.
        set.acquire().await.map_err(map_sqlx)?.reuse(true);
        let migrate = self.migrate;
        let configured = self.user_id_type;
        let source = Source::Own(set);
        // The users' columns and key type now: a database of another key
        // type than the one set is refused here, at open.
        let probe =
            self.clone()
                .build(source.clone(), pool.clone(), configured.unwrap_or_default());
        let found = probe.read_user_catalog().await?;
        let key = match (configured, found.as_ref().and_then(|f| f.key.as_ref())) {
            (Some(t), Some((f, column_type))) => {
                fullauth_api::sql::check_user_key(t, *f, column_type)?;
                t
            }
            (Some(t), None) => t,
            (None, Some((f, _))) => *f,
            (None, None) => UserIdType::default(),
        };
        let store = self.build(source, pool, key);
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
    /// Each operation then costs two round trips instead of one: sqlx's pool
    /// tests every connection it takes back (a `Sync` and its answer) before
    /// another task may use it. The caller does not wait for it, but the
    /// connection and the server do; [`connect`](Self::connect) avoids it.
    ///
    /// # Errors
    /// [`StoreError::InvalidInput`] for an invalid schema name or feature
    /// set, or when [`migrate(true)`](Self::migrate) was asked for (call
    /// [`PgStore::migrate`] instead).
    pub fn from_pool(self, pool: PgPool) -> StoreResult<PgStore> {
        self.check()?;
        if self.migrate {
            return Err(StoreError::invalid(
                "migrate",
                "from_pool does no I/O and cannot migrate: call PgStore::migrate() on the store \
                 it returns (or use connect)",
            ));
        }
        let key = self.user_id_type.unwrap_or_default();
        Ok(self.build(Source::App(pool.clone()), pool, key))
    }

    fn check(&self) -> StoreResult<()> {
        check_schema_name(&self.schema)?;
        self.features.validate()
    }

    fn build(self, source: Source, pool: PgPool, key: UserIdType) -> PgStore {
        let mut ctx = Ctx::new(self.schema, self.clock, self.features, key);
        ctx.pooler = self.pooler_transaction_mode;
        ctx.operation_timeout = self.operation_timeout;
        PgStore {
            ctx: Arc::new(ctx),
            source,
            pool,
        }
    }
}

/// Every fullauth store on one PostgreSQL database. Cheap to clone (handles
/// on its connections and shared settings). See
/// [the crate docs](crate#constructors) for the constructors.
#[derive(Clone)]
pub struct PgStore {
    ctx: Arc<Ctx>,
    /// Where operations and transactions take their connections.
    source: Source,
    /// The pool of [`PgStore::pool`] (the app's, or a lazy one on the URL).
    pool: PgPool,
}

impl std::fmt::Debug for PgStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgStore")
            .field("schema", &self.ctx.schema)
            .field("features", &self.ctx.features)
            .field("user_id_type", &self.ctx.key)
            .field("clock", &self.ctx.clock)
            .finish()
    }
}

impl PgStore {
    /// The default settings, to adjust and then
    /// [`connect`](PgStoreBuilder::connect) or
    /// [`from_pool`](PgStoreBuilder::from_pool).
    pub fn builder() -> PgStoreBuilder {
        PgStoreBuilder::default()
    }

    /// Connects with the default settings (schema `public`, every feature,
    /// the system clock, no migration).
    ///
    /// # Errors
    /// As [`PgStoreBuilder::connect`].
    pub async fn connect(url: &str) -> StoreResult<PgStore> {
        Self::builder().connect(url).await
    }

    /// The store on the app's pool with the default settings (schema
    /// `public`, every feature, the system clock, UUID user keys). No I/O.
    pub fn from_pool(pool: PgPool) -> PgStore {
        Self::builder().build(Source::App(pool.clone()), pool, UserIdType::Uuid)
    }

    /// The sqlx pool on the store's database: the one given to
    /// [`from_pool`](PgStoreBuilder::from_pool), where the store's
    /// operations run too; or, for a store from
    /// [`connect`](PgStoreBuilder::connect), a pool on the same URL and
    /// settings that opens connections only when used (by the
    /// [`migrator`](Self::migrator) and the app's own statements), the
    /// store's operations running on connections of their own.
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// The schema of the tables.
    pub fn schema(&self) -> &str {
        &self.ctx.schema
    }

    /// The store's clock.
    pub fn clock(&self) -> &Clock {
        &self.ctx.clock
    }

    /// The migrator of this store's schema on its pool
    /// ([`fullauth_api::migrate::SqlMigrator`]), for the store's user key
    /// type ([`StoreInfo::user_id_type`]).
    pub fn migrator(&self) -> PgMigrator {
        PgMigrator::from_parts(self.pool.clone(), self.migrations())
    }

    /// The migrations of this store's schema and user key type, for the
    /// app's own connection or transaction ([`PgMigrations::apply`]) and
    /// the exports.
    pub fn migrations(&self) -> PgMigrations {
        PgMigrations::from_checked(
            &self.ctx.schema,
            self.ctx.texts.quoted_schema(),
            self.ctx.key,
        )
    }

    /// Applies the pending migrations of the store's features and refreshes
    /// the user columns. Returns the ids applied.
    ///
    /// # Errors
    /// As [`PgMigrator::apply`].
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
        run!(h, Retry::Idempotent, savepoint = false, |c| async move {
            columns::refresh(c, h.ctx).await.map(drop)
        })
    }

    /// The catalog's description of `fullauth_users` (key type and
    /// application columns), not judged against the store's key type.
    async fn read_user_catalog(&self) -> StoreResult<Option<columns::Discovered>> {
        let h = self.handle();
        run!(h, Retry::Idempotent, savepoint = false, |c| async move {
            columns::read_catalog(c, &h.ctx.schema, h.ctx.persistent()).await
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
        let statements: [(Feature, &'static str); 4] = [
            (
                Feature::Blacklist,
                "DELETE FROM {s}.fullauth_blacklist WHERE expires_at <= $1",
            ),
            (
                Feature::Challenges,
                "DELETE FROM {s}.fullauth_challenges WHERE expires_at <= $1",
            ),
            (
                Feature::Lockout,
                "DELETE FROM {s}.fullauth_lockouts WHERE (locked_until IS NULL OR locked_until <= $1) \
                 AND last_failure_at <= $1 - interval '1 day'",
            ),
            (
                Feature::RateLimit,
                "DELETE FROM {s}.fullauth_rate_limits WHERE hits[cardinality(hits)] <= $1 - interval '1 day' \
                 OR cardinality(hits) = 0",
            ),
        ];
        for (feature, sql) in statements {
            if !self.ctx.features.contains(feature) {
                continue;
            }
            let now = h.ctx.now().to_datetime();
            total += run!(h, Retry::Idempotent, savepoint = false, |c| async move {
                let r = sqlx::query(h.ctx.sql(sql))
                    .persistent(h.ctx.persistent())
                    .bind(now)
                    .execute(c)
                    .await?;
                Ok(r.rows_affected())
            })
            .map_err(|e| e.with_context(BACKEND, "purge_expired"))?;
        }
        Ok(total)
    }

    fn handle(&self) -> Handle<'_> {
        Handle {
            ctx: &self.ctx,
            conn: ConnRef::Pool(&self.source),
        }
    }
}

/// An open transaction of a [`PgStore`]: the same durable traits, on one
/// connection, committed or rolled back together. Dropping it without
/// [`Transaction::commit`] rolls back: on the store's own connections a
/// task sends the `ROLLBACK` and the connection serves again (it is closed
/// instead when no Tokio runtime is running, or the rollback fails or
/// outlasts the operation timeout, 5 s by default; the server then rolls
/// back). A conflict or missing user on a write inside
/// it fails that call and leaves the rest usable — the statements do not
/// fail on those, and a write with values for the app's own columns runs
/// in a savepoint; any other failure of a statement ends it (PostgreSQL
/// aborts the transaction): later calls answer
/// [`StoreError::TransactionFinished`]. A transaction of N statements takes
/// N + 2 round trips.
pub struct PgTransaction {
    ctx: Arc<Ctx>,
    tx: TxSlot,
}

impl Drop for PgTransaction {
    /// A transaction dropped while open is rolled back (see the type's
    /// docs).
    fn drop(&mut self) {
        if let Some(tx) = self.tx.get_mut().take() {
            tx.abandon(true, self.ctx.rollback_bound());
        }
    }
}

impl std::fmt::Debug for PgTransaction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgTransaction")
            .field("schema", &self.ctx.schema)
            .finish()
    }
}

impl PgTransaction {
    fn handle(&self) -> Handle<'_> {
        Handle {
            ctx: &self.ctx,
            conn: ConnRef::Tx(&self.tx),
        }
    }

    /// Takes the open transaction out of its slot (it ends either way).
    async fn finish(&self) -> StoreResult<TxConn> {
        self.tx.lock().await.take().ok_or_else(handle::finished)
    }
}

impl StoreInfo for PgStore {
    fn features(&self) -> Features {
        self.ctx.features
    }

    fn backend_name(&self) -> &'static str {
        BACKEND
    }

    /// The key type set with [`PgStoreBuilder::user_id_type`], else the
    /// database's as [`PgStoreBuilder::connect`] found it (UUID for a store
    /// from [`PgStoreBuilder::from_pool`]).
    fn user_id_type(&self) -> UserIdType {
        self.ctx.key
    }
}

impl StoreInfo for PgTransaction {
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

impl Backend for PgStore {
    type Ops<'a> = Handle<'a>;

    fn ops(&self) -> Handle<'_> {
        self.handle()
    }
}

impl Backend for PgTransaction {
    type Ops<'a> = Handle<'a>;

    fn ops(&self) -> Handle<'_> {
        self.handle()
    }
}

fullauth_api::backend_impls!(PgStore: durable, short_lived);
fullauth_api::backend_impls!(PgTransaction: durable);

#[fullauth_api::async_trait]
impl DurableStore for PgStore {
    async fn begin(&self) -> StoreResult<Box<dyn Transaction>> {
        if !self.ctx.features.iter().any(|f| !f.is_short_lived()) {
            return Err(StoreError::feature_disabled(Feature::Core).with_context(BACKEND, "begin"));
        }
        let mut last = None;
        let deadline = self.ctx.deadline();
        for _ in 0..2 {
            let Some(begun) = handle::within(deadline, TxConn::begin(&self.source)).await else {
                return Err(self.ctx.timed_out().with_context(BACKEND, "begin"));
            };
            match begun {
                Ok(tx) => {
                    return Ok(Box::new(PgTransaction {
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
impl DurableStore for PgTransaction {
    async fn begin(&self) -> StoreResult<Box<dyn Transaction>> {
        Err(StoreError::transaction_nesting().with_context(BACKEND, "begin"))
    }
}

#[fullauth_api::async_trait]
impl Transaction for PgTransaction {
    async fn commit(self: Box<Self>) -> StoreResult<()> {
        let deadline = self.ctx.deadline();
        let done = match self.finish().await {
            Ok(tx) => match handle::within(deadline, tx.commit()).await {
                Some(done) => done.map_err(map_sqlx),
                None => Err(self.ctx.timed_out()),
            },
            Err(e) => Err(e),
        };
        done.map_err(|e| e.with_context(BACKEND, "commit"))
    }

    async fn rollback(self: Box<Self>) -> StoreResult<()> {
        let deadline = self.ctx.deadline();
        let done = match self.finish().await {
            Ok(tx) => match handle::within(deadline, tx.rollback()).await {
                Some(done) => done.map_err(map_sqlx),
                None => Err(self.ctx.timed_out()),
            },
            Err(e) => Err(e),
        };
        done.map_err(|e| e.with_context(BACKEND, "rollback"))
    }
}

/// The statements of the hot operations as the store runs them (`{s}`
/// stands for the quoted schema; no application columns), so a benchmark
/// can run the same SQL straight on sqlx. Not part of the stable API.
#[doc(hidden)]
pub mod hot_sql {
    pub use crate::permissions::FOR_USER as USER_PERMISSIONS;
    pub use crate::tokens::{REVOKE, ROTATE};

    /// The store's read of a user by id (no application columns here).
    pub const GET_USER: &str = "SELECT u.id, u.email, u.is_active, u.is_verified, u.is_superuser, \
         u.created_at FROM {s}.fullauth_users u WHERE u.id = $1 ORDER BY u.created_at, u.id LIMIT 1";

    /// The store's insert of a user without application values (UUID
    /// keys: integer keys leave `id` to the `SERIAL` default).
    pub const CREATE_USER: &str = "WITH ins AS (INSERT INTO {s}.fullauth_users AS u (id, email, \
         hashed_password, is_active, is_verified, is_superuser, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING \
         RETURNING u.id, u.email, u.is_active, u.is_verified, u.is_superuser, u.created_at) \
         SELECT ins.*, EXISTS (SELECT 1 FROM {s}.fullauth_users WHERE id = $1), \
         EXISTS (SELECT 1 FROM {s}.fullauth_users WHERE email = $2) \
         FROM (SELECT 1) AS one LEFT JOIN ins ON true";
}
