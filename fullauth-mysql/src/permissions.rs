//! `fullauth_permissions` and `fullauth_role_permissions`
//! ([`fullauth_api::PermissionStore`]).
//!
//! Names sort byte-wise (the columns' binary collation). Get-or-create
//! follows [`crate::roles`]: plain `INSERT`s whose duplicate-key error means
//! "already there".

use std::collections::BTreeSet;

use fullauth_api::sql::permission_names;
use fullauth_api::{PermissionName, RoleName, StoreError, StoreResult, UserId};
use sqlx::MySqlConnection;

use crate::ctx::Ctx;
use crate::error::{DbError, DbResult, Retry, map_write_error};
use crate::handle::{Handle, run};
use crate::roles::{Linked, insert_role, is_duplicate, link};
use crate::users::id_param;

/// Grants the permission of that name to the role of that name (binds:
/// role, permission); no row when either is missing, a duplicate key
/// (`PRIMARY`) when the grant exists.
const LINK: &str = "INSERT INTO {s}.fullauth_role_permissions (role_id, permission_id) \
                    SELECT r.id, p.id FROM {s}.fullauth_roles r, {s}.fullauth_permissions p \
                    WHERE r.name = ? AND p.name = ?";

const CREATE_PERMISSION: &str =
    "INSERT INTO {s}.fullauth_permissions (id, name, description) VALUES (?, ?, '')";

/// Inserts the permission (empty description); nothing when it exists.
async fn insert_permission(
    c: &mut MySqlConnection,
    ctx: &Ctx,
    permission: &PermissionName,
) -> DbResult<()> {
    let done = sqlx::query(ctx.sql(CREATE_PERMISSION))
        .bind(uuid::Uuid::now_v7().hyphenated())
        .bind(permission.as_str())
        .execute(c)
        .await;
    match done {
        Ok(_) => Ok(()),
        Err(e) => {
            let e = DbError::from(e);
            if is_duplicate(&e, "ix_fullauth_permissions_name") {
                Ok(())
            } else {
                Err(map_write_error(e))
            }
        }
    }
}

// Round trips: 1 when the role and the permission exist (LINK, autocommit);
// otherwise one more short transaction (BEGIN, create role, create
// permission, LINK, COMMIT) that makes them and the grant visible together.
pub(crate) async fn assign_permission(
    h: Handle<'_>,
    role: &RoleName,
    permission: &PermissionName,
) -> StoreResult<bool> {
    let first = run!(h, Retry::IfNotApplied, atomic = false, |c| async move {
        let q = sqlx::query(h.ctx.sql(LINK))
            .bind(role.as_str())
            .bind(permission.as_str());
        link(c, q).await
    })?;
    match first {
        Linked::New => return Ok(true),
        Linked::Existing => return Ok(false),
        Linked::Missing => {}
    }
    run!(h, Retry::IfNotApplied, atomic = true, |c| async move {
        // Get-or-create both (a duplicate name holds a lock on the existing
        // row), then grant; all commit at once, so nobody sees a role or a
        // permission this call made without its grant.
        insert_role(&mut *c, h.ctx, role).await?;
        insert_permission(&mut *c, h.ctx, permission).await?;
        let q = sqlx::query(h.ctx.sql(LINK))
            .bind(role.as_str())
            .bind(permission.as_str());
        match link(&mut *c, q).await? {
            Linked::New => Ok(true),
            Linked::Existing => Ok(false),
            Linked::Missing => Err(StoreError::contention_message(
                "the role was deleted while a permission was granted; try again",
            )
            .into()),
        }
    })
}

const REMOVE: &str = "DELETE FROM {s}.fullauth_role_permissions \
  WHERE role_id = (SELECT id FROM {s}.fullauth_roles WHERE name = ?) \
    AND permission_id = (SELECT id FROM {s}.fullauth_permissions WHERE name = ?)";

pub(crate) async fn remove_permission(
    h: Handle<'_>,
    role: &RoleName,
    permission: &PermissionName,
) -> StoreResult<bool> {
    run!(h, Retry::IfNotApplied, atomic = false, |c| async move {
        let q = sqlx::query(h.ctx.sql(REMOVE)).bind(role.as_str());
        Ok(q.bind(permission.as_str())
            .execute(c)
            .await?
            .rows_affected()
            > 0)
    })
}

/// The start of the roles' permissions query; `(?, ?, …)` and [`FOR_ROLES_END`]
/// follow.
const FOR_ROLES_START: &str = "SELECT p.name FROM {s}.fullauth_roles r \
  JOIN {s}.fullauth_role_permissions rp ON rp.role_id = r.id \
  JOIN {s}.fullauth_permissions p ON p.id = rp.permission_id \
  WHERE r.name IN (";

/// The end of the roles' permissions query.
const FOR_ROLES_END: &str = ") GROUP BY p.name ORDER BY p.name";

/// How many role names one query binds at most (MariaDB takes up to 65535
/// placeholders; longer lists are split and the answers merged).
const ROLES_PER_QUERY: usize = 1000;

// One round trip per ROLES_PER_QUERY distinct role names.
pub(crate) async fn get_permissions_for_roles(
    h: Handle<'_>,
    roles: &[RoleName],
) -> StoreResult<Vec<PermissionName>> {
    let roles: Vec<&str> = roles
        .iter()
        .map(RoleName::as_str)
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    if roles.is_empty() {
        return Ok(Vec::new());
    }
    let mut all: Vec<String> = Vec::new();
    for (i, chunk) in roles.chunks(ROLES_PER_QUERY).enumerate() {
        let sql = format!(
            "{FOR_ROLES_START}{}{FOR_ROLES_END}",
            vec!["?"; chunk.len()].join(", ")
        );
        let sql = &sql;
        let found: Vec<String> = run!(h, Retry::Idempotent, atomic = false, |c| async move {
            let mut q = sqlx::query_scalar(h.ctx.dynamic(sql));
            for name in chunk {
                q = q.bind(*name);
            }
            Ok(q.fetch_all(c).await?)
        })?;
        if i == 0 {
            all = found;
        } else {
            all.extend(found);
        }
    }
    if roles.len() > ROLES_PER_QUERY {
        // Merge the sorted, distinct answers of the parts.
        all = all
            .into_iter()
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
    }
    permission_names(all)
}

pub(crate) async fn get_role_permissions(
    h: Handle<'_>,
    role: &RoleName,
) -> StoreResult<Vec<PermissionName>> {
    get_permissions_for_roles(h, std::slice::from_ref(role)).await
}

/// A user's permissions: one join from the user's role links (binds: user).
pub const FOR_USER: &str = "SELECT p.name FROM {s}.fullauth_user_roles ur \
  JOIN {s}.fullauth_role_permissions rp ON rp.role_id = ur.role_id \
  JOIN {s}.fullauth_permissions p ON p.id = rp.permission_id \
  WHERE ur.user_id = ? GROUP BY p.name ORDER BY p.name";

pub(crate) async fn get_user_permissions(
    h: Handle<'_>,
    user_id: &UserId,
) -> StoreResult<Vec<PermissionName>> {
    let user = id_param(user_id)?;
    permission_names(run!(
        h,
        Retry::Idempotent,
        atomic = false,
        |c| async move {
            let q = sqlx::query_scalar(h.ctx.sql(FOR_USER)).bind(user);
            Ok(q.fetch_all(c).await?)
        }
    )?)
}

const LIST: &str = "SELECT name FROM {s}.fullauth_permissions ORDER BY name";

pub(crate) async fn list_permissions(h: Handle<'_>) -> StoreResult<Vec<PermissionName>> {
    permission_names(run!(
        h,
        Retry::Idempotent,
        atomic = false,
        |c| async move { Ok(sqlx::query_scalar(h.ctx.sql(LIST)).fetch_all(c).await?) }
    )?)
}
