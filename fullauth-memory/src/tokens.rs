//! Refresh tokens and sessions (`fullauth_refresh_tokens`,
//! [`Feature::Core`](fullauth_api::Feature::Core)).

use std::collections::HashMap;
use std::sync::Arc;

use fullauth_api::{
    ConflictKind, Entity, FamilyId, NewRefreshToken, NextRefreshToken, RefreshToken, Rotation,
    Session, StoreError, StoreResult, Timestamp, TokenDigest, UserId, new_record_id,
};

use crate::state::{Map, Set};
use crate::store::Handle;

/// One row, with its insertion sequence (a tie-break between rows written at
/// the same instant).
#[derive(Clone, Debug)]
struct Row {
    token: RefreshToken,
    seq: u64,
}

/// The token table, indexed by owner and by family.
#[derive(Clone, Debug, Default)]
pub(crate) struct Tokens {
    /// Behind an `Arc`: a write copies the path to the row it changes, and
    /// the rows beside it on that path are shared, not cloned.
    rows: Map<TokenDigest, Arc<Row>>,
    by_user: Map<UserId, Set<TokenDigest>>,
    by_family: Map<FamilyId, Set<TokenDigest>>,
    next_seq: u64,
}

impl Tokens {
    /// True when the user owns at least one row.
    pub(crate) fn has_user(&self, id: &UserId) -> bool {
        self.by_user.contains_key(id)
    }

    /// Deletes every row of the user.
    pub(crate) fn remove_user(&mut self, id: &UserId) {
        for digest in self.by_user.remove(id).unwrap_or_default() {
            if let Some(row) = self.rows.remove(&digest) {
                unindex(&mut self.by_family, &row.token.family_id, &digest);
            }
        }
    }

    fn insert(&mut self, token: RefreshToken) {
        let digest = token.digest.clone();
        self.by_user
            .entry(token.user_id.clone())
            .or_default()
            .insert(digest.clone());
        self.by_family
            .entry(token.family_id.clone())
            .or_default()
            .insert(digest.clone());
        let seq = self.next_seq;
        self.next_seq = self.next_seq.wrapping_add(1);
        self.rows.insert(digest, Arc::new(Row { token, seq }));
    }

    fn remove(&mut self, digest: &TokenDigest) -> bool {
        match self.rows.remove(digest) {
            Some(row) => {
                unindex(&mut self.by_user, &row.token.user_id, digest);
                unindex(&mut self.by_family, &row.token.family_id, digest);
                true
            }
            None => false,
        }
    }

    /// The digests of the family's rows.
    fn family(&self, family: &FamilyId) -> impl Iterator<Item = &TokenDigest> {
        self.by_family.get(family).into_iter().flatten()
    }

    /// The user's rows.
    fn of_user(&self, user: &UserId) -> impl Iterator<Item = &Row> {
        self.by_user
            .get(user)
            .into_iter()
            .flatten()
            .filter_map(|d| self.rows.get(d).map(|r| &**r))
    }

    /// Revokes the given rows; returns how many flipped.
    fn revoke_all(&mut self, digests: &[TokenDigest]) -> u64 {
        let mut flipped = 0;
        for d in digests {
            if self.rows.get(d).is_some_and(|row| !row.token.revoked) {
                if let Some(row) = self.rows.get_mut(d) {
                    Arc::make_mut(row).token.revoked = true;
                    flipped += 1;
                }
            }
        }
        flipped
    }

    /// The unrevoked rows of the family.
    fn live_of_family(&self, family: &FamilyId) -> Vec<TokenDigest> {
        self.unrevoked(self.family(family))
    }

    /// The unrevoked rows of `digests`.
    fn unrevoked<'a>(&self, digests: impl Iterator<Item = &'a TokenDigest>) -> Vec<TokenDigest> {
        digests
            .filter(|d| self.rows.get(*d).is_some_and(|r| !r.token.revoked))
            .cloned()
            .collect()
    }
}

fn unindex<K: std::hash::Hash + Eq + Clone>(
    index: &mut Map<K, Set<TokenDigest>>,
    key: &K,
    digest: &TokenDigest,
) {
    if let Some(set) = index.get_mut(key) {
        set.remove(digest);
        if set.is_empty() {
            index.remove(key);
        }
    }
}

/// Revokes the given rows, copying the table (inside a transaction) only
/// when there is something to revoke; returns how many flipped.
fn revoke(tokens: &mut Arc<Tokens>, digests: &[TokenDigest]) -> u64 {
    if digests.is_empty() {
        return 0;
    }
    Arc::make_mut(tokens).revoke_all(digests)
}

fn conflict() -> StoreError {
    StoreError::conflict(ConflictKind::RefreshToken)
}

/// Stores a new token; see [`fullauth_api::RefreshTokenStore::store_refresh_token`].
pub(crate) async fn store_refresh_token(
    h: Handle<'_>,
    new: NewRefreshToken,
) -> StoreResult<RefreshToken> {
    h.write(move |st, cx| {
        if st.tokens.rows.contains_key(&new.digest) {
            return Err(conflict());
        }
        if !cx.user_exists(st, &new.user_id) {
            return Err(StoreError::not_found(Entity::User));
        }
        let token = RefreshToken {
            id: new_record_id(),
            digest: new.digest,
            user_id: new.user_id,
            family_id: new.family_id,
            expires_at: new.expires_at,
            revoked: false,
            user_agent: new.client.user_agent,
            ip_address: new.client.ip_address,
            created_at: cx.now(),
        };
        Arc::make_mut(&mut st.tokens).insert(token.clone());
        Ok(token)
    })
    .await
}

/// The token with this digest.
pub(crate) async fn get_refresh_token(
    h: Handle<'_>,
    digest: &TokenDigest,
) -> StoreResult<Option<RefreshToken>> {
    h.read(|st, _| Ok(st.tokens.rows.get(digest).map(|r| r.token.clone())))
        .await
}

/// Compare-and-set revoke.
pub(crate) async fn revoke_refresh_token(h: Handle<'_>, digest: &TokenDigest) -> StoreResult<bool> {
    h.write(|st, _| {
        let live = st.tokens.unrevoked(std::iter::once(digest));
        Ok(revoke(&mut st.tokens, &live) == 1)
    })
    .await
}

/// Rotation with reuse detection; see
/// [`fullauth_api::RefreshTokenStore::rotate_refresh_token`].
pub(crate) async fn rotate_refresh_token(
    h: Handle<'_>,
    old: &TokenDigest,
    next: NextRefreshToken,
) -> StoreResult<Rotation> {
    h.write(move |st, cx| {
        let now = cx.now();
        let Some(row) = st.tokens.rows.get(old) else {
            return Ok(Rotation::NotFound);
        };
        let (user_id, family_id) = (row.token.user_id.clone(), row.token.family_id.clone());
        if row.token.revoked {
            let live = st.tokens.live_of_family(&family_id);
            revoke(&mut st.tokens, &live);
            return Ok(Rotation::Reused { family_id, user_id });
        }
        if row.token.expires_at <= now {
            return Ok(Rotation::Expired);
        }
        if st.tokens.rows.contains_key(&next.digest) {
            return Err(conflict());
        }
        let token = RefreshToken {
            id: new_record_id(),
            digest: next.digest,
            user_id,
            family_id,
            expires_at: next.expires_at,
            revoked: false,
            user_agent: next.client.user_agent,
            ip_address: next.client.ip_address,
            created_at: now,
        };
        let tokens = Arc::make_mut(&mut st.tokens);
        tokens.revoke_all(std::slice::from_ref(old));
        tokens.insert(token.clone());
        Ok(Rotation::Rotated(token))
    })
    .await
}

/// Revokes every row of the family; returns how many flipped.
pub(crate) async fn revoke_family(h: Handle<'_>, family_id: &FamilyId) -> StoreResult<u64> {
    h.write(|st, _| {
        let live = st.tokens.live_of_family(family_id);
        Ok(revoke(&mut st.tokens, &live))
    })
    .await
}

/// Revokes every row of the user; returns how many flipped.
pub(crate) async fn revoke_all_for_user(h: Handle<'_>, user_id: &UserId) -> StoreResult<u64> {
    h.write(|st, _| {
        let live = st
            .tokens
            .unrevoked(st.tokens.by_user.get(user_id).into_iter().flatten());
        Ok(revoke(&mut st.tokens, &live))
    })
    .await
}

/// Deletes rows with `expires_at < before`; returns how many.
pub(crate) async fn prune_expired_refresh_tokens(
    h: Handle<'_>,
    before: Timestamp,
) -> StoreResult<u64> {
    h.write(|st, _| {
        let expired: Vec<TokenDigest> = st
            .tokens
            .rows
            .values()
            .filter(|r| r.token.expires_at < before)
            .map(|r| r.token.digest.clone())
            .collect();
        if expired.is_empty() {
            return Ok(0);
        }
        let tokens = Arc::make_mut(&mut st.tokens);
        Ok(expired.iter().filter(|d| tokens.remove(d)).count() as u64)
    })
    .await
}

/// The user's live sessions; see [`fullauth_api::RefreshTokenStore::list_sessions`].
pub(crate) async fn list_sessions(h: Handle<'_>, user_id: &UserId) -> StoreResult<Vec<Session>> {
    struct Acc<'a> {
        first: Timestamp,
        last: Timestamp,
        newest_live: Option<&'a Row>,
    }
    h.read(|st, cx| {
        let now = cx.now();
        let mut families: HashMap<&FamilyId, Acc<'_>> = HashMap::new();
        for row in st.tokens.of_user(user_id) {
            let t = &row.token;
            let acc = families.entry(&t.family_id).or_insert(Acc {
                first: t.created_at,
                last: t.created_at,
                newest_live: None,
            });
            acc.first = acc.first.min(t.created_at);
            acc.last = acc.last.max(t.created_at);
            if t.is_live(now)
                && acc
                    .newest_live
                    .is_none_or(|n| (n.token.created_at, n.seq) < (t.created_at, row.seq))
            {
                acc.newest_live = Some(row);
            }
        }
        let mut sessions: Vec<Session> = families
            .into_iter()
            .filter_map(|(family, acc)| {
                acc.newest_live.map(|live| Session {
                    family_id: family.clone(),
                    created_at: acc.first,
                    last_used_at: acc.last,
                    expires_at: live.token.expires_at,
                    user_agent: live.token.user_agent.clone(),
                    ip_address: live.token.ip_address.clone(),
                })
            })
            .collect();
        sessions.sort_by(|a, b| {
            b.last_used_at
                .cmp(&a.last_used_at)
                .then_with(|| a.family_id.cmp(&b.family_id))
        });
        Ok(sessions)
    })
    .await
}

/// Revokes the user's rows of one family; true when the user has any.
pub(crate) async fn revoke_session(
    h: Handle<'_>,
    user_id: &UserId,
    family_id: &FamilyId,
) -> StoreResult<bool> {
    h.write(|st, _| {
        let mine: Vec<&TokenDigest> = st
            .tokens
            .family(family_id)
            .filter(|d| {
                st.tokens
                    .rows
                    .get(*d)
                    .is_some_and(|r| r.token.user_id == *user_id)
            })
            .collect();
        if mine.is_empty() {
            return Ok(false);
        }
        let live = st.tokens.unrevoked(mine.into_iter());
        revoke(&mut st.tokens, &live);
        Ok(true)
    })
    .await
}

/// Revokes every other session of the user; returns how many families had a
/// row flipped.
pub(crate) async fn revoke_other_sessions(
    h: Handle<'_>,
    user_id: &UserId,
    keep: &FamilyId,
) -> StoreResult<u64> {
    h.write(|st, _| {
        let mut by_family: HashMap<FamilyId, Vec<TokenDigest>> = HashMap::new();
        for row in st.tokens.of_user(user_id) {
            if row.token.family_id != *keep && !row.token.revoked {
                by_family
                    .entry(row.token.family_id.clone())
                    .or_default()
                    .push(row.token.digest.clone());
            }
        }
        if by_family.is_empty() {
            return Ok(0);
        }
        let tokens = Arc::make_mut(&mut st.tokens);
        Ok(by_family
            .values()
            .filter(|digests| tokens.revoke_all(digests) > 0)
            .count() as u64)
    })
    .await
}
