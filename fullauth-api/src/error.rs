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

/// Where an error happened: the backend and the store operation, for logs.
///
/// Filled in by the forwarding layer of [`crate::backend`] (so every error of
/// the shipped backends carries it) and by [`StoreError::with_context`].
/// Printed at the end of the error's message as ` [sqlite create_user]`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct ErrorContext {
    backend: Option<&'static str>,
    operation: Option<&'static str>,
}

impl ErrorContext {
    /// A context naming the backend (`sqlite`, `postgres`, …) and the
    /// operation (the trait method, `create_user`).
    pub const fn new(backend: &'static str, operation: &'static str) -> Self {
        ErrorContext {
            backend: Some(backend),
            operation: Some(operation),
        }
    }

    /// The backend's short name, when known.
    pub fn backend(&self) -> Option<&'static str> {
        self.backend
    }

    /// The operation, when known.
    pub fn operation(&self) -> Option<&'static str> {
        self.operation
    }

    /// True when neither is known.
    pub fn is_empty(&self) -> bool {
        self.backend.is_none() && self.operation.is_none()
    }
}

impl fmt::Display for ErrorContext {
    /// Empty when unknown, else ` [backend operation]` (with the leading space).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.backend, self.operation) {
            (None, None) => Ok(()),
            (Some(b), Some(o)) => write!(f, " [{b} {o}]"),
            (Some(x), None) | (None, Some(x)) => write!(f, " [{x}]"),
        }
    }
}

/// Every failure of every store.
///
/// The variants are semantic so that callers (and the conformance suite) can
/// match on them whatever the backend: a unique violation is always
/// [`Conflict`](StoreError::Conflict), a lost connection always
/// [`Unavailable`](StoreError::Unavailable), a serialization failure or a
/// deadlock always [`Contention`](StoreError::Contention). Driver errors are
/// kept as the `source` of `Backend`, `Unavailable` or `Contention`, never as
/// the only information.
///
/// Every variant carries an [`ErrorContext`] (backend and operation). The
/// variants are `#[non_exhaustive]`: build them with the constructors
/// ([`StoreError::conflict`], [`StoreError::not_found`], …) and match them with
/// `..`:
///
/// ```
/// use fullauth_api::{ConflictKind, StoreError};
/// let e = StoreError::conflict(ConflictKind::Email).with_context("sqlite", "create_user");
/// assert!(matches!(e, StoreError::Conflict { what: ConflictKind::Email, .. }));
/// assert_eq!(e.context().operation(), Some("create_user"));
/// assert_eq!(e.to_string(), "conflict: the email is already taken [sqlite create_user]");
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// A unique value collided.
    #[error("conflict: the {what} is already taken{context}")]
    #[non_exhaustive]
    Conflict {
        /// What collided.
        what: ConflictKind,
        /// Where.
        context: ErrorContext,
    },
    /// The record the operation needs does not exist.
    #[error("not found: no such {what}{context}")]
    #[non_exhaustive]
    NotFound {
        /// What was missing.
        what: Entity,
        /// Where.
        context: ErrorContext,
    },
    /// An input was refused by validation — ours, before any backend saw it,
    /// and nothing else (a value the database refuses is a
    /// [`Backend`](StoreError::Backend) error).
    #[error("invalid {field}: {reason}{context}")]
    #[non_exhaustive]
    InvalidInput {
        /// The input that was refused (`email`, `role`, `device_name`, ...).
        field: &'static str,
        /// Why, in words that say what to change.
        reason: String,
        /// Where.
        context: ErrorContext,
    },
    /// A user field name that is not a column of the user table.
    #[error("unknown user field `{field}`: it is not a column of fullauth_users{context}")]
    #[non_exhaustive]
    UnknownField {
        /// The name that was given.
        field: String,
        /// Where.
        context: ErrorContext,
    },
    /// A user field that cannot be written or queried through the generic map
    /// (id, email, hashed_password, the flags): use its dedicated method.
    #[error("protected user field `{field}`: use its dedicated method or typed field{context}")]
    #[non_exhaustive]
    ProtectedField {
        /// The name that was given.
        field: String,
        /// Where.
        context: ErrorContext,
    },
    /// The store was not configured with the feature this method belongs to.
    #[error("feature `{feature}` is not enabled on this store: {hint}{context}")]
    #[non_exhaustive]
    FeatureDisabled {
        /// The feature that is missing.
        feature: Feature,
        /// How to enable it.
        hint: String,
        /// Where.
        context: ErrorContext,
    },
    /// The feature is configured but its tables are missing (or incomplete)
    /// in the database: run the migrations.
    #[error("not migrated: {message}{context}")]
    #[non_exhaustive]
    NotMigrated {
        /// The feature whose tables are missing, when known.
        feature: Option<Feature>,
        /// What is missing and how to fix it.
        message: String,
        /// Where.
        context: ErrorContext,
    },
    /// `begin` was called on a transaction handle.
    #[error(
        "transactions cannot be nested: call begin() on the store, not on a transaction{context}"
    )]
    #[non_exhaustive]
    TransactionNesting {
        /// Where.
        context: ErrorContext,
    },
    /// The transaction was already committed or rolled back (or failed
    /// beyond repair); begin a new one.
    #[error("the transaction is finished: begin a new one{context}")]
    #[non_exhaustive]
    TransactionFinished {
        /// Where.
        context: ErrorContext,
    },
    /// The server or the connection could not be reached or did not answer
    /// in time. Retry the call.
    #[error("backend unavailable: {message}{context}")]
    #[non_exhaustive]
    Unavailable {
        /// What happened.
        message: String,
        /// The driver's error, when there is one.
        #[source]
        source: Option<BoxError>,
        /// Where.
        context: ErrorContext,
    },
    /// The database gave up on the work because of concurrent work:
    /// serialization failure, deadlock, busy database. Retry the whole
    /// transaction (or the call, outside a transaction).
    #[error("contention: {message}{context}")]
    #[non_exhaustive]
    Contention {
        /// What happened.
        message: String,
        /// The driver's error, when there is one.
        #[source]
        source: Option<BoxError>,
        /// Where.
        context: ErrorContext,
    },
    /// Any other backend failure.
    #[error("backend error: {message}{context}")]
    #[non_exhaustive]
    Backend {
        /// What happened.
        message: String,
        /// The driver's error, when there is one.
        #[source]
        source: Option<BoxError>,
        /// Where.
        context: ErrorContext,
    },
}

impl StoreError {
    /// A [`StoreError::Conflict`] on `what`.
    pub fn conflict(what: ConflictKind) -> Self {
        StoreError::Conflict {
            what,
            context: ErrorContext::default(),
        }
    }

    /// A [`StoreError::NotFound`] of `what`.
    pub fn not_found(what: Entity) -> Self {
        StoreError::NotFound {
            what,
            context: ErrorContext::default(),
        }
    }

    /// A [`StoreError::InvalidInput`].
    pub fn invalid(field: &'static str, reason: impl Into<String>) -> Self {
        StoreError::InvalidInput {
            field,
            reason: reason.into(),
            context: ErrorContext::default(),
        }
    }

    /// A [`StoreError::UnknownField`].
    pub fn unknown_field(field: impl Into<String>) -> Self {
        StoreError::UnknownField {
            field: field.into(),
            context: ErrorContext::default(),
        }
    }

    /// A [`StoreError::ProtectedField`].
    pub fn protected_field(field: impl Into<String>) -> Self {
        StoreError::ProtectedField {
            field: field.into(),
            context: ErrorContext::default(),
        }
    }

    /// A [`StoreError::FeatureDisabled`] with the standard hint.
    pub fn feature_disabled(feature: Feature) -> Self {
        StoreError::FeatureDisabled {
            feature,
            hint: format!(
                "this store does not serve it; build the store with the `{feature}` feature \
                 (and, for SQL backends, migrate its tables)"
            ),
            context: ErrorContext::default(),
        }
    }

    /// A [`StoreError::NotMigrated`].
    pub fn not_migrated(feature: Option<Feature>, message: impl Into<String>) -> Self {
        StoreError::NotMigrated {
            feature,
            message: message.into(),
            context: ErrorContext::default(),
        }
    }

    /// A [`StoreError::TransactionNesting`].
    pub fn transaction_nesting() -> Self {
        StoreError::TransactionNesting {
            context: ErrorContext::default(),
        }
    }

    /// A [`StoreError::TransactionFinished`].
    pub fn transaction_finished() -> Self {
        StoreError::TransactionFinished {
            context: ErrorContext::default(),
        }
    }

    /// A [`StoreError::Backend`] wrapping a driver error.
    pub fn backend(message: impl Into<String>, source: impl Into<BoxError>) -> Self {
        StoreError::Backend {
            message: message.into(),
            source: Some(source.into()),
            context: ErrorContext::default(),
        }
    }

    /// A [`StoreError::Backend`] without a source error.
    pub fn backend_message(message: impl Into<String>) -> Self {
        StoreError::Backend {
            message: message.into(),
            source: None,
            context: ErrorContext::default(),
        }
    }

    /// A [`StoreError::Unavailable`] wrapping a driver error.
    pub fn unavailable(message: impl Into<String>, source: impl Into<BoxError>) -> Self {
        StoreError::Unavailable {
            message: message.into(),
            source: Some(source.into()),
            context: ErrorContext::default(),
        }
    }

    /// A [`StoreError::Unavailable`] without a source error (a timeout).
    pub fn unavailable_message(message: impl Into<String>) -> Self {
        StoreError::Unavailable {
            message: message.into(),
            source: None,
            context: ErrorContext::default(),
        }
    }

    /// A [`StoreError::Contention`] wrapping a driver error.
    pub fn contention(message: impl Into<String>, source: impl Into<BoxError>) -> Self {
        StoreError::Contention {
            message: message.into(),
            source: Some(source.into()),
            context: ErrorContext::default(),
        }
    }

    /// A [`StoreError::Contention`] without a source error.
    pub fn contention_message(message: impl Into<String>) -> Self {
        StoreError::Contention {
            message: message.into(),
            source: None,
            context: ErrorContext::default(),
        }
    }

    /// Where the error happened (empty when nobody said).
    pub fn context(&self) -> ErrorContext {
        *self.context_slot()
    }

    /// Records the backend and operation, unless the error already names
    /// them (the innermost context wins: a composed store keeps its part's).
    pub fn with_context(mut self, backend: &'static str, operation: &'static str) -> Self {
        let slot = self.context_slot_mut();
        if slot.is_empty() {
            *slot = ErrorContext::new(backend, operation);
        }
        self
    }

    fn context_slot(&self) -> &ErrorContext {
        match self {
            StoreError::Conflict { context, .. }
            | StoreError::NotFound { context, .. }
            | StoreError::InvalidInput { context, .. }
            | StoreError::UnknownField { context, .. }
            | StoreError::ProtectedField { context, .. }
            | StoreError::FeatureDisabled { context, .. }
            | StoreError::NotMigrated { context, .. }
            | StoreError::TransactionNesting { context }
            | StoreError::TransactionFinished { context }
            | StoreError::Unavailable { context, .. }
            | StoreError::Contention { context, .. }
            | StoreError::Backend { context, .. } => context,
        }
    }

    fn context_slot_mut(&mut self) -> &mut ErrorContext {
        match self {
            StoreError::Conflict { context, .. }
            | StoreError::NotFound { context, .. }
            | StoreError::InvalidInput { context, .. }
            | StoreError::UnknownField { context, .. }
            | StoreError::ProtectedField { context, .. }
            | StoreError::FeatureDisabled { context, .. }
            | StoreError::NotMigrated { context, .. }
            | StoreError::TransactionNesting { context }
            | StoreError::TransactionFinished { context }
            | StoreError::Unavailable { context, .. }
            | StoreError::Contention { context, .. }
            | StoreError::Backend { context, .. } => context,
        }
    }

    /// True when retrying the same call later may succeed: the server or
    /// connection was unavailable ([`StoreError::Unavailable`]). A
    /// [`StoreError::Contention`] asks for the whole transaction to be
    /// retried instead: see [`is_contention`](Self::is_contention).
    pub fn is_retryable(&self) -> bool {
        matches!(self, StoreError::Unavailable { .. })
    }

    /// True for a [`StoreError::Contention`]: retry the whole transaction
    /// (or the call, when it was not inside one).
    pub fn is_contention(&self) -> bool {
        matches!(self, StoreError::Contention { .. })
    }

    /// True for a [`StoreError::Conflict`] on `what`.
    pub fn is_conflict(&self, what: ConflictKind) -> bool {
        matches!(self, StoreError::Conflict { what: w, .. } if *w == what)
    }

    /// True for a [`StoreError::NotFound`] of `what`.
    pub fn is_not_found(&self, what: Entity) -> bool {
        matches!(self, StoreError::NotFound { what: w, .. } if *w == what)
    }

    /// True for a [`StoreError::FeatureDisabled`] of `feature`.
    pub fn is_feature_disabled(&self, feature: Feature) -> bool {
        matches!(self, StoreError::FeatureDisabled { feature: f, .. } if *f == feature)
    }
}
