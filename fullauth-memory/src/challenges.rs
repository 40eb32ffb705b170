//! One-time challenges ([`Feature::Challenges`](fullauth_api::Feature::Challenges)).

use std::collections::HashMap;
use std::time::Duration;

use fullauth_api::{StateKey, Text, Timestamp};

/// Challenge values with their deadlines.
#[derive(Debug, Default)]
pub(crate) struct Challenges {
    entries: HashMap<StateKey, (Text, Timestamp)>,
}

impl Challenges {
    /// Stores `value` until `now + ttl`, replacing any previous value; a zero
    /// TTL only removes the previous value.
    pub(crate) fn put(&mut self, now: Timestamp, key: &StateKey, value: &Text, ttl: Duration) {
        if ttl.is_zero() {
            self.entries.remove(key);
        } else {
            self.entries.insert(key.clone(), (value.clone(), now + ttl));
        }
    }

    /// Removes the value and returns it unless it has expired (deadline at or
    /// before `now`).
    pub(crate) fn take(&mut self, now: Timestamp, key: &StateKey) -> Option<Text> {
        self.entries
            .remove(key)
            .and_then(|(value, deadline)| (now < deadline).then_some(value))
    }

    /// How many keys are held (expired ones included until swept).
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }

    /// Drops every expired entry.
    pub(crate) fn sweep(&mut self, now: Timestamp) {
        self.entries.retain(|_, (_, deadline)| now < *deadline);
    }
}
