#![doc = include_str!("../README.md")]
#![cfg_attr(docsrs, feature(doc_cfg))]
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod commands;
pub mod db;
pub mod error;
mod output;

use clap::{Args, Parser, Subcommand};

pub use crate::db::{Dialect, Target};
pub use crate::error::{CliError, exit};

/// Migrate, inspect and administer a fullauth database (SQLite, PostgreSQL
/// or MariaDB); run the conformance suite against a live server.
///
/// Exit codes: 0 ok, 1 failure, 2 usage or invalid input, 3 not found,
/// 4 conflict (already exists), 5 server unavailable, 6 database not migrated
/// for the command (drifted, or fullauth tables to adopt), 7 password does
/// not match (`user check-password`), 130 interrupted.
#[derive(Debug, Parser)]
#[command(name = "fullauth", version)]
pub struct Cli {
    /// Which database: `sqlite://PATH`, `postgres://USER@HOST:PORT/DB` or
    /// `mysql://USER@HOST:PORT/DATABASE` (MariaDB; `mariadb://` too).
    #[arg(
        long,
        global = true,
        env = "FULLAUTH_DATABASE_URL",
        default_value = "sqlite://fullauth.db",
        hide_env_values = true
    )]
    pub database_url: String,

    /// Where the tables are: the PostgreSQL schema (default `public`), or
    /// the MariaDB database (default: the one the URL names). For
    /// `export-sql`, the schema or database the SQL names.
    #[arg(long, global = true, env = "FULLAUTH_SCHEMA", hide_env_values = true)]
    pub schema: Option<String>,

    /// How the database keys its users: `uuid`, `int` or `text`
    /// (fastapi-fullauth's `UserSchema[UUID]`, `UserSchema[int]`,
    /// `UserSchema[str]`). `migrate` creates the tables for it (default
    /// `uuid`), `export-sql` writes them for it; other commands take the
    /// type the database has and, given this, refuse a database keyed
    /// otherwise. PostgreSQL and SQLite serve all three; MariaDB serves
    /// `uuid` and `int`.
    #[arg(long, global = true, env = "FULLAUTH_USER_ID_TYPE", value_parser = parse_user_id_type)]
    pub user_id_type: Option<fullauth_api::UserIdType>,

    /// Print machine-readable JSON instead of tables.
    #[arg(long, global = true)]
    pub json: bool,

    /// The command.
    #[command(subcommand)]
    pub command: Command,
}

/// The form of `export-sql`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ExportFormat {
    /// One SQL script on standard output.
    Sql,
    /// A folder of sqlx-cli migration files.
    Sqlx,
}

/// A feature list option shared by several commands.
#[derive(Debug, Clone, Args)]
pub struct FeatureArg {
    /// Features: a comma-separated list of core, roles, permissions, oauth,
    /// passkeys, mfa, blacklist, lockout, rate_limit, challenges, or
    /// `durable`, `ephemeral`, `all`. Core comes with any durable feature and
    /// roles with permissions: their tables reference them.
    #[arg(long, default_value = "all")]
    pub features: String,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Apply the pending migrations of the features (creates the database).
    Migrate {
        /// The features.
        #[command(flatten)]
        features: FeatureArg,
        /// Print the SQL that would be applied and change nothing.
        #[arg(long)]
        dry_run: bool,
    },
    /// Show where each feature stands (present, absent, not chosen,
    /// unrecorded: tables without records, run `adopt`; drifted; outdated)
    /// and the migrations recorded.
    Status {
        /// The features to check, as for `migrate` (default: the features
        /// whose migrations are recorded).
        #[arg(long)]
        features: Option<String>,
        /// Exit with 6 when anything is pending, drifted or unrecorded.
        #[arg(long)]
        check: bool,
    },
    /// Take over an existing database (fastapi-fullauth 0.14–0.18, or one of
    /// ours): record what exists, apply only what is missing.
    Adopt {
        /// The features.
        #[command(flatten)]
        features: FeatureArg,
    },
    /// Export the migrations for an app's own migration tool (needs no
    /// database): one SQL script on standard output, or a folder of
    /// sqlx-cli migration files.
    ExportSql {
        /// The SQL dialect.
        #[arg(long, value_enum)]
        dialect: Dialect,
        /// The features.
        #[command(flatten)]
        features: FeatureArg,
        /// `sql`: one script that also records the migrations; `sqlx`: one
        /// file per migration (`<version>_fullauth_<id>.sql`) written into
        /// --out, for sqlx-cli or `sqlx::migrate!`.
        #[arg(long, value_enum, default_value = "sql")]
        format: ExportFormat,
        /// The folder to write the sqlx files into (created if missing; an
        /// existing file with other content is never overwritten).
        #[arg(long, value_name = "DIR", required_if_eq("format", "sqlx"))]
        out: Option<std::path::PathBuf>,
        /// The sqlx versions are this plus each migration's fixed sequence
        /// number (1, 2, …), so the app's own migrations can sort before or
        /// after them.
        #[arg(long, default_value_t = 0)]
        version_base: i64,
    },
    /// Manage users.
    #[command(subcommand)]
    User(UserCommand),
    /// Grant, revoke and list roles.
    #[command(subcommand)]
    Role(RoleCommand),
    /// Grant, revoke and list permissions of roles.
    #[command(subcommand)]
    Permission(PermissionCommand),
    /// List and revoke a user's sessions (refresh-token families).
    #[command(subcommand)]
    Sessions(SessionsCommand),
    /// Delete expired refresh tokens and expired short-lived rows.
    Prune,
    /// Run the conformance suite in a throwaway schema (PostgreSQL), database
    /// (MariaDB), database files (SQLite) or key prefix (Redis), print the
    /// report, and remove everything it created.
    Conformance {
        /// Redis to test the short-lived stores on, e.g. redis://127.0.0.1:6379.
        #[arg(long, env = "FULLAUTH_REDIS_URL", hide_env_values = true)]
        redis_url: Option<String>,
    },
}

/// How a password reaches the command.
#[derive(Debug, Clone, Args)]
pub struct PasswordArg {
    /// Read the password from standard input (one line) instead of a prompt.
    #[arg(long)]
    pub password_stdin: bool,
}

/// `user` commands. USER is an email or a user id.
#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Create a user with an argon2id password hash.
    Create {
        /// The email.
        email: String,
        /// How the password is given.
        #[command(flatten)]
        password: PasswordArg,
        /// Create the user without a password (OAuth or passkey only).
        #[arg(long, conflicts_with = "password_stdin")]
        no_password: bool,
        /// Mark the email verified.
        #[arg(long)]
        verified: bool,
        /// Make the user a superuser.
        #[arg(long)]
        superuser: bool,
        /// Create the account inactive.
        #[arg(long)]
        inactive: bool,
        /// A value for an application column of `fullauth_users`, as
        /// COLUMN=VALUE (repeat for several). Checked against the table: the
        /// column must exist and not be built in, the value must suit its type
        /// (true/false for a boolean, a number for a numeric column), and every
        /// NOT NULL column without a default must be given.
        #[arg(long = "set", value_name = "COLUMN=VALUE", value_parser = parse_set)]
        set: Vec<(String, String)>,
    },
    /// List users, oldest first.
    List {
        /// At most this many.
        #[arg(long, default_value_t = 50)]
        limit: u32,
        /// Skip this many.
        #[arg(long, default_value_t = 0)]
        offset: u64,
    },
    /// Show a user, their roles, permissions and session count.
    Show {
        /// Email or id.
        user: String,
    },
    /// Delete a user (their tokens, role links, OAuth links, passkeys and MFA go too).
    Delete {
        /// Email or id.
        user: String,
    },
    /// Set a new password (hashed with argon2id).
    SetPassword {
        /// Email or id.
        user: String,
        /// How the password is given.
        #[command(flatten)]
        password: PasswordArg,
    },
    /// Mark a user's email verified.
    Verify {
        /// Email or id.
        user: String,
    },
    /// Deactivate a user and revoke all their refresh tokens.
    Deactivate {
        /// Email or id.
        user: String,
    },
    /// Reactivate a deactivated user.
    Activate {
        /// Email or id.
        user: String,
    },
    /// Check a password against the stored hash: exit 0 when it matches, 7
    /// when it does not (or the user has no password).
    CheckPassword {
        /// Email or id.
        user: String,
        /// How the password is given.
        #[command(flatten)]
        password: PasswordArg,
    },
}

/// `role` commands.
#[derive(Debug, Subcommand)]
pub enum RoleCommand {
    /// Give a user a role (created if needed). Idempotent.
    Grant {
        /// Email or id.
        user: String,
        /// The role.
        role: String,
    },
    /// Take a role from a user.
    Revoke {
        /// Email or id.
        user: String,
        /// The role.
        role: String,
    },
    /// List every role, or a user's roles.
    List {
        /// Email or id: list this user's roles only.
        user: Option<String>,
    },
}

/// `permission` commands.
#[derive(Debug, Subcommand)]
pub enum PermissionCommand {
    /// Grant a permission to a role (both created if needed). Idempotent.
    Grant {
        /// The role.
        role: String,
        /// The permission.
        permission: String,
    },
    /// Take a permission from a role.
    Revoke {
        /// The role.
        role: String,
        /// The permission.
        permission: String,
    },
    /// List every permission, a role's, or a user's (through their roles).
    List {
        /// Only this role's permissions.
        #[arg(long, conflicts_with = "user")]
        role: Option<String>,
        /// Only this user's permissions (email or id).
        #[arg(long)]
        user: Option<String>,
    },
}

/// `sessions` commands.
#[derive(Debug, Subcommand)]
pub enum SessionsCommand {
    /// List a user's live sessions, most recently used first.
    List {
        /// Email or id.
        user: String,
    },
    /// Revoke one session (by family id), all of them, or all but one.
    Revoke {
        /// Email or id.
        user: String,
        /// The family id of the session to revoke.
        #[arg(required_unless_present_any = ["all", "all_except"])]
        family_id: Option<String>,
        /// Revoke every session of the user.
        #[arg(long, conflicts_with_all = ["family_id", "all_except"])]
        all: bool,
        /// Revoke every session but this family id.
        #[arg(long, conflicts_with = "family_id")]
        all_except: Option<String>,
    },
}

/// Runs a parsed command on a new tokio runtime, printing its output and any
/// error (with what to do) on standard error, and returns the exit code
/// (see [`exit`]).
pub fn run(cli: Cli) -> u8 {
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            output::write_err(format!("error: cannot start the async runtime: {e}"));
            return exit::FAILURE;
        }
    };
    match runtime.block_on(commands::dispatch(cli)) {
        Ok(code) => code,
        Err(e) => {
            output::write_err(&e);
            e.code
        }
    }
}

/// Parses `COLUMN=VALUE` of `user create --set`.
fn parse_set(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((column, value)) if !column.trim().is_empty() => {
            Ok((column.trim().to_string(), value.to_string()))
        }
        _ => Err(format!(
            "`{s}` is not COLUMN=VALUE (e.g. --set display_name=Ada)"
        )),
    }
}

/// Parses `--user-id-type`.
fn parse_user_id_type(s: &str) -> Result<fullauth_api::UserIdType, String> {
    s.parse()
        .map_err(|_| format!("`{s}` is not a user id type: uuid, int or text"))
}
