// conformance-group: requires = [Core]
//! Races on the atomic steps of Core: [`RACERS`] tasks start together behind
//! a barrier, and each case asserts exactly the right number of winners and
//! the state left behind.

use std::collections::HashSet;

use fullauth_api::{
    ConflictKind, Email, FamilyId, NewUser, NextRefreshToken, Rotation, StoreError, TokenDigest,
};

use super::*;
use crate::CaseResult;

/// A replacement token for a rotation, expiring in an hour.
fn next(s: &Subject, digest: TokenDigest) -> NextRefreshToken {
    NextRefreshToken {
        digest,
        expires_at: in_secs(s, 3600),
        client: Default::default(),
    }
}

/// Of N concurrent revokes of one token exactly one returns true.
pub async fn revoke_refresh_token_one_winner(s: Subject) -> CaseResult {
    let u = some_user(&s).await?;
    let t = s
        .store
        .store_refresh_token(token(&u, &FamilyId::generate(), in_secs(&s, 3600)))
        .await?;
    let results = race(RACERS, |_| {
        let st = s.store.clone();
        let d = t.digest.clone();
        async move { st.revoke_refresh_token(&d).await }
    })
    .await;
    let results: Vec<bool> = results.into_iter().collect::<Result<_, _>>()?;
    assert_eq!(
        results.iter().filter(|w| **w).count(),
        1,
        "exactly one revoke flips the token: {results:?}"
    );
    let stored = s.store.get_refresh_token(&t.digest).await?;
    assert!(stored.is_some_and(|t| t.revoked), "the token ends revoked");
    Ok(())
}

/// Of N concurrent rotations of one token exactly one is Rotated; every
/// other sees the old token revoked (Reused), which revokes the whole family,
/// the winner's new token included, and inserts nothing.
pub async fn rotate_one_rotated_rest_reused(s: Subject) -> CaseResult {
    let u = some_user(&s).await?;
    let family = FamilyId::generate();
    let old = s
        .store
        .store_refresh_token(token(&u, &family, in_secs(&s, 3600)))
        .await?;
    let nexts: Vec<TokenDigest> = (0..RACERS).map(|_| digest()).collect();
    let results = race(RACERS, |i| {
        let st = s.store.clone();
        let old = old.digest.clone();
        let n = next(&s, nexts[i].clone());
        async move { st.rotate_refresh_token(&old, n).await }
    })
    .await;
    let results: Vec<Rotation> = results.into_iter().collect::<Result<_, _>>()?;
    let winners: Vec<usize> = (0..RACERS)
        .filter(|i| matches!(results[*i], Rotation::Rotated(_)))
        .collect();
    assert_eq!(winners.len(), 1, "exactly one Rotated: {results:?}");
    let winner = winners[0];
    if let Rotation::Rotated(t) = &results[winner] {
        assert_eq!(t.digest, nexts[winner]);
        assert_eq!(t.family_id, family);
        assert_eq!(t.user_id, u);
    }
    for (i, r) in results.iter().enumerate() {
        if i == winner {
            continue;
        }
        match r {
            Rotation::Reused { family_id, user_id } => {
                assert_eq!(family_id, &family);
                assert_eq!(user_id, &u);
            }
            other => panic!("a late rotation must see the token revoked (Reused), got {other:?}"),
        }
        assert!(
            s.store.get_refresh_token(&nexts[i]).await?.is_none(),
            "a Reused rotation inserts nothing"
        );
    }
    let new = s
        .store
        .get_refresh_token(&nexts[winner])
        .await?
        .expect("the winner's token was inserted");
    assert!(
        new.revoked,
        "reuse detection revoked the whole family, the winner's new token included"
    );
    assert!(
        s.store
            .get_refresh_token(&old.digest)
            .await?
            .is_some_and(|t| t.revoked)
    );
    assert!(
        s.store
            .list_sessions(&u)
            .await?
            .iter()
            .all(|x| x.family_id != family),
        "the reused family is no longer a session"
    );
    Ok(())
}

/// Concurrent rotations of different old tokens to the same new digest: one
/// Rotated, the rest Conflict RefreshToken, and each loser's old token stays
/// live (nothing changed).
pub async fn rotate_to_same_next_digest_one_winner(s: Subject) -> CaseResult {
    let u = some_user(&s).await?;
    let mut olds = Vec::with_capacity(RACERS);
    for _ in 0..RACERS {
        let t = token(&u, &FamilyId::generate(), in_secs(&s, 3600));
        olds.push(s.store.store_refresh_token(t).await?.digest);
    }
    let shared = digest();
    let results = race(RACERS, |i| {
        let st = s.store.clone();
        let old = olds[i].clone();
        let n = next(&s, shared.clone());
        async move { st.rotate_refresh_token(&old, n).await }
    })
    .await;
    let mut rotated = 0;
    for (i, r) in results.into_iter().enumerate() {
        match r {
            Ok(Rotation::Rotated(_)) => {
                rotated += 1;
                assert!(
                    s.store
                        .get_refresh_token(&olds[i])
                        .await?
                        .is_some_and(|t| t.revoked)
                );
            }
            Err(e) if e.is_conflict(ConflictKind::RefreshToken) => {
                let t = s.store.get_refresh_token(&olds[i]).await?;
                assert!(
                    t.is_some_and(|t| !t.revoked),
                    "a rotation that failed with Conflict must leave the old token live"
                );
            }
            other => panic!("expected Rotated or Conflict(RefreshToken), got {other:?}"),
        }
    }
    assert_eq!(
        rotated, 1,
        "exactly one rotation may insert the shared digest"
    );
    Ok(())
}

/// Concurrent rotations of different families never interfere: all are
/// Rotated and every family stays a live session.
pub async fn independent_rotations_all_succeed(s: Subject) -> CaseResult {
    let u = some_user(&s).await?;
    let mut olds = Vec::with_capacity(RACERS);
    for _ in 0..RACERS {
        let t = token(&u, &FamilyId::generate(), in_secs(&s, 3600));
        olds.push(s.store.store_refresh_token(t).await?);
    }
    let results = race(RACERS, |i| {
        let st = s.store.clone();
        let old = olds[i].digest.clone();
        let n = next(&s, digest());
        async move { st.rotate_refresh_token(&old, n).await }
    })
    .await;
    for r in results {
        let r = r?;
        assert!(
            matches!(r, Rotation::Rotated(_)),
            "rotating distinct tokens must all succeed, got {r:?}"
        );
    }
    let sessions = s.store.list_sessions(&u).await?;
    let families: HashSet<&FamilyId> = sessions.iter().map(|x| &x.family_id).collect();
    assert_eq!(sessions.len(), RACERS);
    assert!(olds.iter().all(|t| families.contains(&t.family_id)));
    Ok(())
}

/// Of N concurrent creations with one email exactly one succeeds; the rest
/// are Conflict Email, and the stored user is the winner.
pub async fn create_user_same_email_one_winner(s: Subject) -> CaseResult {
    let e = email();
    let results = race(RACERS, |_| {
        let st = s.store.clone();
        let e = e.clone();
        async move { st.create_user(NewUser::new(e.as_str())?).await }
    })
    .await;
    let mut winners = Vec::new();
    for r in results {
        match r {
            Ok(u) => winners.push(u),
            Err(err) if err.is_conflict(ConflictKind::Email) => {}
            Err(err) => panic!("expected Ok or Conflict(Email), got {err:?}"),
        }
    }
    assert_eq!(winners.len(), 1, "exactly one user per email");
    let stored = s.store.get_user_by_email(&e).await?;
    assert_eq!(stored.as_ref().map(|u| u.id.clone()), Some(winners[0].id.clone()));
    Ok(())
}

/// Emails differing only in case and surrounding spaces race as one: one
/// winner, the rest Conflict Email.
pub async fn create_user_email_variants_one_winner(s: Subject) -> CaseResult {
    let base = format!("Race-{}@Example.TEST", tag());
    let results = race(RACERS, |i| {
        let st = s.store.clone();
        let raw = match i % 3 {
            0 => base.clone(),
            1 => base.to_uppercase(),
            _ => format!("  {}  ", base.to_lowercase()),
        };
        async move { st.create_user(NewUser::new(raw)?).await }
    })
    .await;
    let mut ok = 0;
    for r in results {
        match r {
            Ok(_) => ok += 1,
            Err(err) if err.is_conflict(ConflictKind::Email) => {}
            Err(err) => panic!("expected Ok or Conflict(Email), got {err:?}"),
        }
    }
    assert_eq!(ok, 1, "the normalised email is taken once");
    assert!(
        s.store
            .get_user_by_email(&Email::new(&base)?)
            .await?
            .is_some()
    );
    Ok(())
}

/// On an integer-keyed store, which takes no id, N concurrent creations
/// all succeed with N distinct ids.
async fn concurrent_integer_ids_are_distinct(s: Subject) -> CaseResult {
    let results = race(RACERS, |_| {
        let st = s.store.clone();
        async move { st.create_user(NewUser::new(email().as_str())?).await }
    })
    .await;
    let mut ids = std::collections::BTreeSet::new();
    for r in results {
        ids.insert(r?.id);
    }
    assert_eq!(ids.len(), RACERS, "every creation got its own id");
    Ok(())
}

/// Of N concurrent creations with one given id (distinct emails) exactly one
/// succeeds; the rest are Conflict UserId and leave no user behind.
/// On an integer-keyed store, which takes no id, N concurrent creations
/// all succeed with N distinct ids.
pub async fn create_user_same_id_one_winner(s: Subject) -> CaseResult {
    if id_type(&s) == UserIdType::Int {
        return Box::pin(concurrent_integer_ids_are_distinct(s)).await;
    }
    let id = ghost_user(&s);
    let emails: Vec<Email> = (0..RACERS).map(|_| email()).collect();
    let results = race(RACERS, |i| {
        let st = s.store.clone();
        let e = emails[i].clone();
        {
        let value = id.clone();
        async move {
            let mut new = NewUser::new(e.as_str())?;
            new.id = Some(value);
            st.create_user(new).await
        }
        }
    })
    .await;
    let mut winner = None;
    for (i, r) in results.into_iter().enumerate() {
        match r {
            Ok(u) => {
                assert!(winner.is_none(), "two users were created with one id");
                assert_eq!(u.id, id);
                winner = Some(i);
            }
            Err(err) if err.is_conflict(ConflictKind::UserId) => {
                assert!(
                    s.store.get_user_by_email(&emails[i]).await?.is_none(),
                    "a conflicting create must leave nothing behind"
                );
            }
            Err(err) => panic!("expected Ok or Conflict(UserId), got {err:?}"),
        }
    }
    let winner = winner.expect("one create succeeds");
    let stored = s.store.get_user(&id).await?.expect("the user exists");
    assert_eq!(stored.email, emails[winner]);
    Ok(())
}

/// Of N concurrent stores of one digest exactly one succeeds; the rest are
/// Conflict RefreshToken.
pub async fn store_same_refresh_digest_one_winner(s: Subject) -> CaseResult {
    let u = some_user(&s).await?;
    let d = digest();
    let families: Vec<FamilyId> = (0..RACERS).map(|_| FamilyId::generate()).collect();
    let results = race(RACERS, |i| {
        let st = s.store.clone();
        let mut t = token(&u, &families[i], in_secs(&s, 3600));
        t.digest = d.clone();
        async move { st.store_refresh_token(t).await }
    })
    .await;
    let mut winner = None;
    for (i, r) in results.into_iter().enumerate() {
        match r {
            Ok(_) => {
                assert!(winner.is_none(), "one digest was stored twice");
                winner = Some(i);
            }
            Err(err) if err.is_conflict(ConflictKind::RefreshToken) => {}
            Err(err) => panic!("expected Ok or Conflict(RefreshToken), got {err:?}"),
        }
    }
    let winner = winner.expect("one store succeeds");
    let stored = s.store.get_refresh_token(&d).await?.expect("stored");
    assert_eq!(stored.family_id, families[winner]);
    Ok(())
}

/// Concurrent revoke_family calls count each token once: the counts add up
/// to the family's live tokens.
pub async fn revoke_family_counts_each_token_once(s: Subject) -> CaseResult {
    let u = some_user(&s).await?;
    let family = FamilyId::generate();
    for _ in 0..5 {
        s.store
            .store_refresh_token(token(&u, &family, in_secs(&s, 3600)))
            .await?;
    }
    let already = s
        .store
        .store_refresh_token(token(&u, &family, in_secs(&s, 3600)))
        .await?;
    assert!(s.store.revoke_refresh_token(&already.digest).await?);
    let results = race(RACERS, |_| {
        let st = s.store.clone();
        let f = family.clone();
        async move { st.revoke_family(&f).await }
    })
    .await;
    let total: u64 = results
        .into_iter()
        .collect::<Result<Vec<u64>, StoreError>>()?
        .into_iter()
        .sum();
    assert_eq!(total, 5, "five live tokens flipped, each counted once");
    assert!(s.store.list_sessions(&u).await?.is_empty());
    Ok(())
}

/// Concurrent revoke_all_for_user calls count each token once.
pub async fn revoke_all_for_user_counts_each_token_once(s: Subject) -> CaseResult {
    let u = some_user(&s).await?;
    for _ in 0..3 {
        let family = FamilyId::generate();
        for _ in 0..2 {
            s.store
                .store_refresh_token(token(&u, &family, in_secs(&s, 3600)))
                .await?;
        }
    }
    let results = race(RACERS, |_| {
        let st = s.store.clone();
        let id = u.clone();
        async move { st.revoke_all_for_user(&id).await }
    })
    .await;
    let total: u64 = results
        .into_iter()
        .collect::<Result<Vec<u64>, StoreError>>()?
        .into_iter()
        .sum();
    assert_eq!(total, 6, "six live tokens flipped, each counted once");
    assert!(s.store.list_sessions(&u).await?.is_empty());
    Ok(())
}

/// Concurrent revoke_other_sessions calls count each session once and keep
/// the one named.
pub async fn revoke_other_sessions_counts_each_session_once(s: Subject) -> CaseResult {
    let u = some_user(&s).await?;
    let keep = FamilyId::generate();
    s.store
        .store_refresh_token(token(&u, &keep, in_secs(&s, 3600)))
        .await?;
    for _ in 0..4 {
        s.store
            .store_refresh_token(token(&u, &FamilyId::generate(), in_secs(&s, 3600)))
            .await?;
    }
    let results = race(RACERS, |_| {
        let st = s.store.clone();
        let id = u.clone();
        let keep = keep.clone();
        async move { st.revoke_other_sessions(&id, &keep).await }
    })
    .await;
    let total: u64 = results
        .into_iter()
        .collect::<Result<Vec<u64>, StoreError>>()?
        .into_iter()
        .sum();
    assert_eq!(total, 4, "four other sessions revoked, each counted once");
    let sessions = s.store.list_sessions(&u).await?;
    assert_eq!(sessions.len(), 1);
    assert_eq!(sessions[0].family_id, keep);
    Ok(())
}
