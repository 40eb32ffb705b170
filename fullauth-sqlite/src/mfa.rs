//! TOTP factors and recovery codes (`fullauth_mfa`), one factor per user.
//!
//! Recovery codes are stored as comma-joined SHA-256 digests, as the
//! reference does.

use fullauth_api::{
    MAX_COUNTER, MfaFactor, MfaSecret, StoreError, StoreResult, TokenDigest, UserId, UserIdType,
};
use rusqlite::{Connection, OptionalExtension, Row, params};

use crate::codec::{
    Db, corrupt, get_counter, get_opt_ts, get_text, get_ts, get_user_id, parse_uuid, ts, user_key,
};
use crate::pool::Handle;
use crate::users::new_id;

fn factor_from_row(row: &Row<'_>, key: UserIdType) -> StoreResult<MfaFactor> {
    let codes = get_text(row, "recovery_codes")?;
    Ok(MfaFactor {
        id: parse_uuid(&get_text(row, "id")?)?,
        user_id: get_user_id(row, "user_id", key)?,
        secret: MfaSecret::new(get_text(row, "secret")?)
            .map_err(|e| corrupt("fullauth_mfa.secret", e))?,
        confirmed_at: get_opt_ts(row, "confirmed_at")?,
        last_counter: get_counter(row, "last_counter")?,
        recovery_codes: split_codes(&codes)?,
        created_at: get_ts(row, "created_at")?,
    })
}

fn split_codes(joined: &str) -> StoreResult<Vec<TokenDigest>> {
    if joined.is_empty() {
        return Ok(Vec::new());
    }
    joined
        .split(',')
        .map(|c| TokenDigest::from_hex(c).map_err(|e| corrupt("fullauth_mfa.recovery_codes", e)))
        .collect()
}

fn one(
    c: &Connection,
    key: UserIdType,
    sql: &str,
    params: impl rusqlite::Params,
) -> StoreResult<Option<MfaFactor>> {
    let mut stmt = c.prepare_cached(sql).db()?;
    let mut rows = stmt.query(params).db()?;
    match rows.next().db()? {
        Some(row) => factor_from_row(row, key).map(Some),
        None => Ok(None),
    }
}

pub(crate) async fn get_mfa(h: &Handle, user_id: &UserId) -> StoreResult<Option<MfaFactor>> {
    let u = user_key(user_id);
    let key = h.key();
    h.read(move |c| one(c, key, "SELECT * FROM fullauth_mfa WHERE user_id = ?1", [u]))
        .await
}

pub(crate) async fn store_mfa(
    h: &Handle,
    user_id: &UserId,
    secret: &MfaSecret,
) -> StoreResult<MfaFactor> {
    let u = user_key(user_id);
    let s = secret.as_str().to_owned();
    let now = ts(h.now());
    // One statement replaces the factor: a new id, unconfirmed, counter 0,
    // no recovery codes.
    let key = h.key();
    h.write(move |c| {
        one(
            c,
            key,
            "INSERT INTO fullauth_mfa \
             (id, user_id, secret, confirmed_at, last_counter, recovery_codes, created_at) \
             VALUES (?1, ?2, ?3, NULL, 0, '', ?4) \
             ON CONFLICT (user_id) DO UPDATE SET id = excluded.id, secret = excluded.secret, \
             confirmed_at = NULL, last_counter = 0, recovery_codes = '', \
             created_at = excluded.created_at \
             RETURNING *",
            params![new_id(), u, s, now],
        )?
        .ok_or_else(|| corrupt("fullauth_mfa", "INSERT … RETURNING returned no row"))
    })
    .await
}

pub(crate) async fn confirm_mfa(
    h: &Handle,
    user_id: &UserId,
    codes: &[TokenDigest],
) -> StoreResult<bool> {
    let u = user_key(user_id);
    let joined = codes
        .iter()
        .map(TokenDigest::as_str)
        .collect::<Vec<_>>()
        .join(",");
    let now = ts(h.now());
    let n = h
        .write(move |c| {
            c.prepare_cached(
                "UPDATE fullauth_mfa SET confirmed_at = ?1, recovery_codes = ?2 WHERE user_id = ?3",
            )
            .db()?
            .execute(params![now, joined, u])
            .db()
        })
        .await?;
    Ok(n > 0)
}

pub(crate) async fn delete_mfa(h: &Handle, user_id: &UserId) -> StoreResult<bool> {
    let u = user_key(user_id);
    let n = h
        .write(move |c| {
            c.prepare_cached("DELETE FROM fullauth_mfa WHERE user_id = ?1")
                .db()?
                .execute([u])
                .db()
        })
        .await?;
    Ok(n > 0)
}

pub(crate) async fn advance_mfa_counter(
    h: &Handle,
    user_id: &UserId,
    counter: u32,
) -> StoreResult<bool> {
    if counter > MAX_COUNTER {
        return Err(StoreError::invalid(
            "counter",
            format!("must be at most {MAX_COUNTER}"),
        ));
    }
    let u = user_key(user_id);
    let n = h
        .write(move |c| {
            c.prepare_cached(
                "UPDATE fullauth_mfa SET last_counter = ?1 WHERE user_id = ?2 AND last_counter < ?1",
            )
            .db()?
            .execute(params![i64::from(counter), u])
            .db()
        })
        .await?;
    Ok(n == 1)
}

pub(crate) async fn consume_recovery_code(
    h: &Handle,
    user_id: &UserId,
    code: &TokenDigest,
) -> StoreResult<bool> {
    let u = user_key(user_id);
    let code = code.as_str().to_owned();
    // Read and conditional write run back to back on the single writer; the
    // UPDATE is also conditional on the value read, as in the reference.
    h.write(move |c| {
        let current: Option<String> = c
            .prepare_cached("SELECT recovery_codes FROM fullauth_mfa WHERE user_id = ?1")
            .db()?
            .query_row([&u], |r| r.get(0))
            .optional()
            .db()?;
        let Some(current) = current else {
            return Ok(false);
        };
        let mut codes: Vec<&str> = if current.is_empty() {
            Vec::new()
        } else {
            current.split(',').collect()
        };
        let Some(pos) = codes.iter().position(|c| c.eq_ignore_ascii_case(&code)) else {
            return Ok(false);
        };
        codes.remove(pos);
        let n = c
            .prepare_cached(
                "UPDATE fullauth_mfa SET recovery_codes = ?1 WHERE user_id = ?2 AND recovery_codes = ?3",
            )
            .db()?
            .execute(params![codes.join(","), u, current])
            .db()?;
        Ok(n == 1)
    })
    .await
}
