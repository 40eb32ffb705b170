//! The whole conformance suite on five compositions, each a
//! [`ComposedStore`] of a durable store and a store of the short-lived
//! features:
//!
//! * `postgres_redis`: PostgreSQL + Redis (the production recipe);
//! * `sqlite_redis`: SQLite + Redis;
//! * `memory_redis`: memory + Redis;
//! * `postgres_memory`: PostgreSQL + memory;
//! * `mariadb_redis`: MariaDB + Redis.
//!
//! PostgreSQL runs in one schema of this binary's own
//! (`fullauth_test_<time>_<random>`, dropped by later runs after an hour, as
//! the PostgreSQL backend's tests do) with the suite's three app columns;
//! Redis under a key prefix of this binary's own (every key has a TTL).
//! Compositions with Redis run on the system clock (Redis keeps time with the
//! server's clock), so their TTL cases sleep; PostgreSQL + memory shares one
//! manual clock. MariaDB runs in a database of this binary's own, made the
//! same way. `FULLAUTH_TEST_DATABASE_URL`, `FULLAUTH_TEST_REDIS_URL` and
//! `FULLAUTH_TEST_MYSQL_URL` name the servers; without them the cases say so and return, except under
//! `CI=true`, where they fail.

use std::io::Write as _;
use std::sync::{Arc, LazyLock, OnceLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use fullauth_api::{Clock, ComposedStore, Features, StoreInfo, Timestamp, UserIdType};
use fullauth_conformance::{ColumnKind, Subject, conformance_tests};
use fullauth_memory::{ColumnType, MemoryStore};
use fullauth_mysql::MySqlStore;
use fullauth_mysql::sqlx::mysql::MySqlPoolOptions;
use fullauth_mysql::sqlx::{MySql, Pool};
use fullauth_postgres::PgStore;
use fullauth_postgres::sqlx::{self, PgPool, postgres::PgPoolOptions};
use fullauth_redis::RedisStore;
use fullauth_sqlite::SqliteStore;
use serde_json::Value;

/// The suite's app columns: name, SQL type, the kind declared to the suite.
const APP_COLUMNS: [(&str, &str, ColumnKind); 3] = [
    ("display_name", "TEXT", ColumnKind::Text),
    ("newsletter", "BOOLEAN", ColumnKind::Boolean),
    ("login_count", "INTEGER", ColumnKind::Integer),
];

fn is_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true")
}

/// A server URL from `var`; `None` after a loud notice, or a panic under CI.
fn url(var: &str) -> Option<String> {
    match std::env::var(var) {
        Ok(u) if !u.trim().is_empty() => Some(u),
        _ if is_ci() => panic!("CI=true but {var} is not set: the composition tests cannot run"),
        _ => {
            let _ = writeln!(
                std::io::stderr(),
                "\n*** SKIPPING fullauth composition tests: {var} is not set ***\n"
            );
            None
        }
    }
}

fn declare(subject: Subject) -> Subject {
    APP_COLUMNS
        .iter()
        .fold(subject, |s, (name, _, kind)| s.with_app_column(name, *kind))
}

// ---- PostgreSQL ---------------------------------------------------------

async fn pg_pool(url: &str, max: u32) -> PgPool {
    PgPoolOptions::new()
        .max_connections(max)
        .acquire_timeout(Duration::from_secs(30))
        .connect(url)
        .await
        .unwrap_or_else(|e| panic!("cannot reach PostgreSQL at FULLAUTH_TEST_DATABASE_URL: {e}"))
}

/// Runs `f` to completion on a thread and runtime of its own (a pool
/// belongs to the runtime that opened it; the setup outlives no case).
fn on_own_runtime<T: Send + 'static>(
    f: impl std::future::Future<Output = T> + Send + 'static,
) -> T {
    std::thread::spawn(move || {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime")
            .block_on(f)
    })
    .join()
    .expect("the setup thread")
}

/// This binary's schema, migrated, with the app columns; made once.
fn pg_schema(url: &str) -> &'static str {
    static SCHEMA: OnceLock<String> = OnceLock::new();
    SCHEMA.get_or_init(|| make_pg_schema(url, UserIdType::Uuid))
}

/// This binary's integer-keyed schema (`UserSchema[int]`).
fn pg_int_schema(url: &str) -> &'static str {
    static SCHEMA: OnceLock<String> = OnceLock::new();
    SCHEMA.get_or_init(|| make_pg_schema(url, UserIdType::Int))
}

/// A fresh schema migrated for users keyed by `key`, with the app columns.
fn make_pg_schema(url: &str, key: UserIdType) -> String {
    {
        let url = url.to_string();
        on_own_runtime(async move {
            let schema = fresh_name();
            let pool = pg_pool(&url, 2).await;
            let store = PgStore::builder()
                .schema(schema.clone())
                .user_id_type(key)
                .from_pool(pool.clone())
                .expect("a store");
            store.migrate().await.expect("migrate");
            let columns = APP_COLUMNS
                .iter()
                .map(|(name, ty, _)| format!("ADD COLUMN {name} {ty}"))
                .collect::<Vec<_>>()
                .join(", ");
            sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
                "ALTER TABLE \"{schema}\".fullauth_users {columns}"
            )))
            .execute(&pool)
            .await
            .expect("add the app columns");
            pool.close().await;
            schema
        })
    }
}

/// A PostgreSQL store on this binary's schema, with a small pool of its own
/// (each case runs on its own runtime).
async fn pg(url: &str, clock: Clock) -> PgStore {
    let schema = pg_schema(url);
    PgStore::builder()
        .schema(schema)
        .clock(clock)
        .from_pool(pg_pool(url, 4).await)
        .expect("a store")
}

// ---- MariaDB ------------------------------------------------------------

async fn mysql_pool(url: &str, max: u32) -> Pool<MySql> {
    MySqlPoolOptions::new()
        .max_connections(max)
        .acquire_timeout(Duration::from_secs(30))
        .connect(url)
        .await
        .unwrap_or_else(|e| panic!("cannot reach MariaDB at FULLAUTH_TEST_MYSQL_URL: {e}"))
}

/// A fresh name `fullauth_test_<unix secs>_<random>` for this binary's
/// schema or database (the backends' own tests drop stale ones after an
/// hour).
fn fresh_name() -> String {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let rand = uuid::Uuid::new_v4().simple().to_string();
    format!("fullauth_test_{secs}_{}", &rand[..8])
}

/// This binary's MariaDB database, migrated, with the app columns (`TEXT` is
/// `MEDIUMTEXT` there: MariaDB's `TEXT` holds 65,535 bytes and the suite
/// writes 64 KiB plus multi-byte characters); made once.
fn mysql_database(url: &str) -> &'static str {
    static DATABASE: OnceLock<String> = OnceLock::new();
    DATABASE.get_or_init(|| {
        let url = url.to_string();
        on_own_runtime(async move {
            let database = fresh_name();
            let pool = mysql_pool(&url, 2).await;
            sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
                "CREATE DATABASE `{database}` CHARACTER SET utf8mb4"
            )))
            .execute(&pool)
            .await
            .expect("create the database");
            let store = MySqlStore::builder()
                .database(database.clone())
                .from_pool(pool.clone())
                .expect("a store");
            store.migrate().await.expect("migrate");
            let columns = APP_COLUMNS
                .iter()
                .map(|(name, ty, _)| {
                    let ty = if *ty == "TEXT" { "MEDIUMTEXT" } else { ty };
                    format!("ADD COLUMN {name} {ty}")
                })
                .collect::<Vec<_>>()
                .join(", ");
            sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
                "ALTER TABLE `{database}`.fullauth_users {columns}"
            )))
            .execute(&pool)
            .await
            .expect("add the app columns");
            pool.close().await;
            database
        })
    })
}

/// A MariaDB store on this binary's database, with a small pool of its own.
async fn mysql(url: &str, clock: Clock) -> MySqlStore {
    let database = mysql_database(url);
    MySqlStore::builder()
        .database(database)
        .clock(clock)
        .from_pool(mysql_pool(url, 4).await)
        .expect("a store")
}

// ---- Redis --------------------------------------------------------------

static PREFIX: LazyLock<String> = LazyLock::new(|| {
    let id = uuid::Uuid::new_v4().simple().to_string();
    format!("fullauth-test-{}:", &id[..12])
});

async fn redis(url: &str) -> RedisStore {
    RedisStore::builder()
        .key_prefix(PREFIX.as_str())
        .timeout(Duration::from_secs(2))
        .connect(url)
        .await
        .unwrap_or_else(|e| panic!("the Redis at {url} does not answer: {e}"))
}

// ---- SQLite and memory --------------------------------------------------

async fn sqlite(clock: Clock) -> SqliteStore {
    let store = SqliteStore::builder()
        .clock(clock)
        .migrate(true)
        .open_temporary()
        .await
        .expect("a temporary database");
    store
        .with_connection(|c| {
            for (name, ty, _) in APP_COLUMNS {
                c.execute_batch(&format!(
                    "ALTER TABLE fullauth_users ADD COLUMN {name} {ty}"
                ))?;
            }
            Ok(())
        })
        .await
        .expect("add the app columns");
    store
}

fn memory(clock: Clock, features: Features) -> MemoryStore {
    let kind = |k: ColumnKind| match k {
        ColumnKind::Text => ColumnType::Text,
        ColumnKind::Boolean => ColumnType::Boolean,
        ColumnKind::Integer => ColumnType::Integer,
    };
    APP_COLUMNS
        .iter()
        .fold(
            MemoryStore::builder().clock(clock).features(features),
            |b, (name, _, k)| b.typed_user_column(*name, kind(*k), Value::Null),
        )
        .build()
        .expect("a memory store")
}

// ---- The four compositions ----------------------------------------------

mod postgres_redis {
    use super::*;

    async fn subject() -> Option<Subject> {
        let (db, cache) = (
            url("FULLAUTH_TEST_DATABASE_URL")?,
            url("FULLAUTH_TEST_REDIS_URL")?,
        );
        let store = ComposedStore::builder()
            .durable(pg(&db, Clock::system()).await)
            .short_lived(redis(&cache).await)
            .build()
            .expect("a composition");
        assert_eq!(store.features(), Features::all());
        Some(declare(Subject::new(Arc::new(store))))
    }

    conformance_tests!(subject);
}

/// An integer-keyed PostgreSQL store composed with Redis: the composition
/// keys users as its durable part does.
mod postgres_int_keys_redis {
    use super::*;

    async fn subject() -> Option<Subject> {
        let (db, cache) = (
            url("FULLAUTH_TEST_DATABASE_URL")?,
            url("FULLAUTH_TEST_REDIS_URL")?,
        );
        let durable = PgStore::builder()
            .schema(pg_int_schema(&db))
            .user_id_type(UserIdType::Int)
            .from_pool(pg_pool(&db, 4).await)
            .expect("a store");
        let store = ComposedStore::builder()
            .durable(durable)
            .short_lived(redis(&cache).await)
            .build()
            .expect("a composition");
        assert_eq!(store.user_id_type(), UserIdType::Int);
        Some(declare(Subject::new(Arc::new(store))))
    }

    conformance_tests!(subject);
}

mod sqlite_redis {
    use super::*;

    async fn subject() -> Option<Subject> {
        let cache = url("FULLAUTH_TEST_REDIS_URL")?;
        // SQLite serves the short-lived features too: the Redis part replaces them.
        let durable = sqlite(Clock::system()).await;
        let store = ComposedStore::builder()
            .durable(durable.clone())
            .short_lived(durable)
            .short_lived(redis(&cache).await)
            .build()
            .expect("a composition");
        assert!(store.parts().iter().all(|(f, backend)| {
            *backend
                == if f.is_short_lived() {
                    "redis"
                } else {
                    "sqlite"
                }
        }));
        Some(declare(Subject::new(Arc::new(store))))
    }

    conformance_tests!(subject);
}

mod memory_redis {
    use super::*;

    async fn subject() -> Option<Subject> {
        let cache = url("FULLAUTH_TEST_REDIS_URL")?;
        let store = ComposedStore::builder()
            .durable(memory(Clock::system(), Features::durable()))
            .short_lived(redis(&cache).await)
            .build()
            .expect("a composition");
        Some(declare(Subject::new(Arc::new(store))))
    }

    conformance_tests!(subject);
}

mod postgres_memory {
    use super::*;

    async fn subject() -> Option<Subject> {
        let db = url("FULLAUTH_TEST_DATABASE_URL")?;
        let clock = Clock::manual(Timestamp::now());
        let store = ComposedStore::builder()
            .durable(pg(&db, clock.clone()).await)
            .short_lived(memory(clock.clone(), Features::short_lived()))
            .build()
            .expect("a composition");
        Some(declare(Subject::new(Arc::new(store)).with_clock(clock)))
    }

    conformance_tests!(subject);
}

mod mariadb_redis {
    use super::*;

    async fn subject() -> Option<Subject> {
        let (db, cache) = (
            url("FULLAUTH_TEST_MYSQL_URL")?,
            url("FULLAUTH_TEST_REDIS_URL")?,
        );
        let store = ComposedStore::builder()
            .durable(mysql(&db, Clock::system()).await)
            .short_lived(redis(&cache).await)
            .build()
            .expect("a composition");
        assert_eq!(store.features(), Features::all());
        Some(declare(Subject::new(Arc::new(store))))
    }

    conformance_tests!(subject);
}
