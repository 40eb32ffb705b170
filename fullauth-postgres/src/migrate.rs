//! The migrator: plan, apply, status, adopt and export the embedded
//! migrations ([`crate::MIGRATIONS`]) for a set of features.
//!
//! Applied migrations are recorded in `<schema>.fullauth_schema_migrations`
//! (id, checksum, description, applied_at, adopted). `apply` and `adopt` run
//! in one transaction under `pg_advisory_xact_lock` on a key derived from the
//! schema name, so two processes migrating the same schema at once are safe:
//! the second waits, then finds nothing left to do.

use std::collections::{BTreeMap, BTreeSet};

use fullauth_api::migrate::{AdoptReport, AppliedMigration, Migration, MigrationStatus};
use fullauth_api::{Feature, Features, StoreError, StoreResult, Timestamp};
use sqlx::{PgConnection, PgPool, Row};
use time::OffsetDateTime;

use crate::ctx::{check_schema_name, quote_ident, render};
use crate::error::map_sqlx;
use crate::migrations::MIGRATIONS;

const TRACKING: &str = "CREATE TABLE IF NOT EXISTS {s}.fullauth_schema_migrations (
	id TEXT NOT NULL,
	checksum TEXT NOT NULL,
	description TEXT NOT NULL,
	applied_at TIMESTAMP WITH TIME ZONE NOT NULL,
	adopted BOOLEAN NOT NULL DEFAULT false,
	PRIMARY KEY (id)
);
";

const LOCK: &str = "SELECT pg_advisory_xact_lock(hashtext('fullauth_schema_migrations:' || $1))";

/// Applies, inspects and exports the migrations of one schema.
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
    schema: String,
    quoted: String,
}

/// The migrations that belong to `features` (with the features they need:
/// every durable feature needs Core, Permissions needs Roles), in order.
pub fn migrations_for(features: Features) -> Vec<Migration> {
    let mut f = features;
    if f.iter().any(|x| !x.is_short_lived()) {
        f = f.with(Feature::Core);
    }
    if f.contains(Feature::Permissions) {
        f = f.with(Feature::Roles);
    }
    MIGRATIONS
        .iter()
        .filter(|m| f.contains(m.feature))
        .copied()
        .collect()
}

impl PgMigrator {
    /// A migrator for `schema` on `pool`.
    ///
    /// # Errors
    /// [`StoreError::InvalidInput`] for a schema name PostgreSQL cannot hold.
    pub fn new(pool: PgPool, schema: impl Into<String>) -> StoreResult<Self> {
        let schema = schema.into();
        check_schema_name(&schema)?;
        let quoted = quote_ident(&schema);
        Ok(PgMigrator {
            pool,
            schema,
            quoted,
        })
    }

    /// The schema this migrator works on.
    pub fn schema(&self) -> &str {
        &self.schema
    }

    /// A migration's SQL as it runs on this schema.
    pub fn render(&self, migration: &Migration) -> String {
        render(migration.sql, &self.quoted)
    }

    async fn recorded(&self, c: &mut PgConnection) -> StoreResult<Vec<AppliedMigration>> {
        let (exists,): (bool,) = sqlx::query_as(
            "SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_class c \
             JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace \
             WHERE n.nspname = $1 AND c.relname = 'fullauth_schema_migrations')",
        )
        .bind(&self.schema)
        .fetch_one(&mut *c)
        .await
        .map_err(map_sqlx)?;
        if !exists {
            return Ok(Vec::new());
        }
        let sql = render(
            "SELECT id, checksum, applied_at, adopted FROM {s}.fullauth_schema_migrations ORDER BY id",
            &self.quoted,
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .fetch_all(&mut *c)
            .await
            .map_err(map_sqlx)?;
        rows.iter()
            .map(|r| {
                let at: OffsetDateTime = r.try_get(2).map_err(map_sqlx)?;
                Ok(AppliedMigration {
                    id: r.try_get(0).map_err(map_sqlx)?,
                    checksum: r.try_get(1).map_err(map_sqlx)?,
                    applied_at: Timestamp::from_datetime(at),
                    adopted: r.try_get(3).map_err(map_sqlx)?,
                })
            })
            .collect()
    }

    fn status_of(recorded: &[AppliedMigration], features: Features) -> MigrationStatus {
        let known: BTreeMap<&str, &Migration> = MIGRATIONS.iter().map(|m| (m.id, m)).collect();
        let mut status = MigrationStatus::default();
        for a in recorded {
            match known.get(a.id.as_str()) {
                Some(m) if m.checksum() == a.checksum => status.applied.push(a.clone()),
                _ => status.drifted.push(a.id.clone()),
            }
        }
        let done: BTreeSet<&str> = recorded.iter().map(|a| a.id.as_str()).collect();
        status.pending = migrations_for(features)
            .iter()
            .filter(|m| !done.contains(m.id))
            .map(|m| m.id.to_string())
            .collect();
        status
    }

    /// Applied, pending (for `features`) and drifted migrations.
    ///
    /// # Errors
    /// [`StoreError::Unavailable`] when the database cannot be reached.
    pub async fn status(&self, features: Features) -> StoreResult<MigrationStatus> {
        let mut c = self.pool.acquire().await.map_err(map_sqlx)?;
        let recorded = self.recorded(&mut c).await?;
        Ok(Self::status_of(&recorded, features))
    }

    /// The migrations `apply(features)` would run now, in order.
    ///
    /// # Errors
    /// As [`PgMigrator::status`].
    pub async fn plan(&self, features: Features) -> StoreResult<Vec<Migration>> {
        let status = self.status(features).await?;
        Ok(migrations_for(features)
            .into_iter()
            .filter(|m| status.pending.iter().any(|p| p == m.id))
            .collect())
    }

    /// The plan as one SQL text, to review before applying.
    ///
    /// # Errors
    /// As [`PgMigrator::status`].
    pub async fn plan_sql(&self, features: Features) -> StoreResult<String> {
        let mut out = String::new();
        for m in self.plan(features).await? {
            out.push_str(&format!(
                "-- {}: {}\n{}\n",
                m.id,
                m.description,
                self.render(&m)
            ));
        }
        Ok(out)
    }

    async fn begin_locked(&self) -> StoreResult<sqlx::Transaction<'static, sqlx::Postgres>> {
        let mut tx = self.pool.begin().await.map_err(map_sqlx)?;
        sqlx::query(LOCK)
            .bind(&self.schema)
            .execute(&mut *tx)
            .await
            .map_err(map_sqlx)?;
        let (exists,): (bool,) = sqlx::query_as(
            "SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_namespace WHERE nspname = $1)",
        )
        .bind(&self.schema)
        .fetch_one(&mut *tx)
        .await
        .map_err(map_sqlx)?;
        if !exists {
            let sql = format!("CREATE SCHEMA {}", self.quoted);
            sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
                .execute(&mut *tx)
                .await
                .map_err(map_sqlx)?;
        }
        sqlx::raw_sql(sqlx::AssertSqlSafe(render(TRACKING, &self.quoted)))
            .execute(&mut *tx)
            .await
            .map_err(map_sqlx)?;
        Ok(tx)
    }

    async fn record(&self, c: &mut PgConnection, m: &Migration, adopted: bool) -> StoreResult<()> {
        let sql = render(
            "INSERT INTO {s}.fullauth_schema_migrations (id, checksum, description, applied_at, adopted) \
             VALUES ($1, $2, $3, $4, $5)",
            &self.quoted,
        );
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(m.id)
            .bind(m.checksum())
            .bind(m.description)
            .bind(OffsetDateTime::now_utc())
            .bind(adopted)
            .execute(&mut *c)
            .await
            .map_err(map_sqlx)?;
        Ok(())
    }

    fn refuse_drift(status: &MigrationStatus) -> StoreResult<()> {
        let edited: Vec<&String> = status
            .drifted
            .iter()
            .filter(|id| MIGRATIONS.iter().any(|m| m.id == id.as_str()))
            .collect();
        if edited.is_empty() {
            return Ok(());
        }
        Err(StoreError::backend_message(format!(
            "migrations {edited:?} were applied with a different checksum than this build \
             embeds; refusing to migrate until that drift is resolved"
        )))
    }

    /// Applies every pending migration of `features` in one transaction,
    /// under the advisory lock, creating the schema when it does not exist.
    /// Returns the ids applied (empty when up to date: running it twice is a
    /// no-op).
    ///
    /// # Errors
    /// [`StoreError::Backend`] when an applied migration drifted or a
    /// statement fails (nothing is applied then);
    /// [`StoreError::Unavailable`] when the database cannot be reached.
    pub async fn apply(&self, features: Features) -> StoreResult<Vec<String>> {
        let mut tx = self.begin_locked().await?;
        let recorded = self.recorded(&mut tx).await?;
        let status = Self::status_of(&recorded, features);
        Self::refuse_drift(&status)?;
        let mut applied = Vec::new();
        for m in migrations_for(features) {
            if !status.pending.iter().any(|p| p == m.id) {
                continue;
            }
            sqlx::raw_sql(sqlx::AssertSqlSafe(self.render(&m)))
                .execute(&mut *tx)
                .await
                .map_err(map_sqlx)?;
            self.record(&mut tx, &m, false).await?;
            applied.push(m.id.to_string());
        }
        tx.commit().await.map_err(map_sqlx)?;
        Ok(applied)
    }

    /// The SQL of every migration of `features`, for an app whose own tool
    /// owns the schema: creates the schema and the tracking table if missing,
    /// runs each migration and records it, in one transaction. Running the
    /// exported script makes `status` report the features as applied.
    pub fn export_sql(&self, features: Features) -> String {
        let mut out = format!(
            "-- fullauth-postgres migrations for schema {} (features: {features})\nBEGIN;\n\
             SELECT pg_advisory_xact_lock(hashtext('fullauth_schema_migrations:' || '{}'));\n\
             CREATE SCHEMA IF NOT EXISTS {};\n{}\n",
            self.quoted,
            self.schema.replace('\'', "''"),
            self.quoted,
            render(TRACKING, &self.quoted)
        );
        for m in migrations_for(features) {
            out.push_str(&format!(
                "-- {}: {}\n{}INSERT INTO {}.fullauth_schema_migrations \
                 (id, checksum, description, applied_at, adopted) \
                 VALUES ('{}', '{}', '{}', now(), false);\n\n",
                m.id,
                m.description,
                self.render(&m),
                self.quoted,
                m.id,
                m.checksum(),
                m.description.replace('\'', "''"),
            ));
        }
        out.push_str("COMMIT;\n");
        out
    }

    /// Adopts an existing database: tables made by fastapi-fullauth
    /// (0.14–0.18, through Alembic or `create_all`) or by an earlier run of
    /// this crate. For each migration of `features` not yet recorded:
    ///
    /// * none of its tables exist → it is applied;
    /// * its tables exist → what is missing is added (nullable columns such
    ///   as the 0.14 `user_agent`/`ip_address`, the 0.17 indexes, the OAuth
    ///   unique constraint, `ON DELETE CASCADE` on foreign keys that lack
    ///   it), missing tables of the migration are created, and it is
    ///   recorded as adopted. Differences that cannot be fixed safely (a
    ///   column type, an unexpected extra column) are reported in `notes`.
    ///
    /// Runs in one transaction under the advisory lock.
    ///
    /// # Errors
    /// [`StoreError::Backend`] when a required NOT NULL column is missing
    /// (nothing is changed then), or a statement fails.
    pub async fn adopt(&self, features: Features) -> StoreResult<AdoptReport> {
        let mut tx = self.begin_locked().await?;
        let recorded = self.recorded(&mut tx).await?;
        let status = Self::status_of(&recorded, features);
        Self::refuse_drift(&status)?;
        let mut report = AdoptReport::default();
        for m in migrations_for(features) {
            if !status.pending.iter().any(|p| p == m.id) {
                continue;
            }
            let tables = parse_tables(m.sql);
            let mut existing = 0;
            for t in &tables {
                if self.table_exists(&mut tx, &t.name).await? {
                    existing += 1;
                }
            }
            if existing == 0 {
                sqlx::raw_sql(sqlx::AssertSqlSafe(self.render(&m)))
                    .execute(&mut *tx)
                    .await
                    .map_err(map_sqlx)?;
                self.record(&mut tx, &m, false).await?;
                report.applied.push(m.id.to_string());
                continue;
            }
            for t in &tables {
                self.adopt_table(&mut tx, t, &mut report).await?;
            }
            self.record(&mut tx, &m, true).await?;
            report.adopted.push(m.id.to_string());
        }
        tx.commit().await.map_err(map_sqlx)?;
        Ok(report)
    }

    async fn table_exists(&self, c: &mut PgConnection, table: &str) -> StoreResult<bool> {
        let (exists,): (bool,) = sqlx::query_as(
            "SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_class c \
             JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace \
             WHERE n.nspname = $1 AND c.relname = $2 AND c.relkind IN ('r', 'p'))",
        )
        .bind(&self.schema)
        .bind(table)
        .fetch_one(&mut *c)
        .await
        .map_err(map_sqlx)?;
        Ok(exists)
    }

    async fn exec(&self, c: &mut PgConnection, sql: &str) -> StoreResult<()> {
        sqlx::raw_sql(sqlx::AssertSqlSafe(render(sql, &self.quoted)))
            .execute(&mut *c)
            .await
            .map_err(map_sqlx)?;
        Ok(())
    }

    async fn adopt_table(
        &self,
        c: &mut PgConnection,
        t: &TableSpec,
        report: &mut AdoptReport,
    ) -> StoreResult<()> {
        if !self.table_exists(c, &t.name).await? {
            self.exec(c, &t.chunk).await?;
            report
                .notes
                .push(format!("created the missing table {}", t.name));
            return Ok(());
        }
        // Columns.
        let rows = sqlx::query(
            "SELECT column_name::text, is_nullable = 'YES', \
                    format_type(a.atttypid, a.atttypmod) \
             FROM information_schema.columns ic \
             JOIN pg_catalog.pg_namespace n ON n.nspname = ic.table_schema \
             JOIN pg_catalog.pg_class cl ON cl.relnamespace = n.oid AND cl.relname = ic.table_name \
             JOIN pg_catalog.pg_attribute a ON a.attrelid = cl.oid AND a.attname = ic.column_name \
             WHERE ic.table_schema = $1 AND ic.table_name = $2",
        )
        .bind(&self.schema)
        .bind(&t.name)
        .fetch_all(&mut *c)
        .await
        .map_err(map_sqlx)?;
        let mut have: BTreeMap<String, String> = BTreeMap::new();
        for r in &rows {
            let name: String = r.try_get(0).map_err(map_sqlx)?;
            let ty: String = r.try_get(2).map_err(map_sqlx)?;
            have.insert(name, ty);
        }
        for col in &t.columns {
            match have.get(&col.name) {
                None if col.nullable => {
                    self.exec(
                        c,
                        &format!("ALTER TABLE {{s}}.{} ADD COLUMN {}", t.name, col.definition),
                    )
                    .await?;
                    report
                        .notes
                        .push(format!("added the missing column {}.{}", t.name, col.name));
                }
                None => {
                    return Err(StoreError::backend_message(format!(
                        "{}.{} is missing and is NOT NULL: add it with values for the existing \
                         rows, then adopt again",
                        t.name, col.name
                    )));
                }
                Some(ty) if !same_type(ty, &col.sql_type) => report.notes.push(format!(
                    "{}.{} is {ty}, expected {}; kept as it is",
                    t.name, col.name, col.sql_type
                )),
                Some(_) => {}
            }
        }
        if t.name != "fullauth_users" {
            for name in have.keys() {
                if !t.columns.iter().any(|c| &c.name == name) {
                    report
                        .notes
                        .push(format!("{}.{name} is not a fullauth column; kept", t.name));
                }
            }
        }
        // Indexes.
        let names: Vec<String> = sqlx::query_scalar(
            "SELECT indexname::text FROM pg_catalog.pg_indexes WHERE schemaname = $1 AND tablename = $2",
        )
        .bind(&self.schema)
        .bind(&t.name)
        .fetch_all(&mut *c)
        .await
        .map_err(map_sqlx)?;
        for (name, stmt) in &t.indexes {
            if !names.iter().any(|n| n == name) {
                let stmt = stmt.replacen(" INDEX ", " INDEX IF NOT EXISTS ", 1);
                self.exec(c, &stmt).await?;
                report
                    .notes
                    .push(format!("created the missing index {name}"));
            }
        }
        // Named constraints and foreign keys.
        let cons = sqlx::query(
            "SELECT con.conname::text, con.contype::text, con.confdeltype::text, \
                    (SELECT string_agg(a.attname, ',' ORDER BY a.attnum) FROM pg_catalog.pg_attribute a \
                     WHERE a.attrelid = con.conrelid AND a.attnum = ANY(con.conkey)) \
             FROM pg_catalog.pg_constraint con \
             JOIN pg_catalog.pg_class cl ON cl.oid = con.conrelid \
             JOIN pg_catalog.pg_namespace n ON n.oid = cl.relnamespace \
             WHERE n.nspname = $1 AND cl.relname = $2",
        )
        .bind(&self.schema)
        .bind(&t.name)
        .fetch_all(&mut *c)
        .await
        .map_err(map_sqlx)?;
        let mut constraints = Vec::new();
        for r in &cons {
            let name: String = r.try_get(0).map_err(map_sqlx)?;
            let kind: String = r.try_get(1).map_err(map_sqlx)?;
            let on_delete: String = r.try_get(2).map_err(map_sqlx)?;
            let cols: Option<String> = r.try_get(3).map_err(map_sqlx)?;
            constraints.push((name, kind, on_delete, cols.unwrap_or_default()));
        }
        for (name, definition) in &t.named_constraints {
            if !constraints.iter().any(|(n, ..)| n == name) {
                self.exec(c, &format!("ALTER TABLE {{s}}.{} ADD {definition}", t.name))
                    .await?;
                report
                    .notes
                    .push(format!("added the missing constraint {name}"));
            }
        }
        for fk in &t.foreign_keys {
            let found = constraints
                .iter()
                .find(|(_, kind, _, cols)| kind == "f" && cols == &fk.column);
            match found {
                Some((_, _, on_delete, _)) if on_delete == "c" => {}
                Some((name, ..)) => {
                    self.exec(
                        c,
                        &format!(
                            "ALTER TABLE {{s}}.{} DROP CONSTRAINT {}, ADD {}",
                            t.name,
                            quote_ident(name),
                            fk.definition
                        ),
                    )
                    .await?;
                    report.notes.push(format!(
                        "recreated the foreign key {}.{} with ON DELETE CASCADE",
                        t.name, fk.column
                    ));
                }
                None => {
                    self.exec(
                        c,
                        &format!("ALTER TABLE {{s}}.{} ADD {}", t.name, fk.definition),
                    )
                    .await?;
                    report.notes.push(format!(
                        "added the missing foreign key {}.{}",
                        t.name, fk.column
                    ));
                }
            }
        }
        Ok(())
    }
}

/// Compares a catalog type (`character varying(512)`) with the DDL's
/// spelling (`VARCHAR(512)`).
fn same_type(catalog: &str, ddl: &str) -> bool {
    let norm = |s: &str| {
        s.to_ascii_lowercase()
            .replace("character varying", "varchar")
            .replace("timestamp with time zone", "timestamptz")
            .replace("timestamp(6) with time zone", "timestamptz")
            .replace(' ', "")
    };
    norm(catalog) == norm(ddl)
}

/// One column of a table of a migration.
#[derive(Debug)]
struct ColumnSpec {
    name: String,
    sql_type: String,
    nullable: bool,
    definition: String,
}

/// A foreign key of a table of a migration.
#[derive(Debug)]
struct ForeignKeySpec {
    column: String,
    definition: String,
}

/// A table of a migration, read back from the migration's own SQL.
#[derive(Debug)]
struct TableSpec {
    name: String,
    chunk: String,
    columns: Vec<ColumnSpec>,
    indexes: Vec<(String, String)>,
    named_constraints: Vec<(String, String)>,
    foreign_keys: Vec<ForeignKeySpec>,
}

/// Splits a migration into its tables (blocks separated by a blank line,
/// each a `CREATE [UNLOGGED] TABLE` and its indexes) and reads their
/// columns, indexes and constraints. The input is this crate's own SQL,
/// written in the reference's layout.
fn parse_tables(sql: &str) -> Vec<TableSpec> {
    let mut out = Vec::new();
    for chunk in sql.split("\n\n").map(str::trim).filter(|c| !c.is_empty()) {
        let mut lines = chunk.lines();
        let Some(head) = lines.next() else { continue };
        let Some(name) = head
            .split_whitespace()
            .find_map(|w| w.strip_prefix("{s}."))
            .map(str::to_string)
        else {
            continue;
        };
        let mut t = TableSpec {
            name,
            chunk: chunk.to_string(),
            columns: Vec::new(),
            indexes: Vec::new(),
            named_constraints: Vec::new(),
            foreign_keys: Vec::new(),
        };
        for line in lines {
            let l = line.trim().trim_end_matches(',');
            if l.starts_with("CREATE INDEX") || l.starts_with("CREATE UNIQUE INDEX") {
                if let Some(ix) = l.split_whitespace().find(|w| w.starts_with("ix_")) {
                    t.indexes.push((ix.to_string(), l.to_string()));
                }
            } else if let Some(rest) = l.strip_prefix("CONSTRAINT ") {
                let cname = rest.split_whitespace().next().unwrap_or_default();
                t.named_constraints.push((cname.to_string(), l.to_string()));
            } else if let Some(rest) = l.strip_prefix("FOREIGN KEY(") {
                let col = rest.split(')').next().unwrap_or_default();
                t.foreign_keys.push(ForeignKeySpec {
                    column: col.to_string(),
                    definition: l.to_string(),
                });
            } else if l.starts_with("PRIMARY KEY") || l.starts_with(')') || l.is_empty() {
                continue;
            } else {
                let mut words = l.splitn(2, ' ');
                let cname = words.next().unwrap_or_default().to_string();
                let rest = words.next().unwrap_or_default();
                let nullable = !rest.contains("NOT NULL");
                let sql_type = rest.replace("NOT NULL", "").trim().to_string();
                t.columns.push(ColumnSpec {
                    name: cname,
                    sql_type,
                    nullable,
                    definition: l.to_string(),
                });
            }
        }
        out.push(t);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_parse_from_the_embedded_sql() {
        let core = parse_tables(MIGRATIONS[0].sql);
        assert_eq!(core.len(), 2);
        assert_eq!(core[0].name, "fullauth_users");
        assert_eq!(core[0].columns.len(), 7);
        assert_eq!(core[1].indexes.len(), 4);
        assert_eq!(core[1].foreign_keys[0].column, "user_id");
        let ua = core[1]
            .columns
            .iter()
            .find(|c| c.name == "user_agent")
            .unwrap();
        assert!(ua.nullable);
        assert_eq!(ua.sql_type, "VARCHAR(512)");
        let oauth = parse_tables(MIGRATIONS[3].sql);
        assert_eq!(oauth[0].named_constraints[0].0, "uq_oauth_provider_user");
        assert!(same_type("character varying(512)", "VARCHAR(512)"));
        assert!(same_type(
            "timestamp with time zone",
            "TIMESTAMP WITH TIME ZONE"
        ));
    }

    #[test]
    fn migrations_are_ordered_and_unique() {
        let ids: Vec<&str> = MIGRATIONS.iter().map(|m| m.id).collect();
        let mut sorted = ids.clone();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(ids, sorted);
        let perms = migrations_for(Features::from(Feature::Permissions).with(Feature::Roles));
        assert_eq!(
            perms.iter().map(|m| m.id).collect::<Vec<_>>(),
            ["0001_core", "0002_roles", "0003_permissions"]
        );
    }
}
