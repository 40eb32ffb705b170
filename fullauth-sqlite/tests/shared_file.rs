//! Two stores on one database file (as two processes would be): the
//! compare-and-set steps stay exact across connections, writes wait on the
//! busy timeout instead of failing, and a lock held past it is
//! `Contention`.

use std::time::Duration;

use fullauth_api::{
    DurableStore, FamilyId, NewRefreshToken, NewUser, NextRefreshToken, RefreshTokenStore,
    Rotation, StoreError, Timestamp, TokenDigest, UserStore,
};
use fullauth_sqlite::SqliteStore;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn rotation_races_across_two_stores_have_one_winner() {
    let a = SqliteStore::builder()
        .migrate(true)
        .open_temporary()
        .await
        .unwrap();
    let b = SqliteStore::connect(&a.path().display().to_string())
        .await
        .unwrap();
    let user = a
        .create_user(NewUser::new("two@example.com").unwrap())
        .await
        .unwrap();
    for round in 0..20 {
        let old = TokenDigest::of(&format!("old-{round}"));
        a.store_refresh_token(NewRefreshToken {
            digest: old.clone(),
            user_id: user.id.clone(),
            family_id: FamilyId::generate(),
            expires_at: Timestamp::now() + Duration::from_secs(600),
            client: Default::default(),
        })
        .await
        .unwrap();
        let mut tasks = Vec::new();
        for i in 0..8 {
            let store = if i % 2 == 0 { a.clone() } else { b.clone() };
            let old = old.clone();
            tasks.push(tokio::spawn(async move {
                store
                    .rotate_refresh_token(
                        &old,
                        NextRefreshToken {
                            digest: TokenDigest::of(&format!("next-{round}-{i}")),
                            expires_at: Timestamp::now() + Duration::from_secs(600),
                            client: Default::default(),
                        },
                    )
                    .await
                    .unwrap()
            }));
        }
        let mut rotated = 0;
        for t in tasks {
            match t.await.unwrap() {
                Rotation::Rotated(_) => rotated += 1,
                Rotation::Reused { .. } => {}
                other @ (Rotation::Expired | Rotation::NotFound) => panic!("unexpected {other:?}"),
            }
        }
        assert_eq!(rotated, 1, "round {round}");
    }
    // Every token of every family ends revoked (the losers detected reuse).
    assert!(b.list_sessions(&user.id).await.unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_locked_past_the_busy_timeout_is_contention() {
    let a = SqliteStore::builder()
        .migrate(true)
        .open_temporary()
        .await
        .unwrap();
    let b = SqliteStore::builder()
        .busy_timeout(Duration::from_millis(100))
        .connect(&format!("sqlite://{}", a.path().display()))
        .await
        .unwrap();
    // `a`'s transaction holds the file's write lock (BEGIN IMMEDIATE).
    let tx = a.begin().await.unwrap();
    tx.create_user(NewUser::new("holder@example.com").unwrap())
        .await
        .unwrap();
    let err = b
        .create_user(NewUser::new("waiter@example.com").unwrap())
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Contention { .. }), "{err:?}");
    assert!(err.is_contention() && !err.is_retryable());
    assert_eq!(err.context().operation(), Some("create_user"));
    tx.rollback().await.unwrap();
    // Retried once the lock is gone, it succeeds.
    b.create_user(NewUser::new("waiter@example.com").unwrap())
        .await
        .unwrap();
}
