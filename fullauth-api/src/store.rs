//! The storage traits: one per feature.
//!
//! Every trait is object-safe, `Send + Sync`, and usable both as
//! `Arc<dyn Store>` and as a generic bound. Every method has a default body that
//! answers [`StoreError::FeatureDisabled`] for its feature, so a store
//! implements the methods of the features it serves and reports exactly those
//! in [`StoreInfo::features`]; the conformance suite checks that the two
//! agree.
//!
//! Inputs arrive validated (see [`crate::validate`]); a store never has to
//! check lengths or control characters itself. Strings are stored and compared
//! byte for byte (case-sensitive, no collation), and "sorted" means sorted by
//! the bytes of the UTF-8 string, as Rust's `str` ordering and PostgreSQL's
//! `COLLATE "C"` sort. Times are read from the store's
//! clock; every timestamp a store returns is truncated to microseconds.

use std::time::Duration;

use async_trait::async_trait;

use crate::StoreError;
use crate::digest::TokenDigest;
use crate::error::StoreResult;
use crate::features::{Feature, Features};
use crate::ids::{UserId, UserIdType};
use crate::records::{
    LockoutOutcome, LockoutPolicy, MfaFactor, NewOAuthAccount, NewPasskey, NewRefreshToken,
    NextRefreshToken, OAuthAccount, OAuthAccountPatch, OAuthLink, Passkey, Principal,
    RateLimitDecision, RateLimitPolicy, RefreshToken, Rotation, Session,
};
use crate::user::{NewUser, User, UserLookup, UserPatch};
use crate::validate::{
    CredentialId, DeviceName, Email, FamilyId, HashedPassword, MfaSecret, PermissionName,
    ProviderName, ProviderUserId, RoleName, StateKey, Text,
};

/// The default body of every trait method: the feature is not served.
macro_rules! disabled {
    ($feature:expr $(, $arg:expr)*) => {{
        $(let _ = $arg;)*
        Err(StoreError::feature_disabled($feature))
    }};
}

/// What every store says about itself: the features it serves and its
/// backend's name. The supertrait of every storage trait.
pub trait StoreInfo: Send + Sync {
    /// The features this store serves. Methods of every other feature answer
    /// [`StoreError::FeatureDisabled`]; the conformance suite checks that the
    /// two agree.
    fn features(&self) -> Features;

    /// A short name of the backend for logs, errors and reports (`memory`,
    /// `sqlite`, `postgres`, `redis`, `composed`).
    fn backend_name(&self) -> &'static str;

    /// How this store keys users ([`UserIdType`]): the type of every
    /// [`UserId`] it returns and accepts. An id of another type is refused
    /// with [`StoreError::InvalidInput`] (field `user_id`). Callers parse a
    /// user id from text (a JWT `sub`) with `store.user_id_type().parse(s)`.
    ///
    /// The default is [`UserIdType::Uuid`], what a store that keeps no users
    /// and every store before integer and text keys serve.
    fn user_id_type(&self) -> UserIdType {
        UserIdType::Uuid
    }
}

/// Users and their password hashes ([`Feature::Core`]).
#[async_trait]
pub trait UserStore: StoreInfo {
    /// Inserts a user and returns it as stored (id generated as UUIDv7 unless
    /// given; `created_at` from the store's clock; application columns not
    /// given read back as the database default).
    ///
    /// Errors: [`StoreError::Conflict`] `Email` when the normalised email is
    /// taken, `UserId` when a given id is; [`StoreError::UnknownField`] for an
    /// application column the table does not have. Inside a transaction a
    /// conflict does not poison the transaction (savepoint).
    async fn create_user(&self, new: NewUser) -> StoreResult<User> {
        disabled!(Feature::Core, new)
    }

    /// The user with this id, or `None`.
    async fn get_user(&self, id: &UserId) -> StoreResult<Option<User>> {
        disabled!(Feature::Core, id)
    }

    /// The user with this (normalised) email, or `None`.
    async fn get_user_by_email(&self, email: &Email) -> StoreResult<Option<User>> {
        disabled!(Feature::Core, email)
    }

    /// The first user (oldest `created_at`, then id) whose column equals the
    /// lookup's value, or `None`.
    ///
    /// Errors: [`StoreError::UnknownField`] for an application column the
    /// table does not have.
    async fn get_user_by_field(&self, lookup: &UserLookup) -> StoreResult<Option<User>> {
        disabled!(Feature::Core, lookup)
    }

    /// The user the lookup finds (as [`get_user_by_field`](Self::get_user_by_field)
    /// finds it: the oldest match) with its roles and permissions, read in one
    /// round trip and one consistent snapshot, or `None` when no user matches.
    ///
    /// `roles` equal what [`RoleStore::get_user_roles`] answers and
    /// `permissions` what [`PermissionStore::get_user_permissions`] answers:
    /// sorted, without duplicates. A list is empty when the store does not
    /// serve its feature ([`Feature::Roles`], [`Feature::Permissions`]) —
    /// never [`StoreError::FeatureDisabled`] for those. Inside a transaction it
    /// sees the transaction's own writes.
    ///
    /// Errors: [`StoreError::UnknownField`] for an application column the
    /// table does not have.
    async fn get_principal(&self, lookup: &UserLookup) -> StoreResult<Option<Principal>> {
        disabled!(Feature::Core, lookup)
    }

    /// Applies a patch and returns the user as stored afterwards. An empty
    /// patch writes nothing and returns the current row (NotFound for an
    /// unknown user all the same).
    ///
    /// Errors: [`StoreError::NotFound`] `User`; [`StoreError::Conflict`]
    /// `Email`; [`StoreError::UnknownField`]. Nothing is written on error.
    async fn update_user(&self, id: &UserId, patch: UserPatch) -> StoreResult<User> {
        disabled!(Feature::Core, id, patch)
    }

    /// Deletes the user and every dependent row (refresh tokens, role links,
    /// OAuth links, passkeys, MFA factor) atomically. Returns false when there
    /// was no such user (idempotent).
    async fn delete_user(&self, id: &UserId) -> StoreResult<bool> {
        disabled!(Feature::Core, id)
    }

    /// The stored password hash; `None` when the user has no password.
    ///
    /// Errors: [`StoreError::NotFound`] `User`.
    async fn get_password_hash(&self, id: &UserId) -> StoreResult<Option<HashedPassword>> {
        disabled!(Feature::Core, id)
    }

    /// Replaces the password hash (`None` removes the password).
    ///
    /// Errors: [`StoreError::NotFound`] `User`.
    async fn set_password_hash(
        &self,
        id: &UserId,
        hash: Option<HashedPassword>,
    ) -> StoreResult<()> {
        disabled!(Feature::Core, id, hash)
    }

    /// Sets `is_verified`. Idempotent.
    ///
    /// Errors: [`StoreError::NotFound`] `User`.
    async fn mark_verified(&self, id: &UserId) -> StoreResult<()> {
        disabled!(Feature::Core, id)
    }
}

/// Refresh tokens and the sessions they form ([`Feature::Core`]).
///
/// A session is a token family: the first token of a sign-in and every token
/// that rotation derived from it.
#[async_trait]
pub trait RefreshTokenStore: StoreInfo {
    /// Stores a new, unrevoked token and returns the row.
    ///
    /// Errors: [`StoreError::Conflict`] `RefreshToken` for a digest already
    /// stored; [`StoreError::NotFound`] `User` for an unknown owner.
    async fn store_refresh_token(&self, new: NewRefreshToken) -> StoreResult<RefreshToken> {
        disabled!(Feature::Core, new)
    }

    /// The token with this digest, revoked and expired ones included.
    async fn get_refresh_token(&self, digest: &TokenDigest) -> StoreResult<Option<RefreshToken>> {
        disabled!(Feature::Core, digest)
    }

    /// Compare-and-set revoke: true only for the one caller that flips the
    /// token from live to revoked; false when it was already revoked or does
    /// not exist (the reuse signal). Expiry is not considered.
    async fn revoke_refresh_token(&self, digest: &TokenDigest) -> StoreResult<bool> {
        disabled!(Feature::Core, digest)
    }

    /// Rotates atomically: when the old token is live, revokes it and inserts
    /// `next` in the same family for the same user ([`Rotation::Rotated`]);
    /// when it is already revoked, revokes every token of its family and
    /// inserts nothing ([`Rotation::Reused`]); when it is unrevoked but expired,
    /// changes nothing ([`Rotation::Expired`]); when unknown,
    /// [`Rotation::NotFound`]. Of N concurrent rotations of one token exactly
    /// one is `Rotated`.
    ///
    /// Errors: [`StoreError::Conflict`] `RefreshToken` when `next`'s digest is
    /// already stored (nothing changed).
    async fn rotate_refresh_token(
        &self,
        old: &TokenDigest,
        next: NextRefreshToken,
    ) -> StoreResult<Rotation> {
        disabled!(Feature::Core, old, next)
    }

    /// Revokes every token of the family, whoever owns it. Returns how many
    /// tokens changed from live to revoked (0 for an unknown family).
    async fn revoke_family(&self, family_id: &FamilyId) -> StoreResult<u64> {
        disabled!(Feature::Core, family_id)
    }

    /// Revokes every token of the user. Returns how many changed from
    /// unrevoked to revoked.
    async fn revoke_all_for_user(&self, user_id: &UserId) -> StoreResult<u64> {
        disabled!(Feature::Core, user_id)
    }

    /// Deletes tokens with `expires_at < before` (strictly), revoked or not,
    /// and returns how many. Revoked but unexpired tokens stay: reuse detection
    /// depends on them.
    async fn prune_expired_refresh_tokens(&self, before: crate::Timestamp) -> StoreResult<u64> {
        disabled!(Feature::Core, before)
    }

    /// The user's live sessions, newest `last_used_at` first (ties by family
    /// id, ascending). A family is listed when at least one of its tokens is live;
    /// `created_at`/`last_used_at` are the oldest/newest `created_at` of all
    /// its tokens, the other fields come from its newest live token.
    async fn list_sessions(&self, user_id: &UserId) -> StoreResult<Vec<Session>> {
        disabled!(Feature::Core, user_id)
    }

    /// Revokes one session of the user. True when the user has any token in
    /// that family (revoked or expired included), so it is idempotent; false
    /// when the family is unknown or belongs to someone else.
    async fn revoke_session(&self, user_id: &UserId, family_id: &FamilyId) -> StoreResult<bool> {
        disabled!(Feature::Core, user_id, family_id)
    }

    /// Revokes every session of the user except `keep`. Returns how many
    /// sessions (families) had a token flipped from unrevoked to revoked.
    async fn revoke_other_sessions(&self, user_id: &UserId, keep: &FamilyId) -> StoreResult<u64> {
        disabled!(Feature::Core, user_id, keep)
    }
}

/// Roles and their assignment to users ([`Feature::Roles`]).
///
/// Names are compared exactly (case-sensitive). Lists are sorted by name.
#[async_trait]
pub trait RoleStore: StoreInfo {
    /// Creates the role if missing. True when it was created. Idempotent under
    /// concurrency.
    async fn create_role(&self, role: &RoleName) -> StoreResult<bool> {
        disabled!(Feature::Roles, role)
    }

    /// Gives the user the role, creating the role if missing. True when the
    /// user did not have it. Idempotent, also when several tasks do it at once.
    ///
    /// Errors: [`StoreError::NotFound`] `User` (nothing is linked; whether the
    /// role itself was created is unspecified — roles are a catalogue).
    async fn assign_role(&self, user_id: &UserId, role: &RoleName) -> StoreResult<bool> {
        disabled!(Feature::Roles, user_id, role)
    }

    /// Takes the role from the user. True when the user had it. The role
    /// itself stays.
    async fn remove_role(&self, user_id: &UserId, role: &RoleName) -> StoreResult<bool> {
        disabled!(Feature::Roles, user_id, role)
    }

    /// The user's role names, sorted; empty for an unknown user.
    async fn get_user_roles(&self, user_id: &UserId) -> StoreResult<Vec<RoleName>> {
        disabled!(Feature::Roles, user_id)
    }

    /// Every role name, sorted.
    async fn list_roles(&self) -> StoreResult<Vec<RoleName>> {
        disabled!(Feature::Roles)
    }

    /// Deletes the role with its user links and permission grants. True when
    /// it existed.
    async fn delete_role(&self, role: &RoleName) -> StoreResult<bool> {
        disabled!(Feature::Roles, role)
    }
}

/// Permissions granted to roles ([`Feature::Permissions`], needs Roles).
///
/// Lists are sorted by name and free of duplicates.
#[async_trait]
pub trait PermissionStore: StoreInfo {
    /// Grants the permission to the role, creating either if missing. True
    /// when the role did not have it. Idempotent under concurrency.
    async fn assign_permission(
        &self,
        role: &RoleName,
        permission: &PermissionName,
    ) -> StoreResult<bool> {
        disabled!(Feature::Permissions, role, permission)
    }

    /// Withdraws the permission from the role. True when the role had it.
    /// The permission itself stays in [`list_permissions`](Self::list_permissions).
    async fn remove_permission(
        &self,
        role: &RoleName,
        permission: &PermissionName,
    ) -> StoreResult<bool> {
        disabled!(Feature::Permissions, role, permission)
    }

    /// The role's permissions; empty for an unknown role.
    async fn get_role_permissions(&self, role: &RoleName) -> StoreResult<Vec<PermissionName>> {
        disabled!(Feature::Permissions, role)
    }

    /// The union of the permissions of several roles, in one call; empty for
    /// an empty list.
    async fn get_permissions_for_roles(
        &self,
        roles: &[RoleName],
    ) -> StoreResult<Vec<PermissionName>> {
        disabled!(Feature::Permissions, roles)
    }

    /// The union of the permissions of the user's roles, in one call; empty
    /// for an unknown user or a user without roles.
    async fn get_user_permissions(&self, user_id: &UserId) -> StoreResult<Vec<PermissionName>> {
        disabled!(Feature::Permissions, user_id)
    }

    /// Every permission name.
    async fn list_permissions(&self) -> StoreResult<Vec<PermissionName>> {
        disabled!(Feature::Permissions)
    }
}

/// OAuth account links ([`Feature::OAuth`]).
#[async_trait]
pub trait OAuthStore: StoreInfo {
    /// The link of this identity, or `None`.
    async fn get_oauth_account(
        &self,
        provider: &ProviderName,
        provider_user_id: &ProviderUserId,
    ) -> StoreResult<Option<OAuthAccount>> {
        disabled!(Feature::OAuth, provider, provider_user_id)
    }

    /// The user's links, oldest first (ties by provider).
    async fn list_oauth_accounts(&self, user_id: &UserId) -> StoreResult<Vec<OAuthAccount>> {
        disabled!(Feature::OAuth, user_id)
    }

    /// Links the identity, or returns the existing link of that identity
    /// unchanged — possibly another user's; the caller compares `user_id`.
    /// Never an error on a race: of N concurrent links of one identity exactly
    /// one is `Created`. Inside a transaction the conflict does not poison it.
    ///
    /// Errors: [`StoreError::NotFound`] `User` for an unknown user.
    async fn link_oauth_account(&self, new: NewOAuthAccount) -> StoreResult<OAuthLink> {
        disabled!(Feature::OAuth, new)
    }

    /// Applies a patch and returns the row; `None` when the link does not
    /// exist. An empty patch writes nothing.
    async fn update_oauth_account(
        &self,
        provider: &ProviderName,
        provider_user_id: &ProviderUserId,
        patch: OAuthAccountPatch,
    ) -> StoreResult<Option<OAuthAccount>> {
        disabled!(Feature::OAuth, provider, provider_user_id, patch)
    }

    /// Deletes the link. True when it existed.
    async fn delete_oauth_account(
        &self,
        provider: &ProviderName,
        provider_user_id: &ProviderUserId,
    ) -> StoreResult<bool> {
        disabled!(Feature::OAuth, provider, provider_user_id)
    }
}

/// WebAuthn passkeys ([`Feature::Passkeys`]).
#[async_trait]
pub trait PasskeyStore: StoreInfo {
    /// The passkey with this credential id, or `None`.
    async fn get_passkey(&self, credential_id: &CredentialId) -> StoreResult<Option<Passkey>> {
        disabled!(Feature::Passkeys, credential_id)
    }

    /// The user's passkeys, oldest first (ties by id).
    async fn list_passkeys(&self, user_id: &UserId) -> StoreResult<Vec<Passkey>> {
        disabled!(Feature::Passkeys, user_id)
    }

    /// Stores a passkey (id UUIDv7, `created_at` now, never used) and returns
    /// the row.
    ///
    /// Errors: [`StoreError::Conflict`] `Credential`; [`StoreError::NotFound`]
    /// `User`; [`StoreError::InvalidInput`] with field `sign_count` for a sign
    /// count over [`crate::MAX_COUNTER`].
    async fn store_passkey(&self, new: NewPasskey) -> StoreResult<Passkey> {
        disabled!(Feature::Passkeys, new)
    }

    /// Compare-and-set: sets the sign count to `new_count` only when it is
    /// strictly greater than the stored one (true), and in every case where the
    /// passkey exists sets `last_used_at` to now. False for a stale or equal
    /// count, and for an unknown credential (nothing touched). Of N concurrent
    /// updates to the same value exactly one wins.
    ///
    /// Errors: [`StoreError::InvalidInput`] with field `sign_count` over
    /// [`crate::MAX_COUNTER`].
    async fn update_sign_count(
        &self,
        credential_id: &CredentialId,
        new_count: u32,
    ) -> StoreResult<bool> {
        disabled!(Feature::Passkeys, credential_id, new_count)
    }

    /// Renames a passkey of the user. True when the user owns a passkey with
    /// this id.
    async fn rename_passkey(
        &self,
        user_id: &UserId,
        passkey_id: uuid::Uuid,
        name: &DeviceName,
    ) -> StoreResult<bool> {
        disabled!(Feature::Passkeys, user_id, passkey_id, name)
    }

    /// Deletes a passkey of the user. True when it existed and was the user's.
    async fn delete_passkey(&self, user_id: &UserId, passkey_id: uuid::Uuid) -> StoreResult<bool> {
        disabled!(Feature::Passkeys, user_id, passkey_id)
    }
}

/// TOTP factors and recovery codes ([`Feature::Mfa`]); one factor per user.
#[async_trait]
pub trait MfaStore: StoreInfo {
    /// The user's factor, or `None`.
    async fn get_mfa(&self, user_id: &UserId) -> StoreResult<Option<MfaFactor>> {
        disabled!(Feature::Mfa, user_id)
    }

    /// Creates or replaces the user's factor with a new, unconfirmed one
    /// (counter 0, no recovery codes) and returns it. Replacing is how an
    /// enrolment restarts; protecting a confirmed factor is the caller's job.
    ///
    /// Errors: [`StoreError::NotFound`] `User`.
    async fn store_mfa(&self, user_id: &UserId, secret: &MfaSecret) -> StoreResult<MfaFactor> {
        disabled!(Feature::Mfa, user_id, secret)
    }

    /// Confirms the factor now and replaces its recovery codes by these
    /// digests. True when the user has a factor.
    async fn confirm_mfa(
        &self,
        user_id: &UserId,
        recovery_codes: &[TokenDigest],
    ) -> StoreResult<bool> {
        disabled!(Feature::Mfa, user_id, recovery_codes)
    }

    /// Deletes the factor. True when it existed.
    async fn delete_mfa(&self, user_id: &UserId) -> StoreResult<bool> {
        disabled!(Feature::Mfa, user_id)
    }

    /// Compare-and-set: moves the last accepted TOTP step to `counter` only
    /// when strictly greater (true). False otherwise and when there is no
    /// factor. Of N concurrent calls with one value exactly one wins.
    ///
    /// Errors: [`StoreError::InvalidInput`] with field `counter` over
    /// [`crate::MAX_COUNTER`].
    async fn advance_mfa_counter(&self, user_id: &UserId, counter: u32) -> StoreResult<bool> {
        disabled!(Feature::Mfa, user_id, counter)
    }

    /// Removes one occurrence of this recovery-code digest. True only for the
    /// one caller that removed it; false when absent or there is no factor.
    async fn consume_recovery_code(
        &self,
        user_id: &UserId,
        code: &TokenDigest,
    ) -> StoreResult<bool> {
        disabled!(Feature::Mfa, user_id, code)
    }
}

/// Token blacklist ([`Feature::Blacklist`], short-lived).
#[async_trait]
pub trait BlacklistStore: StoreInfo {
    /// Blacklists `key` for `ttl`, rounded up to whole seconds with a floor
    /// of one second ([`crate::ttl_seconds`]). Adding again replaces the TTL.
    async fn blacklist(&self, key: &StateKey, ttl: Duration) -> StoreResult<()> {
        disabled!(Feature::Blacklist, key, ttl)
    }

    /// True while `key` is blacklisted and its TTL has not run out.
    async fn is_blacklisted(&self, key: &StateKey) -> StoreResult<bool> {
        disabled!(Feature::Blacklist, key)
    }

    /// True when any of `keys` is blacklisted, in one round trip; false for
    /// an empty slice.
    async fn any_blacklisted(&self, keys: &[StateKey]) -> StoreResult<bool> {
        disabled!(Feature::Blacklist, keys)
    }
}

/// Login lockout counters ([`Feature::Lockout`], short-lived).
///
/// Failures are counted per key; the count is forgotten `policy.duration`
/// after the last failure. The failure that reaches `max_attempts` locks the
/// key for `policy.duration` and resets the count. Durations are honoured to
/// the millisecond or better; lock deadlines ([`LockoutOutcome`]) are exact to
/// within a second across backends (some compute them from a server clock).
#[async_trait]
pub trait LockoutStore: StoreInfo {
    /// Records one failure atomically. Of N concurrent failures on a fresh key
    /// with a threshold of M ≤ N, exactly M−1 are `Counted` (with distinct
    /// counts 1..M−1), one is `Locked` and the rest `AlreadyLocked`.
    ///
    /// Errors: [`StoreError::InvalidInput`] for an invalid policy.
    async fn record_failure(
        &self,
        key: &StateKey,
        policy: LockoutPolicy,
    ) -> StoreResult<LockoutOutcome> {
        disabled!(Feature::Lockout, key, policy)
    }

    /// True while the key is locked.
    async fn is_locked(&self, key: &StateKey) -> StoreResult<bool> {
        disabled!(Feature::Lockout, key)
    }

    /// Forgets the failures and lifts the lock (after a successful login).
    async fn clear_lockout(&self, key: &StateKey) -> StoreResult<()> {
        disabled!(Feature::Lockout, key)
    }
}

/// Sliding-window rate limits ([`Feature::RateLimit`], short-lived).
#[async_trait]
pub trait RateLimitStore: StoreInfo {
    /// Records one request if the key has had fewer than `policy.limit`
    /// allowed requests in the last `policy.window`; a refused request is not
    /// recorded. Of N concurrent hits on a fresh key exactly `limit` are
    /// allowed.
    ///
    /// Errors: [`StoreError::InvalidInput`] for an invalid policy.
    async fn hit(&self, key: &StateKey, policy: RateLimitPolicy) -> StoreResult<RateLimitDecision> {
        disabled!(Feature::RateLimit, key, policy)
    }

    /// Forgets every request recorded for the key.
    async fn reset_rate_limit(&self, key: &StateKey) -> StoreResult<()> {
        disabled!(Feature::RateLimit, key)
    }
}

/// One-time challenges ([`Feature::Challenges`], short-lived).
#[async_trait]
pub trait ChallengeStore: StoreInfo {
    /// Stores `value` under `key` for `ttl`, replacing any previous value. A
    /// zero TTL removes any previous value and stores nothing. TTLs are
    /// honoured to the millisecond.
    async fn put_challenge(&self, key: &StateKey, value: &Text, ttl: Duration) -> StoreResult<()> {
        disabled!(Feature::Challenges, key, value, ttl)
    }

    /// Takes the value once: of N concurrent takes exactly one gets it;
    /// `None` when absent or expired.
    async fn take_challenge(&self, key: &StateKey) -> StoreResult<Option<Text>> {
        disabled!(Feature::Challenges, key)
    }
}

/// The durable side of a store: every durable trait, and transactions.
///
/// A store may serve any subset of the durable features (say only
/// [`Feature::Mfa`] over the app's own user table); the traits of the others
/// answer [`StoreError::FeatureDisabled`].
#[async_trait]
pub trait DurableStore:
    UserStore + RefreshTokenStore + RoleStore + PermissionStore + OAuthStore + PasskeyStore + MfaStore
{
    /// Begins a transaction: a handle with the same durable traits whose calls
    /// commit or roll back together. Dropping the handle without
    /// [`Transaction::commit`] rolls back.
    ///
    /// A write made through the store (not the handle) while a transaction is
    /// open is never lost and never becomes part of the transaction: it may
    /// wait until the transaction ends or land at once, but its outcome is
    /// that of some serial order of the two; the transaction's rollback does
    /// not undo it and its commit does not overwrite it.
    ///
    /// Errors: [`StoreError::TransactionNesting`] on a transaction handle;
    /// [`StoreError::FeatureDisabled`] (for [`Feature::Core`]) on a store
    /// that serves no durable feature; a store that serves durable features
    /// but not Core may refuse the same way (it documents which).
    async fn begin(&self) -> StoreResult<Box<dyn Transaction>>;
}

/// An open transaction. Reads see its own writes; other handles see none of
/// them until commit.
#[async_trait]
pub trait Transaction: DurableStore {
    /// Makes every write of the transaction visible at once.
    async fn commit(self: Box<Self>) -> StoreResult<()>;

    /// Discards every write of the transaction (as dropping does).
    async fn rollback(self: Box<Self>) -> StoreResult<()>;
}

/// A whole store: the durable traits plus the four short-lived ones.
///
/// Implemented automatically for every type that implements them all.
pub trait Store:
    DurableStore + BlacklistStore + LockoutStore + RateLimitStore + ChallengeStore
{
}

impl<T> Store for T where
    T: DurableStore + BlacklistStore + LockoutStore + RateLimitStore + ChallengeStore + ?Sized
{
}

impl<T: StoreInfo + ?Sized> StoreInfo for std::sync::Arc<T> {
    fn features(&self) -> Features {
        (**self).features()
    }
    fn backend_name(&self) -> &'static str {
        (**self).backend_name()
    }
    fn user_id_type(&self) -> UserIdType {
        (**self).user_id_type()
    }
}

impl<T: StoreInfo + ?Sized> StoreInfo for Box<T> {
    fn features(&self) -> Features {
        (**self).features()
    }
    fn backend_name(&self) -> &'static str {
        (**self).backend_name()
    }
    fn user_id_type(&self) -> UserIdType {
        (**self).user_id_type()
    }
}

impl<T: StoreInfo + ?Sized> StoreInfo for &T {
    fn features(&self) -> Features {
        (**self).features()
    }
    fn backend_name(&self) -> &'static str {
        (**self).backend_name()
    }
    fn user_id_type(&self) -> UserIdType {
        (**self).user_id_type()
    }
}

#[async_trait]
impl<T: DurableStore + ?Sized> DurableStore for std::sync::Arc<T> {
    async fn begin(&self) -> StoreResult<Box<dyn Transaction>> {
        (**self).begin().await
    }
}

#[async_trait]
impl<T: DurableStore + ?Sized> DurableStore for Box<T> {
    async fn begin(&self) -> StoreResult<Box<dyn Transaction>> {
        (**self).begin().await
    }
}

#[async_trait]
impl<T: DurableStore + ?Sized> DurableStore for &T {
    async fn begin(&self) -> StoreResult<Box<dyn Transaction>> {
        (**self).begin().await
    }
}
