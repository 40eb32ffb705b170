//! A store of your own, run through the whole conformance suite.
//!
//! This is the path a user follows to plug fullauth into storage we do not
//! ship: implement the traits of the features you serve, report them in
//! `features()`, and let `conformance_tests!` prove the store right. Here the
//! "legacy" storage is a pair of maps behind a mutex; yours would be DynamoDB,
//! MySQL or an existing user table.
//!
//! The store serves Core (users, passwords, refresh tokens, sessions, with
//! transactions), the token blacklist and one-time challenges. Every other
//! feature keeps the traits' default bodies, which answer
//! `StoreError::FeatureDisabled`; the suite generates those cases as ignored.
//!
//! Run the suite against it with
//! `cargo test -p fullauth-conformance --example custom_store`, and the demo with
//! `cargo run -p fullauth-conformance --example custom_store`.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use fullauth_api::{
    BlacklistStore, ChallengeStore, Clock, ConflictKind, DurableStore, Email, Entity, ExtraFields,
    FamilyId, Feature, Features, HashedPassword, LockoutStore, MfaStore, NewRefreshToken, NewUser,
    NextRefreshToken, OAuthStore, PasskeyStore, PermissionStore, RateLimitStore, RefreshToken,
    RefreshTokenStore, RoleStore, Rotation, Session, StateKey, StoreError, StoreResult, Text,
    Timestamp, TokenDigest, Transaction, User, UserId, UserLookup, UserPatch, UserStore,
    async_trait, new_record_id, ttl_seconds,
};
use serde_json::Value;

/// The one application column of our legacy user table.
const APP_COLUMN: &str = "display_name";

/// Everything durable. Cloned whole when a transaction begins.
#[derive(Clone, Default)]
struct Tables {
    users: BTreeMap<UserId, (User, Option<HashedPassword>)>,
    tokens: HashMap<TokenDigest, RefreshToken>,
}

#[derive(Default)]
struct Shared {
    committed: Mutex<Tables>,
    /// Held by a writer for one call, or by a transaction for its whole life:
    /// writers are serialised, so a transaction's snapshot stays current.
    writer: Arc<tokio::sync::Mutex<()>>,
    /// Short-lived entries: key → (value, deadline). Not transactional.
    blacklist: Mutex<HashMap<StateKey, Timestamp>>,
    challenges: Mutex<HashMap<StateKey, (Text, Timestamp)>>,
}

enum Access {
    Direct,
    Tx {
        tables: Mutex<Tables>,
        _writer: tokio::sync::OwnedMutexGuard<()>,
    },
}

/// The custom store: a handle on the shared state, either direct or inside a
/// transaction.
pub struct LegacyStore {
    shared: Arc<Shared>,
    clock: Clock,
    access: Access,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl LegacyStore {
    /// An empty store reading time from `clock`.
    pub fn new(clock: Clock) -> Self {
        LegacyStore {
            shared: Arc::default(),
            clock,
            access: Access::Direct,
        }
    }

    fn now(&self) -> Timestamp {
        self.clock.now()
    }

    async fn read<R>(&self, f: impl FnOnce(&Tables) -> R) -> R {
        match &self.access {
            Access::Direct => f(&lock(&self.shared.committed)),
            Access::Tx { tables, .. } => f(&lock(tables)),
        }
    }

    /// Runs `f` on the tables; on error nothing it did is kept.
    async fn write<R>(&self, f: impl FnOnce(&mut Tables) -> StoreResult<R>) -> StoreResult<R> {
        match &self.access {
            Access::Direct => {
                let _writer = self.shared.writer.lock().await;
                let mut committed = lock(&self.shared.committed);
                let mut draft = committed.clone();
                let out = f(&mut draft)?;
                *committed = draft;
                Ok(out)
            }
            Access::Tx { tables, .. } => {
                let mut tables = lock(tables);
                let mut draft = tables.clone();
                let out = f(&mut draft)?;
                *tables = draft;
                Ok(out)
            }
        }
    }
}

fn find_user<'a>(t: &'a Tables, lookup: &UserLookup) -> StoreResult<Option<&'a User>> {
    if let UserLookup::Extra { column, .. } = lookup {
        if column != APP_COLUMN {
            return Err(StoreError::UnknownField {
                field: column.clone(),
            });
        }
    }
    let matches = |u: &User| -> bool {
        match lookup {
            UserLookup::Id(id) => u.id == *id,
            UserLookup::Email(e) => u.email == *e,
            UserLookup::IsActive(b) => u.is_active == *b,
            UserLookup::IsVerified(b) => u.is_verified == *b,
            UserLookup::IsSuperuser(b) => u.is_superuser == *b,
            UserLookup::Extra { column, value } => u.extra.get(column) == Some(value),
            _ => false,
        }
    };
    let mut found: Option<&User> = None;
    for (u, _) in t.users.values() {
        if matches(u) && found.is_none_or(|f| (u.created_at, u.id) < (f.created_at, f.id)) {
            found = Some(u);
        }
    }
    Ok(found)
}

fn apply_extra(user: &mut User, extra: &ExtraFields) -> StoreResult<()> {
    for (name, value) in extra.iter() {
        if name != APP_COLUMN {
            return Err(StoreError::UnknownField {
                field: name.clone(),
            });
        }
        user.extra.insert_stored(name.clone(), value.clone());
    }
    Ok(())
}

fn user_mut<'a>(
    t: &'a mut Tables,
    id: &UserId,
) -> StoreResult<&'a mut (User, Option<HashedPassword>)> {
    t.users
        .get_mut(id)
        .ok_or(StoreError::NotFound { what: Entity::User })
}

#[async_trait]
impl UserStore for LegacyStore {
    async fn create_user(&self, new: NewUser) -> StoreResult<User> {
        let now = self.now();
        self.write(|t| {
            let id = new.id.unwrap_or_else(UserId::generate);
            if t.users.contains_key(&id) {
                return Err(StoreError::Conflict {
                    what: ConflictKind::UserId,
                });
            }
            if t.users.values().any(|(u, _)| u.email == new.email) {
                return Err(StoreError::Conflict {
                    what: ConflictKind::Email,
                });
            }
            let mut user = User {
                id,
                email: new.email,
                is_active: new.is_active,
                is_verified: new.is_verified,
                is_superuser: new.is_superuser,
                created_at: now,
                extra: ExtraFields::new(),
            };
            user.extra.insert_stored(APP_COLUMN, Value::Null);
            apply_extra(&mut user, &new.extra)?;
            t.users.insert(id, (user.clone(), new.hashed_password));
            Ok(user)
        })
        .await
    }

    async fn get_user(&self, id: &UserId) -> StoreResult<Option<User>> {
        Ok(self.read(|t| t.users.get(id).map(|(u, _)| u.clone())).await)
    }

    async fn get_user_by_email(&self, email: &Email) -> StoreResult<Option<User>> {
        self.get_user_by_field(&UserLookup::Email(email.clone()))
            .await
    }

    async fn get_user_by_field(&self, lookup: &UserLookup) -> StoreResult<Option<User>> {
        self.read(|t| Ok(find_user(t, lookup)?.cloned())).await
    }

    async fn update_user(&self, id: &UserId, patch: UserPatch) -> StoreResult<User> {
        self.write(|t| {
            if let Some(email) = &patch.email {
                if t.users
                    .values()
                    .any(|(u, _)| u.email == *email && u.id != *id)
                {
                    return Err(StoreError::Conflict {
                        what: ConflictKind::Email,
                    });
                }
            }
            let (user, _) = user_mut(t, id)?;
            if let Some(email) = patch.email {
                user.email = email;
            }
            user.is_active = patch.is_active.unwrap_or(user.is_active);
            user.is_verified = patch.is_verified.unwrap_or(user.is_verified);
            user.is_superuser = patch.is_superuser.unwrap_or(user.is_superuser);
            apply_extra(user, &patch.extra)?;
            Ok(user.clone())
        })
        .await
    }

    async fn delete_user(&self, id: &UserId) -> StoreResult<bool> {
        self.write(|t| {
            // Our legacy storage has no foreign keys: cascade by hand.
            t.tokens.retain(|_, tok| tok.user_id != *id);
            Ok(t.users.remove(id).is_some())
        })
        .await
    }

    async fn get_password_hash(&self, id: &UserId) -> StoreResult<Option<HashedPassword>> {
        self.read(|t| match t.users.get(id) {
            Some((_, hash)) => Ok(hash.clone()),
            None => Err(StoreError::NotFound { what: Entity::User }),
        })
        .await
    }

    async fn set_password_hash(
        &self,
        id: &UserId,
        hash: Option<HashedPassword>,
    ) -> StoreResult<()> {
        self.write(|t| {
            user_mut(t, id)?.1 = hash;
            Ok(())
        })
        .await
    }

    async fn mark_verified(&self, id: &UserId) -> StoreResult<()> {
        self.write(|t| {
            user_mut(t, id)?.0.is_verified = true;
            Ok(())
        })
        .await
    }
}

fn insert_token(t: &mut Tables, token: RefreshToken) -> StoreResult<RefreshToken> {
    if t.tokens.contains_key(&token.digest) {
        return Err(StoreError::Conflict {
            what: ConflictKind::RefreshToken,
        });
    }
    if !t.users.contains_key(&token.user_id) {
        return Err(StoreError::NotFound { what: Entity::User });
    }
    t.tokens.insert(token.digest.clone(), token.clone());
    Ok(token)
}

/// Revokes the tokens that `pick` selects; returns how many were live.
fn revoke_where(t: &mut Tables, pick: impl Fn(&RefreshToken) -> bool) -> u64 {
    let mut flipped = 0;
    for tok in t.tokens.values_mut().filter(|tok| pick(tok)) {
        flipped += u64::from(!tok.revoked);
        tok.revoked = true;
    }
    flipped
}

#[async_trait]
impl RefreshTokenStore for LegacyStore {
    async fn store_refresh_token(&self, new: NewRefreshToken) -> StoreResult<RefreshToken> {
        let now = self.now();
        self.write(|t| {
            insert_token(
                t,
                RefreshToken {
                    id: new_record_id(),
                    digest: new.digest,
                    user_id: new.user_id,
                    family_id: new.family_id,
                    expires_at: new.expires_at,
                    revoked: false,
                    user_agent: new.client.user_agent,
                    ip_address: new.client.ip_address,
                    created_at: now,
                },
            )
        })
        .await
    }

    async fn get_refresh_token(&self, digest: &TokenDigest) -> StoreResult<Option<RefreshToken>> {
        Ok(self.read(|t| t.tokens.get(digest).cloned()).await)
    }

    async fn revoke_refresh_token(&self, digest: &TokenDigest) -> StoreResult<bool> {
        self.write(|t| Ok(revoke_where(t, |tok| tok.digest == *digest) == 1))
            .await
    }

    async fn rotate_refresh_token(
        &self,
        old: &TokenDigest,
        next: NextRefreshToken,
    ) -> StoreResult<Rotation> {
        let now = self.now();
        self.write(|t| {
            let Some(current) = t.tokens.get(old).cloned() else {
                return Ok(Rotation::NotFound);
            };
            if current.revoked {
                revoke_where(t, |tok| tok.family_id == current.family_id);
                return Ok(Rotation::Reused {
                    family_id: current.family_id,
                    user_id: current.user_id,
                });
            }
            if current.expires_at <= now {
                return Ok(Rotation::Expired);
            }
            revoke_where(t, |tok| tok.digest == *old);
            let new = insert_token(
                t,
                RefreshToken {
                    id: new_record_id(),
                    digest: next.digest,
                    user_id: current.user_id,
                    family_id: current.family_id,
                    expires_at: next.expires_at,
                    revoked: false,
                    user_agent: next.client.user_agent,
                    ip_address: next.client.ip_address,
                    created_at: now,
                },
            )?;
            Ok(Rotation::Rotated(new))
        })
        .await
    }

    async fn revoke_family(&self, family_id: &FamilyId) -> StoreResult<u64> {
        self.write(|t| Ok(revoke_where(t, |tok| tok.family_id == *family_id)))
            .await
    }

    async fn revoke_all_for_user(&self, user_id: &UserId) -> StoreResult<u64> {
        self.write(|t| Ok(revoke_where(t, |tok| tok.user_id == *user_id)))
            .await
    }

    async fn prune_expired_refresh_tokens(&self, before: Timestamp) -> StoreResult<u64> {
        self.write(|t| {
            let len = t.tokens.len();
            t.tokens.retain(|_, tok| tok.expires_at >= before);
            Ok((len - t.tokens.len()) as u64)
        })
        .await
    }

    async fn list_sessions(&self, user_id: &UserId) -> StoreResult<Vec<Session>> {
        let now = self.now();
        let mut sessions = self
            .read(|t| {
                let mut families: BTreeMap<&FamilyId, Vec<&RefreshToken>> = BTreeMap::new();
                for tok in t.tokens.values().filter(|tok| tok.user_id == *user_id) {
                    families.entry(&tok.family_id).or_default().push(tok);
                }
                families
                    .into_iter()
                    .filter_map(|(family, rows)| {
                        let newest_live = rows
                            .iter()
                            .filter(|r| r.is_live(now))
                            .max_by_key(|r| (r.created_at, r.id))?;
                        Some(Session {
                            family_id: family.clone(),
                            created_at: rows.iter().map(|r| r.created_at).min()?,
                            last_used_at: rows.iter().map(|r| r.created_at).max()?,
                            expires_at: newest_live.expires_at,
                            user_agent: newest_live.user_agent.clone(),
                            ip_address: newest_live.ip_address.clone(),
                        })
                    })
                    .collect::<Vec<_>>()
            })
            .await;
        sessions.sort_by(|a, b| {
            b.last_used_at
                .cmp(&a.last_used_at)
                .then(a.family_id.cmp(&b.family_id))
        });
        Ok(sessions)
    }

    async fn revoke_session(&self, user_id: &UserId, family_id: &FamilyId) -> StoreResult<bool> {
        self.write(|t| {
            let owned = t
                .tokens
                .values()
                .any(|tok| tok.user_id == *user_id && tok.family_id == *family_id);
            revoke_where(t, |tok| {
                tok.user_id == *user_id && tok.family_id == *family_id
            });
            Ok(owned)
        })
        .await
    }

    async fn revoke_other_sessions(&self, user_id: &UserId, keep: &FamilyId) -> StoreResult<u64> {
        self.write(|t| {
            let mut families = std::collections::BTreeSet::new();
            for tok in t.tokens.values_mut() {
                if tok.user_id == *user_id && tok.family_id != *keep && !tok.revoked {
                    tok.revoked = true;
                    families.insert(tok.family_id.clone());
                }
            }
            Ok(families.len() as u64)
        })
        .await
    }
}

#[async_trait]
impl BlacklistStore for LegacyStore {
    async fn blacklist(&self, key: &StateKey, ttl: Duration) -> StoreResult<()> {
        let deadline = self.now() + Duration::from_secs(ttl_seconds(ttl));
        lock(&self.shared.blacklist).insert(key.clone(), deadline);
        Ok(())
    }

    async fn is_blacklisted(&self, key: &StateKey) -> StoreResult<bool> {
        self.any_blacklisted(std::slice::from_ref(key)).await
    }

    async fn any_blacklisted(&self, keys: &[StateKey]) -> StoreResult<bool> {
        let now = self.now();
        let entries = lock(&self.shared.blacklist);
        Ok(keys
            .iter()
            .any(|k| entries.get(k).is_some_and(|deadline| now < *deadline)))
    }
}

#[async_trait]
impl ChallengeStore for LegacyStore {
    async fn put_challenge(&self, key: &StateKey, value: &Text, ttl: Duration) -> StoreResult<()> {
        let mut entries = lock(&self.shared.challenges);
        if ttl.is_zero() {
            entries.remove(key);
        } else {
            entries.insert(key.clone(), (value.clone(), self.now() + ttl));
        }
        Ok(())
    }

    async fn take_challenge(&self, key: &StateKey) -> StoreResult<Option<Text>> {
        let now = self.now();
        let taken = lock(&self.shared.challenges).remove(key);
        Ok(taken
            .filter(|(_, deadline)| now < *deadline)
            .map(|(value, _)| value))
    }
}

// Features this store does not serve: the default bodies answer FeatureDisabled.
impl RoleStore for LegacyStore {}
impl PermissionStore for LegacyStore {}
impl OAuthStore for LegacyStore {}
impl PasskeyStore for LegacyStore {}
impl MfaStore for LegacyStore {}
impl LockoutStore for LegacyStore {}
impl RateLimitStore for LegacyStore {}

#[async_trait]
impl DurableStore for LegacyStore {
    fn features(&self) -> Features {
        [Feature::Core, Feature::Blacklist, Feature::Challenges]
            .into_iter()
            .collect()
    }

    fn backend_name(&self) -> &'static str {
        "legacy-example"
    }

    async fn begin(&self) -> StoreResult<Box<dyn Transaction>> {
        if matches!(self.access, Access::Tx { .. }) {
            return Err(StoreError::TransactionNesting);
        }
        let writer = self.shared.writer.clone().lock_owned().await;
        let snapshot = lock(&self.shared.committed).clone();
        Ok(Box::new(LegacyStore {
            shared: self.shared.clone(),
            clock: self.clock.clone(),
            access: Access::Tx {
                tables: Mutex::new(snapshot),
                _writer: writer,
            },
        }))
    }
}

#[async_trait]
impl Transaction for LegacyStore {
    async fn commit(self: Box<Self>) -> StoreResult<()> {
        match self.access {
            Access::Tx { tables, _writer } => {
                *lock(&self.shared.committed) =
                    tables.into_inner().unwrap_or_else(|p| p.into_inner());
                Ok(())
            }
            Access::Direct => Err(StoreError::Backend {
                message: "commit called on a store handle, not a transaction".into(),
                source: None,
            }),
        }
    }

    async fn rollback(self: Box<Self>) -> StoreResult<()> {
        // Dropping the snapshot and the writer guard discards every write.
        Ok(())
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), StoreError> {
    let store = LegacyStore::new(Clock::system());
    let ada = store
        .create_user(NewUser::new("ada@example.com")?.with_extra(APP_COLUMN, "Ada")?)
        .await?;
    println!("created {} ({})", ada.email, ada.id);
    let family = FamilyId::generate();
    let first = TokenDigest::of("refresh-token-1");
    store
        .store_refresh_token(NewRefreshToken {
            digest: first.clone(),
            user_id: ada.id,
            family_id: family.clone(),
            expires_at: Timestamp::now() + Duration::from_secs(3600),
            client: Default::default(),
        })
        .await?;
    let next = NextRefreshToken {
        digest: TokenDigest::of("refresh-token-2"),
        expires_at: Timestamp::now() + Duration::from_secs(3600),
        client: Default::default(),
    };
    println!(
        "rotate: {:?}",
        store.rotate_refresh_token(&first, next.clone()).await?
    );
    println!(
        "replay: {:?}",
        store.rotate_refresh_token(&first, next).await?
    );
    println!(
        "live sessions: {}",
        store.list_sessions(&ada.id).await?.len()
    );
    Ok(())
}

#[cfg(test)]
mod conformance {
    use std::sync::Arc;

    use fullauth_api::{Clock, Timestamp};
    use fullauth_conformance::{Subject, conformance_tests};

    use super::LegacyStore;

    async fn subject() -> Subject {
        let clock = Clock::manual(Timestamp::now());
        Subject::new(Arc::new(LegacyStore::new(clock.clone()))).with_clock(clock)
    }

    conformance_tests!(subject, features = [Core, Blacklist, Challenges]);
}
