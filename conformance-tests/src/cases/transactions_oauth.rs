// conformance-group: requires = [Core, OAuth]
//! Transactions across users and OAuth links: the savepoint around
//! `link_oauth_account`, commit and rollback.

use fullauth_api::{NewOAuthAccount, NewUser, OAuthLink, ProviderName, ProviderUserId, UserId};

use super::*;
use crate::CaseResult;

/// A link of `user_id` to a fresh identity at `github`.
fn identity(user_id: &UserId) -> Result<NewOAuthAccount, fullauth_api::StoreError> {
    Ok(NewOAuthAccount {
        provider: ProviderName::new("github")?,
        provider_user_id: ProviderUserId::new(format!("gh-{}", tag()))?,
        user_id: user_id.clone(),
        provider_email: None,
        access_token: None,
        refresh_token: None,
        expires_at: None,
    })
}

/// Reference 29 (Core and OAuth part): a duplicate link inside a transaction returns the existing row and the transaction commits.
pub async fn duplicate_link_returns_existing_and_commits(s: Subject) -> CaseResult {
    let owner = user(&s).await?;
    let first = identity(&owner.id)?;
    let created = s.store.link_oauth_account(first.clone()).await?;
    assert!(created.is_created());
    let tx = s.store.begin().await?;
    let newcomer = tx.create_user(NewUser::new(email().as_str())?).await?;
    let mut again = first.clone();
    again.user_id = newcomer.id.clone();
    match tx.link_oauth_account(again).await? {
        OAuthLink::Existing(a) => {
            assert_eq!(a.user_id, owner.id, "the existing row is the owner's");
            assert_eq!(a.id, created.account().id);
        }
        other => panic!("expected Existing, got {other:?}"),
    }
    let own = identity(&newcomer.id)?;
    assert!(tx.link_oauth_account(own.clone()).await?.is_created());
    tx.commit().await?;
    assert!(s.store.get_user(&newcomer.id).await?.is_some());
    let still = s
        .store
        .get_oauth_account(&first.provider, &first.provider_user_id)
        .await?
        .expect("the first link stays");
    assert_eq!(still.user_id, owner.id);
    assert_eq!(s.store.list_oauth_accounts(&owner.id).await?.len(), 1);
    let theirs = s.store.list_oauth_accounts(&newcomer.id).await?;
    assert_eq!(theirs.len(), 1);
    assert_eq!(theirs[0].provider_user_id, own.provider_user_id);
    Ok(())
}

/// A duplicate of a link made earlier in the same transaction is Existing, and the transaction commits.
pub async fn duplicate_of_link_made_in_same_transaction(s: Subject) -> CaseResult {
    let tx = s.store.begin().await?;
    let u = tx.create_user(NewUser::new(email().as_str())?).await?;
    let link = identity(&u.id)?;
    assert!(tx.link_oauth_account(link.clone()).await?.is_created());
    let again = tx.link_oauth_account(link.clone()).await?;
    assert!(!again.is_created(), "got {again:?}");
    tx.commit().await?;
    let got = s
        .store
        .get_oauth_account(&link.provider, &link.provider_user_id)
        .await?;
    assert_eq!(got.map(|a| a.user_id), Some(u.id));
    Ok(())
}

/// A link made in a rolled-back transaction does not exist afterwards.
pub async fn rollback_discards_link(s: Subject) -> CaseResult {
    let u = user(&s).await?;
    let link = identity(&u.id)?;
    let tx = s.store.begin().await?;
    assert!(tx.link_oauth_account(link.clone()).await?.is_created());
    assert!(
        tx.get_oauth_account(&link.provider, &link.provider_user_id)
            .await?
            .is_some(),
        "the transaction sees its own link"
    );
    assert!(
        s.store
            .get_oauth_account(&link.provider, &link.provider_user_id)
            .await?
            .is_none(),
        "the store does not see an uncommitted link"
    );
    drop(tx);
    assert!(
        s.store
            .get_oauth_account(&link.provider, &link.provider_user_id)
            .await?
            .is_none()
    );
    assert!(s.store.link_oauth_account(link).await?.is_created());
    Ok(())
}
