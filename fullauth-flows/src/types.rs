//! The values the flows take and return.

use fullauth_api::{ClientInfo, ExtraFields, FamilyId, Session, StateKey, Timestamp, User};
use serde::{Serialize, Serializer};
use serde_json::{Map, Value};

use crate::config::RateLimitBucket;
use crate::token::Claims;

/// What the flows know about the request: the client's IP (already resolved
/// through trusted proxies by the HTTP layer) and user agent. Both are kept
/// with a new session, sanitised and clamped; the IP keys the rate limits
/// (`<bucket>:<ip>`, `unknown` without one).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ClientContext {
    /// The client IP.
    pub ip_address: Option<String>,
    /// The `User-Agent` header.
    pub user_agent: Option<String>,
}

impl ClientContext {
    /// A context from optional header values.
    pub fn new(ip_address: Option<&str>, user_agent: Option<&str>) -> Self {
        ClientContext {
            ip_address: ip_address.map(str::to_string),
            user_agent: user_agent.map(str::to_string),
        }
    }

    /// The metadata stored with a refresh token.
    pub fn client_info(&self) -> ClientInfo {
        ClientInfo::new(self.user_agent.as_deref(), self.ip_address.as_deref())
    }

    /// The rate-limit key of a bucket for this client: `<bucket>:<ip>`.
    pub fn rate_limit_key(&self, bucket: RateLimitBucket) -> Option<StateKey> {
        let ip = self
            .ip_address
            .as_deref()
            .filter(|ip| !ip.is_empty())
            .unwrap_or("unknown");
        StateKey::new(format!(
            "{}:{}",
            bucket.name(),
            fullauth_api::validate::clamp(ip, 256)
        ))
        .ok()
    }
}

/// A token response (`TokenPair` of the reference): serialises to
/// `{"access_token", "refresh_token", "token_type": "bearer", "expires_in"}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct TokenPair {
    /// The access token.
    pub access_token: String,
    /// The refresh token (the same one when rotation is off).
    pub refresh_token: String,
    /// Always `bearer`.
    pub token_type: String,
    /// The access lifetime in seconds.
    pub expires_in: u64,
    /// The session both tokens belong to (not serialised).
    #[serde(skip)]
    pub family_id: FamilyId,
}

/// A completed sign-in: the tokens and the user (`LoginResponse`).
#[derive(Clone, Debug, PartialEq)]
pub struct SignedIn {
    /// The new session's tokens.
    pub tokens: TokenPair,
    /// The user, as stored.
    pub user: User,
}

/// The answer of [`AuthService::login`](crate::AuthService::login).
#[derive(Clone, Debug, PartialEq)]
pub enum LoginOutcome {
    /// Signed in (200).
    SignedIn(SignedIn),
    /// The password was right but the user has a confirmed second factor
    /// (202 `{"mfa_required": true, "mfa_token": ...}`). No session exists
    /// yet: it is created by [`AuthService::mfa_verify`](crate::AuthService::mfa_verify).
    MfaRequired {
        /// The `mfa_pending` token to present with the code.
        mfa_token: String,
        /// Who is signing in.
        user: User,
    },
}

impl LoginOutcome {
    /// The HTTP status: 200 or 202.
    pub fn status(&self) -> u16 {
        match self {
            LoginOutcome::SignedIn(_) => 200,
            LoginOutcome::MfaRequired { .. } => 202,
        }
    }
}

/// The answer of [`AuthService::register`](crate::AuthService::register).
#[derive(Clone, Debug, PartialEq)]
pub enum Registration {
    /// Enumeration allowed: the account was created (201 with the user).
    Created(User),
    /// Enumeration-safe mode: 202 with [`REGISTER_ACCEPTED_DETAIL`], whether
    /// or not the account was created. `created` tells the app (never the
    /// client) which happened, for its own hooks.
    Accepted {
        /// The new user, or `None` when the email was taken.
        created: Option<User>,
    },
}

/// The 202 text of an enumeration-safe registration.
pub const REGISTER_ACCEPTED_DETAIL: &str =
    "If this email isn't already registered, the account has been created.";

impl Registration {
    /// The HTTP status: 201 or 202.
    pub fn status(&self) -> u16 {
        match self {
            Registration::Created(_) => 201,
            Registration::Accepted { .. } => 202,
        }
    }

    /// The new user, when one was created.
    pub fn user(&self) -> Option<&User> {
        match self {
            Registration::Created(u) => Some(u),
            Registration::Accepted { created } => created.as_ref(),
        }
    }
}

/// A registration request.
#[derive(Clone, Debug, PartialEq)]
pub struct RegisterRequest {
    /// The email as typed (normalised by the flow).
    pub email: String,
    /// The password.
    pub password: String,
    /// Values for the application's own user columns (privileged names are
    /// refused by [`ExtraFields`] itself).
    pub extra: ExtraFields,
}

impl RegisterRequest {
    /// A request without application columns.
    pub fn new(email: impl Into<String>, password: impl Into<String>) -> Self {
        RegisterRequest {
            email: email.into(),
            password: password.into(),
            extra: ExtraFields::new(),
        }
    }
}

/// The caller of a protected operation: a valid session access token whose
/// user exists and is active.
#[derive(Clone, Debug, PartialEq)]
pub struct AuthenticatedUser {
    /// The user, loaded from the store.
    pub user: User,
    /// The access token's claims.
    pub claims: Claims,
}

impl AuthenticatedUser {
    /// The session of the presented token, if it names one.
    pub fn family_id(&self) -> Option<&str> {
        self.claims.family_id.as_deref().filter(|f| !f.is_empty())
    }
}

/// One entry of the session list (`GET /sessions`). Serialises with the
/// reference's keys; times as ISO 8601 UTC with a `Z`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SessionInfo {
    /// The family.
    pub family_id: FamilyId,
    /// IP of its newest live token.
    pub ip_address: Option<String>,
    /// User agent of its newest live token.
    pub user_agent: Option<String>,
    /// Sign-in time.
    #[serde(serialize_with = "serialize_iso_z")]
    pub created_at: Timestamp,
    /// Last rotation.
    #[serde(serialize_with = "serialize_iso_z")]
    pub last_used_at: Timestamp,
    /// Expiry of its newest live token.
    #[serde(serialize_with = "serialize_iso_z")]
    pub expires_at: Timestamp,
    /// True for the family of the presented access token.
    pub current: bool,
}

impl SessionInfo {
    pub(crate) fn from_session(s: Session, current: Option<&str>) -> Self {
        let is_current = current.is_some_and(|c| c == s.family_id.as_str());
        SessionInfo {
            family_id: s.family_id,
            ip_address: s.ip_address,
            user_agent: s.user_agent,
            created_at: s.created_at,
            last_used_at: s.last_used_at,
            expires_at: s.expires_at,
            current: is_current,
        }
    }
}

/// ISO 8601 in UTC with a `Z` suffix, microseconds shown when non-zero
/// (`2026-11-29T18:49:40.404945Z`), as the reference's JSON shows datetimes.
pub fn iso_z(ts: Timestamp) -> String {
    let dt = ts.to_datetime();
    let base = format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}",
        dt.year(),
        u8::from(dt.month()),
        dt.day(),
        dt.hour(),
        dt.minute(),
        dt.second()
    );
    match dt.microsecond() {
        0 => format!("{base}Z"),
        us => format!("{base}.{us:06}Z"),
    }
}

fn serialize_iso_z<S: Serializer>(ts: &Timestamp, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&iso_z(*ts))
}

/// The text of `POST /sessions/revoke-others`.
pub fn revoke_others_detail(count: u64) -> String {
    format!("Signed out {count} other session(s).")
}

/// `GET /mfa`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct MfaStatus {
    /// True once a factor is confirmed.
    pub enabled: bool,
    /// Unused recovery codes (0 without a confirmed factor).
    pub recovery_codes_remaining: usize,
}

/// `POST /mfa/enroll`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct MfaEnrollment {
    /// The base32 secret (32 characters).
    pub secret: String,
    /// The `otpauth://` URI for a QR code.
    pub provisioning_uri: String,
}

/// A password-reset token to send, and to whom.
#[derive(Clone, Debug, PartialEq)]
pub struct PasswordResetRequest {
    /// The user the email belongs to.
    pub user: User,
    /// The token to put in the link.
    pub token: String,
}

/// The app's custom claims hook (`on_create_token_claims`): called after a
/// successful password login, MFA verification and at every refresh; its
/// answer goes inside the access token's `extra`.
#[fullauth_api::async_trait]
pub trait ClaimsProvider: Send + Sync {
    /// The claims for this user. Keys must not be reserved (`sub`, `exp`,
    /// `iat`, `jti`, `type`, `roles`, `extra`, `family_id`, `purpose`): the
    /// flow fails with [`FlowError::Claims`](crate::FlowError::Claims)
    /// otherwise, as the reference does.
    ///
    /// # Errors
    /// Whatever the app's lookup fails with; it aborts the sign-in.
    async fn claims(&self, user: &User) -> Result<Map<String, Value>, crate::FlowError>;
}

/// The claim names a [`ClaimsProvider`] may not use.
pub const RESERVED_CLAIMS: [&str; 9] = [
    "sub",
    "exp",
    "iat",
    "jti",
    "type",
    "roles",
    "extra",
    "family_id",
    "purpose",
];
