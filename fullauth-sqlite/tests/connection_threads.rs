//! The connection threads: a cancelled call or a dropped transaction leaves
//! the store usable and consistent, blocking work stays off the runtime's
//! threads, and a temporary database disappears with its store.

use std::time::Duration;

use fullauth_api::{DurableStore, Features, NewUser, UserStore};
use fullauth_sqlite::SqliteStore;

async fn store() -> SqliteStore {
    SqliteStore::builder()
        .busy_timeout(Duration::from_secs(2))
        .migrate(true)
        .open_temporary()
        .await
        .unwrap()
}

#[tokio::test(flavor = "current_thread")]
async fn a_dropped_transaction_rolls_back_and_frees_the_writer() {
    let s = store().await;
    let tx = s.begin().await.unwrap();
    let user = tx
        .create_user(NewUser::new("dropped@example.com").unwrap())
        .await
        .unwrap();
    drop(tx);
    // The writer is free again at once and the transaction's write is gone.
    let other = s
        .create_user(NewUser::new("after@example.com").unwrap())
        .await
        .unwrap();
    assert!(s.get_user(&user.id).await.unwrap().is_none());
    assert!(s.get_user(&other.id).await.unwrap().is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancelled_calls_leave_the_store_consistent() {
    let s = store().await;
    for i in 0..50 {
        // Cancel a write, a read and a whole transaction at various points.
        let write = s.create_user(NewUser::new(format!("c{i}@example.com")).unwrap());
        let _ = tokio::time::timeout(Duration::from_micros(i * 20), write).await;
        let s2 = s.clone();
        let tx_work = async move {
            let tx = s2.begin().await.unwrap();
            tx.create_user(NewUser::new(format!("t{i}@example.com")).unwrap())
                .await
                .unwrap();
            tokio::time::sleep(Duration::from_secs(60)).await;
            tx.commit().await.unwrap();
        };
        let _ = tokio::time::timeout(Duration::from_micros(i * 40), tx_work).await;
        let email: fullauth_api::Email = format!("c{i}@example.com").parse().unwrap();
        let read = s.get_user_by_email(&email);
        let _ = tokio::time::timeout(Duration::from_micros(i * 10), read).await;
    }
    // No cancelled transaction committed, and the writer is usable.
    for i in 0..50 {
        let email = format!("t{i}@example.com").parse().unwrap();
        assert!(s.get_user_by_email(&email).await.unwrap().is_none());
    }
    s.create_user(NewUser::new("last@example.com").unwrap())
        .await
        .unwrap();
}

#[tokio::test(flavor = "current_thread")]
async fn writing_beside_an_open_transaction_is_unavailable_not_a_hang() {
    let s = SqliteStore::open_temporary(
        SqliteStore::builder().busy_timeout(Duration::from_millis(200)),
    )
    .await
    .unwrap();
    s.migrator().apply(Features::all()).await.unwrap();
    let tx = s.begin().await.unwrap();
    let err = s
        .create_user(NewUser::new("beside@example.com").unwrap())
        .await
        .unwrap_err();
    assert!(
        matches!(err, fullauth_api::StoreError::Unavailable { .. }),
        "{err:?}"
    );
    assert!(err.is_retryable() && !err.is_contention());
    assert_eq!(err.context().backend(), Some("sqlite"));
    assert_eq!(err.context().operation(), Some("create_user"));
    tx.rollback().await.unwrap();
}

#[tokio::test(flavor = "current_thread")]
async fn sqlite_runs_on_the_connection_threads() {
    let s = store().await;
    let here = std::thread::current().id();
    let there = s
        .with_connection(|_| Ok(std::thread::current().name().map(str::to_owned)))
        .await
        .unwrap();
    assert_eq!(there.as_deref(), Some("fullauth-sqlite-writer"));
    assert_ne!(
        s.with_connection(|_| Ok(std::thread::current().id()))
            .await
            .unwrap(),
        here
    );
}

#[tokio::test(flavor = "current_thread")]
async fn a_temporary_database_is_deleted_with_its_store() {
    let s = store().await;
    s.create_user(NewUser::new("gone@example.com").unwrap())
        .await
        .unwrap();
    let path = s.path().to_path_buf();
    assert!(path.exists());
    let clone = s.clone();
    drop(s);
    assert!(path.exists());
    drop(clone);
    assert!(!path.exists());
}

#[test]
fn a_store_outlives_the_runtime_that_opened_it() {
    let s = tokio::runtime::Runtime::new().unwrap().block_on(store());
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        s.create_user(NewUser::new("later@example.com").unwrap())
            .await
            .unwrap();
    });
    let tx = rt.block_on(s.begin()).unwrap();
    // Dropped outside any runtime: the rollback is queued, never blocks.
    drop(tx);
    rt.block_on(async {
        s.create_user(NewUser::new("after-drop@example.com").unwrap())
            .await
            .unwrap();
    });
}
