//! The flow cases, run by each backend's test binary on its own store
//! (`flow_cases!(make_store)`), and their helpers.
#![allow(dead_code)]

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use fullauth_api::{
    HashedPassword, LockoutPolicy, NewUser, PasswordHasher, Store, TokenDigest, User, UserId,
    UserPatch,
};
use fullauth_flows::{
    AuthRateLimits, AuthService, ClaimsProvider, ClientContext, Expect, FlowConfig, FlowError,
    LoginOutcome, RateLimitBucket, ReauthFailure, RegisterRequest, Registration, SecretKey,
    SignedIn, TokenRejection, totp,
};
use serde_json::{Map, Value, json};

pub const SECRET: &str = "flows-test-secret-0123456789abcdef-0123456789";
pub const PASSWORD: &str = "correct horse battery";

/// A cheap hasher, so the cases do not crawl.
pub fn hasher() -> PasswordHasher {
    PasswordHasher::new(8, 1, 1).expect("argon2 parameters")
}

/// The default configuration with the cases' tweaks: fast hashing is set on
/// the service; lockout 3 failures for 2 s; generous rate limits unless a
/// case tightens them.
pub fn config() -> FlowConfig {
    let mut config = FlowConfig::new(SecretKey::new(SECRET).expect("a long secret"));
    config.lockout = Some(LockoutPolicy {
        max_attempts: 3,
        duration: Duration::from_secs(2),
    });
    config.rate_limits = Some(AuthRateLimits {
        login: 1000,
        register: 1000,
        password_reset: 1000,
        refresh: 1000,
        reauth: 1000,
        mfa: 1000,
        ..AuthRateLimits::default()
    });
    config
}

pub fn service(store: &Arc<dyn Store>, tweak: impl FnOnce(&mut FlowConfig)) -> AuthService {
    let mut config = config();
    tweak(&mut config);
    AuthService::new(Arc::clone(store), config)
        .expect("a service")
        .with_hasher(hasher())
}

/// A context with an IP of its own, so rate limits of parallel cases (and
/// of earlier runs on a shared Redis) never meet.
pub fn ctx() -> ClientContext {
    let id = uuid::Uuid::new_v4().simple().to_string();
    ClientContext::new(
        Some(&format!("198.51.100.{}", &id[..12])),
        Some("flows-tests/1.0"),
    )
}

pub fn email() -> String {
    format!("user-{}@Example.com", uuid::Uuid::new_v4().simple())
}

pub fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// Registers and returns the user (enumeration-safe mode reports it too).
pub async fn register(auth: &AuthService, email: &str) -> User {
    let reg = auth
        .register(&ctx(), RegisterRequest::new(email, PASSWORD))
        .await
        .expect("registration");
    reg.user().cloned().expect("a new user")
}

pub async fn sign_in(auth: &AuthService, email: &str) -> SignedIn {
    match auth.login(&ctx(), email, PASSWORD).await.expect("login") {
        LoginOutcome::SignedIn(s) => s,
        LoginOutcome::MfaRequired { .. } => panic!("unexpected MFA gate"),
    }
}

fn is_401(e: &FlowError) -> bool {
    e.status() == 401 && e.detail() == "Could not validate credentials"
}

// ---- the cases ------------------------------------------------------------

pub async fn register_enumeration_safe(store: Arc<dyn Store>) {
    let auth = service(&store, |_| {});
    let email = email();
    let first = auth
        .register(&ctx(), RegisterRequest::new(&email, PASSWORD))
        .await
        .unwrap();
    assert_eq!(first.status(), 202);
    let user = first.user().cloned().unwrap();
    assert_eq!(user.email.as_str(), email.to_lowercase());
    assert!(user.is_active && !user.is_verified && !user.is_superuser);
    // The stored hash is argon2id, never the password.
    let hash = store.get_password_hash(&user.id).await.unwrap().unwrap();
    assert!(hash.as_str().starts_with("$argon2id$"));
    // A duplicate (any case) answers the same 202, creates nothing.
    let dup = auth
        .register(
            &ctx(),
            RegisterRequest::new(email.to_uppercase(), "another password"),
        )
        .await
        .unwrap();
    assert_eq!(dup, Registration::Accepted { created: None });
    assert_eq!(dup.status(), 202);
    assert!(
        auth.hasher()
            .verify(
                PASSWORD,
                &store.get_password_hash(&user.id).await.unwrap().unwrap()
            )
            .await
            .unwrap()
    );
    // The policy runs before the duplicate check: 422 for both.
    for e in [email.clone(), self::email()] {
        let err = auth
            .register(&ctx(), RegisterRequest::new(e, "short"))
            .await
            .unwrap_err();
        assert_eq!(err.status(), 422);
        assert_eq!(err.detail(), "Password must be at least 8 characters");
    }
    let err = auth
        .register(&ctx(), RegisterRequest::new("", PASSWORD))
        .await
        .unwrap_err();
    assert_eq!(err.status(), 422, "{err:?}");
}

pub async fn register_enumeration_allowed(store: Arc<dyn Store>) {
    let auth = service(&store, |c| c.prevent_registration_enumeration = false);
    let email = email();
    let reg = auth
        .register(&ctx(), RegisterRequest::new(&email, PASSWORD))
        .await
        .unwrap();
    assert_eq!(reg.status(), 201);
    assert!(matches!(reg, Registration::Created(_)));
    let err = auth
        .register(&ctx(), RegisterRequest::new(&email, PASSWORD))
        .await
        .unwrap_err();
    assert!(matches!(err, FlowError::UserAlreadyExists));
    assert_eq!(
        (err.status(), err.detail().as_str()),
        (409, "A user with this email already exists")
    );
}

pub async fn login_failures_are_one_401(store: Arc<dyn Store>) {
    let auth = service(&store, |c| c.lockout = None);
    let email = email();
    let user = register(&auth, &email).await;
    let c = ctx();
    // Unknown user, wrong password.
    let unknown = auth.login(&c, &self::email(), PASSWORD).await.unwrap_err();
    assert!(matches!(unknown, FlowError::InvalidCredentials) && is_401(&unknown));
    let wrong = auth.login(&c, &email, "wrong password").await.unwrap_err();
    assert!(matches!(wrong, FlowError::InvalidCredentials) && is_401(&wrong));
    // Not an email at all.
    assert!(matches!(
        auth.login(&c, "", PASSWORD).await,
        Err(FlowError::InvalidCredentials)
    ));
    assert!(matches!(
        auth.login(&c, "\u{0}", PASSWORD).await,
        Err(FlowError::InvalidCredentials)
    ));
    // Over the length cap: refused before hashing.
    let long = "x".repeat(5000);
    assert!(matches!(
        auth.login(&c, &email, &long).await,
        Err(FlowError::InvalidCredentials)
    ));
    // A user without a password (OAuth/passkey only).
    let bare = store
        .create_user(NewUser::new(self::email()).unwrap())
        .await
        .unwrap();
    let err = auth
        .login(&c, bare.email.as_str(), PASSWORD)
        .await
        .unwrap_err();
    assert!(matches!(err, FlowError::InvalidCredentials));
    // Inactive: the right password still gets the 401.
    store
        .update_user(
            &user.id,
            UserPatch {
                is_active: Some(false),
                ..UserPatch::new()
            },
        )
        .await
        .unwrap();
    let inactive = auth.login(&c, &email, PASSWORD).await.unwrap_err();
    assert!(matches!(inactive, FlowError::InactiveUser) && is_401(&inactive));
    // The identifier is normalised like the stored email.
    store
        .update_user(
            &user.id,
            UserPatch {
                is_active: Some(true),
                ..UserPatch::new()
            },
        )
        .await
        .unwrap();
    let signed = match auth
        .login(&c, &format!("  {}  ", email.to_uppercase()), PASSWORD)
        .await
        .unwrap()
    {
        LoginOutcome::SignedIn(s) => s,
        other => panic!("{other:?}"),
    };
    assert_eq!(signed.user.id, user.id);
    assert_eq!(signed.tokens.token_type, "bearer");
    assert_eq!(signed.tokens.expires_in, 1800);
    let json = serde_json::to_value(&signed.tokens).unwrap();
    let mut keys: Vec<_> = json.as_object().unwrap().keys().cloned().collect();
    keys.sort();
    assert_eq!(
        keys,
        ["access_token", "expires_in", "refresh_token", "token_type"]
    );
    // One live session stored with the client's metadata.
    let sessions = auth.list_sessions(&user.id, None).await.unwrap();
    assert_eq!(sessions.len(), 1);
    assert_eq!(sessions[0].user_agent.as_deref(), Some("flows-tests/1.0"));
    assert_eq!(sessions[0].family_id, signed.tokens.family_id);
}

pub async fn lockout_after_failures(store: Arc<dyn Store>) {
    let auth = service(&store, |_| {});
    let email = email();
    register(&auth, &email).await;
    let c = ctx();
    // Two failures, then a success clears the count.
    for _ in 0..2 {
        assert!(matches!(
            auth.login(&c, &email, "nope nope").await,
            Err(FlowError::InvalidCredentials)
        ));
    }
    sign_in(&auth, &email).await;
    for _ in 0..2 {
        assert!(matches!(
            auth.login(&c, &email, "nope nope").await,
            Err(FlowError::InvalidCredentials)
        ));
    }
    // The third failure in a row locks; a correct password is refused too.
    let locked = auth.login(&c, &email, "nope nope").await.unwrap_err();
    assert!(
        matches!(locked, FlowError::AccountLocked { until: Some(_) }),
        "{locked:?}"
    );
    let refused = auth
        .login(&c, &email.to_uppercase(), PASSWORD)
        .await
        .unwrap_err();
    assert!(matches!(refused, FlowError::AccountLocked { .. }) && is_401(&refused));
    // The lock ends after its duration.
    tokio::time::sleep(Duration::from_millis(2300)).await;
    sign_in(&auth, &email).await;
}

pub async fn rate_limit_login_bucket(store: Arc<dyn Store>) {
    let auth = service(&store, |c| {
        c.rate_limits = Some(AuthRateLimits {
            login: 2,
            ..AuthRateLimits::default()
        });
    });
    let email = email();
    register(&auth, &email).await;
    let c = ctx();
    sign_in_with(&auth, &c, &email).await;
    assert!(auth.login(&c, &email, "wrong one!").await.is_err());
    let limited = auth.login(&c, &email, PASSWORD).await.unwrap_err();
    match &limited {
        FlowError::RateLimited {
            bucket,
            limit,
            retry_after,
        } => {
            assert_eq!(*bucket, RateLimitBucket::Login);
            assert_eq!(*limit, 2);
            assert!(
                *retry_after > Duration::from_secs(50) && *retry_after <= Duration::from_secs(60)
            );
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(limited.status(), 429);
    assert_eq!(limited.detail(), "Too many requests. Try again later.");
    assert!((51..=60).contains(&limited.retry_after().unwrap()));
    // Another client has its own bucket; the refused attempt was not counted
    // as a lockout failure either.
    sign_in_with(&auth, &ctx(), &email).await;
}

async fn sign_in_with(auth: &AuthService, c: &ClientContext, email: &str) -> SignedIn {
    match auth.login(c, email, PASSWORD).await.expect("login") {
        LoginOutcome::SignedIn(s) => s,
        LoginOutcome::MfaRequired { .. } => panic!("unexpected MFA gate"),
    }
}

pub async fn refresh_rotates_and_detects_reuse(store: Arc<dyn Store>) {
    let auth = service(&store, |_| {});
    let email = email();
    let user = register(&auth, &email).await;
    let a = sign_in(&auth, &email).await;
    let a_claims = auth
        .engine()
        .decode(&a.tokens.access_token, Expect::Session)
        .await
        .unwrap();
    let b = auth.refresh(&ctx(), &a.tokens.refresh_token).await.unwrap();
    assert_ne!(b.refresh_token, a.tokens.refresh_token);
    assert_eq!(b.family_id, a.tokens.family_id);
    let b_claims = auth
        .engine()
        .decode(&b.access_token, Expect::Session)
        .await
        .unwrap();
    assert_eq!(
        b_claims.family_id.as_deref(),
        Some(a.tokens.family_id.as_str())
    );
    assert_eq!(
        b_claims.auth_time, a_claims.auth_time,
        "auth_time is carried over"
    );
    // The old row is revoked, the new one live; still one session.
    let old = store
        .get_refresh_token(&TokenDigest::of(&a.tokens.refresh_token))
        .await
        .unwrap()
        .unwrap();
    assert!(old.revoked);
    assert_eq!(auth.list_sessions(&user.id, None).await.unwrap().len(), 1);
    // A's access token is still valid (rotation blacklists nothing).
    assert!(auth.authenticate(&a.tokens.access_token).await.is_ok());
    // Replaying A: reuse. The family is revoked and blacklisted.
    let reuse = auth
        .refresh(&ctx(), &a.tokens.refresh_token)
        .await
        .unwrap_err();
    assert!(
        matches!(reuse, FlowError::TokenReused { ref family_id } if *family_id == a.tokens.family_id)
    );
    assert!(is_401(&reuse));
    let b_row = store
        .get_refresh_token(&TokenDigest::of(&b.refresh_token))
        .await
        .unwrap()
        .unwrap();
    assert!(b_row.revoked, "the winner's token dies with the family");
    for token in [&a.tokens.access_token, &b.access_token] {
        let err = auth.authenticate(token).await.unwrap_err();
        assert!(
            matches!(err, FlowError::InvalidToken(TokenRejection::Revoked)),
            "{err:?}"
        );
    }
    let err = auth.refresh(&ctx(), &b.refresh_token).await.unwrap_err();
    assert!(
        matches!(err, FlowError::InvalidToken(TokenRejection::Revoked)),
        "{err:?}"
    );
    assert!(auth.list_sessions(&user.id, None).await.unwrap().is_empty());
    // Once the family entry is gone, B reaches the store, whose revoked row
    // makes it a reuse again (simulated: a blacklist-free service).
    let no_blacklist = service(&store, |c| c.tokens.blacklist_enabled = false);
    let again = no_blacklist
        .refresh(&ctx(), &b.refresh_token)
        .await
        .unwrap_err();
    assert!(matches!(again, FlowError::TokenReused { .. }), "{again:?}");
}

pub async fn concurrent_double_refresh(store: Arc<dyn Store>) {
    let auth = service(&store, |_| {});
    let email = email();
    let user = register(&auth, &email).await;
    let a = sign_in(&auth, &email).await;
    let (c1, c2) = (ctx(), ctx());
    let (r1, r2) = tokio::join!(
        auth.refresh(&c1, &a.tokens.refresh_token),
        auth.refresh(&c2, &a.tokens.refresh_token)
    );
    let (won, lost) = match (r1, r2) {
        (Ok(w), Err(l)) | (Err(l), Ok(w)) => (w, l),
        other => panic!("exactly one refresh must win: {other:?}"),
    };
    assert!(matches!(lost, FlowError::TokenReused { .. }), "{lost:?}");
    // The loser burned the family, the winner's new tokens included.
    assert!(auth.authenticate(&won.access_token).await.is_err());
    assert!(auth.refresh(&ctx(), &won.refresh_token).await.is_err());
    assert!(auth.list_sessions(&user.id, None).await.unwrap().is_empty());
}

pub async fn refresh_without_rotation(store: Arc<dyn Store>) {
    let auth = service(&store, |c| c.refresh_rotation = false);
    let email = email();
    let user = register(&auth, &email).await;
    let a = sign_in(&auth, &email).await;
    let b = auth.refresh(&ctx(), &a.tokens.refresh_token).await.unwrap();
    assert_eq!(b.refresh_token, a.tokens.refresh_token);
    assert_ne!(b.access_token, a.tokens.access_token);
    assert!(auth.authenticate(&b.access_token).await.is_ok());
    let again = auth.refresh(&ctx(), &a.tokens.refresh_token).await.unwrap();
    assert_eq!(again.refresh_token, a.tokens.refresh_token);
    // A revoked row is refused (no reuse handling without rotation).
    store.revoke_all_for_user(&user.id).await.unwrap();
    let err = auth
        .refresh(&ctx(), &a.tokens.refresh_token)
        .await
        .unwrap_err();
    assert!(
        matches!(err, FlowError::InvalidToken(TokenRejection::Revoked)),
        "{err:?}"
    );
}

pub async fn refresh_refusals(store: Arc<dyn Store>) {
    let auth = service(&store, |_| {});
    let email = email();
    let user = register(&auth, &email).await;
    let a = sign_in(&auth, &email).await;
    // An access token is not a refresh token.
    let err = auth
        .refresh(&ctx(), &a.tokens.access_token)
        .await
        .unwrap_err();
    assert!(
        matches!(err, FlowError::InvalidToken(TokenRejection::WrongType)),
        "{err:?}"
    );
    // Garbage.
    assert!(is_401(&auth.refresh(&ctx(), "garbage").await.unwrap_err()));
    // Signed but never stored.
    let unbacked = auth
        .engine()
        .mint_refresh(&user.id.to_string(), None, None)
        .unwrap();
    let err = auth.refresh(&ctx(), &unbacked.token).await.unwrap_err();
    assert!(
        matches!(err, FlowError::InvalidToken(TokenRejection::NotStored)),
        "{err:?}"
    );
    // Signed by another secret.
    let other = fullauth_flows::TokenEngine::new(fullauth_flows::TokenSettings::new(
        SecretKey::new("a different secret, long enough for HMAC").unwrap(),
    ))
    .unwrap();
    let forged = other
        .mint_refresh(&user.id.to_string(), None, None)
        .unwrap();
    assert!(matches!(
        auth.refresh(&ctx(), &forged.token).await,
        Err(FlowError::InvalidToken(TokenRejection::Malformed))
    ));
    // A subject that is not a user id; an unknown user.
    let odd = auth
        .engine()
        .mint_refresh("not-a-uuid", None, None)
        .unwrap();
    assert!(matches!(
        auth.refresh(&ctx(), &odd.token).await,
        Err(FlowError::InvalidToken(TokenRejection::BadSubject))
    ));
    let ghost = auth
        .engine()
        .mint_refresh(&UserId::generate().to_string(), None, None)
        .unwrap();
    assert!(matches!(
        auth.refresh(&ctx(), &ghost.token).await,
        Err(FlowError::InactiveUser)
    ));
    // An inactive user cannot refresh.
    store
        .update_user(
            &user.id,
            UserPatch {
                is_active: Some(false),
                ..UserPatch::new()
            },
        )
        .await
        .unwrap();
    assert!(matches!(
        auth.refresh(&ctx(), &a.tokens.refresh_token).await,
        Err(FlowError::InactiveUser)
    ));
    assert!(matches!(
        auth.authenticate(&a.tokens.access_token).await,
        Err(FlowError::InactiveUser)
    ));
}

pub async fn logout_ends_the_session(store: Arc<dyn Store>) {
    let auth = service(&store, |_| {});
    let email = email();
    let user = register(&auth, &email).await;
    let one = sign_in(&auth, &email).await;
    let two = sign_in(&auth, &email).await;
    assert_eq!(auth.list_sessions(&user.id, None).await.unwrap().len(), 2);
    // Logout with the access token: its jti and its family die.
    let sub = auth
        .sign_out(Some(&one.tokens.access_token), None)
        .await
        .unwrap();
    assert_eq!(sub, user.id.to_string());
    assert!(matches!(
        auth.authenticate(&one.tokens.access_token).await,
        Err(FlowError::InvalidToken(TokenRejection::Revoked))
    ));
    assert!(
        auth.refresh(&ctx(), &one.tokens.refresh_token)
            .await
            .is_err()
    );
    // The other session lives on.
    assert!(auth.authenticate(&two.tokens.access_token).await.is_ok());
    let sessions = auth.list_sessions(&user.id, None).await.unwrap();
    assert_eq!(sessions.len(), 1);
    assert_eq!(sessions[0].family_id, two.tokens.family_id);
    // Logout with only the refresh token (the access token expired).
    auth.sign_out(None, Some(&two.tokens.refresh_token))
        .await
        .unwrap();
    assert!(auth.authenticate(&two.tokens.access_token).await.is_err());
    assert!(auth.list_sessions(&user.id, None).await.unwrap().is_empty());
    // A bad access token falls back to the refresh token; neither gives 401.
    let three = sign_in(&auth, &email).await;
    auth.sign_out(Some("garbage"), Some(&three.tokens.refresh_token))
        .await
        .unwrap();
    assert!(auth.authenticate(&three.tokens.access_token).await.is_err());
    assert!(is_401(&auth.sign_out(None, None).await.unwrap_err()));
    assert!(is_401(
        &auth.sign_out(Some("garbage"), None).await.unwrap_err()
    ));
    // A refresh token whose row is gone or another's does not end anything.
    let stray = auth
        .engine()
        .mint_refresh(&user.id.to_string(), None, None)
        .unwrap();
    assert!(is_401(
        &auth.sign_out(None, Some(&stray.token)).await.unwrap_err()
    ));
    // An access token without a family (older tokens) ends the refresh
    // token's family when the row is the caller's.
    let four = sign_in(&auth, &email).await;
    let legacy = auth
        .engine()
        .mint_access(&user.id.to_string(), vec![], Map::new(), None, None)
        .unwrap();
    auth.sign_out(Some(&legacy.token), Some(&four.tokens.refresh_token))
        .await
        .unwrap();
    assert!(auth.authenticate(&legacy.token).await.is_err());
    assert!(auth.authenticate(&four.tokens.access_token).await.is_err());
}

pub async fn sessions_list_and_revoke(store: Arc<dyn Store>) {
    let auth = service(&store, |_| {});
    let email = email();
    let user = register(&auth, &email).await;
    let other_email = self::email();
    let other = register(&auth, &other_email).await;
    let a = sign_in(&auth, &email).await;
    let b = sign_in(&auth, &email).await;
    let c = sign_in(&auth, &email).await;
    let theirs = sign_in(&auth, &other_email).await;
    let me = auth.authenticate(&a.tokens.access_token).await.unwrap();
    let list = auth.list_sessions(&user.id, me.family_id()).await.unwrap();
    assert_eq!(list.len(), 3);
    assert_eq!(list.iter().filter(|s| s.current).count(), 1);
    assert!(
        list.iter()
            .find(|s| s.current)
            .is_some_and(|s| s.family_id == a.tokens.family_id)
    );
    assert!(
        list.windows(2)
            .all(|w| w[0].last_used_at >= w[1].last_used_at)
    );
    let json = serde_json::to_value(&list[0]).unwrap();
    let mut keys: Vec<_> = json.as_object().unwrap().keys().cloned().collect();
    keys.sort();
    assert_eq!(
        keys,
        [
            "created_at",
            "current",
            "expires_at",
            "family_id",
            "ip_address",
            "last_used_at",
            "user_agent"
        ]
    );
    assert!(json["created_at"].as_str().unwrap().ends_with('Z'));
    // Revoke one: its access token dies at once; idempotent; 404 for
    // unknown or foreign families.
    auth.revoke_session(&user.id, b.tokens.family_id.as_str())
        .await
        .unwrap();
    assert!(auth.authenticate(&b.tokens.access_token).await.is_err());
    auth.revoke_session(&user.id, b.tokens.family_id.as_str())
        .await
        .unwrap();
    for bad in [
        theirs.tokens.family_id.as_str(),
        "0123456789abcdef0123456789abcdef",
        "",
        &"x".repeat(100),
    ] {
        let err = auth.revoke_session(&user.id, bad).await.unwrap_err();
        assert!(matches!(err, FlowError::SessionNotFound), "{bad}: {err:?}");
        assert_eq!(
            (err.status(), err.detail().as_str()),
            (404, "Session not found")
        );
    }
    assert!(auth.authenticate(&theirs.tokens.access_token).await.is_ok());
    // Revoke the others: only `a` stays.
    let d = sign_in(&auth, &email).await;
    let n = auth
        .revoke_other_sessions(&user.id, me.family_id())
        .await
        .unwrap();
    assert_eq!(n, 2, "c and d");
    assert_eq!(
        fullauth_flows::types::revoke_others_detail(n),
        "Signed out 2 other session(s)."
    );
    assert!(auth.authenticate(&c.tokens.access_token).await.is_err());
    assert!(auth.authenticate(&d.tokens.access_token).await.is_err());
    assert!(auth.authenticate(&a.tokens.access_token).await.is_ok());
    assert_eq!(auth.list_sessions(&user.id, None).await.unwrap().len(), 1);
    assert_eq!(auth.list_sessions(&other.id, None).await.unwrap().len(), 1);
    // Without a family in the token: 401.
    assert!(is_401(
        &auth
            .revoke_other_sessions(&user.id, None)
            .await
            .unwrap_err()
    ));
}

pub async fn email_verification(store: Arc<dyn Store>) {
    let auth = service(&store, |_| {});
    let email = email();
    let user = register(&auth, &email).await;
    let token = auth
        .request_email_verification(&ctx(), &user.id)
        .await
        .unwrap()
        .unwrap();
    let claims = auth.engine().verify(&token).unwrap();
    assert_eq!(claims.purpose(), Some("email_verify"));
    assert_eq!(claims.exp - claims.iat, 1440 * 60);
    assert_eq!(claims.roles.as_deref(), Some(&[][..]));
    assert!(claims.family_id.is_none() && claims.auth_time.is_none());
    // Not a session token.
    assert!(matches!(
        auth.authenticate(&token).await,
        Err(FlowError::InvalidToken(TokenRejection::WrongPurpose))
    ));
    let verified = auth.verify_email(&ctx(), &token).await.unwrap();
    assert!(verified.is_verified);
    assert!(store.get_user(&user.id).await.unwrap().unwrap().is_verified);
    // Single use.
    assert!(matches!(
        auth.verify_email(&ctx(), &token).await,
        Err(FlowError::InvalidToken(TokenRejection::Revoked))
    ));
    // Nothing to verify any more; unknown users get nothing either.
    assert!(
        auth.create_email_verification_token(&user.id)
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        auth.create_email_verification_token(&UserId::generate())
            .await
            .unwrap()
            .is_none()
    );
    // A fresh token of an already verified user still succeeds (a no-op).
    let again = auth
        .engine()
        .mint_purpose(
            &user.id.to_string(),
            "email_verify",
            Map::new(),
            Duration::from_secs(60),
        )
        .unwrap();
    assert!(
        auth.verify_email(&ctx(), &again.token)
            .await
            .unwrap()
            .is_verified
    );
    // Wrong purpose, inactive user.
    let reset = auth
        .engine()
        .mint_purpose(
            &user.id.to_string(),
            "password_reset",
            Map::new(),
            Duration::from_secs(60),
        )
        .unwrap();
    assert!(matches!(
        auth.verify_email(&ctx(), &reset.token).await,
        Err(FlowError::InvalidToken(TokenRejection::WrongPurpose))
    ));
    let other = register(&auth, &self::email()).await;
    let token = auth
        .create_email_verification_token(&other.id)
        .await
        .unwrap()
        .unwrap();
    store
        .update_user(
            &other.id,
            UserPatch {
                is_active: Some(false),
                ..UserPatch::new()
            },
        )
        .await
        .unwrap();
    assert!(matches!(
        auth.verify_email(&ctx(), &token).await,
        Err(FlowError::InactiveUser)
    ));
    assert!(
        !store
            .get_user(&other.id)
            .await
            .unwrap()
            .unwrap()
            .is_verified
    );
}

pub async fn password_reset(store: Arc<dyn Store>) {
    let auth = service(&store, |_| {});
    let email = email();
    let user = register(&auth, &email).await;
    let session = sign_in(&auth, &email).await;
    assert!(
        auth.request_password_reset(&ctx(), &self::email())
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        auth.request_password_reset(&ctx(), "not an email \u{1}")
            .await
            .unwrap()
            .is_none()
    );
    let req = auth
        .request_password_reset(&ctx(), &email.to_uppercase())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(req.user.id, user.id);
    let claims = auth.engine().verify(&req.token).unwrap();
    assert_eq!(claims.purpose(), Some("password_reset"));
    assert_eq!(claims.exp - claims.iat, 15 * 60);
    let pwd = claims.extra_value("pwd").and_then(Value::as_str).unwrap();
    assert_eq!(pwd.len(), 32);
    let stale = auth
        .request_password_reset(&ctx(), &email)
        .await
        .unwrap()
        .unwrap();
    // The policy is checked after the token.
    let err = auth
        .reset_password(&ctx(), &req.token, "short")
        .await
        .unwrap_err();
    assert_eq!(err.status(), 422);
    let err = auth
        .reset_password(&ctx(), "garbage", "short")
        .await
        .unwrap_err();
    assert_eq!(err.status(), 401, "a bad token wins over a bad password");
    auth.reset_password(&ctx(), &req.token, "a brand new password")
        .await
        .unwrap();
    // Old password out, new one in; every session ended.
    assert!(auth.login(&ctx(), &email, PASSWORD).await.is_err());
    assert!(
        auth.authenticate(&session.tokens.access_token)
            .await
            .is_err()
    );
    assert!(
        auth.refresh(&ctx(), &session.tokens.refresh_token)
            .await
            .is_err()
    );
    assert!(
        auth.login(&ctx(), &email, "a brand new password")
            .await
            .is_ok()
    );
    // Single use, and the other outstanding link is stale now.
    assert!(matches!(
        auth.reset_password(&ctx(), &req.token, "yet another password")
            .await,
        Err(FlowError::InvalidToken(TokenRejection::Revoked))
    ));
    assert!(matches!(
        auth.reset_password(&ctx(), &stale.token, "yet another password")
            .await,
        Err(FlowError::InvalidToken(TokenRejection::Stale))
    ));
    // The stale token was burned on the way out.
    assert!(matches!(
        auth.reset_password(&ctx(), &stale.token, "yet another password")
            .await,
        Err(FlowError::InvalidToken(TokenRejection::Revoked))
    ));
    // A token without a fingerprint is stale too.
    let bare = auth
        .engine()
        .mint_purpose(
            &user.id.to_string(),
            "password_reset",
            Map::new(),
            Duration::from_secs(60),
        )
        .unwrap();
    assert!(matches!(
        auth.reset_password(&ctx(), &bare.token, "yet another password")
            .await,
        Err(FlowError::InvalidToken(TokenRejection::Stale))
    ));
    // A user without a password can reset (the fingerprint of "").
    let oauth_only = store
        .create_user(NewUser::new(self::email()).unwrap())
        .await
        .unwrap();
    let req = auth
        .request_password_reset(&ctx(), oauth_only.email.as_str())
        .await
        .unwrap()
        .unwrap();
    auth.reset_password(&ctx(), &req.token, "first password!")
        .await
        .unwrap();
    assert!(
        store
            .get_password_hash(&oauth_only.id)
            .await
            .unwrap()
            .is_some()
    );
}

pub async fn change_password_and_reauth(store: Arc<dyn Store>) {
    let auth = service(&store, |_| {});
    let email = email();
    register(&auth, &email).await;
    let s = sign_in(&auth, &email).await;
    let other = sign_in(&auth, &email).await;
    let me = auth.authenticate(&s.tokens.access_token).await.unwrap();
    for current in [None, Some(""), Some("wrong password")] {
        let err = auth
            .change_password(&ctx(), &me, current, "new password!!")
            .await
            .unwrap_err();
        assert!(
            matches!(err, FlowError::CurrentPasswordIncorrect),
            "{err:?}"
        );
        assert_eq!(
            (err.status(), err.detail().as_str()),
            (400, "Current password is incorrect")
        );
    }
    // The current password is checked before the policy.
    let err = auth
        .change_password(&ctx(), &me, Some(PASSWORD), "short")
        .await
        .unwrap_err();
    assert_eq!(err.status(), 422);
    auth.change_password(&ctx(), &me, Some(PASSWORD), "new password!!")
        .await
        .unwrap();
    // Every session ends, the caller's own included.
    for t in [&s.tokens.access_token, &other.tokens.access_token] {
        assert!(auth.authenticate(t).await.is_err());
    }
    assert!(
        auth.refresh(&ctx(), &other.tokens.refresh_token)
            .await
            .is_err()
    );
    assert!(auth.login(&ctx(), &email, "new password!!").await.is_ok());

    // A user without a password sets a first one on a fresh session only.
    let bare = store
        .create_user(NewUser::new(self::email()).unwrap())
        .await
        .unwrap();
    let fresh = auth
        .issue_token_pair(&bare, &ctx(), Map::new())
        .await
        .unwrap();
    let caller = auth.authenticate(&fresh.access_token).await.unwrap();
    let old = auth
        .engine()
        .mint_access(
            &bare.id.to_string(),
            vec![],
            Map::new(),
            None,
            Some(now() - 301),
        )
        .unwrap();
    let stale_caller = auth.authenticate(&old.token).await.unwrap();
    let err = auth
        .change_password(&ctx(), &stale_caller, None, "first password")
        .await
        .unwrap_err();
    assert!(matches!(err, FlowError::Reauth(ReauthFailure::Required)));
    assert_eq!(
        (err.status(), err.detail().as_str()),
        (403, "Re-authentication required")
    );
    auth.change_password(&ctx(), &caller, None, "first password")
        .await
        .unwrap();
    assert!(store.get_password_hash(&bare.id).await.unwrap().is_some());
}

pub async fn delete_account(store: Arc<dyn Store>) {
    let auth = service(&store, |_| {});
    let email = email();
    let user = register(&auth, &email).await;
    let s = sign_in(&auth, &email).await;
    // A session older than the re-auth window needs the password.
    let old = auth
        .engine()
        .mint_access(
            &user.id.to_string(),
            vec![],
            Map::new(),
            Some(&s.tokens.family_id),
            Some(now() - 400),
        )
        .unwrap();
    let stale = auth.authenticate(&old.token).await.unwrap();
    let err = auth.delete_account(&ctx(), &stale, None).await.unwrap_err();
    assert!(matches!(err, FlowError::Reauth(ReauthFailure::Required)));
    let err = auth
        .delete_account(&ctx(), &stale, Some("wrong password"))
        .await
        .unwrap_err();
    assert!(matches!(
        err,
        FlowError::Reauth(ReauthFailure::WrongPassword)
    ));
    assert_eq!(
        (err.status(), err.detail().as_str()),
        (403, "Current password is incorrect")
    );
    // A wrong password does not fall back to a fresh session.
    let fresh = auth.authenticate(&s.tokens.access_token).await.unwrap();
    assert!(
        auth.delete_account(&ctx(), &fresh, Some("wrong password"))
            .await
            .is_err()
    );
    auth.delete_account(&ctx(), &stale, Some(PASSWORD))
        .await
        .unwrap();
    assert!(store.get_user(&user.id).await.unwrap().is_none());
    assert!(matches!(
        auth.authenticate(&s.tokens.access_token).await,
        Err(FlowError::InactiveUser)
    ));
    assert!(auth.refresh(&ctx(), &s.tokens.refresh_token).await.is_err());
}

pub async fn mfa_end_to_end(store: Arc<dyn Store>) {
    let auth = service(&store, |c| c.mfa_issuer = Some("Flows Test".into()));
    let email = email();
    let user = register(&auth, &email).await;
    let s = sign_in(&auth, &email).await;
    let me = auth.authenticate(&s.tokens.access_token).await.unwrap();
    assert_eq!(
        auth.mfa_status(&user.id).await.unwrap(),
        fullauth_flows::MfaStatus {
            enabled: false,
            recovery_codes_remaining: 0
        }
    );
    // Confirming without an enrolment.
    assert!(matches!(
        auth.mfa_confirm(&ctx(), &user, "123456").await,
        Err(FlowError::MfaNotStarted)
    ));
    let enrol = auth.mfa_enroll(&me, None).await.unwrap();
    assert_eq!(enrol.secret.len(), 32);
    assert!(
        enrol
            .provisioning_uri
            .starts_with("otpauth://totp/Flows%20Test:user-")
    );
    assert!(
        enrol
            .provisioning_uri
            .ends_with(&format!("?secret={}&issuer=Flows%20Test", enrol.secret))
    );
    // An unconfirmed factor does not gate sign-in.
    sign_in(&auth, &email).await;
    // A restart replaces the unconfirmed secret.
    let enrol = auth.mfa_enroll(&me, None).await.unwrap();
    let step = totp::step_of(now());
    let err = auth
        .mfa_confirm(&ctx(), &user, "000000x")
        .await
        .unwrap_err();
    assert!(matches!(err, FlowError::InvalidMfaCode));
    assert_eq!((err.status(), err.detail().as_str()), (400, "Invalid code"));
    let previous = totp::code_at(&enrol.secret, step - 1).unwrap();
    let codes = auth.mfa_confirm(&ctx(), &user, &previous).await.unwrap();
    assert_eq!(codes.len(), 10);
    assert!(
        codes
            .iter()
            .all(|c| c.len() == 14 && c.chars().filter(|x| *x == '-').count() == 2)
    );
    assert!(matches!(
        auth.mfa_confirm(&ctx(), &user, &previous).await,
        Err(FlowError::MfaAlreadyConfirmed)
    ));
    assert!(matches!(
        auth.mfa_enroll(&me, None).await,
        Err(FlowError::MfaAlreadyEnabled)
    ));
    assert_eq!(
        auth.mfa_status(&user.id).await.unwrap(),
        fullauth_flows::MfaStatus {
            enabled: true,
            recovery_codes_remaining: 10
        }
    );

    // Login now stops at the gate, and stores no session (the deliberate
    // difference from the reference's orphan row).
    let before = auth.list_sessions(&user.id, None).await.unwrap().len();
    let outcome = auth.login(&ctx(), &email, PASSWORD).await.unwrap();
    assert_eq!(outcome.status(), 202);
    let LoginOutcome::MfaRequired { mfa_token, .. } = outcome else {
        panic!("expected the MFA gate")
    };
    assert_eq!(
        auth.list_sessions(&user.id, None).await.unwrap().len(),
        before
    );
    let pending = auth.engine().verify(&mfa_token).unwrap();
    assert_eq!(pending.purpose(), Some("mfa_pending"));
    assert_eq!(pending.exp - pending.iat, 300);
    assert!(pending.family_id.is_none() && pending.auth_time.is_none());
    assert!(matches!(
        auth.authenticate(&mfa_token).await,
        Err(FlowError::InvalidToken(TokenRejection::WrongPurpose))
    ));
    // The confirming code is spent; a wrong code keeps the token usable.
    assert!(matches!(
        auth.mfa_verify(&ctx(), &mfa_token, &previous).await,
        Err(FlowError::InvalidCredentials)
    ));
    let current = totp::code_at(&enrol.secret, totp::step_of(now())).unwrap();
    let spaced = format!(" {} {} ", &current[..3], &current[3..]);
    let signed = auth.mfa_verify(&ctx(), &mfa_token, &spaced).await.unwrap();
    assert_eq!(signed.user.id, user.id);
    assert!(auth.authenticate(&signed.tokens.access_token).await.is_ok());
    assert_eq!(
        auth.list_sessions(&user.id, None).await.unwrap().len(),
        before + 1
    );
    // The pending token is burned; the code cannot be replayed.
    assert!(matches!(
        auth.mfa_verify(&ctx(), &mfa_token, &current).await,
        Err(FlowError::InvalidToken(TokenRejection::Revoked))
    ));
    let LoginOutcome::MfaRequired { mfa_token, .. } =
        auth.login(&ctx(), &email, PASSWORD).await.unwrap()
    else {
        panic!()
    };
    assert!(matches!(
        auth.mfa_verify(&ctx(), &mfa_token, &current).await,
        Err(FlowError::InvalidCredentials)
    ));
    // A recovery code works once, case-sensitively.
    let lettered = codes
        .iter()
        .position(|c| c.chars().any(|ch| ch.is_ascii_alphabetic()))
        .expect("ten random hex codes without a letter");
    let code = codes[lettered].clone();
    assert!(matches!(
        auth.mfa_verify(&ctx(), &mfa_token, &code.to_uppercase())
            .await,
        Err(FlowError::InvalidCredentials)
    ));
    auth.mfa_verify(&ctx(), &mfa_token, &code).await.unwrap();
    assert_eq!(
        auth.mfa_status(&user.id)
            .await
            .unwrap()
            .recovery_codes_remaining,
        9
    );
    let LoginOutcome::MfaRequired { mfa_token, .. } =
        auth.login(&ctx(), &email, PASSWORD).await.unwrap()
    else {
        panic!()
    };
    // (the lockout was cleared by the success above)
    assert!(matches!(
        auth.mfa_verify(&ctx(), &mfa_token, &code).await,
        Err(FlowError::InvalidCredentials)
    ));
    // Failures lock `mfa:<id>` (3 with the cases' policy), even for a good code.
    assert!(auth.mfa_verify(&ctx(), &mfa_token, "nope").await.is_err());
    let locked = auth
        .mfa_verify(&ctx(), &mfa_token, "nope")
        .await
        .unwrap_err();
    assert!(
        matches!(locked, FlowError::AccountLocked { .. }),
        "{locked:?}"
    );
    let other = &codes[(lettered + 1) % codes.len()];
    assert!(matches!(
        auth.mfa_verify(&ctx(), &mfa_token, other).await,
        Err(FlowError::AccountLocked { .. })
    ));
    tokio::time::sleep(Duration::from_millis(2300)).await;
    auth.mfa_verify(&ctx(), &mfa_token, other).await.unwrap();

    // Disabling needs proof of presence; then login is plain again.
    let old = auth
        .engine()
        .mint_access(
            &user.id.to_string(),
            vec![],
            Map::new(),
            None,
            Some(now() - 400),
        )
        .unwrap();
    let stale = auth.authenticate(&old.token).await.unwrap();
    assert!(matches!(
        auth.mfa_disable(&stale, None).await,
        Err(FlowError::Reauth(ReauthFailure::Required))
    ));
    auth.mfa_disable(&stale, Some(PASSWORD)).await.unwrap();
    auth.mfa_disable(&stale, Some(PASSWORD)).await.unwrap();
    sign_in(&auth, &email).await;
}

struct Claims;

#[fullauth_api::async_trait]
impl ClaimsProvider for Claims {
    async fn claims(&self, user: &User) -> Result<Map<String, Value>, FlowError> {
        let mut m = Map::new();
        m.insert("tenant".into(), json!("acme"));
        m.insert("email".into(), json!(user.email.as_str()));
        Ok(m)
    }
}

struct Reserved;

#[fullauth_api::async_trait]
impl ClaimsProvider for Reserved {
    async fn claims(&self, _user: &User) -> Result<Map<String, Value>, FlowError> {
        let mut m = Map::new();
        m.insert("roles".into(), json!(["root"]));
        m.insert("sub".into(), json!("someone else"));
        Ok(m)
    }
}

pub async fn roles_permissions_and_claims(store: Arc<dyn Store>) {
    let auth = service(&store, |_| {}).with_claims_provider(Arc::new(Claims));
    let email = email();
    let user = register(&auth, &email).await;
    auth.assign_role(&user.id, "editor").await.unwrap();
    auth.assign_permission("editor", "posts:write")
        .await
        .unwrap();
    assert_eq!(
        auth.role_permissions("editor").await.unwrap(),
        ["posts:write"]
    );
    assert!(auth.role_permissions("nobody").await.unwrap().is_empty());
    assert!(matches!(
        auth.assign_role(&UserId::generate(), "editor").await,
        Err(FlowError::UserNotFound)
    ));
    assert_eq!(
        auth.assign_role(&user.id, "").await.unwrap_err().status(),
        422
    );
    let s = sign_in(&auth, &email).await;
    let claims = auth
        .engine()
        .decode(&s.tokens.access_token, Expect::Session)
        .await
        .unwrap();
    assert_eq!(claims.roles.as_deref(), Some(&["editor".to_string()][..]));
    assert_eq!(claims.extra_value("tenant"), Some(&json!("acme")));
    // Custom claims are rebuilt at refresh.
    let r = auth.refresh(&ctx(), &s.tokens.refresh_token).await.unwrap();
    let rc = auth.engine().verify(&r.access_token).unwrap();
    assert_eq!(rc.extra_value("email"), Some(&json!(user.email.as_str())));
    // The roles claim is read again at refresh (with the user, in one call).
    assert_eq!(rc.roles.as_deref(), Some(&["editor".to_string()][..]));
    // Roles and permissions come from the store, not from the token.
    let me = auth.authenticate(&s.tokens.access_token).await.unwrap();
    auth.require_role(&me.user, &["admin", "editor"])
        .await
        .unwrap();
    auth.require_permission(&me.user, &["posts:write"])
        .await
        .unwrap();
    auth.remove_role(&user.id, "editor").await.unwrap();
    let err = auth.require_role(&me.user, &["editor"]).await.unwrap_err();
    assert_eq!(
        (err.status(), err.detail().as_str()),
        (403, "Not enough permissions")
    );
    assert!(
        auth.require_permission(&me.user, &["posts:write"])
            .await
            .is_err()
    );
    auth.remove_permission("editor", "posts:write")
        .await
        .unwrap();
    assert!(auth.role_permissions("editor").await.unwrap().is_empty());
    assert!(auth.require_verified(&me.user).is_err());
    assert!(auth.require_superuser(&me.user).is_err());
    let boss = store
        .update_user(
            &user.id,
            UserPatch {
                is_superuser: Some(true),
                is_verified: Some(true),
                ..UserPatch::new()
            },
        )
        .await
        .unwrap();
    auth.require_role(&boss, &["anything"]).await.unwrap();
    auth.require_permission(&boss, &["any:thing"])
        .await
        .unwrap();
    auth.require_verified(&boss).unwrap();
    auth.require_superuser(&boss).unwrap();
    // A provider that uses reserved keys fails the sign-in (500).
    let bad = service(&store, |_| {}).with_claims_provider(Arc::new(Reserved));
    let err = bad.login(&ctx(), &email, PASSWORD).await.unwrap_err();
    assert!(
        matches!(err, FlowError::Claims(ref m) if m == "Custom claims contain reserved keys: roles, sub"),
        "{err:?}"
    );
    assert_eq!(err.status(), 500);
}

pub async fn rehash_weaker_hashes(store: Arc<dyn Store>) {
    let weak = PasswordHasher::new(8, 1, 1).unwrap();
    let stronger = PasswordHasher::new(16, 1, 1).unwrap();
    let auth = service(&store, |_| {}).with_hasher(stronger.clone());
    let hash: HashedPassword = weak.hash(PASSWORD).await.unwrap();
    let email = email();
    let user = store
        .create_user(
            NewUser::new(&email)
                .unwrap()
                .with_password_hash(hash.clone()),
        )
        .await
        .unwrap();
    sign_in(&auth, &email).await;
    let after = store.get_password_hash(&user.id).await.unwrap().unwrap();
    assert_ne!(after, hash);
    assert!(after.as_str().contains("m=16,"), "{after:?}");
    assert!(!stronger.needs_rehash(&after));
    sign_in(&auth, &email).await;
    assert_eq!(
        store.get_password_hash(&user.id).await.unwrap().unwrap(),
        after,
        "no second rehash"
    );
}

pub async fn blacklist_fails_closed_on_odd_keys(store: Arc<dyn Store>) {
    let auth = service(&store, |_| {});
    let email = email();
    let user = register(&auth, &email).await;
    let n = now();
    // A jti that cannot be a blacklist key is refused rather than trusted.
    let odd = auth
        .engine()
        .encode_value(&json!({"sub": user.id.to_string(), "exp": n + 60, "iat": n, "jti": "x".repeat(600), "type": "access"}))
        .unwrap();
    assert!(matches!(
        auth.authenticate(&odd).await,
        Err(FlowError::InvalidToken(TokenRejection::Revoked))
    ));
    // A token without jti or type is a valid session token (the reference's
    // leniency).
    let minimal = auth
        .engine()
        .encode_value(&json!({"sub": user.id.to_string(), "exp": n + 60, "iat": n}))
        .unwrap();
    assert!(auth.authenticate(&minimal).await.is_ok());
    // Logging out with it blacklists nothing, but succeeds.
    auth.sign_out(Some(&minimal), None).await.unwrap();
}

/// Generates one `#[tokio::test]` per case on the stores `$make` builds
/// (`async fn() -> Option<Arc<dyn Store>>`; `None` skips).
#[macro_export]
macro_rules! flow_cases {
    ($make:path) => {
        $crate::flow_cases!(@cases $make;
            register_enumeration_safe,
            register_enumeration_allowed,
            login_failures_are_one_401,
            lockout_after_failures,
            rate_limit_login_bucket,
            refresh_rotates_and_detects_reuse,
            concurrent_double_refresh,
            refresh_without_rotation,
            refresh_refusals,
            logout_ends_the_session,
            sessions_list_and_revoke,
            email_verification,
            password_reset,
            change_password_and_reauth,
            delete_account,
            mfa_end_to_end,
            roles_permissions_and_claims,
            rehash_weaker_hashes,
            blacklist_fails_closed_on_odd_keys,
        );
    };
    (@cases $make:path; $($case:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $case() {
                let Some(store) = $make().await else { return };
                common::$case(store).await;
            }
        )*
    };
}
