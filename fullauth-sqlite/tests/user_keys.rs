//! Databases keyed by integer or text — a fastapi-fullauth app declared with
//! `UserSchema[int]` or `UserSchema[str]`:
//!
//! - the migrations for each key type create exactly the DDL SQLAlchemy
//!   emits for the overridden models (the fixtures come from the library
//!   itself, `fastapi_side.py ddl --user-id-type …`), compared through the
//!   catalog, column positions included;
//! - a store opened without a key type takes the database's and reads the
//!   app's rows; one opened for another type is refused at open, naming
//!   both, before anything is read or written;
//! - adopt recognises such a database and records its key type.

use std::path::{Path, PathBuf};

use fullauth_api::{Features, NewUser, StoreError, StoreInfo, UserId, UserIdType, UserStore};
use fullauth_sqlite::{SqliteMigrations, SqliteStore, rusqlite};

#[path = "common/catalog.rs"]
mod catalog;
use catalog::catalog;

const REFERENCE_INT: &str = include_str!("fixtures/fastapi_fullauth_0_18_int.sql");
const REFERENCE_TEXT: &str = include_str!("fixtures/fastapi_fullauth_0_18_text.sql");
const REFERENCE_UUID: &str = include_str!("fixtures/fastapi_fullauth_0_18.sql");

/// A database file in a directory of its own, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> Self {
        let dir = std::env::temp_dir().join(format!("fullauth-keys-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }

    fn db(&self) -> PathBuf {
        self.0.join("app.db")
    }

    /// A database made by running `sql`, as the Python app would.
    fn with_sql(sql: &str) -> Self {
        let dir = TempDir::new();
        rusqlite::Connection::open(dir.db())
            .unwrap()
            .execute_batch(sql)
            .unwrap();
        dir
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[test]
fn migrations_create_exactly_the_reference_ddl_for_each_key_type() {
    for (t, reference) in [
        (UserIdType::Uuid, REFERENCE_UUID),
        (UserIdType::Int, REFERENCE_INT),
        (UserIdType::Text, REFERENCE_TEXT),
    ] {
        let theirs = TempDir::with_sql(reference);
        let ours = TempDir::new();
        let c = rusqlite::Connection::open(ours.db()).unwrap();
        SqliteMigrations::new()
            .user_id_type(t)
            .apply(&c, Features::durable())
            .unwrap();
        drop(c);
        let (a, b) = (catalog(&theirs.db()), catalog(&ours.db()));
        assert!(a.len() > 60, "{t}: the catalog is read ({} facts)", a.len());
        assert_eq!(a, b, "{t}");
    }
    // The integer key is a rowid alias: no autoindex on fullauth_users.
    let ours = TempDir::new();
    let c = rusqlite::Connection::open(ours.db()).unwrap();
    SqliteMigrations::new()
        .user_id_type(UserIdType::Int)
        .apply(&c, Features::durable())
        .unwrap();
    let autoindexes: i64 = c
        .query_row(
            "SELECT count(*) FROM pragma_index_list('fullauth_users') WHERE origin = 'pk'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(autoindexes, 0);
}

#[test]
fn the_export_is_the_migrations_of_the_key_type() {
    let sql = SqliteMigrations::new()
        .user_id_type(UserIdType::Int)
        .export_sql(Features::durable())
        .unwrap();
    assert!(sql.contains("\tid INTEGER NOT NULL,"), "{sql}");
    assert!(
        sql.contains("CREATE TABLE fullauth_refresh_tokens (\n\tuser_id INTEGER NOT NULL,"),
        "{sql}"
    );
    assert!(!sql.contains("user_id CHAR(32)"), "{sql}");
}

/// Inserts the row an app would have: user 7 (or "seven" on a text key).
fn insert_app_user(path: &Path, id: &str) {
    rusqlite::Connection::open(path)
        .unwrap()
        .execute(
            &format!(
                "INSERT INTO fullauth_users (id, email, is_active, is_verified, is_superuser, \
                 created_at) VALUES ({id}, 'seven@example.com', 1, 0, 0, \
                 '2026-11-30 05:00:00.000000')"
            ),
            [],
        )
        .unwrap();
}

fn count_users(path: &Path) -> i64 {
    rusqlite::Connection::open(path)
        .unwrap()
        .query_row("SELECT count(*) FROM fullauth_users", [], |r| r.get(0))
        .unwrap()
}

#[tokio::test]
async fn a_store_takes_the_key_type_of_the_database() {
    for (t, reference, literal, id) in [
        (UserIdType::Int, REFERENCE_INT, "7", UserId::from_int(7)),
        (
            UserIdType::Text,
            REFERENCE_TEXT,
            "'seven'",
            UserId::from_text("seven"),
        ),
    ] {
        let dir = TempDir::with_sql(reference);
        insert_app_user(&dir.db(), literal);
        let store = SqliteStore::builder().open(dir.db()).await.unwrap();
        assert_eq!(store.user_id_type(), t);
        let seven = store.get_user(&id).await.unwrap().expect("the app's user");
        assert_eq!(seven.email.as_str(), "seven@example.com");
        assert_eq!(t.parse(&seven.id.to_string()).unwrap(), id);
        let new = store
            .create_user(NewUser::new("new@example.com").unwrap())
            .await
            .unwrap();
        assert_eq!(new.id.id_type(), t);
        if t == UserIdType::Int {
            assert_eq!(new.id, UserId::from_int(8), "the next rowid");
        }
        drop(store);
        // Configured for the same type, it opens too.
        SqliteStore::builder()
            .user_id_type(t)
            .open(dir.db())
            .await
            .unwrap();
    }
}

#[tokio::test]
async fn a_store_configured_for_another_key_type_is_refused_at_open() {
    for (reference, literal, declared, found, configured) in [
        (REFERENCE_INT, "7", "INTEGER", "integer", UserIdType::Uuid),
        (REFERENCE_INT, "7", "INTEGER", "integer", UserIdType::Text),
        (
            REFERENCE_TEXT,
            "'seven'",
            "VARCHAR",
            "text",
            UserIdType::Int,
        ),
        (
            REFERENCE_UUID,
            "'0000000000007000a000000000000007'",
            "CHAR(32)",
            "UUID",
            UserIdType::Int,
        ),
    ] {
        let dir = TempDir::with_sql(reference);
        insert_app_user(&dir.db(), literal);
        let e = SqliteStore::builder()
            .user_id_type(configured)
            .open(dir.db())
            .await
            .unwrap_err();
        let text = e.to_string();
        assert!(matches!(e, StoreError::Backend { .. }), "{e:?}");
        assert!(
            text.contains(&format!("fullauth_users.id is {declared}")),
            "{text}"
        );
        assert!(text.contains(&format!("user ids are {found}")), "{text}");
        assert!(
            text.contains(&format!("opened for {} user ids", configured.describe())),
            "{text}"
        );
        assert_eq!(count_users(&dir.db()), 1, "the app's row is as it was");
    }
}

#[tokio::test]
async fn adopt_recognises_an_integer_or_text_keyed_database() {
    for (t, reference, literal) in [
        (UserIdType::Int, REFERENCE_INT, "7"),
        (UserIdType::Text, REFERENCE_TEXT, "'seven'"),
    ] {
        let dir = TempDir::with_sql(reference);
        insert_app_user(&dir.db(), literal);
        let store = SqliteStore::builder().open(dir.db()).await.unwrap();
        let report = store.migrator().adopt(Features::durable()).await.unwrap();
        assert_eq!(report.adopted.len(), 9, "{t}: {report:?}");
        assert!(report.applied.is_empty(), "{t}: {report:?}");
        assert!(
            report.notes.is_empty(),
            "{t}: nothing to note: {:?}",
            report.notes
        );
        let status = store.migrator().status(Features::durable()).await.unwrap();
        assert!(status.is_up_to_date(), "{t}: {status:?}");
        // The tracking table says the key type.
        let description: String = rusqlite::Connection::open(dir.db())
            .unwrap()
            .query_row(
                "SELECT description FROM fullauth_schema_migrations WHERE id = 'core_0001_users'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert!(
            description.ends_with(&format!("(user ids: {t})")),
            "{description}"
        );
        let u = store
            .create_user(NewUser::new("adopted@example.com").unwrap())
            .await
            .unwrap();
        assert_eq!(u.id.id_type(), t);
        assert_eq!(count_users(&dir.db()), 2);
    }
}
