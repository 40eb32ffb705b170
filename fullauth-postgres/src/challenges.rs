//! `fullauth_challenges` (UNLOGGED): one-time challenges
//! ([`fullauth_api::ChallengeStore`]).

use std::time::Duration;

use fullauth_api::{StateKey, StoreError, StoreResult, Text};
use time::OffsetDateTime;

use crate::error::Retry;
use crate::handle::{Handle, run};

const PUT: &str = "INSERT INTO {s}.fullauth_challenges (key, value, expires_at) VALUES ($1, $2, $3) \
                   ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value, expires_at = EXCLUDED.expires_at";

pub(crate) async fn put_challenge(
    h: Handle<'_>,
    key: &StateKey,
    value: &Text,
    ttl: Duration,
) -> StoreResult<()> {
    run!(h, Retry::Idempotent, savepoint = false, |c| async move {
        let until = h.ctx.now().checked_add(ttl)?;
        let q = sqlx::query(h.ctx.sql(PUT))
            .persistent(h.ctx.persistent())
            .bind(key.as_str())
            .bind(value.as_str());
        q.bind(until.to_datetime()).execute(c).await?;
        Ok(())
    })
}

/// Deleting is the take: the row lock gives the value to exactly one of
/// concurrent takers; an expired value is deleted and not returned.
const TAKE: &str = "DELETE FROM {s}.fullauth_challenges WHERE key = $1 RETURNING value, expires_at";

pub(crate) async fn take_challenge(h: Handle<'_>, key: &StateKey) -> StoreResult<Option<Text>> {
    let row: Option<(String, OffsetDateTime)> =
        run!(h, Retry::IfNotApplied, savepoint = false, |c| async move {
            let q = sqlx::query_as(h.ctx.sql(TAKE))
                .persistent(h.ctx.persistent())
                .bind(key.as_str());
            Ok(q.fetch_optional(c).await?)
        })?;
    match row {
        Some((value, until)) if until > h.ctx.now().to_datetime() => Text::new(value)
            .map(Some)
            .map_err(|e| StoreError::backend("a stored challenge does not validate", e)),
        _ => Ok(None),
    }
}
