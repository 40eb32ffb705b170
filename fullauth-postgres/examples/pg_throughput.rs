//! A throughput measurement of the store against the same statements written
//! straight on sqlx: operations per second for create user, rotate and
//! permission lookup, at concurrency 1 and 16, against
//! `FULLAUTH_TEST_DATABASE_URL` in a schema of its own (dropped at the end).
//!
//! Each operation runs through the store and then as a raw-sqlx baseline:
//! the SQL text the store runs, bound the same way, on a `PgPool` of the
//! same size and settings (no ping before acquire, a 256-statement cache),
//! with no store layer in between. The store runs on connections of its own
//! (one round trip per operation); the baseline pool also sends sqlx's
//! `Sync` to each connection it takes back (two), which is what puts the
//! store ahead of the baseline when many tasks share the connections. Store and raw runs alternate in paired
//! rounds (each round's order swapped), so that other load on the machine
//! hits both alike. Printed per operation and concurrency: the median rate
//! of each side, `ratio` (the median of the per-round store / raw ratios;
//! the goal is at least 0.9), and the client process's CPU microseconds per
//! operation of each side (Linux only), which shows the cost of the store
//! layer itself independently of the database's speed.
//!
//! ```text
//! FULLAUTH_TEST_DATABASE_URL=postgres://root@127.0.0.1:5432/test \
//!     cargo run --release -p fullauth-postgres --example pg_throughput
//! ```
//!
//! `FULLAUTH_MEASURE_MS` sets the length of one round in milliseconds
//! (default 1000) and `FULLAUTH_MEASURE_ROUNDS` the number of rounds per side
//! (default 7).

use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use fullauth_api::{
    FamilyId, NewRefreshToken, NewUser, NextRefreshToken, PermissionName, PermissionStore,
    RefreshTokenStore, RoleName, RoleStore, Rotation, StoreError, TokenDigest, UserStore,
};
use fullauth_postgres::PgStore;
use fullauth_postgres::sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use fullauth_postgres::sqlx::{self, AssertSqlSafe, Row};
use time::OffsetDateTime;

const POOL_SIZE: u32 = 16;

/// The store's user insert (no application columns in this schema): it does
/// nothing on a taken id or email and says which was taken.
const CREATE_USER: &str = "WITH ins AS (INSERT INTO {s}.fullauth_users AS u (id, email, \
     hashed_password, is_active, is_verified, is_superuser, created_at) \
     VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING \
     RETURNING u.id, u.email, u.is_active, u.is_verified, u.is_superuser, u.created_at) \
     SELECT ins.*, EXISTS (SELECT 1 FROM {s}.fullauth_users WHERE id = $1), \
     EXISTS (SELECT 1 FROM {s}.fullauth_users WHERE email = $2) \
     FROM (SELECT 1) AS one LEFT JOIN ins ON true";

/// The store's own statements, so the baseline runs exactly the same SQL.
use fullauth_postgres::hot_sql::{ROTATE, USER_PERMISSIONS};

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

/// One timed run: operations per second, operations done, and the client
/// CPU seconds spent (when known).
struct Sample {
    rate: f64,
    ops: usize,
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
            let mut i = 0;
            while start.elapsed() < run_for {
                op(worker * 1_000_000 + i).await?;
                done.fetch_add(1, Ordering::Relaxed);
                i += 1;
            }
            Ok::<(), StoreError>(())
        }));
    }
    for t in tasks {
        t.await
            .map_err(|e| StoreError::backend("a worker failed", e))??;
    }
    let ops = done.load(Ordering::Relaxed);
    let secs = start.elapsed().as_secs_f64();
    let cpu = cpu_seconds()
        .zip(cpu_before)
        .map(|(after, before)| after - before);
    Ok(Sample {
        rate: ops as f64 / secs,
        ops,
        cpu,
    })
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v.get(v.len() / 2).copied().unwrap_or(0.0)
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
/// median of the per-round ratios (store / raw), and the client CPU time per
/// operation of each side.
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
        "{label:<18} {concurrency:>4} {:>12.0} {:>12.0} {ratio:>7.3} {:>10} {:>10}",
        median(store.iter().map(|s| s.rate).collect()),
        median(raw.iter().map(|s| s.rate).collect()),
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

#[tokio::main]
async fn main() -> Result<(), StoreError> {
    let Ok(url) = std::env::var("FULLAUTH_TEST_DATABASE_URL") else {
        eprintln!("set FULLAUTH_TEST_DATABASE_URL, e.g. postgres://root@127.0.0.1:5432/test");
        return Ok(());
    };
    let plan = Plan {
        round: Duration::from_millis(env_number("FULLAUTH_MEASURE_MS", 1000).max(100)),
        rounds: env_number("FULLAUTH_MEASURE_ROUNDS", 7).max(1) as usize,
    };
    let schema = format!(
        "fullauth_measure_{}",
        &uuid::Uuid::new_v4().simple().to_string()[..8]
    );
    let store = Arc::new(
        PgStore::builder()
            .schema(schema.clone())
            .max_connections(POOL_SIZE)
            .migrate(true)
            .connect(&url)
            .await?,
    );
    // The baseline's pool: the same size and settings as the store's own.
    let options = PgConnectOptions::from_str(&url)
        .map_err(raw_err)?
        .application_name("fullauth_raw_baseline")
        .statement_cache_capacity(256);
    let pool = PgPoolOptions::new()
        .max_connections(POOL_SIZE)
        .test_before_acquire(false)
        .connect_with(options)
        .await
        .map_err(raw_err)?;
    let quoted = format!("\"{}\"", schema.replace('"', "\"\""));
    let sql = |template: &str| -> Arc<str> { template.replace("{s}", &quoted).into() };
    let run = format!("{}", uuid::Uuid::new_v4().simple());

    println!(
        "{:<18} {:>4} {:>12} {:>12} {:>7} {:>10} {:>10}",
        "operation", "conc", "store ops/s", "raw ops/s", "ratio", "store µs", "raw µs"
    );

    let create_sql = sql(CREATE_USER);
    for c in [1, 16] {
        let (s, run_s) = (store.clone(), run.clone());
        let (p, run_r, q) = (pool.clone(), run.clone(), create_sql.clone());
        compare(
            "create_user",
            c,
            plan,
            move |i| {
                let s = s.clone();
                let email = format!("s-{run_s}-{c}-{i}-{}@example.test", uuid::Uuid::new_v4());
                async move { s.create_user(NewUser::new(email)?).await.map(|_| ()) }
            },
            move |i| {
                let (p, q) = (p.clone(), q.clone());
                let email = format!("r-{run_r}-{c}-{i}-{}@example.test", uuid::Uuid::new_v4());
                async move {
                    let row = sqlx::query(AssertSqlSafe(q))
                        .bind(uuid::Uuid::now_v7())
                        .bind(email.as_str())
                        .bind(None::<&str>)
                        .bind(true)
                        .bind(false)
                        .bind(false)
                        .bind(OffsetDateTime::now_utc())
                        .fetch_one(&p)
                        .await
                        .map_err(raw_err)?;
                    let _user: (uuid::Uuid, String, bool, bool, bool, OffsetDateTime) = (
                        row.try_get(0).map_err(raw_err)?,
                        row.try_get(1).map_err(raw_err)?,
                        row.try_get(2).map_err(raw_err)?,
                        row.try_get(3).map_err(raw_err)?,
                        row.try_get(4).map_err(raw_err)?,
                        row.try_get(5).map_err(raw_err)?,
                    );
                    Ok(())
                }
            },
        )
        .await?;
    }

    // Rotation: each worker rotates its own chain of tokens.
    let user = store
        .create_user(NewUser::new(format!("rot-{run}@example.test"))?)
        .await?;
    let rotate_sql = sql(ROTATE);
    for c in [1, 16] {
        let mut heads = Vec::new();
        for _ in 0..2 * c {
            let d = TokenDigest::of(&uuid::Uuid::new_v4().to_string());
            store
                .store_refresh_token(NewRefreshToken {
                    digest: d.clone(),
                    user_id: user.id,
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
        let (p, q) = (pool.clone(), rotate_sql.clone());
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
                let (p, q) = (p.clone(), q.clone());
                let heads = raw_heads.clone();
                async move {
                    let mut head = heads[i / 1_000_000].lock().await;
                    let next = TokenDigest::of(&uuid::Uuid::new_v4().to_string());
                    let now = OffsetDateTime::now_utc();
                    let row = sqlx::query(AssertSqlSafe(q))
                        .bind(head.as_str())
                        .bind(uuid::Uuid::now_v7())
                        .bind(next.as_str())
                        .bind(now + Duration::from_secs(3600))
                        .bind(None::<&str>)
                        .bind(None::<&str>)
                        .bind(now)
                        .fetch_one(&p)
                        .await
                        .map_err(raw_err)?;
                    let inserted: Option<uuid::Uuid> = row.try_get(7).map_err(raw_err)?;
                    if inserted.is_none() {
                        return Err(StoreError::invalid("rotation", "raw rotation failed"));
                    }
                    type Token = (
                        String,
                        uuid::Uuid,
                        String,
                        OffsetDateTime,
                        bool,
                        Option<String>,
                        Option<String>,
                        OffsetDateTime,
                    );
                    let _token: Token = (
                        row.try_get(8).map_err(raw_err)?,
                        row.try_get(9).map_err(raw_err)?,
                        row.try_get(10).map_err(raw_err)?,
                        row.try_get(11).map_err(raw_err)?,
                        row.try_get(12).map_err(raw_err)?,
                        row.try_get(13).map_err(raw_err)?,
                        row.try_get(14).map_err(raw_err)?,
                        row.try_get(15).map_err(raw_err)?,
                    );
                    *head = next;
                    Ok(())
                }
            },
        )
        .await?;
    }

    // Permission lookup: a user with 3 roles of 5 permissions each.
    let u = store
        .create_user(NewUser::new(format!("perm-{run}@example.test"))?)
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
    let uid =
        u.id.as_uuid()
            .ok_or_else(|| StoreError::invalid("user_id", "not a UUID"))?;
    let perm_sql = sql(USER_PERMISSIONS);
    for c in [1, 16] {
        let s = store.clone();
        let id = u.id;
        let (p, q) = (pool.clone(), perm_sql.clone());
        compare(
            "user_permissions",
            c,
            plan,
            move |_| {
                let s = s.clone();
                async move { s.get_user_permissions(&id).await.map(|_| ()) }
            },
            move |_| {
                let (p, q) = (p.clone(), q.clone());
                async move {
                    let names: Vec<String> = sqlx::query_scalar(AssertSqlSafe(q))
                        .bind(uid)
                        .fetch_all(&p)
                        .await
                        .map_err(raw_err)?;
                    if names.len() != 5 {
                        return Err(StoreError::invalid("permissions", "raw lookup"));
                    }
                    Ok(())
                }
            },
        )
        .await?;
    }

    pool.close().await;
    let drop = format!("DROP SCHEMA {quoted} CASCADE");
    sqlx::raw_sql(AssertSqlSafe(drop))
        .execute(store.pool())
        .await
        .map_err(|e| StoreError::backend("drop the schema", e))?;
    Ok(())
}
