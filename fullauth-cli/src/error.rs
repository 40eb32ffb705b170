//! Exit codes and the error type of the command.

use std::fmt;

use fullauth_api::StoreError;
use fullauth_api::migrate::MigrationRefusal;

/// The exit codes `fullauth` returns; scripts can rely on them.
///
/// | code | meaning |
/// | --- | --- |
/// | 0 | success |
/// | 1 | failure: the operation ran and failed (a conformance case failed, a backend error) |
/// | 2 | usage: bad arguments or input refused by validation (an unknown or missing app column, a value its type refuses) |
/// | 3 | not found: the user, role, session or token named does not exist |
/// | 4 | conflict: the thing to create already exists (an email, ...) |
/// | 5 | unavailable: the database or Redis could not be reached; retrying later may succeed |
/// | 6 | schema not ready: the database is not migrated for what was asked, its migrations drifted, or it holds fullauth tables no migration recorded (run `fullauth adopt`) |
/// | 7 | no match: `user check-password` ran and the password does not match (or the user has none) |
/// | 130 | interrupted: Ctrl-C (SIGINT) stopped `conformance`, after it removed what it had created |
///
/// The codes are the same on SQLite, PostgreSQL and MariaDB. A closed standard output
/// (`fullauth status | head -1`) is not an error: the command stops printing
/// and exits with its own code.
pub mod exit {
    /// Success.
    pub const OK: u8 = 0;
    /// The operation ran and failed.
    pub const FAILURE: u8 = 1;
    /// Bad arguments or refused input.
    pub const USAGE: u8 = 2;
    /// What was named does not exist.
    pub const NOT_FOUND: u8 = 3;
    /// What was to be created already exists.
    pub const CONFLICT: u8 = 4;
    /// The server could not be reached.
    pub const UNAVAILABLE: u8 = 5;
    /// The database is not migrated for the command (or drifted, or has
    /// unrecorded fullauth tables).
    pub const SCHEMA: u8 = 6;
    /// The password given to `user check-password` does not match.
    pub const NO_MATCH: u8 = 7;
    /// Interrupted by Ctrl-C (128 + SIGINT), after cleaning up.
    pub const INTERRUPTED: u8 = 130;
}

/// A failure of a command: an exit code, a message, and what to do about it.
#[derive(Debug)]
pub struct CliError {
    /// The exit code (see [`exit`]).
    pub code: u8,
    /// What went wrong.
    pub message: String,
    /// What to do about it, when there is something to say.
    pub hint: Option<String>,
}

impl CliError {
    /// An error with `code` and `message`.
    pub fn new(code: u8, message: impl Into<String>) -> Self {
        CliError {
            code,
            message: message.into(),
            hint: None,
        }
    }

    /// A usage error (exit code 2).
    pub fn usage(message: impl Into<String>) -> Self {
        Self::new(exit::USAGE, message)
    }

    /// Adds what to do.
    pub fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }
}

/// Shows `error: MESSAGE` on one line and, when there is one, `hint: HINT`
/// on a second: line breaks and runs of blanks inside either (a driver
/// message quoting SQL) become single spaces.
impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "error: {}", one_line(&self.message))?;
        if let Some(h) = &self.hint {
            write!(f, "\nhint: {}", one_line(h))?;
        }
        Ok(())
    }
}

/// `text` with every run of whitespace (line breaks included) made one space.
fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

impl std::error::Error for CliError {}

const MIGRATE_HINT: &str = "migrate the database with `fullauth migrate` (or take over a \
                            fastapi-fullauth database with `fullauth adopt`)";

const ADOPT_HINT: &str = "run `fullauth adopt`: it records the tables that exist and creates only \
                          what is missing; `fullauth status` shows what it found";

/// `a, b, c` for at most `max` items, then `and N more`.
fn listed(items: &[String], max: usize) -> String {
    let mut out = items
        .iter()
        .take(max)
        .cloned()
        .collect::<Vec<_>>()
        .join(", ");
    if items.len() > max {
        out.push_str(&format!(" and {} more", items.len() - max));
    }
    out
}

/// The error of a migration the migrator refused (nothing was changed).
fn refusal(r: &MigrationRefusal) -> CliError {
    match r {
        MigrationRefusal::Unrecorded { features, objects } => CliError::new(
            exit::SCHEMA,
            format!(
                "refused: the database already has {} ({}) but no migration recorded them; \
                 nothing was changed",
                listed(objects, 3),
                features
                    .iter()
                    .map(|f| f.name())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        )
        .hint(ADOPT_HINT),
        MigrationRefusal::Drifted { ids } => CliError::new(
            exit::SCHEMA,
            format!(
                "refused: {} {} recorded with another checksum than this binary's (edited \
                 after being applied); nothing was changed",
                listed(ids, 3),
                if ids.len() == 1 { "is" } else { "are" }
            ),
        )
        .hint(
            "`fullauth status` lists the drifted migrations; compare the schema with this \
             binary's (`fullauth export-sql`) by hand",
        ),
        other => CliError::new(
            exit::SCHEMA,
            format!("refused: {other}; nothing was changed"),
        )
        .hint(other.hint()),
    }
}

impl From<StoreError> for CliError {
    fn from(e: StoreError) -> Self {
        if let Some(r) = MigrationRefusal::of(&e) {
            return refusal(r);
        }
        let message = e.to_string();
        match &e {
            StoreError::Conflict { .. } => CliError::new(exit::CONFLICT, message),
            StoreError::NotFound { .. } => CliError::new(exit::NOT_FOUND, message),
            StoreError::InvalidInput { .. }
            | StoreError::UnknownField { .. }
            | StoreError::ProtectedField { .. } => CliError::new(exit::USAGE, message),
            StoreError::FeatureDisabled { feature, .. } => CliError::new(
                exit::SCHEMA,
                format!("the database has no tables for the `{feature}` feature"),
            )
            .hint(format!(
                "run `fullauth migrate --features {feature}` (or `fullauth adopt` for a \
                 fastapi-fullauth database), then retry"
            )),
            StoreError::Unavailable { .. } => CliError::new(exit::UNAVAILABLE, message).hint(
                "check that the server is running and that --database-url \
                 (FULLAUTH_DATABASE_URL) or --redis-url points at it; retrying later may succeed",
            ),
            StoreError::Backend { .. } => {
                let full = chain(&e);
                let lower = full.to_ascii_lowercase();
                if lower.contains("no such table")
                    || (lower.contains("relation") && lower.contains("does not exist"))
                    || (lower.contains("table '") && lower.contains("doesn't exist"))
                {
                    CliError::new(exit::SCHEMA, full).hint(MIGRATE_HINT)
                } else {
                    CliError::new(exit::FAILURE, full)
                }
            }
            StoreError::NotMigrated { .. } => {
                CliError::new(exit::SCHEMA, message).hint(MIGRATE_HINT)
            }
            StoreError::Contention { .. } => CliError::new(exit::FAILURE, message)
                .hint("another writer held the data: retry the command"),
            _ => CliError::new(exit::FAILURE, message),
        }
    }
}

/// The error and its sources on one line.
fn chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        source = s.source();
    }
    out
}

/// When `e` is the database refusing a value of a write (a NOT NULL, CHECK or
/// type violation), what it said; `None` for any other error. Read from the
/// driver error (SQLSTATE class 22, 23502 and 23514 on PostgreSQL; a NOT
/// NULL or CHECK constraint failure, or a datatype mismatch, on SQLite; on
/// MariaDB SQLSTATE class 22 and the errors [`MYSQL_REFUSED_VALUE`] lists),
/// so every backend answers the same way.
pub(crate) fn refused_value(e: &StoreError) -> Option<String> {
    use fullauth_postgres::sqlx;
    use fullauth_sqlite::rusqlite;
    if !matches!(e, StoreError::Backend { .. }) {
        return None;
    }
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        if let Some(sqlx::Error::Database(db)) = s.downcast_ref::<sqlx::Error>() {
            if let Some(my) =
                db.try_downcast_ref::<fullauth_mysql::sqlx::mysql::MySqlDatabaseError>()
            {
                let refused = MYSQL_REFUSED_VALUE.contains(&my.number())
                    || my.code().is_some_and(|c| c.starts_with("22"));
                if refused {
                    return Some(my.message().to_string());
                }
                source = s.source();
                continue;
            }
            let code = db.code().unwrap_or_default();
            if code.starts_with("22") || code == "23502" || code == "23514" {
                return Some(db.message().to_string());
            }
        }
        if let Some(rusqlite::Error::SqliteFailure(fe, msg)) = s.downcast_ref::<rusqlite::Error>() {
            let refused = matches!(
                fe.extended_code,
                rusqlite::ffi::SQLITE_CONSTRAINT_NOTNULL
                    | rusqlite::ffi::SQLITE_CONSTRAINT_CHECK
                    | rusqlite::ffi::SQLITE_MISMATCH
            );
            if refused {
                return Some(msg.clone().unwrap_or_else(|| fe.to_string()));
            }
        }
        source = s.source();
    }
    None
}

/// The MariaDB error numbers of a value a write was refused for: 1048
/// (column cannot be null), 1364 (no default for a NOT NULL column), 1264
/// (out of range), 1265 (data truncated), 1292 and 1366 (incorrect value
/// for the type), 1406 (too long), 1411 (incorrect value for a function),
/// 4025 and 3819 (CHECK constraint).
const MYSQL_REFUSED_VALUE: [u16; 10] = [1048, 1364, 1264, 1265, 1292, 1366, 1406, 4025, 3819, 1411];

/// The hint printed when a database has never been migrated.
pub(crate) fn migrate_hint() -> &'static str {
    MIGRATE_HINT
}

/// The hint printed when fullauth tables exist that no migration recorded.
pub(crate) fn adopt_hint() -> &'static str {
    ADOPT_HINT
}

#[cfg(test)]
mod tests {
    use fullauth_api::{ConflictKind, Entity, Feature};

    use super::*;

    #[test]
    fn store_errors_map_to_exit_codes_with_hints() {
        let code = |e: StoreError| CliError::from(e).code;
        assert_eq!(
            code(StoreError::conflict(ConflictKind::Email)),
            exit::CONFLICT
        );
        assert_eq!(code(StoreError::not_found(Entity::User)), exit::NOT_FOUND);
        assert_eq!(code(StoreError::invalid("email", "too long")), exit::USAGE);
        let e = CliError::from(StoreError::feature_disabled(Feature::Mfa));
        assert_eq!(e.code, exit::SCHEMA);
        assert!(e.hint.unwrap().contains("fullauth migrate --features mfa"));
        let e = CliError::from(StoreError::unavailable(
            "down",
            std::io::Error::other("refused"),
        ));
        assert_eq!(e.code, exit::UNAVAILABLE);
        assert!(e.hint.is_some());
        let e = CliError::from(StoreError::from(MigrationRefusal::Unrecorded {
            features: vec![Feature::Core],
            objects: vec!["fullauth_users".into(), "fullauth_refresh_tokens".into()],
        }));
        assert_eq!(e.code, exit::SCHEMA);
        assert!(e.message.contains("fullauth_users"), "{e}");
        assert!(e.hint.unwrap().contains("fullauth adopt"));
        let e = CliError::from(StoreError::from(MigrationRefusal::Drifted {
            ids: vec!["core_0001_users".into()],
        }));
        assert_eq!(e.code, exit::SCHEMA);
        assert!(e.hint.unwrap().contains("fullauth status"));
        let e = CliError::from(StoreError::not_migrated(
            Some(Feature::Mfa),
            "no fullauth_mfa",
        ));
        assert_eq!(e.code, exit::SCHEMA);
        assert!(e.hint.unwrap().contains("fullauth migrate"));
        let shown = CliError::usage("bad").hint("do this").to_string();
        assert_eq!(shown, "error: bad\nhint: do this");
        // Driver messages quoting SQL stay on one line.
        let shown = CliError::usage("near\n  CREATE TABLE x (\n\ta INT\n)").to_string();
        assert_eq!(shown, "error: near CREATE TABLE x ( a INT )");
        assert_eq!(
            listed(&["a".into(), "b".into(), "c".into()], 2),
            "a, b and 1 more"
        );
    }
}
