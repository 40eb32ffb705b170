//! The auth routes over real HTTP on loopback (reqwest against a server on
//! 127.0.0.1 with an ephemeral port), on the memory store, SQLite, and
//! PostgreSQL + Redis composed (when `FULLAUTH_TEST_DATABASE_URL` and
//! `FULLAUTH_TEST_REDIS_URL` are set; required under `CI=true`).

mod common;

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::routing::get;
use fullauth_api::{LockoutPolicy, PermissionName, RoleName, Store, UserId, UserIdType};
use fullauth_axum::{
    AuthSettings, CookieTransport, CurrentUser, RequirePermission, RequireRole, Superuser,
    Transport, VerifiedUser,
};
use fullauth_flows::AuthRateLimits;
use serde_json::{Value, json};

use common::{PASSWORD, Server, email, serve, serve_with};

fullauth_axum::role!(Editor = "editor");
fullauth_axum::permission!(PostsWrite = "posts:write");

/// App routes guarded by the extractors.
fn app_routes(auth: &fullauth_axum::FullAuth) -> Router {
    Router::new()
        .route(
            "/app/whoami",
            get(|user: CurrentUser| async move { user.user.email.as_str().to_string() }),
        )
        .route("/app/verified", get(|_: VerifiedUser| async { "verified" }))
        .route("/app/admin", get(|_: Superuser| async { "superuser" }))
        .route(
            "/app/editor",
            get(|_: RequireRole<Editor>| async { "editor" }),
        )
        .route(
            "/app/posts",
            get(|_: RequirePermission<PostsWrite>| async { "posts" }),
        )
        .with_state(auth.clone())
}

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

// ---- register → login → me → refresh → logout ----------------------------

async fn full_round_trip(store: Arc<dyn Store>) {
    let s = serve(store).await;
    let who = email("trip");

    let r = s
        .post_json(
            "/register",
            json!({"email": who.to_uppercase(), "password": PASSWORD}),
            None,
        )
        .await;
    assert_eq!(r.status, 202, "{r:?}");
    assert_eq!(
        r.body,
        json!({"detail": "If this email isn't already registered, the account has been created."})
    );
    // A duplicate answers the same.
    let dup = s
        .post_json(
            "/register",
            json!({"email": who, "password": "another password"}),
            None,
        )
        .await;
    assert_eq!((dup.status, &dup.body), (202, &r.body));

    let login = s.login(&who).await;
    assert_eq!(login["token_type"], "bearer");
    assert_eq!(login["expires_in"], 1800);
    assert_eq!(login["user"]["email"], who.as_str());
    assert_eq!(login["user"]["is_active"], true);
    assert_eq!(login["user"]["is_verified"], false);
    assert_eq!(login["user"]["is_superuser"], false);
    let keys: Vec<&str> = login["user"]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(keys.len(), 5, "{keys:?}");
    let access = login["access_token"].as_str().unwrap().to_string();
    let refresh = login["refresh_token"].as_str().unwrap().to_string();

    let me = s.get("/me", Some(&access)).await;
    assert_eq!(me.status, 200, "{me:?}");
    assert_eq!(me.body, login["user"]);
    // The scheme is case-insensitive; other schemes are ignored.
    let lower = s
        .send(
            s.client
                .get(s.url("/me"))
                .header("authorization", format!("bearer {access}")),
        )
        .await;
    assert_eq!(lower.status, 200);
    s.send(
        s.client
            .get(s.url("/me"))
            .header("authorization", format!("Token {access}")),
    )
    .await
    .assert_401();
    s.get("/me", None).await.assert_401();
    s.get("/me", Some("garbage")).await.assert_401();
    // A refresh token is not an access token.
    s.get("/me", Some(&refresh)).await.assert_401();

    let r = s
        .post_json("/refresh", json!({"refresh_token": refresh}), None)
        .await;
    assert_eq!(r.status, 200, "{r:?}");
    let keys: Vec<&str> = r
        .body
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        keys,
        ["access_token", "expires_in", "refresh_token", "token_type"]
    );
    let access2 = r.str("access_token");
    let refresh2 = r.str("refresh_token");
    assert_ne!(refresh2, refresh);
    assert_eq!(s.get("/me", Some(&access2)).await.status, 200);
    // An access token is refused at /refresh; so is no token at all.
    s.post_json("/refresh", json!({"refresh_token": access2}), None)
        .await
        .assert_401();
    s.send(s.post("/refresh")).await.assert_401();
    s.post_json("/refresh", json!({"refresh_token": null}), None)
        .await
        .assert_401();

    let out = s.post_json("/logout", json!({}), Some(&access2)).await;
    assert_eq!(out.status, 204, "{out:?}");
    assert!(out.text.is_empty());
    s.get("/me", Some(&access2)).await.assert_401();
    s.post_json("/refresh", json!({"refresh_token": refresh2}), None)
        .await
        .assert_401();
    // Nothing left to end: 401.
    s.post_json("/logout", json!({}), Some(&access2))
        .await
        .assert_401();
    s.send(s.post("/logout")).await.assert_401();

    // Logout with only the refresh token (an expired access token's client).
    let again = s.login(&who).await;
    let out = s
        .post_json(
            "/logout",
            json!({"refresh_token": again["refresh_token"]}),
            None,
        )
        .await;
    assert_eq!(out.status, 204, "{out:?}");
    s.post_json(
        "/refresh",
        json!({"refresh_token": again["refresh_token"]}),
        None,
    )
    .await
    .assert_401();
}

// ---- sessions -------------------------------------------------------------

async fn sessions_list_and_revoke(store: Arc<dyn Store>) {
    let s = serve(store).await;
    let who = email("sessions");
    s.register(&who).await;
    let a = s.login(&who).await;
    let b = s.login(&who).await;
    let c = s.login(&who).await;
    let a_access = a["access_token"].as_str().unwrap();
    let b_access = b["access_token"].as_str().unwrap();
    let c_access = c["access_token"].as_str().unwrap();

    let list = s.get("/sessions", Some(a_access)).await;
    assert_eq!(list.status, 200, "{list:?}");
    let rows = list.body.as_array().unwrap();
    assert_eq!(rows.len(), 3, "{rows:?}");
    assert_eq!(rows.iter().filter(|r| r["current"] == true).count(), 1);
    for row in rows {
        let keys: Vec<&str> = row
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
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
        assert_eq!(row["ip_address"], "127.0.0.1");
        assert!(row["created_at"].as_str().unwrap().ends_with('Z'), "{row}");
        assert_eq!(row["family_id"].as_str().unwrap().len(), 32);
    }
    // The family of each session is the one its own token marks current.
    let a_family = current_family(&s, a_access).await;
    let b_family = current_family(&s, b_access).await;
    assert_ne!(a_family, b_family);
    let del = s
        .delete(&format!("/sessions/{b_family}"), Some(a_access))
        .await;
    assert_eq!(del.status, 204, "{del:?}");
    s.get("/me", Some(b_access)).await.assert_401();
    s.post_json(
        "/refresh",
        json!({"refresh_token": b["refresh_token"]}),
        None,
    )
    .await
    .assert_401();
    // Idempotent for the owner; 404 for an unknown family.
    assert_eq!(
        s.delete(&format!("/sessions/{b_family}"), Some(a_access))
            .await
            .status,
        204
    );
    let unknown = s
        .delete("/sessions/0123456789abcdef0123456789abcdef", Some(a_access))
        .await;
    assert_eq!(
        (unknown.status, &unknown.body),
        (404, &json!({"detail": "Session not found"}))
    );
    // Someone else's family is "not found" too.
    let other = email("sessions-other");
    s.register(&other).await;
    let o = s.login(&other).await;
    let o_access = o["access_token"].as_str().unwrap();
    assert_eq!(
        s.delete(&format!("/sessions/{a_family}"), Some(o_access))
            .await
            .status,
        404
    );

    // Revoke the others from A: C dies, A lives.
    let r = s
        .post_json("/sessions/revoke-others", json!({}), Some(a_access))
        .await;
    assert_eq!(
        (r.status, &r.body),
        (200, &json!({"detail": "Signed out 1 other session(s)."}))
    );
    s.get("/me", Some(c_access)).await.assert_401();
    assert_eq!(s.get("/me", Some(a_access)).await.status, 200);
    let list = s.get("/sessions", Some(a_access)).await;
    assert_eq!(list.body.as_array().unwrap().len(), 1, "{list:?}");
    s.get("/sessions", None).await.assert_401();
}

/// The `family_id` the session list marks `current` for this access token.
async fn current_family(s: &Server, access: &str) -> String {
    let list = s.get("/sessions", Some(access)).await;
    let current: Vec<String> = list
        .body
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["current"] == true)
        .map(|r| r["family_id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(current.len(), 1, "{list:?}");
    current[0].clone()
}

// ---- concurrent double refresh --------------------------------------------

async fn concurrent_double_refresh(store: Arc<dyn Store>) {
    let s = serve(store).await;
    let who = email("race");
    s.register(&who).await;
    let login = s.login(&who).await;
    let refresh = login["refresh_token"].clone();
    let (x, y) = tokio::join!(
        s.post_json("/refresh", json!({"refresh_token": refresh}), None),
        s.post_json("/refresh", json!({"refresh_token": refresh}), None),
    );
    let mut statuses = [x.status, y.status];
    statuses.sort();
    assert_eq!(statuses, [200, 401], "exactly one wins: {x:?} {y:?}");
    let (winner, loser) = if x.status == 200 { (x, y) } else { (y, x) };
    loser.assert_401();
    // The family is dead: the winner's new refresh token and its access token
    // are refused, and so is the login's access token.
    s.post_json(
        "/refresh",
        json!({"refresh_token": winner.body["refresh_token"]}),
        None,
    )
    .await
    .assert_401();
    s.get("/me", winner.body["access_token"].as_str())
        .await
        .assert_401();
    s.get("/me", login["access_token"].as_str())
        .await
        .assert_401();
    // Another session of the same user is untouched.
    let fresh = s.login(&who).await;
    assert_eq!(
        s.get("/me", fresh["access_token"].as_str()).await.status,
        200
    );
}

// ---- lockout ----------------------------------------------------------------

async fn lockout_after_wrong_passwords(store: Arc<dyn Store>) {
    let mut config = common::config();
    config.lockout = Some(LockoutPolicy {
        max_attempts: 3,
        duration: Duration::from_secs(2),
    });
    let s = serve_with(store, config, AuthSettings::default(), |_| Router::new()).await;
    let who = email("lockout");
    s.register(&who).await;
    for _ in 0..3 {
        s.post_json(
            "/login",
            json!({"email": who, "password": "wrong password"}),
            None,
        )
        .await
        .assert_401();
    }
    // Locked: the right password is refused, with the same 401.
    s.post_json("/login", json!({"email": who, "password": PASSWORD}), None)
        .await
        .assert_401();
    // The lock ends after its duration; then the right password works.
    tokio::time::sleep(Duration::from_millis(2300)).await;
    let r = s
        .post_json("/login", json!({"email": who, "password": PASSWORD}), None)
        .await;
    assert_eq!(r.status, 200, "{r:?}");
    // An unknown email answers the same 401.
    s.post_json(
        "/login",
        json!({"email": email("nobody"), "password": PASSWORD}),
        None,
    )
    .await
    .assert_401();
}

// ---- verification and reset -------------------------------------------------

async fn verification_and_reset_tokens(store: Arc<dyn Store>) {
    let s = serve(store).await;
    let who = email("verify");
    s.register(&who).await;
    let login = s.login(&who).await;
    let access = login["access_token"].as_str().unwrap();

    let r = s
        .post_json("/verify-email/request", json!({}), Some(access))
        .await;
    assert_eq!(
        (r.status, &r.body),
        (
            202,
            &json!({"detail": "If eligible, a verification email has been sent."})
        )
    );
    let token = s
        .mailbox
        .last(&s.mailbox.verification, &who)
        .await
        .expect("the verification hook ran");
    // A purpose token is not a session token.
    s.get("/me", Some(&token)).await.assert_401();
    let ok = s
        .post_json("/verify-email/confirm", json!({"token": token}), None)
        .await;
    assert_eq!(
        (ok.status, &ok.body),
        (200, &json!({"detail": "Email verified."}))
    );
    s.post_json("/verify-email/confirm", json!({"token": token}), None)
        .await
        .assert_401();
    s.post_json("/verify-email/confirm", json!({"token": "garbage"}), None)
        .await
        .assert_401();
    assert_eq!(s.get("/me", Some(access)).await.body["is_verified"], true);
    assert_eq!(s.get("/me/verified", Some(access)).await.status, 200);

    // Password reset: unknown emails answer the same 202.
    let r = s
        .post_json(
            "/password-reset/request",
            json!({"email": email("ghost")}),
            None,
        )
        .await;
    assert_eq!(
        (r.status, &r.body),
        (
            202,
            &json!({"detail": "If the email exists, a reset link has been sent."})
        )
    );
    let r = s
        .post_json("/password-reset/request", json!({"email": who}), None)
        .await;
    assert_eq!(r.status, 202);
    let reset = s
        .mailbox
        .last(&s.mailbox.reset, &who)
        .await
        .expect("the reset hook ran");
    // Policy first (422 string), the token stays usable.
    let short = s
        .post_json(
            "/password-reset/confirm",
            json!({"token": reset, "new_password": "short"}),
            None,
        )
        .await;
    assert_eq!(
        (short.status, &short.body),
        (
            422,
            &json!({"detail": "Password must be at least 8 characters"})
        )
    );
    // A garbage token with a short password is a 401, not a 422.
    s.post_json(
        "/password-reset/confirm",
        json!({"token": "garbage", "new_password": "x"}),
        None,
    )
    .await
    .assert_401();
    let new_password = "a brand new password";
    let ok = s
        .post_json(
            "/password-reset/confirm",
            json!({"token": reset, "new_password": new_password}),
            None,
        )
        .await;
    assert_eq!(
        (ok.status, &ok.body),
        (200, &json!({"detail": "Password has been reset."}))
    );
    // Single use; every session ended; the new password works, the old not.
    s.post_json(
        "/password-reset/confirm",
        json!({"token": reset, "new_password": "yet another one"}),
        None,
    )
    .await
    .assert_401();
    s.get("/me", Some(access)).await.assert_401();
    s.post_json("/login", json!({"email": who, "password": PASSWORD}), None)
        .await
        .assert_401();
    let r = s
        .post_json(
            "/login",
            json!({"email": who, "password": new_password}),
            None,
        )
        .await;
    assert_eq!(r.status, 200, "{r:?}");
}

// ---- MFA ----------------------------------------------------------------------

async fn mfa_enrol_confirm_verify(store: Arc<dyn Store>) {
    let s = serve(store).await;
    let who = email("mfa");
    s.register(&who).await;
    let login = s.login(&who).await;
    let access = login["access_token"].as_str().unwrap();

    let st = s.get("/mfa", Some(access)).await;
    assert_eq!(
        st.body,
        json!({"enabled": false, "recovery_codes_remaining": 0})
    );
    let e = s.post_json("/mfa/enroll", json!({}), Some(access)).await;
    assert_eq!(e.status, 200, "{e:?}");
    let secret = e.str("secret");
    assert_eq!(secret.len(), 32);
    let uri = e.str("provisioning_uri");
    let local = who.split('@').next().unwrap();
    assert!(
        uri.starts_with(&format!(
            "otpauth://totp/HttpTest:{local}%40example.com?secret={secret}"
        )),
        "{uri}"
    );

    let empty = s
        .post_json("/mfa/confirm", json!({"code": ""}), Some(access))
        .await;
    assert_eq!(empty.status, 422);
    assert_eq!(empty.body["detail"][0]["type"], "string_too_short");
    let step = fullauth_flows::totp::step_of(now());
    let code = fullauth_flows::totp::code_at(&secret, step).unwrap();
    let wrong = if code == "000000" { "111111" } else { "000000" };
    let bad = s
        .post_json("/mfa/confirm", json!({"code": wrong}), Some(access))
        .await;
    assert_eq!(
        (bad.status, &bad.body),
        (400, &json!({"detail": "Invalid code"}))
    );
    let ok = s
        .post_json("/mfa/confirm", json!({"code": code}), Some(access))
        .await;
    assert_eq!(ok.status, 200, "{ok:?}");
    let codes: Vec<String> = ok.body["recovery_codes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap().to_string())
        .collect();
    assert_eq!(codes.len(), 10);
    assert!(
        codes
            .iter()
            .all(|c| c.len() == 14 && c.matches('-').count() == 2)
    );
    let again = s.post_json("/mfa/enroll", json!({}), Some(access)).await;
    assert_eq!(
        (again.status, &again.body),
        (
            409,
            &json!({"detail": "Two-factor authentication is already enabled"})
        )
    );
    let st = s.get("/mfa", Some(access)).await;
    assert_eq!(
        st.body,
        json!({"enabled": true, "recovery_codes_remaining": 10})
    );

    // The password alone now buys an mfa_token, not a session, and no cookie.
    let pending = s
        .post_json("/login", json!({"email": who, "password": PASSWORD}), None)
        .await;
    assert_eq!(pending.status, 202, "{pending:?}");
    assert_eq!(pending.body["mfa_required"], true);
    let mfa_token = pending.str("mfa_token");
    s.get("/me", Some(&mfa_token)).await.assert_401();
    s.post_json(
        "/mfa/verify",
        json!({"mfa_token": mfa_token, "code": "123"}),
        None,
    )
    .await
    .assert_401();
    // A recovery code works once (spaces are ignored).
    let spaced = format!(" {} ", codes[0]);
    let v = s
        .post_json(
            "/mfa/verify",
            json!({"mfa_token": mfa_token, "code": spaced}),
            None,
        )
        .await;
    assert_eq!(v.status, 200, "{v:?}");
    assert_eq!(v.body["user"]["email"], who.as_str());
    assert_eq!(
        s.get("/me", v.body["access_token"].as_str()).await.status,
        200
    );
    // The pending token is burned.
    s.post_json(
        "/mfa/verify",
        json!({"mfa_token": mfa_token, "code": codes[1]}),
        None,
    )
    .await
    .assert_401();
    // A TOTP code of the next step (the confirming step is spent), once.
    let pending = s
        .post_json("/login", json!({"email": who, "password": PASSWORD}), None)
        .await;
    let mfa_token = pending.str("mfa_token");
    let next = fullauth_flows::totp::code_at(&secret, step + 1).unwrap();
    let v = s
        .post_json(
            "/mfa/verify",
            json!({"mfa_token": mfa_token, "code": next}),
            None,
        )
        .await;
    assert_eq!(v.status, 200, "{v:?}");
    let pending = s
        .post_json("/login", json!({"email": who, "password": PASSWORD}), None)
        .await;
    s.post_json(
        "/mfa/verify",
        json!({"mfa_token": pending.str("mfa_token"), "code": next}),
        None,
    )
    .await
    .assert_401();
    let st = s.get("/mfa", Some(access)).await;
    assert_eq!(st.body["recovery_codes_remaining"], 9);

    // Disable (a fresh session proves presence), then the password signs in.
    let d = s.delete("/mfa", Some(access)).await;
    assert_eq!(d.status, 204, "{d:?}");
    assert_eq!(s.login(&who).await["user"]["email"], who.as_str());
}

// ---- roles and permissions ------------------------------------------------------

async fn role_and_permission_extractors(store: Arc<dyn Store>) {
    let s = serve_with(
        store.clone(),
        common::config(),
        AuthSettings::default(),
        app_routes,
    )
    .await;
    let who = email("rbac");
    s.register(&who).await;
    let login = s.login(&who).await;
    let access = login["access_token"].as_str().unwrap();
    let id: UserId = UserIdType::Uuid
        .parse(login["user"]["id"].as_str().unwrap())
        .unwrap();

    let whoami = s.get("!/app/whoami", Some(access)).await;
    assert_eq!((whoami.status, whoami.text.as_str()), (200, who.as_str()));
    s.get("!/app/whoami", None).await.assert_401();
    s.get("!/app/editor", None).await.assert_401();
    let forbidden = json!({"detail": "Not enough permissions"});
    for path in [
        "!/app/verified",
        "!/app/admin",
        "!/app/editor",
        "!/app/posts",
    ] {
        let r = s.get(path, Some(access)).await;
        assert_eq!((r.status, &r.body), (403, &forbidden), "{path}");
    }
    // The role is read from the store at request time (not the token claim).
    store
        .assign_role(&id, &RoleName::new("editor").unwrap())
        .await
        .unwrap();
    assert_eq!(s.get("!/app/editor", Some(access)).await.status, 200);
    assert_eq!(s.get("!/app/posts", Some(access)).await.status, 403);
    store
        .assign_permission(
            &RoleName::new("editor").unwrap(),
            &PermissionName::new("posts:write").unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(s.get("!/app/posts", Some(access)).await.status, 200);

    // A superuser passes every role and permission check.
    let boss = email("rbac-boss");
    s.register(&boss).await;
    let b = s.login(&boss).await;
    let boss_id: UserId = UserIdType::Uuid
        .parse(b["user"]["id"].as_str().unwrap())
        .unwrap();
    let patch = fullauth_api::UserPatch {
        is_superuser: Some(true),
        ..Default::default()
    };
    store.update_user(&boss_id, patch).await.unwrap();
    let bt = b["access_token"].as_str().unwrap();
    for path in ["!/app/admin", "!/app/editor", "!/app/posts"] {
        assert_eq!(s.get(path, Some(bt)).await.status, 200, "{path}");
    }
    // A deactivated user is refused at once.
    let patch = fullauth_api::UserPatch {
        is_active: Some(false),
        ..Default::default()
    };
    store.update_user(&id, patch).await.unwrap();
    s.get("!/app/whoami", Some(access)).await.assert_401();
}

// ---- cookie transport -------------------------------------------------------------

async fn cookie_transport(store: Arc<dyn Store>) {
    let settings =
        AuthSettings::default().transports(vec![Transport::Cookie(CookieTransport::new())]);
    let s = serve_with(store, common::config(), settings, |_| Router::new()).await;
    let who = email("cookie");
    s.register(&who).await;
    let r = s
        .post_json("/login", json!({"email": who, "password": PASSWORD}), None)
        .await;
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.body["refresh_token"], Value::Null);
    assert!(
        r.body["access_token"]
            .as_str()
            .is_some_and(|t| t.len() > 20)
    );
    let cookies = r.set_cookies();
    assert_eq!(cookies.len(), 2, "{cookies:?}");
    let access = cookie(&cookies, "fullauth_access");
    let refresh = cookie(&cookies, "fullauth_refresh");
    assert_eq!(access, r.str("access_token"));
    assert!(
        cookies[0].ends_with("; HttpOnly; Max-Age=1800; Path=/; SameSite=lax; Secure"),
        "{cookies:?}"
    );
    assert!(
        cookies[1].ends_with("; HttpOnly; Max-Age=2592000; Path=/; SameSite=lax; Secure"),
        "{cookies:?}"
    );

    // The access cookie opens /me; the header wins over the cookie.
    let with = |req: reqwest::RequestBuilder, a: &str, f: &str| {
        req.header(
            "cookie",
            format!("fullauth_access={a}; fullauth_refresh={f}"),
        )
    };
    let me = s
        .send(with(s.client.get(s.url("/me")), &access, &refresh))
        .await;
    assert_eq!(me.status, 200, "{me:?}");
    let me = s
        .send(with(s.client.get(s.url("/me")), &access, &refresh).bearer_auth("garbage"))
        .await;
    me.assert_401();

    // Refresh from the cookie with no body; a failed refresh clears nothing.
    let r = s.send(with(s.post("/refresh"), &access, &refresh)).await;
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.body["refresh_token"], Value::Null);
    let cookies = r.set_cookies();
    let access2 = cookie(&cookies, "fullauth_access");
    let refresh2 = cookie(&cookies, "fullauth_refresh");
    assert_ne!(refresh2, refresh);
    let bad = s.send(with(s.post("/refresh"), &access, "garbage")).await;
    bad.assert_401();
    assert!(bad.set_cookies().is_empty());

    // Logout clears both cookies, on success and on failure.
    let out = s.send(with(s.post("/logout"), &access2, &refresh2)).await;
    assert_eq!(out.status, 204, "{out:?}");
    let cleared = out.set_cookies();
    assert_eq!(cleared.len(), 2, "{cleared:?}");
    for c in &cleared {
        assert!(c.contains("=\"\"; expires="), "{c}");
        assert!(
            c.ends_with(" GMT; HttpOnly; Max-Age=0; Path=/; SameSite=lax; Secure"),
            "{c}"
        );
    }
    let again = s.send(with(s.post("/logout"), &access2, &refresh2)).await;
    again.assert_401();
    assert_eq!(again.set_cookies().len(), 2);
    let me = s
        .send(with(s.client.get(s.url("/me")), &access2, &refresh2))
        .await;
    me.assert_401();
}

fn cookie(set_cookies: &[String], name: &str) -> String {
    set_cookies
        .iter()
        .find_map(|c| c.strip_prefix(&format!("{name}=")))
        .and_then(|rest| rest.split(';').next())
        .unwrap_or_default()
        .to_string()
}

// ---- validation, framework answers, rate limits ---------------------------------------

async fn validation_and_framework_answers(store: Arc<dyn Store>) {
    let s = serve(store).await;
    let r = s
        .post_json("/register", json!({"email": "a@example.com"}), None)
        .await;
    assert_eq!(
        (r.status, &r.body),
        (
            422,
            &json!({"detail": [{"type": "missing", "loc": ["body", "password"], "msg": "Field required",
                                 "input": {"email": "a@example.com"}}]})
        )
    );
    let r = s
        .post_json(
            "/register",
            json!({"email": "nope", "password": "long enough"}),
            None,
        )
        .await;
    assert_eq!(r.status, 422);
    assert_eq!(
        r.body["detail"][0]["msg"],
        "value is not a valid email address: An email address must have an @-sign."
    );
    let r = s
        .post_json(
            "/register",
            json!({"email": "a@example.com", "password": "short"}),
            None,
        )
        .await;
    assert_eq!(
        (r.status, &r.body),
        (
            422,
            &json!({"detail": "Password must be at least 8 characters"})
        )
    );
    let r = s.send(s.post("/login")).await;
    assert_eq!(
        r.body,
        json!({"detail": [{"type": "missing", "loc": ["body"], "msg": "Field required", "input": null}]})
    );
    let r = s
        .send(
            s.post("/login")
                .header("content-type", "application/json")
                .body("{nope"),
        )
        .await;
    assert_eq!(r.status, 422);
    assert_eq!(r.body["detail"][0]["type"], "json_invalid");
    assert_eq!(r.body["detail"][0]["loc"], json!(["body", 1]));
    let r = s
        .send(
            s.post("/login")
                .header("content-type", "application/x-www-form-urlencoded")
                .body("email=a&password=b"),
        )
        .await;
    assert_eq!(r.body["detail"][0]["type"], "model_attributes_type");
    let r = s
        .post_json("/refresh", json!({"refresh_token": 5}), None)
        .await;
    assert_eq!(
        r.body,
        json!({"detail": [{"type": "string_type", "loc": ["body", "refresh_token"],
                            "msg": "Input should be a valid string", "input": 5}]})
    );
    // Authentication is checked before body validation on user routes.
    s.post_json("/mfa/confirm", json!({"code": ""}), None)
        .await
        .assert_401();

    let r = s.get("/nope", None).await;
    assert_eq!((r.status, &r.body), (404, &json!({"detail": "Not Found"})));
    let r = s.post_json("/me", json!({}), None).await;
    assert_eq!(
        (r.status, &r.body),
        (405, &json!({"detail": "Method Not Allowed"}))
    );
    let r = s.get("/me/", None).await;
    assert_eq!(r.status, 307);
    assert!(
        r.header("location")
            .is_some_and(|l| l.ends_with("/api/v1/auth/me")),
        "{r:?}"
    );
}

async fn rate_limits_answer_429(store: Arc<dyn Store>) {
    let mut config = common::config();
    config.rate_limits = Some(AuthRateLimits {
        login: 2,
        ..AuthRateLimits::default()
    });
    let s = serve_with(store, config, AuthSettings::default(), |_| Router::new()).await;
    let who = email("limits");
    s.register(&who).await;
    for _ in 0..2 {
        s.post_json(
            "/login",
            json!({"email": who, "password": "wrong password"}),
            None,
        )
        .await
        .assert_401();
    }
    let r = s
        .post_json("/login", json!({"email": who, "password": PASSWORD}), None)
        .await;
    assert_eq!(
        (r.status, &r.body),
        (
            429,
            &json!({"detail": "Too many requests. Try again later."})
        )
    );
    assert_eq!(r.header("x-ratelimit-limit"), Some("2"));
    assert_eq!(r.header("x-ratelimit-remaining"), Some("0"));
    let retry: u64 = r.header("retry-after").unwrap().parse().unwrap();
    assert!((1..=60).contains(&retry), "{retry}");
    assert_eq!(r.header("x-ratelimit-reset"), r.header("retry-after"));
    // A validation failure is not counted and not refused by the bucket.
    let v = s.post_json("/login", json!({}), None).await;
    assert_eq!(v.status, 422);
}

// ---- profile, admin, registration without enumeration safety -------------------------

async fn profile_and_admin_routes(store: Arc<dyn Store>) {
    let mut config = common::config();
    config.prevent_registration_enumeration = false;
    let s = serve_with(store.clone(), config, AuthSettings::default(), |_| {
        Router::new()
    })
    .await;
    let who = email("profile");
    let created = s
        .post_json(
            "/register",
            json!({"email": who, "password": PASSWORD, "is_superuser": true}),
            None,
        )
        .await;
    assert_eq!(created.status, 201, "{created:?}");
    assert_eq!(created.body["email"], who.as_str());
    assert_eq!(created.body["is_superuser"], false);
    let dup = s
        .post_json(
            "/register",
            json!({"email": who, "password": PASSWORD}),
            None,
        )
        .await;
    assert_eq!(
        (dup.status, &dup.body),
        (
            409,
            &json!({"detail": "A user with this email already exists"})
        )
    );
    let login = s.login(&who).await;
    let access = login["access_token"].as_str().unwrap();

    // PATCH /me with the default schema: nothing is updatable.
    let r = s
        .send(
            s.client
                .patch(s.url("/me"))
                .bearer_auth(access)
                .header("content-type", "application/json")
                .body(r#"{"email": "x@example.com", "roles": ["admin"]}"#),
        )
        .await;
    assert_eq!(
        (r.status, &r.body),
        (400, &json!({"detail": "No valid fields to update"}))
    );
    let r = s
        .send(
            s.client
                .patch(s.url("/me"))
                .bearer_auth(access)
                .header("content-type", "application/json")
                .body(r#"{"zeta": 1, "display_name": "Ada"}"#),
        )
        .await;
    assert_eq!(
        (r.status, &r.body),
        (
            422,
            &json!({"detail": "Unknown fields: display_name, zeta"})
        )
    );

    // Admin routes: superusers only.
    let target = login["user"]["id"].as_str().unwrap().to_string();
    let r = s
        .post_json(
            "/admin/assign-role",
            json!({"user_id": target, "role": "editor"}),
            Some(access),
        )
        .await;
    assert_eq!(
        (r.status, &r.body),
        (403, &json!({"detail": "Not enough permissions"}))
    );
    s.post_json(
        "/admin/assign-role",
        json!({"user_id": target, "role": "editor"}),
        None,
    )
    .await
    .assert_401();
    let boss = email("profile-boss");
    s.register_created(&boss).await;
    let b = s.login(&boss).await;
    let boss_id: UserId = UserIdType::Uuid
        .parse(b["user"]["id"].as_str().unwrap())
        .unwrap();
    let patch = fullauth_api::UserPatch {
        is_superuser: Some(true),
        ..Default::default()
    };
    store.update_user(&boss_id, patch).await.unwrap();
    let bt = b["access_token"].as_str().unwrap();
    let r = s
        .post_json(
            "/admin/assign-role",
            json!({"user_id": target, "role": "editor"}),
            Some(bt),
        )
        .await;
    assert_eq!(
        (r.status, &r.body),
        (
            200,
            &json!({"detail": format!("Role 'editor' assigned to user {target}.")})
        )
    );
    let r = s
        .post_json(
            "/admin/assign-role",
            json!({"user_id": "nope", "role": "editor"}),
            Some(bt),
        )
        .await;
    assert_eq!(r.status, 422, "{r:?}");
    assert_eq!(r.body["detail"][0]["type"], "uuid_parsing");
    let r = s
        .post_json(
            "/admin/assign-role",
            json!({"user_id": uuid::Uuid::new_v4().to_string(), "role": "editor"}),
            Some(bt),
        )
        .await;
    assert_eq!(
        (r.status, &r.body),
        (404, &json!({"detail": "User not found"}))
    );
    let r = s
        .post_json(
            "/admin/assign-permission",
            json!({"role": "editor", "permission": "posts:write"}),
            Some(bt),
        )
        .await;
    assert_eq!(
        (r.status, &r.body),
        (
            200,
            &json!({"detail": "Permission 'posts:write' assigned to role 'editor'."})
        )
    );
    let r = s.get("/admin/role-permissions/editor", Some(bt)).await;
    assert_eq!((r.status, &r.body), (200, &json!(["posts:write"])));
    assert_eq!(
        s.get("/admin/role-permissions/nobody", Some(bt)).await.body,
        json!([])
    );
    let r = s
        .post_json(
            "/admin/remove-role",
            json!({"user_id": target, "role": "editor"}),
            Some(bt),
        )
        .await;
    assert_eq!(
        (r.status, &r.body),
        (
            200,
            &json!({"detail": format!("Role 'editor' removed from user {target}.")})
        )
    );

    // Change the password: the current one is required; success ends every
    // session, the caller's own included.
    let r = s
        .post_json(
            "/change-password",
            json!({"new_password": "a new password 2", "current_password": "wrong one"}),
            Some(access),
        )
        .await;
    assert_eq!(
        (r.status, &r.body),
        (400, &json!({"detail": "Current password is incorrect"}))
    );
    let r = s
        .post_json(
            "/change-password",
            json!({"new_password": "short", "current_password": PASSWORD}),
            Some(access),
        )
        .await;
    assert_eq!(
        (r.status, &r.body),
        (
            422,
            &json!({"detail": "Password must be at least 8 characters"})
        )
    );
    let r = s
        .post_json(
            "/change-password",
            json!({"new_password": "a new password 2", "current_password": PASSWORD}),
            Some(access),
        )
        .await;
    assert_eq!(
        (r.status, &r.body),
        (200, &json!({"detail": "Password changed successfully."}))
    );
    s.get("/me", Some(access)).await.assert_401();

    // Delete the account: a wrong current password is refused; a fresh
    // session is proof enough.
    let r = s
        .post_json(
            "/login",
            json!({"email": who, "password": "a new password 2"}),
            None,
        )
        .await;
    let access = r.str("access_token");
    let d = s
        .send(
            s.client
                .delete(s.url("/me"))
                .bearer_auth(&access)
                .header("content-type", "application/json")
                .body(r#"{"current_password": "wrong one"}"#),
        )
        .await;
    assert_eq!(
        (d.status, &d.body),
        (403, &json!({"detail": "Current password is incorrect"}))
    );
    assert_eq!(s.delete("/me", Some(&access)).await.status, 204);
    s.get("/me", Some(&access)).await.assert_401();
    s.post_json(
        "/login",
        json!({"email": who, "password": "a new password 2"}),
        None,
    )
    .await
    .assert_401();
}

on_backends!(
    profile_and_admin_routes,
    full_round_trip,
    sessions_list_and_revoke,
    concurrent_double_refresh,
    lockout_after_wrong_passwords,
    verification_and_reset_tokens,
    mfa_enrol_confirm_verify,
    role_and_permission_extractors,
    cookie_transport,
    validation_and_framework_answers,
    rate_limits_answer_429,
);

// ---- integer user keys --------------------------------------------------------

/// An app on an integer-keyed store (fastapi-fullauth's `UserSchema[int]`):
/// ids travel as JSON numbers and as the decimal `sub`; the session flows
/// and the admin routes take them.
async fn integer_keys_over_http(store: Arc<dyn Store>) {
    assert_eq!(store.user_id_type(), UserIdType::Int);
    let s = serve(store.clone()).await;
    let who = email("int");
    s.register(&who).await;
    let login = s.login(&who).await;
    let id = login["user"]["id"]
        .as_i64()
        .expect("an integer id is a JSON number");
    let access = login["access_token"].as_str().unwrap();
    let me = s.get("/me", Some(access)).await;
    assert_eq!(me.status, 200, "{me:?}");
    assert_eq!(me.body["id"], json!(id));
    let refreshed = s
        .post_json(
            "/refresh",
            json!({"refresh_token": login["refresh_token"]}),
            None,
        )
        .await;
    assert_eq!(refreshed.status, 200, "{refreshed:?}");

    let boss = email("int-boss");
    s.register(&boss).await;
    let b = s.login(&boss).await;
    let boss_id = UserId::from_int(b["user"]["id"].as_i64().unwrap());
    let patch = fullauth_api::UserPatch {
        is_superuser: Some(true),
        ..Default::default()
    };
    store.update_user(&boss_id, patch).await.unwrap();
    let bt = b["access_token"].as_str().unwrap();
    // A JSON integer, or its decimal string, names the user.
    for (user_id, role) in [(json!(id), "editor"), (json!(id.to_string()), "viewer")] {
        let r = s
            .post_json(
                "/admin/assign-role",
                json!({"user_id": user_id, "role": role}),
                Some(bt),
            )
            .await;
        assert_eq!(r.status, 200, "{r:?}");
    }
    let roles = store.get_user_roles(&UserId::from_int(id)).await.unwrap();
    assert_eq!(roles.len(), 2, "{roles:?}");
    let r = s
        .post_json(
            "/admin/assign-role",
            json!({"user_id": "abc", "role": "editor"}),
            Some(bt),
        )
        .await;
    assert_eq!(r.status, 422, "{r:?}");
    assert_eq!(r.body["detail"][0]["type"], "int_parsing");
    let r = s
        .post_json(
            "/admin/assign-role",
            json!({"user_id": 1_999_999_999, "role": "editor"}),
            Some(bt),
        )
        .await;
    assert_eq!(
        (r.status, &r.body),
        (404, &json!({"detail": "User not found"}))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn integer_keys_over_http_on_memory() {
    let store = fullauth_memory::MemoryStore::builder()
        .user_id_type(UserIdType::Int)
        .build()
        .unwrap();
    integer_keys_over_http(Arc::new(store)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn integer_keys_over_http_on_sqlite() {
    let store = fullauth_sqlite::SqliteStore::builder()
        .user_id_type(UserIdType::Int)
        .migrate(true)
        .open_temporary()
        .await
        .unwrap();
    integer_keys_over_http(Arc::new(store)).await;
}
