//! Shared test support: the server URL, fresh databases, pools, stores.
#![allow(dead_code)]

use std::collections::HashMap;
use std::str::FromStr;
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use fullauth_api::{Clock, Features, Timestamp, UserIdType};
use fullauth_mysql::MySqlStore;
use fullauth_mysql::sqlx::{self, MySqlPool};
use sqlx::mysql::{MySqlConnectOptions, MySqlPoolOptions};

/// The prefix of every database the tests create.
pub const PREFIX: &str = "fullauth_test_";

/// `FULLAUTH_TEST_MYSQL_URL` (e.g. `mysql://root@127.0.0.1:3306/test`), or
/// `None` after a loud message. Under `CI=true` a missing variable is a
/// failure.
pub fn database_url() -> Option<String> {
    let ci = std::env::var("CI").is_ok_and(|v| v == "true");
    match std::env::var("FULLAUTH_TEST_MYSQL_URL") {
        Ok(url) if !url.is_empty() => Some(url),
        _ if ci => {
            panic!("CI=true but FULLAUTH_TEST_MYSQL_URL is not set: MariaDB tests cannot run")
        }
        _ => {
            // Straight to the process's stderr, past the test harness's
            // output capture, so the skip cannot go unnoticed.
            use std::io::Write as _;
            let _ = std::io::stderr().write_all(
                b"\n\n*** SKIPPING fullauth-mysql tests: FULLAUTH_TEST_MYSQL_URL is not set ***\n\
                  *** e.g. FULLAUTH_TEST_MYSQL_URL=mysql://root@127.0.0.1:3306/test      ***\n\n",
            );
            None
        }
    }
}

/// A new database name, unique to this run: `fullauth_test_<unix secs>_<random>`.
pub fn fresh_database_name() -> String {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let r = uuid::Uuid::new_v4().simple().to_string();
    format!("{PREFIX}{secs}_{}", &r[..8])
}

/// Quotes an identifier for MariaDB.
pub fn quote(name: &str) -> String {
    format!("`{}`", name.replace('`', "``"))
}

fn options(url: &str) -> MySqlConnectOptions {
    MySqlConnectOptions::from_str(url)
        .expect("a valid FULLAUTH_TEST_MYSQL_URL")
        .charset("utf8mb4")
}

async fn pool_with(options: MySqlConnectOptions, max: u32) -> MySqlPool {
    MySqlPoolOptions::new()
        .max_connections(max)
        .acquire_timeout(Duration::from_secs(30))
        .test_before_acquire(false)
        .connect_with(options)
        .await
        .unwrap_or_else(|e| panic!("cannot reach MariaDB at FULLAUTH_TEST_MYSQL_URL: {e}"))
}

/// A small pool on the URL's own database (for creating and dropping the
/// tests' databases).
pub async fn pool(url: &str, max: u32) -> MySqlPool {
    pool_with(options(url), max).await
}

/// A small pool whose connections use `database` (unqualified names
/// resolve there; a store on it takes the database from the pool).
pub async fn database_pool(url: &str, database: &str, max: u32) -> MySqlPool {
    pool_with(options(url).database(database), max).await
}

/// Creates `database` as an app's database usually is: `utf8mb4` with the
/// server's usual default collation `utf8mb4_general_ci` (fullauth's own
/// tables name their collation).
pub async fn create_database(pool: &MySqlPool, database: &str) -> Result<(), sqlx::Error> {
    let sql = format!(
        "CREATE DATABASE {} CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci",
        quote(database)
    );
    sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
        .execute(pool)
        .await
        .map(|_| ())
}

/// Drops a database and everything in it.
pub async fn drop_database(pool: &MySqlPool, database: &str) -> Result<(), sqlx::Error> {
    let sql = format!("DROP DATABASE IF EXISTS {}", quote(database));
    sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
        .execute(pool)
        .await
        .map(|_| ())
}

/// Drops test databases of earlier runs older than an hour (runs that
/// could not drop their own), so repeated runs do not pile up.
pub async fn drop_stale_databases(pool: &MySqlPool) {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let names: Vec<String> = sqlx::query_scalar(
        "SELECT CAST(SCHEMA_NAME AS CHAR) FROM information_schema.SCHEMATA \
         WHERE SCHEMA_NAME LIKE 'fullauth\\_test\\_%'",
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
            let _ = drop_database(pool, &name).await;
        }
    }
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
/// as added to `fullauth_users` by [`shared_database`] (nullable, no
/// default).
pub const APP_COLUMNS: [(&str, &str); 3] = [
    ("display_name", "MEDIUMTEXT"),
    ("newsletter", "BOOLEAN"),
    ("login_count", "INTEGER"),
];

/// One database per test binary, with every feature migrated and the
/// suite's app columns ([`APP_COLUMNS`]) added afterwards: a fresh one, left
/// for [`drop_stale_databases`] of a later run (a test binary has no hook at
/// exit), or the database `FULLAUTH_TEST_MYSQL_DATABASE` names, created if
/// missing and kept — so the suite can run twice in a row on one database
/// (migrating again is a no-op, and the app columns are added only when
/// missing).
pub fn shared_database(url: &str) -> &'static str {
    shared_keyed_database(url, UserIdType::Uuid)
}

/// [`shared_database`] for users keyed by `key`: one database per key type
/// and test binary, migrated for that key type
/// (`FULLAUTH_TEST_MYSQL_DATABASE` names the UUID one; the others get
/// `_<type>` after it).
pub fn shared_keyed_database(url: &str, key: UserIdType) -> &'static str {
    static DATABASES: OnceLock<Mutex<HashMap<UserIdType, &'static str>>> = OnceLock::new();
    let mut made = DATABASES
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    if let Some(name) = made.get(&key) {
        return name;
    }
    let name: &'static str = Box::leak(make_shared_database(url, key).into_boxed_str());
    made.insert(key, name);
    name
}

fn make_shared_database(url: &str, key: UserIdType) -> String {
    {
        let url = url.to_string();
        block_on_own_runtime(async move {
            let admin = pool(&url, 2).await;
            drop_stale_databases(&admin).await;
            let database = match std::env::var("FULLAUTH_TEST_MYSQL_DATABASE") {
                Ok(name) if !name.is_empty() => {
                    let name = match key {
                        UserIdType::Uuid => name,
                        other => format!("{name}_{other}"),
                    };
                    let exists: i64 = sqlx::query_scalar(
                        "SELECT COUNT(*) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = ?",
                    )
                    .bind(&name)
                    .fetch_one(&admin)
                    .await
                    .expect("read the catalog");
                    if exists == 0 {
                        create_database(&admin, &name)
                            .await
                            .expect("create the test database");
                    }
                    name
                }
                _ => {
                    let name = fresh_database_name();
                    create_database(&admin, &name)
                        .await
                        .expect("create the test database");
                    name
                }
            };
            let store = MySqlStore::builder()
                .database(database.clone())
                .features(Features::all())
                .user_id_type(key)
                .from_pool(admin.clone())
                .expect("open");
            store.migrate().await.expect("migrate");
            let present = store.user_columns();
            let columns = APP_COLUMNS
                .iter()
                .filter(|(name, _)| !present.iter().any(|p| p == name))
                .map(|(name, ty)| format!("ADD COLUMN {name} {ty}"))
                .collect::<Vec<_>>()
                .join(", ");
            if !columns.is_empty() {
                let sql = format!("ALTER TABLE {}.fullauth_users {columns}", quote(&database));
                sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
                    .execute(&admin)
                    .await
                    .expect("add the app columns");
            }
            admin.close().await;
            database
        })
    }
}

/// A store on `database` with its own small pool, on `clock`.
pub async fn store(url: &str, database: &str, clock: Clock) -> MySqlStore {
    store_with(url, database, clock, MySqlStore::builder()).await
}

/// [`store`] from `builder` (for its key type).
pub async fn store_with(
    url: &str,
    database: &str,
    clock: Clock,
    builder: fullauth_mysql::MySqlStoreBuilder,
) -> MySqlStore {
    let pool = database_pool(url, database, 8).await;
    builder
        .database(database)
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
