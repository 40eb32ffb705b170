#![doc = include_str!("../README.md")]
#![cfg_attr(docsrs, feature(doc_cfg))]
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

use std::future::Future;
use std::path::{Path, PathBuf};
use std::time::Duration;

use async_trait::async_trait;
use fullauth_api::backend::Backend;
use fullauth_api::{
    Clock, DurableStore, Feature, Features, StoreError, StoreInfo, StoreResult, Transaction,
    UserIdType,
};
use tracing::Instrument as _;

#[allow(deprecated)]
pub use migrate::Migrator;
pub use migrate::{SqliteMigrations, SqliteMigrator};
pub use rusqlite;

use crate::pool::{Handle, Shared};

/// The backend's name in [`StoreInfo::backend_name`], spans and error
/// contexts.
const BACKEND: &str = "sqlite";

/// How to open a [`SqliteStore`]; start from [`SqliteStore::builder`].
///
/// ```
/// use std::time::Duration;
/// use fullauth_api::{Clock, Features};
/// use fullauth_sqlite::SqliteStore;
/// let builder = SqliteStore::builder()
///     .features(Features::durable())
///     .readers(8)
///     .busy_timeout(Duration::from_secs(2))
///     .clock(Clock::system());
/// assert_eq!(builder.reader_count(), 8);
/// // then: builder.connect("sqlite://auth.db").await, .open(path).await
/// // or .open_temporary().await
/// ```
#[derive(Clone, Debug)]
pub struct SqliteStoreBuilder {
    features: Features,
    clock: Clock,
    readers: usize,
    busy_timeout: Duration,
    migrate: bool,
    user_id_type: Option<UserIdType>,
}

/// The 0.1 name of [`SqliteStoreBuilder`].
#[deprecated(
    since = "0.2.0",
    note = "renamed `SqliteStoreBuilder`; start from `SqliteStore::builder()`"
)]
pub type SqliteOptions = SqliteStoreBuilder;

impl Default for SqliteStoreBuilder {
    /// Every feature, the system clock, 4 readers, a 5 s busy timeout, no
    /// migration on open.
    fn default() -> Self {
        SqliteStoreBuilder {
            features: Features::all(),
            clock: Clock::system(),
            readers: 4,
            busy_timeout: Duration::from_secs(5),
            migrate: false,
            user_id_type: None,
        }
    }
}

impl SqliteStoreBuilder {
    /// The defaults: every feature, the system clock, 4 readers, 5 s busy
    /// timeout, no migration on open (same as [`SqliteStore::builder`]).
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
    /// process before answering `Contention`, and a call waits for this
    /// store's writer (held by an open transaction) before answering
    /// `Unavailable` (default 5 s).
    pub fn busy_timeout(mut self, d: Duration) -> Self {
        self.busy_timeout = d;
        self
    }

    /// Apply the pending migrations of the features while opening (default
    /// false: call [`SqliteStore::migrate`] or use the [`SqliteMigrator`]).
    pub fn migrate(mut self, yes: bool) -> Self {
        self.migrate = yes;
        self
    }

    /// How the store keys users ([`UserIdType`]). Unset (the default), the
    /// store takes the type `fullauth_users.id` has when it opens — UUID,
    /// or integer / text for a fastapi-fullauth app declared with
    /// `UserSchema[int]` / `UserSchema[str]` — and UUID on a database
    /// without the table. Set, the store refuses at open a database keyed
    /// otherwise, with an error naming both types, and its migrator creates
    /// the tables for this type (as SQLAlchemy does for the overridden
    /// models: `INTEGER` rowid alias, or `VARCHAR`).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), fullauth_api::StoreError> {
    /// use fullauth_api::{NewUser, StoreInfo, UserId, UserIdType, UserStore};
    /// let store = fullauth_sqlite::SqliteStore::builder()
    ///     .user_id_type(UserIdType::Int)
    ///     .migrate(true)
    ///     .open_temporary()
    ///     .await?;
    /// let ada = store.create_user(NewUser::new("ada@example.com")?).await?;
    /// assert_eq!(ada.id, UserId::from_int(1));
    /// assert_eq!(store.user_id_type().parse("1")?, ada.id);
    /// # Ok(()) }
    /// ```
    pub fn user_id_type(mut self, user_id_type: UserIdType) -> Self {
        self.user_id_type = Some(user_id_type);
        self
    }

    /// The configured number of readers.
    pub fn reader_count(&self) -> usize {
        self.readers
    }

    /// Opens (creating if missing) the database file at `path`, in WAL mode.
    ///
    /// # Errors
    /// [`StoreError::InvalidInput`] for an inconsistent feature set;
    /// [`StoreError::Unavailable`] when the file cannot be opened;
    /// [`StoreError::Contention`] when it stays locked by another process;
    /// migration errors when [`migrate`](Self::migrate) is on.
    pub async fn open(self, path: impl AsRef<Path>) -> StoreResult<SqliteStore> {
        self.open_at(path.as_ref().to_path_buf(), false).await
    }

    /// Opens a new database file with a unique name in the system temp
    /// directory, deleted (with its WAL files) when the last clone of the
    /// store and its transactions are dropped. Every call gives an isolated
    /// database: this is what tests use.
    ///
    /// # Errors
    /// As [`open`](Self::open).
    pub async fn open_temporary(self) -> StoreResult<SqliteStore> {
        let path =
            std::env::temp_dir().join(format!("fullauth-{}.db", uuid::Uuid::new_v4().simple()));
        self.open_at(path, true).await
    }

    /// Opens the database named by `url`: `sqlite://PATH` (so
    /// `sqlite:///var/lib/app/auth.db` for an absolute path and
    /// `sqlite://auth.db` for one relative to the working directory),
    /// `sqlite:PATH`, or a plain path. The URL carries no options (set them
    /// on the builder), and an in-memory database is refused: every
    /// connection would get its own; use
    /// [`open_temporary`](Self::open_temporary).
    ///
    /// # Errors
    /// [`StoreError::InvalidInput`] (field `url`) for an empty path, query
    /// parameters or an in-memory database; otherwise as
    /// [`open`](Self::open).
    pub async fn connect(self, url: &str) -> StoreResult<SqliteStore> {
        let path = path_of_url(url)?;
        self.open_at(path, false).await
    }

    async fn open_at(self, path: PathBuf, temporary: bool) -> StoreResult<SqliteStore> {
        self.features.validate()?;
        let shared = Shared::open(
            path,
            temporary,
            self.features,
            self.clock,
            self.readers,
            self.busy_timeout,
            self.user_id_type,
        )
        .await?;
        let store = SqliteStore {
            handle: Handle::new(shared),
        };
        if self.migrate {
            store.migrate().await?;
        }
        Ok(store)
    }
}

/// The database path of a `sqlite://PATH`, `sqlite:PATH` or plain-path URL.
fn path_of_url(url: &str) -> StoreResult<PathBuf> {
    let in_memory = || {
        StoreError::invalid(
            "url",
            "an in-memory SQLite database is not supported (each connection of the store \
             would get its own): use SqliteStore::builder().open_temporary()",
        )
    };
    let path = match url.strip_prefix("sqlite:") {
        Some(rest) => {
            if rest.contains('?') || rest.contains('#') {
                return Err(StoreError::invalid(
                    "url",
                    "SQLite URLs take no parameters here: set the options on \
                     SqliteStore::builder()",
                ));
            }
            rest.strip_prefix("//").unwrap_or(rest)
        }
        None => url,
    };
    if path.trim().is_empty() {
        return Err(StoreError::invalid("url", "no database path"));
    }
    if path == ":memory:" || path.starts_with("file::memory:") {
        return Err(in_memory());
    }
    Ok(PathBuf::from(path))
}

/// The SQLite store: every durable and short-lived trait of [`fullauth_api`].
///
/// Cheap to clone (clones share the connections). Open it with
/// [`connect`](Self::connect), [`builder`](Self::builder),
/// [`open`](Self::open) or [`open_temporary`](Self::open_temporary), then
/// migrate with [`migrate`](Self::migrate) or the [`migrator`](Self::migrator).
/// Needs a tokio runtime with the time driver (see [`pool`]).
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
    /// The default settings, to adjust and finish with
    /// [`connect`](SqliteStoreBuilder::connect),
    /// [`open`](SqliteStoreBuilder::open) or
    /// [`open_temporary`](SqliteStoreBuilder::open_temporary).
    pub fn builder() -> SqliteStoreBuilder {
        SqliteStoreBuilder::default()
    }

    /// Opens `sqlite://PATH`, `sqlite:PATH` or a plain path with the default
    /// settings (every feature, the system clock, no migration).
    ///
    /// # Errors
    /// As [`SqliteStoreBuilder::connect`].
    pub async fn connect(url: &str) -> StoreResult<Self> {
        Self::builder().connect(url).await
    }

    /// Opens (creating if missing) the database file at `path` with the
    /// settings of `options`, in WAL mode. Opening does not migrate unless
    /// the builder says so: call [`migrate`](Self::migrate).
    ///
    /// # Errors
    /// As [`SqliteStoreBuilder::open`].
    pub async fn open(path: impl AsRef<Path>, options: SqliteStoreBuilder) -> StoreResult<Self> {
        options.open(path).await
    }

    /// Opens a new temporary database with the settings of `options` (see
    /// [`SqliteStoreBuilder::open_temporary`]).
    ///
    /// # Errors
    /// As [`SqliteStoreBuilder::open`].
    pub async fn open_temporary(options: SqliteStoreBuilder) -> StoreResult<Self> {
        options.open_temporary().await
    }

    /// The migrator of this database ([`fullauth_api::migrate::SqlMigrator`]
    /// on the store's writer).
    pub fn migrator(&self) -> SqliteMigrator {
        SqliteMigrator::new(self.handle.clone())
    }

    /// Applies the pending migrations of the store's features (see
    /// [`SqliteMigrator::apply`]) and returns the ids applied.
    ///
    /// # Errors
    /// As [`SqliteMigrator::apply`].
    pub async fn migrate(&self) -> StoreResult<Vec<String>> {
        self.migrator().apply(self.handle.shared.features).await
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
            .blocking(move |c| ephemeral::purge(c, features, now))
            .await
    }

    /// Runs `f` on the writer connection, on tokio's blocking pool (so it
    /// may take its time): an escape hatch for the app's own statements on
    /// the same database (its own migrations, reports). Not inside any
    /// transaction of the store; a transaction `f` leaves open is rolled
    /// back before the store's next write. No write of the store runs
    /// meanwhile; the store's reads go on.
    ///
    /// # Errors
    /// [`StoreError::Unavailable`] when the writer stays busy; whatever `f`
    /// returns.
    pub async fn with_connection<T, F>(&self, f: F) -> StoreResult<T>
    where
        F: FnOnce(&rusqlite::Connection) -> rusqlite::Result<T> + Send + 'static,
        T: Send + 'static,
    {
        use crate::codec::Db as _;
        let shared = self.handle.shared.clone();
        self.handle
            .blocking(move |c| {
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
/// `create_user`) is undone alone by SQLite's statement rollback. Dropping the
/// handle without committing rolls back. While it is open it holds the
/// store's writer: other writes of the store wait for it (up to the busy
/// timeout). After commit or rollback — or when SQLite itself rolled it back
/// after a failure — every call answers `TransactionFinished`.
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

impl StoreInfo for SqliteStore {
    fn features(&self) -> Features {
        self.handle.shared.features
    }

    fn backend_name(&self) -> &'static str {
        BACKEND
    }

    fn user_id_type(&self) -> UserIdType {
        self.handle.shared.user_id_type
    }
}

impl StoreInfo for SqliteTransaction {
    fn features(&self) -> Features {
        self.handle.shared.features
    }

    fn backend_name(&self) -> &'static str {
        BACKEND
    }

    fn user_id_type(&self) -> UserIdType {
        self.handle.shared.user_id_type
    }
}

impl Backend for SqliteStore {
    type Ops<'a> = &'a Handle;

    fn ops(&self) -> &Handle {
        &self.handle
    }
}

impl Backend for SqliteTransaction {
    type Ops<'a> = &'a Handle;

    fn ops(&self) -> &Handle {
        &self.handle
    }
}

fullauth_api::backend_impls!(SqliteStore: durable, short_lived);
fullauth_api::backend_impls!(SqliteTransaction: durable);

/// Runs a hand-written operation (`begin`, `commit`, `rollback`) as the
/// generated ones run: in a `fullauth.store` span, with the backend and the
/// operation in the context of any error.
async fn traced<T>(
    operation: &'static str,
    fut: impl Future<Output = StoreResult<T>>,
) -> StoreResult<T> {
    fut.instrument(tracing::debug_span!(
        "fullauth.store",
        backend = BACKEND,
        op = operation
    ))
    .await
    .map_err(|e| e.with_context(BACKEND, operation))
}

#[async_trait]
impl DurableStore for SqliteStore {
    /// Begins a transaction (`BEGIN IMMEDIATE` on the writer).
    ///
    /// Errors: `FeatureDisabled` (Core) when the store serves no durable
    /// feature; `Unavailable` when the writer stays held by another
    /// transaction longer than the busy timeout.
    async fn begin(&self) -> StoreResult<Box<dyn Transaction>> {
        traced("begin", async {
            if self.features().intersection(Features::durable()).is_empty() {
                return Err(StoreError::feature_disabled(Feature::Core));
            }
            let handle = self.handle.begin().await?;
            Ok(Box::new(SqliteTransaction { handle }) as Box<dyn Transaction>)
        })
        .await
    }
}

#[async_trait]
impl DurableStore for SqliteTransaction {
    /// Always [`StoreError::TransactionNesting`].
    async fn begin(&self) -> StoreResult<Box<dyn Transaction>> {
        Err(StoreError::transaction_nesting().with_context(BACKEND, "begin"))
    }
}

#[async_trait]
impl Transaction for SqliteTransaction {
    async fn commit(self: Box<Self>) -> StoreResult<()> {
        traced("commit", self.handle.finish(true)).await
    }

    async fn rollback(self: Box<Self>) -> StoreResult<()> {
        traced("rollback", self.handle.finish(false)).await
    }
}

/// The fixed statements of the hot operations exactly as the store runs
/// them, so a benchmark can run the same SQL straight on rusqlite. Not part
/// of the stable API.
#[doc(hidden)]
pub mod hot_sql {
    pub use crate::permissions::FOR_USER as USER_PERMISSIONS;
    pub use crate::tokens::{INSERT as INSERT_TOKEN, REVOKE, ROTATE_FLIP};
    pub use crate::users::BY_ID as GET_USER;
}

#[cfg(test)]
mod tests {
    use super::*;
    use fullauth_api::{NewUser, UserStore};

    #[tokio::test]
    async fn opens_migrates_and_serves() {
        let store = SqliteStore::builder().open_temporary().await.unwrap();
        let applied = store.migrate().await.unwrap();
        assert_eq!(applied.len(), 13);
        let u = store
            .create_user(NewUser::new("a@b.c").unwrap())
            .await
            .unwrap();
        assert_eq!(store.get_user(&u.id).await.unwrap(), Some(u));
    }

    #[tokio::test]
    async fn a_transaction_sqlite_rolled_back_is_finished() {
        use crate::codec::Db as _;
        let store = SqliteStore::builder()
            .migrate(true)
            .open_temporary()
            .await
            .unwrap();
        let u = store
            .create_user(NewUser::new("fin@example.com").unwrap())
            .await
            .unwrap();
        let handle = store.handle.begin().await.unwrap();
        // As SQLite does by itself after an I/O error or a full disk.
        handle
            .write(|c| c.execute_batch("ROLLBACK").db())
            .await
            .unwrap();
        let tx = Box::new(SqliteTransaction { handle });
        let e = tx.get_user(&u.id).await.unwrap_err();
        assert!(matches!(e, StoreError::TransactionFinished { .. }), "{e:?}");
        assert_eq!(e.context().operation(), Some("get_user"));
        let e = tx.commit().await.unwrap_err();
        assert!(matches!(e, StoreError::TransactionFinished { .. }), "{e:?}");
        assert_eq!(e.context().operation(), Some("commit"));
        // The writer is free again.
        store.mark_verified(&u.id).await.unwrap();
    }

    /// `get_principal` on stores migrated for Core alone and for Core with
    /// Roles: the statement never names the tables of a feature not served,
    /// and that feature's list is empty.
    #[tokio::test]
    async fn principal_without_roles_or_permissions() {
        use fullauth_api::{Principal, RoleName, RoleStore, UserLookup};
        for features in [
            Features::from(Feature::Core),
            Features::from(Feature::Core).with(Feature::Roles),
        ] {
            let store = SqliteStore::builder()
                .features(features)
                .migrate(true)
                .open_temporary()
                .await
                .unwrap();
            let u = store
                .create_user(NewUser::new("p@example.com").unwrap())
                .await
                .unwrap();
            let has_permission_table = store
                .with_connection(|c| {
                    c.query_row(
                        "SELECT EXISTS(SELECT 1 FROM sqlite_master \
                         WHERE name = 'fullauth_role_permissions')",
                        [],
                        |r| r.get::<_, bool>(0),
                    )
                })
                .await
                .unwrap();
            assert!(!has_permission_table, "the case needs the table absent");
            let mut roles = Vec::new();
            if features.contains(Feature::Roles) {
                let r = RoleName::new("editor").unwrap();
                store.assign_role(&u.id, &r).await.unwrap();
                roles.push(r);
            }
            let p = store
                .get_principal(&UserLookup::Email(u.email.clone()))
                .await
                .unwrap();
            assert_eq!(
                p,
                Some(Principal {
                    user: u,
                    roles,
                    permissions: Vec::new(),
                }),
                "{features:?}"
            );
        }
    }

    #[test]
    fn urls_name_paths() {
        let p = |u: &str| path_of_url(u).map(|p| p.display().to_string());
        assert_eq!(p("sqlite://auth.db").unwrap(), "auth.db");
        assert_eq!(p("sqlite:///var/lib/a.db").unwrap(), "/var/lib/a.db");
        assert_eq!(p("sqlite:auth.db").unwrap(), "auth.db");
        assert_eq!(p("data/auth.db").unwrap(), "data/auth.db");
        for bad in [
            "",
            "sqlite://",
            "sqlite::memory:",
            ":memory:",
            "sqlite://a.db?mode=rwc",
        ] {
            assert!(
                matches!(p(bad), Err(StoreError::InvalidInput { field: "url", .. })),
                "{bad}"
            );
        }
    }
}
