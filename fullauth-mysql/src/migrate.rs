//! The migrator: [`MySqlMigrator`] on a pool, [`MySqlMigrations`] on the
//! app's own connection, and the exports.
//!
//! The migrations ([`MIGRATIONS`]) are the catalogue's
//! ([`fullauth_api::migrate::CATALOG`]) in MariaDB's dialect, in any
//! database. Applied migrations are recorded in
//! `<database>.fullauth_schema_migrations`, in the layout every backend
//! shares. The semantics are those of [`SqlMigrator`], the same on every SQL
//! backend, with one difference MariaDB imposes:
//!
//! # No transactional DDL
//!
//! MariaDB commits every `CREATE`, `ALTER` and `DROP` implicitly, and cannot
//! roll one back. So:
//!
//! * everything that can refuse is checked **before anything is written**:
//!   the server version, drift, tables without records and users of
//!   another key type (`apply`), missing NOT NULL columns and users of
//!   another key type (`adopt`). A refused `apply` or
//!   `adopt` leaves the database exactly as it was;
//! * `apply` runs each migration's statements, then records it (and commits
//!   the record), one migration after the other. A statement that fails
//!   half-way (the disk is full, the connection drops) leaves the
//!   migrations before it applied and recorded, and the failing one partly
//!   applied and not recorded: the error names it. Repair by hand what it
//!   created, or run `adopt`, which records what exists and adds the rest;
//! * there is no "all or nothing" for several migrations, and no savepoint.
//!
//! Two processes migrating the same database at once are serialised by
//! `GET_LOCK('fullauth_migrate:<database>', 60)` on the connection that
//! migrates (released with `RELEASE_LOCK` when done): the second waits, then
//! finds nothing left to do.
//!
//! The server must be MariaDB 10.7 or later (the native `UUID` type);
//! `apply` and `adopt` refuse MySQL and older MariaDB servers, naming the
//! version found.
//!
//! # Adopting a fastapi-fullauth database
//!
//! The tables fastapi-fullauth creates on MariaDB have plain `DATETIME`
//! columns (no microseconds), `TEXT` columns (64 KiB) and the server's
//! default collation (usually `utf8mb4_general_ci`: case-insensitive,
//! trailing spaces ignored). `adopt` widens every timestamp column of a
//! fullauth table to `DATETIME(6)` and every text column to `MEDIUMTEXT`
//! (keeping NULL / NOT NULL) and converts the table to `utf8mb4` with
//! `utf8mb4_nopad_bin`, one `ALTER TABLE` per table, and reports each as a
//! note (`widened …`, `converted …`), besides the fixes and notes every
//! backend reports. Values already stored keep their text; timestamps gain
//! zero microseconds.
//!
//! # Inside the app's own migrations
//!
//! **As files of the app's migrations folder** (what `sqlx migrate run`,
//! `sqlx::migrate!` and refinery pick up): [`MySqlMigrations::export_sqlx`]
//! needs no database. A file's version is `base + sequence` and never
//! changes for a migration, nor does its content. Each file records itself
//! in `fullauth_schema_migrations`, so [`MySqlMigrator::status`] agrees.
//!
//! ```
//! use fullauth_api::migrate::write_migration_files;
//! use fullauth_api::{Feature, Features};
//! use fullauth_mysql::MySqlMigrations;
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let files = MySqlMigrations::new("app")?
//!     .export_sqlx(Features::from(Feature::Core).with(Feature::Roles), 20240601000000)?;
//! let names: Vec<String> = files.iter().map(|f| f.file_name()).collect();
//! assert_eq!(names[0], "20240601000001_fullauth_core_0001_users.sql");
//! assert_eq!(names[3], "20240601000004_fullauth_roles_0001_roles.sql");
//! assert!(files[0].sql.contains("CREATE TABLE `app`.fullauth_users ("));
//! let dir = std::env::temp_dir().join(format!("mysql-migrations-{}", std::process::id()));
//! write_migration_files(&dir, &files)?;
//! # std::fs::remove_dir_all(&dir)?;
//! # Ok(()) }
//! ```
//!
//! **In code, on the app's connection.** [`MySqlMigrations`] takes anything
//! sqlx can [`Acquire`] a MariaDB connection from: a `&MySqlPool`, a `&mut
//! MySqlConnection`, or the connection of an app's transaction (`&mut
//! *tx`). It does not open a transaction of its own. Beware that inside the
//! app's transaction the first DDL statement **commits** what the app did
//! before in it, and what fullauth applied stays applied even if the app
//! rolls back afterwards (MariaDB's rule, not fullauth's); fullauth's
//! records are committed with its tables, so `status` always tells the
//! truth. Up to date, `apply` writes nothing and leaves the app's
//! transaction untouched.
//!
//! ```no_run
//! use fullauth_api::{Feature, Features};
//! use fullauth_mysql::MySqlMigrations;
//! use fullauth_mysql::sqlx::MySqlPool;
//!
//! # async fn demo(pool: MySqlPool) -> Result<(), Box<dyn std::error::Error>> {
//! let mut conn = pool.acquire().await?;
//! MySqlMigrations::new("app")?
//!     .apply(&mut *conn, Features::from(Feature::Core).with(Feature::Roles))
//!     .await?;
//! # Ok(()) }
//! ```

use std::collections::BTreeSet;
use std::future::Future;
use std::pin::Pin;

#[cfg(doc)]
use fullauth_api::migrate::SqlMigrator;
use fullauth_api::migrate::engine::{
    self, ExportDialect, MigrationSet, TrackedState, TrackingRow, ids, nothing_present,
};
use fullauth_api::migrate::schema::{
    self, ColumnSpec, ColumnType, Fix, LiveColumn, LiveForeignKey, LiveIndex, LiveTable,
    SchemaChange, ShortLivedTables, SqlDialect, TableSpec, canonical_type, check_index, diff_table,
    key_typed, key_typed_sql, user_key_column,
};
use fullauth_api::migrate::{
    AdoptReport, AppliedMigration, ExportedMigration, Migration, MigrationRefusal, MigrationStatus,
    TRACKING_TABLE,
};
use fullauth_api::{Features, StoreError, StoreResult, Timestamp, UserIdType};
use sqlx::mysql::MySqlRow;
use sqlx::{Acquire, MySql, MySqlConnection, MySqlPool, Row};
use time::PrimitiveDateTime;

use crate::ctx::{check_database_name, quote_ident, render};
use crate::error::{DbError, map_sqlx};
use crate::migrations::MIGRATIONS;

/// The tracking table, in the layout every backend shares.
const TRACKING: &str = "CREATE TABLE IF NOT EXISTS {s}.fullauth_schema_migrations (
	id VARCHAR(100) NOT NULL,
	feature VARCHAR(20),
	checksum VARCHAR(64) NOT NULL DEFAULT '',
	description TEXT,
	applied_at DATETIME(6) NOT NULL DEFAULT (UTC_TIMESTAMP(6)),
	adopted BOOL NOT NULL DEFAULT FALSE,
	PRIMARY KEY (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_nopad_bin;";

/// The future of a method of [`MySqlMigrations`] on a connection: boxed, so
/// that it is `Send` whatever the connection type (an `async fn` generic
/// over [`Acquire`] is not provably `Send` inside `async_trait` methods).
pub type MigrationFuture<'a, T> = Pin<Box<dyn Future<Output = StoreResult<T>> + Send + 'a>>;

/// The collation of every fullauth table.
const COLLATION: &str = "utf8mb4_nopad_bin";

/// How long `apply` and `adopt` wait for another migrator of the same
/// database, in seconds.
const LOCK_TIMEOUT_SECS: i64 = 60;

/// The oldest MariaDB with the native `UUID` type.
const MIN_MARIADB: (u32, u32) = (10, 7);

static LOCKOUT: SchemaChange = SchemaChange {
    tables: &[TableSpec::short_lived(
        "fullauth_lockouts",
        &[
            ColumnSpec::new("state_key", ColumnType::Varchar(512)),
            ColumnSpec::new("failures", ColumnType::Integer),
            ColumnSpec::new("last_failure_at", ColumnType::Timestamp),
            ColumnSpec::nullable("locked_until", ColumnType::Timestamp),
            ColumnSpec::new("outcome", ColumnType::SmallInt),
        ],
        &["state_key"],
    )],
    indexes: &[],
};

static RATE_LIMIT: SchemaChange = SchemaChange {
    tables: &[TableSpec::short_lived(
        "fullauth_rate_limits",
        &[
            ColumnSpec::new("state_key", ColumnType::Varchar(512)),
            ColumnSpec::new("hits", ColumnType::Text),
            ColumnSpec::new("updated_at", ColumnType::Timestamp),
        ],
        &["state_key"],
    )],
    indexes: &[],
};

/// What migration `id` creates on MariaDB: the reference's tables for the
/// durable features ([`schema::reference_change`]), this crate's own InnoDB
/// tables for the short-lived ones.
pub fn schema_change(id: &str) -> Option<&'static SchemaChange> {
    ShortLivedTables {
        blacklist: &schema::STATE_KEY_BLACKLIST,
        lockout: &LOCKOUT,
        rate_limit: &RATE_LIMIT,
        challenges: &schema::STATE_KEY_CHALLENGES,
    }
    .change(id)
}

/// This crate's migrations as the shared steps read them (no
/// fullauth-mysql 0.1 was released: nothing to carry over).
const SET: MigrationSet = MigrationSet {
    migrations: &MIGRATIONS,
    legacy: &[],
    change_of: schema_change,
};

/// MariaDB's spelling of the catalogue's column types, as
/// [`live_type`] reads them back (`DATETIME` whatever its precision; text
/// is `MEDIUMTEXT`).
struct Dialect;

impl SqlDialect for Dialect {
    fn column_type(&self, ty: ColumnType) -> String {
        match ty {
            ColumnType::Uuid => "UUID".into(),
            ColumnType::Varchar(n) => format!("VARCHAR({n})"),
            // TEXT holds 64 KiB; the contract's texts reach 1 MiB.
            ColumnType::Text | ColumnType::TimestampArray => "MEDIUMTEXT".into(),
            ColumnType::UnboundedVarchar => "VARCHAR(255)".into(),
            ColumnType::Boolean => "BOOLEAN".into(),
            ColumnType::Integer => "INTEGER".into(),
            ColumnType::SmallInt => "SMALLINT".into(),
            ColumnType::Timestamp => "DATETIME".into(),
        }
    }
}

/// The type as this crate's DDL writes it (timestamps with microseconds).
fn ddl_type(ty: ColumnType) -> String {
    match ty {
        ColumnType::Timestamp => "DATETIME(6)".into(),
        ColumnType::Boolean => "BOOL".into(),
        other => Dialect.column_type(other),
    }
}

/// The live table as [`diff_table`] sees it: a column the spec says is
/// text and that is stored as `TEXT` reads as `MEDIUMTEXT`, since `adopt`
/// widens it ([`MySqlMigrations::repair_table`]).
fn diff_view(t: &TableSpec, live: &MariaTable) -> LiveTable {
    let mut view = live.live.clone();
    for c in &mut view.columns {
        if c.sql_type == "TEXT" && t.column(&c.name).is_some_and(|s| s.ty == ColumnType::Text) {
            c.sql_type = "MEDIUMTEXT".into();
        }
    }
    view
}

/// The canonical spelling of a column type as `information_schema.COLUMNS.
/// COLUMN_TYPE` reports it: `tinyint(1)` → `BOOLEAN`, `int(11)` →
/// `INTEGER`, `smallint(6)` → `SMALLINT`, `bigint(20)` → `BIGINT`,
/// `datetime` and `datetime(6)` → `DATETIME`, the rest through
/// [`canonical_type`] (`varchar(320)` → `VARCHAR(320)`, `uuid` → `UUID`).
fn live_type(column_type: &str) -> String {
    let lower = column_type.trim().to_ascii_lowercase();
    let (base, unsigned) = match lower.strip_suffix(" unsigned") {
        Some(b) => (b.trim(), " UNSIGNED"),
        None => (lower.as_str(), ""),
    };
    let name = base.split('(').next().unwrap_or(base).trim();
    let canonical = match name {
        "tinyint" if base == "tinyint(1)" && unsigned.is_empty() => "BOOLEAN".to_string(),
        "int" | "integer" => "INTEGER".to_string(),
        "smallint" => "SMALLINT".to_string(),
        "bigint" => "BIGINT".to_string(),
        "mediumint" => "MEDIUMINT".to_string(),
        "tinyint" => "TINYINT".to_string(),
        "datetime" => "DATETIME".to_string(),
        _ => return canonical_type(column_type),
    };
    format!("{canonical}{unsigned}")
}

/// A column as `information_schema` describes it, with what `adopt` repairs.
struct MariaColumn {
    live: LiveColumn,
    /// `DATETIME` with fewer than 6 fractional digits.
    narrow_datetime: bool,
    /// Its collation, for text columns.
    collation: Option<String>,
}

/// A table as `information_schema` describes it.
struct MariaTable {
    live: LiveTable,
    columns: Vec<MariaColumn>,
    collation: Option<String>,
}

/// The migrations of this crate for one database, on a connection the
/// caller gives — a pool, the app's connection, or the connection of its
/// transaction (see the [module docs](self): DDL commits implicitly) — and
/// the exports, which need no database.
///
/// Same semantics as [`SqlMigrator`] ([`MySqlMigrator`] runs these on its
/// pool), except that MariaDB cannot roll DDL back.
///
/// # User key types
///
/// The migrations create the user key columns (`fullauth_users.id` and
/// every `user_id`) of one [`UserIdType`], set with
/// [`user_id_type`](Self::user_id_type) (UUID unless set; the migrations of
/// a store, [`MySqlStore::migrations`](crate::MySqlStore::migrations), have
/// the store's): `UUID`, or as fastapi-fullauth's SQLAlchemy models create
/// them on MariaDB for an app declared with `UserSchema[int]` (`id INTEGER
/// NOT NULL AUTO_INCREMENT`, `user_id INTEGER NOT NULL`, each `user_id`
/// first in its table; the fixture `tests/fixtures/reference_0_18_mariadb_int.sql`).
/// Text keys are refused by [`apply`](Self::apply), [`adopt`](Self::adopt)
/// and the exports ([`StoreError::InvalidInput`], field `user_id_type`):
/// fastapi-fullauth cannot create them on MariaDB (see
/// [`MySqlStoreBuilder::user_id_type`](crate::MySqlStoreBuilder::user_id_type)).
///
/// The checksums recorded are those of [`MIGRATIONS`] as written (for UUID
/// keys) whatever the key type, so the status of a database never depends
/// on it; the record of `core_0001_users` says the key type in its
/// description (`… (user ids: int)`) when it is not UUID. `apply` refuses a
/// database whose `fullauth_users.id` holds keys of another type
/// ([`check_user_key`](fullauth_api::sql::check_user_key)'s error), and
/// `adopt` answers it [`MigrationRefusal::Incompatible`], before anything
/// is written; adopting tables of the key type set compares them with the
/// tables of that type.
///
/// ```
/// use fullauth_api::{Features, UserIdType};
/// use fullauth_mysql::MySqlMigrations;
///
/// # fn main() -> Result<(), fullauth_api::StoreError> {
/// let m = MySqlMigrations::new("app")?.user_id_type(UserIdType::Int);
/// let sql = m.export_sql(Features::durable())?;
/// assert!(sql.contains("\tid INTEGER NOT NULL AUTO_INCREMENT,"));
/// assert!(sql.contains("(user ids: int)"));
/// # Ok(()) }
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MySqlMigrations {
    database: String,
    quoted: String,
    key: UserIdType,
}

impl MySqlMigrations {
    /// The migrations for `database` (quoted in every statement: any name
    /// MariaDB accepts works). No I/O.
    ///
    /// # Errors
    /// [`StoreError::InvalidInput`] for a database name MariaDB cannot hold.
    pub fn new(database: impl Into<String>) -> StoreResult<Self> {
        let database = database.into();
        check_database_name(&database)?;
        let quoted = quote_ident(&database);
        Ok(MySqlMigrations {
            database,
            quoted,
            key: UserIdType::Uuid,
        })
    }

    /// The same migrations for users keyed by `t` (see the
    /// [type's docs](Self#user-key-types); text keys are refused by every
    /// method that writes or exports). No I/O.
    pub fn user_id_type(mut self, t: UserIdType) -> Self {
        self.key = t;
        self
    }

    /// From a database name already checked and quoted (the store's).
    pub(crate) fn from_checked(database: &str, quoted: &str, key: UserIdType) -> Self {
        MySqlMigrations {
            database: database.to_string(),
            quoted: quoted.to_string(),
            key,
        }
    }

    /// The key type of the users the migrations create the tables for.
    pub fn key_type(&self) -> UserIdType {
        self.key
    }

    /// Refuses text keys ([`crate::MySqlStoreBuilder::user_id_type`]).
    fn check_key(&self) -> StoreResult<()> {
        if self.key == UserIdType::Text {
            return Err(crate::text_keys_refused());
        }
        Ok(())
    }

    /// The database.
    pub fn database(&self) -> &str {
        &self.database
    }

    /// Every migration, in catalogue order, as written for UUID keys (the
    /// text their checksums are taken over; [`render`](Self::render) gives
    /// the SQL that runs).
    pub fn migrations(&self) -> &'static [Migration] {
        &MIGRATIONS
    }

    /// A migration's SQL as it runs on this database, for this key type
    /// (text keys, which nothing runs, as `VARCHAR(255)`).
    pub fn render(&self, migration: &Migration) -> String {
        let (users_id, user_id) = match self.key {
            UserIdType::Uuid => ("UUID", "UUID"),
            UserIdType::Int => ("INTEGER", "INTEGER"),
            UserIdType::Text => ("VARCHAR(255)", "VARCHAR(255)"),
        };
        let mut typed = key_typed_sql(migration.sql, self.key, "UUID", users_id, user_id);
        if self.key == UserIdType::Int {
            // Numbered by the database, as SQLAlchemy creates an integer
            // primary key (only fullauth_users.id is an integer `id`).
            typed = typed.replacen(
                "\n\tid INTEGER NOT NULL,",
                "\n\tid INTEGER NOT NULL AUTO_INCREMENT,",
                1,
            );
        }
        render(&typed, &self.quoted)
    }

    /// `migration` as this key type records it: the description of
    /// `core_0001_users` names a key type other than UUID; the checksum is
    /// the migration's as written.
    fn as_recorded(&self, migration: &Migration) -> Migration {
        migration.recorded_for(self.key)
    }

    /// The tracking row recording `migration` for this key type.
    fn row_of(&self, migration: &Migration, now: Timestamp, adopted: bool) -> TrackingRow {
        TrackingRow::of(&self.as_recorded(migration), now, adopted)
    }

    /// The key type of `fullauth_users.id` in the database, with the
    /// column's type as the catalog spells it; `None` without that table
    /// (or column).
    async fn stored_key(
        &self,
        c: &mut MySqlConnection,
    ) -> StoreResult<Option<(UserIdType, String)>> {
        let found = crate::columns::read_catalog(c, &self.database)
            .await
            .map_err(DbError::into_store)?;
        Ok(found.and_then(|f| f.key))
    }

    /// Where each feature stands, for the `chosen` features. Reads only.
    ///
    /// # Errors
    /// `InvalidInput` for an inconsistent set; `Unavailable` when the server
    /// cannot be reached; backend errors.
    pub fn status<'a, 'c, A>(
        &'a self,
        conn: A,
        chosen: Features,
    ) -> MigrationFuture<'a, MigrationStatus>
    where
        A: Acquire<'c, Database = MySql> + Send + 'a,
        'c: 'a,
    {
        Box::pin(async move {
            fullauth_api::migrate::check_sql_features(chosen)?;
            let mut c = conn.acquire().await.map_err(map_sqlx)?;
            SET.status(&self.read_state(&mut c, false).await?, chosen)
        })
    }

    /// The migrations `apply(conn, chosen)` would run, in order. Reads only.
    ///
    /// # Errors
    /// As [`status`](Self::status).
    pub fn plan<'a, 'c, A>(
        &'a self,
        conn: A,
        chosen: Features,
    ) -> MigrationFuture<'a, Vec<Migration>>
    where
        A: Acquire<'c, Database = MySql> + Send + 'a,
        'c: 'a,
    {
        Box::pin(async move {
            let status = self.status(conn, chosen).await?;
            Ok(SET.pending(&status).into_iter().copied().collect())
        })
    }

    /// Applies the pending migrations of `chosen` (see
    /// [`SqlMigrator::apply`]) on `conn`, under the database's migration
    /// lock. Everything that can refuse is checked before anything is
    /// written; each migration is recorded (and committed) right after its
    /// statements ran. Inside the app's transaction, the first DDL
    /// statement commits it (MariaDB has no transactional DDL).
    ///
    /// # Errors
    /// As [`SqlMigrator::apply`]; a server other than MariaDB 10.7+; a
    /// migration that failed part-way is named in the error (the migrations
    /// before it stay applied and recorded).
    pub fn apply<'a, 'c, A>(&'a self, conn: A, chosen: Features) -> MigrationFuture<'a, Vec<String>>
    where
        A: Acquire<'c, Database = MySql> + Send + 'a,
        'c: 'a,
    {
        Box::pin(async move {
            fullauth_api::migrate::check_sql_features(chosen)?;
            self.check_key()?;
            let mut c = conn.acquire().await.map_err(map_sqlx)?;
            check_server(&mut c).await?;
            self.lock(&mut c).await?;
            let out = self.apply_in(&mut c, chosen, Timestamp::now()).await;
            self.unlock(&mut c).await;
            out
        })
    }

    /// Adopts the existing tables of `chosen` (see [`SqlMigrator::adopt`])
    /// on `conn`, under the database's migration lock; the refusals are
    /// checked on every table before anything is written.
    ///
    /// # Errors
    /// As [`SqlMigrator::adopt`]; a server other than MariaDB 10.7+.
    pub fn adopt<'a, 'c, A>(&'a self, conn: A, chosen: Features) -> MigrationFuture<'a, AdoptReport>
    where
        A: Acquire<'c, Database = MySql> + Send + 'a,
        'c: 'a,
    {
        Box::pin(async move {
            fullauth_api::migrate::check_sql_features(chosen)?;
            self.check_key()?;
            let mut c = conn.acquire().await.map_err(map_sqlx)?;
            check_server(&mut c).await?;
            self.lock(&mut c).await?;
            let out = self.adopt_in(&mut c, chosen, Timestamp::now()).await;
            self.unlock(&mut c).await;
            out
        })
    }

    /// The rows of `fullauth_schema_migrations` as stored, by id; empty
    /// when the table does not exist.
    ///
    /// # Errors
    /// `Unavailable` when the server cannot be reached; backend errors.
    pub fn recorded<'a, 'c, A>(&'a self, conn: A) -> MigrationFuture<'a, Vec<AppliedMigration>>
    where
        A: Acquire<'c, Database = MySql> + Send + 'a,
        'c: 'a,
    {
        Box::pin(self.recorded_inner(conn))
    }

    async fn recorded_inner<'c, A>(&self, conn: A) -> StoreResult<Vec<AppliedMigration>>
    where
        A: Acquire<'c, Database = MySql>,
    {
        let mut c = conn.acquire().await.map_err(map_sqlx)?;
        let present = self.present_objects(&mut c).await?;
        if !present.contains(TRACKING_TABLE) {
            return Ok(Vec::new());
        }
        let cols = self.live_columns(&mut c, TRACKING_TABLE).await?;
        let cols: Vec<LiveColumn> = cols.into_iter().map(|c| c.live).collect();
        Ok(self
            .read_rows(&mut c, &cols, false)
            .await?
            .into_iter()
            .map(AppliedMigration::from)
            .collect())
    }

    /// Runs `f` with the export dialect of this database and every migration
    /// rendered for it.
    fn export<T>(&self, f: impl FnOnce(&ExportDialect<'_>, &[(Migration, String)]) -> T) -> T {
        let preamble = format!(
            "CREATE DATABASE IF NOT EXISTS {} CHARACTER SET utf8mb4 COLLATE {COLLATION};",
            self.quoted
        );
        let tracking = render(TRACKING, &self.quoted);
        let table = format!("{}.fullauth_schema_migrations", self.quoted);
        let items: Vec<(Migration, String)> = MIGRATIONS
            .iter()
            .map(|m| (self.as_recorded(m), self.render(m)))
            .collect();
        let dialect = ExportDialect {
            title: "fullauth schema for MariaDB 10.7+ (compatible with fastapi-fullauth 0.18; \
                    MariaDB commits DDL implicitly: BEGIN/COMMIT do not make it atomic)",
            preamble: &preamble,
            tracking_table: &tracking,
            table: &table,
            now: "UTC_TIMESTAMP(6)",
            false_literal: "FALSE",
        };
        f(&dialect, &items)
    }

    /// Every migration of `features` as one script for this database (see
    /// [`SqlMigrator::export_sql`]). No I/O. The script's `BEGIN` and
    /// `COMMIT` do not make it atomic on MariaDB (DDL commits implicitly).
    ///
    /// # Errors
    /// `InvalidInput` for an inconsistent set.
    pub fn export_sql(&self, features: Features) -> StoreResult<String> {
        self.check_key()?;
        self.export(|d, items| engine::export_script(d, features, items))
    }

    /// Every migration of `features` as sqlx-cli files for this database
    /// (see [`SqlMigrator::export_sqlx`]). No I/O.
    ///
    /// # Errors
    /// `InvalidInput` for an inconsistent set or a bad base.
    pub fn export_sqlx(
        &self,
        features: Features,
        version_base: i64,
    ) -> StoreResult<Vec<ExportedMigration>> {
        self.check_key()?;
        self.export(|d, items| engine::export_files(d, features, items, version_base))
    }

    async fn exec(&self, c: &mut MySqlConnection, sql: &str) -> StoreResult<()> {
        sqlx::raw_sql(sqlx::AssertSqlSafe(render(sql, &self.quoted)))
            .execute(&mut *c)
            .await
            .map_err(map_sqlx)?;
        Ok(())
    }

    /// The names of the tables and indexes of the database.
    async fn present_objects(&self, c: &mut MySqlConnection) -> StoreResult<BTreeSet<String>> {
        let names: Vec<String> = sqlx::query_scalar(
            "SELECT CAST(TABLE_NAME AS CHAR) FROM information_schema.TABLES \
             WHERE TABLE_SCHEMA = ? AND TABLE_TYPE = 'BASE TABLE' \
             UNION SELECT CAST(INDEX_NAME AS CHAR) FROM information_schema.STATISTICS \
             WHERE TABLE_SCHEMA = ? AND INDEX_NAME <> 'PRIMARY'",
        )
        .bind(&self.database)
        .bind(&self.database)
        .fetch_all(&mut *c)
        .await
        .map_err(map_sqlx)?;
        Ok(names.into_iter().collect())
    }

    async fn live_columns(
        &self,
        c: &mut MySqlConnection,
        table: &str,
    ) -> StoreResult<Vec<MariaColumn>> {
        let rows = sqlx::query(
            "SELECT CAST(COLUMN_NAME AS CHAR), CAST(COLUMN_TYPE AS CHAR), \
                    CAST(DATA_TYPE AS CHAR), IS_NULLABLE = 'YES', \
                    COLUMN_DEFAULT IS NOT NULL AND COLUMN_DEFAULT <> 'NULL', \
                    CAST(COALESCE(DATETIME_PRECISION, 0) AS SIGNED), \
                    CAST(COLLATION_NAME AS CHAR) \
             FROM information_schema.COLUMNS \
             WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? ORDER BY ORDINAL_POSITION",
        )
        .bind(&self.database)
        .bind(table)
        .fetch_all(&mut *c)
        .await
        .map_err(map_sqlx)?;
        rows.iter().map(maria_column).collect()
    }

    /// A table as `information_schema` describes it. MariaDB creates an
    /// index for a foreign key that no index covers, named after its column,
    /// and drops it by itself when a covering index is created: such an
    /// index is left out of the live indexes, so that `adopt` creates the
    /// reference's named one instead of keeping it.
    async fn live_table(&self, c: &mut MySqlConnection, table: &str) -> StoreResult<MariaTable> {
        let columns = self.live_columns(c, table).await?;
        let collation: Option<String> = sqlx::query_scalar(
            "SELECT CAST(TABLE_COLLATION AS CHAR) FROM information_schema.TABLES \
             WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?",
        )
        .bind(&self.database)
        .bind(table)
        .fetch_optional(&mut *c)
        .await
        .map_err(map_sqlx)?
        .flatten();
        let rows = sqlx::query(
            "SELECT CAST(INDEX_NAME AS CHAR), CAST(NON_UNIQUE AS SIGNED), \
                    CAST(COLUMN_NAME AS CHAR) \
             FROM information_schema.STATISTICS \
             WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? \
             ORDER BY INDEX_NAME, SEQ_IN_INDEX",
        )
        .bind(&self.database)
        .bind(table)
        .fetch_all(&mut *c)
        .await
        .map_err(map_sqlx)?;
        let mut indexes: Vec<LiveIndex> = Vec::new();
        for r in &rows {
            let name: String = r.try_get(0).map_err(map_sqlx)?;
            let non_unique: i64 = r.try_get(1).map_err(map_sqlx)?;
            let column: String = r.try_get(2).map_err(map_sqlx)?;
            match indexes.last_mut() {
                Some(last) if last.name == name => last.columns.push(column),
                _ => indexes.push(LiveIndex {
                    primary: name == "PRIMARY",
                    name,
                    columns: vec![column],
                    unique: non_unique == 0,
                }),
            }
        }
        let primary_key = indexes
            .iter()
            .find(|i| i.primary)
            .map(|i| i.columns.clone())
            .unwrap_or_default();
        let rows = sqlx::query(
            "SELECT CAST(k.CONSTRAINT_NAME AS CHAR), CAST(k.COLUMN_NAME AS CHAR), \
                    CAST(k.REFERENCED_TABLE_NAME AS CHAR), r.DELETE_RULE = 'CASCADE' \
             FROM information_schema.KEY_COLUMN_USAGE k \
             JOIN information_schema.REFERENTIAL_CONSTRAINTS r \
               ON r.CONSTRAINT_SCHEMA = k.CONSTRAINT_SCHEMA \
              AND r.CONSTRAINT_NAME = k.CONSTRAINT_NAME AND r.TABLE_NAME = k.TABLE_NAME \
             WHERE k.TABLE_SCHEMA = ? AND k.TABLE_NAME = ? \
               AND k.REFERENCED_TABLE_NAME IS NOT NULL \
             ORDER BY k.CONSTRAINT_NAME, k.ORDINAL_POSITION",
        )
        .bind(&self.database)
        .bind(table)
        .fetch_all(&mut *c)
        .await
        .map_err(map_sqlx)?;
        let mut foreign_keys: Vec<LiveForeignKey> = Vec::new();
        for r in &rows {
            let name: String = r.try_get(0).map_err(map_sqlx)?;
            let column: String = r.try_get(1).map_err(map_sqlx)?;
            match foreign_keys.last_mut() {
                Some(last) if last.name.as_deref() == Some(name.as_str()) => {
                    last.columns.push(column)
                }
                _ => foreign_keys.push(LiveForeignKey {
                    name: Some(name),
                    columns: vec![column],
                    references: r.try_get(2).map_err(map_sqlx)?,
                    on_delete_cascade: r.try_get::<i64, _>(3).map_err(map_sqlx)? != 0,
                }),
            }
        }
        indexes.retain(|i| {
            let implicit = !i.primary
                && !i.unique
                && i.columns.len() == 1
                && i.columns[0] == i.name
                && foreign_keys
                    .iter()
                    .any(|f| f.columns.first() == Some(&i.name));
            !implicit
        });
        Ok(MariaTable {
            live: LiveTable {
                name: table.to_string(),
                columns: columns.iter().map(|c| c.live.clone()).collect(),
                primary_key,
                indexes,
                foreign_keys,
            },
            columns,
            collation,
        })
    }

    async fn read_rows(
        &self,
        c: &mut MySqlConnection,
        cols: &[LiveColumn],
        locking: bool,
    ) -> StoreResult<Vec<TrackingRow>> {
        let has = |n: &str| cols.iter().any(|c| c.name == n);
        let pick = |n: &str, fallback: &str| {
            if has(n) {
                n.to_string()
            } else {
                fallback.to_string()
            }
        };
        // Typed through CAST so that any layout decodes the same way.
        let sql = format!(
            "SELECT CAST(id AS CHAR), CAST({} AS CHAR), CAST(COALESCE({}, '') AS CHAR), \
                    CAST({} AS CHAR), CAST(COALESCE({}, UTC_TIMESTAMP(6)) AS DATETIME(6)), \
                    CAST(COALESCE({}, 0) AS SIGNED) \
             FROM {{s}}.fullauth_schema_migrations ORDER BY id{}",
            pick("feature", "NULL"),
            pick("checksum", "''"),
            pick("description", "NULL"),
            pick("applied_at", "NULL"),
            pick("adopted", "0"),
            // A locking read sees the latest committed rows even inside the
            // app's older snapshot.
            if locking { " LOCK IN SHARE MODE" } else { "" },
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(render(&sql, &self.quoted)))
            .fetch_all(&mut *c)
            .await
            .map_err(map_sqlx)?;
        rows.iter()
            .map(|r| {
                let at: PrimitiveDateTime = r.try_get(4).map_err(map_sqlx)?;
                Ok(TrackingRow {
                    id: r.try_get(0).map_err(map_sqlx)?,
                    feature: r.try_get(1).map_err(map_sqlx)?,
                    checksum: r.try_get(2).map_err(map_sqlx)?,
                    description: r.try_get(3).map_err(map_sqlx)?,
                    applied_at: Timestamp::from_datetime(at.assume_utc()),
                    adopted: r.try_get::<i64, _>(5).map_err(map_sqlx)? != 0,
                })
            })
            .collect()
    }

    async fn read_state(
        &self,
        c: &mut MySqlConnection,
        locking: bool,
    ) -> StoreResult<TrackedState> {
        let present = self.present_objects(c).await?;
        if !present.contains(TRACKING_TABLE) {
            return Ok(SET.state(present, None));
        }
        let cols: Vec<LiveColumn> = self
            .live_columns(c, TRACKING_TABLE)
            .await?
            .into_iter()
            .map(|c| c.live)
            .collect();
        let rows = self.read_rows(c, &cols, locking).await?;
        Ok(SET.state(present, Some((rows, &cols))))
    }

    async fn insert_row(&self, c: &mut MySqlConnection, row: &TrackingRow) -> StoreResult<()> {
        let sql = render(
            "INSERT INTO {s}.fullauth_schema_migrations \
             (id, feature, checksum, description, applied_at, adopted) \
             VALUES (?, ?, ?, ?, ?, ?)",
            &self.quoted,
        );
        let at = row.applied_at.to_datetime();
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(&row.id)
            .bind(&row.feature)
            .bind(&row.checksum)
            .bind(&row.description)
            .bind(PrimitiveDateTime::new(at.date(), at.time()))
            .bind(row.adopted)
            .execute(&mut *c)
            .await
            .map_err(map_sqlx)?;
        Ok(())
    }

    /// Records `row` and commits it: after a DDL statement the session is
    /// outside any transaction of the app's (MariaDB committed it), so the
    /// commit covers this record only, and the record never outlives or
    /// predates its tables.
    async fn record(&self, c: &mut MySqlConnection, row: &TrackingRow) -> StoreResult<()> {
        self.insert_row(c, row).await?;
        self.exec(c, "COMMIT").await
    }

    /// The name of the database's migration lock (at most 64 characters,
    /// MariaDB's limit: a long database name is shortened with a hash).
    fn lock_name(&self) -> String {
        let full = format!("fullauth_migrate:{}", self.database);
        if full.chars().count() <= 64 {
            return full;
        }
        // FNV-1a, 64 bits: stable across releases and platforms.
        let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
        for b in self.database.as_bytes() {
            hash ^= u64::from(*b);
            hash = hash.wrapping_mul(0x0100_0000_01b3);
        }
        let head: String = self.database.chars().take(30).collect();
        format!("fullauth_migrate:{head}~{hash:016x}")
    }

    /// Takes the database's migration lock on this connection (waiting up
    /// to a minute for another migrator).
    async fn lock(&self, c: &mut MySqlConnection) -> StoreResult<()> {
        let got: Option<i64> = sqlx::query_scalar("SELECT CAST(GET_LOCK(?, ?) AS SIGNED)")
            .bind(self.lock_name())
            .bind(LOCK_TIMEOUT_SECS)
            .fetch_one(&mut *c)
            .await
            .map_err(map_sqlx)?;
        match got {
            Some(1) => Ok(()),
            _ => Err(StoreError::backend_message(format!(
                "another migrator of the database {} held the lock {} for {LOCK_TIMEOUT_SECS} s: \
                 try again when it is done",
                self.database,
                self.lock_name()
            ))),
        }
    }

    /// Releases the migration lock (a lost connection released it already).
    async fn unlock(&self, c: &mut MySqlConnection) {
        let released = sqlx::query("SELECT RELEASE_LOCK(?)")
            .bind(self.lock_name())
            .execute(&mut *c)
            .await;
        if let Err(e) = released {
            tracing::warn!(database = %self.database, error = %e, "RELEASE_LOCK failed");
        }
    }

    /// Creates the database and the tracking table, or rewrites the
    /// tracking table in the current layout.
    async fn ensure_tracking(
        &self,
        c: &mut MySqlConnection,
        state: &TrackedState,
    ) -> StoreResult<()> {
        // Checked first: CREATE DATABASE IF NOT EXISTS needs the CREATE
        // privilege even when the database exists.
        let exists: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = ?",
        )
        .bind(&self.database)
        .fetch_one(&mut *c)
        .await
        .map_err(map_sqlx)?;
        if exists == 0 {
            self.exec(
                c,
                &format!("CREATE DATABASE {{s}} CHARACTER SET utf8mb4 COLLATE {COLLATION}"),
            )
            .await?;
        }
        if !state.needs_rewrite() {
            return self.exec(c, TRACKING).await;
        }
        self.exec(c, "DROP TABLE {s}.fullauth_schema_migrations")
            .await?;
        self.exec(c, TRACKING).await?;
        for row in &state.carried.rows {
            self.insert_row(c, row).await?;
        }
        self.exec(c, "COMMIT").await?;
        tracing::info!(
            database = %self.database,
            "fullauth_schema_migrations rewritten in the 0.2 layout"
        );
        Ok(())
    }

    /// Runs one migration's statements. A failure names the migration and
    /// says what MariaDB leaves behind.
    async fn run_migration(&self, c: &mut MySqlConnection, m: &Migration) -> StoreResult<()> {
        sqlx::raw_sql(sqlx::AssertSqlSafe(self.render(m)))
            .execute(&mut *c)
            .await
            .map_err(|e| {
                let mut err = map_sqlx(e);
                if let StoreError::Backend { message, .. } = &mut err {
                    *message = format!(
                        "migration {} failed: {message}. MariaDB cannot roll back DDL: the \
                         statements of {} before the failing one stay applied and it is not \
                         recorded (the migrations before it are); drop what it created or run \
                         adopt",
                        m.id, m.id
                    );
                }
                err
            })?;
        Ok(())
    }

    async fn apply_in(
        &self,
        c: &mut MySqlConnection,
        chosen: Features,
        now: Timestamp,
    ) -> StoreResult<Vec<String>> {
        let state = self.read_state(c, true).await?;
        let Some(pending) = SET.apply_steps(&state, chosen)? else {
            return Ok(Vec::new());
        };
        // Tables of this key type next to users of another type would not
        // even take their foreign keys: refused before anything is written.
        if let Some((found, column_type)) = self.stored_key(c).await? {
            fullauth_api::sql::check_user_key(self.key, found, &column_type)?;
        }
        self.ensure_tracking(c, &state).await?;
        for m in &pending {
            self.run_migration(c, m).await?;
            self.record(c, &self.row_of(m, now, false)).await?;
        }
        Ok(ids(&pending))
    }

    async fn adopt_in(
        &self,
        c: &mut MySqlConnection,
        chosen: Features,
        now: Timestamp,
    ) -> StoreResult<AdoptReport> {
        let state = self.read_state(c, true).await?;
        let mut report = AdoptReport::default();
        let Some(candidates) = SET.adopt_steps(&state, chosen)? else {
            return Ok(report);
        };
        // Every refusal before the first write (no DDL can be undone).
        // Users of another key type than this one's: nothing to adopt.
        if let Some((found, column_type)) = self.stored_key(c).await? {
            if found != self.key {
                return Err(MigrationRefusal::Incompatible {
                    table: "fullauth_users".into(),
                    column: "id".into(),
                    found: live_type(&column_type),
                    expected: Dialect.column_type(user_key_column(self.key)),
                }
                .into());
            }
        }
        for m in &candidates {
            let change = key_typed(SET.change(m)?, self.key);
            for t in change.tables {
                if state.present.contains(t.name) {
                    let live = self.live_table(c, t.name).await?;
                    diff_table(t, &diff_view(t, &live), &Dialect)?;
                }
            }
        }
        self.ensure_tracking(c, &state).await?;
        for m in candidates {
            let change = key_typed(SET.change(m)?, self.key);
            let present = self.present_objects(c).await?;
            if nothing_present(change, &present) {
                self.run_migration(c, m).await?;
                self.record(c, &self.row_of(m, now, false)).await?;
                report.applied.push(m.id.to_string());
                continue;
            }
            self.adopt_change(c, change, &present, &mut report.notes)
                .await?;
            self.record(c, &self.row_of(m, now, true)).await?;
            report.adopted.push(m.id.to_string());
        }
        Ok(report)
    }

    async fn adopt_change(
        &self,
        c: &mut MySqlConnection,
        change: &'static SchemaChange,
        present: &BTreeSet<String>,
        notes: &mut Vec<String>,
    ) -> StoreResult<()> {
        for t in change.tables {
            if !present.contains(t.name) {
                let mut sql = create_table_sql(t);
                if t.name == "fullauth_users" && self.key == UserIdType::Int {
                    // Numbered by the database, as the migration creates it.
                    sql = sql.replacen(
                        "\n\tid INTEGER NOT NULL,",
                        "\n\tid INTEGER NOT NULL AUTO_INCREMENT,",
                        1,
                    );
                }
                self.exec(c, &sql).await?;
                notes.push(format!("created the missing table {}", t.name));
                continue;
            }
            let live = self.live_table(c, t.name).await?;
            let diff = diff_table(t, &diff_view(t, &live), &Dialect)?;
            for fix in &diff.fixes {
                self.exec(c, &fix_sql(fix)).await?;
                notes.push(fix.note());
            }
            self.repair_table(c, t, &live, notes).await?;
            notes.extend(diff.notes);
        }
        for i in change.indexes {
            let live = self.live_table(c, i.table).await?;
            match check_index(i, &live.live) {
                Ok(None) => {}
                Ok(Some(note)) => notes.push(note),
                Err(fix) => {
                    self.exec(c, &i.create_sql("{s}.")).await?;
                    notes.push(fix.note());
                }
            }
        }
        Ok(())
    }

    /// Widens the spec's timestamp columns stored as `DATETIME` without
    /// microseconds to `DATETIME(6)` and converts a table of another
    /// collation to `utf8mb4_nopad_bin`, in one `ALTER TABLE` (one rebuild).
    async fn repair_table(
        &self,
        c: &mut MySqlConnection,
        t: &'static TableSpec,
        live: &MariaTable,
        notes: &mut Vec<String>,
    ) -> StoreResult<()> {
        let mut clauses = Vec::new();
        let mut found = Vec::new();
        if let Some(other) = live
            .collation
            .iter()
            .chain(live.columns.iter().filter_map(|c| c.collation.as_ref()))
            .find(|c| c.as_str() != COLLATION)
        {
            clauses.push(format!(
                "CONVERT TO CHARACTER SET utf8mb4 COLLATE {COLLATION}"
            ));
            found.push(format!(
                "converted {} to utf8mb4 with the {COLLATION} collation (was {other}): text \
                 compares byte for byte",
                t.name
            ));
        }
        for col in t.columns.iter().filter(|c| c.ty == ColumnType::Timestamp) {
            let Some(have) = live.columns.iter().find(|c| c.live.name == col.name) else {
                continue;
            };
            if have.narrow_datetime {
                clauses.push(format!(
                    "MODIFY {} DATETIME(6) {}",
                    quote_ident(col.name),
                    if have.live.nullable {
                        "NULL"
                    } else {
                        "NOT NULL"
                    }
                ));
                found.push(format!(
                    "widened {}.{} to DATETIME(6) (microseconds)",
                    t.name, col.name
                ));
            }
        }
        for col in t.columns.iter().filter(|c| c.ty == ColumnType::Text) {
            let Some(have) = live.columns.iter().find(|c| c.live.name == col.name) else {
                continue;
            };
            if have.live.sql_type == "TEXT" {
                clauses.push(format!(
                    "MODIFY {} MEDIUMTEXT {}",
                    quote_ident(col.name),
                    if have.live.nullable {
                        "NULL"
                    } else {
                        "NOT NULL"
                    }
                ));
                found.push(format!(
                    "widened {}.{} from TEXT to MEDIUMTEXT (64 KiB to 16 MiB)",
                    t.name, col.name
                ));
            }
        }
        if clauses.is_empty() {
            return Ok(());
        }
        self.exec(
            c,
            &format!("ALTER TABLE {{s}}.{} {}", t.name, clauses.join(", ")),
        )
        .await?;
        notes.extend(found);
        Ok(())
    }
}

fn maria_column(r: &MySqlRow) -> StoreResult<MariaColumn> {
    let column_type: String = r.try_get(1).map_err(map_sqlx)?;
    let data_type: String = r.try_get(2).map_err(map_sqlx)?;
    let precision: i64 = r.try_get(5).map_err(map_sqlx)?;
    Ok(MariaColumn {
        live: LiveColumn {
            name: r.try_get(0).map_err(map_sqlx)?,
            sql_type: live_type(&column_type),
            nullable: r.try_get::<i64, _>(3).map_err(map_sqlx)? != 0,
            has_default: r
                .try_get::<Option<i64>, _>(4)
                .map_err(map_sqlx)?
                .unwrap_or(0)
                != 0,
        },
        narrow_datetime: data_type.eq_ignore_ascii_case("datetime") && precision < 6,
        collation: r.try_get(6).map_err(map_sqlx)?,
    })
}

/// The server's version, refused unless MariaDB 10.7 or later (the native
/// `UUID` type).
async fn check_server(c: &mut MySqlConnection) -> StoreResult<()> {
    let version: String = sqlx::query_scalar("SELECT CAST(VERSION() AS CHAR)")
        .fetch_one(&mut *c)
        .await
        .map_err(map_sqlx)?;
    if server_supported(&version) {
        return Ok(());
    }
    Err(StoreError::backend_message(format!(
        "fullauth-mysql needs MariaDB {}.{} or later (its native UUID type); the server reports \
         VERSION() = '{version}'{}",
        MIN_MARIADB.0,
        MIN_MARIADB.1,
        if version.to_ascii_lowercase().contains("mariadb") {
            ""
        } else {
            " (MySQL is not supported)"
        }
    )))
}

/// True for a `VERSION()` of MariaDB 10.7 or later.
fn server_supported(version: &str) -> bool {
    if !version.to_ascii_lowercase().contains("mariadb") {
        return false;
    }
    // "5.5.5-10.11.6-MariaDB…" (the replication prefix) or "10.11.6-MariaDB…".
    let v = version.strip_prefix("5.5.5-").unwrap_or(version);
    let mut parts = v
        .split(|c: char| !c.is_ascii_digit())
        .map(|p| p.parse::<u32>().ok());
    match (parts.next().flatten(), parts.next().flatten()) {
        (Some(major), Some(minor)) => (major, minor) >= MIN_MARIADB,
        _ => false,
    }
}

/// The SQL of one fix `adopt` makes (`{s}` for the database).
fn fix_sql(fix: &Fix) -> String {
    match fix {
        Fix::AddColumn { table, column } => format!(
            "ALTER TABLE {{s}}.{} ADD COLUMN {} {}",
            table.name,
            column.name,
            ddl_type(column.ty)
        ),
        Fix::AddUnique { table, unique } => format!(
            "ALTER TABLE {{s}}.{} ADD CONSTRAINT {} UNIQUE ({})",
            table.name,
            unique.name,
            unique.columns.join(", ")
        ),
        Fix::CreateIndex(i) => i.create_sql("{s}."),
        Fix::ForeignKey {
            table,
            fk,
            existing,
            ..
        } => {
            let add = format!(
                "ADD FOREIGN KEY ({}) REFERENCES {{s}}.{} ({}) ON DELETE CASCADE",
                fk.column, fk.references, fk.references_column
            );
            match existing {
                Some(name) => format!(
                    "ALTER TABLE {{s}}.{} DROP FOREIGN KEY {}, {add}",
                    table.name,
                    quote_ident(name)
                ),
                None => format!("ALTER TABLE {{s}}.{} {add}", table.name),
            }
        }
    }
}

/// `CREATE TABLE` of a table spec, in this crate's layout (`{s}` for the
/// database).
fn create_table_sql(t: &TableSpec) -> String {
    format!(
        "{} ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE={COLLATION}",
        t.create_sql("{s}.", ddl_type, false)
    )
}

fullauth_api::pool_migrator! {
    /// The migrator of one database on a pool: [`SqlMigrator`] for MariaDB.
    ///
    /// ```no_run
    /// # async fn demo(pool: sqlx::MySqlPool) -> Result<(), fullauth_api::StoreError> {
    /// use fullauth_api::{Feature, Features};
    /// use fullauth_mysql::MySqlMigrator;
    ///
    /// let migrator = MySqlMigrator::new(pool, "app")?;
    /// let features = Features::from(Feature::Core).with(Feature::Roles);
    /// println!("{}", migrator.plan_sql(features).await?); // review first
    /// let applied = migrator.apply(features).await?;
    /// assert!(migrator.status(features).await?.is_up_to_date());
    /// # let _ = applied; Ok(()) }
    /// ```
    #[derive(Clone, Debug)]
    pub struct MySqlMigrator {
        pool: MySqlPool,
        migrations: MySqlMigrations,
    }
    backend: "mysql",
    migrations: &MIGRATIONS,
    place: "database",
}

impl MySqlMigrator {
    /// A migrator for `database` on `pool`. No I/O.
    ///
    /// # Errors
    /// [`StoreError::InvalidInput`] for a database name MariaDB cannot hold.
    pub fn new(pool: MySqlPool, database: impl Into<String>) -> StoreResult<Self> {
        Ok(MySqlMigrator::from_parts(
            pool,
            MySqlMigrations::new(database)?,
        ))
    }

    /// The database this migrator works on.
    pub fn database(&self) -> &str {
        self.migrations.database()
    }

    /// The same migrator for users keyed by `t` (see
    /// [`MySqlMigrations#user-key-types`]). No I/O.
    pub fn user_id_type(mut self, t: UserIdType) -> Self {
        self.migrations = self.migrations.user_id_type(t);
        self
    }

    /// The key type of the users the migrations create the tables for.
    pub fn key_type(&self) -> UserIdType {
        self.migrations.key_type()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_migration_is_described_and_its_sql_names_its_objects() {
        assert_eq!(SET.inconsistencies("{s}."), Vec::<String>::new());
        // Every column as this crate's DDL writes it.
        for m in &MIGRATIONS {
            for t in schema_change(m.id).expect("described").tables {
                for c in t.columns {
                    let line = format!(
                        "\t{} {}{}",
                        c.name,
                        ddl_type(c.ty),
                        if c.nullable { "," } else { " NOT NULL," }
                    );
                    assert!(m.sql.contains(&line), "{}: {line}", m.id);
                }
            }
        }
    }

    #[test]
    fn live_types_are_canonical() {
        assert_eq!(live_type("tinyint(1)"), "BOOLEAN");
        assert_eq!(live_type("int(11)"), "INTEGER");
        assert_eq!(live_type("smallint(6)"), "SMALLINT");
        assert_eq!(live_type("bigint(20) unsigned"), "BIGINT UNSIGNED");
        assert_eq!(live_type("datetime"), "DATETIME");
        assert_eq!(live_type("datetime(6)"), "DATETIME");
        assert_eq!(live_type("varchar(320)"), "VARCHAR(320)");
        assert_eq!(live_type("uuid"), "UUID");
        assert_eq!(live_type("text"), "TEXT");
        assert_eq!(live_type("tinyint(4)"), "TINYINT");
    }

    #[test]
    fn servers_are_checked_by_version() {
        assert!(server_supported("10.11.19-MariaDB-0+deb12u1"));
        assert!(server_supported("5.5.5-10.7.1-MariaDB"));
        assert!(server_supported("11.4.2-MariaDB"));
        assert!(!server_supported("10.6.12-MariaDB"));
        assert!(!server_supported("8.0.36"));
        assert!(!server_supported("MariaDB"));
    }

    #[test]
    fn lock_names_fit_mariadb() {
        let short = MySqlMigrations::new("app").unwrap();
        assert_eq!(short.lock_name(), "fullauth_migrate:app");
        let long = MySqlMigrations::new("x".repeat(64)).unwrap();
        assert_eq!(long.lock_name().chars().count(), 64);
        assert_ne!(
            long.lock_name(),
            MySqlMigrations::new(format!("{}y", "x".repeat(63)))
                .unwrap()
                .lock_name()
        );
    }

    #[test]
    fn exports_need_no_database() {
        let m = MySqlMigrations::new("we'ird `db`").unwrap();
        let sql = m.export_sql(Features::all()).unwrap();
        assert!(sql.contains("CREATE DATABASE IF NOT EXISTS `we'ird ``db```"));
        assert!(sql.contains("CREATE TABLE `we'ird ``db```.fullauth_users ("));
        let files = m.export_sqlx(Features::all(), 0).unwrap();
        assert_eq!(
            engine::export_file_problems(&files, MIGRATIONS.len()),
            Vec::<String>::new()
        );
        assert!(MySqlMigrations::new("").is_err());
    }
}
