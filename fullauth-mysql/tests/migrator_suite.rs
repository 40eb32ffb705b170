//! The migrator suite of `fullauth-conformance` against MariaDB
//! (`FULLAUTH_TEST_MYSQL_URL`): every case in databases of its own
//! (`fullauth_test_<time>_<random>`), dropped afterwards.

mod common;

use std::sync::Arc;

use async_trait::async_trait;
use fullauth_api::migrate::SqlMigrator;
use fullauth_api::migrate::schema::canonical_type;
use fullauth_api::{Features, Store, StoreError, StoreResult};
use fullauth_conformance::migration_tests;
use fullauth_conformance::migrations::{Dialect, MigrationDatabase, MigrationHarness};
use fullauth_mysql::sqlx::{self, MySqlPool, Row};
use fullauth_mysql::{MySqlMigrations, MySqlStore};

struct Maria {
    url: String,
    admin: MySqlPool,
}

struct Db {
    admin: MySqlPool,
    /// Connections that use the test database.
    pool: MySqlPool,
    database: String,
}

fn err(e: sqlx::Error) -> StoreError {
    StoreError::backend(format!("MariaDB (test harness): {e}"), e)
}

#[async_trait]
impl MigrationHarness for Maria {
    fn dialect(&self) -> Dialect {
        Dialect::MariaDb
    }

    async fn fresh(&self) -> StoreResult<Box<dyn MigrationDatabase>> {
        let database = common::fresh_database_name();
        common::create_database(&self.admin, &database)
            .await
            .map_err(err)?;
        Ok(Box::new(Db {
            admin: self.admin.clone(),
            pool: common::database_pool(&self.url, &database, 4).await,
            database,
        }))
    }
}

/// `MySqlStore` as `dyn Store` once the crate implements every store trait;
/// until then (operation modules still being ported) `store()` answers an
/// error and only the cases that need a store fail. Autoref specialisation:
/// the by-reference impl applies only when `T: Store`.
struct Probe<T>(T);

#[allow(dead_code)] // used once MySqlStore implements Store
trait AsDynStore {
    fn dyn_store(&self) -> StoreResult<Arc<dyn Store>>;
}

impl<T: Store + Clone + 'static> AsDynStore for Probe<T> {
    fn dyn_store(&self) -> StoreResult<Arc<dyn Store>> {
        Ok(Arc::new(self.0.clone()))
    }
}

trait NotYetAStore {
    fn dyn_store(&self) -> StoreResult<Arc<dyn Store>>;
}

impl<T> NotYetAStore for &Probe<T> {
    fn dyn_store(&self) -> StoreResult<Arc<dyn Store>> {
        Err(StoreError::backend_message(
            "MySqlStore does not implement Store yet (backend_impls! not enabled in lib.rs)",
        ))
    }
}

impl Db {
    fn store_sync(&self, features: Features) -> MySqlStore {
        MySqlStore::builder()
            .database(self.database.clone())
            .features(features)
            .from_pool(self.pool.clone())
            .unwrap_or_else(|e| panic!("a store on the test database: {e}"))
    }

    async fn catalog_of(&self) -> Result<Vec<String>, sqlx::Error> {
        let d = &self.database;
        let mut out = Vec::new();
        let tables: Vec<(String, Option<String>)> = sqlx::query_as(
            "SELECT CAST(TABLE_NAME AS CHAR), CAST(TABLE_COLLATION AS CHAR) \
             FROM information_schema.TABLES \
             WHERE TABLE_SCHEMA = ? AND TABLE_TYPE = 'BASE TABLE' \
             AND TABLE_NAME LIKE 'fullauth\\_%' AND TABLE_NAME <> 'fullauth_schema_migrations'",
        )
        .bind(d)
        .fetch_all(&self.pool)
        .await?;
        for (t, collation) in &tables {
            out.push(format!(
                "table {t} collation {}",
                collation.as_deref().unwrap_or("-")
            ));
            for r in sqlx::query(
                "SELECT CAST(COLUMN_NAME AS CHAR), CAST(COLUMN_TYPE AS CHAR), \
                        CAST(IS_NULLABLE = 'NO' AS SIGNED) \
                 FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?",
            )
            .bind(d)
            .bind(t)
            .fetch_all(&self.pool)
            .await?
            {
                let name: String = r.try_get(0)?;
                let ty: String = r.try_get(1)?;
                let not_null: i64 = r.try_get(2)?;
                out.push(format!(
                    "column {t}.{name} {}{}",
                    canonical_type(&ty),
                    if not_null != 0 { " NOT NULL" } else { "" }
                ));
            }
            let mut indexes: Vec<(String, bool, Vec<String>)> = Vec::new();
            for r in sqlx::query(
                "SELECT CAST(INDEX_NAME AS CHAR), CAST(NON_UNIQUE AS SIGNED), \
                        CAST(COLUMN_NAME AS CHAR) \
                 FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? \
                 ORDER BY INDEX_NAME, SEQ_IN_INDEX",
            )
            .bind(d)
            .bind(t)
            .fetch_all(&self.pool)
            .await?
            {
                let name: String = r.try_get(0)?;
                let non_unique: i64 = r.try_get(1)?;
                let column: String = r.try_get(2)?;
                match indexes.last_mut() {
                    Some(last) if last.0 == name => last.2.push(column),
                    _ => indexes.push((name, non_unique == 0, vec![column])),
                }
            }
            for (name, unique, cols) in indexes {
                out.push(if name == "PRIMARY" {
                    format!("pk {t} ({})", cols.join(", "))
                } else if unique {
                    format!("unique {t} ({})", cols.join(", "))
                } else {
                    format!("index {t} {name} ({})", cols.join(", "))
                });
            }
            let mut fks: Vec<(String, Vec<String>, String, bool)> = Vec::new();
            for r in sqlx::query(
                "SELECT CAST(k.CONSTRAINT_NAME AS CHAR), CAST(k.COLUMN_NAME AS CHAR), \
                        CAST(k.REFERENCED_TABLE_NAME AS CHAR), \
                        CAST(r.DELETE_RULE = 'CASCADE' AS SIGNED) \
                 FROM information_schema.KEY_COLUMN_USAGE k \
                 JOIN information_schema.REFERENTIAL_CONSTRAINTS r \
                   ON r.CONSTRAINT_SCHEMA = k.CONSTRAINT_SCHEMA \
                  AND r.CONSTRAINT_NAME = k.CONSTRAINT_NAME AND r.TABLE_NAME = k.TABLE_NAME \
                 WHERE k.TABLE_SCHEMA = ? AND k.TABLE_NAME = ? \
                   AND k.REFERENCED_TABLE_NAME IS NOT NULL \
                 ORDER BY k.CONSTRAINT_NAME, k.ORDINAL_POSITION",
            )
            .bind(d)
            .bind(t)
            .fetch_all(&self.pool)
            .await?
            {
                let name: String = r.try_get(0)?;
                let column: String = r.try_get(1)?;
                match fks.last_mut() {
                    Some(last) if last.0 == name => last.1.push(column),
                    _ => fks.push((
                        name,
                        vec![column],
                        r.try_get(2)?,
                        r.try_get::<i64, _>(3)? != 0,
                    )),
                }
            }
            for (_, cols, table, cascade) in fks {
                out.push(format!(
                    "fk {t} ({}) -> {table} {}",
                    cols.join(", "),
                    if cascade { "cascade" } else { "restrict" }
                ));
            }
        }
        out.sort();
        Ok(out)
    }
}

#[async_trait]
impl MigrationDatabase for Db {
    fn migrator(&self) -> Box<dyn SqlMigrator> {
        Box::new(self.store_sync(Features::all()).migrator())
    }

    async fn store(&self, features: Features) -> StoreResult<Arc<dyn Store>> {
        let store = self.store_sync(features);
        store.refresh_user_columns().await?;
        #[allow(unused_imports)]
        use {AsDynStore as _, NotYetAStore as _};
        (&Probe(store)).dyn_store()
    }

    async fn execute(&self, sql: &str) -> StoreResult<()> {
        let mut c = self.pool.acquire().await.map_err(err)?;
        match sqlx::raw_sql(sqlx::AssertSqlSafe(sql.to_string()))
            .execute(&mut *c)
            .await
        {
            Ok(_) => Ok(()),
            Err(e) => {
                // It may be left inside the script's transaction: close it.
                drop(c.detach());
                Err(err(e))
            }
        }
    }

    async fn tables(&self) -> StoreResult<Vec<String>> {
        let mut t: Vec<String> = sqlx::query_scalar(
            "SELECT CAST(TABLE_NAME AS CHAR) FROM information_schema.TABLES \
             WHERE TABLE_SCHEMA = ? AND TABLE_TYPE = 'BASE TABLE'",
        )
        .bind(&self.database)
        .fetch_all(&self.pool)
        .await
        .map_err(err)?;
        t.sort();
        Ok(t)
    }

    async fn catalog(&self) -> StoreResult<Vec<String>> {
        self.catalog_of().await.map_err(err)
    }

    async fn apply_in_app_transaction(
        &self,
        before: &str,
        features: Features,
        after: &str,
        commit: bool,
    ) -> StoreResult<Vec<String>> {
        let mut tx = self.pool.begin().await.map_err(err)?;
        if !before.is_empty() {
            sqlx::raw_sql(sqlx::AssertSqlSafe(before.to_string()))
                .execute(&mut *tx)
                .await
                .map_err(err)?;
        }
        let applied = MySqlMigrations::new(self.database.clone())?
            .apply(&mut *tx, features)
            .await?;
        if !after.is_empty() {
            sqlx::raw_sql(sqlx::AssertSqlSafe(after.to_string()))
                .execute(&mut *tx)
                .await
                .map_err(err)?;
        }
        if commit {
            tx.commit().await.map_err(err)?;
        } else {
            tx.rollback().await.map_err(err)?;
        }
        Ok(applied)
    }

    async fn write_0_1_tracking(&self, _features: Features) -> StoreResult<()> {
        Err(StoreError::backend_message(
            "fullauth-mysql had no 0.1 release: there is no 0.1 tracking table to write",
        ))
    }

    async fn close(self: Box<Self>) {
        self.pool.close().await;
        let _ = common::drop_database(&self.admin, &self.database).await;
    }
}

async fn harness() -> Option<Maria> {
    let url = common::database_url()?;
    let admin = common::pool(&url, 4).await;
    common::drop_stale_databases(&admin).await;
    Some(Maria { url, admin })
}

migration_tests!(harness);
