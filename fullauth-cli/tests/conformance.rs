//! `fullauth conformance` against live servers passes and leaves nothing
//! behind: no schema, no table, no Redis key.

mod common;

use std::collections::BTreeSet;

use fullauth_postgres::sqlx;

fn bin() -> assert_cmd::Command {
    let mut c = assert_cmd::Command::new(env!("CARGO_BIN_EXE_fullauth"));
    c.env_remove("FULLAUTH_DATABASE_URL")
        .env_remove("FULLAUTH_REDIS_URL")
        .env_remove("FULLAUTH_SCHEMA")
        .env("RUST_BACKTRACE", "0");
    c
}

/// Every schema and every table of the database.
fn catalog(url: &str) -> (BTreeSet<String>, BTreeSet<String>) {
    common::runtime().block_on(async {
        let pool = sqlx::PgPool::connect(url).await.unwrap();
        let schemas: Vec<(String,)> = sqlx::query_as("SELECT nspname::text FROM pg_namespace")
            .fetch_all(&pool)
            .await
            .unwrap();
        let tables: Vec<(String,)> = sqlx::query_as(
            "SELECT n.nspname || '.' || c.relname FROM pg_class c \
             JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.relkind IN ('r', 'u', 'p')",
        )
        .fetch_all(&pool)
        .await
        .unwrap();
        pool.close().await;
        (
            schemas.into_iter().map(|s| s.0).collect(),
            tables.into_iter().map(|s| s.0).collect(),
        )
    })
}

fn redis_keys(url: &str, pattern: &str) -> Vec<String> {
    use fullauth_redis::redis;
    let client = redis::Client::open(url).unwrap();
    common::runtime().block_on(async {
        let mut conn = client.get_multiplexed_async_connection().await.unwrap();
        redis::cmd("KEYS")
            .arg(pattern)
            .query_async(&mut conn)
            .await
            .unwrap()
    })
}

#[test]
fn conformance_on_postgres_and_redis_passes_and_leaves_nothing() {
    let Some(url) = common::pg_url() else { return };
    let redis = common::redis_url();
    let before = catalog(&url);
    let mut cmd = bin();
    cmd.args(["conformance", "--database-url", &url]);
    if let Some(r) = &redis {
        cmd.args(["--redis-url", r]);
    }
    let out = cmd.output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    assert!(stdout.contains("conformance: PASSED"), "{stdout}");
    assert!(stdout.contains(" 0 failed"), "{stdout}");
    assert!(
        stdout.contains("== postgres (throwaway schema fullauth_conformance_"),
        "{stdout}"
    );

    let after = catalog(&url);
    // Other tests may create and drop their own schemas meanwhile: compare
    // what this command could have made.
    let ours = |s: &String| s.starts_with("fullauth_conformance_");
    let new_schemas: Vec<_> = after.0.difference(&before.0).filter(|s| ours(s)).collect();
    let new_tables: Vec<_> = after.1.difference(&before.1).filter(|s| ours(s)).collect();
    assert!(
        new_schemas.is_empty(),
        "schemas left behind: {new_schemas:?}"
    );
    assert!(new_tables.is_empty(), "tables left behind: {new_tables:?}");
    assert!(
        !after.1.iter().any(|t| t.starts_with("public.fullauth_"))
            || before.1.iter().any(|t| t.starts_with("public.fullauth_")),
        "tables created in public"
    );
    if let Some(r) = &redis {
        assert!(
            stdout.contains("== redis (throwaway key prefix fullauth-conformance-"),
            "{stdout}"
        );
        assert!(
            redis_keys(r, "fullauth-conformance-*").is_empty(),
            "Redis keys left behind"
        );
    }
}

#[test]
fn conformance_on_sqlite_json_report() {
    let dir = tempfile::tempdir().unwrap();
    let out = bin()
        .current_dir(dir.path())
        .args([
            "conformance",
            "--database-url",
            "sqlite://unused.db",
            "--json",
        ])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["success"], true);
    let run = &v["runs"][0];
    assert_eq!(run["failed"], 0);
    assert!(run["passed"].as_u64().unwrap() > 100, "{run}");
    assert!(
        run["outcomes"]
            .as_array()
            .unwrap()
            .iter()
            .all(|o| o["outcome"] == "passed")
    );
    // The named file was never created: the suite ran in throwaway files.
    assert!(!dir.path().join("unused.db").exists());
}

#[test]
fn conformance_on_an_unreachable_server_is_unavailable() {
    let out = bin()
        .args([
            "conformance",
            "--database-url",
            "postgres://nobody@127.0.0.1:1/x",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(5));
    assert!(String::from_utf8_lossy(&out.stderr).contains("hint:"));
}
