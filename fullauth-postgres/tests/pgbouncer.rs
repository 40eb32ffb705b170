//! Behind PgBouncer in transaction mode (`FULLAUTH_TEST_PGBOUNCER_URL`,
//! e.g. `postgres://root@127.0.0.1:6432/test`, started by `.ci/pgbouncer
//! start`), with the PostgreSQL server itself at
//! `FULLAUTH_TEST_DATABASE_URL`:
//!
//! * the whole conformance suite on a store built with
//!   `PgStoreBuilder::pooler_transaction_mode(true)` whose pool connects
//!   through PgBouncer (the schema is migrated directly on the server first,
//!   as `common::shared_schema` does for `tests/conformance.rs`);
//! * the migrator through PgBouncer: two processes migrating one fresh
//!   schema at once (the advisory lock is transaction-scoped, so it holds
//!   behind a transaction-mode pooler), then status and the recorded rows;
//! * what the setting is for: a store with the default settings (named,
//!   cached prepared statements) fails through PgBouncer with PgBouncer
//!   1.18's "prepared statement … does not exist / already exists";
//! * its cost, counted by PgBouncer (`SHOW STATS`): one transaction and 4
//!   round trips per one-statement operation instead of 1 round trip.

mod common;

use std::str::FromStr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use fullauth_api::{Email, Feature, Features, NewUser, StoreError, UserStore};
use fullauth_conformance::{ColumnKind, Subject, conformance_tests};
use fullauth_postgres::sqlx::PgPool;
use fullauth_postgres::sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use fullauth_postgres::{MIGRATIONS, PgMigrator, PgStore};

/// `FULLAUTH_TEST_PGBOUNCER_URL` and `FULLAUTH_TEST_DATABASE_URL`, or
/// `None` after a loud message. Under `CI=true` a missing variable is a
/// failure.
fn urls() -> Option<(String, String)> {
    let direct = common::database_url()?;
    let ci = std::env::var("CI").is_ok_and(|v| v == "true");
    match std::env::var("FULLAUTH_TEST_PGBOUNCER_URL") {
        Ok(url) if !url.is_empty() => Some((url, direct)),
        _ if ci => panic!(
            "CI=true but FULLAUTH_TEST_PGBOUNCER_URL is not set: the PgBouncer tests cannot run \
             (.ci/pgbouncer start, then FULLAUTH_TEST_PGBOUNCER_URL=postgres://root@127.0.0.1:6432/test)"
        ),
        _ => {
            use std::io::Write as _;
            let _ = std::io::stderr().write_all(
                b"\n\n*** SKIPPING fullauth-postgres PgBouncer tests: FULLAUTH_TEST_PGBOUNCER_URL is not set ***\n\
                  *** .ci/pgbouncer start; FULLAUTH_TEST_PGBOUNCER_URL=postgres://root@127.0.0.1:6432/test ***\n\n",
            );
            None
        }
    }
}

/// A pool through PgBouncer with the tests' application name, with sqlx's
/// statement cache (`Some(n)`) or without it (`None`).
async fn bouncer_pool(url: &str, max: u32, cache: Option<usize>) -> PgPool {
    let options = PgConnectOptions::from_str(url)
        .expect("a valid FULLAUTH_TEST_PGBOUNCER_URL")
        .application_name(common::APP_NAME)
        .statement_cache_capacity(cache.unwrap_or(0));
    PgPoolOptions::new()
        .max_connections(max)
        .acquire_timeout(Duration::from_secs(30))
        .test_before_acquire(false)
        .connect_with(options)
        .await
        .unwrap_or_else(|e| panic!("cannot reach PgBouncer at FULLAUTH_TEST_PGBOUNCER_URL: {e}"))
}

async fn subject() -> Option<Subject> {
    let (bouncer, direct) = urls()?;
    let schema = common::shared_schema(&direct);
    let clock = common::test_clock();
    // The builder's own pool, as an app would build it.
    let store = PgStore::builder()
        .schema(schema)
        .features(Features::all())
        .clock(clock.clone())
        .max_connections(8)
        .acquire_timeout(Duration::from_secs(30))
        .application_name(common::APP_NAME)
        .pooler_transaction_mode(true)
        .connect(&bouncer)
        .await
        .expect("a store through PgBouncer");
    Some(
        Subject::new(Arc::new(store))
            .with_clock(clock)
            .with_app_column("display_name", ColumnKind::Text)
            .with_app_column("newsletter", ColumnKind::Boolean)
            .with_app_column("login_count", ColumnKind::Integer),
    )
}

conformance_tests!(subject);

/// Runs `f` on a runtime of its own (the suite's cases do the same).
fn run<F: std::future::Future<Output = ()>>(f: F) {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime")
        .block_on(f)
}

/// Two stores migrate one fresh schema through PgBouncer at once: both
/// succeed, each migration is applied exactly once (the transaction-scoped
/// advisory lock serialises them), and status, the recorded rows and the
/// store's operations all work through PgBouncer afterwards. A migrator on
/// a plain pool through PgBouncer (sqlx's statement cache on, no pooler
/// setting) works too: the migrator never uses named statements.
#[test]
fn migrator_through_pgbouncer() {
    let Some((bouncer, direct)) = urls() else {
        return;
    };
    run(async move {
        let schema = common::fresh_schema_name();
        let open = |pool: PgPool| {
            PgStore::builder()
                .schema(schema.clone())
                .pooler_transaction_mode(true)
                .from_pool(pool)
                .expect("open")
        };
        let a = open(bouncer_pool(&bouncer, 2, None).await);
        let b = open(bouncer_pool(&bouncer, 2, None).await);
        let (ra, rb) = tokio::join!(a.migrate(), b.migrate());
        let (ra, rb) = (ra.expect("migrate a"), rb.expect("migrate b"));
        let mut all: Vec<String> = ra.iter().chain(&rb).cloned().collect();
        all.sort();
        let mut expected: Vec<String> = MIGRATIONS.iter().map(|m| m.id.to_string()).collect();
        expected.sort();
        assert_eq!(
            all, expected,
            "each migration applied exactly once: {ra:?} / {rb:?}"
        );
        assert!(
            ra.is_empty() || rb.is_empty(),
            "the second migrator waited for the first and found nothing left: {ra:?} / {rb:?}"
        );

        // A migrator on a plain pool through PgBouncer, statement cache on.
        let plain = bouncer_pool(&bouncer, 2, Some(100)).await;
        let migrator = PgMigrator::new(plain.clone(), schema.clone()).expect("migrator");
        for _ in 0..5 {
            assert!(
                migrator
                    .status(Features::all())
                    .await
                    .expect("status")
                    .is_up_to_date()
            );
            assert_eq!(
                migrator.apply(Features::all()).await.expect("apply"),
                Vec::<String>::new()
            );
            assert_eq!(
                a.migrations()
                    .recorded(&plain)
                    .await
                    .expect("recorded")
                    .len(),
                expected.len()
            );
        }
        let user = a
            .create_user(NewUser::new("bouncer@example.com").expect("an email"))
            .await
            .expect("create a user through PgBouncer");
        assert_eq!(b.get_user(&user.id).await.expect("get"), Some(user));

        plain.close().await;
        let pool = common::pool(&direct, 1).await;
        common::drop_schema(&pool, &schema)
            .await
            .expect("drop the schema");
    });
}

/// Why the setting exists: a store with the default settings, through
/// PgBouncer in transaction mode, fails once its pooled connections'
/// named statements meet server connections that do not hold them
/// (PgBouncer 1.18 does not track prepared statements), or run another
/// client's statement of the same name. Several tasks
/// create and read users until the first such failure; the same workload
/// with `pooler_transaction_mode(true)` never fails.
#[test]
fn default_settings_fail_behind_pgbouncer() {
    let Some((bouncer, direct)) = urls() else {
        return;
    };
    run(async move {
        let schema = common::shared_schema(&direct).to_string();
        let workload = |store: PgStore, rounds: usize| async move {
            let mut tasks = Vec::new();
            for t in 0..4 {
                let store = store.clone();
                tasks.push(tokio::spawn(async move {
                    for i in 0..rounds {
                        let email = format!("pgb-{}-{t}-{i}@example.com", uuid::Uuid::new_v4());
                        let user = store
                            .create_user(NewUser::new(email.as_str()).expect("an email"))
                            .await?;
                        store.get_user_by_email(&Email::new(&email)?).await?;
                        store.get_user(&user.id).await?;
                        store.delete_user(&user.id).await?;
                    }
                    Ok::<(), StoreError>(())
                }));
            }
            let mut first_error = None;
            for task in tasks {
                if let Err(e) = task.await.expect("a task") {
                    first_error.get_or_insert(e);
                }
            }
            first_error
        };
        let open = |pool: PgPool, pooler: bool| {
            PgStore::builder()
                .schema(schema.clone())
                .pooler_transaction_mode(pooler)
                .from_pool(pool)
                .expect("open")
        };

        let naive = open(bouncer_pool(&bouncer, 4, Some(100)).await, false);
        let error = workload(naive, 50)
            .await
            .expect("named prepared statements through PgBouncer fail");
        // Seen: "prepared statement \"sqlx_s_1\" already exists" and "…
        // does not exist" (once, in a full run, another error): any error
        // shows the default settings cannot work there.
        eprintln!("default settings through PgBouncer: {error:?}");

        let pooled = open(bouncer_pool(&bouncer, 4, None).await, true);
        if let Some(e) = workload(pooled, 50).await {
            panic!("pooler_transaction_mode(true) failed through PgBouncer: {e:?}");
        }
    });
}

/// `FULLAUTH_TEST_PGBOUNCER_URL` with another database name.
fn with_database(url: &str, database: &str) -> String {
    let base = url.split('?').next().unwrap_or(url);
    let host = base.rsplit_once('/').map_or(base, |(host, _)| host);
    format!("{host}/{database}")
}

/// `(total_xact_count, total_query_count)` of a PgBouncer database, from
/// the admin console (`SHOW STATS`; a "query" is one exchange that ends in
/// ReadyForQuery, i.e. one round trip to the server).
async fn bouncer_stats(bouncer: &str, database: &str) -> (i64, i64) {
    use fullauth_postgres::sqlx::{Connection as _, Row as _};
    let admin = with_database(bouncer, "pgbouncer");
    let mut c = fullauth_postgres::sqlx::PgConnection::connect(&admin)
        .await
        .expect("PgBouncer's admin console");
    let rows = fullauth_postgres::sqlx::raw_sql("SHOW STATS")
        .fetch_all(&mut c)
        .await
        .expect("SHOW STATS");
    let number = |row: &fullauth_postgres::sqlx::postgres::PgRow, col: &str| -> i64 {
        // NUMERIC in the text format: read the text.
        let raw = row.try_get_raw(col).expect("a counter");
        raw.as_str().expect("text").parse().expect("a number")
    };
    let row = rows
        .iter()
        .find(|r| r.try_get::<String, _>("database").ok().as_deref() == Some(database))
        .unwrap_or_else(|| panic!("no SHOW STATS row for {database} (see .ci/pgbouncer)"));
    (
        number(row, "total_xact_count"),
        number(row, "total_query_count"),
    )
}

/// Waits until the pool's only connection is back in the pool (its release
/// check done), so that PgBouncer's counters are complete.
async fn returned(pool: &PgPool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while pool.num_idle() < 1 {
        assert!(Instant::now() < deadline, "the connection never came back");
        tokio::task::yield_now().await;
    }
}

/// The price of the setting, counted by PgBouncer on a database alias of
/// its own (`fullauth_rt`, one server connection, used by this test only):
/// with the setting, each one-statement operation (`get_user`) is exactly
/// one transaction at the pooler (what keeps its messages on one server
/// connection) of 4 round trips (BEGIN, Parse/Describe, Bind/Execute,
/// COMMIT); with the default settings, on a single server connection where
/// named statements happen to survive, 1 round trip per operation once
/// cached. (sqlx's pool adds one more to both when it takes the connection
/// back.) Times per operation are printed too (`--nocapture`).
#[test]
fn pooler_mode_cost() {
    let Some((bouncer, direct)) = urls() else {
        return;
    };
    run(async move {
        let schema = common::shared_schema(&direct).to_string();
        let rt = with_database(&bouncer, "fullauth_rt");
        let open = |pool: PgPool, pooler: bool| {
            PgStore::builder()
                .schema(schema.clone())
                .pooler_transaction_mode(pooler)
                .from_pool(pool)
                .expect("open")
        };
        let setup = open(common::pool(&direct, 1).await, false);
        let email = format!("cost-{}@example.com", uuid::Uuid::new_v4());
        let user = setup
            .create_user(NewUser::new(email.as_str()).expect("an email"))
            .await
            .expect("create");
        const N: i64 = 200;
        let mut lines = Vec::new();
        let mut counted = Vec::new();
        for (label, pooler) in [("default settings", false), ("pooler mode", true)] {
            let pool = bouncer_pool(&rt, 1, if pooler { None } else { Some(100) }).await;
            // The alias has one server connection: forget what earlier runs
            // prepared on it, so the default settings work there.
            fullauth_postgres::sqlx::raw_sql("DEALLOCATE ALL")
                .execute(&pool)
                .await
                .expect("DEALLOCATE ALL");
            let store = open(pool.clone(), pooler);
            // Warm up: the connection, the user columns, the cached statement.
            for _ in 0..5 {
                store.get_user(&user.id).await.expect("get");
            }
            returned(&pool).await;
            let before = bouncer_stats(&bouncer, "fullauth_rt").await;
            let start = Instant::now();
            for _ in 0..N {
                assert!(store.get_user(&user.id).await.expect("get").is_some());
            }
            let elapsed = start.elapsed();
            returned(&pool).await;
            let after = bouncer_stats(&bouncer, "fullauth_rt").await;
            let (xacts, queries) = (after.0 - before.0, after.1 - before.1);
            lines.push(format!(
                "PgBouncer, {label:>16}: {:.2} transactions, {:.2} round trips, {:>6.1} µs per get_user",
                xacts as f64 / N as f64,
                queries as f64 / N as f64,
                (elapsed / N as u32).as_secs_f64() * 1e6
            ));
            counted.push((xacts, queries));
            pool.close().await;
        }
        eprintln!("\n{}\n", lines.join("\n"));
        setup.delete_user(&user.id).await.expect("delete");
        // Each operation also includes the pool's check of the connection it
        // takes back (a lone Sync, one more "transaction" and round trip at
        // the pooler, off the caller's path).
        let (xacts, queries) = counted[1];
        assert_eq!(xacts, 2 * N, "pooler mode: one transaction per operation");
        assert_eq!(queries, 5 * N, "pooler mode: 4 round trips per operation");
        let (_, queries) = counted[0];
        assert_eq!(
            queries,
            2 * N,
            "default settings: 1 round trip per operation"
        );
    });
}

/// The setting changes nothing a direct connection can observe: the
/// migrator and a store in pooler mode work on the server itself too.
#[test]
fn pooler_mode_on_a_direct_connection() {
    let Some((_, direct)) = urls() else {
        return;
    };
    run(async move {
        let schema = common::fresh_schema_name();
        let store = PgStore::builder()
            .schema(schema.clone())
            .features(Features::from(Feature::Core))
            .pooler_transaction_mode(true)
            .migrate(true)
            .connect(&direct)
            .await
            .expect("connect in pooler mode directly");
        let user = store
            .create_user(NewUser::new("direct@example.com").expect("an email"))
            .await
            .expect("create");
        assert_eq!(store.get_user(&user.id).await.expect("get"), Some(user));
        let pool = common::pool(&direct, 1).await;
        common::drop_schema(&pool, &schema)
            .await
            .expect("drop the schema");
    });
}
