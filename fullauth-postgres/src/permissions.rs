//! `fullauth_permissions` and `fullauth_role_permissions`
//! ([`fullauth_api::PermissionStore`]).

use fullauth_api::{PermissionName, RoleName, StoreError, UserId};
use sqlx::PgConnection;

use crate::ctx::Ctx;
use crate::error::DbResult;
use crate::users::uuid_of;

fn names(v: Vec<String>) -> DbResult<Vec<PermissionName>> {
    v.into_iter()
        .map(|n| {
            PermissionName::new(n).map_err(|e| {
                StoreError::backend("a stored permission name does not validate", e).into()
            })
        })
        .collect()
}

/// Get-or-create the role and the permission, then grant, in one statement
/// (the same get-or-create pattern as role assignment).
const ASSIGN: &str = "\
WITH er AS (SELECT id FROM {s}.fullauth_roles WHERE name = $1), \
cr AS ( \
  INSERT INTO {s}.fullauth_roles (id, name) SELECT $3, $1 \
  WHERE NOT EXISTS (SELECT 1 FROM er) \
  ON CONFLICT (name) DO UPDATE SET name = EXCLUDED.name RETURNING id), \
r AS (SELECT id FROM er UNION ALL SELECT id FROM cr), \
ep AS (SELECT id FROM {s}.fullauth_permissions WHERE name = $2), \
cp AS ( \
  INSERT INTO {s}.fullauth_permissions (id, name, description) SELECT $4, $2, '' \
  WHERE NOT EXISTS (SELECT 1 FROM ep) \
  ON CONFLICT (name) DO UPDATE SET name = EXCLUDED.name RETURNING id), \
p AS (SELECT id FROM ep UNION ALL SELECT id FROM cp), \
link AS ( \
  INSERT INTO {s}.fullauth_role_permissions (role_id, permission_id) SELECT r.id, p.id FROM r, p \
  ON CONFLICT DO NOTHING RETURNING 1) \
SELECT EXISTS (SELECT 1 FROM link)";

pub(crate) async fn assign(
    c: &mut PgConnection,
    ctx: &Ctx,
    role: &RoleName,
    permission: &PermissionName,
) -> DbResult<bool> {
    let (linked,): (bool,) = sqlx::query_as(ctx.sql(ASSIGN))
        .bind(role.as_str())
        .bind(permission.as_str())
        .bind(uuid::Uuid::now_v7())
        .bind(uuid::Uuid::now_v7())
        .fetch_one(c)
        .await
        .map_err(|e| crate::error::map_write_error(e.into()))?;
    Ok(linked)
}

const REMOVE: &str = "DELETE FROM {s}.fullauth_role_permissions \
  WHERE role_id = (SELECT id FROM {s}.fullauth_roles WHERE name = $1) \
    AND permission_id = (SELECT id FROM {s}.fullauth_permissions WHERE name = $2)";

pub(crate) async fn remove(
    c: &mut PgConnection,
    ctx: &Ctx,
    role: &RoleName,
    permission: &PermissionName,
) -> DbResult<bool> {
    let r = sqlx::query(ctx.sql(REMOVE))
        .bind(role.as_str())
        .bind(permission.as_str())
        .execute(c)
        .await?;
    Ok(r.rows_affected() > 0)
}

const FOR_ROLES: &str = "SELECT p.name FROM {s}.fullauth_roles r \
  JOIN {s}.fullauth_role_permissions rp ON rp.role_id = r.id \
  JOIN {s}.fullauth_permissions p ON p.id = rp.permission_id \
  WHERE r.name = ANY($1) GROUP BY p.name ORDER BY p.name COLLATE \"C\"";

pub(crate) async fn for_roles(
    c: &mut PgConnection,
    ctx: &Ctx,
    roles: &[RoleName],
) -> DbResult<Vec<PermissionName>> {
    if roles.is_empty() {
        return Ok(Vec::new());
    }
    let roles: Vec<&str> = roles.iter().map(RoleName::as_str).collect();
    let v: Vec<String> = sqlx::query_scalar(ctx.sql(FOR_ROLES))
        .bind(roles)
        .fetch_all(c)
        .await?;
    names(v)
}

pub(crate) async fn for_role(
    c: &mut PgConnection,
    ctx: &Ctx,
    role: &RoleName,
) -> DbResult<Vec<PermissionName>> {
    for_roles(c, ctx, std::slice::from_ref(role)).await
}

/// A user's permissions: one join from the user's role links.
pub const FOR_USER: &str = "SELECT p.name FROM {s}.fullauth_user_roles ur \
  JOIN {s}.fullauth_role_permissions rp ON rp.role_id = ur.role_id \
  JOIN {s}.fullauth_permissions p ON p.id = rp.permission_id \
  WHERE ur.user_id = $1 GROUP BY p.name ORDER BY p.name COLLATE \"C\"";

pub(crate) async fn for_user(
    c: &mut PgConnection,
    ctx: &Ctx,
    user_id: &UserId,
) -> DbResult<Vec<PermissionName>> {
    let v: Vec<String> = sqlx::query_scalar(ctx.sql(FOR_USER))
        .bind(uuid_of(user_id)?)
        .fetch_all(c)
        .await?;
    names(v)
}

const LIST: &str = "SELECT name FROM {s}.fullauth_permissions ORDER BY name COLLATE \"C\"";

pub(crate) async fn list(c: &mut PgConnection, ctx: &Ctx) -> DbResult<Vec<PermissionName>> {
    let v: Vec<String> = sqlx::query_scalar(ctx.sql(LIST)).fetch_all(c).await?;
    names(v)
}
