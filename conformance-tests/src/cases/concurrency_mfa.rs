// conformance-group: requires = [Mfa]
//! Races on MFA: the TOTP counter compare-and-set and recovery codes.

use fullauth_api::{MfaSecret, TokenDigest, UserId};

use super::*;
use crate::CaseResult;

/// Creates a user with a confirmed factor holding `codes`.
async fn enrolled(s: &Subject, codes: &[TokenDigest]) -> Result<UserId, crate::CaseError> {
    let u = some_user(s).await?;
    s.store
        .store_mfa(&u, &MfaSecret::new("JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP")?)
        .await?;
    assert!(s.store.confirm_mfa(&u, codes).await?);
    Ok(u)
}

/// Of N concurrent advances to one counter value exactly one wins, and the
/// counter ends at that value.
pub async fn counter_same_value_one_winner(s: Subject) -> CaseResult {
    let id = enrolled(&s, &[]).await?;
    let results = race(RACERS, |_| {
        let st = s.store.clone();
        {
        let value = id.clone();
        async move { st.advance_mfa_counter(&value, 57_000_000).await }
        }
    })
    .await;
    let results: Vec<bool> = results.into_iter().collect::<Result<_, _>>()?;
    assert_eq!(
        results.iter().filter(|w| **w).count(),
        1,
        "a TOTP step is accepted once: {results:?}"
    );
    let f = s.store.get_mfa(&id).await?.expect("the factor exists");
    assert_eq!(f.last_counter, 57_000_000);
    Ok(())
}

/// Concurrent advances to distinct steps: the largest always wins and ends
/// stored.
pub async fn counter_distinct_values_max_wins(s: Subject) -> CaseResult {
    let id = enrolled(&s, &[]).await?;
    let results = race(RACERS, |i| {
        let st = s.store.clone();
        {
        let value = id.clone();
        async move { st.advance_mfa_counter(&value, 1000 + i as u32).await }
        }
    })
    .await;
    let results: Vec<bool> = results.into_iter().collect::<Result<_, _>>()?;
    assert!(results[RACERS - 1], "the largest step can never be stale");
    let f = s.store.get_mfa(&id).await?.expect("the factor exists");
    assert_eq!(f.last_counter, 1000 + RACERS as u32 - 1);
    Ok(())
}

/// Of N concurrent consumptions of one recovery code exactly one succeeds;
/// the other codes stay.
pub async fn recovery_code_one_winner(s: Subject) -> CaseResult {
    let codes: Vec<TokenDigest> = (0..3).map(|_| digest()).collect();
    let id = enrolled(&s, &codes).await?;
    let target = codes[1].clone();
    let results = race(RACERS, |_| {
        let st = s.store.clone();
        let c = target.clone();
        {
        let value = id.clone();
        async move { st.consume_recovery_code(&value, &c).await }
        }
    })
    .await;
    let results: Vec<bool> = results.into_iter().collect::<Result<_, _>>()?;
    assert_eq!(
        results.iter().filter(|w| **w).count(),
        1,
        "a recovery code is used once: {results:?}"
    );
    let f = s.store.get_mfa(&id).await?.expect("the factor exists");
    assert!(!f.recovery_codes.contains(&target));
    assert!(f.recovery_codes.contains(&codes[0]) && f.recovery_codes.contains(&codes[2]));
    assert_eq!(f.recovery_codes.len(), 2);
    Ok(())
}

/// Concurrent consumptions of different codes lose none: each code has
/// exactly one winner and all end consumed.
pub async fn distinct_recovery_codes_each_one_winner(s: Subject) -> CaseResult {
    const CODES: usize = 8;
    let codes: Vec<TokenDigest> = (0..CODES).map(|_| digest()).collect();
    let id = enrolled(&s, &codes).await?;
    let results = race(RACERS, |i| {
        let st = s.store.clone();
        let c = codes[i % CODES].clone();
        {
        let value = id.clone();
        async move { st.consume_recovery_code(&value, &c).await }
        }
    })
    .await;
    let results: Vec<bool> = results.into_iter().collect::<Result<_, _>>()?;
    for (c, code) in codes.iter().enumerate() {
        let wins = (0..RACERS)
            .filter(|i| i % CODES == c && results[*i])
            .count();
        assert_eq!(wins, 1, "code {c} ({code:?}) must be consumed exactly once");
    }
    let f = s.store.get_mfa(&id).await?.expect("the factor exists");
    assert!(f.recovery_codes.is_empty(), "every code was consumed");
    Ok(())
}
