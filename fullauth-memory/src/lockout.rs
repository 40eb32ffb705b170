//! Login lockout counters ([`Feature::Lockout`](fullauth_api::Feature::Lockout)).

use std::collections::HashMap;

use fullauth_api::{LockoutOutcome, LockoutPolicy, StateKey, StoreResult, Timestamp};

use crate::store::Handle;

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

/// Records one failure; see [`fullauth_api::LockoutStore::record_failure`].
pub(crate) async fn record_failure(
    h: Handle<'_>,
    key: &StateKey,
    policy: LockoutPolicy,
) -> StoreResult<LockoutOutcome> {
    h.short(|s, now| {
        policy.validate()?;
        // Kept as given: timestamps hold microseconds.
        let duration = policy.duration;
        let entry = s.lockouts.entries.entry(key.clone()).or_insert(Entry {
            failures: 0,
            failures_until: now,
            locked_until: None,
        });
        if let Some(until) = entry.locked_until {
            if now < until {
                return Ok(LockoutOutcome::AlreadyLocked { until });
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
            Ok(LockoutOutcome::Locked { until })
        } else {
            Ok(LockoutOutcome::Counted {
                attempts: entry.failures,
            })
        }
    })
    .await
}

/// True while the key is locked (a key that is neither locked nor
/// remembering failures is evicted).
pub(crate) async fn is_locked(h: Handle<'_>, key: &StateKey) -> StoreResult<bool> {
    h.short(|s, now| {
        let Some(entry) = s.lockouts.entries.get(key) else {
            return Ok(false);
        };
        let locked = entry.locked_until.is_some_and(|until| now < until);
        if !locked && now >= entry.failures_until {
            s.lockouts.entries.remove(key);
        }
        Ok(locked)
    })
    .await
}

/// Forgets the failures and lifts the lock.
pub(crate) async fn clear_lockout(h: Handle<'_>, key: &StateKey) -> StoreResult<()> {
    h.short(|s, _| {
        s.lockouts.entries.remove(key);
        Ok(())
    })
    .await
}
