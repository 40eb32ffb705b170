// conformance-group: requires = [Blacklist]
//! Races on the blacklist.

use std::time::Duration;

use fullauth_api::StateKey;

use super::*;
use crate::CaseResult;

/// Concurrent adds of distinct keys are all kept, and each task reads its
/// own add back at once.
pub async fn concurrent_adds_all_kept(s: Subject) -> CaseResult {
    let keys: Vec<StateKey> = (0..RACERS).map(|_| key("jti")).collect();
    let results = race(RACERS, |i| {
        let st = s.store.clone();
        let k = keys[i].clone();
        async move {
            st.blacklist(&k, Duration::from_secs(60)).await?;
            st.is_blacklisted(&k).await
        }
    })
    .await;
    let results: Vec<bool> = results.into_iter().collect::<Result<_, _>>()?;
    assert!(
        results.iter().all(|b| *b),
        "each task reads its add back: {results:?}"
    );
    for k in &keys {
        assert!(s.store.is_blacklisted(k).await?, "{k:?} was lost");
    }
    assert!(s.store.any_blacklisted(&keys).await?);
    Ok(())
}

/// Concurrent adds of one key with checks interleaved: every check after a
/// task's own add is true, and the key ends blacklisted.
pub async fn concurrent_adds_and_checks_of_one_key(s: Subject) -> CaseResult {
    let k = key("family");
    let others: Vec<StateKey> = (0..4).map(|_| key("jti")).collect();
    let results = race(RACERS, |i| {
        let st = s.store.clone();
        let k = k.clone();
        let mut batch = others.clone();
        batch.push(k.clone());
        async move {
            st.blacklist(&k, Duration::from_secs(30 + i as u64)).await?;
            Ok::<_, fullauth_api::StoreError>(
                st.is_blacklisted(&k).await? && st.any_blacklisted(&batch).await?,
            )
        }
    })
    .await;
    let results: Vec<bool> = results.into_iter().collect::<Result<_, _>>()?;
    assert!(results.iter().all(|b| *b), "{results:?}");
    assert!(s.store.is_blacklisted(&k).await?);
    assert!(
        !s.store.any_blacklisted(&others).await?,
        "only the added key is blacklisted"
    );
    Ok(())
}
