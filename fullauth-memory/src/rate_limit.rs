//! Sliding-window rate limits ([`Feature::RateLimit`](fullauth_api::Feature::RateLimit)).

use std::collections::{HashMap, VecDeque};
use std::time::Duration;

use fullauth_api::{RateLimitDecision, RateLimitPolicy, StateKey, StoreResult, Timestamp};

use crate::store::Handle;

/// The allowed requests of one key, oldest first, and the last window used.
#[derive(Debug)]
struct Window {
    hits: VecDeque<Timestamp>,
    window: Duration,
}

/// Sliding windows by key.
#[derive(Debug, Default)]
pub(crate) struct RateLimits {
    keys: HashMap<StateKey, Window>,
}

impl RateLimits {
    /// How many keys are held (expired ones included until swept).
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.keys.len()
    }

    /// Drops every key whose requests have all left its window.
    pub(crate) fn sweep(&mut self, now: Timestamp) {
        self.keys
            .retain(|_, w| w.hits.back().is_some_and(|t| *t > now - w.window));
    }
}

/// Records one request if allowed; see [`fullauth_api::RateLimitStore::hit`].
pub(crate) async fn hit(
    h: Handle<'_>,
    key: &StateKey,
    policy: RateLimitPolicy,
) -> StoreResult<RateLimitDecision> {
    h.short(|s, now| {
        policy.validate()?;
        let w = s
            .rate_limits
            .keys
            .entry(key.clone())
            .or_insert_with(|| Window {
                hits: VecDeque::new(),
                window: policy.window,
            });
        w.window = policy.window;
        let cutoff = now - policy.window;
        while w.hits.front().is_some_and(|t| *t <= cutoff) {
            w.hits.pop_front();
        }
        let used = u32::try_from(w.hits.len()).unwrap_or(u32::MAX);
        if used >= policy.limit {
            let retry_after = w
                .hits
                .front()
                .map(|oldest| now.until(*oldest + policy.window))
                .unwrap_or(Duration::ZERO);
            return Ok(RateLimitDecision {
                allowed: false,
                remaining: 0,
                retry_after,
            });
        }
        w.hits.push_back(now);
        Ok(RateLimitDecision {
            allowed: true,
            remaining: policy.limit - used - 1,
            retry_after: Duration::ZERO,
        })
    })
    .await
}

/// Forgets every request recorded for the key.
pub(crate) async fn reset_rate_limit(h: Handle<'_>, key: &StateKey) -> StoreResult<()> {
    h.short(|s, _| {
        s.rate_limits.keys.remove(key);
        Ok(())
    })
    .await
}
