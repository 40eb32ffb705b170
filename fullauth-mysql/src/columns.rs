//! The application's own columns of `fullauth_users`: discovered from
//! `information_schema`, read into [`User::extra`] and written from
//! [`ExtraFields`].
//!
//! | MariaDB type | JSON value |
//! | --- | --- |
//! | char, varchar, tinytext, text, mediumtext, longtext, enum (and JSON, a longtext) | string |
//! | tinyint (except tinyint(1)), smallint, mediumint, int, bigint | number |
//! | bigint unsigned, decimal, float, double | number |
//! | tinyint(1) (BOOL) | bool |
//! | datetime, timestamp (taken as UTC) | RFC 3339 string with microseconds |
//! | anything else | its text form, as a string |
//!
//! NULL reads as JSON null. Writes and lookups bind the JSON value as text:
//! a boolean column takes JSON true/false (or the text `true`/`false`, and
//! the other spellings PostgreSQL's boolean accepts) and stores 1/0; an
//! integer column takes an integer and a numeric column a number (cast to
//! the column's type in SQL); a date-time column takes RFC 3339 (or
//! `YYYY-MM-DD HH:MM:SS[.ffffff]`, taken as UTC). A value the column's type
//! cannot hold is a [`StoreError::Backend`] error, either ours (checked
//! before the statement, because MariaDB only warns about a bad cast in a
//! `SELECT`) or the database's (strict mode refuses what does not fit on a
//! write: too long, out of range), never a silent change.
//!
//! The same catalog read finds the key type of `fullauth_users.id`, which
//! must be the store's ([`check_user_key`]).
//!
//! The columns are discovered lazily: by the first operation on users (and
//! again when a write names a column not seen yet, or on
//! [`crate::MySqlStore::refresh_user_columns`] and [`crate::MySqlStore::migrate`]).

use std::sync::Arc;

use fullauth_api::sql::{
    ColumnKind as Kind, ColumnValue, check_user_key, is_builtin_user_column, json_to_text,
};
use fullauth_api::{ExtraFields, StoreError, Timestamp, User, UserIdType};
use serde_json::Value;
use sqlx::mysql::MySqlRow;
use sqlx::{MySqlConnection, Row};
use time::OffsetDateTime;

use crate::ctx::{Ctx, quote_ident};
use crate::error::DbResult;

/// The built-in columns a user is read from, in the order
/// [`UserColumns::decode`] expects them.
const BUILTIN_READ: [&str; 6] = [
    "id",
    "email",
    "is_active",
    "is_verified",
    "is_superuser",
    "created_at",
];

/// One application column.
#[derive(Clone, Debug)]
pub(crate) struct ExtraColumn {
    /// The column name, as the catalog spells it.
    pub(crate) name: String,
    /// The name quoted as an identifier.
    pub(crate) quoted: String,
    /// How its values travel as JSON.
    pub(crate) kind: Kind,
    /// The type the bound text is cast to (`CAST(? AS …)`), `None` to bind
    /// the text as it is and let the column's assignment convert it.
    cast: Option<String>,
}

impl ExtraColumn {
    /// The expression that reads the column of the row `prefix` (`u.` or
    /// empty) as a type that decodes reliably.
    fn select_expr(&self, prefix: &str) -> String {
        let c = format!("{prefix}{}", self.quoted);
        match self.kind {
            Kind::Text | Kind::Number | Kind::Other => format!("CAST({c} AS CHAR)"),
            Kind::Int | Kind::Bool => format!("CAST({c} AS SIGNED)"),
            Kind::Timestamp => c,
        }
    }

    /// The placeholder `?`, cast to the column's type where that makes the
    /// comparison or the assignment exact. Bind [`ExtraColumn::param`].
    pub(crate) fn bind_expr(&self) -> String {
        match &self.cast {
            Some(t) => format!("CAST(? AS {t})"),
            None => String::from("?"),
        }
    }

    /// The text to bind for `value` in [`ExtraColumn::bind_expr`] (`None`
    /// for null). Checks that the column's type can take it (see the module
    /// docs): MariaDB only warns about a bad cast in a lookup, so a value
    /// the type refuses is refused here, as a [`StoreError::Backend`] error
    /// like the database's own refusals.
    pub(crate) fn param(&self, value: &Value) -> DbResult<Option<String>> {
        let Some(text) = json_to_text(value) else {
            return Ok(None);
        };
        let refuse = |what: &str| -> DbResult<Option<String>> {
            Err(StoreError::backend_message(format!(
                "MariaDB error: column `{}` takes {what}, not {value}",
                self.name
            ))
            .into())
        };
        match self.kind {
            Kind::Text | Kind::Other => Ok(Some(text)),
            Kind::Int => match text.trim().parse::<i64>() {
                Ok(n) => Ok(Some(n.to_string())),
                Err(_) => refuse("an integer"),
            },
            Kind::Number => match text.trim().parse::<f64>() {
                Ok(n) if n.is_finite() => Ok(Some(text.trim().to_string())),
                _ => refuse("a finite number"),
            },
            Kind::Bool => match parse_bool(&text) {
                Some(true) => Ok(Some(String::from("1"))),
                Some(false) => Ok(Some(String::from("0"))),
                None => refuse("a boolean"),
            },
            Kind::Timestamp => match Timestamp::try_from(text) {
                Ok(t) => Ok(Some(t.to_naive_utc_string())),
                Err(_) => refuse("an RFC 3339 date-time"),
            },
        }
    }
}

/// The spellings PostgreSQL's boolean input accepts (trimmed, any case):
/// `true`/`false`, `t`/`f`, `yes`/`no`, `y`/`n`, `on`/`off`, `1`/`0`.
fn parse_bool(text: &str) -> Option<bool> {
    match text.trim().to_ascii_lowercase().as_str() {
        "true" | "t" | "yes" | "y" | "on" | "1" => Some(true),
        "false" | "f" | "no" | "n" | "off" | "0" => Some(false),
        _ => None,
    }
}

/// The application columns of `fullauth_users`, in table order, and the
/// select lists that read a whole user.
#[derive(Clone, Debug)]
pub(crate) struct UserColumns {
    /// The application columns, in table order.
    pub(crate) extras: Vec<ExtraColumn>,
    /// `u.id, u.email, …` for a table aliased `u`.
    pub(crate) select_list: String,
    /// The same columns unqualified, for `INSERT … RETURNING` (MariaDB's
    /// `INSERT` takes no table alias).
    pub(crate) returning_list: String,
}

impl Default for UserColumns {
    fn default() -> Self {
        UserColumns::build(Vec::new())
    }
}

impl UserColumns {
    /// The lists for these application columns.
    fn build(extras: Vec<ExtraColumn>) -> Self {
        let list = |prefix: &str| {
            let mut items: Vec<String> = BUILTIN_READ
                .iter()
                .map(|c| format!("{prefix}{c}"))
                .collect();
            items.extend(extras.iter().map(|c| c.select_expr(prefix)));
            items.join(", ")
        };
        let select_list = list("u.");
        let returning_list = list("");
        UserColumns {
            extras,
            select_list,
            returning_list,
        }
    }

    /// The index of the first column after [`UserColumns::select_list`].
    pub(crate) fn first_trailing(&self) -> usize {
        BUILTIN_READ.len() + self.extras.len()
    }

    /// The column named `name`, if the table has it.
    pub(crate) fn get(&self, name: &str) -> Option<&ExtraColumn> {
        self.extras.iter().find(|c| c.name == name)
    }

    /// Reads a user from a row made by [`UserColumns::select_list`] (or
    /// [`UserColumns::returning_list`]).
    pub(crate) fn decode(&self, row: &MySqlRow) -> DbResult<User> {
        let id = crate::keys::user_id_at(row, 0)?;
        let email: String = row.try_get(1)?;
        let created_at: OffsetDateTime = row.try_get(5)?;
        let mut extra = ExtraFields::new();
        for (i, c) in self.extras.iter().enumerate() {
            let idx = BUILTIN_READ.len() + i;
            let v = match c.kind {
                Kind::Text | Kind::Number | Kind::Other => ColumnValue::Text(row.try_get(idx)?),
                // tinyint(1) is read as a number: 0 is false.
                Kind::Int | Kind::Bool => ColumnValue::Int(row.try_get(idx)?),
                Kind::Timestamp => ColumnValue::DateTime(row.try_get(idx)?),
            };
            extra.insert_stored(c.name.clone(), c.kind.to_json(v));
        }
        Ok(User {
            id,
            email: fullauth_api::Email::new(&email)
                .map_err(|e| StoreError::backend("a stored email does not validate", e))?,
            is_active: row.try_get(2)?,
            is_verified: row.try_get(3)?,
            is_superuser: row.try_get(4)?,
            created_at: Timestamp::from_datetime(created_at),
            extra,
        })
    }
}

/// The kind of a column and the type a bound text is cast to, from its
/// `DATA_TYPE`, `COLUMN_TYPE`, `NUMERIC_PRECISION` and `NUMERIC_SCALE`.
fn kind_of(
    data_type: &str,
    column_type: &str,
    precision: Option<i64>,
    scale: Option<i64>,
) -> (Kind, Option<String>) {
    let unsigned = column_type.contains("unsigned");
    match data_type {
        "char" | "varchar" | "tinytext" | "text" | "mediumtext" | "longtext" | "enum" => {
            (Kind::Text, None)
        }
        "tinyint" if column_type == "tinyint(1)" => (Kind::Bool, Some(String::from("SIGNED"))),
        // Beyond i64: read as a number's text.
        "bigint" if unsigned => (Kind::Number, Some(String::from("DECIMAL(20,0)"))),
        "tinyint" | "smallint" | "mediumint" | "int" | "bigint" => {
            (Kind::Int, Some(String::from("SIGNED")))
        }
        "decimal" => {
            let cast = match (precision, scale) {
                (Some(p), Some(s)) if (1..=65).contains(&p) && (0..=38).contains(&s) && s <= p => {
                    format!("DECIMAL({p},{s})")
                }
                _ => String::from("DECIMAL(65,30)"),
            };
            (Kind::Number, Some(cast))
        }
        "float" => (Kind::Number, Some(String::from("FLOAT"))),
        "double" => (Kind::Number, Some(String::from("DOUBLE"))),
        "datetime" | "timestamp" => (Kind::Timestamp, Some(String::from("DATETIME(6)"))),
        _ => (Kind::Other, None),
    }
}

/// The columns of a table of the given database, in table order.
const DISCOVER: &str = "\
SELECT CAST(COLUMN_NAME AS CHAR) AS name, CAST(DATA_TYPE AS CHAR) AS data_type, \
       CAST(COLUMN_TYPE AS CHAR) AS column_type, \
       CAST(NUMERIC_PRECISION AS SIGNED) AS num_precision, \
       CAST(NUMERIC_SCALE AS SIGNED) AS num_scale \
FROM information_schema.COLUMNS \
WHERE TABLE_SCHEMA = ? AND TABLE_NAME = 'fullauth_users' \
ORDER BY ORDINAL_POSITION";

/// The key type a MariaDB column of `fullauth_users.id` holds (`CHAR(32)`
/// is the hex encoding of a UUID that SQLAlchemy used before MariaDB had
/// `uuid`).
pub(crate) fn stored_key(data_type: &str, column_type: &str) -> UserIdType {
    if column_type.eq_ignore_ascii_case("char(32)") {
        return UserIdType::Uuid;
    }
    match data_type.to_ascii_lowercase().as_str() {
        "tinyint" | "smallint" | "mediumint" | "int" | "bigint" => UserIdType::Int,
        "char" | "varchar" | "tinytext" | "text" | "mediumtext" | "longtext" => UserIdType::Text,
        _ => UserIdType::Uuid,
    }
}

/// What the catalog says of `<database>.fullauth_users`.
pub(crate) struct Discovered {
    /// The key type of its `id` column and the column's type as the catalog
    /// spells it (`uuid`, `int(11)`); `None` for a table without an `id`
    /// column.
    pub(crate) key: Option<(UserIdType, String)>,
    /// The application's columns.
    pub(crate) columns: UserColumns,
}

/// Reads the columns of `<database>.fullauth_users` from the catalog,
/// without judging the key type; `None` when the table does not exist
/// (yet).
pub(crate) async fn read_catalog(
    conn: &mut MySqlConnection,
    database: &str,
) -> DbResult<Option<Discovered>> {
    let rows = sqlx::query(DISCOVER).bind(database).fetch_all(conn).await?;
    if rows.is_empty() {
        return Ok(None);
    }
    let mut key = None;
    let mut extras = Vec::new();
    for row in rows {
        let name: String = row.try_get(0)?;
        let data_type: String = row.try_get(1)?;
        let column_type: String = row.try_get(2)?;
        if name == "id" {
            key = Some((stored_key(&data_type, &column_type), column_type.clone()));
        }
        if is_builtin_user_column(&name) || !fullauth_api::user::is_identifier(&name) {
            continue;
        }
        let precision: Option<i64> = row.try_get(3)?;
        let scale: Option<i64> = row.try_get(4)?;
        let (kind, cast) = kind_of(
            &data_type.to_ascii_lowercase(),
            &column_type.to_ascii_lowercase(),
            precision,
            scale,
        );
        extras.push(ExtraColumn {
            quoted: quote_ident(&name),
            name,
            kind,
            cast,
        });
    }
    Ok(Some(Discovered {
        key,
        columns: UserColumns::build(extras),
    }))
}

/// Reads the columns of `<database>.fullauth_users` from the catalog;
/// `None` when the table does not exist (yet).
///
/// # Errors
/// [`check_user_key`]'s when `fullauth_users.id` holds keys of another type
/// than the store's.
pub(crate) async fn discover(
    conn: &mut MySqlConnection,
    ctx: &Ctx,
) -> DbResult<Option<UserColumns>> {
    let Some(found) = read_catalog(conn, &ctx.database).await? else {
        return Ok(None);
    };
    if let Some((key, column_type)) = &found.key {
        check_user_key(ctx.key, *key, column_type)?;
    }
    Ok(Some(found.columns))
}

/// The columns as last discovered, discovering them on `conn` first when
/// that has not happened yet. Without the table, the built-in columns only
/// (the statement that follows reports the missing table).
pub(crate) async fn current(conn: &mut MySqlConnection, ctx: &Ctx) -> DbResult<Arc<UserColumns>> {
    if let Some(cols) = ctx.columns.get() {
        return Ok(cols);
    }
    refresh(conn, ctx).await
}

/// Discovers the columns on `conn` and keeps them in `ctx`.
pub(crate) async fn refresh(conn: &mut MySqlConnection, ctx: &Ctx) -> DbResult<Arc<UserColumns>> {
    let found = discover(conn, ctx).await?;
    ctx.columns.set(found);
    Ok(ctx.columns.get().unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn column(data_type: &str, column_type: &str) -> ExtraColumn {
        let (kind, cast) = kind_of(data_type, column_type, Some(10), Some(2));
        ExtraColumn {
            name: String::from("c"),
            quoted: quote_ident("c"),
            kind,
            cast,
        }
    }

    #[test]
    fn kinds_follow_the_catalog() {
        assert_eq!(column("tinyint", "tinyint(1)").kind, Kind::Bool);
        assert_eq!(column("tinyint", "tinyint(4)").kind, Kind::Int);
        assert_eq!(column("bigint", "bigint(20) unsigned").kind, Kind::Number);
        assert_eq!(
            column("decimal", "decimal(10,2)").bind_expr(),
            "CAST(? AS DECIMAL(10,2))"
        );
        assert_eq!(column("enum", "enum('a','b')").kind, Kind::Text);
        assert_eq!(column("datetime", "datetime(6)").kind, Kind::Timestamp);
        assert_eq!(column("uuid", "uuid").kind, Kind::Other);
    }

    #[test]
    fn params_are_checked_and_normalised() {
        let b = column("tinyint", "tinyint(1)");
        assert_eq!(b.param(&json!(true)).ok().flatten().as_deref(), Some("1"));
        assert_eq!(
            b.param(&json!("false")).ok().flatten().as_deref(),
            Some("0")
        );
        assert!(b.param(&json!("maybe")).is_err());
        assert!(b.param(&Value::Null).is_ok_and(|v| v.is_none()));
        let i = column("int", "int(11)");
        assert_eq!(i.param(&json!(-36)).ok().flatten().as_deref(), Some("-36"));
        assert!(i.param(&json!("old")).is_err());
        assert!(i.param(&json!(1.5)).is_err());
        let t = column("datetime", "datetime(6)");
        assert_eq!(
            t.param(&json!("2024-05-06T09:08:09.123456+02:00"))
                .ok()
                .flatten()
                .as_deref(),
            Some("2024-05-06 07:08:09.123456")
        );
        assert!(t.param(&json!("garbage")).is_err());
        let n = column("double", "double");
        assert!(n.param(&json!("NaN")).is_err());
        assert_eq!(
            n.param(&json!(12.5)).ok().flatten().as_deref(),
            Some("12.5")
        );
    }
}
