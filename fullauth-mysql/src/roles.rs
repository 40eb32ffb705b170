//! `fullauth_roles` and `fullauth_user_roles` ([`fullauth_api::RoleStore`]).
//!
//! Names sort byte-wise: the columns' `utf8mb4_nopad_bin` collation gives
//! the same order as Rust's `str` and every other backend.
//!
//! Get-or-create and link are plain `INSERT`s whose duplicate-key error
//! (1062) means "already there": unlike `INSERT IGNORE` this keeps the
//! foreign-key errors (an unknown user is `NotFound`), and unlike `ON
//! DUPLICATE KEY UPDATE` it tells a new row from an existing one (in the
//! found-rows mode sqlx uses, a no-op ODKU update also reports 1 row). A
//! refused statement is undone alone, so none of this needs a savepoint.

use fullauth_api::sql::role_names;
use fullauth_api::{Entity, RoleName, StoreError, StoreResult, UserId};
use sqlx::MySqlConnection;

use crate::ctx::Ctx;
use crate::error::{DbError, DbResult, Retry, map_write_error};
use crate::handle::{Handle, run};
use crate::users::id_param;

/// The unique index on role names.
const NAME_INDEX: &str = "ix_fullauth_roles_name";

/// True when `e` is a duplicate-key error on the key named `key`.
pub(crate) fn is_duplicate(e: &DbError, key: &str) -> bool {
    e.unique_violation().as_deref() == Some(key)
}

const CREATE: &str = "INSERT INTO {s}.fullauth_roles (id, name) VALUES (?, ?)";

/// Inserts the role; false when a role of that name exists already (one
/// round trip).
pub(crate) async fn insert_role(
    c: &mut MySqlConnection,
    ctx: &Ctx,
    role: &RoleName,
) -> DbResult<bool> {
    let done = sqlx::query(ctx.sql(CREATE))
        .bind(uuid::Uuid::now_v7().hyphenated())
        .bind(role.as_str())
        .execute(c)
        .await;
    match done {
        Ok(r) => Ok(r.rows_affected() == 1),
        Err(e) => {
            let e = DbError::from(e);
            if is_duplicate(&e, NAME_INDEX) {
                Ok(false)
            } else {
                Err(map_write_error(e))
            }
        }
    }
}

pub(crate) async fn create_role(h: Handle<'_>, role: &RoleName) -> StoreResult<bool> {
    run!(h, Retry::IfNotApplied, atomic = false, |c| insert_role(
        c, h.ctx, role
    ))
}

/// Links the user to the role of that name (binds: user, role name); no row
/// when the role does not exist, a foreign-key error for an unknown user,
/// a duplicate key (`PRIMARY`) when the link exists.
const LINK: &str = "INSERT INTO {s}.fullauth_user_roles (user_id, role_id) \
                    SELECT ?, id FROM {s}.fullauth_roles WHERE name = ?";

/// Creates the role only when the user exists (binds: id, name, user): like
/// PostgreSQL's statement, nothing is created for an unknown user.
const CREATE_FOR_USER: &str = "INSERT INTO {s}.fullauth_roles (id, name) \
                               SELECT ?, ? FROM {s}.fullauth_users WHERE id = ?";

/// What one LINK statement found.
pub(crate) enum Linked {
    /// The link was made.
    New,
    /// The link existed already.
    Existing,
    /// The role (or, for a grant, the permission) does not exist.
    Missing,
}

/// Runs a LINK statement (an `INSERT … SELECT` of a link row).
pub(crate) async fn link(
    c: &mut MySqlConnection,
    q: sqlx::query::Query<'_, sqlx::MySql, sqlx::mysql::MySqlArguments>,
) -> DbResult<Linked> {
    match q.execute(c).await {
        Ok(r) if r.rows_affected() > 0 => Ok(Linked::New),
        Ok(_) => Ok(Linked::Missing),
        Err(e) => {
            let e = DbError::from(e);
            if is_duplicate(&e, "PRIMARY") {
                Ok(Linked::Existing)
            } else {
                Err(map_write_error(e))
            }
        }
    }
}

// Round trips: 1 when the role exists (LINK, autocommit). When it does not:
// one more short transaction that creates the role and links it together
// (BEGIN, CREATE_FOR_USER, LINK, COMMIT), so that no other caller ever sees
// the role without the link — a concurrent `delete_role` waits for the
// commit, and the answers are those of a serial order.
pub(crate) async fn assign_role(
    h: Handle<'_>,
    user_id: &UserId,
    role: &RoleName,
) -> StoreResult<bool> {
    let user = id_param(user_id)?;
    let first = run!(h, Retry::IfNotApplied, atomic = false, |c| async move {
        let q = sqlx::query(h.ctx.sql(LINK)).bind(user).bind(role.as_str());
        link(c, q).await
    })?;
    match first {
        Linked::New => return Ok(true),
        Linked::Existing => return Ok(false),
        Linked::Missing => {}
    }
    run!(h, Retry::IfNotApplied, atomic = true, |c| async move {
        // Creates the role (or, on a duplicate name, holds a lock on the
        // one a concurrent caller made), then links it; both commit at once.
        let created = sqlx::query(h.ctx.sql(CREATE_FOR_USER))
            .bind(uuid::Uuid::now_v7().hyphenated())
            .bind(role.as_str())
            .bind(user)
            .execute(&mut *c)
            .await;
        match created {
            Ok(r) if r.rows_affected() == 0 => {
                return Err(StoreError::not_found(Entity::User).into());
            }
            Ok(_) => {}
            Err(e) => {
                let e = DbError::from(e);
                if !is_duplicate(&e, NAME_INDEX) {
                    return Err(map_write_error(e));
                }
            }
        }
        let q = sqlx::query(h.ctx.sql(LINK)).bind(user).bind(role.as_str());
        match link(&mut *c, q).await? {
            Linked::New => Ok(true),
            Linked::Existing => Ok(false),
            // Deleted between the duplicate-name check and the link: the
            // transaction undoes nothing of its own; run it again.
            Linked::Missing => Err(StoreError::contention_message(
                "the role was deleted while it was assigned; try again",
            )
            .into()),
        }
    })
}

const REMOVE: &str = "DELETE FROM {s}.fullauth_user_roles WHERE user_id = ? \
                      AND role_id = (SELECT id FROM {s}.fullauth_roles WHERE name = ?)";

pub(crate) async fn remove_role(
    h: Handle<'_>,
    user_id: &UserId,
    role: &RoleName,
) -> StoreResult<bool> {
    let user = id_param(user_id)?;
    run!(h, Retry::IfNotApplied, atomic = false, |c| async move {
        let q = sqlx::query(h.ctx.sql(REMOVE))
            .bind(user)
            .bind(role.as_str());
        Ok(q.execute(c).await?.rows_affected() > 0)
    })
}

const USER_ROLES: &str = "SELECT r.name FROM {s}.fullauth_user_roles ur \
                          JOIN {s}.fullauth_roles r ON r.id = ur.role_id \
                          WHERE ur.user_id = ? ORDER BY r.name";

pub(crate) async fn get_user_roles(h: Handle<'_>, user_id: &UserId) -> StoreResult<Vec<RoleName>> {
    let user = id_param(user_id)?;
    role_names(run!(
        h,
        Retry::Idempotent,
        atomic = false,
        |c| async move {
            let q = sqlx::query_scalar(h.ctx.sql(USER_ROLES)).bind(user);
            Ok(q.fetch_all(c).await?)
        }
    )?)
}

const LIST: &str = "SELECT name FROM {s}.fullauth_roles ORDER BY name";

pub(crate) async fn list_roles(h: Handle<'_>) -> StoreResult<Vec<RoleName>> {
    role_names(run!(
        h,
        Retry::Idempotent,
        atomic = false,
        |c| async move { Ok(sqlx::query_scalar(h.ctx.sql(LIST)).fetch_all(c).await?) }
    )?)
}

/// Deletes the role; its user links and permission grants go with it
/// (`ON DELETE CASCADE`).
const DELETE: &str = "DELETE FROM {s}.fullauth_roles WHERE name = ?";

pub(crate) async fn delete_role(h: Handle<'_>, role: &RoleName) -> StoreResult<bool> {
    run!(h, Retry::IfNotApplied, atomic = false, |c| async move {
        let q = sqlx::query(h.ctx.sql(DELETE)).bind(role.as_str());
        Ok(q.execute(c).await?.rows_affected() > 0)
    })
}
