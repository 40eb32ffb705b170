//! Token blacklist ([`Feature::Blacklist`](fullauth_api::Feature::Blacklist)).

use std::collections::HashMap;
use std::time::Duration;

use fullauth_api::{StateKey, Timestamp, ttl_seconds};

/// Blacklisted keys with their deadlines.
#[derive(Debug, Default)]
pub(crate) struct Blacklist {
    entries: HashMap<StateKey, Timestamp>,
}

impl Blacklist {
    /// Blacklists `key` for `ttl` rounded up to whole seconds (at least one),
    /// replacing any previous deadline.
    pub(crate) fn add(&mut self, now: Timestamp, key: &StateKey, ttl: Duration) {
        let deadline = now + Duration::from_secs(ttl_seconds(ttl));
        self.entries.insert(key.clone(), deadline);
    }

    /// True while `key` is blacklisted: an entry is expired once `now` reaches
    /// its deadline (and is then evicted).
    pub(crate) fn contains(&mut self, now: Timestamp, key: &StateKey) -> bool {
        match self.entries.get(key) {
            Some(deadline) if now < *deadline => true,
            Some(_) => {
                self.entries.remove(key);
                false
            }
            None => false,
        }
    }

    /// True when any key is blacklisted.
    pub(crate) fn contains_any(&mut self, now: Timestamp, keys: &[StateKey]) -> bool {
        // Every key is checked (no short circuit) so expired entries are evicted.
        let mut found = false;
        for k in keys {
            found |= self.contains(now, k);
        }
        found
    }

    /// How many keys are held (expired ones included until swept).
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }

    /// Drops every expired entry.
    pub(crate) fn sweep(&mut self, now: Timestamp) {
        self.entries.retain(|_, deadline| now < *deadline);
    }
}
