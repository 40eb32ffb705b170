//! The example service as a user runs it: the built `examples/service`
//! binary is started on a free loopback port, driven over HTTP (register,
//! login, an app route guarded by `CurrentUser`, one guarded by a role,
//! refresh, logout) and stopped with SIGINT, which must end it cleanly.
//!
//! On SQLite (a file in a temporary directory) always; on PostgreSQL + Redis
//! when `FULLAUTH_TEST_DATABASE_URL` and `FULLAUTH_TEST_REDIS_URL` are set (in
//! a throwaway schema, dropped afterwards), and necessarily under `CI=true`.

use std::io::{BufRead as _, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

/// The example binary, built by `cargo test` beside the test binaries
/// (`target/<profile>/examples/service`); built here when missing.
fn example_binary() -> PathBuf {
    let exe = std::env::current_exe().expect("the test binary's path");
    let profile_dir = exe
        .parent()
        .and_then(|deps| deps.parent())
        .expect("target/<profile>/deps");
    let bin = profile_dir
        .join("examples")
        .join(format!("service{}", std::env::consts::EXE_SUFFIX));
    if !bin.exists() {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let status = Command::new(cargo)
            .args(["build", "-p", "fullauth-axum", "--example", "service"])
            .status()
            .expect("cargo runs");
        assert!(status.success(), "building the example failed");
    }
    assert!(bin.exists(), "no example binary at {}", bin.display());
    bin
}

/// A running example service.
struct Service {
    child: Child,
    base: String,
    lines: mpsc::Receiver<String>,
}

impl Service {
    /// Starts the example with `env` and waits for its "listening on" line.
    fn start(env: &[(&str, String)]) -> Service {
        let mut cmd = Command::new(example_binary());
        cmd.env_remove("FULLAUTH_DATABASE_URL")
            .env_remove("FULLAUTH_REDIS_URL")
            .env("FULLAUTH_ADDR", "127.0.0.1:0")
            .env(
                "FULLAUTH_SECRET_KEY",
                "an example secret key of at least 32 characters",
            )
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().expect("the example starts");
        let stdout = child.stdout.take().expect("piped stdout");
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let deadline = Instant::now() + Duration::from_secs(60);
        let base = loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let line = match lines.recv_timeout(left) {
                Ok(line) => line,
                Err(e) => {
                    let _ = child.kill();
                    panic!("the example printed no address within 60 s ({e})");
                }
            };
            if let Some(rest) = line.strip_prefix("listening on ") {
                let url = rest.split_whitespace().next().expect("a URL");
                break url.to_string();
            }
        };
        Service { child, base, lines }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// SIGINT, then the exit status within 30 s, and whether it said "stopping".
    fn interrupt(mut self) -> bool {
        let pid = self.child.id().to_string();
        let status = Command::new("kill")
            .args(["-INT", &pid])
            .status()
            .expect("kill runs");
        assert!(status.success(), "kill -INT failed");
        let deadline = Instant::now() + Duration::from_secs(30);
        let exit = loop {
            if let Some(exit) = self.child.try_wait().expect("wait") {
                break exit;
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                panic!("the example did not stop within 30 s of SIGINT");
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        assert!(exit.success(), "the example exited with {exit}");
        self.lines.try_iter().any(|l| l == "stopping")
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn json_body(v: Value) -> String {
    v.to_string()
}

async fn json_of(r: reqwest::Response) -> Value {
    serde_json::from_str(&r.text().await.expect("a body")).expect("a JSON body")
}

/// The user journey through the example's routes.
async fn journey(svc: &Service) {
    let http = reqwest::Client::new();
    let email = format!("ex-{}@example.com", uuid::Uuid::new_v4().simple());
    let password = "correct horse battery staple";

    let r = http
        .post(svc.url("/register"))
        .header("content-type", "application/json")
        .body(json_body(json!({"email": email, "password": password})))
        .send()
        .await
        .expect("register");
    assert_eq!(r.status().as_u16(), 202, "register");

    let r = http
        .post(svc.url("/login"))
        .header("content-type", "application/json")
        .body(json_body(json!({"email": email, "password": password})))
        .send()
        .await
        .expect("login");
    assert_eq!(r.status().as_u16(), 200, "login");
    let tokens = json_of(r).await;
    let access = tokens["access_token"].as_str().expect("access_token");
    let refresh = tokens["refresh_token"].as_str().expect("refresh_token");
    assert_eq!(tokens["token_type"], "bearer");

    let me = json_of(
        http.get(svc.url("/me"))
            .bearer_auth(access)
            .send()
            .await
            .expect("me"),
    )
    .await;
    assert_eq!(me["email"], email.as_str());

    // The app's own routes, guarded by the extractors.
    let app = svc.base.trim_end_matches("/auth");
    let r = http
        .get(format!("{app}/hello"))
        .bearer_auth(access)
        .send()
        .await
        .expect("hello");
    assert_eq!(r.status().as_u16(), 200);
    assert_eq!(r.text().await.expect("text"), format!("hello {email}\n"));
    let r = http
        .get(format!("{app}/hello"))
        .send()
        .await
        .expect("hello");
    assert_eq!(r.status().as_u16(), 401);
    let r = http
        .get(format!("{app}/admin"))
        .bearer_auth(access)
        .send()
        .await
        .expect("admin");
    assert_eq!(r.status().as_u16(), 403, "a user without the admin role");

    let r = http
        .post(svc.url("/refresh"))
        .header("content-type", "application/json")
        .body(json_body(json!({"refresh_token": refresh})))
        .send()
        .await
        .expect("refresh");
    assert_eq!(r.status().as_u16(), 200, "refresh");
    let rotated = json_of(r).await;
    let access2 = rotated["access_token"].as_str().expect("access_token");
    let r = http
        .post(svc.url("/logout"))
        .bearer_auth(access2)
        .send()
        .await
        .expect("logout");
    assert_eq!(r.status().as_u16(), 204, "logout");
    let r = http
        .get(svc.url("/me"))
        .bearer_auth(access2)
        .send()
        .await
        .expect("me after logout");
    assert_eq!(r.status().as_u16(), 401, "access token after logout");
    // The rotated-away refresh token is a replay: refused.
    let r = http
        .post(svc.url("/refresh"))
        .header("content-type", "application/json")
        .body(json_body(json!({"refresh_token": refresh})))
        .send()
        .await
        .expect("replay");
    assert_eq!(r.status().as_u16(), 401, "replayed refresh token");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn example_service_on_sqlite() {
    let dir = std::env::temp_dir().join(format!(
        "fullauth-example-{}",
        uuid::Uuid::new_v4().simple()
    ));
    std::fs::create_dir_all(&dir).expect("a temporary directory");
    let db = dir.join("example.db");
    let svc = Service::start(&[(
        "FULLAUTH_DATABASE_URL",
        format!("sqlite://{}", db.display()),
    )]);
    journey(&svc).await;
    assert!(svc.interrupt(), "the example did not say it was stopping");
    assert!(
        db.exists(),
        "the example kept its data in the file it was given"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

fn service_url(var: &str) -> Option<String> {
    match std::env::var(var) {
        Ok(u) if !u.trim().is_empty() => Some(u),
        _ if std::env::var("CI").as_deref() == Ok("true") => {
            panic!("CI=true but {var} is not set: the example cannot run on PostgreSQL + Redis")
        }
        _ => {
            eprintln!("\n*** SKIPPING the example on PostgreSQL + Redis: {var} is not set ***\n");
            None
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn example_service_on_postgres_and_redis() {
    let (Some(db), Some(cache)) = (
        service_url("FULLAUTH_TEST_DATABASE_URL"),
        service_url("FULLAUTH_TEST_REDIS_URL"),
    ) else {
        return;
    };
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let schema = format!(
        "fullauth_test_{secs}_{}",
        &uuid::Uuid::new_v4().simple().to_string()[..8]
    );
    let svc = Service::start(&[
        ("FULLAUTH_DATABASE_URL", db.clone()),
        ("FULLAUTH_REDIS_URL", cache),
        ("FULLAUTH_DATABASE_SCHEMA", schema.clone()),
    ]);
    journey(&svc).await;
    assert!(svc.interrupt(), "the example did not say it was stopping");

    use fullauth_postgres::sqlx;
    let pool = sqlx::PgPool::connect(&db).await.expect("PostgreSQL");
    let tables: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM information_schema.tables WHERE table_schema = $1",
    )
    .bind(&schema)
    .fetch_one(&pool)
    .await
    .expect("count tables");
    assert!(tables > 0, "the example migrated its schema");
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
        "DROP SCHEMA IF EXISTS \"{schema}\" CASCADE"
    )))
    .execute(&pool)
    .await
    .expect("drop the schema");
}
