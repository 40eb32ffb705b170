//! What the shared conformance suite cannot see: expiry at the exact
//! deadline (the suite moves clocks past deadlines with slack, so that it
//! holds on backends with real clocks), the sweeps that bound memory, and
//! the copy-on-write discipline of transactions (a table is copied only
//! when a transaction changes it).

use std::sync::Arc;
use std::time::Duration;

use fullauth_api::{
    BlacklistStore, ChallengeStore, Clock, LockoutOutcome, LockoutPolicy, LockoutStore, MfaStore,
    NewUser, RateLimitPolicy, RateLimitStore, RoleName, RoleStore, StateKey, Text, Timestamp,
    UserStore,
};

use crate::state::{ShortLived, State, lock, read_lock};
use crate::transaction::MemoryTransaction;
use crate::{ColumnType, MemoryStore};

fn key(s: &str) -> StateKey {
    StateKey::new(s).unwrap()
}

/// A store on a manual clock, and the clock.
fn store() -> (MemoryStore, Clock) {
    let clock = Clock::manual(Timestamp::now());
    let store = MemoryStore::builder().clock(clock.clone()).build().unwrap();
    (store, clock)
}

fn held(store: &MemoryStore, f: fn(&ShortLived) -> usize) -> usize {
    f(&lock(&store.shared.short))
}

const TEN: Duration = Duration::from_secs(10);

#[tokio::test]
async fn short_lived_entries_expire_at_their_exact_deadline() {
    let (store, clock) = store();
    store.blacklist(&key("jti"), TEN).await.unwrap();
    let value = Text::new("v").unwrap();
    store.put_challenge(&key("c"), &value, TEN).await.unwrap();
    let lock_at_once = LockoutPolicy {
        max_attempts: 1,
        duration: TEN,
    };
    for k in ["l", "l2"] {
        let first = store.record_failure(&key(k), lock_at_once).await.unwrap();
        assert!(matches!(first, LockoutOutcome::Locked { .. }), "{first:?}");
    }

    clock.advance(TEN - Duration::from_micros(1)).await;
    assert!(store.is_blacklisted(&key("jti")).await.unwrap());
    assert!(store.is_locked(&key("l")).await.unwrap());

    clock.advance(Duration::from_micros(1)).await;
    assert!(!store.is_blacklisted(&key("jti")).await.unwrap());
    assert_eq!(store.take_challenge(&key("c")).await.unwrap(), None);
    assert!(!store.is_locked(&key("l")).await.unwrap());
    // The lock has ended, so the next failure counts (and locks) again
    // (on a key is_locked has not evicted).
    let again = store
        .record_failure(&key("l2"), lock_at_once)
        .await
        .unwrap();
    assert!(matches!(again, LockoutOutcome::Locked { .. }), "{again:?}");
}

#[tokio::test]
async fn is_locked_evicts_a_key_whose_failures_are_forgotten() {
    let (store, clock) = store();
    let policy = LockoutPolicy {
        max_attempts: 5,
        duration: TEN,
    };
    store.record_failure(&key("l"), policy).await.unwrap();
    assert_eq!(held(&store, |s| s.lockouts.len()), 1);
    // Past the failure window, within the sweep interval: only is_locked
    // can drop the entry.
    clock.advance(TEN + Duration::from_secs(1)).await;
    assert!(!store.is_locked(&key("l")).await.unwrap());
    assert_eq!(held(&store, |s| s.lockouts.len()), 0);
}

#[tokio::test]
async fn the_sweep_runs_each_minute_and_drops_entries_at_their_deadline() {
    let (store, clock) = store();
    let minute = Duration::from_secs(60);
    let value = Text::new("v").unwrap();
    // Every entry below ends exactly one minute from now, when the next
    // sweep is due, except the two noted.
    store.blacklist(&key("b"), minute).await.unwrap();
    store
        .put_challenge(&key("c"), &value, minute)
        .await
        .unwrap();
    let counted = LockoutPolicy {
        max_attempts: 5,
        duration: minute,
    };
    store.record_failure(&key("failed"), counted).await.unwrap();
    let locks = LockoutPolicy {
        max_attempts: 1,
        duration: minute,
    };
    store.record_failure(&key("locked"), locks).await.unwrap();
    // Locked for half a minute: over before the sweep.
    let short_lock = LockoutPolicy {
        max_attempts: 1,
        duration: minute / 2,
    };
    store
        .record_failure(&key("was-locked"), short_lock)
        .await
        .unwrap();
    // Failures remembered for two minutes: kept by the sweep.
    let long = LockoutPolicy {
        max_attempts: 5,
        duration: minute * 2,
    };
    store.record_failure(&key("kept"), long).await.unwrap();
    let rate = RateLimitPolicy {
        limit: 5,
        window: minute,
    };
    store.hit(&key("r"), rate).await.unwrap();

    clock.advance(minute).await;
    // Any short-lived call sweeps first, when a minute has passed.
    assert!(!store.is_blacklisted(&key("unrelated")).await.unwrap());
    assert_eq!(held(&store, |s| s.blacklist.len()), 0);
    assert_eq!(held(&store, |s| s.challenges.len()), 0);
    assert_eq!(held(&store, |s| s.rate_limits.len()), 0);
    assert_eq!(
        held(&store, |s| s.lockouts.len()),
        1,
        "only the failures remembered for two minutes stay"
    );
    let next = store.record_failure(&key("kept"), long).await.unwrap();
    assert_eq!(next, LockoutOutcome::Counted { attempts: 2 });
}

/// A transaction of the store that the test can look into.
async fn transaction(store: &MemoryStore) -> MemoryTransaction {
    let writer = store.shared.writer.clone().lock_owned().await;
    let snapshot = read_lock(&store.shared.committed).clone();
    MemoryTransaction::new(store.shared.clone(), snapshot, writer)
}

/// The tables of `tx` that are still shared with the committed state (not
/// copied), by name.
fn shared_tables(store: &MemoryStore, tx: &MemoryTransaction) -> Vec<&'static str> {
    let committed = read_lock(&store.shared.committed);
    let mine = tx.state();
    let pairs: [(&str, bool); 7] = [
        ("users", Arc::ptr_eq(&mine.users, &committed.users)),
        ("tokens", Arc::ptr_eq(&mine.tokens, &committed.tokens)),
        ("roles", Arc::ptr_eq(&mine.roles, &committed.roles)),
        (
            "permissions",
            Arc::ptr_eq(&mine.permissions, &committed.permissions),
        ),
        ("oauth", Arc::ptr_eq(&mine.oauth, &committed.oauth)),
        ("passkeys", Arc::ptr_eq(&mine.passkeys, &committed.passkeys)),
        ("mfa", Arc::ptr_eq(&mine.mfa, &committed.mfa)),
    ];
    pairs
        .into_iter()
        .filter(|(_, shared)| *shared)
        .map(|(name, _)| name)
        .collect()
}

#[tokio::test]
async fn a_transaction_copies_only_the_tables_it_changes() {
    let (store, _) = store();
    let user = store
        .create_user(NewUser::new("lonely@example.test").unwrap())
        .await
        .unwrap();
    let role = RoleName::new("bare").unwrap();
    store.create_role(&role).await.unwrap();

    let tx = transaction(&store).await;
    // Nothing to confirm or delete: the MFA table stays shared.
    assert!(!tx.confirm_mfa(&user.id, &[]).await.unwrap());
    assert!(!tx.delete_mfa(&user.id).await.unwrap());
    assert_eq!(shared_tables(&store, &tx).len(), 7);
    // A user with no tokens, roles, links, passkeys or factor: only the
    // user table is copied.
    assert!(tx.delete_user(&user.id).await.unwrap());
    assert_eq!(
        shared_tables(&store, &tx),
        ["tokens", "roles", "permissions", "oauth", "passkeys", "mfa"]
    );
    // A role with no permissions: the permission table stays shared.
    assert!(tx.delete_role(&role).await.unwrap());
    assert_eq!(
        shared_tables(&store, &tx),
        ["tokens", "permissions", "oauth", "passkeys", "mfa"]
    );
}

#[test]
fn the_debug_form_of_a_store_leaves_the_tables_out() {
    assert_eq!(format!("{:?}", State::default()), "State { .. }");
    let shown = format!("{:?}", MemoryStore::new());
    assert!(shown.contains("State { .. }"), "{shown}");
}

#[test]
fn column_types_name_themselves_as_sql_does() {
    let names: Vec<String> = [
        ColumnType::Any,
        ColumnType::Text,
        ColumnType::Boolean,
        ColumnType::Integer,
    ]
    .iter()
    .map(ToString::to_string)
    .collect();
    assert_eq!(names, ["untyped", "TEXT", "BOOLEAN", "INTEGER"]);
}
