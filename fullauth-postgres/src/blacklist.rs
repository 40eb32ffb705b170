//! `fullauth_blacklist` (UNLOGGED): the token blacklist
//! ([`fullauth_api::BlacklistStore`]).

use std::time::Duration;

use fullauth_api::{StateKey, ttl_seconds};
use sqlx::PgConnection;

use crate::ctx::Ctx;
use crate::error::DbResult;

const ADD: &str = "INSERT INTO {s}.fullauth_blacklist (key, expires_at) VALUES ($1, $2) \
                   ON CONFLICT (key) DO UPDATE SET expires_at = EXCLUDED.expires_at";

pub(crate) async fn add(
    c: &mut PgConnection,
    ctx: &Ctx,
    key: &StateKey,
    ttl: Duration,
) -> DbResult<()> {
    let until = ctx
        .now()
        .checked_add(Duration::from_secs(ttl_seconds(ttl)))?;
    sqlx::query(ctx.sql(ADD))
        .bind(key.as_str())
        .bind(until.to_datetime())
        .execute(c)
        .await?;
    Ok(())
}

const ANY: &str = "SELECT EXISTS (SELECT 1 FROM {s}.fullauth_blacklist \
                   WHERE key = ANY($1) AND expires_at > $2)";

pub(crate) async fn any(c: &mut PgConnection, ctx: &Ctx, keys: &[StateKey]) -> DbResult<bool> {
    if keys.is_empty() {
        return Ok(false);
    }
    let keys: Vec<&str> = keys.iter().map(StateKey::as_str).collect();
    let (hit,): (bool,) = sqlx::query_as(ctx.sql(ANY))
        .bind(keys)
        .bind(ctx.now().to_datetime())
        .fetch_one(c)
        .await?;
    Ok(hit)
}
