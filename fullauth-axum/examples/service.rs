//! An example service: the auth routes plus a few app routes guarded by the
//! extractors.
//!
//! ```sh
//! cargo run -p fullauth-axum --example service
//! ```
//!
//! By default it keeps everything in one SQLite file (`fullauth.db` in the
//! working directory, or `FULLAUTH_DATABASE_URL=sqlite://PATH`), migrated at
//! start, and needs no server. With `FULLAUTH_DATABASE_URL=postgres://…` and
//! `FULLAUTH_REDIS_URL=redis://…` it composes PostgreSQL (the durable
//! tables) and Redis (blacklist, lockout, rate limits, challenges) into one
//! store, as a production deployment would.
//!
//! Other settings, all optional:
//!
//! * `FULLAUTH_DATABASE_SCHEMA`: the PostgreSQL schema (default `public`);
//! * `FULLAUTH_ADDR`: the address to listen on (default `127.0.0.1:8000`;
//!   port 0 picks a free one);
//! * `FULLAUTH_SECRET_KEY`: the signing key, at least 32 characters (default:
//!   a random key per start, with a warning: tokens die on restart);
//! * `FULLAUTH_TRANSPORT=cookie`: tokens in cookies instead of the
//!   `Authorization` header (add `FULLAUTH_COOKIE_SECURE=false` for plain
//!   HTTP in development);
//! * `FULLAUTH_AUTH_RATE_LIMIT_ENABLED=false`: no per-route rate limits
//!   (for the load client);
//! * `FULLAUTH_MFA_ISSUER`: the issuer of two-factor QR codes (default
//!   `fullauth-example`);
//! * `FULLAUTH_TRUSTED_PROXY_HEADERS`: comma-separated headers that carry the
//!   client address behind a proxy.
//!
//! It prints its address, serves until Ctrl-C, then stops gracefully.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::routing::get;
use fullauth_api::{ComposedStore, Store};
use fullauth_axum::{
    AuthHooks, AuthSettings, CookieTransport, CurrentUser, FullAuth, RequirePermission,
    RequireRole, Transport,
};
use fullauth_flows::{AuthService, FlowConfig, SecretKey};
use fullauth_postgres::PgStore;
use fullauth_redis::RedisStore;
use fullauth_sqlite::SqliteStore;

fullauth_axum::role!(Admin = "admin");
fullauth_axum::permission!(PostsWrite = "posts:write");

/// Where the example's emails go: the log (a real app sends them).
struct LogMail;

#[fullauth_api::async_trait]
impl AuthHooks for LogMail {
    async fn send_verification_email(&self, email: &str, token: &str) {
        println!(
            "mail to {email}: verify with POST /api/v1/auth/verify-email/confirm {{\"token\": \"{token}\"}}"
        );
    }
    async fn send_password_reset_email(&self, email: &str, token: &str) {
        println!(
            "mail to {email}: reset with POST /api/v1/auth/password-reset/confirm {{\"token\": \"{token}\", \"new_password\": ...}}"
        );
    }
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

fn env_flag(name: &str, default: bool) -> bool {
    match env(name).map(|v| v.to_ascii_lowercase()) {
        Some(v) if ["0", "false", "no", "off"].contains(&v.as_str()) => false,
        Some(v) if ["1", "true", "yes", "on"].contains(&v.as_str()) => true,
        _ => default,
    }
}

/// The store the environment asks for, migrated, and a line saying which.
async fn open_store() -> Result<(Arc<dyn Store>, String), String> {
    let database = env("FULLAUTH_DATABASE_URL");
    let redis = env("FULLAUTH_REDIS_URL");
    match database {
        Some(url) if url.starts_with("postgres://") || url.starts_with("postgresql://") => {
            let redis = redis.ok_or(
                "FULLAUTH_DATABASE_URL names PostgreSQL: set FULLAUTH_REDIS_URL too \
                 (the short-lived state lives on Redis)",
            )?;
            let schema = env("FULLAUTH_DATABASE_SCHEMA").unwrap_or_else(|| "public".into());
            let pg = PgStore::builder()
                .schema(schema)
                .max_connections(16)
                .connect(&url)
                .await
                .map_err(|e| format!("PostgreSQL: {e}"))?;
            let applied = pg.migrate().await.map_err(|e| format!("migrate: {e}"))?;
            let cache = RedisStore::builder()
                .timeout(Duration::from_secs(2))
                .connect(&redis)
                .await
                .map_err(|e| format!("Redis: {e}"))?;
            let store = ComposedStore::builder()
                .durable(pg)
                .short_lived(cache)
                .build()
                .map_err(|e| e.to_string())?;
            let what = format!(
                "PostgreSQL + Redis ({} migration(s) applied)",
                applied.len()
            );
            Ok((Arc::new(store), what))
        }
        other => {
            let url = other.unwrap_or_else(|| "sqlite://fullauth.db".into());
            let store = SqliteStore::builder()
                .connect(&url)
                .await
                .map_err(|e| format!("SQLite {url}: {e}"))?;
            let applied = store.migrate().await.map_err(|e| format!("migrate: {e}"))?;
            let what = format!(
                "SQLite {} ({} migration(s) applied)",
                store.path().display(),
                applied.len()
            );
            Ok((Arc::new(store), what))
        }
    }
}

async fn run() -> Result<(), String> {
    let (store, what) = open_store().await?;

    let secret = match env("FULLAUTH_SECRET_KEY") {
        Some(s) => SecretKey::new(s).map_err(|e| e.to_string())?,
        None => {
            eprintln!(
                "warning: FULLAUTH_SECRET_KEY is not set; using a random key (tokens die on restart)"
            );
            SecretKey::generate().map_err(|e| e.to_string())?
        }
    };
    let mut config = FlowConfig::new(secret);
    config.mfa_issuer =
        Some(env("FULLAUTH_MFA_ISSUER").unwrap_or_else(|| "fullauth-example".into()));
    if !env_flag("FULLAUTH_AUTH_RATE_LIMIT_ENABLED", true) {
        config.rate_limits = None;
    }

    let mut settings = AuthSettings::default();
    if env("FULLAUTH_TRANSPORT").is_some_and(|t| t.eq_ignore_ascii_case("cookie")) {
        let cookies = CookieTransport::new().secure(env_flag("FULLAUTH_COOKIE_SECURE", true));
        settings = settings.transports(vec![Transport::Cookie(cookies)]);
    }
    if let Some(headers) = env("FULLAUTH_TRUSTED_PROXY_HEADERS") {
        settings = settings.trusted_proxy_headers(headers.split(',').map(str::trim));
    }

    let service = AuthService::new(store, config).map_err(|e| e.to_string())?;
    let auth = FullAuth::builder(service)
        .settings(settings)
        .hooks(LogMail)
        .build()
        .map_err(|e| e.to_string())?;

    // The app's own routes, guarded by the extractors.
    let app = Router::new()
        .route(
            "/api/v1/hello",
            get(|user: CurrentUser| async move { format!("hello {}\n", user.email.as_str()) }),
        )
        .route(
            "/api/v1/admin",
            get(|_: RequireRole<Admin>| async { "admins only\n" }),
        )
        .route(
            "/api/v1/posts",
            get(|_: RequirePermission<PostsWrite>| async { "writers only\n" }),
        )
        .with_state(auth.clone())
        .merge(auth.router());

    let addr = env("FULLAUTH_ADDR").unwrap_or_else(|| "127.0.0.1:8000".into());
    let listener = tokio::net::TcpListener::bind(&addr)
        .await
        .map_err(|e| format!("cannot listen on {addr}: {e}"))?;
    let local = listener.local_addr().map_err(|e| e.to_string())?;
    println!("store: {what}");
    println!("listening on http://{local}/api/v1/auth (Ctrl-C stops)");

    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(async {
        let _ = tokio::signal::ctrl_c().await;
        println!("stopping");
    })
    .await
    .map_err(|e| e.to_string())?;
    Ok(())
}

#[tokio::main]
async fn main() {
    if let Err(e) = run().await {
        eprintln!("service: {e}");
        std::process::exit(1);
    }
}
