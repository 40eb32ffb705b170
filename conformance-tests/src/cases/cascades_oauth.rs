// conformance-group: requires = [Core, OAuth]
//! Deleting a user removes their OAuth links, freeing the identities.

use fullauth_api::{NewOAuthAccount, OAuthLink, ProviderName, ProviderUserId};

use super::*;
use crate::CaseResult;

/// A minimal link of a fresh identity for `user_id`.
fn identity(user_id: &UserId) -> Result<NewOAuthAccount, StoreError> {
    Ok(NewOAuthAccount {
        provider: ProviderName::new(format!("google-{}", &tag()[..8]))?,
        provider_user_id: ProviderUserId::new(tag())?,
        user_id: user_id.clone(),
        provider_email: None,
        access_token: None,
        refresh_token: None,
        expires_at: None,
    })
}

/// Deleting a user removes their OAuth links: the identity links again (Created) to someone else.
pub async fn delete_user_frees_oauth_identities(s: Subject) -> CaseResult {
    let victim = user(&s).await?;
    let other = user(&s).await?;
    let a = identity(&victim.id)?;
    let b = identity(&victim.id)?;
    let kept = s
        .store
        .link_oauth_account(identity(&other.id)?)
        .await?
        .into_account();
    s.store.link_oauth_account(a.clone()).await?;
    s.store.link_oauth_account(b.clone()).await?;
    assert!(s.store.delete_user(&victim.id).await?);
    for n in [&a, &b] {
        assert!(
            s.store
                .get_oauth_account(&n.provider, &n.provider_user_id)
                .await?
                .is_none()
        );
    }
    let relinked = s
        .store
        .link_oauth_account(NewOAuthAccount {
            user_id: other.id.clone(),
            ..a.clone()
        })
        .await?;
    assert!(
        matches!(&relinked, OAuthLink::Created(acc) if acc.user_id == other.id),
        "the identity is free again, got {relinked:?}"
    );
    assert_eq!(
        s.store
            .get_oauth_account(&kept.provider, &kept.provider_user_id)
            .await?,
        Some(kept),
        "another user's link stays"
    );
    let (again, _) = user_with_id(&s, victim.id).await?;
    assert!(s.store.list_oauth_accounts(&again).await?.is_empty());
    Ok(())
}
