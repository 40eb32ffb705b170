//! `fullauth_users`: users and password hashes ([`fullauth_api::UserStore`]).

use fullauth_api::{
    ConflictKind, Email, Entity, HashedPassword, NewUser, StoreError, User, UserId, UserLookup,
    UserPatch,
};
use sqlx::PgConnection;

use crate::columns::{UserColumns, json_to_text};
use crate::ctx::Ctx;
use crate::error::{DbError, DbResult, map_write_error};

/// The UUID of a user id (every id of this backend is a UUID).
pub(crate) fn uuid_of(id: &UserId) -> DbResult<uuid::Uuid> {
    id.as_uuid()
        .ok_or_else(|| StoreError::invalid("user_id", "this store keys users by UUID").into())
}

/// Maps a write's errors; a unique violation on an application column is
/// `Conflict { Other }` (its name is the app's).
fn user_write_error(e: DbError) -> DbError {
    match map_write_error(e) {
        DbError::Store(StoreError::InvalidInput { reason, .. }) => {
            DbError::Store(StoreError::invalid("extra", reason))
        }
        other => other,
    }
}

/// The application columns after making sure every name given exists
/// (refreshing the cached list once when one is missing: the app may have
/// added it since the store was opened).
async fn columns_for(
    c: &mut PgConnection,
    ctx: &Ctx,
    names: &[&str],
) -> DbResult<std::sync::Arc<UserColumns>> {
    let cols = ctx.columns();
    if names.iter().all(|n| cols.get(n).is_some()) {
        return Ok(cols);
    }
    let fresh = crate::columns::discover(c, &ctx.schema).await?;
    ctx.set_columns(fresh);
    let cols = ctx.columns();
    if let Some(n) = names.iter().find(|n| cols.get(n).is_none()) {
        return Err(StoreError::UnknownField {
            field: n.to_string(),
        }
        .into());
    }
    Ok(cols)
}

pub(crate) async fn create(c: &mut PgConnection, ctx: &Ctx, new: &NewUser) -> DbResult<User> {
    let cols = columns_for(c, ctx, &new.extra.names().collect::<Vec<_>>()).await?;
    let id = match &new.id {
        Some(id) => uuid_of(id)?,
        None => uuid::Uuid::now_v7(),
    };
    let mut names = String::from(
        "id, email, hashed_password, is_active, is_verified, is_superuser, created_at",
    );
    let mut values = String::from("$1, $2, $3, $4, $5, $6, $7");
    let mut extra_values = Vec::new();
    for (i, (name, value)) in new.extra.iter().enumerate() {
        let col = cols.get(name).ok_or_else(|| StoreError::UnknownField {
            field: name.clone(),
        })?;
        names.push_str(", ");
        names.push_str(&col.quoted);
        values.push_str(", ");
        values.push_str(&col.bind_expr(8 + i));
        extra_values.push(json_to_text(value));
    }
    let sql = format!(
        "INSERT INTO {{s}}.fullauth_users AS u ({names}) VALUES ({values}) RETURNING {}",
        cols.select_list
    );
    let mut q = sqlx::query(ctx.dynamic(&sql))
        .bind(id)
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
        .map_err(|e| user_write_error(e.into()))?;
    cols.decode(&row)
}

/// A query whose arguments live for `'q`.
type PgQuery<'q> = sqlx::query::Query<'q, sqlx::Postgres, sqlx::postgres::PgArguments>;

async fn fetch_by<'q>(
    c: &mut PgConnection,
    ctx: &Ctx,
    condition: &str,
    bind: impl FnOnce(PgQuery<'q>) -> PgQuery<'q>,
) -> DbResult<Option<User>> {
    let cols = ctx.columns();
    let sql = format!(
        "SELECT {} FROM {{s}}.fullauth_users u WHERE {condition} \
         ORDER BY u.created_at, u.id LIMIT 1",
        cols.select_list
    );
    let q = bind(sqlx::query(ctx.dynamic(&sql)));
    match q.fetch_optional(c).await? {
        Some(row) => cols.decode(&row).map(Some),
        None => Ok(None),
    }
}

pub(crate) async fn get(c: &mut PgConnection, ctx: &Ctx, id: &UserId) -> DbResult<Option<User>> {
    let id = uuid_of(id)?;
    fetch_by(c, ctx, "u.id = $1", |q| q.bind(id)).await
}

pub(crate) async fn get_by_email(
    c: &mut PgConnection,
    ctx: &Ctx,
    email: &Email,
) -> DbResult<Option<User>> {
    fetch_by(c, ctx, "u.email = $1", |q| q.bind(email.as_str())).await
}

pub(crate) async fn get_by_field(
    c: &mut PgConnection,
    ctx: &Ctx,
    lookup: &UserLookup,
) -> DbResult<Option<User>> {
    match lookup {
        UserLookup::Id(id) => get(c, ctx, id).await,
        UserLookup::Email(e) => get_by_email(c, ctx, e).await,
        UserLookup::IsActive(b) => fetch_by(c, ctx, "u.is_active = $1", |q| q.bind(*b)).await,
        UserLookup::IsVerified(b) => fetch_by(c, ctx, "u.is_verified = $1", |q| q.bind(*b)).await,
        UserLookup::IsSuperuser(b) => fetch_by(c, ctx, "u.is_superuser = $1", |q| q.bind(*b)).await,
        UserLookup::Extra { column, value } => {
            let cols = columns_for(c, ctx, &[column.as_str()]).await?;
            let col = cols.get(column).ok_or_else(|| StoreError::UnknownField {
                field: column.clone(),
            })?;
            let cond = format!("u.{} = {}", col.quoted, col.bind_expr(1));
            let text = json_to_text(value);
            fetch_by(c, ctx, &cond, |q| q.bind(text))
                .await
                .map_err(|e| match map_write_error(e) {
                    DbError::Store(StoreError::InvalidInput { reason, .. }) => {
                        DbError::Store(StoreError::invalid("value", reason))
                    }
                    other => other,
                })
        }
        other => Err(StoreError::invalid("field", format!("unsupported lookup {other:?}")).into()),
    }
}

pub(crate) async fn update(
    c: &mut PgConnection,
    ctx: &Ctx,
    id: &UserId,
    patch: &UserPatch,
) -> DbResult<User> {
    if patch.is_empty() {
        return get(c, ctx, id)
            .await?
            .ok_or_else(|| StoreError::NotFound { what: Entity::User }.into());
    }
    let cols = columns_for(c, ctx, &patch.extra.names().collect::<Vec<_>>()).await?;
    let uid = uuid_of(id)?;
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
        let col = cols.get(name).ok_or_else(|| StoreError::UnknownField {
            field: name.clone(),
        })?;
        sets.push(format!("{} = {}", col.quoted, col.bind_expr(n)));
        n += 1;
        extra_values.push(json_to_text(value));
    }
    let sql = format!(
        "UPDATE {{s}}.fullauth_users u SET {} WHERE u.id = $1 RETURNING {}",
        sets.join(", "),
        cols.select_list
    );
    let mut q = sqlx::query(ctx.dynamic(&sql)).bind(uid);
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
        Ok(Some(row)) => cols.decode(&row),
        Ok(None) => Err(StoreError::NotFound { what: Entity::User }.into()),
        Err(e) => Err(match user_write_error(e.into()) {
            DbError::Store(StoreError::Conflict {
                what: ConflictKind::UserId,
            }) => DbError::Store(StoreError::Conflict {
                what: ConflictKind::Other,
            }),
            other => other,
        }),
    }
}

const DELETE: &str = "DELETE FROM {s}.fullauth_users WHERE id = $1";

pub(crate) async fn delete(c: &mut PgConnection, ctx: &Ctx, id: &UserId) -> DbResult<bool> {
    let id = uuid_of(id)?;
    let r = sqlx::query(ctx.sql(DELETE)).bind(id).execute(c).await?;
    Ok(r.rows_affected() > 0)
}

const GET_HASH: &str = "SELECT hashed_password FROM {s}.fullauth_users WHERE id = $1";

pub(crate) async fn get_password_hash(
    c: &mut PgConnection,
    ctx: &Ctx,
    id: &UserId,
) -> DbResult<Option<HashedPassword>> {
    let id = uuid_of(id)?;
    let row: Option<(Option<String>,)> = sqlx::query_as(ctx.sql(GET_HASH))
        .bind(id)
        .fetch_optional(c)
        .await?;
    match row {
        None => Err(StoreError::NotFound { what: Entity::User }.into()),
        Some((None,)) => Ok(None),
        Some((Some(h),)) => HashedPassword::new(h)
            .map(Some)
            .map_err(|e| StoreError::backend("a stored password hash does not validate", e).into()),
    }
}

const SET_HASH: &str = "UPDATE {s}.fullauth_users SET hashed_password = $2 WHERE id = $1";

pub(crate) async fn set_password_hash(
    c: &mut PgConnection,
    ctx: &Ctx,
    id: &UserId,
    hash: Option<&HashedPassword>,
) -> DbResult<()> {
    let id = uuid_of(id)?;
    let r = sqlx::query(ctx.sql(SET_HASH))
        .bind(id)
        .bind(hash.map(HashedPassword::as_str))
        .execute(c)
        .await?;
    if r.rows_affected() == 0 {
        return Err(StoreError::NotFound { what: Entity::User }.into());
    }
    Ok(())
}

const MARK_VERIFIED: &str = "UPDATE {s}.fullauth_users SET is_verified = true WHERE id = $1";

pub(crate) async fn mark_verified(c: &mut PgConnection, ctx: &Ctx, id: &UserId) -> DbResult<()> {
    let id = uuid_of(id)?;
    let r = sqlx::query(ctx.sql(MARK_VERIFIED))
        .bind(id)
        .execute(c)
        .await?;
    if r.rows_affected() == 0 {
        return Err(StoreError::NotFound { what: Entity::User }.into());
    }
    Ok(())
}
