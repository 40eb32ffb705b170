//! One-time challenges (`fullauth_challenges`, an addition of this crate).
//!
//! Taking is `DELETE … RETURNING`: exactly one caller gets the row.

use std::time::Duration;

use fullauth_api::{StateKey, StoreResult, Text};
use rusqlite::{OptionalExtension, params};

use crate::codec::{Db, corrupt, parse_ts, ts};
use crate::ephemeral::maybe_purge;
use crate::pool::Handle;

pub(crate) async fn put_challenge(
    h: &Handle,
    key: &StateKey,
    value: &Text,
    ttl: Duration,
) -> StoreResult<()> {
    let now = h.now();
    let until = now.checked_add(ttl)?;
    let k = key.as_str().to_owned();
    let v = value.as_str().to_owned();
    let h2 = h.clone();
    h.write(move |c| {
        if ttl.is_zero() {
            // Nothing that can be taken: the previous value goes too.
            c.prepare_cached("DELETE FROM fullauth_challenges WHERE state_key = ?1")
                .db()?
                .execute([k])
                .db()?;
        } else {
            c.prepare_cached(
                "INSERT INTO fullauth_challenges (state_key, value, expires_at) VALUES (?1, ?2, ?3) \
                 ON CONFLICT (state_key) DO UPDATE SET value = excluded.value, \
                 expires_at = excluded.expires_at",
            )
            .db()?
            .execute(params![k, v, ts(until)])
            .db()?;
        }
        maybe_purge(&h2, c, now)
    })
    .await
}

pub(crate) async fn take_challenge(h: &Handle, key: &StateKey) -> StoreResult<Option<Text>> {
    let now = h.now();
    let k = key.as_str().to_owned();
    let taken: Option<(String, String)> = h
        .write(move |c| {
            c.prepare_cached(
                "DELETE FROM fullauth_challenges WHERE state_key = ?1 RETURNING value, expires_at",
            )
            .db()?
            .query_row([k], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()
            .db()
        })
        .await?;
    match taken {
        Some((value, expires_at)) if parse_ts(&expires_at)? > now => Text::new(value)
            .map(Some)
            .map_err(|e| corrupt("fullauth_challenges.value", e)),
        _ => Ok(None),
    }
}
