//! `fullauth_rate_limits` (UNLOGGED): sliding-window rate limits
//! ([`fullauth_api::RateLimitStore`]).
//!
//! One row per key holds the times of the allowed requests still inside the
//! window (at most `limit` of them). One `INSERT … ON CONFLICT DO UPDATE`
//! drops the times that left the window, appends now when fewer than
//! `limit` remain, and says whether it did: the row lock serialises
//! concurrent hits on a key, so exactly `limit` of N concurrent hits on a
//! fresh key are allowed.

use std::time::Duration;

use fullauth_api::{RateLimitDecision, RateLimitPolicy, StateKey, StoreResult, Timestamp};
use time::OffsetDateTime;

use crate::error::Retry;
use crate::handle::{Handle, run};

/// `$1` key, `$2` now, `$3` now − window (times at or before it have left
/// the window), `$4` limit.
const HIT: &str = "\
INSERT INTO {s}.fullauth_rate_limits AS r (key, hits, allowed) VALUES ($1, ARRAY[$2::timestamptz], true) \
ON CONFLICT (key) DO UPDATE SET \
  hits = CASE \
    WHEN cardinality(ARRAY(SELECT t FROM unnest(r.hits) AS t WHERE t > $3)) < $4 \
      THEN ARRAY(SELECT t FROM unnest(r.hits) AS t WHERE t > $3 ORDER BY t) || $2::timestamptz \
    ELSE ARRAY(SELECT t FROM unnest(r.hits) AS t WHERE t > $3 ORDER BY t) END, \
  allowed = cardinality(ARRAY(SELECT t FROM unnest(r.hits) AS t WHERE t > $3)) < $4 \
RETURNING allowed, cardinality(hits), hits[1]";

pub(crate) async fn hit(
    h: Handle<'_>,
    key: &StateKey,
    policy: RateLimitPolicy,
) -> StoreResult<RateLimitDecision> {
    policy.validate()?;
    let limit = i32::try_from(policy.limit).unwrap_or(i32::MAX);
    let (now, (allowed, count, oldest)) =
        run!(h, Retry::IfNotApplied, savepoint = false, |c| async move {
            let now = h.ctx.now();
            let row: (bool, i32, Option<OffsetDateTime>) = sqlx::query_as(h.ctx.sql(HIT))
                .persistent(h.ctx.persistent())
                .bind(key.as_str())
                .bind(now.to_datetime())
                .bind(now.checked_sub(policy.window)?.to_datetime())
                .bind(limit)
                .fetch_one(c)
                .await?;
            Ok((now, row))
        })?;
    let used = u32::try_from(count).unwrap_or(policy.limit);
    let retry_after = if allowed {
        Duration::ZERO
    } else {
        oldest
            .map(Timestamp::from_datetime)
            .map_or(policy.window, |t| now.until(t + policy.window))
    };
    Ok(RateLimitDecision {
        allowed,
        remaining: policy.limit.saturating_sub(used),
        retry_after,
    })
}

const RESET: &str = "DELETE FROM {s}.fullauth_rate_limits WHERE key = $1";

pub(crate) async fn reset_rate_limit(h: Handle<'_>, key: &StateKey) -> StoreResult<()> {
    run!(h, Retry::Idempotent, savepoint = false, |c| async move {
        sqlx::query(h.ctx.sql(RESET))
            .persistent(h.ctx.persistent())
            .bind(key.as_str())
            .execute(c)
            .await?;
        Ok(())
    })
}
