// conformance-group: requires = [Passkeys]
//! Races on passkeys: the sign-count compare-and-set and duplicate
//! credential registration.

use fullauth_api::{ConflictKind, CredentialId, DeviceName, NewPasskey, StoreError, Text, UserId};

use super::*;
use crate::CaseResult;

/// A new passkey of `user_id` with a fresh credential id and `sign_count`.
fn passkey(
    user_id: UserId,
    credential_id: &CredentialId,
    sign_count: u32,
) -> Result<NewPasskey, StoreError> {
    Ok(NewPasskey {
        user_id,
        credential_id: credential_id.clone(),
        public_key: Text::new(format!("pQECAyYgASFYI{}", tag()))?,
        sign_count,
        device_name: DeviceName::new("race key")?,
        transports: Default::default(),
        backed_up: false,
    })
}

/// A fresh credential id.
fn credential() -> Result<CredentialId, StoreError> {
    CredentialId::new(format!("cred_{}{}", tag(), tag()))
}

/// Of N concurrent updates to the same sign count exactly one wins, and the
/// count ends at that value.
pub async fn sign_count_same_value_one_winner(s: Subject) -> CaseResult {
    let u = some_user(&s).await?;
    let c = credential()?;
    s.store.store_passkey(passkey(u, &c, 3)?).await?;
    let results = race(RACERS, |_| {
        let st = s.store.clone();
        let c = c.clone();
        async move { st.update_sign_count(&c, 10).await }
    })
    .await;
    let results: Vec<bool> = results.into_iter().collect::<Result<_, _>>()?;
    assert_eq!(
        results.iter().filter(|w| **w).count(),
        1,
        "exactly one update to 10 wins: {results:?}"
    );
    let stored = s.store.get_passkey(&c).await?.expect("the passkey exists");
    assert_eq!(stored.sign_count, 10);
    assert!(
        stored.last_used_at.is_some(),
        "every attempt sets last_used_at"
    );
    Ok(())
}

/// Concurrent updates to distinct increasing counts: the largest always
/// wins and ends stored; the count never moves backwards.
pub async fn sign_count_distinct_values_max_wins(s: Subject) -> CaseResult {
    let u = some_user(&s).await?;
    let c = credential()?;
    s.store.store_passkey(passkey(u, &c, 0)?).await?;
    let results = race(RACERS, |i| {
        let st = s.store.clone();
        let c = c.clone();
        async move { st.update_sign_count(&c, i as u32 + 1).await }
    })
    .await;
    let results: Vec<bool> = results.into_iter().collect::<Result<_, _>>()?;
    assert!(
        results[RACERS - 1],
        "the update to the largest count ({RACERS}) can never be stale"
    );
    let stored = s.store.get_passkey(&c).await?.expect("the passkey exists");
    assert_eq!(stored.sign_count, RACERS as u32, "the maximum ends stored");
    Ok(())
}

/// Of N concurrent registrations of one credential id (by different users)
/// exactly one succeeds; the rest are Conflict Credential.
pub async fn store_same_credential_one_winner(s: Subject) -> CaseResult {
    let c = credential()?;
    let mut users = Vec::with_capacity(RACERS);
    for _ in 0..RACERS {
        users.push(some_user(&s).await?);
    }
    let results = race(RACERS, |i| {
        let st = s.store.clone();
        let new = passkey(users[i].clone(), &c, 0);
        async move { st.store_passkey(new?).await }
    })
    .await;
    let mut winner = None;
    for (i, r) in results.into_iter().enumerate() {
        match r {
            Ok(_) => {
                assert!(winner.is_none(), "one credential id was stored twice");
                winner = Some(i);
            }
            Err(e) if e.is_conflict(ConflictKind::Credential) => {}
            Err(e) => panic!("expected Ok or Conflict(Credential), got {e:?}"),
        }
    }
    let winner = winner.expect("one registration succeeds");
    let stored = s.store.get_passkey(&c).await?.expect("stored");
    assert_eq!(stored.user_id, users[winner]);
    Ok(())
}
