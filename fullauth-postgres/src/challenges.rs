//! `fullauth_challenges` (UNLOGGED): one-time challenges
//! ([`fullauth_api::ChallengeStore`]).

use std::time::Duration;

use fullauth_api::{StateKey, StoreError, Text};
use sqlx::PgConnection;
use time::OffsetDateTime;

use crate::ctx::Ctx;
use crate::error::DbResult;

const PUT: &str = "INSERT INTO {s}.fullauth_challenges (key, value, expires_at) VALUES ($1, $2, $3) \
                   ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value, expires_at = EXCLUDED.expires_at";

pub(crate) async fn put(
    c: &mut PgConnection,
    ctx: &Ctx,
    key: &StateKey,
    value: &Text,
    ttl: Duration,
) -> DbResult<()> {
    let until = ctx.now().checked_add(ttl)?;
    sqlx::query(ctx.sql(PUT))
        .bind(key.as_str())
        .bind(value.as_str())
        .bind(until.to_datetime())
        .execute(c)
        .await?;
    Ok(())
}

/// Deleting is the take: the row lock gives the value to exactly one of
/// concurrent takers; an expired value is deleted and not returned.
const TAKE: &str = "DELETE FROM {s}.fullauth_challenges WHERE key = $1 RETURNING value, expires_at";

pub(crate) async fn take(
    c: &mut PgConnection,
    ctx: &Ctx,
    key: &StateKey,
) -> DbResult<Option<Text>> {
    let row: Option<(String, OffsetDateTime)> = sqlx::query_as(ctx.sql(TAKE))
        .bind(key.as_str())
        .fetch_optional(c)
        .await?;
    let now = ctx.now().to_datetime();
    match row {
        Some((value, until)) if until > now => Text::new(value)
            .map(Some)
            .map_err(|e| StoreError::backend("a stored challenge does not validate", e).into()),
        _ => Ok(None),
    }
}
