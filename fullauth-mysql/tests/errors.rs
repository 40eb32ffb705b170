//! How a store meets a database keyed by another type than it was opened
//! for. A database a fastapi-fullauth app declared with `UserSchema[int]`
//! made (`int(11) AUTO_INCREMENT`) is served when the key type is left to
//! the catalog, and refused, naming both key types, when the store was
//! opened for UUID keys: by `connect`, and on the app's pool by the first
//! operation on users, before anything is written. A `UserSchema[str]`
//! database (`varchar(36)`) is refused either way, and so is a store asked
//! for text keys.

mod common;

use fullauth_api::{Features, NewUser, StoreError, StoreInfo, UserId, UserIdType, UserStore};
use fullauth_mysql::MySqlStore;
use fullauth_mysql::sqlx::{self, MySqlPool};

/// A fresh database holding a `fullauth_users` whose `id` is declared
/// `key`, with one row the app wrote (id 7), and a pool on it.
async fn app_database(admin: &MySqlPool, url: &str, key: &str) -> (String, MySqlPool) {
    let database = common::fresh_database_name();
    common::create_database(admin, &database)
        .await
        .expect("create a database");
    let pool = common::database_pool(url, &database, 1).await;
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
        "CREATE TABLE fullauth_users (
            id {key},
            email VARCHAR(320) NOT NULL,
            hashed_password TEXT,
            is_active BOOL NOT NULL,
            is_verified BOOL NOT NULL,
            is_superuser BOOL NOT NULL,
            created_at DATETIME NOT NULL,
            PRIMARY KEY (id)
        );
        INSERT INTO fullauth_users (id, email, is_active, is_verified, is_superuser,
            created_at) VALUES ('7', 'seven@example.com', 1, 0, 0, NOW())"
    )))
    .execute(&pool)
    .await
    .expect("the app's table");
    (database, pool)
}

async fn rows(pool: &MySqlPool) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM fullauth_users")
        .fetch_one(pool)
        .await
        .expect("count")
}

#[tokio::test]
async fn an_integer_keyed_database_is_served_unless_opened_for_uuid_keys() {
    let Some(url) = common::database_url() else {
        return;
    };
    let admin = common::pool(&url, 2).await;
    let (database, pool) = app_database(&admin, &url, "INTEGER NOT NULL AUTO_INCREMENT").await;

    // Opened for UUID keys: refused at connect, naming both types ...
    let e = MySqlStore::builder()
        .database(database.clone())
        .features(Features::durable())
        .user_id_type(UserIdType::Uuid)
        .connect(&url)
        .await
        .unwrap_err();
    let text = e.to_string();
    assert!(matches!(e, StoreError::Backend { .. }), "{e:?}");
    assert!(text.contains("user ids are integer"), "{text}");
    assert!(text.contains("opened for UUID user ids"), "{text}");
    assert!(text.contains("int(11)"), "{text}");
    // ... and on the app's pool (UUID unless set) by the first operation
    // on users, before anything is written.
    let store = MySqlStore::builder()
        .database(database.clone())
        .features(Features::durable())
        .from_pool(pool.clone())
        .unwrap();
    assert_eq!(store.user_id_type(), UserIdType::Uuid);
    let e = store
        .create_user(NewUser::new("eight@example.com").unwrap())
        .await
        .unwrap_err();
    let text = e.to_string();
    assert!(text.contains("user ids are integer"), "{text}");
    assert!(text.contains("opened for UUID user ids"), "{text}");
    assert_eq!(rows(&pool).await, 1, "nothing written");

    // Left to the catalog: served, with the app's own row readable.
    let store = MySqlStore::builder()
        .database(database.clone())
        .features(Features::durable())
        .connect(&url)
        .await
        .unwrap();
    assert_eq!(store.user_id_type(), UserIdType::Int);
    let seven = store
        .get_user(&UserId::from_int(7))
        .await
        .unwrap()
        .expect("the app's user 7");
    assert_eq!(seven.id, UserId::from_int(7));
    assert_eq!(seven.email.as_str(), "seven@example.com");
    let by_email = store
        .get_user_by_email(&seven.email)
        .await
        .unwrap()
        .expect("found by email");
    assert_eq!(by_email.id, UserId::from_int(7));
    // A UUID is refused before the backend runs, and an id in range that
    // names no user reads as none (the column is 32-bit, the id 64).
    assert!(matches!(
        store.get_user(&UserId::generate()).await,
        Err(StoreError::InvalidInput { .. })
    ));
    assert_eq!(store.get_user(&UserId::from_int(8)).await.unwrap(), None);
    assert_eq!(
        store.get_user(&UserId::from_int(i64::MAX)).await.unwrap(),
        None
    );
    // New users are numbered by the AUTO_INCREMENT column.
    let eight = store
        .create_user(NewUser::new("eight@example.com").unwrap())
        .await
        .unwrap();
    assert_eq!(eight.id, UserId::from_int(8));
    // Opened for integer keys, and on the app's pool: served too.
    let on_pool = MySqlStore::builder()
        .database(database.clone())
        .features(Features::durable())
        .user_id_type(UserIdType::Int)
        .from_pool(pool.clone())
        .unwrap();
    assert_eq!(on_pool.user_id_type(), UserIdType::Int);
    assert_eq!(
        on_pool.get_user(&UserId::from_int(8)).await.unwrap(),
        Some(eight)
    );
    store.pool().close().await;
    pool.close().await;
    let _ = common::drop_database(&admin, &database).await;
}

#[tokio::test]
async fn text_keys_are_refused() {
    let Some(url) = common::database_url() else {
        return;
    };
    // Asked for: refused before any I/O.
    let e = MySqlStore::builder()
        .database("any")
        .user_id_type(UserIdType::Text)
        .connect("mysql://nobody@127.0.0.1:1/any")
        .await
        .unwrap_err();
    match &e {
        StoreError::InvalidInput { field, reason, .. } => {
            assert_eq!(*field, "user_id_type");
            assert!(reason.contains("VARCHAR requires a length"), "{reason}");
        }
        other => panic!("expected InvalidInput, got {other:?}"),
    }
    let admin = common::pool(&url, 2).await;
    let (database, pool) = app_database(&admin, &url, "VARCHAR(36) NOT NULL").await;
    // Found in the catalog: refused at connect, naming both types ...
    let e = MySqlStore::builder()
        .database(database.clone())
        .features(Features::durable())
        .connect(&url)
        .await
        .unwrap_err();
    let text = e.to_string();
    assert!(text.contains("user ids are text"), "{text}");
    // ... and on the app's pool by the first operation on users.
    let store = MySqlStore::builder()
        .database(database.clone())
        .features(Features::durable())
        .from_pool(pool.clone())
        .unwrap();
    let e = store
        .create_user(NewUser::new("eight@example.com").unwrap())
        .await
        .unwrap_err();
    let text = e.to_string();
    assert!(text.contains("user ids are text"), "{text}");
    assert!(text.contains("opened for UUID user ids"), "{text}");
    assert_eq!(rows(&pool).await, 1, "nothing written");
    pool.close().await;
    let _ = common::drop_database(&admin, &database).await;
}
