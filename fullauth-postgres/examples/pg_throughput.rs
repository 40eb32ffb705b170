//! A quick throughput measurement: operations per second for create user,
//! rotate and permission lookup, at concurrency 1 and 16, against
//! `FULLAUTH_TEST_DATABASE_URL` in a schema of its own (dropped at the end).
//!
//! ```text
//! FULLAUTH_TEST_DATABASE_URL=postgres://root@127.0.0.1:5432/test \
//!     cargo run --release -p fullauth-postgres --example pg_throughput
//! ```

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use fullauth_api::{
    FamilyId, NewRefreshToken, NewUser, NextRefreshToken, PermissionName, PermissionStore,
    RefreshTokenStore, RoleName, RoleStore, Rotation, StoreError, TokenDigest, UserStore,
};
use fullauth_postgres::PgStore;

const RUN_FOR: Duration = Duration::from_secs(3);

async fn measure<F, Fut>(label: &str, concurrency: usize, op: F) -> Result<(), StoreError>
where
    F: Fn(usize) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = Result<(), StoreError>> + Send,
{
    let op = Arc::new(op);
    let done = Arc::new(AtomicUsize::new(0));
    let start = Instant::now();
    let mut tasks = Vec::new();
    for worker in 0..concurrency {
        let op = op.clone();
        let done = done.clone();
        tasks.push(tokio::spawn(async move {
            let mut i = 0;
            while start.elapsed() < RUN_FOR {
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
    let n = done.load(Ordering::Relaxed);
    let secs = start.elapsed().as_secs_f64();
    println!(
        "{label:<18} concurrency {concurrency:>2}: {:>8.0} ops/s ({n} ops in {secs:.1} s)",
        n as f64 / secs
    );
    Ok(())
}

#[tokio::main]
async fn main() -> Result<(), StoreError> {
    let Ok(url) = std::env::var("FULLAUTH_TEST_DATABASE_URL") else {
        eprintln!("set FULLAUTH_TEST_DATABASE_URL, e.g. postgres://root@127.0.0.1:5432/test");
        return Ok(());
    };
    let schema = format!(
        "fullauth_measure_{}",
        &uuid::Uuid::new_v4().simple().to_string()[..8]
    );
    let store = Arc::new(
        PgStore::builder()
            .schema(schema.clone())
            .max_connections(16)
            .migrate(true)
            .connect(&url)
            .await?,
    );
    let run = format!("{}", uuid::Uuid::new_v4().simple());

    for c in [1, 16] {
        let s = store.clone();
        let run = run.clone();
        measure("create_user", c, move |i| {
            let s = s.clone();
            let email = format!("m-{run}-{c}-{i}@example.test");
            async move { s.create_user(NewUser::new(email)?).await.map(|_| ()) }
        })
        .await?;
    }

    // Rotation: each worker rotates its own chain of tokens.
    let user = store
        .create_user(NewUser::new(format!("rot-{run}@example.test"))?)
        .await?;
    for c in [1, 16] {
        let mut heads = Vec::new();
        for _ in 0..c {
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
        let heads = Arc::new(heads);
        let s = store.clone();
        measure("rotate", c, move |i| {
            let s = s.clone();
            let heads = heads.clone();
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
        })
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
    for c in [1, 16] {
        let s = store.clone();
        let id = u.id;
        measure("user_permissions", c, move |_| {
            let s = s.clone();
            async move { s.get_user_permissions(&id).await.map(|_| ()) }
        })
        .await?;
    }

    let drop = format!("DROP SCHEMA \"{schema}\" CASCADE");
    fullauth_postgres::sqlx::raw_sql(fullauth_postgres::sqlx::AssertSqlSafe(drop))
        .execute(store.pool())
        .await
        .map_err(|e| StoreError::backend("drop the schema", e))?;
    Ok(())
}
