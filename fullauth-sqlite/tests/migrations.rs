//! The fastapi-fullauth fixtures of this crate (as the reference's SQLite
//! DDL) against the migrator suite's, the adoption of a 0.13 database,
//! application columns, transactions interrupted by errors, and the stored
//! encodings. The migrator itself is tested by the shared suite
//! (`tests/migrator_suite.rs`).

use std::path::{Path, PathBuf};
use std::time::Duration;

use fullauth_api::{
    ConflictKind, DurableStore, ExtraFields, FamilyId, Feature, Features, NewRefreshToken, NewUser,
    NextRefreshToken, RefreshTokenStore, RoleStore, StoreError, Timestamp, TokenDigest, UserId,
    UserLookup, UserPatch, UserStore,
};
use fullauth_sqlite::SqliteStore;
use fullauth_sqlite::rusqlite::Connection;

const REFERENCE_0_18: &str = include_str!("fixtures/fastapi_fullauth_0_18.sql");
const REFERENCE_0_16: &str = include_str!("fixtures/fastapi_fullauth_0_16.sql");
const REFERENCE_0_13: &str = include_str!("fixtures/fastapi_fullauth_0_13.sql");

/// A unique database path in the temp directory, removed on drop.
struct TempDb(PathBuf);

impl TempDb {
    fn new() -> Self {
        TempDb(std::env::temp_dir().join(format!(
            "fullauth-migrations-{}.db",
            uuid::Uuid::new_v4().simple()
        )))
    }

    /// Creates the database with `sql` through a plain connection, as another
    /// tool would.
    fn with_sql(sql: &str) -> Self {
        let db = TempDb::new();
        let c = Connection::open(&db.0).unwrap();
        c.execute_batch(sql).unwrap();
        db
    }

    async fn store(&self, features: Features) -> SqliteStore {
        SqliteStore::open(&self.0, SqliteStore::builder().features(features))
            .await
            .unwrap()
    }
}

impl Drop for TempDb {
    fn drop(&mut self) {
        for s in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{s}", self.0.display()));
        }
    }
}

/// Every schema object as (type, name, table, sql), sorted.
fn schema(path: &Path) -> Vec<(String, String, String, Option<String>)> {
    let c = Connection::open(path).unwrap();
    let mut stmt = c
        .prepare("SELECT type, name, tbl_name, sql FROM sqlite_master ORDER BY type, name")
        .unwrap();
    stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

/// The statements of a script, without comments and blank lines.
fn statements(sql: &str) -> Vec<String> {
    sql.lines()
        .filter(|l| !l.trim().is_empty() && !l.trim_start().starts_with("--"))
        .map(str::to_string)
        .collect()
}

/// The migrator suite builds its fixtures from one template; they are the
/// DDL fastapi-fullauth emitted for SQLite (this crate's fixture files).
#[test]
fn the_suite_fixtures_are_the_reference_ddl() {
    use fullauth_conformance::migrations::Dialect;
    use fullauth_conformance::migrations::fixtures::FastapiFullauth;
    assert_eq!(
        statements(&FastapiFullauth::V0_18.ddl(Dialect::Sqlite)),
        statements(REFERENCE_0_18)
    );
    assert_eq!(
        statements(&FastapiFullauth::V0_16.ddl(Dialect::Sqlite)),
        statements(REFERENCE_0_16)
    );
    // Both fixture files create what the schema of this crate creates.
    let db = TempDb::with_sql(REFERENCE_0_18);
    let ours = TempDb::new();
    let c = Connection::open(&ours.0).unwrap();
    fullauth_sqlite::SqliteMigrations::new()
        .apply(&c, Features::durable())
        .unwrap();
    let objects = |p: &Path| -> Vec<(String, String)> {
        schema(p)
            .into_iter()
            .filter(|o| o.2 != "fullauth_schema_migrations")
            .map(|o| (o.0, o.1))
            .collect()
    };
    assert_eq!(objects(&db.0), objects(&ours.0));
}

fn core() -> Features {
    Features::from(Feature::Core)
}

#[tokio::test]
async fn adopting_a_0_13_database_adds_the_session_columns() {
    let db = TempDb::with_sql(REFERENCE_0_13);
    let store = db.store(Features::durable()).await;
    let report = store.migrator().adopt(Features::durable()).await.unwrap();
    assert!(
        report
            .adopted
            .contains(&"core_0002_refresh_tokens".to_string())
    );
    assert!(
        report.notes.iter().any(|n| n.contains("user_agent"))
            && report.notes.iter().any(|n| n.contains("ip_address")),
        "{report:?}"
    );
    let c = Connection::open(&db.0).unwrap();
    let cols: Vec<String> = c
        .prepare("SELECT name FROM pragma_table_info('fullauth_refresh_tokens')")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert!(cols.contains(&"user_agent".to_string()) && cols.contains(&"ip_address".to_string()));
}

#[tokio::test]
async fn app_columns_round_trip_through_extra() {
    let store = SqliteStore::builder().open_temporary().await.unwrap();
    store.migrator().apply(Features::all()).await.unwrap();
    store
        .with_connection(|c| {
            c.execute_batch(
                "ALTER TABLE fullauth_users ADD COLUMN display_name VARCHAR(100);
                 ALTER TABLE fullauth_users ADD COLUMN age INTEGER;
                 ALTER TABLE fullauth_users ADD COLUMN score REAL;
                 ALTER TABLE fullauth_users ADD COLUMN plan VARCHAR(20) NOT NULL DEFAULT 'free';
                 ALTER TABLE fullauth_users ADD COLUMN newsletter BOOLEAN;
                 ALTER TABLE fullauth_users ADD COLUMN beta bool DEFAULT 1",
            )
        })
        .await
        .unwrap();
    let new = NewUser::new("ada@example.com")
        .unwrap()
        .with_extra("display_name", "Ada \u{202e} 'quoted' 🦀")
        .unwrap()
        .with_extra("age", 36)
        .unwrap()
        .with_extra("score", 2.5)
        .unwrap();
    let u = store.create_user(new).await.unwrap();
    assert_eq!(
        u.extra_field::<String>("display_name").unwrap().unwrap(),
        "Ada \u{202e} 'quoted' 🦀"
    );
    assert_eq!(u.extra_field::<i64>("age").unwrap(), Some(36));
    assert_eq!(u.extra_field::<f64>("score").unwrap(), Some(2.5));
    // Not given: the database default, typed as its column.
    assert_eq!(u.extra_field::<String>("plan").unwrap().unwrap(), "free");
    assert_eq!(u.extra.get("newsletter"), Some(&serde_json::Value::Null));
    assert_eq!(u.extra.get("beta"), Some(&serde_json::json!(true)));
    assert_eq!(store.get_user(&u.id).await.unwrap().unwrap(), u);

    let mut patch = UserPatch::new().with_extra("age", 37).unwrap();
    patch
        .extra
        .insert("display_name", serde_json::Value::Null)
        .unwrap();
    let u2 = store.update_user(&u.id, patch).await.unwrap();
    assert_eq!(u2.extra_field::<i64>("age").unwrap(), Some(37));
    assert_eq!(u2.extra.get("display_name"), Some(&serde_json::Value::Null));

    // Lookup by an app column.
    let found = store
        .get_user_by_field(&UserLookup::parse("age", 37).unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(found.id, u.id);

    // A BOOLEAN (or BOOL) column stores 0/1 and reads back a JSON boolean;
    // a boolean written to an INTEGER column reads back as the number.
    let u3 = store
        .update_user(
            &u.id,
            UserPatch::new()
                .with_extra("newsletter", true)
                .unwrap()
                .with_extra("beta", false)
                .unwrap()
                .with_extra("age", true)
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(u3.extra.get("newsletter"), Some(&serde_json::json!(true)));
    assert_eq!(u3.extra_field::<bool>("beta").unwrap(), Some(false));
    assert_eq!(u3.extra.get("age"), Some(&serde_json::json!(1)));
    assert_eq!(store.get_user(&u.id).await.unwrap().unwrap(), u3);
    let stored: (i64, i64) = Connection::open(store.path())
        .unwrap()
        .query_row(
            "SELECT newsletter, beta FROM fullauth_users WHERE email = 'ada@example.com'",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!(stored, (1, 0));
    let found = store
        .get_user_by_field(&UserLookup::parse("newsletter", true).unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(found.id, u.id);
    assert!(
        store
            .get_user_by_field(&UserLookup::parse("beta", true).unwrap())
            .await
            .unwrap()
            .is_none()
    );

    // A column added while the store is open is found.
    let outside = Connection::open(store.path()).unwrap();
    outside
        .execute_batch("ALTER TABLE fullauth_users ADD COLUMN nickname TEXT")
        .unwrap();
    let u4 = store
        .update_user(
            &u.id,
            UserPatch::new().with_extra("nickname", "ada").unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(
        u4.extra_field::<String>("nickname").unwrap().unwrap(),
        "ada"
    );

    // Unknown and protected names.
    let r = store
        .update_user(
            &u.id,
            UserPatch::new().with_extra("no_such_column", 1).unwrap(),
        )
        .await;
    assert!(
        matches!(r, Err(StoreError::UnknownField { ref field, .. }) if field == "no_such_column"),
        "{r:?}"
    );
    let r = store
        .create_user(
            NewUser::new("b@example.com")
                .unwrap()
                .with_extra("nope", 1)
                .unwrap(),
        )
        .await;
    assert!(matches!(r, Err(StoreError::UnknownField { .. })), "{r:?}");
    assert!(
        store
            .get_user_by_email(&"b@example.com".parse().unwrap())
            .await
            .unwrap()
            .is_none()
    );
    assert!(matches!(
        ExtraFields::new().insert("is_superuser", true),
        Err(StoreError::ProtectedField { .. })
    ));
}

fn token(user: UserId, now: Timestamp) -> NewRefreshToken {
    NewRefreshToken {
        digest: TokenDigest::of(&uuid::Uuid::new_v4().to_string()),
        user_id: user,
        family_id: FamilyId::generate(),
        expires_at: now + Duration::from_secs(3600),
        client: Default::default(),
    }
}

#[tokio::test]
async fn a_transaction_interrupted_by_an_error_leaves_nothing_behind() {
    let store = SqliteStore::builder().open_temporary().await.unwrap();
    store.migrator().apply(Features::all()).await.unwrap();
    let email: fullauth_api::Email = "tx@example.com".parse().unwrap();

    async fn work(store: &SqliteStore, email: &fullauth_api::Email) -> Result<(), StoreError> {
        let tx = store.begin().await?;
        let u = tx.create_user(NewUser::new(email.as_str())?).await?;
        tx.store_refresh_token(token(u.id.clone(), Timestamp::now()))
            .await?;
        tx.assign_role(&u.id, &"auditor".parse()?).await?;
        // Fails: the owner does not exist. `?` drops the transaction.
        tx.store_refresh_token(token(UserId::generate(), Timestamp::now()))
            .await?;
        tx.commit().await
    }
    let r = work(&store, &email).await;
    assert!(
        r.as_ref()
            .is_err_and(|e| e.is_not_found(fullauth_api::Entity::User)),
        "{r:?}"
    );
    assert!(store.get_user_by_email(&email).await.unwrap().is_none());
    assert!(
        !store
            .list_roles()
            .await
            .unwrap()
            .iter()
            .any(|r| r == "auditor")
    );
    // The writer is free again (the rollback ran).
    let u = store
        .create_user(NewUser::new(email.as_str()).unwrap())
        .await
        .unwrap();

    // A failing atomic method changes nothing either: rotating into a digest
    // already stored leaves the old token live.
    let old = store
        .store_refresh_token(token(u.id.clone(), Timestamp::now()))
        .await
        .unwrap();
    let taken = store
        .store_refresh_token(token(u.id.clone(), Timestamp::now()))
        .await
        .unwrap();
    let r = store
        .rotate_refresh_token(
            &old.digest,
            NextRefreshToken {
                digest: taken.digest.clone(),
                expires_at: Timestamp::now() + Duration::from_secs(60),
                client: Default::default(),
            },
        )
        .await;
    assert!(
        matches!(
            r,
            Err(StoreError::Conflict {
                what: ConflictKind::RefreshToken,
                ..
            })
        ),
        "{r:?}"
    );
    assert!(
        !store
            .get_refresh_token(&old.digest)
            .await
            .unwrap()
            .unwrap()
            .revoked
    );

    // Explicit rollback and nesting.
    let tx = store.begin().await.unwrap();
    assert!(matches!(
        tx.begin().await,
        Err(StoreError::TransactionNesting { .. })
    ));
    tx.mark_verified(&u.id).await.unwrap();
    tx.rollback().await.unwrap();
    assert!(!store.get_user(&u.id).await.unwrap().unwrap().is_verified);
}

#[tokio::test]
async fn values_are_stored_in_the_reference_encodings() {
    let store = SqliteStore::builder().open_temporary().await.unwrap();
    store.migrator().apply(Features::all()).await.unwrap();
    let u = store
        .create_user(NewUser::new("enc@example.com").unwrap())
        .await
        .unwrap();
    store
        .store_refresh_token(token(u.id, Timestamp::now()))
        .await
        .unwrap();
    let c = Connection::open(store.path()).unwrap();
    let (id, active, created): (String, i64, String) = c
        .query_row(
            "SELECT id, is_active, created_at FROM fullauth_users WHERE email = 'enc@example.com'",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .unwrap();
    assert_eq!(id.len(), 32);
    assert!(
        id.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    );
    assert_eq!(active, 1);
    // YYYY-MM-DD HH:MM:SS.ffffff
    assert_eq!(created.len(), 26);
    assert_eq!(&created[10..11], " ");
    assert_eq!(&created[19..20], ".");
    let (user_id, revoked, expires): (String, i64, String) = c
        .query_row(
            "SELECT user_id, revoked, expires_at FROM fullauth_refresh_tokens",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .unwrap();
    assert_eq!(user_id, id);
    assert_eq!(revoked, 0);
    assert_eq!(expires.len(), 26);
    let journal: String = c
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .unwrap();
    assert_eq!(journal, "wal");
}

#[tokio::test]
async fn short_lived_state_survives_a_restart() {
    let db = TempDb::new();
    {
        let store = db.store(Features::all()).await;
        store.migrator().apply(Features::all()).await.unwrap();
        fullauth_api::BlacklistStore::blacklist(
            &store,
            &"jti-1".parse().unwrap(),
            Duration::from_secs(600),
        )
        .await
        .unwrap();
    }
    let store = db.store(Features::all()).await;
    assert!(
        fullauth_api::BlacklistStore::is_blacklisted(&store, &"jti-1".parse().unwrap())
            .await
            .unwrap()
    );
}

#[tokio::test]
async fn features_not_configured_are_disabled() {
    let store = SqliteStore::builder()
        .features(core())
        .open_temporary()
        .await
        .unwrap();
    store.migrator().apply(core()).await.unwrap();
    let r = store.list_roles().await;
    assert!(
        matches!(
            r,
            Err(StoreError::FeatureDisabled {
                feature: Feature::Roles,
                ..
            })
        ),
        "{r:?}"
    );
    assert!(
        SqliteStore::builder()
            .features(Features::from(Feature::Permissions))
            .open_temporary()
            .await
            .is_err()
    );
}

#[tokio::test]
async fn tables_not_migrated_are_named_with_their_feature() {
    let store = SqliteStore::builder().open_temporary().await.unwrap();
    let r = store
        .create_user(NewUser::new("early@example.com").unwrap())
        .await;
    match r {
        Err(StoreError::NotMigrated {
            feature: Some(Feature::Core),
            ref message,
            ..
        }) => assert!(
            message.contains("fullauth_users") && message.contains("migrat"),
            "{message}"
        ),
        other => panic!("expected NotMigrated(Core), got {other:?}"),
    }
    // Core only: the roles table is still missing.
    store.migrator().apply(core()).await.unwrap();
    let r = store.list_roles().await;
    assert!(
        matches!(
            r,
            Err(StoreError::NotMigrated {
                feature: Some(Feature::Roles),
                ..
            })
        ),
        "{r:?}"
    );
    let e = r.unwrap_err();
    assert_eq!(e.context().backend(), Some("sqlite"));
    assert_eq!(e.context().operation(), Some("list_roles"));
    let r = fullauth_api::BlacklistStore::is_blacklisted(&store, &"jti".parse().unwrap()).await;
    assert!(
        matches!(
            r,
            Err(StoreError::NotMigrated {
                feature: Some(Feature::Blacklist),
                ..
            })
        ),
        "{r:?}"
    );
    // migrate() applies the rest of the store's features.
    assert_eq!(store.migrate().await.unwrap().len(), 10);
    assert!(store.list_roles().await.unwrap().is_empty());
}

#[tokio::test]
async fn values_the_database_refuses_are_backend_errors() {
    let store = SqliteStore::builder()
        .migrate(true)
        .open_temporary()
        .await
        .unwrap();
    store
        .with_connection(|c| {
            c.execute_batch(
                "ALTER TABLE fullauth_users ADD COLUMN rating INTEGER CHECK (rating BETWEEN 1 AND 5)",
            )
        })
        .await
        .unwrap();
    let u = store
        .create_user(NewUser::new("rated@example.com").unwrap())
        .await
        .unwrap();
    for value in [serde_json::json!(9), serde_json::json!(u64::MAX)] {
        let r = store
            .update_user(&u.id, UserPatch::new().with_extra("rating", value).unwrap())
            .await;
        assert!(matches!(r, Err(StoreError::Backend { .. })), "{r:?}");
    }
    assert_eq!(
        store
            .get_user(&u.id)
            .await
            .unwrap()
            .unwrap()
            .extra
            .get("rating"),
        Some(&serde_json::Value::Null)
    );
}
