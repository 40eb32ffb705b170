//! The one error type of the flows, with the HTTP answer of each outcome.
//!
//! Every variant maps to the status code and `detail` text the reference
//! (fastapi-fullauth 0.18) answers for that outcome, so an HTTP layer turns a
//! [`FlowError`] into a response with [`FlowError::status`],
//! [`FlowError::detail`], [`FlowError::www_authenticate`] and
//! [`FlowError::retry_after`] and nothing else. The variants keep the reason
//! (for logs and tests) that the reference deliberately hides from clients:
//! a locked account, a wrong password and an unknown email all answer the same
//! 401.

use std::time::Duration;

use fullauth_api::{FamilyId, Feature, StoreError, Timestamp};

use crate::config::RateLimitBucket;

/// The generic 401 text (sent with `WWW-Authenticate: Bearer`).
pub const CREDENTIALS_DETAIL: &str = "Could not validate credentials";
/// The generic 403 text.
pub const FORBIDDEN_DETAIL: &str = "Not enough permissions";
/// The per-route rate-limit 429 text.
pub const RATE_LIMITED_DETAIL: &str = "Too many requests. Try again later.";
/// The 500 text (the reference answers a plain-text `Internal Server Error`).
pub const INTERNAL_DETAIL: &str = "Internal Server Error";

/// Why a token was refused. Every reason answers the generic 401.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum TokenRejection {
    /// Not a JWT, a bad signature, or an algorithm other than the configured one.
    Malformed,
    /// A required claim (`exp`, `iat`, `sub`) is missing or null, or a claim
    /// has the wrong type (`sub`/`jti` not a string, `roles` not an array of
    /// strings, `family_id` not a string, a time claim not a number).
    InvalidClaims(&'static str),
    /// `exp` is at or before now minus the leeway.
    Expired,
    /// `iat` or `nbf` is later than now plus the leeway.
    NotYetValid,
    /// `iss` missing or not the configured issuer.
    WrongIssuer,
    /// `aud` missing or not containing the configured audience.
    WrongAudience,
    /// The `jti` or the token's `family:<id>` key is blacklisted (or the
    /// blacklist could not be read: the check fails closed).
    Revoked,
    /// `type` is not the expected one (`access` where `refresh` was expected
    /// or the reverse).
    WrongType,
    /// `extra.purpose` is not the expected one; in particular a
    /// purpose-scoped token (email verification, password reset, MFA pending,
    /// OAuth state) presented as a session token.
    WrongPurpose,
    /// The subject does not name a user id.
    BadSubject,
    /// A signed refresh token with no stored row behind it.
    NotStored,
    /// The password-reset token's fingerprint no longer matches the stored
    /// password (the password changed since it was issued).
    Stale,
}

/// Why re-authentication failed (403).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReauthFailure {
    /// A current password was given and does not verify (or is over the
    /// length cap): `Current password is incorrect`.
    WrongPassword,
    /// No usable password proof and the session is older than the re-auth
    /// window: `Re-authentication required`.
    Required,
}

/// Every outcome of a flow other than success.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FlowError {
    /// Unknown user, user without a password, wrong password, or a password
    /// over the length cap at login; a failed MFA verification. 401.
    #[error("invalid credentials")]
    InvalidCredentials,
    /// Too many failures: the lockout key is locked. 401, exactly like bad
    /// credentials.
    #[error("account temporarily locked")]
    AccountLocked {
        /// When the lock ends, when the store said so.
        until: Option<Timestamp>,
    },
    /// The user exists but is deactivated (or vanished after the token was
    /// issued). 401.
    #[error("unknown or inactive user")]
    InactiveUser,
    /// A token was refused. 401.
    #[error("token refused: {0:?}")]
    InvalidToken(TokenRejection),
    /// A rotated refresh token was presented again (or lost a concurrent
    /// rotation): its family is now revoked in the store and blacklisted. 401.
    #[error("refresh token reused; family {family_id} revoked")]
    TokenReused {
        /// The family that was revoked.
        family_id: FamilyId,
    },
    /// A per-route rate-limit bucket is full. 429 with `Retry-After`.
    #[error("rate limited ({bucket:?}): retry in {retry_after:?}")]
    RateLimited {
        /// The bucket.
        bucket: RateLimitBucket,
        /// Its cap per window (for `X-RateLimit-Limit`).
        limit: u32,
        /// Until the oldest counted hit leaves the window.
        retry_after: Duration,
    },
    /// Registration of an email (or login-field value) that is taken, when
    /// enumeration is allowed. 409.
    #[error("a user with this email already exists")]
    UserAlreadyExists,
    /// The new password fails the password policy. 422 with the policy's
    /// messages joined by `; `.
    #[error("invalid password: {0}")]
    InvalidPassword(String),
    /// An input the store's validation refuses (an email, a role name, an
    /// application column value). 422 with the reason.
    #[error("invalid {field}: {reason}")]
    InvalidInput {
        /// The input.
        field: &'static str,
        /// Why.
        reason: String,
    },
    /// `change_password` with a missing or wrong current password. 400.
    #[error("current password is incorrect")]
    CurrentPasswordIncorrect,
    /// Re-authentication failed (account deletion, MFA enrol/disable, a first
    /// password). 403.
    #[error("re-authentication failed: {0:?}")]
    Reauth(ReauthFailure),
    /// The caller may not do this (verified, superuser, role or permission
    /// requirement). 403.
    #[error("not enough permissions")]
    Forbidden,
    /// No session of the caller's with this family id. 404.
    #[error("session not found")]
    SessionNotFound,
    /// No such user (admin role assignment). 404.
    #[error("user not found")]
    UserNotFound,
    /// MFA enrolment while a confirmed factor exists. 409.
    #[error("two-factor authentication is already enabled")]
    MfaAlreadyEnabled,
    /// MFA confirmation of an already confirmed factor. 400.
    #[error("two-factor authentication is already confirmed")]
    MfaAlreadyConfirmed,
    /// MFA confirmation without an enrolment. 400.
    #[error("no two-factor enrolment to confirm")]
    MfaNotStarted,
    /// MFA confirmation with a code that matches no time step. 400.
    #[error("invalid two-factor code")]
    InvalidMfaCode,
    /// The store does not serve a feature the flow needs. 501.
    #[error("the store does not serve {0:?}")]
    Unsupported(Feature),
    /// The configuration is unusable (short secret, zero TTL, a policy the
    /// store cannot serve). Raised when the service is built. 500.
    #[error("invalid flow configuration: {0}")]
    Config(String),
    /// The custom-claims provider failed or returned a reserved key. 500.
    #[error("custom claims refused: {0}")]
    Claims(String),
    /// Minting a token or drawing randomness failed. 500.
    #[error("internal failure: {0}")]
    Internal(String),
    /// The store failed. 500.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl FlowError {
    /// The HTTP status code the reference answers for this outcome.
    pub fn status(&self) -> u16 {
        match self {
            FlowError::InvalidCredentials
            | FlowError::AccountLocked { .. }
            | FlowError::InactiveUser
            | FlowError::InvalidToken(_)
            | FlowError::TokenReused { .. } => 401,
            FlowError::RateLimited { .. } => 429,
            FlowError::UserAlreadyExists | FlowError::MfaAlreadyEnabled => 409,
            FlowError::InvalidPassword(_) | FlowError::InvalidInput { .. } => 422,
            FlowError::CurrentPasswordIncorrect
            | FlowError::MfaAlreadyConfirmed
            | FlowError::MfaNotStarted
            | FlowError::InvalidMfaCode => 400,
            FlowError::Reauth(_) | FlowError::Forbidden => 403,
            FlowError::SessionNotFound | FlowError::UserNotFound => 404,
            FlowError::Unsupported(_) => 501,
            FlowError::Config(_)
            | FlowError::Claims(_)
            | FlowError::Internal(_)
            | FlowError::Store(_) => 500,
        }
    }

    /// The reference's `detail` text for this outcome.
    pub fn detail(&self) -> String {
        match self {
            FlowError::InvalidCredentials
            | FlowError::AccountLocked { .. }
            | FlowError::InactiveUser
            | FlowError::InvalidToken(_)
            | FlowError::TokenReused { .. } => CREDENTIALS_DETAIL.into(),
            FlowError::RateLimited { .. } => RATE_LIMITED_DETAIL.into(),
            FlowError::UserAlreadyExists => "A user with this email already exists".into(),
            FlowError::InvalidPassword(text) => text.clone(),
            FlowError::InvalidInput { field, reason } => format!("invalid {field}: {reason}"),
            FlowError::CurrentPasswordIncorrect
            | FlowError::Reauth(ReauthFailure::WrongPassword) => {
                "Current password is incorrect".into()
            }
            FlowError::Reauth(ReauthFailure::Required) => "Re-authentication required".into(),
            FlowError::Forbidden => FORBIDDEN_DETAIL.into(),
            FlowError::SessionNotFound => "Session not found".into(),
            FlowError::UserNotFound => "User not found".into(),
            FlowError::MfaAlreadyEnabled | FlowError::MfaAlreadyConfirmed => {
                "Two-factor authentication is already enabled".into()
            }
            FlowError::MfaNotStarted => "Start enrolment before confirming it".into(),
            FlowError::InvalidMfaCode => "Invalid code".into(),
            FlowError::Unsupported(feature) => unsupported_detail(*feature).into(),
            FlowError::Config(_)
            | FlowError::Claims(_)
            | FlowError::Internal(_)
            | FlowError::Store(_) => INTERNAL_DETAIL.into(),
        }
    }

    /// True when the response carries `WWW-Authenticate: Bearer` (every 401
    /// of these flows does).
    pub fn www_authenticate(&self) -> bool {
        self.status() == 401
    }

    /// For [`FlowError::RateLimited`]: the whole seconds to put in
    /// `Retry-After` and `X-RateLimit-Reset` (rounded up, at least 1).
    pub fn retry_after(&self) -> Option<u64> {
        match self {
            FlowError::RateLimited { retry_after, .. } => {
                Some(fullauth_api::ttl_seconds(*retry_after))
            }
            _ => None,
        }
    }

    /// True for the outcomes that are the client's doing (4xx).
    pub fn is_client_error(&self) -> bool {
        (400..500).contains(&self.status())
    }
}

fn unsupported_detail(feature: Feature) -> &'static str {
    match feature {
        Feature::Permissions => "Adapter does not support permissions",
        Feature::OAuth => "Adapter does not support OAuth",
        Feature::Passkeys => "Adapter does not support passkeys",
        Feature::Mfa => "Adapter does not support two-factor",
        _ => "Not Implemented",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_and_texts_follow_the_reference() {
        let cases: Vec<(FlowError, u16, &str)> = vec![
            (FlowError::InvalidCredentials, 401, CREDENTIALS_DETAIL),
            (
                FlowError::AccountLocked { until: None },
                401,
                CREDENTIALS_DETAIL,
            ),
            (
                FlowError::InvalidToken(TokenRejection::Expired),
                401,
                CREDENTIALS_DETAIL,
            ),
            (
                FlowError::TokenReused {
                    family_id: FamilyId::generate(),
                },
                401,
                CREDENTIALS_DETAIL,
            ),
            (
                FlowError::RateLimited {
                    bucket: RateLimitBucket::Login,
                    limit: 5,
                    retry_after: Duration::from_millis(59_001),
                },
                429,
                RATE_LIMITED_DETAIL,
            ),
            (
                FlowError::UserAlreadyExists,
                409,
                "A user with this email already exists",
            ),
            (
                FlowError::CurrentPasswordIncorrect,
                400,
                "Current password is incorrect",
            ),
            (
                FlowError::Reauth(ReauthFailure::WrongPassword),
                403,
                "Current password is incorrect",
            ),
            (
                FlowError::Reauth(ReauthFailure::Required),
                403,
                "Re-authentication required",
            ),
            (FlowError::SessionNotFound, 404, "Session not found"),
            (
                FlowError::MfaAlreadyEnabled,
                409,
                "Two-factor authentication is already enabled",
            ),
            (
                FlowError::MfaAlreadyConfirmed,
                400,
                "Two-factor authentication is already enabled",
            ),
            (
                FlowError::MfaNotStarted,
                400,
                "Start enrolment before confirming it",
            ),
            (FlowError::InvalidMfaCode, 400, "Invalid code"),
            (
                FlowError::Unsupported(Feature::Mfa),
                501,
                "Adapter does not support two-factor",
            ),
            (
                FlowError::Store(StoreError::backend_message("boom")),
                500,
                INTERNAL_DETAIL,
            ),
        ];
        for (error, status, detail) in cases {
            assert_eq!(error.status(), status, "{error:?}");
            assert_eq!(error.detail(), detail, "{error:?}");
            assert_eq!(error.www_authenticate(), status == 401, "{error:?}");
        }
        let limited = FlowError::RateLimited {
            bucket: RateLimitBucket::Login,
            limit: 5,
            retry_after: Duration::from_millis(59_001),
        };
        assert_eq!(limited.retry_after(), Some(60));
        assert_eq!(FlowError::InvalidCredentials.retry_after(), None);
    }
}
