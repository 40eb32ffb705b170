//! Extractors for the app's own routes: the current user, and the verified,
//! superuser, role and permission requirements.
//!
//! Each one reads the [`FullAuth`] from the router's state through
//! [`FromRef`], so a router whose state is `FullAuth` (or a struct with a
//! `FromRef` impl for it) can use them. A missing or bad token answers the
//! generic 401 with `WWW-Authenticate: Bearer`; a failed requirement the 403
//! `Not enough permissions`.

use std::marker::PhantomData;
use std::net::SocketAddr;
use std::ops::Deref;

use axum::extract::{ConnectInfo, FromRef, FromRequestParts};
use axum::http::request::Parts;
use fullauth_api::User;
use fullauth_flows::{AuthenticatedUser, Claims, ClientContext};

use crate::FullAuth;
use crate::error::HttpError;
use crate::transport::{access_token, client_ip, user_agent};

/// The caller: a valid session access token (from the `Authorization` header,
/// else the access cookie) whose user exists and is active. Purpose-scoped
/// tokens (email verification, password reset, MFA pending) are refused.
///
/// The user is loaded once per request; the other extractors reuse it.
///
/// ```
/// use axum::{Router, routing::get};
/// use fullauth_axum::{CurrentUser, FullAuth};
///
/// async fn hello(user: CurrentUser) -> String {
///     format!("hello {}", user.email.as_str())
/// }
/// fn app(auth: FullAuth) -> Router {
///     Router::new().route("/hello", get(hello)).with_state(auth)
/// }
/// ```
#[derive(Clone, Debug)]
pub struct CurrentUser {
    /// The user, as stored.
    pub user: User,
    /// The access token's claims (roles at issue time, custom claims in
    /// `extra`, the session's `family_id`).
    pub claims: Claims,
}

impl CurrentUser {
    /// The flows' view of the caller (what re-authentication, MFA and
    /// password changes take).
    pub fn authenticated(&self) -> AuthenticatedUser {
        AuthenticatedUser {
            user: self.user.clone(),
            claims: self.claims.clone(),
        }
    }

    /// Passes when the user has at least one of `roles` (read from the store,
    /// not from the token) or is a superuser.
    ///
    /// # Errors
    /// The 403 `Not enough permissions`; a plain 500 when the store fails.
    pub async fn require_role(&self, auth: &FullAuth, roles: &[&str]) -> Result<(), HttpError> {
        auth.service()
            .require_role(&self.user, roles)
            .await
            .map_err(HttpError::from)
    }

    /// Passes when one of the user's roles grants at least one of
    /// `permissions`, or the user is a superuser.
    ///
    /// # Errors
    /// The 403 `Not enough permissions`; 501 when the store does not serve
    /// permissions; a plain 500 when the store fails.
    pub async fn require_permission(
        &self,
        auth: &FullAuth,
        permissions: &[&str],
    ) -> Result<(), HttpError> {
        auth.service()
            .require_permission(&self.user, permissions)
            .await
            .map_err(HttpError::from)
    }
}

impl Deref for CurrentUser {
    type Target = User;
    fn deref(&self) -> &User {
        &self.user
    }
}

impl<S> FromRequestParts<S> for CurrentUser
where
    FullAuth: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = HttpError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, HttpError> {
        if let Some(done) = parts.extensions.get::<CurrentUser>() {
            return Ok(done.clone());
        }
        let auth = FullAuth::from_ref(state);
        let token = access_token(&parts.headers, auth.settings().transport_list())
            .ok_or_else(HttpError::credentials)?;
        let caller = auth.service().authenticate(&token).await?;
        let current = CurrentUser {
            user: caller.user,
            claims: caller.claims,
        };
        parts.extensions.insert(current.clone());
        Ok(current)
    }
}

/// The caller, who must have a verified email (403 otherwise).
#[derive(Clone, Debug)]
pub struct VerifiedUser(pub CurrentUser);

impl Deref for VerifiedUser {
    type Target = CurrentUser;
    fn deref(&self) -> &CurrentUser {
        &self.0
    }
}

impl<S> FromRequestParts<S> for VerifiedUser
where
    FullAuth: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = HttpError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, HttpError> {
        let current = CurrentUser::from_request_parts(parts, state).await?;
        FullAuth::from_ref(state)
            .service()
            .require_verified(&current.user)?;
        Ok(VerifiedUser(current))
    }
}

/// The caller, who must be a superuser (403 otherwise).
#[derive(Clone, Debug)]
pub struct Superuser(pub CurrentUser);

impl Deref for Superuser {
    type Target = CurrentUser;
    fn deref(&self) -> &CurrentUser {
        &self.0
    }
}

impl<S> FromRequestParts<S> for Superuser
where
    FullAuth: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = HttpError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, HttpError> {
        let current = CurrentUser::from_request_parts(parts, state).await?;
        FullAuth::from_ref(state)
            .service()
            .require_superuser(&current.user)?;
        Ok(Superuser(current))
    }
}

/// A set of role names for [`RequireRole`]; declare one with [`crate::role!`].
pub trait RoleSet: Send + Sync + 'static {
    /// The roles, any one of which passes.
    const ROLES: &'static [&'static str];
}

/// A set of permission names for [`RequirePermission`]; declare one with
/// [`crate::permission!`].
pub trait PermissionSet: Send + Sync + 'static {
    /// The permissions, any one of which passes.
    const PERMISSIONS: &'static [&'static str];
}

/// Declares a [`RoleSet`]: `role!(pub Editor = "editor", "admin")` makes a
/// type `Editor` for `RequireRole<Editor>`, passed by a user with either role.
///
/// ```
/// fullauth_axum::role!(pub Editor = "editor", "admin");
/// use fullauth_axum::RoleSet;
/// assert_eq!(Editor::ROLES, &["editor", "admin"]);
/// ```
#[macro_export]
macro_rules! role {
    ($vis:vis $name:ident = $($role:literal),+ $(,)?) => {
        #[doc = concat!("The role set `", stringify!($name), "`.")]
        #[derive(Clone, Copy, Debug)]
        $vis struct $name;
        impl $crate::RoleSet for $name {
            const ROLES: &'static [&'static str] = &[$($role),+];
        }
    };
}

/// Declares a [`PermissionSet`]: `permission!(pub PostsWrite = "posts:write")`
/// makes a type for `RequirePermission<PostsWrite>`.
///
/// ```
/// fullauth_axum::permission!(PostsWrite = "posts:write");
/// use fullauth_axum::PermissionSet;
/// assert_eq!(PostsWrite::PERMISSIONS, &["posts:write"]);
/// ```
#[macro_export]
macro_rules! permission {
    ($vis:vis $name:ident = $($perm:literal),+ $(,)?) => {
        #[doc = concat!("The permission set `", stringify!($name), "`.")]
        #[derive(Clone, Copy, Debug)]
        $vis struct $name;
        impl $crate::PermissionSet for $name {
            const PERMISSIONS: &'static [&'static str] = &[$($perm),+];
        }
    };
}

/// The caller, who must have one of the roles of `R` (read from the store at
/// request time, not from the token) or be a superuser; 403 otherwise.
///
/// ```
/// use axum::{Router, routing::get};
/// use fullauth_axum::{FullAuth, RequireRole};
/// fullauth_axum::role!(Admin = "admin");
/// fn app(auth: FullAuth) -> Router {
///     Router::new()
///         .route("/admin", get(|_: RequireRole<Admin>| async { "for admins" }))
///         .with_state(auth)
/// }
/// ```
#[derive(Debug)]
pub struct RequireRole<R: RoleSet>(pub CurrentUser, PhantomData<R>);

impl<R: RoleSet> Deref for RequireRole<R> {
    type Target = CurrentUser;
    fn deref(&self) -> &CurrentUser {
        &self.0
    }
}

impl<S, R> FromRequestParts<S> for RequireRole<R>
where
    FullAuth: FromRef<S>,
    S: Send + Sync,
    R: RoleSet,
{
    type Rejection = HttpError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, HttpError> {
        let current = CurrentUser::from_request_parts(parts, state).await?;
        current
            .require_role(&FullAuth::from_ref(state), R::ROLES)
            .await?;
        Ok(RequireRole(current, PhantomData))
    }
}

/// The caller, one of whose roles must grant one of the permissions of `P`
/// (or a superuser); 403 otherwise.
#[derive(Debug)]
pub struct RequirePermission<P: PermissionSet>(pub CurrentUser, PhantomData<P>);

impl<P: PermissionSet> Deref for RequirePermission<P> {
    type Target = CurrentUser;
    fn deref(&self) -> &CurrentUser {
        &self.0
    }
}

impl<S, P> FromRequestParts<S> for RequirePermission<P>
where
    FullAuth: FromRef<S>,
    S: Send + Sync,
    P: PermissionSet,
{
    type Rejection = HttpError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, HttpError> {
        let current = CurrentUser::from_request_parts(parts, state).await?;
        current
            .require_permission(&FullAuth::from_ref(state), P::PERMISSIONS)
            .await?;
        Ok(RequirePermission(current, PhantomData))
    }
}

/// The client of a request as the flows see it: its address (resolved
/// through the trusted proxy headers, else the socket peer when the server
/// was started with `into_make_service_with_connect_info::<SocketAddr>()`,
/// else `unknown`) and its `User-Agent`.
#[derive(Clone, Debug)]
pub struct Client(pub ClientContext);

impl<S> FromRequestParts<S> for Client
where
    FullAuth: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let auth = FullAuth::from_ref(state);
        Ok(Client(client_context(&auth, parts)))
    }
}

pub(crate) fn client_context(auth: &FullAuth, parts: &Parts) -> ClientContext {
    let peer = parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0);
    let settings = auth.settings();
    let ip = client_ip(
        &parts.headers,
        peer,
        &settings.trusted_proxy_headers,
        settings.trusted_proxy_count,
    );
    ClientContext {
        ip_address: Some(ip),
        user_agent: user_agent(&parts.headers),
    }
}
