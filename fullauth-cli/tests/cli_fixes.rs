//! The rough edges of the `fullauth` command a new user ran into, each pinned
//! by a test on SQLite and PostgreSQL (and MariaDB, where the scenario runs
//! there too): a closed pipe, one-line errors with a hint and one exit code
//! on every backend, app columns in `user create`, a
//! refused migrate that leaves nothing behind, a truthful `status`, one JSON
//! shape per command, `--help` without environment values.

mod common;

use std::time::Duration;

use common::{Fixture, assert_error_with_hint, state};
use fullauth_api::{ClientInfo, FamilyId, NewRefreshToken, Timestamp, TokenDigest, UserId};
use serde_json::{Value, json};

const OK: i32 = 0;
const USAGE: i32 = 2;
const NOT_FOUND: i32 = 3;
const CONFLICT: i32 = 4;
const SCHEMA: i32 = 6;
const NO_MATCH: i32 = 7;

on_both!(
    closed_stdout_ends_quietly_with_the_commands_own_code,
    closed_stderr_never_panics,
    help_shows_no_environment_values,
    check_password_mismatch_has_its_own_exit_code,
    sessions_revoke_json_has_one_shape,
    adopt_notes_the_app_columns,
);

on_all!(
    migrate_json_has_one_shape,
    user_create_sets_app_columns,
    user_create_needs_not_null_app_columns,
    user_create_values_the_database_refuses_are_usage_errors,
    migrate_refuses_an_unadopted_fastapi_database_and_leaves_nothing,
    status_says_an_unadopted_database_needs_adopt,
    status_after_migrating_some_features_is_up_to_date,
    errors_are_one_line_with_a_hint,
    drifted_migrations_are_refused_with_one_line,
    export_sqlx_folder_builds_a_database_status_calls_up_to_date,
);

/// The user's id, read with `user show --json`.
fn user_id(f: &Fixture, email: &str) -> UserId {
    f.json(&["user", "show", email])["id"]
        .as_str()
        .map(|s| fullauth_api::UserIdType::Uuid.parse(s))
        .unwrap()
        .unwrap()
}

fn closed_stdout_ends_quietly_with_the_commands_own_code(f: &Fixture) {
    // Every command that prints, run with its reader gone (`| head -0`):
    // no panic (exit 101 before), the command's own exit code, and the
    // work done anyway.
    let cases: &[(&[&str], &str, i32)] = &[
        (&["migrate", "--dry-run"], "", OK),
        (&["migrate", "--dry-run", "--json"], "", OK),
        (&["migrate", "--features", "all"], "", OK),
        (&["migrate"], "", OK),
        (&["status"], "", OK),
        (&["status", "--json"], "", OK),
        (&["adopt"], "", OK),
        (&["adopt", "--json"], "", OK),
        (&["export-sql", "--dialect", "sqlite"], "", OK),
        (&["export-sql", "--dialect", "postgres"], "", OK),
        (
            &["user", "create", "ada@example.com", "--password-stdin"],
            "pw-1\n",
            OK,
        ),
        (&["user", "list"], "", OK),
        (&["user", "list", "--json"], "", OK),
        (&["user", "show", "ada@example.com"], "", OK),
        (&["user", "show", "ada@example.com", "--json"], "", OK),
        (
            &[
                "user",
                "check-password",
                "ada@example.com",
                "--password-stdin",
            ],
            "pw-1\n",
            OK,
        ),
        (
            &[
                "user",
                "check-password",
                "ada@example.com",
                "--password-stdin",
            ],
            "wrong\n",
            NO_MATCH,
        ),
        (
            &[
                "user",
                "set-password",
                "ada@example.com",
                "--password-stdin",
            ],
            "pw-2\n",
            OK,
        ),
        (&["user", "verify", "ada@example.com"], "", OK),
        (&["user", "deactivate", "ada@example.com"], "", OK),
        (&["user", "activate", "ada@example.com"], "", OK),
        (&["role", "grant", "ada@example.com", "admin"], "", OK),
        (&["role", "list"], "", OK),
        (&["role", "list", "ada@example.com", "--json"], "", OK),
        (&["role", "revoke", "ada@example.com", "admin"], "", OK),
        (&["permission", "grant", "admin", "users:write"], "", OK),
        (&["permission", "list"], "", OK),
        (&["permission", "revoke", "admin", "users:write"], "", OK),
        (&["sessions", "list", "ada@example.com"], "", OK),
        (&["sessions", "revoke", "ada@example.com", "--all"], "", OK),
        (&["prune"], "", OK),
        (&["prune", "--json"], "", OK),
        (&["--help"], "", OK),
        (&["user", "create", "--help"], "", OK),
        (&["--version"], "", OK),
        // An error still says what went wrong on standard error.
        (&["user", "show", "nobody@example.com"], "", NOT_FOUND),
        (&["user", "delete", "ada@example.com"], "", OK),
    ];
    for (args, input, code) in cases {
        let (got, err) = f.run_closed_stdout(args, input);
        assert_eq!(got, Some(*code), "{args:?}: {err}");
        assert!(!err.contains("panicked"), "{args:?}: {err}");
        if *code == NOT_FOUND {
            assert!(err.contains("error: no user"), "{err}");
        }
    }
    // The work was done although nobody read the output.
    assert_eq!(f.json(&["status", "--features", "all"])["up_to_date"], true);
    assert_eq!(f.run(&["user", "show", "ada@example.com"]).0, NOT_FOUND);
}

fn closed_stderr_never_panics(f: &Fixture) {
    assert_eq!(f.run(&["migrate"]).0, OK);
    // Errors with nowhere to print them still exit with their code (101,
    // a panic, before).
    assert_eq!(
        f.run_closed_outputs(&["user", "show", "nobody@example.com"]),
        Some(NOT_FOUND)
    );
    assert_eq!(
        f.run_closed_outputs(&["--database-url", "oracle://x/y", "status"]),
        Some(USAGE)
    );
    assert_eq!(f.run_closed_outputs(&["no-such-command"]), Some(USAGE));
    assert_eq!(f.run_closed_outputs(&["status"]), Some(OK));
}

fn help_shows_no_environment_values(f: &Fixture) {
    for schema in [Some(f.schema.as_str()), Some("secret_schema"), None] {
        for args in [
            &["--help"][..],
            &["status", "--help"],
            &["user", "create", "--help"],
        ] {
            let mut c = f.cmd();
            match schema {
                Some(s) => c.env("FULLAUTH_SCHEMA", s),
                None => c.env_remove("FULLAUTH_SCHEMA"),
            };
            let out = c.args(args).output().unwrap();
            assert_eq!(out.status.code(), Some(OK));
            let help = String::from_utf8(out.stdout).unwrap();
            // Lines may wrap anywhere (clap fits the help to the terminal).
            let flat = help.split_whitespace().collect::<Vec<_>>().join(" ");
            assert!(flat.contains("[env: FULLAUTH_SCHEMA]"), "{args:?}:\n{help}");
            assert!(!help.contains("FULLAUTH_SCHEMA="), "{args:?}:\n{help}");
            assert!(!help.contains("secret_schema"), "{args:?}:\n{help}");
            assert!(!help.contains(&f.url), "{args:?}:\n{help}");
        }
    }
    // The exit codes are documented, the new ones included.
    let (_, help, _) = f.run(&["--help"]);
    assert!(help.contains("7 password does not match"), "{help}");
}

fn check_password_mismatch_has_its_own_exit_code(f: &Fixture) {
    assert_eq!(f.run(&["migrate", "--features", "core"]).0, OK);
    let (code, _, err) = f.run_stdin(
        &["user", "create", "ada@example.com", "--password-stdin"],
        "correct horse\n",
    );
    assert_eq!(code, OK, "{err}");
    assert_eq!(
        f.run(&["user", "create", "bob@example.com", "--no-password"])
            .0,
        OK
    );
    let check = |who: &str, pw: &str| {
        f.run_stdin(
            &["user", "check-password", who, "--password-stdin"],
            &format!("{pw}\n"),
        )
    };
    assert_eq!(check("ada@example.com", "correct horse").0, OK);
    // A wrong password is not a failure of the command (1 before).
    let (code, out, err) = check("ada@example.com", "wrong");
    assert_eq!(code, NO_MATCH, "{err}");
    assert!(out.contains("does NOT match"), "{out}");
    assert!(err.is_empty(), "{err}");
    let (code, out, _) = check("bob@example.com", "anything");
    assert_eq!(code, NO_MATCH);
    assert!(out.contains("no password"), "{out}");
    let (code, out, _) = f.run_stdin(
        &[
            "user",
            "check-password",
            "ada@example.com",
            "--password-stdin",
            "--json",
        ],
        "wrong\n",
    );
    assert_eq!(code, NO_MATCH);
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["matches"], false);
    assert_eq!(v["has_password"], true);
    // Other outcomes keep their codes.
    assert_eq!(check("nobody@example.com", "x").0, NOT_FOUND);
}

fn sessions_revoke_json_has_one_shape(f: &Fixture) {
    assert_eq!(f.run(&["migrate", "--features", "core"]).0, OK);
    assert_eq!(
        f.run(&["user", "create", "ada@example.com", "--no-password"])
            .0,
        OK
    );
    let id = user_id(f, "ada@example.com");
    let fams = [
        FamilyId::generate(),
        FamilyId::generate(),
        FamilyId::generate(),
    ];
    common::runtime().block_on(async {
        let store = f.store().await;
        for (i, fam) in fams.iter().enumerate() {
            // Two tokens in the first family: the count is of sessions.
            for n in 0..(if i == 0 { 2 } else { 1 }) {
                store
                    .store_refresh_token(NewRefreshToken {
                        digest: TokenDigest::of(&format!("tok-{i}-{n}")),
                        user_id: id.clone(),
                        family_id: fam.clone(),
                        expires_at: Timestamp::now() + Duration::from_secs(3600),
                        client: ClientInfo::default(),
                    })
                    .await
                    .unwrap();
            }
        }
    });
    let shape = |v: &Value| {
        let keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(keys, ["revoked", "user"], "{v}");
        assert_eq!(v["user"], id.to_string());
        v["revoked"].as_u64().unwrap()
    };
    let user = "ada@example.com";
    // One family (`true` before), then again (idempotent: nothing revoked).
    assert_eq!(
        shape(&f.json(&["sessions", "revoke", user, fams[0].as_str()])),
        1
    );
    assert_eq!(
        shape(&f.json(&["sessions", "revoke", user, fams[0].as_str()])),
        0
    );
    // All but one, then all, then all again.
    assert_eq!(
        shape(&f.json(&["sessions", "revoke", user, "--all-except", fams[1].as_str()])),
        1
    );
    assert_eq!(shape(&f.json(&["sessions", "revoke", user, "--all"])), 1);
    assert_eq!(shape(&f.json(&["sessions", "revoke", user, "--all"])), 0);
    let (code, out, _) = f.run(&["sessions", "revoke", user, "--all"]);
    assert_eq!(code, OK);
    assert!(out.contains("revoked 0 live session(s)"), "{out}");
}

fn migrate_json_has_one_shape(f: &Fixture) {
    let keys = |v: &Value| -> Vec<String> { v.as_object().unwrap().keys().cloned().collect() };
    let dry = f.json(&["migrate", "--features", "core", "--dry-run"]);
    let applied = f.json(&["migrate", "--features", "core"]);
    let noop = f.json(&["migrate", "--features", "core"]);
    let noop_dry = f.json(&["migrate", "--features", "core", "--dry-run"]);
    assert_eq!(keys(&dry), keys(&applied));
    assert_eq!(keys(&dry), keys(&noop));
    assert_eq!(keys(&dry), keys(&noop_dry));
    assert_eq!(dry["dry_run"], true);
    assert_eq!(applied["dry_run"], false);
    let ids = |v: &Value, k: &str| -> Vec<String> {
        v[k].as_array()
            .unwrap()
            .iter()
            .map(|m| m["id"].as_str().unwrap().to_string())
            .collect()
    };
    assert!(!ids(&dry, "pending").is_empty(), "{dry}");
    assert!(ids(&dry, "applied").is_empty(), "{dry}");
    assert!(
        dry["pending"][0]["sql"]
            .as_str()
            .unwrap()
            .contains("CREATE TABLE")
    );
    assert_eq!(ids(&applied, "applied"), ids(&dry, "pending"));
    assert!(ids(&applied, "pending").is_empty());
    assert!(ids(&noop, "applied").is_empty());
    assert!(ids(&noop_dry, "pending").is_empty());
}

/// The fastapi-fullauth 0.18 tables with an app's own user columns, adopted.
fn adopted_with_app_columns(f: &Fixture, columns: &[&str]) {
    f.load_fastapi_0_18(columns);
    let (code, _, err) = f.run(&["adopt"]);
    assert_eq!(code, OK, "{err}");
}

fn user_create_sets_app_columns(f: &Fixture) {
    if f.is_mysql() {
        // Columns an app added to a database fullauth migrated, a DOUBLE and
        // a generated column among them.
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
    } else {
        adopted_with_app_columns(
            f,
            &[
                "display_name VARCHAR(100) NOT NULL",
                "newsletter BOOLEAN",
                "login_count INTEGER",
                "plan VARCHAR(20) NOT NULL DEFAULT 'free'",
            ],
        );
    }
    let create = |extra: &[&str]| {
        let mut args = vec!["user", "create", "ada@example.com", "--no-password"];
        args.extend_from_slice(extra);
        f.run(&args)
    };
    // Unknown column: a usage error naming it, listing the real ones.
    let (code, _, err) = create(&["--set", "nickname=Ada"]);
    assert_eq!(code, USAGE, "{err}");
    assert_error_with_hint(&err, &["`nickname`"], "display_name");
    // A built-in column is not an app column.
    let (code, _, err) = create(&["--set", "display_name=Ada", "--set", "is_superuser=true"]);
    assert_eq!(code, USAGE, "{err}");
    assert_error_with_hint(&err, &["`is_superuser`", "built-in"], "--superuser");
    // Values must suit the column's type, the same on both backends.
    let (code, _, err) = create(&["--set", "display_name=Ada", "--set", "login_count=many"]);
    assert_eq!(code, USAGE, "{err}");
    assert_error_with_hint(&err, &["login_count", "`many`"], "--set login_count=");
    let (code, _, err) = create(&["--set", "display_name=Ada", "--set", "newsletter=maybe"]);
    assert_eq!(code, USAGE, "{err}");
    assert_error_with_hint(&err, &["newsletter"], "--set newsletter=");
    let (code, _, err) = create(&["--set", "display_name=Ada", "--set", "display_name=Bob"]);
    assert_eq!(code, USAGE, "{err}");
    assert_error_with_hint(&err, &["twice"], "once");
    let (code, _, err) = create(&["--set", "display_name"]);
    assert_eq!(code, USAGE, "{err}");
    assert!(err.contains("COLUMN=VALUE"), "{err}");
    if f.is_mysql() {
        let (code, _, err) = create(&["--set", "display_name=Ada", "--set", "score=lots"]);
        assert_eq!(code, USAGE, "{err}");
        // A generated column cannot be set.
        let (code, _, err) = create(&["--set", "display_name=Ada", "--set", "shout=X"]);
        assert_eq!(code, USAGE, "{err}");
    }
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

    let mut args = vec![
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
    ];
    if f.is_mysql() {
        args.extend(["--set", "score=2.5"]);
    }
    let v = f.json(&args);
    let expect = |v: &Value| {
        assert_eq!(v["extra"]["display_name"], "Ada Lovelace", "{v}");
        assert_eq!(v["extra"]["newsletter"], true, "{v}");
        assert_eq!(v["extra"]["login_count"], 3, "{v}");
        assert_eq!(v["extra"]["plan"], "free", "{v}");
        if f.is_mysql() {
            assert_eq!(v["extra"]["score"], 2.5, "{v}");
        }
    };
    expect(&v);
    expect(&f.json(&["user", "show", "ada@example.com"]));
    // An optional column may be left out: it is NULL.
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

fn user_create_needs_not_null_app_columns(f: &Fixture) {
    adopted_with_app_columns(f, &["display_name VARCHAR(100) NOT NULL", "nickname TEXT"]);
    // A raw NOT NULL constraint error before, exit 1 on one backend and 2 on
    // the other; now one line, the column named, the flag to pass.
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

fn user_create_values_the_database_refuses_are_usage_errors(f: &Fixture) {
    let mut refused = vec!["age=-1"];
    if f.is_mysql() {
        // Columns an app added to a database fullauth migrated.
        assert_eq!(f.run(&["migrate", "--features", "core"]).0, OK);
        f.exec(
            "ALTER TABLE {s}.fullauth_users ADD COLUMN age INTEGER CHECK (age >= 0), \
             ADD COLUMN code VARCHAR(3)",
        );
        refused.push("code=toolong");
    } else {
        adopted_with_app_columns(f, &["age INTEGER CHECK (age >= 0)"]);
    }
    for set in refused {
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

fn adopt_notes_the_app_columns(f: &Fixture) {
    f.load_fastapi_0_18(&["display_name VARCHAR(100) NOT NULL"]);
    // `"notes": []` on PostgreSQL before; the same note on both backends now.
    let v = f.json(&["adopt"]);
    let notes: Vec<&str> = v["notes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n.as_str().unwrap())
        .collect();
    assert!(
        notes
            .iter()
            .any(|n| n.contains("fullauth_users.display_name")),
        "{notes:?}"
    );
    let (code, out, _) = f.run(&["adopt"]);
    assert_eq!(code, OK);
    assert!(out.contains("nothing to do"), "{out}");
}

fn migrate_refuses_an_unadopted_fastapi_database_and_leaves_nothing(f: &Fixture) {
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
        // One line and a hint (the whole CREATE TABLE and "SQL logic error"
        // before), the same on both backends.
        assert_error_with_hint(
            &err,
            &["fullauth_users", "no migration recorded"],
            "fullauth adopt",
        );
        assert!(!err.contains("CREATE"), "{err}");
        assert!(out.is_empty(), "{args:?}: {out}");
        // Nothing behind: no tracking table, no new table or index.
        assert_eq!(f.objects(), before, "{args:?} changed the database");
    }
    if f.is_mysql() {
        // Not widened either.
        assert_eq!(
            common::mysql_column(f, "fullauth_users", "created_at").0,
            "datetime"
        );
    }
    // Adopt takes it over; then migrate has nothing to do.
    let (code, _, err) = f.run(&["adopt"]);
    assert_eq!(code, OK, "{err}");
    let v = f.json(&["migrate"]);
    assert_eq!(v["applied"], json!([]), "{v}");
}

fn status_says_an_unadopted_database_needs_adopt(f: &Fixture) {
    f.load_fastapi_0_18(&[]);
    let before = f.objects();
    let (code, out, err) = f.run(&["status"]);
    assert_eq!(code, OK, "{err}");
    // "absent" for every feature before, and "run migrate".
    let core = out
        .lines()
        .find(|l| l.starts_with("core "))
        .unwrap_or_else(|| panic!("{out}"));
    assert!(core.contains("unrecorded"), "{out}");
    assert!(core.contains("tables exist"), "{out}");
    assert!(out.contains("run `fullauth adopt`"), "{out}");
    assert!(!out.contains("fullauth migrate"), "{out}");
    let v = f.json(&["status"]);
    assert_eq!(v["up_to_date"], false);
    for feature in ["core", "roles", "permissions", "oauth", "passkeys", "mfa"] {
        assert_eq!(state(&v, feature), "unrecorded", "{feature}: {v}");
    }
    // The reference keeps the short-lived features out of SQL: no tables.
    assert_ne!(state(&v, "blacklist"), "present", "{v}");
    assert_eq!(f.run(&["status", "--check"]).0, SCHEMA);
    // Status only reads.
    assert_eq!(f.objects(), before);
}

fn status_after_migrating_some_features_is_up_to_date(f: &Fixture) {
    assert_eq!(f.run(&["migrate", "--features", "core,roles"]).0, OK);
    let (code, out, err) = f.run(&["status"]);
    assert_eq!(code, OK, "{err}");
    // Before: the other features' migrations "pending", "run migrate all".
    assert!(!out.contains("pending"), "{out}");
    assert!(out.contains("up to date"), "{out}");
    let v = f.json(&["status"]);
    assert_eq!(v["up_to_date"], true, "{v}");
    assert_eq!(state(&v, "core"), "present");
    assert_eq!(state(&v, "roles"), "present");
    assert_eq!(state(&v, "permissions"), "not_chosen");
    assert_eq!(state(&v, "mfa"), "not_chosen");
    assert_eq!(f.run(&["status", "--check"]).0, OK);
    // Asking about more features says what is missing for them.
    let v = f.json(&["status", "--features", "core,roles,permissions"]);
    assert_eq!(v["up_to_date"], false);
    assert_eq!(state(&v, "permissions"), "absent");
    assert_eq!(state(&v, "mfa"), "not_chosen");
    let (code, out, _) = f.run(&["status", "--features", "core,roles,permissions", "--check"]);
    assert_eq!(code, SCHEMA);
    assert!(out.contains("fullauth migrate --features"), "{out}");
    assert!(out.contains("permissions"), "{out}");
}

fn errors_are_one_line_with_a_hint(f: &Fixture) {
    // Before any migration: the same code and shape on both backends.
    let (code, _, err) = f.run(&["user", "list"]);
    assert_eq!(code, SCHEMA, "{err}");
    assert_error_with_hint(&err, &[], "fullauth migrate");
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
    let (code, _, err) = f.run(&["user", "show", "not-an-id"]);
    assert_eq!(code, USAGE, "{err}");
    assert_error_with_hint(&err, &["not-an-id"], "fullauth user list");
    let (code, _, err) = f.run(&["sessions", "revoke", "ada@example.com", "no-such-family"]);
    assert_eq!(code, NOT_FOUND, "{err}");
    assert_error_with_hint(&err, &["no-such-family"], "fullauth sessions list");
}

fn drifted_migrations_are_refused_with_one_line(f: &Fixture) {
    assert_eq!(f.run(&["migrate", "--features", "core"]).0, OK);
    f.exec(
        "UPDATE {s}.fullauth_schema_migrations SET checksum = 'edited' \
         WHERE id = 'core_0001_users'",
    );
    let v = f.json(&["status"]);
    assert_eq!(v["drifted"], json!(["core_0001_users"]), "{v}");
    assert_eq!(v["features"][0]["feature"], "core");
    assert_eq!(v["features"][0]["state"], "drifted");
    assert_eq!(state(&v, "core"), "drifted");
    assert_eq!(v["up_to_date"], false);
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

fn export_sqlx_folder_builds_a_database_status_calls_up_to_date(f: &Fixture) {
    let dir = tempfile::tempdir().unwrap();
    let out_dir = dir.path().join("migrations");
    let out_arg = out_dir.display().to_string();
    let dialect = f.backend();
    let args = [
        "export-sql",
        "--dialect",
        dialect,
        "--format",
        "sqlx",
        "--out",
        &out_arg,
        "--version-base",
        "20000000000000",
    ];
    let (code, out, err) = f.run(&args);
    assert_eq!(code, OK, "{err}");
    assert!(
        out.contains(&format!("wrote 13 {dialect} migration file(s)")),
        "{out}"
    );
    let mut files: Vec<(i64, std::path::PathBuf)> = std::fs::read_dir(&out_dir)
        .unwrap()
        .map(|e| {
            let path = e.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            let version = name.split('_').next().unwrap().parse().unwrap();
            assert!(name.contains("_fullauth_"), "{name}");
            (version, path)
        })
        .collect();
    files.sort();
    assert_eq!(files.len(), 13);
    assert_eq!(files[0].0, 20000000000001);
    assert!(
        files[0]
            .1
            .to_string_lossy()
            .ends_with("_fullauth_core_0001_users.sql")
    );
    // The files, run in version order as sqlx-cli runs them, make a database
    // the command calls up to date.
    for (_, path) in &files {
        f.exec(&std::fs::read_to_string(path).unwrap());
    }
    let v = f.json(&["status", "--features", "all"]);
    assert_eq!(v["up_to_date"], true, "{v}");
    assert_eq!(f.json(&["migrate"])["applied"], json!([]));
    // Exporting again is a no-op; a file edited since is never overwritten.
    assert_eq!(f.run(&args).0, OK);
    std::fs::write(&files[0].1, "-- edited\n").unwrap();
    let (code, _, err) = f.run(&args);
    assert_eq!(code, CONFLICT, "{err}");
    assert_error_with_hint(&err, &["other content"], "export");
    assert_eq!(std::fs::read_to_string(&files[0].1).unwrap(), "-- edited\n");
    // The folder goes with the sqlx format only.
    let (code, _, err) = f.run(&["export-sql", "--dialect", dialect, "--format", "sqlx"]);
    assert_eq!(code, USAGE, "{err}");
    let (code, _, err) = f.run(&["export-sql", "--dialect", dialect, "--out", &out_arg]);
    assert_eq!(code, USAGE, "{err}");
    assert_error_with_hint(&err, &["--out"], "redirect");
}
