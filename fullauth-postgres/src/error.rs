//! Mapping driver errors to [`StoreError`].
//!
//! Operations return [`DbError`] internally so that the connection layer can
//! see the driver error (and decide whether a retry on a fresh connection is
//! safe) before it becomes a [`StoreError`] at the edge.

use fullauth_api::{ConflictKind, Entity, StoreError};

/// An operation's failure before it reaches the caller.
#[derive(Debug)]
pub(crate) enum DbError {
    /// A driver error, not yet classified.
    Sql(sqlx::Error),
    /// Already a semantic error.
    Store(StoreError),
}

/// Shorthand for operation results.
pub(crate) type DbResult<T> = Result<T, DbError>;

impl From<sqlx::Error> for DbError {
    fn from(e: sqlx::Error) -> Self {
        DbError::Sql(e)
    }
}

impl From<StoreError> for DbError {
    fn from(e: StoreError) -> Self {
        DbError::Store(e)
    }
}

/// How far a failed operation may be retried on a fresh connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Retry {
    /// Reads and idempotent writes: retried once after any connection failure.
    Idempotent,
    /// Writes that must not run twice: retried once only when the server said
    /// it terminated the session (SQLSTATE 57P01), which it does before or
    /// instead of committing the statement, so the statement did not happen.
    IfNotApplied,
}

impl DbError {
    /// The SQLSTATE of a database error.
    fn code(&self) -> Option<String> {
        match self {
            DbError::Sql(sqlx::Error::Database(db)) => db.code().map(|c| c.into_owned()),
            _ => None,
        }
    }

    /// True when the connection the operation ran on is unusable (the pool
    /// must not hand it out again, and a retry needs a new one).
    pub(crate) fn is_connection_failure(&self) -> bool {
        match self {
            DbError::Sql(e) => is_connection_error(e),
            DbError::Store(_) => false,
        }
    }

    /// True when running the operation again on a fresh connection is safe
    /// and may succeed.
    pub(crate) fn may_retry(&self, retry: Retry) -> bool {
        match retry {
            Retry::Idempotent => self.is_connection_failure(),
            Retry::IfNotApplied => self.code().as_deref() == Some("57P01"),
        }
    }

    /// The unique-violation constraint (or index) name, when this is one.
    pub(crate) fn unique_violation(&self) -> Option<String> {
        self.violation("23505")
    }

    /// The foreign-key constraint name, when this is a foreign-key violation.
    pub(crate) fn fk_violation(&self) -> Option<String> {
        self.violation("23503")
    }

    fn violation(&self, code: &str) -> Option<String> {
        match self {
            DbError::Sql(sqlx::Error::Database(db)) if db.code().as_deref() == Some(code) => {
                Some(db.constraint().unwrap_or_default().to_string())
            }
            _ => None,
        }
    }

    /// True for SQLSTATE class 22 (data exception: a value that does not fit
    /// its column) and 23502 (a NOT NULL column left empty).
    pub(crate) fn is_data_error(&self) -> bool {
        self.code()
            .is_some_and(|c| c.starts_with("22") || c == "23502")
    }

    /// The database's message, for data errors shown to the caller.
    pub(crate) fn message(&self) -> String {
        match self {
            DbError::Sql(sqlx::Error::Database(db)) => db.message().to_string(),
            DbError::Sql(e) => e.to_string(),
            DbError::Store(e) => e.to_string(),
        }
    }

    /// Converts to the caller's error.
    pub(crate) fn into_store(self) -> StoreError {
        match self {
            DbError::Store(e) => e,
            DbError::Sql(e) => map_sqlx(e),
        }
    }
}

/// Maps the common unique and foreign-key violations of a write by
/// constraint name; leaves every other error as it is.
pub(crate) fn map_write_error(e: DbError) -> DbError {
    if let Some(name) = e.unique_violation() {
        let what = match name.as_str() {
            "ix_fullauth_users_email" => ConflictKind::Email,
            "fullauth_users_pkey" => ConflictKind::UserId,
            "ix_fullauth_refresh_tokens_token" => ConflictKind::RefreshToken,
            "ix_fullauth_passkeys_credential_id" => ConflictKind::Credential,
            "uq_oauth_provider_user" => ConflictKind::OAuthIdentity,
            _ => ConflictKind::Other,
        };
        return DbError::Store(StoreError::Conflict { what });
    }
    if let Some(name) = e.fk_violation() {
        if name.ends_with("_user_id_fkey") {
            return DbError::Store(StoreError::NotFound { what: Entity::User });
        }
        if name.ends_with("_role_id_fkey") {
            return DbError::Store(StoreError::NotFound { what: Entity::Role });
        }
    }
    if e.is_data_error() {
        let msg = e.message();
        return DbError::Store(StoreError::invalid("value", msg));
    }
    e
}

/// True for driver errors that mean the connection is gone or the server
/// cannot serve it: I/O, TLS, pool exhaustion, and the SQLSTATEs of class 08
/// (connection exception), 57P01–57P03 (shutdown, crash, starting up) and
/// 53300 (too many connections).
pub(crate) fn is_connection_error(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed
        | sqlx::Error::BeginFailed => true,
        sqlx::Error::Protocol(_) => true,
        sqlx::Error::Database(db) => db.code().is_some_and(|c| {
            c.starts_with("08") || matches!(c.as_ref(), "57P01" | "57P02" | "57P03" | "53300")
        }),
        _ => false,
    }
}

/// Maps any driver error to a [`StoreError`]: connection failures, timeouts,
/// serialization failures and deadlocks become the retryable
/// [`StoreError::Unavailable`]; everything else [`StoreError::Backend`] with
/// the driver error as its source.
pub(crate) fn map_sqlx(e: sqlx::Error) -> StoreError {
    if is_connection_error(&e) {
        return StoreError::unavailable(format!("PostgreSQL is unreachable: {e}"), e);
    }
    if let sqlx::Error::Database(db) = &e {
        let code = db.code().map(|c| c.into_owned()).unwrap_or_default();
        match code.as_str() {
            // query_canceled (statement_timeout), serialization failure, deadlock
            "57014" | "40001" | "40P01" | "55P03" => {
                return StoreError::unavailable(format!("PostgreSQL could not finish: {e}"), e);
            }
            "42P01" | "42703" => {
                return StoreError::backend(
                    format!(
                        "a fullauth table or column is missing ({}); apply the migrations \
                         of the features this store serves",
                        db.message()
                    ),
                    e,
                );
            }
            _ => {}
        }
    }
    StoreError::backend(format!("PostgreSQL error: {e}"), e)
}
