// conformance-group: requires = [Passkeys]
//! Passkeys: storage and round trips, duplicate credentials, the sign-count
//! compare-and-set, renaming and deletion scoped to the owner, listing order.

use std::time::Duration;

use fullauth_api::{
    ConflictKind, CredentialId, DeviceName, Entity, MAX_COUNTER, NewPasskey, Passkey, Text,
    Transports, UserId,
};

use super::*;
use crate::{CaseError, CaseResult};

/// A fresh credential id (base64url-like, mixed case).
fn credential() -> Result<CredentialId, StoreError> {
    CredentialId::new(format!("AQ-_{}Zz", tag()))
}

/// A passkey to store for `user_id`: sign count 0, transports `internal,hybrid`.
fn new_passkey(user_id: &UserId) -> Result<NewPasskey, StoreError> {
    Ok(NewPasskey {
        user_id: user_id.clone(),
        credential_id: credential()?,
        public_key: Text::new(format!("pQECAyYgASFYI{}", tag()))?,
        sign_count: 0,
        device_name: DeviceName::new("MacBook Touch ID")?,
        transports: Transports::new(["internal", "hybrid"])?,
        backed_up: true,
    })
}

/// Stores a fresh passkey for `user_id`.
async fn stored(s: &Subject, user_id: &UserId) -> Result<Passkey, StoreError> {
    s.store.store_passkey(new_passkey(user_id)?).await
}

/// True for any [`StoreError::InvalidInput`].
fn is_invalid<T>(r: &Result<T, StoreError>) -> bool {
    matches!(r, Err(StoreError::InvalidInput { .. }))
}

/// The stored passkey, which must exist.
async fn fetch(s: &Subject, c: &CredentialId) -> Result<Passkey, CaseError> {
    s.store
        .get_passkey(c)
        .await?
        .ok_or_else(|| CaseError::Failed(format!("passkey {c} is missing")))
}

/// Reference 24: store, get (transports round-trip as a list), list, sign count 0→5 true and 5→3 false, delete.
pub async fn passkey_crud_and_sign_count(s: Subject) -> CaseResult {
    let u = some_user(&s).await?;
    let new = new_passkey(&u)?;
    let pk = s.store.store_passkey(new.clone()).await?;
    let got = fetch(&s, &new.credential_id).await?;
    assert_eq!(
        got.transports.as_slice(),
        ["internal".to_string(), "hybrid".to_string()]
    );
    assert_eq!(got, pk);
    assert_eq!(s.store.list_passkeys(&u).await?.len(), 1);
    assert!(s.store.update_sign_count(&new.credential_id, 5).await?);
    assert!(!s.store.update_sign_count(&new.credential_id, 3).await?);
    assert_eq!(fetch(&s, &new.credential_id).await?.sign_count, 5);
    assert!(s.store.delete_passkey(&u, pk.id).await?);
    assert!(s.store.get_passkey(&new.credential_id).await?.is_none());
    Ok(())
}

/// The stored row carries every given field, a UUIDv7 id, created_at from the clock and no last use.
pub async fn store_returns_the_row(s: Subject) -> CaseResult {
    let u = some_user(&s).await?;
    let mut new = new_passkey(&u)?;
    new.sign_count = 42;
    new.backed_up = false;
    let before = s.clock.now();
    let pk = s.store.store_passkey(new.clone()).await?;
    let after = s.clock.now();
    assert_eq!(pk.id.get_version_num(), 7, "passkey ids are UUIDv7");
    assert_eq!(pk.user_id, new.user_id);
    assert_eq!(pk.credential_id, new.credential_id);
    assert_eq!(pk.public_key, new.public_key);
    assert_eq!(pk.sign_count, 42);
    assert_eq!(pk.device_name, new.device_name);
    assert_eq!(pk.transports, new.transports);
    assert!(!pk.backed_up);
    assert!(
        before <= pk.created_at && pk.created_at <= after,
        "created_at {} not within [{before}, {after}]",
        pk.created_at
    );
    assert_eq!(pk.last_used_at, None, "a new passkey was never used");
    assert_eq!(fetch(&s, &new.credential_id).await?, pk);
    Ok(())
}

/// Reference 24: an empty transport list round-trips as an empty list.
pub async fn empty_transports_round_trip(s: Subject) -> CaseResult {
    let u = some_user(&s).await?;
    let mut new = new_passkey(&u)?;
    new.transports = Transports::default();
    let pk = s.store.store_passkey(new.clone()).await?;
    assert!(pk.transports.as_slice().is_empty());
    assert!(
        fetch(&s, &new.credential_id)
            .await?
            .transports
            .as_slice()
            .is_empty(),
        "no transports must not read back as [\"\"]"
    );
    Ok(())
}

/// A single transport and an empty device name round-trip exactly.
pub async fn single_transport_and_empty_name_round_trip(s: Subject) -> CaseResult {
    let u = some_user(&s).await?;
    let mut new = new_passkey(&u)?;
    new.transports = Transports::new(["usb"])?;
    new.device_name = DeviceName::new("")?;
    s.store.store_passkey(new.clone()).await?;
    let got = fetch(&s, &new.credential_id).await?;
    assert_eq!(got.transports, new.transports);
    assert_eq!(got.device_name.as_str(), "");
    Ok(())
}

/// A credential id already stored (for any user) is Conflict Credential; the first row is unchanged.
pub async fn duplicate_credential_conflicts(s: Subject) -> CaseResult {
    let a = some_user(&s).await?;
    let b = some_user(&s).await?;
    let first = stored(&s, &a).await?;
    for owner in [a, b.clone()] {
        let mut dup = new_passkey(&owner)?;
        dup.credential_id = first.credential_id.clone();
        let res = s.store.store_passkey(dup).await;
        assert!(
            res.as_ref()
                .is_err_and(|e| e.is_conflict(ConflictKind::Credential)),
            "got {res:?}"
        );
    }
    assert_eq!(fetch(&s, &first.credential_id).await?, first);
    assert!(s.store.list_passkeys(&b).await?.is_empty());
    Ok(())
}

/// Credential ids are matched exactly: ids differing only in case are two passkeys.
pub async fn credential_id_is_case_sensitive(s: Subject) -> CaseResult {
    let u = some_user(&s).await?;
    let t = tag();
    let mut lower = new_passkey(&u)?;
    lower.credential_id = CredentialId::new(format!("abc{t}"))?;
    let mut upper = new_passkey(&u)?;
    upper.credential_id = CredentialId::new(format!("ABC{}", t.to_uppercase()))?;
    let l = s.store.store_passkey(lower.clone()).await?;
    let up = s.store.store_passkey(upper.clone()).await?;
    assert_eq!(fetch(&s, &lower.credential_id).await?, l);
    assert_eq!(fetch(&s, &upper.credential_id).await?, up);
    Ok(())
}

/// Storing a passkey for an unknown user is NotFound User and stores nothing.
pub async fn store_unknown_user_not_found(s: Subject) -> CaseResult {
    let new = new_passkey(&ghost_user(&s))?;
    let res = s.store.store_passkey(new.clone()).await;
    assert!(
        res.as_ref().is_err_and(|e| e.is_not_found(Entity::User)),
        "got {res:?}"
    );
    assert!(s.store.get_passkey(&new.credential_id).await?.is_none());
    Ok(())
}

/// An initial sign count over MAX_COUNTER is InvalidInput; MAX_COUNTER itself is stored.
pub async fn store_sign_count_bounds(s: Subject) -> CaseResult {
    let u = some_user(&s).await?;
    let mut over = new_passkey(&u)?;
    over.sign_count = MAX_COUNTER + 1;
    let res = s.store.store_passkey(over.clone()).await;
    assert!(is_invalid(&res), "got {res:?}");
    assert!(s.store.get_passkey(&over.credential_id).await?.is_none());
    let mut max = new_passkey(&u)?;
    max.sign_count = MAX_COUNTER;
    s.store.store_passkey(max.clone()).await?;
    assert_eq!(fetch(&s, &max.credential_id).await?.sign_count, MAX_COUNTER);
    Ok(())
}

/// get_passkey of an unknown credential id is None.
pub async fn get_unknown_passkey_none(s: Subject) -> CaseResult {
    assert!(s.store.get_passkey(&credential()?).await?.is_none());
    Ok(())
}

/// update_sign_count is true only for a strictly greater count: 0→5 true, 5→5 false, 5→3 false, 5→6 true.
pub async fn sign_count_moves_strictly_forward(s: Subject) -> CaseResult {
    let u = some_user(&s).await?;
    let pk = stored(&s, &u).await?;
    let c = &pk.credential_id;
    assert!(
        !s.store.update_sign_count(c, 0).await?,
        "0 → 0 is not greater"
    );
    assert!(s.store.update_sign_count(c, 5).await?);
    assert!(!s.store.update_sign_count(c, 5).await?, "equal is refused");
    assert!(!s.store.update_sign_count(c, 3).await?, "stale is refused");
    assert_eq!(fetch(&s, c).await?.sign_count, 5);
    assert!(s.store.update_sign_count(c, 6).await?);
    assert_eq!(fetch(&s, c).await?.sign_count, 6);
    Ok(())
}

/// A refused sign-count update still sets last_used_at to now.
pub async fn last_used_set_even_when_refused(s: Subject) -> CaseResult {
    let u = some_user(&s).await?;
    let mut new = new_passkey(&u)?;
    new.sign_count = 10;
    let pk = s.store.store_passkey(new).await?;
    s.clock.advance(Duration::from_millis(5)).await;
    let before = s.clock.now();
    assert!(!s.store.update_sign_count(&pk.credential_id, 3).await?);
    let after = s.clock.now();
    let got = fetch(&s, &pk.credential_id).await?;
    assert_eq!(got.sign_count, 10, "the count did not move");
    let used = got
        .last_used_at
        .ok_or_else(|| CaseError::Failed("last_used_at is still None after an attempt".into()))?;
    assert!(
        before <= used && used <= after,
        "last_used_at {used} not within [{before}, {after}]"
    );
    Ok(())
}

/// An accepted sign-count update sets last_used_at to now, and a later one moves it forward.
pub async fn last_used_set_on_success(s: Subject) -> CaseResult {
    let u = some_user(&s).await?;
    let pk = stored(&s, &u).await?;
    let before = s.clock.now();
    assert!(s.store.update_sign_count(&pk.credential_id, 1).await?);
    let first = fetch(&s, &pk.credential_id)
        .await?
        .last_used_at
        .ok_or_else(|| CaseError::Failed("last_used_at is None after a use".into()))?;
    assert!(first >= before);
    s.clock.advance(Duration::from_millis(5)).await;
    assert!(s.store.update_sign_count(&pk.credential_id, 2).await?);
    let second = fetch(&s, &pk.credential_id).await?.last_used_at;
    assert!(
        second.is_some_and(|t| t > first),
        "last_used_at moves with each use"
    );
    Ok(())
}

/// update_sign_count of an unknown credential answers false and creates nothing.
pub async fn sign_count_unknown_credential_false(s: Subject) -> CaseResult {
    let c = credential()?;
    assert!(!s.store.update_sign_count(&c, 5).await?);
    assert!(s.store.get_passkey(&c).await?.is_none());
    Ok(())
}

/// update_sign_count over MAX_COUNTER is InvalidInput and changes nothing; MAX_COUNTER itself is accepted.
pub async fn sign_count_update_bounds(s: Subject) -> CaseResult {
    let u = some_user(&s).await?;
    let pk = stored(&s, &u).await?;
    let res = s
        .store
        .update_sign_count(&pk.credential_id, MAX_COUNTER + 1)
        .await;
    assert!(is_invalid(&res), "got {res:?}");
    let res = s.store.update_sign_count(&pk.credential_id, u32::MAX).await;
    assert!(is_invalid(&res), "got {res:?}");
    assert_eq!(fetch(&s, &pk.credential_id).await?.sign_count, 0);
    assert!(
        s.store
            .update_sign_count(&pk.credential_id, MAX_COUNTER)
            .await?
    );
    assert_eq!(fetch(&s, &pk.credential_id).await?.sign_count, MAX_COUNTER);
    Ok(())
}

/// rename_passkey renames the owner's passkey (true); another user's id answers false and renames nothing.
pub async fn rename_is_scoped_to_owner(s: Subject) -> CaseResult {
    let owner = some_user(&s).await?;
    let intruder = some_user(&s).await?;
    let pk = stored(&s, &owner).await?;
    let evil = DeviceName::new("pwned")?;
    assert!(!s.store.rename_passkey(&intruder, pk.id, &evil).await?);
    assert_eq!(
        fetch(&s, &pk.credential_id).await?.device_name,
        pk.device_name
    );
    let name = DeviceName::new("YubiKey 5C 🔑 'work'")?;
    assert!(s.store.rename_passkey(&owner, pk.id, &name).await?);
    let got = fetch(&s, &pk.credential_id).await?;
    assert_eq!(got.device_name, name);
    assert_eq!(
        Passkey {
            device_name: pk.device_name.clone(),
            ..got
        },
        pk,
        "renaming changes nothing else"
    );
    Ok(())
}

/// rename_passkey of an unknown passkey id answers false.
pub async fn rename_unknown_passkey_false(s: Subject) -> CaseResult {
    let u = some_user(&s).await?;
    let name = DeviceName::new("x")?;
    assert!(
        !s.store
            .rename_passkey(&u, uuid::Uuid::now_v7(), &name)
            .await?
    );
    Ok(())
}

/// delete_passkey by another user answers false and keeps the passkey; the owner's delete is true, then false.
pub async fn delete_is_scoped_to_owner(s: Subject) -> CaseResult {
    let owner = some_user(&s).await?;
    let intruder = some_user(&s).await?;
    let pk = stored(&s, &owner).await?;
    assert!(!s.store.delete_passkey(&intruder, pk.id).await?);
    assert_eq!(fetch(&s, &pk.credential_id).await?, pk);
    assert!(s.store.delete_passkey(&owner, pk.id).await?);
    assert!(!s.store.delete_passkey(&owner, pk.id).await?);
    assert!(!s.store.delete_passkey(&owner, uuid::Uuid::now_v7()).await?);
    assert!(s.store.get_passkey(&pk.credential_id).await?.is_none());
    Ok(())
}

/// A deleted passkey's credential id can be stored again.
pub async fn deleted_credential_stored_again(s: Subject) -> CaseResult {
    let u = some_user(&s).await?;
    let pk = stored(&s, &u).await?;
    s.store.delete_passkey(&u, pk.id).await?;
    let mut again = new_passkey(&u)?;
    again.credential_id = pk.credential_id.clone();
    let pk2 = s.store.store_passkey(again).await?;
    assert_ne!(pk2.id, pk.id, "a new row has a new id");
    Ok(())
}

/// A user's passkeys are listed oldest first; other users' are not listed; an unknown user has none.
pub async fn list_is_oldest_first_and_per_user(s: Subject) -> CaseResult {
    let u = some_user(&s).await?;
    let other = some_user(&s).await?;
    let mut expected = Vec::new();
    for _ in 0..3 {
        expected.push(stored(&s, &u).await?);
        stored(&s, &other).await?;
        s.clock.advance(Duration::from_millis(5)).await;
    }
    let listed = s.store.list_passkeys(&u).await?;
    assert_eq!(listed, expected);
    assert!(listed.windows(2).all(|w| w[0].created_at < w[1].created_at));
    assert!(s.store.list_passkeys(&ghost_user(&s)).await?.is_empty());
    Ok(())
}

/// Of many concurrent sign-count updates to one value exactly one answers true.
pub async fn concurrent_sign_count_one_winner(s: Subject) -> CaseResult {
    let u = some_user(&s).await?;
    let pk = stored(&s, &u).await?;
    let results = race(RACERS, |_| {
        let store = s.store.clone();
        let c = pk.credential_id.clone();
        async move { store.update_sign_count(&c, 7).await }
    })
    .await;
    let mut wins = 0;
    for res in results {
        if res? {
            wins += 1;
        }
    }
    assert_eq!(wins, 1, "exactly one update moves the count");
    assert_eq!(fetch(&s, &pk.credential_id).await?.sign_count, 7);
    Ok(())
}

/// Of many concurrent stores of one credential id exactly one succeeds; the rest are Conflict Credential.
pub async fn concurrent_store_one_winner(s: Subject) -> CaseResult {
    let u = some_user(&s).await?;
    let c = credential()?;
    let results = race(RACERS, |_| {
        let store = s.store.clone();
        let new = new_passkey(&u).map(|mut n| {
            n.credential_id = c.clone();
            n
        });
        async move { store.store_passkey(new?).await }
    })
    .await;
    let mut ok = 0;
    for res in results {
        match res {
            Ok(_) => ok += 1,
            Err(e) if e.is_conflict(ConflictKind::Credential) => {}
            Err(e) => return Err(e.into()),
        }
    }
    assert_eq!(ok, 1, "exactly one store succeeds");
    assert_eq!(s.store.list_passkeys(&u).await?.len(), 1);
    Ok(())
}

/// A large public key with quotes and emoji is stored and returned verbatim.
pub async fn public_key_verbatim(s: Subject) -> CaseResult {
    let u = some_user(&s).await?;
    let mut new = new_passkey(&u)?;
    new.public_key = Text::new(format!("{}'\"\\%_🦀\u{202e}", "A".repeat(8192)))?;
    s.store.store_passkey(new.clone()).await?;
    assert_eq!(
        fetch(&s, &new.credential_id).await?.public_key,
        new.public_key
    );
    Ok(())
}
