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
use fullauth_postgres::sqlx;

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

/// `fullauth_users` as fastapi-fullauth 0.18's SQLAlchemy models create it
/// for an app declared with `UserSchema[int]` (`id SERIAL`) and
/// `UserSchema[str]` (`id VARCHAR`), the key column's type being `{key}`.
const NON_UUID_USERS: &str = "CREATE TABLE {s}.fullauth_users (
    id {key} NOT NULL,
    email VARCHAR(320) NOT NULL,
    hashed_password TEXT,
    is_active BOOLEAN NOT NULL,
    is_verified BOOLEAN NOT NULL,
    is_superuser BOOLEAN NOT NULL,
    created_at TIMESTAMP WITH TIME ZONE NOT NULL,
    PRIMARY KEY (id)
)";

#[tokio::test]
async fn an_integer_or_text_keyed_database_is_refused_naming_both_key_types() {
    let Some(url) = common::database_url() else {
        return;
    };
    let pool = common::pool(&url, 2).await;
    for (key, found) in [("SERIAL", "integer"), ("VARCHAR", "text")] {
        let schema = common::fresh_schema_name();
        let ddl = NON_UUID_USERS
            .replace("{s}", &format!("\"{schema}\""))
            .replace("{key}", key);
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
            "CREATE SCHEMA \"{schema}\"; {ddl}; \
             INSERT INTO \"{schema}\".fullauth_users (id, email, is_active, is_verified, \
             is_superuser, created_at) VALUES ('7', 'seven@example.com', true, false, false, now())"
        )))
        .execute(&pool)
        .await
        .unwrap();
        // Refused when the store connects ...
        let e = PgStore::builder()
            .schema(schema.clone())
            .features(Features::durable())
            .connect(&url)
            .await
            .unwrap_err();
        assert!(
            e.to_string().contains(&format!("user ids are {found}")),
            "{e}"
        );
        // ... and on the app's pool, by the first operation on users.
        let store = PgStore::builder()
            .schema(schema.clone())
            .features(Features::durable())
            .from_pool(pool.clone())
            .unwrap();
        let email = "seven@example.com".parse().unwrap();
        let e = store.get_user_by_email(&email).await.unwrap_err();
        let text = e.to_string();
        assert!(matches!(e, StoreError::Backend { .. }), "{e:?}");
        assert!(text.contains(&format!("user ids are {found}")), "{text}");
        assert!(text.contains("opened for UUID user ids"), "{text}");
        assert_eq!(e.context().operation(), Some("get_user_by_email"));
        // Nothing was written into the app's table either.
        let e = store
            .create_user(NewUser::new(email.as_str()).unwrap())
            .await
            .unwrap_err();
        assert!(e.to_string().contains(found), "{e}");
        let rows: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "SELECT count(*) FROM \"{schema}\".fullauth_users"
        )))
        .fetch_one(&pool)
        .await
        .unwrap();
        assert_eq!(rows, 1);
        let _ = common::drop_schema(&pool, &schema).await;
    }
}
