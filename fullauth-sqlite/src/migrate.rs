//! Embedded migrations, per feature: the [`SqliteMigrator`] of a store and
//! [`SqliteMigrations`] for the app's own connection.
//!
//! The SQL of each migration is a file of this crate's `migrations/` folder,
//! named by its catalogue id ([`fullauth_api::migrate::CATALOG`]) and
//! embedded at compile time. The durable tables are exactly those of
//! fastapi-fullauth 0.18 on SQLite (its Appendix A DDL with `UUID` →
//! `CHAR(32)` and `TIMESTAMP WITH TIME ZONE` → `DATETIME`): same table, column
//! and index names, types, nullability, the named unique constraint
//! `uq_oauth_provider_user`, `ON DELETE CASCADE`, and no column defaults. The
//! short-lived tables and `fullauth_schema_migrations` are this crate's
//! additions.
//!
//! | id | feature | creates |
//! | --- | --- | --- |
//! | `core_0001_users` | core | `fullauth_users` |
//! | `core_0002_refresh_tokens` | core | `fullauth_refresh_tokens` with its token and family indexes |
//! | `core_0003_refresh_token_indexes` | core | the 0.17 indexes on `user_id` and `expires_at` |
//! | `roles_0001_roles` | roles | `fullauth_roles`, `fullauth_user_roles` |
//! | `permissions_0001_permissions` | permissions | `fullauth_permissions`, `fullauth_role_permissions` |
//! | `oauth_0001_accounts` | oauth | `fullauth_oauth_accounts` |
//! | `oauth_0002_user_index` | oauth | the 0.17 index on `user_id` |
//! | `passkeys_0001_passkeys` | passkeys | `fullauth_passkeys` |
//! | `mfa_0001_factors` | mfa | `fullauth_mfa` (0.18) |
//! | `blacklist_0001_blacklist` … `challenges_0001_challenges` | short-lived | `fullauth_blacklist`, `fullauth_lockout`, `fullauth_rate_limit`, `fullauth_challenges` |
//!
//! The semantics are those of [`SqlMigrator`], the same on every SQL
//! backend. Databases migrated by fullauth-sqlite 0.1 (ids `0001_core_users`
//! … `0013_challenges`) carry over: see [`fullauth_api::migrate`].
//!
//! # Inside the app's own migrations
//!
//! An app that owns its schema runs fullauth's migrations where it wants
//! them among its own, on its own connection: [`SqliteMigrations`] takes a
//! `&rusqlite::Connection` (a `&rusqlite::Transaction` is one). In
//! autocommit mode each call runs in its own `BEGIN IMMEDIATE` transaction;
//! inside the app's transaction it runs in a savepoint and the app's
//! `COMMIT` (or rollback) decides. Here the app creates a table of its own
//! first, then fullauth's tables, then adds its column to `fullauth_users`,
//! all in one transaction:
//!
//! ```
//! use fullauth_api::{Feature, Features};
//! use fullauth_sqlite::SqliteMigrations;
//! use fullauth_sqlite::rusqlite::Connection;
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let mut conn = Connection::open_in_memory()?;
//! let tx = conn.transaction()?;
//! tx.execute_batch("CREATE TABLE app_settings (key TEXT PRIMARY KEY, value TEXT)")?;
//! let applied = SqliteMigrations::new().apply(&tx, Features::from(Feature::Core))?;
//! assert_eq!(applied.len(), 3);
//! tx.execute_batch("ALTER TABLE fullauth_users ADD COLUMN display_name TEXT")?;
//! tx.commit()?;
//!
//! let status = SqliteMigrations::new().status(&conn, Features::from(Feature::Core))?;
//! assert!(status.is_up_to_date());
//! # Ok(()) }
//! ```
//!
//! An app whose migrations are files run by sqlx-cli (`sqlx migrate run`,
//! `sqlx::migrate!`) or refinery exports fullauth's as files of the same
//! folder. Their versions are `base + sequence` (stable across releases):
//! with base 0 they sort before sqlx-cli's timestamp versions, so an app
//! migration `20250101000000_display_name.sql` that alters `fullauth_users`
//! runs after them; choose another base to place them elsewhere. Each file
//! records itself in `fullauth_schema_migrations`, so the store's
//! [`status`](SqliteMigrator::status) agrees.
//!
//! ```
//! use fullauth_api::migrate::{write_migration_files, DEFAULT_SQLX_VERSION_BASE};
//! use fullauth_api::{Feature, Features};
//! use fullauth_sqlite::SqliteMigrations;
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let files = SqliteMigrations::new()
//!     .export_sqlx(Features::from(Feature::Core), DEFAULT_SQLX_VERSION_BASE)?;
//! assert_eq!(files[0].file_name(), "1_fullauth_core_0001_users.sql");
//! let dir = std::env::temp_dir().join(format!("migrations-{}", std::process::id()));
//! write_migration_files(&dir, &files)?; // then `sqlx migrate run --source <dir>`
//! # std::fs::remove_dir_all(&dir)?;
//! # Ok(()) }
//! ```

use std::collections::BTreeSet;

use fullauth_api::migrate::engine::{
    self, ExportDialect, MigrationSet, TrackedState, TrackingRow, ids, nothing_present,
};
use fullauth_api::migrate::schema::{
    self, ColumnSpec, ColumnType, Fix, IndexSpec, LiveColumn, LiveForeignKey, LiveIndex, LiveTable,
    SchemaChange, ShortLivedTables, SqlDialect, TableSpec, UniqueSpec, canonical_type, check_index,
    diff_table,
};
use fullauth_api::migrate::{
    AdoptReport, AppliedMigration, ExportedMigration, LEGACY_SQLITE_0_1, Migration,
    MigrationStatus, SqlMigrator, TRACKING_TABLE,
};
use fullauth_api::{Features, StoreError, StoreResult, Timestamp, UserIdType};
use rusqlite::types::ValueRef;
use rusqlite::{Connection, params};

use crate::codec::{Db, parse_ts, ts};
use crate::pool::Handle;

/// A catalogue entry with its SQL file; a file named after an id the
/// catalogue does not have fails the build (this runs at compile time).
const fn known(m: Option<Migration>) -> Migration {
    match m {
        Some(m) => m,
        None => panic!("a migration file whose id is not in fullauth_api::migrate::CATALOG"),
    }
}

macro_rules! migration {
    ($id:literal) => {
        known(Migration::of(
            $id,
            include_str!(concat!("../migrations/", $id, ".sql")),
        ))
    };
}

/// Every embedded migration, in catalogue order.
pub static MIGRATIONS: [Migration; 13] = [
    migration!("core_0001_users"),
    migration!("core_0002_refresh_tokens"),
    migration!("core_0003_refresh_token_indexes"),
    migration!("roles_0001_roles"),
    migration!("permissions_0001_permissions"),
    migration!("oauth_0001_accounts"),
    migration!("oauth_0002_user_index"),
    migration!("passkeys_0001_passkeys"),
    migration!("mfa_0001_factors"),
    migration!("blacklist_0001_blacklist"),
    migration!("lockout_0001_lockout"),
    migration!("rate_limit_0001_windows"),
    migration!("challenges_0001_challenges"),
];

/// The table where applied migrations are recorded.
pub const MIGRATIONS_TABLE: &str = TRACKING_TABLE;

/// The tracking table, in the layout every backend shares.
const TRACKING_DDL: &str = "CREATE TABLE IF NOT EXISTS fullauth_schema_migrations (
	id VARCHAR(100) NOT NULL,
	feature VARCHAR(20),
	checksum VARCHAR(64) NOT NULL DEFAULT '',
	description TEXT,
	applied_at DATETIME NOT NULL DEFAULT (strftime('%Y-%m-%d %H:%M:%f', 'now') || '000'),
	adopted BOOLEAN NOT NULL DEFAULT 0,
	PRIMARY KEY (id)
);";

const NOW_SQL: &str = "strftime('%Y-%m-%d %H:%M:%f', 'now') || '000'";

static LOCKOUT: SchemaChange = SchemaChange {
    tables: &[TableSpec::short_lived(
        "fullauth_lockout",
        &[
            ColumnSpec::new("state_key", ColumnType::Varchar(512)),
            ColumnSpec::new("attempts", ColumnType::Integer),
            ColumnSpec::nullable("locked_until", ColumnType::Timestamp),
            ColumnSpec::new("expires_at", ColumnType::Timestamp),
        ],
        &["state_key"],
    )],
    indexes: &[IndexSpec {
        name: "ix_fullauth_lockout_expires_at",
        table: "fullauth_lockout",
        columns: &["expires_at"],
        unique: false,
    }],
};

static RATE_LIMIT: SchemaChange = SchemaChange {
    tables: &[TableSpec::short_lived(
        "fullauth_rate_limit",
        &[
            ColumnSpec::new("id", ColumnType::Integer),
            ColumnSpec::new("state_key", ColumnType::Varchar(512)),
            ColumnSpec::new("hit_at", ColumnType::Timestamp),
            ColumnSpec::new("expires_at", ColumnType::Timestamp),
        ],
        &["id"],
    )],
    indexes: &[
        IndexSpec {
            name: "ix_fullauth_rate_limit_state_key_hit_at",
            table: "fullauth_rate_limit",
            columns: &["state_key", "hit_at"],
            unique: false,
        },
        IndexSpec {
            name: "ix_fullauth_rate_limit_expires_at",
            table: "fullauth_rate_limit",
            columns: &["expires_at"],
            unique: false,
        },
    ],
};

/// What migration `id` creates on SQLite: the reference's tables for the
/// durable features ([`schema::reference_change`]), this crate's own for the
/// short-lived ones.
pub fn schema_change(id: &str) -> Option<&'static SchemaChange> {
    ShortLivedTables {
        blacklist: &schema::STATE_KEY_BLACKLIST,
        lockout: &LOCKOUT,
        rate_limit: &RATE_LIMIT,
        challenges: &schema::STATE_KEY_CHALLENGES,
    }
    .change(id)
}

/// This crate's migrations as the shared steps read them.
const SET: MigrationSet = MigrationSet {
    migrations: &MIGRATIONS,
    legacy: &LEGACY_SQLITE_0_1,
    change_of: schema_change,
};

/// SQLite's spelling of the catalogue's column types.
struct Dialect;

impl SqlDialect for Dialect {
    fn column_type(&self, ty: ColumnType) -> String {
        match ty {
            ColumnType::Uuid => "CHAR(32)".into(),
            ColumnType::Varchar(n) => format!("VARCHAR({n})"),
            ColumnType::Text | ColumnType::TimestampArray => "TEXT".into(),
            ColumnType::UnboundedVarchar => "VARCHAR".into(),
            ColumnType::Boolean => "BOOLEAN".into(),
            ColumnType::Integer => "INTEGER".into(),
            ColumnType::SmallInt => "SMALLINT".into(),
            ColumnType::Timestamp => "DATETIME".into(),
        }
    }
}

const EXPORT: ExportDialect<'static> = ExportDialect {
    title: "fullauth schema for SQLite (compatible with fastapi-fullauth 0.18)",
    preamble: "",
    tracking_table: TRACKING_DDL,
    table: TRACKING_TABLE,
    now: NOW_SQL,
    false_literal: "0",
};

/// The SQL of every migration of `features` as one script (see
/// [`SqliteMigrations::export_sql`]).
///
/// # Errors
/// [`StoreError::InvalidInput`] for an inconsistent feature set.
#[deprecated(
    since = "0.2.0",
    note = "use `SqliteMigrations::new().export_sql(features)`"
)]
pub fn export_sql(features: Features) -> StoreResult<String> {
    SqliteMigrations::new().export_sql(features)
}

/// An identifier as written in DDL: bare when it is a plain lowercase name,
/// quoted otherwise.
fn ident(name: &str) -> String {
    let plain = name
        .bytes()
        .enumerate()
        .all(|(i, b)| b == b'_' || b.is_ascii_lowercase() || (i > 0 && b.is_ascii_digit()));
    if plain && !name.is_empty() {
        name.to_string()
    } else {
        crate::codec::quote_ident(name)
    }
}

/// What the database holds (see [`TrackedState`]).
fn read_state(c: &Connection) -> StoreResult<TrackedState> {
    let present = present_objects(c)?;
    if !present.contains(TRACKING_TABLE) {
        return Ok(SET.state(present, None));
    }
    let cols = live_columns(c, TRACKING_TABLE)?;
    let rows = read_rows(c, &cols)?;
    Ok(SET.state(present, Some((rows, &cols))))
}

/// Creates the tracking table, or rewrites it in the current layout with
/// the carried rows. Returns the 0.1 ids rewritten.
fn ensure_tracking(c: &Connection, state: &TrackedState) -> StoreResult<Vec<String>> {
    if !state.needs_rewrite() {
        c.execute_batch(TRACKING_DDL).db()?;
        return Ok(Vec::new());
    }
    c.execute_batch("DROP TABLE fullauth_schema_migrations")
        .db()?;
    c.execute_batch(TRACKING_DDL).db()?;
    for row in &state.carried.rows {
        insert_row(c, row)?;
    }
    tracing::info!(
        legacy = ?state.carried.legacy,
        "fullauth_schema_migrations rewritten in the 0.2 layout"
    );
    Ok(state.carried.legacy.clone())
}

fn present_objects(c: &Connection) -> StoreResult<BTreeSet<String>> {
    let mut stmt = c
        .prepare("SELECT name FROM sqlite_master WHERE type IN ('table', 'index')")
        .db()?;
    let names = stmt
        .query_map([], |r| r.get::<_, String>(0))
        .db()?
        .collect::<rusqlite::Result<BTreeSet<String>>>()
        .db()?;
    Ok(names)
}

fn read_rows(c: &Connection, cols: &[LiveColumn]) -> StoreResult<Vec<TrackingRow>> {
    let has = |n: &str| cols.iter().any(|c| c.name == n);
    let pick = |n: &str, fallback: &str| {
        if has(n) {
            n.to_string()
        } else {
            fallback.to_string()
        }
    };
    let sql = format!(
        "SELECT id, {}, {}, {}, {}, {} FROM fullauth_schema_migrations ORDER BY id",
        pick("feature", "NULL"),
        pick("checksum", "''"),
        pick("description", "NULL"),
        pick("applied_at", "NULL"),
        pick("adopted", "0"),
    );
    let mut stmt = c.prepare(&sql).db()?;
    let mut rows = stmt.query([]).db()?;
    let mut out = Vec::new();
    while let Some(r) = rows.next().db()? {
        let applied_at = match r.get::<_, Option<String>>(4).db()? {
            Some(t) => parse_ts(&t)?,
            None => Timestamp::now(),
        };
        let adopted = match r.get_ref(5).db()? {
            ValueRef::Integer(i) => i != 0,
            ValueRef::Text(t) => matches!(t, b"1" | b"true" | b"TRUE"),
            _ => false,
        };
        out.push(TrackingRow {
            id: r.get(0).db()?,
            feature: r.get(1).db()?,
            checksum: r.get::<_, Option<String>>(2).db()?.unwrap_or_default(),
            description: r.get(3).db()?,
            applied_at,
            adopted,
        });
    }
    Ok(out)
}

fn insert_row(c: &Connection, row: &TrackingRow) -> StoreResult<()> {
    c.execute(
        "INSERT INTO fullauth_schema_migrations \
         (id, feature, checksum, description, applied_at, adopted) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![
            row.id,
            row.feature,
            row.checksum,
            row.description,
            ts(row.applied_at),
            i64::from(row.adopted)
        ],
    )
    .db()?;
    Ok(())
}

fn live_columns(c: &Connection, table: &str) -> StoreResult<Vec<LiveColumn>> {
    let mut stmt = c
        .prepare(
            "SELECT name, type, \"notnull\", dflt_value IS NOT NULL FROM pragma_table_info(?1) \
             ORDER BY cid",
        )
        .db()?;
    let cols = stmt
        .query_map([table], |r| {
            Ok(LiveColumn {
                name: r.get(0)?,
                sql_type: canonical_type(&r.get::<_, String>(1)?),
                nullable: r.get::<_, i64>(2)? == 0,
                has_default: r.get::<_, bool>(3)?,
            })
        })
        .db()?
        .collect::<rusqlite::Result<Vec<_>>>()
        .db()?;
    Ok(cols)
}

/// A table as SQLite's pragmas describe it.
fn live_table(c: &Connection, table: &str) -> StoreResult<LiveTable> {
    let columns = live_columns(c, table)?;
    let mut pk: Vec<(i64, String)> = c
        .prepare("SELECT pk, name FROM pragma_table_info(?1) WHERE pk > 0")
        .db()?
        .query_map([table], |r| Ok((r.get(0)?, r.get(1)?)))
        .db()?
        .collect::<rusqlite::Result<Vec<_>>>()
        .db()?;
    pk.sort();
    let list: Vec<(String, bool, String)> = c
        .prepare("SELECT name, \"unique\", origin FROM pragma_index_list(?1)")
        .db()?
        .query_map([table], |r| {
            Ok((r.get(0)?, r.get::<_, i64>(1)? != 0, r.get(2)?))
        })
        .db()?
        .collect::<rusqlite::Result<Vec<_>>>()
        .db()?;
    let mut indexes = Vec::new();
    for (name, unique, origin) in list {
        let columns: Vec<String> = c
            .prepare("SELECT coalesce(name, '') FROM pragma_index_info(?1) ORDER BY seqno")
            .db()?
            .query_map([&name], |r| r.get(0))
            .db()?
            .collect::<rusqlite::Result<Vec<_>>>()
            .db()?;
        indexes.push(LiveIndex {
            name,
            columns,
            unique,
            primary: origin == "pk",
        });
    }
    let fk_rows: Vec<(i64, String, String, String)> = c
        .prepare(
            "SELECT id, \"table\", \"from\", on_delete FROM pragma_foreign_key_list(?1) \
             ORDER BY id, seq",
        )
        .db()?
        .query_map([table], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
        })
        .db()?
        .collect::<rusqlite::Result<Vec<_>>>()
        .db()?;
    let mut foreign_keys: Vec<(i64, LiveForeignKey)> = Vec::new();
    for (id, references, from, on_delete) in fk_rows {
        match foreign_keys.iter_mut().find(|(i, _)| *i == id) {
            Some((_, fk)) => fk.columns.push(from),
            None => foreign_keys.push((
                id,
                LiveForeignKey {
                    name: None,
                    columns: vec![from],
                    references,
                    on_delete_cascade: on_delete.eq_ignore_ascii_case("CASCADE"),
                },
            )),
        }
    }
    Ok(LiveTable {
        name: table.to_string(),
        columns,
        primary_key: pk.into_iter().map(|(_, n)| n).collect(),
        indexes,
        foreign_keys: foreign_keys.into_iter().map(|(_, f)| f).collect(),
    })
}

/// `CREATE TABLE` of a table spec, in the reference's layout.
fn create_table_sql(t: &TableSpec) -> String {
    t.create_sql("", |ty| Dialect.column_type(ty), false)
}

fn unique_index_sql(table: &str, u: &UniqueSpec) -> String {
    format!(
        "CREATE UNIQUE INDEX {} ON {table} ({})",
        u.name,
        u.columns.join(", ")
    )
}

/// Rebuilds `spec`'s table with its foreign keys as the spec says (SQLite
/// cannot alter a foreign key): a new table with the same columns (types,
/// NOT NULL, defaults), primary key and unique constraints, the rows copied,
/// the old table dropped, the new one renamed and the indexes recreated. The
/// tables fullauth rebuilds are leaves (no table references them).
fn rebuild_foreign_keys(c: &Connection, spec: &TableSpec) -> StoreResult<()> {
    let t = spec.name;
    let tmp = format!("{t}__fullauth_rebuild");
    let cols: Vec<(String, String, bool, Option<String>)> = c
        .prepare(
            "SELECT name, type, \"notnull\", dflt_value FROM pragma_table_info(?1) ORDER BY cid",
        )
        .db()?
        .query_map([t], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get::<_, i64>(2)? != 0, r.get(3)?))
        })
        .db()?
        .collect::<rusqlite::Result<Vec<_>>>()
        .db()?;
    let live = live_table(c, t)?;
    let mut parts: Vec<String> = cols
        .iter()
        .map(|(name, ty, not_null, default)| {
            let mut s = format!("\t{} {ty}", ident(name));
            if *not_null {
                s.push_str(" NOT NULL");
            }
            if let Some(d) = default {
                s.push_str(&format!(" DEFAULT {d}"));
            }
            s
        })
        .collect();
    if !live.primary_key.is_empty() {
        let pk: Vec<String> = live.primary_key.iter().map(|n| ident(n)).collect();
        parts.push(format!("\tPRIMARY KEY ({})", pk.join(", ")));
    }
    let origins: Vec<(String, String)> = c
        .prepare("SELECT name, origin FROM pragma_index_list(?1)")
        .db()?
        .query_map([t], |r| Ok((r.get(0)?, r.get(1)?)))
        .db()?
        .collect::<rusqlite::Result<Vec<_>>>()
        .db()?;
    for ix in &live.indexes {
        let from_constraint = origins.iter().any(|(n, o)| n == &ix.name && o == "u");
        if !from_constraint {
            continue;
        }
        let mut sorted_cols = ix.columns.clone();
        sorted_cols.sort();
        let named = spec.uniques.iter().find(|u| {
            let mut uc: Vec<String> = u.columns.iter().map(|s| s.to_string()).collect();
            uc.sort();
            uc == sorted_cols
        });
        let cols: Vec<String> = ix.columns.iter().map(|n| ident(n)).collect();
        parts.push(match named {
            Some(u) => format!("\tCONSTRAINT {} UNIQUE ({})", u.name, cols.join(", ")),
            None => format!("\tUNIQUE ({})", cols.join(", ")),
        });
    }
    let fk_rows: Vec<(i64, String, String, Option<String>, String, String)> = c
        .prepare(
            "SELECT id, \"table\", \"from\", \"to\", on_update, on_delete \
             FROM pragma_foreign_key_list(?1) ORDER BY id, seq",
        )
        .db()?
        .query_map([t], |r| {
            Ok((
                r.get(0)?,
                r.get(1)?,
                r.get(2)?,
                r.get(3)?,
                r.get(4)?,
                r.get(5)?,
            ))
        })
        .db()?
        .collect::<rusqlite::Result<Vec<_>>>()
        .db()?;
    for fk in spec.foreign_keys {
        parts.push(format!(
            "\tFOREIGN KEY({}) REFERENCES {} ({}) ON DELETE CASCADE",
            fk.column, fk.references, fk.references_column
        ));
    }
    for (_, table, from, to, on_update, on_delete) in &fk_rows {
        if spec
            .foreign_keys
            .iter()
            .any(|f| f.column == from && f.references == table)
        {
            continue;
        }
        let mut s = format!("\tFOREIGN KEY({}) REFERENCES {}", ident(from), ident(table));
        if let Some(to) = to {
            s.push_str(&format!(" ({})", ident(to)));
        }
        if on_delete != "NO ACTION" {
            s.push_str(&format!(" ON DELETE {on_delete}"));
        }
        if on_update != "NO ACTION" {
            s.push_str(&format!(" ON UPDATE {on_update}"));
        }
        parts.push(s);
    }
    let index_sql: Vec<String> = c
        .prepare("SELECT sql FROM sqlite_master WHERE type = 'index' AND tbl_name = ?1 AND sql IS NOT NULL")
        .db()?
        .query_map([t], |r| r.get(0))
        .db()?
        .collect::<rusqlite::Result<Vec<_>>>()
        .db()?;
    let names: Vec<String> = cols.iter().map(|(n, ..)| ident(n)).collect();
    let names = names.join(", ");
    let script = format!(
        "CREATE TABLE {tmp} (\n{}\n);\nINSERT INTO {tmp} ({names}) SELECT {names} FROM {t};\n\
         DROP TABLE {t};\nALTER TABLE {tmp} RENAME TO {t};",
        parts.join(",\n")
    );
    c.execute_batch(&script).map_err(|e| {
        StoreError::backend(
            format!(
                "rebuilding {t} with ON DELETE CASCADE failed (rows that reference a missing \
                 row stop it: delete them first)"
            ),
            e,
        )
    })?;
    for sql in index_sql {
        c.execute_batch(&sql).db()?;
    }
    Ok(())
}

/// Runs `f` atomically on `c`: in its own `BEGIN IMMEDIATE` transaction in
/// autocommit mode, in a savepoint inside the caller's transaction.
fn atomically<T>(c: &Connection, f: impl FnOnce() -> StoreResult<T>) -> StoreResult<T> {
    let own = c.is_autocommit();
    c.execute_batch(if own {
        "BEGIN IMMEDIATE"
    } else {
        "SAVEPOINT fullauth_migrate"
    })
    .db()?;
    let undo = || {
        let _ = c.execute_batch(if own {
            "ROLLBACK"
        } else {
            "ROLLBACK TO fullauth_migrate; RELEASE fullauth_migrate"
        });
    };
    match f() {
        Ok(v) => {
            let done = c.execute_batch(if own {
                "COMMIT"
            } else {
                "RELEASE fullauth_migrate"
            });
            if let Err(e) = done {
                undo();
                return Err(crate::codec::db_err(e));
            }
            Ok(v)
        }
        Err(e) => {
            undo();
            Err(e)
        }
    }
}

/// The migrations of this crate on a connection the caller gives — the
/// app's own, or a transaction of it (see the [module docs](self)). Also
/// the exports, which need no database.
///
/// Same semantics as [`SqlMigrator`] (the store's [`SqliteMigrator`] runs
/// these on its writer), synchronously.
#[derive(Clone, Copy, Debug, Default)]
pub struct SqliteMigrations {
    user_id_type: Option<UserIdType>,
}

impl SqliteMigrations {
    /// The migrations of this crate, for the user key type the database
    /// has (UUID for a new one).
    pub const fn new() -> Self {
        SqliteMigrations { user_id_type: None }
    }

    /// The migrations for a database that keys its users by `t`
    /// ([`UserIdType`]): `apply` creates `fullauth_users.id` and the
    /// `user_id` columns as SQLAlchemy does for the overridden models
    /// (`INTEGER`, a rowid alias; or `VARCHAR`), with `user_id` first in its
    /// tables; `adopt` expects them; the exports are written for it. On a
    /// database whose `fullauth_users` keys users otherwise, `apply` and
    /// `adopt` refuse with an error naming both types.
    ///
    /// Without it, `apply` and `adopt` follow the type `fullauth_users.id`
    /// has (UUID when the table does not exist yet) and the exports are for
    /// UUID keys.
    ///
    /// ```
    /// use fullauth_api::{Feature, Features, UserIdType};
    /// use fullauth_sqlite::SqliteMigrations;
    /// use fullauth_sqlite::rusqlite::Connection;
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let conn = Connection::open_in_memory()?;
    /// SqliteMigrations::new()
    ///     .user_id_type(UserIdType::Int)
    ///     .apply(&conn, Features::from(Feature::Core))?;
    /// let declared: String = conn.query_row(
    ///     "SELECT type FROM pragma_table_info('fullauth_refresh_tokens') WHERE cid = 0",
    ///     [],
    ///     |r| r.get(0),
    /// )?;
    /// assert_eq!(declared, "INTEGER"); // user_id, first, as SQLAlchemy orders it
    /// # Ok(()) }
    /// ```
    pub const fn user_id_type(mut self, t: UserIdType) -> Self {
        self.user_id_type = Some(t);
        self
    }

    /// The key type `apply` and `adopt` use on `conn`: the configured one,
    /// checked against `fullauth_users.id` when it exists, else the table's,
    /// else UUID.
    fn key_on(&self, conn: &Connection) -> StoreResult<UserIdType> {
        let found = crate::users::stored_user_key(conn)?;
        match (self.user_id_type, found) {
            (Some(want), Some((have, declared))) => {
                fullauth_api::sql::check_user_key(want, have, &declared)?;
                Ok(want)
            }
            (Some(want), None) => Ok(want),
            (None, Some((have, _))) => Ok(have),
            (None, None) => Ok(UserIdType::Uuid),
        }
    }

    /// The key type of the exports: the configured one, else UUID.
    fn export_key(&self) -> UserIdType {
        self.user_id_type.unwrap_or_default()
    }

    /// Every embedded migration, in catalogue order.
    pub fn migrations(&self) -> &'static [Migration] {
        &MIGRATIONS
    }

    /// The SQL of `migration` as `apply` runs it on a new database (for
    /// the configured key type, UUID when none is).
    pub fn render(&self, migration: &Migration) -> String {
        render_for(migration, self.export_key())
    }

    /// Where each feature stands on `conn`, for the `chosen` features.
    /// Reads only.
    ///
    /// # Errors
    /// `InvalidInput` for an inconsistent set; backend errors.
    pub fn status(&self, conn: &Connection, chosen: Features) -> StoreResult<MigrationStatus> {
        SET.status(&read_state(conn)?, chosen)
    }

    /// The migrations `apply(conn, chosen)` would run, in order. Reads only.
    ///
    /// # Errors
    /// As [`status`](Self::status).
    pub fn plan(&self, conn: &Connection, chosen: Features) -> StoreResult<Vec<Migration>> {
        let status = self.status(conn, chosen)?;
        Ok(SET.pending(&status).into_iter().copied().collect())
    }

    /// Applies the pending migrations of `chosen` on `conn` (see
    /// [`SqlMigrator::apply`]), atomically: its own transaction in autocommit
    /// mode, a savepoint inside the caller's transaction.
    ///
    /// # Errors
    /// As [`SqlMigrator::apply`].
    pub fn apply(&self, conn: &Connection, chosen: Features) -> StoreResult<Vec<String>> {
        apply_at(conn, chosen, Timestamp::now(), self.key_on(conn)?)
    }

    /// Adopts the existing tables of `chosen` on `conn` (see
    /// [`SqlMigrator::adopt`]), atomically.
    ///
    /// # Errors
    /// As [`SqlMigrator::adopt`].
    pub fn adopt(&self, conn: &Connection, chosen: Features) -> StoreResult<AdoptReport> {
        adopt_at(conn, chosen, Timestamp::now(), self.key_on(conn)?)
    }

    /// The rows of `fullauth_schema_migrations` as stored (0.1 ids
    /// included), oldest id first; empty when the table does not exist.
    ///
    /// # Errors
    /// Backend errors.
    pub fn recorded(&self, conn: &Connection) -> StoreResult<Vec<AppliedMigration>> {
        if !present_objects(conn)?.contains(TRACKING_TABLE) {
            return Ok(Vec::new());
        }
        let cols = live_columns(conn, TRACKING_TABLE)?;
        Ok(read_rows(conn, &cols)?
            .into_iter()
            .map(AppliedMigration::from)
            .collect())
    }

    /// Every migration of `features` as one script (see
    /// [`SqlMigrator::export_sql`]).
    ///
    /// # Errors
    /// `InvalidInput` for an inconsistent set.
    pub fn export_sql(&self, features: Features) -> StoreResult<String> {
        engine::export_script(&EXPORT, features, &items(self.export_key()))
    }

    /// Every migration of `features` as sqlx-cli files (see
    /// [`SqlMigrator::export_sqlx`]).
    ///
    /// # Errors
    /// `InvalidInput` for an inconsistent set or a bad base.
    pub fn export_sqlx(
        &self,
        features: Features,
        version_base: i64,
    ) -> StoreResult<Vec<ExportedMigration>> {
        engine::export_files(&EXPORT, features, &items(self.export_key()), version_base)
    }
}

fn items(key: UserIdType) -> Vec<(Migration, String)> {
    MIGRATIONS
        .iter()
        .map(|m| (*m, render_for(m, key)))
        .collect()
}

/// The SQL of `m` for a database keyed by `key` (see
/// [`key_typed_sql`](fullauth_api::migrate::schema::key_typed_sql)).
fn render_for(m: &Migration, key: UserIdType) -> String {
    let spelling = match key {
        UserIdType::Uuid | UserIdType::Int => "INTEGER",
        UserIdType::Text => "VARCHAR",
    };
    schema::key_typed_sql(m.sql, key, "CHAR(32)", spelling, spelling)
}

/// The tracking row of `m`; the users table's row says the key type when
/// it is not UUID (`… (user ids: int)`).
fn tracking_row(m: &Migration, now: Timestamp, adopted: bool, key: UserIdType) -> TrackingRow {
    TrackingRow::of(&m.recorded_for(key), now, adopted)
}

fn apply_at(
    c: &Connection,
    chosen: Features,
    now: Timestamp,
    key: UserIdType,
) -> StoreResult<Vec<String>> {
    fullauth_api::migrate::check_sql_features(chosen)?;
    atomically(c, || {
        let state = read_state(c)?;
        let Some(pending) = SET.apply_steps(&state, chosen)? else {
            return Ok(Vec::new());
        };
        ensure_tracking(c, &state)?;
        for m in &pending {
            c.execute_batch(&render_for(m, key))
                .map_err(|e| StoreError::backend(format!("migration {} failed", m.id), e))?;
            insert_row(c, &tracking_row(m, now, false, key))?;
        }
        Ok(ids(&pending))
    })
}

fn adopt_at(
    c: &Connection,
    chosen: Features,
    now: Timestamp,
    key: UserIdType,
) -> StoreResult<AdoptReport> {
    fullauth_api::migrate::check_sql_features(chosen)?;
    atomically(c, || {
        let state = read_state(c)?;
        let mut report = AdoptReport::default();
        let Some(candidates) = SET.adopt_steps(&state, chosen)? else {
            return Ok(report);
        };
        report.carried_over = ensure_tracking(c, &state)?;
        for m in candidates {
            let change = schema::key_typed(SET.change(m)?, key);
            let present = present_objects(c)?;
            if nothing_present(change, &present) {
                c.execute_batch(&render_for(m, key))
                    .map_err(|e| StoreError::backend(format!("migration {} failed", m.id), e))?;
                insert_row(c, &tracking_row(m, now, false, key))?;
                report.applied.push(m.id.to_string());
                continue;
            }
            adopt_change(c, change, &present, &mut report.notes)?;
            insert_row(c, &tracking_row(m, now, true, key))?;
            report.adopted.push(m.id.to_string());
        }
        Ok(report)
    })
}

/// Brings the existing objects of one migration to the spec, noting what
/// it did and what it kept.
fn adopt_change(
    c: &Connection,
    change: &'static SchemaChange,
    present: &BTreeSet<String>,
    notes: &mut Vec<String>,
) -> StoreResult<()> {
    for t in change.tables {
        if !present.contains(t.name) {
            c.execute_batch(&create_table_sql(t)).db()?;
            notes.push(format!("created the missing table {}", t.name));
            continue;
        }
        let diff = diff_table(t, &live_table(c, t.name)?, &Dialect)?;
        let mut rebuilt = false;
        for fix in &diff.fixes {
            match fix {
                Fix::AddColumn { table, column } => {
                    c.execute_batch(&format!(
                        "ALTER TABLE {} ADD COLUMN {} {}",
                        table.name,
                        column.name,
                        Dialect.column_type(column.ty)
                    ))
                    .db()?;
                }
                Fix::AddUnique { table, unique } => {
                    c.execute_batch(&unique_index_sql(table.name, unique))
                        .db()?;
                }
                Fix::CreateIndex(i) => c.execute_batch(&i.create_sql("")).db()?,
                Fix::ForeignKey { table, .. } => {
                    if !rebuilt {
                        rebuild_foreign_keys(c, table)?;
                        rebuilt = true;
                    }
                }
            }
            notes.push(fix.note());
        }
        notes.extend(diff.notes);
    }
    for i in change.indexes {
        match check_index(i, &live_table(c, i.table)?) {
            Ok(None) => {}
            Ok(Some(note)) => notes.push(note),
            Err(fix) => {
                c.execute_batch(&i.create_sql("")).db()?;
                notes.push(fix.note());
            }
        }
    }
    Ok(())
}

/// The migrator of a [`SqliteStore`](crate::SqliteStore): [`SqlMigrator`]
/// on the store's writer connection (waiting for an open transaction of
/// the store). Get it with [`SqliteStore::migrator`](crate::SqliteStore::migrator).
/// After `apply` and `adopt` the store re-reads the application columns of
/// `fullauth_users`.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), fullauth_api::StoreError> {
/// use fullauth_api::migrate::FeatureState;
/// use fullauth_api::{Feature, Features};
/// let store = fullauth_sqlite::SqliteStore::builder().open_temporary().await?;
/// let core = Features::from(Feature::Core);
/// assert_eq!(store.migrator().plan(core).await?.len(), 3);
/// store.migrator().apply(core).await?;
/// let status = store.migrator().status(core).await?;
/// assert_eq!(status.feature(Feature::Core).unwrap().state, FeatureState::Present);
/// assert_eq!(status.feature(Feature::Roles).unwrap().state, FeatureState::NotChosen);
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct SqliteMigrator {
    handle: Handle,
}

/// The 0.1 name of [`SqliteMigrator`].
#[deprecated(since = "0.2.0", note = "renamed `SqliteMigrator`")]
pub type Migrator = SqliteMigrator;

impl std::fmt::Debug for SqliteMigrator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SqliteMigrator({})", self.handle.shared.path.display())
    }
}

impl SqliteMigrator {
    pub(crate) fn new(handle: Handle) -> Self {
        SqliteMigrator { handle }
    }

    /// The migrations on the store's key type.
    fn keyed(&self) -> SqliteMigrations {
        SqliteMigrations::new().user_id_type(self.handle.shared.user_id_type)
    }

    /// Every embedded migration, in catalogue order.
    pub fn migrations() -> &'static [Migration] {
        &MIGRATIONS
    }

    /// See [`SqlMigrator::status`].
    ///
    /// # Errors
    /// As [`SqlMigrator::status`].
    pub async fn status(&self, chosen: Features) -> StoreResult<MigrationStatus> {
        fullauth_api::migrate::check_sql_features(chosen)?;
        self.handle
            .blocking(move |c| SqliteMigrations::new().status(c, chosen))
            .await
    }

    /// See [`SqlMigrator::plan`].
    ///
    /// # Errors
    /// As [`SqlMigrator::plan`].
    pub async fn plan(&self, chosen: Features) -> StoreResult<Vec<Migration>> {
        fullauth_api::migrate::check_sql_features(chosen)?;
        self.handle
            .blocking(move |c| SqliteMigrations::new().plan(c, chosen))
            .await
    }

    /// See [`SqlMigrator::plan_sql`].
    ///
    /// # Errors
    /// As [`SqlMigrator::plan`].
    pub async fn plan_sql(&self, chosen: Features) -> StoreResult<String> {
        SqlMigrator::plan_sql(self, chosen).await
    }

    /// See [`SqlMigrator::apply`]; the time recorded is the store's clock.
    ///
    /// # Errors
    /// As [`SqlMigrator::apply`].
    pub async fn apply(&self, chosen: Features) -> StoreResult<Vec<String>> {
        fullauth_api::migrate::check_sql_features(chosen)?;
        let now = self.handle.now();
        let shared = self.handle.shared.clone();
        self.handle
            .blocking(move |c| {
                let out = apply_at(c, chosen, now, shared.user_id_type)?;
                shared.refresh_user_columns(c)?;
                Ok(out)
            })
            .await
    }

    /// See [`SqlMigrator::adopt`]; the time recorded is the store's clock.
    ///
    /// # Errors
    /// As [`SqlMigrator::adopt`].
    pub async fn adopt(&self, chosen: Features) -> StoreResult<AdoptReport> {
        fullauth_api::migrate::check_sql_features(chosen)?;
        let now = self.handle.now();
        let shared = self.handle.shared.clone();
        self.handle
            .blocking(move |c| {
                let key = SqliteMigrations::new()
                    .user_id_type(shared.user_id_type)
                    .key_on(c)?;
                let out = adopt_at(c, chosen, now, key)?;
                shared.refresh_user_columns(c)?;
                Ok(out)
            })
            .await
    }

    /// See [`SqlMigrator::export_sql`].
    ///
    /// # Errors
    /// As [`SqlMigrator::export_sql`].
    pub fn export_sql(&self, features: Features) -> StoreResult<String> {
        self.keyed().export_sql(features)
    }

    /// See [`SqlMigrator::export_sqlx`].
    ///
    /// # Errors
    /// As [`SqlMigrator::export_sqlx`].
    pub fn export_sqlx(
        &self,
        features: Features,
        version_base: i64,
    ) -> StoreResult<Vec<ExportedMigration>> {
        self.keyed().export_sqlx(features, version_base)
    }

    /// The rows of `fullauth_schema_migrations` as stored (see
    /// [`SqliteMigrations::recorded`]).
    ///
    /// # Errors
    /// Backend errors.
    pub async fn applied(&self) -> StoreResult<Vec<AppliedMigration>> {
        self.handle
            .blocking(|c| SqliteMigrations::new().recorded(c))
            .await
    }

    /// True when `fullauth_schema_migrations` records `id` (as stored).
    ///
    /// # Errors
    /// Backend errors.
    pub async fn is_applied(&self, id: &str) -> StoreResult<bool> {
        let id = id.to_owned();
        Ok(self.applied().await?.iter().any(|a| a.id == id))
    }
}

fullauth_api::impl_sql_migrator!(SqliteMigrator {
    backend: "sqlite",
    migrations: &MIGRATIONS,
    render: |this, migration| render_for(migration, this.handle.shared.user_id_type),
});

#[cfg(test)]
mod tests {
    use super::*;

    /// The schema descriptions say exactly what the SQL creates: adopting
    /// a fresh database made by the SQL finds nothing to fix or note.
    #[test]
    fn descriptions_match_the_sql() {
        assert_eq!(SET.inconsistencies(""), Vec::<String>::new());
        let c = Connection::open_in_memory().unwrap();
        for m in &MIGRATIONS {
            c.execute_batch(m.sql).unwrap();
        }
        for m in &MIGRATIONS {
            let change = schema_change(m.id).unwrap();
            for t in change.tables {
                let live = live_table(&c, t.name).unwrap();
                let diff = diff_table(t, &live, &Dialect).unwrap();
                assert!(
                    diff.fixes.is_empty() && diff.notes.is_empty(),
                    "{}: {diff:?}",
                    t.name
                );
                // Rendering the spec gives the same table.
                let c2 = Connection::open_in_memory().unwrap();
                c2.execute_batch("CREATE TABLE fullauth_users (id CHAR(32) PRIMARY KEY); CREATE TABLE fullauth_roles (id CHAR(32) PRIMARY KEY); CREATE TABLE fullauth_permissions (id CHAR(32) PRIMARY KEY);").unwrap();
                let _ = c2.execute_batch(&format!("DROP TABLE IF EXISTS {}", t.name));
                c2.execute_batch(&create_table_sql(t)).unwrap();
                let mut rendered = live_table(&c2, t.name).unwrap();
                rendered.indexes.retain(|i| !i.name.starts_with("ix_"));
                let mut original = live;
                original.indexes.retain(|i| !i.name.starts_with("ix_"));
                assert_eq!(rendered, original, "{}", t.name);
            }
            for i in change.indexes {
                assert_eq!(check_index(i, &live_table(&c, i.table).unwrap()), Ok(None));
            }
        }
    }

    #[test]
    fn identifiers_are_quoted_only_when_needed() {
        assert_eq!(ident("display_name"), "display_name");
        assert_eq!(ident("Display Name"), "\"Display Name\"");
        assert_eq!(ident("1st"), "\"1st\"");
    }
}
