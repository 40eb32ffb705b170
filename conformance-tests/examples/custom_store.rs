//! Stores of your own, run through the conformance suite.
//!
//! This is the path a user follows to plug fullauth into storage we do not
//! ship: implement the traits of the features you serve, report them in
//! `StoreInfo::features()`, and let `conformance_tests!` prove the store
//! right. Every feature a store does not serve keeps the traits' default
//! bodies, which answer `StoreError::FeatureDisabled`; the suite generates
//! those cases as ignored. Both stores key users by UUID (the default of
//! `StoreInfo::user_id_type`) and refuse an id of another key type with
//! `InvalidInput`, as the suite checks: `id.expect_type(self.user_id_type())?`
//! at the top of each method that takes a user id.
//!
//! Two stores are here:
//!
//! * `LegacyStore`: a "legacy" storage made of maps behind a mutex (yours
//!   would be DynamoDB, MySQL or an existing user table). It serves Core
//!   (users with three typed application columns, passwords, refresh tokens,
//!   sessions, with transactions), the token blacklist and one-time
//!   challenges.
//! * `AppMfaStore`: only MFA, over a user table the application owns. The
//!   application creates and deletes its users itself; fullauth only keeps
//!   their TOTP factors, in a table whose rows point to the app's users (a
//!   foreign key with `ON DELETE CASCADE`, in SQL terms). Its suite is given
//!   a user factory (`Subject::with_user_factory`) that inserts a user in the
//!   app's table, since the store cannot create users.
//!
//! Run the suites against them with
//! `cargo test -p fullauth-conformance --example custom_store`, and the demo with
//! `cargo run -p fullauth-conformance --example custom_store`.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use fullauth_api::{
    BlacklistStore, ChallengeStore, Clock, ConflictKind, DurableStore, Email, Entity, ExtraFields,
    FamilyId, Feature, Features, HashedPassword, LockoutStore, MAX_COUNTER, MfaFactor, MfaSecret,
    MfaStore, NewRefreshToken, NewUser, NextRefreshToken, OAuthStore, PasskeyStore,
    PermissionStore, Principal, RateLimitStore, RefreshToken, RefreshTokenStore, RoleStore,
    Rotation, Session, StateKey, StoreError, StoreInfo, StoreResult, Text, Timestamp, TokenDigest,
    Transaction, User, UserId, UserLookup, UserPatch, UserStore, async_trait, new_record_id,
    ttl_seconds,
};
use serde_json::Value;

/// Which JSON values (besides null) an application column takes.
type Accepts = fn(&Value) -> bool;

/// The application columns of our legacy user table, each with the JSON
/// values it takes besides null (a typed column, as in SQL).
const APP_COLUMNS: [(&str, Accepts); 3] = [
    ("display_name", Value::is_string),
    ("newsletter", Value::is_boolean),
    ("login_count", Value::is_i64),
];

/// The text column the demo writes.
const DISPLAY_NAME: &str = APP_COLUMNS[0].0;

/// The type check of an application column; `None` for an unknown column.
fn app_column(name: &str) -> Option<Accepts> {
    APP_COLUMNS
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, accepts)| *accepts)
}

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
        if app_column(column).is_none() {
            return Err(StoreError::unknown_field(column.clone()));
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
        }
    };
    let mut found: Option<&User> = None;
    for (u, _) in t.users.values() {
        if matches(u)
            && found.is_none_or(|f| (u.created_at, u.id.clone()) < (f.created_at, f.id.clone()))
        {
            found = Some(u);
        }
    }
    Ok(found)
}

fn apply_extra(user: &mut User, extra: &ExtraFields) -> StoreResult<()> {
    for (name, value) in extra.iter() {
        let Some(accepts) = app_column(name) else {
            return Err(StoreError::unknown_field(name.clone()));
        };
        if !value.is_null() && !accepts(value) {
            // The storage refuses the value: a backend error, not InvalidInput
            // (which only ever means fullauth-api's own validation).
            return Err(StoreError::backend_message(format!(
                "column `{name}` cannot hold {value}"
            )));
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
        .ok_or_else(|| StoreError::not_found(Entity::User))
}

#[async_trait]
impl UserStore for LegacyStore {
    async fn create_user(&self, new: NewUser) -> StoreResult<User> {
        self.user_id_type().check_new_user_id(new.id.as_ref())?;
        let now = self.now();
        self.write(|t| {
            let id = new.id.unwrap_or_else(UserId::generate);
            if t.users.contains_key(&id) {
                return Err(StoreError::conflict(ConflictKind::UserId));
            }
            if t.users.values().any(|(u, _)| u.email == new.email) {
                return Err(StoreError::conflict(ConflictKind::Email));
            }
            let mut user = User {
                id: id.clone(),
                email: new.email,
                is_active: new.is_active,
                is_verified: new.is_verified,
                is_superuser: new.is_superuser,
                created_at: now,
                extra: ExtraFields::new(),
            };
            for (name, _) in APP_COLUMNS {
                user.extra.insert_stored(name, Value::Null);
            }
            apply_extra(&mut user, &new.extra)?;
            t.users.insert(id, (user.clone(), new.hashed_password));
            Ok(user)
        })
        .await
    }

    async fn get_user(&self, id: &UserId) -> StoreResult<Option<User>> {
        id.expect_type(self.user_id_type())?;
        Ok(self.read(|t| t.users.get(id).map(|(u, _)| u.clone())).await)
    }

    async fn get_user_by_email(&self, email: &Email) -> StoreResult<Option<User>> {
        self.get_user_by_field(&UserLookup::Email(email.clone()))
            .await
    }

    async fn get_user_by_field(&self, lookup: &UserLookup) -> StoreResult<Option<User>> {
        if let UserLookup::Id(id) = lookup {
            id.expect_type(self.user_id_type())?;
        }
        self.read(|t| Ok(find_user(t, lookup)?.cloned())).await
    }

    /// This store serves no roles or permissions: both lists stay empty.
    async fn get_principal(&self, lookup: &UserLookup) -> StoreResult<Option<Principal>> {
        let user = self.get_user_by_field(lookup).await?;
        Ok(user.map(|user| Principal {
            user,
            roles: Vec::new(),
            permissions: Vec::new(),
        }))
    }

    async fn update_user(&self, id: &UserId, patch: UserPatch) -> StoreResult<User> {
        id.expect_type(self.user_id_type())?;
        self.write(|t| {
            if let Some(email) = &patch.email {
                if t.users
                    .values()
                    .any(|(u, _)| u.email == *email && u.id != *id)
                {
                    return Err(StoreError::conflict(ConflictKind::Email));
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
        id.expect_type(self.user_id_type())?;
        self.write(|t| {
            // Our legacy storage has no foreign keys: cascade by hand.
            t.tokens.retain(|_, tok| tok.user_id != *id);
            Ok(t.users.remove(id).is_some())
        })
        .await
    }

    async fn get_password_hash(&self, id: &UserId) -> StoreResult<Option<HashedPassword>> {
        id.expect_type(self.user_id_type())?;
        self.read(|t| match t.users.get(id) {
            Some((_, hash)) => Ok(hash.clone()),
            None => Err(StoreError::not_found(Entity::User)),
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
        id.expect_type(self.user_id_type())?;
        self.write(|t| {
            user_mut(t, id)?.0.is_verified = true;
            Ok(())
        })
        .await
    }
}

fn insert_token(t: &mut Tables, token: RefreshToken) -> StoreResult<RefreshToken> {
    if t.tokens.contains_key(&token.digest) {
        return Err(StoreError::conflict(ConflictKind::RefreshToken));
    }
    if !t.users.contains_key(&token.user_id) {
        return Err(StoreError::not_found(Entity::User));
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
        new.user_id.expect_type(self.user_id_type())?;
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
        user_id.expect_type(self.user_id_type())?;
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
        user_id.expect_type(self.user_id_type())?;
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
        user_id.expect_type(self.user_id_type())?;
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
        user_id.expect_type(self.user_id_type())?;
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

impl StoreInfo for LegacyStore {
    fn features(&self) -> Features {
        [Feature::Core, Feature::Blacklist, Feature::Challenges]
            .into_iter()
            .collect()
    }

    fn backend_name(&self) -> &'static str {
        "legacy-example"
    }
}

#[async_trait]
impl DurableStore for LegacyStore {
    async fn begin(&self) -> StoreResult<Box<dyn Transaction>> {
        if matches!(self.access, Access::Tx { .. }) {
            return Err(StoreError::transaction_nesting());
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
            Access::Direct => Err(StoreError::backend_message(
                "commit called on a store handle, not a transaction",
            )),
        }
    }

    async fn rollback(self: Box<Self>) -> StoreResult<()> {
        // Dropping the snapshot and the writer guard discards every write.
        Ok(())
    }
}

// ---------------------------------------------------------------------------
// The second store: MFA only, over the application's own user table.

/// A user of the application's own table. fullauth never creates one.
#[derive(Clone, Debug)]
pub struct AppUser {
    /// Whatever the application keeps about its users.
    pub name: String,
}

/// The application's database: its own user table, and the table of MFA
/// factors that `AppMfaStore` keeps for those users.
#[derive(Default)]
struct AppTables {
    users: HashMap<UserId, AppUser>,
    /// One factor per user; rows point to `users` and go with them.
    factors: HashMap<UserId, MfaFactor>,
}

/// A handle on the application's database, shared by the application and
/// the store.
#[derive(Clone, Default)]
pub struct AppDb(Arc<Mutex<AppTables>>);

impl AppDb {
    /// The application registers a user in its own table.
    pub fn create_user(&self, name: &str) -> UserId {
        let id = UserId::generate();
        lock(&self.0).users.insert(
            id.clone(),
            AppUser {
                name: name.to_string(),
            },
        );
        id
    }

    /// The application deletes a user; the user's factor goes with it (what
    /// `ON DELETE CASCADE` does in SQL).
    pub fn delete_user(&self, id: &UserId) -> bool {
        let mut tables = lock(&self.0);
        tables.factors.remove(id);
        tables.users.remove(id).is_some()
    }

    /// The application's own data about a user.
    pub fn user(&self, id: &UserId) -> Option<AppUser> {
        lock(&self.0).users.get(id).cloned()
    }
}

/// A store serving one durable feature, MFA, for the users of [`AppDb`].
///
/// `begin()` answers `FeatureDisabled(Core)`: every MFA operation is atomic
/// on its own (one lock), the application runs its own transactions on its
/// own tables, and the flows of fullauth that need a store transaction
/// (sign-up, OAuth sign-in) are Core flows, which this store does not serve.
/// The suite accepts either answer from a store without Core.
pub struct AppMfaStore {
    db: AppDb,
    clock: Clock,
}

impl AppMfaStore {
    /// The MFA store of the application's database, reading time from `clock`.
    pub fn new(db: AppDb, clock: Clock) -> Self {
        AppMfaStore { db, clock }
    }

    /// Runs `f` on the tables, under the one lock (so each call is atomic),
    /// and names this store and `op` in its error.
    fn with_tables<R>(
        &self,
        op: &'static str,
        f: impl FnOnce(&mut AppTables) -> StoreResult<R>,
    ) -> StoreResult<R> {
        f(&mut lock(&self.db.0)).map_err(|e| e.with_context(self.backend_name(), op))
    }
}

impl StoreInfo for AppMfaStore {
    fn features(&self) -> Features {
        Feature::Mfa.into()
    }

    fn backend_name(&self) -> &'static str {
        "app-mfa-example"
    }
}

#[async_trait]
impl MfaStore for AppMfaStore {
    async fn get_mfa(&self, user_id: &UserId) -> StoreResult<Option<MfaFactor>> {
        user_id.expect_type(self.user_id_type())?;
        self.with_tables("get_mfa", |t| Ok(t.factors.get(user_id).cloned()))
    }

    async fn store_mfa(&self, user_id: &UserId, secret: &MfaSecret) -> StoreResult<MfaFactor> {
        user_id.expect_type(self.user_id_type())?;
        let now = self.clock.now();
        self.with_tables("store_mfa", |t| {
            // The foreign key to the application's user table.
            if !t.users.contains_key(user_id) {
                return Err(StoreError::not_found(Entity::User));
            }
            let factor = MfaFactor {
                id: new_record_id(),
                user_id: user_id.clone(),
                secret: secret.clone(),
                confirmed_at: None,
                last_counter: 0,
                recovery_codes: Vec::new(),
                created_at: now,
            };
            t.factors.insert(user_id.clone(), factor.clone());
            Ok(factor)
        })
    }

    async fn confirm_mfa(
        &self,
        user_id: &UserId,
        recovery_codes: &[TokenDigest],
    ) -> StoreResult<bool> {
        let now = self.clock.now();
        self.with_tables("confirm_mfa", |t| {
            Ok(match t.factors.get_mut(user_id) {
                Some(f) => {
                    f.confirmed_at = Some(now);
                    f.recovery_codes = recovery_codes.to_vec();
                    true
                }
                None => false,
            })
        })
    }

    async fn delete_mfa(&self, user_id: &UserId) -> StoreResult<bool> {
        user_id.expect_type(self.user_id_type())?;
        self.with_tables("delete_mfa", |t| Ok(t.factors.remove(user_id).is_some()))
    }

    async fn advance_mfa_counter(&self, user_id: &UserId, counter: u32) -> StoreResult<bool> {
        user_id.expect_type(self.user_id_type())?;
        self.with_tables("advance_mfa_counter", |t| {
            if counter > MAX_COUNTER {
                return Err(StoreError::invalid(
                    "counter",
                    format!("must be at most {MAX_COUNTER}"),
                ));
            }
            Ok(match t.factors.get_mut(user_id) {
                Some(f) if counter > f.last_counter => {
                    f.last_counter = counter;
                    true
                }
                _ => false,
            })
        })
    }

    async fn consume_recovery_code(
        &self,
        user_id: &UserId,
        code: &TokenDigest,
    ) -> StoreResult<bool> {
        self.with_tables("consume_recovery_code", |t| {
            let Some(f) = t.factors.get_mut(user_id) else {
                return Ok(false);
            };
            Ok(match f.recovery_codes.iter().position(|c| c == code) {
                Some(i) => {
                    f.recovery_codes.remove(i);
                    true
                }
                None => false,
            })
        })
    }
}

// Every other feature: the default bodies answer FeatureDisabled.
impl UserStore for AppMfaStore {}
impl RefreshTokenStore for AppMfaStore {}
impl RoleStore for AppMfaStore {}
impl PermissionStore for AppMfaStore {}
impl OAuthStore for AppMfaStore {}
impl PasskeyStore for AppMfaStore {}
impl BlacklistStore for AppMfaStore {}
impl LockoutStore for AppMfaStore {}
impl RateLimitStore for AppMfaStore {}
impl ChallengeStore for AppMfaStore {}

#[async_trait]
impl DurableStore for AppMfaStore {
    /// No store transactions: see the type's docs.
    async fn begin(&self) -> StoreResult<Box<dyn Transaction>> {
        Err(StoreError::feature_disabled(Feature::Core).with_context(self.backend_name(), "begin"))
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), StoreError> {
    legacy_demo().await?;
    app_mfa_demo().await
}

/// Users and a rotation on the legacy store.
async fn legacy_demo() -> Result<(), StoreError> {
    let store = LegacyStore::new(Clock::system());
    let ada = store
        .create_user(NewUser::new("ada@example.com")?.with_extra(DISPLAY_NAME, "Ada")?)
        .await?;
    println!("created {} ({})", ada.email, ada.id);
    let family = FamilyId::generate();
    let first = TokenDigest::of("refresh-token-1");
    store
        .store_refresh_token(NewRefreshToken {
            digest: first.clone(),
            user_id: ada.id.clone(),
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

/// MFA for a user of the application's own table.
async fn app_mfa_demo() -> Result<(), StoreError> {
    let db = AppDb::default();
    let store = AppMfaStore::new(db.clone(), Clock::system());
    let grace = db.create_user("Grace");
    let factor = store
        .store_mfa(&grace, &MfaSecret::new("JBSWY3DPEHPK3PXP")?)
        .await?;
    let code = TokenDigest::of("recovery-code-1");
    store
        .confirm_mfa(&grace, std::slice::from_ref(&code))
        .await?;
    println!(
        "{}: factor {} confirmed; recovery code used: {}, again: {}",
        db.user(&grace).map(|u| u.name).unwrap_or_default(),
        factor.id,
        store.consume_recovery_code(&grace, &code).await?,
        store.consume_recovery_code(&grace, &code).await?,
    );
    match store.get_user(&grace).await {
        Err(e) => println!("users are the app's: {e}"),
        Ok(u) => println!("unexpected: {u:?}"),
    }
    db.delete_user(&grace);
    println!(
        "after the app deleted the user: {:?}",
        store.get_mfa(&grace).await?
    );
    Ok(())
}

#[cfg(test)]
mod conformance {
    use std::sync::Arc;

    use fullauth_api::{Clock, Timestamp};
    use fullauth_conformance::{ColumnKind, Subject, conformance_tests};

    use super::LegacyStore;

    async fn subject() -> Subject {
        let clock = Clock::manual(Timestamp::now());
        Subject::new(Arc::new(LegacyStore::new(clock.clone())))
            .with_clock(clock)
            .with_app_column("display_name", ColumnKind::Text)
            .with_app_column("newsletter", ColumnKind::Boolean)
            .with_app_column("login_count", ColumnKind::Integer)
    }

    conformance_tests!(subject, features = [Core, Blacklist, Challenges]);
}

#[cfg(test)]
mod mfa_conformance {
    use std::sync::Arc;

    use fullauth_api::{Clock, Timestamp};
    use fullauth_conformance::{Subject, conformance_tests};

    use super::{AppDb, AppMfaStore};

    /// The MFA store on a fresh application database; the suite's users are
    /// made in the application's table.
    async fn subject() -> Subject {
        let clock = Clock::manual(Timestamp::now());
        let db = AppDb::default();
        let store = AppMfaStore::new(db.clone(), clock.clone());
        Subject::new(Arc::new(store))
            .with_clock(clock)
            .with_user_factory(move || {
                let db = db.clone();
                async move { Ok(db.create_user("conformance")) }
            })
    }

    conformance_tests!(subject, features = [Mfa]);
}
