//! Login lockout counters ([`Feature::Lockout`](fullauth_api::Feature::Lockout)).

use std::collections::HashMap;

use fullauth_api::{LockoutOutcome, LockoutPolicy, StateKey, Timestamp};

/// The state of one key.
#[derive(Debug, Clone, Copy)]
struct Entry {
    /// Failures counted since the last lock (or reset).
    failures: u32,
    /// When the count is forgotten: `duration` after the last failure.
    failures_until: Timestamp,
    /// When the current lock ends, if locked.
    locked_until: Option<Timestamp>,
}

/// Lockout state by key.
#[derive(Debug, Default)]
pub(crate) struct Lockouts {
    entries: HashMap<StateKey, Entry>,
}

impl Lockouts {
    /// Records one failure; see [`fullauth_api::LockoutStore::record_failure`].
    /// The policy must have been validated.
    pub(crate) fn record_failure(
        &mut self,
        now: Timestamp,
        key: &StateKey,
        policy: LockoutPolicy,
    ) -> LockoutOutcome {
        // Kept as given: timestamps hold microseconds.
        let duration = policy.duration;
        let entry = self.entries.entry(key.clone()).or_insert(Entry {
            failures: 0,
            failures_until: now,
            locked_until: None,
        });
        if let Some(until) = entry.locked_until {
            if now < until {
                return LockoutOutcome::AlreadyLocked { until };
            }
            entry.locked_until = None;
        }
        if now >= entry.failures_until {
            entry.failures = 0;
        }
        entry.failures = entry.failures.saturating_add(1);
        entry.failures_until = now + duration;
        if entry.failures >= policy.max_attempts {
            let until = now + duration;
            entry.failures = 0;
            entry.locked_until = Some(until);
            LockoutOutcome::Locked { until }
        } else {
            LockoutOutcome::Counted {
                attempts: entry.failures,
            }
        }
    }

    /// True while the key is locked.
    pub(crate) fn is_locked(&mut self, now: Timestamp, key: &StateKey) -> bool {
        let Some(entry) = self.entries.get(key) else {
            return false;
        };
        let locked = entry.locked_until.is_some_and(|until| now < until);
        if !locked && now >= entry.failures_until {
            self.entries.remove(key);
        }
        locked
    }

    /// Forgets the key.
    pub(crate) fn clear(&mut self, key: &StateKey) {
        self.entries.remove(key);
    }

    /// How many keys are held (expired ones included until swept).
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }

    /// Drops every key that is neither locked nor remembering failures.
    pub(crate) fn sweep(&mut self, now: Timestamp) {
        self.entries.retain(|_, e| {
            e.locked_until.is_some_and(|until| now < until) || now < e.failures_until
        });
    }
}
