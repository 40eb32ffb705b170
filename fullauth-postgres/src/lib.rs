//! The PostgreSQL backend of the fullauth family, on sqlx.
//!
//! [`PgStore`] serves every feature of `fullauth-api` from one PostgreSQL
//! database: the durable ones (users, refresh tokens and sessions, roles,
//! permissions, OAuth links, passkeys, MFA) in the tables of
//! fastapi-fullauth 0.18 — same names, columns, types, indexes, constraint
//! names and cascades, so a Python and a Rust service can share them — and
//! the short-lived ones (blacklist, lockout, rate limits, challenges) in
//! `UNLOGGED` tables of its own, so a deployment with only PostgreSQL needs
//! no Redis. Several app instances can use one database at once: every
//! security-critical step is one conditional statement.
//!
//! ```no_run
//! use std::time::Duration;
//! use fullauth_api::{NewUser, StateKey, Store, UserStore, BlacklistStore};
//! use fullauth_postgres::PgStore;
//!
//! # async fn demo() -> Result<(), fullauth_api::StoreError> {
//! let store = PgStore::builder()
//!     .schema("auth")          // tables live in "auth", whatever the search_path
//!     .migrate(true)           // apply pending migrations while opening
//!     .connect("postgres://app@db.internal/app")
//!     .await?;
//! let user = store.create_user(NewUser::new("ada@example.com")?).await?;
//! assert_eq!(store.get_user(&user.id).await?, Some(user));
//! store.blacklist(&StateKey::new("jti-123")?, Duration::from_secs(900)).await?;
//! // Or bring the app's own pool:
//! let pool = fullauth_postgres::sqlx::PgPool::connect_lazy("postgres://app@db.internal/app")
//!     .map_err(|e| fullauth_api::StoreError::backend("bad url", e))?;
//! let store2 = PgStore::builder().schema("auth").open(pool).await?;
//! # let _ = store2; Ok(()) }
//! ```
//!
//! # Schema and migrations
//!
//! Migrations are embedded per feature ([`MIGRATIONS`]), append-only and
//! checksummed, and recorded in `<schema>.fullauth_schema_migrations` (never
//! `_sqlx_migrations`, which is the app's). [`PgMigrator`] plans, applies
//! (under an advisory lock, so two processes migrating at once are safe),
//! reports status, adopts tables made by fastapi-fullauth 0.14–0.18, and
//! exports the SQL for apps whose own tool owns the schema. Every statement
//! names its tables with the quoted schema, so nothing depends on the
//! connection's `search_path`.
//!
//! # The app's own user columns
//!
//! Columns the app adds to `fullauth_users` are discovered from the catalog
//! when the store opens (and again with [`PgStore::refresh_user_columns`], or
//! automatically when a write names a column the store has not seen) and
//! carried in `User::extra` as JSON: text as strings, integers and numerics
//! as numbers, booleans as booleans, timestamps as RFC 3339 strings, anything
//! else as its text form. Writes cast the JSON value to the column's type.
//!
//! # Round trips, time and errors
//!
//! Each hot operation is one statement: a user by id or email, rotate
//! (revoke-if-live and insert, or detect the replay and revoke the family,
//! in one statement of CTEs), revoke, a user's permissions (one join),
//! session listing (aggregated in SQL), a blacklist check of several keys
//! (`= ANY($1)`), a rate-limit hit (one upsert under the row lock). sqlx
//! prepares each statement once per connection and caches it. "Now" comes
//! from the store's [`Clock`] as a bind parameter, never from SQL `now()`.
//! Unique violations become [`StoreError::Conflict`] by constraint name;
//! lost connections, pool timeouts and shutdowns become the retryable
//! [`StoreError::Unavailable`]. After the server terminates the pool's
//! connections, the next operation succeeds: a read (or an idempotent
//! write) that meets a dead connection runs once more on a fresh one, and so
//! does any write the server refused with "terminating connection" (it did
//! not run).

#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub use sqlx;

mod blacklist;
mod challenges;
mod columns;
mod ctx;
mod error;
mod handle;
mod impls;
mod lockout;
mod mfa;
mod migrate;
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

use fullauth_api::{
    BlacklistStore, ChallengeStore, Clock, DurableStore, Feature, Features, LockoutOutcome,
    LockoutPolicy, LockoutStore, RateLimitDecision, RateLimitPolicy, RateLimitStore, StateKey,
    StoreError, StoreResult, Text, Transaction,
};
use sqlx::PgPool;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use tokio::sync::Mutex;

use crate::ctx::{Ctx, check_schema_name};
use crate::error::{Retry, map_sqlx};
use crate::handle::{ConnRef, Handle, TxSlot, run};
use crate::impls::durable_impls;

pub use crate::migrate::{PgMigrator, migrations_for};
pub use crate::migrations::MIGRATIONS;
pub use fullauth_api::migrate::{AdoptReport, AppliedMigration, Migration, MigrationStatus};

/// The application name the pools this crate builds report to the server
/// (`pg_stat_activity.application_name`) unless told otherwise.
pub const DEFAULT_APPLICATION_NAME: &str = "fullauth";

/// Settings of a [`PgStore`]; start from [`PgStore::builder`].
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

    /// Apply the pending migrations of the features while opening (default
    /// false: run [`PgStore::migrate`] or the [`PgMigrator`] yourself).
    pub fn migrate(mut self, yes: bool) -> Self {
        self.migrate = yes;
        self
    }

    /// Builds a pool for `url` and opens the store on it. The pool does not
    /// ping a connection before each use (that would double the round trips
    /// of every operation); dead connections are handled by retrying safe
    /// operations once.
    ///
    /// # Errors
    /// [`StoreError::InvalidInput`] for a malformed URL or schema;
    /// [`StoreError::Unavailable`] when the server cannot be reached.
    pub async fn connect(self, url: &str) -> StoreResult<PgStore> {
        let options = PgConnectOptions::from_str(url)
            .map_err(|e| StoreError::invalid("url", e.to_string()))?
            .application_name(&self.application_name)
            .statement_cache_capacity(256);
        let pool = PgPoolOptions::new()
            .max_connections(self.max_connections)
            .acquire_timeout(self.acquire_timeout)
            .test_before_acquire(false)
            .connect_with(options)
            .await
            .map_err(map_sqlx)?;
        self.open(pool).await
    }

    /// Opens the store on an existing pool (the app's own): applies the
    /// migrations if asked, then discovers the application's user columns.
    ///
    /// # Errors
    /// [`StoreError::InvalidInput`] for an invalid schema name or feature
    /// set; [`StoreError::Unavailable`] when the server cannot be reached.
    pub async fn open(self, pool: PgPool) -> StoreResult<PgStore> {
        check_schema_name(&self.schema)?;
        self.features.validate()?;
        let store = PgStore {
            ctx: Arc::new(Ctx::new(self.schema, self.clock, self.features)),
            pool,
        };
        if self.migrate {
            store.migrate().await?;
        }
        store.refresh_user_columns().await?;
        Ok(store)
    }
}

/// Every fullauth store on one PostgreSQL database. Cheap to clone (a pool
/// handle and shared settings).
#[derive(Clone)]
pub struct PgStore {
    ctx: Arc<Ctx>,
    pool: PgPool,
}

impl std::fmt::Debug for PgStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgStore")
            .field("schema", &self.ctx.schema)
            .field("features", &self.ctx.features)
            .field("clock", &self.ctx.clock)
            .finish()
    }
}

impl PgStore {
    /// The default settings, to adjust and then `connect` or `open`.
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

    /// Opens the store on the app's pool with the default settings.
    ///
    /// # Errors
    /// As [`PgStoreBuilder::open`].
    pub async fn from_pool(pool: PgPool) -> StoreResult<PgStore> {
        Self::builder().open(pool).await
    }

    /// The pool.
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

    /// A migrator for this store's schema and pool.
    pub fn migrator(&self) -> PgMigrator {
        // The schema was checked when the store was opened.
        PgMigrator::new(self.pool.clone(), self.ctx.schema.clone())
            .unwrap_or_else(|_| unreachable_migrator(&self.pool))
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
    /// again (after the app's own migration added one).
    ///
    /// # Errors
    /// [`StoreError::Unavailable`] when the server cannot be reached.
    pub async fn refresh_user_columns(&self) -> StoreResult<()> {
        let h = self.handle();
        let cols = run!(
            h,
            "refresh_user_columns",
            Retry::Idempotent,
            savepoint = false,
            |c| { columns::discover(c, &h.ctx.schema) }
        )?;
        self.ctx.set_columns(cols);
        Ok(())
    }

    /// Names of the application's columns of `fullauth_users`, as last
    /// discovered.
    pub fn user_columns(&self) -> Vec<String> {
        self.ctx
            .columns()
            .extras
            .iter()
            .map(|c| c.name.clone())
            .collect()
    }

    /// Deletes the expired rows of the short-lived tables the store serves
    /// (expired entries are never visible, but they take space until
    /// removed). Returns how many rows were deleted. Run it periodically.
    ///
    /// # Errors
    /// [`StoreError::Unavailable`] when the server cannot be reached.
    pub async fn purge_expired(&self) -> StoreResult<u64> {
        let h = self.handle();
        let f = self.ctx.features;
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
            if !f.contains(feature) {
                continue;
            }
            let now = h.ctx.now().to_datetime();
            let n = run!(
                h,
                "purge_expired",
                Retry::Idempotent,
                savepoint = false,
                |c| async {
                    let r = sqlx::query(h.ctx.sql(sql))
                        .bind(now)
                        .execute(&mut *c)
                        .await?;
                    Ok::<u64, crate::error::DbError>(r.rows_affected())
                }
            )?;
            total += n;
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

/// `PgMigrator::new` only fails on a schema name `open` already accepted;
/// this keeps `migrator()` infallible without a panic path.
fn unreachable_migrator(pool: &PgPool) -> PgMigrator {
    // "public" always passes the check.
    match PgMigrator::new(pool.clone(), "public") {
        Ok(m) => m,
        Err(_) => unreachable_migrator(pool),
    }
}

/// An open transaction of a [`PgStore`]: the same durable traits, on one
/// connection, committed or rolled back together. Dropping it without
/// [`Transaction::commit`] rolls back. A conflict or missing user on a
/// write inside it is undone by a savepoint and leaves the rest usable.
pub struct PgTransaction {
    ctx: Arc<Ctx>,
    tx: TxSlot,
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
}

mod durable {
    //! The durable traits on [`PgStore`] and [`PgTransaction`].
    use super::*;
    use crate::{mfa, oauth, passkeys, permissions, roles, tokens, users};

    durable_impls!(PgStore);
    durable_impls!(PgTransaction);
}

#[fullauth_api::async_trait]
impl DurableStore for PgStore {
    fn features(&self) -> Features {
        self.ctx.features
    }

    fn backend_name(&self) -> &'static str {
        "postgres"
    }

    async fn begin(&self) -> StoreResult<Box<dyn Transaction>> {
        if !self.ctx.features.iter().any(|f| !f.is_short_lived()) {
            return Err(StoreError::feature_disabled(Feature::Core));
        }
        let mut last = None;
        for _ in 0..2 {
            match self.pool.begin().await {
                Ok(tx) => {
                    return Ok(Box::new(PgTransaction {
                        ctx: self.ctx.clone(),
                        tx: Mutex::new(Some(tx)),
                    }));
                }
                // Nothing ran yet: a dead pooled connection is safe to retry.
                Err(e) if error::is_connection_error(&e) => last = Some(e),
                Err(e) => return Err(map_sqlx(e)),
            }
        }
        Err(last.map_or_else(handle::finished, map_sqlx))
    }
}

#[fullauth_api::async_trait]
impl DurableStore for PgTransaction {
    fn features(&self) -> Features {
        self.ctx.features
    }

    fn backend_name(&self) -> &'static str {
        "postgres"
    }

    async fn begin(&self) -> StoreResult<Box<dyn Transaction>> {
        Err(StoreError::TransactionNesting)
    }
}

#[fullauth_api::async_trait]
impl Transaction for PgTransaction {
    async fn commit(self: Box<Self>) -> StoreResult<()> {
        let tx = self.tx.lock().await.take().ok_or_else(handle::finished)?;
        tx.commit().await.map_err(map_sqlx)
    }

    async fn rollback(self: Box<Self>) -> StoreResult<()> {
        let tx = self.tx.lock().await.take().ok_or_else(handle::finished)?;
        tx.rollback().await.map_err(map_sqlx)
    }
}

#[fullauth_api::async_trait]
impl BlacklistStore for PgStore {
    async fn blacklist(&self, key: &StateKey, ttl: Duration) -> StoreResult<()> {
        let h = self.handle();
        h.ctx.require(Feature::Blacklist)?;
        run!(h, "blacklist", Retry::Idempotent, savepoint = false, |c| {
            blacklist::add(c, h.ctx, key, ttl)
        })
    }

    async fn is_blacklisted(&self, key: &StateKey) -> StoreResult<bool> {
        let h = self.handle();
        h.ctx.require(Feature::Blacklist)?;
        run!(
            h,
            "is_blacklisted",
            Retry::Idempotent,
            savepoint = false,
            |c| blacklist::any(c, h.ctx, std::slice::from_ref(key))
        )
    }

    async fn any_blacklisted(&self, keys: &[StateKey]) -> StoreResult<bool> {
        let h = self.handle();
        h.ctx.require(Feature::Blacklist)?;
        run!(
            h,
            "any_blacklisted",
            Retry::Idempotent,
            savepoint = false,
            |c| blacklist::any(c, h.ctx, keys)
        )
    }
}

#[fullauth_api::async_trait]
impl LockoutStore for PgStore {
    async fn record_failure(
        &self,
        key: &StateKey,
        policy: LockoutPolicy,
    ) -> StoreResult<LockoutOutcome> {
        let h = self.handle();
        h.ctx.require(Feature::Lockout)?;
        run!(
            h,
            "record_failure",
            Retry::IfNotApplied,
            savepoint = false,
            |c| lockout::record(c, h.ctx, key, policy)
        )
    }

    async fn is_locked(&self, key: &StateKey) -> StoreResult<bool> {
        let h = self.handle();
        h.ctx.require(Feature::Lockout)?;
        run!(h, "is_locked", Retry::Idempotent, savepoint = false, |c| {
            lockout::is_locked(c, h.ctx, key)
        })
    }

    async fn clear_lockout(&self, key: &StateKey) -> StoreResult<()> {
        let h = self.handle();
        h.ctx.require(Feature::Lockout)?;
        run!(
            h,
            "clear_lockout",
            Retry::Idempotent,
            savepoint = false,
            |c| lockout::clear(c, h.ctx, key)
        )
    }
}

#[fullauth_api::async_trait]
impl RateLimitStore for PgStore {
    async fn hit(&self, key: &StateKey, policy: RateLimitPolicy) -> StoreResult<RateLimitDecision> {
        let h = self.handle();
        h.ctx.require(Feature::RateLimit)?;
        run!(
            h,
            "rate_limit_hit",
            Retry::IfNotApplied,
            savepoint = false,
            |c| rate_limit::hit(c, h.ctx, key, policy)
        )
    }

    async fn reset_rate_limit(&self, key: &StateKey) -> StoreResult<()> {
        let h = self.handle();
        h.ctx.require(Feature::RateLimit)?;
        run!(
            h,
            "reset_rate_limit",
            Retry::Idempotent,
            savepoint = false,
            |c| rate_limit::reset(c, h.ctx, key)
        )
    }
}

#[fullauth_api::async_trait]
impl ChallengeStore for PgStore {
    async fn put_challenge(&self, key: &StateKey, value: &Text, ttl: Duration) -> StoreResult<()> {
        let h = self.handle();
        h.ctx.require(Feature::Challenges)?;
        run!(
            h,
            "put_challenge",
            Retry::Idempotent,
            savepoint = false,
            |c| challenges::put(c, h.ctx, key, value, ttl)
        )
    }

    async fn take_challenge(&self, key: &StateKey) -> StoreResult<Option<Text>> {
        let h = self.handle();
        h.ctx.require(Feature::Challenges)?;
        run!(
            h,
            "take_challenge",
            Retry::IfNotApplied,
            savepoint = false,
            |c| challenges::take(c, h.ctx, key)
        )
    }
}

/// The fixed statements of two hot operations exactly as the store runs them
/// (`{s}` stands for the quoted schema), so a benchmark can run the same SQL
/// straight on sqlx. Not part of the stable API.
#[doc(hidden)]
pub mod hot_sql {
    pub use crate::permissions::FOR_USER as USER_PERMISSIONS;
    pub use crate::tokens::ROTATE;
}
