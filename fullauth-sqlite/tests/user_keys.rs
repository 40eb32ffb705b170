//! A database whose users are keyed by integer or text — a fastapi-fullauth
//! app declared with `UserSchema[int]` or `UserSchema[str]` — is refused
//! when the store opens, naming both key types, before anything is read or
//! written there.

use fullauth_api::StoreError;
use fullauth_sqlite::{SqliteStore, rusqlite};

/// `fullauth_users` as fastapi-fullauth 0.18's SQLAlchemy models create it
/// on SQLite for the key column type `{key}` (`INTEGER`, a rowid alias, for
/// `UserSchema[int]`; `VARCHAR` for `UserSchema[str]`).
const USERS: &str = "CREATE TABLE fullauth_users (
	id {key} NOT NULL,
	email VARCHAR(320) NOT NULL,
	hashed_password TEXT,
	is_active BOOLEAN NOT NULL,
	is_verified BOOLEAN NOT NULL,
	is_superuser BOOLEAN NOT NULL,
	created_at DATETIME NOT NULL,
	PRIMARY KEY (id)
);
CREATE UNIQUE INDEX ix_fullauth_users_email ON fullauth_users (email);";

#[tokio::test]
async fn an_integer_or_text_keyed_database_is_refused_at_open() {
    for (key, found) in [
        ("INTEGER", "integer"),
        ("VARCHAR", "text"),
        ("VARCHAR(36)", "text"),
    ] {
        let dir = std::env::temp_dir().join(format!("fullauth-keys-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("app.db");
        let c = rusqlite::Connection::open(&path).unwrap();
        c.execute_batch(&USERS.replace("{key}", key)).unwrap();
        c.execute(
            "INSERT INTO fullauth_users (id, email, is_active, is_verified, is_superuser, \
             created_at) VALUES (7, 'seven@example.com', 1, 0, 0, '2026-11-30 05:00:00.000000')",
            [],
        )
        .unwrap();
        drop(c);
        let e = SqliteStore::builder().open(&path).await.unwrap_err();
        let text = e.to_string();
        assert!(matches!(e, StoreError::Backend { .. }), "{e:?}");
        assert!(
            text.contains(&format!("fullauth_users.id is {key}")),
            "{text}"
        );
        assert!(text.contains(&format!("user ids are {found}")), "{text}");
        assert!(text.contains("opened for UUID user ids"), "{text}");
        // The app's row is as it was.
        let c = rusqlite::Connection::open(&path).unwrap();
        let n: i64 = c
            .query_row("SELECT count(*) FROM fullauth_users", [], |r| r.get(0))
            .unwrap();
        assert_eq!(n, 1);
        drop(c);
        let _ = std::fs::remove_dir_all(&dir);
    }
}

#[tokio::test]
async fn a_uuid_keyed_database_opens() {
    let dir = std::env::temp_dir().join(format!("fullauth-keys-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("app.db");
    let c = rusqlite::Connection::open(&path).unwrap();
    c.execute_batch(&USERS.replace("{key}", "CHAR(32)"))
        .unwrap();
    drop(c);
    let store = SqliteStore::builder().open(&path).await.unwrap();
    drop(store);
    let _ = std::fs::remove_dir_all(&dir);
}
