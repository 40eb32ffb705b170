//! Exit codes and the error type of the command.

use std::fmt;

use fullauth_api::StoreError;

/// The exit codes `fullauth` returns; scripts can rely on them.
///
/// | code | meaning |
/// | --- | --- |
/// | 0 | success |
/// | 1 | failure: the operation ran and failed (a conformance case failed, a password did not match, a backend error) |
/// | 2 | usage: bad arguments or input refused by validation |
/// | 3 | not found: the user, role, session or token named does not exist |
/// | 4 | conflict: the thing to create already exists (an email, ...) |
/// | 5 | unavailable: the database or Redis could not be reached; retrying later may succeed |
/// | 6 | schema not ready: the database is not migrated for what was asked, or its migrations drifted |
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
    /// The database is not migrated for the command (or drifted).
    pub const SCHEMA: u8 = 6;
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

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "error: {}", self.message)?;
        if let Some(h) = &self.hint {
            write!(f, "\nhint: {h}")?;
        }
        Ok(())
    }
}

impl std::error::Error for CliError {}

const MIGRATE_HINT: &str = "migrate the database with `fullauth migrate` (or take over a \
                            fastapi-fullauth database with `fullauth adopt`)";

impl From<StoreError> for CliError {
    fn from(e: StoreError) -> Self {
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
                if lower.contains("adopt") || lower.contains("already exists") {
                    CliError::new(exit::SCHEMA, full).hint(
                        "the database already has fullauth tables that no migration recorded: \
                         run `fullauth adopt`",
                    )
                } else if lower.contains("checksum") || lower.contains("drift") {
                    CliError::new(exit::SCHEMA, full).hint(
                        "run `fullauth status` to see the drifted migrations; this binary embeds \
                         different SQL than what was applied",
                    )
                } else if lower.contains("no such table")
                    || (lower.contains("relation") && lower.contains("does not exist"))
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

/// The hint printed when a database has never been migrated.
pub(crate) fn migrate_hint() -> &'static str {
    MIGRATE_HINT
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
        let e = CliError::from(StoreError::backend_message(
            "migration 0001 failed: table fullauth_users already exists",
        ));
        assert_eq!(e.code, exit::SCHEMA);
        assert!(e.hint.unwrap().contains("fullauth adopt"));
        let e = CliError::from(StoreError::not_migrated(
            Some(Feature::Mfa),
            "no fullauth_mfa",
        ));
        assert_eq!(e.code, exit::SCHEMA);
        assert!(e.hint.unwrap().contains("fullauth migrate"));
        let shown = CliError::usage("bad").hint("do this").to_string();
        assert_eq!(shown, "error: bad\nhint: do this");
    }
}
