// conformance-group: requires = [OAuth]
//! Races on OAuth links: linking one identity from many tasks.

use fullauth_api::{NewOAuthAccount, OAuthLink, ProviderName, ProviderUserId, UserId};

use super::*;
use crate::CaseResult;

/// A link of `provider`/`subject` to `user_id`.
fn link(provider: &ProviderName, subject: &ProviderUserId, user_id: UserId) -> NewOAuthAccount {
    NewOAuthAccount {
        provider: provider.clone(),
        provider_user_id: subject.clone(),
        user_id,
        provider_email: None,
        access_token: None,
        refresh_token: None,
        expires_at: None,
    }
}

/// Of N concurrent links of one identity to N different users exactly one
/// is Created; the rest are Existing and point at the winner's user.
pub async fn link_same_identity_many_users_one_created(s: Subject) -> CaseResult {
    let provider = ProviderName::new("google")?;
    let subject = ProviderUserId::new(format!("sub-{}", tag()))?;
    let mut users = Vec::with_capacity(RACERS);
    for _ in 0..RACERS {
        users.push(some_user(&s).await?);
    }
    let results = race(RACERS, |i| {
        let st = s.store.clone();
        let new = link(&provider, &subject, users[i].clone());
        async move { st.link_oauth_account(new).await }
    })
    .await;
    let results: Vec<OAuthLink> = results.into_iter().collect::<Result<_, _>>()?;
    let created: Vec<usize> = (0..RACERS).filter(|i| results[*i].is_created()).collect();
    assert_eq!(created.len(), 1, "exactly one link is Created");
    let winner = users[created[0]].clone();
    assert_eq!(results[created[0]].account().user_id, winner.clone());
    let id = results[created[0]].account().id;
    for r in &results {
        assert_eq!(r.account().user_id, winner.clone(), "every answer names the winner");
        assert_eq!(r.account().id, id, "every answer is the same row");
    }
    let stored = s.store.get_oauth_account(&provider, &subject).await?;
    assert_eq!(stored.map(|a| a.user_id), Some(winner));
    for (i, u) in users.iter().enumerate() {
        let n = s.store.list_oauth_accounts(u).await?.len();
        assert_eq!(n, usize::from(i == created[0]), "only the winner is linked");
    }
    Ok(())
}

/// Of N concurrent links of one identity to the same user exactly one is
/// Created and the user ends with one link.
pub async fn link_same_identity_same_user_one_created(s: Subject) -> CaseResult {
    let provider = ProviderName::new("github")?;
    let subject = ProviderUserId::new(tag())?;
    let u = some_user(&s).await?;
    let results = race(RACERS, |_| {
        let st = s.store.clone();
        let new = link(&provider, &subject, u.clone());
        async move { st.link_oauth_account(new).await }
    })
    .await;
    let results: Vec<OAuthLink> = results.into_iter().collect::<Result<_, _>>()?;
    assert_eq!(results.iter().filter(|r| r.is_created()).count(), 1);
    assert_eq!(s.store.list_oauth_accounts(&u).await?.len(), 1);
    Ok(())
}
