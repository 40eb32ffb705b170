//! Roles (`fullauth_roles`) and their assignment to users
//! (`fullauth_user_roles`).
//!
//! Names are compared exactly; lists are sorted by SQLite's `BINARY`
//! collation, which is byte order of UTF-8 — the same order as Rust's `str`.

use fullauth_api::{Entity, Feature, RoleName, StoreError, StoreResult, UserId};
use rusqlite::{Connection, params};

use crate::codec::{Db, corrupt, user_key};
use crate::pool::Handle;
use crate::users::{new_id, user_exists};

/// Creates the role if missing; true when created.
pub(crate) fn ensure_role(c: &Connection, name: &str) -> StoreResult<bool> {
    let n = c
        .prepare_cached(
            "INSERT INTO fullauth_roles (id, name) VALUES (?1, ?2) ON CONFLICT DO NOTHING",
        )
        .db()?
        .execute([new_id(), name.to_owned()])
        .db()?;
    Ok(n == 1)
}

/// Reads a list of names from a one-column query.
pub(crate) fn names<T>(
    c: &Connection,
    sql: &str,
    params: impl rusqlite::Params,
    make: impl Fn(String) -> Result<T, StoreError>,
) -> StoreResult<Vec<T>> {
    let mut stmt = c.prepare_cached(sql).db()?;
    let raw = stmt
        .query_map(params, |r| r.get::<_, String>(0))
        .db()?
        .collect::<rusqlite::Result<Vec<String>>>()
        .db()?;
    raw.into_iter().map(make).collect()
}

pub(crate) fn role_name(s: String) -> StoreResult<RoleName> {
    RoleName::new(s).map_err(|e| corrupt("fullauth_roles.name", e))
}

pub(crate) async fn create_role(h: &Handle, role: &RoleName) -> StoreResult<bool> {
    let r = role.as_str().to_owned();
    h.write(move |c| ensure_role(c, &r)).await
}

pub(crate) async fn assign_role(
    h: &Handle,
    user_id: &UserId,
    role: &RoleName,
) -> StoreResult<bool> {
    let u = user_key(user_id);
    let r = role.as_str().to_owned();
    h.atomic(move |c| {
        if !user_exists(c, &u)? {
            return Err(StoreError::not_found(Entity::User));
        }
        ensure_role(c, &r)?;
        let n = c
            .prepare_cached(
                "INSERT INTO fullauth_user_roles (user_id, role_id) \
                 SELECT ?1, id FROM fullauth_roles WHERE name = ?2 \
                 ON CONFLICT DO NOTHING",
            )
            .db()?
            .execute(params![u, r])
            .db()?;
        Ok(n == 1)
    })
    .await
}

pub(crate) async fn remove_role(
    h: &Handle,
    user_id: &UserId,
    role: &RoleName,
) -> StoreResult<bool> {
    let u = user_key(user_id);
    let r = role.as_str().to_owned();
    let n = h
        .write(move |c| {
            c.prepare_cached(
                "DELETE FROM fullauth_user_roles WHERE user_id = ?1 \
                 AND role_id = (SELECT id FROM fullauth_roles WHERE name = ?2)",
            )
            .db()?
            .execute(params![u, r])
            .db()
        })
        .await?;
    Ok(n > 0)
}

pub(crate) async fn get_user_roles(h: &Handle, user_id: &UserId) -> StoreResult<Vec<RoleName>> {
    let u = user_key(user_id);
    h.read(move |c| {
        names(
            c,
            "SELECT r.name FROM fullauth_user_roles ur \
             JOIN fullauth_roles r ON r.id = ur.role_id \
             WHERE ur.user_id = ?1 ORDER BY r.name",
            [u],
            role_name,
        )
    })
    .await
}

pub(crate) async fn list_roles(h: &Handle) -> StoreResult<Vec<RoleName>> {
    h.read(|c| {
        names(
            c,
            "SELECT name FROM fullauth_roles ORDER BY name",
            [],
            role_name,
        )
    })
    .await
}

pub(crate) async fn delete_role(h: &Handle, role: &RoleName) -> StoreResult<bool> {
    let r = role.as_str().to_owned();
    let with_permissions = h.shared.features.contains(Feature::Permissions);
    // The foreign keys cascade; the explicit deletes also cover tables made
    // without the cascade.
    h.atomic(move |c| {
        c.prepare_cached(
            "DELETE FROM fullauth_user_roles \
             WHERE role_id = (SELECT id FROM fullauth_roles WHERE name = ?1)",
        )
        .db()?
        .execute([&r])
        .db()?;
        if with_permissions {
            c.prepare_cached(
                "DELETE FROM fullauth_role_permissions \
                 WHERE role_id = (SELECT id FROM fullauth_roles WHERE name = ?1)",
            )
            .db()?
            .execute([&r])
            .db()?;
        }
        let n = c
            .prepare_cached("DELETE FROM fullauth_roles WHERE name = ?1")
            .db()?
            .execute([&r])
            .db()?;
        Ok(n > 0)
    })
    .await
}
