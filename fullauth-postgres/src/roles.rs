//! `fullauth_roles` and `fullauth_user_roles` ([`fullauth_api::RoleStore`]).
//!
//! Names are sorted with the `"C"` collation: byte order, the same order as
//! Rust's `str` and every other backend, whatever the database's locale.

use fullauth_api::{Entity, RoleName, StoreError, UserId};
use sqlx::PgConnection;

use crate::ctx::Ctx;
use crate::error::DbResult;
use crate::users::uuid_of;

pub(crate) fn role_names(names: Vec<String>) -> DbResult<Vec<RoleName>> {
    names
        .into_iter()
        .map(|n| {
            RoleName::new(n)
                .map_err(|e| StoreError::backend("a stored role name does not validate", e).into())
        })
        .collect()
}

const CREATE: &str = "INSERT INTO {s}.fullauth_roles (id, name) VALUES ($1, $2) \
                      ON CONFLICT (name) DO NOTHING RETURNING 1";

pub(crate) async fn create(c: &mut PgConnection, ctx: &Ctx, role: &RoleName) -> DbResult<bool> {
    let row: Option<(i32,)> = sqlx::query_as(ctx.sql(CREATE))
        .bind(uuid::Uuid::now_v7())
        .bind(role.as_str())
        .fetch_optional(c)
        .await?;
    Ok(row.is_some())
}

/// Get-or-create the role, then link it, in one statement. The role is
/// looked up in the snapshot first; only when it is missing is it inserted,
/// with `ON CONFLICT DO UPDATE` so that a role created concurrently (after
/// the snapshot) is still returned and linked. Nothing happens for an
/// unknown user.
const ASSIGN: &str = "\
WITH u AS (SELECT id FROM {s}.fullauth_users WHERE id = $1), \
existing AS (SELECT id FROM {s}.fullauth_roles WHERE name = $2), \
created AS ( \
  INSERT INTO {s}.fullauth_roles (id, name) SELECT $3, $2 \
  WHERE EXISTS (SELECT 1 FROM u) AND NOT EXISTS (SELECT 1 FROM existing) \
  ON CONFLICT (name) DO UPDATE SET name = EXCLUDED.name RETURNING id), \
r AS (SELECT id FROM existing UNION ALL SELECT id FROM created), \
link AS ( \
  INSERT INTO {s}.fullauth_user_roles (user_id, role_id) SELECT u.id, r.id FROM u, r \
  ON CONFLICT DO NOTHING RETURNING 1) \
SELECT EXISTS (SELECT 1 FROM u), EXISTS (SELECT 1 FROM link)";

pub(crate) async fn assign(
    c: &mut PgConnection,
    ctx: &Ctx,
    user_id: &UserId,
    role: &RoleName,
) -> DbResult<bool> {
    let (found, linked): (bool, bool) = sqlx::query_as(ctx.sql(ASSIGN))
        .bind(uuid_of(user_id)?)
        .bind(role.as_str())
        .bind(uuid::Uuid::now_v7())
        .fetch_one(c)
        .await
        .map_err(|e| crate::error::map_write_error(e.into()))?;
    if !found {
        return Err(StoreError::NotFound { what: Entity::User }.into());
    }
    Ok(linked)
}

const REMOVE: &str = "DELETE FROM {s}.fullauth_user_roles WHERE user_id = $1 \
                      AND role_id = (SELECT id FROM {s}.fullauth_roles WHERE name = $2)";

pub(crate) async fn remove(
    c: &mut PgConnection,
    ctx: &Ctx,
    user_id: &UserId,
    role: &RoleName,
) -> DbResult<bool> {
    let r = sqlx::query(ctx.sql(REMOVE))
        .bind(uuid_of(user_id)?)
        .bind(role.as_str())
        .execute(c)
        .await?;
    Ok(r.rows_affected() > 0)
}

const USER_ROLES: &str = "SELECT r.name FROM {s}.fullauth_user_roles ur \
                          JOIN {s}.fullauth_roles r ON r.id = ur.role_id \
                          WHERE ur.user_id = $1 ORDER BY r.name COLLATE \"C\"";

pub(crate) async fn user_roles(
    c: &mut PgConnection,
    ctx: &Ctx,
    user_id: &UserId,
) -> DbResult<Vec<RoleName>> {
    let names: Vec<String> = sqlx::query_scalar(ctx.sql(USER_ROLES))
        .bind(uuid_of(user_id)?)
        .fetch_all(c)
        .await?;
    role_names(names)
}

const LIST: &str = "SELECT name FROM {s}.fullauth_roles ORDER BY name COLLATE \"C\"";

pub(crate) async fn list(c: &mut PgConnection, ctx: &Ctx) -> DbResult<Vec<RoleName>> {
    let names: Vec<String> = sqlx::query_scalar(ctx.sql(LIST)).fetch_all(c).await?;
    role_names(names)
}

const DELETE: &str = "DELETE FROM {s}.fullauth_roles WHERE name = $1";

pub(crate) async fn delete(c: &mut PgConnection, ctx: &Ctx, role: &RoleName) -> DbResult<bool> {
    let r = sqlx::query(ctx.sql(DELETE))
        .bind(role.as_str())
        .execute(c)
        .await?;
    Ok(r.rows_affected() > 0)
}
