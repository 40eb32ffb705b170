// conformance-group: requires = [Core]
//! Sessions: refresh-token families listed, aggregated, ordered and revoked.

use std::time::Duration;

use fullauth_api::{ClientInfo, FamilyId, NextRefreshToken, Rotation, TokenDigest, UserId};

use super::*;
use crate::CaseResult;

/// A pause long enough to order `created_at` values (sleeps on the system clock).
const TICK: Duration = Duration::from_millis(5);

/// Starts a session: stores one live token in a new family and returns both.
async fn sign_in(
    s: &Subject,
    user_id: &UserId,
) -> Result<(FamilyId, TokenDigest), crate::CaseError> {
    let family = FamilyId::generate();
    let t = token(user_id, &family, in_secs(s, 3600));
    s.store.store_refresh_token(t.clone()).await?;
    Ok((family, t.digest))
}

/// Rotates `old` with this client info; returns the new digest.
async fn rotate(
    s: &Subject,
    old: &TokenDigest,
    client: ClientInfo,
    expires_in: u64,
) -> Result<TokenDigest, crate::CaseError> {
    let n = NextRefreshToken {
        digest: digest(),
        expires_at: in_secs(s, expires_in),
        client,
    };
    match s.store.rotate_refresh_token(old, n.clone()).await? {
        Rotation::Rotated(_) => Ok(n.digest),
        other => Err(crate::CaseError::Failed(format!(
            "expected Rotated, got {other:?}"
        ))),
    }
}

/// The family ids of the user's listed sessions, in listed order.
async fn listed(s: &Subject, user_id: &UserId) -> Result<Vec<FamilyId>, crate::CaseError> {
    Ok(s.store
        .list_sessions(user_id)
        .await?
        .into_iter()
        .map(|x| x.family_id)
        .collect())
}

/// Reference 17: two families give two sessions; revoking one leaves the other; an unknown family is false.
pub async fn list_and_revoke_sessions(s: Subject) -> CaseResult {
    let u = some_user(&s).await?;
    let (fa, _) = sign_in(&s, &u).await?;
    let (fb, _) = sign_in(&s, &u).await?;
    let mut both = listed(&s, &u).await?;
    both.sort();
    let mut want = vec![fa.clone(), fb.clone()];
    want.sort();
    assert_eq!(both, want);
    assert!(s.store.revoke_session(&u, &fa).await?);
    assert!(!s.store.revoke_session(&u, &FamilyId::generate()).await?);
    assert_eq!(listed(&s, &u).await?, vec![fb]);
    Ok(())
}

/// Reference 18: revoke_session is idempotent (true twice, also for an expired family); unknown is false.
pub async fn revoke_session_is_idempotent(s: Subject) -> CaseResult {
    let u = some_user(&s).await?;
    let family = FamilyId::generate();
    s.store
        .store_refresh_token(token(&u, &family, ago_secs(&s, 60)))
        .await?;
    assert!(s.store.revoke_session(&u, &family).await?, "first");
    assert!(s.store.revoke_session(&u, &family).await?, "second");
    assert!(!s.store.revoke_session(&u, &FamilyId::generate()).await?);
    Ok(())
}

/// revoke_session revokes every token of the family.
pub async fn revoke_session_revokes_every_token(s: Subject) -> CaseResult {
    let u = some_user(&s).await?;
    let family = FamilyId::generate();
    let a = token(&u, &family, in_secs(&s, 3600));
    let b = token(&u, &family, in_secs(&s, 3600));
    s.store.store_refresh_token(a.clone()).await?;
    s.store.store_refresh_token(b.clone()).await?;
    assert!(s.store.revoke_session(&u, &family).await?);
    for d in [&a.digest, &b.digest] {
        let t = s.store.get_refresh_token(d).await?.expect("kept");
        assert!(t.revoked);
    }
    Ok(())
}

/// Reference 19: revoke_other_sessions with three families revokes two and keeps the kept one listed.
pub async fn revoke_other_sessions(s: Subject) -> CaseResult {
    let u = some_user(&s).await?;
    let (keep, keep_digest) = sign_in(&s, &u).await?;
    sign_in(&s, &u).await?;
    sign_in(&s, &u).await?;
    assert_eq!(s.store.revoke_other_sessions(&u, &keep).await?, 2);
    assert_eq!(listed(&s, &u).await?, vec![keep]);
    let kept = s
        .store
        .get_refresh_token(&keep_digest)
        .await?
        .expect("kept");
    assert!(!kept.revoked);
    Ok(())
}

/// revoke_other_sessions counts families, not token rows; already revoked families do not count.
pub async fn revoke_other_sessions_counts_families(s: Subject) -> CaseResult {
    let u = some_user(&s).await?;
    let (keep, _) = sign_in(&s, &u).await?;
    let wide = FamilyId::generate();
    for _ in 0..3 {
        s.store
            .store_refresh_token(token(&u, &wide, in_secs(&s, 3600)))
            .await?;
    }
    let (dead, _) = sign_in(&s, &u).await?;
    s.store.revoke_family(&dead).await?;
    let stale = FamilyId::generate();
    s.store
        .store_refresh_token(token(&u, &stale, ago_secs(&s, 60)))
        .await?;
    // `wide` (3 live rows) and `stale` (expired, unrevoked) flip; `dead` had nothing to flip.
    assert_eq!(s.store.revoke_other_sessions(&u, &keep).await?, 2);
    assert_eq!(s.store.revoke_other_sessions(&u, &keep).await?, 0);
    Ok(())
}

/// revoke_other_sessions touches neither the kept family nor other users.
pub async fn revoke_other_sessions_spares_other_users(s: Subject) -> CaseResult {
    let u = some_user(&s).await?;
    let other = some_user(&s).await?;
    let (keep, _) = sign_in(&s, &u).await?;
    let (theirs, their_digest) = sign_in(&s, &other).await?;
    sign_in(&s, &u).await?;
    assert_eq!(s.store.revoke_other_sessions(&u, &keep).await?, 1);
    assert_eq!(listed(&s, &other).await?, vec![theirs]);
    let t = s
        .store
        .get_refresh_token(&their_digest)
        .await?
        .expect("kept");
    assert!(!t.revoked);
    Ok(())
}

/// Sessions are listed newest last_used_at first.
pub async fn sessions_newest_first(s: Subject) -> CaseResult {
    let u = some_user(&s).await?;
    let (first, first_digest) = sign_in(&s, &u).await?;
    s.clock.advance(TICK).await;
    let (second, _) = sign_in(&s, &u).await?;
    s.clock.advance(TICK).await;
    let (third, _) = sign_in(&s, &u).await?;
    assert_eq!(
        listed(&s, &u).await?,
        vec![third.clone(), second.clone(), first.clone()]
    );
    // Using the oldest session again moves it to the front.
    s.clock.advance(TICK).await;
    rotate(&s, &first_digest, ClientInfo::default(), 3600).await?;
    assert_eq!(listed(&s, &u).await?, vec![first, third, second]);
    Ok(())
}

/// A rotated family is one session: created_at is its first token's, last_used_at its newest token's.
pub async fn session_aggregates_rotated_family(s: Subject) -> CaseResult {
    let u = some_user(&s).await?;
    let (family, d0) = sign_in(&s, &u).await?;
    let t0 = s.store.get_refresh_token(&d0).await?.expect("stored");
    s.clock.advance(TICK).await;
    let d1 = rotate(
        &s,
        &d0,
        ClientInfo::new(Some("agent 1"), Some("10.0.0.1")),
        3600,
    )
    .await?;
    s.clock.advance(TICK).await;
    let d2 = rotate(
        &s,
        &d1,
        ClientInfo::new(Some("agent 2"), Some("10.0.0.2")),
        7200,
    )
    .await?;
    let t2 = s.store.get_refresh_token(&d2).await?.expect("stored");
    let sessions = s.store.list_sessions(&u).await?;
    assert_eq!(sessions.len(), 1, "one family is one session: {sessions:?}");
    let x = &sessions[0];
    assert_eq!(x.family_id, family);
    assert_eq!(x.created_at, t0.created_at);
    assert_eq!(x.last_used_at, t2.created_at);
    assert!(x.last_used_at > x.created_at);
    assert_eq!(x.expires_at, t2.expires_at);
    assert_eq!(x.user_agent.as_deref(), Some("agent 2"));
    assert_eq!(x.ip_address.as_deref(), Some("10.0.0.2"));
    Ok(())
}

/// Fields come from the newest live token, while last_used_at counts revoked tokens too.
pub async fn session_fields_from_newest_live_token(s: Subject) -> CaseResult {
    let u = some_user(&s).await?;
    let family = FamilyId::generate();
    let mut live = token(&u, &family, in_secs(&s, 3600));
    live.client = ClientInfo::new(Some("live agent"), Some("192.0.2.1"));
    let live_row = s.store.store_refresh_token(live).await?;
    s.clock.advance(TICK).await;
    let mut newer = token(&u, &family, in_secs(&s, 9000));
    newer.client = ClientInfo::new(Some("revoked agent"), Some("192.0.2.2"));
    let newer_row = s.store.store_refresh_token(newer.clone()).await?;
    assert!(s.store.revoke_refresh_token(&newer.digest).await?);
    let sessions = s.store.list_sessions(&u).await?;
    assert_eq!(sessions.len(), 1, "{sessions:?}");
    let x = &sessions[0];
    assert_eq!(x.user_agent.as_deref(), Some("live agent"));
    assert_eq!(x.ip_address.as_deref(), Some("192.0.2.1"));
    assert_eq!(x.expires_at, live_row.expires_at);
    assert_eq!(x.created_at, live_row.created_at);
    assert_eq!(x.last_used_at, newer_row.created_at);
    Ok(())
}

/// With several live tokens in one family, the fields come from the newest,
/// whatever the order of their digests.
pub async fn session_fields_from_the_newest_of_several_live_tokens(s: Subject) -> CaseResult {
    let u = some_user(&s).await?;
    let family = FamilyId::generate();
    let mut digests = [digest(), digest()];
    // The older token gets the smaller digest (a store that picked the
    // first row in digest order would show the older one).
    digests.sort_by(|a, b| a.as_str().cmp(b.as_str()));
    let [small, large] = digests;
    let mut older = token(&u, &family, in_secs(&s, 3600));
    older.digest = small;
    older.client = ClientInfo::new(Some("older agent"), Some("192.0.2.10"));
    s.store.store_refresh_token(older).await?;
    s.clock.advance(TICK).await;
    let mut newer = token(&u, &family, in_secs(&s, 7200));
    newer.digest = large;
    newer.client = ClientInfo::new(Some("newer agent"), Some("192.0.2.11"));
    let newer_row = s.store.store_refresh_token(newer).await?;
    let sessions = s.store.list_sessions(&u).await?;
    assert_eq!(sessions.len(), 1, "{sessions:?}");
    let x = &sessions[0];
    assert_eq!(x.user_agent.as_deref(), Some("newer agent"));
    assert_eq!(x.ip_address.as_deref(), Some("192.0.2.11"));
    assert_eq!(x.expires_at, newer_row.expires_at);
    assert_eq!(x.last_used_at, newer_row.created_at);
    Ok(())
}

/// A family whose tokens have all expired is not listed.
pub async fn expired_family_is_hidden(s: Subject) -> CaseResult {
    let u = some_user(&s).await?;
    let gone = FamilyId::generate();
    s.store
        .store_refresh_token(token(&u, &gone, ago_secs(&s, 60)))
        .await?;
    s.store
        .store_refresh_token(token(&u, &gone, ago_secs(&s, 1)))
        .await?;
    let (live, _) = sign_in(&s, &u).await?;
    assert_eq!(listed(&s, &u).await?, vec![live]);
    Ok(())
}

/// A family whose tokens are all revoked is not listed, even if they have not expired.
pub async fn revoked_family_is_hidden(s: Subject) -> CaseResult {
    let u = some_user(&s).await?;
    let (dead, d) = sign_in(&s, &u).await?;
    s.clock.advance(TICK).await;
    let d2 = rotate(&s, &d, ClientInfo::default(), 3600).await?;
    s.store.revoke_refresh_token(&d2).await?;
    let (live, _) = sign_in(&s, &u).await?;
    let got = listed(&s, &u).await?;
    assert!(!got.contains(&dead), "fully revoked family listed: {got:?}");
    assert_eq!(got, vec![live]);
    Ok(())
}

/// A session expires when its newest token does: listed before, hidden after.
pub async fn session_disappears_when_it_expires(s: Subject) -> CaseResult {
    let u = some_user(&s).await?;
    let family = FamilyId::generate();
    s.store
        .store_refresh_token(token(&u, &family, in_secs(&s, 1)))
        .await?;
    assert_eq!(listed(&s, &u).await?, vec![family]);
    s.clock.advance(Duration::from_millis(1100)).await;
    assert!(listed(&s, &u).await?.is_empty());
    Ok(())
}

/// A user without tokens, and an unknown user, have no sessions.
pub async fn no_sessions_for_unknown_user(s: Subject) -> CaseResult {
    let u = some_user(&s).await?;
    assert!(s.store.list_sessions(&u).await?.is_empty());
    assert!(s.store.list_sessions(&ghost_user(&s)).await?.is_empty());
    Ok(())
}

/// Other users' sessions are never listed.
pub async fn sessions_are_per_user(s: Subject) -> CaseResult {
    let a = some_user(&s).await?;
    let b = some_user(&s).await?;
    let (fa, _) = sign_in(&s, &a).await?;
    let (fb, _) = sign_in(&s, &b).await?;
    assert_eq!(listed(&s, &a).await?, vec![fa]);
    assert_eq!(listed(&s, &b).await?, vec![fb]);
    Ok(())
}

/// revoke_session of another user's family is false and revokes nothing.
pub async fn revoke_someone_elses_session_is_false(s: Subject) -> CaseResult {
    let owner = some_user(&s).await?;
    let intruder = some_user(&s).await?;
    let (family, d) = sign_in(&s, &owner).await?;
    assert!(!s.store.revoke_session(&intruder, &family).await?);
    let t = s.store.get_refresh_token(&d).await?.expect("kept");
    assert!(!t.revoked, "the owner's token must stay live");
    assert_eq!(listed(&s, &owner).await?, vec![family]);
    Ok(())
}
