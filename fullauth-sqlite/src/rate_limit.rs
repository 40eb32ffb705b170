//! Sliding-window rate limits (`fullauth_rate_limit`, an addition of this
//! crate): one row per allowed request.
//!
//! A hit forgets the key's requests at or before `now - window`, counts the
//! rest and records itself only when under the limit — all on the single
//! writer, so N concurrent hits on a fresh key allow exactly `limit`.

use fullauth_api::{RateLimitDecision, RateLimitPolicy, StateKey, StoreResult};
use rusqlite::params;

use crate::codec::{Db, parse_ts, ts};
use crate::ephemeral::maybe_purge;
use crate::pool::Handle;

pub(crate) async fn hit(
    h: &Handle,
    key: &StateKey,
    policy: RateLimitPolicy,
) -> StoreResult<RateLimitDecision> {
    policy.validate()?;
    let now = h.now();
    let cutoff = ts(now - policy.window);
    let k = key.as_str().to_owned();
    let h2 = h.clone();
    h.write(move |c| {
        c.prepare_cached("DELETE FROM fullauth_rate_limit WHERE state_key = ?1 AND hit_at <= ?2")
            .db()?
            .execute(params![k, cutoff])
            .db()?;
        let (count, oldest): (i64, Option<String>) = c
            .prepare_cached(
                "SELECT COUNT(*), MIN(hit_at) FROM fullauth_rate_limit WHERE state_key = ?1",
            )
            .db()?
            .query_row([&k], |r| Ok((r.get(0)?, r.get(1)?)))
            .db()?;
        let count = u32::try_from(count).unwrap_or(u32::MAX);
        let decision = if count < policy.limit {
            c.prepare_cached(
                "INSERT INTO fullauth_rate_limit (state_key, hit_at, expires_at) VALUES (?1, ?2, ?3)",
            )
            .db()?
            .execute(params![k, ts(now), ts(now + policy.window)])
            .db()?;
            RateLimitDecision {
                allowed: true,
                remaining: policy.limit - count - 1,
                retry_after: std::time::Duration::ZERO,
            }
        } else {
            let retry_after = match oldest.as_deref().map(parse_ts).transpose()? {
                Some(oldest) => now.until(oldest + policy.window),
                None => policy.window,
            };
            RateLimitDecision {
                allowed: false,
                remaining: 0,
                retry_after,
            }
        };
        maybe_purge(&h2, c, now)?;
        Ok(decision)
    })
    .await
}

pub(crate) async fn reset_rate_limit(h: &Handle, key: &StateKey) -> StoreResult<()> {
    let k = key.as_str().to_owned();
    h.write(move |c| {
        c.prepare_cached("DELETE FROM fullauth_rate_limit WHERE state_key = ?1")
            .db()?
            .execute([k])
            .db()?;
        Ok(())
    })
    .await
}
