//! Throughput and latency of the hot operations — create user, get user,
//! the user's permissions, revoke and rotate a refresh token — through each
//! store, against the same statements on the raw driver and against
//! fastapi-fullauth 0.18.0's SQLAlchemy adapter on the same database, at
//! several concurrencies.
//!
//! ```sh
//! cargo bench -p fullauth-benchmarks -- [--backends memory,sqlite,postgres]
//!     [--concurrency 1,16] [--rounds 3] [--ops create_user,get_user,...]
//!     [--scale 1.0] [--out target/bench/throughput.jsonl]
//! ```
//!
//! PostgreSQL needs `FULLAUTH_TEST_DATABASE_URL` (the run works in a schema
//! of its own, dropped at the end); the fastapi-fullauth side needs
//! `FULLAUTH_BENCH_PYTHON`, a Python with `fastapi-fullauth[sqlalchemy]==0.18.0`,
//! `aiosqlite` and `asyncpg` installed (`bench/run` makes one). A side
//! without what it needs is left out, loudly.
//!
//! Each cell (backend, operation, concurrency) runs its sides alternately,
//! round after round, on one database seeded with
//! [`fixtures::seed`]: 1 000 users, each with two of five roles (20
//! permissions) and a live refresh token. A round of the store or the raw
//! driver is a fixed number of operations spread over `c` tasks (tokens to
//! revoke or rotate are made before the clock starts); fastapi-fullauth
//! runs for a fixed time. Every line of the output file is one round:
//! `{"side", "backend", "op", "concurrency", "ops", "seconds",
//! "ops_per_sec", "p50_us", "p99_us"}`. `bench/plot.py` turns it into a
//! chart and a table of medians.
//!
//! The raw sides run the statements the store runs — its `BEGIN IMMEDIATE`
//! and `COMMIT` on SQLite included — as a careful user of the driver would,
//! from `c` tasks on the same runtime as the store (a multi-threaded Tokio
//! runtime with one worker per CPU): on SQLite, each task with its own
//! connection for reads and one writer connection behind a mutex, called
//! in place (WAL, `synchronous = NORMAL`, cached statements); on
//! PostgreSQL, each task owning one `PgConnection` (no pool), statements
//! prepared and cached. Before every round of a SQLite cell the WAL is
//! checkpointed and truncated, so no round inherits another's WAL.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::str::FromStr as _;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use fullauth_api::{NewUser, Rotation, Store, Timestamp, TokenDigest, UserId};
use fullauth_conformance::fixtures::{self, digest, in_an_hour, next_token, token};
use fullauth_memory::MemoryStore;
use fullauth_postgres::PgStore;
use fullauth_postgres::hot_sql;
use fullauth_postgres::sqlx::postgres::PgConnectOptions;
use fullauth_postgres::sqlx::{self, AssertSqlSafe, ConnectOptions as _, PgConnection, Row as _};
use fullauth_sqlite::SqliteStore;
use fullauth_sqlite::hot_sql as sqlite_sql;
use fullauth_sqlite::rusqlite::{Connection, params};
use serde_json::{Value, json};

type Error = Box<dyn std::error::Error + Send + Sync>;
type Result<T, E = Error> = std::result::Result<T, E>;

const OPS: [&str; 5] = [
    "create_user",
    "get_user",
    "user_permissions",
    "revoke",
    "rotate",
];
const USERS: usize = 1_000;

/// What to run.
struct Args {
    backends: Vec<String>,
    concurrency: Vec<usize>,
    rounds: usize,
    ops: Vec<String>,
    scale: f64,
    out: PathBuf,
    python: Option<PathBuf>,
}

fn list(v: &str) -> Vec<String> {
    v.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

fn args() -> Result<Option<Args>> {
    let mut a = Args {
        backends: list("memory,sqlite,postgres"),
        concurrency: vec![1, 16],
        rounds: 3,
        ops: OPS.iter().map(|s| s.to_string()).collect(),
        scale: 1.0,
        out: PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/bench/throughput.jsonl"),
        python: std::env::var_os("FULLAUTH_BENCH_PYTHON")
            .filter(|p| !p.is_empty())
            .map(PathBuf::from),
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().ok_or_else(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--bench" => {}
            "--help" | "-h" => {
                println!(
                    "{}",
                    include_str!("throughput.rs")
                        .lines()
                        .take(12)
                        .map(|l| l.trim_start_matches("//!").trim_start())
                        .collect::<Vec<_>>()
                        .join("\n")
                );
                return Ok(None);
            }
            "--backends" => a.backends = list(&value()?),
            "--concurrency" => {
                a.concurrency = list(&value()?)
                    .iter()
                    .map(|c| c.parse())
                    .collect::<Result<_, _>>()?
            }
            "--rounds" => a.rounds = value()?.parse()?,
            "--ops" => a.ops = list(&value()?),
            "--scale" => a.scale = value()?.parse()?,
            "--out" => a.out = PathBuf::from(value()?),
            other => return Err(format!("unknown argument {other} (try --help)").into()),
        }
    }
    for op in &a.ops {
        if !OPS.contains(&op.as_str()) {
            return Err(format!("unknown operation {op}: one of {OPS:?}").into());
        }
    }
    Ok(Some(a))
}

/// One round's result.
fn sample(
    side: &str,
    backend: &str,
    op: &str,
    c: usize,
    mut lat: Vec<Duration>,
    wall: Duration,
) -> Value {
    lat.sort_unstable();
    let pct = |p: f64| {
        lat.get(((lat.len() as f64 * p).ceil() as usize).saturating_sub(1))
            .map_or(0.0, |d| d.as_secs_f64() * 1e6)
    };
    json!({
        "side": side, "backend": backend, "op": op, "concurrency": c,
        "ops": lat.len(), "seconds": wall.as_secs_f64(),
        "ops_per_sec": lat.len() as f64 / wall.as_secs_f64(),
        "p50_us": pct(0.50), "p99_us": pct(0.99),
    })
}

/// Operations per round of the store and raw sides.
fn round_size(backend: &str, op: &str, scale: f64) -> usize {
    let base = match backend {
        "memory" => 200_000.0,
        "sqlite" if op == "rotate" || op == "create_user" || op == "revoke" => 10_000.0,
        "sqlite" => 40_000.0,
        _ if op == "rotate" || op == "create_user" || op == "revoke" => 2_000.0,
        _ => 6_000.0,
    };
    ((base * scale) as usize).max(16)
}

/// Runs `per_task(t, k)` for k in 0..n/c on each of `c` tasks, timing each
/// call; the calls of a task come one after the other.
async fn on_tasks<F, Fut>(c: usize, n: usize, per_task: F) -> Result<(Vec<Duration>, Duration)>
where
    F: Fn(usize, usize) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = Result<()>> + Send,
{
    let per_task = Arc::new(per_task);
    let start = Instant::now();
    let tasks: Vec<_> = (0..c)
        .map(|t| {
            let f = per_task.clone();
            tokio::spawn(async move {
                let mut lat = Vec::with_capacity(n / c + 1);
                for k in 0..n / c {
                    let at = Instant::now();
                    f(t, k).await?;
                    lat.push(at.elapsed());
                }
                Ok::<_, Error>(lat)
            })
        })
        .collect();
    Ok((gather(tasks, n).await?, start.elapsed()))
}

/// The latencies of every task of a round, in task order.
async fn gather(
    tasks: Vec<tokio::task::JoinHandle<Result<Vec<Duration>>>>,
    n: usize,
) -> Result<Vec<Duration>> {
    let mut all = Vec::with_capacity(n);
    for t in tasks {
        all.extend(t.await??);
    }
    Ok(all)
}

/// Inputs of a round made before the clock starts: live tokens to revoke,
/// or one token per task whose rotations form a chain.
async fn live_tokens(store: &dyn Store, users: &[UserId], n: usize) -> Result<Vec<TokenDigest>> {
    let mut out = Vec::with_capacity(n);
    for i in 0..n {
        out.push(
            store
                .store_refresh_token(token(users[i % users.len()].clone()))
                .await?
                .digest,
        );
    }
    Ok(out)
}

/// One round of `op` through `store`.
async fn store_round(
    store: Arc<dyn Store>,
    users: Arc<Vec<UserId>>,
    op: &str,
    c: usize,
    n: usize,
) -> Result<(Vec<Duration>, Duration)> {
    let run = uuid::Uuid::new_v4().simple().to_string();
    match op {
        "create_user" => {
            on_tasks(c, n, move |t, k| {
                let (s, email) = (store.clone(), format!("s{t}-{k}-{run}@example.com"));
                async move {
                    s.create_user(NewUser::new(email)?).await?;
                    Ok(())
                }
            })
            .await
        }
        "get_user" => {
            on_tasks(c, n, move |t, k| {
                let (s, id) = (store.clone(), users[(t * 7919 + k) % users.len()].clone());
                async move {
                    s.get_user(&id).await?.ok_or("no such user")?;
                    Ok(())
                }
            })
            .await
        }
        "user_permissions" => {
            on_tasks(c, n, move |t, k| {
                let (s, id) = (store.clone(), users[(t * 7919 + k) % users.len()].clone());
                async move {
                    if s.get_user_permissions(&id).await?.len() != 20 {
                        return Err("not the seeded permissions".into());
                    }
                    Ok(())
                }
            })
            .await
        }
        "revoke" => {
            let per = n / c;
            let tokens = Arc::new(live_tokens(&*store, &users, per * c).await?);
            on_tasks(c, n, move |t, k| {
                let (s, d) = (store.clone(), tokens[t * per + k].clone());
                async move {
                    if !s.revoke_refresh_token(&d).await? {
                        return Err("not revoked".into());
                    }
                    Ok(())
                }
            })
            .await
        }
        _ => {
            let heads = live_tokens(&*store, &users, c).await?;
            let heads: Arc<Vec<Mutex<TokenDigest>>> =
                Arc::new(heads.into_iter().map(Mutex::new).collect());
            on_tasks(c, n, move |t, _| {
                let (s, heads) = (store.clone(), heads.clone());
                async move {
                    let next = next_token();
                    let old = std::mem::replace(
                        &mut *heads[t].lock().map_err(|_| "poisoned")?,
                        next.digest.clone(),
                    );
                    match s.rotate_refresh_token(&old, next).await? {
                        Rotation::Rotated(_) => Ok(()),
                        other => Err(format!("not rotated: {other:?}").into()),
                    }
                }
            })
            .await
        }
    }
}

// ---------------------------------------------------------------- SQLite raw

/// Opens a connection as the store does (WAL, NORMAL sync, foreign keys).
fn sqlite_conn(path: &Path) -> Result<Connection> {
    let c = Connection::open(path)?;
    c.busy_timeout(Duration::from_secs(5))?;
    c.execute_batch("PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON;")?;
    Ok(c)
}

fn hex(id: &UserId) -> Result<String> {
    Ok(id.as_uuid().ok_or("not a uuid key")?.simple().to_string())
}

/// Runs a cached statement without parameters (`BEGIN IMMEDIATE`,
/// `COMMIT`), as the store does.
fn exec(c: &Connection, sql: &str) -> Result<()> {
    c.prepare_cached(sql)?.execute([])?;
    Ok(())
}

/// Checkpoints the WAL and truncates it, so that every round starts from
/// the same state (a round's writes would otherwise leave the next one a
/// longer WAL to search and to copy back).
fn settle(path: &Path) -> Result<()> {
    sqlite_conn(path)?.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))?;
    Ok(())
}

/// Stores a live token of `user` in `family` on `c`; returns its digest.
fn sqlite_token(c: &Connection, user: &str, family: &str) -> Result<TokenDigest> {
    let d = digest();
    c.prepare_cached(sqlite_sql::INSERT_TOKEN)?.query_row(
        params![
            uuid::Uuid::now_v7().simple().to_string(),
            d.as_str(),
            user,
            family,
            in_an_hour().to_naive_utc_string(),
            None::<&str>,
            None::<&str>,
            Timestamp::now().to_naive_utc_string()
        ],
        |r| r.get::<_, String>(0),
    )?;
    Ok(d)
}

/// One op of the raw SQLite side: reads on `reader`, writes on `writer`.
fn sqlite_op(
    op: &str,
    reader: &Connection,
    writer: &Mutex<Connection>,
    user: &str,
    input: &mut Option<TokenDigest>,
    tag: &str,
) -> Result<()> {
    match op {
        "create_user" => {
            let w = writer.lock().map_err(|_| "poisoned")?;
            exec(&w, "BEGIN IMMEDIATE")?;
            w.prepare_cached("INSERT INTO fullauth_users (id, email, hashed_password, is_active, \
                 is_verified, is_superuser, created_at) VALUES (?1, ?2, NULL, 1, 0, 0, ?3) RETURNING *")?
                .query_row(params![uuid::Uuid::now_v7().simple().to_string(),
                    format!("raw-{tag}-{}@example.com", uuid::Uuid::new_v4().simple()),
                    Timestamp::now().to_naive_utc_string()], |r| r.get::<_, String>(0))?;
            exec(&w, "COMMIT")?;
        }
        "get_user" => {
            reader
                .prepare_cached(sqlite_sql::GET_USER)?
                .query_row([user], |r| {
                    Ok((
                        r.get::<_, String>(0)?,
                        r.get::<_, String>(1)?,
                        r.get::<_, Option<String>>(2)?,
                        r.get::<_, bool>(3)?,
                        r.get::<_, bool>(4)?,
                        r.get::<_, bool>(5)?,
                        r.get::<_, String>(6)?,
                    ))
                })?;
        }
        "user_permissions" => {
            let n = reader
                .prepare_cached(sqlite_sql::USER_PERMISSIONS)?
                .query_map([user], |r| r.get::<_, String>(0))?
                .collect::<Result<Vec<_>, _>>()?
                .len();
            if n != 20 {
                return Err("not the seeded permissions".into());
            }
        }
        "revoke" => {
            let d = input.take().ok_or("no token")?;
            let w = writer.lock().map_err(|_| "poisoned")?;
            exec(&w, "BEGIN IMMEDIATE")?;
            let n = w
                .prepare_cached(sqlite_sql::REVOKE)?
                .execute([d.as_str()])?;
            exec(&w, "COMMIT")?;
            if n != 1 {
                return Err("not revoked".into());
            }
        }
        _ => {
            let old = input.take().ok_or("no token")?;
            let w = writer.lock().map_err(|_| "poisoned")?;
            exec(&w, "BEGIN IMMEDIATE")?;
            let (user, family): (String, String) =
                w.prepare_cached(sqlite_sql::ROTATE_FLIP)?.query_row(
                    params![old.as_str(), Timestamp::now().to_naive_utc_string()],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )?;
            *input = Some(sqlite_token(&w, &user, &family)?);
            exec(&w, "COMMIT")?;
        }
    }
    Ok(())
}

/// One round of the raw SQLite side: `c` tasks, own readers, one writer.
async fn sqlite_raw_round(
    path: &Path,
    users: &[UserId],
    op: &str,
    c: usize,
    n: usize,
) -> Result<(Vec<Duration>, Duration)> {
    let writer = Mutex::new(sqlite_conn(path)?);
    let users: Vec<String> = users.iter().map(|u| hex(u)).collect::<Result<_>>()?;
    let per = n / c;
    let mut inputs: Vec<Vec<Option<TokenDigest>>> = Vec::with_capacity(c);
    {
        let w = writer.lock().map_err(|_| "poisoned")?;
        exec(&w, "BEGIN IMMEDIATE")?;
        for t in 0..c {
            let need = match op {
                "revoke" => per,
                "rotate" => 1,
                _ => 0,
            };
            let fam = fullauth_api::FamilyId::generate();
            inputs.push(
                (0..need)
                    .map(|k| {
                        sqlite_token(&w, &users[(t + k) % users.len()], fam.as_str()).map(Some)
                    })
                    .collect::<Result<_>>()?,
            );
        }
        exec(&w, "COMMIT")?;
    }
    let readers: Vec<Connection> = (0..c).map(|_| sqlite_conn(path)).collect::<Result<_>>()?;
    let (writer, users) = (Arc::new(writer), Arc::new(users));
    let start = Instant::now();
    let tasks: Vec<_> = readers
        .into_iter()
        .zip(inputs)
        .enumerate()
        .map(|(t, (reader, mut inp))| {
            let (writer, users, op) = (writer.clone(), users.clone(), op.to_string());
            tokio::spawn(async move {
                let mut lat = Vec::with_capacity(per);
                let tag = format!("{t}-{}", uuid::Uuid::new_v4().simple());
                for k in 0..per {
                    let slot = if op == "rotate" { 0 } else { k };
                    let mut input = inp.get_mut(slot).and_then(Option::take);
                    let at = Instant::now();
                    sqlite_op(
                        &op,
                        &reader,
                        &writer,
                        &users[(t * 7919 + k) % users.len()],
                        &mut input,
                        &tag,
                    )?;
                    lat.push(at.elapsed());
                    if op == "rotate" {
                        inp[0] = input;
                    }
                }
                Ok::<_, Error>(lat)
            })
        })
        .collect();
    Ok((gather(tasks, n).await?, start.elapsed()))
}

// ------------------------------------------------------------ PostgreSQL raw

async fn pg_conn(url: &str) -> Result<PgConnection> {
    Ok(PgConnectOptions::from_str(url)?
        .application_name("fullauth_bench")
        .connect()
        .await?)
}

/// One op of the raw PostgreSQL side on `c`.
async fn pg_op(
    op: &str,
    sql: &str,
    c: &mut PgConnection,
    user: uuid::Uuid,
    input: &mut Option<TokenDigest>,
) -> Result<()> {
    match op {
        "create_user" => {
            let row = sqlx::query(AssertSqlSafe(sql))
                .bind(uuid::Uuid::now_v7())
                .bind(format!("raw-{}@example.com", uuid::Uuid::new_v4().simple()))
                .bind(None::<&str>)
                .bind(true)
                .bind(false)
                .bind(false)
                .bind(time::OffsetDateTime::now_utc())
                .fetch_one(&mut *c)
                .await?;
            let _: Option<uuid::Uuid> = row.get(0);
        }
        "get_user" => {
            let row = sqlx::query(AssertSqlSafe(sql))
                .bind(user)
                .fetch_optional(&mut *c)
                .await?
                .ok_or("no such user")?;
            let _: (uuid::Uuid, String, bool, bool, bool, time::OffsetDateTime) = (
                row.get(0),
                row.get(1),
                row.get(2),
                row.get(3),
                row.get(4),
                row.get(5),
            );
        }
        "user_permissions" => {
            let n = sqlx::query_scalar::<_, String>(AssertSqlSafe(sql))
                .bind(user)
                .fetch_all(&mut *c)
                .await?
                .len();
            if n != 20 {
                return Err("not the seeded permissions".into());
            }
        }
        "revoke" => {
            let d = input.take().ok_or("no token")?;
            if sqlx::query(AssertSqlSafe(sql))
                .bind(d.as_str())
                .execute(&mut *c)
                .await?
                .rows_affected()
                != 1
            {
                return Err("not revoked".into());
            }
        }
        _ => {
            let old = input.take().ok_or("no token")?;
            let new = digest();
            let row = sqlx::query(AssertSqlSafe(sql))
                .bind(old.as_str())
                .bind(uuid::Uuid::now_v7())
                .bind(new.as_str())
                .bind(in_an_hour().to_datetime())
                .bind(None::<&str>)
                .bind(None::<&str>)
                .bind(Timestamp::now().to_datetime())
                .fetch_one(&mut *c)
                .await?;
            let inserted: Option<uuid::Uuid> = row.get(7);
            inserted.ok_or("not rotated")?;
            *input = Some(new);
        }
    }
    Ok(())
}

/// One round of the raw PostgreSQL side: `c` tasks, each on its own
/// connection; tokens come from `store` before the clock starts.
async fn pg_raw_round(
    url: &str,
    schema: &str,
    store: &dyn Store,
    users: &[UserId],
    op: &str,
    c: usize,
    n: usize,
) -> Result<(Vec<Duration>, Duration)> {
    let template = match op {
        "create_user" => hot_sql::CREATE_USER,
        "get_user" => hot_sql::GET_USER,
        "user_permissions" => hot_sql::USER_PERMISSIONS,
        "revoke" => hot_sql::REVOKE,
        _ => hot_sql::ROTATE,
    };
    let sql = template.replace("{s}", &format!("\"{schema}\""));
    let per = n / c;
    let mut work = Vec::with_capacity(c);
    for t in 0..c {
        let need = match op {
            "revoke" => per,
            "rotate" => 1,
            _ => 0,
        };
        let tokens = live_tokens(store, &users[t..], need).await?;
        work.push((pg_conn(url).await?, tokens));
    }
    let users: Arc<Vec<uuid::Uuid>> = Arc::new(
        users
            .iter()
            .map(|u| u.as_uuid().ok_or("not a uuid key"))
            .collect::<Result<_, _>>()?,
    );
    let start = Instant::now();
    let tasks: Vec<_> = work
        .into_iter()
        .enumerate()
        .map(|(t, (mut conn, tokens))| {
            let (sql, users, op) = (sql.clone(), users.clone(), op.to_string());
            tokio::spawn(async move {
                let mut tokens = tokens.into_iter();
                let mut head = if op == "rotate" { tokens.next() } else { None };
                let mut lat = Vec::with_capacity(per);
                for k in 0..per {
                    let mut input = if op == "revoke" {
                        tokens.next()
                    } else {
                        head.take()
                    };
                    let at = Instant::now();
                    pg_op(
                        &op,
                        &sql,
                        &mut conn,
                        users[(t * 7919 + k) % users.len()],
                        &mut input,
                    )
                    .await?;
                    lat.push(at.elapsed());
                    head = input;
                }
                Ok::<_, Error>(lat)
            })
        })
        .collect();
    Ok((gather(tasks, n).await?, start.elapsed()))
}

// ------------------------------------------------------------------ fastapi

/// One timed run of fastapi-fullauth's adapter (`bench/fastapi_fullauth_bench.py`).
fn python_round(
    python: &Path,
    url: &str,
    schema: Option<&str>,
    users_file: &Path,
    op: &str,
    c: usize,
    seconds: f64,
) -> Result<Value> {
    let script =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../bench/fastapi_fullauth_bench.py");
    let mut cmd = Command::new(python);
    cmd.arg(script)
        .args(["--url", url, "--op", op])
        .arg("--users-file")
        .arg(users_file)
        .args([
            "--concurrency",
            &c.to_string(),
            "--seconds",
            &seconds.to_string(),
        ]);
    if let Some(s) = schema {
        cmd.args(["--schema", s]);
    }
    if op == "rotate" {
        // The token part of its refresh flow: what one rotate of a store does.
        cmd.args(["--rotate-scope", "token"]);
    }
    let out = cmd.output()?;
    if !out.status.success() {
        return Err(format!(
            "the fastapi-fullauth side failed: {}",
            String::from_utf8_lossy(&out.stderr)
        )
        .into());
    }
    let mut v: Value = serde_json::from_slice(&out.stdout)?;
    v["side"] = json!("fastapi-fullauth");
    if let Some(o) = v.as_object_mut() {
        o.remove("rotate_scope");
    }
    Ok(v)
}

// --------------------------------------------------------------------- main

/// A backend under test: the store, its seeded users, and how to reach its
/// database from the raw and Python sides.
struct Target {
    name: &'static str,
    store: Arc<dyn Store>,
    users: Arc<Vec<UserId>>,
    /// SQLite: the file.
    path: Option<PathBuf>,
    /// PostgreSQL: URL and schema.
    pg: Option<(String, String)>,
    /// The fastapi-fullauth URL (SQLAlchemy form).
    py_url: Option<String>,
    _keep: Option<SqliteStore>,
}

async fn target(name: &str) -> Result<Option<Target>> {
    Ok(Some(match name {
        "memory" => {
            let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
            let users = Arc::new(fixtures::seed(&*store, USERS).await?);
            Target {
                name: "memory",
                store,
                users,
                path: None,
                pg: None,
                py_url: None,
                _keep: None,
            }
        }
        "sqlite" => {
            let s = SqliteStore::builder()
                .migrate(true)
                .open_temporary()
                .await?;
            let users = Arc::new(fixtures::seed(&s, USERS).await?);
            let path = s.path().to_path_buf();
            Target {
                name: "sqlite",
                store: Arc::new(s.clone()),
                users,
                py_url: Some(format!("sqlite+aiosqlite:///{}", path.display())),
                path: Some(path),
                pg: None,
                _keep: Some(s),
            }
        }
        "postgres" => {
            let Ok(url) = std::env::var("FULLAUTH_TEST_DATABASE_URL") else {
                eprintln!(
                    "\n!!! FULLAUTH_TEST_DATABASE_URL is not set: PostgreSQL is left out !!!\n"
                );
                return Ok(None);
            };
            let schema = format!(
                "fullauth_bench_{}",
                &uuid::Uuid::new_v4().simple().to_string()[..12]
            );
            let s = PgStore::builder()
                .schema(schema.clone())
                .max_connections(32)
                .application_name("fullauth_bench")
                .migrate(true)
                .connect(&url)
                .await?;
            let users = Arc::new(fixtures::seed(&s, USERS).await?);
            let py_url = url
                .replacen("postgres://", "postgresql+asyncpg://", 1)
                .replacen("postgresql://", "postgresql+asyncpg://", 1);
            Target {
                name: "postgres",
                store: Arc::new(s),
                users,
                path: None,
                pg: Some((url, schema)),
                py_url: Some(py_url),
                _keep: None,
            }
        }
        other => return Err(format!("unknown backend {other}").into()),
    }))
}

fn main() -> Result<()> {
    let Some(args) = args()? else { return Ok(()) };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    if let Some(dir) = args.out.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let mut out = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&args.out)?;
    if args.python.is_none() {
        eprintln!(
            "\n!!! FULLAUTH_BENCH_PYTHON is not set: the fastapi-fullauth side is left out !!!\n"
        );
    }
    let mut results = Vec::new();
    for backend in &args.backends {
        let Some(t) = rt.block_on(target(backend))? else {
            continue;
        };
        let users_file =
            std::env::temp_dir().join(format!("fullauth-bench-users-{}.txt", std::process::id()));
        std::fs::write(
            &users_file,
            t.users.iter().map(|u| format!("{u}\n")).collect::<String>(),
        )?;
        for op in &args.ops {
            for &c in &args.concurrency {
                let n = round_size(t.name, op, args.scale);
                for round in 0..args.rounds {
                    let mut cell = Vec::new();
                    let settle = || t.path.as_deref().map_or(Ok(()), settle);
                    settle()?;
                    let (lat, wall) =
                        rt.block_on(store_round(t.store.clone(), t.users.clone(), op, c, n))?;
                    cell.push(sample("fullauth", t.name, op, c, lat, wall));
                    if let Some(path) = &t.path {
                        settle()?;
                        let (lat, wall) =
                            rt.block_on(sqlite_raw_round(path, &t.users, op, c, n))?;
                        cell.push(sample("raw", t.name, op, c, lat, wall));
                    }
                    if let Some((url, schema)) = &t.pg {
                        let (lat, wall) =
                            rt.block_on(pg_raw_round(url, schema, &*t.store, &t.users, op, c, n))?;
                        cell.push(sample("raw", t.name, op, c, lat, wall));
                    }
                    if let (Some(py), Some(url)) = (&args.python, &t.py_url) {
                        settle()?;
                        let schema = t.pg.as_ref().map(|(_, s)| s.as_str());
                        cell.push(python_round(
                            py,
                            url,
                            schema,
                            &users_file,
                            op,
                            c,
                            2.0 * args.scale.min(1.0),
                        )?);
                    }
                    for v in &cell {
                        use std::io::Write as _;
                        writeln!(out, "{v}")?;
                        eprintln!(
                            "{:>8} {:>16} c={:<3} round {round}: {:>16} {:>10.0} ops/s  p99 {:>8.0} µs",
                            t.name,
                            op,
                            c,
                            v["side"].as_str().unwrap_or("?"),
                            v["ops_per_sec"].as_f64().unwrap_or(0.0),
                            v["p99_us"].as_f64().unwrap_or(0.0)
                        );
                    }
                    results.extend(cell);
                }
            }
        }
        let _ = std::fs::remove_file(&users_file);
        if let Some((url, schema)) = &t.pg {
            rt.block_on(async {
                if let Ok(mut c) = pg_conn(url).await {
                    let _ = sqlx::raw_sql(AssertSqlSafe(format!(
                        "DROP SCHEMA IF EXISTS \"{schema}\" CASCADE"
                    )))
                    .execute(&mut c)
                    .await;
                }
            });
        }
    }
    eprintln!(
        "\n{} rounds written to {}",
        results.len(),
        args.out.display()
    );
    Ok(())
}
