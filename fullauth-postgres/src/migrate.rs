//! The migrator: [`PgMigrator`] on a pool, [`PgMigrations`] on the app's
//! own connection or transaction, and the exports.
//!
//! The migrations ([`MIGRATIONS`]) are the catalogue's
//! ([`fullauth_api::migrate::CATALOG`]) in PostgreSQL's dialect, in any
//! schema. Applied migrations are recorded in
//! `<schema>.fullauth_schema_migrations`, in the layout every backend shares.
//! `apply` and `adopt` run in one transaction (a savepoint inside the app's)
//! under `pg_advisory_xact_lock` on a key derived from the schema name, so
//! two processes migrating the same schema at once are safe: the second
//! waits, then finds nothing left to do. The lock is transaction-scoped,
//! its statements are unnamed (never cached per connection) and its reads
//! run in a transaction too, so the migrator also works through a pooler in
//! transaction mode (PgBouncer). The semantics are those of
//! [`SqlMigrator`], the same on every SQL backend; databases migrated by
//! fullauth-postgres 0.1 (ids `0001_core` … `0010_challenges`) carry over
//! (see [`fullauth_api::migrate`]).
//!
//! # Inside the app's own migrations
//!
//! An app that owns its schema with sqlx migrations has two ways to place
//! fullauth's among its own — say its `display_name` column on
//! `fullauth_users` must come after fullauth's tables.
//!
//! **As files of the app's migrations folder** (what `sqlx migrate run`,
//! `sqlx::migrate!` and refinery pick up). [`PgMigrations::export_sqlx`]
//! needs no database; write the files once with
//! [`write_migration_files`](fullauth_api::migrate::write_migration_files)
//! and commit them with the app's. A file's version is `base + sequence`
//! and never changes for a migration (nor does its content, so sqlx never
//! sees a checksum change): with base 0 fullauth's sort before sqlx-cli's
//! timestamp versions; with a base such as `20240601000000` they sit
//! between the app's migrations of before and after that date. Each file
//! records itself in `fullauth_schema_migrations`, so
//! [`PgMigrator::status`] agrees.
//!
//! ```
//! use fullauth_api::migrate::write_migration_files;
//! use fullauth_api::{Feature, Features};
//! use fullauth_postgres::PgMigrations;
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let files = PgMigrations::new("auth")?
//!     .export_sqlx(Features::from(Feature::Core).with(Feature::Roles), 20240601000000)?;
//! let names: Vec<String> = files.iter().map(|f| f.file_name()).collect();
//! assert_eq!(names[0], "20240601000001_fullauth_core_0001_users.sql");
//! assert_eq!(names[3], "20240601000004_fullauth_roles_0001_roles.sql");
//! assert!(files[0].sql.contains("CREATE TABLE \"auth\".fullauth_users ("));
//! let dir = std::env::temp_dir().join(format!("pg-migrations-{}", std::process::id()));
//! write_migration_files(&dir, &files)?; // next to 20250101000000_display_name.sql
//! # std::fs::remove_dir_all(&dir)?;
//! # Ok(()) }
//! ```
//!
//! **In code, on the app's connection or transaction.** [`PgMigrations`]
//! takes anything sqlx can [`Acquire`] a PostgreSQL connection from: a
//! `&PgPool`, a `&mut PgConnection`, or a `&mut Transaction` of the app,
//! where it runs in a savepoint and the app's `commit` decides. Here the
//! app's sqlx migrations run before and after fullauth's, all in one
//! transaction (two migrators over one `_sqlx_migrations` table each ignore
//! the other's versions):
//!
//! ```no_run
//! use fullauth_api::{Feature, Features};
//! use fullauth_postgres::PgMigrations;
//! use sqlx::PgPool;
//! use sqlx::migrate::Migrator;
//!
//! # async fn demo(pool: PgPool) -> Result<(), Box<dyn std::error::Error>> {
//! let mut before = Migrator::new(std::path::Path::new("migrations/before_fullauth")).await?;
//! let mut after = Migrator::new(std::path::Path::new("migrations/after_fullauth")).await?;
//! before.set_ignore_missing(true);
//! after.set_ignore_missing(true);
//!
//! let mut tx = pool.begin().await?;
//! before.run(&mut *tx).await?;
//! PgMigrations::new("public")?
//!     .apply(&mut *tx, Features::from(Feature::Core).with(Feature::Roles))
//!     .await?;
//! after.run(&mut *tx).await?; // ALTER TABLE fullauth_users ADD COLUMN display_name TEXT
//! tx.commit().await?;
//! # Ok(()) }
//! ```
//!
//! A store built on the same pool afterwards sees the app's columns
//! ([`PgStore::refresh_user_columns`](crate::PgStore::refresh_user_columns)
//! for a store built before).

use std::collections::BTreeSet;

#[cfg(doc)]
use fullauth_api::migrate::SqlMigrator;
use fullauth_api::migrate::engine::{
    self, ExportDialect, MigrationSet, TrackedState, TrackingRow, ids, nothing_present,
};
use fullauth_api::migrate::schema::{
    ColumnSpec, ColumnType, Fix, IndexSpec, LiveColumn, LiveForeignKey, LiveIndex, LiveTable,
    SchemaChange, ShortLivedTables, SqlDialect, TableSpec, canonical_type, check_index, diff_table,
    key_typed, key_typed_sql, user_key_column,
};
use fullauth_api::migrate::{
    AdoptReport, AppliedMigration, ExportedMigration, LEGACY_POSTGRES_0_1, Migration,
    MigrationRefusal, MigrationStatus, TRACKING_TABLE,
};
use fullauth_api::{Features, StoreError, StoreResult, Timestamp, UserIdType};
use sqlx::{Acquire, PgConnection, PgPool, Postgres, Row};
use time::OffsetDateTime;

use crate::ctx::{check_schema_name, quote_ident, render};
use crate::error::{DbError, map_sqlx};
use crate::migrations::MIGRATIONS;

const TRACKING: &str = "CREATE TABLE IF NOT EXISTS {s}.fullauth_schema_migrations (
	id VARCHAR(100) NOT NULL,
	feature VARCHAR(20),
	checksum VARCHAR(64) NOT NULL DEFAULT '',
	description TEXT,
	applied_at TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT CURRENT_TIMESTAMP,
	adopted BOOLEAN NOT NULL DEFAULT false,
	PRIMARY KEY (id)
);";

const LOCK: &str = "SELECT pg_advisory_xact_lock(hashtext('fullauth_schema_migrations:' || $1))";

static BLACKLIST: SchemaChange = SchemaChange {
    tables: &[TableSpec::short_lived(
        "fullauth_blacklist",
        &[
            ColumnSpec::new("key", ColumnType::Text),
            ColumnSpec::new("expires_at", ColumnType::Timestamp),
        ],
        &["key"],
    )],
    indexes: &[IndexSpec {
        name: "ix_fullauth_blacklist_expires_at",
        table: "fullauth_blacklist",
        columns: &["expires_at"],
        unique: false,
    }],
};

static LOCKOUT: SchemaChange = SchemaChange {
    tables: &[TableSpec::short_lived(
        "fullauth_lockouts",
        &[
            ColumnSpec::new("key", ColumnType::Text),
            ColumnSpec::new("failures", ColumnType::Integer),
            ColumnSpec::new("last_failure_at", ColumnType::Timestamp),
            ColumnSpec::nullable("locked_until", ColumnType::Timestamp),
            ColumnSpec::new("outcome", ColumnType::SmallInt),
        ],
        &["key"],
    )],
    indexes: &[],
};

static RATE_LIMIT: SchemaChange = SchemaChange {
    tables: &[TableSpec::short_lived(
        "fullauth_rate_limits",
        &[
            ColumnSpec::new("key", ColumnType::Text),
            ColumnSpec::new("hits", ColumnType::TimestampArray),
            ColumnSpec::new("allowed", ColumnType::Boolean),
        ],
        &["key"],
    )],
    indexes: &[],
};

static CHALLENGES: SchemaChange = SchemaChange {
    tables: &[TableSpec::short_lived(
        "fullauth_challenges",
        &[
            ColumnSpec::new("key", ColumnType::Text),
            ColumnSpec::new("value", ColumnType::Text),
            ColumnSpec::new("expires_at", ColumnType::Timestamp),
        ],
        &["key"],
    )],
    indexes: &[IndexSpec {
        name: "ix_fullauth_challenges_expires_at",
        table: "fullauth_challenges",
        columns: &["expires_at"],
        unique: false,
    }],
};

/// What migration `id` creates on PostgreSQL: the reference's tables for
/// the durable features
/// ([`reference_change`](fullauth_api::migrate::schema::reference_change)),
/// this crate's own `UNLOGGED` tables for the short-lived ones.
pub fn schema_change(id: &str) -> Option<&'static SchemaChange> {
    ShortLivedTables {
        blacklist: &BLACKLIST,
        lockout: &LOCKOUT,
        rate_limit: &RATE_LIMIT,
        challenges: &CHALLENGES,
    }
    .change(id)
}

/// This crate's migrations as the shared steps read them.
const SET: MigrationSet = MigrationSet {
    migrations: &MIGRATIONS,
    legacy: &LEGACY_POSTGRES_0_1,
    change_of: schema_change,
};

/// PostgreSQL's spelling of the catalogue's column types.
struct Dialect;

impl SqlDialect for Dialect {
    fn column_type(&self, ty: ColumnType) -> String {
        match ty {
            ColumnType::Uuid => "UUID".into(),
            ColumnType::Varchar(n) => format!("VARCHAR({n})"),
            ColumnType::Text => "TEXT".into(),
            ColumnType::UnboundedVarchar => "VARCHAR".into(),
            ColumnType::Boolean => "BOOLEAN".into(),
            ColumnType::Integer => "INTEGER".into(),
            ColumnType::SmallInt => "SMALLINT".into(),
            ColumnType::Timestamp => "TIMESTAMP WITH TIME ZONE".into(),
            ColumnType::TimestampArray => "TIMESTAMP WITH TIME ZONE[]".into(),
        }
    }
}

/// The migrations of this crate for one schema, on a connection the caller
/// gives — a pool, the app's connection, or a transaction of it (see the
/// [module docs](self)) — and the exports, which need no database.
///
/// Same semantics as [`SqlMigrator`] ([`PgMigrator`] runs these on its
/// pool).
///
/// # User key types
///
/// The migrations create the user key columns (`fullauth_users.id` and
/// every `user_id`) of one [`UserIdType`], set with
/// [`user_id_type`](Self::user_id_type) (UUID unless set; the migrations of
/// a store, [`PgStore::migrations`](crate::PgStore::migrations), have the
/// store's): `UUID`, or as fastapi-fullauth's SQLAlchemy models create them
/// for an app declared with `UserSchema[int]` (`id SERIAL`, `user_id
/// INTEGER`, each `user_id` first in its table) or `UserSchema[str]`
/// (`VARCHAR`). The checksums recorded are those of [`MIGRATIONS`] as
/// written (for UUID keys) whatever the key type, so the status of a
/// database never depends on it; the record of `core_0001_users` says the
/// key type in its description (`… (user ids: int)`) when it is not UUID.
/// [`apply`](Self::apply) refuses a database whose `fullauth_users.id`
/// holds keys of another type
/// ([`check_user_key`](fullauth_api::sql::check_user_key)'s error), and
/// [`adopt`](Self::adopt) answers it
/// [`MigrationRefusal::Incompatible`]; adopting tables of the key type
/// set compares them with the tables of that type.
///
/// ```
/// use fullauth_api::{Features, UserIdType};
/// use fullauth_postgres::PgMigrations;
///
/// # fn main() -> Result<(), fullauth_api::StoreError> {
/// let m = PgMigrations::new("auth")?.user_id_type(UserIdType::Int);
/// let sql = m.export_sql(Features::durable())?;
/// assert!(sql.contains("\tid SERIAL NOT NULL,"));
/// assert!(sql.contains("(user ids: int)"));
/// # Ok(()) }
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PgMigrations {
    schema: String,
    quoted: String,
    key: UserIdType,
}

impl PgMigrations {
    /// The migrations for `schema` (quoted in every statement: any name
    /// PostgreSQL accepts works), for UUID user keys. No I/O.
    ///
    /// # Errors
    /// [`StoreError::InvalidInput`] for a schema name PostgreSQL cannot hold.
    pub fn new(schema: impl Into<String>) -> StoreResult<Self> {
        let schema = schema.into();
        check_schema_name(&schema)?;
        let quoted = quote_ident(&schema);
        Ok(PgMigrations {
            schema,
            quoted,
            key: UserIdType::Uuid,
        })
    }

    /// The same migrations for users keyed by `t` (see the
    /// [type's docs](Self#user-key-types)). No I/O.
    pub fn user_id_type(mut self, t: UserIdType) -> Self {
        self.key = t;
        self
    }

    /// From a schema already checked and quoted (the store's).
    pub(crate) fn from_checked(schema: &str, quoted: &str, key: UserIdType) -> Self {
        PgMigrations {
            schema: schema.to_string(),
            quoted: quoted.to_string(),
            key,
        }
    }

    /// The schema.
    pub fn schema(&self) -> &str {
        &self.schema
    }

    /// The key type of the users the migrations create the tables for.
    pub fn key_type(&self) -> UserIdType {
        self.key
    }

    /// Every migration, in catalogue order, as written for UUID keys (the
    /// text their checksums are taken over; [`render`](Self::render) gives
    /// the SQL that runs).
    pub fn migrations(&self) -> &'static [Migration] {
        &MIGRATIONS
    }

    /// A migration's SQL as it runs on this schema, for this key type.
    pub fn render(&self, migration: &Migration) -> String {
        let (users_id, user_id) = match self.key {
            UserIdType::Uuid => ("UUID", "UUID"),
            UserIdType::Int => ("SERIAL", "INTEGER"),
            UserIdType::Text => ("VARCHAR", "VARCHAR"),
        };
        let typed = key_typed_sql(migration.sql, self.key, "UUID", users_id, user_id);
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
    async fn stored_key(&self, c: &mut PgConnection) -> StoreResult<Option<(UserIdType, String)>> {
        let found = crate::columns::read_catalog(c, &self.schema, false)
            .await
            .map_err(DbError::into_store)?;
        Ok(found.and_then(|f| f.key))
    }

    /// Where each feature stands, for the `chosen` features. Reads only.
    ///
    /// # Errors
    /// `InvalidInput` for an inconsistent set; `Unavailable` when the server
    /// cannot be reached; backend errors.
    pub async fn status<'c, A>(&self, conn: A, chosen: Features) -> StoreResult<MigrationStatus>
    where
        A: Acquire<'c, Database = Postgres>,
    {
        fullauth_api::migrate::check_sql_features(chosen)?;
        // In a transaction, so that a pooler in transaction mode keeps every
        // statement of the read on one server connection.
        let mut tx = conn.begin().await.map_err(map_sqlx)?;
        let state = self.read_state(&mut tx).await?;
        tx.commit().await.map_err(map_sqlx)?;
        SET.status(&state, chosen)
    }

    /// The migrations `apply(conn, chosen)` would run, in order. Reads only.
    ///
    /// # Errors
    /// As [`status`](Self::status).
    pub async fn plan<'c, A>(&self, conn: A, chosen: Features) -> StoreResult<Vec<Migration>>
    where
        A: Acquire<'c, Database = Postgres>,
    {
        let status = self.status(conn, chosen).await?;
        Ok(SET.pending(&status).into_iter().copied().collect())
    }

    /// Applies the pending migrations of `chosen` (see
    /// [`SqlMigrator::apply`]) in a transaction begun on `conn`: a
    /// savepoint when `conn` is the app's transaction, which then decides.
    ///
    /// # Errors
    /// As [`SqlMigrator::apply`].
    pub async fn apply<'c, A>(&self, conn: A, chosen: Features) -> StoreResult<Vec<String>>
    where
        A: Acquire<'c, Database = Postgres>,
    {
        fullauth_api::migrate::check_sql_features(chosen)?;
        let mut tx = conn.begin().await.map_err(map_sqlx)?;
        let out = self.apply_in(&mut tx, chosen, Timestamp::now()).await?;
        tx.commit().await.map_err(map_sqlx)?;
        Ok(out)
    }

    /// Adopts the existing tables of `chosen` (see [`SqlMigrator::adopt`])
    /// in a transaction begun on `conn`.
    ///
    /// # Errors
    /// As [`SqlMigrator::adopt`].
    pub async fn adopt<'c, A>(&self, conn: A, chosen: Features) -> StoreResult<AdoptReport>
    where
        A: Acquire<'c, Database = Postgres>,
    {
        fullauth_api::migrate::check_sql_features(chosen)?;
        let mut tx = conn.begin().await.map_err(map_sqlx)?;
        let out = self.adopt_in(&mut tx, chosen, Timestamp::now()).await?;
        tx.commit().await.map_err(map_sqlx)?;
        Ok(out)
    }

    /// The rows of `fullauth_schema_migrations` as stored (0.1 ids
    /// included), by id; empty when the table does not exist.
    ///
    /// # Errors
    /// `Unavailable` when the server cannot be reached; backend errors.
    pub async fn recorded<'c, A>(&self, conn: A) -> StoreResult<Vec<AppliedMigration>>
    where
        A: Acquire<'c, Database = Postgres>,
    {
        // In a transaction: see `status`.
        let mut tx = conn.begin().await.map_err(map_sqlx)?;
        let present = self.present_objects(&mut tx).await?;
        let rows = if present.contains(TRACKING_TABLE) {
            let cols = self.live_columns(&mut tx, TRACKING_TABLE).await?;
            self.read_rows(&mut tx, &cols).await?
        } else {
            Vec::new()
        };
        tx.commit().await.map_err(map_sqlx)?;
        Ok(rows.into_iter().map(AppliedMigration::from).collect())
    }

    /// Runs `f` with the export dialect of this schema and every migration
    /// rendered for it.
    fn export<T>(&self, f: impl FnOnce(&ExportDialect<'_>, &[(Migration, String)]) -> T) -> T {
        // The schema is created only when missing: CREATE SCHEMA IF NOT
        // EXISTS would need the CREATE privilege on the database anyway.
        let literal = quote_literal(&self.schema);
        let preamble = format!(
            "SELECT pg_advisory_xact_lock(hashtext('fullauth_schema_migrations:' || {literal}));\n\
             DO $fullauth$ BEGIN\n\
             IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_namespace WHERE nspname = {literal}) THEN\n\
             CREATE SCHEMA {};\n\
             END IF;\n\
             END $fullauth$;",
            self.quoted
        );
        let tracking = render(TRACKING, &self.quoted);
        let table = format!("{}.fullauth_schema_migrations", self.quoted);
        let items: Vec<(Migration, String)> = MIGRATIONS
            .iter()
            .map(|m| (self.as_recorded(m), self.render(m)))
            .collect();
        let dialect = ExportDialect {
            title: "fullauth schema for PostgreSQL (compatible with fastapi-fullauth 0.18)",
            preamble: &preamble,
            tracking_table: &tracking,
            table: &table,
            now: "now()",
            false_literal: "false",
        };
        f(&dialect, &items)
    }

    /// Every migration of `features` as one script for this schema and key
    /// type (see [`SqlMigrator::export_sql`]). No I/O.
    ///
    /// # Errors
    /// `InvalidInput` for an inconsistent set.
    pub fn export_sql(&self, features: Features) -> StoreResult<String> {
        self.export(|d, items| engine::export_script(d, features, items))
    }

    /// Every migration of `features` as sqlx-cli files for this schema and
    /// key type (see [`SqlMigrator::export_sqlx`]). No I/O.
    ///
    /// # Errors
    /// `InvalidInput` for an inconsistent set or a bad base.
    pub fn export_sqlx(
        &self,
        features: Features,
        version_base: i64,
    ) -> StoreResult<Vec<ExportedMigration>> {
        self.export(|d, items| engine::export_files(d, features, items, version_base))
    }

    async fn exec(&self, c: &mut PgConnection, sql: &str) -> StoreResult<()> {
        sqlx::raw_sql(sqlx::AssertSqlSafe(render(sql, &self.quoted)))
            .execute(&mut *c)
            .await
            .map_err(map_sqlx)?;
        Ok(())
    }

    async fn present_objects(&self, c: &mut PgConnection) -> StoreResult<BTreeSet<String>> {
        let names: Vec<String> = sqlx::query_scalar(
            "SELECT c.relname::text FROM pg_catalog.pg_class c \
             JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace \
             WHERE n.nspname = $1 AND c.relkind IN ('r', 'p', 'i', 'I')",
        )
        .persistent(false)
        .bind(&self.schema)
        .fetch_all(&mut *c)
        .await
        .map_err(map_sqlx)?;
        Ok(names.into_iter().collect())
    }

    async fn live_columns(
        &self,
        c: &mut PgConnection,
        table: &str,
    ) -> StoreResult<Vec<LiveColumn>> {
        let rows = sqlx::query(
            "SELECT a.attname::text, format_type(a.atttypid, a.atttypmod), NOT a.attnotnull, \
                    a.atthasdef \
             FROM pg_catalog.pg_attribute a \
             JOIN pg_catalog.pg_class cl ON cl.oid = a.attrelid \
             JOIN pg_catalog.pg_namespace n ON n.oid = cl.relnamespace \
             WHERE n.nspname = $1 AND cl.relname = $2 AND a.attnum > 0 AND NOT a.attisdropped \
             ORDER BY a.attnum",
        )
        .persistent(false)
        .bind(&self.schema)
        .bind(table)
        .fetch_all(&mut *c)
        .await
        .map_err(map_sqlx)?;
        rows.iter()
            .map(|r| {
                Ok(LiveColumn {
                    name: r.try_get(0).map_err(map_sqlx)?,
                    sql_type: canonical_type(&r.try_get::<String, _>(1).map_err(map_sqlx)?),
                    nullable: r.try_get(2).map_err(map_sqlx)?,
                    has_default: r.try_get(3).map_err(map_sqlx)?,
                })
            })
            .collect()
    }

    /// A table as `pg_catalog` describes it.
    async fn live_table(&self, c: &mut PgConnection, table: &str) -> StoreResult<LiveTable> {
        let columns = self.live_columns(c, table).await?;
        let rows = sqlx::query(
            "SELECT ic.relname::text, i.indisunique, i.indisprimary, \
                    array(SELECT a.attname::text FROM unnest(i.indkey::int2[]) WITH ORDINALITY \
                          AS k(attnum, ord) \
                          JOIN pg_catalog.pg_attribute a \
                            ON a.attrelid = i.indrelid AND a.attnum = k.attnum \
                          ORDER BY k.ord) \
             FROM pg_catalog.pg_index i \
             JOIN pg_catalog.pg_class ic ON ic.oid = i.indexrelid \
             JOIN pg_catalog.pg_class t ON t.oid = i.indrelid \
             JOIN pg_catalog.pg_namespace n ON n.oid = t.relnamespace \
             WHERE n.nspname = $1 AND t.relname = $2 \
             ORDER BY ic.relname",
        )
        .persistent(false)
        .bind(&self.schema)
        .bind(table)
        .fetch_all(&mut *c)
        .await
        .map_err(map_sqlx)?;
        let mut indexes = Vec::new();
        let mut primary_key = Vec::new();
        for r in &rows {
            let index = LiveIndex {
                name: r.try_get(0).map_err(map_sqlx)?,
                unique: r.try_get(1).map_err(map_sqlx)?,
                primary: r.try_get(2).map_err(map_sqlx)?,
                columns: r.try_get(3).map_err(map_sqlx)?,
            };
            if index.primary {
                primary_key = index.columns.clone();
            }
            indexes.push(index);
        }
        let rows = sqlx::query(
            "SELECT con.conname::text, \
                    array(SELECT a.attname::text FROM unnest(con.conkey) WITH ORDINALITY \
                          AS k(attnum, ord) \
                          JOIN pg_catalog.pg_attribute a \
                            ON a.attrelid = con.conrelid AND a.attnum = k.attnum \
                          ORDER BY k.ord), \
                    rt.relname::text, con.confdeltype = 'c' \
             FROM pg_catalog.pg_constraint con \
             JOIN pg_catalog.pg_class t ON t.oid = con.conrelid \
             JOIN pg_catalog.pg_namespace n ON n.oid = t.relnamespace \
             JOIN pg_catalog.pg_class rt ON rt.oid = con.confrelid \
             WHERE con.contype = 'f' AND n.nspname = $1 AND t.relname = $2 \
             ORDER BY con.conname",
        )
        .persistent(false)
        .bind(&self.schema)
        .bind(table)
        .fetch_all(&mut *c)
        .await
        .map_err(map_sqlx)?;
        let foreign_keys = rows
            .iter()
            .map(|r| {
                Ok(LiveForeignKey {
                    name: Some(r.try_get(0).map_err(map_sqlx)?),
                    columns: r.try_get(1).map_err(map_sqlx)?,
                    references: r.try_get(2).map_err(map_sqlx)?,
                    on_delete_cascade: r.try_get(3).map_err(map_sqlx)?,
                })
            })
            .collect::<StoreResult<Vec<_>>>()?;
        Ok(LiveTable {
            name: table.to_string(),
            columns,
            primary_key,
            indexes,
            foreign_keys,
        })
    }

    async fn read_rows(
        &self,
        c: &mut PgConnection,
        cols: &[LiveColumn],
    ) -> StoreResult<Vec<TrackingRow>> {
        let has = |n: &str| cols.iter().any(|c| c.name == n);
        let pick = |n: &str, cast: &str, fallback: &str| {
            if has(n) {
                format!("{n}{cast}")
            } else {
                fallback.to_string()
            }
        };
        let sql = format!(
            "SELECT id::text, {}, coalesce({}, ''), {}, {}, coalesce({}, false) \
             FROM {{s}}.fullauth_schema_migrations ORDER BY id",
            pick("feature", "::text", "NULL::text"),
            pick("checksum", "::text", "''"),
            pick("description", "::text", "NULL::text"),
            pick("applied_at", "", "now()"),
            pick("adopted", "", "false"),
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(render(&sql, &self.quoted)))
            .persistent(false)
            .fetch_all(&mut *c)
            .await
            .map_err(map_sqlx)?;
        rows.iter()
            .map(|r| {
                let at: OffsetDateTime = r.try_get(4).map_err(map_sqlx)?;
                Ok(TrackingRow {
                    id: r.try_get(0).map_err(map_sqlx)?,
                    feature: r.try_get(1).map_err(map_sqlx)?,
                    checksum: r.try_get(2).map_err(map_sqlx)?,
                    description: r.try_get(3).map_err(map_sqlx)?,
                    applied_at: Timestamp::from_datetime(at),
                    adopted: r.try_get(5).map_err(map_sqlx)?,
                })
            })
            .collect()
    }

    async fn read_state(&self, c: &mut PgConnection) -> StoreResult<TrackedState> {
        let present = self.present_objects(c).await?;
        if !present.contains(TRACKING_TABLE) {
            return Ok(SET.state(present, None));
        }
        let cols = self.live_columns(c, TRACKING_TABLE).await?;
        let rows = self.read_rows(c, &cols).await?;
        Ok(SET.state(present, Some((rows, &cols))))
    }

    async fn insert_row(&self, c: &mut PgConnection, row: &TrackingRow) -> StoreResult<()> {
        let sql = render(
            "INSERT INTO {s}.fullauth_schema_migrations \
             (id, feature, checksum, description, applied_at, adopted) \
             VALUES ($1, $2, $3, $4, $5, $6)",
            &self.quoted,
        );
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .persistent(false)
            .bind(&row.id)
            .bind(&row.feature)
            .bind(&row.checksum)
            .bind(&row.description)
            .bind(row.applied_at.to_datetime())
            .bind(row.adopted)
            .execute(&mut *c)
            .await
            .map_err(map_sqlx)?;
        Ok(())
    }

    /// Takes the advisory lock of the schema (held until the outermost
    /// transaction ends).
    async fn lock(&self, c: &mut PgConnection) -> StoreResult<()> {
        sqlx::query(LOCK)
            .persistent(false)
            .bind(&self.schema)
            .execute(&mut *c)
            .await
            .map_err(map_sqlx)?;
        Ok(())
    }

    /// Creates the schema and the tracking table, or rewrites the tracking
    /// table in the current layout. Returns the 0.1 ids rewritten.
    async fn ensure_tracking(
        &self,
        c: &mut PgConnection,
        state: &TrackedState,
    ) -> StoreResult<Vec<String>> {
        // Checked first: CREATE SCHEMA IF NOT EXISTS needs the CREATE
        // privilege on the database even when the schema exists.
        let (exists,): (bool,) = sqlx::query_as(
            "SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_namespace WHERE nspname = $1)",
        )
        .persistent(false)
        .bind(&self.schema)
        .fetch_one(&mut *c)
        .await
        .map_err(map_sqlx)?;
        if !exists {
            self.exec(c, &format!("CREATE SCHEMA {}", self.quoted))
                .await?;
        }
        if !state.needs_rewrite() {
            self.exec(c, TRACKING).await?;
            return Ok(Vec::new());
        }
        self.exec(c, "DROP TABLE {s}.fullauth_schema_migrations")
            .await?;
        self.exec(c, TRACKING).await?;
        for row in &state.carried.rows {
            self.insert_row(c, row).await?;
        }
        tracing::info!(
            schema = %self.schema,
            legacy = ?state.carried.legacy,
            "fullauth_schema_migrations rewritten in the 0.2 layout"
        );
        Ok(state.carried.legacy.clone())
    }

    async fn run_migration(&self, c: &mut PgConnection, m: &Migration) -> StoreResult<()> {
        sqlx::raw_sql(sqlx::AssertSqlSafe(self.render(m)))
            .execute(&mut *c)
            .await
            .map_err(|e| {
                let mut err = map_sqlx(e);
                if let StoreError::Backend { message, .. } = &mut err {
                    *message = format!("migration {} failed: {message}", m.id);
                }
                err
            })?;
        Ok(())
    }

    async fn apply_in(
        &self,
        c: &mut PgConnection,
        chosen: Features,
        now: Timestamp,
    ) -> StoreResult<Vec<String>> {
        self.lock(c).await?;
        let state = self.read_state(c).await?;
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
            self.insert_row(c, &self.row_of(m, now, false)).await?;
        }
        Ok(ids(&pending))
    }

    async fn adopt_in(
        &self,
        c: &mut PgConnection,
        chosen: Features,
        now: Timestamp,
    ) -> StoreResult<AdoptReport> {
        self.lock(c).await?;
        let state = self.read_state(c).await?;
        let mut report = AdoptReport::default();
        let Some(candidates) = SET.adopt_steps(&state, chosen)? else {
            return Ok(report);
        };
        // Users of another key type than this one's: nothing to adopt.
        if let Some((found, column_type)) = self.stored_key(c).await? {
            if found != self.key {
                return Err(MigrationRefusal::Incompatible {
                    table: "fullauth_users".into(),
                    column: "id".into(),
                    found: canonical_type(&column_type),
                    expected: Dialect.column_type(user_key_column(self.key)),
                }
                .into());
            }
        }
        report.carried_over = self.ensure_tracking(c, &state).await?;
        for m in candidates {
            let change = key_typed(SET.change(m)?, self.key);
            let present = self.present_objects(c).await?;
            if nothing_present(change, &present) {
                self.run_migration(c, m).await?;
                self.insert_row(c, &self.row_of(m, now, false)).await?;
                report.applied.push(m.id.to_string());
                continue;
            }
            self.adopt_change(c, change, &present, &mut report.notes)
                .await?;
            self.insert_row(c, &self.row_of(m, now, true)).await?;
            report.adopted.push(m.id.to_string());
        }
        Ok(report)
    }

    async fn adopt_change(
        &self,
        c: &mut PgConnection,
        change: &'static SchemaChange,
        present: &BTreeSet<String>,
        notes: &mut Vec<String>,
    ) -> StoreResult<()> {
        for t in change.tables {
            if !present.contains(t.name) {
                let mut sql = t.create_sql("{s}.", |ty| Dialect.column_type(ty), t.short_lived);
                if t.name == "fullauth_users" && self.key == UserIdType::Int {
                    // Numbered by the database, as the migration creates it.
                    sql = sql.replacen("\n\tid INTEGER NOT NULL,", "\n\tid SERIAL NOT NULL,", 1);
                }
                self.exec(c, &sql).await?;
                notes.push(format!("created the missing table {}", t.name));
                continue;
            }
            let live = self.live_table(c, t.name).await?;
            let diff = diff_table(t, &live, &Dialect)?;
            for fix in &diff.fixes {
                let sql = match fix {
                    Fix::AddColumn { table, column } => format!(
                        "ALTER TABLE {{s}}.{} ADD COLUMN {} {}",
                        table.name,
                        column.name,
                        Dialect.column_type(column.ty)
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
                            "ADD FOREIGN KEY({}) REFERENCES {{s}}.{} ({}) ON DELETE CASCADE",
                            fk.column, fk.references, fk.references_column
                        );
                        match existing {
                            Some(name) => format!(
                                "ALTER TABLE {{s}}.{} DROP CONSTRAINT {}, {add}",
                                table.name,
                                quote_ident(name)
                            ),
                            None => format!("ALTER TABLE {{s}}.{} {add}", table.name),
                        }
                    }
                };
                self.exec(c, &sql).await?;
                notes.push(fix.note());
            }
            notes.extend(diff.notes);
        }
        for i in change.indexes {
            let live = self.live_table(c, i.table).await?;
            match check_index(i, &live) {
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
}

fn quote_literal(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

fullauth_api::pool_migrator! {
    /// The migrator of one schema on a pool: [`SqlMigrator`] for PostgreSQL.
    ///
    /// ```no_run
    /// # async fn demo(pool: sqlx::PgPool) -> Result<(), fullauth_api::StoreError> {
    /// use fullauth_api::{Feature, Features};
    /// use fullauth_postgres::PgMigrator;
    ///
    /// let migrator = PgMigrator::new(pool, "auth")?;
    /// let features = Features::from(Feature::Core).with(Feature::Roles);
    /// println!("{}", migrator.plan_sql(features).await?); // review first
    /// let applied = migrator.apply(features).await?;
    /// assert!(migrator.status(features).await?.is_up_to_date());
    /// # let _ = applied; Ok(()) }
    /// ```
    #[derive(Clone, Debug)]
    pub struct PgMigrator {
        pool: PgPool,
        migrations: PgMigrations,
    }
    backend: "postgres",
    migrations: &MIGRATIONS,
    place: "schema",
}

impl PgMigrator {
    /// A migrator for `schema` on `pool`. No I/O.
    ///
    /// # Errors
    /// [`StoreError::InvalidInput`] for a schema name PostgreSQL cannot hold.
    pub fn new(pool: PgPool, schema: impl Into<String>) -> StoreResult<Self> {
        Ok(PgMigrator::from_parts(pool, PgMigrations::new(schema)?))
    }

    /// The schema this migrator works on.
    pub fn schema(&self) -> &str {
        self.migrations.schema()
    }

    /// The same migrator for users keyed by `t` (UUID unless set; a store's
    /// migrator, [`PgStore::migrator`](crate::PgStore::migrator), has the
    /// store's key type). See [`PgMigrations`' user key types](PgMigrations#user-key-types).
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
    }

    #[test]
    fn exports_need_no_database() {
        let m = PgMigrations::new("we'ird \"schema\"").unwrap();
        let sql = m.export_sql(Features::all()).unwrap();
        assert!(sql.contains("CREATE SCHEMA \"we'ird \"\"schema\"\"\";"));
        assert!(sql.contains("WHERE nspname = 'we''ird \"schema\"'"));
        assert!(sql.contains("'fullauth_schema_migrations:' || 'we''ird \"schema\"'"));
        let files = m.export_sqlx(Features::all(), 0).unwrap();
        assert_eq!(
            engine::export_file_problems(&files, MIGRATIONS.len()),
            Vec::<String>::new()
        );
        assert!(PgMigrations::new("").is_err());
    }

    #[test]
    fn integer_and_text_keys_retype_every_user_key_column() {
        let uuid = PgMigrations::new("auth").unwrap();
        for m in &MIGRATIONS {
            assert_eq!(uuid.render(m), render(m.sql, "\"auth\""));
        }
        for (t, users_id, user_id) in [
            (UserIdType::Int, "SERIAL", "INTEGER"),
            (UserIdType::Text, "VARCHAR", "VARCHAR"),
        ] {
            let typed = uuid.clone().user_id_type(t);
            assert_eq!(typed.key_type(), t);
            let (mut ids, mut user_ids) = (0, 0);
            for m in &MIGRATIONS {
                let sql = typed.render(m);
                assert!(!sql.contains("user_id UUID"), "{}: {sql}", m.id);
                ids += sql.matches(&format!("\n\tid {users_id} NOT NULL,")).count();
                user_ids += sql
                    .matches(&format!("(\n\tuser_id {user_id} NOT NULL,"))
                    .count();
                // Recorded under the checksum of the text as written.
                assert_eq!(
                    typed.row_of(m, Timestamp::now(), false).checksum,
                    m.checksum()
                );
            }
            assert_eq!((ids, user_ids), (1, 5), "{t}");
            let users = typed.row_of(&MIGRATIONS[0], Timestamp::now(), false);
            assert_eq!(
                users.description.as_deref(),
                Some(format!("{} (user ids: {t})", MIGRATIONS[0].description).as_str())
            );
            let tokens = typed.row_of(&MIGRATIONS[1], Timestamp::now(), false);
            assert_eq!(
                tokens.description.as_deref(),
                Some(MIGRATIONS[1].description)
            );

            let script = typed.export_sql(Features::all()).unwrap();
            assert!(script.contains(&format!("\tid {users_id} NOT NULL,")));
            assert_eq!(script.matches(&format!("(user ids: {t})")).count(), 2);
            assert!(script.contains(&MIGRATIONS[0].checksum()));
            let files = typed.export_sqlx(Features::all(), 0).unwrap();
            assert_eq!(
                engine::export_file_problems(&files, MIGRATIONS.len()),
                Vec::<String>::new()
            );
            assert!(files[0].description.ends_with(&format!("(user ids: {t})")));
            assert!(
                files[1]
                    .sql
                    .contains(&format!("\tuser_id {user_id} NOT NULL,"))
            );
        }
        let uuid_script = uuid.export_sql(Features::all()).unwrap();
        assert!(!uuid_script.contains("user ids:"));
    }
}
