//! OAuth account links (`fullauth_oauth_accounts`,
//! [`Feature::OAuth`](fullauth_api::Feature::OAuth)).

use std::sync::Arc;

use fullauth_api::{
    Entity, NewOAuthAccount, OAuthAccount, OAuthAccountPatch, OAuthLink, ProviderName,
    ProviderUserId, StoreError, StoreResult, UserId, new_record_id,
};

use crate::state::{Map, Set};
use crate::store::Handle;

/// An identity: `(provider, provider_user_id)`, the table's unique key.
type Identity = (ProviderName, ProviderUserId);

/// The links by identity, indexed by user.
#[derive(Clone, Debug, Default)]
pub(crate) struct OAuth {
    rows: Map<Identity, OAuthAccount>,
    by_user: Map<UserId, Set<Identity>>,
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
pub(crate) async fn get_oauth_account(
    h: Handle<'_>,
    provider: &ProviderName,
    provider_user_id: &ProviderUserId,
) -> StoreResult<Option<OAuthAccount>> {
    h.read(|st, _| {
        let key = identity(provider, provider_user_id);
        Ok(st.oauth.rows.get(&key).cloned())
    })
    .await
}

/// The user's links, oldest first, ties by provider.
pub(crate) async fn list_oauth_accounts(
    h: Handle<'_>,
    user_id: &UserId,
) -> StoreResult<Vec<OAuthAccount>> {
    h.read(|st, _| {
        let mut out: Vec<OAuthAccount> = st
            .oauth
            .by_user
            .get(user_id)
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
        Ok(out)
    })
    .await
}

/// Links the identity or returns the existing link.
pub(crate) async fn link_oauth_account(
    h: Handle<'_>,
    new: NewOAuthAccount,
) -> StoreResult<OAuthLink> {
    h.write(move |st, cx| {
        let key = identity(&new.provider, &new.provider_user_id);
        if let Some(existing) = st.oauth.rows.get(&key) {
            return Ok(OAuthLink::Existing(existing.clone()));
        }
        if !cx.user_exists(st, &new.user_id) {
            return Err(StoreError::not_found(Entity::User));
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
            .entry(account.user_id.clone())
            .or_default()
            .insert(key.clone());
        oauth.rows.insert(key, account.clone());
        Ok(OAuthLink::Created(account))
    })
    .await
}

/// Applies a patch; `None` when the link does not exist.
pub(crate) async fn update_oauth_account(
    h: Handle<'_>,
    provider: &ProviderName,
    provider_user_id: &ProviderUserId,
    patch: OAuthAccountPatch,
) -> StoreResult<Option<OAuthAccount>> {
    h.write(move |st, _| {
        let key = identity(provider, provider_user_id);
        let Some(current) = st.oauth.rows.get(&key) else {
            return Ok(None);
        };
        if patch.is_empty() {
            return Ok(Some(current.clone()));
        }
        let Some(row) = Arc::make_mut(&mut st.oauth).rows.get_mut(&key) else {
            return Ok(None);
        };
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
        Ok(Some(row.clone()))
    })
    .await
}

/// Deletes the link; true when it existed.
pub(crate) async fn delete_oauth_account(
    h: Handle<'_>,
    provider: &ProviderName,
    provider_user_id: &ProviderUserId,
) -> StoreResult<bool> {
    h.write(|st, _| {
        let key = identity(provider, provider_user_id);
        if !st.oauth.rows.contains_key(&key) {
            return Ok(false);
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
        Ok(true)
    })
    .await
}
