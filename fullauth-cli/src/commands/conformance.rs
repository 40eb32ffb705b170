//! `fullauth conformance`: the whole suite against a live server, in a
//! throwaway schema / database file / Redis key prefix that is removed
//! afterwards, whatever the outcome.

use std::sync::Arc;

use fullauth_api::{Clock, Features, Store, StoreError, Timestamp};

use fullauth_conformance::{Case, ColumnKind, Outcome, Report, Subject, run_all};
use fullauth_postgres::PgStore;
use fullauth_postgres::sqlx::{self, PgPool, postgres::PgPoolOptions};
use fullauth_redis::RedisStore;
use fullauth_redis::redis;
use fullauth_sqlite::SqliteStore;
use serde_json::json;

use super::Out;
use crate::db::{Target, redact};
use crate::error::{CliError, exit};
use crate::output::json;

/// The application column of `fullauth_users` the suite's extra-field cases
/// write and read.
/// The nullable application columns the suite's app-column cases use:
/// name, SQL type, and the kind declared to the suite.
const APP_COLUMNS: [(&str, &str, ColumnKind); 3] = [
    ("display_name", "TEXT", ColumnKind::Text),
    ("newsletter", "BOOLEAN", ColumnKind::Boolean),
    ("login_count", "INTEGER", ColumnKind::Integer),
];

/// `ADD COLUMN IF NOT EXISTS …` for every app column, one statement.
fn app_columns_ddl() -> String {
    APP_COLUMNS
        .iter()
        .map(|(name, ty, _)| format!("ADD COLUMN IF NOT EXISTS {name} {ty}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Declares the app columns to the suite.
fn with_app_columns(subject: Subject) -> Subject {
    APP_COLUMNS
        .iter()
        .fold(subject, |s, (name, _, kind)| s.with_app_column(name, *kind))
}

struct Run {
    label: String,
    report: Report,
}

fn unique() -> String {
    uuid::Uuid::new_v4()
        .simple()
        .to_string()
        .chars()
        .take(12)
        .collect()
}

/// Runs the suite with [`run_all`] under a panic hook that prints nothing (a
/// failing case's assertion message is in the report already).
async fn run_suite<F, Fut>(factory: F, features: Features) -> Report
where
    F: Fn(&Case) -> Fut,
    Fut: std::future::Future<Output = Subject>,
{
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let report = run_all(factory, features).await;
    std::panic::set_hook(previous);
    report
}

/// Migrates `schema` (created if missing) with every feature, adds the
/// suite's app column, and opens a store on `clock`.
async fn pg_store(pool: &PgPool, schema: &str, clock: Clock) -> Result<PgStore, StoreError> {
    let store = PgStore::builder()
        .schema(schema)
        .features(Features::all())
        .clock(clock)
        .from_pool(pool.clone())?;
    store.migrate().await?;
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
        "ALTER TABLE \"{schema}\".fullauth_users {}",
        app_columns_ddl()
    )))
    .execute(pool)
    .await
    .map_err(|e| StoreError::backend("cannot add the suite's app column", e))?;
    store.refresh_user_columns().await?;
    Ok(store)
}

/// Drops the throwaway schema with everything in it.
async fn drop_schema(pool: &PgPool, schema: &str) -> Result<(), sqlx::Error> {
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
        "DROP SCHEMA IF EXISTS \"{}\" CASCADE",
        schema.replace('"', "\"\"")
    )))
    .execute(pool)
    .await
    .map(drop)
}

pub(crate) async fn run(target: &Target, redis_url: Option<&str>, as_json: bool) -> Out {
    let mut runs = Vec::new();
    match target {
        Target::Postgres(url) => runs.push(postgres(url, as_json).await?),
        Target::Sqlite(_) => runs.push(sqlite(as_json).await?),
    }
    if let Some(url) = redis_url {
        runs.push(redis_run(url, as_json).await?);
    }
    let success = runs.iter().all(|r| r.report.is_success());
    if as_json {
        let items: Vec<_> = runs
            .iter()
            .map(|r| {
                let outcomes: Vec<_> = r
                    .report
                    .outcomes
                    .iter()
                    .map(|(name, o)| match o {
                        Outcome::Passed => json!({"case": name, "outcome": "passed"}),
                        Outcome::Failed(m) => {
                            json!({"case": name, "outcome": "failed", "message": m})
                        }
                        Outcome::Skipped(m) => {
                            json!({"case": name, "outcome": "skipped", "message": m})
                        }
                    })
                    .collect();
                json!({
                    "run": r.label,
                    "passed": r.report.passed(),
                    "failed": r.report.failed(),
                    "skipped": r.report.skipped(),
                    "outcomes": outcomes,
                })
            })
            .collect();
        json(&json!({"success": success, "runs": items}))?;
    } else {
        for r in &runs {
            println!("== {} ==", r.label);
            for (name, o) in &r.report.outcomes {
                if let Outcome::Failed(m) = o {
                    println!("FAILED  {name}: {m}");
                }
            }
            println!(
                "{} passed, {} failed, {} skipped (features not under test)\n",
                r.report.passed(),
                r.report.failed(),
                r.report.skipped()
            );
        }
        println!(
            "{}",
            if success {
                "conformance: PASSED"
            } else {
                "conformance: FAILED"
            }
        );
    }
    Ok(if success { exit::OK } else { exit::FAILURE })
}

async fn postgres(url: &str, as_json: bool) -> Result<Run, CliError> {
    let pool = PgPoolOptions::new()
        .max_connections(16)
        .acquire_timeout(std::time::Duration::from_secs(10))
        .connect(url)
        .await
        .map_err(|e| {
            CliError::new(
                exit::UNAVAILABLE,
                format!("cannot connect to {}: {e}", redact(url)),
            )
            .hint("check that PostgreSQL is running and the URL is right")
        })?;
    let schema = format!("fullauth_conformance_{}", unique());
    if !as_json {
        eprintln!("running the suite on PostgreSQL in throwaway schema {schema}");
    }
    let outcome: Result<Report, StoreError> = async {
        let shared: Arc<dyn Store> = Arc::new(pg_store(&pool, &schema, Clock::system()).await?);
        // Each case gets its own manual clock (TTL cases move time instead of
        // sleeping) on a store sharing the pool and the schema. The suite
        // itself keeps its pruning cases from disturbing each other.
        let factory = |_: &Case| {
            let pool = pool.clone();
            let schema = schema.clone();
            let shared = shared.clone();
            async move {
                let clock = Clock::manual(Timestamp::now());
                let store = PgStore::builder()
                    .schema(schema)
                    .features(Features::all())
                    .clock(clock.clone())
                    .from_pool(pool);
                match store {
                    Ok(store) => with_app_columns(Subject::new(Arc::new(store)).with_clock(clock)),
                    Err(_) => with_app_columns(Subject::new(shared)),
                }
            }
        };
        Ok(run_suite(factory, Features::all()).await)
    }
    .await;
    // Remove the schema whatever happened; the suite's stores are gone now.
    let dropped = drop_schema(&pool, &schema).await;
    pool.close().await;
    let report = outcome?;
    dropped.map_err(|e| {
        CliError::new(
            exit::FAILURE,
            format!("cannot drop the throwaway schema {schema}: {e}"),
        )
        .hint(format!("drop it by hand: DROP SCHEMA \"{schema}\" CASCADE"))
    })?;
    Ok(Run {
        label: format!("postgres (throwaway schema {schema}, removed)"),
        report,
    })
}

async fn sqlite(as_json: bool) -> Result<Run, CliError> {
    // One throwaway file per case (each removed when its store is dropped),
    // each on its own manual clock.
    let fallback = Arc::new(sqlite_case_store(Clock::system()).await?);
    if !as_json {
        eprintln!(
            "running the suite on SQLite in throwaway files in {}",
            std::env::temp_dir().display()
        );
    }
    let factory = |_: &Case| {
        let fallback = fallback.clone();
        async move {
            let clock = Clock::manual(Timestamp::now());
            match sqlite_case_store(clock.clone()).await {
                Ok(store) => with_app_columns(Subject::new(Arc::new(store)).with_clock(clock)),
                Err(_) => with_app_columns(Subject::new(fallback)),
            }
        }
    };
    let report = run_suite(factory, Features::all()).await;
    Ok(Run {
        label: "sqlite (throwaway database files, removed)".into(),
        report,
    })
}

async fn sqlite_case_store(clock: Clock) -> Result<SqliteStore, StoreError> {
    let store = SqliteStore::builder()
        .clock(clock)
        .migrate(true)
        .open_temporary()
        .await?;
    store
        .with_connection(|c| {
            for (name, ty, _) in APP_COLUMNS {
                c.execute_batch(&format!(
                    "ALTER TABLE fullauth_users ADD COLUMN {name} {ty}"
                ))?;
            }
            Ok(())
        })
        .await?;
    Ok(store)
}

async fn redis_run(url: &str, as_json: bool) -> Result<Run, CliError> {
    let prefix = format!("fullauth-conformance-{}:", unique());
    let store = RedisStore::builder()
        .key_prefix(prefix.clone())
        .connect(url)
        .await
        .map_err(|e| {
            let mut err = CliError::from(e);
            err.message = format!("{} ({})", err.message, redact(url));
            err
        })?;
    if !as_json {
        eprintln!("running the short-lived suite on Redis under key prefix {prefix}");
    }
    let mut conn = store.connection();
    let shared: Arc<dyn Store> = Arc::new(store);
    let factory = |_: &Case| {
        let shared = shared.clone();
        async move { Subject::new(shared) }
    };
    let report = run_suite(factory, Features::short_lived()).await;
    // Remove every key under the prefix.
    let mut cursor: u64 = 0;
    loop {
        let (next, keys): (u64, Vec<String>) = redis::cmd("SCAN")
            .arg(cursor)
            .arg("MATCH")
            .arg(format!("{prefix}*"))
            .arg("COUNT")
            .arg(1000)
            .query_async(&mut conn)
            .await
            .map_err(|e| {
                CliError::new(
                    exit::UNAVAILABLE,
                    format!("cannot clean up Redis keys {prefix}*: {e}"),
                )
            })?;
        if !keys.is_empty() {
            let _: i64 = redis::cmd("DEL")
                .arg(&keys)
                .query_async(&mut conn)
                .await
                .map_err(|e| {
                    CliError::new(
                        exit::UNAVAILABLE,
                        format!("cannot delete Redis keys {prefix}*: {e}"),
                    )
                })?;
        }
        cursor = next;
        if cursor == 0 {
            break;
        }
    }
    Ok(Run {
        label: format!("redis (throwaway key prefix {prefix}, removed)"),
        report,
    })
}
