//! WebAuthn passkeys (`fullauth_passkeys`).
//!
//! Transports are stored comma-joined (`internal,hybrid`; `""` is none), as
//! the reference does.

use fullauth_api::{
    CredentialId, DeviceName, MAX_COUNTER, NewPasskey, Passkey, StoreError, StoreResult, Text,
    Transports, UserId, UserIdType,
};
use rusqlite::{Connection, Row, params};

use crate::codec::{
    Db, corrupt, flag, get_counter, get_flag, get_opt_ts, get_text, get_ts, get_user_id,
    parse_uuid, ts, user_key, uuid_text,
};
use crate::pool::Handle;

fn passkey_from_row(row: &Row<'_>, key: UserIdType) -> StoreResult<Passkey> {
    Ok(Passkey {
        id: parse_uuid(&get_text(row, "id")?)?,
        user_id: get_user_id(row, "user_id", key)?,
        credential_id: CredentialId::new(get_text(row, "credential_id")?)
            .map_err(|e| corrupt("fullauth_passkeys.credential_id", e))?,
        public_key: Text::new(get_text(row, "public_key")?)
            .map_err(|e| corrupt("fullauth_passkeys.public_key", e))?,
        sign_count: get_counter(row, "sign_count")?,
        device_name: DeviceName::new(get_text(row, "device_name")?)
            .map_err(|e| corrupt("fullauth_passkeys.device_name", e))?,
        transports: Transports::from_joined(&get_text(row, "transports")?),
        backed_up: get_flag(row, "backed_up")?,
        created_at: get_ts(row, "created_at")?,
        last_used_at: get_opt_ts(row, "last_used_at")?,
    })
}

fn passkeys(
    c: &Connection,
    key: UserIdType,
    sql: &str,
    params: impl rusqlite::Params,
) -> StoreResult<Vec<Passkey>> {
    let mut stmt = c.prepare_cached(sql).db()?;
    let mut rows = stmt.query(params).db()?;
    let mut out = Vec::new();
    while let Some(row) = rows.next().db()? {
        out.push(passkey_from_row(row, key)?);
    }
    Ok(out)
}

fn check_counter(n: u32) -> StoreResult<()> {
    if n > MAX_COUNTER {
        Err(StoreError::invalid(
            "sign_count",
            format!("must be at most {MAX_COUNTER}"),
        ))
    } else {
        Ok(())
    }
}

pub(crate) async fn get_passkey(
    h: &Handle,
    credential_id: &CredentialId,
) -> StoreResult<Option<Passkey>> {
    let key = h.key();
    let id = credential_id.as_str().to_owned();
    h.read(move |c| {
        Ok(passkeys(
            c,
            key,
            "SELECT * FROM fullauth_passkeys WHERE credential_id = ?1",
            [id],
        )?
        .into_iter()
        .next())
    })
    .await
}

pub(crate) async fn list_passkeys(h: &Handle, user_id: &UserId) -> StoreResult<Vec<Passkey>> {
    let key = h.key();
    let u = user_key(user_id);
    h.read(move |c| {
        passkeys(
            c,
            key,
            "SELECT * FROM fullauth_passkeys WHERE user_id = ?1 ORDER BY created_at, id",
            [u],
        )
    })
    .await
}

pub(crate) async fn store_passkey(h: &Handle, new: NewPasskey) -> StoreResult<Passkey> {
    let key = h.key();
    check_counter(new.sign_count)?;
    let now = h.now();
    let u = user_key(&new.user_id);
    h.write(move |c| {
        passkeys(
            c,
            key,
            "INSERT INTO fullauth_passkeys \
             (id, user_id, credential_id, public_key, sign_count, device_name, transports, \
              backed_up, created_at, last_used_at) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, NULL) RETURNING *",
            params![
                uuid_text(fullauth_api::new_record_id()),
                u,
                new.credential_id.as_str(),
                new.public_key.as_str(),
                i64::from(new.sign_count),
                new.device_name.as_str(),
                new.transports.joined(),
                flag(new.backed_up),
                ts(now)
            ],
        )?
        .into_iter()
        .next()
        .ok_or_else(|| corrupt("fullauth_passkeys", "INSERT … RETURNING returned no row"))
    })
    .await
}

pub(crate) async fn update_sign_count(
    h: &Handle,
    credential_id: &CredentialId,
    new_count: u32,
) -> StoreResult<bool> {
    check_counter(new_count)?;
    let now = ts(h.now());
    let id = credential_id.as_str().to_owned();
    // Both statements run back to back on the single writer: the first is
    // the compare-and-set, the second only touches `last_used_at`.
    h.write(move |c| {
        let won = c
            .prepare_cached(
                "UPDATE fullauth_passkeys SET sign_count = ?1, last_used_at = ?2 \
                 WHERE credential_id = ?3 AND sign_count < ?1",
            )
            .db()?
            .execute(params![i64::from(new_count), now, id])
            .db()?;
        if won == 1 {
            return Ok(true);
        }
        c.prepare_cached("UPDATE fullauth_passkeys SET last_used_at = ?1 WHERE credential_id = ?2")
            .db()?
            .execute(params![now, id])
            .db()?;
        Ok(false)
    })
    .await
}

pub(crate) async fn rename_passkey(
    h: &Handle,
    user_id: &UserId,
    passkey_id: uuid::Uuid,
    name: &DeviceName,
) -> StoreResult<bool> {
    let u = user_key(user_id);
    let name = name.as_str().to_owned();
    let n = h
        .write(move |c| {
            c.prepare_cached(
                "UPDATE fullauth_passkeys SET device_name = ?1 WHERE id = ?2 AND user_id = ?3",
            )
            .db()?
            .execute(params![name, uuid_text(passkey_id), u])
            .db()
        })
        .await?;
    Ok(n > 0)
}

pub(crate) async fn delete_passkey(
    h: &Handle,
    user_id: &UserId,
    passkey_id: uuid::Uuid,
) -> StoreResult<bool> {
    let u = user_key(user_id);
    let n = h
        .write(move |c| {
            c.prepare_cached("DELETE FROM fullauth_passkeys WHERE id = ?1 AND user_id = ?2")
                .db()?
                .execute(params![uuid_text(passkey_id), u])
                .db()
        })
        .await?;
    Ok(n > 0)
}
