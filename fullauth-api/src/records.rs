//! Records of the durable tables and the answers of the short-lived stores.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::digest::TokenDigest;
use crate::error::StoreError;
use crate::ids::UserId;
use crate::timestamp::Timestamp;
use crate::user::User;
use crate::validate::{
    CredentialId, DeviceName, Email, FamilyId, MAX_IP_ADDRESS_CHARS, MAX_USER_AGENT_CHARS,
    MfaSecret, PermissionName, ProviderName, ProviderUserId, RoleName, Text, Transports, clamp,
};

/// A user with its roles and permissions: the answer of
/// [`crate::UserStore::get_principal`], read in one round trip — what every
/// login, token refresh and request guard needs.
///
/// `roles` are what [`crate::RoleStore::get_user_roles`] answers and
/// `permissions` what [`crate::PermissionStore::get_user_permissions`]
/// answers, at the same instant: both sorted and free of duplicates. Each is
/// empty when the store does not serve its feature ([`crate::Feature::Roles`],
/// [`crate::Feature::Permissions`]); a principal is never refused for that.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Principal {
    /// The user.
    pub user: User,
    /// The user's role names, sorted, no duplicates.
    pub roles: Vec<RoleName>,
    /// The union of the permissions of the user's roles, sorted, no
    /// duplicates.
    pub permissions: Vec<PermissionName>,
}

/// A row of `fullauth_refresh_tokens`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefreshToken {
    /// The row's primary key (UUIDv7).
    pub id: Uuid,
    /// The SHA-256 digest of the refresh token (column `token`).
    pub digest: TokenDigest,
    /// The owner.
    pub user_id: UserId,
    /// The session this token belongs to.
    pub family_id: FamilyId,
    /// When the token stops being valid.
    pub expires_at: Timestamp,
    /// True once revoked (by rotation, logout or reuse detection).
    pub revoked: bool,
    /// The client's user agent, clamped to 512 characters.
    pub user_agent: Option<String>,
    /// The client's IP address, clamped to 45 characters.
    pub ip_address: Option<String>,
    /// When the row was written.
    pub created_at: Timestamp,
}

impl RefreshToken {
    /// True when not revoked and `expires_at > now`.
    pub fn is_live(&self, now: Timestamp) -> bool {
        !self.revoked && self.expires_at > now
    }
}

/// Client metadata kept with a refresh token. Both values come from untrusted
/// headers, so they are sanitised rather than refused: control characters are
/// dropped and the result is clamped to the column length (512 / 45).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ClientInfo {
    /// The user agent, at most 512 characters.
    pub user_agent: Option<String>,
    /// The IP address, at most 45 characters.
    pub ip_address: Option<String>,
}

impl ClientInfo {
    /// Sanitises and clamps both values.
    pub fn new(user_agent: Option<&str>, ip_address: Option<&str>) -> Self {
        ClientInfo {
            user_agent: user_agent.map(|v| clamp(v, MAX_USER_AGENT_CHARS)),
            ip_address: ip_address.map(|v| clamp(v, MAX_IP_ADDRESS_CHARS)),
        }
    }
}

/// A refresh token to store (the first of a new session, or any token the app
/// issues outside rotation).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewRefreshToken {
    /// Digest of the token.
    pub digest: TokenDigest,
    /// The owner (must exist).
    pub user_id: UserId,
    /// The session; [`FamilyId::generate`] for a new one.
    pub family_id: FamilyId,
    /// Expiry (the JWT's `exp`).
    pub expires_at: Timestamp,
    /// Client metadata.
    pub client: ClientInfo,
}

/// The token that replaces a rotated one: it inherits the user and family.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NextRefreshToken {
    /// Digest of the new token.
    pub digest: TokenDigest,
    /// Expiry of the new token.
    pub expires_at: Timestamp,
    /// Client metadata of the request that rotated.
    pub client: ClientInfo,
}

/// The answer of [`crate::RefreshTokenStore::rotate_refresh_token`].
///
/// Exhaustive on purpose: a security decision must be matched fully.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Rotation {
    /// The old token was live and is now revoked; the new one is stored in the
    /// same family.
    Rotated(RefreshToken),
    /// The old token was already revoked: a replay. The whole family is now
    /// revoked and nothing was inserted. The caller should also blacklist the
    /// family's access tokens.
    Reused {
        /// The family that was revoked.
        family_id: FamilyId,
        /// Its owner.
        user_id: UserId,
    },
    /// The old token is not revoked but expired: nothing changed.
    Expired,
    /// No token has this digest: nothing changed.
    NotFound,
}

/// One session: a refresh-token family with at least one live token.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Session {
    /// The family.
    pub family_id: FamilyId,
    /// The oldest `created_at` of the family (sign-in time).
    pub created_at: Timestamp,
    /// The newest `created_at` of the family (last rotation).
    pub last_used_at: Timestamp,
    /// Expiry of the newest live token.
    pub expires_at: Timestamp,
    /// User agent of the newest live token.
    pub user_agent: Option<String>,
    /// IP address of the newest live token.
    pub ip_address: Option<String>,
}

/// A row of `fullauth_oauth_accounts`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OAuthAccount {
    /// Primary key.
    pub id: Uuid,
    /// Provider name.
    pub provider: ProviderName,
    /// The user's id at the provider.
    pub provider_user_id: ProviderUserId,
    /// The linked user.
    pub user_id: UserId,
    /// Email reported by the provider (display only).
    pub provider_email: Option<Email>,
    /// Provider access token (stored as given).
    pub access_token: Option<Text>,
    /// Provider refresh token (stored as given).
    pub refresh_token: Option<Text>,
    /// Expiry of the provider access token.
    pub expires_at: Option<Timestamp>,
    /// When the link was made.
    pub created_at: Timestamp,
}

/// An OAuth identity to link.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewOAuthAccount {
    /// Provider name.
    pub provider: ProviderName,
    /// The user's id at the provider.
    pub provider_user_id: ProviderUserId,
    /// The user to link (must exist).
    pub user_id: UserId,
    /// Email reported by the provider.
    pub provider_email: Option<Email>,
    /// Provider access token.
    pub access_token: Option<Text>,
    /// Provider refresh token.
    pub refresh_token: Option<Text>,
    /// Expiry of the provider access token.
    pub expires_at: Option<Timestamp>,
}

/// Changes to an OAuth link; `None` leaves a column as it is, `Some(None)`
/// sets it to NULL.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct OAuthAccountPatch {
    /// New provider email.
    pub provider_email: Option<Option<Email>>,
    /// New access token.
    pub access_token: Option<Option<Text>>,
    /// New refresh token.
    pub refresh_token: Option<Option<Text>>,
    /// New expiry.
    pub expires_at: Option<Option<Timestamp>>,
}

impl OAuthAccountPatch {
    /// True when the patch changes nothing.
    pub fn is_empty(&self) -> bool {
        self.provider_email.is_none()
            && self.access_token.is_none()
            && self.refresh_token.is_none()
            && self.expires_at.is_none()
    }
}

/// The answer of [`crate::OAuthStore::link_oauth_account`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum OAuthLink {
    /// The identity was not linked; this row was just created.
    Created(OAuthAccount),
    /// The identity was already linked (possibly to another user); this is the
    /// existing row, unchanged.
    Existing(OAuthAccount),
}

impl OAuthLink {
    /// The account, whichever way it came.
    pub fn account(&self) -> &OAuthAccount {
        match self {
            OAuthLink::Created(a) | OAuthLink::Existing(a) => a,
        }
    }

    /// The account, by move.
    pub fn into_account(self) -> OAuthAccount {
        match self {
            OAuthLink::Created(a) | OAuthLink::Existing(a) => a,
        }
    }

    /// True for [`OAuthLink::Created`].
    pub fn is_created(&self) -> bool {
        matches!(self, OAuthLink::Created(_))
    }
}

/// The largest sign count or MFA counter a store accepts (the columns are
/// 32-bit signed INTEGER).
pub const MAX_COUNTER: u32 = i32::MAX as u32;

/// A row of `fullauth_passkeys`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Passkey {
    /// Primary key (UUIDv7).
    pub id: Uuid,
    /// The owner.
    pub user_id: UserId,
    /// The credential id (base64url without padding; unique).
    pub credential_id: CredentialId,
    /// The COSE public key (base64url without padding).
    pub public_key: Text,
    /// The last accepted signature counter.
    pub sign_count: u32,
    /// Display name.
    pub device_name: DeviceName,
    /// Transports.
    pub transports: Transports,
    /// Backup-eligible/backed-up flag from registration.
    pub backed_up: bool,
    /// When it was registered.
    pub created_at: Timestamp,
    /// When a sign-count update was last attempted.
    pub last_used_at: Option<Timestamp>,
}

/// A passkey to store.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewPasskey {
    /// The owner (must exist).
    pub user_id: UserId,
    /// The credential id.
    pub credential_id: CredentialId,
    /// The COSE public key.
    pub public_key: Text,
    /// The initial signature counter (at most [`MAX_COUNTER`]).
    pub sign_count: u32,
    /// Display name.
    pub device_name: DeviceName,
    /// Transports.
    pub transports: Transports,
    /// Backed-up flag.
    pub backed_up: bool,
}

/// A row of `fullauth_mfa`: one TOTP factor per user.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MfaFactor {
    /// Primary key.
    pub id: Uuid,
    /// The owner.
    pub user_id: UserId,
    /// The base32 TOTP secret.
    pub secret: MfaSecret,
    /// When enrolment was confirmed; `None` for an unconfirmed enrolment,
    /// which must never gate sign-in.
    pub confirmed_at: Option<Timestamp>,
    /// The last accepted TOTP time step.
    pub last_counter: u32,
    /// Digests of the unused recovery codes.
    pub recovery_codes: Vec<TokenDigest>,
    /// When the row was written.
    pub created_at: Timestamp,
}

impl MfaFactor {
    /// True once confirmed.
    pub fn is_confirmed(&self) -> bool {
        self.confirmed_at.is_some()
    }
}

/// Lockout parameters, given by the caller on every failure.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LockoutPolicy {
    /// Failures that lock the key (at least 1).
    pub max_attempts: u32,
    /// How long a lock lasts, and how long failures are remembered after the
    /// last one (at least one second; fractions are kept to the millisecond).
    pub duration: Duration,
}

impl LockoutPolicy {
    /// Checks the bounds.
    ///
    /// # Errors
    /// [`StoreError::InvalidInput`] when `max_attempts` is 0 or `duration` is
    /// under one second.
    pub fn validate(&self) -> Result<(), StoreError> {
        if self.max_attempts == 0 {
            return Err(StoreError::invalid("max_attempts", "must be at least 1"));
        }
        if self.duration < Duration::from_secs(1) {
            return Err(StoreError::invalid(
                "duration",
                "must be at least one second",
            ));
        }
        Ok(())
    }
}

/// The answer of [`crate::LockoutStore::record_failure`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LockoutOutcome {
    /// The failure was counted; the key is not locked.
    Counted {
        /// Failures counted so far, this one included.
        attempts: u32,
    },
    /// This failure reached the threshold and locked the key.
    Locked {
        /// When the lock ends.
        until: Timestamp,
    },
    /// The key was already locked; nothing was counted and the lock was not
    /// extended.
    AlreadyLocked {
        /// When the lock ends.
        until: Timestamp,
    },
}

impl LockoutOutcome {
    /// True for `Locked` and `AlreadyLocked`.
    pub fn is_locked(&self) -> bool {
        !matches!(self, LockoutOutcome::Counted { .. })
    }
}

/// Rate-limit parameters, given by the caller on every hit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RateLimitPolicy {
    /// Requests allowed per window (at least 1).
    pub limit: u32,
    /// The sliding window (at least one millisecond).
    pub window: Duration,
}

impl RateLimitPolicy {
    /// Checks the bounds.
    ///
    /// # Errors
    /// [`StoreError::InvalidInput`] when `limit` is 0 or `window` is under a
    /// millisecond.
    pub fn validate(&self) -> Result<(), StoreError> {
        if self.limit == 0 {
            return Err(StoreError::invalid("limit", "must be at least 1"));
        }
        if self.window < Duration::from_millis(1) {
            return Err(StoreError::invalid(
                "window",
                "must be at least one millisecond",
            ));
        }
        Ok(())
    }
}

/// The answer of [`crate::RateLimitStore::hit`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RateLimitDecision {
    /// True when the request is allowed (and was recorded).
    pub allowed: bool,
    /// Requests still allowed in the current window after this one.
    pub remaining: u32,
    /// When refused: how long until the oldest recorded request leaves the
    /// window. Zero when allowed.
    pub retry_after: Duration,
}

/// Rounds a TTL up to whole seconds, with a floor of one second (the
/// reference's rule for blacklist entries: a TTL of 0 still stores a 1 s entry).
pub fn ttl_seconds(ttl: Duration) -> u64 {
    let secs = ttl.as_secs() + u64::from(ttl.subsec_nanos() > 0);
    secs.max(1)
}
