//! `fullauth_blacklist`: the token blacklist
//! ([`fullauth_api::BlacklistStore`]).
//!
//! One row per key with its deadline; an entry whose deadline has passed is
//! not blacklisted (and is deleted by `purge_expired`).

use std::time::Duration;

use fullauth_api::{StateKey, StoreResult, ttl_seconds};

use crate::error::Retry;
use crate::handle::{Handle, run};

/// `?` key, `?` deadline; adding again replaces the deadline.
const ADD: &str = "INSERT INTO {s}.fullauth_blacklist (state_key, expires_at) VALUES (?, ?) \
                   ON DUPLICATE KEY UPDATE expires_at = VALUES(expires_at)";

/// Adds or replaces the entry of `key`: one round trip.
pub(crate) async fn blacklist(h: Handle<'_>, key: &StateKey, ttl: Duration) -> StoreResult<()> {
    run!(h, Retry::Idempotent, atomic = false, |c| async move {
        let until = h
            .ctx
            .now()
            .checked_add(Duration::from_secs(ttl_seconds(ttl)))?;
        let q = sqlx::query(h.ctx.sql(ADD)).bind(key.as_str());
        q.bind(until.to_datetime()).execute(c).await?;
        Ok(())
    })
}

/// The most keys one statement of [`any_blacklisted`] names (MariaDB takes
/// at most 65 535 placeholders); longer lists take one statement per chunk.
const MAX_KEYS_PER_STATEMENT: usize = 1024;

/// The `SELECT` of [`any_blacklisted`] for `n` keys: `n` key placeholders,
/// then now.
fn any_sql(n: usize) -> String {
    let mut sql =
        String::from("SELECT EXISTS (SELECT 1 FROM {s}.fullauth_blacklist WHERE state_key IN (?");
    for _ in 1..n {
        sql.push_str(", ?");
    }
    sql.push_str(") AND expires_at > ?)");
    sql
}

/// True while `key` is blacklisted: one round trip.
pub(crate) async fn is_blacklisted(h: Handle<'_>, key: &StateKey) -> StoreResult<bool> {
    any_blacklisted(h, std::slice::from_ref(key)).await
}

/// True when any of `keys` is blacklisted: one round trip (one per 1 024
/// keys for longer lists). The key list is padded to a power of two by
/// repeating its last key, so that a handful of statement texts serve every
/// length (and sqlx's statement cache keeps them prepared).
pub(crate) async fn any_blacklisted(h: Handle<'_>, keys: &[StateKey]) -> StoreResult<bool> {
    if keys.is_empty() {
        return Ok(false);
    }
    let keys: &[&str] = &keys.iter().map(StateKey::as_str).collect::<Vec<_>>();
    run!(h, Retry::Idempotent, atomic = false, |c| async move {
        let now = h.ctx.now().to_datetime();
        for chunk in keys.chunks(MAX_KEYS_PER_STATEMENT) {
            let padded = chunk.len().next_power_of_two();
            let sql = h.ctx.dynamic(&any_sql(padded));
            let mut q = sqlx::query_scalar(sql);
            for key in chunk {
                q = q.bind(*key);
            }
            if let Some(last) = chunk.last() {
                for _ in chunk.len()..padded {
                    q = q.bind(*last);
                }
            }
            let found: bool = q.bind(now).fetch_one(&mut *c).await?;
            if found {
                return Ok(true);
            }
        }
        Ok(false)
    })
}
