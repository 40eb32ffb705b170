// conformance-group: requires = [OAuth]
//! OAuth account links: link or get the existing link, listing order,
//! patches, deletion, identities per provider, unknown users, races.

use std::time::Duration;

use fullauth_api::{
    Entity, NewOAuthAccount, OAuthAccountPatch, OAuthLink, ProviderName, ProviderUserId, Text,
    UserId,
};

use super::*;
use crate::{CaseError, CaseResult};

/// A fresh provider name (`google-1a2b…`).
fn provider(prefix: &str) -> Result<ProviderName, StoreError> {
    ProviderName::new(format!("{prefix}-{}", &tag()[..8]))
}

/// A fresh id at the provider.
fn pid() -> Result<ProviderUserId, StoreError> {
    ProviderUserId::new(format!("1{}", tag()))
}

/// The error of a case that expected a row and found none.
fn missing(what: &str) -> CaseError {
    CaseError::Failed(format!("expected a row: {what}"))
}

/// An identity to link for `user_id`, with every optional column filled.
fn link(
    s: &Subject,
    user_id: &UserId,
    provider: &ProviderName,
    pid: &ProviderUserId,
) -> Result<NewOAuthAccount, StoreError> {
    Ok(NewOAuthAccount {
        provider: provider.clone(),
        provider_user_id: pid.clone(),
        user_id: user_id.clone(),
        provider_email: Some(email()),
        access_token: Some(Text::new(format!("ya29.{}", tag()))?),
        refresh_token: Some(Text::new(format!("1//{}", tag()))?),
        expires_at: Some(in_secs(s, 3600)),
    })
}

/// The account of a link that must have been created.
#[track_caller]
fn created(l: OAuthLink) -> fullauth_api::OAuthAccount {
    match l {
        OAuthLink::Created(a) => a,
        OAuthLink::Existing(a) => panic!("expected Created, got Existing({a:?})"),
    }
}

/// The account of a link that must have existed.
#[track_caller]
fn existing(l: OAuthLink) -> fullauth_api::OAuthAccount {
    match l {
        OAuthLink::Existing(a) => a,
        OAuthLink::Created(a) => panic!("expected Existing, got Created({a:?})"),
    }
}

/// Reference 23: link, get, list, update the access token, delete, get is None.
pub async fn oauth_account_crud(s: Subject) -> CaseResult {
    let u = some_user(&s).await?;
    let (p, id) = (provider("google")?, pid()?);
    let new = link(&s, &u, &p, &id)?;
    let acc = created(s.store.link_oauth_account(new.clone()).await?);
    assert_eq!(acc.provider, p);
    assert_eq!(acc.provider_user_id, id);
    assert_eq!(acc.user_id, u);
    assert_eq!(acc.provider_email, new.provider_email);
    assert_eq!(acc.access_token, new.access_token);
    assert_eq!(acc.refresh_token, new.refresh_token);
    assert_eq!(acc.expires_at, new.expires_at);
    let got = s
        .store
        .get_oauth_account(&p, &id)
        .await?
        .ok_or_else(|| missing("the link is found"))?;
    assert_eq!(got, acc);
    assert_eq!(s.store.list_oauth_accounts(&u).await?, vec![acc.clone()]);
    let token = Text::new("new-access-token")?;
    let patch = OAuthAccountPatch {
        access_token: Some(Some(token.clone())),
        ..Default::default()
    };
    let updated = s
        .store
        .update_oauth_account(&p, &id, patch)
        .await?
        .ok_or_else(|| missing("the link exists"))?;
    assert_eq!(updated.access_token, Some(token));
    assert!(s.store.delete_oauth_account(&p, &id).await?);
    assert!(s.store.get_oauth_account(&p, &id).await?.is_none());
    Ok(())
}

/// Reference 22: linking an identity already linked to another user returns that user's row, unchanged.
pub async fn duplicate_identity_returns_other_users_link(s: Subject) -> CaseResult {
    let first = some_user(&s).await?;
    let second = some_user(&s).await?;
    let (p, id) = (provider("github")?, pid()?);
    let original = created(
        s.store
            .link_oauth_account(link(&s, &first, &p, &id)?)
            .await?,
    );
    let again = existing(
        s.store
            .link_oauth_account(link(&s, &second, &p, &id)?)
            .await?,
    );
    assert_eq!(again.user_id, first, "the existing link keeps its owner");
    assert_eq!(
        again, original,
        "the existing row is returned unchanged (no token of the second attempt written)"
    );
    assert_eq!(s.store.get_oauth_account(&p, &id).await?, Some(original));
    assert!(s.store.list_oauth_accounts(&second).await?.is_empty());
    Ok(())
}

/// Linking the same identity again for the same user is Existing, and the row is not overwritten.
pub async fn relink_same_user_is_existing(s: Subject) -> CaseResult {
    let u = some_user(&s).await?;
    let (p, id) = (provider("google")?, pid()?);
    let original = created(s.store.link_oauth_account(link(&s, &u, &p, &id)?).await?);
    let again = existing(s.store.link_oauth_account(link(&s, &u, &p, &id)?).await?);
    assert_eq!(again, original);
    assert_eq!(s.store.list_oauth_accounts(&u).await?, vec![original]);
    Ok(())
}

/// Linking for an unknown user is NotFound User and stores nothing.
pub async fn link_unknown_user_not_found(s: Subject) -> CaseResult {
    let ghost = ghost_user(&s);
    let (p, id) = (provider("google")?, pid()?);
    let res = s.store.link_oauth_account(link(&s, &ghost, &p, &id)?).await;
    assert!(
        res.as_ref().is_err_and(|e| e.is_not_found(Entity::User)),
        "got {res:?}"
    );
    assert!(s.store.get_oauth_account(&p, &id).await?.is_none());
    Ok(())
}

/// A link without tokens, email or expiry stores those columns as None.
pub async fn link_with_only_required_fields(s: Subject) -> CaseResult {
    let u = some_user(&s).await?;
    let (p, id) = (provider("apple")?, pid()?);
    let new = NewOAuthAccount {
        provider: p.clone(),
        provider_user_id: id.clone(),
        user_id: u,
        provider_email: None,
        access_token: None,
        refresh_token: None,
        expires_at: None,
    };
    let acc = created(s.store.link_oauth_account(new).await?);
    assert!(acc.provider_email.is_none() && acc.access_token.is_none());
    assert!(acc.refresh_token.is_none() && acc.expires_at.is_none());
    assert_eq!(s.store.get_oauth_account(&p, &id).await?, Some(acc));
    Ok(())
}

/// A user's links are listed oldest first, not by provider name.
pub async fn list_is_oldest_first(s: Subject) -> CaseResult {
    let u = some_user(&s).await?;
    let mut expected = Vec::new();
    for prefix in ["zz", "mm", "aa"] {
        let (p, id) = (provider(prefix)?, pid()?);
        expected.push(created(
            s.store.link_oauth_account(link(&s, &u, &p, &id)?).await?,
        ));
        s.clock.advance(Duration::from_millis(5)).await;
    }
    let listed = s.store.list_oauth_accounts(&u).await?;
    assert_eq!(listed, expected, "oldest link first");
    assert!(listed.windows(2).all(|w| w[0].created_at < w[1].created_at));
    Ok(())
}

/// list_oauth_accounts holds only the user's own links; an unknown user has none.
pub async fn list_is_per_user(s: Subject) -> CaseResult {
    let a = some_user(&s).await?;
    let b = some_user(&s).await?;
    let mine = created(
        s.store
            .link_oauth_account(link(&s, &a, &provider("google")?, &pid()?)?)
            .await?,
    );
    s.store
        .link_oauth_account(link(&s, &b, &provider("google")?, &pid()?)?)
        .await?;
    assert_eq!(s.store.list_oauth_accounts(&a).await?, vec![mine]);
    assert!(
        s.store
            .list_oauth_accounts(&ghost_user(&s))
            .await?
            .is_empty()
    );
    Ok(())
}

/// created_at comes from the store's clock at the time of linking.
pub async fn created_at_from_clock(s: Subject) -> CaseResult {
    let u = some_user(&s).await?;
    let before = s.clock.now();
    let acc = created(
        s.store
            .link_oauth_account(link(&s, &u, &provider("google")?, &pid()?)?)
            .await?,
    );
    let after = s.clock.now();
    assert!(
        before <= acc.created_at && acc.created_at <= after,
        "created_at {} not within [{before}, {after}]",
        acc.created_at
    );
    Ok(())
}

/// A patch with `Some(None)` clears the column; columns not in the patch keep their values.
pub async fn update_some_none_clears(s: Subject) -> CaseResult {
    let u = some_user(&s).await?;
    let (p, id) = (provider("google")?, pid()?);
    let acc = created(s.store.link_oauth_account(link(&s, &u, &p, &id)?).await?);
    let patch = OAuthAccountPatch {
        access_token: Some(None),
        expires_at: Some(None),
        ..Default::default()
    };
    let updated = s
        .store
        .update_oauth_account(&p, &id, patch)
        .await?
        .ok_or_else(|| missing("the link exists"))?;
    assert_eq!(updated.access_token, None);
    assert_eq!(updated.expires_at, None);
    assert_eq!(updated.refresh_token, acc.refresh_token, "untouched");
    assert_eq!(updated.provider_email, acc.provider_email, "untouched");
    assert_eq!(
        (updated.id, updated.user_id.clone(), updated.created_at),
        (acc.id, acc.user_id, acc.created_at)
    );
    assert_eq!(s.store.get_oauth_account(&p, &id).await?, Some(updated));
    Ok(())
}

/// A patch setting every column writes them all and the row reads back the same.
pub async fn update_sets_every_column(s: Subject) -> CaseResult {
    let u = some_user(&s).await?;
    let (p, id) = (provider("google")?, pid()?);
    let acc = created(
        s.store
            .link_oauth_account(NewOAuthAccount {
                provider: p.clone(),
                provider_user_id: id.clone(),
                user_id: u,
                provider_email: None,
                access_token: None,
                refresh_token: None,
                expires_at: None,
            })
            .await?,
    );
    let mail = email();
    let expiry = in_secs(&s, 7200) + Duration::from_micros(123_457);
    let patch = OAuthAccountPatch {
        provider_email: Some(Some(mail.clone())),
        access_token: Some(Some(Text::new("at-2")?)),
        refresh_token: Some(Some(Text::new("rt-2")?)),
        expires_at: Some(Some(expiry)),
    };
    let updated = s
        .store
        .update_oauth_account(&p, &id, patch)
        .await?
        .ok_or_else(|| missing("the link exists"))?;
    assert_eq!(updated.provider_email, Some(mail));
    assert_eq!(updated.access_token, Some(Text::new("at-2")?));
    assert_eq!(updated.refresh_token, Some(Text::new("rt-2")?));
    assert_eq!(updated.expires_at, Some(expiry));
    assert_eq!(updated.created_at, acc.created_at);
    assert_eq!(s.store.get_oauth_account(&p, &id).await?, Some(updated));
    Ok(())
}

/// An empty patch writes nothing and returns the row unchanged.
pub async fn update_empty_patch_returns_row(s: Subject) -> CaseResult {
    let u = some_user(&s).await?;
    let (p, id) = (provider("google")?, pid()?);
    let acc = created(s.store.link_oauth_account(link(&s, &u, &p, &id)?).await?);
    let got = s
        .store
        .update_oauth_account(&p, &id, OAuthAccountPatch::default())
        .await?;
    assert_eq!(got, Some(acc.clone()));
    assert_eq!(s.store.get_oauth_account(&p, &id).await?, Some(acc));
    Ok(())
}

/// Updating an identity that is not linked answers None and creates nothing.
pub async fn update_unknown_is_none(s: Subject) -> CaseResult {
    let (p, id) = (provider("google")?, pid()?);
    let patch = OAuthAccountPatch {
        access_token: Some(Some(Text::new("x")?)),
        ..Default::default()
    };
    assert!(
        s.store
            .update_oauth_account(&p, &id, patch)
            .await?
            .is_none()
    );
    assert!(
        s.store
            .update_oauth_account(&p, &id, OAuthAccountPatch::default())
            .await?
            .is_none(),
        "an empty patch of a missing link is None too"
    );
    assert!(s.store.get_oauth_account(&p, &id).await?.is_none());
    Ok(())
}

/// delete_oauth_account answers true once, then false; an unknown identity is false.
pub async fn delete_true_then_false(s: Subject) -> CaseResult {
    let u = some_user(&s).await?;
    let (p, id) = (provider("google")?, pid()?);
    let other = created(
        s.store
            .link_oauth_account(link(&s, &u, &provider("github")?, &pid()?)?)
            .await?,
    );
    s.store.link_oauth_account(link(&s, &u, &p, &id)?).await?;
    assert!(s.store.delete_oauth_account(&p, &id).await?);
    assert!(!s.store.delete_oauth_account(&p, &id).await?);
    assert!(
        !s.store
            .delete_oauth_account(&provider("nobody")?, &pid()?)
            .await?
    );
    assert_eq!(
        s.store.list_oauth_accounts(&u).await?,
        vec![other],
        "the user's other link stays"
    );
    Ok(())
}

/// A deleted identity can be linked again, to any user, as Created.
pub async fn deleted_identity_links_again(s: Subject) -> CaseResult {
    let a = some_user(&s).await?;
    let b = some_user(&s).await?;
    let (p, id) = (provider("google")?, pid()?);
    s.store.link_oauth_account(link(&s, &a, &p, &id)?).await?;
    s.store.delete_oauth_account(&p, &id).await?;
    let acc = created(s.store.link_oauth_account(link(&s, &b, &p, &id)?).await?);
    assert_eq!(acc.user_id, b);
    Ok(())
}

/// The same provider user id under two providers is two identities, linked and deleted separately.
pub async fn same_id_under_two_providers_distinct(s: Subject) -> CaseResult {
    let a = some_user(&s).await?;
    let b = some_user(&s).await?;
    let id = pid()?;
    let (gh, gg) = (provider("github")?, provider("google")?);
    let la = created(s.store.link_oauth_account(link(&s, &a, &gh, &id)?).await?);
    let lb = created(s.store.link_oauth_account(link(&s, &b, &gg, &id)?).await?);
    assert_ne!(la.id, lb.id);
    assert_eq!(
        s.store
            .get_oauth_account(&gh, &id)
            .await?
            .map(|x| x.user_id),
        Some(a)
    );
    assert_eq!(
        s.store
            .get_oauth_account(&gg, &id)
            .await?
            .map(|x| x.user_id),
        Some(b)
    );
    assert!(s.store.delete_oauth_account(&gh, &id).await?);
    assert_eq!(s.store.get_oauth_account(&gg, &id).await?, Some(lb));
    Ok(())
}

/// Provider user ids are matched exactly: ids differing only in case are distinct identities.
pub async fn provider_user_id_is_exact(s: Subject) -> CaseResult {
    let u = some_user(&s).await?;
    let p = provider("twitter")?;
    let t = tag();
    let lower = ProviderUserId::new(format!("abc{t}"))?;
    let upper = ProviderUserId::new(format!("ABC{}", t.to_uppercase()))?;
    created(
        s.store
            .link_oauth_account(link(&s, &u, &p, &lower)?)
            .await?,
    );
    created(
        s.store
            .link_oauth_account(link(&s, &u, &p, &upper)?)
            .await?,
    );
    assert_eq!(s.store.list_oauth_accounts(&u).await?.len(), 2);
    Ok(())
}

/// expires_at with microseconds round-trips exactly through link, get and list.
pub async fn expires_at_round_trips(s: Subject) -> CaseResult {
    let u = some_user(&s).await?;
    let (p, id) = (provider("google")?, pid()?);
    let expiry = in_secs(&s, 3600) + Duration::from_micros(654_321);
    let mut new = link(&s, &u, &p, &id)?;
    new.expires_at = Some(expiry);
    let acc = created(s.store.link_oauth_account(new).await?);
    assert_eq!(acc.expires_at, Some(expiry));
    let got = s.store.get_oauth_account(&p, &id).await?;
    assert_eq!(got.and_then(|a| a.expires_at), Some(expiry));
    let listed = s.store.list_oauth_accounts(&u).await?;
    assert_eq!(listed.first().and_then(|a| a.expires_at), Some(expiry));
    Ok(())
}

/// Provider ids and tokens with quotes, SQL, emoji and right-to-left text are stored verbatim.
pub async fn hostile_values_verbatim(s: Subject) -> CaseResult {
    let u = some_user(&s).await?;
    let p = ProviderName::new(format!("o'r\"%_🦀{}", &tag()[..8]))?;
    let id = ProviderUserId::new(format!("1' OR '1'='1; -- \u{202e}עברית {}", tag()))?;
    let token = Text::new(format!("{}\u{1F510}'\"\\", "x".repeat(4096)))?;
    let mut new = link(&s, &u, &p, &id)?;
    new.access_token = Some(token.clone());
    created(s.store.link_oauth_account(new).await?);
    let got = s
        .store
        .get_oauth_account(&p, &id)
        .await?
        .ok_or_else(|| missing("found by the exact identity"))?;
    assert_eq!(got.provider, p);
    assert_eq!(got.provider_user_id, id);
    assert_eq!(got.access_token, Some(token));
    Ok(())
}

/// Of many concurrent links of one identity by different users exactly one is Created; the rest get that row.
pub async fn concurrent_link_one_created(s: Subject) -> CaseResult {
    let mut users = Vec::with_capacity(RACERS);
    for _ in 0..RACERS {
        users.push(some_user(&s).await?);
    }
    let (p, id) = (provider("google")?, pid()?);
    let mut links = Vec::with_capacity(RACERS);
    for uid in &users {
        links.push(link(&s, uid, &p, &id)?);
    }
    let results = race(RACERS, |i| {
        let store = s.store.clone();
        let new = links[i].clone();
        async move { store.link_oauth_account(new).await }
    })
    .await;
    let mut winners = Vec::new();
    let mut accounts = Vec::new();
    for res in results {
        let l = res?;
        if l.is_created() {
            winners.push(l.account().clone());
        }
        accounts.push(l.into_account());
    }
    assert_eq!(winners.len(), 1, "exactly one link is Created");
    let winner = &winners[0];
    assert!(
        accounts.iter().all(|a| a == winner),
        "every racer sees the winner's row"
    );
    assert_eq!(
        s.store.get_oauth_account(&p, &id).await?.as_ref(),
        Some(winner)
    );
    Ok(())
}
