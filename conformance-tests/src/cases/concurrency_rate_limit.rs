// conformance-group: requires = [RateLimit]
//! Races on rate limits.

use std::collections::BTreeSet;
use std::time::Duration;

use fullauth_api::{RateLimitDecision, RateLimitPolicy};

use super::*;
use crate::CaseResult;

/// N concurrent hits with a limit of 10: exactly 10 allowed (with the
/// distinct remainders 9..0), the rest refused with remaining 0.
pub async fn hits_allow_exactly_limit(s: Subject) -> CaseResult {
    let k = key("ip");
    let p = RateLimitPolicy {
        limit: 10,
        window: Duration::from_secs(60),
    };
    let results = race(RACERS, |_| {
        let st = s.store.clone();
        let k = k.clone();
        async move { st.hit(&k, p).await }
    })
    .await;
    let results: Vec<RateLimitDecision> = results.into_iter().collect::<Result<_, _>>()?;
    let allowed: Vec<&RateLimitDecision> = results.iter().filter(|d| d.allowed).collect();
    assert_eq!(
        allowed.len(),
        10,
        "exactly the limit is allowed: {results:?}"
    );
    let remaining: BTreeSet<u32> = allowed.iter().map(|d| d.remaining).collect();
    assert_eq!(
        remaining,
        (0..10).collect(),
        "each allowed hit saw its own remainder"
    );
    for d in results.iter().filter(|d| !d.allowed) {
        assert_eq!(d.remaining, 0);
        assert!(
            d.retry_after > Duration::ZERO && d.retry_after <= p.window,
            "{d:?}"
        );
    }
    assert!(
        !s.store.hit(&k, p).await?.allowed,
        "refused hits were not recorded, the limit stays reached"
    );
    Ok(())
}

/// N concurrent hits under a limit above N are all allowed and recorded.
pub async fn hits_recorded_without_loss(s: Subject) -> CaseResult {
    let k = key("ip");
    let p = RateLimitPolicy {
        limit: 40,
        window: Duration::from_secs(60),
    };
    let results = race(RACERS, |_| {
        let st = s.store.clone();
        let k = k.clone();
        async move { st.hit(&k, p).await }
    })
    .await;
    let results: Vec<RateLimitDecision> = results.into_iter().collect::<Result<_, _>>()?;
    assert!(results.iter().all(|d| d.allowed));
    let remaining: BTreeSet<u32> = results.iter().map(|d| d.remaining).collect();
    assert_eq!(remaining, (8..40).collect());
    let d = s.store.hit(&k, p).await?;
    assert!(d.allowed);
    assert_eq!(d.remaining, 7, "all 32 concurrent hits were recorded");
    Ok(())
}
