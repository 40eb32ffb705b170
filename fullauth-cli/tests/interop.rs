//! Interoperability with the real Python library, fastapi-fullauth 0.18.0
//! (its SQLAlchemy adapter and models, driven by `tests/interop/fastapi_side.py`
//! in a virtualenv made once under the target dir), on SQLite, PostgreSQL
//! (`FULLAUTH_TEST_DATABASE_URL`) and MariaDB (`FULLAUTH_TEST_MYSQL_URL`, a
//! fresh database `fullauth_test_<secs>_<rand>` per test, created and
//! dropped by it), in both directions:
//!
//! 1. Python creates the tables and every kind of row; `fullauth adopt` takes
//!    the database over; our stores read every row, verify the argon2-cffi
//!    password, list the session and rotate the refresh token; Python then
//!    sees the rotation.
//! 2. `fullauth migrate --features all` creates the database; Python's adapter
//!    registers a user, stores and revokes tokens and assigns roles; our
//!    stores read all of it, and a password we set verifies in Python.
//!
//! On MariaDB, `adopt` of the Python-created database also widens its
//! `DATETIME` columns to `DATETIME(6)` and converts its tables to
//! `utf8mb4_nopad_bin` (and says so in its notes): the test checks both in the
//! catalog, and that the ids are native `UUID` columns.
//!
//! Both directions also run, on SQLite and PostgreSQL, for an app declared
//! with `UserSchema[int]` and with `UserSchema[str]` (the models with `id`
//! and every `user_id` overridden; `fastapi_side.py --user-id-type`):
//! `adopt` recognises the key type, `fullauth migrate --user-id-type`
//! creates the tables Python's models expect.
//!
//! Without Python or PyPI the tests say so loudly and skip, except under
//! `CI=true`, where that is a failure.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command as StdCommand;
use std::sync::OnceLock;
use std::time::Duration;

use common::Fixture;
use fullauth_api::{
    ClientInfo, Email, NextRefreshToken, PasswordHasher, Rotation, StoreInfo, Timestamp,
    TokenDigest, UserId, UserIdType,
};
use serde_json::Value;

const PACKAGES: [&str; 5] = [
    "fastapi-fullauth[sqlalchemy]==0.18.0",
    "aiosqlite",
    "asyncpg",
    "aiomysql==0.3.2",
    "greenlet",
];

fn skip_or_fail(why: &str) -> Option<PathBuf> {
    if std::env::var("CI").as_deref() == Ok("true") {
        panic!("interoperability tests cannot run under CI=true: {why}");
    }
    eprintln!(
        "\n!!!!!!!! SKIPPED: the fastapi-fullauth interoperability tests did not run: {why} !!!!!!!!\n"
    );
    None
}

/// The virtualenv's python, made (and the packages installed) on first use.
fn venv_python() -> Option<PathBuf> {
    static PYTHON: OnceLock<Option<PathBuf>> = OnceLock::new();
    PYTHON
        .get_or_init(|| {
            let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("fastapi-fullauth-0.18.0-venv");
            let python = dir.join("bin").join("python");
            let marker = dir.join("fullauth-installed");
            // Reused only when it holds exactly these packages.
            let installed = std::fs::read_to_string(&marker).unwrap_or_default();
            if installed == PACKAGES.join("\n") && python.exists() {
                return Some(python);
            }
            let Some(base) = ["python3.11", "python3"].into_iter().find(|p| {
                StdCommand::new(p)
                    .arg("--version")
                    .output()
                    .is_ok_and(|o| o.status.success())
            }) else {
                return skip_or_fail("no python3 on PATH");
            };
            let _ = std::fs::remove_dir_all(&dir);
            let venv = StdCommand::new(base)
                .args(["-m", "venv"])
                .arg(&dir)
                .output();
            if !venv.as_ref().is_ok_and(|o| o.status.success()) {
                return skip_or_fail(&format!("`{base} -m venv` failed: {venv:?}"));
            }
            let pip = StdCommand::new(&python)
                .args([
                    "-m",
                    "pip",
                    "install",
                    "--quiet",
                    "--disable-pip-version-check",
                ])
                .args(PACKAGES)
                .output();
            match pip {
                Ok(o) if o.status.success() => {}
                other => {
                    return skip_or_fail(&format!(
                        "pip install {PACKAGES:?} failed (is PyPI reachable?): {other:?}"
                    ));
                }
            }
            std::fs::write(&marker, PACKAGES.join("\n")).unwrap();
            Some(python)
        })
        .clone()
}

/// The SQLAlchemy async URL of the fixture's database.
fn sqlalchemy_url(f: &Fixture) -> String {
    let rest = f
        .url
        .split_once("://")
        .map(|(_, rest)| rest)
        .unwrap_or(&f.url);
    if f.is_mysql() {
        // The database is the URL's; the driver's options are not aiomysql's.
        let rest = rest.split('?').next().unwrap_or(rest);
        format!("mysql+aiomysql://{rest}")
    } else if f.is_pg() {
        format!("postgresql+asyncpg://{rest}")
    } else {
        format!("sqlite+aiosqlite:///{}", f.sqlite_path().display())
    }
}

/// Runs the Python side with the models of the key type `key` (the app
/// declared `UserSchema[int]` / `UserSchema[str]` and overrode `id` and every
/// `user_id`) and returns its JSON.
fn py_keyed(python: &Path, f: &Fixture, key: UserIdType, args: &[&str]) -> Value {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/interop/fastapi_side.py");
    let mut cmd = StdCommand::new(python);
    cmd.arg(script)
        .arg(args[0])
        .arg(sqlalchemy_url(f))
        .args(&args[1..]);
    if f.is_pg() {
        cmd.args(["--schema", &f.schema]);
    }
    cmd.args(["--user-id-type", key.as_str()]);
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "python {args:?} failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn s(v: &Value) -> &str {
    v.as_str().unwrap()
}

on_all!(python_creates_rust_adopts, rust_migrates_python_writes);
on_all!(
    python_creates_rust_adopts_int_keys,
    rust_migrates_python_writes_int_keys
);
on_both!(
    python_creates_rust_adopts_text_keys,
    rust_migrates_python_writes_text_keys
);

/// Direction 1 with an app declared `UserSchema[str]` (its models give new
/// users `uuid4().hex`, as the library's own text-keyed models do).
fn python_creates_rust_adopts_text_keys(f: &Fixture) {
    python_creates_rust_adopts_keyed(f, UserIdType::Text);
}

/// Direction 2 with an app declared `UserSchema[str]`.
fn rust_migrates_python_writes_text_keys(f: &Fixture) {
    rust_migrates_python_writes_keyed(f, UserIdType::Text);
}

/// Direction 1 with an app declared `UserSchema[int]`.
fn python_creates_rust_adopts_int_keys(f: &Fixture) {
    python_creates_rust_adopts_keyed(f, UserIdType::Int);
}

/// Direction 2 with an app declared `UserSchema[int]`: `fullauth migrate
/// --user-id-type int` makes the tables.
fn rust_migrates_python_writes_int_keys(f: &Fixture) {
    rust_migrates_python_writes_keyed(f, UserIdType::Int);
}

/// On MariaDB: the catalog of the fullauth tables after `adopt` or
/// `migrate`: every timestamp `DATETIME(6)`, every table and text column
/// `utf8mb4_nopad_bin`, every user key a native `UUID` (or `int(11)` for
/// integer keys).
fn check_mysql_catalog(f: &Fixture, key: UserIdType) {
    let db = &f.schema;
    let narrow = common::mysql_query(
        &f.url,
        &format!(
            "SELECT CONCAT(TABLE_NAME, '.', COLUMN_NAME, ' ', COLUMN_TYPE) \
             FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = '{db}' \
             AND TABLE_NAME LIKE 'fullauth\\_%' AND DATA_TYPE IN ('datetime', 'timestamp') \
             AND COLUMN_TYPE <> 'datetime(6)'"
        ),
    );
    assert!(narrow.is_empty(), "timestamps not DATETIME(6): {narrow:?}");
    let collations = common::mysql_query(
        &f.url,
        &format!(
            "SELECT CONCAT(TABLE_NAME, ' ', IFNULL(TABLE_COLLATION, '-')) \
             FROM information_schema.TABLES WHERE TABLE_SCHEMA = '{db}' \
             AND TABLE_NAME LIKE 'fullauth\\_%' AND IFNULL(TABLE_COLLATION, '-') <> 'utf8mb4_nopad_bin' \
             UNION ALL SELECT CONCAT(TABLE_NAME, '.', COLUMN_NAME, ' ', COLLATION_NAME) \
             FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = '{db}' \
             AND TABLE_NAME LIKE 'fullauth\\_%' AND COLLATION_NAME IS NOT NULL \
             AND COLLATION_NAME <> 'utf8mb4_nopad_bin'"
        ),
    );
    assert!(
        collations.is_empty(),
        "tables or columns not utf8mb4_nopad_bin: {collations:?}"
    );
    let ids = common::mysql_query(
        &f.url,
        &format!(
            "SELECT CONCAT(TABLE_NAME, '.', COLUMN_NAME, ' ', COLUMN_TYPE) \
             FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = '{db}' \
             AND ((TABLE_NAME = 'fullauth_users' AND COLUMN_NAME = 'id') OR COLUMN_NAME = 'user_id') \
             AND TABLE_NAME LIKE 'fullauth\\_%'"
        ),
    );
    assert!(!ids.is_empty());
    // Native UUID columns, or the `INTEGER` (int(11)) of integer keys.
    let want = match key {
        UserIdType::Int => " int(11)",
        _ => " uuid",
    };
    for row in &ids {
        let row = row[0].as_deref().unwrap_or_default();
        assert!(row.ends_with(want), "not a{want} column: {row}");
    }
}

fn python_creates_rust_adopts(f: &Fixture) {
    python_creates_rust_adopts_keyed(f, UserIdType::Uuid);
}

fn python_creates_rust_adopts_keyed(f: &Fixture, key: UserIdType) {
    let Some(python) = venv_python() else { return };
    let py = |python: &Path, f: &Fixture, args: &[&str]| py_keyed(python, f, key, args);
    let data = py(&python, f, &["create"]);
    let email = s(&data["email"]);
    assert_eq!(email, "py.user@example.com");

    if f.is_mysql() {
        // What SQLAlchemy created: plain DATETIME, the server's collation.
        let db = &f.schema;
        let narrow = common::mysql_query(
            &f.url,
            &format!(
                "SELECT COUNT(*) FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = '{db}' \
                 AND TABLE_NAME = 'fullauth_users' AND COLUMN_NAME = 'created_at' \
                 AND COLUMN_TYPE = 'datetime'"
            ),
        );
        assert_eq!(narrow[0][0].as_deref(), Some("1"), "{narrow:?}");
    }

    // The CLI takes the database over.
    let (code, out, err) = f.run(&["adopt"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("core_0001_users"), "{out}");
    assert!(out.contains("adopted (already there)"), "{out}");
    if f.is_mysql() {
        // The notes say what adopt changed on MariaDB, and it is so.
        common::assert_mariadb_adopt_notes(&out);
        check_mysql_catalog(f, key);
        // Adopting again changes nothing and notes no conversion.
        let (code, again, err) = f.run(&["adopt"]);
        assert_eq!(code, 0, "{err}");
        assert!(
            !again.to_ascii_lowercase().contains("utf8mb4_nopad_bin"),
            "{again}"
        );
    }
    assert_eq!(f.json(&["status"])["up_to_date"], true);

    // The CLI reads it.
    let (code, _, err) = f.run_stdin(
        &["user", "check-password", email, "--password-stdin"],
        &format!("{}\n", s(&data["password"])),
    );
    assert_eq!(code, 0, "{err}");
    let show = f.json(&["user", "show", email]);
    // `str(id)` on the Python side; a JSON number for an integer key here,
    // as the reference's own API writes it.
    let shown_id = match &show["id"] {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    assert_eq!(shown_id, s(&data["user_id"]), "{show}");
    // The id as the CLI takes it, in the form Python writes (`str(id)`).
    assert_eq!(
        f.json(&["user", "show", s(&data["user_id"])])["email"],
        email
    );
    assert_eq!(show["is_verified"], true);
    assert_eq!(show["roles"], serde_json::json!(["editor"]));
    assert_eq!(show["permissions"], serde_json::json!(["posts:write"]));
    let sessions = f.json(&["sessions", "list", email]);
    assert_eq!(sessions.as_array().unwrap().len(), 1, "{sessions}");
    assert_eq!(sessions[0]["family_id"], data["family_id"]);
    assert_eq!(sessions[0]["user_agent"], data["user_agent"]);
    assert_eq!(sessions[0]["ip_address"], data["ip_address"]);
    let list = f.json(&["user", "list"]);
    assert_eq!(list["users"][0]["email"], email);

    // Our stores read every row and rotate the token.
    let new_raw = format!("rust-refresh-{}", common::unique());
    common::runtime().block_on(async {
        let store = f.store().await;
        let user = store
            .get_user_by_email(&Email::new(email).unwrap())
            .await
            .unwrap()
            .expect("the Python user");
        let id: UserId = key.parse(s(&data["user_id"])).unwrap();
        assert_eq!(user.id, id);
        assert_eq!(store.user_id_type(), key, "the key type is the database's");
        assert!(user.is_active && user.is_verified && !user.is_superuser);

        let hash = store.get_password_hash(&id).await.unwrap().unwrap();
        assert!(hash.as_str().starts_with("$argon2id$"), "{hash:?}");
        let hasher = PasswordHasher::default();
        assert!(hasher.verify(s(&data["password"]), &hash).await.unwrap());
        assert!(!hasher.verify("wrong", &hash).await.unwrap());

        assert_eq!(store.get_user_roles(&id).await.unwrap(), ["editor"]);
        assert_eq!(
            store.get_user_permissions(&id).await.unwrap(),
            ["posts:write"]
        );

        let oauth = store.list_oauth_accounts(&id).await.unwrap();
        assert_eq!(oauth.len(), 1);
        assert_eq!(oauth[0].provider.as_str(), "github");
        assert_eq!(oauth[0].provider_user_id.as_str(), "gh-4242");
        assert_eq!(
            oauth[0].provider_email.as_ref().map(|e| e.as_str()),
            Some("py.user@example.com")
        );
        assert_eq!(
            oauth[0].access_token.as_ref().map(|t| t.as_str()),
            Some("gho_access")
        );
        assert!(oauth[0].refresh_token.is_none());
        assert!(oauth[0].expires_at.is_some());

        let passkeys = store.list_passkeys(&id).await.unwrap();
        assert_eq!(passkeys.len(), 1);
        let pk = &passkeys[0];
        assert_eq!(pk.credential_id.as_str(), s(&data["credential_id"]));
        assert_eq!(pk.id.to_string(), s(&data["passkey_id"]));
        assert_eq!(pk.sign_count, 7);
        assert_eq!(pk.device_name.as_str(), "YubiKey 5");
        assert_eq!(pk.transports.as_slice(), ["usb", "nfc"]);
        assert!(pk.backed_up);
        assert_eq!(pk.public_key.as_str(), "pQECAyYgASFYIPublicKey");

        let mfa = store.get_mfa(&id).await.unwrap().expect("the MFA factor");
        assert_eq!(mfa.secret.as_str(), "JBSWY3DPEHPK3PXP");
        assert!(mfa.confirmed_at.is_some());
        let codes: Vec<&str> = mfa.recovery_codes.iter().map(|c| c.as_str()).collect();
        let expected: Vec<&str> = data["recovery_codes"]
            .as_array()
            .unwrap()
            .iter()
            .map(s)
            .collect();
        assert_eq!(codes, expected);

        let old = TokenDigest::of(s(&data["refresh_raw"]));
        let token = store.get_refresh_token(&old).await.unwrap().unwrap();
        assert!(!token.revoked);
        assert_eq!(token.family_id.as_str(), s(&data["family_id"]));
        assert_eq!(token.user_agent.as_deref(), Some(s(&data["user_agent"])));
        assert_eq!(token.ip_address.as_deref(), Some(s(&data["ip_address"])));
        assert!(token.expires_at > Timestamp::now());

        let sessions = store.list_sessions(&id).await.unwrap();
        assert_eq!(sessions.len(), 1);
        assert_eq!(sessions[0].family_id.as_str(), s(&data["family_id"]));

        let next = NextRefreshToken {
            digest: TokenDigest::of(&new_raw),
            expires_at: Timestamp::now() + Duration::from_secs(30 * 86_400),
            client: ClientInfo::new(Some("rust-interop/1"), Some("192.0.2.1")),
        };
        match store.rotate_refresh_token(&old, next).await.unwrap() {
            Rotation::Rotated(t) => {
                assert_eq!(t.family_id.as_str(), s(&data["family_id"]));
                assert_eq!(t.user_id, id);
            }
            other => panic!("expected a rotation, got {other:?}"),
        }
    });

    // Python sees the rotation: old revoked, new live in the same family.
    let seen = py(
        &python,
        f,
        &[
            "rotation",
            "--old",
            s(&data["refresh_raw"]),
            "--new",
            &new_raw,
        ],
    );
    assert_eq!(seen["old_revoked"], true, "{seen}");
    assert_eq!(seen["new_revoked"], false, "{seen}");
    assert_eq!(seen["new_family"], data["family_id"], "{seen}");
    assert_eq!(seen["old_family"], data["family_id"], "{seen}");
    assert_eq!(seen["new_user_agent"], "rust-interop/1", "{seen}");
    assert_eq!(seen["new_expires_in_future"], true, "{seen}");
    assert_eq!(
        seen["sessions"],
        serde_json::json!([data["family_id"]]),
        "{seen}"
    );

    // A replay of the old token, seen by our store, revokes the family for
    // Python too.
    common::runtime().block_on(async {
        let store = f.store().await;
        let next = NextRefreshToken {
            digest: TokenDigest::of("never-stored"),
            expires_at: Timestamp::now() + Duration::from_secs(60),
            client: ClientInfo::default(),
        };
        let old = TokenDigest::of(s(&data["refresh_raw"]));
        assert!(matches!(
            store.rotate_refresh_token(&old, next).await.unwrap(),
            Rotation::Reused { .. }
        ));
    });
    let seen = py(
        &python,
        f,
        &[
            "rotation",
            "--old",
            s(&data["refresh_raw"]),
            "--new",
            &new_raw,
        ],
    );
    assert_eq!(seen["new_revoked"], true, "{seen}");
    assert_eq!(seen["sessions"], serde_json::json!([]), "{seen}");
}

fn rust_migrates_python_writes(f: &Fixture) {
    rust_migrates_python_writes_keyed(f, UserIdType::Uuid);
}

fn rust_migrates_python_writes_keyed(f: &Fixture, key: UserIdType) {
    let Some(python) = venv_python() else { return };
    let py = |python: &Path, f: &Fixture, args: &[&str]| py_keyed(python, f, key, args);
    let (code, _, err) = f.run(&[
        "migrate",
        "--features",
        "all",
        "--user-id-type",
        key.as_str(),
    ]);
    assert_eq!(code, 0, "{err}");
    if f.is_mysql() {
        check_mysql_catalog(f, key);
    }
    let data = py(&python, f, &["use-ours"]);
    let email = s(&data["email"]);
    assert_eq!(data["roles"], serde_json::json!(["admin", "viewer"]));

    common::runtime().block_on(async {
        let store = f.store().await;
        let user = store
            .get_user_by_email(&Email::new(email).unwrap())
            .await
            .unwrap()
            .expect("the Python user");
        assert_eq!(user.id.to_string(), s(&data["user_id"]));
        assert_eq!(user.id.id_type(), key);
        assert!(user.is_active && !user.is_verified);
        let hash = store.get_password_hash(&user.id).await.unwrap().unwrap();
        assert!(
            PasswordHasher::default()
                .verify(s(&data["password"]), &hash)
                .await
                .unwrap()
        );

        let live = store
            .get_refresh_token(&TokenDigest::of(s(&data["live_raw"])))
            .await
            .unwrap()
            .unwrap();
        assert!(!live.revoked);
        assert_eq!(live.family_id.as_str(), s(&data["family_id"]));
        assert_eq!(live.user_agent.as_deref(), Some("python-httpx/0.28"));
        assert_eq!(live.ip_address.as_deref(), Some("198.51.100.4"));
        let revoked = store
            .get_refresh_token(&TokenDigest::of(s(&data["revoked_raw"])))
            .await
            .unwrap()
            .unwrap();
        assert!(revoked.revoked);
        let sessions = store.list_sessions(&user.id).await.unwrap();
        assert_eq!(sessions.len(), 1);
        assert_eq!(sessions[0].family_id.as_str(), s(&data["family_id"]));

        assert_eq!(
            store.get_user_roles(&user.id).await.unwrap(),
            ["admin", "viewer"]
        );
        assert_eq!(
            store.get_user_permissions(&user.id).await.unwrap(),
            ["users:read"]
        );
        let mut roles = store.list_roles().await.unwrap();
        roles.sort();
        assert_eq!(roles, ["admin", "viewer"]);
    });

    // The CLI sees it too, and a password it sets verifies in Python.
    let list = f.json(&["user", "list"]);
    assert_eq!(list["total"], 1);
    assert_eq!(list["users"][0]["email"], email);
    assert_eq!(
        f.json(&["role", "list", email]),
        serde_json::json!(["admin", "viewer"])
    );
    assert_eq!(
        f.json(&["permission", "list", "--user", email]),
        serde_json::json!(["users:read"])
    );
    let (code, _, err) = f.run_stdin(
        &["user", "set-password", email, "--password-stdin"],
        "set by rust\n",
    );
    assert_eq!(code, 0, "{err}");
    let seen = py(
        &python,
        f,
        &[
            "check-password",
            "--email",
            email,
            "--password",
            "set by rust",
        ],
    );
    assert_eq!(seen["matches"], true, "{seen}");
    // A deactivation by the CLI is what Python reads.
    assert_eq!(f.run(&["user", "deactivate", email]).0, 0);
    let seen = py(
        &python,
        f,
        &[
            "check-password",
            "--email",
            email,
            "--password",
            "set by rust",
        ],
    );
    assert_eq!(seen["is_active"], false, "{seen}");
    let revoked = common::runtime().block_on(async {
        let store = f.store().await;
        store
            .get_refresh_token(&TokenDigest::of(s(&data["live_raw"])))
            .await
            .unwrap()
            .unwrap()
            .revoked
    });
    assert!(revoked, "deactivate revokes the user's tokens");
}
