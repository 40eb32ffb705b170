//! How database failures surface: a missing table is `NotMigrated` naming
//! the feature, a deadlock is `Contention`, and a transaction a failed
//! statement aborted answers `TransactionFinished` afterwards (commit
//! included) instead of committing nothing silently. Every error names the
//! backend and the operation.

mod common;

use std::time::Duration;

use fullauth_api::{
    BlacklistStore, DurableStore, Feature, Features, NewUser, StateKey, StoreError, UserStore,
};
use fullauth_postgres::PgStore;

fn email() -> String {
    format!("err-{}@example.test", uuid::Uuid::new_v4().simple())
}

#[tokio::test]
async fn a_missing_table_is_not_migrated_with_its_feature() {
    let Some(url) = common::database_url() else {
        return;
    };
    let pool = common::pool(&url, 2).await;
    let schema = common::fresh_schema_name();
    // Nothing migrated (the schema does not even exist).
    let store = PgStore::builder()
        .schema(schema.clone())
        .features(Features::all())
        .from_pool(pool.clone())
        .unwrap();
    let e = store
        .create_user(NewUser::new(email()).unwrap())
        .await
        .unwrap_err();
    assert!(
        matches!(
            e,
            StoreError::NotMigrated {
                feature: Some(Feature::Core),
                ..
            }
        ),
        "{e:?}"
    );
    assert_eq!(e.context().backend(), Some("postgres"));
    assert_eq!(e.context().operation(), Some("create_user"));
    let e = store
        .is_blacklisted(&StateKey::new("k").unwrap())
        .await
        .unwrap_err();
    assert!(
        matches!(
            e,
            StoreError::NotMigrated {
                feature: Some(Feature::Blacklist),
                ..
            }
        ),
        "{e:?}"
    );
    // After migrating, the same store works (the user columns are
    // discovered then, not when it was built).
    store.migrate().await.unwrap();
    let u = store
        .create_user(NewUser::new(email()).unwrap())
        .await
        .unwrap();
    assert_eq!(store.get_user(&u.id).await.unwrap(), Some(u));
    let _ = common::drop_schema(&pool, &schema).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deadlock_is_contention_and_ends_the_transaction() {
    let Some(url) = common::database_url() else {
        return;
    };
    let schema = common::shared_schema(&url);
    let store = common::store(&url, schema, fullauth_api::Clock::system()).await;
    let a = store
        .create_user(NewUser::new(email()).unwrap())
        .await
        .unwrap();
    let b = store
        .create_user(NewUser::new(email()).unwrap())
        .await
        .unwrap();
    let t1 = store.begin().await.unwrap();
    let t2 = store.begin().await.unwrap();
    t1.mark_verified(&a.id).await.unwrap();
    t2.mark_verified(&b.id).await.unwrap();
    // Each now waits for the other's row: PostgreSQL cancels one of them.
    let (r1, r2) = tokio::join!(
        async {
            tokio::time::sleep(Duration::from_millis(50)).await;
            t1.mark_verified(&b.id).await
        },
        t2.mark_verified(&a.id)
    );
    let (loser, winner, err) = match (r1, r2) {
        (Err(e), Ok(())) => (t1, t2, e),
        (Ok(()), Err(e)) => (t2, t1, e),
        other => panic!("exactly one side of a deadlock fails: {other:?}"),
    };
    assert!(err.is_contention(), "{err:?}");
    assert!(!err.is_retryable(), "retry the transaction, not the call");
    assert_eq!(err.context().operation(), Some("mark_verified"));
    // The aborted transaction is finished: later calls and commit say so.
    let e = loser.get_user(&a.id).await.unwrap_err();
    assert!(matches!(e, StoreError::TransactionFinished { .. }), "{e:?}");
    let e = loser.commit().await.unwrap_err();
    assert!(matches!(e, StoreError::TransactionFinished { .. }), "{e:?}");
    winner.commit().await.unwrap();
}

#[tokio::test]
async fn expected_failures_inside_a_transaction_leave_it_usable() {
    let Some(url) = common::database_url() else {
        return;
    };
    let schema = common::shared_schema(&url);
    let store = common::store(&url, schema, fullauth_api::Clock::system()).await;
    let taken = store
        .create_user(NewUser::new(email()).unwrap())
        .await
        .unwrap();
    let tx = store.begin().await.unwrap();
    // A conflict (savepoint) and a missing row (counted, no statement
    // failed) do not end the transaction.
    let e = tx
        .create_user(NewUser::new(taken.email.as_str()).unwrap())
        .await
        .unwrap_err();
    assert!(matches!(e, StoreError::Conflict { .. }), "{e:?}");
    let e = tx
        .mark_verified(&fullauth_api::UserId::from_uuid(uuid::Uuid::now_v7()))
        .await
        .unwrap_err();
    assert!(matches!(e, StoreError::NotFound { .. }), "{e:?}");
    let u = tx
        .create_user(NewUser::new(email()).unwrap())
        .await
        .unwrap();
    tx.commit().await.unwrap();
    assert_eq!(store.get_user(&u.id).await.unwrap(), Some(u));
}
