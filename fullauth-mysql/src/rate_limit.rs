//! `fullauth_rate_limits`: sliding-window rate limits
//! ([`fullauth_api::RateLimitStore`]).
//!
//! One row per key: `hits`, the times of the allowed requests still inside
//! the window when the row was last written (at most `limit` of them), as
//! Unix microseconds in decimal, comma-separated, oldest first (the empty
//! string for none); `updated_at`, the newest of them (what
//! `purge_expired` reads). A hit locks the key's row (creating it when
//! missing), reads `hits`, drops the times that left the window, appends
//! now when fewer than `limit` remain, and writes the list back, in one
//! short transaction: the row lock serialises concurrent hits on a key, so
//! exactly `limit` of N concurrent hits on a fresh key are allowed.

use std::time::Duration;

use fullauth_api::{
    RateLimitDecision, RateLimitPolicy, StateKey, StoreError, StoreResult, Timestamp,
};

use crate::error::Retry;
use crate::handle::{Handle, run};

/// `?` key, `?` now. Creates the row (with no hits) when missing, or locks
/// the existing one (the no-op update takes its exclusive lock, held until
/// the transaction ends), and returns its `hits` either way. Not a gap
/// lock: the key exists once the statement is done.
const LOCK: &str = "INSERT INTO {s}.fullauth_rate_limits (state_key, hits, updated_at) VALUES (?, '', ?) \
                    ON DUPLICATE KEY UPDATE state_key = state_key RETURNING hits";

/// `?` hits, `?` newest hit, `?` key.
const STORE: &str =
    "UPDATE {s}.fullauth_rate_limits SET hits = ?, updated_at = ? WHERE state_key = ?";

/// Parses a `hits` value: Unix microseconds, comma-separated.
fn parse_hits(hits: &str) -> StoreResult<Vec<i64>> {
    hits.split(',')
        .filter(|t| !t.is_empty())
        .map(|t| {
            t.parse::<i64>().map_err(|e| {
                StoreError::backend("a stored rate-limit hit is not a number of microseconds", e)
            })
        })
        .collect()
}

/// Formats a `hits` value (the inverse of [`parse_hits`]).
fn format_hits(hits: &[i64]) -> String {
    let mut out = String::with_capacity(hits.len() * 17);
    for (i, t) in hits.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(&t.to_string());
    }
    out
}

/// Records one request when under the limit. Four round trips when the
/// request is allowed (`BEGIN`, the locking `INSERT … ON DUPLICATE KEY
/// UPDATE … RETURNING hits`, the `UPDATE`, `COMMIT`); three when it is
/// refused and no hit left the window (no `UPDATE`).
pub(crate) async fn hit(
    h: Handle<'_>,
    key: &StateKey,
    policy: RateLimitPolicy,
) -> StoreResult<RateLimitDecision> {
    policy.validate()?;
    let limit = usize::try_from(policy.limit).unwrap_or(usize::MAX);
    let (now, allowed, live) = run!(h, Retry::IfNotApplied, atomic = true, |c| async move {
        let now = h.ctx.now();
        let cutoff = now.checked_sub(policy.window)?.unix_micros();
        let stored: String = sqlx::query_scalar(h.ctx.sql(LOCK))
            .bind(key.as_str())
            .bind(now.to_datetime())
            .fetch_one(&mut *c)
            .await?;
        let stored = parse_hits(&stored)?;
        let mut live: Vec<i64> = stored.iter().copied().filter(|&t| t > cutoff).collect();
        live.sort_unstable();
        let dropped = live.len() != stored.len();
        let allowed = live.len() < limit;
        if allowed {
            live.push(now.unix_micros());
        }
        if allowed || dropped {
            let newest = match live.last() {
                Some(&t) => Timestamp::from_unix_micros(t)?,
                None => now,
            };
            sqlx::query(h.ctx.sql(STORE))
                .bind(format_hits(&live))
                .bind(newest.to_datetime())
                .bind(key.as_str())
                .execute(&mut *c)
                .await?;
        }
        Ok((now, allowed, live))
    })?;
    let used = u32::try_from(live.len()).unwrap_or(policy.limit);
    let retry_after = if allowed {
        Duration::ZERO
    } else {
        match live.first() {
            Some(&t) => now.until(Timestamp::from_unix_micros(t)?.checked_add(policy.window)?),
            None => policy.window,
        }
    };
    Ok(RateLimitDecision {
        allowed,
        remaining: policy.limit.saturating_sub(used),
        retry_after,
    })
}

/// `?` key.
const RESET: &str = "DELETE FROM {s}.fullauth_rate_limits WHERE state_key = ?";

/// Forgets every request of the key: one round trip.
pub(crate) async fn reset_rate_limit(h: Handle<'_>, key: &StateKey) -> StoreResult<()> {
    run!(h, Retry::Idempotent, atomic = false, |c| async move {
        sqlx::query(h.ctx.sql(RESET))
            .bind(key.as_str())
            .execute(c)
            .await?;
        Ok(())
    })
}
