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
        Ok(Arc::new(store))
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

/// Runs `f` on a runtime of its own with a harness, or skips.
fn with_harness<F, Fut>(f: F)
where
    F: FnOnce(Maria) -> Fut,
    Fut: std::future::Future<Output = StoreResult<()>>,
{
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime");
    rt.block_on(async move {
        let Some(h) = harness().await else { return };
        if let Err(e) = f(h).await {
            panic!("{e} ({e:?})");
        }
    });
}

/// Migrators racing on one database are serialised by `GET_LOCK`: each
/// migration runs once, the losers find nothing to do.
#[test]
fn concurrent_migrators_apply_each_migration_once() {
    with_harness(|h| async move {
        let db = h.fresh().await?;
        let mut tasks = Vec::new();
        for _ in 0..4 {
            let m = db.migrator();
            tasks.push(tokio::spawn(async move { m.apply(Features::all()).await }));
        }
        let mut applied = Vec::new();
        for t in tasks {
            let ids = t
                .await
                .map_err(|e| StoreError::backend_message(e.to_string()))??;
            applied.extend(ids);
        }
        applied.sort();
        let mut expected: Vec<String> = fullauth_api::migrate::CATALOG
            .iter()
            .map(|e| e.id.to_string())
            .collect();
        expected.sort();
        assert_eq!(applied, expected);
        assert!(db.migrator().status(Features::all()).await?.is_up_to_date());
        db.close().await;
        Ok(())
    });
}

/// A fastapi-fullauth database (plain `DATETIME`, `TEXT`, the server's
/// case-insensitive collation) is widened and converted by adopt, each
/// repair reported; afterwards text compares byte for byte.
#[test]
fn adopt_widens_timestamps_and_converts_the_collation() {
    with_harness(|h| async move {
        let ddl = fullauth_conformance::migrations::fixtures::FastapiFullauth::V0_18
            .ddl(Dialect::MariaDb);
        let db = h.fresh().await?;
        db.execute(&ddl).await?;
        let r = db.migrator().adopt(Features::durable()).await?;
        assert!(
            r.notes.contains(
                &"widened fullauth_users.created_at to DATETIME(6) (microseconds)".into()
            ),
            "{r:?}"
        );
        assert!(
            r.notes.contains(
                &"widened fullauth_users.hashed_password from TEXT to MEDIUMTEXT (64 KiB to 16 MiB)"
                    .into()
            ),
            "{r:?}"
        );
        assert!(
            r.notes.iter().any(|n| n.starts_with(
                "converted fullauth_roles to utf8mb4 with the utf8mb4_nopad_bin collation (was \
                 utf8mb4_general_ci)"
            )),
            "{r:?}"
        );
        assert!(r.notes.iter().all(|n| Dialect::MariaDb.is_repair_note(n)));
        db.execute(
            "INSERT INTO fullauth_roles (id, name) VALUES (UUID(), 'Admin'), (UUID(), 'admin')",
        )
        .await?;
        db.close().await;
        Ok(())
    });
}

/// `apply` inside the app's transaction, up to date, writes nothing and
/// leaves the transaction open: the app's rollback undoes its own rows.
#[test]
fn an_up_to_date_apply_leaves_the_app_transaction_alone() {
    with_harness(|h| async move {
        let db = h.fresh().await?;
        db.migrator().apply(Features::all()).await?;
        db.execute("CREATE TABLE app_notes (id INTEGER NOT NULL, PRIMARY KEY (id))")
            .await?;
        let applied = db
            .apply_in_app_transaction(
                "INSERT INTO app_notes (id) VALUES (1)",
                Features::all(),
                "",
                false,
            )
            .await?;
        assert!(applied.is_empty());
        db.execute("INSERT INTO app_notes (id) VALUES (1)").await?;
        db.close().await;
        Ok(())
    });
}
