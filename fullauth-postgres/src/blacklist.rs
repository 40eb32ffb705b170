//! `fullauth_blacklist` (UNLOGGED): the token blacklist
//! ([`fullauth_api::BlacklistStore`]).

use std::time::Duration;

use fullauth_api::{StateKey, StoreResult, ttl_seconds};

use crate::error::Retry;
use crate::handle::{Handle, run};

const ADD: &str = "INSERT INTO {s}.fullauth_blacklist (key, expires_at) VALUES ($1, $2) \
                   ON CONFLICT (key) DO UPDATE SET expires_at = EXCLUDED.expires_at";

pub(crate) async fn blacklist(h: Handle<'_>, key: &StateKey, ttl: Duration) -> StoreResult<()> {
    run!(h, Retry::Idempotent, savepoint = false, |c| async move {
        let until = h
            .ctx
            .now()
            .checked_add(Duration::from_secs(ttl_seconds(ttl)))?;
        let q = sqlx::query(h.ctx.sql(ADD))
            .persistent(h.ctx.persistent())
            .bind(key.as_str());
        q.bind(until.to_datetime()).execute(c).await?;
        Ok(())
    })
}

const ANY: &str = "SELECT EXISTS (SELECT 1 FROM {s}.fullauth_blacklist \
                   WHERE key = ANY($1) AND expires_at > $2)";

pub(crate) async fn is_blacklisted(h: Handle<'_>, key: &StateKey) -> StoreResult<bool> {
    any_blacklisted(h, std::slice::from_ref(key)).await
}

pub(crate) async fn any_blacklisted(h: Handle<'_>, keys: &[StateKey]) -> StoreResult<bool> {
    if keys.is_empty() {
        return Ok(false);
    }
    let keys: &[&str] = &keys.iter().map(StateKey::as_str).collect::<Vec<_>>();
    run!(h, Retry::Idempotent, savepoint = false, |c| async move {
        let q = sqlx::query_scalar(h.ctx.sql(ANY))
            .persistent(h.ctx.persistent())
            .bind(keys);
        Ok(q.bind(h.ctx.now().to_datetime()).fetch_one(c).await?)
    })
}
