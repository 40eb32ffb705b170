//! The built `fullauth` binary on MariaDB (`FULLAUTH_TEST_MYSQL_URL`, e.g.
//! `mysql://root@127.0.0.1:3306/test`; each test in a fresh database
//! `fullauth_test_<secs>_<rand>` it creates and drops): every command end to
//! end, modelled on the PostgreSQL scenarios of `cli.rs` and `cli_fixes.rs`,
//! plus what is MariaDB's own: the database comes from the URL (or
//! `--schema`), `mariadb://` URLs, `export-sql --dialect mysql`.
//!
//! Without the variable the tests say so loudly and skip, except under
//! `CI=true`, where that is a failure.

mod common;

use std::time::Duration;

use common::{Fixture, assert_error_with_hint};
use fullauth_api::{ClientInfo, FamilyId, NewRefreshToken, Timestamp, TokenDigest, UserId};
use serde_json::{Value, json};

const OK: i32 = 0;
const USAGE: i32 = 2;
const NOT_FOUND: i32 = 3;
const CONFLICT: i32 = 4;
const UNAVAILABLE: i32 = 5;
const SCHEMA: i32 = 6;
const NO_MATCH: i32 = 7;

/// Defines one test per scenario, on a fresh MariaDB database.
macro_rules! on_mysql {
    ($($name:ident),* $(,)?) => {$(
        #[test]
        fn $name() {
            if let Some(f) = Fixture::mysql() {
                scenarios::$name(&f);
            }
        }
    )*};
}

on_mysql!(
    migrate_dry_run_apply_and_status,
    migrate_a_feature_later,
    users_lifecycle,
    user_list_paginates,
    roles_and_permissions,
    sessions_and_prune,
    adopt_unrecorded_tables,
    commands_before_any_migration,
    migrate_json_has_one_shape,
    user_create_sets_app_columns,
    user_create_values_the_database_refuses_are_usage_errors,
    status_after_migrating_some_features_is_up_to_date,
    errors_are_one_line_with_a_hint,
    drifted_migrations_are_refused_with_one_line,
    export_sql_script_builds_a_database_status_calls_up_to_date,
    export_sqlx_folder_builds_a_database_status_calls_up_to_date,
    the_database_comes_from_the_url_or_schema,
    mariadb_urls_and_redacted_passwords,
    migrate_creates_the_database_the_url_names,
    adopt_of_a_fastapi_database_widens_and_converts_with_notes,
    user_create_needs_not_null_app_columns,
    migrate_refuses_an_unadopted_fastapi_database_and_leaves_nothing,
    status_says_an_unadopted_database_needs_adopt,
);

mod scenarios {
    use super::*;

    fn state(v: &Value, name: &str) -> String {
        v["features"]
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x["feature"] == name)
            .map(|x| x["state"].as_str().unwrap().to_string())
            .unwrap()
    }

    /// The fullauth tables of the fixture's database.
    fn tables(f: &Fixture) -> Vec<String> {
        f.objects()
            .unwrap()
            .into_iter()
            .filter_map(|o| o.strip_prefix("table ").map(str::to_string))
            .collect()
    }

    pub fn migrate_dry_run_apply_and_status(f: &Fixture) {
        let (code, out, err) = f.run(&["migrate", "--features", "all", "--dry-run"]);
        assert_eq!(code, OK, "{err}");
        assert!(out.contains("CREATE TABLE"), "{out}");
        assert!(out.contains("fullauth_users"), "{out}");
        assert!(tables(f).is_empty(), "a dry run created tables");
        let v = f.json(&["migrate", "--dry-run"]);
        assert!(!v["pending"].as_array().unwrap().is_empty());

        let (code, out, err) = f.run(&["migrate"]);
        assert_eq!(code, OK, "{err}");
        assert!(out.contains("applied"), "{out}");
        assert!(out.contains(&format!("database {}", f.schema)), "{out}");
        assert!(out.contains("(mysql)"), "{out}");
        let v = f.json(&["migrate"]);
        assert_eq!(v["applied"].as_array().unwrap().len(), 0);
        assert_eq!(v["backend"], "mysql");
        assert_eq!(v["location"], format!("database {}", f.schema));
        let (code, out, _) = f.run(&["migrate", "--dry-run"]);
        assert_eq!(code, OK);
        assert!(out.contains("nothing to apply"), "{out}");
        for t in ["fullauth_users", "fullauth_mfa", "fullauth_challenges"] {
            assert!(tables(f).iter().any(|x| x == t), "{t} missing");
        }

        let (code, out, err) = f.run(&["status"]);
        assert_eq!(code, OK, "{err}");
        assert!(out.contains("FEATURE"), "{out}");
        assert!(out.contains("up to date"), "{out}");
        assert!(
            out.starts_with(&format!("mysql database: database {}", f.schema)),
            "{out}"
        );
        let v = f.json(&["status"]);
        assert_eq!(v["up_to_date"], true);
        assert_eq!(v["backend"], "mysql");
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

    pub fn migrate_a_feature_later(f: &Fixture) {
        let (code, _, err) = f.run(&["migrate", "--features", "core"]);
        assert_eq!(code, OK, "{err}");
        let v = f.json(&["status", "--features", "all"]);
        assert_eq!(v["up_to_date"], false);
        assert_eq!(state(&v, "core"), "present");
        assert_eq!(state(&v, "roles"), "absent");
        assert_eq!(f.run(&["status", "--check", "--features", "all"]).0, SCHEMA);
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
        let (code, _, err) = f.run(&["permission", "grant", "admin", "x"]);
        assert_eq!(code, SCHEMA, "{err}");
    }

    pub fn users_lifecycle(f: &Fixture) {
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

        let (code, _, err) = f.run_stdin(
            &["user", "create", "ada@example.com", "--password-stdin"],
            "x\n",
        );
        assert_eq!(code, CONFLICT, "{err}");
        assert!(err.contains("hint:"), "{err}");
        let (code, _, err) = f.run(&["user", "create", "bob@example.com"]);
        assert_eq!(code, USAGE, "{err}");
        let long = format!("{}@example.com", "a".repeat(320));
        let (code, _, err) = f.run_stdin(&["user", "create", &long, "--password-stdin"], "x\n");
        assert_eq!(code, USAGE, "{err}");
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
        assert_eq!(v["roles"], json!([]));
        let id = v["id"].as_str().unwrap().to_string();
        assert_eq!(f.json(&["user", "show", &id])["email"], "ada@example.com");
        let carol = f.json(&["user", "show", "carol@example.com"]);
        assert_eq!(carol["has_password"], false);
        assert_eq!(carol["is_superuser"], true);

        let check = |who: &str, pw: &str| {
            f.run_stdin(
                &["user", "check-password", who, "--password-stdin"],
                &format!("{pw}\n"),
            )
            .0
        };
        assert_eq!(check("ada@example.com", "correct horse"), OK);
        assert_eq!(check("ada@example.com", "wrong"), NO_MATCH);
        assert_eq!(check("carol@example.com", "anything"), NO_MATCH);
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
        assert_eq!(check(&id, "correct horse"), NO_MATCH);
        assert_eq!(check(&id, "battery staple"), OK);

        assert_eq!(
            f.json(&["user", "verify", "carol@example.com"])["is_verified"],
            true
        );
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

        let (code, _, err) = f.run(&["user", "show", "nobody@example.com"]);
        assert_eq!(code, NOT_FOUND, "{err}");
        assert_eq!(f.run(&["user", "show", "not-an-id"]).0, USAGE);
        assert_eq!(
            f.run(&["user", "show", &UserId::generate().to_string()]).0,
            NOT_FOUND
        );

        let (code, out, _) = f.run(&["user", "delete", "ada@example.com"]);
        assert_eq!(code, OK);
        assert!(out.contains("deleted"), "{out}");
        assert_eq!(f.run(&["user", "show", &id]).0, NOT_FOUND);
        assert_eq!(f.run(&["user", "delete", &id]).0, NOT_FOUND);
    }

    pub fn user_list_paginates(f: &Fixture) {
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
        assert!(out.contains("1-2 of 3"), "{out}");
        assert!(out.contains("--offset 2"), "{out}");
    }

    pub fn roles_and_permissions(f: &Fixture) {
        assert_eq!(f.run(&["migrate"]).0, OK);
        assert_eq!(
            f.run(&["user", "create", "ada@example.com", "--no-password"])
                .0,
            OK
        );
        assert_eq!(
            f.json(&["role", "grant", "ada@example.com", "admin"])["granted"],
            true
        );
        let (code, out, _) = f.run(&["role", "grant", "ada@example.com", "admin"]);
        assert_eq!(code, OK);
        assert!(out.contains("already"), "{out}");
        assert_eq!(f.run(&["role", "grant", "ada@example.com", "editor"]).0, OK);
        // Names compare byte for byte: `Admin` is another role.
        assert_eq!(f.run(&["role", "grant", "ada@example.com", "Admin"]).0, OK);
        assert_eq!(
            f.json(&["role", "list", "ada@example.com"]),
            json!(["Admin", "admin", "editor"])
        );
        assert_eq!(
            f.json(&["role", "revoke", "ada@example.com", "Admin"])["revoked"],
            true
        );
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
            json!(["users:write"])
        );
        assert_eq!(
            f.json(&["permission", "list", "--user", "ada@example.com"]),
            json!(["posts:write", "users:write"])
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
            json!(["admin"])
        );
        assert_eq!(
            f.json(&["permission", "list", "--user", "ada@example.com"]),
            json!([])
        );
        assert_eq!(
            f.run(&["role", "grant", "ada@example.com", &"r".repeat(101)])
                .0,
            USAGE
        );
        assert_eq!(
            f.run(&["role", "grant", "nobody@example.com", "admin"]).0,
            NOT_FOUND
        );
    }

    pub fn sessions_and_prune(f: &Fixture) {
        assert_eq!(f.run(&["migrate"]).0, OK);
        assert_eq!(
            f.run(&["user", "create", "ada@example.com", "--no-password"])
                .0,
            OK
        );
        let id: UserId = f.json(&["user", "show", "ada@example.com"])["id"]
            .as_str()
            .unwrap()
            .parse()
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
                        user_id: id,
                        family_id: fam.clone(),
                        expires_at: expires,
                        client: ClientInfo::new(Some(ua), Some("192.0.2.7")),
                    })
                    .await
                    .unwrap();
            }
        });
        // Expired short-lived rows, for prune.
        f.exec(
            "INSERT INTO {s}.fullauth_blacklist (state_key, expires_at) \
             VALUES ('old-jti', UTC_TIMESTAMP(6) - INTERVAL 1 HOUR), \
                    ('live-jti', UTC_TIMESTAMP(6) + INTERVAL 1 HOUR)",
        );

        let v = f.json(&["sessions", "list", "ada@example.com"]);
        let list = v.as_array().unwrap();
        assert_eq!(list.len(), 2, "{v}");
        assert!(
            list.iter()
                .any(|s| s["user_agent"] == "Firefox/1" && s["ip_address"] == "192.0.2.7")
        );
        let (code, out, _) = f.run(&["sessions", "list", "ada@example.com"]);
        assert_eq!(code, OK);
        assert!(out.contains("2 live session(s)"), "{out}");

        let (code, _, err) = f.run(&["sessions", "revoke", "ada@example.com", fam_a.as_str()]);
        assert_eq!(code, OK, "{err}");
        let (code, _, err) = f.run(&["sessions", "revoke", "ada@example.com", fam_a.as_str()]);
        assert_eq!(code, OK, "{err}");
        let unknown = FamilyId::generate();
        let (code, _, err) = f.run(&["sessions", "revoke", "ada@example.com", unknown.as_str()]);
        assert_eq!(code, NOT_FOUND, "{err}");
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
        assert_eq!(f.json(&["sessions", "list", "ada@example.com"]), json!([]));

        let v = f.json(&["prune"]);
        assert!(v["refresh_tokens"].as_u64().unwrap() >= 1, "{v}");
        let left = common::mysql_query(
            &f.url,
            &format!(
                "SELECT state_key FROM `{}`.fullauth_blacklist ORDER BY state_key",
                f.schema
            ),
        );
        assert_eq!(left, vec![vec![Some("live-jti".to_string())]], "{v}");
        let (code, out, _) = f.run(&["prune"]);
        assert_eq!(code, OK);
        assert!(out.contains("deleted 0 expired refresh token(s)"), "{out}");
    }

    pub fn adopt_unrecorded_tables(f: &Fixture) {
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
        let v = f.json(&["adopt", "--features", "durable"]);
        assert!(v["adopted"].as_array().unwrap().is_empty());
        assert!(v["applied"].as_array().unwrap().is_empty());
    }

    pub fn commands_before_any_migration(f: &Fixture) {
        // An empty database: nothing recorded.
        let (code, _, err) = f.run(&["user", "list"]);
        assert_eq!(code, SCHEMA, "{err}");
        assert_error_with_hint(&err, &[], "fullauth migrate");
        let v = f.json(&["status"]);
        assert_eq!(v["chosen"], json!([]), "{v}");
        let (code, _, err) = f.run(&["migrate", "--features", "blacklist"]);
        assert_eq!(code, OK, "{err}");
        let (code, _, err) = f.run(&["user", "list"]);
        assert_eq!(code, SCHEMA, "{err}");
        assert!(err.contains("fullauth migrate --features core"), "{err}");
        let v = f.json(&["prune"]);
        assert_eq!(v["refresh_tokens"], 0);
    }

    pub fn migrate_json_has_one_shape(f: &Fixture) {
        let keys = |v: &Value| -> Vec<String> { v.as_object().unwrap().keys().cloned().collect() };
        let dry = f.json(&["migrate", "--features", "core", "--dry-run"]);
        let applied = f.json(&["migrate", "--features", "core"]);
        let noop = f.json(&["migrate", "--features", "core"]);
        assert_eq!(keys(&dry), keys(&applied));
        assert_eq!(keys(&dry), keys(&noop));
        let ids = |v: &Value, k: &str| -> Vec<String> {
            v[k].as_array()
                .unwrap()
                .iter()
                .map(|m| m["id"].as_str().unwrap().to_string())
                .collect()
        };
        assert!(
            dry["pending"][0]["sql"]
                .as_str()
                .unwrap()
                .contains("CREATE TABLE")
        );
        assert_eq!(ids(&applied, "applied"), ids(&dry, "pending"));
        assert!(ids(&noop, "applied").is_empty());
    }

    pub fn user_create_sets_app_columns(f: &Fixture) {
        assert_eq!(f.run(&["migrate", "--features", "core"]).0, OK);
        f.exec(
            "ALTER TABLE {s}.fullauth_users \
             ADD COLUMN display_name VARCHAR(100) NOT NULL, \
             ADD COLUMN newsletter BOOLEAN, \
             ADD COLUMN login_count INTEGER, \
             ADD COLUMN score DOUBLE, \
             ADD COLUMN plan VARCHAR(20) NOT NULL DEFAULT 'free', \
             ADD COLUMN shout VARCHAR(120) AS (UPPER(display_name)) VIRTUAL",
        );
        let create = |extra: &[&str]| {
            let mut args = vec!["user", "create", "ada@example.com", "--no-password"];
            args.extend_from_slice(extra);
            f.run(&args)
        };
        let (code, _, err) = create(&["--set", "nickname=Ada"]);
        assert_eq!(code, USAGE, "{err}");
        assert_error_with_hint(&err, &["`nickname`"], "display_name");
        let (code, _, err) = create(&["--set", "display_name=Ada", "--set", "is_superuser=true"]);
        assert_eq!(code, USAGE, "{err}");
        assert_error_with_hint(&err, &["`is_superuser`", "built-in"], "--superuser");
        let (code, _, err) = create(&["--set", "display_name=Ada", "--set", "login_count=many"]);
        assert_eq!(code, USAGE, "{err}");
        assert_error_with_hint(&err, &["login_count", "`many`"], "--set login_count=");
        let (code, _, err) = create(&["--set", "display_name=Ada", "--set", "newsletter=maybe"]);
        assert_eq!(code, USAGE, "{err}");
        assert_error_with_hint(&err, &["newsletter"], "--set newsletter=");
        let (code, _, err) = create(&["--set", "display_name=Ada", "--set", "score=lots"]);
        assert_eq!(code, USAGE, "{err}");
        // A generated column cannot be set.
        let (code, _, err) = create(&["--set", "display_name=Ada", "--set", "shout=X"]);
        assert_eq!(code, USAGE, "{err}");
        // The NOT NULL column without a default must be given.
        let (code, _, err) = create(&[]);
        assert_eq!(code, USAGE, "{err}");
        assert_error_with_hint(
            &err,
            &["fullauth_users.display_name", "NOT NULL"],
            "--set display_name=",
        );
        assert_eq!(
            f.json(&["user", "list"])["total"],
            0,
            "a refused create wrote"
        );

        let v = f.json(&[
            "user",
            "create",
            "ada@example.com",
            "--no-password",
            "--set",
            "display_name=Ada Lovelace",
            "--set",
            "newsletter=yes",
            "--set",
            "login_count=3",
            "--set",
            "score=2.5",
        ]);
        let expect = |v: &Value| {
            assert_eq!(v["extra"]["display_name"], "Ada Lovelace", "{v}");
            assert_eq!(v["extra"]["newsletter"], true, "{v}");
            assert_eq!(v["extra"]["login_count"], 3, "{v}");
            assert_eq!(v["extra"]["score"], 2.5, "{v}");
            assert_eq!(v["extra"]["plan"], "free", "{v}");
        };
        expect(&v);
        expect(&f.json(&["user", "show", "ada@example.com"]));
        let v = f.json(&[
            "user",
            "create",
            "bob@example.com",
            "--no-password",
            "--set",
            "display_name=Bob",
            "--set",
            "plan=pro",
        ]);
        assert_eq!(v["extra"]["newsletter"], Value::Null, "{v}");
        assert_eq!(v["extra"]["plan"], "pro", "{v}");
    }

    pub fn user_create_values_the_database_refuses_are_usage_errors(f: &Fixture) {
        assert_eq!(f.run(&["migrate", "--features", "core"]).0, OK);
        f.exec(
            "ALTER TABLE {s}.fullauth_users ADD COLUMN age INTEGER CHECK (age >= 0), \
             ADD COLUMN code VARCHAR(3)",
        );
        for set in ["age=-1", "code=toolong"] {
            let (code, _, err) = f.run(&[
                "user",
                "create",
                "ada@example.com",
                "--no-password",
                "--set",
                set,
            ]);
            assert_eq!(code, USAGE, "{set}: {err}");
            assert_error_with_hint(&err, &["refused"], "--set");
        }
        assert_eq!(f.json(&["user", "list"])["total"], 0);
        let v = f.json(&[
            "user",
            "create",
            "ada@example.com",
            "--no-password",
            "--set",
            "age=36",
        ]);
        assert_eq!(v["extra"]["age"], 36);
    }

    pub fn status_after_migrating_some_features_is_up_to_date(f: &Fixture) {
        assert_eq!(f.run(&["migrate", "--features", "core,roles"]).0, OK);
        let (code, out, err) = f.run(&["status"]);
        assert_eq!(code, OK, "{err}");
        assert!(!out.contains("pending"), "{out}");
        assert!(out.contains("up to date"), "{out}");
        let v = f.json(&["status"]);
        assert_eq!(v["up_to_date"], true, "{v}");
        assert_eq!(state(&v, "core"), "present");
        assert_eq!(state(&v, "roles"), "present");
        assert_eq!(state(&v, "permissions"), "not_chosen");
        let v = f.json(&["status", "--features", "core,roles,permissions"]);
        assert_eq!(v["up_to_date"], false);
        assert_eq!(state(&v, "permissions"), "absent");
        let (code, out, _) = f.run(&["status", "--features", "core,roles,permissions", "--check"]);
        assert_eq!(code, SCHEMA);
        assert!(out.contains("fullauth migrate --features"), "{out}");
    }

    pub fn errors_are_one_line_with_a_hint(f: &Fixture) {
        assert_eq!(f.run(&["migrate", "--features", "core"]).0, OK);
        let (code, _, err) = f.run(&["role", "grant", "ada@example.com", "admin"]);
        assert_eq!(code, NOT_FOUND, "{err}");
        assert_error_with_hint(&err, &["ada@example.com"], "fullauth user list");
        assert_eq!(
            f.run(&["user", "create", "ada@example.com", "--no-password"])
                .0,
            OK
        );
        let (code, _, err) = f.run(&["role", "grant", "ada@example.com", "admin"]);
        assert_eq!(code, SCHEMA, "{err}");
        assert_error_with_hint(&err, &["roles"], "fullauth migrate --features roles");
        let (code, _, err) = f.run(&["user", "create", "ada@example.com", "--no-password"]);
        assert_eq!(code, CONFLICT, "{err}");
        assert_error_with_hint(&err, &[], "fullauth user show ada@example.com");
        let (code, _, err) = f.run(&["sessions", "revoke", "ada@example.com", "no-such-family"]);
        assert_eq!(code, NOT_FOUND, "{err}");
        assert_error_with_hint(&err, &["no-such-family"], "fullauth sessions list");
    }

    pub fn drifted_migrations_are_refused_with_one_line(f: &Fixture) {
        assert_eq!(f.run(&["migrate", "--features", "core"]).0, OK);
        f.exec(
            "UPDATE {s}.fullauth_schema_migrations SET checksum = 'edited' \
             WHERE id = 'core_0001_users'",
        );
        let v = f.json(&["status"]);
        assert_eq!(v["drifted"], json!(["core_0001_users"]), "{v}");
        assert_eq!(state(&v, "core"), "drifted");
        assert_eq!(f.run(&["status", "--check"]).0, SCHEMA);
        let before = f.objects();
        for args in [
            &["migrate", "--features", "core,roles"][..],
            &["migrate", "--features", "core,roles", "--dry-run"],
            &["adopt"],
        ] {
            let (code, out, err) = f.run(args);
            assert_eq!(code, SCHEMA, "{args:?}: {err}");
            assert_error_with_hint(
                &err,
                &["core_0001_users", "another checksum"],
                "fullauth status",
            );
            assert!(out.is_empty(), "{out}");
            assert_eq!(f.objects(), before, "{args:?} changed the database");
        }
    }

    pub fn export_sql_script_builds_a_database_status_calls_up_to_date(f: &Fixture) {
        // The database from the URL (FULLAUTH_SCHEMA is not set here).
        let out = f
            .cmd()
            .env_remove("FULLAUTH_SCHEMA")
            .args(["export-sql", "--dialect", "mysql"])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(OK));
        let script = String::from_utf8(out.stdout).unwrap();
        assert!(
            script.contains(&format!("`{}`.fullauth_users", f.schema)),
            "{script}"
        );
        // `--schema` names another database; `mariadb` is the same dialect.
        let (code, other, err) = f.run(&[
            "export-sql",
            "--dialect",
            "mariadb",
            "--schema",
            "auth_db",
            "--features",
            "core,roles",
        ]);
        assert_eq!(code, OK, "{err}");
        assert!(other.contains("`auth_db`.fullauth_user_roles"), "{other}");
        assert!(!other.contains("fullauth_passkeys"), "{other}");
        let v = f.json(&["export-sql", "--dialect", "mysql", "--features", "core"]);
        assert_eq!(v["dialect"], "mysql");
        // Without a MariaDB database anywhere: a usage error saying what to pass.
        let out = f
            .cmd()
            .env_remove("FULLAUTH_SCHEMA")
            .env("FULLAUTH_DATABASE_URL", "sqlite://x.db")
            .args(["export-sql", "--dialect", "mysql"])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(USAGE));
        let err = String::from_utf8(out.stderr).unwrap();
        assert_error_with_hint(&err, &["database"], "--schema");

        // The script builds a database `status` calls up to date, recorded.
        f.exec(&script);
        let v = f.json(&["status", "--features", "all"]);
        assert_eq!(v["up_to_date"], true, "{v}");
        let v = f.json(&["adopt"]);
        assert!(v["applied"].as_array().unwrap().is_empty(), "{v}");
        assert!(v["adopted"].as_array().unwrap().is_empty(), "{v}");
        assert_eq!(f.json(&["migrate"])["applied"], json!([]));
    }

    pub fn export_sqlx_folder_builds_a_database_status_calls_up_to_date(f: &Fixture) {
        let dir = tempfile::tempdir().unwrap();
        let out_dir = dir.path().join("migrations");
        let out_arg = out_dir.display().to_string();
        let args = [
            "export-sql",
            "--dialect",
            "mysql",
            "--format",
            "sqlx",
            "--out",
            &out_arg,
            "--version-base",
            "20000000000000",
        ];
        let (code, out, err) = f.run(&args);
        assert_eq!(code, OK, "{err}");
        assert!(out.contains("wrote 13 mysql migration file(s)"), "{out}");
        let mut files: Vec<(i64, std::path::PathBuf)> = std::fs::read_dir(&out_dir)
            .unwrap()
            .map(|e| {
                let path = e.unwrap().path();
                let name = path.file_name().unwrap().to_string_lossy().into_owned();
                (name.split('_').next().unwrap().parse().unwrap(), path)
            })
            .collect();
        files.sort();
        assert_eq!(files.len(), 13);
        assert_eq!(files[0].0, 20000000000001);
        for (_, path) in &files {
            f.exec(&std::fs::read_to_string(path).unwrap());
        }
        let v = f.json(&["status", "--features", "all"]);
        assert_eq!(v["up_to_date"], true, "{v}");
        assert_eq!(f.json(&["migrate"])["applied"], json!([]));
        assert_eq!(f.run(&args).0, OK);
        std::fs::write(&files[0].1, "-- edited\n").unwrap();
        let (code, _, err) = f.run(&args);
        assert_eq!(code, CONFLICT, "{err}");
    }

    pub fn the_database_comes_from_the_url_or_schema(f: &Fixture) {
        // The server URL names another database (the fixture's URL minus
        // its database + `--schema`): the tables go into `--schema`.
        let no_db = common::with_database(&f.url, "");
        let run = |url: &str, schema: Option<&str>, args: &[&str]| {
            let mut c = f.cmd();
            c.env("FULLAUTH_DATABASE_URL", url);
            match schema {
                Some(s) => c.env("FULLAUTH_SCHEMA", s),
                None => c.env_remove("FULLAUTH_SCHEMA"),
            };
            let out = c.args(args).output().unwrap();
            (
                out.status.code().unwrap_or(-1),
                String::from_utf8_lossy(&out.stdout).into_owned(),
                String::from_utf8_lossy(&out.stderr).into_owned(),
            )
        };
        // No database anywhere: a usage error naming what to pass.
        let (code, _, err) = run(&no_db, None, &["status"]);
        assert_eq!(code, USAGE, "{err}");
        assert_error_with_hint(&err, &["names no database"], "--schema");
        let (code, out, err) = run(&no_db, Some(&f.schema), &["migrate", "--features", "core"]);
        assert_eq!(code, OK, "{err}");
        assert!(out.contains(&format!("database {}", f.schema)), "{out}");
        // The URL's own database, no --schema: the same tables.
        let (code, out, err) = run(&f.url, None, &["status", "--json"]);
        assert_eq!(code, OK, "{err}");
        let v: Value = serde_json::from_str(&out).unwrap();
        assert_eq!(v["location"], format!("database {}", f.schema));
        assert_eq!(state(&v, "core"), "present", "{v}");
        // --schema wins over the URL's database.
        let server = common::mysql_url().unwrap();
        assert_ne!(common::with_database(&server, &f.schema), server);
        let (code, out, err) = run(&server, Some(&f.schema), &["status", "--json"]);
        assert_eq!(code, OK, "{err}");
        let v: Value = serde_json::from_str(&out).unwrap();
        assert_eq!(state(&v, "core"), "present", "{v}");
    }

    /// The MariaDB catalog of `table.column`: its column type and collation.
    fn column(f: &Fixture, table: &str, column: &str) -> (String, Option<String>) {
        let rows = common::mysql_query(
            &f.url,
            &format!(
                "SELECT COLUMN_TYPE, COLLATION_NAME FROM information_schema.COLUMNS \
                 WHERE TABLE_SCHEMA = '{}' AND TABLE_NAME = '{table}' AND COLUMN_NAME = '{column}'",
                f.schema
            ),
        );
        let mut row = rows.into_iter().next().expect("no such column");
        let collation = row.pop().unwrap();
        (row.pop().unwrap().unwrap(), collation)
    }

    pub fn adopt_of_a_fastapi_database_widens_and_converts_with_notes(f: &Fixture) {
        f.load_fastapi_0_18(&["display_name VARCHAR(100) NOT NULL"]);
        assert_eq!(column(f, "fullauth_users", "created_at").0, "datetime");
        assert_eq!(column(f, "fullauth_users", "id").0, "uuid");
        let (code, out, err) = f.run(&["adopt"]);
        assert_eq!(code, OK, "{err}");
        assert!(out.contains("adopted (already there)"), "{out}");
        let notes: Vec<String> = out
            .lines()
            .filter(|l| l.starts_with("note:"))
            .map(str::to_ascii_lowercase)
            .collect();
        assert!(
            notes.iter().any(|n| n.contains("datetime(6)")),
            "no note on the widened timestamps:\n{out}"
        );
        assert!(
            notes.iter().any(|n| n.contains("utf8mb4_nopad_bin")),
            "no note on the converted collation:\n{out}"
        );
        assert!(
            notes
                .iter()
                .any(|n| n.contains("fullauth_users.display_name")),
            "no note on the app column:\n{out}"
        );
        assert_eq!(column(f, "fullauth_users", "created_at").0, "datetime(6)");
        assert_eq!(
            column(f, "fullauth_refresh_tokens", "expires_at").0,
            "datetime(6)"
        );
        assert_eq!(column(f, "fullauth_users", "id").0, "uuid");
        assert_eq!(
            column(f, "fullauth_users", "email").1.as_deref(),
            Some("utf8mb4_nopad_bin")
        );
        // The app column keeps its type, converted with its table.
        assert_eq!(
            column(f, "fullauth_users", "display_name").0,
            "varchar(100)"
        );
        let (code, out, _) = f.run(&["adopt"]);
        assert_eq!(code, OK);
        assert!(out.contains("nothing to do"), "{out}");
        assert!(!out.contains("utf8mb4"), "{out}");
        assert_eq!(f.json(&["status"])["up_to_date"], true);
        // Byte-wise names after the conversion.
        assert_eq!(
            f.run(&[
                "user",
                "create",
                "ada@example.com",
                "--no-password",
                "--set",
                "display_name=Ada"
            ])
            .0,
            OK
        );
        assert_eq!(f.run(&["role", "grant", "ada@example.com", "admin"]).0, OK);
        assert_eq!(f.run(&["role", "grant", "ada@example.com", "ADMIN"]).0, OK);
        assert_eq!(
            f.json(&["role", "list", "ada@example.com"]),
            json!(["ADMIN", "admin"])
        );
    }

    pub fn user_create_needs_not_null_app_columns(f: &Fixture) {
        f.load_fastapi_0_18(&["display_name VARCHAR(100) NOT NULL", "nickname TEXT"]);
        assert_eq!(f.run(&["adopt"]).0, OK);
        let (code, _, err) = f.run_stdin(
            &["user", "create", "ada@example.com", "--password-stdin"],
            "pw\n",
        );
        assert_eq!(code, USAGE, "{err}");
        assert_error_with_hint(
            &err,
            &["fullauth_users.display_name", "NOT NULL"],
            "--set display_name=",
        );
        assert!(!err.contains("nickname"), "{err}");
        assert_eq!(f.json(&["user", "list"])["total"], 0);
        let (code, _, err) = f.run_stdin(
            &[
                "user",
                "create",
                "ada@example.com",
                "--password-stdin",
                "--set",
                "display_name=Ada",
            ],
            "pw\n",
        );
        assert_eq!(code, OK, "{err}");
    }

    pub fn migrate_refuses_an_unadopted_fastapi_database_and_leaves_nothing(f: &Fixture) {
        f.load_fastapi_0_18(&[]);
        let before = f.objects();
        assert!(before.is_some());
        for args in [
            &["migrate"][..],
            &["migrate", "--features", "core,roles"],
            &["migrate", "--dry-run"],
            &["migrate", "--json"],
        ] {
            let (code, out, err) = f.run(args);
            assert_eq!(code, SCHEMA, "{args:?}: {err}");
            assert_error_with_hint(
                &err,
                &["fullauth_users", "no migration recorded"],
                "fullauth adopt",
            );
            assert!(!err.contains("CREATE"), "{err}");
            assert!(out.is_empty(), "{args:?}: {out}");
            assert_eq!(f.objects(), before, "{args:?} changed the database");
        }
        assert_eq!(column(f, "fullauth_users", "created_at").0, "datetime");
        let (code, _, err) = f.run(&["adopt"]);
        assert_eq!(code, OK, "{err}");
        assert_eq!(f.json(&["migrate"])["applied"], json!([]));
    }

    pub fn status_says_an_unadopted_database_needs_adopt(f: &Fixture) {
        f.load_fastapi_0_18(&[]);
        let before = f.objects();
        let (code, out, err) = f.run(&["status"]);
        assert_eq!(code, OK, "{err}");
        let core = out
            .lines()
            .find(|l| l.starts_with("core "))
            .unwrap_or_else(|| panic!("{out}"));
        assert!(core.contains("unrecorded"), "{out}");
        assert!(out.contains("run `fullauth adopt`"), "{out}");
        let v = f.json(&["status"]);
        assert_eq!(v["up_to_date"], false);
        for feature in ["core", "roles", "permissions", "oauth", "passkeys", "mfa"] {
            assert_eq!(state(&v, feature), "unrecorded", "{feature}: {v}");
        }
        assert_ne!(state(&v, "blacklist"), "present", "{v}");
        assert_eq!(f.run(&["status", "--check"]).0, SCHEMA);
        assert_eq!(f.objects(), before);
    }

    pub fn migrate_creates_the_database_the_url_names(f: &Fixture) {
        let server = common::mysql_url().unwrap();
        common::mysql_exec(&server, &format!("DROP DATABASE `{}`", f.schema));
        let exists = || {
            !common::mysql_query(&server, &format!("SHOW DATABASES LIKE '{}'", f.schema)).is_empty()
        };
        // Commands that need the data say what to do, and change nothing.
        for args in [&["status"][..], &["user", "list"], &["adopt"]] {
            let (code, _, err) = f.run(args);
            assert_eq!(code, SCHEMA, "{args:?}: {err}");
            assert_error_with_hint(&err, &[&f.schema, "does not exist"], "fullauth migrate");
        }
        // A dry run plans everything and creates nothing.
        let v = f.json(&["migrate", "--dry-run"]);
        assert_eq!(v["pending"].as_array().unwrap().len(), 13, "{v}");
        assert!(!exists(), "a dry run created the database");
        // migrate creates it, with fullauth's collation.
        let (code, out, err) = f.run(&["migrate", "--features", "core"]);
        assert_eq!(code, OK, "{err}");
        assert!(out.contains("core_0001_users"), "{out}");
        assert!(exists());
        let collation = common::mysql_query(
            &server,
            &format!(
                "SELECT TABLE_COLLATION FROM information_schema.TABLES \
                 WHERE TABLE_SCHEMA = '{}' AND TABLE_NAME = 'fullauth_users'",
                f.schema
            ),
        );
        assert_eq!(collation[0][0].as_deref(), Some("utf8mb4_nopad_bin"));
        assert_eq!(f.json(&["status"])["up_to_date"], true);
    }

    pub fn mariadb_urls_and_redacted_passwords(f: &Fixture) {
        let mariadb = f.url.replacen("mysql://", "mariadb://", 1);
        let (code, _, err) = f.run(&["--database-url", &mariadb, "migrate", "--features", "core"]);
        assert_eq!(code, OK, "{err}");
        let v = f.json(&["--database-url", &mariadb, "status"]);
        assert_eq!(v["backend"], "mysql");
        assert_eq!(state(&v, "core"), "present");
        // Nobody listens: unavailable, the password never shown.
        let (code, _, err) = f.run(&[
            "--database-url",
            "mysql://u:hunter2@127.0.0.1:1/db",
            "status",
        ]);
        assert_eq!(code, UNAVAILABLE, "{err}");
        assert!(!err.contains("hunter2"), "{err}");
        assert!(err.contains("hint:"), "{err}");
        // A wrong password on the real server: refused, not shown either.
        let wrong = match f.url.split_once("://") {
            Some((scheme, rest)) => {
                let (auth, host) = rest.split_once('@').unwrap_or(("root", rest));
                let user = auth.split(':').next().unwrap_or("root");
                format!("{scheme}://{user}:wr0ng-s3cret@{host}")
            }
            None => unreachable!(),
        };
        let (code, _, err) = f.run(&["--database-url", &wrong, "status"]);
        assert_ne!(code, OK, "{err}");
        assert!(!err.contains("wr0ng-s3cret"), "{err}");
        // The help names the MariaDB URL and what --schema means there.
        let (_, help, _) = f.run(&["--help"]);
        assert!(help.contains("mysql://"), "{help}");
        assert!(help.contains("MariaDB"), "{help}");
    }
}

/// The conformance suite on MariaDB through the command: it passes, and the
/// throwaway database is gone afterwards.
#[test]
fn conformance_on_mariadb_leaves_nothing_behind() {
    let Some(server) = common::mysql_url() else {
        return;
    };
    let f = Fixture::sqlite();
    let mut c = f.cmd();
    c.env("FULLAUTH_DATABASE_URL", &server)
        .env_remove("FULLAUTH_SCHEMA")
        .arg("conformance");
    let out = c.output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let label = stdout
        .lines()
        .find(|l| l.starts_with("== mysql (throwaway database "))
        .unwrap_or_else(|| panic!("no MariaDB run:\n{stdout}\n{stderr}"));
    let database = label
        .trim_start_matches("== mysql (throwaway database ")
        .split(',')
        .next()
        .unwrap()
        .to_string();
    let left = common::mysql_query(&server, &format!("SHOW DATABASES LIKE '{database}'"));
    assert!(left.is_empty(), "{database} left behind");
    assert_eq!(
        out.status.code(),
        Some(OK),
        "the suite failed on MariaDB:\n{stdout}\n{stderr}"
    );
    assert!(stdout.contains("conformance: PASSED"), "{stdout}");
}
