//! `fullauth_users`: users and password hashes ([`fullauth_api::UserStore`]).

use fullauth_api::{
    ConflictKind, Email, Entity, Feature, HashedPassword, NewUser, Principal, StoreError,
    StoreResult, User, UserId, UserLookup, UserPatch,
};
use sqlx::postgres::PgRow;
use sqlx::{PgConnection, Row as _};

use fullauth_api::sql::json_to_text;

use crate::columns::UserColumns;
use crate::ctx::Ctx;
use crate::error::{DbError, DbResult, Retry, map_write_error};
use crate::handle::{Handle, run};
use crate::keys::{UserKey, optional_user_id_at};

/// The application columns after making sure every name given exists
/// (refreshing the cached list once when one is missing: the app may have
/// added it since the store was opened).
async fn columns_for(
    c: &mut PgConnection,
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

pub(crate) async fn create_user(h: Handle<'_>, new: NewUser) -> StoreResult<User> {
    let new = &new;
    // A value for an application column may be refused by the column's
    // type, which fails the statement: only then a savepoint is needed
    // inside a transaction (the id and email conflicts do not fail it).
    let savepoint = !new.extra.is_empty();
    run!(h, Retry::IfNotApplied, savepoint = savepoint, |c| insert(
        c, h.ctx, new
    ))
}

/// How many times an insert that met a conflict its snapshot cannot see
/// (the conflicting row was committed after it) runs again.
const INSERT_ATTEMPTS: usize = 3;

async fn insert(c: &mut PgConnection, ctx: &Ctx, new: &NewUser) -> DbResult<User> {
    let cols = columns_for(c, ctx, &new.extra.names().collect::<Vec<_>>()).await?;
    // The id: the caller's, or one the store makes; none for integer keys,
    // whose `SERIAL` default numbers the row (`RETURNING` reads it back).
    let id = match &new.id {
        Some(id) => Some(id.clone()),
        None => ctx.key.generate(),
    };
    let mut names = Vec::new();
    if id.is_some() {
        names.push("id");
    }
    names.extend([
        "email",
        "hashed_password",
        "is_active",
        "is_verified",
        "is_superuser",
        "created_at",
    ]);
    let mut values = (1..=names.len())
        .map(|n| format!("${n}"))
        .collect::<Vec<_>>()
        .join(", ");
    let mut names = names.join(", ");
    // The placeholder of the email.
    let email_param = if id.is_some() { 2 } else { 1 };
    let first_extra = email_param + 6;
    let mut extra_values = Vec::new();
    for (i, (name, value)) in new.extra.iter().enumerate() {
        let col = cols
            .get(name)
            .ok_or_else(|| StoreError::unknown_field(name.clone()))?;
        names.push_str(", ");
        names.push_str(&col.quoted);
        values.push_str(", ");
        values.push_str(&col.bind_expr(first_extra + i));
        extra_values.push(json_to_text(value));
    }
    // Without application values the insert cannot fail on the expected
    // conflicts: it does nothing on one, and the statement says whether the
    // id or the email was taken in its snapshot. With them, a plain insert
    // whose unique violations are mapped (see `create_user`).
    let conflict_free = new.extra.is_empty();
    let sql = if conflict_free {
        // A database-numbered id cannot be taken by a row of the snapshot.
        let id_taken = if id.is_some() {
            "EXISTS (SELECT 1 FROM {s}.fullauth_users WHERE id = $1)"
        } else {
            "false"
        };
        format!(
            "WITH ins AS (INSERT INTO {{s}}.fullauth_users AS u ({names}) VALUES ({values}) \
             ON CONFLICT DO NOTHING RETURNING {}) \
             SELECT ins.*, {id_taken}, \
             EXISTS (SELECT 1 FROM {{s}}.fullauth_users WHERE email = ${email_param}) \
             FROM (SELECT 1) AS one LEFT JOIN ins ON true",
            cols.select_list
        )
    } else {
        format!(
            "INSERT INTO {{s}}.fullauth_users AS u ({names}) VALUES ({values}) RETURNING {}",
            cols.select_list
        )
    };
    let created_at = ctx.now().to_datetime();
    for _ in 0..INSERT_ATTEMPTS {
        let mut q = sqlx::query(ctx.dynamic(&sql)).persistent(ctx.persistent());
        if let Some(id) = &id {
            q = q.bind(UserKey(id));
        }
        q = q
            .bind(new.email.as_str())
            .bind(new.hashed_password.as_ref().map(HashedPassword::as_str))
            .bind(new.is_active)
            .bind(new.is_verified)
            .bind(new.is_superuser)
            .bind(created_at);
        for v in &extra_values {
            q = q.bind(v.clone());
        }
        let row = q
            .fetch_one(&mut *c)
            .await
            .map_err(|e| map_write_error(e.into()))?;
        if !conflict_free || optional_user_id_at(&row, 0)?.is_some() {
            return cols.decode(&row);
        }
        let first = cols.first_trailing();
        let (id_taken, email_taken): (bool, bool) = (row.try_get(first)?, row.try_get(first + 1)?);
        if id_taken {
            return Err(StoreError::conflict(ConflictKind::UserId).into());
        }
        if email_taken {
            return Err(StoreError::conflict(ConflictKind::Email).into());
        }
        // The conflicting row is newer than the snapshot (or, for integer
        // keys, the sequence gave an id the app had stored by hand: the next
        // attempt takes the next number): look again.
    }
    // Still no id or email in the way: a unique index on an application
    // column (whose default conflicts).
    Err(StoreError::conflict(ConflictKind::Other).into())
}

/// A query whose arguments live for `'q`.
type PgQuery<'q> = sqlx::query::Query<'q, sqlx::Postgres, sqlx::postgres::PgArguments>;

async fn fetch_by<'q>(
    c: &mut PgConnection,
    ctx: &Ctx,
    condition: &str,
    bind: impl FnOnce(PgQuery<'q>) -> PgQuery<'q>,
) -> DbResult<Option<User>> {
    fetch_with(c, ctx, &Trailing::default(), condition, bind).await
}

/// What a read selects after the user's columns (`, expr, expr`), and how it
/// makes the answer from the user and the row.
struct Trailing<T> {
    /// Appended to the select list (a template: `{s}` is the schema).
    select: String,
    /// The answer from the decoded user, the row and the index of the first
    /// trailing column.
    read: fn(User, &PgRow, usize) -> DbResult<T>,
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
    c: &mut PgConnection,
    ctx: &Ctx,
    trailing: &Trailing<T>,
    condition: &str,
    bind: impl FnOnce(PgQuery<'q>) -> PgQuery<'q>,
) -> DbResult<Option<T>> {
    let cols = crate::columns::current(c, ctx).await?;
    let sql = format!(
        "SELECT {}{} FROM {{s}}.fullauth_users u WHERE {condition} \
         ORDER BY u.created_at, u.id LIMIT 1",
        cols.select_list, trailing.select
    );
    let q = bind(sqlx::query(ctx.dynamic(&sql)).persistent(ctx.persistent()));
    match q.fetch_optional(c).await? {
        Some(row) => {
            let user = cols.decode(&row)?;
            (trailing.read)(user, &row, cols.first_trailing()).map(Some)
        }
        None => Ok(None),
    }
}

async fn by_id(c: &mut PgConnection, ctx: &Ctx, id: &UserId) -> DbResult<Option<User>> {
    fetch_by(c, ctx, "u.id = $1", |q| q.bind(UserKey(id))).await
}

async fn by_email(c: &mut PgConnection, ctx: &Ctx, email: &Email) -> DbResult<Option<User>> {
    fetch_by(c, ctx, "u.email = $1", |q| q.bind(email.as_str())).await
}

pub(crate) async fn get_user(h: Handle<'_>, id: &UserId) -> StoreResult<Option<User>> {
    run!(h, Retry::Idempotent, savepoint = false, |c| by_id(
        c, h.ctx, id
    ))
}

pub(crate) async fn get_user_by_email(h: Handle<'_>, email: &Email) -> StoreResult<Option<User>> {
    run!(h, Retry::Idempotent, savepoint = false, |c| by_email(
        c, h.ctx, email
    ))
}

/// Whether a lookup runs in a savepoint inside a transaction: only a lookup
/// by an application column, whose value the column's type may refuse
/// (which fails the statement).
fn lookup_savepoint(lookup: &UserLookup) -> bool {
    matches!(lookup, UserLookup::Extra { .. })
}

pub(crate) async fn get_user_by_field(
    h: Handle<'_>,
    lookup: &UserLookup,
) -> StoreResult<Option<User>> {
    let savepoint = lookup_savepoint(lookup);
    run!(h, Retry::Idempotent, savepoint = savepoint, |c| by_field(
        c, h.ctx, lookup
    ))
}

async fn by_field(c: &mut PgConnection, ctx: &Ctx, lookup: &UserLookup) -> DbResult<Option<User>> {
    lookup_with(c, ctx, lookup, &Trailing::default()).await
}

/// The oldest user the lookup matches, with the trailing columns.
async fn lookup_with<T>(
    c: &mut PgConnection,
    ctx: &Ctx,
    lookup: &UserLookup,
    t: &Trailing<T>,
) -> DbResult<Option<T>> {
    match lookup {
        UserLookup::Id(id) => fetch_with(c, ctx, t, "u.id = $1", |q| q.bind(UserKey(id))).await,
        UserLookup::Email(e) => fetch_with(c, ctx, t, "u.email = $1", |q| q.bind(e.as_str())).await,
        UserLookup::IsActive(b) => fetch_with(c, ctx, t, "u.is_active = $1", |q| q.bind(*b)).await,
        UserLookup::IsVerified(b) => {
            fetch_with(c, ctx, t, "u.is_verified = $1", |q| q.bind(*b)).await
        }
        UserLookup::IsSuperuser(b) => {
            fetch_with(c, ctx, t, "u.is_superuser = $1", |q| q.bind(*b)).await
        }
        UserLookup::Extra { column, value } => {
            let cols = columns_for(c, ctx, &[column.as_str()]).await?;
            let col = cols
                .get(column)
                .ok_or_else(|| StoreError::unknown_field(column.clone()))?;
            let cond = format!("u.{} = {}", col.quoted, col.bind_expr(1));
            let text = json_to_text(value);
            fetch_with(c, ctx, t, &cond, |q| q.bind(text)).await
        }
    }
}

/// The user's role names (of the user row `u`), sorted byte-wise.
const PRINCIPAL_ROLES: &str = "ARRAY(SELECT r.name::text FROM {s}.fullauth_user_roles ur \
     JOIN {s}.fullauth_roles r ON r.id = ur.role_id \
     WHERE ur.user_id = u.id ORDER BY r.name COLLATE \"C\")";

/// The union of the permissions of the user's roles (of the user row `u`),
/// sorted byte-wise, without duplicates.
const PRINCIPAL_PERMISSIONS: &str = "ARRAY(SELECT p.name::text FROM {s}.fullauth_user_roles ur \
     JOIN {s}.fullauth_role_permissions rp ON rp.role_id = ur.role_id \
     JOIN {s}.fullauth_permissions p ON p.id = rp.permission_id \
     WHERE ur.user_id = u.id GROUP BY p.name ORDER BY p.name COLLATE \"C\")";

/// The two array columns of a principal, `ARRAY[]::text[]` for a feature the
/// store does not serve (its tables may not exist).
fn principal_trailing(ctx: &Ctx) -> Trailing<Principal> {
    let empty = "ARRAY[]::text[]";
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
            let roles: Vec<String> = row.try_get(first)?;
            let permissions: Vec<String> = row.try_get(first + 1)?;
            Ok(Principal {
                user,
                roles: fullauth_api::sql::role_names(roles)?,
                permissions: fullauth_api::sql::permission_names(permissions)?,
            })
        },
    }
}

/// One statement: the user row with its roles and permissions as arrays of
/// correlated subqueries (in a savepoint as [`get_user_by_field`]).
pub(crate) async fn get_principal(
    h: Handle<'_>,
    lookup: &UserLookup,
) -> StoreResult<Option<Principal>> {
    let trailing = &principal_trailing(h.ctx);
    let savepoint = lookup_savepoint(lookup);
    run!(
        h,
        Retry::Idempotent,
        savepoint = savepoint,
        |c| lookup_with(c, h.ctx, lookup, trailing)
    )
}

pub(crate) async fn update_user(h: Handle<'_>, id: &UserId, patch: UserPatch) -> StoreResult<User> {
    let patch = &patch;
    // As for `create_user`: only values for application columns can fail
    // the statement (a taken email does not).
    let savepoint = !patch.extra.is_empty();
    run!(h, Retry::Idempotent, savepoint = savepoint, |c| update(
        c, h.ctx, id, patch
    ))
}

async fn update(c: &mut PgConnection, ctx: &Ctx, id: &UserId, patch: &UserPatch) -> DbResult<User> {
    if patch.is_empty() {
        return by_id(c, ctx, id)
            .await?
            .ok_or_else(|| StoreError::not_found(Entity::User).into());
    }
    let cols = columns_for(c, ctx, &patch.extra.names().collect::<Vec<_>>()).await?;
    let uid = UserKey(id);
    let mut sets = Vec::new();
    let mut n = 2;
    let mut push = |sets: &mut Vec<String>, col: &str| {
        sets.push(format!("{col} = ${n}"));
        n += 1;
    };
    if patch.email.is_some() {
        push(&mut sets, "email");
    }
    if patch.is_active.is_some() {
        push(&mut sets, "is_active");
    }
    if patch.is_verified.is_some() {
        push(&mut sets, "is_verified");
    }
    if patch.is_superuser.is_some() {
        push(&mut sets, "is_superuser");
    }
    let mut extra_values = Vec::new();
    for (name, value) in patch.extra.iter() {
        let col = cols
            .get(name)
            .ok_or_else(|| StoreError::unknown_field(name.clone()))?;
        sets.push(format!("{} = {}", col.quoted, col.bind_expr(n)));
        n += 1;
        extra_values.push(json_to_text(value));
    }
    // Without application values the update cannot fail on a taken email:
    // it skips the row, and the statement says whether the user exists.
    let conflict_free = patch.extra.is_empty();
    let sql = if conflict_free {
        let email_free = if patch.email.is_some() {
            " AND NOT EXISTS (SELECT 1 FROM {s}.fullauth_users o WHERE o.email = $2 AND o.id <> $1)"
        } else {
            ""
        };
        format!(
            "WITH upd AS (UPDATE {{s}}.fullauth_users u SET {} WHERE u.id = $1{email_free} \
             RETURNING {}) \
             SELECT upd.*, EXISTS (SELECT 1 FROM {{s}}.fullauth_users WHERE id = $1) \
             FROM (SELECT 1) AS one LEFT JOIN upd ON true",
            sets.join(", "),
            cols.select_list
        )
    } else {
        format!(
            "UPDATE {{s}}.fullauth_users u SET {} WHERE u.id = $1 RETURNING {}",
            sets.join(", "),
            cols.select_list
        )
    };
    let mut q = sqlx::query(ctx.dynamic(&sql))
        .persistent(ctx.persistent())
        .bind(uid);
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
    match q.fetch_optional(c).await {
        Ok(Some(row)) if conflict_free => {
            if optional_user_id_at(&row, 0)?.is_some() {
                return cols.decode(&row);
            }
            let exists: bool = row.try_get(cols.first_trailing())?;
            Err(if exists {
                StoreError::conflict(ConflictKind::Email)
            } else {
                StoreError::not_found(Entity::User)
            }
            .into())
        }
        Ok(Some(row)) => cols.decode(&row),
        Ok(None) => Err(StoreError::not_found(Entity::User).into()),
        // The id is not written: a primary-key name means an app column.
        Err(e) => Err(match map_write_error(e.into()) {
            DbError::Store(StoreError::Conflict {
                what: ConflictKind::UserId,
                ..
            }) => DbError::Store(StoreError::conflict(ConflictKind::Other)),
            other => other,
        }),
    }
}

const DELETE: &str = "DELETE FROM {s}.fullauth_users WHERE id = $1";

pub(crate) async fn delete_user(h: Handle<'_>, id: &UserId) -> StoreResult<bool> {
    let id = UserKey(id);
    run!(h, Retry::IfNotApplied, savepoint = false, |c| async move {
        let r = sqlx::query(h.ctx.sql(DELETE))
            .persistent(h.ctx.persistent())
            .bind(id)
            .execute(c)
            .await?;
        Ok(r.rows_affected() > 0)
    })
}

const GET_HASH: &str = "SELECT hashed_password FROM {s}.fullauth_users WHERE id = $1";

pub(crate) async fn get_password_hash(
    h: Handle<'_>,
    id: &UserId,
) -> StoreResult<Option<HashedPassword>> {
    let id = UserKey(id);
    let row: Option<(Option<String>,)> =
        run!(h, Retry::Idempotent, savepoint = false, |c| async move {
            let q = sqlx::query_as(h.ctx.sql(GET_HASH))
                .persistent(h.ctx.persistent())
                .bind(id);
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

const SET_HASH: &str = "UPDATE {s}.fullauth_users SET hashed_password = $2 WHERE id = $1";

pub(crate) async fn set_password_hash(
    h: Handle<'_>,
    id: &UserId,
    hash: Option<HashedPassword>,
) -> StoreResult<()> {
    let id = UserKey(id);
    let hash = hash.as_ref().map(HashedPassword::as_str);
    let n = run!(h, Retry::Idempotent, savepoint = false, |c| async move {
        let q = sqlx::query(h.ctx.sql(SET_HASH))
            .persistent(h.ctx.persistent())
            .bind(id)
            .bind(hash);
        Ok(q.execute(c).await?.rows_affected())
    })?;
    found_user(n)
}

const MARK_VERIFIED: &str = "UPDATE {s}.fullauth_users SET is_verified = true WHERE id = $1";

pub(crate) async fn mark_verified(h: Handle<'_>, id: &UserId) -> StoreResult<()> {
    let id = UserKey(id);
    let n = run!(h, Retry::Idempotent, savepoint = false, |c| async move {
        let q = sqlx::query(h.ctx.sql(MARK_VERIFIED))
            .persistent(h.ctx.persistent())
            .bind(id);
        Ok(q.execute(c).await?.rows_affected())
    })?;
    found_user(n)
}

/// `NotFound { User }` when an update by id changed no row.
fn found_user(rows: u64) -> StoreResult<()> {
    if rows == 0 {
        return Err(StoreError::not_found(Entity::User));
    }
    Ok(())
}
