//! The built `fullauth` binary, every command, on SQLite (a temp file),
//! PostgreSQL (`FULLAUTH_TEST_DATABASE_URL`, a fresh schema per test) and
//! MariaDB (`FULLAUTH_TEST_MYSQL_URL`, a fresh database per test): output and
//! exit codes. What is MariaDB's own is in `mysql.rs`.

mod common;

use std::time::Duration;

use common::{Fixture, assert_error_with_hint, state};
use fullauth_api::{ClientInfo, FamilyId, NewRefreshToken, Timestamp, TokenDigest, UserId};

const OK: i32 = 0;
const USAGE: i32 = 2;
const NOT_FOUND: i32 = 3;
const CONFLICT: i32 = 4;
const UNAVAILABLE: i32 = 5;
const SCHEMA: i32 = 6;
const NO_MATCH: i32 = 7;

on_all!(
    migrate_dry_run_apply_and_status,
    migrate_a_feature_later,
    users_lifecycle,
    user_list_paginates,
    roles_and_permissions,
    sessions_and_prune,
    adopt_unrecorded_tables,
    commands_before_any_migration,
);

fn migrate_dry_run_apply_and_status(f: &Fixture) {
    // A dry run prints the SQL and changes nothing.
    let (code, out, err) = f.run(&["migrate", "--features", "all", "--dry-run"]);
    assert_eq!(code, OK, "{err}");
    assert!(out.contains("CREATE TABLE"), "{out}");
    assert!(out.contains("fullauth_users"), "{out}");
    if f.is_sqlite() {
        assert!(!f.sqlite_path().exists(), "a dry run created the file");
    }
    if f.is_mysql() {
        assert!(tables(f).is_empty(), "a dry run created tables");
    }
    let v = f.json(&["migrate", "--dry-run"]);
    assert!(!v["pending"].as_array().unwrap().is_empty());

    // Apply, then again (no-op).
    let (code, out, err) = f.run(&["migrate"]);
    assert_eq!(code, OK, "{err}");
    assert!(out.contains("applied"), "{out}");
    if f.is_mysql() {
        assert!(out.contains(&format!("database {}", f.schema)), "{out}");
        assert!(out.contains("(mysql)"), "{out}");
    }
    let v = f.json(&["migrate"]);
    assert_eq!(v["applied"].as_array().unwrap().len(), 0);
    assert_eq!(v["backend"], f.backend());
    if f.is_mysql() {
        assert_eq!(v["location"], format!("database {}", f.schema));
    }
    let (code, out, _) = f.run(&["migrate", "--dry-run"]);
    assert_eq!(code, OK);
    assert!(out.contains("nothing to apply"), "{out}");
    if f.is_mysql() {
        for t in ["fullauth_users", "fullauth_mfa", "fullauth_challenges"] {
            assert!(tables(f).iter().any(|x| x == t), "{t} missing");
        }
    }

    // Status: human table, JSON, --check.
    let (code, out, err) = f.run(&["status"]);
    assert_eq!(code, OK, "{err}");
    assert!(out.contains("FEATURE"), "{out}");
    assert!(out.contains("core"), "{out}");
    assert!(out.contains("up to date"), "{out}");
    if f.is_mysql() {
        assert!(
            out.starts_with(&format!("mysql database: database {}", f.schema)),
            "{out}"
        );
    }
    let v = f.json(&["status"]);
    assert_eq!(v["up_to_date"], true);
    assert_eq!(v["backend"], f.backend());
    assert!(v["pending"].as_array().unwrap().is_empty());
    assert!(v["drifted"].as_array().unwrap().is_empty());
    assert!(
        v["features"]
            .as_array()
            .unwrap()
            .iter()
            .all(|x| x["state"] == "present"),
        "{v}"
    );
    assert_eq!(f.run(&["status", "--check"]).0, OK);
}

/// The tables of the fixture's database.
fn tables(f: &Fixture) -> Vec<String> {
    f.objects()
        .unwrap()
        .into_iter()
        .filter_map(|o| o.strip_prefix("table ").map(str::to_string))
        .collect()
}

fn migrate_a_feature_later(f: &Fixture) {
    let (code, _, err) = f.run(&["migrate", "--features", "core"]);
    assert_eq!(code, OK, "{err}");
    let v = f.json(&["status", "--features", "all"]);
    assert_eq!(v["up_to_date"], false);
    assert_eq!(state(&v, "core"), "present");
    assert_eq!(state(&v, "roles"), "absent");
    assert_eq!(f.run(&["status", "--check", "--features", "all"]).0, SCHEMA);
    // Without --features: the features migrated, which are up to date.
    assert_eq!(f.run(&["status", "--check"]).0, OK);

    let (code, _, err) = f.run_stdin(
        &["user", "create", "ada@example.com", "--password-stdin"],
        "pw-1\n",
    );
    assert_eq!(code, OK, "{err}");
    let (code, _, err) = f.run(&["role", "grant", "ada@example.com", "admin"]);
    assert_eq!(code, SCHEMA, "{err}");
    assert!(err.contains("fullauth migrate --features roles"), "{err}");

    let (code, out, err) = f.run(&["migrate", "--features", "roles"]);
    assert_eq!(code, OK, "{err}");
    assert!(out.contains("roles"), "{out}");
    let (code, _, err) = f.run(&["role", "grant", "ada@example.com", "admin"]);
    assert_eq!(code, OK, "{err}");
    // Permissions are still missing.
    let (code, _, err) = f.run(&["permission", "grant", "admin", "x"]);
    assert_eq!(code, SCHEMA, "{err}");
}

fn users_lifecycle(f: &Fixture) {
    assert_eq!(f.run(&["migrate"]).0, OK);
    let (code, out, err) = f.run_stdin(
        &[
            "user",
            "create",
            "Ada@Example.com",
            "--password-stdin",
            "--verified",
        ],
        "correct horse\n",
    );
    assert_eq!(code, OK, "{err}");
    assert!(out.contains("ada@example.com"), "{out}");

    // Same email: conflict, with a hint.
    let (code, _, err) = f.run_stdin(
        &["user", "create", "ada@example.com", "--password-stdin"],
        "x\n",
    );
    assert_eq!(code, CONFLICT, "{err}");
    assert!(err.contains("hint:"), "{err}");
    // No terminal and no --password-stdin: usage, never argv.
    let (code, _, err) = f.run(&["user", "create", "bob@example.com"]);
    assert_eq!(code, USAGE, "{err}");
    assert!(err.contains("--password-stdin"), "{err}");
    // A password on the command line is not an option.
    assert_eq!(
        f.run(&["user", "create", "bob@example.com", "--password", "x"])
            .0,
        USAGE
    );
    // Invalid email.
    let long = format!("{}@example.com", "a".repeat(320));
    let (code, _, err) = f.run_stdin(&["user", "create", &long, "--password-stdin"], "x\n");
    assert_eq!(code, USAGE, "{err}");
    // Without a password.
    let (code, _, err) = f.run(&[
        "user",
        "create",
        "carol@example.com",
        "--no-password",
        "--superuser",
    ]);
    assert_eq!(code, OK, "{err}");

    let v = f.json(&["user", "show", "ada@example.com"]);
    assert_eq!(v["email"], "ada@example.com");
    assert_eq!(v["is_verified"], true);
    assert_eq!(v["has_password"], true);
    assert_eq!(v["roles"], serde_json::json!([]));
    let id = v["id"].as_str().unwrap().to_string();
    let by_id = f.json(&["user", "show", &id]);
    assert_eq!(by_id["email"], "ada@example.com");
    let (code, out, _) = f.run(&["user", "show", &id]);
    assert_eq!(code, OK);
    assert!(out.contains("FIELD") && out.contains("verified"), "{out}");
    let carol = f.json(&["user", "show", "carol@example.com"]);
    assert_eq!(carol["has_password"], false);
    assert_eq!(carol["is_superuser"], true);

    // Passwords.
    let (code, _, _) = f.run_stdin(
        &[
            "user",
            "check-password",
            "ada@example.com",
            "--password-stdin",
        ],
        "correct horse\n",
    );
    assert_eq!(code, OK);
    let (code, out, _) = f.run_stdin(
        &[
            "user",
            "check-password",
            "ada@example.com",
            "--password-stdin",
        ],
        "wrong\n",
    );
    assert_eq!(code, NO_MATCH);
    assert!(out.contains("NOT"), "{out}");
    let (code, _, err) = f.run_stdin(
        &[
            "user",
            "set-password",
            "ada@example.com",
            "--password-stdin",
        ],
        "battery staple\n",
    );
    assert_eq!(code, OK, "{err}");
    let (code, out, _) = f.run_stdin(
        &["user", "check-password", &id, "--password-stdin", "--json"],
        "correct horse\n",
    );
    assert_eq!(code, NO_MATCH);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["matches"], false);
    let (code, _, _) = f.run_stdin(
        &["user", "check-password", &id, "--password-stdin"],
        "battery staple\n",
    );
    assert_eq!(code, OK);
    let (code, _, _) = f.run_stdin(
        &[
            "user",
            "check-password",
            "carol@example.com",
            "--password-stdin",
        ],
        "anything\n",
    );
    assert_eq!(code, NO_MATCH);

    // verify / deactivate / activate.
    let v = f.json(&["user", "verify", "carol@example.com"]);
    assert_eq!(v["is_verified"], true);
    assert_eq!(
        f.json(&["user", "show", "carol@example.com"])["is_verified"],
        true
    );
    let (code, out, _) = f.run(&["user", "deactivate", "ada@example.com"]);
    assert_eq!(code, OK);
    assert!(out.contains("deactivated"), "{out}");
    assert_eq!(
        f.json(&["user", "show", "ada@example.com"])["is_active"],
        false
    );
    assert_eq!(
        f.json(&["user", "activate", "ada@example.com"])["is_active"],
        true
    );

    // Not found and malformed names.
    let (code, _, err) = f.run(&["user", "show", "nobody@example.com"]);
    assert_eq!(code, NOT_FOUND, "{err}");
    assert!(err.contains("fullauth user list"), "{err}");
    assert_eq!(f.run(&["user", "show", "not-an-id"]).0, USAGE);
    assert_eq!(
        f.run(&["user", "show", &UserId::generate().to_string()]).0,
        NOT_FOUND
    );

    // Delete.
    let (code, out, _) = f.run(&["user", "delete", "ada@example.com"]);
    assert_eq!(code, OK);
    assert!(out.contains("deleted"), "{out}");
    assert_eq!(f.run(&["user", "show", &id]).0, NOT_FOUND);
    assert_eq!(f.run(&["user", "delete", &id]).0, NOT_FOUND);
}

fn user_list_paginates(f: &Fixture) {
    assert_eq!(f.run(&["migrate", "--features", "core"]).0, OK);
    for i in 0..3 {
        let email = format!("u{i}@example.com");
        assert_eq!(f.run(&["user", "create", &email, "--no-password"]).0, OK);
        std::thread::sleep(Duration::from_millis(5));
    }
    let v = f.json(&["user", "list"]);
    assert_eq!(v["total"], 3);
    let emails: Vec<&str> = v["users"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["email"].as_str().unwrap())
        .collect();
    assert_eq!(
        emails,
        ["u0@example.com", "u1@example.com", "u2@example.com"]
    );
    // Ids as the other commands show them.
    let first = v["users"][0]["id"].as_str().unwrap();
    assert_eq!(
        f.json(&["user", "show", "u0@example.com"])["id"],
        first,
        "{v}"
    );
    let v = f.json(&["user", "list", "--limit", "1", "--offset", "1"]);
    assert_eq!(v["users"].as_array().unwrap().len(), 1);
    assert_eq!(v["users"][0]["email"], "u1@example.com");
    assert_eq!(v["total"], 3);
    let (code, out, _) = f.run(&["user", "list", "--limit", "2"]);
    assert_eq!(code, OK);
    assert!(
        out.contains("EMAIL") && out.contains("u1@example.com"),
        "{out}"
    );
    assert!(out.contains("1-2 of 3"), "{out}");
    assert!(out.contains("--offset 2"), "{out}");
    // The header and rows are aligned: EMAIL starts at the same column everywhere.
    let lines: Vec<&str> = out.lines().take(3).collect();
    let col = lines[0].find("EMAIL").unwrap();
    assert!(
        lines[1..].iter().all(|l| l[col..].starts_with('u')),
        "{out}"
    );
    assert_eq!(f.run(&["user", "list", "--limit", "x"]).0, USAGE);
}

fn roles_and_permissions(f: &Fixture) {
    assert_eq!(f.run(&["migrate"]).0, OK);
    assert_eq!(
        f.run(&["user", "create", "ada@example.com", "--no-password"])
            .0,
        OK
    );
    let v = f.json(&["role", "grant", "ada@example.com", "admin"]);
    assert_eq!(v["granted"], true);
    let (code, out, _) = f.run(&["role", "grant", "ada@example.com", "admin"]);
    assert_eq!(code, OK);
    assert!(out.contains("already"), "{out}");
    assert_eq!(f.run(&["role", "grant", "ada@example.com", "editor"]).0, OK);
    if f.is_mysql() {
        // Names compare byte for byte: `Admin` is another role.
        assert_eq!(f.run(&["role", "grant", "ada@example.com", "Admin"]).0, OK);
        assert_eq!(
            f.json(&["role", "list", "ada@example.com"]),
            serde_json::json!(["Admin", "admin", "editor"])
        );
        assert_eq!(
            f.json(&["role", "revoke", "ada@example.com", "Admin"])["revoked"],
            true
        );
    }
    assert_eq!(
        f.json(&["role", "list", "ada@example.com"]),
        serde_json::json!(["admin", "editor"])
    );
    let (code, out, _) = f.run(&["role", "list"]);
    assert_eq!(code, OK);
    assert!(out.starts_with("ROLE") && out.contains("editor"), "{out}");

    assert_eq!(
        f.json(&["permission", "grant", "admin", "users:write"])["granted"],
        true
    );
    assert_eq!(
        f.run(&["permission", "grant", "editor", "posts:write"]).0,
        OK
    );
    assert_eq!(
        f.json(&["permission", "list", "--role", "admin"]),
        serde_json::json!(["users:write"])
    );
    assert_eq!(
        f.json(&["permission", "list", "--user", "ada@example.com"]),
        serde_json::json!(["posts:write", "users:write"])
    );
    let all = f.json(&["permission", "list"]);
    assert!(
        all.as_array()
            .unwrap()
            .contains(&serde_json::json!("posts:write"))
    );
    let show = f.json(&["user", "show", "ada@example.com"]);
    assert_eq!(
        show["permissions"],
        serde_json::json!(["posts:write", "users:write"])
    );

    assert_eq!(
        f.json(&["permission", "revoke", "admin", "users:write"])["revoked"],
        true
    );
    assert_eq!(
        f.json(&["permission", "revoke", "admin", "users:write"])["revoked"],
        false
    );
    assert_eq!(
        f.json(&["role", "revoke", "ada@example.com", "editor"])["revoked"],
        true
    );
    assert_eq!(
        f.json(&["role", "list", "ada@example.com"]),
        serde_json::json!(["admin"])
    );
    assert_eq!(
        f.json(&["permission", "list", "--user", "ada@example.com"]),
        serde_json::json!([])
    );

    // Validation and unknown users.
    assert_eq!(
        f.run(&["role", "grant", "ada@example.com", &"r".repeat(101)])
            .0,
        USAGE
    );
    assert_eq!(
        f.run(&["role", "grant", "nobody@example.com", "admin"]).0,
        NOT_FOUND
    );
    assert_eq!(
        f.run(&["permission", "list", "--role", "a", "--user", "b@c.d"])
            .0,
        USAGE
    );
}

fn sessions_and_prune(f: &Fixture) {
    assert_eq!(f.run(&["migrate"]).0, OK);
    assert_eq!(
        f.run(&["user", "create", "ada@example.com", "--no-password"])
            .0,
        OK
    );
    let id: UserId = f.json(&["user", "show", "ada@example.com"])["id"]
        .as_str()
        .map(|s| fullauth_api::UserIdType::Uuid.parse(s))
        .unwrap()
        .unwrap();
    let (fam_a, fam_b) = (FamilyId::generate(), FamilyId::generate());
    common::runtime().block_on(async {
        let store = f.store().await;
        let now = Timestamp::now();
        for (raw, fam, ua, expires) in [
            (
                "tok-a",
                &fam_a,
                "Firefox/1",
                now + Duration::from_secs(3600),
            ),
            ("tok-b", &fam_b, "curl/8", now + Duration::from_secs(3600)),
            (
                "tok-c",
                &FamilyId::generate(),
                "old",
                now - Duration::from_secs(3600),
            ),
        ] {
            store
                .store_refresh_token(NewRefreshToken {
                    digest: TokenDigest::of(raw),
                    user_id: id.clone(),
                    family_id: fam.clone(),
                    expires_at: expires,
                    client: ClientInfo::new(Some(ua), Some("192.0.2.7")),
                })
                .await
                .unwrap();
        }
        assert!(store.get_user(&id).await.unwrap().is_some());
    });
    if f.is_mysql() {
        // Expired short-lived rows, for prune.
        f.exec(
            "INSERT INTO {s}.fullauth_blacklist (state_key, expires_at) \
             VALUES ('old-jti', UTC_TIMESTAMP(6) - INTERVAL 1 HOUR), \
                    ('live-jti', UTC_TIMESTAMP(6) + INTERVAL 1 HOUR)",
        );
    }

    let v = f.json(&["sessions", "list", "ada@example.com"]);
    let list = v.as_array().unwrap();
    assert_eq!(list.len(), 2, "{v}");
    assert!(
        list.iter()
            .any(|s| s["user_agent"] == "Firefox/1" && s["ip_address"] == "192.0.2.7")
    );
    let (code, out, _) = f.run(&["sessions", "list", "ada@example.com"]);
    assert_eq!(code, OK);
    assert!(
        out.contains("USER AGENT") && out.contains("curl/8"),
        "{out}"
    );
    assert!(out.contains("2 live session(s)"), "{out}");

    let (code, _, err) = f.run(&["sessions", "revoke", "ada@example.com", fam_a.as_str()]);
    assert_eq!(code, OK, "{err}");
    // Idempotent for a family the user has; not found for an unknown one.
    let (code, _, err) = f.run(&["sessions", "revoke", "ada@example.com", fam_a.as_str()]);
    assert_eq!(code, OK, "{err}");
    let unknown = FamilyId::generate();
    let (code, _, err) = f.run(&["sessions", "revoke", "ada@example.com", unknown.as_str()]);
    assert_eq!(code, NOT_FOUND, "{err}");
    assert!(err.contains("sessions list"), "{err}");
    assert_eq!(f.run(&["sessions", "revoke", "ada@example.com"]).0, USAGE);
    assert_eq!(
        f.json(&["sessions", "list", "ada@example.com"])
            .as_array()
            .unwrap()
            .len(),
        1
    );
    f.json(&[
        "sessions",
        "revoke",
        "ada@example.com",
        "--all-except",
        fam_b.as_str(),
    ]);
    let left = f.json(&["sessions", "list", "ada@example.com"]);
    assert_eq!(left[0]["family_id"], fam_b.as_str(), "{left}");
    let v = f.json(&["sessions", "revoke", "ada@example.com", "--all"]);
    assert_eq!(v["revoked"], 1);
    assert_eq!(
        f.json(&["sessions", "list", "ada@example.com"]),
        serde_json::json!([])
    );

    // The expired token is pruned; a second prune finds nothing.
    let v = f.json(&["prune"]);
    assert!(v["refresh_tokens"].as_u64().unwrap() >= 1, "{v}");
    if f.is_mysql() {
        let left = common::mysql_query(
            &f.url,
            &format!(
                "SELECT state_key FROM `{}`.fullauth_blacklist ORDER BY state_key",
                f.schema
            ),
        );
        assert_eq!(left, vec![vec![Some("live-jti".to_string())]], "{v}");
    }
    let (code, out, _) = f.run(&["prune"]);
    assert_eq!(code, OK);
    assert!(out.contains("deleted 0 expired refresh token(s)"), "{out}");
}

fn adopt_unrecorded_tables(f: &Fixture) {
    // Tables that exist without our migration records, as a database made
    // by fastapi-fullauth has them.
    assert_eq!(f.run(&["migrate", "--features", "core,roles"]).0, OK);
    f.exec("DROP TABLE {s}.fullauth_schema_migrations");
    let before = f.objects();
    let (code, out, err) = f.run(&["migrate", "--features", "core,roles"]);
    assert_eq!(code, SCHEMA, "{err}");
    assert_error_with_hint(
        &err,
        &["fullauth_users", "no migration recorded"],
        "fullauth adopt",
    );
    assert!(out.is_empty(), "{out}");
    assert_eq!(
        f.objects(),
        before,
        "a refused migrate changed the database"
    );
    let v = f.json(&["status"]);
    assert_eq!(state(&v, "core"), "unrecorded", "{v}");
    assert_eq!(f.run(&["status", "--check"]).0, SCHEMA);
    let (code, _, err) = f.run(&["user", "list"]);
    assert_eq!(code, SCHEMA, "{err}");
    assert!(err.contains("fullauth adopt"), "{err}");

    let (code, out, err) = f.run(&["adopt", "--features", "durable"]);
    assert_eq!(code, OK, "{err}");
    assert!(out.contains("adopted (already there)"), "{out}");
    assert!(out.contains("applied (was missing)"), "{out}");
    let v = f.json(&["status", "--features", "durable"]);
    assert_eq!(v["up_to_date"], true, "{v}");
    assert!(
        v["applied"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a["adopted"] == true)
    );
    // Adopting again does nothing.
    let v = f.json(&["adopt", "--features", "durable"]);
    assert!(v["adopted"].as_array().unwrap().is_empty());
    assert!(v["applied"].as_array().unwrap().is_empty());
}

fn commands_before_any_migration(f: &Fixture) {
    if f.is_sqlite() {
        // No file yet: commands that need data say how to create it.
        let (code, _, err) = f.run(&["user", "list"]);
        assert_eq!(code, SCHEMA, "{err}");
        assert!(err.contains("fullauth migrate"), "{err}");
        assert!(!f.sqlite_path().exists());
    }
    if f.is_mysql() {
        // An empty database (MariaDB's exists already): nothing recorded.
        let (code, _, err) = f.run(&["user", "list"]);
        assert_eq!(code, SCHEMA, "{err}");
        assert_error_with_hint(&err, &[], "fullauth migrate");
        let v = f.json(&["status"]);
        assert_eq!(v["chosen"], serde_json::json!([]), "{v}");
    }
    // An empty database (or schema): nothing recorded.
    let (code, _, err) = f.run(&["migrate", "--features", "blacklist"]);
    assert_eq!(code, OK, "{err}");
    let (code, _, err) = f.run(&["user", "list"]);
    assert_eq!(code, SCHEMA, "{err}");
    assert!(err.contains("fullauth migrate --features core"), "{err}");
    let v = f.json(&["prune"]);
    assert_eq!(v["refresh_tokens"], 0);
}

// ------------------------------------------------------------ no database

#[test]
fn export_sql_needs_no_database() {
    let f = Fixture::sqlite();
    let mut c = f.cmd();
    c.env(
        "FULLAUTH_DATABASE_URL",
        "postgres://nobody@127.0.0.1:1/none",
    );
    let out = c
        .args([
            "export-sql",
            "--dialect",
            "postgres",
            "--features",
            "core,roles",
            "--schema",
            "auth",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(OK));
    let sql = String::from_utf8(out.stdout).unwrap();
    assert!(sql.contains("CREATE SCHEMA \"auth\""), "{sql}");
    assert!(sql.contains("\"auth\".fullauth_user_roles"), "{sql}");
    assert!(!sql.contains("fullauth_passkeys"), "{sql}");

    let (code, sql, _) = f.run(&["export-sql", "--dialect", "sqlite"]);
    assert_eq!(code, OK);
    for table in ["fullauth_users", "fullauth_mfa", "fullauth_challenges"] {
        assert!(sql.contains(table), "{table} missing");
    }
    // The exported SQLite script builds a database `status` calls up to date.
    let conn = fullauth_sqlite::rusqlite::Connection::open(f.sqlite_path()).unwrap();
    conn.execute_batch(&sql).unwrap();
    drop(conn);
    // It records what it ran, so there is nothing left to apply or adopt.
    assert_eq!(f.json(&["status"])["up_to_date"], true);
    let v = f.json(&["adopt"]);
    assert!(v["applied"].as_array().unwrap().is_empty(), "{v}");
    assert!(v["adopted"].as_array().unwrap().is_empty(), "{v}");
    assert_eq!(f.json(&["status"])["up_to_date"], true);

    assert_eq!(f.run(&["export-sql", "--dialect", "oracle"]).0, USAGE);
    assert_eq!(f.run(&["export-sql"]).0, USAGE);
    let (code, _, err) = f.run(&["export-sql", "--dialect", "sqlite", "--features", "bogus"]);
    assert_eq!(code, USAGE);
    assert!(err.contains("unknown feature"), "{err}");
}

#[test]
fn usage_errors_and_unreachable_servers() {
    let f = Fixture::sqlite();
    assert_eq!(f.run(&["no-such-command"]).0, USAGE);
    let (code, _, err) = f.run(&["--database-url", "oracle://x/y", "status"]);
    assert_eq!(code, USAGE);
    assert!(err.contains("sqlite://PATH"), "{err}");
    let (code, out, _) = f.run(&["--help"]);
    assert_eq!(code, OK);
    assert!(out.contains("Exit codes"), "{out}");
    // The password never appears in messages.
    let (code, _, err) = f.run(&[
        "--database-url",
        "postgres://u:hunter2@127.0.0.1:1/db",
        "status",
    ]);
    assert_eq!(code, UNAVAILABLE, "{err}");
    assert!(!err.contains("hunter2"), "{err}");
    assert!(err.contains("hint:"), "{err}");
}

#[test]
fn default_database_is_fullauth_db_in_the_working_directory() {
    let f = Fixture::sqlite();
    let mut c = f.cmd();
    c.env_remove("FULLAUTH_DATABASE_URL")
        .args(["migrate", "--features", "core"]);
    assert_eq!(c.output().unwrap().status.code(), Some(OK));
    assert!(f.sqlite_path().with_file_name("fullauth.db").exists());
}
