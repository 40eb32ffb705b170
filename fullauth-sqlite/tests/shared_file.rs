//! Two stores on one database file (as two processes would be): the
//! compare-and-set steps stay exact across connections, and writes wait on
//! the busy timeout instead of failing.

use std::time::Duration;

use fullauth_api::{
    FamilyId, Features, NewRefreshToken, NewUser, NextRefreshToken, RefreshTokenStore, Rotation,
    Timestamp, TokenDigest, UserStore,
};
use fullauth_sqlite::{SqliteOptions, SqliteStore};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn rotation_races_across_two_stores_have_one_winner() {
    let a = SqliteStore::open_temporary(SqliteOptions::new())
        .await
        .unwrap();
    a.migrator().apply(Features::all()).await.unwrap();
    let b = SqliteStore::open(a.path(), SqliteOptions::new())
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
            user_id: user.id,
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
                other => panic!("unexpected {other:?}"),
            }
        }
        assert_eq!(rotated, 1, "round {round}");
    }
    // Every token of every family ends revoked (the losers detected reuse).
    assert!(b.list_sessions(&user.id).await.unwrap().is_empty());
}
