//! A throughput measurement of the MariaDB store against the same statements
//! written straight on sqlx: operations per second and p50/p99 latency for
//! create user, rotate refresh token, permission lookup and get user by id,
//! at concurrency 1 and 16, in a fresh database of its own
//! (`fullauth_bench_<secs>_<rand>`, created with `CREATE DATABASE` on the
//! server of `FULLAUTH_BENCH_MYSQL_URL` and dropped at the end).
//!
//! Each operation runs through the store and then as a raw-sqlx baseline:
//! the SQL text the store runs (the same statements, bound the same way, the
//! same transaction around a rotation), on a second `MySqlPool` of the same
//! size and settings (utf8mb4, no ping before acquire, a 256-statement
//! cache), with no store layer in between. Users are created with a password
//! hash computed once before the measurement (no hashing in the loop). Store
//! and raw runs alternate in paired rounds (each round's order swapped), so
//! that other load on the machine hits both alike. Printed per operation and
//! concurrency: the median rate of each side, `ratio` (the median of the
//! per-round store / raw ratios), the p50 and p99 latency of each side over
//! all its rounds, and the client process's CPU microseconds per operation of
//! each side (Linux only), which shows the cost of the store layer itself
//! independently of the database's speed.
//!
//! ```text
//! FULLAUTH_BENCH_MYSQL_URL=mysql://root@127.0.0.1:3306/test \
//!     cargo run --release -p fullauth-mysql --example mysql_throughput
//! ```
//!
//! The URL defaults to `mysql://root@127.0.0.1:3306/test` (its database is
//! only used to connect; the user needs `CREATE` and `DROP` on databases).
//! `FULLAUTH_MEASURE_MS` sets the length of one round in milliseconds
//! (default 500) and `FULLAUTH_MEASURE_ROUNDS` the number of rounds per side
//! (default 5): about 2.5 s per side and measurement. A first command-line
//! argument, when given, replaces `FULLAUTH_MEASURE_MS`
//! (`cargo run … --example mysql_throughput -- 2000`).

use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use fullauth_api::{
    FamilyId, HashedPassword, NewRefreshToken, NewUser, NextRefreshToken, PasswordHasher,
    PermissionName, PermissionStore, RefreshTokenStore, RoleName, RoleStore, Rotation, StoreError,
    TokenDigest, UserId, UserStore,
};
use fullauth_mysql::MySqlStore;
use fullauth_mysql::sqlx::mysql::{MySqlConnectOptions, MySqlPool, MySqlPoolOptions};
use fullauth_mysql::sqlx::{self, AssertSqlSafe, Row};
use time::OffsetDateTime;
use uuid::fmt::Hyphenated;

const DEFAULT_URL: &str = "mysql://root@127.0.0.1:3306/test";
const POOL_SIZE: u32 = 16;

/// The store's user insert (no application columns in this schema).
const CREATE_USER: &str = "INSERT INTO {s}.fullauth_users (id, email, hashed_password, \
     is_active, is_verified, is_superuser, created_at) VALUES (?, ?, ?, ?, ?, ?, ?) \
     RETURNING id, email, is_active, is_verified, is_superuser, created_at";

/// The store's read of one user by id (no application columns).
const GET_USER: &str = "SELECT u.id, u.email, u.is_active, u.is_verified, u.is_superuser, \
     u.created_at FROM {s}.fullauth_users u WHERE u.id = ? ORDER BY u.created_at, u.id LIMIT 1";

/// The store's own statements, so the baseline runs exactly the same SQL.
use fullauth_mysql::hot_sql::{ROTATE, ROTATE_SUCCESSOR, USER_PERMISSIONS};

fn raw_err(e: sqlx::Error) -> StoreError {
    StoreError::backend("raw sqlx", e)
}

/// Settings of one measurement.
#[derive(Clone, Copy)]
struct Plan {
    round: Duration,
    rounds: usize,
}

/// The process's CPU time so far (user + system), where the platform tells
/// it (`/proc/self/stat` on Linux), in seconds.
fn cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the command name (which is in parentheses): utime is the
    // 12th and stime the 13th, in clock ticks (100 per second on Linux).
    let rest = stat.rsplit_once(')')?.1;
    let mut fields = rest.split_whitespace().skip(11);
    let utime: f64 = fields.next()?.parse().ok()?;
    let stime: f64 = fields.next()?.parse().ok()?;
    Some((utime + stime) / 100.0)
}

/// One timed run: operations per second, operations done, the latency of
/// each operation (µs) and the client CPU seconds spent (when known).
struct Sample {
    rate: f64,
    ops: usize,
    latencies: Vec<u32>,
    cpu: Option<f64>,
}

/// Runs `op` from `concurrency` tasks for `run_for`. Each task numbers its
/// calls `worker * 1_000_000 + i`.
async fn sample<F, Fut>(
    concurrency: usize,
    run_for: Duration,
    op: Arc<F>,
) -> Result<Sample, StoreError>
where
    F: Fn(usize) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = Result<(), StoreError>> + Send,
{
    let done = Arc::new(AtomicUsize::new(0));
    let cpu_before = cpu_seconds();
    let start = Instant::now();
    let mut tasks = Vec::new();
    for worker in 0..concurrency {
        let op = op.clone();
        let done = done.clone();
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            let mut i = 0;
            while start.elapsed() < run_for {
                let began = Instant::now();
                op(worker * 1_000_000 + i).await?;
                let micros = began.elapsed().as_micros();
                latencies.push(u32::try_from(micros).unwrap_or(u32::MAX));
                done.fetch_add(1, Ordering::Relaxed);
                i += 1;
            }
            Ok::<_, StoreError>(latencies)
        }));
    }
    let mut latencies = Vec::new();
    for t in tasks {
        latencies.extend(
            t.await
                .map_err(|e| StoreError::backend("a worker failed", e))??,
        );
    }
    let ops = done.load(Ordering::Relaxed);
    let secs = start.elapsed().as_secs_f64();
    let cpu = cpu_seconds()
        .zip(cpu_before)
        .map(|(after, before)| after - before);
    Ok(Sample {
        rate: ops as f64 / secs,
        ops,
        latencies,
        cpu,
    })
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v.get(v.len() / 2).copied().unwrap_or(0.0)
}

/// The `p`-th percentile (0 < p ≤ 1) of the latencies of all samples, in
/// milliseconds, as text.
fn percentile_ms(samples: &[Sample], p: f64) -> String {
    let mut all: Vec<u32> = samples
        .iter()
        .flat_map(|s| s.latencies.iter().copied())
        .collect();
    if all.is_empty() {
        return "-".into();
    }
    all.sort_unstable();
    let rank = ((p * all.len() as f64).ceil() as usize).clamp(1, all.len());
    format!("{:.3}", f64::from(all[rank - 1]) / 1000.0)
}

/// Client CPU microseconds per operation over all samples, as text.
fn cpu_per_op(samples: &[Sample]) -> String {
    let ops: usize = samples.iter().map(|s| s.ops).sum();
    let cpu: Option<f64> = samples.iter().map(|s| s.cpu).sum();
    match cpu {
        Some(cpu) if ops > 0 => format!("{:.0}", cpu * 1e6 / ops as f64),
        _ => "-".into(),
    }
}

/// Measures the store's and the raw version of an operation in paired
/// rounds, alternating which side goes first, so that load from elsewhere on
/// the machine hits both alike. Prints the median rate of each side, the
/// median of the per-round ratios (store / raw), the p50 and p99 latencies
/// of each side, and the client CPU time per operation of each side.
async fn compare<S, SF, R, RF>(
    label: &str,
    concurrency: usize,
    plan: Plan,
    store_op: S,
    raw_op: R,
) -> Result<(), StoreError>
where
    S: Fn(usize) -> SF + Send + Sync + 'static,
    SF: std::future::Future<Output = Result<(), StoreError>> + Send,
    R: Fn(usize) -> RF + Send + Sync + 'static,
    RF: std::future::Future<Output = Result<(), StoreError>> + Send,
{
    let (store_op, raw_op) = (Arc::new(store_op), Arc::new(raw_op));
    // Warm up: every pooled connection prepares the statements.
    let warm = Duration::from_millis(300);
    sample(concurrency, warm, store_op.clone()).await?;
    sample(concurrency, warm, raw_op.clone()).await?;
    let (mut store, mut raw) = (Vec::new(), Vec::new());
    for round in 0..plan.rounds {
        if round % 2 == 0 {
            store.push(sample(concurrency, plan.round, store_op.clone()).await?);
            raw.push(sample(concurrency, plan.round, raw_op.clone()).await?);
        } else {
            raw.push(sample(concurrency, plan.round, raw_op.clone()).await?);
            store.push(sample(concurrency, plan.round, store_op.clone()).await?);
        }
    }
    let ratio = median(
        store
            .iter()
            .zip(&raw)
            .map(|(s, r)| s.rate / r.rate)
            .collect(),
    );
    println!(
        "{label:<16} {concurrency:>4} {:>11.0} {:>11.0} {ratio:>6.3} {:>9} {:>9} {:>9} {:>9} {:>7} {:>7}",
        median(store.iter().map(|s| s.rate).collect()),
        median(raw.iter().map(|s| s.rate).collect()),
        percentile_ms(&store, 0.50),
        percentile_ms(&store, 0.99),
        percentile_ms(&raw, 0.50),
        percentile_ms(&raw, 0.99),
        cpu_per_op(&store),
        cpu_per_op(&raw),
    );
    Ok(())
}

fn env_number(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Quotes an identifier for MariaDB: backticks, inner backticks doubled.
fn quote(name: &str) -> String {
    format!("`{}`", name.replace('`', "``"))
}

/// Whether a raw statement failed on a deadlock or a lock-wait timeout (the
/// server rolled the statement or transaction back; the store runs such an
/// operation again itself, so the baseline does too).
fn is_contention(e: &sqlx::Error) -> bool {
    e.as_database_error().is_some_and(|d| {
        d.code().as_deref() == Some("40001") || d.message().contains("Lock wait timeout")
    })
}

#[tokio::main]
async fn main() -> Result<(), StoreError> {
    let url = std::env::var("FULLAUTH_BENCH_MYSQL_URL").unwrap_or_else(|_| DEFAULT_URL.into());
    let round_ms = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or_else(|| env_number("FULLAUTH_MEASURE_MS", 500));
    let plan = Plan {
        round: Duration::from_millis(round_ms.max(100)),
        rounds: env_number("FULLAUTH_MEASURE_ROUNDS", 5).max(1) as usize,
    };
    let options = MySqlConnectOptions::from_str(&url)
        .map_err(|e| StoreError::invalid("url", e.to_string()))?
        .charset("utf8mb4")
        .statement_cache_capacity(256);
    // The baseline's pool: the same size and settings as the store's own. It
    // also creates and drops the database (every statement names it).
    let pool = MySqlPoolOptions::new()
        .max_connections(POOL_SIZE)
        .acquire_timeout(Duration::from_secs(5))
        .test_before_acquire(false)
        .connect_with(options)
        .await
        .map_err(raw_err)?;
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let database = format!(
        "fullauth_bench_{secs}_{}",
        &uuid::Uuid::new_v4().simple().to_string()[..8]
    );
    let quoted = quote(&database);
    let create = format!("CREATE DATABASE {quoted} CHARACTER SET utf8mb4");
    sqlx::raw_sql(AssertSqlSafe(create))
        .execute(&pool)
        .await
        .map_err(|e| StoreError::backend("create the database", e))?;
    eprintln!(
        "database {database}; {} rounds of {} ms per side",
        plan.rounds,
        plan.round.as_millis()
    );

    let result = measure(&url, &database, &quoted, &pool, plan).await;

    let drop_sql = format!("DROP DATABASE IF EXISTS {quoted}");
    let dropped = sqlx::raw_sql(AssertSqlSafe(drop_sql))
        .execute(&pool)
        .await
        .map_err(|e| StoreError::backend("drop the database", e));
    pool.close().await;
    result.and(dropped.map(drop))
}

/// Every measurement, on a store of `database` and the baseline's `pool`.
async fn measure(
    url: &str,
    database: &str,
    quoted: &str,
    pool: &MySqlPool,
    plan: Plan,
) -> Result<(), StoreError> {
    let store = Arc::new(
        MySqlStore::builder()
            .database(database)
            .max_connections(POOL_SIZE)
            .migrate(true)
            .connect(url)
            .await?,
    );
    let sql = |template: &str| -> Arc<str> { template.replace("{s}", quoted).into() };
    let run = format!("{}", uuid::Uuid::new_v4().simple());
    // One hash for every user: hashing is not what is measured.
    let hash: HashedPassword = PasswordHasher::default()
        .hash("correct horse battery staple")
        .await?;

    println!(
        "{:<16} {:>4} {:>11} {:>11} {:>6} {:>9} {:>9} {:>9} {:>9} {:>7} {:>7}",
        "operation",
        "conc",
        "store ops/s",
        "raw ops/s",
        "ratio",
        "st p50ms",
        "st p99ms",
        "raw p50ms",
        "raw p99ms",
        "st µs",
        "raw µs"
    );

    let create_sql = sql(CREATE_USER);
    for c in [1, 16] {
        let (s, run_s, hash_s) = (store.clone(), run.clone(), hash.clone());
        let (p, run_r, q) = (pool.clone(), run.clone(), create_sql.clone());
        let hash_r: Arc<str> = hash.as_str().into();
        compare(
            "create_user",
            c,
            plan,
            move |i| {
                let s = s.clone();
                let email = format!("s-{run_s}-{c}-{i}-{}@example.test", uuid::Uuid::new_v4());
                let hash = hash_s.clone();
                async move {
                    let new = NewUser::new(email)?.with_password_hash(hash);
                    s.create_user(new).await.map(|_| ())
                }
            },
            move |i| {
                let (p, q, hash) = (p.clone(), q.clone(), hash_r.clone());
                let email = format!("r-{run_r}-{c}-{i}-{}@example.test", uuid::Uuid::new_v4());
                async move {
                    let row = sqlx::query(AssertSqlSafe(q))
                        .bind(uuid::Uuid::now_v7().hyphenated())
                        .bind(email.as_str())
                        .bind(Some(&*hash))
                        .bind(true)
                        .bind(false)
                        .bind(false)
                        .bind(OffsetDateTime::now_utc())
                        .fetch_one(&p)
                        .await
                        .map_err(raw_err)?;
                    decode_user(&row)
                }
            },
        )
        .await?;
    }

    // Rotation: each worker rotates its own chain of tokens.
    let user = store
        .create_user(
            NewUser::new(format!("rot-{run}@example.test"))?.with_password_hash(hash.clone()),
        )
        .await?;
    let rotate_sql = sql(ROTATE);
    let successor_sql = sql(ROTATE_SUCCESSOR);
    for c in [1, 16] {
        let mut heads = Vec::new();
        for _ in 0..2 * c {
            let d = TokenDigest::of(&uuid::Uuid::new_v4().to_string());
            store
                .store_refresh_token(NewRefreshToken {
                    digest: d.clone(),
                    user_id: user.id.clone(),
                    family_id: FamilyId::generate(),
                    expires_at: store.clock().now() + Duration::from_secs(3600),
                    client: Default::default(),
                })
                .await?;
            heads.push(tokio::sync::Mutex::new(d));
        }
        let raw_heads = Arc::new(heads.split_off(c));
        let store_heads = Arc::new(heads);
        let s = store.clone();
        let (p, q1, q2) = (pool.clone(), rotate_sql.clone(), successor_sql.clone());
        compare(
            "rotate",
            c,
            plan,
            move |i| {
                let s = s.clone();
                let heads = store_heads.clone();
                async move {
                    let mut head = heads[i / 1_000_000].lock().await;
                    let next = TokenDigest::of(&uuid::Uuid::new_v4().to_string());
                    let r = s
                        .rotate_refresh_token(
                            &head,
                            NextRefreshToken {
                                digest: next.clone(),
                                expires_at: s.clock().now() + Duration::from_secs(3600),
                                client: Default::default(),
                            },
                        )
                        .await?;
                    if !matches!(r, Rotation::Rotated(_)) {
                        return Err(StoreError::invalid("rotation", format!("{r:?}")));
                    }
                    *head = next;
                    Ok(())
                }
            },
            move |i| {
                let (p, q1, q2) = (p.clone(), q1.clone(), q2.clone());
                let heads = raw_heads.clone();
                async move {
                    let mut head = heads[i / 1_000_000].lock().await;
                    let next = TokenDigest::of(&uuid::Uuid::new_v4().to_string());
                    loop {
                        match raw_rotate(&p, &q1, &q2, &head, &next).await {
                            Ok(()) => break,
                            Err(e) if is_contention(&e) => continue,
                            Err(e) => return Err(raw_err(e)),
                        }
                    }
                    *head = next;
                    Ok(())
                }
            },
        )
        .await?;
    }

    // Permission lookup: a user with 3 roles of 5 permissions each.
    let u = store
        .create_user(
            NewUser::new(format!("perm-{run}@example.test"))?.with_password_hash(hash.clone()),
        )
        .await?;
    for r in 0..3 {
        let role = RoleName::new(format!("role-{run}-{r}"))?;
        store.assign_role(&u.id, &role).await?;
        for p in 0..5 {
            store
                .assign_permission(&role, &PermissionName::new(format!("res{p}:act-{run}"))?)
                .await?;
        }
    }
    let uid = hyphenated(&u.id)?;
    let perm_sql = sql(USER_PERMISSIONS);
    for c in [1, 16] {
        let s = store.clone();
        let id = u.id.clone();
        let (p, q) = (pool.clone(), perm_sql.clone());
        compare(
            "user_permissions",
            c,
            plan,
            move |_| {
                let (s, id) = (s.clone(), id.clone());
                async move {
                    let names = s.get_user_permissions(&id).await?;
                    if names.len() != 5 {
                        return Err(StoreError::invalid("permissions", "store lookup"));
                    }
                    Ok(())
                }
            },
            move |_| {
                let (p, q) = (p.clone(), q.clone());
                async move {
                    let names: Vec<String> = sqlx::query_scalar(AssertSqlSafe(q))
                        .bind(uid)
                        .fetch_all(&p)
                        .await
                        .map_err(raw_err)?;
                    let names = names
                        .into_iter()
                        .map(PermissionName::new)
                        .collect::<Result<Vec<_>, _>>()?;
                    if names.len() != 5 {
                        return Err(StoreError::invalid("permissions", "raw lookup"));
                    }
                    Ok(())
                }
            },
        )
        .await?;
    }

    // Get user by id: the user of the permission lookup.
    let get_sql = sql(GET_USER);
    for c in [1, 16] {
        let s = store.clone();
        let id = u.id.clone();
        let (p, q) = (pool.clone(), get_sql.clone());
        compare(
            "get_user",
            c,
            plan,
            move |_| {
                let (s, id) = (s.clone(), id.clone());
                async move {
                    match s.get_user(&id).await? {
                        Some(_) => Ok(()),
                        None => Err(StoreError::invalid("get_user", "store lookup found none")),
                    }
                }
            },
            move |_| {
                let (p, q) = (p.clone(), q.clone());
                async move {
                    let row = sqlx::query(AssertSqlSafe(q))
                        .bind(uid)
                        .fetch_optional(&p)
                        .await
                        .map_err(raw_err)?;
                    match row {
                        Some(row) => decode_user(&row),
                        None => Err(StoreError::invalid("get_user", "raw lookup found none")),
                    }
                }
            },
        )
        .await?;
    }

    store.pool().close().await;
    Ok(())
}

/// The user id as bound to a MariaDB `UUID` column (its hyphenated text).
fn hyphenated(id: &UserId) -> Result<Hyphenated, StoreError> {
    id.as_uuid()
        .map(uuid::Uuid::hyphenated)
        .ok_or_else(|| StoreError::invalid("user_id", "not a UUID"))
}

/// Reads a user row as the store does (id, email, flags, created_at).
fn decode_user(row: &sqlx::mysql::MySqlRow) -> Result<(), StoreError> {
    let _user: (Hyphenated, String, bool, bool, bool, OffsetDateTime) = (
        row.try_get(0).map_err(raw_err)?,
        row.try_get(1).map_err(raw_err)?,
        row.try_get(2).map_err(raw_err)?,
        row.try_get(3).map_err(raw_err)?,
        row.try_get(4).map_err(raw_err)?,
        row.try_get(5).map_err(raw_err)?,
    );
    Ok(())
}

/// One rotation as the store runs it on the pool: BEGIN, the compare-and-set
/// `UPDATE`, the successor's `INSERT … SELECT … RETURNING`, COMMIT (rolled
/// back on failure).
async fn raw_rotate(
    pool: &MySqlPool,
    rotate: &Arc<str>,
    successor: &Arc<str>,
    old: &TokenDigest,
    next: &TokenDigest,
) -> Result<(), sqlx::Error> {
    let mut c = pool.acquire().await?;
    sqlx::raw_sql("BEGIN").execute(&mut *c).await?;
    let body = async {
        let now = OffsetDateTime::now_utc();
        let flipped = sqlx::query(AssertSqlSafe(rotate.clone()))
            .bind(old.as_str())
            .bind(now)
            .execute(&mut *c)
            .await?
            .rows_affected();
        if flipped != 1 {
            return Err(sqlx::Error::Protocol(
                "raw rotation matched no token".into(),
            ));
        }
        let row = sqlx::query(AssertSqlSafe(successor.clone()))
            .bind(uuid::Uuid::now_v7().hyphenated())
            .bind(next.as_str())
            .bind(now + Duration::from_secs(3600))
            .bind(None::<&str>)
            .bind(None::<&str>)
            .bind(now)
            .bind(old.as_str())
            .fetch_optional(&mut *c)
            .await?
            .ok_or_else(|| sqlx::Error::Protocol("raw rotation inserted nothing".into()))?;
        type Token = (
            Hyphenated,
            String,
            Hyphenated,
            String,
            OffsetDateTime,
            bool,
            Option<String>,
            Option<String>,
            OffsetDateTime,
        );
        let _token: Token = (
            row.try_get(0)?,
            row.try_get(1)?,
            row.try_get(2)?,
            row.try_get(3)?,
            row.try_get(4)?,
            row.try_get(5)?,
            row.try_get(6)?,
            row.try_get(7)?,
            row.try_get(8)?,
        );
        Ok(())
    }
    .await;
    let end = if body.is_ok() { "COMMIT" } else { "ROLLBACK" };
    let ended = sqlx::raw_sql(end).execute(&mut *c).await;
    body?;
    ended.map(drop)
}
