// conformance-group: requires = [Challenges]
//! Races on one-time challenges.

use std::time::Duration;

use fullauth_api::{StateKey, Text};

use super::*;
use crate::CaseResult;

/// Of N concurrent takes of one challenge exactly one gets the value.
pub async fn take_one_winner(s: Subject) -> CaseResult {
    let k = key("passkey:auth");
    let v = Text::new(format!("challenge-{}", tag()))?;
    s.store
        .put_challenge(&k, &v, Duration::from_secs(60))
        .await?;
    let results = race(RACERS, |_| {
        let st = s.store.clone();
        let k = k.clone();
        async move { st.take_challenge(&k).await }
    })
    .await;
    let results: Vec<Option<Text>> = results.into_iter().collect::<Result<_, _>>()?;
    let got: Vec<&Text> = results.iter().flatten().collect();
    assert_eq!(got.len(), 1, "exactly one take gets the challenge");
    assert_eq!(got[0], &v);
    assert_eq!(s.store.take_challenge(&k).await?, None);
    Ok(())
}

/// N concurrent puts to one key leave exactly one whole value, taken once.
pub async fn concurrent_puts_leave_one_value(s: Subject) -> CaseResult {
    let k = key("passkey:reg");
    let values: Vec<Text> = (0..RACERS)
        .map(|i| Text::new(format!("value-{i}-{}", "x".repeat(i * 64))))
        .collect::<Result<_, _>>()?;
    let results = race(RACERS, |i| {
        let st = s.store.clone();
        let (k, v) = (k.clone(), values[i].clone());
        async move { st.put_challenge(&k, &v, Duration::from_secs(60)).await }
    })
    .await;
    for r in results {
        r?;
    }
    let got = s
        .store
        .take_challenge(&k)
        .await?
        .expect("one value is stored");
    assert!(
        values.contains(&got),
        "the stored value is one of the puts, whole"
    );
    assert_eq!(s.store.take_challenge(&k).await?, None);
    Ok(())
}

/// Concurrent put-then-take on distinct keys: every task gets its own value.
pub async fn distinct_keys_do_not_cross(s: Subject) -> CaseResult {
    let keys: Vec<StateKey> = (0..RACERS).map(|_| key("passkey:auth")).collect();
    let results = race(RACERS, |i| {
        let st = s.store.clone();
        let k = keys[i].clone();
        async move {
            let v = Text::new(format!("own-{i}"))?;
            st.put_challenge(&k, &v, Duration::from_secs(60)).await?;
            Ok::<_, fullauth_api::StoreError>((v.clone(), st.take_challenge(&k).await?))
        }
    })
    .await;
    for r in results {
        let (v, got) = r?;
        assert_eq!(got, Some(v));
    }
    Ok(())
}
