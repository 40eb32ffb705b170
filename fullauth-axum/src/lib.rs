//! The auth routes of fastapi-fullauth 0.18 for axum, on any fullauth store.
//!
//! [`FullAuth::router`] answers a frontend written for a FastAPI app that
//! uses the Python library: the same paths (under `/api/v1/auth` by
//! default), bodies, status codes, `detail` texts, 422 shapes, headers and
//! cookies, and the same tokens. The flows behind the routes are
//! [`fullauth_flows::AuthService`]; the extractors ([`CurrentUser`],
//! [`VerifiedUser`], [`Superuser`], [`RequireRole`], [`RequirePermission`])
//! guard the app's own routes.
//!
//! ```
//! # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
//! use std::sync::Arc;
//! use axum::{Router, routing::get};
//! use fullauth_axum::{CurrentUser, FullAuth};
//! use fullauth_flows::{FlowConfig, SecretKey};
//!
//! let store = Arc::new(fullauth_memory::MemoryStore::new());
//! let config = FlowConfig::new(SecretKey::new("a secret of at least 32 characters!!").unwrap());
//! let auth = FullAuth::new(store, config).unwrap();
//!
//! let app: Router = Router::new()
//!     .route("/hello", get(|user: CurrentUser| async move { format!("hello {}", user.email.as_str()) }))
//!     .with_state(auth.clone())
//!     .merge(auth.router());
//! // axum::serve(listener, app.into_make_service_with_connect_info::<std::net::SocketAddr>()).await
//! # let _ = app;
//! # });
//! ```
//!
//! # Routes
//!
//! Under the prefix (see [`AuthSettings::prefix`]):
//!
//! | route | answer |
//! |---|---|
//! | `POST /register` | 202 generic message (201 user when enumeration is allowed) |
//! | `POST /login` | 200 LoginResponse, or 202 `{"mfa_required", "mfa_token"}` |
//! | `POST /refresh` | 200 TokenPair |
//! | `POST /logout` | 204 (clears the token cookies) |
//! | `GET /me`, `GET /me/verified`, `PATCH /me`, `DELETE /me` | the profile |
//! | `POST /change-password` | 200 `Password changed successfully.` |
//! | `POST /verify-email/request`, `/verify-email/confirm` | 202, 200 |
//! | `POST /password-reset/request`, `/password-reset/confirm` | 202, 200 |
//! | `GET /sessions`, `DELETE /sessions/{family_id}`, `POST /sessions/revoke-others` | sessions |
//! | `GET /mfa`, `POST /mfa/enroll`, `/mfa/confirm`, `DELETE /mfa`, `POST /mfa/verify` | two-factor sign-in (when the flows have an MFA issuer and the store serves MFA) |
//! | `POST /admin/assign-role`, `/admin/remove-role`, `/admin/assign-permission`, `/admin/remove-permission`, `GET /admin/role-permissions/{role_name}` | superuser only (when the store serves roles) |
//!
//! OAuth and passkey routes are not provided. Tokens travel as
//! `Authorization: Bearer` by default, or in cookies with
//! [`CookieTransport`]. Verification and reset tokens are never returned over
//! HTTP: they go to the [`AuthHooks`] of the app, which sends the emails.
//!
//! # Where this differs from the reference, on purpose
//!
//! Besides the flows' own differences (see [`fullauth_flows`]): the `mfa`
//! rate-limit bucket is enforced; a validly signed token with malformed
//! claims is a 401, not a 500; no hook delays the response (the reference
//! awaits `after_login` before answering).

#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod body;
mod error;
mod extract;
mod routes;
mod settings;
mod transport;

use std::sync::Arc;

use axum::Router;
use fullauth_api::{Feature, Store, StoreInfo as _, User};
use fullauth_flows::{AuthService, FlowConfig, FlowError};

pub use error::{CREDENTIALS_DETAIL, FORBIDDEN_DETAIL, HttpError, RATE_LIMITED_DETAIL};
pub use extract::{
    Client, CurrentUser, PermissionSet, RequirePermission, RequireRole, RoleSet, Superuser,
    VerifiedUser,
};
pub use settings::AuthSettings;
pub use transport::{CookieTransport, SameSite, Transport};

/// What the app does on auth events: send the verification and reset
/// emails, and anything else it wants to hear about.
///
/// Every hook runs in a task of its own that the response does not wait
/// for, so a slow mail server neither delays the answer nor reveals through
/// timing whether an account exists. A hook cannot change the response.
#[fullauth_api::async_trait]
pub trait AuthHooks: Send + Sync + 'static {
    /// `POST /verify-email/request` minted a token for this user's email.
    async fn send_verification_email(&self, email: &str, token: &str) {
        let _ = (email, token);
    }

    /// `POST /password-reset/request` minted a reset token; `email` is the
    /// address as the client typed it.
    async fn send_password_reset_email(&self, email: &str, token: &str) {
        let _ = (email, token);
    }

    /// An account was created by `POST /register`.
    async fn after_register(&self, user: &User) {
        let _ = user;
    }

    /// A session was started by `POST /login` or `POST /mfa/verify`.
    async fn after_login(&self, user: &User) {
        let _ = user;
    }

    /// A session was ended by `POST /logout`; `subject` is the token's `sub`
    /// (the user id).
    async fn after_logout(&self, subject: &str) {
        let _ = subject;
    }
}

/// The hooks that do nothing (the default).
#[derive(Clone, Copy, Debug, Default)]
pub struct NoHooks;

impl AuthHooks for NoHooks {}

/// The auth routes and the state of the extractors: the flows, the HTTP
/// settings and the app's hooks. Cheap to clone.
#[derive(Clone)]
pub struct FullAuth {
    inner: Arc<Inner>,
}

struct Inner {
    service: AuthService,
    settings: AuthSettings,
    hooks: Arc<dyn AuthHooks>,
}

impl std::fmt::Debug for FullAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FullAuth")
            .field("service", &self.inner.service)
            .field("settings", &self.inner.settings)
            .finish()
    }
}

/// Why a [`FullAuth`] could not be built.
#[derive(Debug)]
#[non_exhaustive]
pub enum BuildError {
    /// The flows refused the store or the configuration.
    Flows(FlowError),
    /// The HTTP settings are invalid.
    Settings(String),
}

impl std::fmt::Display for BuildError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            BuildError::Flows(e) => write!(f, "{e}"),
            BuildError::Settings(e) => write!(f, "invalid auth settings: {e}"),
        }
    }
}

impl std::error::Error for BuildError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            BuildError::Flows(e) => Some(e),
            BuildError::Settings(_) => None,
        }
    }
}

impl From<FlowError> for BuildError {
    fn from(e: FlowError) -> Self {
        BuildError::Flows(e)
    }
}

/// Builds a [`FullAuth`]: start from [`FullAuth::builder`].
#[derive(Debug)]
pub struct FullAuthBuilder {
    service: AuthService,
    settings: AuthSettings,
    hooks: Option<Arc<dyn AuthHooks>>,
}

impl std::fmt::Debug for dyn AuthHooks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AuthHooks")
    }
}

impl FullAuthBuilder {
    /// The HTTP settings (default: [`AuthSettings::default`]).
    pub fn settings(mut self, settings: AuthSettings) -> Self {
        self.settings = settings;
        self
    }

    /// The app's hooks (default: none).
    pub fn hooks(mut self, hooks: impl AuthHooks) -> Self {
        self.hooks = Some(Arc::new(hooks));
        self
    }

    /// Checks the settings and builds.
    ///
    /// # Errors
    /// [`BuildError::Settings`] as [`AuthSettings::check`] says.
    pub fn build(self) -> Result<FullAuth, BuildError> {
        self.settings.check().map_err(BuildError::Settings)?;
        Ok(FullAuth {
            inner: Arc::new(Inner {
                service: self.service,
                settings: self.settings,
                hooks: self.hooks.unwrap_or_else(|| Arc::new(NoHooks)),
            }),
        })
    }
}

impl FullAuth {
    /// The flows on `store` with `config`, the default HTTP settings and no
    /// hooks.
    ///
    /// # Errors
    /// [`BuildError::Flows`] when the flows refuse the store (a feature the
    /// configuration needs is not served) or the configuration.
    pub fn new(store: Arc<dyn Store>, config: FlowConfig) -> Result<Self, BuildError> {
        Self::builder(AuthService::new(store, config)?).build()
    }

    /// A builder around an [`AuthService`] (built by the app, say with its
    /// own password hasher or custom claims).
    pub fn builder(service: AuthService) -> FullAuthBuilder {
        FullAuthBuilder {
            service,
            settings: AuthSettings::default(),
            hooks: None,
        }
    }

    /// The flows.
    pub fn service(&self) -> &AuthService {
        &self.inner.service
    }

    /// The store.
    pub fn store(&self) -> &Arc<dyn Store> {
        self.inner.service.store()
    }

    /// The HTTP settings.
    pub fn settings(&self) -> &AuthSettings {
        &self.inner.settings
    }

    pub(crate) fn hooks(&self) -> Arc<dyn AuthHooks> {
        self.inner.hooks.clone()
    }

    /// True when the `/mfa` routes are mounted: as the settings say, else
    /// when the flows have an MFA issuer; and only when the store serves MFA.
    pub fn mfa_routes_mounted(&self) -> bool {
        let wanted = self
            .inner
            .settings
            .mfa_routes
            .unwrap_or_else(|| self.inner.service.config().mfa_issuer.is_some());
        wanted && self.store().features().contains(Feature::Mfa)
    }

    /// True when the `/admin` routes are mounted (the store serves roles).
    pub fn admin_routes_mounted(&self) -> bool {
        self.store().features().contains(Feature::Roles)
    }

    /// The auth routes under the prefix, ready to merge into the app's
    /// router (whatever its state). Serve the app with
    /// `into_make_service_with_connect_info::<SocketAddr>()` so that the
    /// client address (rate limits, the sessions list) is the socket peer.
    pub fn router<S>(&self) -> Router<S>
    where
        S: Clone + Send + Sync + 'static,
    {
        routes::router(self).with_state(self.clone())
    }
}
