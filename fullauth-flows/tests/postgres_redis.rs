//! The flow cases on PostgreSQL + Redis composed with
//! [`fullauth_api::ComposedStore`] (the production recipe).
//!
//! PostgreSQL runs in one schema of this binary's own
//! (`fullauth_test_<time>_<random>`; schemas of earlier runs older than an
//! hour are dropped), Redis under a key prefix of its own (every key has a
//! TTL). `FULLAUTH_TEST_DATABASE_URL` and `FULLAUTH_TEST_REDIS_URL` name the
//! servers; without them the cases say so loudly and return, except under
//! `CI=true`, where they fail.

mod common;

use std::io::Write as _;
use std::sync::{Arc, LazyLock, OnceLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use fullauth_api::{ComposedStore, Features, Store, StoreInfo};
use fullauth_postgres::PgStore;
use fullauth_postgres::sqlx::{self, PgPool, postgres::PgPoolOptions};
use fullauth_redis::RedisStore;

fn is_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true")
}

/// A server URL from `var`; `None` after a loud notice, or a panic under CI.
fn url(var: &str) -> Option<String> {
    match std::env::var(var) {
        Ok(u) if !u.trim().is_empty() => Some(u),
        _ if is_ci() => {
            panic!("CI=true but {var} is not set: the PostgreSQL + Redis flow tests cannot run")
        }
        _ => {
            let _ = writeln!(
                std::io::stderr(),
                "\n*** SKIPPING fullauth-flows PostgreSQL + Redis tests: {var} is not set ***\n"
            );
            None
        }
    }
}

fn unix_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

async fn pg_pool(url: &str, max: u32) -> PgPool {
    PgPoolOptions::new()
        .max_connections(max)
        .acquire_timeout(Duration::from_secs(30))
        .connect(url)
        .await
        .unwrap_or_else(|e| panic!("cannot reach PostgreSQL at FULLAUTH_TEST_DATABASE_URL: {e}"))
}

/// Drops test schemas of earlier runs older than an hour.
async fn drop_stale_schemas(pool: &PgPool) {
    let names: Vec<String> = sqlx::query_scalar(
        "SELECT nspname::text FROM pg_namespace WHERE nspname LIKE 'fullauth\\_test\\_%'",
    )
    .fetch_all(pool)
    .await
    .unwrap_or_default();
    let now = unix_secs();
    for name in names {
        let secs: u64 = name
            .split('_')
            .nth(2)
            .and_then(|s| s.parse().ok())
            .unwrap_or(u64::MAX);
        if secs.saturating_add(3600) < now {
            let sql = format!(
                "DROP SCHEMA IF EXISTS \"{}\" CASCADE",
                name.replace('"', "\"\"")
            );
            let _ = sqlx::raw_sql(sqlx::AssertSqlSafe(sql)).execute(pool).await;
        }
    }
}

/// This binary's schema, migrated; made once, on a runtime of its own (a
/// pool belongs to its runtime).
fn schema(url: &str) -> &'static str {
    static SCHEMA: OnceLock<String> = OnceLock::new();
    SCHEMA.get_or_init(|| {
        let url = url.to_string();
        std::thread::spawn(move || {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("a runtime")
                .block_on(async move {
                    let rand = uuid::Uuid::new_v4().simple().to_string();
                    let schema = format!("fullauth_test_{}_{}", unix_secs(), &rand[..8]);
                    let pool = pg_pool(&url, 2).await;
                    drop_stale_schemas(&pool).await;
                    let store = PgStore::builder()
                        .schema(schema.clone())
                        .from_pool(pool.clone())
                        .expect("a store");
                    store.migrate().await.expect("migrate");
                    pool.close().await;
                    schema
                })
        })
        .join()
        .expect("the schema setup thread")
    })
}

static PREFIX: LazyLock<String> = LazyLock::new(|| {
    let id = uuid::Uuid::new_v4().simple().to_string();
    format!("fullauth-flows-test-{}:", &id[..12])
});

async fn store() -> Option<Arc<dyn Store>> {
    let (db, cache) = (
        url("FULLAUTH_TEST_DATABASE_URL")?,
        url("FULLAUTH_TEST_REDIS_URL")?,
    );
    let durable = PgStore::builder()
        .schema(schema(&db))
        .from_pool(pg_pool(&db, 4).await)
        .expect("a PostgreSQL store");
    let redis = RedisStore::builder()
        .key_prefix(PREFIX.as_str())
        .timeout(Duration::from_secs(2))
        .connect(&cache)
        .await
        .unwrap_or_else(|e| panic!("the Redis at {cache} does not answer: {e}"));
    let store = ComposedStore::builder()
        .durable(durable)
        .short_lived(redis)
        .build()
        .expect("a composition");
    assert_eq!(store.features(), Features::all());
    Some(Arc::new(store))
}

flow_cases!(store);
