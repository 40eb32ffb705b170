//! Authentication flows of the fullauth family, framework-agnostic, on any
//! [`fullauth_api::Store`]: tokens compatible with fastapi-fullauth 0.18,
//! password login with lockout and a timing defence, refresh rotation with
//! reuse detection, logout and sessions, email verification, password reset
//! and change, a TOTP second factor with recovery codes, and RBAC checks.
//!
//! ```
//! # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
//! use std::sync::Arc;
//! use fullauth_flows::{AuthService, ClientContext, FlowConfig, LoginOutcome, RegisterRequest, SecretKey};
//!
//! let store = Arc::new(fullauth_memory::MemoryStore::new());
//! let mut config = FlowConfig::new(SecretKey::new("0123456789abcdef0123456789abcdef").unwrap());
//! config.prevent_registration_enumeration = false;
//! let auth = AuthService::new(store, config).unwrap()
//!     .with_hasher(fullauth_api::PasswordHasher::new(8, 1, 1).unwrap());
//! let ctx = ClientContext::new(Some("203.0.113.7"), Some("doc-test"));
//!
//! auth.register(&ctx, RegisterRequest::new("ada@example.com", "correct horse")).await.unwrap();
//! let LoginOutcome::SignedIn(signed_in) = auth.login(&ctx, "Ada@Example.com", "correct horse").await.unwrap()
//! else { unreachable!("no second factor") };
//! let me = auth.authenticate(&signed_in.tokens.access_token).await.unwrap();
//! assert_eq!(me.user.email.as_str(), "ada@example.com");
//!
//! let rotated = auth.refresh(&ctx, &signed_in.tokens.refresh_token).await.unwrap();
//! // Replaying the rotated token is a reuse: the whole session dies.
//! let replay = auth.refresh(&ctx, &signed_in.tokens.refresh_token).await.unwrap_err();
//! assert_eq!(replay.status(), 401);
//! assert!(auth.authenticate(&rotated.access_token).await.is_err());
//! # });
//! ```
//!
//! # Where this differs from the reference, on purpose
//!
//! * A login that needs a second factor stores nothing: the reference
//!   writes a refresh row before its MFA gate, an orphan session never handed
//!   to anyone; here the session is created by [`AuthService::mfa_verify`].
//! * The `mfa` rate-limit bucket (5 per minute) is enforced; the reference
//!   documents it but never builds it.
//! * `revoke_other_sessions` counts sessions, not token rows.
//! * A validly signed token with malformed `roles` or `family_id` is refused
//!   (401) where the reference fails with 500.
//! * A refresh token whose row has expired while its JWT is still within the
//!   leeway is refused instead of rotated.

#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod config;
pub mod error;
mod random;
mod service;
pub mod token;
pub mod totp;
pub mod types;

pub use config::{
    AuthRateLimits, FlowConfig, JwtAlgorithm, LoginField, PasswordPolicy, RateLimitBucket,
    SecretKey, TokenSettings,
};
pub use error::{FlowError, ReauthFailure, TokenRejection};
pub use service::{AuthService, RECOVERY_CODE_COUNT};
pub use token::{Audience, Claims, Expect, MintedPair, MintedToken, TokenEngine, TokenType};
pub use types::{
    AuthenticatedUser, ClaimsProvider, ClientContext, LoginOutcome, MfaEnrollment, MfaStatus,
    PasswordResetRequest, REGISTER_ACCEPTED_DETAIL, RegisterRequest, Registration, SessionInfo,
    SignedIn, TokenPair,
};
