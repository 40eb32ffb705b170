//! Where SQLite work runs: a cancelled call or a dropped transaction leaves
//! the store usable and consistent; waiting for another process's lock, the
//! app's own statements and WAL checkpoints stay off the runtime's threads;
//! and a temporary database disappears with its store.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use fullauth_api::{DurableStore, Features, NewUser, UserStore};
use fullauth_sqlite::{SqliteStore, rusqlite};

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
async fn the_apps_statements_run_on_the_blocking_pool() {
    let s = store().await;
    let here = std::thread::current().id();
    let there = s
        .with_connection(|_| Ok(std::thread::current().id()))
        .await
        .unwrap();
    assert_ne!(there, here);
}

/// Counts the ticks of a 5 ms interval on the runtime until `stop`.
fn ticker(stop: Arc<AtomicBool>) -> tokio::task::JoinHandle<u32> {
    tokio::spawn(async move {
        let mut ticks = 0;
        let mut every = tokio::time::interval(Duration::from_millis(5));
        // Ticks missed while the thread was blocked are not made up for.
        every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        while !stop.load(Ordering::Relaxed) {
            every.tick().await;
            ticks += 1;
        }
        ticks
    })
}

#[tokio::test(flavor = "current_thread")]
async fn waiting_for_another_process_never_blocks_the_runtime() {
    let s = store().await;
    let u = s
        .create_user(NewUser::new("before@example.com").unwrap())
        .await
        .unwrap();
    // Another connection (as another process would) holds the write lock
    // for 300 ms.
    let path = s.path().to_path_buf();
    let (locked, is_locked) = std::sync::mpsc::channel();
    let other = std::thread::spawn(move || {
        let c = rusqlite::Connection::open(path).unwrap();
        c.execute_batch("BEGIN IMMEDIATE; UPDATE fullauth_users SET is_verified = 1")
            .unwrap();
        locked.send(()).unwrap();
        std::thread::sleep(Duration::from_millis(300));
        c.execute_batch("COMMIT").unwrap();
    });
    is_locked.recv().unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let ticks = ticker(stop.clone());
    // Reads go on beside the other writer (WAL), on this thread.
    assert!(s.get_user(&u.id).await.unwrap().is_some());
    let started = Instant::now();
    let tx = s.begin().await.unwrap();
    let waited = started.elapsed();
    tx.create_user(NewUser::new("in-tx@example.com").unwrap())
        .await
        .unwrap();
    tx.commit().await.unwrap();
    s.create_user(NewUser::new("after@example.com").unwrap())
        .await
        .unwrap();
    stop.store(true, Ordering::Relaxed);
    let ticks = ticks.await.unwrap();
    other.join().unwrap();
    assert!(waited >= Duration::from_millis(200), "{waited:?}");
    // The runtime's only thread kept serving the ticker while the store
    // waited for the lock (about 60 ticks in 300 ms; 0 had it blocked).
    assert!(
        ticks >= 20,
        "{ticks} ticks while the store waited {waited:?}"
    );
    // The other writer's update and ours are both there.
    assert!(s.get_user(&u.id).await.unwrap().unwrap().is_verified);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_wal_is_checkpointed_while_writes_go_on() {
    let s = store().await;
    let wal = {
        let mut p = s.path().as_os_str().to_owned();
        p.push("-wal");
        std::path::PathBuf::from(p)
    };
    let mut largest = 0;
    for i in 0..4_000 {
        s.create_user(NewUser::new(format!("w{i}@example.com")).unwrap())
            .await
            .unwrap();
        if i % 100 == 0 {
            largest = largest.max(std::fs::metadata(&wal).map(|m| m.len()).unwrap_or(0));
        }
    }
    let page: i64 = s
        .with_connection(|c| c.query_row("PRAGMA page_size", [], |r| r.get(0)))
        .await
        .unwrap();
    let page = page as u64;
    // Every create adds a few pages to the WAL (about 10 000 pages for all
    // of them); checkpoints start it over once it passes 1 000.
    assert!(
        largest <= 1_500 * (page + 24),
        "the WAL grew to {largest} bytes ({} pages)",
        largest / page
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
    // Dropped outside any runtime: rolled back in place.
    drop(tx);
    rt.block_on(async {
        s.create_user(NewUser::new("after-drop@example.com").unwrap())
            .await
            .unwrap();
    });
}
