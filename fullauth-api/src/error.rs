//! The one error type of the family.

use std::fmt;

use crate::features::Feature;

/// A boxed error kept as the source of [`StoreError::Unavailable`] and
/// [`StoreError::Backend`].
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Shorthand for `Result<T, StoreError>`.
pub type StoreResult<T> = Result<T, StoreError>;

/// What collided in a [`StoreError::Conflict`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ConflictKind {
    /// Another user already has this (normalised) email.
    Email,
    /// A refresh token with this digest is already stored.
    RefreshToken,
    /// A passkey with this credential id is already stored.
    Credential,
    /// An OAuth identity `(provider, provider_user_id)` is already linked.
    OAuthIdentity,
    /// A user with this id already exists.
    UserId,
    /// Another unique value of an application column collided.
    Other,
}

impl fmt::Display for ConflictKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ConflictKind::Email => "email",
            ConflictKind::RefreshToken => "refresh token",
            ConflictKind::Credential => "passkey credential id",
            ConflictKind::OAuthIdentity => "OAuth identity",
            ConflictKind::UserId => "user id",
            ConflictKind::Other => "unique value",
        })
    }
}

/// What was missing in a [`StoreError::NotFound`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Entity {
    /// A user.
    User,
    /// A refresh token.
    RefreshToken,
    /// A role.
    Role,
    /// A passkey.
    Passkey,
    /// An MFA factor.
    MfaFactor,
    /// An OAuth account link.
    OAuthAccount,
}

impl fmt::Display for Entity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Entity::User => "user",
            Entity::RefreshToken => "refresh token",
            Entity::Role => "role",
            Entity::Passkey => "passkey",
            Entity::MfaFactor => "MFA factor",
            Entity::OAuthAccount => "OAuth account",
        })
    }
}

/// Every failure of every store.
///
/// The variants are semantic so that callers (and the conformance suite) can
/// match on them whatever the backend: a unique violation is always
/// [`Conflict`](StoreError::Conflict), a lost connection always
/// [`Unavailable`](StoreError::Unavailable). Driver errors are kept as the
/// `source` of [`Backend`](StoreError::Backend) or `Unavailable`, never as the
/// only information.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// A unique value collided.
    #[error("conflict: the {what} is already taken")]
    Conflict {
        /// What collided.
        what: ConflictKind,
    },
    /// The record the operation needs does not exist.
    #[error("not found: no such {what}")]
    NotFound {
        /// What was missing.
        what: Entity,
    },
    /// An input was refused by validation before any backend saw it.
    #[error("invalid {field}: {reason}")]
    InvalidInput {
        /// The input that was refused (`email`, `role`, `device_name`, ...).
        field: &'static str,
        /// Why, in words that say what to change.
        reason: String,
    },
    /// A user field name that is not a column of the user table.
    #[error("unknown user field `{field}`: it is not a column of fullauth_users")]
    UnknownField {
        /// The name that was given.
        field: String,
    },
    /// A user field that cannot be written or queried through the generic map
    /// (id, email, hashed_password, the flags): use its dedicated method.
    #[error("protected user field `{field}`: use its dedicated method or typed field")]
    ProtectedField {
        /// The name that was given.
        field: String,
    },
    /// The store was not configured with the feature this method belongs to.
    #[error("feature `{feature}` is not enabled on this store: {hint}")]
    FeatureDisabled {
        /// The feature that is missing.
        feature: Feature,
        /// How to enable it.
        hint: String,
    },
    /// `begin` was called on a transaction handle.
    #[error("transactions cannot be nested: call begin() on the store, not on a transaction")]
    TransactionNesting,
    /// The backend could not be reached or did not answer in time. Retryable.
    #[error("backend unavailable: {message}")]
    Unavailable {
        /// What happened.
        message: String,
        /// The driver's error, when there is one.
        #[source]
        source: Option<BoxError>,
    },
    /// Any other backend failure.
    #[error("backend error: {message}")]
    Backend {
        /// What happened.
        message: String,
        /// The driver's error, when there is one.
        #[source]
        source: Option<BoxError>,
    },
}

impl StoreError {
    /// A [`StoreError::FeatureDisabled`] with the standard hint.
    pub fn feature_disabled(feature: Feature) -> Self {
        StoreError::FeatureDisabled {
            feature,
            hint: format!(
                "this store does not serve it; build the store with the `{feature}` feature \
                 (and, for SQL backends, migrate its tables)"
            ),
        }
    }

    /// A [`StoreError::InvalidInput`].
    pub fn invalid(field: &'static str, reason: impl Into<String>) -> Self {
        StoreError::InvalidInput {
            field,
            reason: reason.into(),
        }
    }

    /// A [`StoreError::Backend`] wrapping a driver error.
    pub fn backend(message: impl Into<String>, source: impl Into<BoxError>) -> Self {
        StoreError::Backend {
            message: message.into(),
            source: Some(source.into()),
        }
    }

    /// A [`StoreError::Unavailable`] wrapping a driver error.
    pub fn unavailable(message: impl Into<String>, source: impl Into<BoxError>) -> Self {
        StoreError::Unavailable {
            message: message.into(),
            source: Some(source.into()),
        }
    }

    /// True when retrying the same call later may succeed
    /// (only [`StoreError::Unavailable`]).
    pub fn is_retryable(&self) -> bool {
        matches!(self, StoreError::Unavailable { .. })
    }

    /// True for a [`StoreError::Conflict`] on `what`.
    pub fn is_conflict(&self, what: ConflictKind) -> bool {
        matches!(self, StoreError::Conflict { what: w } if *w == what)
    }

    /// True for a [`StoreError::NotFound`] of `what`.
    pub fn is_not_found(&self, what: Entity) -> bool {
        matches!(self, StoreError::NotFound { what: w } if *w == what)
    }
}
