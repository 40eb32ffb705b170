//! Soak: mixed login-service traffic on one store, or on every store at once,
//! for N minutes, printing throughput, tail latency, process memory and open
//! connections every interval, and a verdict per backend at the end.
//!
//! ```text
//! cargo run --release -p fullauth-composition-tests --example soak -- \
//!     --minutes 10 --backend all
//! ```
//!
//! Options: `--minutes N` (or `FULLAUTH_SOAK_MINUTES`; default 10, fractions
//! allowed), `--interval-secs S` (default 60), `--backend
//! memory|sqlite|postgres|mysql|postgres+redis|all` (default `all`),
//! `--tasks T` (concurrent workers per backend, default 16),
//! `--users-per-task U` (default 250). Servers: `FULLAUTH_TEST_DATABASE_URL`
//! (default `postgres://root@127.0.0.1:5432/test`), `FULLAUTH_TEST_MYSQL_URL`
//! (default `mysql://root@127.0.0.1:3306/test`), `FULLAUTH_TEST_REDIS_URL`
//! (default `redis://127.0.0.1:6379`).
//!
//! `--backend all` runs every backend at the same time, each in a child
//! process of its own (this binary again with `--backend X`), so that RSS
//! and file descriptors are per backend; the parent forwards the children's
//! lines as they come. The machine's load average is printed at the start
//! and at the end: the backends and the servers share its cores.
//!
//! Each backend gets a fresh place, removed at the end: PostgreSQL a schema
//! `fullauth_test_<secs>_<random>` (the backends' tests drop such schemas
//! left behind after an hour), MariaDB a database of the same name, Redis a
//! key prefix (every key has a TTL; the rest are deleted by `SCAN`+`DEL`),
//! SQLite a temporary file, memory nothing. Everything runs on the system
//! clock.
//!
//! The traffic, per worker, models a login service (one "op" is one store
//! call, timed by itself): sign-up (`create_user` with a precomputed
//! password hash, `assign_role`, `store_refresh_token`); login (rate-limit
//! `hit` on the client IP, `is_locked`, `get_user_by_email`, `clear_lockout`,
//! `store_refresh_token` of a new family, `get_principal`); refresh
//! (`is_blacklisted`, `rotate_refresh_token`, now and then a replay of a
//! rotated token, which revokes the family); `list_sessions`; authorisation
//! (`get_principal` by id, `get_user_permissions`, `get_user_roles`); logout
//! (`revoke_refresh_token`, `blacklist`); challenges (`put_challenge` then
//! `take_challenge`, one in ten left to expire); blacklist checks
//! (`is_blacklisted`, `any_blacklisted`); failed logins (`hit`,
//! `get_user_by_email`, `record_failure`); `revoke_other_sessions`; role
//! changes (`assign_role`/`remove_role`). A purger calls
//! `prune_expired_refresh_tokens` and the backend's `purge_expired` (where it
//! has one) every 10 s. Refresh tokens live 2 minutes, blacklist entries 30 s,
//! challenges 60 s (5 s for the abandoned ones), lockouts 30 s. Each worker
//! keeps at most `--users-per-task` users and deletes its oldest one for
//! each new one past that, so the data set stops growing after the first
//! minutes; the `users` column shows it.
//!
//! Columns of an interval line:
//!
//! * `t`: seconds since the traffic started (the end of the interval);
//! * `ops/s`: store calls completed per second over the interval;
//! * `err`: calls that returned an error in the interval (the first few
//!   are printed to stderr);
//! * `p99`: the 99th percentile latency of one call in the interval, in
//!   milliseconds (upper bound of a log-linear bucket, within 12.5 %);
//! * `rss`: the process's resident set (`VmRSS` of `/proc/self/status`), MiB;
//! * `conns`: connections open at the server, seen from the server:
//!   PostgreSQL the `pg_stat_activity` rows with the store's
//!   `application_name`; MariaDB the `information_schema.PROCESSLIST` rows on
//!   the backend's database; Redis the `CLIENT LIST` entries whose address
//!   is a socket of this process (the monitoring connection excluded);
//!   SQLite the descriptors this process holds on the database's files
//!   (database, WAL, shared memory); memory `n/a`. The monitoring connection
//!   (one per server, used for these counts) is never included;
//! * `fds`: open file descriptors of the process (`/proc/self/fd`);
//! * `users`: users the workers hold at the end of the interval.
//!
//! The verdict: throughput of the last interval over the first; RSS growth
//! from the end of the second interval to the end of the last (the first
//! includes warm-up and the growth of the data set); the connection counts
//! seen: `STABLE` when every reading was the same, `GREW` when a reading
//! went above the largest of the first two intervals, `VARIED (no growth)`
//! otherwise; total errors. The process exits non-zero when a backend failed
//! to set up or any store call failed.

use std::collections::{HashSet, VecDeque};
use std::io::{BufRead as _, BufReader, Write as _};
use std::path::PathBuf;
use std::process::{Command, ExitCode, Stdio};
use std::str::FromStr as _;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use clap::Parser;
use fullauth_api::{
    ClientInfo, ComposedStore, Email, FamilyId, HashedPassword, LockoutPolicy, NewRefreshToken,
    NewUser, NextRefreshToken, PermissionName, RateLimitPolicy, RoleName, Rotation, StateKey,
    Store, StoreResult, Text, Timestamp, TokenDigest, UserId, UserLookup,
};
use fullauth_memory::MemoryStore;
use fullauth_mysql::MySqlStore;
use fullauth_mysql::sqlx::mysql::{MySqlConnectOptions, MySqlPool, MySqlPoolOptions};
use fullauth_postgres::PgStore;
use fullauth_postgres::sqlx::{self, PgPool, postgres::PgPoolOptions};
use fullauth_redis::redis::{self, aio::MultiplexedConnection};
use fullauth_redis::{FailurePolicies, FailurePolicy, RedisStore};
use fullauth_sqlite::SqliteStore;

const DEFAULT_PG: &str = "postgres://root@127.0.0.1:5432/test";
const DEFAULT_MYSQL: &str = "mysql://root@127.0.0.1:3306/test";
const DEFAULT_REDIS: &str = "redis://127.0.0.1:6379";

/// Pool size of the SQL stores (the stores' default).
const POOL_SIZE: u32 = 10;
/// A precomputed argon2id PHC string: no hashing in the loop.
const PASSWORD_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$c29ha3NhbHRzb2FrMTIz$\
     qHcHkS9l4Ryk+Jj1mT6Kc3wN0bJ2xQ1lH1nB7oB0n7s";
const REFRESH_TTL: Duration = Duration::from_secs(120);
const BLACKLIST_TTL: Duration = Duration::from_secs(30);
const PURGE_EVERY: Duration = Duration::from_secs(10);

#[derive(Parser, Debug, Clone)]
#[command(about = "Soak test: mixed login traffic on fullauth stores")]
struct Args {
    /// How long the traffic runs, in minutes.
    #[arg(long, env = "FULLAUTH_SOAK_MINUTES", default_value_t = 10.0)]
    minutes: f64,
    /// Seconds between two report lines.
    #[arg(long, default_value_t = 60)]
    interval_secs: u64,
    /// memory, sqlite, postgres, mysql, postgres+redis or all.
    #[arg(long, default_value = "all")]
    backend: String,
    /// Concurrent workers per backend.
    #[arg(long, default_value_t = 16)]
    tasks: usize,
    /// Users each worker keeps before deleting its oldest.
    #[arg(long, default_value_t = 250)]
    users_per_task: usize,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Backend {
    Memory,
    Sqlite,
    Postgres,
    Mysql,
    PostgresRedis,
}

impl Backend {
    const ALL: [Backend; 5] = [
        Backend::Memory,
        Backend::Sqlite,
        Backend::Postgres,
        Backend::Mysql,
        Backend::PostgresRedis,
    ];

    fn name(self) -> &'static str {
        match self {
            Backend::Memory => "memory",
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
            Backend::Mysql => "mysql",
            Backend::PostgresRedis => "postgres+redis",
        }
    }

    fn parse(s: &str) -> Option<Backend> {
        Backend::ALL.into_iter().find(|b| b.name() == s)
    }
}

fn env_url(var: &str, default: &str) -> String {
    std::env::var(var)
        .ok()
        .filter(|u| !u.trim().is_empty())
        .unwrap_or_else(|| default.to_string())
}

fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "?".into())
}

fn utc_now() -> String {
    Timestamp::now().to_naive_utc_string()
}

fn main() -> ExitCode {
    let args = Args::parse();
    if args.minutes <= 0.0 || args.interval_secs == 0 || args.tasks == 0 {
        eprintln!("--minutes, --interval-secs and --tasks must be positive");
        return ExitCode::FAILURE;
    }
    if args.backend == "all" {
        return run_all(&args);
    }
    let Some(backend) = Backend::parse(&args.backend) else {
        eprintln!(
            "unknown backend {:?}: memory, sqlite, postgres, mysql, postgres+redis or all",
            args.backend
        );
        return ExitCode::FAILURE;
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("cannot start a runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run_one(backend, &args)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("[{}] FAILED: {e}", backend.name());
            ExitCode::FAILURE
        }
    }
}

// ---- every backend: one child process each ---------------------------------

fn run_all(args: &Args) -> ExitCode {
    println!(
        "soak: all backends concurrently, one process each; {} min, interval {} s, {} tasks x {} users each; start {} UTC, load average {}",
        args.minutes,
        args.interval_secs,
        args.tasks,
        args.users_per_task,
        utc_now(),
        loadavg()
    );
    let exe = match std::env::current_exe() {
        Ok(p) => p,
        Err(e) => {
            eprintln!("cannot find this executable: {e}");
            return ExitCode::FAILURE;
        }
    };
    let stdout = Arc::new(Mutex::new(()));
    let mut children = Vec::new();
    for backend in Backend::ALL {
        let child = Command::new(&exe)
            .args(["--backend", backend.name()])
            .args(["--minutes", &args.minutes.to_string()])
            .args(["--interval-secs", &args.interval_secs.to_string()])
            .args(["--tasks", &args.tasks.to_string()])
            .args(["--users-per-task", &args.users_per_task.to_string()])
            .stdout(Stdio::piped())
            .spawn();
        let mut child = match child {
            Ok(c) => c,
            Err(e) => {
                eprintln!("cannot start the {} child: {e}", backend.name());
                return ExitCode::FAILURE;
            }
        };
        let out = child.stdout.take();
        let lock = stdout.clone();
        let forward = std::thread::spawn(move || {
            if let Some(out) = out {
                for line in BufReader::new(out).lines().map_while(Result::ok) {
                    let _guard = lock.lock().unwrap_or_else(|p| p.into_inner());
                    println!("{line}");
                    let _ = std::io::stdout().flush();
                }
            }
        });
        children.push((backend, child, forward));
    }
    let mut failed = Vec::new();
    for (backend, mut child, forward) in children {
        let ok = child.wait().is_ok_and(|s| s.success());
        let _ = forward.join();
        if !ok {
            failed.push(backend.name());
        }
    }
    println!("soak: end {} UTC, load average {}", utc_now(), loadavg());
    if failed.is_empty() {
        ExitCode::SUCCESS
    } else {
        println!("soak: FAILED backends: {}", failed.join(", "));
        ExitCode::FAILURE
    }
}

// ---- measurements --------------------------------------------------------

/// A log-linear latency histogram in microseconds: 8 buckets per power of
/// two, so a bucket's upper bound is within 12.5 % of any value in it.
struct Histogram {
    buckets: Vec<AtomicU64>,
}

impl Histogram {
    const SUB_BITS: u32 = 3;

    fn new() -> Self {
        Histogram {
            buckets: (0..64 << Self::SUB_BITS)
                .map(|_| AtomicU64::new(0))
                .collect(),
        }
    }

    fn index(us: u64) -> usize {
        let sub = 1u64 << Self::SUB_BITS;
        if us < sub {
            return us as usize;
        }
        let msb = 63 - us.leading_zeros();
        let shift = msb - Self::SUB_BITS;
        ((u64::from(shift + 1) << Self::SUB_BITS) + ((us >> shift) & (sub - 1))) as usize
    }

    fn upper(index: usize) -> u64 {
        let sub = 1usize << Self::SUB_BITS;
        if index < sub {
            return index as u64;
        }
        let group = (index >> Self::SUB_BITS) as u32;
        let shift = group - 1;
        let lower = ((sub + (index & (sub - 1))) as u64) << shift;
        lower + (1u64 << shift) - 1
    }

    fn record(&self, d: Duration) {
        let us = u64::try_from(d.as_micros()).unwrap_or(u64::MAX);
        self.buckets[Self::index(us)].fetch_add(1, Ordering::Relaxed);
    }

    /// The counts since the last call, resetting them.
    fn take(&self) -> Vec<u64> {
        self.buckets
            .iter()
            .map(|b| b.swap(0, Ordering::Relaxed))
            .collect()
    }

    fn quantile(counts: &[u64], q: f64) -> Option<u64> {
        let total: u64 = counts.iter().sum();
        if total == 0 {
            return None;
        }
        let rank = ((total as f64) * q).ceil().max(1.0) as u64;
        let mut seen = 0;
        for (i, c) in counts.iter().enumerate() {
            seen += c;
            if seen >= rank {
                return Some(Self::upper(i));
            }
        }
        None
    }
}

struct Metrics {
    ops: AtomicU64,
    errors: AtomicU64,
    errors_printed: AtomicU64,
    latency: Histogram,
}

impl Metrics {
    fn record<T>(&self, backend: Backend, took: Duration, r: &StoreResult<T>) {
        self.ops.fetch_add(1, Ordering::Relaxed);
        self.latency.record(took);
        if let Err(e) = r {
            self.errors.fetch_add(1, Ordering::Relaxed);
            if self.errors_printed.fetch_add(1, Ordering::Relaxed) < 20 {
                eprintln!("[{}] error: {e}", backend.name());
            }
        }
    }
}

fn rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn fd_targets() -> Vec<PathBuf> {
    std::fs::read_dir("/proc/self/fd")
        .map(|dir| {
            dir.filter_map(|e| e.ok())
                .filter_map(|e| std::fs::read_link(e.path()).ok())
                .collect()
        })
        .unwrap_or_default()
}

/// Local ports of this process's TCP sockets connected to `remote_port`.
fn own_local_ports(remote_port: u16) -> HashSet<u16> {
    let inodes: HashSet<String> = fd_targets()
        .iter()
        .filter_map(|t| {
            let t = t.to_string_lossy();
            t.strip_prefix("socket:[")
                .and_then(|s| s.strip_suffix(']'))
                .map(str::to_string)
        })
        .collect();
    let mut ports = HashSet::new();
    for table in ["/proc/self/net/tcp", "/proc/self/net/tcp6"] {
        let Ok(text) = std::fs::read_to_string(table) else {
            continue;
        };
        for line in text.lines().skip(1) {
            let f: Vec<&str> = line.split_whitespace().collect();
            if f.len() < 10 || !inodes.contains(f[9]) {
                continue;
            }
            let port = |addr: &str| {
                addr.rsplit(':')
                    .next()
                    .and_then(|p| u16::from_str_radix(p, 16).ok())
            };
            if port(f[2]) == Some(remote_port)
                && let Some(local) = port(f[1])
            {
                ports.insert(local);
            }
        }
    }
    ports
}

/// How the open connections of a backend are counted.
enum Probe {
    None,
    SqliteFiles(PathBuf),
    Postgres {
        monitor: PgPool,
        app: String,
    },
    Mysql {
        monitor: MySqlPool,
        database: String,
    },
    PostgresRedis {
        pg: Box<Probe>,
        redis: RedisProbe,
    },
}

struct RedisProbe {
    conn: MultiplexedConnection,
    own_id: i64,
    port: u16,
}

impl Probe {
    /// The count to print and its total, `None` when not applicable or
    /// when the query failed.
    async fn count(&mut self) -> (String, Option<i64>) {
        match self {
            Probe::None => ("n/a".into(), None),
            Probe::SqliteFiles(path) => {
                let prefix = path.to_string_lossy().to_string();
                let n = fd_targets()
                    .iter()
                    .filter(|t| t.to_string_lossy().starts_with(&prefix))
                    .count() as i64;
                (n.to_string(), Some(n))
            }
            Probe::Postgres { monitor, app } => {
                let n: Result<i64, _> = sqlx::query_scalar(
                    "SELECT count(*) FROM pg_stat_activity WHERE application_name = $1",
                )
                .bind(app.as_str())
                .fetch_one(&*monitor)
                .await;
                show(n.ok())
            }
            Probe::Mysql { monitor, database } => {
                let n: Result<i64, _> = sqlx::query_scalar(
                    "SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE DB = ?",
                )
                .bind(database.as_str())
                .fetch_one(&*monitor)
                .await;
                show(n.ok())
            }
            Probe::PostgresRedis { pg, redis } => {
                let (_, p) = Box::pin(pg.count()).await;
                let r = redis.count().await;
                let text = format!(
                    "{}+{}",
                    p.map_or("?".into(), |n| n.to_string()),
                    r.map_or("?".into(), |n| n.to_string())
                );
                (text, p.zip(r).map(|(a, b)| a + b))
            }
        }
    }
}

fn show(n: Option<i64>) -> (String, Option<i64>) {
    (n.map_or("?".into(), |n| n.to_string()), n)
}

impl RedisProbe {
    async fn connect(url: &str) -> Result<RedisProbe, String> {
        let client = redis::Client::open(url).map_err(|e| e.to_string())?;
        let mut conn = client
            .get_multiplexed_async_connection()
            .await
            .map_err(|e| format!("the Redis at {url} does not answer: {e}"))?;
        let own_id: i64 = redis::cmd("CLIENT")
            .arg("ID")
            .query_async(&mut conn)
            .await
            .map_err(|e| e.to_string())?;
        let port = url
            .rsplit(':')
            .next()
            .and_then(|p| p.trim_end_matches('/').split('/').next())
            .and_then(|p| p.parse().ok())
            .unwrap_or(6379);
        Ok(RedisProbe { conn, own_id, port })
    }

    async fn count(&mut self) -> Option<i64> {
        let list: String = redis::cmd("CLIENT")
            .arg("LIST")
            .query_async(&mut self.conn)
            .await
            .ok()?;
        let ours = own_local_ports(self.port);
        let n = list
            .lines()
            .filter(|line| {
                let field = |name: &str| {
                    line.split_whitespace()
                        .find_map(|kv| kv.strip_prefix(name))
                        .map(str::to_string)
                };
                let id = field("id=").and_then(|v| v.parse::<i64>().ok());
                let port = field("addr=")
                    .and_then(|a| a.rsplit(':').next().and_then(|p| p.parse::<u16>().ok()));
                id != Some(self.own_id) && port.is_some_and(|p| ours.contains(&p))
            })
            .count();
        i64::try_from(n).ok()
    }

    async fn delete_prefix(&mut self, prefix: &str) -> Result<u64, String> {
        let mut cursor: u64 = 0;
        let mut deleted = 0;
        loop {
            let (next, keys): (u64, Vec<String>) = redis::cmd("SCAN")
                .arg(cursor)
                .arg("MATCH")
                .arg(format!("{prefix}*"))
                .arg("COUNT")
                .arg(1000)
                .query_async(&mut self.conn)
                .await
                .map_err(|e| e.to_string())?;
            if !keys.is_empty() {
                let n: u64 = redis::cmd("DEL")
                    .arg(&keys)
                    .query_async(&mut self.conn)
                    .await
                    .map_err(|e| e.to_string())?;
                deleted += n;
            }
            if next == 0 {
                return Ok(deleted);
            }
            cursor = next;
        }
    }
}

// ---- setup and cleanup ---------------------------------------------------

fn fresh_name() -> String {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let rand = uuid::Uuid::new_v4().simple().to_string();
    format!("fullauth_test_{secs}_{}", &rand[..8])
}

/// The backend's purge, where it has one.
enum Purge {
    None,
    Postgres(PgStore),
    Mysql(MySqlStore),
    Sqlite(SqliteStore),
}

impl Purge {
    async fn run(&self) -> StoreResult<u64> {
        match self {
            Purge::None => Ok(0),
            Purge::Postgres(s) => s.purge_expired().await,
            Purge::Mysql(s) => s.purge_expired().await,
            Purge::Sqlite(s) => s.purge_expired().await,
        }
    }
}

/// What to remove at the end.
enum Cleanup {
    None,
    PgSchema {
        monitor: PgPool,
        schema: String,
    },
    MysqlDatabase {
        monitor: MySqlPool,
        database: String,
    },
    RedisPrefix {
        prefix: String,
    },
}

struct Setup {
    store: Arc<dyn Store>,
    purge: Purge,
    probe: Probe,
    cleanup: Vec<Cleanup>,
    /// Pools to close before the cleanup (dropping the store alone leaves
    /// them open until the last clone goes).
    pg_pool: Option<PgPool>,
    mysql_pool: Option<MySqlPool>,
    place: String,
}

async fn pg_monitor(url: &str) -> Result<PgPool, String> {
    PgPoolOptions::new()
        .max_connections(1)
        .connect(url)
        .await
        .map_err(|e| format!("cannot reach PostgreSQL at {url}: {e}"))
}

async fn pg_store(url: &str, tag: &str) -> Result<(PgStore, PgPool, String, String), String> {
    let schema = fresh_name();
    let app = format!("fullauth-soak-{tag}-{}", std::process::id());
    let store = PgStore::builder()
        .schema(schema.clone())
        .application_name(app.clone())
        .max_connections(POOL_SIZE)
        .migrate(true)
        .connect(url)
        .await
        .map_err(|e| format!("PostgreSQL store: {e}"))?;
    let monitor = pg_monitor(url).await?;
    Ok((store, monitor, schema, app))
}

async fn setup(backend: Backend) -> Result<Setup, String> {
    let pg_url = env_url("FULLAUTH_TEST_DATABASE_URL", DEFAULT_PG);
    let my_url = env_url("FULLAUTH_TEST_MYSQL_URL", DEFAULT_MYSQL);
    let redis_url = env_url("FULLAUTH_TEST_REDIS_URL", DEFAULT_REDIS);
    match backend {
        Backend::Memory => Ok(Setup {
            store: Arc::new(MemoryStore::new()),
            purge: Purge::None,
            probe: Probe::None,
            cleanup: vec![Cleanup::None],
            pg_pool: None,
            mysql_pool: None,
            place: "in memory".into(),
        }),
        Backend::Sqlite => {
            let store = SqliteStore::builder()
                .migrate(true)
                .open_temporary()
                .await
                .map_err(|e| format!("SQLite store: {e}"))?;
            let path = store.path().to_path_buf();
            Ok(Setup {
                store: Arc::new(store.clone()),
                purge: Purge::Sqlite(store),
                probe: Probe::SqliteFiles(path.clone()),
                cleanup: vec![Cleanup::None],
                pg_pool: None,
                mysql_pool: None,
                place: format!("file {}", path.display()),
            })
        }
        Backend::Postgres => {
            let (store, monitor, schema, app) = pg_store(&pg_url, "pg").await?;
            Ok(Setup {
                store: Arc::new(store.clone()),
                pg_pool: Some(store.pool().clone()),
                mysql_pool: None,
                purge: Purge::Postgres(store),
                probe: Probe::Postgres {
                    monitor: monitor.clone(),
                    app: app.clone(),
                },
                cleanup: vec![Cleanup::PgSchema {
                    monitor,
                    schema: schema.clone(),
                }],
                place: format!("schema {schema}, application_name {app}"),
            })
        }
        Backend::PostgresRedis => {
            let (pg, monitor, schema, app) = pg_store(&pg_url, "pgredis").await?;
            let prefix = format!("{schema}:");
            let redis = RedisStore::builder()
                .key_prefix(prefix.clone())
                .timeout(Duration::from_secs(2))
                .policies(FailurePolicies {
                    blacklist: FailurePolicy::Error,
                    lockout: FailurePolicy::Error,
                    rate_limit: FailurePolicy::Error,
                    challenges: FailurePolicy::Error,
                })
                .connect(&redis_url)
                .await
                .map_err(|e| format!("Redis store: {e}"))?;
            let store = ComposedStore::builder()
                .durable(pg.clone())
                .short_lived(redis)
                .build()
                .map_err(|e| format!("composition: {e}"))?;
            let redis_probe = RedisProbe::connect(&redis_url).await?;
            Ok(Setup {
                store: Arc::new(store),
                pg_pool: Some(pg.pool().clone()),
                mysql_pool: None,
                purge: Purge::Postgres(pg),
                probe: Probe::PostgresRedis {
                    pg: Box::new(Probe::Postgres {
                        monitor: monitor.clone(),
                        app: app.clone(),
                    }),
                    redis: redis_probe,
                },
                cleanup: vec![
                    Cleanup::PgSchema {
                        monitor,
                        schema: schema.clone(),
                    },
                    Cleanup::RedisPrefix {
                        prefix: prefix.clone(),
                    },
                ],
                place: format!("schema {schema}, application_name {app}, redis prefix {prefix}"),
            })
        }
        Backend::Mysql => {
            let monitor = MySqlPoolOptions::new()
                .max_connections(1)
                .connect(&my_url)
                .await
                .map_err(|e| format!("cannot reach MariaDB at {my_url}: {e}"))?;
            let database = fresh_name();
            sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
                "CREATE DATABASE `{database}` CHARACTER SET utf8mb4"
            )))
            .execute(&monitor)
            .await
            .map_err(|e| format!("create the database: {e}"))?;
            // The store's connections open on its database, so that
            // PROCESSLIST.DB tells them from everybody else's.
            let options = MySqlConnectOptions::from_str(&my_url)
                .map_err(|e| e.to_string())?
                .charset("utf8mb4")
                .statement_cache_capacity(256)
                .database(&database);
            let pool = MySqlPoolOptions::new()
                .max_connections(POOL_SIZE)
                .acquire_timeout(Duration::from_secs(5))
                .test_before_acquire(false)
                .connect_with(options)
                .await
                .map_err(|e| format!("MariaDB pool: {e}"))?;
            let store = MySqlStore::builder()
                .database(database.clone())
                .from_pool(pool.clone())
                .map_err(|e| format!("MariaDB store: {e}"))?;
            store
                .migrate()
                .await
                .map_err(|e| format!("MariaDB migration: {e}"))?;
            Ok(Setup {
                store: Arc::new(store.clone()),
                pg_pool: None,
                mysql_pool: Some(pool),
                purge: Purge::Mysql(store),
                probe: Probe::Mysql {
                    monitor: monitor.clone(),
                    database: database.clone(),
                },
                cleanup: vec![Cleanup::MysqlDatabase {
                    monitor,
                    database: database.clone(),
                }],
                place: format!("database {database}"),
            })
        }
    }
}

async fn cleanup(backend: Backend, items: Vec<Cleanup>) {
    let redis_url = env_url("FULLAUTH_TEST_REDIS_URL", DEFAULT_REDIS);
    for item in items {
        let outcome = match item {
            Cleanup::None => continue,
            Cleanup::PgSchema { monitor, schema } => {
                let r = sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
                    "DROP SCHEMA IF EXISTS \"{schema}\" CASCADE"
                )))
                .execute(&monitor)
                .await;
                monitor.close().await;
                r.map(|_| format!("dropped schema {schema}"))
                    .map_err(|e| format!("cannot drop schema {schema}: {e}"))
            }
            Cleanup::MysqlDatabase { monitor, database } => {
                let r = sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
                    "DROP DATABASE IF EXISTS `{database}`"
                )))
                .execute(&monitor)
                .await;
                monitor.close().await;
                r.map(|_| format!("dropped database {database}"))
                    .map_err(|e| format!("cannot drop database {database}: {e}"))
            }
            Cleanup::RedisPrefix { prefix } => match RedisProbe::connect(&redis_url).await {
                Ok(mut p) => p
                    .delete_prefix(&prefix)
                    .await
                    .map(|n| format!("deleted {n} redis keys under {prefix}")),
                Err(e) => Err(e),
            },
        };
        match outcome {
            Ok(msg) => println!("[{:<14}] cleanup: {msg}", backend.name()),
            Err(msg) => eprintln!("[{}] cleanup FAILED: {msg}", backend.name()),
        }
    }
}

// ---- the traffic -----------------------------------------------------------

struct Ctx {
    backend: Backend,
    store: Arc<dyn Store>,
    metrics: Metrics,
    stop: AtomicBool,
    users: AtomicU64,
    hash: HashedPassword,
    base_role: RoleName,
    extra_roles: Vec<RoleName>,
    users_per_task: usize,
    lockout: LockoutPolicy,
    rate: RateLimitPolicy,
}

impl Ctx {
    async fn call<T>(&self, f: impl Future<Output = StoreResult<T>>) -> Option<T> {
        let start = Instant::now();
        let r = f.await;
        self.metrics.record(self.backend, start.elapsed(), &r);
        r.ok()
    }
}

struct Account {
    id: UserId,
    email: Email,
    /// The live refresh token (digest) and its family.
    token: Option<(TokenDigest, FamilyId)>,
    /// A rotated token, to replay now and then.
    rotated: Option<TokenDigest>,
}

/// xorshift64*: enough randomness for picking operations.
struct Rng(u64);

impl Rng {
    fn new() -> Rng {
        let seed = uuid::Uuid::new_v4().as_u64_pair().0 | 1;
        Rng(seed)
    }

    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

fn secret_digest() -> TokenDigest {
    TokenDigest::of(&uuid::Uuid::new_v4().simple().to_string())
}

fn key(s: String) -> StateKey {
    StateKey::new(s).expect("every key made here is short and printable")
}

fn client(rng: &mut Rng) -> (ClientInfo, StateKey) {
    let ip = format!("10.0.{}.{}", rng.below(16), rng.below(16));
    (
        ClientInfo::new(Some("soak/1.0"), Some(&ip)),
        key(format!("ip:{ip}")),
    )
}

async fn worker(ctx: Arc<Ctx>, task: usize) {
    let mut rng = Rng::new();
    let mut accounts: VecDeque<Account> = VecDeque::new();
    let mut recent_jti: VecDeque<StateKey> = VecDeque::new();
    let mut serial: u64 = 0;
    let store = ctx.store.clone();
    let s = store.as_ref();
    while !ctx.stop.load(Ordering::Relaxed) {
        let roll = rng.below(100);
        if accounts.len() < 4 || roll < 8 {
            // Sign-up.
            serial += 1;
            let Ok(email) = Email::new(format!("soak-{task}-{serial}@example.com")) else {
                continue;
            };
            let new = NewUser::new(email.as_str()).map(|n| n.with_password_hash(ctx.hash.clone()));
            let Ok(new) = new else { continue };
            let Some(user) = ctx.call(s.create_user(new)).await else {
                continue;
            };
            ctx.call(s.assign_role(&user.id, &ctx.base_role)).await;
            let (info, _) = client(&mut rng);
            let family = FamilyId::generate();
            let token = ctx
                .call(s.store_refresh_token(NewRefreshToken {
                    digest: secret_digest(),
                    user_id: user.id.clone(),
                    family_id: family.clone(),
                    expires_at: Timestamp::now() + REFRESH_TTL,
                    client: info,
                }))
                .await;
            accounts.push_back(Account {
                id: user.id,
                email,
                token: token.map(|t| (t.digest, family)),
                rotated: None,
            });
            ctx.users.fetch_add(1, Ordering::Relaxed);
            if accounts.len() > ctx.users_per_task
                && let Some(old) = accounts.pop_front()
            {
                ctx.call(s.delete_user(&old.id)).await;
                ctx.users.fetch_sub(1, Ordering::Relaxed);
            }
            continue;
        }
        let i = rng.below(accounts.len());
        let acct = &mut accounts[i];
        let lock_key = key(format!("login:{}", acct.email.as_str()));
        match roll {
            // Login.
            8..33 => {
                let (info, ip) = client(&mut rng);
                let Some(decision) = ctx.call(s.hit(&ip, ctx.rate)).await else {
                    continue;
                };
                if !decision.allowed {
                    continue;
                }
                if ctx.call(s.is_locked(&lock_key)).await != Some(false) {
                    continue;
                }
                let Some(Some(user)) = ctx.call(s.get_user_by_email(&acct.email)).await else {
                    continue;
                };
                ctx.call(s.clear_lockout(&lock_key)).await;
                let family = FamilyId::generate();
                let digest = secret_digest();
                if ctx
                    .call(s.store_refresh_token(NewRefreshToken {
                        digest: digest.clone(),
                        user_id: user.id,
                        family_id: family.clone(),
                        expires_at: Timestamp::now() + REFRESH_TTL,
                        client: info,
                    }))
                    .await
                    .is_some()
                {
                    acct.token = Some((digest, family));
                }
                ctx.call(s.get_principal(&UserLookup::Email(acct.email.clone())))
                    .await;
            }
            // Refresh.
            33..55 => {
                let replay = rng.below(50) == 0;
                let old = match (&acct.token, &acct.rotated) {
                    (_, Some(r)) if replay => r.clone(),
                    (Some((d, _)), _) => d.clone(),
                    _ => continue,
                };
                if let Some((_, family)) = &acct.token {
                    ctx.call(s.is_blacklisted(&key(format!("family:{family}"))))
                        .await;
                }
                let (info, _) = client(&mut rng);
                let next = secret_digest();
                let rotation = ctx
                    .call(s.rotate_refresh_token(
                        &old,
                        NextRefreshToken {
                            digest: next.clone(),
                            expires_at: Timestamp::now() + REFRESH_TTL,
                            client: info,
                        },
                    ))
                    .await;
                match rotation {
                    Some(Rotation::Rotated(t)) => {
                        acct.rotated = Some(old);
                        acct.token = Some((t.digest, t.family_id));
                    }
                    Some(_) => {
                        acct.token = None;
                        acct.rotated = None;
                    }
                    None => {}
                }
            }
            // Sessions page.
            55..63 => {
                ctx.call(s.list_sessions(&acct.id)).await;
            }
            // Authorisation.
            63..73 => match roll % 3 {
                0 => {
                    ctx.call(s.get_principal(&UserLookup::Id(acct.id.clone())))
                        .await;
                }
                1 => {
                    ctx.call(s.get_user_permissions(&acct.id)).await;
                }
                _ => {
                    ctx.call(s.get_user_roles(&acct.id)).await;
                }
            },
            // Logout.
            73..78 => {
                if let Some((digest, _)) = acct.token.take() {
                    ctx.call(s.revoke_refresh_token(&digest)).await;
                }
                let jti = key(format!("jti:{}", uuid::Uuid::new_v4().simple()));
                ctx.call(s.blacklist(&jti, BLACKLIST_TTL)).await;
                recent_jti.push_back(jti);
                if recent_jti.len() > 8 {
                    recent_jti.pop_front();
                }
            }
            // A challenge (passkey or email code).
            78..84 => {
                let k = key(format!("challenge:{}", uuid::Uuid::new_v4().simple()));
                let Ok(value) = Text::new(uuid::Uuid::new_v4().simple().to_string()) else {
                    continue;
                };
                if rng.below(10) == 0 {
                    ctx.call(s.put_challenge(&k, &value, Duration::from_secs(5)))
                        .await;
                } else {
                    ctx.call(s.put_challenge(&k, &value, Duration::from_secs(60)))
                        .await;
                    ctx.call(s.take_challenge(&k)).await;
                }
            }
            // Access-token checks.
            84..90 => {
                if roll % 2 == 0 {
                    let k = recent_jti
                        .get(rng.below(recent_jti.len().max(1)))
                        .cloned()
                        .unwrap_or_else(|| key(format!("jti:{}", uuid::Uuid::new_v4())));
                    ctx.call(s.is_blacklisted(&k)).await;
                } else {
                    let mut keys: Vec<StateKey> = recent_jti.iter().take(2).cloned().collect();
                    keys.push(key(format!("jti:{}", uuid::Uuid::new_v4().simple())));
                    ctx.call(s.any_blacklisted(&keys)).await;
                }
            }
            // Failed login.
            90..94 => {
                let (_, ip) = client(&mut rng);
                if ctx
                    .call(s.hit(&ip, ctx.rate))
                    .await
                    .is_some_and(|d| d.allowed)
                {
                    ctx.call(s.get_user_by_email(&acct.email)).await;
                    ctx.call(s.record_failure(&lock_key, ctx.lockout)).await;
                }
            }
            // "Sign out everywhere else".
            94..97 => {
                if let Some((_, family)) = &acct.token {
                    ctx.call(s.revoke_other_sessions(&acct.id, family)).await;
                }
            }
            // Role changes.
            _ => {
                let role = &ctx.extra_roles[rng.below(ctx.extra_roles.len())];
                if rng.below(2) == 0 {
                    ctx.call(s.assign_role(&acct.id, role)).await;
                } else {
                    ctx.call(s.remove_role(&acct.id, role)).await;
                }
            }
        }
    }
    // Leave nothing behind that the cleanup must find.
    for acct in accounts {
        let _ = s.delete_user(&acct.id).await;
    }
}

async fn purger(ctx: Arc<Ctx>, purge: Purge) {
    let mut next = Instant::now() + PURGE_EVERY;
    while !ctx.stop.load(Ordering::Relaxed) {
        if Instant::now() < next {
            tokio::time::sleep(Duration::from_millis(200)).await;
            continue;
        }
        next += PURGE_EVERY;
        ctx.call(ctx.store.prune_expired_refresh_tokens(Timestamp::now()))
            .await;
        if !matches!(purge, Purge::None) {
            ctx.call(purge.run()).await;
        }
    }
}

async fn seed_roles(store: &dyn Store) -> StoreResult<(RoleName, Vec<RoleName>)> {
    let base = RoleName::new("user")?;
    let extra = vec![
        RoleName::new("admin")?,
        RoleName::new("support")?,
        RoleName::new("billing")?,
    ];
    for role in std::iter::once(&base).chain(&extra) {
        store.create_role(role).await?;
        for action in ["read", "write"] {
            let perm = PermissionName::new(format!("{}:{action}", role.as_str()))?;
            store.assign_permission(role, &perm).await?;
        }
    }
    Ok((base, extra))
}

struct Sample {
    elapsed: f64,
    ops_per_sec: f64,
    rss_kib: Option<u64>,
    conns: Option<i64>,
}

fn mib(kib: Option<u64>) -> String {
    kib.map_or("?".into(), |k| format!("{:.1}", k as f64 / 1024.0))
}

async fn run_one(backend: Backend, args: &Args) -> Result<(), String> {
    let name = backend.name();
    let setup_start = Instant::now();
    let Setup {
        store,
        purge,
        mut probe,
        cleanup: cleanup_items,
        pg_pool,
        mysql_pool,
        place,
    } = setup(backend).await?;
    let (base_role, extra_roles) = seed_roles(store.as_ref())
        .await
        .map_err(|e| format!("seeding the roles: {e}"))?;
    let hash = HashedPassword::new(PASSWORD_HASH).map_err(|e| e.to_string())?;
    let ctx = Arc::new(Ctx {
        backend,
        store,
        metrics: Metrics {
            ops: AtomicU64::new(0),
            errors: AtomicU64::new(0),
            errors_printed: AtomicU64::new(0),
            latency: Histogram::new(),
        },
        stop: AtomicBool::new(false),
        users: AtomicU64::new(0),
        hash,
        base_role,
        extra_roles,
        users_per_task: args.users_per_task,
        lockout: LockoutPolicy {
            max_attempts: 5,
            duration: Duration::from_secs(30),
        },
        rate: RateLimitPolicy {
            limit: 100,
            window: Duration::from_secs(1),
        },
    });
    println!(
        "[{name:<14}] start {} UTC: {} tasks, at most {} users, {place}; setup {:.1} s; pid {}; load average {}",
        utc_now(),
        args.tasks,
        args.tasks * args.users_per_task,
        setup_start.elapsed().as_secs_f64(),
        std::process::id(),
        loadavg()
    );
    println!(
        "[{name:<14}] {:>6} {:>9} {:>5} {:>8} {:>8} {:>6} {:>4} {:>6}",
        "t(s)", "ops/s", "err", "p99(ms)", "rss(MiB)", "conns", "fds", "users"
    );
    let total = Duration::from_secs_f64(args.minutes * 60.0);
    let interval = Duration::from_secs(args.interval_secs);
    let started = Instant::now();
    let mut handles = Vec::new();
    for task in 0..args.tasks {
        handles.push(tokio::spawn(worker(ctx.clone(), task)));
    }
    let purge_handle = tokio::spawn(purger(ctx.clone(), purge));

    let mut samples: Vec<Sample> = Vec::new();
    let mut conn_readings: Vec<i64> = Vec::new();
    let mut last = started;
    let mut errors_total = 0;
    while last < started + total {
        let end = (last + interval).min(started + total);
        tokio::time::sleep_until(end.into()).await;
        let now = Instant::now();
        let ops = ctx.metrics.ops.swap(0, Ordering::Relaxed);
        let errors = ctx.metrics.errors.swap(0, Ordering::Relaxed);
        errors_total += errors;
        let counts = ctx.metrics.latency.take();
        let secs = now.duration_since(last).as_secs_f64();
        last = now;
        let p99 = Histogram::quantile(&counts, 0.99)
            .map_or("-".into(), |us| format!("{:.2}", us as f64 / 1000.0));
        let rss = rss_kib();
        let (conns_text, conns) = probe.count().await;
        if let Some(c) = conns {
            conn_readings.push(c);
        }
        let fds = fd_targets().len();
        let sample = Sample {
            elapsed: now.duration_since(started).as_secs_f64(),
            ops_per_sec: ops as f64 / secs,
            rss_kib: rss,
            conns,
        };
        println!(
            "[{name:<14}] {:>6.0} {:>9.1} {:>5} {:>8} {:>8} {:>6} {:>4} {:>6}",
            sample.elapsed,
            sample.ops_per_sec,
            errors,
            p99,
            mib(rss),
            conns_text,
            fds,
            ctx.users.load(Ordering::Relaxed)
        );
        samples.push(sample);
    }
    ctx.stop.store(true, Ordering::Relaxed);
    for h in handles {
        let _ = h.await;
    }
    let _ = purge_handle.await;
    errors_total += ctx.metrics.errors.swap(0, Ordering::Relaxed);

    // The verdict.
    let first = samples.first();
    let last_sample = samples.last();
    let throughput = match (first, last_sample) {
        (Some(f), Some(l)) if f.ops_per_sec > 0.0 => format!(
            "throughput last/first {:.2} ({:.1} -> {:.1} ops/s)",
            l.ops_per_sec / f.ops_per_sec,
            f.ops_per_sec,
            l.ops_per_sec
        ),
        _ => "throughput: no data".into(),
    };
    let rss = match (samples.get(1).and_then(|s| s.rss_kib), last_sample) {
        (Some(second), Some(l)) if samples.len() >= 3 => match l.rss_kib {
            Some(lk) => format!(
                "RSS 2nd->last {:+.1} MiB ({:.1} -> {:.1})",
                (lk as f64 - second as f64) / 1024.0,
                second as f64 / 1024.0,
                lk as f64 / 1024.0
            ),
            None => "RSS: unreadable".into(),
        },
        _ => "RSS: too few intervals (need 3)".into(),
    };
    let conns = if conn_readings.is_empty() {
        "conns n/a".to_string()
    } else {
        let head_max = conn_readings.iter().take(2).max().copied().unwrap_or(0);
        let min = conn_readings.iter().min().copied().unwrap_or(0);
        let max = conn_readings.iter().max().copied().unwrap_or(0);
        let last_c = conn_readings.last().copied().unwrap_or(0);
        let missing = samples.iter().filter(|s| s.conns.is_none()).count();
        let verdict = if min == max {
            "STABLE"
        } else if max > head_max || last_c > head_max {
            "GREW"
        } else {
            "VARIED (no growth)"
        };
        format!(
            "conns {verdict} (min {min}, max {max}, last {last_c}{})",
            if missing > 0 {
                format!(", {missing} unreadable")
            } else {
                String::new()
            }
        )
    };
    println!("[{name:<14}] VERDICT: {throughput}; {rss}; {conns}; errors {errors_total}");

    // Close the store's connections, then remove its place.
    drop(ctx);
    if let Some(p) = pg_pool {
        p.close().await;
    }
    if let Some(p) = mysql_pool {
        p.close().await;
    }
    cleanup(backend, cleanup_items).await;
    drop(probe);
    let _ = std::io::stdout().flush();
    if errors_total > 0 {
        return Err(format!("{errors_total} store calls failed"));
    }
    Ok(())
}
