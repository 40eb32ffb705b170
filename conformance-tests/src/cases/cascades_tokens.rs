// conformance-group: requires = [Core]
//! Deleting a user removes their refresh tokens and sessions, and nobody
//! else's.

use fullauth_api::FamilyId;

use super::*;
use crate::CaseResult;

/// Deleting a user deletes every refresh token of theirs; another user's token is untouched.
pub async fn delete_user_removes_refresh_tokens(s: Subject) -> CaseResult {
    let victim = user(&s).await?;
    let other = user(&s).await?;
    let fam = FamilyId::generate();
    let t1 = s
        .store
        .store_refresh_token(token(&victim.id, &fam, in_secs(&s, 3600)))
        .await?;
    let t2 = s
        .store
        .store_refresh_token(token(&victim.id, &FamilyId::generate(), in_secs(&s, 3600)))
        .await?;
    s.store.revoke_refresh_token(&t2.digest).await?;
    let kept = s
        .store
        .store_refresh_token(token(&other.id, &fam, in_secs(&s, 3600)))
        .await?;
    assert!(s.store.delete_user(&victim.id).await?);
    assert!(s.store.get_refresh_token(&t1.digest).await?.is_none());
    assert!(
        s.store.get_refresh_token(&t2.digest).await?.is_none(),
        "revoked tokens go too"
    );
    assert_eq!(
        s.store.get_refresh_token(&kept.digest).await?,
        Some(kept),
        "another user's token in the same family id stays as it was"
    );
    Ok(())
}

/// After deletion the user's token digests are free and the re-created id has no sessions.
pub async fn deleted_users_tokens_are_gone_for_good(s: Subject) -> CaseResult {
    let victim = user(&s).await?;
    let other = user(&s).await?;
    let t = s
        .store
        .store_refresh_token(token(&victim.id, &FamilyId::generate(), in_secs(&s, 3600)))
        .await?;
    s.store.delete_user(&victim.id).await?;
    let (again, _) = user_with_id(&s, victim.id).await?;
    assert!(s.store.list_sessions(&again).await?.is_empty());
    assert_eq!(s.store.revoke_all_for_user(&again).await?, 0);
    assert!(
        !s.store.revoke_session(&again, &t.family_id).await?,
        "the old family is not the re-created user's"
    );
    let mut reuse = token(&other.id, &FamilyId::generate(), in_secs(&s, 3600));
    reuse.digest = t.digest.clone();
    s.store.store_refresh_token(reuse).await?;
    Ok(())
}
