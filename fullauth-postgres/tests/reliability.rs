//! Reliability: recovery after the server terminates the pool's
//! connections, no half-written transaction when a connection dies in the
//! middle of one, cancelled operations, and connection failures reported as
//! the retryable `Unavailable`.

mod common;

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use fullauth_api::{
    DurableStore, Features, NewRefreshToken, NewUser, NextRefreshToken, RefreshTokenStore,
    Rotation, StoreError, TokenDigest, UserStore,
};
use fullauth_postgres::PgStore;
use fullauth_postgres::sqlx::{self, PgPool};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};

fn email() -> String {
    format!("rel-{}@example.test", uuid::Uuid::new_v4().simple())
}

/// Where a store takes its connections: its own (`connect`) or the app's
/// sqlx pool (`from_pool`). Every test here runs on both.
#[derive(Clone, Copy, Debug)]
enum Conns {
    Own,
    AppPool,
}

/// Runs `$body(Conns)` as two tests, one per [`Conns`].
macro_rules! on_both {
    ($($name:ident => $body:ident;)*) => {$(
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn own_connections() {
                super::$body(super::Conns::Own).await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn app_pool() {
                super::$body(super::Conns::AppPool).await;
            }
        }
    )*};
}

on_both! {
    operations_succeed_after_the_server_terminates_the_pool => after_termination;
    a_transaction_cut_off_by_a_dead_connection_leaves_nothing => cut_transaction;
    a_dropped_transaction_and_a_cancelled_call_leave_nothing => dropped_transaction;
}

/// A store on the shared schema whose connections carry a unique
/// application name, and the name.
async fn store_with_own_name(url: &str, max: u32, conns: Conns) -> (PgStore, String) {
    let schema = common::shared_schema(url);
    let name = format!(
        "fullauth_kill_{}",
        &uuid::Uuid::new_v4().simple().to_string()[..12]
    );
    if let Conns::Own = conns {
        let store = PgStore::builder()
            .schema(schema)
            .features(Features::all())
            .max_connections(max)
            .application_name(&name)
            .connect(url)
            .await
            .unwrap();
        return (store, name);
    }
    let options = PgConnectOptions::from_str(url)
        .unwrap()
        .application_name(&name);
    let pool = PgPoolOptions::new()
        .max_connections(max)
        .test_before_acquire(false)
        .connect_with(options)
        .await
        .unwrap();
    let store = PgStore::builder()
        .schema(schema)
        .features(Features::all())
        .from_pool(pool)
        .unwrap();
    (store, name)
}

/// Terminates every connection with this application name; returns how many.
async fn kill(admin: &PgPool, name: &str) -> i64 {
    let killed: Vec<bool> = sqlx::query_scalar(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
         WHERE datname = current_database() AND pid <> pg_backend_pid() AND application_name = $1",
    )
    .bind(name)
    .fetch_all(admin)
    .await
    .unwrap();
    // Give the backends a moment to exit.
    tokio::time::sleep(Duration::from_millis(100)).await;
    killed.len() as i64
}

async fn warm(store: &PgStore, n: usize) {
    // Open several connections so the pool holds idle ones to be killed.
    let mut tasks = Vec::new();
    for _ in 0..n {
        let s = store.clone();
        tasks.push(tokio::spawn(async move {
            s.get_user_by_email(&fullauth_api::Email::new(email()).unwrap())
                .await
                .unwrap();
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
}

async fn after_termination(conns: Conns) {
    let Some(url) = common::database_url() else {
        return;
    };
    let admin = common::pool(&url, 1).await;
    let (store, name) = store_with_own_name(&url, 4, conns).await;
    warm(&store, 4).await;
    let u = store
        .create_user(NewUser::new(email()).unwrap())
        .await
        .unwrap();
    let digest = TokenDigest::of(&uuid::Uuid::new_v4().to_string());
    store
        .store_refresh_token(NewRefreshToken {
            digest: digest.clone(),
            user_id: u.id.clone(),
            family_id: fullauth_api::FamilyId::generate(),
            expires_at: store.clock().now() + Duration::from_secs(600),
            client: Default::default(),
        })
        .await
        .unwrap();

    assert!(
        kill(&admin, &name).await >= 1,
        "the pool's connections were found"
    );
    // A read on a dead pooled connection is retried on a fresh one.
    assert_eq!(store.get_user(&u.id).await.unwrap(), Some(u.clone()));

    assert!(kill(&admin, &name).await >= 1);
    // A write the server refused because it terminated the session did not
    // run, so it is retried too; it succeeds exactly once.
    let next = TokenDigest::of(&uuid::Uuid::new_v4().to_string());
    let r = store
        .rotate_refresh_token(
            &digest,
            NextRefreshToken {
                digest: next.clone(),
                expires_at: store.clock().now() + Duration::from_secs(600),
                client: Default::default(),
            },
        )
        .await
        .unwrap();
    assert!(matches!(r, Rotation::Rotated(_)), "got {r:?}");

    assert!(kill(&admin, &name).await >= 1);
    let v = store
        .create_user(NewUser::new(email()).unwrap())
        .await
        .unwrap();
    assert!(store.get_user(&v.id).await.unwrap().is_some());

    // Many operations in parallel after a kill all succeed.
    warm(&store, 4).await;
    assert!(kill(&admin, &name).await >= 1);
    let store = Arc::new(store);
    let mut tasks = Vec::new();
    for _ in 0..16 {
        let s = store.clone();
        tasks.push(tokio::spawn(async move {
            s.create_user(NewUser::new(email()).unwrap()).await
        }));
    }
    for t in tasks {
        t.await
            .unwrap()
            .expect("every create after the kill succeeds");
    }
}

async fn cut_transaction(conns: Conns) {
    let Some(url) = common::database_url() else {
        return;
    };
    let admin = common::pool(&url, 1).await;
    let (store, name) = store_with_own_name(&url, 2, conns).await;
    let tx = store.begin().await.unwrap();
    let a = tx
        .create_user(NewUser::new(email()).unwrap())
        .await
        .unwrap();
    let b = tx
        .create_user(NewUser::new(email()).unwrap())
        .await
        .unwrap();
    assert!(kill(&admin, &name).await >= 1);
    let r = tx.commit().await;
    match r {
        Err(e) => assert!(e.is_retryable(), "a lost connection is Unavailable: {e:?}"),
        Ok(()) => panic!("a commit on a terminated connection cannot succeed"),
    }
    assert_eq!(store.get_user(&a.id).await.unwrap(), None);
    assert_eq!(store.get_user(&b.id).await.unwrap(), None);
}

async fn dropped_transaction(conns: Conns) {
    let Some(url) = common::database_url() else {
        return;
    };
    let (store, _) = store_with_own_name(&url, 2, conns).await;
    let id;
    {
        let tx = store.begin().await.unwrap();
        id = tx
            .create_user(NewUser::new(email()).unwrap())
            .await
            .unwrap()
            .id;
        // dropped without commit
    }
    assert_eq!(store.get_user(&id).await.unwrap(), None);

    // A transaction whose future is cancelled half-way is rolled back too.
    let s = store.clone();
    let e = email();
    let e2 = e.clone();
    let task = tokio::spawn(async move {
        let tx = s.begin().await.unwrap();
        tx.create_user(NewUser::new(e2).unwrap()).await.unwrap();
        tokio::time::sleep(Duration::from_secs(30)).await;
        tx.commit().await
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    task.abort();
    let _ = task.await;
    let email = fullauth_api::Email::new(e).unwrap();
    assert_eq!(store.get_user_by_email(&email).await.unwrap(), None);
    // The pool is still usable afterwards.
    store
        .create_user(NewUser::new(email.as_str()).unwrap())
        .await
        .unwrap();
}

#[tokio::test]
async fn an_unreachable_server_is_unavailable_and_retryable() {
    let r = PgStore::builder()
        .connect_timeout(Duration::from_secs(2))
        .acquire_timeout(Duration::from_secs(2))
        .connect("postgres://nobody@127.0.0.1:1/none")
        .await;
    match r {
        Err(e @ StoreError::Unavailable { .. }) => assert!(e.is_retryable()),
        other => panic!("expected Unavailable, got {other:?}"),
    }
    // A lazy pool (the app's own): building the store does no I/O, and the
    // first operation fails the same way.
    let pool = PgPoolOptions::new()
        .acquire_timeout(Duration::from_secs(2))
        .connect_lazy("postgres://nobody@127.0.0.1:1/none")
        .unwrap();
    let store = PgStore::from_pool(pool);
    let r = store
        .get_user(&fullauth_api::UserId::from_uuid(uuid::Uuid::now_v7()))
        .await;
    assert!(
        matches!(r, Err(StoreError::Unavailable { .. })),
        "got {r:?}"
    );
    let e = r.unwrap_err();
    assert_eq!(e.context().backend(), Some("postgres"));
    assert_eq!(e.context().operation(), Some("get_user"));
}
