//! Users (`fullauth_users`) and the application's own columns.
//!
//! # Application columns
//!
//! An app adds columns to `fullauth_users` in its own migrations
//! (`ALTER TABLE fullauth_users ADD COLUMN display_name VARCHAR(100)`). The
//! store reads rows with `SELECT *`, so every column other than the seven of
//! the reference appears in [`User::extra`] as soon as it exists, and writes
//! the names given in [`NewUser::extra`] / [`UserPatch::extra`] after checking
//! them against `PRAGMA table_info` (cached, re-read on a miss, so a column
//! added while the store is open is found). A name that is not a column is
//! [`StoreError::UnknownField`]; protected names never get here (the types
//! refuse them).
//!
//! Values are typed as on every backend of the family, by the column's
//! declared type (`PRAGMA table_info`, cached with the names):
//!
//! | declared type | JSON written | stored | JSON read back |
//! | --- | --- | --- | --- |
//! | `BOOLEAN` or `BOOL` | `true` / `false` | 1 / 0 | `true` / `false` (any non-zero integer is `true`) |
//! | `INTEGER` (and other integer types) | number | INTEGER | number |
//! | `VARCHAR(n)`, `TEXT` | string | TEXT | string |
//! | `REAL`, `FLOAT`, `DOUBLE` | number | REAL | number |
//! | any | `null` | NULL | `null` |
//!
//! SQLite has no boolean type: a JSON boolean is stored as 0/1 in any column,
//! and it is the declared `BOOLEAN`/`BOOL` type that makes 0/1 read back as
//! `false`/`true` (so `user.extra_field::<bool>("newsletter")` works). Other
//! columns read back by the class of the stored value, which SQLite's type
//! affinity makes match the declared type: a number written to a `VARCHAR`
//! column reads back as a string, a numeric string written to an `INTEGER`
//! column as a number. A BLOB reads back as a string of lowercase hex.

use std::collections::BTreeMap;

use fullauth_api::sql::{check_user_key, is_builtin_user_column};
use fullauth_api::{
    Email, Entity, ExtraFields, Feature, HashedPassword, NewUser, Principal, StoreError,
    StoreResult, User, UserId, UserIdType, UserLookup, UserPatch, new_record_id,
};
use rusqlite::types::Value as SqlValue;
use rusqlite::{Connection, OptionalExtension, Row, params, params_from_iter};

use crate::codec::{
    ColumnType, Db, corrupt, flag, get_user_id, json_to_sql, parse_ts, quote_ident, sql_to_json,
    ts, user_key, uuid_text,
};
use crate::permissions::permission_name;
use crate::pool::{Handle, Shared};
use crate::roles::role_name;

/// The application columns of `fullauth_users`, with how each reads back.
#[derive(Debug, Default)]
pub(crate) struct UserColumns {
    extra: BTreeMap<String, ColumnType>,
    /// How the store keys users (checked against the table when loaded).
    pub(crate) key: UserIdType,
}

/// The key type `fullauth_users.id` holds on `conn`, with its declared
/// type; `None` when the table does not exist.
pub(crate) fn stored_user_key(conn: &Connection) -> StoreResult<Option<(UserIdType, String)>> {
    conn.prepare_cached("SELECT type FROM pragma_table_info('fullauth_users') WHERE name = 'id'")
        .db()?
        .query_row([], |r| r.get::<_, String>(0))
        .optional()
        .db()
        .map(|d| d.map(|d| (stored_key(&d), d)))
}

impl UserColumns {
    /// Reads them with `PRAGMA table_info` (empty when the table is
    /// missing), for a store keyed by `key` — or, for `None`, by the type
    /// `fullauth_users.id` has (UUID without the table).
    ///
    /// # Errors
    /// The mismatch error of [`check_user_key`] when the table keys its
    /// users by another type than `key`.
    pub(crate) fn load(conn: &Connection, key: Option<UserIdType>) -> StoreResult<Self> {
        let mut stmt = conn
            .prepare("SELECT name, type FROM pragma_table_info('fullauth_users')")
            .db()?;
        let columns = stmt
            .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))
            .db()?
            .collect::<rusqlite::Result<Vec<_>>>()
            .db()?;
        let found = columns
            .iter()
            .find(|(n, _)| n == "id")
            .map(|(_, declared)| (stored_key(declared), declared));
        let key = key.or(found.map(|(t, _)| t)).unwrap_or_default();
        if let Some((t, declared)) = found {
            check_user_key(key, t, declared)?;
        }
        Ok(UserColumns {
            key,
            extra: columns
                .into_iter()
                .filter(|(n, _)| !is_builtin_user_column(n))
                .map(|(n, decl)| (n, ColumnType::of_declared(&decl)))
                .collect(),
        })
    }

    fn has(&self, name: &str) -> bool {
        self.extra.contains_key(name)
    }

    /// How column `name` reads back ([`ColumnType::Other`] when unknown).
    fn type_of(&self, name: &str) -> ColumnType {
        self.extra.get(name).copied().unwrap_or(ColumnType::Other)
    }
}

/// The key type a declared SQLite column type of `fullauth_users.id` holds:
/// `INTEGER` (a rowid alias) for integer keys, `VARCHAR`, `TEXT` or a
/// `CHAR` of another length than 32 for text keys; `CHAR(32)`, the UUID
/// encoding, and anything else for UUID keys.
fn stored_key(declared: &str) -> UserIdType {
    let t = declared.trim().to_ascii_uppercase();
    if t.starts_with("INT") || t == "BIGINT" || t == "SMALLINT" {
        UserIdType::Int
    } else if t.starts_with("VARCHAR")
        || t.starts_with("NVARCHAR")
        || t.starts_with("TEXT")
        || (t.starts_with("CHAR") && t != "CHAR(32)")
    {
        UserIdType::Text
    } else {
        UserIdType::Uuid
    }
}

/// Checks that every name is an application column, re-reading the table
/// once on a miss.
fn check_columns<'a>(
    shared: &Shared,
    conn: &Connection,
    names: impl Iterator<Item = &'a str> + Clone,
) -> StoreResult<()> {
    let mut cols = shared.user_columns();
    if names.clone().all(|n| cols.has(n)) {
        return Ok(());
    }
    cols = shared.refresh_user_columns(conn)?;
    match names.into_iter().find(|n| !cols.has(n)) {
        Some(n) => Err(StoreError::unknown_field(n)),
        None => Ok(()),
    }
}

/// Builds a [`User`] from the first `count` columns of a `SELECT *` /
/// `RETURNING *` row, typing the application columns as `cols` says;
/// `None` when the row has a column `cols` does not know.
fn user_from_row(row: &Row<'_>, cols: &UserColumns, count: usize) -> StoreResult<Option<User>> {
    let stmt = row.as_ref();
    let mut id = None;
    let mut email = None;
    let mut is_active = None;
    let mut is_verified = None;
    let mut is_superuser = None;
    let mut created_at = None;
    let mut extra = ExtraFields::new();
    for i in 0..count {
        let name = stmt.column_name(i).db()?;
        match name {
            "id" => id = Some(get_user_id(row, i, cols.key)?),
            "email" => {
                let raw: String = row.get(i).db()?;
                email = Some(Email::new(&raw).map_err(|e| corrupt("fullauth_users.email", e))?);
            }
            "hashed_password" => {}
            "is_active" => is_active = Some(row.get::<_, i64>(i).db()? != 0),
            "is_verified" => is_verified = Some(row.get::<_, i64>(i).db()? != 0),
            "is_superuser" => is_superuser = Some(row.get::<_, i64>(i).db()? != 0),
            "created_at" => created_at = Some(parse_ts(&row.get::<_, String>(i).db()?)?),
            other if cols.has(other) => extra.insert_stored(
                other,
                sql_to_json(row.get_ref(i).db()?, cols.type_of(other)),
            ),
            _ => return Ok(None),
        }
    }
    match (id, email, is_active, is_verified, is_superuser, created_at) {
        (
            Some(id),
            Some(email),
            Some(is_active),
            Some(is_verified),
            Some(is_superuser),
            Some(created_at),
        ) => Ok(Some(User {
            id,
            email,
            is_active,
            is_verified,
            is_superuser,
            created_at,
            extra,
        })),
        _ => Err(corrupt("fullauth_users", "a built-in column is missing")),
    }
}

/// The first user row of `sql`. The application columns are typed from the
/// cached `PRAGMA table_info`, re-read when the row has a column the cache
/// does not know (added while the store is open).
fn one_user(
    shared: &Shared,
    conn: &Connection,
    sql: &str,
    params: impl rusqlite::Params,
) -> StoreResult<Option<User>> {
    one_user_with(shared, conn, sql, params, 0, |user, _, _| Ok(user))
}

/// [`one_user`] for a statement whose last `trailing` columns are not the
/// user's: the user is read from the columns before them, and `finish` makes
/// the answer from the user, the whole row and the index of the first
/// trailing column.
fn one_user_with<T>(
    shared: &Shared,
    conn: &Connection,
    sql: &str,
    params: impl rusqlite::Params,
    trailing: usize,
    finish: impl FnOnce(User, &Row<'_>, usize) -> StoreResult<T>,
) -> StoreResult<Option<T>> {
    let mut stmt = conn.prepare_cached(sql).db()?;
    let mut rows = stmt.query(params).db()?;
    let Some(row) = rows.next().db()? else {
        return Ok(None);
    };
    let count = row.as_ref().column_count().saturating_sub(trailing);
    let user = match user_from_row(row, &shared.user_columns(), count)? {
        Some(user) => user,
        // A column the cache does not know: the app altered the table.
        None => match user_from_row(row, &*shared.refresh_user_columns(conn)?, count)? {
            Some(user) => user,
            None => {
                return Err(StoreError::backend_message(
                    "fullauth_users has a column its catalog does not list",
                ));
            }
        },
    };
    finish(user, row, count).map(Some)
}

/// True when a user with this key exists.
pub(crate) fn user_exists(conn: &Connection, key: &SqlValue) -> StoreResult<bool> {
    conn.prepare_cached("SELECT EXISTS(SELECT 1 FROM fullauth_users WHERE id = ?1)")
        .db()?
        .query_row([key], |r| r.get::<_, bool>(0))
        .db()
}

pub(crate) async fn create_user(h: &Handle, new: NewUser) -> StoreResult<User> {
    let shared = h.shared.clone();
    // An integer key is NULL here: the rowid alias takes the next integer.
    let id = match new.id {
        Some(id) => user_key(&id),
        None => match shared.user_id_type.generate() {
            Some(id) => user_key(&id),
            None => SqlValue::Null,
        },
    };
    let now = h.now();
    let names: Vec<String> = new.extra.names().map(str::to_owned).collect();
    let mut values: Vec<SqlValue> = vec![
        id,
        SqlValue::Text(new.email.as_str().to_owned()),
        new.hashed_password
            .map(|p| SqlValue::Text(p.into_string()))
            .unwrap_or(SqlValue::Null),
        SqlValue::Integer(flag(new.is_active)),
        SqlValue::Integer(flag(new.is_verified)),
        SqlValue::Integer(flag(new.is_superuser)),
        SqlValue::Text(ts(now)),
    ];
    for (name, v) in new.extra.iter() {
        values.push(json_to_sql(name, v)?);
    }
    let mut cols = String::from(
        "id, email, hashed_password, is_active, is_verified, is_superuser, created_at",
    );
    for n in &names {
        cols.push_str(", ");
        cols.push_str(&quote_ident(n));
    }
    let marks: Vec<String> = (1..=values.len()).map(|i| format!("?{i}")).collect();
    let sql = format!(
        "INSERT INTO fullauth_users ({cols}) VALUES ({}) RETURNING *",
        marks.join(", ")
    );
    // One statement, so atomic on its own; inside a transaction a failed
    // statement (a duplicate email) is undone alone by SQLite and does not
    // poison the transaction, exactly as a savepoint would.
    h.write(move |c| {
        check_columns(&shared, c, names.iter().map(String::as_str))?;
        one_user(&shared, c, &sql, params_from_iter(values.iter()))?
            .ok_or_else(|| corrupt("fullauth_users", "INSERT … RETURNING returned no row"))
    })
    .await
}

/// A user by id (every column: the app's are read too).
pub const BY_ID: &str = "SELECT * FROM fullauth_users WHERE id = ?1";

pub(crate) async fn get_user(h: &Handle, id: &UserId) -> StoreResult<Option<User>> {
    let key = user_key(id);
    let shared = h.shared.clone();
    h.read(move |c| one_user(&shared, c, BY_ID, [key])).await
}

pub(crate) async fn get_user_by_email(h: &Handle, email: &Email) -> StoreResult<Option<User>> {
    let email = email.as_str().to_owned();
    let shared = h.shared.clone();
    h.read(move |c| {
        one_user(
            &shared,
            c,
            "SELECT * FROM fullauth_users WHERE email = ?1",
            [email],
        )
    })
    .await
}

/// The column a lookup compares and the value it compares with.
fn lookup_column(lookup: &UserLookup) -> StoreResult<(String, SqlValue)> {
    Ok(match lookup {
        UserLookup::Id(id) => ("id".into(), user_key(id)),
        UserLookup::Email(e) => ("email".into(), SqlValue::Text(e.as_str().to_owned())),
        UserLookup::IsActive(b) => ("is_active".into(), SqlValue::Integer(flag(*b))),
        UserLookup::IsVerified(b) => ("is_verified".into(), SqlValue::Integer(flag(*b))),
        UserLookup::IsSuperuser(b) => ("is_superuser".into(), SqlValue::Integer(flag(*b))),
        UserLookup::Extra { column, value } => (column.clone(), json_to_sql(column, value)?),
    })
}

/// Checks the column of a lookup when it is an application column.
fn check_lookup_column(shared: &Shared, conn: &Connection, column: &str) -> StoreResult<()> {
    if is_builtin_user_column(column) {
        return Ok(());
    }
    check_columns(shared, conn, std::iter::once(column))
}

pub(crate) async fn get_user_by_field(
    h: &Handle,
    lookup: &UserLookup,
) -> StoreResult<Option<User>> {
    let (column, value) = lookup_column(lookup)?;
    let shared = h.shared.clone();
    let sql = format!(
        "SELECT * FROM fullauth_users WHERE {} = ?1 ORDER BY created_at, id LIMIT 1",
        quote_ident(&column)
    );
    h.read(move |c| {
        check_lookup_column(&shared, c, &column)?;
        one_user(&shared, c, &sql, [value])
    })
    .await
}

/// The user's role names as a JSON array sorted by name (`BINARY`: byte
/// order), for the user row `u`.
const PRINCIPAL_ROLES: &str = "(SELECT json_group_array(r.name ORDER BY r.name) \
     FROM fullauth_user_roles ur JOIN fullauth_roles r ON r.id = ur.role_id \
     WHERE ur.user_id = u.id)";

/// The union of the permissions of the user's roles as a JSON array, sorted,
/// without duplicates, for the user row `u`.
const PRINCIPAL_PERMISSIONS: &str = "(SELECT json_group_array(g.name ORDER BY g.name) \
     FROM (SELECT DISTINCT p.name AS name FROM fullauth_user_roles ur \
     JOIN fullauth_role_permissions rp ON rp.role_id = ur.role_id \
     JOIN fullauth_permissions p ON p.id = rp.permission_id \
     WHERE ur.user_id = u.id) g)";

/// The `SELECT` of [`get_principal`]: the user row the lookup column finds
/// plus two JSON arrays (roles, permissions) — `'[]'` for a feature the store
/// does not serve, whose tables may not exist.
fn principal_sql(column: &str, roles: bool, permissions: bool) -> String {
    format!(
        "SELECT u.*, {} AS fullauth_principal_roles, {} AS fullauth_principal_permissions \
         FROM fullauth_users u WHERE u.{} = ?1 ORDER BY u.created_at, u.id LIMIT 1",
        if roles { PRINCIPAL_ROLES } else { "'[]'" },
        if permissions {
            PRINCIPAL_PERMISSIONS
        } else {
            "'[]'"
        },
        quote_ident(column)
    )
}

/// Reads a JSON array of names from column `i` of `row`.
fn json_names<T>(
    row: &Row<'_>,
    i: usize,
    what: &str,
    make: impl Fn(String) -> StoreResult<T>,
) -> StoreResult<Vec<T>> {
    let raw: String = row.get(i).db()?;
    serde_json::from_str::<Vec<String>>(&raw)
        .map_err(|e| corrupt(what, e))?
        .into_iter()
        .map(make)
        .collect()
}

/// One statement (one snapshot): the user row with its roles and permissions
/// aggregated by correlated subqueries.
pub(crate) async fn get_principal(
    h: &Handle,
    lookup: &UserLookup,
) -> StoreResult<Option<Principal>> {
    let (column, value) = lookup_column(lookup)?;
    let shared = h.shared.clone();
    let features = shared.features;
    let sql = principal_sql(
        &column,
        features.contains(Feature::Roles),
        features.contains(Feature::Permissions),
    );
    h.read(move |c| {
        check_lookup_column(&shared, c, &column)?;
        one_user_with(&shared, c, &sql, [value], 2, |user, row, first| {
            Ok(Principal {
                user,
                roles: json_names(row, first, "fullauth_roles.name", role_name)?,
                permissions: json_names(
                    row,
                    first + 1,
                    "fullauth_permissions.name",
                    permission_name,
                )?,
            })
        })
    })
    .await
}

pub(crate) async fn update_user(h: &Handle, id: &UserId, patch: UserPatch) -> StoreResult<User> {
    let key = user_key(id);
    let shared = h.shared.clone();
    if patch.is_empty() {
        let found = h
            .read(move |c| {
                one_user(
                    &shared,
                    c,
                    "SELECT * FROM fullauth_users WHERE id = ?1",
                    [key],
                )
            })
            .await?;
        return found.ok_or_else(|| StoreError::not_found(Entity::User));
    }
    let mut sets: Vec<String> = Vec::new();
    let mut values: Vec<SqlValue> = vec![key];
    let mut push = |col: &str, v: SqlValue| {
        values.push(v);
        sets.push(format!("{} = ?{}", quote_ident(col), values.len()));
    };
    if let Some(e) = &patch.email {
        push("email", SqlValue::Text(e.as_str().to_owned()));
    }
    if let Some(b) = patch.is_active {
        push("is_active", SqlValue::Integer(flag(b)));
    }
    if let Some(b) = patch.is_verified {
        push("is_verified", SqlValue::Integer(flag(b)));
    }
    if let Some(b) = patch.is_superuser {
        push("is_superuser", SqlValue::Integer(flag(b)));
    }
    for (name, v) in patch.extra.iter() {
        push(name, json_to_sql(name, v)?);
    }
    let names: Vec<String> = patch.extra.names().map(str::to_owned).collect();
    let sql = format!(
        "UPDATE fullauth_users SET {} WHERE id = ?1 RETURNING *",
        sets.join(", ")
    );
    // One statement: atomic on its own, nothing written on error.
    h.write(move |c| {
        check_columns(&shared, c, names.iter().map(String::as_str))?;
        one_user(&shared, c, &sql, params_from_iter(values.iter()))?
            .ok_or_else(|| StoreError::not_found(Entity::User))
    })
    .await
}

/// Tables with a `user_id` column that cascades from `fullauth_users`, by
/// the feature that owns them.
const DEPENDENTS: [(Feature, &str); 5] = [
    (Feature::Core, "fullauth_refresh_tokens"),
    (Feature::Roles, "fullauth_user_roles"),
    (Feature::OAuth, "fullauth_oauth_accounts"),
    (Feature::Passkeys, "fullauth_passkeys"),
    (Feature::Mfa, "fullauth_mfa"),
];

pub(crate) async fn delete_user(h: &Handle, id: &UserId) -> StoreResult<bool> {
    let key = user_key(id);
    let features = h.shared.features;
    // The foreign keys cascade; the explicit deletes also cover databases
    // whose tables were created without the cascade (SQLModel before 0.15).
    h.atomic(move |c| {
        for (feature, table) in DEPENDENTS {
            if features.contains(feature) {
                c.prepare_cached(&format!("DELETE FROM {table} WHERE user_id = ?1"))
                    .db()?
                    .execute([&key])
                    .db()?;
            }
        }
        let n = c
            .prepare_cached("DELETE FROM fullauth_users WHERE id = ?1")
            .db()?
            .execute([&key])
            .db()?;
        Ok(n > 0)
    })
    .await
}

pub(crate) async fn get_password_hash(
    h: &Handle,
    id: &UserId,
) -> StoreResult<Option<HashedPassword>> {
    let key = user_key(id);
    let found: Option<Option<String>> = h
        .read(move |c| {
            c.prepare_cached("SELECT hashed_password FROM fullauth_users WHERE id = ?1")
                .db()?
                .query_row([key], |r| r.get::<_, Option<String>>(0))
                .optional()
                .db()
        })
        .await?;
    match found {
        None => Err(StoreError::not_found(Entity::User)),
        Some(None) => Ok(None),
        Some(Some(h)) => HashedPassword::new(h)
            .map(Some)
            .map_err(|e| corrupt("fullauth_users.hashed_password", e)),
    }
}

pub(crate) async fn set_password_hash(
    h: &Handle,
    id: &UserId,
    hash: Option<HashedPassword>,
) -> StoreResult<()> {
    let key = user_key(id);
    let hash = hash.map(HashedPassword::into_string);
    let n = h
        .write(move |c| {
            c.prepare_cached("UPDATE fullauth_users SET hashed_password = ?2 WHERE id = ?1")
                .db()?
                .execute(params![key, hash])
                .db()
        })
        .await?;
    found(n)
}

pub(crate) async fn mark_verified(h: &Handle, id: &UserId) -> StoreResult<()> {
    let key = user_key(id);
    let n = h
        .write(move |c| {
            c.prepare_cached("UPDATE fullauth_users SET is_verified = 1 WHERE id = ?1")
                .db()?
                .execute([key])
                .db()
        })
        .await?;
    found(n)
}

fn found(changed: usize) -> StoreResult<()> {
    if changed == 0 {
        Err(StoreError::not_found(Entity::User))
    } else {
        Ok(())
    }
}

/// A new record id as stored.
pub(crate) fn new_id() -> String {
    uuid_text(new_record_id())
}
