//! `fullauth_permissions` and `fullauth_role_permissions`
//! ([`fullauth_api::PermissionStore`]).

use fullauth_api::sql::permission_names;
use fullauth_api::{PermissionName, RoleName, StoreResult, UserId};

use crate::error::{Retry, map_write_error};
use crate::handle::{Handle, run};
use crate::keys::UserKey;

/// Get-or-create the role and the permission, then grant, in one statement
/// (the same get-or-create pattern, with the same `FOR KEY SHARE` reads, as
/// role assignment).
const ASSIGN: &str = "\
WITH er AS (SELECT id FROM {s}.fullauth_roles WHERE name = $1 FOR KEY SHARE), \
cr AS ( \
  INSERT INTO {s}.fullauth_roles (id, name) SELECT $3, $1 \
  WHERE NOT EXISTS (SELECT 1 FROM er) \
  ON CONFLICT (name) DO UPDATE SET name = EXCLUDED.name RETURNING id), \
r AS (SELECT id FROM er UNION ALL SELECT id FROM cr), \
ep AS (SELECT id FROM {s}.fullauth_permissions WHERE name = $2 FOR KEY SHARE), \
cp AS ( \
  INSERT INTO {s}.fullauth_permissions (id, name, description) SELECT $4, $2, '' \
  WHERE NOT EXISTS (SELECT 1 FROM ep) \
  ON CONFLICT (name) DO UPDATE SET name = EXCLUDED.name RETURNING id), \
p AS (SELECT id FROM ep UNION ALL SELECT id FROM cp), \
link AS ( \
  INSERT INTO {s}.fullauth_role_permissions (role_id, permission_id) SELECT r.id, p.id FROM r, p \
  ON CONFLICT DO NOTHING RETURNING 1) \
SELECT EXISTS (SELECT 1 FROM link)";

pub(crate) async fn assign_permission(
    h: Handle<'_>,
    role: &RoleName,
    permission: &PermissionName,
) -> StoreResult<bool> {
    run!(h, Retry::IfNotApplied, savepoint = false, |c| async move {
        sqlx::query_scalar(h.ctx.sql(ASSIGN))
            .persistent(h.ctx.persistent())
            .bind(role.as_str())
            .bind(permission.as_str())
            .bind(uuid::Uuid::now_v7())
            .bind(uuid::Uuid::now_v7())
            .fetch_one(c)
            .await
            .map_err(|e| map_write_error(e.into()))
    })
}

const REMOVE: &str = "DELETE FROM {s}.fullauth_role_permissions \
  WHERE role_id = (SELECT id FROM {s}.fullauth_roles WHERE name = $1) \
    AND permission_id = (SELECT id FROM {s}.fullauth_permissions WHERE name = $2)";

pub(crate) async fn remove_permission(
    h: Handle<'_>,
    role: &RoleName,
    permission: &PermissionName,
) -> StoreResult<bool> {
    run!(h, Retry::IfNotApplied, savepoint = false, |c| async move {
        let q = sqlx::query(h.ctx.sql(REMOVE))
            .persistent(h.ctx.persistent())
            .bind(role.as_str());
        Ok(q.bind(permission.as_str())
            .execute(c)
            .await?
            .rows_affected()
            > 0)
    })
}

const FOR_ROLES: &str = "SELECT p.name FROM {s}.fullauth_roles r \
  JOIN {s}.fullauth_role_permissions rp ON rp.role_id = r.id \
  JOIN {s}.fullauth_permissions p ON p.id = rp.permission_id \
  WHERE r.name = ANY($1) GROUP BY p.name ORDER BY p.name COLLATE \"C\"";

pub(crate) async fn get_permissions_for_roles(
    h: Handle<'_>,
    roles: &[RoleName],
) -> StoreResult<Vec<PermissionName>> {
    if roles.is_empty() {
        return Ok(Vec::new());
    }
    let roles: &[&str] = &roles.iter().map(RoleName::as_str).collect::<Vec<_>>();
    permission_names(run!(
        h,
        Retry::Idempotent,
        savepoint = false,
        |c| async move {
            let q = sqlx::query_scalar(h.ctx.sql(FOR_ROLES))
                .persistent(h.ctx.persistent())
                .bind(roles);
            Ok(q.fetch_all(c).await?)
        }
    )?)
}

pub(crate) async fn get_role_permissions(
    h: Handle<'_>,
    role: &RoleName,
) -> StoreResult<Vec<PermissionName>> {
    get_permissions_for_roles(h, std::slice::from_ref(role)).await
}

/// A user's permissions: one join from the user's role links.
pub const FOR_USER: &str = "SELECT p.name FROM {s}.fullauth_user_roles ur \
  JOIN {s}.fullauth_role_permissions rp ON rp.role_id = ur.role_id \
  JOIN {s}.fullauth_permissions p ON p.id = rp.permission_id \
  WHERE ur.user_id = $1 GROUP BY p.name ORDER BY p.name COLLATE \"C\"";

pub(crate) async fn get_user_permissions(
    h: Handle<'_>,
    user_id: &UserId,
) -> StoreResult<Vec<PermissionName>> {
    let user = UserKey(user_id);
    permission_names(run!(
        h,
        Retry::Idempotent,
        savepoint = false,
        |c| async move {
            let q = sqlx::query_scalar(h.ctx.sql(FOR_USER))
                .persistent(h.ctx.persistent())
                .bind(user);
            Ok(q.fetch_all(c).await?)
        }
    )?)
}

const LIST: &str = "SELECT name FROM {s}.fullauth_permissions ORDER BY name COLLATE \"C\"";

pub(crate) async fn list_permissions(h: Handle<'_>) -> StoreResult<Vec<PermissionName>> {
    permission_names(run!(
        h,
        Retry::Idempotent,
        savepoint = false,
        |c| async move {
            Ok(sqlx::query_scalar(h.ctx.sql(LIST))
                .persistent(h.ctx.persistent())
                .fetch_all(c)
                .await?)
        }
    )?)
}
