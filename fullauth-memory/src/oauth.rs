//! OAuth account links (`fullauth_oauth_accounts`,
//! [`Feature::OAuth`](fullauth_api::Feature::OAuth)).

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use fullauth_api::{
    Entity, NewOAuthAccount, OAuthAccount, OAuthAccountPatch, OAuthLink, ProviderName,
    ProviderUserId, StoreError, StoreResult, UserId, new_record_id,
};

use crate::state::{Ctx, State};

/// An identity: `(provider, provider_user_id)`, the table's unique key.
type Identity = (ProviderName, ProviderUserId);

/// The links by identity, indexed by user.
#[derive(Clone, Debug, Default)]
pub(crate) struct OAuth {
    rows: HashMap<Identity, OAuthAccount>,
    by_user: HashMap<UserId, BTreeSet<Identity>>,
}

impl OAuth {
    /// True when the user has at least one link.
    pub(crate) fn has_user(&self, id: &UserId) -> bool {
        self.by_user.contains_key(id)
    }

    /// Deletes every link of the user.
    pub(crate) fn remove_user(&mut self, id: &UserId) {
        for identity in self.by_user.remove(id).unwrap_or_default() {
            self.rows.remove(&identity);
        }
    }
}

fn identity(provider: &ProviderName, provider_user_id: &ProviderUserId) -> Identity {
    (provider.clone(), provider_user_id.clone())
}

/// The link of this identity.
pub(crate) fn get_oauth_account(
    st: &State,
    provider: &ProviderName,
    provider_user_id: &ProviderUserId,
) -> Option<OAuthAccount> {
    st.oauth
        .rows
        .get(&identity(provider, provider_user_id))
        .cloned()
}

/// The user's links, oldest first, ties by provider.
pub(crate) fn list_oauth_accounts(st: &State, user: &UserId) -> Vec<OAuthAccount> {
    let mut out: Vec<OAuthAccount> = st
        .oauth
        .by_user
        .get(user)
        .into_iter()
        .flatten()
        .filter_map(|i| st.oauth.rows.get(i))
        .cloned()
        .collect();
    out.sort_by(|a, b| {
        (a.created_at, &a.provider, &a.provider_user_id, a.id).cmp(&(
            b.created_at,
            &b.provider,
            &b.provider_user_id,
            b.id,
        ))
    });
    out
}

/// Links the identity or returns the existing link.
pub(crate) fn link_oauth_account(
    st: &mut State,
    cx: &Ctx,
    new: NewOAuthAccount,
) -> StoreResult<OAuthLink> {
    let key = identity(&new.provider, &new.provider_user_id);
    if let Some(existing) = st.oauth.rows.get(&key) {
        return Ok(OAuthLink::Existing(existing.clone()));
    }
    if !st.users.exists(&new.user_id) {
        return Err(StoreError::NotFound { what: Entity::User });
    }
    let account = OAuthAccount {
        id: new_record_id(),
        provider: new.provider,
        provider_user_id: new.provider_user_id,
        user_id: new.user_id,
        provider_email: new.provider_email,
        access_token: new.access_token,
        refresh_token: new.refresh_token,
        expires_at: new.expires_at,
        created_at: cx.now(),
    };
    let oauth = Arc::make_mut(&mut st.oauth);
    oauth
        .by_user
        .entry(account.user_id)
        .or_default()
        .insert(key.clone());
    oauth.rows.insert(key, account.clone());
    Ok(OAuthLink::Created(account))
}

/// Applies a patch; `None` when the link does not exist.
pub(crate) fn update_oauth_account(
    st: &mut State,
    provider: &ProviderName,
    provider_user_id: &ProviderUserId,
    patch: OAuthAccountPatch,
) -> Option<OAuthAccount> {
    let key = identity(provider, provider_user_id);
    let current = st.oauth.rows.get(&key)?;
    if patch.is_empty() {
        return Some(current.clone());
    }
    let row = Arc::make_mut(&mut st.oauth).rows.get_mut(&key)?;
    if let Some(v) = patch.provider_email {
        row.provider_email = v;
    }
    if let Some(v) = patch.access_token {
        row.access_token = v;
    }
    if let Some(v) = patch.refresh_token {
        row.refresh_token = v;
    }
    if let Some(v) = patch.expires_at {
        row.expires_at = v;
    }
    Some(row.clone())
}

/// Deletes the link; true when it existed.
pub(crate) fn delete_oauth_account(
    st: &mut State,
    provider: &ProviderName,
    provider_user_id: &ProviderUserId,
) -> bool {
    let key = identity(provider, provider_user_id);
    if !st.oauth.rows.contains_key(&key) {
        return false;
    }
    let oauth = Arc::make_mut(&mut st.oauth);
    if let Some(row) = oauth.rows.remove(&key) {
        if let Some(set) = oauth.by_user.get_mut(&row.user_id) {
            set.remove(&key);
            if set.is_empty() {
                oauth.by_user.remove(&row.user_id);
            }
        }
    }
    true
}
