//! The application's own columns of `fullauth_users`: discovered from the
//! catalog, read into [`User::extra`] and written from [`ExtraFields`].
//!
//! | PostgreSQL type | JSON value |
//! | --- | --- |
//! | text, varchar, char, name, citext | string |
//! | smallint, integer, bigint | number |
//! | real, double precision, numeric | number (string for NaN/Infinity) |
//! | boolean | bool |
//! | timestamptz, timestamp (taken as UTC) | RFC 3339 string with microseconds |
//! | anything else | its text form, as a string |
//!
//! NULL reads as JSON null. Writes bind the JSON value as text and cast it to
//! the column's type (a JSON bool into a boolean column stores true/false, a
//! JSON number into an integer column stores the number), so a value the
//! type refuses is a [`StoreError::Backend`] error from the database, not a
//! silent change.
//!
//! The columns are discovered lazily: by the first operation on users (and
//! again when a write names a column not seen yet, or on
//! [`crate::PgStore::refresh_user_columns`] and [`crate::PgStore::migrate`]).
//! The same catalog read finds the key type of `fullauth_users.id`, which
//! must be the store's ([`check_user_key`]).

use std::sync::Arc;

use fullauth_api::sql::{ColumnKind as Kind, ColumnValue, check_user_key, is_builtin_user_column};
use fullauth_api::{ExtraFields, StoreError, Timestamp, User, UserIdType};
use sqlx::postgres::PgRow;
use sqlx::{PgConnection, Row};
use time::OffsetDateTime;

use crate::ctx::{Ctx, quote_ident};
use crate::error::DbResult;

/// One application column.
#[derive(Clone, Debug)]
pub(crate) struct ExtraColumn {
    pub(crate) name: String,
    pub(crate) quoted: String,
    /// The type to cast a bound text value to (no type modifier, so that the
    /// column's own length check applies on assignment).
    pub(crate) cast_type: String,
    pub(crate) kind: Kind,
    /// A `timestamp` without time zone (read as UTC).
    naive: bool,
}

impl ExtraColumn {
    /// The expression that reads the column as its JSON-friendly type.
    fn select_expr(&self, alias: &str) -> String {
        let c = format!("{alias}.{}", self.quoted);
        match self.kind {
            Kind::Text | Kind::Number | Kind::Other => format!("{c}::text"),
            Kind::Int => format!("{c}::int8"),
            Kind::Bool => format!("{c}::boolean"),
            Kind::Timestamp if self.naive => format!("({c} AT TIME ZONE 'UTC')"),
            Kind::Timestamp => c,
        }
    }

    /// The placeholder `$n` cast to the column's type.
    pub(crate) fn bind_expr(&self, n: usize) -> String {
        format!("CAST(CAST(${n} AS text) AS {})", self.cast_type)
    }
}

/// The application columns of `fullauth_users`, in table order, and the
/// select list that reads a whole user.
#[derive(Clone, Debug)]
pub(crate) struct UserColumns {
    pub(crate) extras: Vec<ExtraColumn>,
    /// `u.id, u.email, …` for a table aliased `u`.
    pub(crate) select_list: String,
}

impl Default for UserColumns {
    fn default() -> Self {
        UserColumns::build(Vec::new())
    }
}

impl UserColumns {
    fn build(extras: Vec<ExtraColumn>) -> Self {
        let mut list =
            String::from("u.id, u.email, u.is_active, u.is_verified, u.is_superuser, u.created_at");
        for c in &extras {
            list.push_str(", ");
            list.push_str(&c.select_expr("u"));
        }
        UserColumns {
            extras,
            select_list: list,
        }
    }

    /// The index of the first column after [`UserColumns::select_list`].
    pub(crate) fn first_trailing(&self) -> usize {
        6 + self.extras.len()
    }

    /// The column named `name`, if the table has it.
    pub(crate) fn get(&self, name: &str) -> Option<&ExtraColumn> {
        self.extras.iter().find(|c| c.name == name)
    }

    /// Reads a user from a row made by [`UserColumns::select_list`].
    pub(crate) fn decode(&self, row: &PgRow) -> DbResult<User> {
        let id = crate::keys::user_id_at(row, 0)?;
        let email: String = row.try_get(1)?;
        let created_at: OffsetDateTime = row.try_get(5)?;
        let mut extra = ExtraFields::new();
        for (i, c) in self.extras.iter().enumerate() {
            let idx = 6 + i;
            let v = match c.kind {
                Kind::Text | Kind::Number | Kind::Other => ColumnValue::Text(row.try_get(idx)?),
                Kind::Int => ColumnValue::Int(row.try_get(idx)?),
                Kind::Bool => ColumnValue::Bool(row.try_get(idx)?),
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

fn kind_of(base_type: &str) -> Kind {
    match base_type {
        "text" | "varchar" | "bpchar" | "name" | "citext" => Kind::Text,
        "int2" | "int4" | "int8" => Kind::Int,
        "float4" | "float8" | "numeric" => Kind::Number,
        "bool" => Kind::Bool,
        "timestamptz" | "timestamp" => Kind::Timestamp,
        _ => Kind::Other,
    }
}

/// The key type a PostgreSQL base type of `fullauth_users.id` holds:
/// integers for `int2`/`int4`/`int8` (`SERIAL` is `int4`), text for the
/// character types, UUID otherwise.
pub(crate) fn stored_key(base_type: &str) -> UserIdType {
    match kind_of(base_type) {
        Kind::Int => UserIdType::Int,
        Kind::Text => UserIdType::Text,
        _ => UserIdType::Uuid,
    }
}

const DISCOVER: &str = "\
SELECT a.attname::text AS name, format_type(a.atttypid, NULL) AS cast_type, \
       bt.typname::text AS base_type \
FROM pg_catalog.pg_attribute a \
JOIN pg_catalog.pg_class c ON c.oid = a.attrelid \
JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace \
JOIN pg_catalog.pg_type t ON t.oid = a.atttypid \
JOIN pg_catalog.pg_type bt ON bt.oid = CASE WHEN t.typtype = 'd' THEN t.typbasetype ELSE t.oid END \
WHERE n.nspname = $1 AND c.relname = 'fullauth_users' AND c.relkind IN ('r', 'p') \
  AND a.attnum > 0 AND NOT a.attisdropped \
ORDER BY a.attnum";

/// What the catalog says of `<schema>.fullauth_users`.
pub(crate) struct Discovered {
    /// The key type of its `id` column and the column's type as the catalog
    /// spells it (`uuid`, `integer`, `character varying`); `None` for a
    /// table without an `id` column.
    pub(crate) key: Option<(UserIdType, String)>,
    /// The application's columns.
    pub(crate) columns: UserColumns,
}

/// Reads the columns of `<schema>.fullauth_users` from the catalog, without
/// judging the key type; `None` when the table does not exist (yet).
pub(crate) async fn read_catalog(
    conn: &mut PgConnection,
    schema: &str,
    persistent: bool,
) -> DbResult<Option<Discovered>> {
    let rows = sqlx::query(DISCOVER)
        .persistent(persistent)
        .bind(schema)
        .fetch_all(conn)
        .await?;
    if rows.is_empty() {
        return Ok(None);
    }
    let mut key = None;
    let mut extras = Vec::new();
    for row in rows {
        let name: String = row.try_get(0)?;
        let cast_type: String = row.try_get(1)?;
        let base: String = row.try_get(2)?;
        if name == "id" {
            key = Some((stored_key(&base), cast_type.clone()));
        }
        if is_builtin_user_column(&name) || !fullauth_api::user::is_identifier(&name) {
            continue;
        }
        extras.push(ExtraColumn {
            quoted: quote_ident(&name),
            name,
            cast_type,
            kind: kind_of(&base),
            naive: base == "timestamp",
        });
    }
    Ok(Some(Discovered {
        key,
        columns: UserColumns::build(extras),
    }))
}

/// Reads the columns of `<schema>.fullauth_users` from the catalog; `None`
/// when the table does not exist (yet).
///
/// # Errors
/// [`check_user_key`]'s when `fullauth_users.id` holds keys of another type
/// than the store's.
pub(crate) async fn discover(conn: &mut PgConnection, ctx: &Ctx) -> DbResult<Option<UserColumns>> {
    let Some(found) = read_catalog(conn, &ctx.schema, ctx.persistent()).await? else {
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
pub(crate) async fn current(conn: &mut PgConnection, ctx: &Ctx) -> DbResult<Arc<UserColumns>> {
    if let Some(cols) = ctx.columns.get() {
        return Ok(cols);
    }
    refresh(conn, ctx).await
}

/// Discovers the columns on `conn` and keeps them in `ctx`.
pub(crate) async fn refresh(conn: &mut PgConnection, ctx: &Ctx) -> DbResult<Arc<UserColumns>> {
    let found = discover(conn, ctx).await?;
    ctx.columns.set(found);
    Ok(ctx.columns.get().unwrap_or_default())
}
