// conformance-group: requires = [Mfa]
//! TOTP factors: enrolment and its restart, confirmation, the counter
//! compare-and-set, single-use recovery codes, deletion, races.

use std::time::Duration;

use fullauth_api::{MAX_COUNTER, MfaFactor, MfaSecret, UserId};

use super::*;
use crate::{CaseError, CaseResult};

/// A fresh base32 TOTP secret (32 characters of `A–Z2–7`).
fn secret() -> Result<MfaSecret, StoreError> {
    const ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let bytes = uuid::Uuid::new_v4().into_bytes();
    let more = uuid::Uuid::new_v4().into_bytes();
    let s: String = bytes
        .iter()
        .chain(more.iter())
        .map(|b| char::from(ALPHABET[usize::from(b % 32)]))
        .collect();
    MfaSecret::new(s)
}

/// True for any [`StoreError::InvalidInput`].
fn is_invalid<T>(r: &Result<T, StoreError>) -> bool {
    matches!(r, Err(StoreError::InvalidInput { .. }))
}

/// The user's factor, which must exist.
async fn factor(s: &Subject, user_id: &UserId) -> Result<MfaFactor, CaseError> {
    s.store
        .get_mfa(user_id)
        .await?
        .ok_or_else(|| CaseError::Failed(format!("user {user_id} has no MFA factor")))
}

/// Reference 33: none → stored unconfirmed with its secret → confirmed with codes `[a, b]` → deleted → none.
pub async fn mfa_credential_lifecycle(s: Subject) -> CaseResult {
    let u = some_user(&s).await?;
    assert!(s.store.get_mfa(&u).await?.is_none());
    let sec = secret()?;
    let stored = s.store.store_mfa(&u, &sec).await?;
    let got = factor(&s, &u).await?;
    assert_eq!(got, stored);
    assert_eq!(got.secret, sec);
    assert!(!got.is_confirmed());
    let (a, b) = (digest(), digest());
    assert!(s.store.confirm_mfa(&u, &[a.clone(), b.clone()]).await?);
    let got = factor(&s, &u).await?;
    assert!(got.is_confirmed());
    assert_eq!(got.recovery_codes, vec![a, b]);
    assert!(s.store.delete_mfa(&u).await?);
    assert!(s.store.get_mfa(&u).await?.is_none());
    Ok(())
}

/// A new factor is unconfirmed, has counter 0, no codes, created_at from the clock and the user's id.
pub async fn store_mfa_returns_fresh_factor(s: Subject) -> CaseResult {
    let u = some_user(&s).await?;
    let sec = secret()?;
    let before = s.clock.now();
    let f = s.store.store_mfa(&u, &sec).await?;
    let after = s.clock.now();
    assert_eq!(f.user_id, u);
    assert_eq!(f.secret, sec);
    assert_eq!(f.confirmed_at, None);
    assert_eq!(f.last_counter, 0);
    assert!(f.recovery_codes.is_empty());
    assert!(
        before <= f.created_at && f.created_at <= after,
        "created_at {} not within [{before}, {after}]",
        f.created_at
    );
    Ok(())
}

/// Reference 34: a second store_mfa replaces the factor: new id and secret, unconfirmed, counter 0, codes cleared.
pub async fn enrollment_can_be_restarted(s: Subject) -> CaseResult {
    let u = some_user(&s).await?;
    let first = s.store.store_mfa(&u, &secret()?).await?;
    assert!(s.store.confirm_mfa(&u, &[digest(), digest()]).await?);
    assert!(s.store.advance_mfa_counter(&u, 1000).await?);
    let second_secret = secret()?;
    let second = s.store.store_mfa(&u, &second_secret).await?;
    assert_ne!(second.id, first.id, "a replaced factor is a new row");
    assert_eq!(second.secret, second_secret);
    assert_eq!(
        second.confirmed_at, None,
        "the new enrolment is unconfirmed"
    );
    assert_eq!(second.last_counter, 0, "the counter starts again");
    assert!(second.recovery_codes.is_empty(), "the old codes are gone");
    assert_eq!(factor(&s, &u).await?, second);
    Ok(())
}

/// store_mfa for an unknown user is NotFound User and stores nothing.
pub async fn store_mfa_unknown_user_not_found(s: Subject) -> CaseResult {
    let ghost = ghost_user(&s);
    let res = s.store.store_mfa(&ghost, &secret()?).await;
    assert!(
        res.as_ref()
            .is_err_and(|e| e.is_not_found(fullauth_api::Entity::User)),
        "got {res:?}"
    );
    assert!(s.store.get_mfa(&ghost).await?.is_none());
    Ok(())
}

/// confirm_mfa without a factor answers false and creates none.
pub async fn confirm_without_factor_false(s: Subject) -> CaseResult {
    let u = some_user(&s).await?;
    assert!(!s.store.confirm_mfa(&u, &[digest()]).await?);
    assert!(s.store.get_mfa(&u).await?.is_none());
    assert!(!s.store.confirm_mfa(&ghost_user(&s), &[]).await?);
    Ok(())
}

/// confirm_mfa sets confirmed_at to now and a second confirmation replaces the codes.
pub async fn confirm_replaces_codes(s: Subject) -> CaseResult {
    let u = some_user(&s).await?;
    s.store.store_mfa(&u, &secret()?).await?;
    let before = s.clock.now();
    assert!(s.store.confirm_mfa(&u, &[digest(), digest()]).await?);
    let after = s.clock.now();
    let first = factor(&s, &u).await?;
    let at = first
        .confirmed_at
        .ok_or_else(|| CaseError::Failed("confirmed_at is None after confirm".into()))?;
    assert!(
        before <= at && at <= after,
        "confirmed_at {at} not within [{before}, {after}]"
    );
    let c = digest();
    assert!(s.store.confirm_mfa(&u, std::slice::from_ref(&c)).await?);
    let second = factor(&s, &u).await?;
    assert_eq!(
        second.recovery_codes,
        vec![c],
        "codes are replaced, not added"
    );
    assert!(second.is_confirmed());
    assert_eq!(
        (second.id, &second.secret),
        (first.id, &first.secret),
        "confirming keeps the factor"
    );
    Ok(())
}

/// Confirming with no recovery codes confirms the factor with an empty list.
pub async fn confirm_with_no_codes(s: Subject) -> CaseResult {
    let u = some_user(&s).await?;
    s.store.store_mfa(&u, &secret()?).await?;
    assert!(s.store.confirm_mfa(&u, &[]).await?);
    let f = factor(&s, &u).await?;
    assert!(f.is_confirmed());
    assert!(f.recovery_codes.is_empty());
    assert!(!s.store.consume_recovery_code(&u, &digest()).await?);
    Ok(())
}

/// Reference 35: the counter only moves forward: 100 true, 100 false, 99 false, 101 true; 101 stored.
pub async fn counter_only_moves_forward(s: Subject) -> CaseResult {
    let u = some_user(&s).await?;
    s.store.store_mfa(&u, &secret()?).await?;
    assert!(s.store.advance_mfa_counter(&u, 100).await?);
    assert!(!s.store.advance_mfa_counter(&u, 100).await?);
    assert!(!s.store.advance_mfa_counter(&u, 99).await?);
    assert!(s.store.advance_mfa_counter(&u, 101).await?);
    assert_eq!(factor(&s, &u).await?.last_counter, 101);
    Ok(())
}

/// Advancing to 0 on a new factor (counter 0) is not strictly greater: false.
pub async fn counter_zero_is_not_greater(s: Subject) -> CaseResult {
    let u = some_user(&s).await?;
    s.store.store_mfa(&u, &secret()?).await?;
    assert!(!s.store.advance_mfa_counter(&u, 0).await?);
    assert!(s.store.advance_mfa_counter(&u, 1).await?);
    Ok(())
}

/// advance_mfa_counter without a factor answers false and creates none.
pub async fn counter_without_factor_false(s: Subject) -> CaseResult {
    let u = some_user(&s).await?;
    assert!(!s.store.advance_mfa_counter(&u, 5).await?);
    assert!(s.store.get_mfa(&u).await?.is_none());
    assert!(!s.store.advance_mfa_counter(&ghost_user(&s), 5).await?);
    Ok(())
}

/// A counter over MAX_COUNTER is InvalidInput and changes nothing; MAX_COUNTER itself is accepted.
pub async fn counter_bounds(s: Subject) -> CaseResult {
    let u = some_user(&s).await?;
    s.store.store_mfa(&u, &secret()?).await?;
    let res = s.store.advance_mfa_counter(&u, MAX_COUNTER + 1).await;
    assert!(is_invalid(&res), "got {res:?}");
    let res = s.store.advance_mfa_counter(&u, u32::MAX).await;
    assert!(is_invalid(&res), "got {res:?}");
    assert_eq!(factor(&s, &u).await?.last_counter, 0);
    assert!(s.store.advance_mfa_counter(&u, MAX_COUNTER).await?);
    assert_eq!(factor(&s, &u).await?.last_counter, MAX_COUNTER);
    Ok(())
}

/// Reference 36: a recovery code is single use; an unknown code is false; the other code remains.
pub async fn recovery_codes_are_single_use(s: Subject) -> CaseResult {
    let u = some_user(&s).await?;
    s.store.store_mfa(&u, &secret()?).await?;
    let (a, b) = (digest(), digest());
    s.store.confirm_mfa(&u, &[a.clone(), b.clone()]).await?;
    assert!(s.store.consume_recovery_code(&u, &a).await?);
    assert!(!s.store.consume_recovery_code(&u, &a).await?);
    assert!(!s.store.consume_recovery_code(&u, &digest()).await?);
    assert_eq!(factor(&s, &u).await?.recovery_codes, vec![b]);
    Ok(())
}

/// A digest listed twice is consumed one occurrence at a time.
pub async fn consume_removes_one_occurrence(s: Subject) -> CaseResult {
    let u = some_user(&s).await?;
    s.store.store_mfa(&u, &secret()?).await?;
    let (a, b) = (digest(), digest());
    s.store
        .confirm_mfa(&u, &[a.clone(), b.clone(), a.clone()])
        .await?;
    assert!(s.store.consume_recovery_code(&u, &a).await?);
    let left = factor(&s, &u).await?.recovery_codes;
    assert_eq!(left.len(), 2, "exactly one code removed: {left:?}");
    assert_eq!(left.iter().filter(|c| **c == a).count(), 1);
    assert!(left.contains(&b));
    assert!(
        s.store.consume_recovery_code(&u, &a).await?,
        "the second occurrence is still usable"
    );
    assert_eq!(factor(&s, &u).await?.recovery_codes, vec![b]);
    assert!(!s.store.consume_recovery_code(&u, &a).await?);
    Ok(())
}

/// consume_recovery_code without a factor answers false.
pub async fn consume_without_factor_false(s: Subject) -> CaseResult {
    let u = some_user(&s).await?;
    assert!(!s.store.consume_recovery_code(&u, &digest()).await?);
    assert!(
        !s.store
            .consume_recovery_code(&ghost_user(&s), &digest())
            .await?
    );
    Ok(())
}

/// One user's recovery code cannot be consumed through another user's factor.
pub async fn recovery_codes_are_per_user(s: Subject) -> CaseResult {
    let a = some_user(&s).await?;
    let b = some_user(&s).await?;
    s.store.store_mfa(&a, &secret()?).await?;
    s.store.store_mfa(&b, &secret()?).await?;
    let code = digest();
    s.store.confirm_mfa(&a, std::slice::from_ref(&code)).await?;
    s.store.confirm_mfa(&b, &[digest()]).await?;
    assert!(!s.store.consume_recovery_code(&b, &code).await?);
    assert_eq!(factor(&s, &a).await?.recovery_codes, vec![code]);
    Ok(())
}

/// delete_mfa answers true when there was a factor, then false; other users' factors stay.
pub async fn delete_true_then_false(s: Subject) -> CaseResult {
    let u = some_user(&s).await?;
    let other = some_user(&s).await?;
    s.store.store_mfa(&u, &secret()?).await?;
    let kept = s.store.store_mfa(&other, &secret()?).await?;
    assert!(s.store.delete_mfa(&u).await?);
    assert!(!s.store.delete_mfa(&u).await?);
    assert!(!s.store.delete_mfa(&ghost_user(&s)).await?);
    assert_eq!(factor(&s, &other).await?, kept);
    Ok(())
}

/// A deleted factor can be enrolled again.
pub async fn enrol_again_after_delete(s: Subject) -> CaseResult {
    let u = some_user(&s).await?;
    s.store.store_mfa(&u, &secret()?).await?;
    s.store.advance_mfa_counter(&u, 10).await?;
    s.store.delete_mfa(&u).await?;
    s.clock.advance(Duration::from_millis(2)).await;
    let f = s.store.store_mfa(&u, &secret()?).await?;
    assert_eq!(f.last_counter, 0);
    assert_eq!(factor(&s, &u).await?, f);
    Ok(())
}

/// Of many concurrent advances to one counter value exactly one answers true.
pub async fn concurrent_counter_one_winner(s: Subject) -> CaseResult {
    let u = some_user(&s).await?;
    s.store.store_mfa(&u, &secret()?).await?;
    let results = race(RACERS, |_| {
        let store = s.store.clone();
        let id = u.clone();
        async move { store.advance_mfa_counter(&id, 57_000_000).await }
    })
    .await;
    let mut wins = 0;
    for res in results {
        if res? {
            wins += 1;
        }
    }
    assert_eq!(wins, 1, "exactly one caller accepts the TOTP step");
    assert_eq!(factor(&s, &u).await?.last_counter, 57_000_000);
    Ok(())
}

/// Of many concurrent redemptions of one recovery code exactly one answers true; the other codes stay.
pub async fn concurrent_consume_one_winner(s: Subject) -> CaseResult {
    let u = some_user(&s).await?;
    s.store.store_mfa(&u, &secret()?).await?;
    let code = digest();
    let others: Vec<_> = (0..4).map(|_| digest()).collect();
    let mut all = others.clone();
    all.insert(2, code.clone());
    s.store.confirm_mfa(&u, &all).await?;
    let results = race(RACERS, |_| {
        let store = s.store.clone();
        let (id, code) = (u.clone(), code.clone());
        async move { store.consume_recovery_code(&id, &code).await }
    })
    .await;
    let mut wins = 0;
    for res in results {
        if res? {
            wins += 1;
        }
    }
    assert_eq!(wins, 1, "exactly one redemption wins");
    assert_eq!(factor(&s, &u).await?.recovery_codes, others);
    Ok(())
}
