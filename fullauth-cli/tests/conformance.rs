//! `fullauth conformance` against live servers passes and leaves nothing
//! behind: no schema, no table, no Redis key, no file — also when Ctrl-C
//! (SIGINT) stops it halfway.

mod common;

use std::collections::BTreeSet;
use std::io::BufRead as _;
use std::path::Path;
use std::process::{Child, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

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
    // Other tests (and other runs of the command) may create and drop their
    // own schemas meanwhile: compare what this run made.
    let schema = between(&stdout, "(throwaway schema ", ",");
    let ours = |s: &String| s == schema || s.starts_with(&format!("{schema}."));
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
        let prefix = between(&stdout, "(throwaway key prefix ", ",");
        assert!(
            redis_keys(r, &format!("{prefix}*")).is_empty(),
            "Redis keys left behind"
        );
    }
}

/// The text of `haystack` between the first `start` and the next `end`.
fn between<'a>(haystack: &'a str, start: &str, end: &str) -> &'a str {
    let from = haystack
        .find(start)
        .unwrap_or_else(|| panic!("{start:?} not in {haystack}"))
        + start.len();
    let len = haystack[from..].find(end).unwrap();
    &haystack[from..from + len]
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

/// `fullauth conformance ARGS` started with `TMPDIR` = `tmp`, its standard
/// error read line by line into the returned channel.
fn spawn(args: &[&str], tmp: &Path) -> (Child, mpsc::Receiver<String>) {
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_fullauth"))
        .env_remove("FULLAUTH_DATABASE_URL")
        .env_remove("FULLAUTH_REDIS_URL")
        .env_remove("FULLAUTH_SCHEMA")
        .env("RUST_BACKTRACE", "0")
        .env("TMPDIR", tmp)
        .current_dir(tmp)
        .arg("conformance")
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stderr).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    (child, rx)
}

/// The first line of `lines` containing `needle` (within a minute).
fn wait_for_line(lines: &mpsc::Receiver<String>, needle: &str, seen: &mut Vec<String>) -> String {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match lines.recv_timeout(left) {
            Ok(line) => {
                seen.push(line.clone());
                if line.contains(needle) {
                    return line;
                }
            }
            Err(e) => panic!("no line with {needle:?} ({e}); stderr so far: {seen:?}"),
        }
    }
}

/// Polls `ready` every 20 ms for up to a minute.
fn wait_until(what: &str, mut ready: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !ready() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Sends SIGINT (what Ctrl-C sends) and waits up to a minute for the exit
/// code (`None`: killed by the signal). The rest of standard error goes to
/// `seen`.
fn interrupt(
    mut child: Child,
    lines: &mpsc::Receiver<String>,
    seen: &mut Vec<String>,
) -> Option<i32> {
    let kill = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    let deadline = Instant::now() + Duration::from_secs(60);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("the command did not end within a minute of SIGINT: {seen:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    while let Ok(line) = lines.recv_timeout(Duration::from_secs(1)) {
        seen.push(line);
    }
    status.code()
}

/// Every file and directory under `dir`.
fn entries(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        out.push(e.path().display().to_string());
        if e.path().is_dir() {
            out.extend(entries(&e.path()));
        }
    }
    out
}

#[test]
fn ctrl_c_on_postgres_drops_the_throwaway_schema() {
    let Some(url) = common::pg_url() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let (child, lines) = spawn(&["--database-url", &url], tmp.path());
    let mut seen = Vec::new();
    let line = wait_for_line(&lines, "throwaway schema ", &mut seen);
    let schema = line.rsplit(' ').next().unwrap().to_string();
    // Interrupt once the suite is at work in its schema.
    wait_until("the suite's tables", || {
        catalog(&url)
            .1
            .contains(&format!("{schema}.fullauth_users"))
    });
    let code = interrupt(child, &lines, &mut seen);
    // Killed, with the schema left, before.
    assert_eq!(code, Some(130), "{seen:?}");
    assert!(
        seen.iter()
            .any(|l| l.starts_with("error: interrupted") && l.contains(&schema)),
        "{seen:?}"
    );
    let (schemas, tables) = catalog(&url);
    assert!(!schemas.contains(&schema), "schema {schema} left behind");
    assert!(!tables.iter().any(|t| t.starts_with(&format!("{schema}."))));
}

#[test]
fn ctrl_c_on_redis_removes_the_throwaway_keys() {
    let Some(redis) = common::redis_url() else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let (child, lines) = spawn(
        &[
            "--database-url",
            "sqlite://unused.db",
            "--redis-url",
            &redis,
        ],
        tmp.path(),
    );
    let mut seen = Vec::new();
    let line = wait_for_line(&lines, "under key prefix ", &mut seen);
    let prefix = line.rsplit(' ').next().unwrap().to_string();
    wait_until("the suite's Redis keys", || {
        !redis_keys(&redis, &format!("{prefix}*")).is_empty()
    });
    let code = interrupt(child, &lines, &mut seen);
    assert_eq!(code, Some(130), "{seen:?}");
    assert!(
        redis_keys(&redis, &format!("{prefix}*")).is_empty(),
        "Redis keys {prefix}* left behind"
    );
    assert!(entries(tmp.path()).is_empty(), "{:?}", entries(tmp.path()));
}

#[test]
fn ctrl_c_on_sqlite_removes_the_throwaway_files() {
    let tmp = tempfile::tempdir().unwrap();
    let (child, lines) = spawn(&["--database-url", "sqlite://unused.db"], tmp.path());
    let mut seen = Vec::new();
    wait_for_line(&lines, "running the suite on SQLite", &mut seen);
    // Interrupt once the suite's database files exist.
    wait_until("the suite's database files", || {
        entries(tmp.path()).iter().any(|e| e.ends_with(".db"))
    });
    let code = interrupt(child, &lines, &mut seen);
    assert_eq!(code, Some(130), "{seen:?}");
    assert!(
        entries(tmp.path()).is_empty(),
        "left behind: {:?}",
        entries(tmp.path())
    );
}

#[test]
fn conformance_with_a_closed_stdout_still_cleans_up_and_passes() {
    let tmp = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_fullauth"))
        .env_remove("FULLAUTH_DATABASE_URL")
        .env_remove("FULLAUTH_REDIS_URL")
        .env("TMPDIR", tmp.path())
        .current_dir(tmp.path())
        .args(["conformance", "--database-url", "sqlite://unused.db"])
        .stdout(common::closed_pipe())
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(!err.contains("panicked"), "{err}");
    assert!(entries(tmp.path()).is_empty(), "{:?}", entries(tmp.path()));
}
