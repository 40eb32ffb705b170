// conformance-group: requires = [Core]
//! Refresh tokens: store, get, compare-and-set revoke, rotation with reuse
//! detection, family and user revocation, pruning, client metadata.

use std::time::Duration;

use fullauth_api::{
    ClientInfo, ConflictKind, Entity, FamilyId, NextRefreshToken, RefreshToken, Rotation,
    Timestamp, TokenDigest,
};

use super::*;
use crate::CaseResult;

/// A replacement token expiring at `expires_at`, with this client info.
fn next(expires_at: Timestamp, client: ClientInfo) -> NextRefreshToken {
    NextRefreshToken {
        digest: digest(),
        expires_at,
        client,
    }
}

/// The stored row of `d`, which must exist.
async fn row(s: &Subject, d: &TokenDigest) -> Result<RefreshToken, crate::CaseError> {
    s.store
        .get_refresh_token(d)
        .await?
        .ok_or_else(|| crate::CaseError::Failed(format!("token {d:?} should be stored")))
}

/// Reference 14: store then get; revoke is true once, then false; an unknown token gives false.
pub async fn refresh_token_crud(s: Subject) -> CaseResult {
    let u = some_user(&s).await?;
    let family = FamilyId::generate();
    let new = token(&u, &family, in_secs(&s, 3600));
    s.store.store_refresh_token(new.clone()).await?;
    let got = row(&s, &new.digest).await?;
    assert_eq!(got.family_id, family);
    assert!(!got.revoked);
    assert!(s.store.revoke_refresh_token(&new.digest).await?);
    assert!(row(&s, &new.digest).await?.revoked);
    assert!(
        !s.store.revoke_refresh_token(&new.digest).await?,
        "second revoke is the reuse signal"
    );
    assert!(!s.store.revoke_refresh_token(&digest()).await?, "unknown");
    Ok(())
}

/// store_refresh_token returns the row as stored: every field given, unrevoked, created now.
pub async fn store_returns_the_stored_row(s: Subject) -> CaseResult {
    let u = some_user(&s).await?;
    let mut new = token(&u, &FamilyId::generate(), in_secs(&s, 3600));
    new.client = ClientInfo::new(Some("Mozilla/5.0 (X11)"), Some("2001:db8::1"));
    let before = s.clock.now();
    let stored = s.store.store_refresh_token(new.clone()).await?;
    let after = s.clock.now();
    assert_eq!(stored.digest, new.digest);
    assert_eq!(stored.user_id, u);
    assert_eq!(stored.family_id, new.family_id);
    assert_eq!(stored.expires_at, new.expires_at);
    assert!(!stored.revoked);
    assert_eq!(stored.user_agent.as_deref(), Some("Mozilla/5.0 (X11)"));
    assert_eq!(stored.ip_address.as_deref(), Some("2001:db8::1"));
    assert!(before <= stored.created_at && stored.created_at <= after);
    assert_eq!(
        row(&s, &new.digest).await?,
        stored,
        "get returns the same row"
    );
    Ok(())
}

/// An unknown digest gives None.
pub async fn get_unknown_token_is_none(s: Subject) -> CaseResult {
    assert!(s.store.get_refresh_token(&digest()).await?.is_none());
    Ok(())
}

/// get_refresh_token returns revoked and expired tokens too.
pub async fn get_returns_revoked_and_expired(s: Subject) -> CaseResult {
    let u = some_user(&s).await?;
    let expired = token(&u, &FamilyId::generate(), ago_secs(&s, 60));
    s.store.store_refresh_token(expired.clone()).await?;
    assert!(row(&s, &expired.digest).await?.expires_at < s.clock.now());
    let revoked = token(&u, &FamilyId::generate(), in_secs(&s, 3600));
    s.store.store_refresh_token(revoked.clone()).await?;
    s.store.revoke_refresh_token(&revoked.digest).await?;
    assert!(row(&s, &revoked.digest).await?.revoked);
    Ok(())
}

/// Storing a digest that is already stored is a Conflict on RefreshToken and changes nothing.
pub async fn store_duplicate_digest_conflicts(s: Subject) -> CaseResult {
    let u = some_user(&s).await?;
    let first = token(&u, &FamilyId::generate(), in_secs(&s, 3600));
    let stored = s.store.store_refresh_token(first.clone()).await?;
    let mut dup = token(&u, &FamilyId::generate(), in_secs(&s, 7200));
    dup.digest = first.digest.clone();
    let r = s.store.store_refresh_token(dup).await;
    assert!(
        r.as_ref()
            .is_err_and(|e| e.is_conflict(ConflictKind::RefreshToken)),
        "got {r:?}"
    );
    assert_eq!(row(&s, &first.digest).await?, stored);
    Ok(())
}

/// Storing a token for an unknown user is NotFound User and stores nothing.
pub async fn store_for_unknown_user_not_found(s: Subject) -> CaseResult {
    let t = token(
        &ghost_user(&s),
        &FamilyId::generate(),
        in_secs(&s, 3600),
    );
    let r = s.store.store_refresh_token(t.clone()).await;
    assert!(
        r.as_ref().is_err_and(|e| e.is_not_found(Entity::User)),
        "got {r:?}"
    );
    assert!(s.store.get_refresh_token(&t.digest).await?.is_none());
    Ok(())
}

/// Revoke ignores expiry: an expired, unrevoked token is flipped once.
pub async fn revoke_ignores_expiry(s: Subject) -> CaseResult {
    let u = some_user(&s).await?;
    let t = token(&u, &FamilyId::generate(), ago_secs(&s, 60));
    s.store.store_refresh_token(t.clone()).await?;
    assert!(s.store.revoke_refresh_token(&t.digest).await?);
    assert!(!s.store.revoke_refresh_token(&t.digest).await?);
    Ok(())
}

/// Revoking one token leaves the other tokens of its family live.
pub async fn revoke_touches_only_that_token(s: Subject) -> CaseResult {
    let u = some_user(&s).await?;
    let family = FamilyId::generate();
    let a = token(&u, &family, in_secs(&s, 3600));
    let b = token(&u, &family, in_secs(&s, 3600));
    s.store.store_refresh_token(a.clone()).await?;
    s.store.store_refresh_token(b.clone()).await?;
    assert!(s.store.revoke_refresh_token(&a.digest).await?);
    assert!(!row(&s, &b.digest).await?.revoked);
    Ok(())
}

/// Rotating a live token revokes it and stores the next one live, in the same family, for the same user.
pub async fn rotate_live_token(s: Subject) -> CaseResult {
    let u = some_user(&s).await?;
    let family = FamilyId::generate();
    let mut first = token(&u, &family, in_secs(&s, 3600));
    first.client = ClientInfo::new(Some("old agent"), Some("10.0.0.1"));
    s.store.store_refresh_token(first.clone()).await?;
    let n = next(
        in_secs(&s, 7200),
        ClientInfo::new(Some("new agent"), Some("10.0.0.2")),
    );
    let rotation = s
        .store
        .rotate_refresh_token(&first.digest, n.clone())
        .await?;
    let Rotation::Rotated(new) = rotation else {
        panic!("expected Rotated, got {rotation:?}");
    };
    assert_eq!(new.digest, n.digest);
    assert_eq!(new.family_id, family);
    assert_eq!(new.user_id, u);
    assert_eq!(new.expires_at, n.expires_at);
    assert!(!new.revoked);
    assert_eq!(new.user_agent.as_deref(), Some("new agent"));
    assert_eq!(new.ip_address.as_deref(), Some("10.0.0.2"));
    assert!(
        row(&s, &first.digest).await?.revoked,
        "the old token is revoked"
    );
    assert_eq!(
        row(&s, &n.digest).await?,
        new,
        "the new token is stored as returned"
    );
    Ok(())
}

/// A chain of rotations keeps one family; each step revokes its predecessor.
pub async fn rotate_chain_stays_in_family(s: Subject) -> CaseResult {
    let u = some_user(&s).await?;
    let family = FamilyId::generate();
    let first = token(&u, &family, in_secs(&s, 3600));
    s.store.store_refresh_token(first.clone()).await?;
    let mut current = first.digest;
    let mut seen = vec![current.clone()];
    for _ in 0..3 {
        let n = next(in_secs(&s, 3600), ClientInfo::default());
        match s.store.rotate_refresh_token(&current, n.clone()).await? {
            Rotation::Rotated(t) => assert_eq!(t.family_id, family),
            other => panic!("expected Rotated, got {other:?}"),
        }
        current = n.digest;
        seen.push(current.clone());
    }
    for (i, d) in seen.iter().enumerate() {
        let revoked = row(&s, d).await?.revoked;
        assert_eq!(revoked, i + 1 < seen.len(), "token {i} of the chain");
    }
    Ok(())
}

/// Rotating a revoked token is Reused: the whole family is revoked and nothing is inserted.
pub async fn rotate_revoked_token_is_reuse(s: Subject) -> CaseResult {
    let u = some_user(&s).await?;
    let family = FamilyId::generate();
    let first = token(&u, &family, in_secs(&s, 3600));
    s.store.store_refresh_token(first.clone()).await?;
    let n1 = next(in_secs(&s, 3600), ClientInfo::default());
    let r1 = s
        .store
        .rotate_refresh_token(&first.digest, n1.clone())
        .await?;
    assert!(matches!(r1, Rotation::Rotated(_)), "got {r1:?}");
    let sibling = token(&u, &family, in_secs(&s, 3600));
    s.store.store_refresh_token(sibling.clone()).await?;
    let other_family = token(&u, &FamilyId::generate(), in_secs(&s, 3600));
    s.store.store_refresh_token(other_family.clone()).await?;

    let replay = next(in_secs(&s, 3600), ClientInfo::default());
    let r2 = s
        .store
        .rotate_refresh_token(&first.digest, replay.clone())
        .await?;
    assert_eq!(
        r2,
        Rotation::Reused {
            family_id: family.clone(),
            user_id: u
        }
    );
    assert!(
        row(&s, &n1.digest).await?.revoked,
        "the live successor is revoked"
    );
    assert!(
        row(&s, &sibling.digest).await?.revoked,
        "every family token is revoked"
    );
    assert!(
        s.store.get_refresh_token(&replay.digest).await?.is_none(),
        "nothing is inserted on reuse"
    );
    assert!(
        !row(&s, &other_family.digest).await?.revoked,
        "other families are untouched"
    );
    Ok(())
}

/// A revoked token is Reused even after it expired: revocation is checked before expiry.
pub async fn rotate_revoked_expired_token_is_reuse(s: Subject) -> CaseResult {
    let u = some_user(&s).await?;
    let family = FamilyId::generate();
    let old = token(&u, &family, ago_secs(&s, 60));
    s.store.store_refresh_token(old.clone()).await?;
    assert!(s.store.revoke_refresh_token(&old.digest).await?);
    let live = token(&u, &family, in_secs(&s, 3600));
    s.store.store_refresh_token(live.clone()).await?;
    let n = next(in_secs(&s, 3600), ClientInfo::default());
    let r = s.store.rotate_refresh_token(&old.digest, n.clone()).await?;
    assert_eq!(
        r,
        Rotation::Reused {
            family_id: family,
            user_id: u
        }
    );
    assert!(
        row(&s, &live.digest).await?.revoked,
        "the family is revoked"
    );
    assert!(s.store.get_refresh_token(&n.digest).await?.is_none());
    Ok(())
}

/// Rotating an unrevoked but expired token is Expired and changes nothing.
pub async fn rotate_expired_token(s: Subject) -> CaseResult {
    let u = some_user(&s).await?;
    let family = FamilyId::generate();
    let old = token(&u, &family, ago_secs(&s, 1));
    let before = s.store.store_refresh_token(old.clone()).await?;
    let sibling = token(&u, &family, in_secs(&s, 3600));
    s.store.store_refresh_token(sibling.clone()).await?;
    let n = next(in_secs(&s, 3600), ClientInfo::default());
    let r = s.store.rotate_refresh_token(&old.digest, n.clone()).await?;
    assert_eq!(r, Rotation::Expired);
    assert_eq!(row(&s, &old.digest).await?, before, "old token unchanged");
    assert!(!row(&s, &sibling.digest).await?.revoked, "family untouched");
    assert!(s.store.get_refresh_token(&n.digest).await?.is_none());
    Ok(())
}

/// A token expiring exactly now is expired for rotation (live means expires_at > now).
pub async fn rotate_token_expiring_now_is_expired(s: Subject) -> CaseResult {
    // On a manual clock this is the boundary itself; on the system clock the
    // instant has passed by the time the store reads it, so Expired either way.
    let u = some_user(&s).await?;
    let old = token(&u, &FamilyId::generate(), s.clock.now());
    s.store.store_refresh_token(old.clone()).await?;
    let n = next(in_secs(&s, 3600), ClientInfo::default());
    let r = s.store.rotate_refresh_token(&old.digest, n.clone()).await?;
    assert_eq!(r, Rotation::Expired);
    assert!(s.store.get_refresh_token(&n.digest).await?.is_none());
    Ok(())
}

/// Rotating an unknown digest is NotFound and inserts nothing.
pub async fn rotate_unknown_token(s: Subject) -> CaseResult {
    let n = next(in_secs(&s, 3600), ClientInfo::default());
    let r = s.store.rotate_refresh_token(&digest(), n.clone()).await?;
    assert_eq!(r, Rotation::NotFound);
    assert!(s.store.get_refresh_token(&n.digest).await?.is_none());
    Ok(())
}

/// Rotating into a digest that is already stored is a Conflict and changes nothing.
pub async fn rotate_into_existing_digest_conflicts(s: Subject) -> CaseResult {
    let u = some_user(&s).await?;
    let old = token(&u, &FamilyId::generate(), in_secs(&s, 3600));
    let old_row = s.store.store_refresh_token(old.clone()).await?;
    let taken = token(&u, &FamilyId::generate(), in_secs(&s, 3600));
    let taken_row = s.store.store_refresh_token(taken.clone()).await?;
    let n = NextRefreshToken {
        digest: taken.digest.clone(),
        expires_at: in_secs(&s, 7200),
        client: ClientInfo::new(Some("attacker"), None),
    };
    let r = s.store.rotate_refresh_token(&old.digest, n).await;
    assert!(
        r.as_ref()
            .is_err_and(|e| e.is_conflict(ConflictKind::RefreshToken)),
        "got {r:?}"
    );
    assert_eq!(row(&s, &old.digest).await?, old_row, "old token stays live");
    assert_eq!(
        row(&s, &taken.digest).await?,
        taken_row,
        "existing row unchanged"
    );
    Ok(())
}

/// Reference 16: revoke_family revokes every token of the family and counts the flipped ones.
pub async fn revoke_family_counts_and_isolates(s: Subject) -> CaseResult {
    let u = some_user(&s).await?;
    let family = FamilyId::generate();
    let toks: Vec<_> = (0..3)
        .map(|_| token(&u, &family, in_secs(&s, 3600)))
        .collect();
    for t in &toks {
        s.store.store_refresh_token(t.clone()).await?;
    }
    s.store.revoke_refresh_token(&toks[0].digest).await?;
    let other = token(&u, &FamilyId::generate(), in_secs(&s, 3600));
    s.store.store_refresh_token(other.clone()).await?;
    assert_eq!(s.store.revoke_family(&family).await?, 2, "two were live");
    for t in &toks {
        assert!(row(&s, &t.digest).await?.revoked);
    }
    assert!(
        !row(&s, &other.digest).await?.revoked,
        "other family untouched"
    );
    assert_eq!(
        s.store.revoke_family(&family).await?,
        0,
        "again: nothing flips"
    );
    assert_eq!(
        s.store.revoke_family(&FamilyId::generate()).await?,
        0,
        "unknown"
    );
    Ok(())
}

/// revoke_family revokes the family whoever owns its tokens, and counts expired unrevoked ones.
pub async fn revoke_family_whoever_owns_it(s: Subject) -> CaseResult {
    let a = some_user(&s).await?;
    let b = some_user(&s).await?;
    let family = FamilyId::generate();
    let ta = token(&a, &family, in_secs(&s, 3600));
    let tb = token(&b, &family, ago_secs(&s, 60));
    s.store.store_refresh_token(ta.clone()).await?;
    s.store.store_refresh_token(tb.clone()).await?;
    assert_eq!(s.store.revoke_family(&family).await?, 2);
    assert!(row(&s, &ta.digest).await?.revoked);
    assert!(row(&s, &tb.digest).await?.revoked);
    Ok(())
}

/// revoke_all_for_user revokes every token of the user, counts the flipped ones, and spares other users.
pub async fn revoke_all_for_user(s: Subject) -> CaseResult {
    let u = some_user(&s).await?;
    let other = some_user(&s).await?;
    let f1 = FamilyId::generate();
    let mine = vec![
        token(&u, &f1, in_secs(&s, 3600)),
        token(&u, &f1, in_secs(&s, 3600)),
        token(&u, &FamilyId::generate(), in_secs(&s, 3600)),
    ];
    for t in &mine {
        s.store.store_refresh_token(t.clone()).await?;
    }
    s.store.revoke_refresh_token(&mine[0].digest).await?;
    let theirs = token(&other, &f1, in_secs(&s, 3600));
    s.store.store_refresh_token(theirs.clone()).await?;
    assert_eq!(s.store.revoke_all_for_user(&u).await?, 2);
    for t in &mine {
        assert!(row(&s, &t.digest).await?.revoked);
    }
    assert!(
        !row(&s, &theirs.digest).await?.revoked,
        "another user's token, even in the same family id, is untouched"
    );
    assert_eq!(s.store.revoke_all_for_user(&u).await?, 0);
    assert_eq!(s.store.revoke_all_for_user(&ghost_user(&s)).await?, 0);
    Ok(())
}

/// Reference 15: of live, revoked-live, expired and expired-revoked tokens, prune removes exactly the expired two.
pub async fn prune_removes_only_expired(s: Subject) -> CaseResult {
    let _only_pruner = prune_guard().await;
    let u = some_user(&s).await?;
    let family = FamilyId::generate();
    // Expired long ago, so a cutoff just after them touches no other case's rows.
    let day = Duration::from_secs(86_400);
    let base = s.clock.now() - day * 30 - Duration::from_secs(u64::from(rand_u16()));
    let live = token(&u, &family, in_secs(&s, 3600));
    let revoked_live = token(&u, &family, in_secs(&s, 3600));
    let expired = token(&u, &family, base);
    let expired_revoked = token(&u, &family, base + Duration::from_millis(1));
    for t in [&live, &revoked_live, &expired, &expired_revoked] {
        s.store.store_refresh_token(t.clone()).await?;
    }
    s.store.revoke_refresh_token(&revoked_live.digest).await?;
    s.store
        .revoke_refresh_token(&expired_revoked.digest)
        .await?;
    let n = s
        .store
        .prune_expired_refresh_tokens(base + Duration::from_millis(2))
        .await?;
    assert!(
        n >= 2,
        "prune reported {n} rows, at least our 2 expired ones"
    );
    assert!(s.store.get_refresh_token(&expired.digest).await?.is_none());
    assert!(
        s.store
            .get_refresh_token(&expired_revoked.digest)
            .await?
            .is_none()
    );
    assert!(!row(&s, &live.digest).await?.revoked);
    assert!(
        row(&s, &revoked_live.digest).await?.revoked,
        "revoked but unexpired tokens stay for reuse detection"
    );
    Ok(())
}

/// prune deletes strictly before the cutoff: a token expiring exactly at it stays.
pub async fn prune_cutoff_is_strict(s: Subject) -> CaseResult {
    let _only_pruner = prune_guard().await;
    let u = some_user(&s).await?;
    let at = s.clock.now() - Duration::from_secs(86_400 * 40 + u64::from(rand_u16()));
    let edge = token(&u, &FamilyId::generate(), at);
    let before = token(&u, &FamilyId::generate(), at - Duration::from_micros(1));
    s.store.store_refresh_token(edge.clone()).await?;
    s.store.store_refresh_token(before.clone()).await?;
    s.store.prune_expired_refresh_tokens(at).await?;
    assert!(
        s.store.get_refresh_token(&edge.digest).await?.is_some(),
        "expires_at == before must stay"
    );
    assert!(s.store.get_refresh_token(&before.digest).await?.is_none());
    Ok(())
}

/// A digest pruned from one user's sessions and stored again for another
/// user belongs to the new owner only: the old owner's sessions, revocations
/// and count do not see it.
pub async fn pruned_digest_reused_by_another_user_is_not_the_old_owners(
    s: Subject,
) -> CaseResult {
    let _only_pruner = prune_guard().await;
    let old_owner = some_user(&s).await?;
    let new_owner = some_user(&s).await?;
    let at = s.clock.now() - Duration::from_secs(86_400 * 50 + u64::from(rand_u16()));
    let expired = token(&old_owner, &FamilyId::generate(), at);
    s.store.store_refresh_token(expired.clone()).await?;
    s.store
        .prune_expired_refresh_tokens(at + Duration::from_millis(1))
        .await?;
    assert!(s.store.get_refresh_token(&expired.digest).await?.is_none());
    let reused = NewRefreshToken {
        user_id: new_owner.clone(),
        family_id: FamilyId::generate(),
        expires_at: in_secs(&s, 3600),
        ..expired.clone()
    };
    s.store.store_refresh_token(reused.clone()).await?;
    assert!(
        s.store.list_sessions(&old_owner).await?.is_empty(),
        "the old owner has no session left"
    );
    assert_eq!(s.store.revoke_all_for_user(&old_owner).await?, 0);
    let kept = row(&s, &reused.digest).await?;
    assert_eq!(kept.user_id, new_owner);
    assert!(!kept.revoked, "the new owner's token is untouched");
    let sessions = s.store.list_sessions(&new_owner).await?;
    assert_eq!(sessions.len(), 1);
    assert_eq!(sessions[0].family_id, reused.family_id);
    Ok(())
}

/// User agent and IP are kept as ClientInfo::new sanitised them: controls stripped, clamped to 512/45 characters.
pub async fn client_info_is_clamped_and_kept(s: Subject) -> CaseResult {
    let u = some_user(&s).await?;
    let agent = format!("Mozilla\u{7}/5.0\r\n{}", "é".repeat(600));
    let ip = format!("::ffff:{}\t", "1".repeat(60));
    let client = ClientInfo::new(Some(&agent), Some(&ip));
    let ua = client.user_agent.clone().expect("an agent was given");
    let addr = client.ip_address.clone().expect("an ip was given");
    assert_eq!(ua.chars().count(), 512);
    assert!(
        ua.starts_with("Mozilla/5.0é"),
        "controls are stripped: {ua:?}"
    );
    assert_eq!(addr.chars().count(), 45);
    assert!(!addr.contains('\t'));
    let mut t = token(&u, &FamilyId::generate(), in_secs(&s, 3600));
    t.client = client;
    let stored = s.store.store_refresh_token(t.clone()).await?;
    assert_eq!(stored.user_agent.as_deref(), Some(ua.as_str()));
    let got = row(&s, &t.digest).await?;
    assert_eq!(
        got.user_agent.as_deref(),
        Some(ua.as_str()),
        "512 characters, not bytes"
    );
    assert_eq!(got.ip_address.as_deref(), Some(addr.as_str()));

    let long = next(
        in_secs(&s, 3600),
        ClientInfo::new(Some(&"x".repeat(1000)), Some(&"9".repeat(100))),
    );
    let r = s
        .store
        .rotate_refresh_token(&t.digest, long.clone())
        .await?;
    assert!(matches!(r, Rotation::Rotated(_)), "got {r:?}");
    let rotated = row(&s, &long.digest).await?;
    assert_eq!(rotated.user_agent, Some("x".repeat(512)));
    assert_eq!(rotated.ip_address, Some("9".repeat(45)));
    Ok(())
}

/// Absent client info is stored as None, not as an empty string.
pub async fn absent_client_info_is_none(s: Subject) -> CaseResult {
    let u = some_user(&s).await?;
    let t = token(&u, &FamilyId::generate(), in_secs(&s, 3600));
    s.store.store_refresh_token(t.clone()).await?;
    let got = row(&s, &t.digest).await?;
    assert_eq!((got.user_agent, got.ip_address), (None, None));
    Ok(())
}

/// Expiry instants round-trip to the microsecond.
pub async fn expires_at_round_trips_microseconds(s: Subject) -> CaseResult {
    let u = some_user(&s).await?;
    let at = Timestamp::from_unix_micros(s.clock.now().unix_micros() + 3_600_000_123)?;
    let t = token(&u, &FamilyId::generate(), at);
    s.store.store_refresh_token(t.clone()).await?;
    assert_eq!(row(&s, &t.digest).await?.expires_at, at);
    Ok(())
}

/// A small random number, to spread the instants of concurrent runs of one case.
fn rand_u16() -> u16 {
    let b = uuid::Uuid::new_v4().into_bytes();
    u16::from_le_bytes([b[0], b[1]])
}
