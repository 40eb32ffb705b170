//! Token blacklist ([`Feature::Blacklist`](fullauth_api::Feature::Blacklist)).

use std::collections::HashMap;
use std::time::Duration;

use fullauth_api::{StateKey, StoreResult, Timestamp, ttl_seconds};

use crate::store::Handle;

/// Blacklisted keys with their deadlines.
#[derive(Debug, Default)]
pub(crate) struct Blacklist {
    entries: HashMap<StateKey, Timestamp>,
}

impl Blacklist {
    /// True while `key` is blacklisted: an entry is expired once `now` reaches
    /// its deadline (and is then evicted).
    fn contains(&mut self, now: Timestamp, key: &StateKey) -> bool {
        match self.entries.get(key) {
            Some(deadline) if now < *deadline => true,
            Some(_) => {
                self.entries.remove(key);
                false
            }
            None => false,
        }
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

/// Blacklists `key` for `ttl` rounded up to whole seconds (at least one),
/// replacing any previous deadline.
pub(crate) async fn blacklist(h: Handle<'_>, key: &StateKey, ttl: Duration) -> StoreResult<()> {
    h.short(|s, now| {
        let deadline = now + Duration::from_secs(ttl_seconds(ttl));
        s.blacklist.entries.insert(key.clone(), deadline);
        Ok(())
    })
    .await
}

/// True while `key` is blacklisted.
pub(crate) async fn is_blacklisted(h: Handle<'_>, key: &StateKey) -> StoreResult<bool> {
    h.short(|s, now| Ok(s.blacklist.contains(now, key))).await
}

/// True when any of `keys` is blacklisted.
pub(crate) async fn any_blacklisted(h: Handle<'_>, keys: &[StateKey]) -> StoreResult<bool> {
    h.short(|s, now| {
        // Every key is checked (no short circuit) so expired entries are evicted.
        let mut found = false;
        for k in keys {
            found |= s.blacklist.contains(now, k);
        }
        Ok(found)
    })
    .await
}
