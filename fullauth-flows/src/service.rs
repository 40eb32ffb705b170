//! [`AuthService`]: every flow, on one `Arc<dyn Store>`.

use std::sync::Arc;

use fullauth_api::{
    BlacklistStore, Email, FamilyId, Feature, LockoutOutcome, NewRefreshToken, NewUser,
    NextRefreshToken, PasswordHasher, PermissionName, RoleName, Rotation, StateKey, Store,
    StoreError, TokenDigest, User, UserId, UserLookup,
};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use crate::config::{FlowConfig, LoginField, RateLimitBucket};
use crate::error::{FlowError, ReauthFailure, TokenRejection};
use crate::token::{
    Claims, Expect, PURPOSE_EMAIL_VERIFY, PURPOSE_MFA_PENDING, PURPOSE_PASSWORD_RESET, TokenEngine,
    unix_now,
};
use crate::totp;
use crate::types::{
    AuthenticatedUser, ClaimsProvider, ClientContext, LoginOutcome, MfaEnrollment, MfaStatus,
    PasswordResetRequest, RESERVED_CLAIMS, RegisterRequest, Registration, SessionInfo, SignedIn,
    TokenPair,
};

/// How many recovery codes a confirmed factor gets.
pub const RECOVERY_CODE_COUNT: usize = 10;

/// Every authentication flow of the reference, on any [`Store`]. Cheap to
/// clone (everything is shared).
///
/// The store must serve [`Feature::Core`], plus [`Feature::Blacklist`] when
/// the blacklist is enabled, [`Feature::Lockout`] when a lockout policy is
/// set and [`Feature::RateLimit`] when rate limits are set; [`AuthService::new`]
/// checks. Roles, permissions and MFA are used when the store serves them.
#[derive(Clone)]
pub struct AuthService {
    inner: Arc<Inner>,
}

struct Inner {
    store: Arc<dyn Store>,
    config: FlowConfig,
    engine: TokenEngine,
    hasher: PasswordHasher,
    claims: Option<Arc<dyn ClaimsProvider>>,
}

impl std::fmt::Debug for AuthService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthService")
            .field("store", &self.inner.store.backend_name())
            .field("config", &self.inner.config)
            .field("hasher", &self.inner.hasher)
            .finish()
    }
}

impl AuthService {
    /// Builds the service with the default [`PasswordHasher`] and no custom
    /// claims.
    ///
    /// # Errors
    /// [`FlowError::Config`] when the configuration is out of bounds or the
    /// store lacks a feature the configuration needs.
    pub fn new(store: Arc<dyn Store>, config: FlowConfig) -> Result<Self, FlowError> {
        Self::build(store, config, PasswordHasher::default(), None)
    }

    fn build(
        store: Arc<dyn Store>,
        config: FlowConfig,
        hasher: PasswordHasher,
        claims: Option<Arc<dyn ClaimsProvider>>,
    ) -> Result<Self, FlowError> {
        config.validate()?;
        let features = store.features();
        let mut needed = vec![Feature::Core];
        if config.tokens.blacklist_enabled {
            needed.push(Feature::Blacklist);
        }
        if config.lockout.is_some() {
            needed.push(Feature::Lockout);
        }
        if config.rate_limits.is_some() {
            needed.push(Feature::RateLimit);
        }
        for feature in needed {
            if !features.contains(feature) {
                return Err(FlowError::Config(format!(
                    "the store ({}) does not serve {}, which this configuration needs",
                    store.backend_name(),
                    feature.name()
                )));
            }
        }
        let mut engine = TokenEngine::new(config.tokens.clone())?;
        if features.contains(Feature::Blacklist) {
            let blacklist: Arc<dyn BlacklistStore> = Arc::new(Arc::clone(&store));
            engine = engine.with_blacklist(blacklist);
        }
        Ok(AuthService {
            inner: Arc::new(Inner {
                store,
                config,
                engine,
                hasher,
                claims,
            }),
        })
    }

    /// The same service hashing with `hasher` (say, cheaper parameters in
    /// tests, or argon2-cffi's for parity).
    pub fn with_hasher(self, hasher: PasswordHasher) -> Self {
        let inner = &self.inner;
        AuthService {
            inner: Arc::new(Inner {
                store: Arc::clone(&inner.store),
                config: inner.config.clone(),
                engine: inner.engine.clone(),
                hasher,
                claims: inner.claims.clone(),
            }),
        }
    }

    /// The same service with the app's custom-claims hook.
    pub fn with_claims_provider(self, provider: Arc<dyn ClaimsProvider>) -> Self {
        let inner = &self.inner;
        AuthService {
            inner: Arc::new(Inner {
                store: Arc::clone(&inner.store),
                config: inner.config.clone(),
                engine: inner.engine.clone(),
                hasher: inner.hasher.clone(),
                claims: Some(provider),
            }),
        }
    }

    /// The store.
    pub fn store(&self) -> &Arc<dyn Store> {
        &self.inner.store
    }

    /// The configuration.
    pub fn config(&self) -> &FlowConfig {
        &self.inner.config
    }

    /// The token engine (with the store's blacklist attached).
    pub fn engine(&self) -> &TokenEngine {
        &self.inner.engine
    }

    /// The password hasher.
    pub fn hasher(&self) -> &PasswordHasher {
        &self.inner.hasher
    }

    fn serves(&self, feature: Feature) -> bool {
        self.inner.store.features().contains(feature)
    }

    // ---- protections ---------------------------------------------------

    /// Counts one request against a rate-limit bucket for this client.
    /// Nothing when rate limits are off. Fails open, as the reference: a
    /// store error is logged and the request allowed.
    ///
    /// # Errors
    /// [`FlowError::RateLimited`] (429) when the bucket is full.
    pub async fn rate_limit(
        &self,
        bucket: RateLimitBucket,
        ctx: &ClientContext,
    ) -> Result<(), FlowError> {
        let Some(limits) = &self.inner.config.rate_limits else {
            return Ok(());
        };
        let Some(key) = ctx.rate_limit_key(bucket) else {
            return Ok(());
        };
        let policy = limits.policy(bucket);
        match self.inner.store.hit(&key, policy).await {
            Ok(decision) if decision.allowed => Ok(()),
            Ok(decision) => {
                tracing::warn!(bucket = bucket.name(), "auth rate limit exceeded");
                Err(FlowError::RateLimited {
                    bucket,
                    limit: policy.limit,
                    retry_after: decision.retry_after,
                })
            }
            Err(e) => {
                tracing::error!(error = %e, "rate limiter failed; allowing the request");
                Ok(())
            }
        }
    }

    /// True while the lockout key is locked (false when lockout is off, or
    /// the store fails: lockout fails open, as the reference).
    async fn is_locked(&self, key: Option<&StateKey>) -> bool {
        let (Some(_), Some(key)) = (&self.inner.config.lockout, key) else {
            return false;
        };
        match self.inner.store.is_locked(key).await {
            Ok(locked) => locked,
            Err(e) => {
                tracing::error!(error = %e, "lockout check failed; treating as unlocked");
                false
            }
        }
    }

    async fn record_failure(&self, key: Option<&StateKey>) -> Option<LockoutOutcome> {
        let (Some(policy), Some(key)) = (self.inner.config.lockout, key) else {
            return None;
        };
        match self.inner.store.record_failure(key, policy).await {
            Ok(outcome) => Some(outcome),
            Err(e) => {
                tracing::error!(error = %e, "recording a lockout failure failed");
                None
            }
        }
    }

    async fn clear_lockout(&self, key: Option<&StateKey>) {
        let (Some(_), Some(key)) = (&self.inner.config.lockout, key) else {
            return;
        };
        if let Err(e) = self.inner.store.clear_lockout(key).await {
            tracing::error!(error = %e, "clearing a lockout failed");
        }
    }

    // ---- registration --------------------------------------------------

    /// Registers an account (`POST /register`): the `register` bucket, the
    /// password policy, the email (and login field) uniqueness, the hash,
    /// the insert. In enumeration-safe mode (the default) a taken email
    /// answers [`Registration::Accepted`] like a new one, after hashing the
    /// password all the same so both paths take the same time.
    ///
    /// # Errors
    /// [`FlowError::RateLimited`]; [`FlowError::InvalidPassword`] (422);
    /// [`FlowError::InvalidInput`] for an email or column value the store
    /// refuses; [`FlowError::UserAlreadyExists`] (409) when enumeration is
    /// allowed.
    pub async fn register(
        &self,
        ctx: &ClientContext,
        request: RegisterRequest,
    ) -> Result<Registration, FlowError> {
        self.rate_limit(RateLimitBucket::Register, ctx).await?;
        let config = &self.inner.config;
        config.password_policy.validate(&request.password)?;
        let email = Email::new(&request.email).map_err(FlowError::from_input)?;
        let store = &self.inner.store;
        let mut taken = store.get_user_by_email(&email).await?.is_some();
        if let (false, LoginField::Column(column)) = (taken, &config.login_field) {
            if let Some(value) = request.extra.get(column).filter(|v| !v.is_null()) {
                let lookup =
                    UserLookup::parse(column, value.clone()).map_err(FlowError::from_input)?;
                taken = store.get_user_by_field(&lookup).await?.is_some();
            }
        }
        let safe = config.prevent_registration_enumeration;
        if taken {
            tracing::warn!("registration refused: the account exists");
            if safe {
                // Same work as the success path, so timing reveals nothing.
                let _ = self.inner.hasher.hash(&request.password).await?;
                return Ok(Registration::Accepted { created: None });
            }
            return Err(FlowError::UserAlreadyExists);
        }
        let hash = self.inner.hasher.hash(&request.password).await?;
        let mut new = NewUser::new(email.as_str())
            .map_err(FlowError::from_input)?
            .with_password_hash(hash);
        new.extra = request.extra;
        match store.create_user(new).await {
            Ok(user) => {
                tracing::info!(user_id = %user.id, "user registered");
                Ok(if safe {
                    Registration::Accepted {
                        created: Some(user),
                    }
                } else {
                    Registration::Created(user)
                })
            }
            Err(e) if e.is_conflict(fullauth_api::ConflictKind::Email) => {
                if safe {
                    Ok(Registration::Accepted { created: None })
                } else {
                    Err(FlowError::UserAlreadyExists)
                }
            }
            Err(e) => Err(FlowError::from_input(e)),
        }
    }

    // ---- login ---------------------------------------------------------

    /// The lockout key of a login identifier: the normalised email, or the
    /// raw identifier for another login field.
    fn login_lockout_key(&self, identifier: &str) -> Option<StateKey> {
        let raw = match &self.inner.config.login_field {
            LoginField::Email => fullauth_api::validate::normalize_email(identifier).ok()?,
            LoginField::Column(_) => identifier.to_string(),
        };
        StateKey::new(raw).ok()
    }

    /// The user a login names, with its role names, in one store call
    /// ([`fullauth_api::UserStore::get_principal`]).
    async fn find_login_user(
        &self,
        identifier: &str,
    ) -> Result<Option<(User, Vec<String>)>, FlowError> {
        let lookup = match &self.inner.config.login_field {
            LoginField::Email => match Email::new(identifier) {
                Ok(email) => UserLookup::Email(email),
                Err(_) => return Ok(None),
            },
            LoginField::Column(column) => match UserLookup::parse(column, identifier) {
                Ok(lookup) => lookup,
                Err(_) => return Ok(None),
            },
        };
        self.principal(&lookup).await
    }

    /// A user and its role names in one store call.
    async fn principal(
        &self,
        lookup: &UserLookup,
    ) -> Result<Option<(User, Vec<String>)>, FlowError> {
        Ok(self.inner.store.get_principal(lookup).await?.map(|p| {
            let roles = p.roles.into_iter().map(RoleName::into_string).collect();
            (p.user, roles)
        }))
    }

    /// Password sign-in (`POST /login`), in the reference's order: the
    /// `login` bucket → the user lookup (on every attempt) → the lockout →
    /// the password length cap (a failure, no hashing) → a dummy
    /// verification for an unknown user or one without a password → the
    /// verification → the active check (no failure recorded) → rehash when
    /// the stored hash is weaker than the hasher's (errors swallowed) → the
    /// lockout cleared → the MFA gate → custom claims and a new session.
    ///
    /// **Deliberate difference:** the reference stores a refresh row before
    /// its MFA gate, leaving an orphan session that is never handed out.
    /// Here a user with a confirmed factor gets [`LoginOutcome::MfaRequired`]
    /// and nothing is stored until [`AuthService::mfa_verify`] succeeds.
    ///
    /// # Errors
    /// [`FlowError::RateLimited`]; [`FlowError::AccountLocked`],
    /// [`FlowError::InvalidCredentials`] and [`FlowError::InactiveUser`], all
    /// the same 401 to the client.
    pub async fn login(
        &self,
        ctx: &ClientContext,
        identifier: &str,
        password: &str,
    ) -> Result<LoginOutcome, FlowError> {
        self.rate_limit(RateLimitBucket::Login, ctx).await?;
        let (user, roles) = match self.find_login_user(identifier).await? {
            Some((user, roles)) => (Some(user), roles),
            None => (None, Vec::new()),
        };
        let key = self.login_lockout_key(identifier);
        if self.is_locked(key.as_ref()).await {
            tracing::warn!("login blocked: account locked");
            return Err(FlowError::AccountLocked { until: None });
        }
        let config = &self.inner.config;
        let hasher = &self.inner.hasher;
        if config.password_policy.exceeds_max(password) {
            return Err(self.login_failure(key.as_ref()).await);
        }
        let hash = match &user {
            Some(user) => match self.inner.store.get_password_hash(&user.id).await {
                Ok(hash) => hash,
                Err(e) if e.is_not_found(fullauth_api::Entity::User) => None,
                Err(e) => return Err(e.into()),
            },
            None => None,
        };
        let (Some(user), Some(hash)) = (user, hash) else {
            if config.prevent_login_timing_attacks {
                hasher.dummy_verify(password).await?;
            }
            tracing::warn!("login failed: unknown user or no password");
            return Err(self.login_failure(key.as_ref()).await);
        };
        if !hasher.verify(password, &hash).await? {
            tracing::warn!(user_id = %user.id, "login failed: wrong password");
            return Err(self.login_failure(key.as_ref()).await);
        }
        if !user.is_active {
            tracing::warn!(user_id = %user.id, "login failed: account deactivated");
            return Err(FlowError::InactiveUser);
        }
        if hasher.needs_rehash(&hash) {
            match hasher.hash(password).await {
                Ok(new_hash) => {
                    if let Err(e) = self
                        .inner
                        .store
                        .set_password_hash(&user.id, Some(new_hash))
                        .await
                    {
                        tracing::error!(user_id = %user.id, error = %e, "password rehash failed");
                    }
                }
                Err(e) => tracing::error!(user_id = %user.id, error = %e, "password rehash failed"),
            }
        }
        self.clear_lockout(key.as_ref()).await;
        if let Some(mfa_token) = self.mfa_gate(&user).await? {
            return Ok(LoginOutcome::MfaRequired { mfa_token, user });
        }
        let extra = self.custom_claims(&user).await?;
        let tokens = self.issue_pair_with_roles(&user, roles, ctx, extra).await?;
        tracing::info!(user_id = %user.id, "login successful");
        Ok(LoginOutcome::SignedIn(SignedIn { tokens, user }))
    }

    async fn login_failure(&self, key: Option<&StateKey>) -> FlowError {
        match self.record_failure(key).await {
            Some(LockoutOutcome::Locked { until }) => {
                tracing::warn!("login lockout threshold reached");
                FlowError::AccountLocked { until: Some(until) }
            }
            _ => FlowError::InvalidCredentials,
        }
    }

    /// The `mfa_pending` token when the user has a confirmed factor.
    async fn mfa_gate(&self, user: &User) -> Result<Option<String>, FlowError> {
        if !self.serves(Feature::Mfa) {
            return Ok(None);
        }
        match self.inner.store.get_mfa(&user.id).await? {
            Some(factor) if factor.is_confirmed() => {
                let token = self.inner.engine.mint_purpose(
                    &user.id.to_string(),
                    PURPOSE_MFA_PENDING,
                    Map::new(),
                    self.inner.config.mfa_pending_ttl,
                )?;
                Ok(Some(token.token))
            }
            _ => Ok(None),
        }
    }

    /// The app's custom claims for this user (empty without a provider).
    ///
    /// # Errors
    /// [`FlowError::Claims`] when the provider fails or uses a reserved key.
    pub async fn custom_claims(&self, user: &User) -> Result<Map<String, Value>, FlowError> {
        let Some(provider) = &self.inner.claims else {
            return Ok(Map::new());
        };
        let claims = provider.claims(user).await?;
        let mut reserved: Vec<&str> = RESERVED_CLAIMS
            .iter()
            .copied()
            .filter(|k| claims.contains_key(*k))
            .collect();
        if !reserved.is_empty() {
            reserved.sort_unstable();
            return Err(FlowError::Claims(format!(
                "Custom claims contain reserved keys: {}",
                reserved.join(", ")
            )));
        }
        Ok(claims)
    }

    async fn roles_of(&self, user_id: &UserId) -> Result<Vec<String>, FlowError> {
        if !self.serves(Feature::Roles) {
            return Ok(Vec::new());
        }
        Ok(self
            .inner
            .store
            .get_user_roles(user_id)
            .await?
            .into_iter()
            .map(RoleName::into_string)
            .collect())
    }

    fn token_pair(&self, access: String, refresh: String, family_id: FamilyId) -> TokenPair {
        TokenPair {
            access_token: access,
            refresh_token: refresh,
            token_type: "bearer".into(),
            expires_in: self.inner.config.tokens.access_ttl.as_secs(),
            family_id,
        }
    }

    /// Starts a new session for `user` (`issue_token_pair`): the user's roles,
    /// a new family, `auth_time` now, and the refresh row (its digest) with
    /// the client's metadata. Used by login and MFA verification; passkey and
    /// OAuth sign-ins call it too (the reference passes no custom claims
    /// there).
    ///
    /// # Errors
    /// [`FlowError::Store`] when the row cannot be written.
    pub async fn issue_token_pair(
        &self,
        user: &User,
        ctx: &ClientContext,
        extra: Map<String, Value>,
    ) -> Result<TokenPair, FlowError> {
        let roles = self.roles_of(&user.id).await?;
        self.issue_pair_with_roles(user, roles, ctx, extra).await
    }

    /// [`issue_token_pair`](Self::issue_token_pair) with the role names
    /// already read (login reads them with the user, in one call).
    async fn issue_pair_with_roles(
        &self,
        user: &User,
        roles: Vec<String>,
        ctx: &ClientContext,
        extra: Map<String, Value>,
    ) -> Result<TokenPair, FlowError> {
        let pair = self
            .inner
            .engine
            .mint_pair(&user.id.to_string(), roles, extra, None, None)?;
        self.inner
            .store
            .store_refresh_token(NewRefreshToken {
                digest: TokenDigest::of(&pair.refresh.token),
                user_id: user.id.clone(),
                family_id: pair.family_id.clone(),
                expires_at: pair.refresh.claims.expires_at(),
                client: ctx.client_info(),
            })
            .await?;
        Ok(self.token_pair(pair.access.token, pair.refresh.token, pair.family_id))
    }

    // ---- refresh -------------------------------------------------------

    /// Exchanges a refresh token (`POST /refresh`): the `refresh` bucket →
    /// decode (signature, expiry, blacklist of `jti` and family) → the user
    /// exists and is active → a stored row exists → rotate atomically in the
    /// store (same family, `auth_time` carried over, custom claims rebuilt).
    ///
    /// A token that was already rotated (or lost a concurrent rotation) is a
    /// reuse: the store revokes the whole family and its key is blacklisted
    /// for the access lifetime plus leeway, so the family's access tokens die
    /// too. The rotated token itself is not blacklisted: its revoked row is
    /// what detects a replay. With rotation off, a new access token comes
    /// with the same refresh token.
    ///
    /// # Errors
    /// [`FlowError::RateLimited`]; [`FlowError::InvalidToken`];
    /// [`FlowError::InactiveUser`]; [`FlowError::TokenReused`]; all 401
    /// except the first.
    pub async fn refresh(
        &self,
        ctx: &ClientContext,
        refresh_token: &str,
    ) -> Result<TokenPair, FlowError> {
        self.rate_limit(RateLimitBucket::Refresh, ctx).await?;
        let engine = &self.inner.engine;
        let store = &self.inner.store;
        let claims = engine.decode(refresh_token, Expect::Refresh).await?;
        let user_id = claims.user_id(self.inner.store.user_id_type())?;
        let (user, roles) = match self.principal(&UserLookup::Id(user_id)).await? {
            Some((u, roles)) if u.is_active => (u, roles),
            _ => return Err(FlowError::InactiveUser),
        };
        let digest = TokenDigest::of(refresh_token);
        let Some(stored) = store.get_refresh_token(&digest).await? else {
            return Err(FlowError::InvalidToken(TokenRejection::NotStored));
        };
        let extra = self.custom_claims(&user).await?;
        let auth_time = Some(claims.auth_time_or_iat());
        let sub = user.id.to_string();

        if !self.inner.config.refresh_rotation {
            if stored.revoked {
                return Err(FlowError::InvalidToken(TokenRejection::Revoked));
            }
            let access =
                engine.mint_access(&sub, roles, extra, Some(&stored.family_id), auth_time)?;
            return Ok(self.token_pair(access.token, refresh_token.to_string(), stored.family_id));
        }

        let pair = engine.mint_pair(
            &sub,
            roles,
            extra,
            Some(stored.family_id.clone()),
            auth_time,
        )?;
        let next = NextRefreshToken {
            digest: TokenDigest::of(&pair.refresh.token),
            expires_at: pair.refresh.claims.expires_at(),
            client: ctx.client_info(),
        };
        match store.rotate_refresh_token(&digest, next).await? {
            Rotation::Rotated(_) => {
                Ok(self.token_pair(pair.access.token, pair.refresh.token, pair.family_id))
            }
            Rotation::Reused { family_id, .. } => {
                tracing::error!(family_id = %family_id, "refresh token reuse; family revoked");
                engine.revoke_family(&family_id).await?;
                Err(FlowError::TokenReused { family_id })
            }
            Rotation::Expired => Err(FlowError::InvalidToken(TokenRejection::Expired)),
            Rotation::NotFound => Err(FlowError::InvalidToken(TokenRejection::NotStored)),
        }
    }

    // ---- the current user ----------------------------------------------

    /// The caller behind a session access token (`current_user`): decoded as
    /// a session token (purpose-scoped tokens refused), and the user must
    /// exist and be active. The session's row is not consulted: an access
    /// token lives until `exp` unless its `jti` or family is blacklisted.
    ///
    /// # Errors
    /// [`FlowError::InvalidToken`] or [`FlowError::InactiveUser`] (401).
    pub async fn authenticate(&self, access_token: &str) -> Result<AuthenticatedUser, FlowError> {
        let claims = self
            .inner
            .engine
            .decode(access_token, Expect::Session)
            .await?;
        let user_id = claims.user_id(self.inner.store.user_id_type())?;
        match self.inner.store.get_user(&user_id).await? {
            Some(user) if user.is_active => Ok(AuthenticatedUser { user, claims }),
            _ => Err(FlowError::InactiveUser),
        }
    }

    /// The verified-user requirement.
    ///
    /// # Errors
    /// [`FlowError::Forbidden`] (403) unless `is_verified`.
    pub fn require_verified(&self, user: &User) -> Result<(), FlowError> {
        if user.is_verified {
            Ok(())
        } else {
            Err(FlowError::Forbidden)
        }
    }

    /// The superuser requirement.
    ///
    /// # Errors
    /// [`FlowError::Forbidden`] (403) unless `is_superuser`.
    pub fn require_superuser(&self, user: &User) -> Result<(), FlowError> {
        if user.is_superuser {
            Ok(())
        } else {
            Err(FlowError::Forbidden)
        }
    }

    /// `require_role`: a superuser passes; otherwise the user must have at
    /// least one of `roles`, read from the store (not from the token's
    /// `roles` claim).
    ///
    /// # Errors
    /// [`FlowError::Forbidden`] (403).
    pub async fn require_role(&self, user: &User, roles: &[&str]) -> Result<(), FlowError> {
        if user.is_superuser {
            return Ok(());
        }
        let have = self.roles_of(&user.id).await?;
        if have.iter().any(|r| roles.contains(&r.as_str())) {
            Ok(())
        } else {
            Err(FlowError::Forbidden)
        }
    }

    /// `require_permission`: a superuser passes; otherwise one of the user's
    /// roles must grant at least one of `permissions`.
    ///
    /// # Errors
    /// [`FlowError::Forbidden`] (403); [`FlowError::Unsupported`] when the
    /// store does not serve permissions.
    pub async fn require_permission(
        &self,
        user: &User,
        permissions: &[&str],
    ) -> Result<(), FlowError> {
        if user.is_superuser {
            return Ok(());
        }
        if !self.serves(Feature::Permissions) {
            return Err(FlowError::Unsupported(Feature::Permissions));
        }
        let have = self.inner.store.get_user_permissions(&user.id).await?;
        if have.iter().any(|p| permissions.contains(&p.as_str())) {
            Ok(())
        } else {
            Err(FlowError::Forbidden)
        }
    }

    // ---- logout and sessions -------------------------------------------

    async fn end_family(&self, family_id: &FamilyId) -> Result<(), FlowError> {
        self.inner.store.revoke_family(family_id).await?;
        self.inner.engine.revoke_family(family_id).await
    }

    /// Ends the session of a decoded session access token (`logout`): its
    /// `jti` is blacklisted for its remaining life; its family is revoked in
    /// the store and blacklisted. A token without a family (older tokens)
    /// ends the family of `refresh_token` instead, when that row is the
    /// caller's.
    ///
    /// # Errors
    /// [`FlowError::Store`] when the store or the blacklist fails.
    pub async fn logout(
        &self,
        access: &Claims,
        refresh_token: Option<&str>,
    ) -> Result<(), FlowError> {
        self.inner.engine.blacklist_claims(access).await?;
        if let Some(family) = access.family() {
            self.end_family(&family).await?;
        } else if let Some(refresh) = refresh_token {
            let stored = self
                .inner
                .store
                .get_refresh_token(&TokenDigest::of(refresh))
                .await?;
            match stored {
                Some(row) if row.user_id.to_string() == access.sub => {
                    self.end_family(&row.family_id).await?;
                }
                Some(_) => tracing::warn!("logout ignored a refresh token of another user"),
                None => {}
            }
        }
        tracing::info!(sub = %access.sub, "logout");
        Ok(())
    }

    /// Ends a session through its refresh token alone (an expired access
    /// token): the token must decode as a refresh token and its stored row
    /// must belong to its subject; the family is revoked and blacklisted.
    /// Returns the refresh token's claims.
    ///
    /// # Errors
    /// [`FlowError::InvalidToken`] (401).
    pub async fn logout_with_refresh_token(
        &self,
        refresh_token: &str,
    ) -> Result<Claims, FlowError> {
        let claims = self
            .inner
            .engine
            .decode(refresh_token, Expect::Refresh)
            .await?;
        let stored = self
            .inner
            .store
            .get_refresh_token(&TokenDigest::of(refresh_token))
            .await?;
        match stored {
            Some(row) if row.user_id.to_string() == claims.sub => {
                self.end_family(&row.family_id).await?;
                Ok(claims)
            }
            _ => Err(FlowError::InvalidToken(TokenRejection::NotStored)),
        }
    }

    /// `POST /logout` as the route does it: with a usable session access
    /// token, [`logout`](Self::logout); otherwise with a refresh token,
    /// [`logout_with_refresh_token`](Self::logout_with_refresh_token);
    /// otherwise 401. Returns the subject whose session ended.
    ///
    /// # Errors
    /// [`FlowError::InvalidToken`] (401) when neither token ends a session.
    pub async fn sign_out(
        &self,
        access_token: Option<&str>,
        refresh_token: Option<&str>,
    ) -> Result<String, FlowError> {
        let session = match access_token {
            Some(token) => self.inner.engine.decode(token, Expect::Session).await.ok(),
            None => None,
        };
        if let Some(claims) = session {
            self.logout(&claims, refresh_token).await?;
            return Ok(claims.sub);
        }
        match refresh_token {
            Some(refresh) => Ok(self.logout_with_refresh_token(refresh).await?.sub),
            None => Err(FlowError::InvalidToken(TokenRejection::Malformed)),
        }
    }

    /// The user's live sessions, newest first, `current` set on the family
    /// named by `current_family` (the caller's access token).
    ///
    /// # Errors
    /// [`FlowError::Store`].
    pub async fn list_sessions(
        &self,
        user_id: &UserId,
        current_family: Option<&str>,
    ) -> Result<Vec<SessionInfo>, FlowError> {
        Ok(self
            .inner
            .store
            .list_sessions(user_id)
            .await?
            .into_iter()
            .map(|s| SessionInfo::from_session(s, current_family))
            .collect())
    }

    /// Revokes one of the user's sessions and blacklists its family
    /// (`DELETE /sessions/{family_id}`); idempotent while the user owns a
    /// row of it. The caller's own session may be revoked.
    ///
    /// # Errors
    /// [`FlowError::SessionNotFound`] (404).
    pub async fn revoke_session(&self, user_id: &UserId, family_id: &str) -> Result<(), FlowError> {
        let family = FamilyId::new(family_id).map_err(|_| FlowError::SessionNotFound)?;
        if !self.inner.store.revoke_session(user_id, &family).await? {
            return Err(FlowError::SessionNotFound);
        }
        self.inner.engine.revoke_family(&family).await
    }

    /// Revokes every other session (`POST /sessions/revoke-others`): each
    /// other live family is blacklisted, then revoked in the store. Returns
    /// how many sessions were signed out — sessions, where the reference
    /// counts token rows.
    ///
    /// # Errors
    /// [`FlowError::InvalidToken`] (401) when the caller's token names no
    /// session.
    pub async fn revoke_other_sessions(
        &self,
        user_id: &UserId,
        current_family: Option<&str>,
    ) -> Result<u64, FlowError> {
        let keep = current_family
            .filter(|f| !f.is_empty())
            .and_then(|f| FamilyId::new(f).ok())
            .ok_or(FlowError::InvalidToken(TokenRejection::InvalidClaims(
                "family_id",
            )))?;
        for session in self.inner.store.list_sessions(user_id).await? {
            if session.family_id != keep {
                self.inner.engine.revoke_family(&session.family_id).await?;
            }
        }
        Ok(self
            .inner
            .store
            .revoke_other_sessions(user_id, &keep)
            .await?)
    }

    /// Blacklists every live family of the user, then revokes all their
    /// refresh tokens (password change and reset).
    async fn end_all_sessions(&self, user_id: &UserId) -> Result<(), FlowError> {
        for session in self.inner.store.list_sessions(user_id).await? {
            self.inner.engine.revoke_family(&session.family_id).await?;
        }
        self.inner.store.revoke_all_for_user(user_id).await?;
        Ok(())
    }

    // ---- email verification --------------------------------------------

    /// An email-verification token for the user, or `None` when there is
    /// nothing to verify (unknown or already verified user). No rate limit;
    /// see [`request_email_verification`](Self::request_email_verification).
    ///
    /// # Errors
    /// [`FlowError::Store`].
    pub async fn create_email_verification_token(
        &self,
        user_id: &UserId,
    ) -> Result<Option<String>, FlowError> {
        match self.inner.store.get_user(user_id).await? {
            Some(user) if !user.is_verified => Ok(Some(
                self.inner
                    .engine
                    .mint_purpose(
                        &user.id.to_string(),
                        PURPOSE_EMAIL_VERIFY,
                        Map::new(),
                        self.inner.config.email_verify_ttl,
                    )?
                    .token,
            )),
            _ => Ok(None),
        }
    }

    /// `POST /verify-email/request`: the `password-reset` bucket, then
    /// [`create_email_verification_token`](Self::create_email_verification_token).
    /// The route answers 202 either way and never returns the token.
    ///
    /// # Errors
    /// [`FlowError::RateLimited`]; [`FlowError::Store`].
    pub async fn request_email_verification(
        &self,
        ctx: &ClientContext,
        user_id: &UserId,
    ) -> Result<Option<String>, FlowError> {
        self.rate_limit(RateLimitBucket::PasswordReset, ctx).await?;
        self.create_email_verification_token(user_id).await
    }

    /// `POST /verify-email/confirm`: the bucket → decode (purpose
    /// `email_verify`) → the user exists → the token is burned → the user is
    /// active → verified (a no-op when already verified). Returns the user.
    ///
    /// # Errors
    /// [`FlowError::RateLimited`]; [`FlowError::InvalidToken`] or
    /// [`FlowError::InactiveUser`] (401).
    pub async fn verify_email(&self, ctx: &ClientContext, token: &str) -> Result<User, FlowError> {
        self.rate_limit(RateLimitBucket::PasswordReset, ctx).await?;
        let engine = &self.inner.engine;
        let claims = engine
            .decode(token, Expect::Purpose(PURPOSE_EMAIL_VERIFY))
            .await?;
        let user_id = claims.user_id(self.inner.store.user_id_type())?;
        let Some(mut user) = self.inner.store.get_user(&user_id).await? else {
            return Err(FlowError::InactiveUser);
        };
        engine.blacklist_claims(&claims).await?;
        if !user.is_active {
            return Err(FlowError::InactiveUser);
        }
        if !user.is_verified {
            self.inner.store.mark_verified(&user.id).await?;
            user.is_verified = true;
            tracing::info!(user_id = %user.id, "email verified");
        }
        Ok(user)
    }

    // ---- password reset and change -------------------------------------

    fn password_fingerprint(hash: Option<&str>) -> String {
        let digest = Sha256::digest(hash.unwrap_or("").as_bytes());
        let mut hex = String::with_capacity(32);
        for b in digest.iter().take(16) {
            hex.push_str(&format!("{b:02x}"));
        }
        hex
    }

    /// `POST /password-reset/request`: the `password-reset` bucket, then a
    /// reset token (purpose `password_reset`, `pwd` = the fingerprint of the
    /// current hash) for the account of `email`, or `None` for an unknown
    /// email. The route answers 202 either way.
    ///
    /// # Errors
    /// [`FlowError::RateLimited`]; [`FlowError::Store`].
    pub async fn request_password_reset(
        &self,
        ctx: &ClientContext,
        email: &str,
    ) -> Result<Option<PasswordResetRequest>, FlowError> {
        self.rate_limit(RateLimitBucket::PasswordReset, ctx).await?;
        let Ok(email) = Email::new(email) else {
            return Ok(None);
        };
        let Some(user) = self.inner.store.get_user_by_email(&email).await? else {
            return Ok(None);
        };
        let hash = self.inner.store.get_password_hash(&user.id).await?;
        let mut companions = Map::new();
        companions.insert(
            "pwd".into(),
            Value::String(Self::password_fingerprint(
                hash.as_ref().map(|h| h.as_str()),
            )),
        );
        let token = self
            .inner
            .engine
            .mint_purpose(
                &user.id.to_string(),
                PURPOSE_PASSWORD_RESET,
                companions,
                self.inner.config.password_reset_ttl,
            )?
            .token;
        Ok(Some(PasswordResetRequest { user, token }))
    }

    /// `POST /password-reset/confirm`: the bucket → decode (purpose
    /// `password_reset`) → the policy → the user exists → active (else the
    /// token is burned) → the fingerprint still matches the stored hash
    /// (else burned: any password change makes every outstanding link stale)
    /// → new hash → token burned → every session ended. The lockout is not
    /// cleared.
    ///
    /// # Errors
    /// [`FlowError::RateLimited`]; [`FlowError::InvalidToken`] or
    /// [`FlowError::InactiveUser`] (401); [`FlowError::InvalidPassword`]
    /// (422).
    pub async fn reset_password(
        &self,
        ctx: &ClientContext,
        token: &str,
        new_password: &str,
    ) -> Result<User, FlowError> {
        self.rate_limit(RateLimitBucket::PasswordReset, ctx).await?;
        let engine = &self.inner.engine;
        let store = &self.inner.store;
        let claims = engine
            .decode(token, Expect::Purpose(PURPOSE_PASSWORD_RESET))
            .await?;
        self.inner.config.password_policy.validate(new_password)?;
        let user_id = claims.user_id(self.inner.store.user_id_type())?;
        let Some(user) = store.get_user(&user_id).await? else {
            return Err(FlowError::InactiveUser);
        };
        if !user.is_active {
            engine.blacklist_claims(&claims).await?;
            return Err(FlowError::InactiveUser);
        }
        let current = store.get_password_hash(&user.id).await?;
        let expected = Self::password_fingerprint(current.as_ref().map(|h| h.as_str()));
        let presented = claims.extra_value("pwd").and_then(Value::as_str);
        if !presented
            .is_some_and(|p| fullauth_api::constant_time_eq(p.as_bytes(), expected.as_bytes()))
        {
            engine.blacklist_claims(&claims).await?;
            tracing::warn!(user_id = %user.id, "password reset refused: stale token");
            return Err(FlowError::InvalidToken(TokenRejection::Stale));
        }
        let hash = self.inner.hasher.hash(new_password).await?;
        store.set_password_hash(&user.id, Some(hash)).await?;
        engine.blacklist_claims(&claims).await?;
        self.end_all_sessions(&user.id).await?;
        tracing::info!(user_id = %user.id, "password reset");
        Ok(user)
    }

    /// Proof of presence (`verify_recent_auth`): a non-empty current
    /// password that verifies against the stored hash, or — without one, or
    /// without a stored hash — a session whose `auth_time` (else `iat`) is
    /// within `reauth_max_age`.
    ///
    /// # Errors
    /// [`FlowError::Reauth`] (403): `WrongPassword` for a wrong or too long
    /// password (no fall-back to the session's age), `Required` otherwise.
    pub async fn verify_recent_auth(
        &self,
        caller: &AuthenticatedUser,
        current_password: Option<&str>,
    ) -> Result<(), FlowError> {
        let hash = self.inner.store.get_password_hash(&caller.user.id).await?;
        if let (Some(hash), Some(password)) = (&hash, current_password.filter(|p| !p.is_empty())) {
            if self.inner.config.password_policy.exceeds_max(password) {
                return Err(FlowError::Reauth(ReauthFailure::WrongPassword));
            }
            return if self.inner.hasher.verify(password, hash).await? {
                Ok(())
            } else {
                Err(FlowError::Reauth(ReauthFailure::WrongPassword))
            };
        }
        self.check_fresh(&caller.claims)
    }

    fn check_fresh(&self, claims: &Claims) -> Result<(), FlowError> {
        let max_age = self.inner.config.reauth_max_age.as_secs_f64();
        if max_age > 0.0 {
            let age = unix_now() - claims.auth_time_or_iat() as f64;
            if age <= max_age {
                return Ok(());
            }
        }
        Err(FlowError::Reauth(ReauthFailure::Required))
    }

    /// `POST /change-password`: the `reauth` bucket → a user without a
    /// password (setting a first one) needs a fresh session → a stored
    /// password needs the current one → the policy → the new hash → every
    /// session ended, the caller's own included (no new tokens).
    ///
    /// # Errors
    /// [`FlowError::RateLimited`]; [`FlowError::Reauth`] (403);
    /// [`FlowError::CurrentPasswordIncorrect`] (400);
    /// [`FlowError::InvalidPassword`] (422).
    pub async fn change_password(
        &self,
        ctx: &ClientContext,
        caller: &AuthenticatedUser,
        current_password: Option<&str>,
        new_password: &str,
    ) -> Result<(), FlowError> {
        self.rate_limit(RateLimitBucket::Reauth, ctx).await?;
        let store = &self.inner.store;
        let user_id = &caller.user.id;
        let hash = store.get_password_hash(user_id).await?;
        match &hash {
            None => self.check_fresh(&caller.claims)?,
            Some(hash) => {
                let ok = match current_password.filter(|p| !p.is_empty()) {
                    Some(p) => self.inner.hasher.verify(p, hash).await?,
                    None => false,
                };
                if !ok {
                    tracing::warn!(user_id = %user_id, "password change refused: wrong current password");
                    return Err(FlowError::CurrentPasswordIncorrect);
                }
            }
        }
        self.inner.config.password_policy.validate(new_password)?;
        let new_hash = self.inner.hasher.hash(new_password).await?;
        store.set_password_hash(user_id, Some(new_hash)).await?;
        self.end_all_sessions(user_id).await?;
        tracing::info!(user_id = %user_id, "password changed");
        Ok(())
    }

    /// `DELETE /me`: the `reauth` bucket → proof of presence → every refresh
    /// token revoked → the user deleted (with every dependent row).
    ///
    /// # Errors
    /// [`FlowError::RateLimited`]; [`FlowError::Reauth`] (403).
    pub async fn delete_account(
        &self,
        ctx: &ClientContext,
        caller: &AuthenticatedUser,
        current_password: Option<&str>,
    ) -> Result<(), FlowError> {
        self.rate_limit(RateLimitBucket::Reauth, ctx).await?;
        self.verify_recent_auth(caller, current_password).await?;
        let store = &self.inner.store;
        store.revoke_all_for_user(&caller.user.id).await?;
        store.delete_user(&caller.user.id).await?;
        tracing::info!(user_id = %caller.user.id, "account deleted");
        Ok(())
    }

    // ---- MFA -----------------------------------------------------------

    fn require_mfa(&self) -> Result<(), FlowError> {
        if self.serves(Feature::Mfa) {
            Ok(())
        } else {
            Err(FlowError::Unsupported(Feature::Mfa))
        }
    }

    /// `GET /mfa`.
    ///
    /// # Errors
    /// [`FlowError::Unsupported`] without MFA; [`FlowError::Store`].
    pub async fn mfa_status(&self, user_id: &UserId) -> Result<MfaStatus, FlowError> {
        self.require_mfa()?;
        Ok(match self.inner.store.get_mfa(user_id).await? {
            Some(f) if f.is_confirmed() => MfaStatus {
                enabled: true,
                recovery_codes_remaining: f.recovery_codes.len(),
            },
            _ => MfaStatus {
                enabled: false,
                recovery_codes_remaining: 0,
            },
        })
    }

    /// `POST /mfa/enroll`: proof of presence → refused when a confirmed
    /// factor exists → a new unconfirmed secret (replacing an unconfirmed
    /// one) and its provisioning URI (issuer `mfa_issuer`, `fullauth` when
    /// unset).
    ///
    /// # Errors
    /// [`FlowError::Reauth`] (403); [`FlowError::MfaAlreadyEnabled`] (409).
    pub async fn mfa_enroll(
        &self,
        caller: &AuthenticatedUser,
        current_password: Option<&str>,
    ) -> Result<MfaEnrollment, FlowError> {
        self.require_mfa()?;
        self.verify_recent_auth(caller, current_password).await?;
        let store = &self.inner.store;
        if store
            .get_mfa(&caller.user.id)
            .await?
            .is_some_and(|f| f.is_confirmed())
        {
            return Err(FlowError::MfaAlreadyEnabled);
        }
        let secret = totp::generate_secret()?;
        let stored = fullauth_api::MfaSecret::new(secret.clone()).map_err(FlowError::from_input)?;
        store.store_mfa(&caller.user.id, &stored).await?;
        let issuer = self
            .inner
            .config
            .mfa_issuer
            .as_deref()
            .unwrap_or("fullauth");
        let uri = totp::provisioning_uri(&secret, caller.user.email.as_str(), Some(issuer));
        tracing::info!(user_id = %caller.user.id, "MFA enrolment started");
        Ok(MfaEnrollment {
            secret,
            provisioning_uri: uri,
        })
    }

    /// `POST /mfa/confirm`: the `mfa` bucket → an unconfirmed factor must
    /// exist → the code (as sent, no trimming) must match a step → ten
    /// recovery codes (`xxxx-xxxx-xxxx`, hex) stored as digests → the
    /// matched step spent. Returns the codes, to show once.
    ///
    /// # Errors
    /// [`FlowError::RateLimited`]; [`FlowError::MfaNotStarted`],
    /// [`FlowError::MfaAlreadyConfirmed`], [`FlowError::InvalidMfaCode`]
    /// (400).
    pub async fn mfa_confirm(
        &self,
        ctx: &ClientContext,
        user: &User,
        code: &str,
    ) -> Result<Vec<String>, FlowError> {
        self.require_mfa()?;
        self.rate_limit(RateLimitBucket::Mfa, ctx).await?;
        let store = &self.inner.store;
        let Some(factor) = store.get_mfa(&user.id).await? else {
            return Err(FlowError::MfaNotStarted);
        };
        if factor.is_confirmed() {
            return Err(FlowError::MfaAlreadyConfirmed);
        }
        let now = unix_now().floor() as i64;
        let Some(step) = totp::matching_step(factor.secret.as_str(), code, now) else {
            tracing::warn!(user_id = %user.id, "MFA confirmation failed");
            return Err(FlowError::InvalidMfaCode);
        };
        let mut codes = Vec::with_capacity(RECOVERY_CODE_COUNT);
        for _ in 0..RECOVERY_CODE_COUNT {
            let raw = crate::random::token_hex(6)?;
            codes.push(format!("{}-{}-{}", &raw[0..4], &raw[4..8], &raw[8..12]));
        }
        let digests: Vec<TokenDigest> = codes.iter().map(|c| TokenDigest::of(c)).collect();
        store.confirm_mfa(&user.id, &digests).await?;
        let step = u32::try_from(step).unwrap_or(fullauth_api::MAX_COUNTER);
        store
            .advance_mfa_counter(&user.id, step.min(fullauth_api::MAX_COUNTER))
            .await?;
        tracing::info!(user_id = %user.id, "MFA enabled");
        Ok(codes)
    }

    /// `DELETE /mfa`: proof of presence, then the factor deleted (nothing
    /// enrolled is fine).
    ///
    /// # Errors
    /// [`FlowError::Reauth`] (403).
    pub async fn mfa_disable(
        &self,
        caller: &AuthenticatedUser,
        current_password: Option<&str>,
    ) -> Result<(), FlowError> {
        self.require_mfa()?;
        self.verify_recent_auth(caller, current_password).await?;
        self.inner.store.delete_mfa(&caller.user.id).await?;
        tracing::info!(user_id = %caller.user.id, "MFA disabled");
        Ok(())
    }

    /// `POST /mfa/verify`: the `mfa` bucket → decode the pending token →
    /// lockout key `mfa:<user id>` → the user is active → the code (trimmed,
    /// spaces removed): a TOTP match must win the store's counter
    /// compare-and-set (a code works once), else a recovery code is consumed
    /// (case-sensitive) → on failure a lockout failure is recorded (the
    /// pending token stays usable); on success the lockout is cleared, the
    /// pending token burned and a new session issued.
    ///
    /// # Errors
    /// [`FlowError::RateLimited`]; every other failure is a 401
    /// ([`FlowError::InvalidToken`], [`FlowError::AccountLocked`],
    /// [`FlowError::InactiveUser`], [`FlowError::InvalidCredentials`]).
    pub async fn mfa_verify(
        &self,
        ctx: &ClientContext,
        mfa_token: &str,
        code: &str,
    ) -> Result<SignedIn, FlowError> {
        self.require_mfa()?;
        self.rate_limit(RateLimitBucket::Mfa, ctx).await?;
        let engine = &self.inner.engine;
        let store = &self.inner.store;
        let claims = engine
            .decode(mfa_token, Expect::Purpose(PURPOSE_MFA_PENDING))
            .await?;
        let user_id = claims.user_id(self.inner.store.user_id_type())?;
        let key = StateKey::new(format!("mfa:{user_id}")).ok();
        if self.is_locked(key.as_ref()).await {
            tracing::warn!(user_id = %user_id, "MFA blocked: too many failures");
            return Err(FlowError::AccountLocked { until: None });
        }
        let user = match store.get_user(&user_id).await? {
            Some(u) if u.is_active => u,
            _ => return Err(FlowError::InactiveUser),
        };
        if !self.check_code(&user_id, code).await? {
            return Err(match self.record_failure(key.as_ref()).await {
                Some(LockoutOutcome::Locked { until }) => {
                    FlowError::AccountLocked { until: Some(until) }
                }
                _ => FlowError::InvalidCredentials,
            });
        }
        self.clear_lockout(key.as_ref()).await;
        engine.blacklist_claims(&claims).await?;
        let extra = self.custom_claims(&user).await?;
        let tokens = self.issue_token_pair(&user, ctx, extra).await?;
        tracing::info!(user_id = %user_id, "MFA sign-in completed");
        Ok(SignedIn { tokens, user })
    }

    async fn check_code(&self, user_id: &UserId, code: &str) -> Result<bool, FlowError> {
        let store = &self.inner.store;
        let factor = match store.get_mfa(user_id).await? {
            Some(f) if f.is_confirmed() => f,
            _ => return Ok(false),
        };
        let normalised: String = code.trim().chars().filter(|c| *c != ' ').collect();
        let now = unix_now().floor() as i64;
        if let Some(step) = totp::matching_step(factor.secret.as_str(), &normalised, now) {
            let Ok(step) = u32::try_from(step) else {
                return Ok(false);
            };
            if step > fullauth_api::MAX_COUNTER {
                return Ok(false);
            }
            if store.advance_mfa_counter(user_id, step).await? {
                return Ok(true);
            }
            tracing::warn!(user_id = %user_id, "MFA code replayed");
            return Ok(false);
        }
        if store
            .consume_recovery_code(user_id, &TokenDigest::of(&normalised))
            .await?
        {
            tracing::warn!(user_id = %user_id, "MFA recovery code used");
            return Ok(true);
        }
        tracing::warn!(user_id = %user_id, "MFA verification failed");
        Ok(false)
    }

    // ---- administration --------------------------------------------------

    fn require_roles(&self) -> Result<(), FlowError> {
        if self.serves(Feature::Roles) {
            Ok(())
        } else {
            Err(FlowError::Unsupported(Feature::Roles))
        }
    }

    fn require_permissions(&self) -> Result<(), FlowError> {
        if self.serves(Feature::Permissions) {
            Ok(())
        } else {
            Err(FlowError::Unsupported(Feature::Permissions))
        }
    }

    /// `POST /admin/assign-role`: creates the role on demand. Existing tokens
    /// keep their `roles` claim until the next issue or refresh.
    ///
    /// # Errors
    /// [`FlowError::UserNotFound`] (404); [`FlowError::InvalidInput`] for a
    /// role name out of bounds.
    pub async fn assign_role(&self, user_id: &UserId, role: &str) -> Result<(), FlowError> {
        self.require_roles()?;
        let role = RoleName::new(role).map_err(FlowError::from_input)?;
        match self.inner.store.assign_role(user_id, &role).await {
            Ok(_) => Ok(()),
            Err(e) if e.is_not_found(fullauth_api::Entity::User) => Err(FlowError::UserNotFound),
            Err(e) => Err(e.into()),
        }
    }

    /// `POST /admin/remove-role` (no existence check).
    ///
    /// # Errors
    /// [`FlowError::InvalidInput`] for a role name out of bounds.
    pub async fn remove_role(&self, user_id: &UserId, role: &str) -> Result<(), FlowError> {
        self.require_roles()?;
        let role = RoleName::new(role).map_err(FlowError::from_input)?;
        self.inner.store.remove_role(user_id, &role).await?;
        Ok(())
    }

    /// `POST /admin/assign-permission`: creates both on demand.
    ///
    /// # Errors
    /// [`FlowError::Unsupported`] (501) without permissions;
    /// [`FlowError::InvalidInput`].
    pub async fn assign_permission(&self, role: &str, permission: &str) -> Result<(), FlowError> {
        self.require_permissions()?;
        let role = RoleName::new(role).map_err(FlowError::from_input)?;
        let permission = PermissionName::new(permission).map_err(FlowError::from_input)?;
        self.inner
            .store
            .assign_permission(&role, &permission)
            .await?;
        Ok(())
    }

    /// `POST /admin/remove-permission`.
    ///
    /// # Errors
    /// [`FlowError::Unsupported`] (501) without permissions;
    /// [`FlowError::InvalidInput`].
    pub async fn remove_permission(&self, role: &str, permission: &str) -> Result<(), FlowError> {
        self.require_permissions()?;
        let role = RoleName::new(role).map_err(FlowError::from_input)?;
        let permission = PermissionName::new(permission).map_err(FlowError::from_input)?;
        self.inner
            .store
            .remove_permission(&role, &permission)
            .await?;
        Ok(())
    }

    /// `GET /admin/role-permissions/{role}`: sorted names, `[]` for an
    /// unknown role.
    ///
    /// # Errors
    /// [`FlowError::Unsupported`] (501) without permissions;
    /// [`FlowError::InvalidInput`].
    pub async fn role_permissions(&self, role: &str) -> Result<Vec<String>, FlowError> {
        self.require_permissions()?;
        let role = RoleName::new(role).map_err(FlowError::from_input)?;
        Ok(self
            .inner
            .store
            .get_role_permissions(&role)
            .await?
            .into_iter()
            .map(PermissionName::into_string)
            .collect())
    }
}

impl FlowError {
    /// A store error, with our own validation refusals (bad email, role
    /// name, column value) turned into [`FlowError::InvalidInput`] (422).
    pub(crate) fn from_input(e: StoreError) -> FlowError {
        match e {
            StoreError::InvalidInput { field, reason, .. } => {
                FlowError::InvalidInput { field, reason }
            }
            StoreError::UnknownField { field, .. } | StoreError::ProtectedField { field, .. } => {
                FlowError::InvalidInput {
                    field: "extra",
                    reason: format!("unknown or protected user field `{field}`"),
                }
            }
            other => FlowError::Store(other),
        }
    }
}
