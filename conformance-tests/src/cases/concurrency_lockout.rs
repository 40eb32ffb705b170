// conformance-group: requires = [Lockout]
//! Races on lockout counters.

use std::collections::BTreeSet;
use std::time::Duration;

use fullauth_api::{LockoutOutcome, LockoutPolicy};

use super::*;
use crate::CaseResult;

/// N concurrent failures with a threshold of 5: exactly 4 Counted (with the
/// distinct counts 1..4), one Locked, the rest AlreadyLocked.
pub async fn failures_lock_exactly_once(s: Subject) -> CaseResult {
    let k = key("login");
    let p = LockoutPolicy {
        max_attempts: 5,
        duration: Duration::from_secs(60),
    };
    let results = race(RACERS, |_| {
        let st = s.store.clone();
        let k = k.clone();
        async move { st.record_failure(&k, p).await }
    })
    .await;
    let results: Vec<LockoutOutcome> = results.into_iter().collect::<Result<_, _>>()?;
    let counted: BTreeSet<u32> = results
        .iter()
        .filter_map(|r| match r {
            LockoutOutcome::Counted { attempts } => Some(*attempts),
            _ => None,
        })
        .collect();
    let n_counted = results
        .iter()
        .filter(|r| matches!(r, LockoutOutcome::Counted { .. }))
        .count();
    let locked = results
        .iter()
        .filter(|r| matches!(r, LockoutOutcome::Locked { .. }))
        .count();
    let already = results
        .iter()
        .filter(|r| matches!(r, LockoutOutcome::AlreadyLocked { .. }))
        .count();
    assert_eq!(n_counted, 4, "four failures counted: {results:?}");
    assert_eq!(counted, (1..=4).collect(), "with distinct counts 1..4");
    assert_eq!(locked, 1, "one failure locks");
    assert_eq!(already, RACERS - 5, "the rest find the key locked");
    assert!(s.store.is_locked(&k).await?);
    Ok(())
}

/// N concurrent failures under a threshold above N are all counted, with
/// the distinct counts 1..N, and the next failure is N+1.
pub async fn failures_counted_without_loss(s: Subject) -> CaseResult {
    let k = key("login");
    let p = LockoutPolicy {
        max_attempts: 40,
        duration: Duration::from_secs(60),
    };
    let results = race(RACERS, |_| {
        let st = s.store.clone();
        let k = k.clone();
        async move { st.record_failure(&k, p).await }
    })
    .await;
    let mut counts = Vec::with_capacity(RACERS);
    for r in results {
        match r? {
            LockoutOutcome::Counted { attempts } => counts.push(attempts),
            other => panic!("below the threshold every failure is Counted, got {other:?}"),
        }
    }
    counts.sort_unstable();
    assert_eq!(counts, (1..=RACERS as u32).collect::<Vec<_>>());
    assert_eq!(
        s.store.record_failure(&k, p).await?,
        LockoutOutcome::Counted {
            attempts: RACERS as u32 + 1
        }
    );
    assert!(!s.store.is_locked(&k).await?);
    Ok(())
}
