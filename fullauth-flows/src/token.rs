//! The token engine: access, refresh and purpose-scoped JWTs with exactly the
//! reference's claims, decoded with exactly its rules (fastapi-fullauth 0.18
//! `TokenEngine` on PyJWT).
//!
//! Signing and signature checks are the `jsonwebtoken` crate's (HMAC only:
//! HS256, HS384, HS512); the claim rules PyJWT applies are checked here so
//! that the two sides agree to the second:
//!
//! 1. the signature, and the algorithm must be the configured one;
//! 2. `exp`, `iat` and `sub` present and not null;
//! 3. `iat` and `nbf` (if present) not later than now + leeway; `exp` later
//!    than now − leeway (fractional values accepted);
//! 4. `iss` / `aud` only when configured, then required;
//! 5. `sub` a string, `jti` (if present) a string, `roles` an array of
//!    strings, `family_id` a string (the reference answers 500 for the last
//!    two; this engine refuses the token);
//! 6. the blacklist: the `jti`, and `family:<family_id>` when the token has
//!    one (one round trip; a store error counts as revoked);
//! 7. `type` (missing counts as `access`);
//! 8. `extra.purpose`: equal to the expected purpose, or empty (falsy) where
//!    a session token is expected. A non-object `extra` counts as `{}`; an
//!    `auth_time` that is not a number is ignored.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use fullauth_api::{BlacklistStore, FamilyId, StateKey, Timestamp, UserId, UserIdType};
use jsonwebtoken::{DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::config::TokenSettings;
use crate::error::{FlowError, TokenRejection};

/// The purpose of email-verification tokens.
pub const PURPOSE_EMAIL_VERIFY: &str = "email_verify";
/// The purpose of password-reset tokens.
pub const PURPOSE_PASSWORD_RESET: &str = "password_reset";
/// The purpose of the token handed out when a login needs a second factor.
pub const PURPOSE_MFA_PENDING: &str = "mfa_pending";
/// The purpose of OAuth sign-in state tokens.
pub const PURPOSE_OAUTH_STATE: &str = "oauth_state";
/// The purpose of OAuth link state tokens.
pub const PURPOSE_OAUTH_LINK: &str = "oauth_link";

/// The `type` claim.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TokenType {
    /// `"access"`: session access tokens and every purpose-scoped token.
    Access,
    /// `"refresh"`.
    Refresh,
}

impl TokenType {
    /// The claim value.
    pub fn as_str(self) -> &'static str {
        match self {
            TokenType::Access => "access",
            TokenType::Refresh => "refresh",
        }
    }
}

/// The `aud` claim: one audience or several.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Audience {
    /// A single audience (what the reference mints).
    One(String),
    /// Several audiences.
    Many(Vec<String>),
}

impl Audience {
    /// True when `aud` names `audience`.
    pub fn contains(&self, audience: &str) -> bool {
        match self {
            Audience::One(a) => a == audience,
            Audience::Many(list) => list.iter().any(|a| a == audience),
        }
    }
}

/// The claims of a token, in the reference's order.
///
/// Minted access tokens carry `roles` and `extra` (`{}` at least); refresh
/// tokens carry neither (`None`). Times are whole Unix seconds (a decoded
/// fractional value is truncated, as Python's `int()` does).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Claims {
    /// The subject: the user id as text (`oauth-state` for OAuth states).
    pub sub: String,
    /// Expiry, Unix seconds.
    pub exp: i64,
    /// Issued at, Unix seconds.
    pub iat: i64,
    /// The token id: 32 lowercase hex characters (`uuid4().hex`); empty when
    /// a decoded token had none.
    pub jti: String,
    /// The token type.
    #[serde(rename = "type")]
    pub token_type: TokenType,
    /// Role names at issue time (access tokens only; informational).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub roles: Option<Vec<String>>,
    /// The app's custom claims and, for purpose-scoped tokens, `purpose` and
    /// its companions (access tokens only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub extra: Option<Map<String, Value>>,
    /// The session (refresh-token family), on session tokens.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub family_id: Option<String>,
    /// When credentials were last checked, Unix seconds (carried through
    /// rotation).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub auth_time: Option<i64>,
    /// Issuer, when configured.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub iss: Option<String>,
    /// Audience, when configured.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub aud: Option<Audience>,
}

impl Claims {
    /// `extra.purpose` when it is a string.
    pub fn purpose(&self) -> Option<&str> {
        self.extra.as_ref()?.get("purpose")?.as_str()
    }

    /// True when `extra.purpose` is set to anything truthy (in Python's
    /// sense): such a token is never accepted as a session token.
    pub fn has_purpose(&self) -> bool {
        self.extra
            .as_ref()
            .and_then(|e| e.get("purpose"))
            .is_some_and(truthy)
    }

    /// One `extra` value.
    pub fn extra_value(&self, key: &str) -> Option<&Value> {
        self.extra.as_ref()?.get(key)
    }

    /// The subject as a user id of the store's key type (`sub` is Python's
    /// `str(id)`: `"42"` is an integer key on an int-keyed store and a text
    /// key on a text-keyed one).
    ///
    /// # Errors
    /// [`FlowError::InvalidToken`] ([`TokenRejection::BadSubject`]) when
    /// `sub` is not an id of that type.
    pub fn user_id(&self, id_type: UserIdType) -> Result<UserId, FlowError> {
        id_type
            .parse(&self.sub)
            .map_err(|_| FlowError::InvalidToken(TokenRejection::BadSubject))
    }

    /// The family as a validated id, when the token names one that fits.
    pub fn family(&self) -> Option<FamilyId> {
        self.family_id
            .as_deref()
            .filter(|f| !f.is_empty())
            .and_then(|f| FamilyId::new(f).ok())
    }

    /// `auth_time`, or `iat` for tokens without it: when credentials were
    /// last checked.
    pub fn auth_time_or_iat(&self) -> i64 {
        self.auth_time.unwrap_or(self.iat)
    }

    /// `exp` as a timestamp (clamped into the representable range).
    pub fn expires_at(&self) -> Timestamp {
        seconds_to_timestamp(self.exp)
    }

    /// How long until `exp`, rounded down to seconds, at least one second
    /// (the blacklist TTL of a used token, as the reference computes it).
    pub fn remaining_lifetime(&self) -> Duration {
        let now = unix_now().floor() as i64;
        Duration::from_secs(
            u64::try_from(self.exp.saturating_sub(now))
                .unwrap_or(0)
                .max(1),
        )
    }
}

/// Python truthiness of a JSON value.
fn truthy(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64().is_some_and(|f| f != 0.0),
        Value::String(s) => !s.is_empty(),
        Value::Array(a) => !a.is_empty(),
        Value::Object(o) => !o.is_empty(),
    }
}

pub(crate) fn seconds_to_timestamp(secs: i64) -> Timestamp {
    let micros = secs.clamp(-62_135_596_800, 253_402_300_799) * 1_000_000;
    Timestamp::from_unix_micros(micros).unwrap_or_else(|_| Timestamp::now())
}

/// Seconds since the Unix epoch, with a fraction.
pub(crate) fn unix_now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

/// A minted token with its claims.
#[derive(Clone, Debug, PartialEq)]
pub struct MintedToken {
    /// The compact JWT.
    pub token: String,
    /// What it says.
    pub claims: Claims,
}

/// What a session token must be.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Expect<'a> {
    /// A session access token: type `access`, no purpose.
    Session,
    /// A refresh token.
    Refresh,
    /// An access-typed token with exactly this `extra.purpose`.
    Purpose(&'a str),
}

/// Mints and decodes the reference's JWTs. Cheap to clone.
///
/// Without a blacklist ([`TokenEngine::with_blacklist`]) decoding checks no
/// revocations, and revocations are not recorded; the flows always attach the
/// store's.
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// use fullauth_flows::{Expect, SecretKey, TokenEngine, TokenSettings, TokenType};
/// let engine = TokenEngine::new(TokenSettings::new(
///     SecretKey::new("0123456789abcdef0123456789abcdef").unwrap(),
/// )).unwrap();
/// let pair = engine.mint_pair("0190f6c2-7b1e-7c4e-9a51-1c1b2d3e4f50", vec!["admin".into()],
///     Default::default(), None, None).unwrap();
/// let claims = engine.decode(&pair.access.token, Expect::Session).await.unwrap();
/// assert_eq!(claims.roles.as_deref(), Some(&["admin".to_string()][..]));
/// assert_eq!(claims.family_id, pair.refresh.claims.family_id);
/// let refresh = engine.decode(&pair.refresh.token, Expect::Refresh).await.unwrap();
/// assert_eq!(refresh.token_type, TokenType::Refresh);
/// assert!(engine.decode(&pair.refresh.token, Expect::Session).await.is_err());
/// # });
/// ```
#[derive(Clone)]
pub struct TokenEngine {
    settings: Arc<TokenSettings>,
    encoding: EncodingKey,
    decoding: DecodingKey,
    blacklist: Option<Arc<dyn BlacklistStore>>,
}

impl std::fmt::Debug for TokenEngine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenEngine")
            .field("settings", &self.settings)
            .field(
                "blacklist",
                &self.blacklist.as_ref().map(|b| b.backend_name()),
            )
            .finish()
    }
}

/// A minted access + refresh pair of one session.
#[derive(Clone, Debug, PartialEq)]
pub struct MintedPair {
    /// The access token (carries the family and `auth_time`).
    pub access: MintedToken,
    /// The refresh token.
    pub refresh: MintedToken,
    /// The session.
    pub family_id: FamilyId,
}

impl TokenEngine {
    /// An engine without a blacklist.
    ///
    /// # Errors
    /// [`FlowError::Config`] for settings out of bounds.
    pub fn new(settings: TokenSettings) -> Result<Self, FlowError> {
        settings.validate()?;
        let secret = settings.secret.as_str().as_bytes();
        let key_error =
            |e: jsonwebtoken::errors::Error| FlowError::Config(format!("signing key: {e}"));
        Ok(TokenEngine {
            encoding: EncodingKey::from_secret(secret).map_err(key_error)?,
            decoding: DecodingKey::from_secret(secret).map_err(key_error)?,
            settings: Arc::new(settings),
            blacklist: None,
        })
    }

    /// Attaches the blacklist that decoding consults and revocations write.
    pub fn with_blacklist(mut self, blacklist: Arc<dyn BlacklistStore>) -> Self {
        self.blacklist = Some(blacklist);
        self
    }

    /// The settings.
    pub fn settings(&self) -> &TokenSettings {
        &self.settings
    }

    /// Signs exactly these claims with the configured key and algorithm
    /// (header `{"typ":"JWT","alg":...}`). The low-level door: tests use it
    /// to craft tokens with chosen times.
    ///
    /// # Errors
    /// [`FlowError::Internal`] when encoding fails.
    pub fn encode(&self, claims: &Claims) -> Result<String, FlowError> {
        self.encode_value(claims)
    }

    /// Signs an arbitrary JSON payload (for tokens with claims of the wrong
    /// type, to prove they are refused).
    ///
    /// # Errors
    /// [`FlowError::Internal`] when encoding fails.
    pub fn encode_value<T: Serialize>(&self, payload: &T) -> Result<String, FlowError> {
        jsonwebtoken::encode(
            &Header::new(self.settings.algorithm.jwt()),
            payload,
            &self.encoding,
        )
        .map_err(|e| FlowError::Internal(format!("JWT encoding failed: {e}")))
    }

    fn base_claims(&self, sub: &str, token_type: TokenType, ttl: Duration) -> Claims {
        let iat = unix_now().floor() as i64;
        Claims {
            sub: sub.to_string(),
            exp: iat.saturating_add(i64::try_from(ttl.as_secs()).unwrap_or(i64::MAX)),
            iat,
            jti: uuid::Uuid::new_v4().simple().to_string(),
            token_type,
            roles: None,
            extra: None,
            family_id: None,
            auth_time: None,
            iss: self.settings.issuer.clone(),
            aud: self.settings.audience.clone().map(Audience::One),
        }
    }

    fn mint(&self, claims: Claims) -> Result<MintedToken, FlowError> {
        Ok(MintedToken {
            token: self.encode(&claims)?,
            claims,
        })
    }

    /// A session access token: `roles`, `extra` (the app's claims), the
    /// family and `auth_time` when given; lifetime `access_ttl`.
    ///
    /// # Errors
    /// [`FlowError::Internal`] when encoding fails.
    pub fn mint_access(
        &self,
        sub: &str,
        roles: Vec<String>,
        extra: Map<String, Value>,
        family_id: Option<&FamilyId>,
        auth_time: Option<i64>,
    ) -> Result<MintedToken, FlowError> {
        let mut claims = self.base_claims(sub, TokenType::Access, self.settings.access_ttl);
        claims.roles = Some(roles);
        claims.extra = Some(extra);
        claims.family_id = family_id.map(|f| f.as_str().to_string());
        claims.auth_time = auth_time;
        self.mint(claims)
    }

    /// A refresh token of `family_id` (a new family when `None`); lifetime
    /// `refresh_ttl`.
    ///
    /// # Errors
    /// [`FlowError::Internal`] when encoding fails.
    pub fn mint_refresh(
        &self,
        sub: &str,
        family_id: Option<FamilyId>,
        auth_time: Option<i64>,
    ) -> Result<MintedToken, FlowError> {
        let family = family_id.unwrap_or_else(FamilyId::generate);
        let mut claims = self.base_claims(sub, TokenType::Refresh, self.settings.refresh_ttl);
        claims.family_id = Some(family.into_string());
        claims.auth_time = auth_time;
        self.mint(claims)
    }

    /// A pair of one session: the refresh token first (its family, new when
    /// `None`), then the access token with the same family. `auth_time`
    /// defaults to now.
    ///
    /// # Errors
    /// [`FlowError::Internal`] when encoding fails.
    pub fn mint_pair(
        &self,
        sub: &str,
        roles: Vec<String>,
        extra: Map<String, Value>,
        family_id: Option<FamilyId>,
        auth_time: Option<i64>,
    ) -> Result<MintedPair, FlowError> {
        let auth_time = auth_time.unwrap_or_else(|| unix_now().floor() as i64);
        let family = family_id.unwrap_or_else(FamilyId::generate);
        let refresh = self.mint_refresh(sub, Some(family.clone()), Some(auth_time))?;
        let access = self.mint_access(sub, roles, extra, Some(&family), Some(auth_time))?;
        Ok(MintedPair {
            access,
            refresh,
            family_id: family,
        })
    }

    /// A purpose-scoped token: access-typed, `roles: []`, `extra` =
    /// `{purpose, ..companions}`, no family or `auth_time`.
    ///
    /// # Errors
    /// [`FlowError::Internal`] when encoding fails.
    pub fn mint_purpose(
        &self,
        sub: &str,
        purpose: &str,
        companions: Map<String, Value>,
        ttl: Duration,
    ) -> Result<MintedToken, FlowError> {
        let mut extra = Map::new();
        extra.insert("purpose".into(), Value::String(purpose.to_string()));
        for (k, v) in companions {
            if k != "purpose" {
                extra.insert(k, v);
            }
        }
        let mut claims = self.base_claims(sub, TokenType::Access, ttl);
        claims.roles = Some(Vec::new());
        claims.extra = Some(extra);
        self.mint(claims)
    }

    /// Checks everything but the blacklist, the type and the purpose (rules
    /// 1–5 of the module docs) and returns the claims.
    ///
    /// # Errors
    /// [`FlowError::InvalidToken`] with the reason.
    pub fn verify(&self, token: &str) -> Result<Claims, FlowError> {
        self.verify_at(token, unix_now())
    }

    fn verify_at(&self, token: &str, now: f64) -> Result<Claims, FlowError> {
        use TokenRejection as R;
        let reject = |r: TokenRejection| FlowError::InvalidToken(r);
        let mut validation = Validation::new(self.settings.algorithm.jwt());
        validation.validate_exp = false;
        validation.validate_nbf = false;
        validation.validate_aud = false;
        validation.required_spec_claims.clear();
        validation.leeway = 0;
        let data = jsonwebtoken::decode::<Map<String, Value>>(token, &self.decoding, &validation)
            .map_err(|_| reject(R::Malformed))?;
        let payload = data.claims;
        let leeway = self.settings.leeway.as_secs() as f64;

        // Required claims, present and not null.
        for name in ["exp", "iat", "sub"] {
            if payload.get(name).is_none_or(Value::is_null) {
                return Err(reject(R::InvalidClaims(name)));
            }
        }
        let number = |name: &'static str| -> Result<Option<f64>, FlowError> {
            match payload.get(name) {
                None => Ok(None),
                Some(v) => v
                    .as_f64()
                    .filter(|f| f.is_finite())
                    .map(|f| Some(f.trunc()))
                    .ok_or(reject(R::InvalidClaims(name))),
            }
        };
        let iat = number("iat")?.unwrap_or(0.0);
        if iat > now + leeway {
            return Err(reject(R::NotYetValid));
        }
        if number("nbf")?.is_some_and(|nbf| nbf > now + leeway) {
            return Err(reject(R::NotYetValid));
        }
        let exp = number("exp")?.unwrap_or(0.0);
        if exp <= now - leeway {
            return Err(reject(R::Expired));
        }

        let iss = match payload.get("iss") {
            None => None,
            Some(Value::String(s)) => Some(s.clone()),
            Some(_) if self.settings.issuer.is_some() => return Err(reject(R::WrongIssuer)),
            Some(_) => None,
        };
        if let Some(expected) = &self.settings.issuer {
            if iss.as_deref() != Some(expected.as_str()) {
                return Err(reject(R::WrongIssuer));
            }
        }
        let aud = match payload.get("aud") {
            None => None,
            Some(v) => match serde_json::from_value::<Audience>(v.clone()) {
                Ok(a) => Some(a),
                Err(_) if self.settings.audience.is_some() => {
                    return Err(reject(R::WrongAudience));
                }
                Err(_) => None,
            },
        };
        if let Some(expected) = &self.settings.audience {
            if !aud.as_ref().is_some_and(|a| a.contains(expected)) {
                return Err(reject(R::WrongAudience));
            }
        }

        let sub = match payload.get("sub") {
            Some(Value::String(s)) => s.clone(),
            _ => return Err(reject(R::InvalidClaims("sub"))),
        };
        let jti = match payload.get("jti") {
            None => String::new(),
            Some(Value::String(s)) => s.clone(),
            Some(_) => return Err(reject(R::InvalidClaims("jti"))),
        };
        let token_type = match payload.get("type") {
            None => TokenType::Access,
            Some(Value::String(s)) if s == "access" => TokenType::Access,
            Some(Value::String(s)) if s == "refresh" => TokenType::Refresh,
            Some(_) => return Err(reject(R::WrongType)),
        };
        let roles = match payload.get("roles") {
            None => None,
            Some(v) => Some(
                serde_json::from_value::<Vec<String>>(v.clone())
                    .map_err(|_| reject(R::InvalidClaims("roles")))?,
            ),
        };
        let extra = match payload.get("extra") {
            None => None,
            Some(Value::Object(map)) => Some(map.clone()),
            Some(_) => Some(Map::new()),
        };
        let family_id = match payload.get("family_id") {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) => Some(s.clone()),
            Some(_) => return Err(reject(R::InvalidClaims("family_id"))),
        };
        let auth_time = payload
            .get("auth_time")
            .and_then(|v| if v.is_boolean() { None } else { v.as_f64() })
            .filter(|f| f.is_finite() && f.abs() < 1e15)
            .map(|f| f.trunc() as i64);
        Ok(Claims {
            sub,
            exp: exp as i64,
            iat: iat as i64,
            jti,
            token_type,
            roles,
            extra,
            family_id,
            auth_time,
            iss,
            aud,
        })
    }

    /// Verifies, checks the blacklist, the type and the purpose (every rule
    /// of the module docs).
    ///
    /// # Errors
    /// [`FlowError::InvalidToken`] with the reason.
    pub async fn decode(&self, token: &str, expect: Expect<'_>) -> Result<Claims, FlowError> {
        let claims = self.verify(token)?;
        if self.is_revoked(&claims).await {
            return Err(FlowError::InvalidToken(TokenRejection::Revoked));
        }
        let want = match expect {
            Expect::Refresh => TokenType::Refresh,
            Expect::Session | Expect::Purpose(_) => TokenType::Access,
        };
        if claims.token_type != want {
            return Err(FlowError::InvalidToken(TokenRejection::WrongType));
        }
        let purpose_ok = match expect {
            Expect::Purpose(p) => claims.purpose() == Some(p),
            Expect::Session => !claims.has_purpose(),
            Expect::Refresh => true,
        };
        if !purpose_ok {
            return Err(FlowError::InvalidToken(TokenRejection::WrongPurpose));
        }
        Ok(claims)
    }

    /// The blacklist key of a family: `family:<id>`.
    pub fn family_key(family_id: &str) -> Option<StateKey> {
        StateKey::new(format!("family:{family_id}")).ok()
    }

    /// True when the blacklist holds the token's `jti` or its family key.
    /// Fails closed: a blacklist error, or a `jti`/family that cannot be a
    /// key, counts as revoked. False without a blacklist or with
    /// `blacklist_enabled` off.
    pub async fn is_revoked(&self, claims: &Claims) -> bool {
        let Some(blacklist) = self
            .blacklist
            .as_ref()
            .filter(|_| self.settings.blacklist_enabled)
        else {
            return false;
        };
        let mut keys = Vec::with_capacity(2);
        if !claims.jti.is_empty() {
            match StateKey::new(claims.jti.clone()) {
                Ok(k) => keys.push(k),
                Err(_) => return true,
            }
        }
        if let Some(fid) = claims.family_id.as_deref().filter(|f| !f.is_empty()) {
            match Self::family_key(fid) {
                Some(k) => keys.push(k),
                None => return true,
            }
        }
        if keys.is_empty() {
            return false;
        }
        match blacklist.any_blacklisted(&keys).await {
            Ok(hit) => {
                if hit {
                    tracing::warn!(jti = %claims.jti, sub = %claims.sub, "blacklisted token used");
                }
                hit
            }
            Err(e) => {
                tracing::error!(error = %e, "blacklist check failed; refusing the token");
                true
            }
        }
    }

    /// Blacklists the token's `jti` for its remaining lifetime (at least one
    /// second): logout, and used single-use tokens. Nothing without a
    /// blacklist or for a token without `jti`.
    ///
    /// # Errors
    /// [`FlowError::Store`] when the blacklist fails (the reference lets the
    /// error out of the flow too).
    pub async fn blacklist_claims(&self, claims: &Claims) -> Result<(), FlowError> {
        let Some(blacklist) = &self.blacklist else {
            return Ok(());
        };
        if claims.jti.is_empty() {
            return Ok(());
        }
        // A `jti` that cannot be a key never decodes (the check fails
        // closed), so there is nothing to revoke.
        let Ok(key) = StateKey::new(claims.jti.clone()) else {
            return Ok(());
        };
        blacklist
            .blacklist(&key, claims.remaining_lifetime())
            .await?;
        Ok(())
    }

    /// Blacklists `family:<id>` for [`TokenSettings::family_blacklist_ttl`],
    /// so every access token the family holds dies at once. Nothing without
    /// a blacklist or with `blacklist_enabled` off.
    ///
    /// # Errors
    /// [`FlowError::Store`] when the blacklist fails.
    pub async fn revoke_family(&self, family_id: &FamilyId) -> Result<(), FlowError> {
        let Some(blacklist) = self
            .blacklist
            .as_ref()
            .filter(|_| self.settings.blacklist_enabled)
        else {
            return Ok(());
        };
        if let Some(key) = Self::family_key(family_id.as_str()) {
            blacklist
                .blacklist(&key, self.settings.family_blacklist_ttl())
                .await?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{JwtAlgorithm, SecretKey};

    fn engine() -> TokenEngine {
        TokenEngine::new(TokenSettings::new(
            SecretKey::new("0123456789abcdef0123456789abcdef").unwrap(),
        ))
        .unwrap()
    }

    fn craft(engine: &TokenEngine, payload: Value) -> String {
        engine.encode_value(&payload).unwrap()
    }

    fn now() -> i64 {
        unix_now().floor() as i64
    }

    #[test]
    fn minted_claims_have_the_reference_shape() {
        let e = engine();
        let pair = e
            .mint_pair("u", vec!["r".into()], Map::new(), None, Some(42))
            .unwrap();
        let access: Value = serde_json::to_value(&pair.access.claims).unwrap();
        let keys: Vec<&str> = access
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        let mut expected = vec![
            "sub",
            "exp",
            "iat",
            "jti",
            "type",
            "roles",
            "extra",
            "family_id",
            "auth_time",
        ];
        expected.sort_unstable();
        let mut got = keys.clone();
        got.sort_unstable();
        assert_eq!(got, expected);
        assert_eq!(access["type"], "access");
        assert_eq!(access["extra"], serde_json::json!({}));
        assert_eq!(access["auth_time"], 42);
        assert_eq!(pair.access.claims.exp - pair.access.claims.iat, 1800);
        let refresh: Value = serde_json::to_value(&pair.refresh.claims).unwrap();
        let mut got: Vec<&str> = refresh
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        got.sort_unstable();
        assert_eq!(
            got,
            ["auth_time", "exp", "family_id", "iat", "jti", "sub", "type"]
        );
        assert_eq!(
            pair.refresh.claims.exp - pair.refresh.claims.iat,
            30 * 86400
        );
        assert_eq!(pair.access.claims.jti.len(), 32);
        assert!(
            pair.access
                .claims
                .jti
                .bytes()
                .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
        );
        assert_eq!(pair.family_id.as_str().len(), 32);
        assert_ne!(pair.access.claims.jti, pair.refresh.claims.jti);
        // The header names the algorithm and the type.
        let header = jsonwebtoken::decode_header(&pair.access.token).unwrap();
        assert_eq!(header.alg, jsonwebtoken::Algorithm::HS256);
        assert_eq!(header.typ.as_deref(), Some("JWT"));
    }

    #[test]
    fn time_rules_follow_pyjwt() {
        let e = engine();
        let n = now();
        let at =
            |exp: i64, iat: i64| craft(&e, serde_json::json!({"sub": "s", "exp": exp, "iat": iat}));
        assert!(e.verify(&at(n - 20, n - 100)).is_ok());
        assert!(matches!(
            e.verify(&at(n - 31, n - 100)),
            Err(FlowError::InvalidToken(TokenRejection::Expired))
        ));
        assert!(e.verify(&at(n + 100, n + 20)).is_ok());
        assert!(matches!(
            e.verify(&at(n + 100, n + 60)),
            Err(FlowError::InvalidToken(TokenRejection::NotYetValid))
        ));
        let fractional = craft(
            &e,
            serde_json::json!({"sub": "s", "exp": n as f64 + 100.5, "iat": n}),
        );
        assert_eq!(e.verify(&fractional).unwrap().exp, n + 100);
        let nbf = craft(
            &e,
            serde_json::json!({"sub": "s", "exp": n + 100, "iat": n, "nbf": n + 60}),
        );
        assert!(e.verify(&nbf).is_err());
        // Exactly at the leeway boundary: exp <= now - leeway is expired.
        let exact = e.verify_at(&at(1000, 900), 1030.0);
        assert!(matches!(
            exact,
            Err(FlowError::InvalidToken(TokenRejection::Expired))
        ));
        assert!(e.verify_at(&at(1000, 900), 1029.5).is_ok());
    }

    #[test]
    fn required_and_typed_claims() {
        let e = engine();
        let n = now();
        for payload in [
            serde_json::json!({"exp": n + 10, "iat": n}),
            serde_json::json!({"sub": "s", "iat": n}),
            serde_json::json!({"sub": "s", "exp": n + 10}),
            serde_json::json!({"sub": null, "exp": n + 10, "iat": n}),
            serde_json::json!({"sub": 5, "exp": n + 10, "iat": n}),
            serde_json::json!({"sub": "s", "exp": "soon", "iat": n}),
            serde_json::json!({"sub": "s", "exp": n + 10, "iat": n, "jti": 7}),
            serde_json::json!({"sub": "s", "exp": n + 10, "iat": n, "roles": "admin"}),
            serde_json::json!({"sub": "s", "exp": n + 10, "iat": n, "roles": [1]}),
            serde_json::json!({"sub": "s", "exp": n + 10, "iat": n, "family_id": 5}),
            serde_json::json!({"sub": "s", "exp": n + 10, "iat": n, "type": 1}),
        ] {
            assert!(e.verify(&craft(&e, payload.clone())).is_err(), "{payload}");
        }
        // Lenient: minimal token, non-object extra, non-numeric auth_time.
        let minimal = e
            .verify(&craft(&e, serde_json::json!({"sub": "s", "exp": n + 10, "iat": n, "extra": "x", "auth_time": "x"})))
            .unwrap();
        assert_eq!(minimal.token_type, TokenType::Access);
        assert_eq!(minimal.jti, "");
        assert_eq!(minimal.extra, Some(Map::new()));
        assert_eq!(minimal.auth_time, None);
        assert_eq!(minimal.auth_time_or_iat(), n);
    }

    #[test]
    fn signature_algorithm_and_garbage() {
        let e = engine();
        let token = e
            .mint_access("s", vec![], Map::new(), None, None)
            .unwrap()
            .token;
        let mut tampered = token.clone();
        tampered.pop();
        tampered.push(if token.ends_with('A') { 'B' } else { 'A' });
        assert!(e.verify(&tampered).is_err());
        for garbage in ["", ".", "..", "a.b.c", "not a token", "é.é.é"] {
            assert!(e.verify(garbage).is_err(), "{garbage}");
        }
        let mut settings =
            TokenSettings::new(SecretKey::new("0123456789abcdef0123456789abcdef").unwrap());
        settings.algorithm = JwtAlgorithm::HS384;
        let hs384 = TokenEngine::new(settings).unwrap();
        let other = hs384
            .mint_access("s", vec![], Map::new(), None, None)
            .unwrap()
            .token;
        assert!(hs384.verify(&other).is_ok());
        assert!(matches!(
            e.verify(&other),
            Err(FlowError::InvalidToken(TokenRejection::Malformed))
        ));
        let other_key = TokenEngine::new(TokenSettings::new(
            SecretKey::new("another secret that is long enough!!").unwrap(),
        ))
        .unwrap();
        assert!(other_key.verify(&token).is_err());
    }

    #[test]
    fn issuer_and_audience() {
        let mut settings =
            TokenSettings::new(SecretKey::new("0123456789abcdef0123456789abcdef").unwrap());
        settings.issuer = Some("https://issuer".into());
        settings.audience = Some("api".into());
        let strict = TokenEngine::new(settings).unwrap();
        let lax = engine();
        let stamped = strict
            .mint_access("s", vec![], Map::new(), None, None)
            .unwrap();
        assert_eq!(stamped.claims.iss.as_deref(), Some("https://issuer"));
        assert_eq!(stamped.claims.aud, Some(Audience::One("api".into())));
        assert!(strict.verify(&stamped.token).is_ok());
        // Unset settings check nothing, whatever the token carries.
        assert!(lax.verify(&stamped.token).is_ok());
        let n = now();
        let weird = craft(
            &lax,
            serde_json::json!({"sub": "s", "exp": n + 10, "iat": n, "iss": 5, "aud": [1, 2]}),
        );
        assert!(lax.verify(&weird).is_ok());
        // Missing claims are refused once configured.
        let bare = lax
            .mint_access("s", vec![], Map::new(), None, None)
            .unwrap()
            .token;
        assert!(matches!(
            strict.verify(&bare),
            Err(FlowError::InvalidToken(TokenRejection::WrongIssuer))
        ));
        let list = TokenEngine::new(TokenSettings::new(
            SecretKey::new("0123456789abcdef0123456789abcdef").unwrap(),
        ))
        .unwrap();
        let many = craft(
            &list,
            serde_json::json!({"sub": "s", "exp": n + 10, "iat": n, "iss": "https://issuer", "aud": ["x", "api"]}),
        );
        assert!(strict.verify(&many).is_ok());
        let wrong = craft(
            &list,
            serde_json::json!({"sub": "s", "exp": n + 10, "iat": n, "iss": "https://issuer", "aud": ["x"]}),
        );
        assert!(matches!(
            strict.verify(&wrong),
            Err(FlowError::InvalidToken(TokenRejection::WrongAudience))
        ));
    }

    #[tokio::test]
    async fn type_and_purpose_checks() {
        let e = engine();
        let session = e
            .mint_access("s", vec![], Map::new(), None, None)
            .unwrap()
            .token;
        let refresh = e.mint_refresh("s", None, None).unwrap().token;
        let verify = e
            .mint_purpose(
                "s",
                PURPOSE_EMAIL_VERIFY,
                Map::new(),
                Duration::from_secs(60),
            )
            .unwrap()
            .token;
        assert!(e.decode(&session, Expect::Session).await.is_ok());
        assert!(e.decode(&session, Expect::Refresh).await.is_err());
        assert!(e.decode(&refresh, Expect::Refresh).await.is_ok());
        assert!(e.decode(&refresh, Expect::Session).await.is_err());
        assert!(matches!(
            e.decode(&verify, Expect::Session).await,
            Err(FlowError::InvalidToken(TokenRejection::WrongPurpose))
        ));
        assert!(
            e.decode(&verify, Expect::Purpose(PURPOSE_EMAIL_VERIFY))
                .await
                .is_ok()
        );
        assert!(
            e.decode(&verify, Expect::Purpose(PURPOSE_PASSWORD_RESET))
                .await
                .is_err()
        );
        assert!(
            e.decode(&session, Expect::Purpose(PURPOSE_EMAIL_VERIFY))
                .await
                .is_err()
        );
        // A falsy purpose is no purpose; a truthy non-string one is.
        let n = now();
        let empty = craft(
            &e,
            serde_json::json!({"sub": "s", "exp": n + 10, "iat": n, "extra": {"purpose": ""}}),
        );
        assert!(e.decode(&empty, Expect::Session).await.is_ok());
        let odd = craft(
            &e,
            serde_json::json!({"sub": "s", "exp": n + 10, "iat": n, "extra": {"purpose": 1}}),
        );
        assert!(e.decode(&odd, Expect::Session).await.is_err());
    }
}
