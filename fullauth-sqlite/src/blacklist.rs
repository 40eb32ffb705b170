//! Token blacklist (`fullauth_blacklist`, an addition of this crate): survives
//! a restart, needs no Redis.

use std::time::Duration;

use fullauth_api::{StateKey, StoreResult, ttl_seconds};
use rusqlite::params;

use crate::codec::{Db, ts};
use crate::ephemeral::maybe_purge;
use crate::pool::Handle;

pub(crate) async fn blacklist(h: &Handle, key: &StateKey, ttl: Duration) -> StoreResult<()> {
    let now = h.now();
    let until = now + Duration::from_secs(ttl_seconds(ttl));
    let k = key.as_str().to_owned();
    let h2 = h.clone();
    h.write(move |c| {
        c.prepare_cached(
            "INSERT INTO fullauth_blacklist (state_key, expires_at) VALUES (?1, ?2) \
             ON CONFLICT (state_key) DO UPDATE SET expires_at = excluded.expires_at",
        )
        .db()?
        .execute(params![k, ts(until)])
        .db()?;
        maybe_purge(&h2, c, now)
    })
    .await
}

pub(crate) async fn is_blacklisted(h: &Handle, key: &StateKey) -> StoreResult<bool> {
    any_blacklisted(h, std::slice::from_ref(key)).await
}

pub(crate) async fn any_blacklisted(h: &Handle, keys: &[StateKey]) -> StoreResult<bool> {
    if keys.is_empty() {
        return Ok(false);
    }
    let now = ts(h.now());
    let list =
        serde_json::Value::from(keys.iter().map(StateKey::as_str).collect::<Vec<_>>()).to_string();
    h.read(move |c| {
        c.prepare_cached(
            "SELECT EXISTS (SELECT 1 FROM fullauth_blacklist \
             WHERE state_key IN (SELECT value FROM json_each(?1)) AND expires_at > ?2)",
        )
        .db()?
        .query_row(params![list, now], |r| r.get::<_, bool>(0))
        .db()
    })
    .await
}
