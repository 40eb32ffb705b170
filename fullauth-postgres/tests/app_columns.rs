//! The application's own columns of `fullauth_users`: discovery, the JSON
//! mapping of PostgreSQL types, casts on write, refusals, and refresh after
//! the app adds a column. Uses the reference fixture's
//! `display_name VARCHAR(100) NOT NULL DEFAULT ''`.

mod common;

use fullauth_api::{Feature, Features, NewUser, StoreError, UserLookup, UserPatch, UserStore};
use fullauth_postgres::PgStore;
use fullauth_postgres::sqlx;
use serde_json::json;

#[tokio::test]
async fn app_columns_round_trip_and_refuse_what_does_not_fit() {
    let Some(url) = common::database_url() else {
        return;
    };
    let pool = common::pool(&url, 2).await;
    let schema = common::fresh_schema_name();
    let store = PgStore::builder()
        .schema(schema.clone())
        .features(Features::durable())
        .from_pool(pool.clone())
        .unwrap();
    store.migrate().await.unwrap();
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
        "ALTER TABLE \"{schema}\".fullauth_users \
           ADD COLUMN display_name VARCHAR(100) NOT NULL DEFAULT '', \
           ADD COLUMN age INTEGER, ADD COLUMN score NUMERIC(10,2), ADD COLUMN vip BOOLEAN, \
           ADD COLUMN seen_at TIMESTAMPTZ, ADD COLUMN tags TEXT[], \
           ADD COLUMN \"CamelCase\" TEXT"
    )))
    .execute(&pool)
    .await
    .unwrap();
    // Not yet discovered; a write naming a new column refreshes the list.
    let u = store
        .create_user(
            NewUser::new("cols@example.test")
                .unwrap()
                .with_extra("display_name", "Ada")
                .unwrap()
                .with_extra("age", 36)
                .unwrap()
                .with_extra("score", 12.5)
                .unwrap()
                .with_extra("vip", true)
                .unwrap()
                .with_extra("seen_at", "2024-05-06T07:08:09.123456Z")
                .unwrap()
                .with_extra("CamelCase", "x")
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(u.extra.get("display_name"), Some(&json!("Ada")));
    assert_eq!(u.extra.get("age"), Some(&json!(36)));
    assert_eq!(u.extra.get("score"), Some(&json!(12.50)));
    assert_eq!(u.extra.get("vip"), Some(&json!(true)));
    assert_eq!(
        u.extra.get("seen_at"),
        Some(&json!("2024-05-06T07:08:09.123456Z"))
    );
    assert_eq!(u.extra.get("tags"), Some(&json!(null)));
    assert_eq!(u.extra.get("CamelCase"), Some(&json!("x")));
    assert_eq!(store.get_user(&u.id).await.unwrap(), Some(u.clone()));

    // Defaults apply to columns not given.
    let d = store
        .create_user(NewUser::new("defaults@example.test").unwrap())
        .await
        .unwrap();
    assert_eq!(d.extra.get("display_name"), Some(&json!("")));

    // 100 characters fit, 101 do not; nothing is written on refusal. A value
    // the database refuses is a Backend error (InvalidInput is only ever
    // fullauth's own validation).
    let hundred = "é".repeat(100);
    let ok = store
        .update_user(
            &u.id,
            UserPatch::new()
                .with_extra("display_name", hundred.clone())
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(ok.extra.get("display_name"), Some(&json!(hundred)));
    let long = store
        .update_user(
            &u.id,
            UserPatch::new()
                .with_extra("display_name", "é".repeat(101))
                .unwrap(),
        )
        .await;
    assert!(matches!(long, Err(StoreError::Backend { .. })), "{long:?}");
    let bad = store
        .update_user(&u.id, UserPatch::new().with_extra("age", "old").unwrap())
        .await;
    assert!(matches!(bad, Err(StoreError::Backend { .. })), "{bad:?}");
    let null = store
        .update_user(
            &u.id,
            UserPatch::new()
                .with_extra("display_name", json!(null))
                .unwrap(),
        )
        .await;
    assert!(
        matches!(null, Err(StoreError::Backend { .. })),
        "NOT NULL: {null:?}"
    );
    assert_eq!(
        store
            .get_user(&u.id)
            .await
            .unwrap()
            .unwrap()
            .extra
            .get("display_name"),
        Some(&json!(hundred))
    );
    let unknown = store
        .update_user(&u.id, UserPatch::new().with_extra("nope", 1).unwrap())
        .await;
    assert!(
        matches!(unknown, Err(StoreError::UnknownField { .. })),
        "{unknown:?}"
    );

    // Lookups cast the value to the column's type.
    let by_age = store
        .get_user_by_field(&UserLookup::parse("age", 36).unwrap())
        .await
        .unwrap();
    assert_eq!(by_age.map(|x| x.id), Some(u.id.clone()));
    let by_vip = store
        .get_user_by_field(&UserLookup::parse("vip", true).unwrap())
        .await
        .unwrap();
    assert_eq!(by_vip.map(|x| x.id), Some(u.id.clone()));

    // Inside a transaction a refused value does not poison it.
    let tx = fullauth_api::DurableStore::begin(&store).await.unwrap();
    let r = tx
        .update_user(&u.id, UserPatch::new().with_extra("age", "x").unwrap())
        .await;
    assert!(r.is_err());
    tx.update_user(&u.id, UserPatch::new().with_extra("age", 37).unwrap())
        .await
        .unwrap();
    tx.commit().await.unwrap();
    assert_eq!(
        store
            .get_user(&u.id)
            .await
            .unwrap()
            .unwrap()
            .extra
            .get("age"),
        Some(&json!(37))
    );
    let _ = common::drop_schema(&pool, &schema).await;
}

/// `get_principal` on a schema migrated for Core alone (no role or
/// permission tables): the statement does not name the missing tables, the
/// lists are empty, and a lookup by an application column finds the user
/// with its columns.
#[tokio::test]
async fn principal_on_a_core_only_schema() {
    let Some(url) = common::database_url() else {
        return;
    };
    let pool = common::pool(&url, 2).await;
    let schema = common::fresh_schema_name();
    let store = PgStore::builder()
        .schema(schema.clone())
        .features(Feature::Core.into())
        .from_pool(pool.clone())
        .unwrap();
    store.migrate().await.unwrap();
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
        "ALTER TABLE \"{schema}\".fullauth_users ADD COLUMN nickname VARCHAR(40)"
    )))
    .execute(&pool)
    .await
    .unwrap();
    let u = store
        .create_user(
            NewUser::new("core-only@example.test")
                .unwrap()
                .with_extra("nickname", "ada")
                .unwrap(),
        )
        .await
        .unwrap();
    for lookup in [
        UserLookup::Id(u.id.clone()),
        UserLookup::parse("email", "core-only@example.test").unwrap(),
        UserLookup::parse("nickname", "ada").unwrap(),
    ] {
        let p = store.get_principal(&lookup).await.unwrap().unwrap();
        assert_eq!(p.user, u);
        assert_eq!(p.user.extra.get("nickname"), Some(&json!("ada")));
        assert!(p.roles.is_empty() && p.permissions.is_empty(), "{p:?}");
    }
    let none = UserLookup::parse("nickname", "grace").unwrap();
    assert!(store.get_principal(&none).await.unwrap().is_none());
    let _ = common::drop_schema(&pool, &schema).await;
}
