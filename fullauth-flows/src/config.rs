//! Settings of the token engine and of the flows, with the reference's
//! defaults (fastapi-fullauth 0.18 `FullAuthConfig`).

use std::fmt;
use std::time::Duration;

use data_encoding::BASE64URL_NOPAD;
use fullauth_api::{LockoutPolicy, RateLimitPolicy};

use crate::error::FlowError;

/// The HMAC key that signs every token: the UTF-8 bytes of the string, as
/// given (no base64 decoding), at least 32 characters — the reference's
/// `SECRET_KEY` rule, so both sides sign with the same key.
///
/// `Debug` never shows it.
///
/// ```
/// use fullauth_flows::SecretKey;
/// assert!(SecretKey::new("too short").is_err());
/// let key = SecretKey::new("0123456789abcdef0123456789abcdef").unwrap();
/// assert_eq!(format!("{key:?}"), "SecretKey(<32 characters>)");
/// assert!(SecretKey::generate().unwrap().as_str().len() >= 80);
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct SecretKey(String);

impl SecretKey {
    /// The fewest characters accepted.
    pub const MIN_CHARS: usize = 32;

    /// Wraps a secret.
    ///
    /// # Errors
    /// [`FlowError::Config`] when it has fewer than [`Self::MIN_CHARS`]
    /// characters.
    pub fn new(secret: impl Into<String>) -> Result<Self, FlowError> {
        let secret = secret.into();
        if secret.chars().count() < Self::MIN_CHARS {
            return Err(FlowError::Config(format!(
                "the secret key must have at least {} characters",
                Self::MIN_CHARS
            )));
        }
        Ok(SecretKey(secret))
    }

    /// A new random key: URL-safe base64 of 64 random bytes (86 characters),
    /// what the reference's `fullauth secret` prints.
    ///
    /// # Errors
    /// [`FlowError::Internal`] when the operating system's random source fails.
    pub fn generate() -> Result<Self, FlowError> {
        let mut bytes = [0u8; 64];
        crate::random::fill(&mut bytes)?;
        Ok(SecretKey(BASE64URL_NOPAD.encode(&bytes)))
    }

    /// The secret itself.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SecretKey(<{} characters>)", self.0.chars().count())
    }
}

/// The JWT signing algorithms the reference supports (`ALGORITHM`). Decoding
/// accepts only the configured one.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum JwtAlgorithm {
    /// HMAC-SHA-256 (the default).
    #[default]
    HS256,
    /// HMAC-SHA-384.
    HS384,
    /// HMAC-SHA-512.
    HS512,
}

impl JwtAlgorithm {
    /// The `alg` header value.
    pub fn name(self) -> &'static str {
        match self {
            JwtAlgorithm::HS256 => "HS256",
            JwtAlgorithm::HS384 => "HS384",
            JwtAlgorithm::HS512 => "HS512",
        }
    }

    pub(crate) fn jwt(self) -> jsonwebtoken::Algorithm {
        match self {
            JwtAlgorithm::HS256 => jsonwebtoken::Algorithm::HS256,
            JwtAlgorithm::HS384 => jsonwebtoken::Algorithm::HS384,
            JwtAlgorithm::HS512 => jsonwebtoken::Algorithm::HS512,
        }
    }
}

impl std::str::FromStr for JwtAlgorithm {
    type Err = FlowError;
    /// `HS256`, `HS384` or `HS512` (case-sensitive, as the reference).
    fn from_str(s: &str) -> Result<Self, FlowError> {
        match s {
            "HS256" => Ok(JwtAlgorithm::HS256),
            "HS384" => Ok(JwtAlgorithm::HS384),
            "HS512" => Ok(JwtAlgorithm::HS512),
            other => Err(FlowError::Config(format!(
                "unsupported JWT algorithm `{other}` (HS256, HS384 or HS512)"
            ))),
        }
    }
}

/// Settings of the [`TokenEngine`](crate::TokenEngine).
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct TokenSettings {
    /// The signing key (`SECRET_KEY`).
    pub secret: SecretKey,
    /// The algorithm (`ALGORITHM`, HS256).
    pub algorithm: JwtAlgorithm,
    /// Access-token lifetime (`ACCESS_TOKEN_EXPIRE_MINUTES`, 30 min). Whole
    /// seconds are used.
    pub access_ttl: Duration,
    /// Refresh-token lifetime (`REFRESH_TOKEN_EXPIRE_DAYS`, 30 days). Whole
    /// seconds are used.
    pub refresh_ttl: Duration,
    /// Clock skew allowed on `exp`, `iat` and `nbf` (`JWT_LEEWAY_SECONDS`,
    /// 30 s). Whole seconds are used.
    pub leeway: Duration,
    /// `iss` stamped on every token and required when decoding
    /// (`JWT_ISSUER`, unset: not stamped, not checked).
    pub issuer: Option<String>,
    /// `aud` stamped on every token and required when decoding
    /// (`JWT_AUDIENCE`, unset: not stamped, not checked).
    pub audience: Option<String>,
    /// Whether decoding consults the blacklist and revocations write to it
    /// (`BLACKLIST_ENABLED`, true).
    pub blacklist_enabled: bool,
}

impl TokenSettings {
    /// The reference's defaults around `secret`.
    pub fn new(secret: SecretKey) -> Self {
        TokenSettings {
            secret,
            algorithm: JwtAlgorithm::HS256,
            access_ttl: Duration::from_secs(30 * 60),
            refresh_ttl: Duration::from_secs(30 * 24 * 3600),
            leeway: Duration::from_secs(30),
            issuer: None,
            audience: None,
            blacklist_enabled: true,
        }
    }

    /// The TTL of a `family:<id>` blacklist entry: the access lifetime plus
    /// the leeway (1830 s by default), long enough to outlive every access
    /// token the family still holds.
    pub fn family_blacklist_ttl(&self) -> Duration {
        Duration::from_secs(self.access_ttl.as_secs() + self.leeway.as_secs())
    }

    /// Checks the bounds.
    ///
    /// # Errors
    /// [`FlowError::Config`] for a lifetime under one second, or an empty
    /// issuer or audience.
    pub fn validate(&self) -> Result<(), FlowError> {
        if self.access_ttl.as_secs() == 0 || self.refresh_ttl.as_secs() == 0 {
            return Err(FlowError::Config(
                "token lifetimes must be at least one second".into(),
            ));
        }
        if self.issuer.as_deref() == Some("") || self.audience.as_deref() == Some("") {
            return Err(FlowError::Config(
                "the issuer and audience must not be empty when set".into(),
            ));
        }
        Ok(())
    }
}

/// Which user column identifies the user at login (`LOGIN_FIELD`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum LoginField {
    /// The email (the default): normalised before lookup and as lockout key.
    #[default]
    Email,
    /// An application column of the user table (say `username`), matched as
    /// given; the raw identifier is the lockout key. Registration also
    /// refuses a taken value of it.
    Column(String),
}

/// The password policy (`PasswordValidator` and `PASSWORD_MIN_LENGTH` /
/// `PASSWORD_MAX_LENGTH`). Lengths count characters (code points).
///
/// ```
/// use fullauth_flows::PasswordPolicy;
/// let policy = PasswordPolicy { require_digit: true, ..PasswordPolicy::default() };
/// assert!(policy.validate("long enough 1").is_ok());
/// let err = policy.validate("short").unwrap_err();
/// assert_eq!(err.detail(), "Password must be at least 8 characters; Password must contain at least one digit");
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PasswordPolicy {
    /// Fewest characters (8).
    pub min_length: usize,
    /// Most characters (4096; 0 disables the maximum). Also caps login and
    /// re-authentication passwords before any hashing.
    pub max_length: usize,
    /// Require an ASCII uppercase letter.
    pub require_uppercase: bool,
    /// Require an ASCII lowercase letter.
    pub require_lowercase: bool,
    /// Require a digit.
    pub require_digit: bool,
    /// Require one of `!@#$%^&*(),.?":{}|<>`.
    pub require_special: bool,
    /// Refused passwords, compared case-insensitively.
    pub blocked_passwords: Vec<String>,
}

impl Default for PasswordPolicy {
    fn default() -> Self {
        PasswordPolicy {
            min_length: 8,
            max_length: fullauth_api::MAX_PASSWORD_CHARS,
            require_uppercase: false,
            require_lowercase: false,
            require_digit: false,
            require_special: false,
            blocked_passwords: Vec::new(),
        }
    }
}

impl PasswordPolicy {
    /// Checks a new password; every failure is reported, joined by `; `, in
    /// the reference's order and words.
    ///
    /// # Errors
    /// [`FlowError::InvalidPassword`] (422).
    pub fn validate(&self, password: &str) -> Result<(), FlowError> {
        let mut errors: Vec<String> = Vec::new();
        let chars = password.chars().count();
        if chars < self.min_length {
            errors.push(format!(
                "Password must be at least {} characters",
                self.min_length
            ));
        }
        if self.max_length != 0 && chars > self.max_length {
            errors.push(format!(
                "Password must be at most {} characters",
                self.max_length
            ));
        }
        if self.require_uppercase && !password.chars().any(|c| c.is_ascii_uppercase()) {
            errors.push("Password must contain at least one uppercase letter".into());
        }
        if self.require_lowercase && !password.chars().any(|c| c.is_ascii_lowercase()) {
            errors.push("Password must contain at least one lowercase letter".into());
        }
        // Python's `\d` matches every Unicode decimal digit.
        if self.require_digit && !password.chars().any(char::is_numeric) {
            errors.push("Password must contain at least one digit".into());
        }
        if self.require_special
            && !password
                .chars()
                .any(|c| "!@#$%^&*(),.?\":{}|<>".contains(c))
        {
            errors.push("Password must contain at least one special character".into());
        }
        let lowered = password.to_lowercase();
        if self
            .blocked_passwords
            .iter()
            .any(|b| b.to_lowercase() == lowered)
        {
            errors.push("This password is too common".into());
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(FlowError::InvalidPassword(errors.join("; ")))
        }
    }

    /// True when a login or re-authentication password is over the cap and
    /// must be refused before hashing.
    pub fn exceeds_max(&self, password: &str) -> bool {
        let cap = if self.max_length == 0 {
            fullauth_api::MAX_PASSWORD_CHARS
        } else {
            self.max_length.min(fullauth_api::MAX_PASSWORD_CHARS)
        };
        password.chars().count() > cap
    }
}

/// The per-route auth rate-limit buckets (`AuthRateLimiter`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RateLimitBucket {
    /// `POST /login` and the OAuth callback (5 per window).
    Login,
    /// `POST /register` (3).
    Register,
    /// The four verification and reset routes, shared (3).
    PasswordReset,
    /// Both passkey authentication routes (10).
    PasskeyAuthenticate,
    /// `POST /refresh` (30).
    Refresh,
    /// `DELETE /me` and `POST /change-password` (5).
    Reauth,
    /// `/mfa/confirm` and `/mfa/verify` (5). The reference never builds this
    /// bucket (a 0.18 bug); these flows enforce it as documented.
    Mfa,
}

impl RateLimitBucket {
    /// The bucket's name, the first part of its key `<name>:<client ip>`.
    pub fn name(self) -> &'static str {
        match self {
            RateLimitBucket::Login => "login",
            RateLimitBucket::Register => "register",
            RateLimitBucket::PasswordReset => "password-reset",
            RateLimitBucket::PasskeyAuthenticate => "passkey-authenticate",
            RateLimitBucket::Refresh => "refresh",
            RateLimitBucket::Reauth => "reauth",
            RateLimitBucket::Mfa => "mfa",
        }
    }
}

/// Caps of the auth rate limits (`AUTH_RATE_LIMITS`,
/// `AUTH_RATE_LIMIT_WINDOW_SECONDS`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AuthRateLimits {
    /// The sliding window (60 s).
    pub window: Duration,
    /// Login (5).
    pub login: u32,
    /// Registration (3).
    pub register: u32,
    /// Verification and reset (3).
    pub password_reset: u32,
    /// Passkey authentication (10).
    pub passkey_authenticate: u32,
    /// Refresh (30).
    pub refresh: u32,
    /// Re-authentication (5).
    pub reauth: u32,
    /// MFA confirm and verify (5).
    pub mfa: u32,
}

impl Default for AuthRateLimits {
    fn default() -> Self {
        AuthRateLimits {
            window: Duration::from_secs(60),
            login: 5,
            register: 3,
            password_reset: 3,
            passkey_authenticate: 10,
            refresh: 30,
            reauth: 5,
            mfa: 5,
        }
    }
}

impl AuthRateLimits {
    /// The store policy of one bucket.
    pub fn policy(&self, bucket: RateLimitBucket) -> RateLimitPolicy {
        let limit = match bucket {
            RateLimitBucket::Login => self.login,
            RateLimitBucket::Register => self.register,
            RateLimitBucket::PasswordReset => self.password_reset,
            RateLimitBucket::PasskeyAuthenticate => self.passkey_authenticate,
            RateLimitBucket::Refresh => self.refresh,
            RateLimitBucket::Reauth => self.reauth,
            RateLimitBucket::Mfa => self.mfa,
        };
        RateLimitPolicy {
            limit,
            window: self.window,
        }
    }
}

/// Everything the flows need besides the store.
///
/// Built with [`FlowConfig::new`] (the reference's defaults) and adjusted
/// field by field:
///
/// ```
/// use fullauth_flows::{FlowConfig, SecretKey};
/// use std::time::Duration;
/// let mut config = FlowConfig::new(SecretKey::new("0123456789abcdef0123456789abcdef").unwrap());
/// config.tokens.access_ttl = Duration::from_secs(600);
/// config.prevent_registration_enumeration = false;
/// config.rate_limits = None;
/// assert!(config.validate().is_ok());
/// ```
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct FlowConfig {
    /// The token engine's settings.
    pub tokens: TokenSettings,
    /// Rotate refresh tokens (`REFRESH_TOKEN_ROTATION`, true). Off: a refresh
    /// returns a new access token and the same refresh token.
    pub refresh_rotation: bool,
    /// The login identifier (`LOGIN_FIELD`, email).
    pub login_field: LoginField,
    /// The password policy.
    pub password_policy: PasswordPolicy,
    /// Answer a duplicate registration like a new one
    /// (`PREVENT_REGISTRATION_ENUMERATION`, true); the duplicate path still
    /// hashes the password.
    pub prevent_registration_enumeration: bool,
    /// Verify against a dummy hash for an unknown user or a user without a
    /// password (`PREVENT_LOGIN_TIMING_ATTACKS`, true).
    pub prevent_login_timing_attacks: bool,
    /// Login and MFA lockout (`LOCKOUT_ENABLED`, `MAX_LOGIN_ATTEMPTS` = 5,
    /// `LOCKOUT_DURATION_MINUTES` = 15); `None` turns it off.
    pub lockout: Option<LockoutPolicy>,
    /// Per-route rate limits (`AUTH_RATE_LIMIT_ENABLED`); `None` turns them
    /// off.
    pub rate_limits: Option<AuthRateLimits>,
    /// Email-verification token lifetime (`EMAIL_VERIFY_EXPIRE_MINUTES`,
    /// 1440 min).
    pub email_verify_ttl: Duration,
    /// Password-reset token lifetime (`PASSWORD_RESET_EXPIRE_MINUTES`, 15 min).
    pub password_reset_ttl: Duration,
    /// MFA-pending token lifetime (`MFA_PENDING_EXPIRE_SECONDS`, 300 s).
    pub mfa_pending_ttl: Duration,
    /// How recent `auth_time` must be to stand in for the current password
    /// (`REAUTH_MAX_AGE_SECONDS`, 300 s; zero accepts only the password).
    pub reauth_max_age: Duration,
    /// The issuer in MFA provisioning URIs (`MFA_ISSUER`, unset).
    pub mfa_issuer: Option<String>,
}

impl FlowConfig {
    /// The reference's defaults around `secret`.
    pub fn new(secret: SecretKey) -> Self {
        FlowConfig {
            tokens: TokenSettings::new(secret),
            refresh_rotation: true,
            login_field: LoginField::Email,
            password_policy: PasswordPolicy::default(),
            prevent_registration_enumeration: true,
            prevent_login_timing_attacks: true,
            lockout: Some(LockoutPolicy {
                max_attempts: 5,
                duration: Duration::from_secs(15 * 60),
            }),
            rate_limits: Some(AuthRateLimits::default()),
            email_verify_ttl: Duration::from_secs(1440 * 60),
            password_reset_ttl: Duration::from_secs(15 * 60),
            mfa_pending_ttl: Duration::from_secs(300),
            reauth_max_age: Duration::from_secs(300),
            mfa_issuer: None,
        }
    }

    /// Checks the bounds (the store's features are checked when the service
    /// is built).
    ///
    /// # Errors
    /// [`FlowError::Config`] for token settings out of bounds, a purpose-token
    /// lifetime under one second, an invalid lockout or rate-limit policy, or
    /// a login column that is not an identifier.
    pub fn validate(&self) -> Result<(), FlowError> {
        self.tokens.validate()?;
        for (name, ttl) in [
            ("email_verify_ttl", self.email_verify_ttl),
            ("password_reset_ttl", self.password_reset_ttl),
            ("mfa_pending_ttl", self.mfa_pending_ttl),
        ] {
            if ttl.as_secs() == 0 {
                return Err(FlowError::Config(format!(
                    "{name} must be at least one second"
                )));
            }
        }
        if let Some(policy) = &self.lockout {
            policy
                .validate()
                .map_err(|e| FlowError::Config(format!("lockout: {e}")))?;
        }
        if let Some(limits) = &self.rate_limits {
            for bucket in [
                RateLimitBucket::Login,
                RateLimitBucket::Register,
                RateLimitBucket::PasswordReset,
                RateLimitBucket::PasskeyAuthenticate,
                RateLimitBucket::Refresh,
                RateLimitBucket::Reauth,
                RateLimitBucket::Mfa,
            ] {
                limits
                    .policy(bucket)
                    .validate()
                    .map_err(|e| FlowError::Config(format!("rate limit {}: {e}", bucket.name())))?;
            }
        }
        if let LoginField::Column(name) = &self.login_field {
            fullauth_api::UserLookup::parse(name, "probe")
                .map_err(|e| FlowError::Config(format!("login field: {e}")))?;
        }
        Ok(())
    }
}
