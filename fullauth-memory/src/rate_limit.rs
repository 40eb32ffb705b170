//! Sliding-window rate limits ([`Feature::RateLimit`](fullauth_api::Feature::RateLimit)).

use std::collections::{HashMap, VecDeque};
use std::time::Duration;

use fullauth_api::{RateLimitDecision, RateLimitPolicy, StateKey, Timestamp};

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
    /// Records one request if allowed; see [`fullauth_api::RateLimitStore::hit`].
    /// The policy must have been validated.
    pub(crate) fn hit(
        &mut self,
        now: Timestamp,
        key: &StateKey,
        policy: RateLimitPolicy,
    ) -> RateLimitDecision {
        let w = self.keys.entry(key.clone()).or_insert_with(|| Window {
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
            return RateLimitDecision {
                allowed: false,
                remaining: 0,
                retry_after,
            };
        }
        w.hits.push_back(now);
        RateLimitDecision {
            allowed: true,
            remaining: policy.limit - used - 1,
            retry_after: Duration::ZERO,
        }
    }

    /// Forgets the key.
    pub(crate) fn reset(&mut self, key: &StateKey) {
        self.keys.remove(key);
    }

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
