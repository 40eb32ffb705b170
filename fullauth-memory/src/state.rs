//! The durable state, the short-lived state, the per-store context, and the
//! lock helpers.
//!
//! [`State`] holds one copy-on-write table per feature. Cloning it (what a
//! transaction does when it begins) clones seven `Arc`s; a table is cloned
//! only when a transaction first writes to it ([`Arc::make_mut`]), and its
//! maps are persistent ([`Map`], [`Set`]), so that clone shares every entry
//! and the write copies only the path to what it changes: O(log n), however
//! large the table. Outside a transaction the committed tables are the only
//! owners, so writing to them clones nothing.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard, RwLock, RwLockReadGuard, RwLockWriteGuard};

use fullauth_api::Clock;
use fullauth_api::{ExtraFields, Feature, Features, StoreError, StoreResult, Timestamp, UserId};
use serde_json::Value;

use crate::columns::Column;
use crate::mfa::Mfa;
use crate::oauth::OAuth;
use crate::passkeys::Passkeys;
use crate::permissions::Permissions;
use crate::roles::Roles;
use crate::tokens::Tokens;
use crate::users::Users;

/// The map of a durable table: persistent (a clone shares the structure,
/// and a write copies only the path to what it changes), so a transaction's
/// first write to a table costs O(log n), not a copy of the table.
pub(crate) type Map<K, V> = imbl::HashMap<K, V>;
/// The set of a durable table's index (persistent, as [`Map`]).
pub(crate) type Set<T> = imbl::OrdSet<T>;

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
    /// The application columns of `fullauth_users`, by name.
    pub(crate) columns: BTreeMap<String, Column>,
    /// How users are keyed.
    pub(crate) user_id_type: fullauth_api::UserIdType,
}

impl Ctx {
    /// The current time of the store's clock.
    pub(crate) fn now(&self) -> Timestamp {
        self.clock.now()
    }

    /// True when a user with this id exists. A store that does not serve
    /// [`Feature::Core`] keeps no users (they live in the application's own
    /// table), so there every id is taken as existing.
    pub(crate) fn user_exists(&self, st: &State, id: &UserId) -> bool {
        !self.features.contains(Feature::Core) || st.users.exists(id)
    }

    /// `value` converted to the type of application column `name`.
    ///
    /// Errors: [`StoreError::UnknownField`] for a column that was not
    /// declared; [`StoreError::Backend`] for a value its type refuses (as a
    /// database refuses it).
    pub(crate) fn column_value(&self, name: &str, value: &Value) -> StoreResult<Value> {
        let column = self
            .columns
            .get(name)
            .ok_or_else(|| StoreError::unknown_field(name))?;
        column.ty.convert(value).ok_or_else(|| {
            StoreError::backend_message(format!(
                "column `{name}` is {}: it cannot hold {value}",
                column.ty
            ))
        })
    }

    /// `extra` with every value converted to its column's type (see
    /// [`column_value`](Self::column_value) for the errors). An undeclared
    /// column is reported before any value is converted, as a database
    /// refuses an unknown column before it reads a value.
    pub(crate) fn typed_extra(&self, extra: &ExtraFields) -> StoreResult<ExtraFields> {
        if let Some(name) = extra.names().find(|n| !self.columns.contains_key(*n)) {
            return Err(StoreError::unknown_field(name));
        }
        let mut out = ExtraFields::new();
        for (name, value) in extra.iter() {
            out.insert_stored(name.clone(), self.column_value(name, value)?);
        }
        Ok(out)
    }

    /// Every declared column with its default, overlaid with `given` (already
    /// converted by [`typed_extra`](Self::typed_extra)).
    pub(crate) fn extra_with_defaults(&self, given: &ExtraFields) -> ExtraFields {
        let mut out = ExtraFields::new();
        for (name, column) in &self.columns {
            let value = given.get(name).unwrap_or(&column.default).clone();
            out.insert_stored(name.clone(), value);
        }
        out
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

    use fullauth_api::{
        BlacklistStore, ChallengeStore, Clock, LockoutPolicy, LockoutStore, RateLimitPolicy,
        RateLimitStore, StateKey, Text,
    };

    use super::*;
    use crate::MemoryStore;

    #[tokio::test]
    async fn sweeping_drops_only_expired_entries() {
        let clock = Clock::manual(Timestamp::now());
        let store = MemoryStore::builder().clock(clock.clone()).build().unwrap();
        let key = |s: &str| StateKey::new(s).unwrap();
        let second = Duration::from_secs(1);
        store.blacklist(&key("short"), second).await.unwrap();
        store
            .blacklist(&key("long"), Duration::from_secs(600))
            .await
            .unwrap();
        let value = Text::new("v").unwrap();
        store
            .put_challenge(&key("c"), &value, second)
            .await
            .unwrap();
        let lockout = LockoutPolicy {
            max_attempts: 5,
            duration: second,
        };
        store.record_failure(&key("l"), lockout).await.unwrap();
        let rate = RateLimitPolicy {
            limit: 5,
            window: second,
        };
        store.hit(&key("r"), rate).await.unwrap();
        let held = |f: fn(&ShortLived) -> usize| f(&lock(&store.shared.short));

        // Within a minute of the last sweep nothing is swept.
        clock.advance(Duration::from_secs(30)).await;
        assert!(!store.is_locked(&key("other")).await.unwrap());
        assert_eq!(held(|s| s.blacklist.len()), 2);
        assert_eq!(held(|s| s.challenges.len()), 1);
        clock.advance(Duration::from_secs(31)).await;
        assert!(!store.is_locked(&key("other")).await.unwrap());
        assert_eq!(held(|s| s.blacklist.len()), 1);
        assert!(store.is_blacklisted(&key("long")).await.unwrap());
        assert_eq!(held(|s| s.challenges.len()), 0);
        assert_eq!(held(|s| s.lockouts.len()), 0);
        assert_eq!(held(|s| s.rate_limits.len()), 0);
    }
}
