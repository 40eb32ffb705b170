//! The migrator suite of `fullauth-conformance` against SQLite: every case
//! on temporary database files of its own.

use std::path::PathBuf;
use std::sync::Arc;

use async_trait::async_trait;
use fullauth_api::migrate::schema::canonical_type;
use fullauth_api::migrate::{SqlMigrator, feature_of};
use fullauth_api::{Features, Store, StoreError, StoreResult};
use fullauth_conformance::migration_tests;
use fullauth_conformance::migrations::{Dialect, MigrationDatabase, MigrationHarness};
use fullauth_sqlite::rusqlite::{self, Connection};
use fullauth_sqlite::{SqliteMigrations, SqliteStore};

struct Sqlite;

struct Db {
    path: PathBuf,
    store: Option<SqliteStore>,
}

fn err(e: rusqlite::Error) -> StoreError {
    StoreError::backend("SQLite (test harness)", e)
}

impl Db {
    fn connect(&self) -> StoreResult<Connection> {
        let c = Connection::open(&self.path).map_err(err)?;
        c.busy_timeout(std::time::Duration::from_secs(5))
            .map_err(err)?;
        c.execute_batch("PRAGMA foreign_keys = ON").map_err(err)?;
        Ok(c)
    }

    fn store_ref(&self) -> &SqliteStore {
        self.store
            .as_ref()
            .unwrap_or_else(|| panic!("the database is closed"))
    }
}

impl Drop for Db {
    fn drop(&mut self) {
        self.store = None;
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", self.path.display()));
        }
    }
}

#[async_trait]
impl MigrationHarness for Sqlite {
    fn dialect(&self) -> Dialect {
        Dialect::Sqlite
    }

    async fn fresh(&self) -> StoreResult<Box<dyn MigrationDatabase>> {
        let path = std::env::temp_dir().join(format!(
            "fullauth-migrator-suite-{}.db",
            uuid::Uuid::new_v4().simple()
        ));
        let store = SqliteStore::builder().open(&path).await?;
        Ok(Box::new(Db {
            path,
            store: Some(store),
        }))
    }
}

fn strings(c: &Connection, sql: &str, param: &str) -> StoreResult<Vec<String>> {
    let mut stmt = c.prepare(sql).map_err(err)?;
    let rows = stmt
        .query_map([param], |r| r.get::<_, String>(0))
        .map_err(err)?
        .collect::<rusqlite::Result<Vec<_>>>()
        .map_err(err)?;
    Ok(rows)
}

fn catalog_of(c: &Connection) -> rusqlite::Result<Vec<String>> {
    let tables: Vec<String> = c
        .prepare(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name LIKE 'fullauth\\_%' \
             ESCAPE '\\' AND name <> 'fullauth_schema_migrations'",
        )?
        .query_map([], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    let mut out = Vec::new();
    for t in &tables {
        let cols: Vec<(String, String, bool, i64)> = c
            .prepare("SELECT name, type, \"notnull\", pk FROM pragma_table_info(?1)")?
            .query_map([t], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get::<_, i64>(2)? != 0, r.get(3)?))
            })?
            .collect::<rusqlite::Result<_>>()?;
        let mut pk: Vec<(i64, String)> = Vec::new();
        for (name, ty, not_null, pk_pos) in cols {
            out.push(format!(
                "column {t}.{name} {}{}",
                canonical_type(&ty),
                if not_null { " NOT NULL" } else { "" }
            ));
            if pk_pos > 0 {
                pk.push((pk_pos, name));
            }
        }
        pk.sort();
        let pk: Vec<String> = pk.into_iter().map(|(_, n)| n).collect();
        out.push(format!("pk {t} ({})", pk.join(", ")));
        let indexes: Vec<(String, bool, String)> = c
            .prepare("SELECT name, \"unique\", origin FROM pragma_index_list(?1)")?
            .query_map([t], |r| {
                Ok((r.get(0)?, r.get::<_, i64>(1)? != 0, r.get(2)?))
            })?
            .collect::<rusqlite::Result<_>>()?;
        for (name, unique, origin) in indexes {
            if origin == "pk" {
                continue;
            }
            let cols: Vec<String> = c
                .prepare("SELECT name FROM pragma_index_info(?1) ORDER BY seqno")?
                .query_map([&name], |r| r.get(0))?
                .collect::<rusqlite::Result<_>>()?;
            out.push(if unique {
                format!("unique {t} ({})", cols.join(", "))
            } else {
                format!("index {t} {name} ({})", cols.join(", "))
            });
        }
        let fks: Vec<(String, String, String)> = c
            .prepare("SELECT \"from\", \"table\", on_delete FROM pragma_foreign_key_list(?1)")?
            .query_map([t], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
            .collect::<rusqlite::Result<_>>()?;
        for (from, table, on_delete) in fks {
            out.push(format!(
                "fk {t} ({from}) -> {table} {}",
                if on_delete == "CASCADE" {
                    "cascade"
                } else {
                    "restrict"
                }
            ));
        }
    }
    out.sort();
    Ok(out)
}

#[async_trait]
impl MigrationDatabase for Db {
    fn migrator(&self) -> Box<dyn SqlMigrator> {
        Box::new(self.store_ref().migrator())
    }

    async fn store(&self, features: Features) -> StoreResult<Arc<dyn Store>> {
        let store = SqliteStore::builder()
            .features(features)
            .open(&self.path)
            .await?;
        Ok(Arc::new(store))
    }

    async fn execute(&self, sql: &str) -> StoreResult<()> {
        self.connect()?.execute_batch(sql).map_err(err)
    }

    async fn tables(&self) -> StoreResult<Vec<String>> {
        let c = self.connect()?;
        let mut t = strings(
            &c,
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE ?1",
            "sqlite\\_%",
        )?;
        t.retain(|n| !n.starts_with("sqlite_"));
        t.sort();
        Ok(t)
    }

    async fn catalog(&self) -> StoreResult<Vec<String>> {
        catalog_of(&self.connect()?).map_err(err)
    }

    async fn apply_in_app_transaction(
        &self,
        before: &str,
        features: Features,
        after: &str,
        commit: bool,
    ) -> StoreResult<Vec<String>> {
        let mut c = self.connect()?;
        let tx = c.transaction().map_err(err)?;
        tx.execute_batch(before).map_err(err)?;
        let applied = SqliteMigrations::new().apply(&tx, features)?;
        tx.execute_batch(after).map_err(err)?;
        if commit {
            tx.commit().map_err(err)?;
        } else {
            tx.rollback().map_err(err)?;
        }
        Ok(applied)
    }

    async fn write_0_1_tracking(&self, features: Features) -> StoreResult<()> {
        let c = self.connect()?;
        c.execute_batch(
            "DROP TABLE IF EXISTS fullauth_schema_migrations;
             CREATE TABLE fullauth_schema_migrations (
                 id VARCHAR(100) NOT NULL,
                 feature VARCHAR(20) NOT NULL,
                 checksum VARCHAR(64) NOT NULL,
                 applied_at DATETIME NOT NULL,
                 adopted BOOLEAN NOT NULL,
                 PRIMARY KEY (id)
             );",
        )
        .map_err(err)?;
        for l in Dialect::Sqlite.legacy_0_1() {
            let Some(f) = feature_of(l.id).filter(|f| features.contains(*f)) else {
                continue;
            };
            c.execute(
                "INSERT INTO fullauth_schema_migrations (id, feature, checksum, applied_at, adopted) \
                 VALUES (?1, ?2, ?3, '2025-06-01 12:00:00.000000', 0)",
                [l.id, f.name(), l.checksum],
            )
            .map_err(err)?;
        }
        Ok(())
    }

    async fn close(mut self: Box<Self>) {
        self.store = None;
    }
}

async fn harness() -> Sqlite {
    Sqlite
}

migration_tests!(harness);
