// conformance-group: requires = [Lockout]
//! Lockout counters: counting, locking, not extending a lock, clearing, the
//! lock's and the count's expiry, policy validation and key isolation.
//!
//! Time-dependent cases use durations of one or two seconds so they hold on a
//! manual clock and on the system clock of a Redis or SQL backend alike.

use std::time::Duration;

use fullauth_api::{LockoutOutcome, LockoutPolicy, StateKey, StoreError, Timestamp};

use super::*;
use crate::CaseResult;

/// How far apart two timestamps that name the same instant may be, to allow
/// for backends that keep lock deadlines in whole seconds or milliseconds.
const TOLERANCE: Duration = Duration::from_secs(1);

/// How far past a duration of `secs` seconds the clock moves before expiry
/// is asserted.
fn past(secs: u64) -> Duration {
    Duration::from_secs(secs) + Duration::from_millis(1100)
}

/// A policy of `max_attempts` failures and `secs` seconds.
fn policy(max_attempts: u32, secs: u64) -> LockoutPolicy {
    LockoutPolicy {
        max_attempts,
        duration: Duration::from_secs(secs),
    }
}

/// The distance between two instants, whichever comes first.
fn distance(a: Timestamp, b: Timestamp) -> Duration {
    a.until(b).max(b.until(a))
}

/// A key with exactly this text (callers add a random tag for isolation).
fn raw_key(text: impl Into<String>) -> Result<StateKey, StoreError> {
    StateKey::new(text)
}

/// Failures 1..M−1 are Counted with their number, the M-th is Locked until
/// now + duration, and the next is AlreadyLocked with the same deadline.
pub async fn counts_then_locks_then_already_locked(s: Subject) -> CaseResult {
    let k = key("login");
    let p = policy(3, 60);
    assert_eq!(
        s.store.record_failure(&k, p).await?,
        LockoutOutcome::Counted { attempts: 1 }
    );
    assert_eq!(
        s.store.record_failure(&k, p).await?,
        LockoutOutcome::Counted { attempts: 2 }
    );
    let before = s.clock.now();
    let locked = s.store.record_failure(&k, p).await?;
    let after = s.clock.now();
    let LockoutOutcome::Locked { until } = locked else {
        panic!("the third failure of three must lock, got {locked:?}");
    };
    assert!(
        until + TOLERANCE >= before + p.duration && until <= after + p.duration + TOLERANCE,
        "the lock must end `duration` after the locking failure: {until} vs {before}..{after} + 60 s"
    );
    match s.store.record_failure(&k, p).await? {
        LockoutOutcome::AlreadyLocked { until: again } => assert!(
            distance(again, until) <= TOLERANCE,
            "AlreadyLocked reports the same deadline: {again} vs {until}"
        ),
        other => panic!("a failure on a locked key must be AlreadyLocked, got {other:?}"),
    }
    Ok(())
}

/// A failure on a locked key does not extend the lock.
pub async fn already_locked_does_not_extend(s: Subject) -> CaseResult {
    let k = key("login");
    let p = policy(1, 60);
    let LockoutOutcome::Locked { until } = s.store.record_failure(&k, p).await? else {
        panic!("max_attempts 1 locks on the first failure");
    };
    s.clock.advance(past(1)).await;
    match s.store.record_failure(&k, p).await? {
        LockoutOutcome::AlreadyLocked { until: again } => assert!(
            distance(again, until) <= TOLERANCE,
            "the lock was extended from {until} to {again}"
        ),
        other => panic!("expected AlreadyLocked, got {other:?}"),
    }
    Ok(())
}

/// is_locked is false for a fresh key and below the threshold, true once
/// the threshold is reached.
pub async fn is_locked_follows_the_threshold(s: Subject) -> CaseResult {
    let k = key("login");
    let p = policy(3, 60);
    assert!(!s.store.is_locked(&k).await?, "a fresh key is not locked");
    s.store.record_failure(&k, p).await?;
    s.store.record_failure(&k, p).await?;
    assert!(
        !s.store.is_locked(&k).await?,
        "two of three failures do not lock"
    );
    assert!(s.store.record_failure(&k, p).await?.is_locked());
    assert!(s.store.is_locked(&k).await?, "the third failure locks");
    Ok(())
}

/// clear_lockout lifts a lock and the next failure counts from 1.
pub async fn clear_lifts_lock_and_resets_count(s: Subject) -> CaseResult {
    let k = key("login");
    let p = policy(2, 60);
    s.store.record_failure(&k, p).await?;
    assert!(s.store.record_failure(&k, p).await?.is_locked());
    s.store.clear_lockout(&k).await?;
    assert!(!s.store.is_locked(&k).await?, "clear lifts the lock");
    assert_eq!(
        s.store.record_failure(&k, p).await?,
        LockoutOutcome::Counted { attempts: 1 },
        "after clear the count starts again"
    );
    Ok(())
}

/// clear_lockout forgets failures counted below the threshold.
pub async fn clear_forgets_failures(s: Subject) -> CaseResult {
    let k = key("login");
    let p = policy(3, 60);
    s.store.record_failure(&k, p).await?;
    s.store.record_failure(&k, p).await?;
    s.store.clear_lockout(&k).await?;
    assert_eq!(
        s.store.record_failure(&k, p).await?,
        LockoutOutcome::Counted { attempts: 1 }
    );
    assert_eq!(
        s.store.record_failure(&k, p).await?,
        LockoutOutcome::Counted { attempts: 2 },
        "two failures after clear do not reach a threshold of three"
    );
    Ok(())
}

/// clear_lockout of a key with no failures succeeds and changes nothing.
pub async fn clear_unknown_key_is_ok(s: Subject) -> CaseResult {
    let k = key("login");
    s.store.clear_lockout(&k).await?;
    s.store.clear_lockout(&k).await?;
    assert!(!s.store.is_locked(&k).await?);
    Ok(())
}

/// A lock ends after its duration; the next failure starts a fresh count.
pub async fn lock_expires_after_duration(s: Subject) -> CaseResult {
    let k = key("login");
    let p = policy(1, 1);
    assert!(matches!(
        s.store.record_failure(&k, p).await?,
        LockoutOutcome::Locked { .. }
    ));
    assert!(s.store.is_locked(&k).await?, "locked right after locking");
    s.clock.advance(past(1)).await;
    assert!(
        !s.store.is_locked(&k).await?,
        "a one-second lock is over after 2.1 s"
    );
    let next = s.store.record_failure(&k, p).await?;
    assert!(
        matches!(next, LockoutOutcome::Locked { .. }),
        "after the lock ends a failure locks anew, got {next:?}"
    );
    Ok(())
}

/// The failure count is forgotten `duration` after the last failure.
pub async fn failures_forgotten_after_duration(s: Subject) -> CaseResult {
    let k = key("login");
    let p = policy(3, 1);
    s.store.record_failure(&k, p).await?;
    s.store.record_failure(&k, p).await?;
    s.clock.advance(past(1)).await;
    assert_eq!(
        s.store.record_failure(&k, p).await?,
        LockoutOutcome::Counted { attempts: 1 },
        "failures older than `duration` since the last one are forgotten"
    );
    assert!(!s.store.is_locked(&k).await?);
    Ok(())
}

/// The count lives `duration` after the *last* failure: failures with
/// shorter gaps keep adding up even when the first is older than `duration`.
pub async fn failures_remembered_while_gaps_are_short(s: Subject) -> CaseResult {
    let k = key("login");
    let p = policy(10, 2);
    let step = Duration::from_millis(1200);
    assert_eq!(
        s.store.record_failure(&k, p).await?,
        LockoutOutcome::Counted { attempts: 1 }
    );
    s.clock.advance(step).await;
    assert_eq!(
        s.store.record_failure(&k, p).await?,
        LockoutOutcome::Counted { attempts: 2 }
    );
    s.clock.advance(step).await;
    assert_eq!(
        s.store.record_failure(&k, p).await?,
        LockoutOutcome::Counted { attempts: 3 },
        "the count is forgotten `duration` after the last failure, not per failure"
    );
    Ok(())
}

/// Failures while locked are not counted: after the lock ends the count
/// starts from 1.
pub async fn failures_while_locked_are_not_counted(s: Subject) -> CaseResult {
    let k = key("login");
    let p = policy(2, 2);
    let step = Duration::from_millis(1200);
    s.store.record_failure(&k, p).await?;
    assert!(matches!(
        s.store.record_failure(&k, p).await?,
        LockoutOutcome::Locked { .. }
    ));
    s.clock.advance(step).await;
    assert!(matches!(
        s.store.record_failure(&k, p).await?,
        LockoutOutcome::AlreadyLocked { .. }
    ));
    s.clock.advance(step).await;
    assert!(!s.store.is_locked(&k).await?, "the 2 s lock is over");
    assert_eq!(
        s.store.record_failure(&k, p).await?,
        LockoutOutcome::Counted { attempts: 1 },
        "neither the locking failure nor the one during the lock may count"
    );
    Ok(())
}

/// max_attempts 0 is InvalidInput `max_attempts`, and nothing is recorded.
pub async fn invalid_max_attempts_refused(s: Subject) -> CaseResult {
    let k = key("login");
    assert_invalid(
        s.store.record_failure(&k, policy(0, 60)).await,
        "max_attempts",
    );
    assert!(!s.store.is_locked(&k).await?);
    assert_eq!(
        s.store.record_failure(&k, policy(2, 60)).await?,
        LockoutOutcome::Counted { attempts: 1 },
        "the refused call recorded nothing"
    );
    Ok(())
}

/// A duration under one second is InvalidInput `duration`, and nothing is
/// recorded.
pub async fn invalid_duration_refused(s: Subject) -> CaseResult {
    let k = key("login");
    for d in [Duration::ZERO, Duration::from_millis(999)] {
        let p = LockoutPolicy {
            max_attempts: 1,
            duration: d,
        };
        assert_invalid(s.store.record_failure(&k, p).await, "duration");
    }
    assert!(
        !s.store.is_locked(&k).await?,
        "a refused failure cannot lock"
    );
    assert_eq!(
        s.store.record_failure(&k, policy(2, 60)).await?,
        LockoutOutcome::Counted { attempts: 1 }
    );
    Ok(())
}

/// Keys are independent and matched exactly (`abc` and `abcd` are two keys).
pub async fn keys_are_independent(s: Subject) -> CaseResult {
    let base = format!("user-{}@example.test", tag());
    let a = raw_key(base.clone())?;
    let b = raw_key(format!("{base}d"))?;
    let upper = raw_key(base.to_uppercase())?;
    assert!(s.store.record_failure(&a, policy(1, 60)).await?.is_locked());
    assert!(s.store.is_locked(&a).await?);
    for other in [&b, &upper] {
        assert!(
            !s.store.is_locked(other).await?,
            "{other:?} is a different key"
        );
        assert_eq!(
            s.store.record_failure(other, policy(3, 60)).await?,
            LockoutOutcome::Counted { attempts: 1 }
        );
    }
    s.store.clear_lockout(&b).await?;
    assert!(
        s.store.is_locked(&a).await?,
        "clearing another key left this lock"
    );
    Ok(())
}

/// Hostile keys (quotes, emoji, glob characters) are counted verbatim and
/// never match other keys.
pub async fn hostile_keys_are_exact(s: Subject) -> CaseResult {
    let t = tag();
    let star = raw_key(format!("*{t}"))?;
    let plain = raw_key(format!("x{t}"))?;
    let quoted = raw_key(format!("o'brien \"🦀\" [a-z]?{{}} {t}"))?;
    assert!(
        s.store
            .record_failure(&star, policy(1, 60))
            .await?
            .is_locked()
    );
    assert!(s.store.is_locked(&star).await?);
    assert!(
        !s.store.is_locked(&plain).await?,
        "`*` in a key is not a pattern"
    );
    assert_eq!(
        s.store.record_failure(&quoted, policy(2, 60)).await?,
        LockoutOutcome::Counted { attempts: 1 }
    );
    let second = s.store.record_failure(&quoted, policy(2, 60)).await?;
    assert!(
        matches!(second, LockoutOutcome::Locked { .. }),
        "the second failure of two on the quoted key locks it, got {second:?}"
    );
    assert!(s.store.is_locked(&quoted).await?);
    Ok(())
}
