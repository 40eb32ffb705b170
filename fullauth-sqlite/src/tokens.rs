//! Refresh tokens (`fullauth_refresh_tokens`) and the sessions they form.
//!
//! Rotation is one conditional `UPDATE … RETURNING` plus the `INSERT` of the
//! successor, run back to back on the single writer inside one write
//! transaction (or savepoint): the revoke decides, and nothing can slip in
//! between. Session listing is one aggregated query.

use std::collections::BTreeSet;

use fullauth_api::{
    FamilyId, NewRefreshToken, NextRefreshToken, RefreshToken, Rotation, Session, StoreResult,
    Timestamp, TokenDigest, UserId, UserIdType,
};
use rusqlite::{Connection, OptionalExtension, Row, params};

use rusqlite::types::Value as SqlValue;

use crate::codec::{
    Db, corrupt, get_flag, get_opt_text, get_text, get_ts, get_user_id, parse_uuid, ts,
    user_id_from_ref, user_key,
};
use crate::pool::Handle;
use crate::users::new_id;

fn token_from_row(row: &Row<'_>, key: UserIdType) -> StoreResult<RefreshToken> {
    Ok(RefreshToken {
        id: parse_uuid(&get_text(row, "id")?)?,
        digest: TokenDigest::from_hex(&get_text(row, "token")?)
            .map_err(|e| corrupt("fullauth_refresh_tokens.token", e))?,
        user_id: get_user_id(row, "user_id", key)?,
        family_id: FamilyId::new(get_text(row, "family_id")?)
            .map_err(|e| corrupt("fullauth_refresh_tokens.family_id", e))?,
        expires_at: get_ts(row, "expires_at")?,
        revoked: get_flag(row, "revoked")?,
        user_agent: get_opt_text(row, "user_agent")?,
        ip_address: get_opt_text(row, "ip_address")?,
        created_at: get_ts(row, "created_at")?,
    })
}

/// A new live token.
pub const INSERT: &str = "INSERT INTO fullauth_refresh_tokens \
     (id, token, user_id, family_id, expires_at, revoked, user_agent, ip_address, created_at) \
     VALUES (?1, ?2, ?3, ?4, ?5, 0, ?6, ?7, ?8) RETURNING *";

/// Compare-and-set revoke of one token.
pub const REVOKE: &str =
    "UPDATE fullauth_refresh_tokens SET revoked = 1 WHERE token = ?1 AND revoked = 0";

/// The decision of a rotation: flips a live, unexpired token and answers its
/// owner and family (no row: the token is unknown, revoked or expired).
pub const ROTATE_FLIP: &str = "UPDATE fullauth_refresh_tokens SET revoked = 1 \
     WHERE token = ?1 AND revoked = 0 AND expires_at > ?2 RETURNING user_id, family_id";

#[allow(clippy::too_many_arguments)]
fn insert(
    c: &Connection,
    key: UserIdType,
    digest: &str,
    user: &rusqlite::types::Value,
    family: &str,
    expires_at: Timestamp,
    user_agent: Option<&str>,
    ip: Option<&str>,
    now: Timestamp,
) -> StoreResult<RefreshToken> {
    let mut stmt = c.prepare_cached(INSERT).db()?;
    let mut rows = stmt
        .query(params![
            new_id(),
            digest,
            user,
            family,
            ts(expires_at),
            user_agent,
            ip,
            ts(now)
        ])
        .db()?;
    match rows.next().db()? {
        Some(row) => token_from_row(row, key),
        None => Err(corrupt(
            "fullauth_refresh_tokens",
            "INSERT … RETURNING returned no row",
        )),
    }
}

pub(crate) async fn store_refresh_token(
    h: &Handle,
    new: NewRefreshToken,
) -> StoreResult<RefreshToken> {
    let key = h.key();
    let now = h.now();
    let user = user_key(&new.user_id);
    h.write(move |c| {
        insert(
            c,
            key,
            new.digest.as_str(),
            &user,
            new.family_id.as_str(),
            new.expires_at,
            new.client.user_agent.as_deref(),
            new.client.ip_address.as_deref(),
            now,
        )
    })
    .await
}

pub(crate) async fn get_refresh_token(
    h: &Handle,
    digest: &TokenDigest,
) -> StoreResult<Option<RefreshToken>> {
    let key = h.key();
    let d = digest.as_str().to_owned();
    h.read(move |c| {
        let mut stmt = c
            .prepare_cached("SELECT * FROM fullauth_refresh_tokens WHERE token = ?1")
            .db()?;
        let mut rows = stmt.query([d]).db()?;
        match rows.next().db()? {
            Some(row) => token_from_row(row, key).map(Some),
            None => Ok(None),
        }
    })
    .await
}

pub(crate) async fn revoke_refresh_token(h: &Handle, digest: &TokenDigest) -> StoreResult<bool> {
    let d = digest.as_str().to_owned();
    let n = h
        .write(move |c| c.prepare_cached(REVOKE).db()?.execute([d]).db())
        .await?;
    Ok(n == 1)
}

pub(crate) async fn rotate_refresh_token(
    h: &Handle,
    old: &TokenDigest,
    next: NextRefreshToken,
) -> StoreResult<Rotation> {
    let key = h.key();
    let now = h.now();
    let old = old.as_str().to_owned();
    h.atomic(move |c| {
        // The decision: flip a live token, and learn its owner and family.
        let won: Option<(SqlValue, String)> = c
            .prepare_cached(ROTATE_FLIP)
            .db()?
            .query_row(params![old, ts(now)], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()
            .db()?;
        if let Some((user, family)) = won {
            let row = insert(
                c,
                key,
                next.digest.as_str(),
                &user,
                &family,
                next.expires_at,
                next.client.user_agent.as_deref(),
                next.client.ip_address.as_deref(),
                now,
            )?;
            return Ok(Rotation::Rotated(row));
        }
        let seen: Option<(bool, String, SqlValue)> = c
            .prepare_cached(
                "SELECT revoked, family_id, user_id FROM fullauth_refresh_tokens WHERE token = ?1",
            )
            .db()?
            .query_row([&old], |r| {
                Ok((r.get::<_, i64>(0)? != 0, r.get(1)?, r.get(2)?))
            })
            .optional()
            .db()?;
        match seen {
            None => Ok(Rotation::NotFound),
            Some((false, _, _)) => Ok(Rotation::Expired),
            Some((true, family, user)) => {
                c.prepare_cached(
                    "UPDATE fullauth_refresh_tokens SET revoked = 1 \
                     WHERE family_id = ?1 AND revoked = 0",
                )
                .db()?
                .execute([&family])
                .db()?;
                Ok(Rotation::Reused {
                    family_id: FamilyId::new(family)
                        .map_err(|e| corrupt("fullauth_refresh_tokens.family_id", e))?,
                    user_id: user_id_from_ref((&user).into(), key)?,
                })
            }
        }
    })
    .await
}

pub(crate) async fn revoke_family(h: &Handle, family_id: &FamilyId) -> StoreResult<u64> {
    let f = family_id.as_str().to_owned();
    let n = h
        .write(move |c| {
            c.prepare_cached(
                "UPDATE fullauth_refresh_tokens SET revoked = 1 WHERE family_id = ?1 AND revoked = 0",
            )
            .db()?
            .execute([f])
            .db()
        })
        .await?;
    Ok(n as u64)
}

pub(crate) async fn revoke_all_for_user(h: &Handle, user_id: &UserId) -> StoreResult<u64> {
    let u = user_key(user_id);
    let n = h
        .write(move |c| {
            c.prepare_cached(
                "UPDATE fullauth_refresh_tokens SET revoked = 1 WHERE user_id = ?1 AND revoked = 0",
            )
            .db()?
            .execute([u])
            .db()
        })
        .await?;
    Ok(n as u64)
}

pub(crate) async fn prune_expired_refresh_tokens(
    h: &Handle,
    before: Timestamp,
) -> StoreResult<u64> {
    let n = h
        .write(move |c| {
            c.prepare_cached("DELETE FROM fullauth_refresh_tokens WHERE expires_at < ?1")
                .db()?
                .execute([ts(before)])
                .db()
        })
        .await?;
    Ok(n as u64)
}

/// One row per family with a live token: the family's first and last
/// `created_at` over all its rows, and the newest live row's fields.
const SESSIONS: &str = "\
WITH families AS (
    SELECT family_id, MIN(created_at) AS first_at, MAX(created_at) AS last_at
    FROM fullauth_refresh_tokens
    WHERE user_id = ?1
    GROUP BY family_id
), live AS (
    SELECT family_id, expires_at, user_agent, ip_address,
           ROW_NUMBER() OVER (PARTITION BY family_id ORDER BY created_at DESC, id DESC) AS rn
    FROM fullauth_refresh_tokens
    WHERE user_id = ?1 AND revoked = 0 AND expires_at > ?2
)
SELECT families.family_id, first_at, last_at, live.expires_at, live.user_agent, live.ip_address
FROM families JOIN live ON live.family_id = families.family_id AND live.rn = 1
ORDER BY last_at DESC, families.family_id ASC";

pub(crate) async fn list_sessions(h: &Handle, user_id: &UserId) -> StoreResult<Vec<Session>> {
    let u = user_key(user_id);
    let now = h.now();
    h.read(move |c| {
        let mut stmt = c.prepare_cached(SESSIONS).db()?;
        let mut rows = stmt.query(params![u, ts(now)]).db()?;
        let mut out = Vec::new();
        while let Some(row) = rows.next().db()? {
            out.push(Session {
                family_id: FamilyId::new(get_text(row, "family_id")?)
                    .map_err(|e| corrupt("fullauth_refresh_tokens.family_id", e))?,
                created_at: get_ts(row, "first_at")?,
                last_used_at: get_ts(row, "last_at")?,
                expires_at: get_ts(row, "expires_at")?,
                user_agent: get_opt_text(row, "user_agent")?,
                ip_address: get_opt_text(row, "ip_address")?,
            });
        }
        Ok(out)
    })
    .await
}

pub(crate) async fn revoke_session(
    h: &Handle,
    user_id: &UserId,
    family_id: &FamilyId,
) -> StoreResult<bool> {
    let u = user_key(user_id);
    let f = family_id.as_str().to_owned();
    // Matching rows count as changed even when already revoked, so the answer
    // is "the user has a token in this family" and the call is idempotent.
    let n = h
        .write(move |c| {
            c.prepare_cached(
                "UPDATE fullauth_refresh_tokens SET revoked = 1 WHERE user_id = ?1 AND family_id = ?2",
            )
            .db()?
            .execute(params![u, f])
            .db()
        })
        .await?;
    Ok(n > 0)
}

pub(crate) async fn revoke_other_sessions(
    h: &Handle,
    user_id: &UserId,
    keep: &FamilyId,
) -> StoreResult<u64> {
    let u = user_key(user_id);
    let k = keep.as_str().to_owned();
    let families = h
        .write(move |c| {
            let mut stmt = c
                .prepare_cached(
                    "UPDATE fullauth_refresh_tokens SET revoked = 1 \
                     WHERE user_id = ?1 AND family_id <> ?2 AND revoked = 0 RETURNING family_id",
                )
                .db()?;
            let rows = stmt
                .query_map(params![u, k], |r| r.get::<_, String>(0))
                .db()?
                .collect::<rusqlite::Result<BTreeSet<String>>>()
                .db()?;
            Ok(rows)
        })
        .await?;
    Ok(families.len() as u64)
}
