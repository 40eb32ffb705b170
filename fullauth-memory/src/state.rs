//! The durable state, the per-store context, and the lock helpers.
//!
//! [`State`] holds one copy-on-write table per feature. Cloning it (what a
//! transaction does when it begins) clones seven `Arc`s; a table is copied only
//! when a transaction first writes to it ([`Arc::make_mut`]). Outside a
//! transaction the committed tables are the only owners, so writing to them
//! copies nothing.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard, RwLock, RwLockReadGuard, RwLockWriteGuard};

use fullauth_api::Clock;
use fullauth_api::{ExtraFields, Feature, Features, StoreError, StoreResult, Timestamp};
use serde_json::Value;

use crate::mfa::Mfa;
use crate::oauth::OAuth;
use crate::passkeys::Passkeys;
use crate::permissions::Permissions;
use crate::roles::Roles;
use crate::tokens::Tokens;
use crate::users::Users;

/// Every durable table.
#[derive(Clone, Default)]
pub(crate) struct State {
    /// `fullauth_users`.
    pub(crate) users: Arc<Users>,
    /// `fullauth_refresh_tokens`.
    pub(crate) tokens: Arc<Tokens>,
    /// `fullauth_roles` and `fullauth_user_roles`.
    pub(crate) roles: Arc<Roles>,
    /// `fullauth_permissions` and `fullauth_role_permissions`.
    pub(crate) permissions: Arc<Permissions>,
    /// `fullauth_oauth_accounts`.
    pub(crate) oauth: Arc<OAuth>,
    /// `fullauth_passkeys`.
    pub(crate) passkeys: Arc<Passkeys>,
    /// `fullauth_mfa`.
    pub(crate) mfa: Arc<Mfa>,
}

impl std::fmt::Debug for State {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("State { .. }")
    }
}

/// What every operation of one store may consult: its configuration and clock.
#[derive(Debug)]
pub(crate) struct Ctx {
    /// The features served.
    pub(crate) features: Features,
    /// Where "now" comes from.
    pub(crate) clock: Clock,
    /// The application columns of `fullauth_users` with their defaults.
    pub(crate) columns: BTreeMap<String, Value>,
}

impl Ctx {
    /// The current time of the store's clock.
    pub(crate) fn now(&self) -> Timestamp {
        self.clock.now()
    }

    /// `Ok` when `feature` is served, [`StoreError::FeatureDisabled`] otherwise.
    pub(crate) fn require(&self, feature: Feature) -> StoreResult<()> {
        if self.features.contains(feature) {
            Ok(())
        } else {
            Err(StoreError::feature_disabled(feature))
        }
    }

    /// [`StoreError::UnknownField`] for the first name of `extra` that is not a
    /// declared application column.
    pub(crate) fn check_columns(&self, extra: &ExtraFields) -> StoreResult<()> {
        match extra.names().find(|n| !self.columns.contains_key(*n)) {
            Some(name) => Err(unknown_column(name)),
            None => Ok(()),
        }
    }

    /// Every declared column with its default, overlaid with `given`.
    pub(crate) fn extra_with_defaults(&self, given: &ExtraFields) -> ExtraFields {
        let mut out = ExtraFields::new();
        for (name, default) in &self.columns {
            let value = given.get(name).unwrap_or(default).clone();
            out.insert_stored(name.clone(), value);
        }
        out
    }
}

/// The error for a user column the table does not have.
pub(crate) fn unknown_column(name: &str) -> StoreError {
    StoreError::UnknownField {
        field: name.to_string(),
    }
}

/// Locks a std mutex, ignoring poisoning: every critical section of this crate
/// either completes its writes or makes none (no operation panics half-way),
/// so the data behind a poisoned lock is still consistent.
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Shares a std read-write lock, ignoring poisoning (see [`lock`]).
pub(crate) fn read_lock<T>(m: &RwLock<T>) -> RwLockReadGuard<'_, T> {
    m.read().unwrap_or_else(|p| p.into_inner())
}

/// Takes a std read-write lock exclusively, ignoring poisoning (see [`lock`]).
pub(crate) fn write_lock<T>(m: &RwLock<T>) -> RwLockWriteGuard<'_, T> {
    m.write().unwrap_or_else(|p| p.into_inner())
}

/// How often the short-lived maps are swept of expired entries (on the next
/// write after this much store time has passed).
const SWEEP_EVERY: std::time::Duration = std::time::Duration::from_secs(60);

/// The short-lived state: not transactional, never persisted.
#[derive(Debug, Default)]
pub(crate) struct ShortLived {
    /// Blacklisted keys.
    pub(crate) blacklist: crate::blacklist::Blacklist,
    /// Lockout counters.
    pub(crate) lockouts: crate::lockout::Lockouts,
    /// Rate-limit windows.
    pub(crate) rate_limits: crate::rate_limit::RateLimits,
    /// One-time challenges.
    pub(crate) challenges: crate::challenges::Challenges,
    /// When the maps were last swept.
    last_sweep: Option<Timestamp>,
}

impl ShortLived {
    /// Drops expired entries of every map, at most once per [`SWEEP_EVERY`]
    /// of store time, so memory stays bounded by the live entries.
    pub(crate) fn maybe_sweep(&mut self, now: Timestamp) {
        match self.last_sweep {
            Some(last) if now < last + SWEEP_EVERY && now >= last => {}
            _ => {
                self.blacklist.sweep(now);
                self.lockouts.sweep(now);
                self.rate_limits.sweep(now);
                self.challenges.sweep(now);
                self.last_sweep = Some(now);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use fullauth_api::{LockoutPolicy, RateLimitPolicy, StateKey, Text};

    use super::*;

    #[test]
    fn sweeping_drops_only_expired_entries() {
        let t0 = Timestamp::now();
        let key = |s: &str| StateKey::new(s).unwrap();
        let mut s = ShortLived::default();
        s.maybe_sweep(t0);
        s.blacklist.add(t0, &key("short"), Duration::from_secs(1));
        s.blacklist.add(t0, &key("long"), Duration::from_secs(600));
        s.challenges.put(
            t0,
            &key("c"),
            &Text::new("v").unwrap(),
            Duration::from_secs(1),
        );
        let lockout = LockoutPolicy {
            max_attempts: 5,
            duration: Duration::from_secs(1),
        };
        s.lockouts.record_failure(t0, &key("l"), lockout);
        let rate = RateLimitPolicy {
            limit: 5,
            window: Duration::from_secs(1),
        };
        s.rate_limits.hit(t0, &key("r"), rate);

        // Within a minute of the last sweep nothing is swept.
        let t1 = t0 + Duration::from_secs(30);
        s.maybe_sweep(t1);
        assert_eq!(s.blacklist.len(), 2);
        let t2 = t0 + Duration::from_secs(61);
        s.maybe_sweep(t2);
        assert_eq!(s.blacklist.len(), 1);
        assert!(s.blacklist.contains(t2, &key("long")));
        assert_eq!(s.challenges.len(), 0);
        assert_eq!(s.lockouts.len(), 0);
        assert_eq!(s.rate_limits.len(), 0);
    }
}
