//! `--user-id-type`: `fullauth migrate --user-id-type int|text` creates the
//! DDL fastapi-fullauth's SQLAlchemy models emit for `UserSchema[int]` /
//! `UserSchema[str]` (compared through the catalog with the library's own
//! DDL, column positions included), the other commands serve such a
//! database; MariaDB serves integer keys and refuses text keys.

mod common;

#[path = "../../fullauth-sqlite/tests/common/catalog.rs"]
mod catalog;
#[path = "../../fullauth-postgres/tests/common/catalog.rs"]
mod pg_catalog;

use common::Fixture;
use fullauth_sqlite::rusqlite;

const OK: i32 = 0;
const USAGE: i32 = 2;
const SQLITE_INT: &str =
    include_str!("../../fullauth-sqlite/tests/fixtures/fastapi_fullauth_0_18_int.sql");
const SQLITE_TEXT: &str =
    include_str!("../../fullauth-sqlite/tests/fixtures/fastapi_fullauth_0_18_text.sql");
const PG_INT: &str = include_str!("../../fullauth-postgres/tests/fixtures/reference_0_18_int.sql");
const PG_TEXT: &str =
    include_str!("../../fullauth-postgres/tests/fixtures/reference_0_18_text.sql");

#[test]
fn migrate_creates_the_reference_ddl_of_the_key_type_on_sqlite() {
    for (t, reference) in [("int", SQLITE_INT), ("text", SQLITE_TEXT)] {
        let f = Fixture::sqlite();
        let (code, _, err) = f.run(&["migrate", "--features", "durable", "--user-id-type", t]);
        assert_eq!(code, OK, "{err}");
        let theirs = tempfile::tempdir().unwrap();
        let path = theirs.path().join("reference.db");
        rusqlite::Connection::open(&path)
            .unwrap()
            .execute_batch(reference)
            .unwrap();
        let (a, b) = (catalog::catalog(&path), catalog::catalog(&f.sqlite_path()));
        assert!(a.len() > 60, "{t}: {a:?}");
        assert_eq!(a, b, "{t}");
    }
}

#[test]
fn migrate_creates_the_reference_ddl_of_the_key_type_on_postgres() {
    for (t, reference) in [("int", PG_INT), ("text", PG_TEXT)] {
        let Some(f) = Fixture::postgres() else { return };
        let (code, _, err) = f.run(&["migrate", "--features", "durable", "--user-id-type", t]);
        assert_eq!(code, OK, "{err}");
        common::runtime().block_on(async {
            let pool = fullauth_postgres::sqlx::PgPool::connect(&f.url)
                .await
                .unwrap();
            let theirs = format!("{}_ref", f.schema);
            pg_catalog::run_in_schema(&pool, &theirs, reference).await;
            let a = pg_catalog::catalog(&pool, &theirs, true).await;
            let b = pg_catalog::catalog(&pool, &f.schema, true).await;
            fullauth_postgres::sqlx::raw_sql(fullauth_postgres::sqlx::AssertSqlSafe(format!(
                "DROP SCHEMA \"{theirs}\" CASCADE"
            )))
            .execute(&pool)
            .await
            .unwrap();
            assert!(a.len() > 60, "{t}: {a:?}");
            assert!(
                a.iter()
                    .any(|l| l.starts_with("sequence fullauth_users_id_seq"))
                    == (t == "int"),
                "{t}: {a:?}"
            );
            assert_eq!(a, b, "{t}");
        });
    }
}

#[test]
fn commands_serve_an_integer_keyed_database() {
    let f = Fixture::sqlite();
    let (code, _, err) = f.run(&["migrate", "--features", "all", "--user-id-type", "int"]);
    assert_eq!(code, OK, "{err}");
    // Without the option the commands take the database's key type.
    let (code, _, err) = f.run(&["user", "create", "ada@example.com", "--no-password"]);
    assert_eq!(code, OK, "{err}");
    let shown = f.json(&["user", "show", "ada@example.com"]);
    assert_eq!(
        shown["id"], 1,
        "an integer id is a JSON number, as in the reference: {shown}"
    );
    let by_id = f.json(&["user", "show", "1"]);
    assert_eq!(by_id["email"], "ada@example.com", "{by_id}");
    // Given, a different type is refused, naming both.
    let (code, _, err) = f.run(&["--user-id-type", "uuid", "user", "show", "1"]);
    assert_ne!(code, OK);
    assert!(err.contains("user ids are integer"), "{err}");
    assert!(err.contains("UUID user ids"), "{err}");
    // An unknown type is a usage error.
    let (code, _, err) = f.run(&["--user-id-type", "bigint", "status"]);
    assert_eq!(code, USAGE, "{err}");
    assert!(err.contains("uuid, int or text"), "{err}");
}

#[test]
fn export_sql_writes_the_migrations_of_the_key_type() {
    let f = Fixture::sqlite();
    let (code, out, err) = f.run(&[
        "export-sql",
        "--dialect",
        "sqlite",
        "--features",
        "core",
        "--user-id-type",
        "int",
    ]);
    assert_eq!(code, OK, "{err}");
    assert!(out.contains("\tid INTEGER NOT NULL,"), "{out}");
    assert!(
        out.contains("CREATE TABLE fullauth_refresh_tokens (\n\tuser_id INTEGER NOT NULL,"),
        "{out}"
    );
}

#[test]
fn mariadb_serves_integer_keys_and_refuses_text_keys() {
    let Some(f) = Fixture::mysql() else { return };
    let (code, _, err) = f.run(&["migrate", "--features", "core", "--user-id-type", "text"]);
    assert_eq!(code, USAGE, "{err}");
    assert!(err.contains("not text keys"), "{err}");
    let (code, _, err) = f.run(&["migrate", "--features", "core", "--user-id-type", "int"]);
    assert_eq!(code, OK, "{err}");
    let (code, _, err) = f.run(&["user", "create", "ada@example.com", "--no-password"]);
    assert_eq!(code, OK, "{err}");
    assert_eq!(f.json(&["user", "show", "ada@example.com"])["id"], 1);
    assert_eq!(f.json(&["user", "show", "1"])["email"], "ada@example.com");
}
