//! One-time challenges ([`Feature::Challenges`](fullauth_api::Feature::Challenges)).

use std::collections::HashMap;
use std::time::Duration;

use fullauth_api::{StateKey, StoreResult, Text, Timestamp};

use crate::store::Handle;

/// Challenge values with their deadlines.
#[derive(Debug, Default)]
pub(crate) struct Challenges {
    entries: HashMap<StateKey, (Text, Timestamp)>,
}

impl Challenges {
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

/// Stores `value` until `now + ttl`, replacing any previous value; a zero TTL
/// only removes the previous value.
pub(crate) async fn put_challenge(
    h: Handle<'_>,
    key: &StateKey,
    value: &Text,
    ttl: Duration,
) -> StoreResult<()> {
    h.short(|s, now| {
        if ttl.is_zero() {
            s.challenges.entries.remove(key);
        } else {
            let entry = (value.clone(), now + ttl);
            s.challenges.entries.insert(key.clone(), entry);
        }
        Ok(())
    })
    .await
}

/// Removes the value and returns it unless it has expired (deadline at or
/// before now).
pub(crate) async fn take_challenge(h: Handle<'_>, key: &StateKey) -> StoreResult<Option<Text>> {
    h.short(|s, now| {
        Ok(s.challenges
            .entries
            .remove(key)
            .and_then(|(value, deadline)| (now < deadline).then_some(value)))
    })
    .await
}
