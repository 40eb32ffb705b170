//! Mapping driver errors to [`StoreError`].
//!
//! Operations return [`DbError`] internally so that the connection layer can
//! see the driver error (and decide whether a retry on a fresh connection is
//! safe) before it becomes a [`StoreError`] at the edge.

use fullauth_api::sql::feature_of_table;
use fullauth_api::{ConflictKind, Entity, StoreError};

use crate::migrations::MIGRATIONS;

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

    /// True when the failure leaves an open transaction unusable: the server
    /// refused a statement (PostgreSQL then aborts the whole transaction) or
    /// the connection is gone. Errors of our own (validation, a missing row
    /// found by counting) and client-side decoding errors leave it usable.
    pub(crate) fn breaks_transaction(&self) -> bool {
        matches!(self, DbError::Sql(sqlx::Error::Database(_))) || self.is_connection_failure()
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

    /// Converts to the caller's error.
    pub(crate) fn into_store(self) -> StoreError {
        match self {
            DbError::Store(e) => e,
            DbError::Sql(e) => map_sqlx(e),
        }
    }
}

/// Maps the common unique and foreign-key violations of a write by
/// constraint name; leaves every other error as it is (a value the database
/// refuses stays a driver error and becomes [`StoreError::Backend`]: only our
/// own validation answers `InvalidInput`).
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
        return DbError::Store(StoreError::conflict(what));
    }
    if let Some(name) = e.fk_violation() {
        if name.ends_with("_user_id_fkey") {
            return DbError::Store(StoreError::not_found(Entity::User));
        }
        if name.ends_with("_role_id_fkey") {
            return DbError::Store(StoreError::not_found(Entity::Role));
        }
    }
    e
}

/// Why an insert that does not fail on its expected outcomes skipped its
/// row: `what` was taken (reported first when the owner is missing too, as
/// a plain insert meets the unique index before the foreign key), or the
/// owner does not exist. `owner_found` with nothing `taken` in the
/// snapshot means the conflicting row was committed after it: a conflict
/// all the same.
pub(crate) fn skipped_insert(owner_found: bool, taken: bool, what: ConflictKind) -> DbError {
    DbError::Store(if owner_found || taken {
        StoreError::conflict(what)
    } else {
        StoreError::not_found(Entity::User)
    })
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

/// The table of an `undefined_table` message (`relation "s.t" does not
/// exist`), without its schema.
fn missing_table(message: &str) -> Option<&str> {
    let quoted = message.get(message.find('"')? + 1..message.rfind('"')?)?;
    quoted.rsplit('.').next()
}

/// Maps any driver error to a [`StoreError`]:
///
/// * connection failures, pool timeouts and statement timeouts:
///   [`StoreError::Unavailable`] (retry the call);
/// * serialization failures (40001), deadlocks (40P01) and lock timeouts
///   (55P03): [`StoreError::Contention`] (retry the transaction);
/// * a missing fullauth table (42P01) or column (42703):
///   [`StoreError::NotMigrated`];
/// * an aborted transaction (25P02): [`StoreError::TransactionFinished`];
/// * everything else, data errors included: [`StoreError::Backend`] with the
///   driver error as its source.
pub(crate) fn map_sqlx(e: sqlx::Error) -> StoreError {
    if is_connection_error(&e) {
        return StoreError::unavailable(format!("PostgreSQL is unreachable: {e}"), e);
    }
    if let sqlx::Error::Database(db) = &e {
        let code = db.code().map(|c| c.into_owned()).unwrap_or_default();
        match code.as_str() {
            // query_canceled: statement_timeout (or a cancel request)
            "57014" => {
                return StoreError::unavailable(
                    format!("PostgreSQL did not finish in time: {e}"),
                    e,
                );
            }
            "40001" | "40P01" | "55P03" => {
                return StoreError::contention(
                    format!("PostgreSQL gave up because of concurrent work: {e}"),
                    e,
                );
            }
            "25P02" => return StoreError::transaction_finished(),
            "42P01" => {
                if let Some(table) =
                    missing_table(db.message()).filter(|t| t.starts_with("fullauth_"))
                {
                    return StoreError::not_migrated(
                        feature_of_table(&MIGRATIONS, table),
                        format!(
                            "the table {table} does not exist: run the migrations of the \
                             features this store serves (PgStore::migrate or PgMigrator)"
                        ),
                    );
                }
            }
            "42703" => {
                return StoreError::not_migrated(
                    None,
                    format!(
                        "a column of a fullauth table is missing ({}): run the migrations of the \
                         features this store serves (PgStore::migrate or PgMigrator), or \
                         PgStore::refresh_user_columns after changing fullauth_users",
                        db.message()
                    ),
                );
            }
            _ => {}
        }
    }
    StoreError::backend(format!("PostgreSQL error: {e}"), e)
}
