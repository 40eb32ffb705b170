//! `fullauth_roles` and `fullauth_user_roles` ([`fullauth_api::RoleStore`]).
//!
//! Names are sorted with the `"C"` collation: byte order, the same order as
//! Rust's `str` and every other backend, whatever the database's locale.

use fullauth_api::sql::role_names;
use fullauth_api::{Entity, RoleName, StoreError, StoreResult, UserId};

use crate::error::{Retry, map_write_error};
use crate::handle::{Handle, run};
use crate::keys::UserKey;

const CREATE: &str = "INSERT INTO {s}.fullauth_roles (id, name) VALUES ($1, $2) \
                      ON CONFLICT (name) DO NOTHING RETURNING 1";

pub(crate) async fn create_role(h: Handle<'_>, role: &RoleName) -> StoreResult<bool> {
    run!(h, Retry::IfNotApplied, savepoint = false, |c| async move {
        let q = sqlx::query_scalar::<_, i32>(h.ctx.sql(CREATE))
            .persistent(h.ctx.persistent())
            .bind(uuid::Uuid::now_v7());
        Ok(q.bind(role.as_str()).fetch_optional(c).await?.is_some())
    })
}

/// Get-or-create the role, then link it, in one statement that does not
/// fail on the expected outcomes (no savepoint inside a transaction). The
/// user and the role are read `FOR KEY SHARE` — the lock the foreign keys
/// take — so a concurrent delete waits for the link instead of removing a
/// row it points to; a row deleted and committed before the lock is not
/// returned (a role is then created again: the answer of "delete, then
/// assign"). Only when the role is missing is it inserted, with
/// `ON CONFLICT DO UPDATE` so that a role created concurrently (after the
/// snapshot) is still returned, locked, and linked. Nothing happens for an
/// unknown user.
const ASSIGN: &str = "\
WITH u AS (SELECT id FROM {s}.fullauth_users WHERE id = $1 FOR KEY SHARE), \
existing AS (SELECT id FROM {s}.fullauth_roles WHERE name = $2 FOR KEY SHARE), \
created AS ( \
  INSERT INTO {s}.fullauth_roles (id, name) SELECT $3, $2 \
  WHERE EXISTS (SELECT 1 FROM u) AND NOT EXISTS (SELECT 1 FROM existing) \
  ON CONFLICT (name) DO UPDATE SET name = EXCLUDED.name RETURNING id), \
r AS (SELECT id FROM existing UNION ALL SELECT id FROM created), \
link AS ( \
  INSERT INTO {s}.fullauth_user_roles (user_id, role_id) SELECT u.id, r.id FROM u, r \
  ON CONFLICT DO NOTHING RETURNING 1) \
SELECT EXISTS (SELECT 1 FROM u), EXISTS (SELECT 1 FROM link)";

pub(crate) async fn assign_role(
    h: Handle<'_>,
    user_id: &UserId,
    role: &RoleName,
) -> StoreResult<bool> {
    let user = UserKey(user_id);
    let (found, linked): (bool, bool) =
        run!(h, Retry::IfNotApplied, savepoint = false, |c| async move {
            let q = sqlx::query_as(h.ctx.sql(ASSIGN))
                .persistent(h.ctx.persistent())
                .bind(user)
                .bind(role.as_str());
            q.bind(uuid::Uuid::now_v7())
                .fetch_one(c)
                .await
                .map_err(|e| map_write_error(e.into()))
        })?;
    if !found {
        return Err(StoreError::not_found(Entity::User));
    }
    Ok(linked)
}

const REMOVE: &str = "DELETE FROM {s}.fullauth_user_roles WHERE user_id = $1 \
                      AND role_id = (SELECT id FROM {s}.fullauth_roles WHERE name = $2)";

pub(crate) async fn remove_role(
    h: Handle<'_>,
    user_id: &UserId,
    role: &RoleName,
) -> StoreResult<bool> {
    let user = UserKey(user_id);
    run!(h, Retry::IfNotApplied, savepoint = false, |c| async move {
        let q = sqlx::query(h.ctx.sql(REMOVE))
            .persistent(h.ctx.persistent())
            .bind(user)
            .bind(role.as_str());
        Ok(q.execute(c).await?.rows_affected() > 0)
    })
}

const USER_ROLES: &str = "SELECT r.name FROM {s}.fullauth_user_roles ur \
                          JOIN {s}.fullauth_roles r ON r.id = ur.role_id \
                          WHERE ur.user_id = $1 ORDER BY r.name COLLATE \"C\"";

pub(crate) async fn get_user_roles(h: Handle<'_>, user_id: &UserId) -> StoreResult<Vec<RoleName>> {
    let user = UserKey(user_id);
    role_names(run!(
        h,
        Retry::Idempotent,
        savepoint = false,
        |c| async move {
            let q = sqlx::query_scalar(h.ctx.sql(USER_ROLES))
                .persistent(h.ctx.persistent())
                .bind(user);
            Ok(q.fetch_all(c).await?)
        }
    )?)
}

const LIST: &str = "SELECT name FROM {s}.fullauth_roles ORDER BY name COLLATE \"C\"";

pub(crate) async fn list_roles(h: Handle<'_>) -> StoreResult<Vec<RoleName>> {
    role_names(run!(
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

const DELETE: &str = "DELETE FROM {s}.fullauth_roles WHERE name = $1";

pub(crate) async fn delete_role(h: Handle<'_>, role: &RoleName) -> StoreResult<bool> {
    run!(h, Retry::IfNotApplied, savepoint = false, |c| async move {
        let q = sqlx::query(h.ctx.sql(DELETE))
            .persistent(h.ctx.persistent())
            .bind(role.as_str());
        Ok(q.execute(c).await?.rows_affected() > 0)
    })
}
