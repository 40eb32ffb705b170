//! Helpers shared by the integration tests: a database per test (a SQLite
//! file in a temp dir, a fresh PostgreSQL schema, or a fresh MariaDB
//! database), and the built binary.

#![allow(dead_code)]

use std::sync::Arc;

use assert_cmd::Command;
use fullauth_api::{Features, Store};

/// The URL in the environment variable `var` for the tests on `server`, or
/// `None` (after a loud message) when it is not set. Under `CI=true` a
/// missing URL fails the test.
fn server_url(var: &str, server: &str, example: &str) -> Option<String> {
    match std::env::var(var) {
        Ok(url) if !url.trim().is_empty() => Some(url.trim().to_string()),
        _ => {
            if std::env::var("CI").as_deref() == Ok("true") {
                panic!("{var} is not set and CI=true: {server} tests cannot be skipped in CI");
            }
            eprintln!(
                "\n!!!!!!!! SKIPPED: {var} is not set; the {server} tests of fullauth-cli did \
                 not run. Set it, e.g. {example} !!!!!!!!\n"
            );
            None
        }
    }
}

/// The PostgreSQL URL for tests (`FULLAUTH_TEST_DATABASE_URL`), or `None`
/// (loudly; a failure under `CI=true`).
pub fn pg_url() -> Option<String> {
    server_url(
        "FULLAUTH_TEST_DATABASE_URL",
        "PostgreSQL",
        "postgres://root@127.0.0.1:5432/test",
    )
}

/// The MariaDB URL for tests (`FULLAUTH_TEST_MYSQL_URL`), or `None`
/// (loudly; a failure under `CI=true`).
pub fn mysql_url() -> Option<String> {
    server_url(
        "FULLAUTH_TEST_MYSQL_URL",
        "MariaDB",
        "mysql://root@127.0.0.1:3306/test",
    )
}

/// `url` (a `mysql://` URL) naming `database` instead of its own.
pub fn with_database(url: &str, database: &str) -> String {
    let (scheme, rest) = url.split_once("://").unwrap_or(("mysql", url));
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(end);
    let query = tail.find('?').map(|i| &tail[i..]).unwrap_or("");
    format!("{scheme}://{authority}/{database}{query}")
}

/// Runs `sql` (several statements allowed) on the MariaDB server of `url`.
pub fn mysql_exec(url: &str, sql: &str) {
    let (url, sql) = (url.to_string(), sql.to_string());
    runtime().block_on(async move {
        use fullauth_mysql::sqlx;
        let pool = sqlx::MySqlPool::connect(&url).await.unwrap();
        sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
            .execute(&pool)
            .await
            .unwrap();
        pool.close().await;
    });
}

/// The rows of `sql` on the MariaDB server of `url`, each column read as
/// text (`NULL` as `None`).
pub fn mysql_query(url: &str, sql: &str) -> Vec<Vec<Option<String>>> {
    let (url, sql) = (url.to_string(), sql.to_string());
    runtime().block_on(async move {
        use fullauth_mysql::sqlx::{self, Row as _};
        let pool = sqlx::MySqlPool::connect(&url).await.unwrap();
        let rows = sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
            .fetch_all(&pool)
            .await
            .unwrap();
        pool.close().await;
        rows.iter()
            .map(|r| {
                (0..r.columns().len())
                    .map(|i| {
                        r.try_get::<Option<String>, _>(i)
                            .or_else(|_| {
                                r.try_get::<Option<Vec<u8>>, _>(i)
                                    .map(|v| v.map(|b| String::from_utf8_lossy(&b).into_owned()))
                            })
                            .or_else(|_| {
                                r.try_get::<Option<i64>, _>(i)
                                    .map(|v| v.map(|n| n.to_string()))
                            })
                            .or_else(|_| {
                                r.try_get::<Option<u64>, _>(i)
                                    .map(|v| v.map(|n| n.to_string()))
                            })
                            .unwrap()
                    })
                    .collect()
            })
            .collect()
    })
}

/// The MariaDB catalog of `table.column` in the fixture's database: its
/// column type and collation.
pub fn mysql_column(f: &Fixture, table: &str, column: &str) -> (String, Option<String>) {
    let rows = mysql_query(
        &f.url,
        &format!(
            "SELECT COLUMN_TYPE, COLLATION_NAME FROM information_schema.COLUMNS \
             WHERE TABLE_SCHEMA = '{}' AND TABLE_NAME = '{table}' AND COLUMN_NAME = '{column}'",
            f.schema
        ),
    );
    let mut row = rows.into_iter().next().expect("no such column");
    let collation = row.pop().unwrap();
    (row.pop().unwrap().unwrap(), collation)
}

/// The Redis URL for tests (`FULLAUTH_TEST_REDIS_URL`), or `None` (loudly;
/// a failure under `CI=true`).
pub fn redis_url() -> Option<String> {
    server_url("FULLAUTH_TEST_REDIS_URL", "Redis", "redis://127.0.0.1:6379")
}

/// A short random suffix.
pub fn unique() -> String {
    uuid::Uuid::new_v4().simple().to_string()[..12].to_string()
}

/// A tokio runtime for the parts of a test that use the library directly.
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

/// One test's database.
pub struct Fixture {
    /// The `--database-url`.
    pub url: String,
    /// The PostgreSQL schema, or the MariaDB database (unused on SQLite).
    pub schema: String,
    pg: bool,
    my: bool,
    dir: Option<tempfile::TempDir>,
}

impl Fixture {
    /// A SQLite file (not created yet) in a temp dir of its own.
    pub fn sqlite() -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("auth.db").display());
        Fixture {
            url,
            schema: "public".into(),
            pg: false,
            my: false,
            dir: Some(dir),
        }
    }

    /// A fresh PostgreSQL schema (not created yet), dropped at the end;
    /// `None` when no server is configured (outside CI).
    pub fn postgres() -> Option<Fixture> {
        let url = pg_url()?;
        Some(Fixture {
            url,
            schema: format!("fullauth_cli_{}", unique()),
            pg: true,
            my: false,
            dir: None,
        })
    }

    /// A fresh MariaDB database `fullauth_test_<secs>_<rand>`, created now
    /// (with the server's default character set and collation, as an app
    /// would create it) and dropped at the end; `None` when no server is
    /// configured (outside CI).
    pub fn mysql() -> Option<Fixture> {
        let server = mysql_url()?;
        let secs = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        let database = format!("fullauth_test_{secs}_{}", &unique()[..8]);
        mysql_exec(&server, &format!("CREATE DATABASE `{database}`"));
        Some(Fixture {
            url: with_database(&server, &database),
            schema: database,
            pg: false,
            my: true,
            dir: None,
        })
    }

    /// The fixture of `backend` (`sqlite`, `postgres` or `mysql`); `None`
    /// when its server is not configured (outside CI).
    pub fn on(backend: &str) -> Option<Fixture> {
        match backend {
            "sqlite" => Some(Fixture::sqlite()),
            "postgres" => Fixture::postgres(),
            "mysql" => Fixture::mysql(),
            other => panic!("no backend {other}"),
        }
    }

    /// True on PostgreSQL.
    pub fn is_pg(&self) -> bool {
        self.pg
    }

    /// True on MariaDB.
    pub fn is_mysql(&self) -> bool {
        self.my
    }

    /// True on SQLite.
    pub fn is_sqlite(&self) -> bool {
        !self.pg && !self.my
    }

    /// The backend as the command names it: `sqlite`, `postgres` or `mysql`.
    pub fn backend(&self) -> &'static str {
        if self.pg {
            "postgres"
        } else if self.my {
            "mysql"
        } else {
            "sqlite"
        }
    }

    /// The SQLite file path.
    pub fn sqlite_path(&self) -> std::path::PathBuf {
        self.dir.as_ref().unwrap().path().join("auth.db")
    }

    /// The binary, pointed at this database, with no stray environment.
    pub fn cmd(&self) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_fullauth"));
        c.env_remove("FULLAUTH_REDIS_URL")
            .env("FULLAUTH_DATABASE_URL", &self.url)
            .env("FULLAUTH_SCHEMA", &self.schema)
            .env("RUST_BACKTRACE", "0");
        if let Some(d) = &self.dir {
            c.current_dir(d.path());
        }
        c
    }

    /// The binary as a plain [`std::process::Command`] (for pipes and
    /// signals), with the environment of [`cmd`](Self::cmd).
    pub fn std_cmd(&self) -> std::process::Command {
        let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_fullauth"));
        c.env_remove("FULLAUTH_REDIS_URL")
            .env("FULLAUTH_DATABASE_URL", &self.url)
            .env("FULLAUTH_SCHEMA", &self.schema)
            .env("RUST_BACKTRACE", "0");
        if let Some(d) = &self.dir {
            c.current_dir(d.path());
        }
        c
    }

    /// Runs `args` with standard output a pipe whose reader is already
    /// closed (as `fullauth … | head -0` has it): returns the exit code
    /// (`None` when killed by a signal) and standard error.
    pub fn run_closed_stdout(&self, args: &[&str], input: &str) -> (Option<i32>, String) {
        use std::io::Write as _;
        let mut child = self
            .std_cmd()
            .args(args)
            .stdin(std::process::Stdio::piped())
            .stdout(closed_pipe())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let mut stdin = child.stdin.take().unwrap();
        let _ = stdin.write_all(input.as_bytes());
        drop(stdin);
        let out = child.wait_with_output().unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    /// Runs `args` with standard output and standard error both pipes whose
    /// readers are closed: returns the exit code (`None`: killed by a signal).
    pub fn run_closed_outputs(&self, args: &[&str]) -> Option<i32> {
        self.std_cmd()
            .args(args)
            .stdin(std::process::Stdio::null())
            .stdout(closed_pipe())
            .stderr(closed_pipe())
            .status()
            .unwrap()
            .code()
    }

    /// Runs the binary with `args` and returns (exit code, stdout, stderr).
    pub fn run(&self, args: &[&str]) -> (i32, String, String) {
        self.run_stdin(args, "")
    }

    /// As [`run`](Self::run) with `input` on standard input.
    pub fn run_stdin(&self, args: &[&str], input: &str) -> (i32, String, String) {
        let out = self.cmd().args(args).write_stdin(input).output().unwrap();
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    /// Runs `args` plus `--json`, expects exit 0 and returns the JSON.
    pub fn json(&self, args: &[&str]) -> serde_json::Value {
        let mut all = args.to_vec();
        all.push("--json");
        let (code, out, err) = self.run(&all);
        assert_eq!(code, 0, "{args:?} failed: {err}\n{out}");
        serde_json::from_str(&out).unwrap_or_else(|e| panic!("{args:?}: not JSON ({e}): {out}"))
    }

    /// Opens the database with the library, every feature.
    pub async fn store(&self) -> Arc<dyn Store> {
        if self.my {
            return Arc::new(
                fullauth_mysql::MySqlStore::builder()
                    .features(Features::all())
                    .max_connections(2)
                    .connect(&self.url)
                    .await
                    .unwrap(),
            );
        }
        if self.pg {
            Arc::new(
                fullauth_postgres::PgStore::builder()
                    .schema(&self.schema)
                    .features(Features::all())
                    .max_connections(2)
                    .connect(&self.url)
                    .await
                    .unwrap(),
            )
        } else {
            Arc::new(
                fullauth_sqlite::SqliteStore::builder()
                    .open(self.sqlite_path())
                    .await
                    .unwrap(),
            )
        }
    }

    /// Runs one SQL statement on the database (setup of odd states).
    pub fn exec(&self, sql: &str) {
        let sql = sql.to_string();
        if self.my {
            let sql = sql.replace("{s}", &format!("`{}`", self.schema));
            mysql_exec(&self.url, &sql);
            return;
        }
        if self.pg {
            let url = self.url.clone();
            let schema = self.schema.clone();
            runtime().block_on(async move {
                use fullauth_postgres::sqlx;
                let pool = sqlx::PgPool::connect(&url).await.unwrap();
                let sql = sql.replace("{s}", &format!("\"{schema}\""));
                sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
                    .execute(&pool)
                    .await
                    .unwrap();
            });
        } else {
            let c = fullauth_sqlite::rusqlite::Connection::open(self.sqlite_path()).unwrap();
            c.execute_batch(&sql.replace("{s}.", "")).unwrap();
        }
    }
}

impl Fixture {
    /// Creates the tables fastapi-fullauth 0.18 creates (its SQLAlchemy
    /// DDL for this backend, the conformance crate's fixture), with
    /// `user_columns` (e.g.
    /// `display_name VARCHAR(100) NOT NULL`) added to `fullauth_users` as an
    /// app with its own user model has them. Nothing records a fullauth
    /// migration: the database is not adopted yet.
    pub fn load_fastapi_0_18(&self, user_columns: &[&str]) {
        use fullauth_conformance::migrations::{Dialect, fixtures::FastapiFullauth};
        let ddl = FastapiFullauth::V0_18.ddl(if self.pg {
            Dialect::Postgres
        } else if self.my {
            Dialect::MariaDb
        } else {
            Dialect::Sqlite
        });
        let marker = "CREATE TABLE fullauth_users (\n";
        assert!(ddl.contains(marker));
        let extra: String = user_columns.iter().map(|c| format!("\t{c},\n")).collect();
        let ddl = ddl.replace(marker, &format!("{marker}{extra}"));
        if self.pg {
            self.exec(&format!(
                "CREATE SCHEMA {{s}}; SET search_path TO {{s}}; {ddl}"
            ));
        } else {
            // SQLite's file, or MariaDB's database (the connection's).
            self.exec(&ddl);
        }
    }

    /// Every table and index of the database (the schema on PostgreSQL), as
    /// `kind name`; `None` on SQLite when the file does not exist.
    pub fn objects(&self) -> Option<std::collections::BTreeSet<String>> {
        if self.my {
            let db = self.schema.replace('\'', "''");
            let rows = mysql_query(
                &self.url,
                &format!(
                    "SELECT CONCAT('table ', TABLE_NAME) FROM information_schema.TABLES \
                     WHERE TABLE_SCHEMA = '{db}' \
                     UNION SELECT DISTINCT CONCAT('index ', TABLE_NAME, '.', INDEX_NAME) \
                     FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = '{db}'"
                ),
            );
            return Some(rows.into_iter().filter_map(|mut r| r.remove(0)).collect());
        }
        if self.pg {
            let url = self.url.clone();
            let schema = self.schema.clone();
            runtime().block_on(async move {
                use fullauth_postgres::sqlx;
                let pool = sqlx::PgPool::connect(&url).await.unwrap();
                let exists: bool = sqlx::query_scalar(
                    "SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1)",
                )
                .bind(&schema)
                .fetch_one(&pool)
                .await
                .unwrap();
                let rows: Vec<(String,)> = sqlx::query_as(
                    "SELECT c.relkind::text || ' ' || c.relname::text FROM pg_class c \
                     JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1",
                )
                .bind(&schema)
                .fetch_all(&pool)
                .await
                .unwrap();
                pool.close().await;
                exists.then(|| rows.into_iter().map(|r| r.0).collect())
            })
        } else {
            let path = self.sqlite_path();
            if !path.exists() {
                return None;
            }
            let c = fullauth_sqlite::rusqlite::Connection::open(path).unwrap();
            let mut stmt = c
                .prepare("SELECT type || ' ' || name FROM sqlite_master")
                .unwrap();
            let names = stmt
                .query_map([], |r| r.get::<_, String>(0))
                .unwrap()
                .collect::<Result<_, _>>()
                .unwrap();
            Some(names)
        }
    }
}

/// An output whose reader is gone: one end of a socket pair whose other end
/// is closed, so every write fails with a broken pipe (EPIPE), as
/// `fullauth … | head -0` has it, with no race.
pub fn closed_pipe() -> std::process::Stdio {
    let (ours, theirs) = std::os::unix::net::UnixStream::pair().unwrap();
    drop(ours);
    std::process::Stdio::from(std::os::fd::OwnedFd::from(theirs))
}

/// The state `status --json` gives the feature `name`.
pub fn state(v: &serde_json::Value, name: &str) -> String {
    v["features"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["feature"] == name)
        .map(|x| x["state"].as_str().unwrap().to_string())
        .unwrap_or_else(|| panic!("no feature {name}: {v}"))
}

/// The `note:` lines of `adopt`'s output, lower-cased, after asserting that
/// they say what adopt changed on a MariaDB database made by
/// fastapi-fullauth: timestamps widened to `DATETIME(6)`, tables converted
/// to `utf8mb4_nopad_bin`.
pub fn assert_mariadb_adopt_notes(out: &str) -> Vec<String> {
    let notes: Vec<String> = out
        .lines()
        .filter(|l| l.starts_with("note:"))
        .map(str::to_ascii_lowercase)
        .collect();
    assert!(
        notes.iter().any(|n| n.contains("datetime(6)")),
        "no note on the widened timestamps:\n{out}"
    );
    assert!(
        notes.iter().any(|n| n.contains("utf8mb4_nopad_bin")),
        "no note on the converted collation:\n{out}"
    );
    notes
}

/// Asserts that `stderr` is one `error:` line and one `hint:` line, the
/// error mentioning every one of `in_error` and the hint `in_hint`.
pub fn assert_error_with_hint(stderr: &str, in_error: &[&str], in_hint: &str) {
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(
        lines.len(),
        2,
        "not one error line and one hint line:\n{stderr}"
    );
    assert!(lines[0].starts_with("error: "), "{stderr}");
    assert!(lines[1].starts_with("hint: "), "{stderr}");
    for needle in in_error {
        assert!(
            lines[0].contains(needle),
            "{needle:?} not in the error:\n{stderr}"
        );
    }
    assert!(
        lines[1].contains(in_hint),
        "{in_hint:?} not in the hint:\n{stderr}"
    );
}

impl Drop for Fixture {
    fn drop(&mut self) {
        if self.my {
            drop_quietly(
                true,
                &self.url,
                format!("DROP DATABASE IF EXISTS `{}`", self.schema),
            );
        }
        if self.pg {
            drop_quietly(
                false,
                &self.url,
                format!("DROP SCHEMA IF EXISTS \"{}\" CASCADE", self.schema),
            );
        }
    }
}

/// Runs the clean-up statement `sql` on the MariaDB (`mysql`) or PostgreSQL
/// server of `url`, ignoring every failure.
fn drop_quietly(mysql: bool, url: &str, sql: String) {
    let Ok(rt) = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    else {
        return;
    };
    let url = url.to_string();
    rt.block_on(async move {
        if mysql {
            use fullauth_mysql::sqlx;
            if let Ok(pool) = sqlx::MySqlPool::connect(&url).await {
                let _ = sqlx::raw_sql(sqlx::AssertSqlSafe(sql)).execute(&pool).await;
                pool.close().await;
            }
        } else {
            use fullauth_postgres::sqlx;
            if let Ok(pool) = sqlx::PgPool::connect(&url).await {
                let _ = sqlx::raw_sql(sqlx::AssertSqlSafe(sql)).execute(&pool).await;
                pool.close().await;
            }
        }
    });
}

/// Defines `mod NAME { fn sqlite(); fn postgres(); fn mysql(); }` running the
/// scenario `NAME(&Fixture)` on the three backends.
#[macro_export]
macro_rules! on_all {
    ($($name:ident),* $(,)?) => {
        on_backends!([sqlite postgres mysql] $($name),*);
    };
}

/// Defines `mod NAME { fn sqlite(); fn postgres(); }` running the scenario
/// `NAME(&Fixture)` on both backends.
#[macro_export]
macro_rules! on_both {
    ($($name:ident),* $(,)?) => {
        on_backends!([sqlite postgres] $($name),*);
    };
}

/// Defines `mod NAME { fn BACKEND(); … }` running the scenario
/// `NAME(&Fixture)` on each backend listed (a [`Fixture::on`] name).
#[macro_export]
macro_rules! on_backends {
    ($backends:tt $($name:ident),* $(,)?) => {$(
        on_backends!(@one $name $backends);
    )*};
    (@one $name:ident [$($backend:ident)*]) => {
        mod $name {$(
            #[test]
            fn $backend() {
                if let Some(f) = super::common::Fixture::on(stringify!($backend)) {
                    super::$name(&f);
                }
            }
        )*}
    };
}
