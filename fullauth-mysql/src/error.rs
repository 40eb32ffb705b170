//! Mapping driver errors to [`StoreError`].
//!
//! Operations return [`DbError`] internally so that the connection layer can
//! see the driver error (and decide whether running the operation again is
//! safe) before it becomes a [`StoreError`] at the edge.
//!
//! MariaDB reports errors by number (`ER_*`); the numbers this crate acts on:
//!
//! | number | meaning | becomes |
//! | --- | --- | --- |
//! | 1062, 1586 | duplicate key (the key name is in the message) | `Conflict` |
//! | 1451, 1452 | foreign key (the column is in the message) | `NotFound` |
//! | 1213 | deadlock: the whole transaction was rolled back | `Contention` |
//! | 1205 | lock wait timeout: the statement was rolled back | `Contention` |
//! | 1146, 1054 | missing table / column | `NotMigrated` |
//! | 1040, 1053, 1927, 2002, 2006, 2013 | too many connections, shutdown, killed, gone | `Unavailable` |
//! | 1969, 3024 | statement timeout | `Unavailable` |

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

/// How far a failed operation may be run again on the pool.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Retry {
    /// Reads and idempotent writes: run again after any connection failure
    /// or deadlock.
    Idempotent,
    /// Writes that must not run twice: run again only when the server said
    /// the statement did not happen (a deadlock or lock-wait timeout rolled
    /// it back; the server killed or refused the connection before it ran).
    IfNotApplied,
}

/// The MariaDB error number of a database error.
pub(crate) fn error_number(e: &sqlx::Error) -> Option<u16> {
    match e {
        sqlx::Error::Database(db) => db
            .try_downcast_ref::<sqlx::mysql::MySqlDatabaseError>()
            .map(|m| m.number()),
        _ => None,
    }
}

impl DbError {
    /// The MariaDB error number, when the server refused the statement.
    pub(crate) fn number(&self) -> Option<u16> {
        match self {
            DbError::Sql(e) => error_number(e),
            DbError::Store(_) => None,
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

    /// True for a deadlock (1213) or a lock-wait timeout (1205): the server
    /// rolled the statement (for a deadlock, the whole transaction) back.
    pub(crate) fn is_contention(&self) -> bool {
        matches!(self.number(), Some(1213 | 1205))
    }

    /// True when running the operation again on the pool is safe and may
    /// succeed.
    pub(crate) fn may_retry(&self, retry: Retry) -> bool {
        if self.is_contention() {
            return true;
        }
        match retry {
            Retry::Idempotent => self.is_connection_failure(),
            Retry::IfNotApplied => matches!(self.number(), Some(1040 | 1053 | 1927)),
        }
    }

    /// True when the failure leaves an open transaction unusable: a deadlock
    /// (MariaDB rolled the whole transaction back) or a lost connection.
    /// Any other refused statement is undone alone and the transaction goes
    /// on (InnoDB's statement-level atomicity).
    pub(crate) fn breaks_transaction(&self) -> bool {
        self.number() == Some(1213) || self.is_connection_failure()
    }

    /// The name of the key a duplicate-key error names, when this is one.
    pub(crate) fn unique_violation(&self) -> Option<String> {
        match self {
            DbError::Sql(sqlx::Error::Database(db))
                if matches!(self.number(), Some(1062 | 1586)) =>
            {
                // "Duplicate entry 'x' for key 'name'" (the key may be
                // `table.name` on newer servers).
                let m = db.message();
                let key = m.rsplit(" for key ").next()?.trim_matches('\'');
                Some(key.rsplit('.').next().unwrap_or(key).to_string())
            }
            _ => None,
        }
    }

    /// The referencing column a foreign-key error names, when this is one.
    pub(crate) fn fk_violation(&self) -> Option<String> {
        match self {
            DbError::Sql(sqlx::Error::Database(db))
                if matches!(self.number(), Some(1451 | 1452)) =>
            {
                // "… CONSTRAINT `x` FOREIGN KEY (`user_id`) REFERENCES …"
                let m = db.message();
                let rest = &m[m.find("FOREIGN KEY (`")? + "FOREIGN KEY (`".len()..];
                Some(rest[..rest.find('`')?].to_string())
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

/// Maps the common unique and foreign-key violations of a write by key name
/// and column; leaves every other error as it is (a value the database
/// refuses stays a driver error and becomes [`StoreError::Backend`]: only our
/// own validation answers `InvalidInput`).
pub(crate) fn map_write_error(e: DbError) -> DbError {
    if let Some(name) = e.unique_violation() {
        let what = match name.as_str() {
            "ix_fullauth_users_email" => ConflictKind::Email,
            "PRIMARY" => ConflictKind::UserId,
            "ix_fullauth_refresh_tokens_token" => ConflictKind::RefreshToken,
            "ix_fullauth_passkeys_credential_id" => ConflictKind::Credential,
            "uq_oauth_provider_user" => ConflictKind::OAuthIdentity,
            _ => ConflictKind::Other,
        };
        return DbError::Store(StoreError::conflict(what));
    }
    if let Some(column) = e.fk_violation() {
        match column.as_str() {
            "user_id" => return DbError::Store(StoreError::not_found(Entity::User)),
            "role_id" => return DbError::Store(StoreError::not_found(Entity::Role)),
            _ => {}
        }
    }
    e
}

/// True for driver errors that mean the connection is gone or the server
/// cannot serve it: I/O, TLS, protocol, pool exhaustion, and the server
/// errors 1040 (too many connections), 1053 (shutdown), 1927 (killed) and
/// the client numbers 2002/2006/2013.
pub(crate) fn is_connection_error(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed
        | sqlx::Error::BeginFailed
        | sqlx::Error::Protocol(_) => true,
        sqlx::Error::Database(_) => matches!(
            error_number(e),
            Some(1040 | 1053 | 1927 | 2002 | 2006 | 2013)
        ),
        _ => false,
    }
}

/// The table of a "Table 'db.t' doesn't exist" message, without its
/// database.
fn missing_table(message: &str) -> Option<&str> {
    let quoted = message.get(message.find('\'')? + 1..message.rfind('\'')?)?;
    quoted.rsplit('.').next()
}

/// Maps any driver error to a [`StoreError`]:
///
/// * connection failures, pool timeouts and statement timeouts:
///   [`StoreError::Unavailable`] (retry the call);
/// * deadlocks (1213) and lock-wait timeouts (1205):
///   [`StoreError::Contention`] (retry the transaction);
/// * a missing fullauth table (1146) or column (1054):
///   [`StoreError::NotMigrated`];
/// * everything else, data errors included: [`StoreError::Backend`] with the
///   driver error as its source.
pub(crate) fn map_sqlx(e: sqlx::Error) -> StoreError {
    if is_connection_error(&e) {
        return StoreError::unavailable(format!("MariaDB is unreachable: {e}"), e);
    }
    if let sqlx::Error::Database(db) = &e {
        match error_number(&e) {
            Some(1969 | 3024) => {
                return StoreError::unavailable(format!("MariaDB did not finish in time: {e}"), e);
            }
            Some(1213 | 1205) => {
                return StoreError::contention(
                    format!("MariaDB gave up because of concurrent work: {e}"),
                    e,
                );
            }
            Some(1146) => {
                if let Some(table) =
                    missing_table(db.message()).filter(|t| t.starts_with("fullauth_"))
                {
                    return StoreError::not_migrated(
                        feature_of_table(&MIGRATIONS, table),
                        format!(
                            "the table {table} does not exist: run the migrations of the \
                             features this store serves (MySqlStore::migrate or MySqlMigrator)"
                        ),
                    );
                }
            }
            Some(1054) => {
                return StoreError::not_migrated(
                    None,
                    format!(
                        "a column of a fullauth table is missing ({}): run the migrations of the \
                         features this store serves (MySqlStore::migrate or MySqlMigrator), or \
                         MySqlStore::refresh_user_columns after changing fullauth_users",
                        db.message()
                    ),
                );
            }
            _ => {}
        }
    }
    StoreError::backend(format!("MariaDB error: {e}"), e)
}
