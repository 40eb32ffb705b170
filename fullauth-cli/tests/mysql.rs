//! What is MariaDB's own in the built `fullauth` binary
//! (`FULLAUTH_TEST_MYSQL_URL`, e.g. `mysql://root@127.0.0.1:3306/test`; each
//! test in a fresh database `fullauth_test_<secs>_<rand>` it creates and
//! drops): the database comes from the URL (or `--schema`), `mariadb://`
//! URLs, `export-sql --dialect mysql`, adopt widening and converting a
//! fastapi-fullauth database, the conformance suite. The scenarios shared with
//! SQLite and PostgreSQL run on MariaDB from `cli.rs` and `cli_fixes.rs`.
//!
//! Without the variable the tests say so loudly and skip, except under
//! `CI=true`, where that is a failure.

mod common;

use common::{Fixture, assert_error_with_hint, state};
use serde_json::{Value, json};

const OK: i32 = 0;
const USAGE: i32 = 2;
const UNAVAILABLE: i32 = 5;
const SCHEMA: i32 = 6;

/// Defines one test per scenario, on a fresh MariaDB database.
macro_rules! on_mysql {
    ($($name:ident),* $(,)?) => {$(
        #[test]
        fn $name() {
            if let Some(f) = Fixture::mysql() {
                scenarios::$name(&f);
            }
        }
    )*};
}

on_mysql!(
    export_sql_script_builds_a_database_status_calls_up_to_date,
    the_database_comes_from_the_url_or_schema,
    mariadb_urls_and_redacted_passwords,
    migrate_creates_the_database_the_url_names,
    adopt_of_a_fastapi_database_widens_and_converts_with_notes,
);

mod scenarios {
    use super::*;
    use common::mysql_column as column;

    pub fn export_sql_script_builds_a_database_status_calls_up_to_date(f: &Fixture) {
        // The database from the URL (FULLAUTH_SCHEMA is not set here).
        let out = f
            .cmd()
            .env_remove("FULLAUTH_SCHEMA")
            .args(["export-sql", "--dialect", "mysql"])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(OK));
        let script = String::from_utf8(out.stdout).unwrap();
        assert!(
            script.contains(&format!("`{}`.fullauth_users", f.schema)),
            "{script}"
        );
        // `--schema` names another database; `mariadb` is the same dialect.
        let (code, other, err) = f.run(&[
            "export-sql",
            "--dialect",
            "mariadb",
            "--schema",
            "auth_db",
            "--features",
            "core,roles",
        ]);
        assert_eq!(code, OK, "{err}");
        assert!(other.contains("`auth_db`.fullauth_user_roles"), "{other}");
        assert!(!other.contains("fullauth_passkeys"), "{other}");
        let v = f.json(&["export-sql", "--dialect", "mysql", "--features", "core"]);
        assert_eq!(v["dialect"], "mysql");
        // Without a MariaDB database anywhere: a usage error saying what to pass.
        let out = f
            .cmd()
            .env_remove("FULLAUTH_SCHEMA")
            .env("FULLAUTH_DATABASE_URL", "sqlite://x.db")
            .args(["export-sql", "--dialect", "mysql"])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(USAGE));
        let err = String::from_utf8(out.stderr).unwrap();
        assert_error_with_hint(&err, &["database"], "--schema");

        // The script builds a database `status` calls up to date, recorded.
        f.exec(&script);
        let v = f.json(&["status", "--features", "all"]);
        assert_eq!(v["up_to_date"], true, "{v}");
        let v = f.json(&["adopt"]);
        assert!(v["applied"].as_array().unwrap().is_empty(), "{v}");
        assert!(v["adopted"].as_array().unwrap().is_empty(), "{v}");
        assert_eq!(f.json(&["migrate"])["applied"], json!([]));
    }

    pub fn the_database_comes_from_the_url_or_schema(f: &Fixture) {
        // The server URL names another database (the fixture's URL minus
        // its database + `--schema`): the tables go into `--schema`.
        let no_db = common::with_database(&f.url, "");
        let run = |url: &str, schema: Option<&str>, args: &[&str]| {
            let mut c = f.cmd();
            c.env("FULLAUTH_DATABASE_URL", url);
            match schema {
                Some(s) => c.env("FULLAUTH_SCHEMA", s),
                None => c.env_remove("FULLAUTH_SCHEMA"),
            };
            let out = c.args(args).output().unwrap();
            (
                out.status.code().unwrap_or(-1),
                String::from_utf8_lossy(&out.stdout).into_owned(),
                String::from_utf8_lossy(&out.stderr).into_owned(),
            )
        };
        // No database anywhere: a usage error naming what to pass.
        let (code, _, err) = run(&no_db, None, &["status"]);
        assert_eq!(code, USAGE, "{err}");
        assert_error_with_hint(&err, &["names no database"], "--schema");
        let (code, out, err) = run(&no_db, Some(&f.schema), &["migrate", "--features", "core"]);
        assert_eq!(code, OK, "{err}");
        assert!(out.contains(&format!("database {}", f.schema)), "{out}");
        // The URL's own database, no --schema: the same tables.
        let (code, out, err) = run(&f.url, None, &["status", "--json"]);
        assert_eq!(code, OK, "{err}");
        let v: Value = serde_json::from_str(&out).unwrap();
        assert_eq!(v["location"], format!("database {}", f.schema));
        assert_eq!(state(&v, "core"), "present", "{v}");
        // --schema wins over the URL's database.
        let server = common::mysql_url().unwrap();
        assert_ne!(common::with_database(&server, &f.schema), server);
        let (code, out, err) = run(&server, Some(&f.schema), &["status", "--json"]);
        assert_eq!(code, OK, "{err}");
        let v: Value = serde_json::from_str(&out).unwrap();
        assert_eq!(state(&v, "core"), "present", "{v}");
    }

    pub fn adopt_of_a_fastapi_database_widens_and_converts_with_notes(f: &Fixture) {
        f.load_fastapi_0_18(&["display_name VARCHAR(100) NOT NULL"]);
        assert_eq!(column(f, "fullauth_users", "created_at").0, "datetime");
        assert_eq!(column(f, "fullauth_users", "id").0, "uuid");
        let (code, out, err) = f.run(&["adopt"]);
        assert_eq!(code, OK, "{err}");
        assert!(out.contains("adopted (already there)"), "{out}");
        let notes = common::assert_mariadb_adopt_notes(&out);
        assert!(
            notes
                .iter()
                .any(|n| n.contains("fullauth_users.display_name")),
            "no note on the app column:\n{out}"
        );
        assert_eq!(column(f, "fullauth_users", "created_at").0, "datetime(6)");
        assert_eq!(
            column(f, "fullauth_refresh_tokens", "expires_at").0,
            "datetime(6)"
        );
        assert_eq!(column(f, "fullauth_users", "id").0, "uuid");
        assert_eq!(
            column(f, "fullauth_users", "email").1.as_deref(),
            Some("utf8mb4_nopad_bin")
        );
        // The app column keeps its type, converted with its table.
        assert_eq!(
            column(f, "fullauth_users", "display_name").0,
            "varchar(100)"
        );
        let (code, out, _) = f.run(&["adopt"]);
        assert_eq!(code, OK);
        assert!(out.contains("nothing to do"), "{out}");
        assert!(!out.contains("utf8mb4"), "{out}");
        assert_eq!(f.json(&["status"])["up_to_date"], true);
        // Byte-wise names after the conversion.
        assert_eq!(
            f.run(&[
                "user",
                "create",
                "ada@example.com",
                "--no-password",
                "--set",
                "display_name=Ada"
            ])
            .0,
            OK
        );
        assert_eq!(f.run(&["role", "grant", "ada@example.com", "admin"]).0, OK);
        assert_eq!(f.run(&["role", "grant", "ada@example.com", "ADMIN"]).0, OK);
        assert_eq!(
            f.json(&["role", "list", "ada@example.com"]),
            json!(["ADMIN", "admin"])
        );
    }

    pub fn migrate_creates_the_database_the_url_names(f: &Fixture) {
        let server = common::mysql_url().unwrap();
        common::mysql_exec(&server, &format!("DROP DATABASE `{}`", f.schema));
        let exists = || {
            !common::mysql_query(&server, &format!("SHOW DATABASES LIKE '{}'", f.schema)).is_empty()
        };
        // Commands that need the data say what to do, and change nothing.
        for args in [&["status"][..], &["user", "list"], &["adopt"]] {
            let (code, _, err) = f.run(args);
            assert_eq!(code, SCHEMA, "{args:?}: {err}");
            assert_error_with_hint(&err, &[&f.schema, "does not exist"], "fullauth migrate");
        }
        // A dry run plans everything and creates nothing.
        let v = f.json(&["migrate", "--dry-run"]);
        assert_eq!(v["pending"].as_array().unwrap().len(), 13, "{v}");
        assert!(!exists(), "a dry run created the database");
        // migrate creates it, with fullauth's collation.
        let (code, out, err) = f.run(&["migrate", "--features", "core"]);
        assert_eq!(code, OK, "{err}");
        assert!(out.contains("core_0001_users"), "{out}");
        assert!(exists());
        let collation = common::mysql_query(
            &server,
            &format!(
                "SELECT TABLE_COLLATION FROM information_schema.TABLES \
                 WHERE TABLE_SCHEMA = '{}' AND TABLE_NAME = 'fullauth_users'",
                f.schema
            ),
        );
        assert_eq!(collation[0][0].as_deref(), Some("utf8mb4_nopad_bin"));
        assert_eq!(f.json(&["status"])["up_to_date"], true);
    }

    pub fn mariadb_urls_and_redacted_passwords(f: &Fixture) {
        let mariadb = f.url.replacen("mysql://", "mariadb://", 1);
        let (code, _, err) = f.run(&["--database-url", &mariadb, "migrate", "--features", "core"]);
        assert_eq!(code, OK, "{err}");
        let v = f.json(&["--database-url", &mariadb, "status"]);
        assert_eq!(v["backend"], "mysql");
        assert_eq!(state(&v, "core"), "present");
        // Nobody listens: unavailable, the password never shown.
        let (code, _, err) = f.run(&[
            "--database-url",
            "mysql://u:hunter2@127.0.0.1:1/db",
            "status",
        ]);
        assert_eq!(code, UNAVAILABLE, "{err}");
        assert!(!err.contains("hunter2"), "{err}");
        assert!(err.contains("hint:"), "{err}");
        // A wrong password on the real server: refused, not shown either.
        let wrong = match f.url.split_once("://") {
            Some((scheme, rest)) => {
                let (auth, host) = rest.split_once('@').unwrap_or(("root", rest));
                let user = auth.split(':').next().unwrap_or("root");
                format!("{scheme}://{user}:wr0ng-s3cret@{host}")
            }
            None => unreachable!(),
        };
        let (code, _, err) = f.run(&["--database-url", &wrong, "status"]);
        assert_ne!(code, OK, "{err}");
        assert!(!err.contains("wr0ng-s3cret"), "{err}");
        // The help names the MariaDB URL and what --schema means there.
        let (_, help, _) = f.run(&["--help"]);
        assert!(help.contains("mysql://"), "{help}");
        assert!(help.contains("MariaDB"), "{help}");
    }
}

/// The conformance suite on MariaDB through the command: it passes, and the
/// throwaway database is gone afterwards.
#[test]
fn conformance_on_mariadb_leaves_nothing_behind() {
    let Some(server) = common::mysql_url() else {
        return;
    };
    let f = Fixture::sqlite();
    let mut c = f.cmd();
    c.env("FULLAUTH_DATABASE_URL", &server)
        .env_remove("FULLAUTH_SCHEMA")
        .arg("conformance");
    let out = c.output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let label = stdout
        .lines()
        .find(|l| l.starts_with("== mysql (throwaway database "))
        .unwrap_or_else(|| panic!("no MariaDB run:\n{stdout}\n{stderr}"));
    let database = label
        .trim_start_matches("== mysql (throwaway database ")
        .split(',')
        .next()
        .unwrap()
        .to_string();
    let left = common::mysql_query(&server, &format!("SHOW DATABASES LIKE '{database}'"));
    assert!(left.is_empty(), "{database} left behind");
    assert_eq!(
        out.status.code(),
        Some(OK),
        "the suite failed on MariaDB:\n{stdout}\n{stderr}"
    );
    assert!(stdout.contains("conformance: PASSED"), "{stdout}");
}
