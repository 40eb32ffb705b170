//! `fullauth_users`: users and password hashes ([`fullauth_api::UserStore`]).

use fullauth_api::sql::{permission_names, role_names, split_names};
use fullauth_api::{
    ConflictKind, Email, Entity, Feature, HashedPassword, NewUser, Principal, StoreError,
    StoreResult, User, UserId, UserIdType, UserLookup, UserPatch,
};
use sqlx::mysql::MySqlRow;
use sqlx::{MySqlConnection, Row as _};

use crate::columns::UserColumns;
use crate::ctx::Ctx;
use crate::error::{DbError, DbResult, Retry, map_write_error};
use crate::handle::{ConnRef, Handle, run};
use crate::keys::UserKey;

/// The user id as bound to a key column ([`UserKey`]).
pub(crate) fn id_param(id: &UserId) -> StoreResult<UserKey> {
    UserKey::of(id)
}

/// The application columns after making sure every name given exists
/// (refreshing the cached list once when one is missing: the app may have
/// added it since the store was opened).
async fn columns_for(
    c: &mut MySqlConnection,
    ctx: &Ctx,
    names: &[&str],
) -> DbResult<std::sync::Arc<UserColumns>> {
    let cols = crate::columns::current(c, ctx).await?;
    if names.iter().all(|n| cols.get(n).is_some()) {
        return Ok(cols);
    }
    let cols = crate::columns::refresh(c, ctx).await?;
    if let Some(n) = names.iter().find(|n| cols.get(n).is_none()) {
        return Err(StoreError::unknown_field(*n).into());
    }
    Ok(cols)
}

/// One statement (`INSERT … RETURNING`), plus the column discovery the
/// first time.
pub(crate) async fn create_user(h: Handle<'_>, new: NewUser) -> StoreResult<User> {
    let new = &new;
    run!(h, Retry::IfNotApplied, atomic = false, |c| insert(
        c, h.ctx, new
    ))
}

/// Inserts the user and reads the row back with `RETURNING`.
async fn insert(c: &mut MySqlConnection, ctx: &Ctx, new: &NewUser) -> DbResult<User> {
    let cols = columns_for(c, ctx, &new.extra.names().collect::<Vec<_>>()).await?;
    // An integer key comes from the `AUTO_INCREMENT` column: the row is
    // inserted without an id, which `RETURNING` reads back in the same
    // statement (an id given for it is refused before the backend runs).
    let id = match (ctx.key, &new.id) {
        (UserIdType::Int, _) => None,
        (_, Some(id)) => Some(id_param(id)?),
        (_, None) => Some(UserKey::Uuid(uuid::Uuid::now_v7().hyphenated())),
    };
    let (mut names, mut values) = match id {
        Some(_) => (String::from("id, "), String::from("?, ")),
        None => (String::new(), String::new()),
    };
    names.push_str("email, hashed_password, is_active, is_verified, is_superuser, created_at");
    values.push_str("?, ?, ?, ?, ?, ?");
    let mut extra_values = Vec::new();
    for (name, value) in new.extra.iter() {
        let col = cols
            .get(name)
            .ok_or_else(|| StoreError::unknown_field(name.clone()))?;
        names.push_str(", ");
        names.push_str(&col.quoted);
        values.push_str(", ");
        values.push_str(&col.bind_expr());
        extra_values.push(col.param(value)?);
    }
    let sql = format!(
        "INSERT INTO {{s}}.fullauth_users ({names}) VALUES ({values}) RETURNING {}",
        cols.returning_list
    );
    let mut q = sqlx::query(ctx.dynamic(&sql));
    if let Some(id) = id {
        q = q.bind(id);
    }
    let mut q = q
        .bind(new.email.as_str())
        .bind(new.hashed_password.as_ref().map(HashedPassword::as_str))
        .bind(new.is_active)
        .bind(new.is_verified)
        .bind(new.is_superuser)
        .bind(ctx.now().to_datetime());
    for v in extra_values {
        q = q.bind(v);
    }
    let row = q
        .fetch_one(c)
        .await
        .map_err(|e| map_write_error(e.into()))?;
    cols.decode(&row)
}

/// A query whose arguments live for `'q`.
type MyQuery<'q> = sqlx::query::Query<'q, sqlx::MySql, sqlx::mysql::MySqlArguments>;

/// The oldest user row matching `condition`.
async fn fetch_by<'q>(
    c: &mut MySqlConnection,
    ctx: &Ctx,
    condition: &str,
    bind: impl FnOnce(MyQuery<'q>) -> MyQuery<'q>,
) -> DbResult<Option<User>> {
    fetch_with(c, ctx, &Trailing::default(), condition, bind).await
}

/// What a read selects after the user's columns (`, expr, expr`), and how it
/// makes the answer from the user and the row.
struct Trailing<T> {
    /// Appended to the select list (a template: `{s}` is the database).
    select: String,
    /// The answer from the decoded user, the row and the index of the first
    /// trailing column.
    read: fn(User, &MySqlRow, usize) -> DbResult<T>,
}

impl Default for Trailing<User> {
    /// Nothing after the user: the answer is the user.
    fn default() -> Self {
        Trailing {
            select: String::new(),
            read: |user, _, _| Ok(user),
        }
    }
}

/// The oldest user row matching `condition`, with the trailing columns.
async fn fetch_with<'q, T>(
    c: &mut MySqlConnection,
    ctx: &Ctx,
    trailing: &Trailing<T>,
    condition: &str,
    bind: impl FnOnce(MyQuery<'q>) -> MyQuery<'q>,
) -> DbResult<Option<T>> {
    let cols = crate::columns::current(c, ctx).await?;
    let sql = format!(
        "SELECT {}{} FROM {{s}}.fullauth_users u WHERE {condition} \
         ORDER BY u.created_at, u.id LIMIT 1",
        cols.select_list, trailing.select
    );
    let q = bind(sqlx::query(ctx.dynamic(&sql)));
    match q.fetch_optional(c).await? {
        Some(row) => {
            let user = cols.decode(&row)?;
            (trailing.read)(user, &row, cols.first_trailing()).map(Some)
        }
        None => Ok(None),
    }
}

/// The user with this id.
async fn by_id(c: &mut MySqlConnection, ctx: &Ctx, id: &UserId) -> DbResult<Option<User>> {
    let id = id_param(id)?;
    fetch_by(c, ctx, "u.id = ?", |q| q.bind(id)).await
}

/// The user with this email.
async fn by_email(c: &mut MySqlConnection, ctx: &Ctx, email: &Email) -> DbResult<Option<User>> {
    fetch_by(c, ctx, "u.email = ?", |q| q.bind(email.as_str())).await
}

/// One statement.
pub(crate) async fn get_user(h: Handle<'_>, id: &UserId) -> StoreResult<Option<User>> {
    run!(h, Retry::Idempotent, atomic = false, |c| by_id(
        c, h.ctx, id
    ))
}

/// One statement.
pub(crate) async fn get_user_by_email(h: Handle<'_>, email: &Email) -> StoreResult<Option<User>> {
    run!(h, Retry::Idempotent, atomic = false, |c| by_email(
        c, h.ctx, email
    ))
}

/// One statement. A value the column's type refuses is refused before it
/// runs ([`crate::columns::ExtraColumn::param`]).
pub(crate) async fn get_user_by_field(
    h: Handle<'_>,
    lookup: &UserLookup,
) -> StoreResult<Option<User>> {
    run!(h, Retry::Idempotent, atomic = false, |c| by_field(
        c, h.ctx, lookup
    ))
}

/// The oldest user the lookup matches.
async fn by_field(
    c: &mut MySqlConnection,
    ctx: &Ctx,
    lookup: &UserLookup,
) -> DbResult<Option<User>> {
    lookup_with(c, ctx, lookup, &Trailing::default()).await
}

/// The oldest user the lookup matches, with the trailing columns.
async fn lookup_with<T>(
    c: &mut MySqlConnection,
    ctx: &Ctx,
    lookup: &UserLookup,
    t: &Trailing<T>,
) -> DbResult<Option<T>> {
    match lookup {
        UserLookup::Id(id) => {
            let id = id_param(id)?;
            fetch_with(c, ctx, t, "u.id = ?", |q| q.bind(id)).await
        }
        UserLookup::Email(e) => fetch_with(c, ctx, t, "u.email = ?", |q| q.bind(e.as_str())).await,
        UserLookup::IsActive(b) => fetch_with(c, ctx, t, "u.is_active = ?", |q| q.bind(*b)).await,
        UserLookup::IsVerified(b) => {
            fetch_with(c, ctx, t, "u.is_verified = ?", |q| q.bind(*b)).await
        }
        UserLookup::IsSuperuser(b) => {
            fetch_with(c, ctx, t, "u.is_superuser = ?", |q| q.bind(*b)).await
        }
        UserLookup::Extra { column, value } => {
            let cols = columns_for(c, ctx, &[column.as_str()]).await?;
            let col = cols
                .get(column)
                .ok_or_else(|| StoreError::unknown_field(column.clone()))?;
            let text = col.param(value)?;
            let cond = format!("u.{} = {}", col.quoted, col.bind_expr());
            fetch_with(c, ctx, t, &cond, |q| q.bind(text)).await
        }
    }
}

/// The user's role names (of the user row `u`), sorted byte-wise (the
/// names are `utf8mb4_nopad_bin`), one per line: a name cannot hold a
/// newline ([`fullauth_api::RoleName`] refuses control characters). NULL for none.
const PRINCIPAL_ROLES: &str = "(SELECT GROUP_CONCAT(r.name ORDER BY r.name SEPARATOR '\n') \
     FROM {s}.fullauth_user_roles ur \
     JOIN {s}.fullauth_roles r ON r.id = ur.role_id \
     WHERE ur.user_id = u.id)";

/// The union of the permissions of the user's roles (of the user row `u`),
/// sorted byte-wise, without duplicates, one per line (a
/// [`fullauth_api::PermissionName`] cannot hold a newline either). NULL for none.
const PRINCIPAL_PERMISSIONS: &str = "(SELECT GROUP_CONCAT(DISTINCT p.name ORDER BY p.name \
     SEPARATOR '\n') \
     FROM {s}.fullauth_user_roles ur \
     JOIN {s}.fullauth_role_permissions rp ON rp.role_id = ur.role_id \
     JOIN {s}.fullauth_permissions p ON p.id = rp.permission_id \
     WHERE ur.user_id = u.id)";

/// The two name-list columns of a principal, a constant NULL (no names) for
/// a feature the store does not serve (its tables may not exist).
fn principal_trailing(ctx: &Ctx) -> Trailing<Principal> {
    let empty = "CAST(NULL AS CHAR)";
    let roles = if ctx.features.contains(Feature::Roles) {
        PRINCIPAL_ROLES
    } else {
        empty
    };
    let permissions = if ctx.features.contains(Feature::Permissions) {
        PRINCIPAL_PERMISSIONS
    } else {
        empty
    };
    Trailing {
        select: format!(", {roles}, {permissions}"),
        read: |user, row, first| {
            let roles = role_names(split_names(row.try_get(first)?))?;
            let permissions = permission_names(split_names(row.try_get(first + 1)?))?;
            Ok(Principal {
                user,
                roles,
                permissions,
            })
        },
    }
}

/// One statement: the user row with its roles and permissions as
/// newline-joined lists of correlated subqueries. A value the column's type
/// refuses is refused before it runs, as in [`get_user_by_field`].
pub(crate) async fn get_principal(
    h: Handle<'_>,
    lookup: &UserLookup,
) -> StoreResult<Option<Principal>> {
    let trailing = &principal_trailing(h.ctx);
    run!(h, Retry::Idempotent, atomic = false, |c| lookup_with(
        c, h.ctx, lookup, trailing
    ))
}

/// MariaDB has no `UPDATE … RETURNING`: the `UPDATE`, then a `SELECT` of
/// the row. On the pool both run in a transaction of their own (BEGIN,
/// UPDATE, SELECT, COMMIT: 4 round trips), so that the row read is exactly
/// the one the update left (its row lock keeps concurrent writers out until
/// COMMIT), not one a concurrent update or delete changed in between. In an
/// open transaction, 2 round trips and no savepoint: the lock is held until
/// the transaction ends anyway, and a refused UPDATE is undone alone. An
/// empty patch is 1 round trip (the read).
pub(crate) async fn update_user(h: Handle<'_>, id: &UserId, patch: UserPatch) -> StoreResult<User> {
    let patch = &patch;
    let atomic = !patch.is_empty() && matches!(h.conn, ConnRef::Pool(_));
    run!(h, Retry::Idempotent, atomic = atomic, |c| update(
        c, h.ctx, id, patch
    ))
}

/// Applies the patch and reads the row back.
async fn update(
    c: &mut MySqlConnection,
    ctx: &Ctx,
    id: &UserId,
    patch: &UserPatch,
) -> DbResult<User> {
    if patch.is_empty() {
        return by_id(c, ctx, id)
            .await?
            .ok_or_else(|| StoreError::not_found(Entity::User).into());
    }
    let cols = columns_for(c, ctx, &patch.extra.names().collect::<Vec<_>>()).await?;
    let uid = id_param(id)?;
    let mut sets = Vec::new();
    for (set, col) in [
        (patch.email.is_some(), "email"),
        (patch.is_active.is_some(), "is_active"),
        (patch.is_verified.is_some(), "is_verified"),
        (patch.is_superuser.is_some(), "is_superuser"),
    ] {
        if set {
            sets.push(format!("{col} = ?"));
        }
    }
    let mut extra_values = Vec::new();
    for (name, value) in patch.extra.iter() {
        let col = cols
            .get(name)
            .ok_or_else(|| StoreError::unknown_field(name.clone()))?;
        sets.push(format!("{} = {}", col.quoted, col.bind_expr()));
        extra_values.push(col.param(value)?);
    }
    let sql = format!(
        "UPDATE {{s}}.fullauth_users SET {} WHERE id = ?",
        sets.join(", ")
    );
    let mut q = sqlx::query(ctx.dynamic(&sql));
    if let Some(e) = &patch.email {
        q = q.bind(e.as_str());
    }
    for b in [patch.is_active, patch.is_verified, patch.is_superuser]
        .into_iter()
        .flatten()
    {
        q = q.bind(b);
    }
    for v in extra_values {
        q = q.bind(v);
    }
    q = q.bind(uid);
    // Matched rows (CLIENT_FOUND_ROWS): 0 only when there is no such user.
    let matched = match q.execute(&mut *c).await {
        Ok(r) => r.rows_affected(),
        // The id is not written: a primary-key name means an app column.
        Err(e) => {
            return Err(match map_write_error(e.into()) {
                DbError::Store(StoreError::Conflict {
                    what: ConflictKind::UserId,
                    ..
                }) => DbError::Store(StoreError::conflict(ConflictKind::Other)),
                other => other,
            });
        }
    };
    if matched == 0 {
        return Err(StoreError::not_found(Entity::User).into());
    }
    by_id(c, ctx, id)
        .await?
        .ok_or_else(|| StoreError::not_found(Entity::User).into())
}

/// Deletes the user (its rows in other tables go by `ON DELETE CASCADE`).
const DELETE: &str = "DELETE FROM {s}.fullauth_users WHERE id = ?";

/// One statement.
pub(crate) async fn delete_user(h: Handle<'_>, id: &UserId) -> StoreResult<bool> {
    let id = id_param(id)?;
    run!(h, Retry::IfNotApplied, atomic = false, |c| async move {
        let r = sqlx::query(h.ctx.sql(DELETE)).bind(id).execute(c).await?;
        Ok(r.rows_affected() > 0)
    })
}

/// The user's password hash.
const GET_HASH: &str = "SELECT hashed_password FROM {s}.fullauth_users WHERE id = ?";

/// One statement.
pub(crate) async fn get_password_hash(
    h: Handle<'_>,
    id: &UserId,
) -> StoreResult<Option<HashedPassword>> {
    let id = id_param(id)?;
    let row: Option<(Option<String>,)> =
        run!(h, Retry::Idempotent, atomic = false, |c| async move {
            let q = sqlx::query_as(h.ctx.sql(GET_HASH)).bind(id);
            Ok(q.fetch_optional(c).await?)
        })?;
    match row {
        None => Err(StoreError::not_found(Entity::User)),
        Some((None,)) => Ok(None),
        Some((Some(hash),)) => HashedPassword::new(hash)
            .map(Some)
            .map_err(|e| StoreError::backend("a stored password hash does not validate", e)),
    }
}

/// Replaces the user's password hash.
const SET_HASH: &str = "UPDATE {s}.fullauth_users SET hashed_password = ? WHERE id = ?";

/// One statement.
pub(crate) async fn set_password_hash(
    h: Handle<'_>,
    id: &UserId,
    hash: Option<HashedPassword>,
) -> StoreResult<()> {
    let id = id_param(id)?;
    let hash = hash.as_ref().map(HashedPassword::as_str);
    let n = run!(h, Retry::Idempotent, atomic = false, |c| async move {
        let q = sqlx::query(h.ctx.sql(SET_HASH)).bind(hash).bind(id);
        Ok(q.execute(c).await?.rows_affected())
    })?;
    found_user(n)
}

/// Marks the user verified.
const MARK_VERIFIED: &str = "UPDATE {s}.fullauth_users SET is_verified = TRUE WHERE id = ?";

/// One statement.
pub(crate) async fn mark_verified(h: Handle<'_>, id: &UserId) -> StoreResult<()> {
    let id = id_param(id)?;
    let n = run!(h, Retry::Idempotent, atomic = false, |c| async move {
        let q = sqlx::query(h.ctx.sql(MARK_VERIFIED)).bind(id);
        Ok(q.execute(c).await?.rows_affected())
    })?;
    found_user(n)
}

/// `NotFound { User }` when an update by id matched no row.
fn found_user(rows: u64) -> StoreResult<()> {
    if rows == 0 {
        return Err(StoreError::not_found(Entity::User));
    }
    Ok(())
}
