//! Shared test support: the database URL, fresh schemas, stores.
#![allow(dead_code)]

use std::str::FromStr;
use std::sync::OnceLock;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use fullauth_api::{Clock, Features, Timestamp, UserIdType};
use fullauth_postgres::PgStore;
use fullauth_postgres::sqlx::{self, PgPool};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};

/// The application name of every connection the tests open, so that the
/// connection-kill test terminates only the tests' own connections.
pub const APP_NAME: &str = "fullauth_pg_tests";

/// `FULLAUTH_TEST_DATABASE_URL`, or `None` after a loud message. Under
/// `CI=true` a missing or unreachable server is a failure.
pub fn database_url() -> Option<String> {
    let ci = std::env::var("CI").is_ok_and(|v| v == "true");
    match std::env::var("FULLAUTH_TEST_DATABASE_URL") {
        Ok(url) if !url.is_empty() => Some(url),
        _ if ci => {
            panic!("CI=true but FULLAUTH_TEST_DATABASE_URL is not set: PostgreSQL tests cannot run")
        }
        _ => {
            // Straight to the process's stderr, past the test harness's
            // output capture, so the skip cannot go unnoticed.
            use std::io::Write as _;
            let _ = std::io::stderr().write_all(
                b"\n\n*** SKIPPING fullauth-postgres tests: FULLAUTH_TEST_DATABASE_URL is not set ***\n\
                  *** e.g. FULLAUTH_TEST_DATABASE_URL=postgres://root@127.0.0.1:5432/test        ***\n\n",
            );
            None
        }
    }
}

/// A new schema name, unique to this run: `fullauth_test_<unix secs>_<random>`.
pub fn fresh_schema_name() -> String {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let r = uuid::Uuid::new_v4().simple().to_string();
    format!("fullauth_test_{secs}_{}", &r[..8])
}

/// A small pool with the tests' application name.
pub async fn pool(url: &str, max: u32) -> PgPool {
    let options = PgConnectOptions::from_str(url)
        .expect("a valid FULLAUTH_TEST_DATABASE_URL")
        .application_name(APP_NAME);
    PgPoolOptions::new()
        .max_connections(max)
        .acquire_timeout(Duration::from_secs(30))
        .test_before_acquire(false)
        .connect_with(options)
        .await
        .unwrap_or_else(|e| panic!("cannot reach PostgreSQL at FULLAUTH_TEST_DATABASE_URL: {e}"))
}

/// Drops test schemas of earlier runs older than an hour (runs that could
/// not drop their own), so repeated runs do not pile up.
pub async fn drop_stale_schemas(pool: &PgPool) {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let names: Vec<String> = sqlx::query_scalar(
        "SELECT nspname::text FROM pg_namespace WHERE nspname LIKE 'fullauth\\_test\\_%'",
    )
    .fetch_all(pool)
    .await
    .unwrap_or_default();
    for name in names {
        let secs: u64 = name
            .split('_')
            .nth(2)
            .and_then(|s| s.parse().ok())
            .unwrap_or(u64::MAX);
        if secs.saturating_add(3600) < now {
            let _ = drop_schema(pool, &name).await;
        }
    }
}

/// Drops a schema and everything in it.
pub async fn drop_schema(pool: &PgPool, schema: &str) -> Result<(), sqlx::Error> {
    let sql = format!(
        "DROP SCHEMA IF EXISTS \"{}\" CASCADE",
        schema.replace('"', "\"\"")
    );
    sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
        .execute(pool)
        .await
        .map(|_| ())
}

/// Runs `f` to completion on a runtime of its own, on a thread of its own
/// (usable from inside another runtime).
pub fn block_on_own_runtime<T: Send + 'static>(
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

/// The application columns the conformance suite's app-column cases use,
/// as added to `fullauth_users` by [`shared_schema`] (nullable, no default).
pub const APP_COLUMNS: [(&str, &str); 3] = [
    ("display_name", "TEXT"),
    ("newsletter", "BOOLEAN"),
    ("login_count", "INTEGER"),
];

/// One schema per test binary, with every feature migrated and the
/// suite's app columns ([`APP_COLUMNS`]) added afterwards. The reference
/// fixture's `display_name VARCHAR(100) NOT NULL DEFAULT ''` is exercised in
/// `tests/app_columns.rs`.
pub fn shared_schema(url: &str) -> &'static str {
    shared_keyed_schema(url, UserIdType::Uuid)
}

/// As [`shared_schema`], migrated for users keyed by `key` (one schema per
/// test binary and key type).
pub fn shared_keyed_schema(url: &str, key: UserIdType) -> &'static str {
    static SCHEMAS: [OnceLock<String>; 3] = [OnceLock::new(), OnceLock::new(), OnceLock::new()];
    let slot = match key {
        UserIdType::Uuid => &SCHEMAS[0],
        UserIdType::Int => &SCHEMAS[1],
        UserIdType::Text => &SCHEMAS[2],
    };
    slot.get_or_init(|| {
        let url = url.to_string();
        block_on_own_runtime(async move {
            let pool = pool(&url, 2).await;
            drop_stale_schemas(&pool).await;
            let schema = fresh_schema_name();
            let store = PgStore::builder()
                .schema(schema.clone())
                .features(Features::all())
                .user_id_type(key)
                .from_pool(pool.clone())
                .expect("open");
            store.migrate().await.expect("migrate");
            let columns = APP_COLUMNS
                .iter()
                .map(|(name, ty)| format!("ADD COLUMN {name} {ty}"))
                .collect::<Vec<_>>()
                .join(", ");
            let sql = format!("ALTER TABLE \"{schema}\".fullauth_users {columns}");
            sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
                .execute(&pool)
                .await
                .expect("add the app columns");
            pool.close().await;
            schema
        })
    })
}

/// A store on `schema` with connections of its own (at most 8, as
/// `connect` builds it), on `clock`; its key type is the database's.
pub async fn store(url: &str, schema: &str, clock: Clock) -> PgStore {
    store_with(url, schema, clock, PgStore::builder()).await
}

/// As [`store`], from `builder` (for settings of the test's own).
pub async fn store_with(
    url: &str,
    schema: &str,
    clock: Clock,
    builder: fullauth_postgres::PgStoreBuilder,
) -> PgStore {
    builder
        .schema(schema)
        .features(Features::all())
        .clock(clock)
        .max_connections(8)
        .acquire_timeout(Duration::from_secs(30))
        .application_name(APP_NAME)
        .connect(url)
        .await
        .unwrap_or_else(|e| panic!("cannot reach PostgreSQL at FULLAUTH_TEST_DATABASE_URL: {e}"))
}

/// A store on `schema` on the app's sqlx pool (`from_pool`, at most 8
/// connections), on `clock`.
pub async fn store_on_pool(url: &str, schema: &str, clock: Clock) -> PgStore {
    let pool = pool(url, 8).await;
    PgStore::builder()
        .schema(schema)
        .features(Features::all())
        .clock(clock)
        .from_pool(pool)
        .expect("open the store")
}

/// The clock the conformance cases run on: a manual clock starting now
/// (cases move it instead of sleeping), or the system clock with
/// `FULLAUTH_TEST_CLOCK=system`.
pub fn test_clock() -> Clock {
    match std::env::var("FULLAUTH_TEST_CLOCK").as_deref() {
        Ok("system") => Clock::system(),
        _ => Clock::manual(Timestamp::now()),
    }
}
