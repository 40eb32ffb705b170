//! The route handlers, one per route of the reference's auth, profile,
//! verify, sessions, MFA and admin routers.

use axum::Router;
use axum::extract::{FromRequestParts, Path, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, any, delete, get, post};
use fullauth_api::{ExtraFields, User, UserId, UserPatch};
use fullauth_flows::{
    ClientContext, FlowError, LoginField, LoginOutcome, RateLimitBucket, RegisterRequest,
    Registration, SignedIn, TokenPair,
};
use serde_json::{Map, Value, json};

use crate::FullAuth;
use crate::body::{Fields, RawBody};
use crate::error::{HttpError, json_response};
use crate::extract::{CurrentUser, client_context};
use crate::settings::PROTECTED;
use crate::transport::{Transport, access_token, carries_refresh, transport_refresh_token};

/// The largest request body read (1 MiB); larger ones answer 413.
const BODY_LIMIT: usize = 1 << 20;

type Result<T, E = HttpError> = std::result::Result<T, E>;

/// Every route under the prefix, with the framework answers of the
/// reference: 405 `Method Not Allowed`, 404 `Not Found`, and 307 to the path
/// without a trailing slash.
pub(crate) fn router(auth: &FullAuth) -> Router<FullAuth> {
    let mut routes: Vec<(&str, MethodRouter<FullAuth>)> = vec![
        ("/register", post(register)),
        ("/login", post(login)),
        ("/refresh", post(refresh)),
        ("/logout", post(logout)),
        ("/me", get(me).patch(patch_me).delete(delete_me)),
        ("/me/verified", get(me_verified)),
        ("/change-password", post(change_password)),
        ("/verify-email/request", post(verify_email_request)),
        ("/verify-email/confirm", post(verify_email_confirm)),
        ("/password-reset/request", post(password_reset_request)),
        ("/password-reset/confirm", post(password_reset_confirm)),
        ("/sessions", get(list_sessions)),
        ("/sessions/{family_id}", delete(revoke_session)),
        ("/sessions/revoke-others", post(revoke_other_sessions)),
    ];
    if auth.mfa_routes_mounted() {
        routes.extend([
            ("/mfa", get(mfa_status).delete(mfa_disable)),
            ("/mfa/enroll", post(mfa_enroll)),
            ("/mfa/confirm", post(mfa_confirm)),
            ("/mfa/verify", post(mfa_verify)),
        ]);
    }
    if auth.admin_routes_mounted() {
        routes.extend([
            ("/admin/assign-role", post(assign_role)),
            ("/admin/remove-role", post(remove_role)),
            ("/admin/assign-permission", post(assign_permission)),
            ("/admin/remove-permission", post(remove_permission)),
            ("/admin/role-permissions/{role_name}", get(role_permissions)),
        ]);
    }
    let prefix = auth.settings().route_prefix().to_string();
    let templates: Vec<String> = routes.iter().map(|(p, _)| format!("{prefix}{p}")).collect();
    let mut router = Router::new();
    for (path, method_router) in routes {
        router = router.route(
            &format!("{prefix}{path}"),
            method_router.fallback(method_not_allowed),
        );
    }
    if !prefix.is_empty() {
        let catch_all = move |req: Request| {
            let templates = templates.clone();
            async move { not_found_or_redirect(&templates, &req) }
        };
        router = router.route(&format!("{prefix}/{{*rest}}"), any(catch_all));
    }
    router
}

async fn method_not_allowed() -> Response {
    HttpError::new(StatusCode::METHOD_NOT_ALLOWED, "Method Not Allowed").into_response()
}

/// 307 to the path without its trailing slash when that path is a route
/// (Starlette's `redirect_slashes`), else 404 `Not Found`.
fn not_found_or_redirect(templates: &[String], req: &Request) -> Response {
    let path = req.uri().path();
    let trimmed = path.trim_end_matches('/');
    if trimmed != path && templates.iter().any(|t| matches_template(t, trimmed)) {
        let query = req
            .uri()
            .query()
            .map(|q| format!("?{q}"))
            .unwrap_or_default();
        let location = match req
            .headers()
            .get(header::HOST)
            .and_then(|h| h.to_str().ok())
        {
            Some(host) => format!("http://{host}{trimmed}{query}"),
            None => format!("{trimmed}{query}"),
        };
        if let Ok(v) = HeaderValue::from_str(&location) {
            let mut r = StatusCode::TEMPORARY_REDIRECT.into_response();
            r.headers_mut().insert(header::LOCATION, v);
            return r;
        }
    }
    HttpError::new(StatusCode::NOT_FOUND, "Not Found").into_response()
}

fn matches_template(template: &str, path: &str) -> bool {
    let t: Vec<&str> = template.split('/').collect();
    let p: Vec<&str> = path.split('/').collect();
    t.len() == p.len()
        && t.iter()
            .zip(&p)
            .all(|(t, p)| t == p || (t.starts_with('{') && !p.is_empty()))
}

// ---- request plumbing -------------------------------------------------------

/// A request taken apart: its parts, the client, and the body as read.
struct Incoming {
    parts: Parts,
    ctx: ClientContext,
    body: RawBody,
}

async fn incoming(auth: &FullAuth, req: Request) -> Result<Incoming> {
    let (parts, body) = req.into_parts();
    let bytes = axum::body::to_bytes(body, BODY_LIMIT)
        .await
        .map_err(|_| HttpError::new(StatusCode::PAYLOAD_TOO_LARGE, "Request Entity Too Large"))?;
    let body = RawBody::read(&parts.headers, &bytes)?;
    let ctx = client_context(auth, &parts);
    Ok(Incoming { parts, ctx, body })
}

impl Incoming {
    async fn user(&mut self, auth: &FullAuth) -> Result<CurrentUser> {
        CurrentUser::from_request_parts(&mut self.parts, auth).await
    }
}

/// The user object of the reference's default schema, plus the exposed app
/// columns.
fn user_json(auth: &FullAuth, user: &User) -> Value {
    let mut m = Map::new();
    // As pydantic writes the id: a string for UUID and text keys, a number
    // for integer keys.
    m.insert("id".into(), json!(user.id));
    m.insert(
        "email".into(),
        Value::String(user.email.as_str().to_string()),
    );
    m.insert("is_active".into(), Value::Bool(user.is_active));
    m.insert("is_verified".into(), Value::Bool(user.is_verified));
    m.insert("is_superuser".into(), Value::Bool(user.is_superuser));
    for name in &auth.settings().user_columns {
        let v = user.extra.get(name).cloned().unwrap_or(Value::Null);
        m.insert(name.clone(), v);
    }
    Value::Object(m)
}

fn ok_json(status: StatusCode, body: Value) -> Response {
    json_response(status, &body)
}

fn message(status: StatusCode, text: impl Into<String>) -> Response {
    ok_json(status, json!({ "detail": text.into() }))
}

fn no_content() -> Response {
    StatusCode::NO_CONTENT.into_response()
}

/// A token response: the JSON (with `refresh_token: null` when a transport
/// carries it) and the cookies of every cookie transport.
fn token_response(auth: &FullAuth, tokens: &TokenPair, user: Option<&User>) -> Response {
    let transports = auth.settings().transport_list();
    let refresh = if carries_refresh(transports) {
        Value::Null
    } else {
        Value::String(tokens.refresh_token.clone())
    };
    let mut body = json!({
        "access_token": tokens.access_token,
        "refresh_token": refresh,
        "token_type": tokens.token_type,
        "expires_in": tokens.expires_in,
    });
    if let (Some(user), Some(m)) = (user, body.as_object_mut()) {
        m.insert("user".into(), user_json(auth, user));
    }
    let mut response = ok_json(StatusCode::OK, body);
    let cfg = &auth.service().config().tokens;
    for t in transports {
        if let Transport::Cookie(c) = t {
            c.set_access(
                response.headers_mut(),
                &tokens.access_token,
                cfg.access_ttl.as_secs(),
            );
            c.set_refresh(
                response.headers_mut(),
                &tokens.refresh_token,
                cfg.refresh_ttl.as_secs(),
            );
        }
    }
    response
}

fn clear_cookies(auth: &FullAuth, headers: &mut HeaderMap) {
    for t in auth.settings().transport_list() {
        if let Transport::Cookie(c) = t {
            c.clear(headers);
        }
    }
}

fn spawn_hook<F>(f: F)
where
    F: std::future::Future<Output = ()> + Send + 'static,
{
    tokio::spawn(f);
}

fn signed_in(auth: &FullAuth, s: SignedIn) -> Response {
    let response = token_response(auth, &s.tokens, Some(&s.user));
    let hooks = auth.hooks();
    spawn_hook(async move { hooks.after_login(&s.user).await });
    response
}

// ---- auth router ------------------------------------------------------------

async fn register(State(auth): State<FullAuth>, req: Request) -> Result<Response> {
    let inc = incoming(&auth, req).await?;
    let map = inc.body.required()?;
    let mut f = Fields::new(&map);
    let email = f.email("email");
    let password = f.string("password");
    let mut extra = ExtraFields::new();
    let mut column_errors = Vec::new();
    for name in &auth.settings().user_columns {
        if let Some(v) = map.get(name) {
            if let Err(e) = extra.insert(name.clone(), v.clone()) {
                column_errors.push(json!({
                    "type": "value_error", "loc": ["body", name],
                    "msg": format!("Value error, {e}"), "input": v,
                }));
            }
        }
    }
    f.finish()
        .map_err(|e| append_errors(e, column_errors.clone()))?;
    if !column_errors.is_empty() {
        return Err(HttpError::validation(column_errors));
    }
    let mut request = RegisterRequest::new(email, password);
    request.extra = extra;
    let outcome = auth.service().register(&inc.ctx, request).await?;
    if let Some(user) = outcome.user().cloned() {
        let hooks = auth.hooks();
        spawn_hook(async move { hooks.after_register(&user).await });
    }
    Ok(match outcome {
        Registration::Created(user) => ok_json(StatusCode::CREATED, user_json(&auth, &user)),
        _ => message(
            StatusCode::ACCEPTED,
            fullauth_flows::REGISTER_ACCEPTED_DETAIL,
        ),
    })
}

fn append_errors(e: HttpError, more: Vec<Value>) -> HttpError {
    let mut all = e.detail().as_array().cloned().unwrap_or_default();
    all.extend(more);
    HttpError::validation(all)
}

async fn login(State(auth): State<FullAuth>, req: Request) -> Result<Response> {
    let inc = incoming(&auth, req).await?;
    let map = inc.body.required()?;
    let field = match &auth.service().config().login_field {
        LoginField::Email => "email".to_string(),
        LoginField::Column(c) => c.clone(),
    };
    let mut f = Fields::new(&map);
    let identifier = f.string(&field);
    let password = f.string("password");
    f.finish()?;
    match auth
        .service()
        .login(&inc.ctx, &identifier, &password)
        .await?
    {
        LoginOutcome::SignedIn(s) => Ok(signed_in(&auth, s)),
        LoginOutcome::MfaRequired { mfa_token, .. } => Ok(ok_json(
            StatusCode::ACCEPTED,
            json!({"mfa_required": true, "mfa_token": mfa_token}),
        )),
    }
}

/// The optional `{"refresh_token": str | null}` body of `/refresh` and
/// `/logout`.
fn refresh_body(body: RawBody) -> Result<Option<String>> {
    let Some(map) = body.optional()? else {
        return Ok(None);
    };
    let mut f = Fields::new(&map);
    let token = f.optional_string("refresh_token");
    f.finish()?;
    Ok(token)
}

async fn refresh(State(auth): State<FullAuth>, req: Request) -> Result<Response> {
    let inc = incoming(&auth, req).await?;
    let body_token = refresh_body(inc.body)?;
    let token = transport_refresh_token(&inc.parts.headers, auth.settings().transport_list())
        .or(body_token);
    let Some(token) = token else {
        // The bucket counts this request too, as the reference's does.
        auth.service()
            .rate_limit(RateLimitBucket::Refresh, &inc.ctx)
            .await?;
        return Err(HttpError::credentials());
    };
    let tokens = auth.service().refresh(&inc.ctx, &token).await?;
    Ok(token_response(&auth, &tokens, None))
}

async fn logout(State(auth): State<FullAuth>, req: Request) -> Response {
    let result = async {
        let inc = incoming(&auth, req).await?;
        let transports = auth.settings().transport_list();
        let body_token = refresh_body(inc.body)?;
        let refresh = transport_refresh_token(&inc.parts.headers, transports).or(body_token);
        let access = access_token(&inc.parts.headers, transports);
        let subject = auth
            .service()
            .sign_out(access.as_deref(), refresh.as_deref())
            .await?;
        Ok::<_, HttpError>(subject)
    }
    .await;
    let mut response = match result {
        Ok(subject) => {
            let hooks = auth.hooks();
            spawn_hook(async move { hooks.after_logout(&subject).await });
            no_content()
        }
        // A body that fails validation answers before anything is cleared,
        // as FastAPI validates it before the handler runs.
        Err(e) if e.status() == StatusCode::UNPROCESSABLE_ENTITY => return e.into_response(),
        Err(e) => e.into_response(),
    };
    clear_cookies(&auth, response.headers_mut());
    response
}

// ---- profile router ----------------------------------------------------------

async fn me(State(auth): State<FullAuth>, user: CurrentUser) -> Response {
    ok_json(StatusCode::OK, user_json(&auth, &user.user))
}

async fn me_verified(State(auth): State<FullAuth>, user: CurrentUser) -> Result<Response> {
    auth.service().require_verified(&user.user)?;
    Ok(ok_json(StatusCode::OK, user_json(&auth, &user.user)))
}

async fn patch_me(State(auth): State<FullAuth>, req: Request) -> Result<Response> {
    let mut inc = incoming(&auth, req).await?;
    let caller = inc.user(&auth).await?;
    let map = inc.body.required()?;
    let updates: Vec<(&String, &Value)> = map
        .iter()
        .filter(|(k, _)| !PROTECTED.contains(&k.as_str()))
        .collect();
    if updates.is_empty() {
        return Err(HttpError::new(
            StatusCode::BAD_REQUEST,
            "No valid fields to update",
        ));
    }
    let columns = &auth.settings().user_columns;
    let mut unknown: Vec<&str> = updates
        .iter()
        .map(|(k, _)| k.as_str())
        .filter(|k| !columns.iter().any(|c| c == k))
        .collect();
    if !unknown.is_empty() {
        unknown.sort_unstable();
        return Err(HttpError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            format!("Unknown fields: {}", unknown.join(", ")),
        ));
    }
    let mut patch = UserPatch::new();
    let mut errors = Vec::new();
    for (k, v) in updates {
        if let Err(e) = patch.extra.insert(k.clone(), v.clone()) {
            errors.push(json!({
                "type": "value_error", "loc": [k], "msg": format!("Value error, {e}"), "input": v,
            }));
        }
    }
    if !errors.is_empty() {
        return Err(HttpError::validation(errors));
    }
    let user = auth
        .store()
        .update_user(&caller.user.id, patch)
        .await
        .map_err(|e| HttpError::from(FlowError::from(e)))?;
    Ok(ok_json(StatusCode::OK, user_json(&auth, &user)))
}

/// The optional `{"current_password": str | null}` body.
fn current_password_body(body: RawBody) -> Result<Option<String>> {
    let Some(map) = body.optional()? else {
        return Ok(None);
    };
    let mut f = Fields::new(&map);
    let pw = f.optional_string("current_password");
    f.finish()?;
    Ok(pw)
}

async fn delete_me(State(auth): State<FullAuth>, req: Request) -> Result<Response> {
    let mut inc = incoming(&auth, req).await?;
    let caller = inc.user(&auth).await?;
    let password = current_password_body(inc.body)?;
    auth.service()
        .delete_account(&inc.ctx, &caller.authenticated(), password.as_deref())
        .await?;
    Ok(no_content())
}

async fn change_password(State(auth): State<FullAuth>, req: Request) -> Result<Response> {
    let mut inc = incoming(&auth, req).await?;
    let caller = inc.user(&auth).await?;
    let map = inc.body.required()?;
    let mut f = Fields::new(&map);
    let new_password = f.string("new_password");
    let current = f.optional_string("current_password");
    f.finish()?;
    auth.service()
        .change_password(
            &inc.ctx,
            &caller.authenticated(),
            current.as_deref(),
            &new_password,
        )
        .await?;
    Ok(message(StatusCode::OK, "Password changed successfully."))
}

// ---- verify router ------------------------------------------------------------

async fn verify_email_request(State(auth): State<FullAuth>, req: Request) -> Result<Response> {
    let mut inc = incoming(&auth, req).await?;
    let caller = inc.user(&auth).await?;
    let token = auth
        .service()
        .request_email_verification(&inc.ctx, &caller.user.id)
        .await?;
    if let Some(token) = token {
        let hooks = auth.hooks();
        let email = caller.user.email.as_str().to_string();
        spawn_hook(async move { hooks.send_verification_email(&email, &token).await });
    }
    Ok(message(
        StatusCode::ACCEPTED,
        "If eligible, a verification email has been sent.",
    ))
}

async fn verify_email_confirm(State(auth): State<FullAuth>, req: Request) -> Result<Response> {
    let inc = incoming(&auth, req).await?;
    let map = inc.body.required()?;
    let mut f = Fields::new(&map);
    let token = f.string("token");
    f.finish()?;
    auth.service().verify_email(&inc.ctx, &token).await?;
    Ok(message(StatusCode::OK, "Email verified."))
}

async fn password_reset_request(State(auth): State<FullAuth>, req: Request) -> Result<Response> {
    let inc = incoming(&auth, req).await?;
    let map = inc.body.required()?;
    let mut f = Fields::new(&map);
    let email = f.email("email");
    f.finish()?;
    if let Some(reset) = auth
        .service()
        .request_password_reset(&inc.ctx, &email)
        .await?
    {
        let hooks = auth.hooks();
        spawn_hook(async move { hooks.send_password_reset_email(&email, &reset.token).await });
    }
    Ok(message(
        StatusCode::ACCEPTED,
        "If the email exists, a reset link has been sent.",
    ))
}

async fn password_reset_confirm(State(auth): State<FullAuth>, req: Request) -> Result<Response> {
    let inc = incoming(&auth, req).await?;
    let map = inc.body.required()?;
    let mut f = Fields::new(&map);
    let token = f.string("token");
    let new_password = f.string("new_password");
    f.finish()?;
    auth.service()
        .reset_password(&inc.ctx, &token, &new_password)
        .await?;
    Ok(message(StatusCode::OK, "Password has been reset."))
}

// ---- sessions router --------------------------------------------------------------

async fn list_sessions(State(auth): State<FullAuth>, user: CurrentUser) -> Result<Response> {
    let family = user.claims.family_id.as_deref().filter(|f| !f.is_empty());
    let sessions = auth.service().list_sessions(&user.user.id, family).await?;
    let body = serde_json::to_value(&sessions).map_err(|_| HttpError::internal())?;
    Ok(ok_json(StatusCode::OK, body))
}

async fn revoke_session(
    State(auth): State<FullAuth>,
    user: CurrentUser,
    Path(family_id): Path<String>,
) -> Result<Response> {
    auth.service()
        .revoke_session(&user.user.id, &family_id)
        .await?;
    Ok(no_content())
}

async fn revoke_other_sessions(
    State(auth): State<FullAuth>,
    user: CurrentUser,
) -> Result<Response> {
    let family = user.claims.family_id.as_deref().filter(|f| !f.is_empty());
    let n = auth
        .service()
        .revoke_other_sessions(&user.user.id, family)
        .await?;
    Ok(message(
        StatusCode::OK,
        fullauth_flows::types::revoke_others_detail(n),
    ))
}

// ---- MFA router ---------------------------------------------------------------------

async fn mfa_status(State(auth): State<FullAuth>, user: CurrentUser) -> Result<Response> {
    let status = auth.service().mfa_status(&user.user.id).await?;
    Ok(ok_json(
        StatusCode::OK,
        json!({"enabled": status.enabled, "recovery_codes_remaining": status.recovery_codes_remaining}),
    ))
}

async fn mfa_enroll(State(auth): State<FullAuth>, req: Request) -> Result<Response> {
    let mut inc = incoming(&auth, req).await?;
    let caller = inc.user(&auth).await?;
    let password = current_password_body(inc.body)?;
    let e = auth
        .service()
        .mfa_enroll(&caller.authenticated(), password.as_deref())
        .await?;
    Ok(ok_json(
        StatusCode::OK,
        json!({"secret": e.secret, "provisioning_uri": e.provisioning_uri}),
    ))
}

async fn mfa_confirm(State(auth): State<FullAuth>, req: Request) -> Result<Response> {
    let mut inc = incoming(&auth, req).await?;
    let caller = inc.user(&auth).await?;
    let map = inc.body.required()?;
    let mut f = Fields::new(&map);
    let code = f.bounded_string("code", 1, 64);
    f.finish()?;
    let codes = auth
        .service()
        .mfa_confirm(&inc.ctx, &caller.user, &code)
        .await?;
    Ok(ok_json(StatusCode::OK, json!({ "recovery_codes": codes })))
}

async fn mfa_disable(State(auth): State<FullAuth>, req: Request) -> Result<Response> {
    let mut inc = incoming(&auth, req).await?;
    let caller = inc.user(&auth).await?;
    let password = current_password_body(inc.body)?;
    auth.service()
        .mfa_disable(&caller.authenticated(), password.as_deref())
        .await?;
    Ok(no_content())
}

async fn mfa_verify(State(auth): State<FullAuth>, req: Request) -> Result<Response> {
    let inc = incoming(&auth, req).await?;
    let map = inc.body.required()?;
    let mut f = Fields::new(&map);
    let token = f.string("mfa_token");
    let code = f.bounded_string("code", 1, 64);
    f.finish()?;
    let s = auth.service().mfa_verify(&inc.ctx, &token, &code).await?;
    Ok(signed_in(&auth, s))
}

// ---- admin router ------------------------------------------------------------------------

async fn superuser(auth: &FullAuth, inc: &mut Incoming) -> Result<CurrentUser> {
    let caller = inc.user(auth).await?;
    auth.service().require_superuser(&caller.user)?;
    Ok(caller)
}

/// `{"user_id": UUID | int | str, "role": str}`, the id of the store's key
/// type.
fn role_assignment(body: RawBody, key: fullauth_api::UserIdType) -> Result<(UserId, String)> {
    let map = body.required()?;
    let mut f = Fields::new(&map);
    let user_id = f.user_id("user_id", key);
    let role = f.string("role");
    f.finish()?;
    Ok((user_id.ok_or_else(HttpError::internal)?, role))
}

async fn assign_role(State(auth): State<FullAuth>, req: Request) -> Result<Response> {
    let mut inc = incoming(&auth, req).await?;
    superuser(&auth, &mut inc).await?;
    let (user_id, role) = role_assignment(inc.body, auth.store().user_id_type())?;
    auth.service().assign_role(&user_id, &role).await?;
    Ok(message(
        StatusCode::OK,
        format!("Role '{role}' assigned to user {user_id}."),
    ))
}

async fn remove_role(State(auth): State<FullAuth>, req: Request) -> Result<Response> {
    let mut inc = incoming(&auth, req).await?;
    superuser(&auth, &mut inc).await?;
    let (user_id, role) = role_assignment(inc.body, auth.store().user_id_type())?;
    auth.service().remove_role(&user_id, &role).await?;
    Ok(message(
        StatusCode::OK,
        format!("Role '{role}' removed from user {user_id}."),
    ))
}

/// `{"role": str, "permission": str}`.
fn permission_assignment(body: RawBody) -> Result<(String, String)> {
    let map = body.required()?;
    let mut f = Fields::new(&map);
    let role = f.string("role");
    let permission = f.string("permission");
    f.finish()?;
    Ok((role, permission))
}

async fn assign_permission(State(auth): State<FullAuth>, req: Request) -> Result<Response> {
    let mut inc = incoming(&auth, req).await?;
    superuser(&auth, &mut inc).await?;
    let (role, permission) = permission_assignment(inc.body)?;
    auth.service().assign_permission(&role, &permission).await?;
    Ok(message(
        StatusCode::OK,
        format!("Permission '{permission}' assigned to role '{role}'."),
    ))
}

async fn remove_permission(State(auth): State<FullAuth>, req: Request) -> Result<Response> {
    let mut inc = incoming(&auth, req).await?;
    superuser(&auth, &mut inc).await?;
    let (role, permission) = permission_assignment(inc.body)?;
    auth.service().remove_permission(&role, &permission).await?;
    Ok(message(
        StatusCode::OK,
        format!("Permission '{permission}' removed from role '{role}'."),
    ))
}

async fn role_permissions(
    State(auth): State<FullAuth>,
    user: CurrentUser,
    Path(role_name): Path<String>,
) -> Result<Response> {
    auth.service().require_superuser(&user.user)?;
    let perms = auth.service().role_permissions(&role_name).await?;
    Ok(ok_json(StatusCode::OK, json!(perms)))
}
