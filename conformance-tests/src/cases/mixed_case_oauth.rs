// conformance-group: requires = [OAuth]
//! Mixed-case provider names: `GitHub` and `github` are two providers, so
//! the same provider user id at each is two identities, linked, found,
//! updated and deleted separately; no lookup crosses cases.

use fullauth_api::{NewOAuthAccount, OAuthAccountPatch, ProviderName, ProviderUserId, Text};

use super::*;
use crate::CaseResult;

/// A link of `user_id` to `provider_user_id` at `provider`.
fn link(
    provider: &ProviderName,
    provider_user_id: &ProviderUserId,
    user_id: UserId,
) -> NewOAuthAccount {
    NewOAuthAccount {
        provider: provider.clone(),
        provider_user_id: provider_user_id.clone(),
        user_id,
        provider_email: None,
        access_token: None,
        refresh_token: None,
        expires_at: None,
    }
}

/// `GitHub` and `github` with one provider user id, linked to two users:
/// both links are created and each lookup finds its own user; `GITHUB`
/// finds nothing.
pub async fn provider_names_differing_in_case_are_distinct_identities(s: Subject) -> CaseResult {
    let title = ProviderName::new("GitHub")?;
    let lower = ProviderName::new("github")?;
    let upper = ProviderName::new("GITHUB")?;
    let pid = ProviderUserId::new(format!("id-{}", tag()))?;
    let (a, b) = (some_user(&s).await?, some_user(&s).await?);
    let first = s.store.link_oauth_account(link(&title, &pid, a.clone())).await?;
    assert!(first.is_created());
    let second = s.store.link_oauth_account(link(&lower, &pid, b.clone())).await?;
    assert!(
        second.is_created(),
        "`github` was taken for `GitHub`: {second:?}"
    );
    let found = s.store.get_oauth_account(&title, &pid).await?;
    assert_eq!(
        found.map(|x| (x.user_id, x.provider)),
        Some((a.clone(), title.clone()))
    );
    let found = s.store.get_oauth_account(&lower, &pid).await?;
    assert_eq!(
        found.map(|x| (x.user_id, x.provider)),
        Some((b, lower.clone()))
    );
    assert!(s.store.get_oauth_account(&upper, &pid).await?.is_none());
    let listed = s.store.list_oauth_accounts(&a).await?;
    assert_eq!(
        listed.iter().map(|x| &x.provider).collect::<Vec<_>>(),
        vec![&title]
    );
    Ok(())
}

/// Updates and deletions by one spelling leave the other identity alone,
/// and a third spelling matches nothing.
pub async fn provider_case_separates_updates_and_deletes(s: Subject) -> CaseResult {
    let title = ProviderName::new("GitHub")?;
    let lower = ProviderName::new("github")?;
    let upper = ProviderName::new("GITHUB")?;
    let pid = ProviderUserId::new(format!("id-{}", tag()))?;
    let (a, b) = (some_user(&s).await?, some_user(&s).await?);
    s.store.link_oauth_account(link(&title, &pid, a.clone())).await?;
    s.store.link_oauth_account(link(&lower, &pid, b.clone())).await?;
    let patch = OAuthAccountPatch {
        access_token: Some(Some(Text::new("lower-token")?)),
        ..Default::default()
    };
    assert!(
        s.store
            .update_oauth_account(&upper, &pid, patch.clone())
            .await?
            .is_none()
    );
    let updated = s.store.update_oauth_account(&lower, &pid, patch).await?;
    assert_eq!(updated.map(|x| x.user_id), Some(b.clone()));
    let other = s.store.get_oauth_account(&title, &pid).await?;
    assert!(other.is_some_and(|x| x.access_token.is_none() && x.user_id == a));
    assert!(!s.store.delete_oauth_account(&upper, &pid).await?);
    assert!(s.store.delete_oauth_account(&title, &pid).await?);
    assert!(s.store.get_oauth_account(&title, &pid).await?.is_none());
    let left = s.store.get_oauth_account(&lower, &pid).await?;
    assert_eq!(left.map(|x| x.user_id), Some(b));
    Ok(())
}
