//! Embedded migrations, per feature, and the [`Migrator`].
//!
//! The SQL of each migration is a file of this crate's `migrations/` folder,
//! embedded at compile time. The durable tables are exactly those of
//! fastapi-fullauth 0.18 on SQLite (its Appendix A DDL with `UUID` →
//! `CHAR(32)` and `TIMESTAMP WITH TIME ZONE` → `DATETIME`): same table, column
//! and index names, types, nullability, the named unique constraint
//! `uq_oauth_provider_user`, `ON DELETE CASCADE`, and no column defaults. The
//! short-lived tables and `fullauth_schema_migrations` are this crate's
//! additions.
//!
//! Migrations are append-only: an applied migration is never edited (its
//! SHA-256 is recorded; a different one later shows as drift), changes come
//! as new migrations. The indexes fastapi-fullauth added in 0.17 are their
//! own migrations, so adopting a 0.16 database applies exactly those.
//!
//! | id | feature | creates |
//! | --- | --- | --- |
//! | `0001_core_users` | core | `fullauth_users` |
//! | `0002_core_refresh_tokens` | core | `fullauth_refresh_tokens` with its token and family indexes |
//! | `0003_core_refresh_token_indexes` | core | the 0.17 indexes on `user_id` and `expires_at` |
//! | `0004_roles` | roles | `fullauth_roles`, `fullauth_user_roles` |
//! | `0005_permissions` | permissions | `fullauth_permissions`, `fullauth_role_permissions` |
//! | `0006_oauth` | oauth | `fullauth_oauth_accounts` |
//! | `0007_oauth_user_index` | oauth | the 0.17 index on `user_id` |
//! | `0008_passkeys` | passkeys | `fullauth_passkeys` |
//! | `0009_mfa` | mfa | `fullauth_mfa` (0.18) |
//! | `0010_blacklist` … `0013_challenges` | short-lived | `fullauth_blacklist`, `fullauth_lockout`, `fullauth_rate_limit`, `fullauth_challenges` |
//!
//! ```
//! use fullauth_api::{Feature, Features};
//! let sql = fullauth_sqlite::migrate::export_sql(Features::from(Feature::Core)).unwrap();
//! assert!(sql.contains("CREATE TABLE fullauth_users ("));
//! assert!(!sql.contains("fullauth_roles"));
//! ```

use std::collections::{BTreeMap, BTreeSet};

use fullauth_api::migrate::{AdoptReport, AppliedMigration, Migration, MigrationStatus};
use fullauth_api::{Feature, Features, StoreError, StoreResult, Timestamp};
use rusqlite::{Connection, OptionalExtension, params};

use crate::codec::{Db, get_flag, get_text, parse_ts, ts};
use crate::pool::Handle;

macro_rules! migration {
    ($id:literal, $feature:ident, $description:literal) => {
        Migration {
            id: $id,
            feature: Feature::$feature,
            description: $description,
            sql: include_str!(concat!("../migrations/", $id, ".sql")),
        }
    };
}

/// Every embedded migration, in order.
pub static MIGRATIONS: [Migration; 13] = [
    migration!("0001_core_users", Core, "users (fullauth_users)"),
    migration!(
        "0002_core_refresh_tokens",
        Core,
        "refresh tokens (fullauth_refresh_tokens) with the token and family indexes"
    ),
    migration!(
        "0003_core_refresh_token_indexes",
        Core,
        "the fastapi-fullauth 0.17 indexes on refresh tokens' user_id and expires_at"
    ),
    migration!("0004_roles", Roles, "roles and user-role links"),
    migration!(
        "0005_permissions",
        Permissions,
        "permissions and role-permission links"
    ),
    migration!(
        "0006_oauth",
        OAuth,
        "OAuth account links with uq_oauth_provider_user"
    ),
    migration!(
        "0007_oauth_user_index",
        OAuth,
        "the fastapi-fullauth 0.17 index on OAuth accounts' user_id"
    ),
    migration!("0008_passkeys", Passkeys, "WebAuthn passkeys"),
    migration!("0009_mfa", Mfa, "TOTP factors (fastapi-fullauth 0.18)"),
    migration!(
        "0010_blacklist",
        Blacklist,
        "token blacklist (fullauth addition)"
    ),
    migration!(
        "0011_lockout",
        Lockout,
        "login lockout counters (fullauth addition)"
    ),
    migration!(
        "0012_rate_limit",
        RateLimit,
        "rate-limit windows (fullauth addition)"
    ),
    migration!(
        "0013_challenges",
        Challenges,
        "one-time challenges (fullauth addition)"
    ),
];

/// The table where applied migrations are recorded.
pub const MIGRATIONS_TABLE: &str = "fullauth_schema_migrations";

const CREATE_MIGRATIONS_TABLE: &str = "CREATE TABLE IF NOT EXISTS fullauth_schema_migrations (
	id VARCHAR(100) NOT NULL,
	feature VARCHAR(20) NOT NULL,
	checksum VARCHAR(64) NOT NULL,
	applied_at DATETIME NOT NULL,
	adopted BOOLEAN NOT NULL,
	PRIMARY KEY (id)
)";

/// The migrations of a feature set, in order.
///
/// # Errors
/// [`StoreError::InvalidInput`] when the set is inconsistent for the SQL
/// schema ([`fullauth_api::migrate::check_sql_features`]: permissions
/// without roles, a durable feature without core).
pub fn migrations_for(features: Features) -> StoreResult<Vec<&'static Migration>> {
    fullauth_api::migrate::check_sql_features(features)?;
    Ok(MIGRATIONS
        .iter()
        .filter(|m| features.contains(m.feature))
        .collect())
}

/// The SQL of every migration of `features`, with a comment before each,
/// for apps whose own migration tool (sqlx-cli, refinery, Alembic) owns the
/// schema. The script runs in one transaction, creates
/// `fullauth_schema_migrations` if missing and records each migration in it
/// (with its checksum), so `status` then reports the database up to date —
/// as the PostgreSQL export does.
///
/// # Errors
/// As [`migrations_for`].
pub fn export_sql(features: Features) -> StoreResult<String> {
    let mut out = format!(
        "-- fullauth schema for SQLite (compatible with fastapi-fullauth 0.18), features: {features}\n\
         BEGIN;\n{CREATE_MIGRATIONS_TABLE};\n"
    );
    for m in migrations_for(features)? {
        out.push_str(&format!(
            "\n-- {} ({}): {}\n{}\nINSERT INTO fullauth_schema_migrations \
             (id, feature, checksum, applied_at, adopted) VALUES ('{}', '{}', '{}', \
             strftime('%Y-%m-%d %H:%M:%f', 'now') || '000', 0);\n",
            m.id,
            m.feature,
            m.description,
            m.sql.trim_end(),
            m.id,
            m.feature.name(),
            m.checksum(),
        ));
    }
    out.push_str("\nCOMMIT;\n");
    Ok(out)
}

/// Plans, applies, reports and adopts the schema of one database.
///
/// Get one with [`crate::SqliteStore::migrator`]. Every method takes the
/// features to consider; migrations of other features are left alone, so
/// adding a feature later is `apply` with the larger set.
#[derive(Clone)]
pub struct Migrator {
    handle: Handle,
}

impl std::fmt::Debug for Migrator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Migrator({})", self.handle.shared.path.display())
    }
}

fn record(c: &Connection, m: &Migration, now: Timestamp, adopted: bool) -> StoreResult<()> {
    c.execute(
        "INSERT INTO fullauth_schema_migrations (id, feature, checksum, applied_at, adopted) \
         VALUES (?1, ?2, ?3, ?4, ?5)",
        params![
            m.id,
            m.feature.name(),
            m.checksum(),
            ts(now),
            i64::from(adopted)
        ],
    )
    .db()?;
    Ok(())
}

fn table_exists(c: &Connection, name: &str) -> StoreResult<bool> {
    c.query_row(
        "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?1)",
        [name],
        |r| r.get(0),
    )
    .db()
}

fn object_exists(c: &Connection, name: &str) -> StoreResult<bool> {
    c.query_row(
        "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE name = ?1)",
        [name],
        |r| r.get(0),
    )
    .db()
}

fn read_applied(c: &Connection) -> StoreResult<Vec<AppliedMigration>> {
    if !table_exists(c, MIGRATIONS_TABLE)? {
        return Ok(Vec::new());
    }
    let mut stmt = c
        .prepare(
            "SELECT id, checksum, applied_at, adopted FROM fullauth_schema_migrations ORDER BY id",
        )
        .db()?;
    let mut rows = stmt.query([]).db()?;
    let mut out = Vec::new();
    while let Some(row) = rows.next().db()? {
        out.push(AppliedMigration {
            id: get_text(row, "id")?,
            checksum: get_text(row, "checksum")?,
            applied_at: parse_ts(&get_text(row, "applied_at")?)?,
            adopted: get_flag(row, "adopted")?,
        });
    }
    Ok(out)
}

fn compute_status(c: &Connection, features: Features) -> StoreResult<MigrationStatus> {
    let wanted = migrations_for(features)?;
    let recorded = read_applied(c)?;
    let known: BTreeMap<&str, &Migration> = MIGRATIONS.iter().map(|m| (m.id, m)).collect();
    let mut status = MigrationStatus::default();
    for a in recorded {
        match known.get(a.id.as_str()) {
            Some(m) if m.checksum() == a.checksum => status.applied.push(a),
            _ => status.drifted.push(a.id),
        }
    }
    let done: BTreeSet<String> = status
        .applied
        .iter()
        .map(|a| a.id.clone())
        .chain(status.drifted.iter().cloned())
        .collect();
    status.pending = wanted
        .iter()
        .filter(|m| !done.contains(m.id))
        .map(|m| m.id.to_string())
        .collect();
    Ok(status)
}

fn refuse_drift(status: &MigrationStatus) -> StoreResult<()> {
    if status.drifted.is_empty() {
        Ok(())
    } else {
        Err(StoreError::backend_message(format!(
            "migrations {:?} are recorded with a checksum this build does not have \
             (edited after being applied, or from a newer build); refusing to migrate",
            status.drifted
        )))
    }
}

/// Runs `f` inside `BEGIN IMMEDIATE … COMMIT`, rolling back on error.
fn in_transaction<T>(c: &Connection, f: impl FnOnce() -> StoreResult<T>) -> StoreResult<T> {
    c.execute_batch("BEGIN IMMEDIATE").db()?;
    match f() {
        Ok(v) => {
            if let Err(e) = c.execute_batch("COMMIT").db() {
                let _ = c.execute_batch("ROLLBACK");
                return Err(e);
            }
            Ok(v)
        }
        Err(e) => {
            let _ = c.execute_batch("ROLLBACK");
            Err(e)
        }
    }
}

/// One statement of a migration: what it creates.
enum Object {
    Table(String),
    Index(String),
}

/// Splits a migration into statements (our files have one `;` per
/// statement, at a line end) and names what each creates.
fn statements(sql: &str) -> Vec<(Object, String)> {
    sql.split(";\n")
        .map(|s| {
            s.lines()
                .filter(|l| !l.trim_start().starts_with("--"))
                .collect::<Vec<_>>()
                .join("\n")
        })
        .filter(|s| !s.trim().is_empty())
        .filter_map(|s| {
            let words: Vec<&str> = s.split_whitespace().collect();
            let obj = match words.as_slice() {
                ["CREATE", "TABLE", name, ..] => Object::Table((*name).to_string()),
                ["CREATE", "UNIQUE", "INDEX", name, ..] | ["CREATE", "INDEX", name, ..] => {
                    Object::Index((*name).to_string())
                }
                _ => return None,
            };
            Some((obj, s.trim().to_string()))
        })
        .collect()
}

/// A column as `PRAGMA table_info` reports it.
#[derive(Debug, Clone)]
struct Column {
    name: String,
    decl: String,
    not_null: bool,
}

fn columns(c: &Connection, table: &str) -> StoreResult<Vec<Column>> {
    let mut stmt = c
        .prepare("SELECT name, type, \"notnull\" FROM pragma_table_info(?1) ORDER BY cid")
        .db()?;
    let rows = stmt
        .query_map([table], |r| {
            Ok(Column {
                name: r.get(0)?,
                decl: r.get(1)?,
                not_null: r.get::<_, i64>(2)? != 0,
            })
        })
        .db()?
        .collect::<rusqlite::Result<Vec<_>>>()
        .db()?;
    Ok(rows)
}

/// The column lists of a table's unique indexes (constraints included).
fn unique_column_sets(c: &Connection, table: &str) -> StoreResult<Vec<(String, Vec<String>)>> {
    let mut stmt = c
        .prepare("SELECT name, origin FROM pragma_index_list(?1) WHERE \"unique\" = 1")
        .db()?;
    let indexes = stmt
        .query_map([table], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
        })
        .db()?
        .collect::<rusqlite::Result<Vec<_>>>()
        .db()?;
    let mut out = Vec::new();
    for (name, origin) in indexes {
        if origin == "pk" {
            continue;
        }
        let mut cols = c
            .prepare("SELECT name FROM pragma_index_info(?1) ORDER BY seqno")
            .db()?
            .query_map([&name], |r| r.get::<_, String>(0))
            .db()?
            .collect::<rusqlite::Result<Vec<_>>>()
            .db()?;
        cols.sort();
        out.push((name, cols));
    }
    Ok(out)
}

/// The schema our migrations produce, built in a scratch in-memory database.
fn expected_schema() -> StoreResult<Connection> {
    let c = Connection::open_in_memory().db()?;
    for m in &MIGRATIONS {
        c.execute_batch(m.sql).db()?;
    }
    Ok(c)
}

/// Adopts one table: creates it when missing; otherwise adds missing
/// nullable columns and missing unique constraints, and notes differences.
/// Returns true when something was created.
fn adopt_table(
    c: &Connection,
    expected: &Connection,
    table: &str,
    create: &str,
    notes: &mut Vec<String>,
) -> StoreResult<bool> {
    if !table_exists(c, table)? {
        c.execute_batch(create).db()?;
        notes.push(format!("created missing table {table}"));
        return Ok(true);
    }
    let mut changed = false;
    let want = columns(expected, table)?;
    let have = columns(c, table)?;
    for w in &want {
        match have.iter().find(|h| h.name == w.name) {
            None if !w.not_null => {
                c.execute_batch(&format!(
                    "ALTER TABLE {table} ADD COLUMN {} {}",
                    w.name, w.decl
                ))
                .db()?;
                notes.push(format!(
                    "added the nullable column {table}.{} {} (fastapi-fullauth 0.14 added it)",
                    w.name, w.decl
                ));
                changed = true;
            }
            None => {
                return Err(StoreError::backend_message(format!(
                    "cannot adopt {table}: it lacks the NOT NULL column {} {}; \
                     migrate it to the fastapi-fullauth 0.14+ schema first",
                    w.name, w.decl
                )));
            }
            Some(h) if !h.decl.eq_ignore_ascii_case(&w.decl) || h.not_null != w.not_null => {
                notes.push(format!(
                    "kept {table}.{} as {}{} (this schema says {}{})",
                    h.name,
                    h.decl,
                    if h.not_null { " NOT NULL" } else { "" },
                    w.decl,
                    if w.not_null { " NOT NULL" } else { "" },
                ));
            }
            Some(_) => {}
        }
    }
    for h in &have {
        if !want.iter().any(|w| w.name == h.name) {
            notes.push(format!(
                "kept the extra column {table}.{} {} (an application column)",
                h.name, h.decl
            ));
        }
    }
    // Unique constraints (uq_oauth_provider_user) are part of CREATE TABLE;
    // a table made before they existed gets an equivalent unique index.
    let have_unique: Vec<Vec<String>> = unique_column_sets(c, table)?
        .into_iter()
        .map(|(_, cols)| cols)
        .collect();
    for (name, cols) in unique_column_sets(expected, table)? {
        if !name.starts_with("sqlite_autoindex_") || have_unique.contains(&cols) {
            continue;
        }
        let index = if table == "fullauth_oauth_accounts" {
            "uq_oauth_provider_user".to_string()
        } else {
            format!("uq_{table}_{}", cols.join("_"))
        };
        c.execute_batch(&format!(
            "CREATE UNIQUE INDEX {index} ON {table} ({})",
            cols.join(", ")
        ))
        .db()?;
        notes.push(format!(
            "created the unique index {index} on {table} ({}) in place of the missing constraint",
            cols.join(", ")
        ));
        changed = true;
    }
    Ok(changed)
}

impl Migrator {
    pub(crate) fn new(handle: Handle) -> Self {
        Migrator { handle }
    }

    /// Every embedded migration, in order.
    pub fn migrations() -> &'static [Migration] {
        &MIGRATIONS
    }

    /// The migrations of `features` not yet applied, in order; their `sql`
    /// is what [`apply`](Self::apply) would run. Changes nothing.
    ///
    /// # Errors
    /// [`StoreError::InvalidInput`] for an inconsistent feature set; backend
    /// errors.
    pub async fn plan(&self, features: Features) -> StoreResult<Vec<Migration>> {
        let status = self.status(features).await?;
        Ok(MIGRATIONS
            .iter()
            .filter(|m| status.pending.iter().any(|p| p == m.id))
            .copied()
            .collect())
    }

    /// What is applied, pending (of `features`) and drifted. Changes nothing.
    ///
    /// # Errors
    /// [`StoreError::InvalidInput`] for an inconsistent feature set; backend
    /// errors.
    pub async fn status(&self, features: Features) -> StoreResult<MigrationStatus> {
        fullauth_api::migrate::check_sql_features(features)?;
        self.handle
            .write(move |c| compute_status(c, features))
            .await
    }

    /// Applies the pending migrations of `features`, in order, in one
    /// transaction (all or nothing), and returns their ids. Applying again is
    /// a no-op; applying a larger set later creates only the new features'
    /// tables.
    ///
    /// # Errors
    /// [`StoreError::InvalidInput`] for an inconsistent feature set;
    /// [`StoreError::Backend`] when a migration is drifted, or when a table
    /// already exists without being recorded (a database made by
    /// fastapi-fullauth or by hand: use [`adopt`](Self::adopt)).
    pub async fn apply(&self, features: Features) -> StoreResult<Vec<String>> {
        fullauth_api::migrate::check_sql_features(features)?;
        let now = self.handle.now();
        let shared = self.handle.shared.clone();
        self.handle
            .write(move |c| {
                c.execute_batch(CREATE_MIGRATIONS_TABLE).db()?;
                let status = compute_status(c, features)?;
                refuse_drift(&status)?;
                let pending: Vec<&Migration> = MIGRATIONS
                    .iter()
                    .filter(|m| status.pending.iter().any(|p| p == m.id))
                    .collect();
                in_transaction(c, || {
                    for m in &pending {
                        c.execute_batch(m.sql).map_err(|e| {
                            let already = e.to_string().contains("already exists");
                            let message = if already {
                                format!(
                                    "migration {} failed: {e}; the database already has \
                                     fullauth tables not recorded in {MIGRATIONS_TABLE} — \
                                     use Migrator::adopt",
                                    m.id
                                )
                            } else {
                                format!("migration {} failed: {e}", m.id)
                            };
                            StoreError::backend(message, e)
                        })?;
                        record(c, m, now, false)?;
                    }
                    Ok(())
                })?;
                shared.refresh_user_columns(c)?;
                Ok(pending.iter().map(|m| m.id.to_string()).collect())
            })
            .await
    }

    /// Adopts an existing database — tables made by fastapi-fullauth
    /// 0.14–0.18 (Alembic or `create_all`) or by an earlier run of this
    /// crate — for `features`, in one transaction.
    ///
    /// For each migration not yet recorded: when none of its objects exist it
    /// is run (reported in `applied`, e.g. the 0.17 indexes of a 0.16
    /// database); otherwise it is recorded as adopted, after creating the
    /// pieces that are missing — a missing table or index, the nullable
    /// `user_agent` / `ip_address` columns of pre-0.14 refresh tokens, the
    /// unique constraint of pre-0.8 OAuth tables (as a unique index) — each
    /// reported in `notes`, as are differences it keeps (application columns,
    /// SQLModel's `transports VARCHAR`). Nothing else is changed.
    ///
    /// # Errors
    /// [`StoreError::InvalidInput`] for an inconsistent feature set;
    /// [`StoreError::Backend`] when a table lacks a NOT NULL column this
    /// schema needs, or a migration is drifted (nothing is changed).
    pub async fn adopt(&self, features: Features) -> StoreResult<AdoptReport> {
        fullauth_api::migrate::check_sql_features(features)?;
        let now = self.handle.now();
        let shared = self.handle.shared.clone();
        self.handle
            .write(move |c| {
                let expected = expected_schema()?;
                let status = compute_status(c, features)?;
                refuse_drift(&status)?;
                let mut report = AdoptReport::default();
                in_transaction(c, || {
                    c.execute_batch(CREATE_MIGRATIONS_TABLE).db()?;
                    for m in MIGRATIONS
                        .iter()
                        .filter(|m| status.pending.iter().any(|p| p == m.id))
                    {
                        let stmts = statements(m.sql);
                        let mut any = false;
                        for (obj, _) in &stmts {
                            let name = match obj {
                                Object::Table(n) | Object::Index(n) => n,
                            };
                            any |= object_exists(c, name)?;
                        }
                        if !any {
                            c.execute_batch(m.sql).db()?;
                            record(c, m, now, false)?;
                            report.applied.push(m.id.to_string());
                            continue;
                        }
                        for (obj, sql) in &stmts {
                            match obj {
                                Object::Table(t) => {
                                    adopt_table(c, &expected, t, sql, &mut report.notes)?;
                                }
                                Object::Index(i) => {
                                    if !object_exists(c, i)? {
                                        c.execute_batch(sql).db()?;
                                        report.notes.push(format!("created missing index {i}"));
                                    }
                                }
                            }
                        }
                        record(c, m, now, true)?;
                        report.adopted.push(m.id.to_string());
                    }
                    Ok(())
                })?;
                shared.refresh_user_columns(c)?;
                Ok(report)
            })
            .await
    }

    /// The SQL of every migration of `features` (see the free function
    /// [`export_sql`]).
    ///
    /// # Errors
    /// [`StoreError::InvalidInput`] for an inconsistent feature set.
    pub fn export_sql(&self, features: Features) -> StoreResult<String> {
        export_sql(features)
    }

    /// The recorded rows of `fullauth_schema_migrations`, oldest id first
    /// (empty when the table does not exist).
    ///
    /// # Errors
    /// Backend errors.
    pub async fn applied(&self) -> StoreResult<Vec<AppliedMigration>> {
        self.handle.write(read_applied).await
    }

    /// True when `fullauth_schema_migrations` records `id`.
    ///
    /// # Errors
    /// Backend errors.
    pub async fn is_applied(&self, id: &str) -> StoreResult<bool> {
        let id = id.to_owned();
        self.handle
            .write(move |c| {
                if !table_exists(c, MIGRATIONS_TABLE)? {
                    return Ok(false);
                }
                Ok(c.query_row(
                    "SELECT 1 FROM fullauth_schema_migrations WHERE id = ?1",
                    [id],
                    |_| Ok(()),
                )
                .optional()
                .db()?
                .is_some())
            })
            .await
    }
}
