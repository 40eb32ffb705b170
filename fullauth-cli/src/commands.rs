//! What each command does.

use std::io::{BufRead as _, IsTerminal as _};
use std::sync::Arc;

use fullauth_api::{
    Email, ExtraFields, FamilyId, Feature, Features, NewUser, PasswordHasher, PermissionName,
    RoleName, Store, StoreError, Timestamp, User, UserIdType, UserPatch,
};
use serde::Serialize;
use serde_json::json;

use fullauth_api::migrate::{
    FeatureState, FeatureStatus, MigrationRefusal, MigrationStatus, SqlMigrator, catalog_entry,
    write_migration_files,
};

use crate::db::{BUILTIN_USER_COLUMNS, ColumnKind, Db, Dialect, Exporter, Target, UserColumn};
use crate::error::{CliError, exit, refused_value};
use crate::output::{json, outln, table, write_out, yes_no};
use crate::{
    Cli, Command, ExportFormat, PasswordArg, PermissionCommand, RoleCommand, SessionsCommand,
    UserCommand,
};

mod conformance;

type Out = Result<u8, CliError>;

fn parse_features(s: &str) -> Result<Features, CliError> {
    let f: Features = s.parse()?;
    if f.is_empty() {
        return Err(CliError::usage("no feature given")
            .hint("pass --features all, or a list such as core,roles,permissions"));
    }
    let mut f = f;
    // Every durable feature needs Core; Permissions needs Roles.
    if f.iter().any(|x| !x.is_short_lived()) {
        f = f.with(Feature::Core);
    }
    if f.contains(Feature::Permissions) {
        f = f.with(Feature::Roles);
    }
    f.validate()?;
    Ok(f)
}

pub(crate) async fn dispatch(cli: Cli) -> Out {
    let Cli {
        database_url,
        schema,
        user_id_type: key,
        json: as_json,
        command,
    } = cli;
    if let Command::ExportSql {
        dialect,
        features,
        format,
        out,
        version_base,
    } = &command
    {
        let export = Export {
            dialect: *dialect,
            features: parse_features(&features.features)?,
            format: *format,
            out: out.as_deref(),
            version_base: *version_base,
        };
        return export_sql(&export, schema.as_deref(), key, &database_url, as_json);
    }
    let target = Target::parse(&database_url)?;
    let schema = schema.as_deref();
    match command {
        Command::ExportSql { .. } => Ok(exit::OK),
        Command::Migrate { features, dry_run } => {
            let features = parse_features(&features.features)?;
            let db = if dry_run {
                Db::open_for_plan(&target, schema, key).await?
            } else {
                Db::open(&target, schema, key, Features::all(), true).await?
            };
            migrate(&db, &target.location(schema), features, dry_run, as_json).await
        }
        Command::Status { features, check } => {
            let chosen = features.as_deref().map(parse_features).transpose()?;
            let db = Db::open(&target, schema, key, Features::all(), false).await?;
            status(&db, chosen, check, as_json).await
        }
        Command::Adopt { features } => {
            let features = parse_features(&features.features)?;
            let db = Db::open(&target, schema, key, Features::all(), false).await?;
            adopt(&db, features, as_json).await
        }
        Command::Conformance { redis_url } => {
            conformance::run(&target, redis_url.as_deref(), as_json).await
        }
        Command::User(c) => {
            let db = Db::open_migrated(&target, schema, key).await?;
            user(&db, c, as_json).await
        }
        Command::Role(c) => {
            let db = Db::open_migrated(&target, schema, key).await?;
            role(&db.store(), c, as_json).await
        }
        Command::Permission(c) => {
            let db = Db::open_migrated(&target, schema, key).await?;
            permission(&db.store(), c, as_json).await
        }
        Command::Sessions(c) => {
            let db = Db::open_migrated(&target, schema, key).await?;
            sessions(&db.store(), c, as_json).await
        }
        Command::Prune => {
            let db = Db::open_migrated(&target, schema, key).await?;
            prune(&db, as_json).await
        }
    }
}

/// The names of `features`, comma-separated (`-` for none).
fn names(features: Features) -> String {
    if features.is_empty() {
        "-".into()
    } else {
        features.to_string()
    }
}

/// The refusal `apply` would answer for `st`, so that a dry run refuses
/// what the real run would (tables without records, drifted migrations).
fn refusal_of(st: &MigrationStatus) -> Option<MigrationRefusal> {
    if !st.drifted.is_empty() {
        return Some(MigrationRefusal::Drifted {
            ids: st.drifted.clone(),
        });
    }
    if st.needs_adopt() {
        let unrecorded: Vec<_> = st
            .features
            .iter()
            .filter(|f| f.chosen && f.state == FeatureState::Unrecorded)
            .collect();
        return Some(MigrationRefusal::Unrecorded {
            features: unrecorded.iter().map(|f| f.feature).collect(),
            objects: unrecorded
                .iter()
                .flat_map(|f| f.tables_found.iter().cloned())
                .collect(),
        });
    }
    None
}

/// A migration in `migrate --json`: its catalogue entry, and the SQL for a
/// dry run.
fn migration_json(id: &str, sql: Option<String>) -> serde_json::Value {
    let entry = catalog_entry(id);
    let mut v = json!({
        "id": id,
        "feature": entry.map(|e| e.feature.name()),
        "description": entry.map(|e| e.description),
    });
    if let Some(sql) = sql {
        v["sql"] = json!(sql);
    }
    v
}

async fn migrate(db: &Db, location: &str, features: Features, dry_run: bool, as_json: bool) -> Out {
    let migrator: Box<dyn SqlMigrator> = db.migrator();
    let (applied, pending) = if dry_run {
        let st = migrator.status(features).await?;
        if let Some(r) = refusal_of(&st) {
            return Err(StoreError::from(r).into());
        }
        let plan = migrator.plan(features).await?;
        let pending: Vec<_> = plan
            .iter()
            .map(|m| (m.id.to_string(), Some(migrator.render(m))))
            .collect();
        (Vec::new(), pending)
    } else {
        (migrator.apply(features).await?, Vec::new())
    };
    if as_json {
        json(&json!({
            "backend": migrator.backend_name(),
            "location": location,
            "features": features.iter().map(|f| f.name()).collect::<Vec<_>>(),
            "dry_run": dry_run,
            "applied": applied.iter().map(|id| migration_json(id, None)).collect::<Vec<_>>(),
            "pending": pending
                .iter()
                .map(|(id, sql)| migration_json(id, sql.clone()))
                .collect::<Vec<_>>(),
        }))?;
    } else if dry_run {
        if pending.is_empty() {
            outln!("-- nothing to apply: the database is up to date for {features}")?;
        }
        for (id, sql) in &pending {
            let description = catalog_entry(id).map_or("", |e| e.description);
            outln!(
                "-- {id}: {description}\n{}\n",
                sql.as_deref().unwrap_or_default().trim_end()
            )?;
        }
    } else if applied.is_empty() {
        outln!(
            "up to date: nothing to apply ({}, {location})",
            migrator.backend_name()
        )?;
    } else {
        outln!(
            "applied {} migration(s) to {location} ({}):",
            applied.len(),
            migrator.backend_name()
        )?;
        for id in &applied {
            outln!("  {id}")?;
        }
    }
    Ok(exit::OK)
}

/// What a feature's state means for the user, in the status table.
fn state_note(f: &FeatureStatus) -> String {
    let feature = f.feature.name();
    match f.state {
        FeatureState::Present => String::new(),
        FeatureState::NotChosen => "not migrated (not among the features checked)".into(),
        FeatureState::Absent => {
            format!("no tables yet: run `fullauth migrate --features {feature}`")
        }
        FeatureState::Outdated => format!(
            "{} newer migration(s) to apply: run `fullauth migrate --features {feature}`",
            f.pending.len()
        ),
        FeatureState::Unrecorded => format!(
            "tables exist ({}), no migration recorded: run `fullauth adopt`",
            f.tables_found.join(", ")
        ),
        FeatureState::Drifted => format!(
            "recorded with another checksum than this binary's: {}",
            f.drifted.join(", ")
        ),
        _ => f.state.hint().unwrap_or_default().to_string(),
    }
}

async fn status(db: &Db, chosen: Option<Features>, check: bool, as_json: bool) -> Out {
    let migrator: Box<dyn SqlMigrator> = db.migrator();
    // By default, the features the database was migrated for: the others
    // are "not chosen", not "pending".
    let chosen = match chosen {
        Some(f) => f,
        None => {
            let recorded = migrator
                .status(Features::empty())
                .await?
                .recorded_features();
            let mut f = recorded;
            if f.iter().any(|x| !x.is_short_lived()) {
                f = f.with(Feature::Core);
            }
            if f.contains(Feature::Permissions) {
                f = f.with(Feature::Roles);
            }
            f
        }
    };
    let st = migrator.status(chosen).await?;
    let unrecorded: Vec<&str> = st
        .features
        .iter()
        .filter(|f| f.state == FeatureState::Unrecorded)
        .map(|f| f.feature.name())
        .collect();
    let drifted_features = st.features.iter().any(|f| f.state == FeatureState::Drifted);
    let up_to_date = st.is_up_to_date() && unrecorded.is_empty() && !drifted_features;
    if as_json {
        json(&json!({
            "backend": migrator.backend_name(),
            "location": db.location(),
            "chosen": chosen.iter().map(|f| f.name()).collect::<Vec<_>>(),
            "features": st.features,
            "applied": st.applied,
            "pending": st.pending,
            "drifted": st.drifted,
            "unrecorded": st.unrecorded,
            "unknown": st.unknown,
            "legacy": st.legacy,
            "needs_adopt": !unrecorded.is_empty(),
            "up_to_date": up_to_date,
        }))?;
    } else {
        outln!("{} database: {}", migrator.backend_name(), db.location())?;
        outln!()?;
        let rows: Vec<Vec<String>> = st
            .features
            .iter()
            .map(|f| {
                let total = f.applied.len() + f.pending.len() + f.drifted.len();
                vec![
                    f.feature.name().to_string(),
                    f.state.as_str().replace('_', " "),
                    format!("{}/{total}", f.applied.len()),
                    state_note(f),
                ]
            })
            .collect();
        table(&["FEATURE", "STATE", "RECORDED", "NOTE"], &rows)?;
        let mut rows: Vec<Vec<String>> = st
            .applied
            .iter()
            .map(|a| {
                vec![
                    a.id.clone(),
                    if a.adopted { "adopted" } else { "applied" }.to_string(),
                    a.applied_at.to_string(),
                ]
            })
            .collect();
        let mut more = |ids: &[String], state: &str| {
            rows.extend(
                ids.iter()
                    .map(|id| vec![id.clone(), state.into(), String::new()]),
            );
        };
        more(&st.drifted, "DRIFTED");
        more(&st.unrecorded, "unrecorded");
        more(&st.pending, "pending");
        more(&st.unknown, "unknown (newer fullauth)");
        outln!()?;
        if rows.is_empty() {
            outln!("no fullauth migration recorded")?;
        } else {
            table(&["MIGRATION", "STATE", "AT"], &rows)?;
        }
        outln!()?;
        if !st.legacy.is_empty() {
            outln!(
                "{} record(s) of fullauth 0.1 read under their new ids; the next `fullauth \
                 migrate` or `fullauth adopt` rewrites them",
                st.legacy.len()
            )?;
        }
        if !unrecorded.is_empty() {
            outln!(
                "the tables of {} exist but no migration recorded them (a fastapi-fullauth \
                 database?): run `fullauth adopt` to take the database over",
                unrecorded.join(", ")
            )?;
        }
        if !st.drifted.is_empty() {
            outln!(
                "{} drifted: recorded with a checksum this binary does not embed",
                st.drifted.len()
            )?;
        }
        if !st.pending.is_empty() && unrecorded.is_empty() {
            outln!(
                "{} pending for {chosen}: run `fullauth migrate --features {chosen}`",
                st.pending.len()
            )?;
        }
        if up_to_date {
            if chosen.is_empty() {
                outln!(
                    "nothing migrated yet: run `fullauth migrate` (every feature) or \
                     `fullauth migrate --features core,…`"
                )?;
            } else {
                outln!("up to date for {}", names(chosen))?;
            }
        }
    }
    if check && !up_to_date {
        return Ok(exit::SCHEMA);
    }
    Ok(exit::OK)
}

async fn adopt(db: &Db, features: Features, as_json: bool) -> Out {
    let migrator: Box<dyn SqlMigrator> = db.migrator();
    let report = migrator.adopt(features).await?;
    if as_json {
        json(&report)?;
    } else {
        outln!("adopted {} ({}):", db.location(), migrator.backend_name())?;
        let mut rows: Vec<Vec<String>> = report
            .adopted
            .iter()
            .map(|id| vec![id.clone(), "adopted (already there)".into()])
            .collect();
        rows.extend(
            report
                .applied
                .iter()
                .map(|id| vec![id.clone(), "applied (was missing)".into()]),
        );
        if rows.is_empty() {
            outln!("  nothing to do: every migration of {features} is already recorded")?;
        } else {
            table(&["MIGRATION", "ACTION"], &rows)?;
        }
        if !report.carried_over.is_empty() {
            outln!(
                "rewrote {} record(s) of fullauth 0.1 under the new ids",
                report.carried_over.len()
            )?;
        }
        for note in &report.notes {
            outln!("note: {note}")?;
        }
    }
    Ok(exit::OK)
}

/// `export-sql`'s arguments.
struct Export<'a> {
    dialect: Dialect,
    features: Features,
    format: ExportFormat,
    out: Option<&'a std::path::Path>,
    version_base: i64,
}

fn export_sql(
    e: &Export<'_>,
    schema: Option<&str>,
    key: Option<UserIdType>,
    database_url: &str,
    as_json: bool,
) -> Out {
    let exporter = Exporter::new(e.dialect, schema, Some(database_url))?.user_id_type(key)?;
    let dialect = e.dialect.name();
    match (e.format, e.out) {
        (ExportFormat::Sql, Some(_)) => Err(CliError::usage(
            "--out takes a folder for --format sqlx; the sql format prints one script",
        )
        .hint("redirect the script: fullauth export-sql … > fullauth.sql")),
        (ExportFormat::Sql, None) => {
            let script = exporter.script(e.features)?;
            if as_json {
                json(&json!({"dialect": dialect, "format": "sql", "script": script, "files": []}))?;
            } else {
                write_out(&script)?;
            }
            Ok(exit::OK)
        }
        (ExportFormat::Sqlx, None) => Err(CliError::usage("--format sqlx needs --out DIR")
            .hint("e.g. --format sqlx --out migrations")),
        (ExportFormat::Sqlx, Some(dir)) => {
            let files = exporter.sqlx_files(e.features, e.version_base)?;
            let paths = write_migration_files(dir, &files).map_err(|err| {
                let code = if err.kind() == std::io::ErrorKind::AlreadyExists {
                    exit::CONFLICT
                } else {
                    exit::FAILURE
                };
                CliError::new(code, format!("cannot write the migration files: {err}")).hint(
                    "export into an empty folder, or with the version base and schema used \
                     before",
                )
            })?;
            if as_json {
                let items: Vec<_> = files
                    .iter()
                    .zip(&paths)
                    .map(|(f, p)| {
                        json!({
                            "id": f.id,
                            "version": f.version,
                            "description": f.description,
                            "path": p.display().to_string(),
                        })
                    })
                    .collect();
                json(
                    &json!({"dialect": dialect, "format": "sqlx", "script": null, "files": items}),
                )?;
            } else {
                outln!(
                    "wrote {} {dialect} migration file(s) into {}:",
                    paths.len(),
                    dir.display()
                )?;
                for p in &paths {
                    outln!(
                        "  {}",
                        p.file_name()
                            .map_or_else(String::new, |n| n.to_string_lossy().into_owned())
                    )?;
                }
            }
            Ok(exit::OK)
        }
    }
}

// ---------------------------------------------------------------- users

async fn resolve_user(store: &Arc<dyn Store>, who: &str) -> Result<User, CliError> {
    let found = if who.contains('@') {
        let email = Email::new(who)?;
        store.get_user_by_email(&email).await?
    } else {
        let id = store.user_id_type().parse(who).map_err(|_| {
            CliError::usage(format!("`{who}` is neither an email nor a user id"))
                .hint("name the user by email or by the id `fullauth user list` shows")
        })?;
        store.get_user(&id).await?
    };
    found.ok_or_else(|| {
        CliError::new(exit::NOT_FOUND, format!("no user `{who}`"))
            .hint("check the email or id with `fullauth user list`")
    })
}

fn read_password(arg: &PasswordArg, confirm: bool) -> Result<String, CliError> {
    let password = if arg.password_stdin {
        let mut line = String::new();
        std::io::stdin().lock().read_line(&mut line).map_err(|e| {
            CliError::usage(format!("cannot read the password from standard input: {e}"))
        })?;
        line.trim_end_matches(['\n', '\r']).to_string()
    } else {
        if !std::io::stdin().is_terminal() {
            return Err(CliError::usage("no terminal to prompt for the password")
                .hint("pipe the password on standard input with --password-stdin"));
        }
        let first = rpassword::prompt_password("Password: ")
            .map_err(|e| CliError::usage(format!("cannot read the password: {e}")))?;
        if confirm {
            let again = rpassword::prompt_password("Repeat password: ")
                .map_err(|e| CliError::usage(format!("cannot read the password: {e}")))?;
            if again != first {
                return Err(CliError::usage("the passwords do not match").hint("try again"));
            }
        }
        first
    };
    if password.is_empty() {
        return Err(CliError::usage("the password is empty")
            .hint("give a non-empty password, or create the user with --no-password"));
    }
    Ok(password)
}

#[derive(Serialize)]
struct UserView {
    #[serde(flatten)]
    user: User,
    has_password: bool,
    roles: Option<Vec<RoleName>>,
    permissions: Option<Vec<PermissionName>>,
    sessions: usize,
}

fn user_rows(u: &User) -> Vec<Vec<String>> {
    let mut rows = vec![
        vec!["id".into(), u.id.to_string()],
        vec!["email".into(), u.email.to_string()],
        vec!["active".into(), yes_no(u.is_active)],
        vec!["verified".into(), yes_no(u.is_verified)],
        vec!["superuser".into(), yes_no(u.is_superuser)],
        vec!["created".into(), u.created_at.to_string()],
    ];
    for (k, v) in u.extra.iter() {
        rows.push(vec![k.clone(), v.to_string()]);
    }
    rows
}

async fn user(db: &Db, cmd: UserCommand, as_json: bool) -> Out {
    let store = db.store();
    let hasher = PasswordHasher::default();
    match cmd {
        UserCommand::Create {
            email,
            password,
            no_password,
            verified,
            superuser,
            inactive,
            set,
        } => {
            let mut new = NewUser::new(&email)?;
            if !store.features().contains(Feature::Core) {
                return Err(StoreError::feature_disabled(Feature::Core).into());
            }
            // Check the app-column values against the table before asking
            // for a password.
            let columns = db.user_columns().await?;
            new.extra = app_column_values(&columns, &set)?;
            if !no_password {
                let pw = read_password(&password, true)?;
                new = new.with_password_hash(hasher.hash(&pw).await?);
            }
            new.is_verified = verified;
            new.is_superuser = superuser;
            new.is_active = !inactive;
            let user = store.create_user(new).await.map_err(|e| {
                if let Some(reason) = refused_value(&e) {
                    return CliError::usage(format!(
                        "the database refused the new user's values: {reason}"
                    ))
                    .hint(
                        "check the --set values against the types and constraints of the \
                         columns of fullauth_users",
                    );
                }
                let conflict = matches!(e, StoreError::Conflict { .. });
                let err = CliError::from(e);
                if conflict {
                    err.hint(format!(
                        "a user with this email exists: `fullauth user show {email}`"
                    ))
                } else {
                    err
                }
            })?;
            if as_json {
                json(&user)?;
            } else {
                outln!("created user {} ({})", user.email, user.id)?;
            }
            Ok(exit::OK)
        }
        UserCommand::List { limit, offset } => {
            if !store.features().contains(Feature::Core) {
                return Err(StoreError::feature_disabled(Feature::Core).into());
            }
            let (users, total) = db.list_users(limit, offset).await?;
            if as_json {
                json(&json!({"total": total, "limit": limit, "offset": offset, "users": users}))?;
            } else {
                let rows: Vec<Vec<String>> = users
                    .iter()
                    .map(|u| {
                        vec![
                            u.id.to_string(),
                            u.email.clone(),
                            yes_no(u.is_active),
                            yes_no(u.is_verified),
                            yes_no(u.is_superuser),
                            u.created_at.to_string(),
                        ]
                    })
                    .collect();
                table(
                    &["ID", "EMAIL", "ACTIVE", "VERIFIED", "SUPERUSER", "CREATED"],
                    &rows,
                )?;
                let shown = users.len() as u64;
                let first = if shown == 0 { offset } else { offset + 1 };
                outln!("\n{}-{} of {total} users", first, offset + shown)?;
                if offset + shown < total {
                    outln!("more: --offset {}", offset + shown)?;
                }
            }
            Ok(exit::OK)
        }
        UserCommand::Show { user } => {
            let u = resolve_user(&store, &user).await?;
            let features = store.features();
            let has_password = store.get_password_hash(&u.id).await?.is_some();
            let roles = if features.contains(Feature::Roles) {
                Some(store.get_user_roles(&u.id).await?)
            } else {
                None
            };
            let permissions = if features.contains(Feature::Permissions) {
                Some(store.get_user_permissions(&u.id).await?)
            } else {
                None
            };
            let sessions = store.list_sessions(&u.id).await?.len();
            if as_json {
                json(&UserView {
                    user: u,
                    has_password,
                    roles,
                    permissions,
                    sessions,
                })?;
            } else {
                let mut rows = user_rows(&u);
                rows.push(vec![
                    "password".into(),
                    if has_password { "set" } else { "none" }.into(),
                ]);
                rows.push(vec!["roles".into(), joined(roles.as_deref())]);
                rows.push(vec!["permissions".into(), joined(permissions.as_deref())]);
                rows.push(vec!["sessions".into(), sessions.to_string()]);
                table(&["FIELD", "VALUE"], &rows)?;
            }
            Ok(exit::OK)
        }
        UserCommand::Delete { user } => {
            let u = resolve_user(&store, &user).await?;
            let deleted = store.delete_user(&u.id).await?;
            if !deleted {
                return Err(CliError::new(exit::NOT_FOUND, format!("no user `{user}`")));
            }
            if as_json {
                json(&json!({"deleted": u.id}))?;
            } else {
                outln!("deleted user {} ({})", u.email, u.id)?;
            }
            Ok(exit::OK)
        }
        UserCommand::SetPassword { user, password } => {
            let u = resolve_user(&store, &user).await?;
            let pw = read_password(&password, true)?;
            store
                .set_password_hash(&u.id, Some(hasher.hash(&pw).await?))
                .await?;
            if as_json {
                json(&json!({"user": u.id, "password": "set"}))?;
            } else {
                outln!("password set for {}", u.email)?;
            }
            Ok(exit::OK)
        }
        UserCommand::Verify { user } => {
            let u = resolve_user(&store, &user).await?;
            store.mark_verified(&u.id).await?;
            if as_json {
                json(&json!({"user": u.id, "is_verified": true}))?;
            } else {
                outln!("{} is verified", u.email)?;
            }
            Ok(exit::OK)
        }
        UserCommand::Deactivate { user } => {
            let u = resolve_user(&store, &user).await?;
            let patch = UserPatch {
                is_active: Some(false),
                ..UserPatch::default()
            };
            store.update_user(&u.id, patch).await?;
            let revoked = store.revoke_all_for_user(&u.id).await?;
            if as_json {
                json(&json!({"user": u.id, "is_active": false, "revoked_tokens": revoked}))?;
            } else {
                outln!(
                    "{} is deactivated; {revoked} refresh token(s) revoked",
                    u.email
                )?;
            }
            Ok(exit::OK)
        }
        UserCommand::Activate { user } => {
            let u = resolve_user(&store, &user).await?;
            let patch = UserPatch {
                is_active: Some(true),
                ..UserPatch::default()
            };
            store.update_user(&u.id, patch).await?;
            if as_json {
                json(&json!({"user": u.id, "is_active": true}))?;
            } else {
                outln!("{} is active", u.email)?;
            }
            Ok(exit::OK)
        }
        UserCommand::CheckPassword { user, password } => {
            let u = resolve_user(&store, &user).await?;
            let pw = read_password(&password, false)?;
            let stored = store.get_password_hash(&u.id).await?;
            let has_password = stored.is_some();
            let ok = match stored {
                Some(hash) => hasher.verify(&pw, &hash).await?,
                None => false,
            };
            if as_json {
                json(&json!({"user": u.id, "matches": ok, "has_password": has_password}))?;
            } else if ok {
                outln!("password matches for {}", u.email)?;
            } else if has_password {
                outln!("password does NOT match for {}", u.email)?;
            } else {
                outln!(
                    "password does NOT match for {}: the user has no password",
                    u.email
                )?;
            }
            Ok(if ok { exit::OK } else { exit::NO_MATCH })
        }
    }
}

fn app_column_values(
    columns: &[UserColumn],
    set: &[(String, String)],
) -> Result<ExtraFields, CliError> {
    let app: Vec<&UserColumn> = columns
        .iter()
        .filter(|c| !BUILTIN_USER_COLUMNS.contains(&c.name.as_str()))
        .collect();
    let app_names = || {
        if app.is_empty() {
            "fullauth_users has no application columns: add yours with your own migration first"
                .to_string()
        } else {
            format!(
                "the application columns of fullauth_users: {}",
                app.iter()
                    .map(|c| c.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        }
    };
    let mut extra = ExtraFields::new();
    for (name, raw) in set {
        if BUILTIN_USER_COLUMNS.contains(&name.as_str()) {
            return Err(CliError::usage(format!(
                "`{name}` is a built-in column of fullauth_users; --set takes application columns"
            ))
            .hint(
                "give the email as the argument and use --verified, --superuser, --inactive \
                 and --no-password / --password-stdin",
            ));
        }
        if extra.get(name).is_some() {
            return Err(CliError::usage(format!("--set {name}=… is given twice"))
                .hint("give each column once"));
        }
        let Some(column) = app.iter().find(|c| c.name == *name) else {
            return Err(
                CliError::usage(format!("fullauth_users has no column `{name}`")).hint(app_names()),
            );
        };
        if !column.writable {
            return Err(CliError::usage(format!(
                "fullauth_users.{name} is a generated column: it cannot be set"
            ))
            .hint(format!("leave --set {name} out")));
        }
        let value = typed_value(column, raw)?;
        extra.insert(name.clone(), value)?;
    }
    let missing: Vec<&str> = app
        .iter()
        .filter(|c| c.is_required() && extra.get(&c.name).is_none())
        .map(|c| c.name.as_str())
        .collect();
    if !missing.is_empty() {
        let list = missing.join(", ");
        let sets = missing
            .iter()
            .map(|m| format!("--set {m}=VALUE"))
            .collect::<Vec<_>>()
            .join(" ");
        return Err(CliError::usage(format!(
            "fullauth_users.{list} {} NOT NULL without a default: the new user needs a value",
            if missing.len() == 1 { "is" } else { "are" }
        ))
        .hint(format!("pass {sets}")));
    }
    Ok(extra)
}

/// `raw` as a JSON value of the column's kind.
fn typed_value(column: &UserColumn, raw: &str) -> Result<serde_json::Value, CliError> {
    let refuse = |expected: &str| {
        CliError::usage(format!(
            "fullauth_users.{} is {}: `{raw}` is not {expected}",
            column.name, column.declared_type
        ))
        .hint(format!("pass --set {}=<{expected}>", column.name))
    };
    Ok(match column.kind {
        ColumnKind::Boolean => match raw.trim().to_ascii_lowercase().as_str() {
            "true" | "t" | "yes" | "y" | "on" | "1" => serde_json::Value::Bool(true),
            "false" | "f" | "no" | "n" | "off" | "0" => serde_json::Value::Bool(false),
            _ => return Err(refuse("true or false")),
        },
        ColumnKind::Integer => raw
            .trim()
            .parse::<i64>()
            .map(serde_json::Value::from)
            .map_err(|_| refuse("an integer"))?,
        ColumnKind::Number => raw
            .trim()
            .parse::<f64>()
            .ok()
            .and_then(serde_json::Number::from_f64)
            .map(serde_json::Value::Number)
            .ok_or_else(|| refuse("a number"))?,
        ColumnKind::Text => serde_json::Value::String(raw.to_string()),
    })
}

fn joined<T: std::fmt::Display>(items: Option<&[T]>) -> String {
    match items {
        None => "(feature not migrated)".into(),
        Some([]) => "-".into(),
        Some(v) => v
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(", "),
    }
}

// ---------------------------------------------------------------- roles

fn list_rows<T: std::fmt::Display>(
    header: &str,
    items: &[T],
    as_json: bool,
) -> Result<(), CliError> {
    if as_json {
        let v: Vec<String> = items.iter().map(ToString::to_string).collect();
        json(&v)
    } else {
        let rows: Vec<Vec<String>> = items.iter().map(|i| vec![i.to_string()]).collect();
        table(&[header], &rows)
    }
}

async fn role(store: &Arc<dyn Store>, cmd: RoleCommand, as_json: bool) -> Out {
    match cmd {
        RoleCommand::Grant { user, role } => {
            let role = RoleName::new(role)?;
            let u = resolve_user(store, &user).await?;
            let added = store.assign_role(&u.id, &role).await?;
            if as_json {
                json(&json!({"user": u.id, "role": role, "granted": added}))?;
            } else if added {
                outln!("granted role {role} to {}", u.email)?;
            } else {
                outln!("{} already has role {role}", u.email)?;
            }
            Ok(exit::OK)
        }
        RoleCommand::Revoke { user, role } => {
            let role = RoleName::new(role)?;
            let u = resolve_user(store, &user).await?;
            let removed = store.remove_role(&u.id, &role).await?;
            if as_json {
                json(&json!({"user": u.id, "role": role, "revoked": removed}))?;
            } else if removed {
                outln!("revoked role {role} from {}", u.email)?;
            } else {
                outln!("{} did not have role {role}", u.email)?;
            }
            Ok(exit::OK)
        }
        RoleCommand::List { user } => {
            let roles = match user {
                Some(who) => {
                    let u = resolve_user(store, &who).await?;
                    store.get_user_roles(&u.id).await?
                }
                None => store.list_roles().await?,
            };
            list_rows("ROLE", &roles, as_json)?;
            Ok(exit::OK)
        }
    }
}

async fn permission(store: &Arc<dyn Store>, cmd: PermissionCommand, as_json: bool) -> Out {
    match cmd {
        PermissionCommand::Grant { role, permission } => {
            let role = RoleName::new(role)?;
            let perm = PermissionName::new(permission)?;
            let added = store.assign_permission(&role, &perm).await?;
            if as_json {
                json(&json!({"role": role, "permission": perm, "granted": added}))?;
            } else if added {
                outln!("granted permission {perm} to role {role}")?;
            } else {
                outln!("role {role} already has permission {perm}")?;
            }
            Ok(exit::OK)
        }
        PermissionCommand::Revoke { role, permission } => {
            let role = RoleName::new(role)?;
            let perm = PermissionName::new(permission)?;
            let removed = store.remove_permission(&role, &perm).await?;
            if as_json {
                json(&json!({"role": role, "permission": perm, "revoked": removed}))?;
            } else if removed {
                outln!("revoked permission {perm} from role {role}")?;
            } else {
                outln!("role {role} did not have permission {perm}")?;
            }
            Ok(exit::OK)
        }
        PermissionCommand::List { role, user } => {
            let perms = match (role, user) {
                (Some(r), _) => store.get_role_permissions(&RoleName::new(r)?).await?,
                (None, Some(who)) => {
                    let u = resolve_user(store, &who).await?;
                    store.get_user_permissions(&u.id).await?
                }
                (None, None) => store.list_permissions().await?,
            };
            list_rows("PERMISSION", &perms, as_json)?;
            Ok(exit::OK)
        }
    }
}

// ---------------------------------------------------------------- sessions

async fn sessions(store: &Arc<dyn Store>, cmd: SessionsCommand, as_json: bool) -> Out {
    match cmd {
        SessionsCommand::List { user } => {
            let u = resolve_user(store, &user).await?;
            let list = store.list_sessions(&u.id).await?;
            if as_json {
                json(&list)?;
            } else {
                let rows: Vec<Vec<String>> = list
                    .iter()
                    .map(|s| {
                        vec![
                            s.family_id.to_string(),
                            s.created_at.to_string(),
                            s.last_used_at.to_string(),
                            s.expires_at.to_string(),
                            s.ip_address.clone().unwrap_or_else(|| "-".into()),
                            s.user_agent.clone().unwrap_or_else(|| "-".into()),
                        ]
                    })
                    .collect();
                table(
                    &[
                        "FAMILY",
                        "CREATED",
                        "LAST USED",
                        "EXPIRES",
                        "IP",
                        "USER AGENT",
                    ],
                    &rows,
                )?;
                outln!("\n{} live session(s) for {}", list.len(), u.email)?;
            }
            Ok(exit::OK)
        }
        SessionsCommand::Revoke {
            user,
            family_id,
            all,
            all_except,
        } => {
            let u = resolve_user(store, &user).await?;
            let live = |list: Vec<fullauth_api::Session>| {
                list.into_iter()
                    .map(|s| s.family_id)
                    .collect::<std::collections::BTreeSet<FamilyId>>()
            };
            let before = live(store.list_sessions(&u.id).await?);
            if all {
                store.revoke_all_for_user(&u.id).await?;
            } else if let Some(keep) = all_except {
                store
                    .revoke_other_sessions(&u.id, &FamilyId::new(keep)?)
                    .await?;
            } else if let Some(fam) = family_id {
                let fam = FamilyId::new(fam)?;
                if !store.revoke_session(&u.id, &fam).await? {
                    return Err(CliError::new(
                        exit::NOT_FOUND,
                        format!("{} has no session {fam}", u.email),
                    )
                    .hint(format!(
                        "list the sessions with `fullauth sessions list {}`",
                        u.email
                    )));
                }
            } else {
                return Err(CliError::usage(
                    "name a session (family id), --all or --all-except",
                ));
            }
            // One shape whatever was asked: how many of the sessions
            // `sessions list` showed before are no longer live.
            let after = live(store.list_sessions(&u.id).await?);
            let revoked = before.difference(&after).count();
            if as_json {
                json(&json!({"user": u.id, "revoked": revoked}))?;
            } else {
                outln!("revoked {revoked} live session(s) of {}", u.email)?;
            }
            Ok(exit::OK)
        }
    }
}

async fn prune(db: &Db, as_json: bool) -> Out {
    let store = db.store();
    let now = Timestamp::now();
    let tokens = if store.features().contains(Feature::Core) {
        store.prune_expired_refresh_tokens(now).await?
    } else {
        0
    };
    let short_lived = db.purge_expired().await?;
    if as_json {
        json(&json!({"refresh_tokens": tokens, "short_lived_rows": short_lived}))?;
    } else {
        outln!(
            "deleted {tokens} expired refresh token(s) and {short_lived} expired short-lived row(s)"
        )?;
    }
    Ok(exit::OK)
}
