//! `fullauth_challenges`: one-time challenges
//! ([`fullauth_api::ChallengeStore`]).

use std::time::Duration;

use fullauth_api::{StateKey, StoreError, StoreResult, Text};
use time::OffsetDateTime;

use crate::error::Retry;
use crate::handle::{Handle, run};

/// `?` key, `?` value, `?` deadline; storing again replaces both.
const PUT: &str = "INSERT INTO {s}.fullauth_challenges (state_key, value, expires_at) VALUES (?, ?, ?) \
                   ON DUPLICATE KEY UPDATE value = VALUES(value), expires_at = VALUES(expires_at)";

/// Stores or replaces the value of `key`: one round trip. A zero TTL stores
/// a value that is already expired (never taken, purged later), which
/// replaces any previous one.
pub(crate) async fn put_challenge(
    h: Handle<'_>,
    key: &StateKey,
    value: &Text,
    ttl: Duration,
) -> StoreResult<()> {
    run!(h, Retry::Idempotent, atomic = false, |c| async move {
        let until = h.ctx.now().checked_add(ttl)?;
        let q = sqlx::query(h.ctx.sql(PUT))
            .bind(key.as_str())
            .bind(value.as_str());
        q.bind(until.to_datetime()).execute(c).await?;
        Ok(())
    })
}

/// Deleting is the take: the row lock gives the value to exactly one of
/// concurrent takers (the others find the row gone); an expired value is
/// deleted and not returned.
const TAKE: &str =
    "DELETE FROM {s}.fullauth_challenges WHERE state_key = ? RETURNING value, expires_at";

/// Takes the value of `key` once: one round trip (`DELETE … RETURNING`).
pub(crate) async fn take_challenge(h: Handle<'_>, key: &StateKey) -> StoreResult<Option<Text>> {
    let row: Option<(String, OffsetDateTime)> =
        run!(h, Retry::IfNotApplied, atomic = false, |c| async move {
            let q = sqlx::query_as(h.ctx.sql(TAKE)).bind(key.as_str());
            Ok(q.fetch_optional(c).await?)
        })?;
    match row {
        Some((value, until)) if until > h.ctx.now().to_datetime() => Text::new(value)
            .map(Some)
            .map_err(|e| StoreError::backend("a stored challenge does not validate", e)),
        _ => Ok(None),
    }
}
