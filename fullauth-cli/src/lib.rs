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

/// Migrate, inspect and administer a fullauth database (SQLite or
/// PostgreSQL); run the conformance suite against a live server.
///
/// Exit codes: 0 ok, 1 failure, 2 usage or invalid input, 3 not found,
/// 4 conflict (already exists), 5 server unavailable, 6 database not migrated
/// for the command (or drifted).
#[derive(Debug, Parser)]
#[command(name = "fullauth", version)]
pub struct Cli {
    /// Which database: `sqlite://PATH` or `postgres://USER@HOST:PORT/DB`.
    #[arg(
        long,
        global = true,
        env = "FULLAUTH_DATABASE_URL",
        default_value = "sqlite://fullauth.db",
        hide_env_values = true
    )]
    pub database_url: String,

    /// PostgreSQL schema holding the tables.
    #[arg(long, global = true, env = "FULLAUTH_SCHEMA", default_value = "public")]
    pub schema: String,

    /// Print machine-readable JSON instead of tables.
    #[arg(long, global = true)]
    pub json: bool,

    /// The command.
    #[command(subcommand)]
    pub command: Command,
}

/// A feature list option shared by several commands.
#[derive(Debug, Clone, Args)]
pub struct FeatureArg {
    /// Features: a comma-separated list of core, roles, permissions, oauth,
    /// passkeys, mfa, blacklist, lockout, rate_limit, challenges, or
    /// `durable`, `ephemeral`, `all`.
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
    /// Show the features present and the migrations applied, pending and drifted.
    Status {
        /// The features whose pending migrations to list.
        #[command(flatten)]
        features: FeatureArg,
        /// Exit with 6 when anything is pending or drifted.
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
    /// Print the SQL of the migrations for an app's own migration tool (needs no database).
    ExportSql {
        /// The SQL dialect.
        #[arg(long, value_enum)]
        dialect: Dialect,
        /// The features.
        #[command(flatten)]
        features: FeatureArg,
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
    /// Run the conformance suite in a throwaway schema / database / key
    /// prefix, print the report, and remove everything it created.
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
    /// Check a password against the stored hash: exit 0 when it matches, 1 when not.
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
            eprintln!("error: cannot start the async runtime: {e}");
            return exit::FAILURE;
        }
    };
    match runtime.block_on(commands::dispatch(cli)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("{e}");
            e.code
        }
    }
}
