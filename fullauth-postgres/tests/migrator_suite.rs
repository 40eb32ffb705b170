//! The migrator suite of `fullauth-conformance` against PostgreSQL
//! (`FULLAUTH_TEST_DATABASE_URL`): every case in schemas of its own
//! (`fullauth_test_<time>_<random>`), dropped afterwards.

mod common;

use std::sync::Arc;

use async_trait::async_trait;
use fullauth_api::migrate::schema::canonical_type;
use fullauth_api::migrate::{SqlMigrator, feature_of};
use fullauth_api::{Features, Store, StoreError, StoreResult};
use fullauth_conformance::migration_tests;
use fullauth_conformance::migrations::{Dialect, MigrationDatabase, MigrationHarness};
use fullauth_postgres::sqlx::{self, PgPool, Row};
use fullauth_postgres::{PgMigrations, PgStore};

struct Pg {
    pool: PgPool,
}

struct Db {
    pool: PgPool,
    schema: String,
}

fn err(e: sqlx::Error) -> StoreError {
    StoreError::backend(format!("PostgreSQL (test harness): {e}"), e)
}

fn quote(s: &str) -> String {
    format!("\"{}\"", s.replace('"', "\"\""))
}

#[async_trait]
impl MigrationHarness for Pg {
    fn dialect(&self) -> Dialect {
        Dialect::Postgres
    }

    async fn fresh(&self) -> StoreResult<Box<dyn MigrationDatabase>> {
        Ok(Box::new(Db {
            pool: self.pool.clone(),
            schema: common::fresh_schema_name(),
        }))
    }
}

impl Db {
    async fn catalog_of(&self) -> Result<Vec<String>, sqlx::Error> {
        let s = &self.schema;
        let mut out = Vec::new();
        let tables: Vec<String> = sqlx::query_scalar(
            "SELECT c.relname::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
             WHERE n.nspname = $1 AND c.relkind = 'r' AND c.relname LIKE 'fullauth\\_%' \
             AND c.relname <> 'fullauth_schema_migrations'",
        )
        .bind(s)
        .fetch_all(&self.pool)
        .await?;
        for t in &tables {
            for r in sqlx::query(
                "SELECT a.attname::text, format_type(a.atttypid, a.atttypmod), a.attnotnull \
                 FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid \
                 JOIN pg_namespace n ON n.oid = c.relnamespace \
                 WHERE n.nspname = $1 AND c.relname = $2 AND a.attnum > 0 AND NOT a.attisdropped",
            )
            .bind(s)
            .bind(t)
            .fetch_all(&self.pool)
            .await?
            {
                let name: String = r.get(0);
                let ty: String = r.get(1);
                let not_null: bool = r.get(2);
                out.push(format!(
                    "column {t}.{name} {}{}",
                    canonical_type(&ty),
                    if not_null { " NOT NULL" } else { "" }
                ));
            }
            for r in sqlx::query(
                "SELECT ic.relname::text, i.indisunique, i.indisprimary, \
                        array(SELECT a.attname::text FROM unnest(i.indkey::int2[]) \
                              WITH ORDINALITY AS k(attnum, ord) \
                              JOIN pg_attribute a ON a.attrelid = i.indrelid \
                                AND a.attnum = k.attnum ORDER BY k.ord) \
                 FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid \
                 JOIN pg_class c ON c.oid = i.indrelid \
                 JOIN pg_namespace n ON n.oid = c.relnamespace \
                 WHERE n.nspname = $1 AND c.relname = $2",
            )
            .bind(s)
            .bind(t)
            .fetch_all(&self.pool)
            .await?
            {
                let name: String = r.get(0);
                let unique: bool = r.get(1);
                let primary: bool = r.get(2);
                let cols: Vec<String> = r.get(3);
                out.push(if primary {
                    format!("pk {t} ({})", cols.join(", "))
                } else if unique {
                    format!("unique {t} ({})", cols.join(", "))
                } else {
                    format!("index {t} {name} ({})", cols.join(", "))
                });
            }
            for r in sqlx::query(
                "SELECT array(SELECT a.attname::text FROM unnest(con.conkey) AS k(attnum) \
                              JOIN pg_attribute a ON a.attrelid = con.conrelid \
                                AND a.attnum = k.attnum), \
                        rt.relname::text, con.confdeltype = 'c' \
                 FROM pg_constraint con JOIN pg_class c ON c.oid = con.conrelid \
                 JOIN pg_namespace n ON n.oid = c.relnamespace \
                 JOIN pg_class rt ON rt.oid = con.confrelid \
                 WHERE con.contype = 'f' AND n.nspname = $1 AND c.relname = $2",
            )
            .bind(s)
            .bind(t)
            .fetch_all(&self.pool)
            .await?
            {
                let cols: Vec<String> = r.get(0);
                let table: String = r.get(1);
                let cascade: bool = r.get(2);
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
        let q = quote(&self.schema);
        let mut c = self.pool.acquire().await.map_err(err)?;
        let script = format!(
            "CREATE SCHEMA IF NOT EXISTS {q}; SET search_path TO {q};\n{sql}\n;RESET search_path;"
        );
        match sqlx::raw_sql(sqlx::AssertSqlSafe(script))
            .execute(&mut *c)
            .await
        {
            Ok(_) => Ok(()),
            Err(e) => {
                // Its search_path may still point at the schema: close it.
                drop(c.detach());
                Err(err(e))
            }
        }
    }

    async fn tables(&self) -> StoreResult<Vec<String>> {
        let mut t: Vec<String> = sqlx::query_scalar(
            "SELECT c.relname::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
             WHERE n.nspname = $1 AND c.relkind IN ('r', 'p')",
        )
        .bind(&self.schema)
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
        let q = quote(&self.schema);
        let mut tx = self.pool.begin().await.map_err(err)?;
        let setup = format!("CREATE SCHEMA IF NOT EXISTS {q}; SET LOCAL search_path TO {q}");
        sqlx::raw_sql(sqlx::AssertSqlSafe(setup))
            .execute(&mut *tx)
            .await
            .map_err(err)?;
        if !before.is_empty() {
            sqlx::raw_sql(sqlx::AssertSqlSafe(before.to_string()))
                .execute(&mut *tx)
                .await
                .map_err(err)?;
        }
        let applied = PgMigrations::new(self.schema.clone())?
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

    async fn write_0_1_tracking(&self, features: Features) -> StoreResult<()> {
        let mut sql = String::from(
            "DROP TABLE IF EXISTS fullauth_schema_migrations;
             CREATE TABLE fullauth_schema_migrations (
                 id TEXT NOT NULL,
                 checksum TEXT NOT NULL,
                 description TEXT NOT NULL,
                 applied_at TIMESTAMP WITH TIME ZONE NOT NULL,
                 adopted BOOLEAN NOT NULL DEFAULT false,
                 PRIMARY KEY (id)
             );\n",
        );
        for l in Dialect::Postgres.legacy_0_1() {
            if feature_of(l.id).is_some_and(|f| features.contains(f)) {
                sql.push_str(&format!(
                    "INSERT INTO fullauth_schema_migrations (id, checksum, description, applied_at) \
                     VALUES ('{}', '{}', 'fullauth 0.1', now());\n",
                    l.id, l.checksum
                ));
            }
        }
        self.execute(&sql).await
    }

    async fn close(self: Box<Self>) {
        let _ = common::drop_schema(&self.pool, &self.schema).await;
    }
}

impl Db {
    fn store_sync(&self, features: Features) -> PgStore {
        PgStore::builder()
            .schema(self.schema.clone())
            .features(features)
            .from_pool(self.pool.clone())
            .unwrap_or_else(|e| panic!("a store on the test schema: {e}"))
    }
}

async fn harness() -> Option<Pg> {
    let url = common::database_url()?;
    Some(Pg {
        pool: common::pool(&url, 4).await,
    })
}

migration_tests!(harness);
