//! A quick throughput measurement (not a benchmark): rows per second for
//! creating users, rotating refresh tokens and looking up a user's
//! permissions, through the store and — as a baseline — the same statements
//! straight on one rusqlite connection.
//!
//! ```sh
//! cargo run --release -p fullauth-sqlite --example sqlite_throughput [-- N]
//! ```

use std::sync::Arc;
use std::time::{Duration, Instant};

use fullauth_api::{
    FamilyId, Features, NewRefreshToken, NewUser, NextRefreshToken, PermissionStore,
    RefreshTokenStore, RoleStore, Rotation, Timestamp, TokenDigest, UserId, UserStore,
};
use fullauth_sqlite::SqliteStore;
use fullauth_sqlite::rusqlite::{Connection, params};

const TASKS: usize = 8;

fn rate(n: usize, d: Duration) -> String {
    format!("{:>9.0} rows/s", n as f64 / d.as_secs_f64())
}

fn email(i: usize, run: &str) -> String {
    format!("user-{run}-{i}@example.com")
}

async fn concurrently<F, Fut>(n: usize, f: F) -> Duration
where
    F: Fn(usize) -> Fut,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let start = Instant::now();
    let handles: Vec<_> = (0..TASKS)
        .map(|t| {
            let futs: Vec<Fut> = (0..n).filter(|i| i % TASKS == t).map(&f).collect();
            tokio::spawn(async move {
                for fut in futs {
                    fut.await;
                }
            })
        })
        .collect();
    for h in handles {
        h.await.expect("task");
    }
    start.elapsed()
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(5000);
    let store = SqliteStore::builder().open_temporary().await?;
    store.migrator().apply(Features::all()).await?;
    let store = Arc::new(store);
    let run = uuid::Uuid::new_v4().simple().to_string()[..8].to_string();
    println!("fullauth-sqlite, {n} operations each, file database in WAL mode\n");

    // create_user
    let t = Instant::now();
    let mut ids = Vec::with_capacity(n);
    for i in 0..n {
        ids.push(store.create_user(NewUser::new(email(i, &run))?).await?.id);
    }
    let seq = t.elapsed();
    let s = store.clone();
    let run2 = format!("{run}c");
    let par = concurrently(n, move |i| {
        let s = s.clone();
        let e = email(i, &run2);
        async move {
            s.create_user(NewUser::new(e).expect("email"))
                .await
                .expect("create");
        }
    })
    .await;
    println!(
        "create_user          1 task: {}   {TASKS} tasks: {}",
        rate(n, seq),
        rate(n, par)
    );

    // rotate_refresh_token
    let expires = Timestamp::now() + Duration::from_secs(3600);
    let mut olds = Vec::with_capacity(n);
    for (i, id) in ids.iter().enumerate() {
        let d = TokenDigest::of(&format!("{run}-tok-{i}"));
        store
            .store_refresh_token(NewRefreshToken {
                digest: d.clone(),
                user_id: *id,
                family_id: FamilyId::generate(),
                expires_at: expires,
                client: Default::default(),
            })
            .await?;
        olds.push(d);
    }
    let t = Instant::now();
    for (i, old) in olds.iter().enumerate() {
        let next = NextRefreshToken {
            digest: TokenDigest::of(&format!("{run}-next-{i}")),
            expires_at: expires,
            client: Default::default(),
        };
        match store.rotate_refresh_token(old, next).await? {
            Rotation::Rotated(_) => {}
            other @ (Rotation::Reused { .. } | Rotation::Expired | Rotation::NotFound) => {
                return Err(format!("unexpected {other:?}").into());
            }
        }
    }
    let rot = t.elapsed();
    println!("rotate_refresh_token 1 task: {}", rate(n, rot));

    // get_user_permissions
    for r in 0..5 {
        for p in 0..10 {
            store
                .assign_permission(
                    &format!("role{r}").parse()?,
                    &format!("res{p}:act{r}").parse()?,
                )
                .await?;
        }
    }
    for (i, id) in ids.iter().enumerate() {
        store
            .assign_role(id, &format!("role{}", i % 5).parse()?)
            .await?;
        store
            .assign_role(id, &format!("role{}", (i + 1) % 5).parse()?)
            .await?;
    }
    let t = Instant::now();
    for id in &ids {
        let p = store.get_user_permissions(id).await?;
        assert_eq!(p.len(), 20);
    }
    let perm_seq = t.elapsed();
    let s = store.clone();
    let ids2: Arc<Vec<UserId>> = Arc::new(ids.clone());
    let perm_par = concurrently(n, move |i| {
        let s = s.clone();
        let id = ids2[i];
        async move {
            s.get_user_permissions(&id).await.expect("lookup");
        }
    })
    .await;
    println!(
        "get_user_permissions 1 task: {}   {TASKS} tasks: {}",
        rate(n, perm_seq),
        rate(n, perm_par)
    );

    // Baseline: the same statements straight on one connection, no async.
    let path = store.path().to_path_buf();
    let (raw_create, raw_rotate, raw_perm) =
        tokio::task::spawn_blocking(move || raw(&path, n, &run).expect("raw run")).await?;
    println!("\nbaseline, the same SQL on one rusqlite connection (no async, no pool):");
    println!("create_user          {}", rate(n, raw_create));
    println!("rotate_refresh_token {}", rate(n, raw_rotate));
    println!("get_user_permissions {}", rate(n, raw_perm));
    println!(
        "\nratio store/baseline (1 task): create {:.2}, rotate {:.2}, permissions {:.2}",
        raw_create.as_secs_f64() / seq.as_secs_f64(),
        raw_rotate.as_secs_f64() / rot.as_secs_f64(),
        raw_perm.as_secs_f64() / perm_seq.as_secs_f64(),
    );
    Ok(())
}

fn raw(
    path: &std::path::Path,
    n: usize,
    run: &str,
) -> fullauth_sqlite::rusqlite::Result<(Duration, Duration, Duration)> {
    let c = Connection::open(path)?;
    c.execute_batch("PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON;")?;
    let now = Timestamp::now().to_naive_utc_string();
    let expires = (Timestamp::now() + Duration::from_secs(3600)).to_naive_utc_string();

    let t = Instant::now();
    let mut ids = Vec::with_capacity(n);
    for i in 0..n {
        let id = uuid::Uuid::now_v7().simple().to_string();
        c.prepare_cached(
            "INSERT INTO fullauth_users (id, email, hashed_password, is_active, is_verified, \
             is_superuser, created_at) VALUES (?1, ?2, NULL, 1, 0, 0, ?3) RETURNING *",
        )?
        .query_row(
            params![id, format!("raw-{run}-{i}@example.com"), now],
            |_| Ok(()),
        )?;
        ids.push(id);
    }
    let create = t.elapsed();

    for (i, id) in ids.iter().enumerate() {
        c.execute(
            "INSERT INTO fullauth_refresh_tokens (id, token, user_id, family_id, expires_at, \
             revoked, user_agent, ip_address, created_at) VALUES (?1, ?2, ?3, ?4, ?5, 0, NULL, NULL, ?6)",
            params![
                uuid::Uuid::now_v7().simple().to_string(),
                TokenDigest::of(&format!("raw-{run}-{i}")).as_str(),
                id,
                FamilyId::generate().as_str(),
                expires,
                now
            ],
        )?;
    }
    let t = Instant::now();
    for i in 0..n {
        c.execute_batch("BEGIN IMMEDIATE")?;
        let (user, family): (String, String) = c
            .prepare_cached(
                "UPDATE fullauth_refresh_tokens SET revoked = 1 WHERE token = ?1 AND revoked = 0 \
                 AND expires_at > ?2 RETURNING user_id, family_id",
            )?
            .query_row(
                params![TokenDigest::of(&format!("raw-{run}-{i}")).as_str(), now],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )?;
        c.prepare_cached(
            "INSERT INTO fullauth_refresh_tokens (id, token, user_id, family_id, expires_at, \
             revoked, user_agent, ip_address, created_at) VALUES (?1, ?2, ?3, ?4, ?5, 0, NULL, NULL, ?6) \
             RETURNING *",
        )?
        .query_row(
            params![
                uuid::Uuid::now_v7().simple().to_string(),
                TokenDigest::of(&format!("raw-next-{run}-{i}")).as_str(),
                user,
                family,
                expires,
                now
            ],
            |_| Ok(()),
        )?;
        c.execute_batch("COMMIT")?;
    }
    let rotate = t.elapsed();

    let users: Vec<String> = {
        let mut s = c.prepare("SELECT DISTINCT user_id FROM fullauth_user_roles LIMIT ?1")?;
        s.query_map([n as i64], |r| r.get(0))?
            .collect::<Result<_, _>>()?
    };
    let t = Instant::now();
    for u in users.iter().cycle().take(n) {
        let mut s = c.prepare_cached(
            "SELECT DISTINCT p.name FROM fullauth_user_roles ur \
             JOIN fullauth_role_permissions rp ON rp.role_id = ur.role_id \
             JOIN fullauth_permissions p ON p.id = rp.permission_id \
             WHERE ur.user_id = ?1 ORDER BY p.name",
        )?;
        let names: Vec<String> = s.query_map([u], |r| r.get(0))?.collect::<Result<_, _>>()?;
        assert_eq!(names.len(), 20);
    }
    let perm = t.elapsed();
    Ok((create, rotate, perm))
}
