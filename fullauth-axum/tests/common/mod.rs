//! The test harness: a real server on an ephemeral loopback port, on a
//! chosen store, and a small HTTP client for it.

#![allow(dead_code)]

use std::io::Write as _;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::Router;
use fullauth_api::{ComposedStore, PasswordHasher, Store};
use fullauth_axum::{AuthHooks, AuthSettings, FullAuth};
use fullauth_flows::{AuthService, FlowConfig, SecretKey};
use fullauth_memory::MemoryStore;
use fullauth_postgres::{PgStore, sqlx};
use fullauth_redis::RedisStore;
use fullauth_sqlite::SqliteStore;
use serde_json::{Value, json};
use tokio::net::TcpListener;

pub const SECRET: &str = "an-http-test-secret-of-at-least-32-characters";
pub const PASSWORD: &str = "correct horse battery";

/// The stores the tests run on.
#[derive(Clone, Copy, Debug)]
pub enum Backend {
    Memory,
    Sqlite,
    PostgresRedis,
}

fn is_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true")
}

/// A server URL from `var`; `None` after a loud notice, or a panic under CI.
fn url(var: &str) -> Option<String> {
    match std::env::var(var) {
        Ok(u) if !u.trim().is_empty() => Some(u),
        _ if is_ci() => panic!("CI=true but {var} is not set: the HTTP tests cannot run"),
        _ => {
            let _ = writeln!(
                std::io::stderr(),
                "\n*** SKIPPING fullauth-axum HTTP tests on PostgreSQL + Redis: {var} is not set ***\n"
            );
            None
        }
    }
}

/// A new schema name: `fullauth_test_<unix secs>_<random>` (the pattern
/// whose stale instances every PostgreSQL test binary drops after an hour).
fn fresh_schema() -> String {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let rand = uuid::Uuid::new_v4().simple().to_string();
    format!("fullauth_test_{secs}_{}", &rand[..8])
}

/// A store for one test, and what to drop after it.
pub struct Fixture {
    pub store: Arc<dyn Store>,
    schema: Option<(PgStore, String)>,
}

impl Fixture {
    /// Drops the test's PostgreSQL schema (a failed test leaves it to the
    /// stale-schema sweep).
    pub async fn finish(self) {
        if let Some((pg, schema)) = self.schema {
            let sql = format!("DROP SCHEMA IF EXISTS \"{schema}\" CASCADE");
            let _ = sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
                .execute(pg.pool())
                .await;
        }
    }
}

/// A fresh store of the backend, with nothing of any other test in it;
/// `None` when its servers are not configured (outside CI).
pub async fn store(backend: Backend) -> Option<Fixture> {
    match backend {
        Backend::Memory => Some(Fixture {
            store: Arc::new(MemoryStore::new()),
            schema: None,
        }),
        Backend::Sqlite => {
            let s = SqliteStore::builder()
                .migrate(true)
                .open_temporary()
                .await
                .expect("a temporary SQLite store");
            Some(Fixture {
                store: Arc::new(s),
                schema: None,
            })
        }
        Backend::PostgresRedis => {
            let db = url("FULLAUTH_TEST_DATABASE_URL")?;
            let redis_url = url("FULLAUTH_TEST_REDIS_URL")?;
            let schema = fresh_schema();
            let pg = PgStore::builder()
                .schema(schema.clone())
                .max_connections(8)
                .connect(&db)
                .await
                .unwrap_or_else(|e| {
                    panic!("cannot reach PostgreSQL at FULLAUTH_TEST_DATABASE_URL: {e}")
                });
            pg.migrate().await.expect("migrate the test schema");
            let prefix = format!("{schema}:");
            let redis = RedisStore::builder()
                .key_prefix(prefix)
                .timeout(Duration::from_secs(2))
                .connect(&redis_url)
                .await
                .unwrap_or_else(|e| {
                    panic!("the Redis at FULLAUTH_TEST_REDIS_URL does not answer: {e}")
                });
            let composed = ComposedStore::builder()
                .durable(pg.clone())
                .short_lived(redis)
                .build()
                .expect("a composed store");
            Some(Fixture {
                store: Arc::new(composed),
                schema: Some((pg, schema)),
            })
        }
    }
}

/// The flows' settings of the tests: the reference's defaults, with the
/// per-route rate limits off (tests that want them turn them on) and an MFA
/// issuer.
pub fn config() -> FlowConfig {
    let mut c = FlowConfig::new(SecretKey::new(SECRET).expect("a secret"));
    c.rate_limits = None;
    c.mfa_issuer = Some("HttpTest".into());
    c
}

/// What the email hooks received.
#[derive(Clone, Default)]
pub struct Mailbox {
    pub verification: Arc<Mutex<Vec<(String, String)>>>,
    pub reset: Arc<Mutex<Vec<(String, String)>>>,
}

#[fullauth_api::async_trait]
impl AuthHooks for Mailbox {
    async fn send_verification_email(&self, email: &str, token: &str) {
        if let Ok(mut v) = self.verification.lock() {
            v.push((email.to_string(), token.to_string()));
        }
    }
    async fn send_password_reset_email(&self, email: &str, token: &str) {
        if let Ok(mut v) = self.reset.lock() {
            v.push((email.to_string(), token.to_string()));
        }
    }
}

impl Mailbox {
    /// The last token sent to `email` by a hook, waiting briefly (hooks run
    /// after the response).
    pub async fn last(
        &self,
        which: &Arc<Mutex<Vec<(String, String)>>>,
        email: &str,
    ) -> Option<String> {
        for _ in 0..100 {
            let found = which.lock().ok().and_then(|v| {
                v.iter()
                    .rev()
                    .find(|(e, _)| e == email)
                    .map(|(_, t)| t.clone())
            });
            if found.is_some() {
                return found;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        None
    }
}

/// A running server.
pub struct Server {
    pub base: String,
    pub auth: FullAuth,
    pub mailbox: Mailbox,
    pub client: reqwest::Client,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

/// Starts the auth routes (plus `extra` app routes) on 127.0.0.1:0.
pub async fn serve_with(
    store: Arc<dyn Store>,
    config: FlowConfig,
    settings: AuthSettings,
    extra: impl FnOnce(&FullAuth) -> Router,
) -> Server {
    let mailbox = Mailbox::default();
    // A cheap hasher: the tests are about HTTP, not argon2's cost.
    let hasher = PasswordHasher::new(8, 1, 1).expect("argon2 parameters");
    let service = AuthService::new(store, config)
        .expect("the flows accept the store")
        .with_hasher(hasher);
    let auth = FullAuth::builder(service)
        .settings(settings)
        .hooks(mailbox.clone())
        .build()
        .expect("a FullAuth");
    let app = auth.router().merge(extra(&auth));
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind loopback");
    let addr = listener.local_addr().expect("local address");
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(async move {
        let _ = axum::serve(
            listener,
            app.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .with_graceful_shutdown(async move {
            let _ = rx.await;
        })
        .await;
    });
    let client = reqwest::Client::builder()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(30))
        .build()
        .expect("a client");
    Server {
        base: format!("http://{addr}/api/v1/auth"),
        auth,
        mailbox,
        client,
        shutdown: Some(tx),
    }
}

/// The auth routes alone, default settings.
pub async fn serve(store: Arc<dyn Store>) -> Server {
    serve_with(store, config(), AuthSettings::default(), |_| Router::new()).await
}

/// One answer.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
    pub text: String,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
    pub fn set_cookies(&self) -> Vec<String> {
        self.headers
            .get_all("set-cookie")
            .iter()
            .filter_map(|v| v.to_str().ok().map(str::to_string))
            .collect()
    }
    pub fn str(&self, key: &str) -> String {
        self.body[key].as_str().unwrap_or_default().to_string()
    }
    /// Asserts the generic 401.
    pub fn assert_401(&self) {
        assert_eq!(self.status, 401, "{self:?}");
        assert_eq!(
            self.body,
            json!({"detail": "Could not validate credentials"}),
            "{self:?}"
        );
        assert_eq!(self.header("www-authenticate"), Some("Bearer"), "{self:?}");
    }
}

impl Server {
    pub fn url(&self, path: &str) -> String {
        if path.starts_with("http") {
            path.to_string()
        } else if let Some(app) = path.strip_prefix('!') {
            // An app route outside the auth prefix.
            let root = self.base.trim_end_matches("/api/v1/auth");
            format!("{root}{app}")
        } else {
            format!("{}{path}", self.base)
        }
    }

    pub async fn send(&self, req: reqwest::RequestBuilder) -> Reply {
        let r = req.send().await.expect("the request is answered");
        let status = r.status().as_u16();
        let headers = r.headers().clone();
        let bytes = r.bytes().await.expect("a body");
        let text = String::from_utf8_lossy(&bytes).into_owned();
        let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        Reply {
            status,
            headers,
            body,
            text,
        }
    }

    pub fn post(&self, path: &str) -> reqwest::RequestBuilder {
        self.client.post(self.url(path))
    }

    pub async fn post_json(&self, path: &str, body: Value, bearer: Option<&str>) -> Reply {
        let mut req = self
            .post(path)
            .header("content-type", "application/json")
            .body(body.to_string());
        if let Some(t) = bearer {
            req = req.bearer_auth(t);
        }
        self.send(req).await
    }

    pub async fn get(&self, path: &str, bearer: Option<&str>) -> Reply {
        let mut req = self.client.get(self.url(path));
        if let Some(t) = bearer {
            req = req.bearer_auth(t);
        }
        self.send(req).await
    }

    pub async fn delete(&self, path: &str, bearer: Option<&str>) -> Reply {
        let mut req = self.client.delete(self.url(path));
        if let Some(t) = bearer {
            req = req.bearer_auth(t);
        }
        self.send(req).await
    }

    /// Registers `email` with [`PASSWORD`] (202).
    pub async fn register(&self, email: &str) {
        let r = self
            .post_json(
                "/register",
                json!({"email": email, "password": PASSWORD}),
                None,
            )
            .await;
        assert_eq!(r.status, 202, "{r:?}");
    }

    /// Registers `email` with [`PASSWORD`] where enumeration is allowed (201).
    pub async fn register_created(&self, email: &str) {
        let r = self
            .post_json(
                "/register",
                json!({"email": email, "password": PASSWORD}),
                None,
            )
            .await;
        assert_eq!(r.status, 201, "{r:?}");
    }

    /// Logs in and returns the LoginResponse (asserting 200).
    pub async fn login(&self, email: &str) -> Value {
        let r = self
            .post_json(
                "/login",
                json!({"email": email, "password": PASSWORD}),
                None,
            )
            .await;
        assert_eq!(r.status, 200, "{r:?}");
        r.body
    }
}

/// A unique email for one test.
pub fn email(tag: &str) -> String {
    format!(
        "{tag}-{}@example.com",
        &uuid::Uuid::new_v4().simple().to_string()[..12]
    )
}

/// Runs each listed async test function on the memory, SQLite and
/// PostgreSQL + Redis stores, as `<name>::{memory, sqlite, postgres_redis}`.
#[macro_export]
macro_rules! on_backends {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            use super::*;
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn memory() {
                if let Some(f) = common::store(common::Backend::Memory).await {
                    super::$name(f.store.clone()).await;
                    f.finish().await;
                }
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                if let Some(f) = common::store(common::Backend::Sqlite).await {
                    super::$name(f.store.clone()).await;
                    f.finish().await;
                }
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres_redis() {
                if let Some(f) = common::store(common::Backend::PostgresRedis).await {
                    super::$name(f.store.clone()).await;
                    f.finish().await;
                }
            }
        }
    )*};
}
