//! How database failures surface: a missing table is `NotMigrated` naming
//! the feature, a deadlock is `Contention`, and a transaction a failed
//! statement aborted answers `TransactionFinished` afterwards (commit
//! included) instead of committing nothing silently. Every error names the
//! backend and the operation. A database whose users are keyed by another
//! type than the store's is refused naming both types, and served by a
//! store of its key type.

mod common;

use std::time::Duration;

use fullauth_api::{
    BlacklistStore, DurableStore, Feature, Features, NewUser, StateKey, StoreError, StoreInfo,
    UserId, UserIdType, UserStore,
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

/// Creates `schema` with [`NON_UUID_USERS`] (key column type `key`) and the
/// app's user 7 (`seven@example.com`), as the Python app would.
async fn non_uuid_database(pool: &sqlx::PgPool, schema: &str, key: &str) {
    let ddl = NON_UUID_USERS
        .replace("{s}", &format!("\"{schema}\""))
        .replace("{key}", key);
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
        "CREATE SCHEMA \"{schema}\"; {ddl}; \
         INSERT INTO \"{schema}\".fullauth_users (id, email, is_active, is_verified, \
         is_superuser, created_at) VALUES ('7', 'seven@example.com', true, false, false, now())"
    )))
    .execute(pool)
    .await
    .unwrap();
}

/// The rows of `schema`'s `fullauth_users`.
async fn user_rows(pool: &sqlx::PgPool, schema: &str) -> i64 {
    sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
        "SELECT count(*) FROM \"{schema}\".fullauth_users"
    )))
    .fetch_one(pool)
    .await
    .unwrap()
}

/// A store set for another key type than the database's is refused, the
/// error naming both types: by `connect`, and on the app's pool by the
/// first operation on users, before anything is written.
#[tokio::test]
async fn a_database_of_another_key_type_is_refused_naming_both_key_types() {
    let Some(url) = common::database_url() else {
        return;
    };
    let pool = common::pool(&url, 2).await;
    for (column, key, found) in [
        ("SERIAL", UserIdType::Int, "integer"),
        ("VARCHAR", UserIdType::Text, "text"),
    ] {
        let schema = common::fresh_schema_name();
        non_uuid_database(&pool, &schema, column).await;
        for configured in UserIdType::ALL.into_iter().filter(|t| *t != key) {
            let opened_for = format!("opened for {} user ids", configured.describe());
            // Refused when the store connects ...
            let e = PgStore::builder()
                .schema(schema.clone())
                .features(Features::durable())
                .user_id_type(configured)
                .connect(&url)
                .await
                .unwrap_err();
            let text = e.to_string();
            assert!(matches!(e, StoreError::Backend { .. }), "{e:?}");
            assert!(text.contains(&format!("user ids are {found}")), "{text}");
            assert!(text.contains(&opened_for), "{text}");
            // ... also when it would migrate ...
            let e = PgStore::builder()
                .schema(schema.clone())
                .features(Features::durable())
                .user_id_type(configured)
                .migrate(true)
                .connect(&url)
                .await
                .unwrap_err();
            assert!(e.to_string().contains(&opened_for), "{e}");
            // ... and on the app's pool (UUID unless set), by the first
            // operation on users.
            let builder = PgStore::builder()
                .schema(schema.clone())
                .features(Features::durable());
            let builder = match configured {
                UserIdType::Uuid => builder,
                other => builder.user_id_type(other),
            };
            let store = builder.from_pool(pool.clone()).unwrap();
            assert_eq!(store.user_id_type(), configured);
            let email = "seven@example.com".parse().unwrap();
            let e = store.get_user_by_email(&email).await.unwrap_err();
            let text = e.to_string();
            assert!(matches!(e, StoreError::Backend { .. }), "{e:?}");
            assert!(text.contains(&format!("user ids are {found}")), "{text}");
            assert!(text.contains(&opened_for), "{text}");
            assert_eq!(e.context().operation(), Some("get_user_by_email"));
            // Nothing was written into the app's table either.
            let e = store
                .create_user(NewUser::new("eight@example.com").unwrap())
                .await
                .unwrap_err();
            assert!(e.to_string().contains(&opened_for), "{e}");
            // Nor does migrating add tables (the app's table is not
            // recorded: `apply` refuses it, see the next test for a
            // recorded one).
            assert!(store.migrate().await.is_err());
            assert_eq!(user_rows(&pool, &schema).await, 1);
            let tables: i64 = sqlx::query_scalar(
                "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
                 WHERE n.nspname = $1 AND c.relkind = 'r'",
            )
            .bind(&schema)
            .fetch_one(&pool)
            .await
            .unwrap();
            assert_eq!(tables, 1, "only the app's fullauth_users");
        }
        let _ = common::drop_schema(&pool, &schema).await;
    }
}

/// The same databases are served by a store with nothing set (`connect`
/// reads the key type from the catalog) and by one set for their key type
/// (on the app's pool too): the app's row by its id, new users numbered by
/// the `SERIAL` column or given a generated text key, ids of another type
/// refused with `InvalidInput`.
#[tokio::test]
async fn an_integer_or_text_keyed_database_is_served_for_its_key_type() {
    let Some(url) = common::database_url() else {
        return;
    };
    let pool = common::pool(&url, 2).await;
    for (column, key, seven) in [
        ("SERIAL", UserIdType::Int, UserId::from_int(7)),
        ("VARCHAR", UserIdType::Text, UserId::from_text("7")),
    ] {
        let schema = common::fresh_schema_name();
        non_uuid_database(&pool, &schema, column).await;
        let discovered = PgStore::builder()
            .schema(schema.clone())
            .features(Features::durable())
            .connect(&url)
            .await
            .unwrap();
        let set = PgStore::builder()
            .schema(schema.clone())
            .features(Features::durable())
            .user_id_type(key)
            .from_pool(pool.clone())
            .unwrap();
        for store in [&discovered, &set] {
            assert_eq!(store.user_id_type(), key);
            let app = store
                .get_user(&seven)
                .await
                .unwrap()
                .expect("the app's user");
            assert_eq!(app.id, seven);
            assert_eq!(app.email.as_str(), "seven@example.com");
            let by_email = store
                .get_user_by_email(&"seven@example.com".parse().unwrap())
                .await
                .unwrap();
            assert_eq!(by_email, Some(app.clone()));
            // The id's text form (a JWT `sub`) parses back with the store's type.
            assert_eq!(
                store.user_id_type().parse(&seven.to_string()).unwrap(),
                seven
            );
            // An id of another type is refused before any SQL runs.
            let e = store.get_user(&UserId::generate()).await.unwrap_err();
            assert!(
                matches!(&e, StoreError::InvalidInput { field, .. } if *field == "user_id"),
                "{e:?}"
            );
            // Absent ids of the right type, an integer beyond the 32-bit
            // column included, name no one.
            let ghost = match key {
                UserIdType::Int => UserId::from_int(i64::from(i32::MAX) + 1),
                _ => UserId::from_text("8"),
            };
            assert_eq!(store.get_user(&ghost).await.unwrap(), None);
            let e = store.mark_verified(&ghost).await.unwrap_err();
            assert!(matches!(e, StoreError::NotFound { .. }), "{e:?}");
            assert!(!store.delete_user(&ghost).await.unwrap());
        }
        let a = discovered
            .create_user(NewUser::new(email()).unwrap())
            .await
            .unwrap();
        let b = set
            .create_user(NewUser::new(email()).unwrap())
            .await
            .unwrap();
        for u in [&a, &b] {
            assert_eq!(u.id.id_type(), key);
            assert_ne!(u.id, seven);
            assert_eq!(set.get_user(&u.id).await.unwrap().as_ref(), Some(u));
        }
        match key {
            UserIdType::Int => {
                // Numbered by the SERIAL column (its sequence ignores the app's 7).
                assert_eq!((a.id.as_int(), b.id.as_int()), (Some(1), Some(2)));
            }
            _ => {
                let text = a.id.as_text().unwrap();
                assert!(text.len() == 32 && text.bytes().all(|c| c.is_ascii_hexdigit()));
                let mut given = NewUser::new(email()).unwrap();
                given.id = Some(UserId::from_text("seven's friend"));
                let c = set.create_user(given).await.unwrap();
                assert_eq!(c.id, UserId::from_text("seven's friend"));
                let mut taken = NewUser::new(email()).unwrap();
                taken.id = Some(seven.clone());
                let e = set.create_user(taken).await.unwrap_err();
                assert!(e.is_conflict(fullauth_api::ConflictKind::UserId), "{e:?}");
            }
        }
        assert!(set.delete_user(&seven).await.unwrap());
        let _ = common::drop_schema(&pool, &schema).await;
    }
}

/// A database migrated for integer keys, some features still to apply: a
/// migrator of another key type refuses to add its tables (they could not
/// even take their foreign keys), naming both types; the migrator of its
/// key type adds them.
#[tokio::test]
async fn applying_migrations_of_another_key_type_is_refused() {
    let Some(url) = common::database_url() else {
        return;
    };
    let pool = common::pool(&url, 2).await;
    let schema = common::fresh_schema_name();
    let core = Features::from(Feature::Core);
    let int = fullauth_postgres::PgMigrator::new(pool.clone(), schema.clone())
        .unwrap()
        .user_id_type(UserIdType::Int);
    int.apply(core).await.unwrap();
    let durable = Features::durable();
    for other in [UserIdType::Uuid, UserIdType::Text] {
        let e = fullauth_postgres::PgMigrator::new(pool.clone(), schema.clone())
            .unwrap()
            .user_id_type(other)
            .apply(durable)
            .await
            .unwrap_err();
        let text = e.to_string();
        assert!(text.contains("user ids are integer"), "{text}");
        assert!(
            text.contains(&format!("opened for {} user ids", other.describe())),
            "{text}"
        );
        // In the app's own transaction too.
        let mut tx = pool.begin().await.unwrap();
        let e = fullauth_postgres::PgMigrations::new(schema.clone())
            .unwrap()
            .user_id_type(other)
            .apply(&mut *tx, durable)
            .await
            .unwrap_err();
        assert!(e.to_string().contains("user ids are integer"), "{e}");
        tx.rollback().await.unwrap();
    }
    assert!(!int.status(durable).await.unwrap().is_up_to_date());
    let applied = int.apply(durable).await.unwrap();
    assert!(
        applied.contains(&"roles_0001_roles".to_string()),
        "{applied:?}"
    );
    assert!(int.status(durable).await.unwrap().is_up_to_date());
    let _ = common::drop_schema(&pool, &schema).await;
}
