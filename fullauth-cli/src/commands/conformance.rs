//! `fullauth conformance`: the whole suite against a live server, in a
//! throwaway schema (PostgreSQL) / database (MariaDB) / database files
//! (SQLite) / Redis key prefix that is removed
//! afterwards, whatever the outcome — Ctrl-C included: the first SIGINT stops
//! the suite, removes what it created and exits with
//! [`exit::INTERRUPTED`](crate::error::exit::INTERRUPTED).

use std::sync::Arc;

use fullauth_api::{Clock, Features, Store, StoreError, Timestamp};

use fullauth_conformance::{Case, ColumnKind, Outcome, Report, Subject, run_all};
use fullauth_mysql::MySqlStore;
use fullauth_mysql::sqlx::MySqlPool;
use fullauth_postgres::PgStore;
// One sqlx for both servers: fullauth-mysql's is the same crate.
use fullauth_postgres::sqlx::{self, PgPool};
use fullauth_redis::RedisStore;
use fullauth_redis::redis;
use fullauth_sqlite::SqliteStore;
use serde_json::json;

use super::Out;
use crate::db::{Target, redact};
use crate::error::{CliError, exit};
use crate::output::{json, outln};

/// The nullable application columns the suite's app-column cases use:
/// name, SQL type, and the kind declared to the suite.
const APP_COLUMNS: [(&str, &str, ColumnKind); 3] = [
    ("display_name", "TEXT", ColumnKind::Text),
    ("newsletter", "BOOLEAN", ColumnKind::Boolean),
    ("login_count", "INTEGER", ColumnKind::Integer),
];

/// `ADD COLUMN IF NOT EXISTS …` for every app column, one statement.
fn app_columns_ddl() -> String {
    app_columns_ddl_with(|ty| ty)
}

/// As [`app_columns_ddl`], each SQL type passed through `ty` first.
fn app_columns_ddl_with(ty: impl Fn(&'static str) -> &'static str) -> String {
    APP_COLUMNS
        .iter()
        .map(|(name, t, _)| format!("ADD COLUMN IF NOT EXISTS {name} {}", ty(t)))
        .collect::<Vec<_>>()
        .join(", ")
}

/// MariaDB's `TEXT` holds at most 65,535 bytes (less than the suite's large
/// values): `MEDIUMTEXT` there.
fn mariadb_type(ty: &'static str) -> &'static str {
    if ty == "TEXT" { "MEDIUMTEXT" } else { ty }
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

/// Ctrl-C, watched from the start of the command: the first SIGINT stops the
/// suite; later ones are swallowed while the cleanup runs.
#[derive(Clone)]
pub(crate) struct Interrupt(tokio::sync::watch::Receiver<bool>);

impl Interrupt {
    /// Starts watching for Ctrl-C (on the current tokio runtime). The
    /// handler is in place when this returns.
    fn install() -> Interrupt {
        let (tx, rx) = tokio::sync::watch::channel(false);
        let listener = Listener::new();
        tokio::spawn(async move {
            let Some(mut listener) = listener else {
                // No signal handling: never report an interruption.
                return;
            };
            if !listener.next().await {
                return;
            }
            let _ = tx.send(true);
            crate::output::write_err("interrupted: removing what the suite created…");
            while listener.next().await {
                crate::output::write_err("still removing what the suite created; please wait");
            }
        });
        Interrupt(rx)
    }

    /// Resolves when Ctrl-C was pressed (never, when signals cannot be
    /// watched).
    async fn wait(&self) {
        let mut rx = self.0.clone();
        if rx.wait_for(|pressed| *pressed).await.is_err() {
            std::future::pending::<()>().await;
        }
    }

    /// True once Ctrl-C was pressed.
    fn pressed(&self) -> bool {
        *self.0.borrow()
    }

    /// Runs `work` unless Ctrl-C comes first (`None`: `work` was dropped).
    async fn or_cancel<T>(&self, work: impl std::future::Future<Output = T>) -> Option<T> {
        tokio::select! {
            out = work => Some(out),
            () = self.wait() => None,
        }
    }
}

/// SIGINT, registered when created (so that a Ctrl-C right after
/// [`Interrupt::install`] is caught, not fatal).
#[cfg(unix)]
struct Listener(tokio::signal::unix::Signal);

#[cfg(unix)]
impl Listener {
    fn new() -> Option<Listener> {
        tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt())
            .ok()
            .map(Listener)
    }

    /// The next SIGINT; false when no more can come.
    async fn next(&mut self) -> bool {
        self.0.recv().await.is_some()
    }
}

/// Ctrl-C elsewhere.
#[cfg(not(unix))]
struct Listener;

#[cfg(not(unix))]
impl Listener {
    fn new() -> Option<Listener> {
        Some(Listener)
    }

    /// The next Ctrl-C; false when it cannot be watched.
    async fn next(&mut self) -> bool {
        tokio::signal::ctrl_c().await.is_ok()
    }
}

/// The error of an interrupted run; `cleaned` says what was removed.
fn interrupted(cleaned: &str) -> CliError {
    CliError::new(
        exit::INTERRUPTED,
        format!("interrupted by Ctrl-C; {cleaned}"),
    )
}

/// Silences the panic hook while it lives (a failing case's assertion
/// message is in the report already) and restores the previous one when
/// dropped, also when the suite is cancelled.
struct QuietPanics(Option<PanicHook>);

/// A panic hook, as [`std::panic::take_hook`] returns it.
type PanicHook = Box<dyn Fn(&std::panic::PanicHookInfo<'_>) + Sync + Send>;

impl QuietPanics {
    fn new() -> Self {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(|_| {}));
        QuietPanics(Some(previous))
    }
}

impl Drop for QuietPanics {
    fn drop(&mut self) {
        if let Some(previous) = self.0.take() {
            std::panic::set_hook(previous);
        }
    }
}

/// Runs the suite with [`run_all`] with quiet panics; `None` when Ctrl-C
/// stopped it.
///
/// The suite runs each case as a task of its own: it runs them on a runtime
/// of its own here, shut down before this returns, so that no case is still
/// writing when the caller removes the throwaway schema, files or keys (a
/// case task outlives a dropped [`run_all`] future on a shared runtime).
async fn run_suite<F, Fut>(interrupt: &Interrupt, factory: F, features: Features) -> Option<Report>
where
    F: Fn(&Case) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = Subject> + Send + 'static,
{
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("fullauth-conformance")
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => return Some(stopped(format!("cannot start the suite's runtime: {e}"))),
    };
    let _quiet = QuietPanics::new();
    let suite = runtime.spawn(run_all(factory, features));
    let mut runtime = SuiteRuntime(Some(runtime));
    let outcome = interrupt.or_cancel(suite).await;
    runtime.shut_down().await;
    match outcome? {
        Ok(report) => Some(report),
        Err(e) => Some(stopped(format!("the suite stopped: {e}"))),
    }
}

/// The suite's runtime. [`shut_down`](Self::shut_down) stops it and waits
/// until its tasks are dropped; dropped without that (the future running the
/// suite was cancelled), it is shut down in the background.
struct SuiteRuntime(Option<tokio::runtime::Runtime>);

impl SuiteRuntime {
    /// Stops the runtime: every task still running (a case the suite
    /// started) is dropped before this returns.
    async fn shut_down(&mut self) {
        if let Some(rt) = self.0.take() {
            let _ = tokio::task::spawn_blocking(move || {
                rt.shutdown_timeout(std::time::Duration::from_secs(10));
            })
            .await;
        }
    }
}

impl Drop for SuiteRuntime {
    fn drop(&mut self) {
        if let Some(rt) = self.0.take() {
            rt.shutdown_background();
        }
    }
}

/// A report of one failure, when the suite itself could not run.
fn stopped(message: String) -> Report {
    Report {
        outcomes: vec![("conformance".into(), Outcome::Failed(message))],
    }
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

/// Drops the throwaway schema with everything in it (see
/// [`drop_throwaway`]).
async fn drop_schema(pool: &PgPool, url: &str, schema: &str) -> Result<(), sqlx::Error> {
    let sql = format!(
        "SET lock_timeout = '5s'; DROP SCHEMA IF EXISTS \"{}\" CASCADE",
        schema.replace('"', "\"\"")
    );
    drop_throwaway(pool, url, sql).await
}

/// Runs `sql`, which drops a throwaway schema or database, on a fresh
/// connection: the suite's pool is closed first (after Ctrl-C its
/// connections may be in the middle of a statement or a transaction; the
/// server then rolls their work back and releases their locks, and
/// connections opened by the suite's own runtime are gone with it).
async fn drop_throwaway<DB: sqlx::Database>(
    pool: &sqlx::Pool<DB>,
    url: &str,
    sql: String,
) -> Result<(), sqlx::Error>
where
    for<'e> &'e sqlx::Pool<DB>: sqlx::Executor<'e, Database = DB>,
{
    let _ = tokio::time::timeout(std::time::Duration::from_secs(5), pool.close()).await;
    let cleanup = sqlx::pool::PoolOptions::<DB>::new()
        .max_connections(1)
        .acquire_timeout(std::time::Duration::from_secs(10))
        .connect(url)
        .await?;
    // A connection of the suite the server has not noticed closed yet may
    // still hold a lock on the schema for a moment: retry a few times.
    let mut attempt = 0;
    let out = loop {
        attempt += 1;
        let result = sqlx::raw_sql(sqlx::AssertSqlSafe(sql.clone()))
            .execute(&cleanup)
            .await;
        match result {
            Err(_) if attempt < 4 => {
                tokio::time::sleep(std::time::Duration::from_millis(500)).await
            }
            other => break other.map(drop),
        }
    };
    cleanup.close().await;
    out
}

/// A pool on the server of `url` (`server` names it in the hint), or the
/// error to exit with (Ctrl-C included).
async fn connect_server<DB: sqlx::Database>(
    url: &str,
    server: &str,
    interrupt: &Interrupt,
) -> Result<sqlx::Pool<DB>, CliError> {
    let connect = sqlx::pool::PoolOptions::<DB>::new()
        .max_connections(16)
        .acquire_timeout(std::time::Duration::from_secs(10))
        .connect(url);
    let Some(pool) = interrupt.or_cancel(connect).await else {
        return Err(interrupted("nothing was created"));
    };
    pool.map_err(|e| {
        CliError::new(
            exit::UNAVAILABLE,
            format!("cannot connect to {}: {e}", redact(url)),
        )
        .hint(format!(
            "check that {server} is running and the URL is right"
        ))
    })
}

/// How the suite went on a server: `None` when Ctrl-C stopped its setup,
/// the setup's error, or the suite's report (`None`: Ctrl-C stopped it).
type ServerOutcome = Option<Result<Option<Report>, StoreError>>;

/// Runs the suite on a server: `setup` migrates the throwaway schema or
/// database and opens the shared store; each case then gets its own manual
/// clock (TTL cases move time instead of sleeping) on a store `case_store`
/// opens on that clock, sharing the pool and the schema (the shared store
/// when that fails). The suite itself keeps its pruning cases from
/// disturbing each other. Ctrl-C during the setup drops it; the suite stops
/// its cases itself.
async fn suite_on_server<S, C>(
    interrupt: &Interrupt,
    setup: impl std::future::Future<Output = Result<S, StoreError>>,
    case_store: C,
) -> ServerOutcome
where
    S: Store + 'static,
    C: Fn(Clock) -> Result<S, StoreError> + Clone + Send + Sync + 'static,
{
    let store = match interrupt.or_cancel(setup).await? {
        Ok(store) => store,
        Err(e) => return Some(Err(e)),
    };
    let shared: Arc<dyn Store> = Arc::new(store);
    let factory = move |_: &Case| {
        let case_store = case_store.clone();
        let shared = shared.clone();
        async move {
            let clock = Clock::manual(Timestamp::now());
            match case_store(clock.clone()) {
                Ok(store) => with_app_columns(Subject::new(Arc::new(store)).with_clock(clock)),
                Err(_) => with_app_columns(Subject::new(shared)),
            }
        }
    };
    Some(Ok(run_suite(interrupt, factory, Features::all()).await))
}

/// The run on a server once its throwaway `what` (`schema NAME`,
/// `database NAME`) was dropped (`dropped`, else the statement `drop_sql` to
/// run by hand is the hint): its report, or the error to exit with.
fn server_run(
    backend: &str,
    what: &str,
    drop_sql: &str,
    outcome: ServerOutcome,
    dropped: Result<(), sqlx::Error>,
) -> Result<Run, CliError> {
    let cannot_drop = |e: sqlx::Error| {
        CliError::new(
            exit::FAILURE,
            format!("cannot drop the throwaway {what}: {e}"),
        )
        .hint(format!("drop it by hand: {drop_sql}"))
    };
    let report = match outcome {
        Some(Ok(Some(report))) => report,
        Some(Err(e)) => {
            dropped.map_err(cannot_drop)?;
            return Err(e.into());
        }
        Some(Ok(None)) | None => {
            dropped.map_err(cannot_drop)?;
            return Err(interrupted(&format!("the throwaway {what} was removed")));
        }
    };
    dropped.map_err(cannot_drop)?;
    Ok(Run {
        label: format!("{backend} (throwaway {what}, removed)"),
        report,
    })
}

/// Migrates the throwaway `database` (created by the caller) with every
/// feature, adds the suite's app columns, and opens a store on `clock`.
async fn mysql_store(
    pool: &MySqlPool,
    database: &str,
    clock: Clock,
) -> Result<MySqlStore, StoreError> {
    let store = MySqlStore::builder()
        .database(database)
        .features(Features::all())
        .clock(clock)
        .from_pool(pool.clone())?;
    store.migrate().await?;
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
        "ALTER TABLE `{database}`.fullauth_users {}",
        app_columns_ddl_with(mariadb_type)
    )))
    .execute(pool)
    .await
    .map_err(|e| StoreError::backend("cannot add the suite's app column", e))?;
    store.refresh_user_columns().await?;
    Ok(store)
}

/// Drops the throwaway MariaDB database (see [`drop_throwaway`]).
async fn drop_database(pool: &MySqlPool, url: &str, database: &str) -> Result<(), sqlx::Error> {
    let sql = format!(
        "SET SESSION lock_wait_timeout = 5; DROP DATABASE IF EXISTS `{}`",
        database.replace('`', "``")
    );
    drop_throwaway(pool, url, sql).await
}

async fn mysql(url: &str, as_json: bool, interrupt: &Interrupt) -> Result<Run, CliError> {
    let pool: MySqlPool = connect_server(url, "MariaDB", interrupt).await?;
    let database = format!("fullauth_conformance_{}", unique());
    let created = sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
        "CREATE DATABASE `{database}` CHARACTER SET utf8mb4 COLLATE utf8mb4_nopad_bin"
    )))
    .execute(&pool)
    .await;
    if let Err(e) = created {
        pool.close().await;
        return Err(CliError::new(
            exit::FAILURE,
            format!("cannot create the throwaway database {database}: {e}"),
        )
        .hint("the suite needs a MariaDB user that may CREATE and DROP databases"));
    }
    if !as_json {
        crate::output::write_err(format!(
            "running the suite on MariaDB in throwaway database {database}"
        ));
    }
    let (cases_pool, cases_database) = (pool.clone(), database.clone());
    let outcome = suite_on_server(
        interrupt,
        mysql_store(&pool, &database, Clock::system()),
        move |clock| {
            MySqlStore::builder()
                .database(cases_database.clone())
                .features(Features::all())
                .clock(clock)
                .from_pool(cases_pool.clone())
        },
    )
    .await;
    let dropped = drop_database(&pool, url, &database).await;
    server_run(
        "mysql",
        &format!("database {database}"),
        &format!("DROP DATABASE `{database}`"),
        outcome,
        dropped,
    )
}

pub(crate) async fn run(target: &Target, redis_url: Option<&str>, as_json: bool) -> Out {
    let interrupt = Interrupt::install();
    let mut runs = Vec::new();
    match target {
        Target::Postgres(url) => runs.push(postgres(url, as_json, &interrupt).await?),
        Target::MySql(url) => runs.push(mysql(url, as_json, &interrupt).await?),
        Target::Sqlite(_) => runs.push(sqlite(as_json, &interrupt).await?),
    }
    if let Some(url) = redis_url {
        if interrupt.pressed() {
            return Err(interrupted("everything the suite created was removed"));
        }
        runs.push(redis_run(url, as_json, &interrupt).await?);
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
            outln!("== {} ==", r.label)?;
            for (name, o) in &r.report.outcomes {
                if let Outcome::Failed(m) = o {
                    outln!("FAILED  {name}: {m}")?;
                }
            }
            outln!(
                "{} passed, {} failed, {} skipped (features not under test)\n",
                r.report.passed(),
                r.report.failed(),
                r.report.skipped()
            )?;
        }
        outln!(
            "{}",
            if success {
                "conformance: PASSED"
            } else {
                "conformance: FAILED"
            }
        )?;
    }
    Ok(if success { exit::OK } else { exit::FAILURE })
}

async fn postgres(url: &str, as_json: bool, interrupt: &Interrupt) -> Result<Run, CliError> {
    let pool: PgPool = connect_server(url, "PostgreSQL", interrupt).await?;
    let schema = format!("fullauth_conformance_{}", unique());
    if !as_json {
        crate::output::write_err(format!(
            "running the suite on PostgreSQL in throwaway schema {schema}"
        ));
    }
    let (cases_pool, cases_schema) = (pool.clone(), schema.clone());
    let outcome = suite_on_server(
        interrupt,
        pg_store(&pool, &schema, Clock::system()),
        move |clock| {
            PgStore::builder()
                .schema(cases_schema.clone())
                .features(Features::all())
                .clock(clock)
                .from_pool(cases_pool.clone())
        },
    )
    .await;
    let dropped = drop_schema(&pool, url, &schema).await;
    server_run(
        "postgres",
        &format!("schema {schema}"),
        &format!("DROP SCHEMA \"{schema}\" CASCADE"),
        outcome,
        dropped,
    )
}

async fn sqlite(as_json: bool, interrupt: &Interrupt) -> Result<Run, CliError> {
    // One database file per case, each on its own manual clock, all in one
    // throwaway directory removed at the end (also after Ctrl-C, when a case
    // may be halfway through opening its store).
    let dir = std::env::temp_dir().join(format!("fullauth-conformance-{}", unique()));
    std::fs::create_dir_all(&dir).map_err(|e| {
        CliError::new(
            exit::FAILURE,
            format!(
                "cannot create the throwaway directory {}: {e}",
                dir.display()
            ),
        )
        .hint("check that the temporary directory (TMPDIR) is writable")
    })?;
    if !as_json {
        crate::output::write_err(format!(
            "running the suite on SQLite in throwaway directory {}",
            dir.display()
        ));
    }
    let cases = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let next_file = {
        let dir = dir.clone();
        move || {
            let n = cases.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            dir.join(format!("case-{n}.db"))
        }
    };
    let outcome = match interrupt
        .or_cancel(sqlite_case_store(next_file(), Clock::system()))
        .await
    {
        None => None,
        Some(Err(e)) => Some(Err(e)),
        Some(Ok(fallback)) => {
            let fallback = Arc::new(fallback);
            let factory = move |_: &Case| {
                let fallback = fallback.clone();
                let path = next_file();
                async move {
                    let clock = Clock::manual(Timestamp::now());
                    match sqlite_case_store(path, clock.clone()).await {
                        Ok(store) => {
                            with_app_columns(Subject::new(Arc::new(store)).with_clock(clock))
                        }
                        Err(_) => with_app_columns(Subject::new(fallback)),
                    }
                }
            };
            Some(Ok(run_suite(interrupt, factory, Features::all()).await))
        }
    };
    let removed = match std::fs::remove_dir_all(&dir) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(CliError::new(
            exit::FAILURE,
            format!(
                "cannot remove the throwaway directory {}: {e}",
                dir.display()
            ),
        )
        .hint(format!("remove it by hand: rm -r {}", dir.display()))),
        _ => Ok(()),
    };
    let report = match outcome {
        Some(Ok(Some(report))) => report,
        Some(Err(e)) => {
            removed?;
            return Err(e.into());
        }
        Some(Ok(None)) | None => {
            removed?;
            return Err(interrupted(&format!(
                "the throwaway directory {} was removed",
                dir.display()
            )));
        }
    };
    removed?;
    Ok(Run {
        label: "sqlite (throwaway database files, removed)".into(),
        report,
    })
}

async fn sqlite_case_store(
    path: std::path::PathBuf,
    clock: Clock,
) -> Result<SqliteStore, StoreError> {
    let store = SqliteStore::builder()
        .clock(clock)
        .migrate(true)
        .open(path)
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

async fn redis_run(url: &str, as_json: bool, interrupt: &Interrupt) -> Result<Run, CliError> {
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
        crate::output::write_err(format!(
            "running the short-lived suite on Redis under key prefix {prefix}"
        ));
    }
    let mut conn = store.connection();
    let shared: Arc<dyn Store> = Arc::new(store);
    let factory = {
        let shared = shared.clone();
        move |_: &Case| {
            let shared = shared.clone();
            async move { Subject::new(shared) }
        }
    };
    let report = run_suite(interrupt, factory, Features::short_lived()).await;
    drop(shared);
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
    let Some(report) = report else {
        return Err(interrupted(&format!(
            "the throwaway keys {prefix}* were removed"
        )));
    };
    Ok(Run {
        label: format!("redis (throwaway key prefix {prefix}, removed)"),
        report,
    })
}
