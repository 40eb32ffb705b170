//! Permissions (`fullauth_permissions`) granted to roles
//! (`fullauth_role_permissions`).
//!
//! A user's permissions are one three-way join; the permissions of several
//! roles are one query whatever their number (the names travel as one JSON
//! array, expanded by `json_each`).

use fullauth_api::{PermissionName, RoleName, StoreResult, UserId};

use crate::codec::{Db, corrupt, user_key};
use crate::pool::Handle;
use crate::roles::{ensure_role, names};
use crate::users::new_id;

pub(crate) fn permission_name(s: String) -> StoreResult<PermissionName> {
    PermissionName::new(s).map_err(|e| corrupt("fullauth_permissions.name", e))
}

pub(crate) async fn assign_permission(
    h: &Handle,
    role: &RoleName,
    permission: &PermissionName,
) -> StoreResult<bool> {
    let r = role.as_str().to_owned();
    let p = permission.as_str().to_owned();
    h.atomic(move |c| {
        ensure_role(c, &r)?;
        c.prepare_cached(
            "INSERT INTO fullauth_permissions (id, name, description) VALUES (?1, ?2, '') \
             ON CONFLICT DO NOTHING",
        )
        .db()?
        .execute([new_id(), p.clone()])
        .db()?;
        let n = c
            .prepare_cached(
                "INSERT INTO fullauth_role_permissions (role_id, permission_id) \
                 SELECT r.id, p.id FROM fullauth_roles r, fullauth_permissions p \
                 WHERE r.name = ?1 AND p.name = ?2 \
                 ON CONFLICT DO NOTHING",
            )
            .db()?
            .execute([r, p])
            .db()?;
        Ok(n == 1)
    })
    .await
}

pub(crate) async fn remove_permission(
    h: &Handle,
    role: &RoleName,
    permission: &PermissionName,
) -> StoreResult<bool> {
    let r = role.as_str().to_owned();
    let p = permission.as_str().to_owned();
    let n = h
        .write(move |c| {
            c.prepare_cached(
                "DELETE FROM fullauth_role_permissions \
                 WHERE role_id = (SELECT id FROM fullauth_roles WHERE name = ?1) \
                 AND permission_id = (SELECT id FROM fullauth_permissions WHERE name = ?2)",
            )
            .db()?
            .execute([r, p])
            .db()
        })
        .await?;
    Ok(n > 0)
}

pub(crate) async fn get_role_permissions(
    h: &Handle,
    role: &RoleName,
) -> StoreResult<Vec<PermissionName>> {
    let r = role.as_str().to_owned();
    h.read(move |c| {
        names(
            c,
            "SELECT p.name FROM fullauth_role_permissions rp \
             JOIN fullauth_roles r ON r.id = rp.role_id \
             JOIN fullauth_permissions p ON p.id = rp.permission_id \
             WHERE r.name = ?1 ORDER BY p.name",
            [r],
            permission_name,
        )
    })
    .await
}

pub(crate) async fn get_permissions_for_roles(
    h: &Handle,
    roles: &[RoleName],
) -> StoreResult<Vec<PermissionName>> {
    if roles.is_empty() {
        return Ok(Vec::new());
    }
    let list =
        serde_json::Value::from(roles.iter().map(|r| r.as_str()).collect::<Vec<_>>()).to_string();
    h.read(move |c| {
        names(
            c,
            "SELECT DISTINCT p.name FROM fullauth_role_permissions rp \
             JOIN fullauth_roles r ON r.id = rp.role_id \
             JOIN fullauth_permissions p ON p.id = rp.permission_id \
             WHERE r.name IN (SELECT value FROM json_each(?1)) ORDER BY p.name",
            [list],
            permission_name,
        )
    })
    .await
}

/// The union of the permissions of the user's roles, sorted, once each.
pub const FOR_USER: &str = "SELECT DISTINCT p.name FROM fullauth_user_roles ur \
     JOIN fullauth_role_permissions rp ON rp.role_id = ur.role_id \
     JOIN fullauth_permissions p ON p.id = rp.permission_id \
     WHERE ur.user_id = ?1 ORDER BY p.name";

pub(crate) async fn get_user_permissions(
    h: &Handle,
    user_id: &UserId,
) -> StoreResult<Vec<PermissionName>> {
    let u = user_key(user_id);
    h.read(move |c| names(c, FOR_USER, [u], permission_name))
        .await
}

pub(crate) async fn list_permissions(h: &Handle) -> StoreResult<Vec<PermissionName>> {
    h.read(|c| {
        names(
            c,
            "SELECT name FROM fullauth_permissions ORDER BY name",
            [],
            permission_name,
        )
    })
    .await
}
