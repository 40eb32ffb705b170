// conformance-group: requires = [Core, OAuth, Roles]
//! Reference 29 in full: an OAuth duplicate inside a transaction, then a role
//! assignment, then commit.

use fullauth_api::{NewOAuthAccount, OAuthLink, ProviderName, ProviderUserId};

use super::*;
use crate::CaseResult;

/// Reference 29: a duplicate link inside a transaction returns the existing row; a role assigned after it commits; one account only.
pub async fn oauth_duplicate_then_role_commits(s: Subject) -> CaseResult {
    let u = user(&s).await?;
    let link = NewOAuthAccount {
        provider: ProviderName::new("google")?,
        provider_user_id: ProviderUserId::new(format!("g-{}", tag()))?,
        user_id: u.id.clone(),
        provider_email: Some(u.email.clone()),
        access_token: None,
        refresh_token: None,
        expires_at: None,
    };
    let created = s.store.link_oauth_account(link.clone()).await?;
    assert!(created.is_created(), "got {created:?}");
    let editor = role("editor");
    let tx = s.store.begin().await?;
    match tx.link_oauth_account(link.clone()).await? {
        OAuthLink::Existing(a) => assert_eq!(a, *created.account()),
        other => panic!("expected Existing, got {other:?}"),
    }
    assert!(tx.assign_role(&u.id, &editor).await?);
    tx.commit().await?;
    assert_eq!(s.store.list_oauth_accounts(&u.id).await?.len(), 1);
    assert_eq!(s.store.get_user_roles(&u.id).await?, vec![editor]);
    Ok(())
}
