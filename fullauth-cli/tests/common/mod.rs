//! Helpers shared by the integration tests: a database per test (a SQLite
//! file in a temp dir, or a fresh PostgreSQL schema), and the built binary.

#![allow(dead_code)]

use std::sync::Arc;

use assert_cmd::Command;
use fullauth_api::{Features, Store};

/// The PostgreSQL URL for tests, or `None` (after a loud message) when it is
/// not set. Under `CI=true` a missing URL fails the test.
pub fn pg_url() -> Option<String> {
    match std::env::var("FULLAUTH_TEST_DATABASE_URL") {
        Ok(url) if !url.trim().is_empty() => Some(url),
        _ => {
            if std::env::var("CI").as_deref() == Ok("true") {
                panic!(
                    "FULLAUTH_TEST_DATABASE_URL is not set and CI=true: PostgreSQL tests cannot be skipped in CI"
                );
            }
            eprintln!(
                "\n!!!!!!!! SKIPPED: FULLAUTH_TEST_DATABASE_URL is not set; the PostgreSQL tests of \
                 fullauth-cli did not run. Set it, e.g. postgres://root@127.0.0.1:5432/test !!!!!!!!\n"
            );
            None
        }
    }
}

/// The Redis URL for tests, or `None` (loudly; a failure under `CI=true`).
pub fn redis_url() -> Option<String> {
    match std::env::var("FULLAUTH_TEST_REDIS_URL") {
        Ok(url) if !url.trim().is_empty() => Some(url),
        _ => {
            if std::env::var("CI").as_deref() == Ok("true") {
                panic!(
                    "FULLAUTH_TEST_REDIS_URL is not set and CI=true: Redis tests cannot be skipped in CI"
                );
            }
            eprintln!(
                "\n!!!!!!!! SKIPPED: FULLAUTH_TEST_REDIS_URL is not set; the Redis part of the \
                 fullauth-cli conformance test did not run !!!!!!!!\n"
            );
            None
        }
    }
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
    /// The PostgreSQL schema (unused on SQLite).
    pub schema: String,
    pg: bool,
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
            dir: None,
        })
    }

    /// True on PostgreSQL.
    pub fn is_pg(&self) -> bool {
        self.pg
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

impl Drop for Fixture {
    fn drop(&mut self) {
        if self.pg {
            let url = self.url.clone();
            let schema = self.schema.clone();
            if let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                rt.block_on(async move {
                    use fullauth_postgres::sqlx;
                    if let Ok(pool) = sqlx::PgPool::connect(&url).await {
                        let _ = sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
                            "DROP SCHEMA IF EXISTS \"{schema}\" CASCADE"
                        )))
                        .execute(&pool)
                        .await;
                        pool.close().await;
                    }
                });
            }
        }
    }
}

/// Defines `mod NAME { fn sqlite(); fn postgres(); }` running the scenario
/// `NAME(&Fixture)` on both backends.
#[macro_export]
macro_rules! on_both {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[test]
            fn sqlite() {
                super::$name(&super::common::Fixture::sqlite());
            }
            #[test]
            fn postgres() {
                if let Some(f) = super::common::Fixture::postgres() {
                    super::$name(&f);
                }
            }
        }
    )*};
}
