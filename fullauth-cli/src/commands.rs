//! What each command does.

use std::io::{BufRead as _, IsTerminal as _};
use std::str::FromStr as _;
use std::sync::Arc;

use fullauth_api::{
    Email, FamilyId, Feature, Features, NewUser, PasswordHasher, PermissionName, RoleName, Store,
    StoreError, Timestamp, User, UserId, UserPatch,
};
use serde::Serialize;
use serde_json::json;

use crate::db::{Db, Target, applied_features, export_sql};
use crate::error::{CliError, exit};
use crate::output::{json, table, yes_no};
use crate::{
    Cli, Command, PasswordArg, PermissionCommand, RoleCommand, SessionsCommand, UserCommand,
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
        json: as_json,
        command,
    } = cli;
    if let Command::ExportSql { dialect, features } = &command {
        let f = parse_features(&features.features)?;
        print!("{}", export_sql(*dialect, f, &schema)?);
        return Ok(exit::OK);
    }
    let target = Target::parse(&database_url)?;
    match command {
        Command::ExportSql { .. } => Ok(exit::OK),
        Command::Migrate { features, dry_run } => {
            migrate(
                &target,
                &schema,
                parse_features(&features.features)?,
                dry_run,
                as_json,
            )
            .await
        }
        Command::Status { features, check } => {
            status(
                &target,
                &schema,
                parse_features(&features.features)?,
                check,
                as_json,
            )
            .await
        }
        Command::Adopt { features } => {
            adopt(
                &target,
                &schema,
                parse_features(&features.features)?,
                as_json,
            )
            .await
        }
        Command::Conformance { redis_url } => {
            conformance::run(&target, redis_url.as_deref(), as_json).await
        }
        Command::User(c) => {
            let db = Db::open_migrated(&target, &schema).await?;
            user(&db, c, as_json).await
        }
        Command::Role(c) => {
            let db = Db::open_migrated(&target, &schema).await?;
            role(&db.store(), c, as_json).await
        }
        Command::Permission(c) => {
            let db = Db::open_migrated(&target, &schema).await?;
            permission(&db.store(), c, as_json).await
        }
        Command::Sessions(c) => {
            let db = Db::open_migrated(&target, &schema).await?;
            sessions(&db.store(), c, as_json).await
        }
        Command::Prune => {
            let db = Db::open_migrated(&target, &schema).await?;
            prune(&db, as_json).await
        }
    }
}

async fn migrate(
    target: &Target,
    schema: &str,
    features: Features,
    dry_run: bool,
    as_json: bool,
) -> Out {
    if dry_run {
        let db = Db::open_for_plan(target, schema).await?;
        let plan = db.plan(features).await?;
        if as_json {
            let items: Vec<_> = plan
                .iter()
                .map(|(m, sql)| {
                    json!({"id": m.id, "feature": m.feature.name(), "description": m.description, "sql": sql})
                })
                .collect();
            json(&json!({"dry_run": true, "pending": items}))?;
        } else if plan.is_empty() {
            println!("-- nothing to apply: the database is up to date for {features}");
        } else {
            for (m, sql) in &plan {
                println!("-- {}: {}\n{}\n", m.id, m.description, sql.trim_end());
            }
        }
        return Ok(exit::OK);
    }
    let db = Db::open(target, schema, Features::all(), true).await?;
    let applied = db.apply(features).await?;
    if as_json {
        json(&json!({"applied": applied}))?;
    } else if applied.is_empty() {
        println!(
            "up to date: nothing to apply ({}, {})",
            db.backend(),
            db.location()
        );
    } else {
        println!(
            "applied {} migration(s) to {} ({}):",
            applied.len(),
            db.location(),
            db.backend()
        );
        for id in &applied {
            println!("  {id}");
        }
    }
    Ok(exit::OK)
}

#[derive(Serialize)]
struct FeatureState {
    feature: &'static str,
    state: &'static str,
}

async fn status(
    target: &Target,
    schema: &str,
    features: Features,
    check: bool,
    as_json: bool,
) -> Out {
    let db = Db::open(target, schema, Features::all(), false).await?;
    let st = db.status(features).await?;
    let migrations = db.migrations();
    let present = applied_features(&db, &st);
    let states: Vec<FeatureState> = Feature::ALL
        .into_iter()
        .filter(|f| migrations.iter().any(|m| m.feature == *f))
        .map(|f| {
            let all_done = migrations
                .iter()
                .filter(|m| m.feature == f)
                .all(|m| st.applied.iter().any(|a| a.id == m.id));
            let state = if all_done {
                "present"
            } else if present.contains(f) {
                "partial"
            } else {
                "absent"
            };
            FeatureState {
                feature: f.name(),
                state,
            }
        })
        .collect();
    if as_json {
        json(&json!({
            "backend": db.backend(),
            "location": db.location(),
            "features": states,
            "applied": st.applied,
            "pending": st.pending,
            "drifted": st.drifted,
            "up_to_date": st.is_up_to_date(),
        }))?;
    } else {
        println!("{} database: {}", db.backend(), db.location());
        println!();
        table(
            &["FEATURE", "STATE"],
            &states
                .iter()
                .map(|s| vec![s.feature.to_string(), s.state.to_string()])
                .collect::<Vec<_>>(),
        );
        println!();
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
        rows.extend(
            st.drifted
                .iter()
                .map(|d| vec![d.clone(), "DRIFTED".into(), String::new()]),
        );
        rows.extend(
            st.pending
                .iter()
                .map(|p| vec![p.clone(), "pending".into(), String::new()]),
        );
        table(&["MIGRATION", "STATE", "AT"], &rows);
        println!();
        if st.is_up_to_date() {
            println!("up to date for {features}");
        } else {
            if !st.pending.is_empty() {
                println!(
                    "{} pending: run `fullauth migrate --features {features}` (or `fullauth adopt` for a fastapi-fullauth database)",
                    st.pending.len()
                );
            }
            if !st.drifted.is_empty() {
                println!(
                    "{} drifted: recorded with a checksum this binary does not embed",
                    st.drifted.len()
                );
            }
        }
    }
    if check && !st.is_up_to_date() {
        return Ok(exit::SCHEMA);
    }
    Ok(exit::OK)
}

async fn adopt(target: &Target, schema: &str, features: Features, as_json: bool) -> Out {
    let db = Db::open(target, schema, Features::all(), false).await?;
    let report = db.adopt(features).await?;
    if as_json {
        json(&report)?;
    } else {
        println!("adopted {} ({}):", db.location(), db.backend());
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
            println!("  nothing to do: every migration of {features} is already recorded");
        } else {
            table(&["MIGRATION", "ACTION"], &rows);
        }
        for note in &report.notes {
            println!("note: {note}");
        }
    }
    Ok(exit::OK)
}

// ---------------------------------------------------------------- users

async fn resolve_user(store: &Arc<dyn Store>, who: &str) -> Result<User, CliError> {
    let found = if who.contains('@') {
        let email = Email::new(who)?;
        store.get_user_by_email(&email).await?
    } else {
        let id = UserId::from_str(who).map_err(|_| {
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
        } => {
            let mut new = NewUser::new(&email)?;
            if !no_password {
                let pw = read_password(&password, true)?;
                new = new.with_password_hash(hasher.hash(&pw).await?);
            }
            new.is_verified = verified;
            new.is_superuser = superuser;
            new.is_active = !inactive;
            let user = store.create_user(new).await.map_err(|e| {
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
                println!("created user {} ({})", user.email, user.id);
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
                            u.id.clone(),
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
                );
                let shown = users.len() as u64;
                let first = if shown == 0 { offset } else { offset + 1 };
                println!("\n{}-{} of {total} users", first, offset + shown);
                if offset + shown < total {
                    println!("more: --offset {}", offset + shown);
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
                table(&["FIELD", "VALUE"], &rows);
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
                println!("deleted user {} ({})", u.email, u.id);
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
                println!("password set for {}", u.email);
            }
            Ok(exit::OK)
        }
        UserCommand::Verify { user } => {
            let u = resolve_user(&store, &user).await?;
            store.mark_verified(&u.id).await?;
            if as_json {
                json(&json!({"user": u.id, "is_verified": true}))?;
            } else {
                println!("{} is verified", u.email);
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
                println!(
                    "{} is deactivated; {revoked} refresh token(s) revoked",
                    u.email
                );
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
                println!("{} is active", u.email);
            }
            Ok(exit::OK)
        }
        UserCommand::CheckPassword { user, password } => {
            let u = resolve_user(&store, &user).await?;
            let pw = read_password(&password, false)?;
            let ok = match store.get_password_hash(&u.id).await? {
                Some(hash) => hasher.verify(&pw, &hash).await?,
                None => false,
            };
            if as_json {
                json(&json!({"user": u.id, "matches": ok}))?;
            } else if ok {
                println!("password matches for {}", u.email);
            } else {
                println!("password does NOT match for {}", u.email);
            }
            Ok(if ok { exit::OK } else { exit::FAILURE })
        }
    }
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
        table(&[header], &rows);
        Ok(())
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
                println!("granted role {role} to {}", u.email);
            } else {
                println!("{} already has role {role}", u.email);
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
                println!("revoked role {role} from {}", u.email);
            } else {
                println!("{} did not have role {role}", u.email);
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
                println!("granted permission {perm} to role {role}");
            } else {
                println!("role {role} already has permission {perm}");
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
                println!("revoked permission {perm} from role {role}");
            } else {
                println!("role {role} did not have permission {perm}");
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
                );
                println!("\n{} live session(s) for {}", list.len(), u.email);
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
            let revoked: u64 = if all {
                store.revoke_all_for_user(&u.id).await?
            } else if let Some(keep) = all_except {
                store
                    .revoke_other_sessions(&u.id, &FamilyId::new(keep)?)
                    .await?
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
                if as_json {
                    json(&json!({"user": u.id, "family_id": fam, "revoked": true}))?;
                } else {
                    println!("revoked session {fam} of {}", u.email);
                }
                return Ok(exit::OK);
            } else {
                return Err(CliError::usage(
                    "name a session (family id), --all or --all-except",
                ));
            };
            if as_json {
                json(&json!({"user": u.id, "revoked": revoked}))?;
            } else {
                println!("revoked {revoked} live refresh token(s) of {}", u.email);
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
        println!(
            "deleted {tokens} expired refresh token(s) and {short_lived} expired short-lived row(s)"
        );
    }
    Ok(exit::OK)
}
