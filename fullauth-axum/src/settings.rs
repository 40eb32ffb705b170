//! Settings of the HTTP layer: where the routes live, which transports carry
//! the tokens, which proxy headers are trusted. The flows' own settings
//! (lifetimes, lockout, rate limits, password policy) are in
//! [`fullauth_flows::FlowConfig`].

use axum::http::HeaderName;

use crate::transport::Transport;

/// Body keys `PATCH /me` drops silently (the reference's protected set).
pub(crate) const PROTECTED: [&str; 10] = [
    "id",
    "email",
    "hashed_password",
    "is_active",
    "is_verified",
    "is_superuser",
    "roles",
    "password",
    "created_at",
    "refresh_tokens",
];

/// The HTTP settings, with the reference's defaults.
///
/// ```
/// use fullauth_axum::{AuthSettings, CookieTransport, Transport};
/// let settings = AuthSettings::default()
///     .prefix("/auth")
///     .transports(vec![Transport::Cookie(CookieTransport::new())])
///     .trusted_proxy_headers(["x-forwarded-for"]);
/// assert_eq!(settings.route_prefix(), "/auth");
/// assert!(settings.check().is_ok());
/// ```
#[derive(Clone, Debug)]
pub struct AuthSettings {
    pub(crate) prefix: String,
    pub(crate) transports: Vec<Transport>,
    pub(crate) trusted_proxy_headers: Vec<HeaderName>,
    pub(crate) trusted_proxy_count: usize,
    pub(crate) mfa_routes: Option<bool>,
    pub(crate) bad_proxy_header: Option<String>,
    pub(crate) user_columns: Vec<String>,
}

impl Default for AuthSettings {
    /// Prefix `/api/v1/auth` (`API_PREFIX` + `AUTH_ROUTER_PREFIX`), the bearer
    /// transport only, no trusted proxy header (the socket peer is the client
    /// address), one trusted hop, MFA routes when the flows have an MFA
    /// issuer.
    fn default() -> Self {
        AuthSettings {
            prefix: "/api/v1/auth".into(),
            transports: vec![Transport::Bearer],
            trusted_proxy_headers: Vec::new(),
            trusted_proxy_count: 1,
            mfa_routes: None,
            bad_proxy_header: None,
            user_columns: Vec::new(),
        }
    }
}

impl AuthSettings {
    /// The route prefix, without a trailing `/` (empty mounts the routes at
    /// the root: `/login`, `/me`, …).
    pub fn prefix(mut self, prefix: impl Into<String>) -> Self {
        let p = prefix.into();
        self.prefix = p.trim_end_matches('/').to_string();
        self
    }

    /// The prefix in use.
    pub fn route_prefix(&self) -> &str {
        &self.prefix
    }

    /// The token transports, in order (default: bearer only). Each one writes
    /// tokens in turn; with a cookie transport the JSON's `refresh_token` is
    /// `null`.
    pub fn transports(mut self, transports: Vec<Transport>) -> Self {
        self.transports = transports;
        self
    }

    /// The transports in use.
    pub fn transport_list(&self) -> &[Transport] {
        &self.transports
    }

    /// Headers that carry the client address behind a proxy
    /// (`TRUSTED_PROXY_HEADERS`, default none); the first one present is used.
    /// A name that is not a valid header name makes [`check`](Self::check)
    /// fail.
    pub fn trusted_proxy_headers<I, S>(mut self, names: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        self.trusted_proxy_headers.clear();
        for n in names {
            match HeaderName::from_bytes(n.as_ref().trim().as_bytes()) {
                Ok(h) => self.trusted_proxy_headers.push(h),
                Err(_) => self.bad_proxy_header = Some(n.as_ref().to_string()),
            }
        }
        self
    }

    /// How many proxies append to the trusted header
    /// (`TRUSTED_PROXY_COUNT`, default 1; 0 counts as 1).
    pub fn trusted_proxy_count(mut self, hops: usize) -> Self {
        self.trusted_proxy_count = hops.max(1);
        self
    }

    /// Mounts (or not) the five `/mfa` routes. By default they are mounted
    /// when the flows have an MFA issuer (`MFA_ENABLED` follows `MFA_ISSUER`)
    /// and the store serves MFA.
    pub fn mfa_routes(mut self, mount: bool) -> Self {
        self.mfa_routes = Some(mount);
        self
    }

    /// The application's own user columns that the API exposes (the fields
    /// the reference's user schema adds): they appear in every user object,
    /// `POST /register` stores them when the body carries them, and
    /// `PATCH /me` updates them. Default none: the user object is
    /// `{"id", "email", "is_active", "is_verified", "is_superuser"}` and every
    /// `PATCH /me` answers 400 or 422, as with the reference's default schema.
    /// A protected name (`email`, `is_superuser`, …) makes
    /// [`check`](Self::check) fail.
    pub fn user_columns<I, S>(mut self, names: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.user_columns = names.into_iter().map(Into::into).collect();
        self
    }

    /// Checks the settings.
    ///
    /// # Errors
    /// A message for a prefix that does not start with `/`, an invalid proxy
    /// header name, or an invalid cookie transport.
    pub fn check(&self) -> Result<(), String> {
        if !self.prefix.is_empty() && !self.prefix.starts_with('/') {
            return Err(format!("the prefix `{}` must start with `/`", self.prefix));
        }
        if self.prefix.contains(['{', '}', '*']) {
            return Err(format!(
                "the prefix `{}` must not contain route parameters",
                self.prefix
            ));
        }
        if let Some(bad) = &self.bad_proxy_header {
            return Err(format!("`{bad}` is not a valid header name"));
        }
        for name in &self.user_columns {
            let mut probe = fullauth_api::ExtraFields::new();
            if probe.insert(name.clone(), serde_json::Value::Null).is_err()
                || PROTECTED.contains(&name.as_str())
            {
                return Err(format!(
                    "`{name}` cannot be an exposed user column (protected or not an identifier)"
                ));
            }
        }
        for t in &self.transports {
            if let Transport::Cookie(c) = t {
                c.check()?;
            }
        }
        Ok(())
    }
}
