//! The runner: resolves operations into calls, applies them to a store and
//! to the model, normalises the store's answers and compares.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::Arc;
use std::time::Duration;

use fullauth_api::{
    ClientInfo, CredentialId, DeviceName, Email, FamilyId, Feature, Features, HashedPassword,
    LockoutOutcome, LockoutPolicy, MfaFactor, MfaSecret, NewOAuthAccount, NewPasskey,
    NewRefreshToken, NewUser, NextRefreshToken, OAuthAccount, OAuthAccountPatch, OAuthLink,
    Passkey, PermissionName, Principal, ProviderName, ProviderUserId, RateLimitDecision,
    RateLimitPolicy, RefreshToken, RoleName, Rotation, Session, StateKey, Store, StoreError, Text,
    Timestamp, TokenDigest, Transports, User, UserId, UserLookup, UserPatch,
};

use super::ops::*;
use super::state::*;
use crate::Subject;

/// How long one store call may take before it counts as a divergence.
pub const CALL_TIMEOUT: Duration = Duration::from_secs(30);

/// How far the runner keeps the manual clock from every deadline the model
/// tracks after a clock step.
pub const DEADLINE_MARGIN: Duration = Duration::from_millis(1500);

/// How far the manual clock moves before every step, so that no two steps
/// share an instant (only the operations of one concurrent group do).
pub const TICK: Duration = Duration::from_millis(1);

/// How many model states the runner keeps when the contract allows several.
const MAX_CANDIDATES: usize = 64;

/// The run's actual values for the symbolic value space: every name carries
/// a random tag, so runs sharing a database never see each other's rows.
#[derive(Debug)]
pub(crate) struct Names {
    tag: String,
    labels: HashMap<String, String>,
}

impl Names {
    fn new() -> Self {
        let tag = uuid::Uuid::new_v4().simple().to_string()[..10].to_string();
        let mut labels = HashMap::new();
        for i in 0..DIGESTS {
            labels.insert(
                TokenDigest::of(&format!("{tag}/token/{i}"))
                    .as_str()
                    .to_string(),
                digest_label(i),
            );
        }
        for i in 0..RECOVERY_CODES {
            labels.insert(
                TokenDigest::of(&format!("{tag}/code/{i}"))
                    .as_str()
                    .to_string(),
                code_label(i),
            );
        }
        Names { tag, labels }
    }
    fn digest(&self, i: u8) -> TokenDigest {
        TokenDigest::of(&format!("{}/token/{i}", self.tag))
    }
    fn code(&self, i: u8) -> TokenDigest {
        TokenDigest::of(&format!("{}/code/{i}", self.tag))
    }
    fn label(&self, digest: &TokenDigest) -> String {
        self.labels
            .get(digest.as_str())
            .cloned()
            .unwrap_or_else(|| digest.as_str().to_string())
    }
    fn email(&self, i: u8) -> String {
        format!("user{i}-{}@model.test", self.tag)
    }
    fn role(&self, i: u8) -> String {
        format!(
            "{}-{}",
            ROLE_NAMES[usize::from(i) % ROLE_NAMES.len()],
            self.tag
        )
    }
    fn permission(&self, i: u8) -> String {
        format!(
            "{}-{}",
            PERMISSION_NAMES[usize::from(i) % PERMISSION_NAMES.len()],
            self.tag
        )
    }
    fn provider(&self, i: u8) -> String {
        PROVIDERS[usize::from(i) % PROVIDERS.len()].to_string()
    }
    fn subject(&self, i: u8) -> String {
        format!("{}-{i}", self.tag)
    }
    fn credential(&self, i: u8) -> String {
        format!("cred{i}-{}", self.tag)
    }
    fn family(&self, user: Sym, f: u8) -> String {
        format!("{}-{user}-{f}", self.tag)
    }
    fn key(&self, kind: &str, i: u8) -> String {
        format!("model:{kind}:{}:{i}", self.tag)
    }
    fn owns(&self, name: &str) -> bool {
        name.contains(self.tag.as_str())
    }
}

/// The bindings of symbols to the store's generated ids.
#[derive(Clone, Debug, Default)]
pub(crate) struct Env {
    users: HashMap<Sym, UserId>,
    user_syms: HashMap<UserId, Sym>,
    bound_users: Vec<Sym>,
    passkeys: HashMap<Sym, uuid::Uuid>,
    passkey_syms: HashMap<uuid::Uuid, Sym>,
    bound_passkeys: Vec<Sym>,
}

impl Env {
    fn new() -> Self {
        let mut env = Env::default();
        for k in 0..Sym::from(USER_SLOTS) {
            let id = UserId::generate();
            env.users.insert(GHOST_USER + k, id.clone());
            env.user_syms.insert(id, GHOST_USER + k);
        }
        for k in 0..Sym::from(PASSKEY_SLOTS) {
            let id = uuid::Uuid::new_v4();
            env.passkeys.insert(GHOST_PASSKEY + k, id);
            env.passkey_syms.insert(id, GHOST_PASSKEY + k);
        }
        env
    }
    fn user_slot(&self, slot: u8) -> Sym {
        self.bound_users
            .get(usize::from(slot))
            .copied()
            .unwrap_or(GHOST_USER + Sym::from(slot))
    }
    fn passkey_slot(&self, slot: u8) -> Sym {
        self.bound_passkeys
            .get(usize::from(slot))
            .copied()
            .unwrap_or(GHOST_PASSKEY + Sym::from(slot))
    }
    fn user_id(&self, sym: Sym) -> UserId {
        // Every symbol a call names is a ghost (pre-bound) or was bound when
        // its user was created.
        self.users.get(&sym).cloned().unwrap_or_default_id()
    }
    fn user_ref(&self, id: &UserId) -> Id {
        match self.user_syms.get(id) {
            Some(s) => Id::Sym(*s),
            None => Id::Foreign(id.to_string()),
        }
    }
    fn passkey_ref(&self, id: &uuid::Uuid) -> Id {
        match self.passkey_syms.get(id) {
            Some(s) => Id::Sym(*s),
            None => Id::Foreign(id.to_string()),
        }
    }
}

trait OrNil {
    fn unwrap_or_default_id(self) -> UserId;
}

impl OrNil for Option<UserId> {
    fn unwrap_or_default_id(self) -> UserId {
        self.unwrap_or_else(|| UserId::from_uuid(uuid::Uuid::nil()))
    }
}

/// What the runner needs to know about the subject.
#[derive(Clone, Copy, Debug)]
pub struct RunConfig {
    /// The features under test.
    pub features: Features,
    /// True when the subject's clock is manual.
    pub manual_clock: bool,
}

impl RunConfig {
    fn durable(&self) -> bool {
        self.features.contains(Feature::Core) && self.manual_clock
    }
    fn has(&self, f: Feature) -> bool {
        self.durable() && self.features.contains(f)
    }
}

/// What one run did.
#[derive(Clone, Copy, Debug, Default)]
pub struct RunStats {
    /// Store calls made for the sequence's steps (a group counts each call).
    pub calls: usize,
    /// Store calls made to compare the final state.
    pub final_reads: usize,
    /// Concurrent groups run.
    pub groups: usize,
}

fn client(i: u8) -> Client {
    match i % 3 {
        0 => Client::default(),
        1 => Client {
            user_agent: Some("Mozilla/5.0 (model)".to_string()),
            ip_address: Some("10.0.0.1".to_string()),
        },
        _ => Client {
            user_agent: Some("curl/8.5".to_string()),
            ip_address: None,
        },
    }
}

fn ttl(i: u8) -> Duration {
    let i = usize::from(i);
    if i < LONG_TTLS.len() {
        LONG_TTLS[i]
    } else {
        SHORT_TTLS[(i - LONG_TTLS.len()) % SHORT_TTLS.len()]
    }
}

fn lifetime(now: Timestamp, i: u8) -> Timestamp {
    let secs = TOKEN_LIFETIMES[usize::from(i) % TOKEN_LIFETIMES.len()];
    if secs < 0 {
        now - Duration::from_secs(secs.unsigned_abs())
    } else {
        now + Duration::from_secs(secs.unsigned_abs())
    }
}

fn counter(i: u8) -> u32 {
    COUNTERS[usize::from(i) % COUNTERS.len()]
}

/// Resolves a simple operation (not a clock step, not a group).
fn resolve(op: &Op, env: &Env, names: &Names, now: Timestamp, new_sym: Sym) -> Option<Call> {
    let u = |slot: &u8| env.user_slot(*slot);
    Some(match op {
        Op::CreateUser {
            email,
            id_of,
            password,
        } => Call::CreateUser {
            email: names.email(*email),
            id: id_of.map(|s| env.user_slot(s)),
            new_sym,
            password: password.then(|| format!("$argon2id$model${}", new_sym)),
        },
        Op::GetUser { user } => Call::GetUser { user: u(user) },
        Op::GetUserByEmail { email } => Call::GetUserByEmail {
            email: names.email(*email),
        },
        Op::UpdateUser {
            user,
            email,
            is_active,
            is_superuser,
        } => Call::UpdateUser {
            user: u(user),
            email: email.map(|e| names.email(e)),
            is_active: *is_active,
            is_superuser: *is_superuser,
        },
        Op::DeleteUser { user } => Call::DeleteUser { user: u(user) },
        Op::SetPassword { user, hash } => Call::SetPassword {
            user: u(user),
            hash: hash.map(|h| format!("$argon2id$set${h}")),
        },
        Op::GetPassword { user } => Call::GetPassword { user: u(user) },
        Op::MarkVerified { user } => Call::MarkVerified { user: u(user) },
        Op::GetPrincipal { user } => Call::GetPrincipal { user: u(user) },
        Op::StoreToken {
            digest,
            user,
            family,
            lifetime: l,
            client: c,
        } => Call::StoreToken {
            digest: *digest,
            user: u(user),
            family: names.family(u(user), *family),
            expires_at: lifetime(now, *l),
            client: client(*c),
        },
        Op::GetToken { digest } => Call::GetToken { digest: *digest },
        Op::RevokeToken { digest } => Call::RevokeToken { digest: *digest },
        Op::RotateToken {
            old,
            next,
            lifetime: l,
            client: c,
        } => Call::RotateToken {
            old: *old,
            next: *next,
            expires_at: lifetime(now, *l),
            client: client(*c),
        },
        Op::RevokeFamily { owner, family } => Call::RevokeFamily {
            family: names.family(u(owner), *family),
        },
        Op::RevokeAllForUser { user } => Call::RevokeAllForUser { user: u(user) },
        Op::ListSessions { user } => Call::ListSessions { user: u(user) },
        Op::RevokeSession {
            user,
            owner,
            family,
        } => Call::RevokeSession {
            user: u(user),
            family: names.family(u(owner), *family),
        },
        Op::RevokeOtherSessions { user, keep } => Call::RevokeOtherSessions {
            user: u(user),
            keep: names.family(u(user), *keep),
        },
        Op::PruneTokens => Call::PruneTokens { before: now },
        Op::CreateRole { role } => Call::CreateRole {
            role: names.role(*role),
        },
        Op::AssignRole { user, role } => Call::AssignRole {
            user: u(user),
            role: names.role(*role),
        },
        Op::RemoveRole { user, role } => Call::RemoveRole {
            user: u(user),
            role: names.role(*role),
        },
        Op::GetUserRoles { user } => Call::GetUserRoles { user: u(user) },
        Op::ListRoles => Call::ListRoles,
        Op::DeleteRole { role } => Call::DeleteRole {
            role: names.role(*role),
        },
        Op::AssignPermission { role, permission } => Call::AssignPermission {
            role: names.role(*role),
            permission: names.permission(*permission),
        },
        Op::RemovePermission { role, permission } => Call::RemovePermission {
            role: names.role(*role),
            permission: names.permission(*permission),
        },
        Op::GetRolePermissions { role } => Call::GetRolePermissions {
            role: names.role(*role),
        },
        Op::GetPermissionsForRoles { roles } => Call::GetPermissionsForRoles {
            roles: roles.iter().map(|r| names.role(*r)).collect(),
        },
        Op::GetUserPermissions { user } => Call::GetUserPermissions { user: u(user) },
        Op::HasPermission { user, permission } => Call::HasPermission {
            user: u(user),
            permission: names.permission(*permission),
        },
        Op::ListPermissions => Call::ListPermissions,
        Op::LinkOAuth {
            provider,
            subject,
            user,
            with_email,
            access,
        } => Call::LinkOAuth {
            provider: names.provider(*provider),
            subject: names.subject(*subject),
            user: u(user),
            email: with_email.then(|| names.email(*subject)),
            access: access.map(|a| format!("access-{a}")),
        },
        Op::GetOAuth { provider, subject } => Call::GetOAuth {
            provider: names.provider(*provider),
            subject: names.subject(*subject),
        },
        Op::ListOAuth { user } => Call::ListOAuth { user: u(user) },
        Op::UpdateOAuth {
            provider,
            subject,
            access,
        } => Call::UpdateOAuth {
            provider: names.provider(*provider),
            subject: names.subject(*subject),
            access: access.map(|a| a.map(|v| format!("access-{v}"))),
        },
        Op::DeleteOAuth { provider, subject } => Call::DeleteOAuth {
            provider: names.provider(*provider),
            subject: names.subject(*subject),
        },
        Op::StorePasskey {
            user,
            credential,
            sign_count,
        } => Call::StorePasskey {
            user: u(user),
            credential: names.credential(*credential),
            new_sym,
            sign_count: counter(*sign_count),
        },
        Op::GetPasskey { credential } => Call::GetPasskey {
            credential: names.credential(*credential),
        },
        Op::ListPasskeys { user } => Call::ListPasskeys { user: u(user) },
        Op::UpdateSignCount { credential, count } => Call::UpdateSignCount {
            credential: names.credential(*credential),
            count: counter(*count),
        },
        Op::RenamePasskey {
            user,
            passkey,
            name,
        } => Call::RenamePasskey {
            user: u(user),
            passkey: env.passkey_slot(*passkey),
            name: format!("renamed {name}"),
        },
        Op::DeletePasskey { user, passkey } => Call::DeletePasskey {
            user: u(user),
            passkey: env.passkey_slot(*passkey),
        },
        Op::StoreMfa { user, secret } => Call::StoreMfa {
            user: u(user),
            secret: ["JBSWY3DPEHPK3PXP", "KRSXG5CTMVRXEZLU"][usize::from(*secret) % 2].to_string(),
        },
        Op::GetMfa { user } => Call::GetMfa { user: u(user) },
        Op::ConfirmMfa { user, codes } => Call::ConfirmMfa {
            user: u(user),
            codes: codes.clone(),
        },
        Op::DeleteMfa { user } => Call::DeleteMfa { user: u(user) },
        Op::AdvanceMfaCounter { user, counter: c } => Call::AdvanceMfaCounter {
            user: u(user),
            counter: counter(*c),
        },
        Op::ConsumeRecoveryCode { user, code } => Call::ConsumeRecoveryCode {
            user: u(user),
            code: *code,
        },
        Op::Blacklist { key, ttl: t } => Call::Blacklist {
            key: names.key("bl", *key),
            ttl: ttl(*t),
        },
        Op::IsBlacklisted { key } => Call::IsBlacklisted {
            key: names.key("bl", *key),
        },
        Op::AnyBlacklisted { keys } => Call::AnyBlacklisted {
            keys: keys.iter().map(|k| names.key("bl", *k)).collect(),
        },
        Op::RecordFailure { key } => {
            let (max_attempts, duration) =
                LOCKOUT_POLICIES[usize::from(*key) % LOCKOUT_POLICIES.len()];
            Call::RecordFailure {
                key: names.key("lock", *key),
                max_attempts,
                duration,
            }
        }
        Op::IsLocked { key } => Call::IsLocked {
            key: names.key("lock", *key),
        },
        Op::ClearLockout { key } => Call::ClearLockout {
            key: names.key("lock", *key),
        },
        Op::Hit { key, limit } => Call::Hit {
            key: names.key("rate", *key),
            limit: *limit,
            window: RATE_WINDOWS[usize::from(*key) % RATE_WINDOWS.len()],
        },
        Op::ResetRateLimit { key } => Call::ResetRateLimit {
            key: names.key("rate", *key),
        },
        Op::PutChallenge { key, value, ttl: t } => Call::PutChallenge {
            key: names.key("chal", *key),
            value: format!("challenge-{value}"),
            ttl: ttl(*t),
        },
        Op::TakeChallenge { key } => Call::TakeChallenge {
            key: names.key("chal", *key),
        },
        Op::AdvanceClock { .. } | Op::Concurrent(_) => return None,
    })
}

/// A store's answer before normalisation.
#[derive(Debug)]
enum Raw {
    Unit,
    Bool(bool),
    Count(u64),
    Pruned(u64),
    User(Option<User>),
    Hash(Option<HashedPassword>),
    Token(Option<RefreshToken>),
    Rotation(Rotation),
    Sessions(Vec<Session>),
    Names(Vec<String>),
    Principal(Option<Principal>),
    OAuth(Option<OAuthAccount>),
    OAuthList(Vec<OAuthAccount>),
    Link(OAuthLink),
    Passkey(Option<Passkey>),
    Passkeys(Vec<Passkey>),
    Mfa(Option<MfaFactor>),
    Lockout(LockoutOutcome),
    Rate(RateLimitDecision),
    Challenge(Option<Text>),
    Err(StoreError),
    TimedOut,
}

fn names_of<T: AsRef<str>>(v: Vec<T>) -> Vec<String> {
    v.iter().map(|x| x.as_ref().to_string()).collect()
}

fn opt_text(v: &Option<String>) -> Result<Option<Text>, StoreError> {
    v.as_ref().map(Text::new).transpose()
}

fn state_key(k: &str) -> Result<StateKey, StoreError> {
    StateKey::new(k)
}

async fn call_store(
    store: &dyn Store,
    env: &Env,
    names: &Names,
    call: &Call,
) -> Result<Raw, StoreError> {
    let uid = |s: &Sym| env.user_id(*s);
    Ok(match call {
        Call::CreateUser {
            email,
            id,
            password,
            ..
        } => {
            let mut new = NewUser::new(email)?;
            new.id = id.map(|s| env.user_id(s));
            if let Some(p) = password {
                new = new.with_password_hash(HashedPassword::new(p.as_str())?);
            }
            Raw::User(Some(store.create_user(new).await?))
        }
        Call::GetUser { user } => Raw::User(store.get_user(&uid(user)).await?),
        Call::GetUserByEmail { email } => {
            Raw::User(store.get_user_by_email(&Email::new(email)?).await?)
        }
        Call::UpdateUser {
            user,
            email,
            is_active,
            is_superuser,
        } => {
            let patch = UserPatch {
                email: email.as_ref().map(Email::new).transpose()?,
                is_active: *is_active,
                is_superuser: *is_superuser,
                ..UserPatch::default()
            };
            Raw::User(Some(store.update_user(&uid(user), patch).await?))
        }
        Call::DeleteUser { user } => Raw::Bool(store.delete_user(&uid(user)).await?),
        Call::SetPassword { user, hash } => {
            let hash = hash
                .as_ref()
                .map(|h| HashedPassword::new(h.as_str()))
                .transpose()?;
            store.set_password_hash(&uid(user), hash).await?;
            Raw::Unit
        }
        Call::GetPassword { user } => Raw::Hash(store.get_password_hash(&uid(user)).await?),
        Call::MarkVerified { user } => {
            store.mark_verified(&uid(user)).await?;
            Raw::Unit
        }
        Call::GetPrincipal { user } => {
            Raw::Principal(store.get_principal(&UserLookup::Id(uid(user))).await?)
        }
        Call::StoreToken {
            digest,
            user,
            family,
            expires_at,
            client,
        } => Raw::Token(Some(
            store
                .store_refresh_token(NewRefreshToken {
                    digest: names.digest(*digest),
                    user_id: uid(user),
                    family_id: FamilyId::new(family.as_str())?,
                    expires_at: *expires_at,
                    client: ClientInfo::new(
                        client.user_agent.as_deref(),
                        client.ip_address.as_deref(),
                    ),
                })
                .await?,
        )),
        Call::GetToken { digest } => {
            Raw::Token(store.get_refresh_token(&names.digest(*digest)).await?)
        }
        Call::RevokeToken { digest } => {
            Raw::Bool(store.revoke_refresh_token(&names.digest(*digest)).await?)
        }
        Call::RotateToken {
            old,
            next,
            expires_at,
            client,
        } => Raw::Rotation(
            store
                .rotate_refresh_token(
                    &names.digest(*old),
                    NextRefreshToken {
                        digest: names.digest(*next),
                        expires_at: *expires_at,
                        client: ClientInfo::new(
                            client.user_agent.as_deref(),
                            client.ip_address.as_deref(),
                        ),
                    },
                )
                .await?,
        ),
        Call::RevokeFamily { family } => Raw::Count(
            store
                .revoke_family(&FamilyId::new(family.as_str())?)
                .await?,
        ),
        Call::RevokeAllForUser { user } => Raw::Count(store.revoke_all_for_user(&uid(user)).await?),
        Call::ListSessions { user } => Raw::Sessions(store.list_sessions(&uid(user)).await?),
        Call::RevokeSession { user, family } => Raw::Bool(
            store
                .revoke_session(&uid(user), &FamilyId::new(family.as_str())?)
                .await?,
        ),
        Call::RevokeOtherSessions { user, keep } => Raw::Count(
            store
                .revoke_other_sessions(&uid(user), &FamilyId::new(keep.as_str())?)
                .await?,
        ),
        Call::PruneTokens { before } => {
            Raw::Pruned(store.prune_expired_refresh_tokens(*before).await?)
        }
        Call::CreateRole { role } => {
            Raw::Bool(store.create_role(&RoleName::new(role.as_str())?).await?)
        }
        Call::AssignRole { user, role } => Raw::Bool(
            store
                .assign_role(&uid(user), &RoleName::new(role.as_str())?)
                .await?,
        ),
        Call::RemoveRole { user, role } => Raw::Bool(
            store
                .remove_role(&uid(user), &RoleName::new(role.as_str())?)
                .await?,
        ),
        Call::GetUserRoles { user } => {
            Raw::Names(names_of(store.get_user_roles(&uid(user)).await?))
        }
        Call::ListRoles => Raw::Names(
            names_of(store.list_roles().await?)
                .into_iter()
                .filter(|n| names.owns(n))
                .collect(),
        ),
        Call::DeleteRole { role } => {
            Raw::Bool(store.delete_role(&RoleName::new(role.as_str())?).await?)
        }
        Call::AssignPermission { role, permission } => Raw::Bool(
            store
                .assign_permission(
                    &RoleName::new(role.as_str())?,
                    &PermissionName::new(permission.as_str())?,
                )
                .await?,
        ),
        Call::RemovePermission { role, permission } => Raw::Bool(
            store
                .remove_permission(
                    &RoleName::new(role.as_str())?,
                    &PermissionName::new(permission.as_str())?,
                )
                .await?,
        ),
        Call::GetRolePermissions { role } => Raw::Names(names_of(
            store
                .get_role_permissions(&RoleName::new(role.as_str())?)
                .await?,
        )),
        Call::GetPermissionsForRoles { roles } => {
            let roles = roles
                .iter()
                .map(|r| RoleName::new(r.as_str()))
                .collect::<Result<Vec<_>, _>>()?;
            Raw::Names(names_of(store.get_permissions_for_roles(&roles).await?))
        }
        Call::GetUserPermissions { user } => {
            Raw::Names(names_of(store.get_user_permissions(&uid(user)).await?))
        }
        Call::HasPermission { user, permission } => Raw::Bool(
            store
                .get_user_permissions(&uid(user))
                .await?
                .iter()
                .any(|p| p.as_str() == permission),
        ),
        Call::ListPermissions => Raw::Names(
            names_of(store.list_permissions().await?)
                .into_iter()
                .filter(|n| names.owns(n))
                .collect(),
        ),
        Call::LinkOAuth {
            provider,
            subject,
            user,
            email,
            access,
        } => Raw::Link(
            store
                .link_oauth_account(NewOAuthAccount {
                    provider: ProviderName::new(provider.as_str())?,
                    provider_user_id: ProviderUserId::new(subject.as_str())?,
                    user_id: uid(user),
                    provider_email: email.as_ref().map(Email::new).transpose()?,
                    access_token: opt_text(access)?,
                    refresh_token: None,
                    expires_at: None,
                })
                .await?,
        ),
        Call::GetOAuth { provider, subject } => Raw::OAuth(
            store
                .get_oauth_account(
                    &ProviderName::new(provider.as_str())?,
                    &ProviderUserId::new(subject.as_str())?,
                )
                .await?,
        ),
        Call::ListOAuth { user } => Raw::OAuthList(store.list_oauth_accounts(&uid(user)).await?),
        Call::UpdateOAuth {
            provider,
            subject,
            access,
        } => {
            let patch = OAuthAccountPatch {
                access_token: access.as_ref().map(opt_text).transpose()?,
                ..OAuthAccountPatch::default()
            };
            Raw::OAuth(
                store
                    .update_oauth_account(
                        &ProviderName::new(provider.as_str())?,
                        &ProviderUserId::new(subject.as_str())?,
                        patch,
                    )
                    .await?,
            )
        }
        Call::DeleteOAuth { provider, subject } => Raw::Bool(
            store
                .delete_oauth_account(
                    &ProviderName::new(provider.as_str())?,
                    &ProviderUserId::new(subject.as_str())?,
                )
                .await?,
        ),
        Call::StorePasskey {
            user,
            credential,
            sign_count,
            ..
        } => Raw::Passkey(Some(
            store
                .store_passkey(NewPasskey {
                    user_id: uid(user),
                    credential_id: CredentialId::new(credential.as_str())?,
                    public_key: Text::new(public_key_of(credential))?,
                    sign_count: *sign_count,
                    device_name: DeviceName::new(FIRST_DEVICE_NAME)?,
                    transports: Transports::new(transports())?,
                    backed_up: false,
                })
                .await?,
        )),
        Call::GetPasskey { credential } => Raw::Passkey(
            store
                .get_passkey(&CredentialId::new(credential.as_str())?)
                .await?,
        ),
        Call::ListPasskeys { user } => Raw::Passkeys(store.list_passkeys(&uid(user)).await?),
        Call::UpdateSignCount { credential, count } => Raw::Bool(
            store
                .update_sign_count(&CredentialId::new(credential.as_str())?, *count)
                .await?,
        ),
        Call::RenamePasskey {
            user,
            passkey,
            name,
        } => {
            let id = env.passkeys.get(passkey).copied().unwrap_or_default();
            Raw::Bool(
                store
                    .rename_passkey(&uid(user), id, &DeviceName::new(name.as_str())?)
                    .await?,
            )
        }
        Call::DeletePasskey { user, passkey } => {
            let id = env.passkeys.get(passkey).copied().unwrap_or_default();
            Raw::Bool(store.delete_passkey(&uid(user), id).await?)
        }
        Call::StoreMfa { user, secret } => Raw::Mfa(Some(
            store
                .store_mfa(&uid(user), &MfaSecret::new(secret.as_str())?)
                .await?,
        )),
        Call::GetMfa { user } => Raw::Mfa(store.get_mfa(&uid(user)).await?),
        Call::ConfirmMfa { user, codes } => {
            let codes: Vec<TokenDigest> = codes.iter().map(|c| names.code(*c)).collect();
            Raw::Bool(store.confirm_mfa(&uid(user), &codes).await?)
        }
        Call::DeleteMfa { user } => Raw::Bool(store.delete_mfa(&uid(user)).await?),
        Call::AdvanceMfaCounter { user, counter } => {
            Raw::Bool(store.advance_mfa_counter(&uid(user), *counter).await?)
        }
        Call::ConsumeRecoveryCode { user, code } => Raw::Bool(
            store
                .consume_recovery_code(&uid(user), &names.code(*code))
                .await?,
        ),
        Call::Blacklist { key, ttl } => {
            store.blacklist(&state_key(key)?, *ttl).await?;
            Raw::Unit
        }
        Call::IsBlacklisted { key } => Raw::Bool(store.is_blacklisted(&state_key(key)?).await?),
        Call::AnyBlacklisted { keys } => {
            let keys = keys
                .iter()
                .map(|k| state_key(k))
                .collect::<Result<Vec<_>, _>>()?;
            Raw::Bool(store.any_blacklisted(&keys).await?)
        }
        Call::RecordFailure {
            key,
            max_attempts,
            duration,
        } => Raw::Lockout(
            store
                .record_failure(
                    &state_key(key)?,
                    LockoutPolicy {
                        max_attempts: *max_attempts,
                        duration: *duration,
                    },
                )
                .await?,
        ),
        Call::IsLocked { key } => Raw::Bool(store.is_locked(&state_key(key)?).await?),
        Call::ClearLockout { key } => {
            store.clear_lockout(&state_key(key)?).await?;
            Raw::Unit
        }
        Call::Hit { key, limit, window } => Raw::Rate(
            store
                .hit(
                    &state_key(key)?,
                    RateLimitPolicy {
                        limit: *limit,
                        window: *window,
                    },
                )
                .await?,
        ),
        Call::ResetRateLimit { key } => {
            store.reset_rate_limit(&state_key(key)?).await?;
            Raw::Unit
        }
        Call::PutChallenge { key, value, ttl } => {
            store
                .put_challenge(&state_key(key)?, &Text::new(value.as_str())?, *ttl)
                .await?;
            Raw::Unit
        }
        Call::TakeChallenge { key } => {
            Raw::Challenge(store.take_challenge(&state_key(key)?).await?)
        }
        Call::AdvanceClock { .. } => Raw::Unit,
    })
}

async fn exec(store: Arc<dyn Store>, env: Arc<Env>, names: Arc<Names>, call: Call) -> Raw {
    match tokio::time::timeout(CALL_TIMEOUT, call_store(&*store, &env, &names, &call)).await {
        Err(_) => Raw::TimedOut,
        Ok(Err(e)) => Raw::Err(e),
        Ok(Ok(raw)) => raw,
    }
}

/// Binds the ids a successful creation generated.
fn bind(env: &mut Env, call: &Call, raw: &Raw) {
    match (call, raw) {
        (Call::CreateUser { id, new_sym, .. }, Raw::User(Some(user))) => {
            let sym = id.unwrap_or(*new_sym);
            if id.is_none() && !env.user_syms.contains_key(&user.id) {
                env.users.insert(sym, user.id.clone());
                env.user_syms.insert(user.id.clone(), sym);
            }
            if !env.bound_users.contains(&sym) {
                env.bound_users.push(sym);
            }
        }
        (Call::StorePasskey { new_sym, .. }, Raw::Passkey(Some(p)))
            if !env.passkey_syms.contains_key(&p.id) =>
        {
            env.passkeys.insert(*new_sym, p.id);
            env.passkey_syms.insert(p.id, *new_sym);
            env.bound_passkeys.push(*new_sym);
        }
        _ => {}
    }
}

fn client_of(ua: &Option<String>, ip: &Option<String>) -> Client {
    Client {
        user_agent: ua.clone(),
        ip_address: ip.clone(),
    }
}

fn user_v(env: &Env, u: &User) -> UserV {
    UserV {
        id: env.user_ref(&u.id),
        email: u.email.as_str().to_string(),
        is_active: u.is_active,
        is_verified: u.is_verified,
        is_superuser: u.is_superuser,
        created_at: u.created_at,
    }
}

fn token_v(env: &Env, names: &Names, t: &RefreshToken) -> TokenV {
    TokenV {
        digest: names.label(&t.digest),
        user: env.user_ref(&t.user_id),
        family: t.family_id.as_str().to_string(),
        expires_at: t.expires_at,
        revoked: t.revoked,
        client: client_of(&t.user_agent, &t.ip_address),
        created_at: t.created_at,
    }
}

fn oauth_v(env: &Env, a: &OAuthAccount) -> OAuthV {
    OAuthV {
        provider: a.provider.as_str().to_string(),
        subject: a.provider_user_id.as_str().to_string(),
        user: env.user_ref(&a.user_id),
        email: a.provider_email.as_ref().map(|e| e.as_str().to_string()),
        access: a.access_token.as_ref().map(|t| t.as_str().to_string()),
        refresh: a.refresh_token.as_ref().map(|t| t.as_str().to_string()),
        expires_at: a.expires_at,
        created_at: a.created_at,
    }
}

fn passkey_v(env: &Env, p: &Passkey) -> PasskeyV {
    PasskeyV {
        id: env.passkey_ref(&p.id),
        user: env.user_ref(&p.user_id),
        credential: p.credential_id.as_str().to_string(),
        public_key: p.public_key.as_str().to_string(),
        sign_count: p.sign_count,
        device_name: p.device_name.as_str().to_string(),
        transports: p.transports.as_slice().to_vec(),
        backed_up: p.backed_up,
        created_at: p.created_at,
        last_used_at: p.last_used_at,
    }
}

fn err_v(e: &StoreError) -> ErrV {
    match e {
        StoreError::Conflict { what, .. } => ErrV::Conflict(format!("{what:?}")),
        StoreError::NotFound { what, .. } => ErrV::NotFound(format!("{what:?}")),
        StoreError::InvalidInput { field, .. } => ErrV::Invalid((*field).to_string()),
        other => ErrV::Other(format!("{other} ({other:?})")),
    }
}

fn out_of_order(what: &str) -> Answer {
    Answer::Err(ErrV::Other(format!(
        "the store's list of {what} is not in the contract's order"
    )))
}

fn normalise(env: &Env, names: &Names, raw: &Raw) -> Answer {
    match raw {
        Raw::Unit => Answer::Unit,
        Raw::Bool(b) => Answer::Bool(*b),
        Raw::Count(n) => Answer::Count(*n),
        Raw::Pruned(n) => Answer::Pruned(*n),
        Raw::User(u) => Answer::User(u.as_ref().map(|u| user_v(env, u))),
        Raw::Hash(h) => Answer::Hash(h.as_ref().map(|h| h.as_str().to_string())),
        Raw::Token(t) => Answer::Token(t.as_ref().map(|t| token_v(env, names, t))),
        Raw::Rotation(r) => Answer::Rotation(match r {
            Rotation::Rotated(t) => RotationV::Rotated(token_v(env, names, t)),
            Rotation::Reused { family_id, user_id } => RotationV::Reused {
                family: family_id.as_str().to_string(),
                user: env.user_ref(user_id),
            },
            Rotation::Expired => RotationV::Expired,
            Rotation::NotFound => RotationV::NotFound,
        }),
        Raw::Sessions(s) => Answer::Sessions(
            s.iter()
                .map(|s| SessionV {
                    family: s.family_id.as_str().to_string(),
                    created_at: s.created_at,
                    last_used_at: s.last_used_at,
                    expires_at: s.expires_at,
                    client: client_of(&s.user_agent, &s.ip_address),
                })
                .collect(),
        ),
        Raw::Names(n) => Answer::Names(n.clone()),
        Raw::Principal(p) => Answer::Principal(p.as_ref().map(|p| PrincipalV {
            user: user_v(env, &p.user),
            roles: names_of(p.roles.clone()),
            permissions: names_of(p.permissions.clone()),
        })),
        Raw::OAuth(a) => Answer::OAuth(a.as_ref().map(|a| oauth_v(env, a))),
        Raw::OAuthList(list) => {
            let mut v: Vec<OAuthV> = list.iter().map(|a| oauth_v(env, a)).collect();
            if v.windows(2)
                .any(|w| (w[0].created_at, &w[0].provider) > (w[1].created_at, &w[1].provider))
            {
                return out_of_order("OAuth accounts");
            }
            sort_oauth(&mut v);
            Answer::OAuthList(v)
        }
        Raw::Link(l) => Answer::Link {
            created: l.is_created(),
            account: oauth_v(env, l.account()),
        },
        Raw::Passkey(p) => Answer::Passkey(p.as_ref().map(|p| passkey_v(env, p))),
        Raw::Passkeys(list) => {
            if list.windows(2).any(|w| w[0].created_at > w[1].created_at) {
                return out_of_order("passkeys");
            }
            let mut v: Vec<PasskeyV> = list.iter().map(|p| passkey_v(env, p)).collect();
            sort_passkeys(&mut v);
            Answer::Passkeys(v)
        }
        Raw::Mfa(f) => Answer::Mfa(f.as_ref().map(|f| {
            let mut codes: Vec<String> = f.recovery_codes.iter().map(|c| names.label(c)).collect();
            codes.sort();
            MfaV {
                user: env.user_ref(&f.user_id),
                secret: f.secret.as_str().to_string(),
                confirmed_at: f.confirmed_at,
                last_counter: f.last_counter,
                codes,
                created_at: f.created_at,
            }
        })),
        Raw::Lockout(o) => Answer::Lockout(match o {
            LockoutOutcome::Counted { attempts } => LockV::Counted(*attempts),
            LockoutOutcome::Locked { until } => LockV::Locked(*until),
            LockoutOutcome::AlreadyLocked { until } => LockV::AlreadyLocked(*until),
        }),
        Raw::Rate(d) => Answer::Rate(RateV {
            allowed: d.allowed,
            remaining: d.remaining,
            retry_after: d.retry_after,
        }),
        Raw::Challenge(c) => Answer::Challenge(c.as_ref().map(|t| t.as_str().to_string())),
        Raw::Err(e) => Answer::Err(err_v(e)),
        Raw::TimedOut => Answer::Err(ErrV::Other(format!("timed out after {CALL_TIMEOUT:?}"))),
    }
}

fn dedupe(states: &mut Vec<Model>) {
    let mut out: Vec<Model> = Vec::with_capacity(states.len());
    for s in states.drain(..) {
        if !out.contains(&s) {
            out.push(s);
        }
    }
    out.truncate(MAX_CANDIDATES);
    *states = out;
}

fn set_now(states: &mut [Model], now: Timestamp) {
    for s in states {
        s.now = now;
    }
}

/// The states reachable from `states` by running `calls` in some serial
/// order with exactly these answers.
fn linearise(states: &[Model], calls: &[Call], answers: &[Answer], tol: Duration) -> Vec<Model> {
    fn go(
        state: &Model,
        remaining: &mut Vec<usize>,
        calls: &[Call],
        answers: &[Answer],
        tol: Duration,
        out: &mut Vec<Model>,
    ) {
        if out.len() >= MAX_CANDIDATES {
            return;
        }
        if remaining.is_empty() {
            if !out.contains(state) {
                out.push(state.clone());
            }
            return;
        }
        for k in 0..remaining.len() {
            let i = remaining.remove(k);
            for (a, next) in state.apply(&calls[i]) {
                if agrees(&a, &answers[i], tol) {
                    go(&next, remaining, calls, answers, tol, out);
                }
            }
            remaining.insert(k, i);
        }
    }
    let mut out = Vec::new();
    for s in states {
        let mut remaining: Vec<usize> = (0..calls.len()).collect();
        go(s, &mut remaining, calls, answers, tol, &mut out);
    }
    out
}

/// One executed step, for the report.
struct Logged {
    step: String,
    lines: Vec<String>,
}

fn report(
    ops_len: usize,
    log: &[Logged],
    at: &str,
    detail: &str,
    names: &Names,
    backend: &str,
) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "model divergence on `{backend}` at {at} (run tag {}):\n{detail}",
        names.tag
    );
    let _ = writeln!(s, "the {ops_len} steps as run (call => store's answer):");
    for l in log {
        let _ = writeln!(s, "  {}", l.step);
        for line in &l.lines {
            let _ = writeln!(s, "      {line}");
        }
    }
    s
}

/// The reads that compare the final state: everything the model knows,
/// for the features under test.
fn final_reads(cfg: &RunConfig, names: &Names, users: &[Sym]) -> Vec<Call> {
    let mut calls = Vec::new();
    if cfg.durable() {
        for &u in users {
            calls.push(Call::GetUser { user: u });
            calls.push(Call::GetPassword { user: u });
            calls.push(Call::ListSessions { user: u });
            if cfg.has(Feature::Roles) {
                calls.push(Call::GetUserRoles { user: u });
                if cfg.has(Feature::Permissions) {
                    calls.push(Call::GetUserPermissions { user: u });
                }
            }
            if cfg.has(Feature::OAuth) {
                calls.push(Call::ListOAuth { user: u });
            }
            if cfg.has(Feature::Passkeys) {
                calls.push(Call::ListPasskeys { user: u });
            }
            if cfg.has(Feature::Mfa) {
                calls.push(Call::GetMfa { user: u });
            }
        }
        for e in 0..EMAILS {
            calls.push(Call::GetUserByEmail {
                email: names.email(e),
            });
        }
        for d in 0..DIGESTS {
            calls.push(Call::GetToken { digest: d });
        }
        if cfg.has(Feature::Roles) {
            calls.push(Call::ListRoles);
            if cfg.has(Feature::Permissions) {
                calls.push(Call::ListPermissions);
                for r in 0..ROLE_NAMES.len() as u8 {
                    calls.push(Call::GetRolePermissions {
                        role: names.role(r),
                    });
                }
            }
        }
        if cfg.has(Feature::OAuth) {
            for p in 0..PROVIDERS.len() as u8 {
                for s in 0..PROVIDER_USERS {
                    calls.push(Call::GetOAuth {
                        provider: names.provider(p),
                        subject: names.subject(s),
                    });
                }
            }
        }
        if cfg.has(Feature::Passkeys) {
            for c in 0..CREDENTIALS {
                calls.push(Call::GetPasskey {
                    credential: names.credential(c),
                });
            }
        }
    }
    for k in 0..STATE_KEYS {
        if cfg.features.contains(Feature::Blacklist) {
            calls.push(Call::IsBlacklisted {
                key: names.key("bl", k),
            });
        }
        if cfg.features.contains(Feature::Lockout) {
            calls.push(Call::IsLocked {
                key: names.key("lock", k),
            });
        }
        if cfg.features.contains(Feature::RateLimit) {
            // A generous limit: `remaining` tells how many requests the
            // window holds.
            calls.push(Call::Hit {
                key: names.key("rate", k),
                limit: 1000,
                window: RATE_WINDOWS[usize::from(k) % RATE_WINDOWS.len()],
            });
        }
        if cfg.features.contains(Feature::Challenges) {
            calls.push(Call::TakeChallenge {
                key: names.key("chal", k),
            });
        }
    }
    calls
}

/// Applies `ops` to the subject's store and to the model, step by step, and
/// then compares the final state through reads. Returns the first
/// divergence as a report naming the step, the store's answer, the answers
/// the model allows, and every step run so far with its answer.
pub async fn run_sequence(
    subject: &Subject,
    cfg: &RunConfig,
    ops: &[Op],
) -> Result<RunStats, String> {
    let store = subject.store.clone();
    let clock = subject.clock.clone();
    let backend = store.backend_name();
    let names = Arc::new(Names::new());
    let mut env = Env::new();
    let tol = if cfg.manual_clock {
        TIME_TOLERANCE
    } else {
        TIME_TOLERANCE * 2
    };
    let mut states = vec![Model::new(clock.now(), store.features())];
    let mut stats = RunStats::default();
    let mut log: Vec<Logged> = Vec::new();
    let mut next_sym: Sym = 1;

    for (i, op) in ops.iter().enumerate() {
        if cfg.manual_clock {
            clock.advance(TICK).await;
        }
        match op {
            Op::AdvanceClock { step } => {
                if !cfg.manual_clock {
                    log.push(Logged {
                        step: format!("#{i} AdvanceClock: skipped (system clock)"),
                        lines: Vec::new(),
                    });
                    continue;
                }
                let now = clock.now();
                let wanted = CLOCK_STEPS[usize::from(*step) % CLOCK_STEPS.len()];
                let deadlines: Vec<Timestamp> = states.iter().flat_map(|s| s.deadlines()).collect();
                let mut target = now + wanted;
                while let Some(d) = deadlines
                    .iter()
                    .find(|d| d.until(target).max(target.until(**d)) < DEADLINE_MARGIN)
                {
                    target = *d + DEADLINE_MARGIN + TICK;
                }
                let by = now.until(target);
                clock.advance(by).await;
                log.push(Logged {
                    step: format!("#{i} AdvanceClock {{ by: {by:?} }}"),
                    lines: Vec::new(),
                });
            }
            Op::Concurrent(group) => {
                if group.is_empty() {
                    continue;
                }
                stats.groups += 1;
                let now = clock.now();
                let calls: Vec<Call> = group
                    .iter()
                    .filter_map(|op| {
                        let sym = next_sym;
                        next_sym += 1;
                        resolve(op, &env, &names, now, sym)
                    })
                    .collect();
                let snapshot = Arc::new(env.clone());
                let barrier = Arc::new(tokio::sync::Barrier::new(calls.len()));
                let tasks: Vec<_> = calls
                    .iter()
                    .cloned()
                    .map(|call| {
                        let (store, env, names, barrier) = (
                            store.clone(),
                            snapshot.clone(),
                            names.clone(),
                            barrier.clone(),
                        );
                        tokio::spawn(async move {
                            barrier.wait().await;
                            exec(store, env, names, call).await
                        })
                    })
                    .collect();
                let mut raws = Vec::with_capacity(tasks.len());
                for t in tasks {
                    raws.push(t.await.unwrap_or(Raw::TimedOut));
                }
                stats.calls += calls.len();
                for (call, raw) in calls.iter().zip(&raws) {
                    bind(&mut env, call, raw);
                }
                let answers: Vec<Answer> =
                    raws.iter().map(|r| normalise(&env, &names, r)).collect();
                set_now(&mut states, now);
                let lines: Vec<String> = calls
                    .iter()
                    .zip(&answers)
                    .map(|(c, a)| format!("{c:?} => {a:?}"))
                    .collect();
                log.push(Logged {
                    step: format!("#{i} Concurrent ({} calls)", calls.len()),
                    lines,
                });
                let next = linearise(&states, &calls, &answers, tol);
                if next.is_empty() {
                    let mut detail = String::from(
                        "no serial order of the group gives the store's answers; each call alone from the state before the group:\n",
                    );
                    for c in &calls {
                        let alone: Vec<Answer> =
                            states[0].apply(c).into_iter().map(|(a, _)| a).collect();
                        let _ = writeln!(detail, "  {c:?}\n      model allows: {alone:?}");
                    }
                    return Err(report(
                        ops.len(),
                        &log,
                        &format!("step #{i}"),
                        &detail,
                        &names,
                        backend,
                    ));
                }
                states = next;
            }
            simple => {
                let now = clock.now();
                let sym = next_sym;
                next_sym += 1;
                let Some(call) = resolve(simple, &env, &names, now, sym) else {
                    continue;
                };
                let raw = exec(
                    store.clone(),
                    Arc::new(env.clone()),
                    names.clone(),
                    call.clone(),
                )
                .await;
                stats.calls += 1;
                bind(&mut env, &call, &raw);
                let actual = normalise(&env, &names, &raw);
                set_now(&mut states, now);
                log.push(Logged {
                    step: format!("#{i} {call:?} => {actual:?}"),
                    lines: Vec::new(),
                });
                let mut next = Vec::new();
                let mut allowed = Vec::new();
                for s in &states {
                    for (a, n) in s.apply(&call) {
                        if agrees(&a, &actual, tol) {
                            next.push(n);
                        } else if !allowed.contains(&a) {
                            allowed.push(a);
                        }
                    }
                }
                if next.is_empty() {
                    let detail = format!(
                        "  call:          {call:?}\n  store answered: {actual:?}\n  model allows:   {allowed:?}"
                    );
                    return Err(report(
                        ops.len(),
                        &log,
                        &format!("step #{i}"),
                        &detail,
                        &names,
                        backend,
                    ));
                }
                dedupe(&mut next);
                states = next;
            }
        }
    }

    // The final state, through reads of everything the run touched.
    let mut users: Vec<Sym> = env.bound_users.clone();
    for k in 0..Sym::from(USER_SLOTS) {
        if !users.contains(&(GHOST_USER + k)) {
            users.push(GHOST_USER + k);
        }
    }
    let reads = final_reads(cfg, &names, &users);
    if cfg.manual_clock {
        clock.advance(TICK).await;
    }
    let now = clock.now();
    let shared_env = Arc::new(env.clone());
    for call in reads {
        let raw = exec(
            store.clone(),
            shared_env.clone(),
            names.clone(),
            call.clone(),
        )
        .await;
        stats.final_reads += 1;
        let actual = normalise(&env, &names, &raw);
        set_now(&mut states, now);
        let mut next = Vec::new();
        let mut allowed = Vec::new();
        for s in &states {
            for (a, n) in s.apply(&call) {
                if agrees(&a, &actual, tol) {
                    next.push(n);
                } else if !allowed.contains(&a) {
                    allowed.push(a);
                }
            }
        }
        if next.is_empty() {
            let detail = format!(
                "  read:           {call:?}\n  store answered: {actual:?}\n  model allows:   {allowed:?}"
            );
            return Err(report(
                ops.len(),
                &log,
                "the final state",
                &detail,
                &names,
                backend,
            ));
        }
        dedupe(&mut next);
        states = next;
    }
    Ok(stats)
}
