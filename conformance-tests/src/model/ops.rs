//! The operations a generated sequence is made of, over a small symbolic
//! value space, and the proptest strategies that generate them.

use std::time::Duration;

use proptest::prelude::*;
use proptest::strategy::{BoxedStrategy, Union};

use fullauth_api::{Feature, Features};

/// How many user slots the operations name. A slot is the n-th user a
/// sequence created, or, while fewer users exist, an id no store has ever
/// seen (a "ghost": the unknown-user paths).
pub const USER_SLOTS: u8 = 4;
/// How many distinct emails the operations use (so creations collide).
pub const EMAILS: u8 = 3;
/// How many refresh-token digests the operations use.
pub const DIGESTS: u8 = 6;
/// How many families each user has.
pub const FAMILIES: u8 = 3;
/// The role names (before the run's tag): two differ only in case.
pub const ROLE_NAMES: [&str; 3] = ["Admin", "admin", "editor"];
/// The permission names (before the run's tag).
pub const PERMISSION_NAMES: [&str; 3] = ["posts:edit", "posts:read", "users:ban"];
/// The OAuth providers.
pub const PROVIDERS: [&str; 2] = ["github", "google"];
/// How many provider user ids each provider has.
pub const PROVIDER_USERS: u8 = 2;
/// How many passkey credential ids the operations use.
pub const CREDENTIALS: u8 = 3;
/// How many passkey slots rename and delete name (bound like user slots).
pub const PASSKEY_SLOTS: u8 = 3;
/// How many recovery codes the operations use.
pub const RECOVERY_CODES: u8 = 3;
/// How many keys each short-lived feature uses.
pub const STATE_KEYS: u8 = 3;
/// The lockout policy of each lockout key: (max_attempts, duration).
pub const LOCKOUT_POLICIES: [(u32, Duration); 3] = [
    (1, Duration::from_secs(30)),
    (2, Duration::from_secs(120)),
    (3, Duration::from_secs(45)),
];
/// The rate-limit window of each rate-limit key (the limit varies per call).
pub const RATE_WINDOWS: [Duration; 3] = [
    Duration::from_secs(30),
    Duration::from_secs(120),
    Duration::from_millis(45_500),
];
/// Token lifetimes relative to the operation's time, in seconds (negative:
/// already expired).
pub const TOKEN_LIFETIMES: [i64; 3] = [-60, 40, 3600];
/// The TTLs of blacklist entries and challenges on any clock.
pub const LONG_TTLS: [Duration; 3] = [
    Duration::from_secs(30),
    Duration::from_secs(120),
    Duration::from_millis(50_500),
];
/// TTLs used only on a manual clock: zero (a blacklist entry's floor of one
/// second; a challenge that is not stored) and 1.5 s (rounded up to 2 s for
/// the blacklist).
pub const SHORT_TTLS: [Duration; 2] = [Duration::ZERO, Duration::from_millis(1500)];
/// The steps [`Op::AdvanceClock`] chooses from (manual clock only).
pub const CLOCK_STEPS: [Duration; 6] = [
    Duration::from_secs(1),
    Duration::from_secs(20),
    Duration::from_secs(50),
    Duration::from_secs(100),
    Duration::from_secs(700),
    Duration::from_secs(7200),
];
/// The counters sign-count and MFA-counter updates use.
pub const COUNTERS: [u32; 5] = [0, 3, 5, 9, 20];

/// One operation of a generated sequence. Fields are indices into the
/// symbolic value space of this module (`user` is a user slot, `email` an
/// index into the run's emails, ...); the runner resolves them into the
/// run's actual values, the same for the store and the model.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Op {
    // ---- Core: users -------------------------------------------------------
    /// `create_user`, optionally with the id of a user slot (a ghost's id
    /// creates that ghost; a live user's id conflicts) and a password.
    CreateUser {
        /// The email.
        email: u8,
        /// Reuse the id of this user slot.
        id_of: Option<u8>,
        /// Give a password hash.
        password: bool,
    },
    /// `get_user`.
    GetUser {
        /// The user slot.
        user: u8,
    },
    /// `get_user_by_email`.
    GetUserByEmail {
        /// The email.
        email: u8,
    },
    /// `update_user` with any of email, is_active, is_superuser (all `None`:
    /// the empty patch).
    UpdateUser {
        /// The user slot.
        user: u8,
        /// New email.
        email: Option<u8>,
        /// New is_active.
        is_active: Option<bool>,
        /// New is_superuser.
        is_superuser: Option<bool>,
    },
    /// `delete_user` (cascades).
    DeleteUser {
        /// The user slot.
        user: u8,
    },
    /// `set_password_hash` (`None` removes the password).
    SetPassword {
        /// The user slot.
        user: u8,
        /// Which hash.
        hash: Option<u8>,
    },
    /// `get_password_hash`.
    GetPassword {
        /// The user slot.
        user: u8,
    },
    /// `mark_verified`.
    MarkVerified {
        /// The user slot.
        user: u8,
    },
    /// `get_principal` by id.
    GetPrincipal {
        /// The user slot.
        user: u8,
    },
    // ---- Core: refresh tokens and sessions -----------------------------------
    /// `store_refresh_token`.
    StoreToken {
        /// The digest.
        digest: u8,
        /// The owner slot.
        user: u8,
        /// The owner's family.
        family: u8,
        /// Index into [`TOKEN_LIFETIMES`].
        lifetime: u8,
        /// Client info variant (0: none).
        client: u8,
    },
    /// `get_refresh_token`.
    GetToken {
        /// The digest.
        digest: u8,
    },
    /// `revoke_refresh_token`.
    RevokeToken {
        /// The digest.
        digest: u8,
    },
    /// `rotate_refresh_token`.
    RotateToken {
        /// The old digest.
        old: u8,
        /// The new digest.
        next: u8,
        /// Index into [`TOKEN_LIFETIMES`].
        lifetime: u8,
        /// Client info variant.
        client: u8,
    },
    /// `revoke_family` of a user's family.
    RevokeFamily {
        /// The family's owner slot.
        owner: u8,
        /// The family.
        family: u8,
    },
    /// `revoke_all_for_user`.
    RevokeAllForUser {
        /// The user slot.
        user: u8,
    },
    /// `list_sessions`.
    ListSessions {
        /// The user slot.
        user: u8,
    },
    /// `revoke_session` of a (possibly someone else's) family.
    RevokeSession {
        /// The caller's slot.
        user: u8,
        /// The family's owner slot.
        owner: u8,
        /// The family.
        family: u8,
    },
    /// `revoke_other_sessions`.
    RevokeOtherSessions {
        /// The user slot.
        user: u8,
        /// The kept family (of this user).
        keep: u8,
    },
    /// `prune_expired_refresh_tokens(now)`.
    PruneTokens,
    // ---- Roles and permissions -------------------------------------------------
    /// `create_role`.
    CreateRole {
        /// The role.
        role: u8,
    },
    /// `assign_role`.
    AssignRole {
        /// The user slot.
        user: u8,
        /// The role.
        role: u8,
    },
    /// `remove_role`.
    RemoveRole {
        /// The user slot.
        user: u8,
        /// The role.
        role: u8,
    },
    /// `get_user_roles`.
    GetUserRoles {
        /// The user slot.
        user: u8,
    },
    /// `list_roles` (only this run's names are compared).
    ListRoles,
    /// `delete_role`.
    DeleteRole {
        /// The role.
        role: u8,
    },
    /// `assign_permission`.
    AssignPermission {
        /// The role.
        role: u8,
        /// The permission.
        permission: u8,
    },
    /// `remove_permission`.
    RemovePermission {
        /// The role.
        role: u8,
        /// The permission.
        permission: u8,
    },
    /// `get_role_permissions`.
    GetRolePermissions {
        /// The role.
        role: u8,
    },
    /// `get_permissions_for_roles`.
    GetPermissionsForRoles {
        /// The roles (duplicates allowed).
        roles: Vec<u8>,
    },
    /// `get_user_permissions`.
    GetUserPermissions {
        /// The user slot.
        user: u8,
    },
    /// The permission check: does `get_user_permissions` contain it?
    HasPermission {
        /// The user slot.
        user: u8,
        /// The permission.
        permission: u8,
    },
    /// `list_permissions` (only this run's names are compared).
    ListPermissions,
    // ---- OAuth -------------------------------------------------------------------
    /// `link_oauth_account`.
    LinkOAuth {
        /// The provider.
        provider: u8,
        /// The provider user id.
        subject: u8,
        /// The user slot.
        user: u8,
        /// Give a provider email.
        with_email: bool,
        /// Access token variant (None: no token).
        access: Option<u8>,
    },
    /// `get_oauth_account`.
    GetOAuth {
        /// The provider.
        provider: u8,
        /// The provider user id.
        subject: u8,
    },
    /// `list_oauth_accounts`.
    ListOAuth {
        /// The user slot.
        user: u8,
    },
    /// `update_oauth_account` of the access token (`None`: empty patch;
    /// `Some(None)`: set NULL).
    UpdateOAuth {
        /// The provider.
        provider: u8,
        /// The provider user id.
        subject: u8,
        /// The patch of the access token.
        access: Option<Option<u8>>,
    },
    /// `delete_oauth_account`.
    DeleteOAuth {
        /// The provider.
        provider: u8,
        /// The provider user id.
        subject: u8,
    },
    // ---- Passkeys ----------------------------------------------------------------
    /// `store_passkey`.
    StorePasskey {
        /// The owner slot.
        user: u8,
        /// The credential.
        credential: u8,
        /// Index into [`COUNTERS`].
        sign_count: u8,
    },
    /// `get_passkey`.
    GetPasskey {
        /// The credential.
        credential: u8,
    },
    /// `list_passkeys`.
    ListPasskeys {
        /// The user slot.
        user: u8,
    },
    /// `update_sign_count`.
    UpdateSignCount {
        /// The credential.
        credential: u8,
        /// Index into [`COUNTERS`].
        count: u8,
    },
    /// `rename_passkey`.
    RenamePasskey {
        /// The caller's slot.
        user: u8,
        /// The passkey slot (the n-th passkey stored).
        passkey: u8,
        /// Name variant.
        name: u8,
    },
    /// `delete_passkey`.
    DeletePasskey {
        /// The caller's slot.
        user: u8,
        /// The passkey slot.
        passkey: u8,
    },
    // ---- MFA ---------------------------------------------------------------------
    /// `store_mfa`.
    StoreMfa {
        /// The user slot.
        user: u8,
        /// Secret variant.
        secret: u8,
    },
    /// `get_mfa`.
    GetMfa {
        /// The user slot.
        user: u8,
    },
    /// `confirm_mfa` with these recovery codes (duplicates allowed).
    ConfirmMfa {
        /// The user slot.
        user: u8,
        /// The codes.
        codes: Vec<u8>,
    },
    /// `delete_mfa`.
    DeleteMfa {
        /// The user slot.
        user: u8,
    },
    /// `advance_mfa_counter`.
    AdvanceMfaCounter {
        /// The user slot.
        user: u8,
        /// Index into [`COUNTERS`].
        counter: u8,
    },
    /// `consume_recovery_code`.
    ConsumeRecoveryCode {
        /// The user slot.
        user: u8,
        /// The code.
        code: u8,
    },
    // ---- Short-lived -------------------------------------------------------------
    /// `blacklist`.
    Blacklist {
        /// The key.
        key: u8,
        /// Index into [`LONG_TTLS`] then [`SHORT_TTLS`].
        ttl: u8,
    },
    /// `is_blacklisted`.
    IsBlacklisted {
        /// The key.
        key: u8,
    },
    /// `any_blacklisted`.
    AnyBlacklisted {
        /// The keys (may be empty).
        keys: Vec<u8>,
    },
    /// `record_failure` with the key's policy ([`LOCKOUT_POLICIES`]).
    RecordFailure {
        /// The key.
        key: u8,
    },
    /// `is_locked`.
    IsLocked {
        /// The key.
        key: u8,
    },
    /// `clear_lockout`.
    ClearLockout {
        /// The key.
        key: u8,
    },
    /// `hit` with the key's window ([`RATE_WINDOWS`]) and this limit.
    Hit {
        /// The key.
        key: u8,
        /// The limit (1..=3).
        limit: u32,
    },
    /// `reset_rate_limit`.
    ResetRateLimit {
        /// The key.
        key: u8,
    },
    /// `put_challenge`.
    PutChallenge {
        /// The key.
        key: u8,
        /// Value variant.
        value: u8,
        /// Index into [`LONG_TTLS`] then [`SHORT_TTLS`].
        ttl: u8,
    },
    /// `take_challenge`.
    TakeChallenge {
        /// The key.
        key: u8,
    },
    // ---- Time and concurrency ------------------------------------------------------
    /// Moves the manual clock by about [`CLOCK_STEPS`]`[step]` (the runner
    /// nudges it so that it never stops within 1.5 s of a deadline the model
    /// tracks: answers at an exact deadline are not part of the contract).
    AdvanceClock {
        /// Index into [`CLOCK_STEPS`].
        step: u8,
    },
    /// Operations started together; their answers must be those of some
    /// serial order of them (the model tries every order).
    Concurrent(Vec<Op>),
}

/// What the generator produces and for which store.
#[derive(Clone, Copy, Debug)]
pub struct GenConfig {
    /// The features under test.
    pub features: Features,
    /// True on a manual clock: clock steps and short TTLs are generated.
    pub manual_clock: bool,
    /// True when Core is under test (the model makes its users with
    /// `create_user`, so the other durable features need it).
    pub core_available: bool,
    /// The longest sequence.
    pub max_len: usize,
}

impl GenConfig {
    /// The same configuration with only `focus` generated (users are still
    /// created when a durable feature is in focus).
    fn focused(self, focus: Features) -> Self {
        GenConfig {
            features: focus,
            ..self
        }
    }
}

/// A user slot, biased to the first ones (bound first) so that most
/// operations name a user that exists, and some a ghost.
fn slot() -> impl Strategy<Value = u8> + Clone {
    prop_oneof![5 => Just(0u8), 3 => Just(1u8), 1 => 2..USER_SLOTS]
}

fn ttl_index(manual: bool) -> BoxedStrategy<u8> {
    let n = LONG_TTLS.len() + if manual { SHORT_TTLS.len() } else { 0 };
    (0..n as u8).boxed()
}

/// The strategy of one simple (non-concurrent) operation of the features
/// under test, with weights.
pub fn simple_op(cfg: GenConfig) -> BoxedStrategy<Op> {
    let f = cfg.features;
    let manual = cfg.manual_clock;
    let mut arms: Vec<(u32, BoxedStrategy<Op>)> = Vec::new();
    // Durable features are generated only with Core (the model makes its
    // users with create_user) and on a manual clock (timestamps are compared
    // exactly).
    let durable = f.contains(Feature::Core) && manual;
    let users = manual
        && Features::durable()
            .iter()
            .any(|d| f.contains(d) && cfg.core_available);
    if users {
        arms.push((
            6,
            (
                0..EMAILS,
                proptest::option::weighted(0.2, slot()),
                any::<bool>(),
            )
                .prop_map(|(email, id_of, password)| Op::CreateUser {
                    email,
                    id_of,
                    password,
                })
                .boxed(),
        ));
        arms.push((2, slot().prop_map(|user| Op::GetUser { user }).boxed()));
        arms.push((
            1,
            (0..EMAILS)
                .prop_map(|email| Op::GetUserByEmail { email })
                .boxed(),
        ));
        arms.push((
            2,
            (
                slot(),
                proptest::option::of(0..EMAILS),
                proptest::option::of(any::<bool>()),
                proptest::option::of(any::<bool>()),
            )
                .prop_map(|(user, email, is_active, is_superuser)| Op::UpdateUser {
                    user,
                    email,
                    is_active,
                    is_superuser,
                })
                .boxed(),
        ));
        arms.push((1, slot().prop_map(|user| Op::DeleteUser { user }).boxed()));
        arms.push((
            1,
            (slot(), proptest::option::of(0..2u8))
                .prop_map(|(user, hash)| Op::SetPassword { user, hash })
                .boxed(),
        ));
        arms.push((1, slot().prop_map(|user| Op::GetPassword { user }).boxed()));
        arms.push((1, slot().prop_map(|user| Op::MarkVerified { user }).boxed()));
        arms.push((1, slot().prop_map(|user| Op::GetPrincipal { user }).boxed()));
    }
    if durable {
        arms.push((
            5,
            (0..DIGESTS, slot(), 0..FAMILIES, 0..3u8, 0..3u8)
                .prop_map(|(digest, user, family, lifetime, client)| Op::StoreToken {
                    digest,
                    user,
                    family,
                    lifetime,
                    client,
                })
                .boxed(),
        ));
        arms.push((
            2,
            (0..DIGESTS)
                .prop_map(|digest| Op::GetToken { digest })
                .boxed(),
        ));
        arms.push((
            1,
            (0..DIGESTS)
                .prop_map(|digest| Op::RevokeToken { digest })
                .boxed(),
        ));
        arms.push((
            4,
            (0..DIGESTS, 0..DIGESTS, 0..3u8, 0..3u8)
                .prop_map(|(old, next, lifetime, client)| Op::RotateToken {
                    old,
                    next,
                    lifetime,
                    client,
                })
                .boxed(),
        ));
        arms.push((
            1,
            (slot(), 0..FAMILIES)
                .prop_map(|(owner, family)| Op::RevokeFamily { owner, family })
                .boxed(),
        ));
        arms.push((
            1,
            slot()
                .prop_map(|user| Op::RevokeAllForUser { user })
                .boxed(),
        ));
        arms.push((2, slot().prop_map(|user| Op::ListSessions { user }).boxed()));
        arms.push((
            1,
            (slot(), slot(), 0..FAMILIES)
                .prop_map(|(user, owner, family)| Op::RevokeSession {
                    user,
                    owner,
                    family,
                })
                .boxed(),
        ));
        arms.push((
            1,
            (slot(), 0..FAMILIES)
                .prop_map(|(user, keep)| Op::RevokeOtherSessions { user, keep })
                .boxed(),
        ));
        arms.push((1, Just(Op::PruneTokens).boxed()));
    }
    let roles = 0..ROLE_NAMES.len() as u8;
    let perms = 0..PERMISSION_NAMES.len() as u8;
    if users && f.contains(Feature::Roles) {
        arms.push((
            1,
            roles
                .clone()
                .prop_map(|role| Op::CreateRole { role })
                .boxed(),
        ));
        arms.push((
            3,
            (slot(), roles.clone())
                .prop_map(|(user, role)| Op::AssignRole { user, role })
                .boxed(),
        ));
        arms.push((
            1,
            (slot(), roles.clone())
                .prop_map(|(user, role)| Op::RemoveRole { user, role })
                .boxed(),
        ));
        arms.push((1, slot().prop_map(|user| Op::GetUserRoles { user }).boxed()));
        arms.push((1, Just(Op::ListRoles).boxed()));
        arms.push((
            1,
            roles
                .clone()
                .prop_map(|role| Op::DeleteRole { role })
                .boxed(),
        ));
    }
    if users && f.contains(Feature::Roles) && f.contains(Feature::Permissions) {
        arms.push((
            3,
            (roles.clone(), perms.clone())
                .prop_map(|(role, permission)| Op::AssignPermission { role, permission })
                .boxed(),
        ));
        arms.push((
            1,
            (roles.clone(), perms.clone())
                .prop_map(|(role, permission)| Op::RemovePermission { role, permission })
                .boxed(),
        ));
        arms.push((
            1,
            roles
                .clone()
                .prop_map(|role| Op::GetRolePermissions { role })
                .boxed(),
        ));
        arms.push((
            1,
            proptest::collection::vec(roles.clone(), 0..4)
                .prop_map(|roles| Op::GetPermissionsForRoles { roles })
                .boxed(),
        ));
        arms.push((
            1,
            slot()
                .prop_map(|user| Op::GetUserPermissions { user })
                .boxed(),
        ));
        arms.push((
            1,
            (slot(), perms.clone())
                .prop_map(|(user, permission)| Op::HasPermission { user, permission })
                .boxed(),
        ));
        arms.push((1, Just(Op::ListPermissions).boxed()));
    }
    let providers = 0..PROVIDERS.len() as u8;
    if users && f.contains(Feature::OAuth) {
        arms.push((
            3,
            (
                providers.clone(),
                0..PROVIDER_USERS,
                slot(),
                any::<bool>(),
                proptest::option::of(0..2u8),
            )
                .prop_map(
                    |(provider, subject, user, with_email, access)| Op::LinkOAuth {
                        provider,
                        subject,
                        user,
                        with_email,
                        access,
                    },
                )
                .boxed(),
        ));
        arms.push((
            1,
            (providers.clone(), 0..PROVIDER_USERS)
                .prop_map(|(provider, subject)| Op::GetOAuth { provider, subject })
                .boxed(),
        ));
        arms.push((1, slot().prop_map(|user| Op::ListOAuth { user }).boxed()));
        arms.push((
            1,
            (
                providers.clone(),
                0..PROVIDER_USERS,
                proptest::option::of(proptest::option::of(0..2u8)),
            )
                .prop_map(|(provider, subject, access)| Op::UpdateOAuth {
                    provider,
                    subject,
                    access,
                })
                .boxed(),
        ));
        arms.push((
            1,
            (providers, 0..PROVIDER_USERS)
                .prop_map(|(provider, subject)| Op::DeleteOAuth { provider, subject })
                .boxed(),
        ));
    }
    let counters = 0..COUNTERS.len() as u8;
    if users && f.contains(Feature::Passkeys) {
        arms.push((
            3,
            (slot(), 0..CREDENTIALS, counters.clone())
                .prop_map(|(user, credential, sign_count)| Op::StorePasskey {
                    user,
                    credential,
                    sign_count,
                })
                .boxed(),
        ));
        arms.push((
            1,
            (0..CREDENTIALS)
                .prop_map(|credential| Op::GetPasskey { credential })
                .boxed(),
        ));
        arms.push((1, slot().prop_map(|user| Op::ListPasskeys { user }).boxed()));
        arms.push((
            2,
            (0..CREDENTIALS, counters.clone())
                .prop_map(|(credential, count)| Op::UpdateSignCount { credential, count })
                .boxed(),
        ));
        arms.push((
            1,
            (slot(), 0..PASSKEY_SLOTS, 0..2u8)
                .prop_map(|(user, passkey, name)| Op::RenamePasskey {
                    user,
                    passkey,
                    name,
                })
                .boxed(),
        ));
        arms.push((
            1,
            (slot(), 0..PASSKEY_SLOTS)
                .prop_map(|(user, passkey)| Op::DeletePasskey { user, passkey })
                .boxed(),
        ));
    }
    if users && f.contains(Feature::Mfa) {
        arms.push((
            2,
            (slot(), 0..2u8)
                .prop_map(|(user, secret)| Op::StoreMfa { user, secret })
                .boxed(),
        ));
        arms.push((1, slot().prop_map(|user| Op::GetMfa { user }).boxed()));
        arms.push((
            2,
            (slot(), proptest::collection::vec(0..RECOVERY_CODES, 0..4))
                .prop_map(|(user, codes)| Op::ConfirmMfa { user, codes })
                .boxed(),
        ));
        arms.push((1, slot().prop_map(|user| Op::DeleteMfa { user }).boxed()));
        arms.push((
            2,
            (slot(), counters.clone())
                .prop_map(|(user, counter)| Op::AdvanceMfaCounter { user, counter })
                .boxed(),
        ));
        arms.push((
            2,
            (slot(), 0..RECOVERY_CODES)
                .prop_map(|(user, code)| Op::ConsumeRecoveryCode { user, code })
                .boxed(),
        ));
    }
    let keys = 0..STATE_KEYS;
    if f.contains(Feature::Blacklist) {
        arms.push((
            2,
            (keys.clone(), ttl_index(manual))
                .prop_map(|(key, ttl)| Op::Blacklist { key, ttl })
                .boxed(),
        ));
        arms.push((
            2,
            keys.clone()
                .prop_map(|key| Op::IsBlacklisted { key })
                .boxed(),
        ));
        arms.push((
            1,
            proptest::collection::vec(keys.clone(), 0..3)
                .prop_map(|keys| Op::AnyBlacklisted { keys })
                .boxed(),
        ));
    }
    if f.contains(Feature::Lockout) {
        arms.push((
            4,
            keys.clone()
                .prop_map(|key| Op::RecordFailure { key })
                .boxed(),
        ));
        arms.push((2, keys.clone().prop_map(|key| Op::IsLocked { key }).boxed()));
        arms.push((
            1,
            keys.clone()
                .prop_map(|key| Op::ClearLockout { key })
                .boxed(),
        ));
    }
    if f.contains(Feature::RateLimit) {
        arms.push((
            4,
            (keys.clone(), 1..=3u32)
                .prop_map(|(key, limit)| Op::Hit { key, limit })
                .boxed(),
        ));
        arms.push((
            1,
            keys.clone()
                .prop_map(|key| Op::ResetRateLimit { key })
                .boxed(),
        ));
    }
    if f.contains(Feature::Challenges) {
        arms.push((
            2,
            (keys.clone(), 0..2u8, ttl_index(manual))
                .prop_map(|(key, value, ttl)| Op::PutChallenge { key, value, ttl })
                .boxed(),
        ));
        arms.push((
            2,
            keys.clone()
                .prop_map(|key| Op::TakeChallenge { key })
                .boxed(),
        ));
    }
    if manual && !arms.is_empty() {
        arms.push((
            4,
            (0..CLOCK_STEPS.len() as u8)
                .prop_map(|step| Op::AdvanceClock { step })
                .boxed(),
        ));
    }
    if arms.is_empty() {
        // Nothing under test that the model covers: an empty sequence.
        return Just(Op::Concurrent(Vec::new())).boxed();
    }
    Union::new_weighted(arms).boxed()
}

/// True for the operations a concurrent group may contain (everything but
/// clock steps and nested groups).
fn groupable(op: &Op) -> bool {
    !matches!(op, Op::AdvanceClock { .. } | Op::Concurrent(_))
}

/// The strategy of one step: mostly a simple operation, sometimes a group of
/// 2–4 operations started together — either random ones (mostly on
/// different keys) or copies of one operation (the same key contended), or
/// several rotations of one token.
pub fn step(cfg: GenConfig) -> BoxedStrategy<Op> {
    let simple = simple_op(cfg);
    let random_group = proptest::collection::vec(simple.clone(), 2..=4)
        .prop_map(|ops| Op::Concurrent(ops.into_iter().filter(groupable).collect()));
    let same_key = (simple.clone(), 2..=4usize).prop_map(|(op, n)| {
        if groupable(&op) {
            Op::Concurrent(vec![op; n])
        } else {
            op
        }
    });
    let mut arms: Vec<(u32, BoxedStrategy<Op>)> = vec![
        (14, simple),
        (1, random_group.boxed()),
        (1, same_key.boxed()),
    ];
    if cfg.features.contains(Feature::Core) && cfg.manual_clock {
        let rotations = (0..DIGESTS, 2..=4u8, 0..3u8).prop_map(|(old, n, lifetime)| {
            Op::Concurrent(
                (0..n)
                    .map(|i| Op::RotateToken {
                        old,
                        next: (old + 1 + i) % DIGESTS,
                        lifetime,
                        client: i % 3,
                    })
                    .collect(),
            )
        });
        arms.push((1, rotations.boxed()));
    }
    Union::new_weighted(arms).boxed()
}

/// The strategy of a whole sequence: 1 to `cfg.max_len` steps. Half of the
/// sequences use every feature under test; the others focus on one to three
/// of them, so that their operations meet often enough to interact.
pub fn sequence(cfg: GenConfig) -> BoxedStrategy<Vec<Op>> {
    let len = 1..=cfg.max_len.max(1);
    let all = proptest::collection::vec(step(cfg), len.clone());
    let features: Vec<Feature> = cfg.features.iter().collect();
    if features.len() <= 1 {
        return all.boxed();
    }
    let most = features.len().min(3);
    let focused = proptest::sample::subsequence(features, 1..=most).prop_flat_map(move |focus| {
        let mut chosen: Features = focus.into_iter().collect();
        if chosen.contains(Feature::Permissions) {
            chosen = chosen.with(Feature::Roles);
        }
        proptest::collection::vec(step(cfg.focused(chosen)), len.clone())
    });
    prop_oneof![all, focused].boxed()
}
