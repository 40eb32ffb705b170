//! The pure model: resolved calls, normalised answers, and a state that
//! answers every call as the contract in `fullauth_api::store` says.
//!
//! Where the contract leaves a choice (which of two errors wins, whether a
//! refused `assign_role` still created the role, which of several tokens
//! created at one instant is "the newest"), [`Model::apply`] returns every
//! allowed outcome, each with the state it leads to; the runner keeps the
//! states whose answer matches the store's.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use fullauth_api::{Feature, Features, Timestamp, ttl_seconds};

/// A symbolic id: users and passkeys are named by the step that created
/// them (or by a ghost number for ids no store has seen), so that a model
/// answer and a store answer can be compared without knowing generated ids.
pub type Sym = u32;

/// The symbols of ghost users start here: `GHOST_USER + slot`.
pub const GHOST_USER: Sym = 1_000_000;
/// The symbols of ghost passkeys start here: `GHOST_PASSKEY + slot`.
pub const GHOST_PASSKEY: Sym = 2_000_000;

/// An id in a normalised answer.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Id {
    /// An id the run knows by its symbol.
    Sym(Sym),
    /// An id the run never bound (always a divergence).
    Foreign(String),
}

/// Client metadata of a token, as stored.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Client {
    /// User agent.
    pub user_agent: Option<String>,
    /// IP address.
    pub ip_address: Option<String>,
}

/// One call with every value resolved (names, symbols, times), given to the
/// model and, through the runner's bindings, to the store.
#[derive(Clone, Debug, PartialEq, Eq)]
#[allow(missing_docs)] // The fields are the arguments of the store method of the same name.
pub enum Call {
    CreateUser {
        email: String,
        id: Option<Sym>,
        new_sym: Sym,
        password: Option<String>,
    },
    GetUser {
        user: Sym,
    },
    GetUserByEmail {
        email: String,
    },
    UpdateUser {
        user: Sym,
        email: Option<String>,
        is_active: Option<bool>,
        is_superuser: Option<bool>,
    },
    DeleteUser {
        user: Sym,
    },
    SetPassword {
        user: Sym,
        hash: Option<String>,
    },
    GetPassword {
        user: Sym,
    },
    MarkVerified {
        user: Sym,
    },
    GetPrincipal {
        user: Sym,
    },
    StoreToken {
        digest: u8,
        user: Sym,
        family: String,
        expires_at: Timestamp,
        client: Client,
    },
    GetToken {
        digest: u8,
    },
    RevokeToken {
        digest: u8,
    },
    RotateToken {
        old: u8,
        next: u8,
        expires_at: Timestamp,
        client: Client,
    },
    RevokeFamily {
        family: String,
    },
    RevokeAllForUser {
        user: Sym,
    },
    ListSessions {
        user: Sym,
    },
    RevokeSession {
        user: Sym,
        family: String,
    },
    RevokeOtherSessions {
        user: Sym,
        keep: String,
    },
    PruneTokens {
        before: Timestamp,
    },
    CreateRole {
        role: String,
    },
    AssignRole {
        user: Sym,
        role: String,
    },
    RemoveRole {
        user: Sym,
        role: String,
    },
    GetUserRoles {
        user: Sym,
    },
    ListRoles,
    DeleteRole {
        role: String,
    },
    AssignPermission {
        role: String,
        permission: String,
    },
    RemovePermission {
        role: String,
        permission: String,
    },
    GetRolePermissions {
        role: String,
    },
    GetPermissionsForRoles {
        roles: Vec<String>,
    },
    GetUserPermissions {
        user: Sym,
    },
    HasPermission {
        user: Sym,
        permission: String,
    },
    ListPermissions,
    LinkOAuth {
        provider: String,
        subject: String,
        user: Sym,
        email: Option<String>,
        access: Option<String>,
    },
    GetOAuth {
        provider: String,
        subject: String,
    },
    ListOAuth {
        user: Sym,
    },
    UpdateOAuth {
        provider: String,
        subject: String,
        access: Option<Option<String>>,
    },
    DeleteOAuth {
        provider: String,
        subject: String,
    },
    StorePasskey {
        user: Sym,
        credential: String,
        new_sym: Sym,
        sign_count: u32,
    },
    GetPasskey {
        credential: String,
    },
    ListPasskeys {
        user: Sym,
    },
    UpdateSignCount {
        credential: String,
        count: u32,
    },
    RenamePasskey {
        user: Sym,
        passkey: Sym,
        name: String,
    },
    DeletePasskey {
        user: Sym,
        passkey: Sym,
    },
    StoreMfa {
        user: Sym,
        secret: String,
    },
    GetMfa {
        user: Sym,
    },
    ConfirmMfa {
        user: Sym,
        codes: Vec<u8>,
    },
    DeleteMfa {
        user: Sym,
    },
    AdvanceMfaCounter {
        user: Sym,
        counter: u32,
    },
    ConsumeRecoveryCode {
        user: Sym,
        code: u8,
    },
    Blacklist {
        key: String,
        ttl: Duration,
    },
    IsBlacklisted {
        key: String,
    },
    AnyBlacklisted {
        keys: Vec<String>,
    },
    RecordFailure {
        key: String,
        max_attempts: u32,
        duration: Duration,
    },
    IsLocked {
        key: String,
    },
    ClearLockout {
        key: String,
    },
    Hit {
        key: String,
        limit: u32,
        window: Duration,
    },
    ResetRateLimit {
        key: String,
    },
    PutChallenge {
        key: String,
        value: String,
        ttl: Duration,
    },
    TakeChallenge {
        key: String,
    },
    AdvanceClock {
        by: Duration,
    },
}

/// A user as compared (application columns are not).
#[derive(Clone, Debug, PartialEq, Eq)]
#[allow(missing_docs)]
pub struct UserV {
    pub id: Id,
    pub email: String,
    pub is_active: bool,
    pub is_verified: bool,
    pub is_superuser: bool,
    pub created_at: Timestamp,
}

/// A refresh token as compared (the row id is not).
#[derive(Clone, Debug, PartialEq, Eq)]
#[allow(missing_docs)]
pub struct TokenV {
    pub digest: String,
    pub user: Id,
    pub family: String,
    pub expires_at: Timestamp,
    pub revoked: bool,
    pub client: Client,
    pub created_at: Timestamp,
}

/// A rotation's outcome.
#[derive(Clone, Debug, PartialEq, Eq)]
#[allow(missing_docs)]
pub enum RotationV {
    Rotated(TokenV),
    Reused { family: String, user: Id },
    Expired,
    NotFound,
}

/// A session.
#[derive(Clone, Debug, PartialEq, Eq)]
#[allow(missing_docs)]
pub struct SessionV {
    pub family: String,
    pub created_at: Timestamp,
    pub last_used_at: Timestamp,
    pub expires_at: Timestamp,
    pub client: Client,
}

/// A principal.
#[derive(Clone, Debug, PartialEq, Eq)]
#[allow(missing_docs)]
pub struct PrincipalV {
    pub user: UserV,
    pub roles: Vec<String>,
    pub permissions: Vec<String>,
}

/// An OAuth link as compared (the row id is not).
#[derive(Clone, Debug, PartialEq, Eq)]
#[allow(missing_docs)]
pub struct OAuthV {
    pub provider: String,
    pub subject: String,
    pub user: Id,
    pub email: Option<String>,
    pub access: Option<String>,
    pub refresh: Option<String>,
    pub expires_at: Option<Timestamp>,
    pub created_at: Timestamp,
}

/// A passkey.
#[derive(Clone, Debug, PartialEq, Eq)]
#[allow(missing_docs)]
pub struct PasskeyV {
    pub id: Id,
    pub user: Id,
    pub credential: String,
    pub public_key: String,
    pub sign_count: u32,
    pub device_name: String,
    pub transports: Vec<String>,
    pub backed_up: bool,
    pub created_at: Timestamp,
    pub last_used_at: Option<Timestamp>,
}

/// An MFA factor as compared (the row id is not; recovery codes as a sorted
/// multiset of labels).
#[derive(Clone, Debug, PartialEq, Eq)]
#[allow(missing_docs)]
pub struct MfaV {
    pub user: Id,
    pub secret: String,
    pub confirmed_at: Option<Timestamp>,
    pub last_counter: u32,
    pub codes: Vec<String>,
    pub created_at: Timestamp,
}

/// A lockout outcome.
#[derive(Clone, Debug, PartialEq, Eq)]
#[allow(missing_docs)]
pub enum LockV {
    Counted(u32),
    Locked(Timestamp),
    AlreadyLocked(Timestamp),
}

/// A rate-limit decision.
#[derive(Clone, Debug, PartialEq, Eq)]
#[allow(missing_docs)]
pub struct RateV {
    pub allowed: bool,
    pub remaining: u32,
    pub retry_after: Duration,
}

/// An error as compared: its kind and what it names.
#[derive(Clone, Debug, PartialEq, Eq)]
#[allow(missing_docs)]
pub enum ErrV {
    Conflict(String),
    NotFound(String),
    Invalid(String),
    /// Any other error (never an answer of the model).
    Other(String),
}

/// A normalised answer.
#[derive(Clone, Debug, PartialEq, Eq)]
#[allow(missing_docs)]
pub enum Answer {
    Unit,
    Bool(bool),
    Count(u64),
    /// `prune_expired_refresh_tokens`: the store may count rows of other
    /// runs sharing its database, so at least this many.
    Pruned(u64),
    User(Option<UserV>),
    Hash(Option<String>),
    Token(Option<TokenV>),
    Rotation(RotationV),
    Sessions(Vec<SessionV>),
    Names(Vec<String>),
    Principal(Option<PrincipalV>),
    OAuth(Option<OAuthV>),
    OAuthList(Vec<OAuthV>),
    Link {
        created: bool,
        account: OAuthV,
    },
    Passkey(Option<PasskeyV>),
    Passkeys(Vec<PasskeyV>),
    Mfa(Option<MfaV>),
    Lockout(LockV),
    Rate(RateV),
    Challenge(Option<String>),
    Err(ErrV),
}

impl Answer {
    fn conflict(what: &str) -> Self {
        Answer::Err(ErrV::Conflict(what.to_string()))
    }
    fn not_found(what: &str) -> Self {
        Answer::Err(ErrV::NotFound(what.to_string()))
    }
}

/// How far a lock deadline or a `retry_after` may be from the model's
/// (the contract: lock deadlines exact to within a second; rate-limit
/// delays may be rounded to whole seconds).
pub const TIME_TOLERANCE: Duration = Duration::from_secs(1);

fn close(a: Timestamp, b: Timestamp, tol: Duration) -> bool {
    a.until(b).max(b.until(a)) <= tol
}

/// True when the store's answer `actual` is the model's `expected`: equal,
/// except lock deadlines and `retry_after` within `tol`, and a prune count
/// of at least the model's.
pub fn agrees(expected: &Answer, actual: &Answer, tol: Duration) -> bool {
    match (expected, actual) {
        (Answer::Pruned(e), Answer::Pruned(a)) => a >= e,
        (Answer::Lockout(LockV::Locked(e)), Answer::Lockout(LockV::Locked(a)))
        | (Answer::Lockout(LockV::AlreadyLocked(e)), Answer::Lockout(LockV::AlreadyLocked(a))) => {
            close(*e, *a, tol)
        }
        (Answer::Rate(e), Answer::Rate(a)) => {
            e.allowed == a.allowed
                && e.remaining == a.remaining
                && e.retry_after.abs_diff(a.retry_after) <= tol
        }
        _ => expected == actual,
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
struct MUser {
    email: String,
    is_active: bool,
    is_verified: bool,
    is_superuser: bool,
    created_at: Timestamp,
    password: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
struct MToken {
    user: Sym,
    family: String,
    expires_at: Timestamp,
    revoked: bool,
    client: Client,
    created_at: Timestamp,
}

#[derive(Clone, Debug, PartialEq, Eq)]
struct MOAuth {
    user: Sym,
    email: Option<String>,
    access: Option<String>,
    created_at: Timestamp,
}

#[derive(Clone, Debug, PartialEq, Eq)]
struct MPasskey {
    id: Sym,
    user: Sym,
    sign_count: u32,
    device_name: String,
    created_at: Timestamp,
    last_used_at: Option<Timestamp>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
struct MMfa {
    secret: String,
    confirmed_at: Option<Timestamp>,
    counter: u32,
    codes: Vec<u8>,
    created_at: Timestamp,
}

#[derive(Clone, Debug, PartialEq, Eq, Default)]
struct MLock {
    count: u32,
    last_failure: Option<(Timestamp, Duration)>,
    locked_until: Option<Timestamp>,
}

/// The public key the runner stores for a credential.
pub fn public_key_of(credential: &str) -> String {
    format!("pk-{credential}")
}

/// The device name the runner stores with a new passkey.
pub const FIRST_DEVICE_NAME: &str = "security key";

/// The transports the runner stores with a new passkey.
pub fn transports() -> Vec<String> {
    vec!["usb".to_string(), "nfc".to_string()]
}

/// The label of a refresh-token digest in answers.
pub fn digest_label(i: u8) -> String {
    format!("d{i}")
}

/// The label of a recovery code in answers.
pub fn code_label(i: u8) -> String {
    format!("c{i}")
}

/// The state of the model: what a store holds, per the contract, at the
/// model's `now`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Model {
    /// The time of the next call (set by the runner from the subject's clock).
    pub now: Timestamp,
    served: Features,
    users: BTreeMap<Sym, MUser>,
    tokens: BTreeMap<u8, MToken>,
    roles: BTreeSet<String>,
    user_roles: BTreeSet<(Sym, String)>,
    permissions: BTreeSet<String>,
    grants: BTreeSet<(String, String)>,
    oauth: BTreeMap<(String, String), MOAuth>,
    passkeys: BTreeMap<String, MPasskey>,
    mfa: BTreeMap<Sym, MMfa>,
    blacklist: BTreeMap<String, Timestamp>,
    lockout: BTreeMap<String, MLock>,
    rate: BTreeMap<String, (Duration, Vec<Timestamp>)>,
    challenges: BTreeMap<String, (String, Timestamp)>,
}

impl Model {
    /// An empty store at `now`. `served` are the features the store reports
    /// (a principal's roles and permissions are empty without them).
    pub fn new(now: Timestamp, served: Features) -> Self {
        Model {
            now,
            served,
            users: BTreeMap::new(),
            tokens: BTreeMap::new(),
            roles: BTreeSet::new(),
            user_roles: BTreeSet::new(),
            permissions: BTreeSet::new(),
            grants: BTreeSet::new(),
            oauth: BTreeMap::new(),
            passkeys: BTreeMap::new(),
            mfa: BTreeMap::new(),
            blacklist: BTreeMap::new(),
            lockout: BTreeMap::new(),
            rate: BTreeMap::new(),
            challenges: BTreeMap::new(),
        }
    }

    /// Every instant at which an answer of the model changes with time alone
    /// (expiries, lock ends, requests leaving their window). The runner keeps
    /// the clock away from them.
    pub fn deadlines(&self) -> Vec<Timestamp> {
        let mut out: Vec<Timestamp> = self.tokens.values().map(|t| t.expires_at).collect();
        out.extend(self.blacklist.values().copied());
        for l in self.lockout.values() {
            if let Some((t, d)) = l.last_failure {
                out.push(t + d);
            }
            out.extend(l.locked_until);
        }
        for (w, hits) in self.rate.values() {
            out.extend(hits.iter().map(|t| *t + *w));
        }
        out.extend(self.challenges.values().map(|(_, t)| *t));
        out
    }

    /// The user symbols the model has seen (created users).
    pub fn user_syms(&self) -> impl Iterator<Item = Sym> + '_ {
        self.users.keys().copied()
    }

    fn user_v(&self, sym: Sym) -> Option<UserV> {
        self.users.get(&sym).map(|u| UserV {
            id: Id::Sym(sym),
            email: u.email.clone(),
            is_active: u.is_active,
            is_verified: u.is_verified,
            is_superuser: u.is_superuser,
            created_at: u.created_at,
        })
    }

    fn token_v(&self, digest: u8) -> Option<TokenV> {
        self.tokens.get(&digest).map(|t| TokenV {
            digest: digest_label(digest),
            user: Id::Sym(t.user),
            family: t.family.clone(),
            expires_at: t.expires_at,
            revoked: t.revoked,
            client: t.client.clone(),
            created_at: t.created_at,
        })
    }

    fn oauth_v(&self, key: &(String, String)) -> Option<OAuthV> {
        self.oauth.get(key).map(|a| OAuthV {
            provider: key.0.clone(),
            subject: key.1.clone(),
            user: Id::Sym(a.user),
            email: a.email.clone(),
            access: a.access.clone(),
            refresh: None,
            expires_at: None,
            created_at: a.created_at,
        })
    }

    fn passkey_v(&self, credential: &str) -> Option<PasskeyV> {
        self.passkeys.get(credential).map(|p| PasskeyV {
            id: Id::Sym(p.id),
            user: Id::Sym(p.user),
            credential: credential.to_string(),
            public_key: public_key_of(credential),
            sign_count: p.sign_count,
            device_name: p.device_name.clone(),
            transports: transports(),
            backed_up: false,
            created_at: p.created_at,
            last_used_at: p.last_used_at,
        })
    }

    fn mfa_v(&self, user: Sym) -> Option<MfaV> {
        self.mfa.get(&user).map(|m| {
            let mut codes: Vec<String> = m.codes.iter().map(|c| code_label(*c)).collect();
            codes.sort();
            MfaV {
                user: Id::Sym(user),
                secret: m.secret.clone(),
                confirmed_at: m.confirmed_at,
                last_counter: m.counter,
                codes,
                created_at: m.created_at,
            }
        })
    }

    fn user_roles_of(&self, user: Sym) -> Vec<String> {
        self.user_roles
            .iter()
            .filter(|(u, _)| *u == user)
            .map(|(_, r)| r.clone())
            .collect()
    }

    fn permissions_of_roles<'a>(&self, roles: impl IntoIterator<Item = &'a String>) -> Vec<String> {
        let roles: BTreeSet<&String> = roles.into_iter().collect();
        let set: BTreeSet<String> = self
            .grants
            .iter()
            .filter(|(r, _)| roles.contains(r))
            .map(|(_, p)| p.clone())
            .collect();
        set.into_iter().collect()
    }

    fn user_permissions(&self, user: Sym) -> Vec<String> {
        let roles = self.user_roles_of(user);
        self.permissions_of_roles(roles.iter())
    }

    fn email_taken_by_other(&self, email: &str, me: Option<Sym>) -> bool {
        self.users
            .iter()
            .any(|(s, u)| u.email == email && Some(*s) != me)
    }

    fn live(&self, t: &MToken) -> bool {
        !t.revoked && t.expires_at > self.now
    }

    fn revoke_where(&mut self, pred: impl Fn(&MToken) -> bool) -> u64 {
        let mut n = 0;
        for t in self.tokens.values_mut() {
            if pred(t) && !t.revoked {
                t.revoked = true;
                n += 1;
            }
        }
        n
    }

    /// The user's sessions; several answers when tokens created at one
    /// instant make "the newest live token" ambiguous.
    fn sessions(&self, user: Sym) -> Vec<Vec<SessionV>> {
        let mut families: BTreeMap<&String, Vec<&MToken>> = BTreeMap::new();
        for t in self.tokens.values().filter(|t| t.user == user) {
            families.entry(&t.family).or_default().push(t);
        }
        // Per session: its fixed part and the alternatives of the rest.
        let mut per_session: Vec<Vec<SessionV>> = Vec::new();
        for (family, toks) in families {
            let live: Vec<&&MToken> = toks.iter().filter(|t| self.live(t)).collect();
            let Some(newest) = live.iter().map(|t| t.created_at).max() else {
                continue;
            };
            let created_at = toks.iter().map(|t| t.created_at).min().unwrap_or(newest);
            let last_used_at = toks.iter().map(|t| t.created_at).max().unwrap_or(newest);
            let mut options: Vec<SessionV> = Vec::new();
            for t in live.iter().filter(|t| t.created_at == newest) {
                let s = SessionV {
                    family: family.clone(),
                    created_at,
                    last_used_at,
                    expires_at: t.expires_at,
                    client: t.client.clone(),
                };
                if !options.contains(&s) {
                    options.push(s);
                }
            }
            per_session.push(options);
        }
        per_session.sort_by(|a, b| {
            b[0].last_used_at
                .cmp(&a[0].last_used_at)
                .then_with(|| a[0].family.cmp(&b[0].family))
        });
        let mut answers: Vec<Vec<SessionV>> = vec![Vec::new()];
        for options in per_session {
            let mut next = Vec::new();
            for prefix in &answers {
                for o in &options {
                    let mut p = prefix.clone();
                    p.push(o.clone());
                    next.push(p);
                }
            }
            answers = next;
            answers.truncate(64);
        }
        answers
    }

    fn delete_user_rows(&mut self, user: Sym) {
        self.users.remove(&user);
        self.tokens.retain(|_, t| t.user != user);
        self.user_roles.retain(|(u, _)| *u != user);
        self.oauth.retain(|_, a| a.user != user);
        self.passkeys.retain(|_, p| p.user != user);
        self.mfa.remove(&user);
    }

    /// Every allowed answer to `call`, each with the state it leads to.
    pub fn apply(&self, call: &Call) -> Vec<(Answer, Model)> {
        let mut m = self.clone();
        let now = self.now;
        let one = |a: Answer, m: Model| vec![(a, m)];
        match call {
            Call::CreateUser {
                email,
                id,
                new_sym,
                password,
            } => {
                let sym = id.unwrap_or(*new_sym);
                let id_taken = id.is_some_and(|s| self.users.contains_key(&s));
                let email_taken = self.email_taken_by_other(email, None);
                let mut errors = Vec::new();
                if email_taken {
                    errors.push((Answer::conflict("Email"), self.clone()));
                }
                if id_taken {
                    errors.push((Answer::conflict("UserId"), self.clone()));
                }
                if !errors.is_empty() {
                    return errors;
                }
                m.users.insert(
                    sym,
                    MUser {
                        email: email.clone(),
                        is_active: true,
                        is_verified: false,
                        is_superuser: false,
                        created_at: now,
                        password: password.clone(),
                    },
                );
                let a = Answer::User(m.user_v(sym));
                one(a, m)
            }
            Call::GetUser { user } => one(Answer::User(self.user_v(*user)), m),
            Call::GetUserByEmail { email } => {
                let found = self
                    .users
                    .iter()
                    .find(|(_, u)| &u.email == email)
                    .map(|(s, _)| *s);
                one(Answer::User(found.and_then(|s| self.user_v(s))), m)
            }
            Call::UpdateUser {
                user,
                email,
                is_active,
                is_superuser,
            } => {
                if !self.users.contains_key(user) {
                    return one(Answer::not_found("User"), m);
                }
                if let Some(e) = email
                    && self.email_taken_by_other(e, Some(*user))
                {
                    return one(Answer::conflict("Email"), m);
                }
                if let Some(u) = m.users.get_mut(user) {
                    if let Some(e) = email {
                        u.email = e.clone();
                    }
                    if let Some(v) = is_active {
                        u.is_active = *v;
                    }
                    if let Some(v) = is_superuser {
                        u.is_superuser = *v;
                    }
                }
                let a = Answer::User(m.user_v(*user));
                one(a, m)
            }
            Call::DeleteUser { user } => {
                let existed = m.users.contains_key(user);
                m.delete_user_rows(*user);
                one(Answer::Bool(existed), m)
            }
            Call::SetPassword { user, hash } => match m.users.get_mut(user) {
                None => one(Answer::not_found("User"), m),
                Some(u) => {
                    u.password = hash.clone();
                    one(Answer::Unit, m)
                }
            },
            Call::GetPassword { user } => match self.users.get(user) {
                None => one(Answer::not_found("User"), m),
                Some(u) => one(Answer::Hash(u.password.clone()), m),
            },
            Call::MarkVerified { user } => match m.users.get_mut(user) {
                None => one(Answer::not_found("User"), m),
                Some(u) => {
                    u.is_verified = true;
                    one(Answer::Unit, m)
                }
            },
            Call::GetPrincipal { user } => {
                let p = self.user_v(*user).map(|u| PrincipalV {
                    user: u,
                    roles: if self.served.contains(Feature::Roles) {
                        self.user_roles_of(*user)
                    } else {
                        Vec::new()
                    },
                    permissions: if self.served.contains(Feature::Roles)
                        && self.served.contains(Feature::Permissions)
                    {
                        self.user_permissions(*user)
                    } else {
                        Vec::new()
                    },
                });
                one(Answer::Principal(p), m)
            }
            Call::StoreToken {
                digest,
                user,
                family,
                expires_at,
                client,
            } => {
                let mut errors = Vec::new();
                if self.tokens.contains_key(digest) {
                    errors.push((Answer::conflict("RefreshToken"), self.clone()));
                }
                if !self.users.contains_key(user) {
                    errors.push((Answer::not_found("User"), self.clone()));
                }
                if !errors.is_empty() {
                    return errors;
                }
                m.tokens.insert(
                    *digest,
                    MToken {
                        user: *user,
                        family: family.clone(),
                        expires_at: *expires_at,
                        revoked: false,
                        client: client.clone(),
                        created_at: now,
                    },
                );
                let a = Answer::Token(m.token_v(*digest));
                one(a, m)
            }
            Call::GetToken { digest } => one(Answer::Token(self.token_v(*digest)), m),
            Call::RevokeToken { digest } => {
                let flipped = match m.tokens.get_mut(digest) {
                    Some(t) if !t.revoked => {
                        t.revoked = true;
                        true
                    }
                    _ => false,
                };
                one(Answer::Bool(flipped), m)
            }
            Call::RotateToken {
                old,
                next,
                expires_at,
                client,
            } => {
                let next_taken = self.tokens.contains_key(next);
                let conflict = (Answer::conflict("RefreshToken"), self.clone());
                let Some(t) = self.tokens.get(old).cloned() else {
                    let mut out = one(Answer::Rotation(RotationV::NotFound), m);
                    if next_taken {
                        out.push(conflict);
                    }
                    return out;
                };
                if t.revoked {
                    m.revoke_where(|x| x.family == t.family);
                    let mut out = one(
                        Answer::Rotation(RotationV::Reused {
                            family: t.family.clone(),
                            user: Id::Sym(t.user),
                        }),
                        m,
                    );
                    if next_taken {
                        out.push(conflict);
                    }
                    return out;
                }
                if t.expires_at <= now {
                    let mut out = one(Answer::Rotation(RotationV::Expired), m);
                    if next_taken {
                        out.push(conflict);
                    }
                    return out;
                }
                if next_taken {
                    return vec![conflict];
                }
                if let Some(o) = m.tokens.get_mut(old) {
                    o.revoked = true;
                }
                m.tokens.insert(
                    *next,
                    MToken {
                        user: t.user,
                        family: t.family.clone(),
                        expires_at: *expires_at,
                        revoked: false,
                        client: client.clone(),
                        created_at: now,
                    },
                );
                let a = m
                    .token_v(*next)
                    .map(|v| Answer::Rotation(RotationV::Rotated(v)))
                    .unwrap_or(Answer::Unit);
                one(a, m)
            }
            Call::RevokeFamily { family } => {
                let n = m.revoke_where(|t| &t.family == family);
                one(Answer::Count(n), m)
            }
            Call::RevokeAllForUser { user } => {
                let n = m.revoke_where(|t| t.user == *user);
                one(Answer::Count(n), m)
            }
            Call::ListSessions { user } => self
                .sessions(*user)
                .into_iter()
                .map(|s| (Answer::Sessions(s), self.clone()))
                .collect(),
            Call::RevokeSession { user, family } => {
                let has = self
                    .tokens
                    .values()
                    .any(|t| t.user == *user && &t.family == family);
                if has {
                    m.revoke_where(|t| t.user == *user && &t.family == family);
                }
                one(Answer::Bool(has), m)
            }
            Call::RevokeOtherSessions { user, keep } => {
                let families: BTreeSet<String> = self
                    .tokens
                    .values()
                    .filter(|t| t.user == *user && &t.family != keep && !t.revoked)
                    .map(|t| t.family.clone())
                    .collect();
                m.revoke_where(|t| t.user == *user && &t.family != keep);
                one(Answer::Count(families.len() as u64), m)
            }
            Call::PruneTokens { before } => {
                let n = self
                    .tokens
                    .values()
                    .filter(|t| t.expires_at < *before)
                    .count();
                m.tokens.retain(|_, t| t.expires_at >= *before);
                one(Answer::Pruned(n as u64), m)
            }
            Call::CreateRole { role } => {
                let created = m.roles.insert(role.clone());
                one(Answer::Bool(created), m)
            }
            Call::AssignRole { user, role } => {
                if !self.users.contains_key(user) {
                    let mut out = one(Answer::not_found("User"), self.clone());
                    if !self.roles.contains(role) {
                        // Whether the role was created is unspecified.
                        m.roles.insert(role.clone());
                        out.push((Answer::not_found("User"), m));
                    }
                    return out;
                }
                m.roles.insert(role.clone());
                let new = m.user_roles.insert((*user, role.clone()));
                one(Answer::Bool(new), m)
            }
            Call::RemoveRole { user, role } => {
                let had = m.user_roles.remove(&(*user, role.clone()));
                one(Answer::Bool(had), m)
            }
            Call::GetUserRoles { user } => one(Answer::Names(self.user_roles_of(*user)), m),
            Call::ListRoles => one(Answer::Names(self.roles.iter().cloned().collect()), m),
            Call::DeleteRole { role } => {
                let existed = m.roles.remove(role);
                m.user_roles.retain(|(_, r)| r != role);
                m.grants.retain(|(r, _)| r != role);
                one(Answer::Bool(existed), m)
            }
            Call::AssignPermission { role, permission } => {
                m.roles.insert(role.clone());
                m.permissions.insert(permission.clone());
                let new = m.grants.insert((role.clone(), permission.clone()));
                one(Answer::Bool(new), m)
            }
            Call::RemovePermission { role, permission } => {
                let had = m.grants.remove(&(role.clone(), permission.clone()));
                one(Answer::Bool(had), m)
            }
            Call::GetRolePermissions { role } => {
                one(Answer::Names(self.permissions_of_roles([role])), m)
            }
            Call::GetPermissionsForRoles { roles } => {
                one(Answer::Names(self.permissions_of_roles(roles.iter())), m)
            }
            Call::GetUserPermissions { user } => {
                one(Answer::Names(self.user_permissions(*user)), m)
            }
            Call::HasPermission { user, permission } => one(
                Answer::Bool(self.user_permissions(*user).contains(permission)),
                m,
            ),
            Call::ListPermissions => {
                one(Answer::Names(self.permissions.iter().cloned().collect()), m)
            }
            Call::LinkOAuth {
                provider,
                subject,
                user,
                email,
                access,
            } => {
                let key = (provider.clone(), subject.clone());
                let user_known = self.users.contains_key(user);
                if let Some(existing) = self.oauth_v(&key) {
                    let mut out = one(
                        Answer::Link {
                            created: false,
                            account: existing,
                        },
                        m,
                    );
                    if !user_known {
                        out.push((Answer::not_found("User"), self.clone()));
                    }
                    return out;
                }
                if !user_known {
                    return one(Answer::not_found("User"), m);
                }
                m.oauth.insert(
                    key.clone(),
                    MOAuth {
                        user: *user,
                        email: email.clone(),
                        access: access.clone(),
                        created_at: now,
                    },
                );
                let a = m
                    .oauth_v(&key)
                    .map(|account| Answer::Link {
                        created: true,
                        account,
                    })
                    .unwrap_or(Answer::Unit);
                one(a, m)
            }
            Call::GetOAuth { provider, subject } => one(
                Answer::OAuth(self.oauth_v(&(provider.clone(), subject.clone()))),
                m,
            ),
            Call::ListOAuth { user } => {
                let mut list: Vec<OAuthV> = self
                    .oauth
                    .iter()
                    .filter(|(_, a)| a.user == *user)
                    .filter_map(|(k, _)| self.oauth_v(k))
                    .collect();
                sort_oauth(&mut list);
                one(Answer::OAuthList(list), m)
            }
            Call::UpdateOAuth {
                provider,
                subject,
                access,
            } => {
                let key = (provider.clone(), subject.clone());
                if let (Some(a), Some(new)) = (m.oauth.get_mut(&key), access) {
                    a.access = new.clone();
                }
                let a = Answer::OAuth(m.oauth_v(&key));
                one(a, m)
            }
            Call::DeleteOAuth { provider, subject } => {
                let existed = m
                    .oauth
                    .remove(&(provider.clone(), subject.clone()))
                    .is_some();
                one(Answer::Bool(existed), m)
            }
            Call::StorePasskey {
                user,
                credential,
                new_sym,
                sign_count,
            } => {
                let mut errors = Vec::new();
                if self.passkeys.contains_key(credential) {
                    errors.push((Answer::conflict("Credential"), self.clone()));
                }
                if !self.users.contains_key(user) {
                    errors.push((Answer::not_found("User"), self.clone()));
                }
                if !errors.is_empty() {
                    return errors;
                }
                m.passkeys.insert(
                    credential.clone(),
                    MPasskey {
                        id: *new_sym,
                        user: *user,
                        sign_count: *sign_count,
                        device_name: FIRST_DEVICE_NAME.to_string(),
                        created_at: now,
                        last_used_at: None,
                    },
                );
                let a = Answer::Passkey(m.passkey_v(credential));
                one(a, m)
            }
            Call::GetPasskey { credential } => one(Answer::Passkey(self.passkey_v(credential)), m),
            Call::ListPasskeys { user } => {
                let mut list: Vec<PasskeyV> = self
                    .passkeys
                    .iter()
                    .filter(|(_, p)| p.user == *user)
                    .filter_map(|(c, _)| self.passkey_v(c))
                    .collect();
                sort_passkeys(&mut list);
                one(Answer::Passkeys(list), m)
            }
            Call::UpdateSignCount { credential, count } => match m.passkeys.get_mut(credential) {
                None => one(Answer::Bool(false), m),
                Some(p) => {
                    p.last_used_at = Some(now);
                    let moved = *count > p.sign_count;
                    if moved {
                        p.sign_count = *count;
                    }
                    one(Answer::Bool(moved), m)
                }
            },
            Call::RenamePasskey {
                user,
                passkey,
                name,
            } => {
                let mut done = false;
                for p in m.passkeys.values_mut() {
                    if p.id == *passkey && p.user == *user {
                        p.device_name = name.clone();
                        done = true;
                    }
                }
                one(Answer::Bool(done), m)
            }
            Call::DeletePasskey { user, passkey } => {
                let before = m.passkeys.len();
                m.passkeys
                    .retain(|_, p| !(p.id == *passkey && p.user == *user));
                let done = m.passkeys.len() != before;
                one(Answer::Bool(done), m)
            }
            Call::StoreMfa { user, secret } => {
                if !self.users.contains_key(user) {
                    return one(Answer::not_found("User"), m);
                }
                m.mfa.insert(
                    *user,
                    MMfa {
                        secret: secret.clone(),
                        confirmed_at: None,
                        counter: 0,
                        codes: Vec::new(),
                        created_at: now,
                    },
                );
                let a = Answer::Mfa(m.mfa_v(*user));
                one(a, m)
            }
            Call::GetMfa { user } => one(Answer::Mfa(self.mfa_v(*user)), m),
            Call::ConfirmMfa { user, codes } => match m.mfa.get_mut(user) {
                None => one(Answer::Bool(false), m),
                Some(f) => {
                    f.confirmed_at = Some(now);
                    f.codes = codes.clone();
                    one(Answer::Bool(true), m)
                }
            },
            Call::DeleteMfa { user } => {
                let existed = m.mfa.remove(user).is_some();
                one(Answer::Bool(existed), m)
            }
            Call::AdvanceMfaCounter { user, counter } => {
                let moved = match m.mfa.get_mut(user) {
                    Some(f) if *counter > f.counter => {
                        f.counter = *counter;
                        true
                    }
                    _ => false,
                };
                one(Answer::Bool(moved), m)
            }
            Call::ConsumeRecoveryCode { user, code } => {
                let used = match m.mfa.get_mut(user) {
                    Some(f) => match f.codes.iter().position(|c| c == code) {
                        Some(i) => {
                            f.codes.remove(i);
                            true
                        }
                        None => false,
                    },
                    None => false,
                };
                one(Answer::Bool(used), m)
            }
            Call::Blacklist { key, ttl } => {
                m.blacklist
                    .insert(key.clone(), now + Duration::from_secs(ttl_seconds(*ttl)));
                one(Answer::Unit, m)
            }
            Call::IsBlacklisted { key } => {
                let on = self.blacklist.get(key).is_some_and(|t| *t > now);
                one(Answer::Bool(on), m)
            }
            Call::AnyBlacklisted { keys } => {
                let on = keys
                    .iter()
                    .any(|k| self.blacklist.get(k).is_some_and(|t| *t > now));
                one(Answer::Bool(on), m)
            }
            Call::RecordFailure {
                key,
                max_attempts,
                duration,
            } => {
                let l = m.lockout.entry(key.clone()).or_default();
                if let Some(until) = l.locked_until {
                    if until > now {
                        return one(Answer::Lockout(LockV::AlreadyLocked(until)), m);
                    }
                    l.locked_until = None;
                }
                if let Some((t, d)) = l.last_failure
                    && t + d <= now
                {
                    l.count = 0;
                    l.last_failure = None;
                }
                l.count += 1;
                if l.count >= *max_attempts {
                    let until = now + *duration;
                    l.count = 0;
                    l.last_failure = None;
                    l.locked_until = Some(until);
                    one(Answer::Lockout(LockV::Locked(until)), m)
                } else {
                    l.last_failure = Some((now, *duration));
                    let n = l.count;
                    one(Answer::Lockout(LockV::Counted(n)), m)
                }
            }
            Call::IsLocked { key } => {
                let locked = self
                    .lockout
                    .get(key)
                    .and_then(|l| l.locked_until)
                    .is_some_and(|t| t > now);
                one(Answer::Bool(locked), m)
            }
            Call::ClearLockout { key } => {
                m.lockout.remove(key);
                one(Answer::Unit, m)
            }
            Call::Hit { key, limit, window } => {
                let (w, hits) = m
                    .rate
                    .entry(key.clone())
                    .or_insert_with(|| (*window, Vec::new()));
                *w = *window;
                hits.retain(|t| *t + *window > now);
                let n = hits.len() as u32;
                if n < *limit {
                    hits.push(now);
                    one(
                        Answer::Rate(RateV {
                            allowed: true,
                            remaining: limit - n - 1,
                            retry_after: Duration::ZERO,
                        }),
                        m,
                    )
                } else {
                    let oldest = hits.iter().min().copied().unwrap_or(now);
                    one(
                        Answer::Rate(RateV {
                            allowed: false,
                            remaining: 0,
                            retry_after: now.until(oldest + *window),
                        }),
                        m,
                    )
                }
            }
            Call::ResetRateLimit { key } => {
                m.rate.remove(key);
                one(Answer::Unit, m)
            }
            Call::PutChallenge { key, value, ttl } => {
                if ttl.is_zero() {
                    m.challenges.remove(key);
                } else {
                    m.challenges
                        .insert(key.clone(), (value.clone(), now + *ttl));
                }
                one(Answer::Unit, m)
            }
            Call::TakeChallenge { key } => {
                let got = m
                    .challenges
                    .remove(key)
                    .filter(|(_, exp)| *exp > now)
                    .map(|(v, _)| v);
                one(Answer::Challenge(got), m)
            }
            Call::AdvanceClock { .. } => one(Answer::Unit, m),
        }
    }
}

/// The order of `list_oauth_accounts`: oldest first, ties by provider (ties
/// within a provider, possible only for links made at one instant, by
/// provider user id so that model and store agree).
pub fn sort_oauth(list: &mut [OAuthV]) {
    list.sort_by(|a, b| {
        (a.created_at, &a.provider, &a.subject).cmp(&(b.created_at, &b.provider, &b.subject))
    });
}

/// The order of `list_passkeys`: oldest first (ties, possible only for
/// passkeys stored at one instant, by credential id: generated ids cannot be
/// predicted).
pub fn sort_passkeys(list: &mut [PasskeyV]) {
    list.sort_by(|a, b| (a.created_at, &a.credential).cmp(&(b.created_at, &b.credential)));
}
