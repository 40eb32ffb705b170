//! Replays the requests recorded from fastapi-fullauth 0.18.0
//! (`tests/reference/answers-0.18.0.json`, made by
//! `tests/reference/record.py`) against fullauth-axum over real HTTP, and
//! compares every answer: status, `WWW-Authenticate`, redirect path, body and
//! `Set-Cookie`, with volatile values (tokens, ids, times, secrets, cookie
//! dates, the client's address and user agent) masked on both sides. Both
//! transports: bearer, and cookies kept by the client as a browser would.

mod common;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::routing::get;
use fullauth_api::Store;
use fullauth_axum::{
    AuthSettings, CookieTransport, FullAuth, RequirePermission, RequireRole, Transport,
};
use serde_json::{Value, json};

use common::{Server, serve_with};

fullauth_axum::role!(Admin = "admin");
fullauth_axum::permission!(PostsWrite = "posts:write");

const ANSWERS: &str = include_str!("reference/answers-0.18.0.json");

fn ok() -> impl axum::response::IntoResponse {
    ([("content-type", "application/json")], r#"{"ok":true}"#)
}

fn app_routes(auth: &FullAuth) -> Router {
    Router::new()
        .route("/app/admin", get(|_: RequireRole<Admin>| async { ok() }))
        .route(
            "/app/posts",
            get(|_: RequirePermission<PostsWrite>| async { ok() }),
        )
        .with_state(auth.clone())
}

// ---- masking (the rules of record.py) -------------------------------------

fn is_hex(s: &str) -> bool {
    s.chars()
        .all(|c| c.is_ascii_digit() || ('a'..='f').contains(&c))
}

fn groups(s: &str, lens: &[usize]) -> bool {
    let parts: Vec<&str> = s.split('-').collect();
    parts.len() == lens.len()
        && parts
            .iter()
            .zip(lens)
            .all(|(p, n)| p.len() == *n && is_hex(p))
}

fn is_secret(s: &str) -> bool {
    s.len() == 32
        && s.chars()
            .all(|c| c.is_ascii_uppercase() || ('2'..='7').contains(&c))
}

fn is_time(s: &str) -> bool {
    let b = s.as_bytes();
    s.len() >= 20
        && s.ends_with('Z')
        && b[4] == b'-'
        && b[7] == b'-'
        && b[10] == b'T'
        && s[11..s.len() - 1]
            .chars()
            .all(|c| c.is_ascii_digit() || c == ':' || c == '.')
}

/// Replaces each `eyJ[\w.-]+` run by `<jwt>`.
fn mask_jwts(s: &str) -> String {
    let mut out = String::new();
    let mut rest = s;
    while let Some(i) = rest.find("eyJ") {
        out.push_str(&rest[..i]);
        let tail = &rest[i..];
        let end = tail
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '.' || c == '-'))
            .unwrap_or(tail.len());
        out.push_str("<jwt>");
        rest = &tail[end..];
    }
    out.push_str(rest);
    out
}

/// Replaces `<key>=<value up to ;>` by `<key>=<placeholder>`.
fn mask_after(s: &str, key: &str, placeholder: &str, len: Option<usize>) -> String {
    match s.find(key) {
        Some(i) => {
            let start = i + key.len();
            let end = match len {
                Some(n) => {
                    let end = start + n;
                    if end > s.len() || !s.is_char_boundary(end) || !is_secret(&s[start..end]) {
                        return s.to_string();
                    }
                    end
                }
                None => s[start..].find(';').map_or(s.len(), |j| start + j),
            };
            format!("{}{placeholder}{}", &s[..start], &s[end..])
        }
        None => s.to_string(),
    }
}

fn mask(v: &Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(
            m.iter()
                .map(|(k, v)| {
                    // The client's address and agent differ by construction.
                    if k == "ip_address" || k == "user_agent" {
                        (k.clone(), json!("<client>"))
                    } else {
                        (k.clone(), mask(v))
                    }
                })
                .collect(),
        ),
        Value::Array(a) => Value::Array(a.iter().map(mask).collect()),
        Value::String(s) => {
            let s = mask_jwts(s);
            let s = mask_after(&s, "expires=", "<date>", None);
            let s = if groups(&s, &[4, 4, 4]) {
                "<code>".to_string()
            } else if groups(&s, &[8, 4, 4, 4, 12]) {
                "<uuid>".to_string()
            } else if s.len() == 32 && is_hex(&s) {
                "<hex>".to_string()
            } else if is_time(&s) {
                "<time>".to_string()
            } else if is_secret(&s) {
                "<secret>".to_string()
            } else {
                mask_after(&s, "secret=", "<secret>", Some(32))
            };
            Value::String(s)
        }
        other => other.clone(),
    }
}

// ---- the replay ---------------------------------------------------------------

struct Replay {
    vars: BTreeMap<String, String>,
    jar: BTreeMap<String, String>,
}

impl Replay {
    fn fill(&self, v: &Value) -> Value {
        match v {
            Value::String(s) => {
                let mut s = s.clone();
                for (k, val) in &self.vars {
                    s = s.replace(&format!("{{{k}}}"), val);
                }
                Value::String(s)
            }
            Value::Array(a) => Value::Array(a.iter().map(|x| self.fill(x)).collect()),
            Value::Object(m) => {
                Value::Object(m.iter().map(|(k, x)| (k.clone(), self.fill(x))).collect())
            }
            other => other.clone(),
        }
    }

    fn totp(&mut self) {
        if let Some(secret) = self.vars.get("secret").cloned() {
            let now = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map(|d| d.as_secs() as i64)
                .unwrap_or(0);
            let step = fullauth_flows::totp::step_of(now);
            let code = fullauth_flows::totp::code_at(&secret, step).unwrap_or_default();
            let wrong = if code == "000000" { "111111" } else { "000000" };
            self.vars.insert("totp".into(), code);
            self.vars.insert("totp_wrong".into(), wrong.into());
        }
    }

    fn keep_cookies(&mut self, set_cookies: &[String]) {
        for c in set_cookies {
            let first = c.split(';').next().unwrap_or("");
            let Some((name, value)) = first.split_once('=') else {
                continue;
            };
            if c.contains("Max-Age=0") {
                self.jar.remove(name);
            } else {
                self.jar.insert(name.to_string(), value.to_string());
            }
        }
    }
}

async fn replay(store: Arc<dyn Store>, transport: &str) {
    let answers: Value = serde_json::from_str(ANSWERS).expect("the recorded answers parse");
    let mut config = common::config();
    config.mfa_issuer = Some("Probe".into());
    let mut settings = AuthSettings::default();
    if transport == "cookie" {
        settings = settings.transports(vec![Transport::Cookie(CookieTransport::new())]);
    }
    let s: Server = serve_with(store, config, settings, app_routes).await;
    // Each run registers a@example.com: a fresh store per run is required.
    let mut r = Replay {
        vars: BTreeMap::new(),
        jar: BTreeMap::new(),
    };
    let steps = answers[transport].as_array().expect("steps");
    let mut mismatches = Vec::new();
    for step in steps {
        let name = step["name"].as_str().unwrap_or_default();
        if step["clear_cookies"] == true {
            r.jar.clear();
        }
        let path = step["path"].as_str().unwrap_or_default();
        let url = if path.starts_with("/app/") {
            s.url(&format!("!{path}"))
        } else {
            s.url(path)
        };
        let method: reqwest::Method = step["method"].as_str().unwrap_or("GET").parse().unwrap();
        let mut req = s
            .client
            .request(method, url)
            .header("user-agent", "testclient");
        if let Some(auth) = step["auth"].as_str() {
            req = req.header("authorization", r.fill(&json!(auth)).as_str().unwrap_or(""));
        }
        if !step["json"].is_null() {
            req = req
                .header("content-type", "application/json")
                .body(r.fill(&step["json"]).to_string());
        } else if let Some(content) = step["content"].as_str() {
            let filled = r.fill(&json!(content));
            req = req.body(filled.as_str().unwrap_or("").to_string());
            if let Some(ct) = step["content_type"].as_str() {
                req = req.header("content-type", ct);
            }
        }
        if !r.jar.is_empty() {
            let cookie = r
                .jar
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join("; ");
            req = req.header("cookie", cookie);
        }
        let reply = s.send(req).await;
        let set_cookies = reply.set_cookies();
        r.keep_cookies(&set_cookies);
        if let Some(capture) = step["capture"].as_object() {
            for (var, key) in capture {
                let key = key.as_str().unwrap_or_default();
                let value = if key == "cookie:fullauth_refresh" {
                    r.jar
                        .get("fullauth_refresh")
                        .cloned()
                        .or_else(|| reply.body["refresh_token"].as_str().map(str::to_string))
                } else {
                    let pointer = format!("/{}", key.replace('.', "/"));
                    reply
                        .body
                        .pointer(&pointer)
                        .and_then(|v| v.as_str())
                        .map(str::to_string)
                };
                r.vars.insert(var.clone(), value.unwrap_or_default());
            }
        }
        r.totp();

        let body = if reply.text.is_empty() {
            json!("")
        } else {
            reply.body.clone()
        };
        let location_path = reply.header("location").map(|l| {
            let after_scheme = l.split_once("://").map_or(l, |(_, rest)| rest);
            after_scheme
                .find('/')
                .map_or(String::new(), |i| after_scheme[i..].to_string())
        });
        let ours = json!({
            "status": reply.status,
            "www_authenticate": reply.header("www-authenticate"),
            "location_path": location_path,
            "body": mask(&body),
            "set_cookie": mask(&json!(set_cookies)),
        });
        let theirs = json!({
            "status": step["status"],
            "www_authenticate": step["www_authenticate"],
            "location_path": step["location_path"],
            "body": mask(&step["body"]),
            "set_cookie": mask(&step["set_cookie"]),
        });
        if ours != theirs {
            mismatches.push(format!("{name}:\n  reference {theirs}\n  ours      {ours}"));
        }
    }
    assert!(steps.len() > 60, "the recording has its steps");
    assert!(
        mismatches.is_empty(),
        "{} of {} answers differ from fastapi-fullauth 0.18.0 ({transport}):\n{}",
        mismatches.len(),
        steps.len(),
        mismatches.join("\n")
    );
}

async fn bearer_transport_answers_as_the_reference(store: Arc<dyn Store>) {
    replay(store, "bearer").await;
}

async fn cookie_transport_answers_as_the_reference(store: Arc<dyn Store>) {
    replay(store, "cookie").await;
}

on_backends!(
    bearer_transport_answers_as_the_reference,
    cookie_transport_answers_as_the_reference,
);

#[test]
fn masking_follows_the_recording_rules() {
    assert_eq!(
        mask(&json!("a eyJhbGc.eyJzdWI.sig-_x; b")),
        json!("a <jwt>; b")
    );
    assert_eq!(
        mask(&json!(
            "x=\"\"; expires=Sun, 29 Nov 2026 19:30:00 GMT; HttpOnly"
        )),
        json!("x=\"\"; expires=<date>; HttpOnly")
    );
    assert_eq!(mask(&json!("7013-a626-aa95")), json!("<code>"));
    assert_eq!(
        mask(&json!("01a228c9-0b82-70d5-8628-902267d3f195")),
        json!("<uuid>")
    );
    assert_eq!(mask(&json!("2026-11-29T19:29:54.955763Z")), json!("<time>"));
    assert_eq!(
        mask(&json!(
            "otpauth://totp/P:a%40b.c?secret=R63RPNUOR4Y67346U4C2JRU55VK3ULN3&issuer=P"
        )),
        json!("otpauth://totp/P:a%40b.c?secret=<secret>&issuer=P")
    );
    assert_eq!(mask(&json!("not masked")), json!("not masked"));
}
