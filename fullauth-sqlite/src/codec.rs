//! Value encodings shared with fastapi-fullauth, and the mapping of SQLite
//! errors to [`StoreError`].
//!
//! | logical type | column type | stored as |
//! | --- | --- | --- |
//! | UUID | `CHAR(32)` | 32 lowercase hex characters, no hyphens |
//! | time | `DATETIME` | `YYYY-MM-DD HH:MM:SS.ffffff`, UTC wall clock, no offset |
//! | boolean | `BOOLEAN` | integer 0 / 1 |
//!
//! The text form of times is fixed-width, so comparing two of them as text
//! (`expires_at > ?`) compares the instants — also against rows written by the
//! Python library.

use fullauth_api::{
    ConflictKind, Entity, Feature, StoreError, StoreResult, Timestamp, UserId, UserIdType,
};
use rusqlite::ErrorCode;
use rusqlite::types::{Value as SqlValue, ValueRef};
use serde_json::Value;
use uuid::Uuid;

/// `rusqlite::Result<T>` → [`StoreResult<T>`] with [`db_err`].
pub(crate) trait Db<T> {
    /// Maps the error.
    fn db(self) -> StoreResult<T>;
}

impl<T> Db<T> for rusqlite::Result<T> {
    fn db(self) -> StoreResult<T> {
        self.map_err(db_err)
    }
}

/// Maps a SQLite error to the semantic [`StoreError`]:
/// a UNIQUE violation becomes [`StoreError::Conflict`] naming what collided
/// (read from the table and column SQLite names in the message), a FOREIGN
/// KEY violation [`StoreError::NotFound`] `User` (every foreign key written by
/// a store method points at the user, or at a row the method itself created),
/// busy / locked [`StoreError::Contention`] (another connection or process
/// held the file past the busy timeout: retry the transaction), cannot-open
/// [`StoreError::Unavailable`], a missing `fullauth_…` table
/// [`StoreError::NotMigrated`] naming its feature, anything else — every
/// value SQLite refuses included — [`StoreError::Backend`] with the driver
/// error as source (never `InvalidInput`, which is fullauth-api's
/// validation only).
pub(crate) fn db_err(e: rusqlite::Error) -> StoreError {
    if let rusqlite::Error::SqliteFailure(fe, msg) = &e {
        let m = msg.as_deref().unwrap_or_default();
        match fe.code {
            ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked => {
                return StoreError::contention(
                    "the SQLite database is locked by another connection or process \
                     (busy timeout reached): retry the transaction",
                    e,
                );
            }
            ErrorCode::CannotOpen => {
                return StoreError::unavailable("the SQLite database file cannot be opened", e);
            }
            ErrorCode::ConstraintViolation => {
                if let Some(cols) = m.strip_prefix("UNIQUE constraint failed: ") {
                    return StoreError::conflict(conflict_kind(cols));
                }
                // SQLITE_CONSTRAINT_FOREIGNKEY
                if fe.extended_code == 787 || m.starts_with("FOREIGN KEY constraint failed") {
                    return StoreError::not_found(Entity::User);
                }
            }
            _ => {}
        }
        if let Some(table) = m.strip_prefix("no such table: ") {
            let table = table.trim();
            let table = table.strip_prefix("main.").unwrap_or(table);
            if table.starts_with("fullauth_") {
                return not_migrated(table);
            }
        }
    }
    StoreError::backend("SQLite error", e)
}

/// [`StoreError::NotMigrated`] for a missing fullauth table.
fn not_migrated(table: &str) -> StoreError {
    let feature = feature_of_table(table);
    let which = match feature {
        Some(f) => format!("the `{f}` feature's"),
        None => "the fullauth".to_string(),
    };
    StoreError::not_migrated(
        feature,
        format!(
            "the table {table} does not exist: run the migrations for {which} tables \
             (SqliteStore::migrate, SqliteMigrator::apply, or SqliteMigrator::adopt for a \
             fastapi-fullauth database)"
        ),
    )
}

/// The feature whose migrations create `table`.
fn feature_of_table(table: &str) -> Option<Feature> {
    Some(match table {
        "fullauth_users" | "fullauth_refresh_tokens" => Feature::Core,
        "fullauth_roles" | "fullauth_user_roles" => Feature::Roles,
        "fullauth_permissions" | "fullauth_role_permissions" => Feature::Permissions,
        "fullauth_oauth_accounts" => Feature::OAuth,
        "fullauth_passkeys" => Feature::Passkeys,
        "fullauth_mfa" => Feature::Mfa,
        "fullauth_blacklist" => Feature::Blacklist,
        "fullauth_lockout" => Feature::Lockout,
        "fullauth_rate_limit" => Feature::RateLimit,
        "fullauth_challenges" => Feature::Challenges,
        _ => return None,
    })
}

/// What collided, from the `table.column[, table.column]` list of a UNIQUE
/// violation message.
fn conflict_kind(cols: &str) -> ConflictKind {
    match cols.trim() {
        "fullauth_users.email" => ConflictKind::Email,
        "fullauth_users.id" => ConflictKind::UserId,
        "fullauth_refresh_tokens.token" => ConflictKind::RefreshToken,
        "fullauth_passkeys.credential_id" => ConflictKind::Credential,
        c if c.starts_with("fullauth_oauth_accounts.provider") => ConflictKind::OAuthIdentity,
        _ => ConflictKind::Other,
    }
}

/// A corrupt stored value (one no writer of ours or of the reference makes).
pub(crate) fn corrupt(what: &str, detail: impl std::fmt::Display) -> StoreError {
    StoreError::backend_message(format!("unreadable stored value in {what}: {detail}"))
}

/// A UUID as stored: 32 lowercase hex characters.
pub(crate) fn uuid_text(u: Uuid) -> String {
    u.simple().to_string()
}

/// A user id as stored in `fullauth_users.id` and every `user_id` column:
/// a UUID as 32 hex characters, an integer as INTEGER, a text key as TEXT.
pub(crate) fn user_key(id: &UserId) -> rusqlite::types::Value {
    use rusqlite::types::Value;
    if let Some(u) = id.as_uuid() {
        Value::Text(uuid_text(u))
    } else if let Some(i) = id.as_int() {
        Value::Integer(i)
    } else {
        Value::Text(id.as_text().unwrap_or_default().to_owned())
    }
}

/// Parses a stored UUID (simple or hyphenated).
pub(crate) fn parse_uuid(s: &str) -> StoreResult<Uuid> {
    Uuid::parse_str(s).map_err(|e| corrupt("a UUID column", e))
}

/// Reads a stored user id of a store keyed by `key`.
pub(crate) fn get_user_id<I: rusqlite::RowIndex>(
    row: &rusqlite::Row<'_>,
    col: I,
    key: UserIdType,
) -> StoreResult<UserId> {
    user_id_from_ref(row.get_ref(col).db()?, key)
}

/// A stored user id value of a store keyed by `key`.
pub(crate) fn user_id_from_ref(v: ValueRef<'_>, key: UserIdType) -> StoreResult<UserId> {
    match (v, key) {
        (ValueRef::Integer(i), UserIdType::Int) => Ok(UserId::from_int(i)),
        (ValueRef::Text(t), UserIdType::Uuid | UserIdType::Text) => {
            let s = std::str::from_utf8(t).map_err(|e| corrupt("a user id column", e))?;
            if key == UserIdType::Text {
                Ok(UserId::from_text(s))
            } else {
                UserIdType::Uuid
                    .parse(s)
                    .map_err(|e| corrupt("a user id column", e))
            }
        }
        (other, _) => Err(corrupt(
            "a user id column",
            format!(
                "a {:?} value where {} user keys are stored",
                other.data_type(),
                key.describe()
            ),
        )),
    }
}

/// A time as stored.
pub(crate) fn ts(t: Timestamp) -> String {
    t.to_naive_utc_string()
}

/// Parses a stored time (naive text, taken as UTC).
pub(crate) fn parse_ts(s: &str) -> StoreResult<Timestamp> {
    Timestamp::parse_naive_utc(s).map_err(|e| corrupt("a DATETIME column", e))
}

/// A boolean as stored.
pub(crate) fn flag(b: bool) -> i64 {
    i64::from(b)
}

/// Reads a text column by name.
pub(crate) fn get_text(row: &rusqlite::Row<'_>, col: &str) -> StoreResult<String> {
    row.get::<_, String>(col).db()
}

/// Reads a nullable text column by name.
pub(crate) fn get_opt_text(row: &rusqlite::Row<'_>, col: &str) -> StoreResult<Option<String>> {
    row.get::<_, Option<String>>(col).db()
}

/// Reads a time column by name.
pub(crate) fn get_ts(row: &rusqlite::Row<'_>, col: &str) -> StoreResult<Timestamp> {
    parse_ts(&get_text(row, col)?)
}

/// Reads a nullable time column by name.
pub(crate) fn get_opt_ts(row: &rusqlite::Row<'_>, col: &str) -> StoreResult<Option<Timestamp>> {
    get_opt_text(row, col)?.as_deref().map(parse_ts).transpose()
}

/// Reads a boolean column by name (any non-zero integer is true).
pub(crate) fn get_flag(row: &rusqlite::Row<'_>, col: &str) -> StoreResult<bool> {
    Ok(row.get::<_, i64>(col).db()? != 0)
}

/// Reads a non-negative 32-bit counter column by name.
pub(crate) fn get_counter(row: &rusqlite::Row<'_>, col: &str) -> StoreResult<u32> {
    let v = row.get::<_, i64>(col).db()?;
    u32::try_from(v).map_err(|_| corrupt(col, format!("{v} is not a 32-bit counter")))
}

/// A JSON scalar of an application column → an SQLite value.
///
/// Booleans become 0/1 (SQLite has no boolean type), whatever the column's
/// declared type. An integer outside the signed 64-bit range passed
/// fullauth-api's validation but cannot be stored by SQLite: that is a
/// [`StoreError::Backend`], as the database's own refusal would be.
pub(crate) fn json_to_sql(column: &str, v: &Value) -> StoreResult<SqlValue> {
    Ok(match v {
        Value::Null => SqlValue::Null,
        Value::Bool(b) => SqlValue::Integer(i64::from(*b)),
        Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                SqlValue::Integer(i)
            } else if n.is_u64() {
                return Err(StoreError::backend_message(format!(
                    "column `{column}`: {n} is out of SQLite's signed 64-bit integer range"
                )));
            } else {
                SqlValue::Real(n.as_f64().unwrap_or(f64::NAN))
            }
        }
        Value::String(s) => SqlValue::Text(s.clone()),
        // fullauth-api's ExtraFields and UserLookup refuse these before a
        // store sees them; the same answer, should one get here.
        Value::Array(_) | Value::Object(_) => {
            return Err(StoreError::invalid(
                "extra",
                format!("column `{column}`: must be null, a boolean, a number or a string"),
            ));
        }
    })
}

/// How an application column reads back, decided by its declared type
/// (`PRAGMA table_info`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ColumnType {
    /// Declared `BOOLEAN` or `BOOL`: stored 0/1, read as a JSON boolean.
    Boolean,
    /// Any other type: read by the stored value's class, which SQLite's type
    /// affinity makes match the declared type (an `INTEGER` column holds
    /// integers, a `VARCHAR`/`TEXT` column text).
    Other,
}

impl ColumnType {
    /// The kind of a declared column type such as `BOOLEAN`, `bool` or
    /// `VARCHAR(100)`.
    pub(crate) fn of_declared(decl: &str) -> Self {
        let name = decl
            .trim()
            .split(|c: char| c == '(' || c.is_whitespace())
            .next()
            .unwrap_or_default();
        if name.eq_ignore_ascii_case("BOOLEAN") || name.eq_ignore_ascii_case("BOOL") {
            ColumnType::Boolean
        } else {
            ColumnType::Other
        }
    }
}

/// An SQLite value of an application column → JSON. In a
/// [`ColumnType::Boolean`] column an integer is a boolean (0 false, any other
/// true); otherwise INTEGER → number, REAL → number (null if not finite),
/// TEXT → string, BLOB → string of lowercase hex; NULL is null everywhere.
pub(crate) fn sql_to_json(v: ValueRef<'_>, ty: ColumnType) -> Value {
    match v {
        ValueRef::Null => Value::Null,
        ValueRef::Integer(i) if ty == ColumnType::Boolean => Value::Bool(i != 0),
        ValueRef::Integer(i) => Value::from(i),
        ValueRef::Real(f) => serde_json::Number::from_f64(f)
            .map(Value::Number)
            .unwrap_or(Value::Null),
        ValueRef::Text(t) => Value::String(String::from_utf8_lossy(t).into_owned()),
        ValueRef::Blob(b) => Value::String(b.iter().map(|x| format!("{x:02x}")).collect()),
    }
}

/// Quotes an identifier for SQL (names reaching here are already validated
/// identifiers; quoting keeps keywords safe).
pub(crate) fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}
