//! How tokens travel: the `Authorization: Bearer` header and the cookie
//! transport of the reference (§2.4), and the client metadata a session keeps.

use std::net::SocketAddr;

use axum::http::header::{AUTHORIZATION, COOKIE, SET_COOKIE, USER_AGENT};
use axum::http::{HeaderMap, HeaderName, HeaderValue};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc2822;

/// The `SameSite` attribute of the token cookies.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum SameSite {
    /// `SameSite=lax` (the default).
    #[default]
    Lax,
    /// `SameSite=strict`.
    Strict,
    /// `SameSite=none` (needs `Secure`).
    None,
}

impl SameSite {
    fn as_str(self) -> &'static str {
        match self {
            SameSite::Lax => "lax",
            SameSite::Strict => "strict",
            SameSite::None => "none",
        }
    }
}

/// The cookie transport (the reference's `CookieBackend`): the access token
/// in an `HttpOnly` cookie, the refresh token in another.
///
/// Token responses set both cookies and answer `"refresh_token": null` in the
/// JSON (the access token stays in the JSON, as in the reference); `/refresh`
/// and `/logout` read the refresh cookie before the body; `/logout` clears
/// both cookies on every outcome. The `Authorization` header still wins over
/// the access cookie.
///
/// ```
/// use fullauth_axum::{CookieTransport, SameSite};
/// let cookies = CookieTransport::new()
///     .refresh_path("/api/v1/auth")
///     .same_site(SameSite::Strict);
/// assert_eq!(cookies.access_name(), "fullauth_access");
/// assert!(CookieTransport::new().same_site(SameSite::None).secure(false).check().is_err());
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CookieTransport {
    name: String,
    refresh_name: String,
    refresh_path: String,
    secure: bool,
    http_only: bool,
    same_site: SameSite,
    domain: Option<String>,
}

impl Default for CookieTransport {
    fn default() -> Self {
        Self::new()
    }
}

impl CookieTransport {
    /// The reference's defaults: cookies `fullauth_access` and
    /// `fullauth_refresh`, both `Path=/`, `Secure`, `HttpOnly`,
    /// `SameSite=lax`, no `Domain`.
    pub fn new() -> Self {
        CookieTransport {
            name: "fullauth_access".into(),
            refresh_name: "fullauth_refresh".into(),
            refresh_path: "/".into(),
            secure: true,
            http_only: true,
            same_site: SameSite::Lax,
            domain: None,
        }
    }

    /// The access cookie's name.
    pub fn access_name(&self) -> &str {
        &self.name
    }

    /// The refresh cookie's name.
    pub fn refresh_name(&self) -> &str {
        &self.refresh_name
    }

    /// Renames the access cookie.
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = name.into();
        self
    }

    /// Renames the refresh cookie.
    pub fn refresh_cookie_name(mut self, name: impl Into<String>) -> Self {
        self.refresh_name = name.into();
        self
    }

    /// Scopes the refresh cookie to a path (say the auth prefix, so that the
    /// browser sends it only to `/refresh` and `/logout`).
    pub fn refresh_path(mut self, path: impl Into<String>) -> Self {
        self.refresh_path = path.into();
        self
    }

    /// The `Secure` attribute (default on).
    pub fn secure(mut self, yes: bool) -> Self {
        self.secure = yes;
        self
    }

    /// The `HttpOnly` attribute (default on).
    pub fn http_only(mut self, yes: bool) -> Self {
        self.http_only = yes;
        self
    }

    /// The `SameSite` attribute (default `lax`).
    pub fn same_site(mut self, same_site: SameSite) -> Self {
        self.same_site = same_site;
        self
    }

    /// The `Domain` attribute (default none).
    pub fn domain(mut self, domain: impl Into<String>) -> Self {
        self.domain = Some(domain.into());
        self
    }

    /// Checks the settings as the reference's constructor does.
    ///
    /// # Errors
    /// A message when `SameSite=none` is asked without `Secure` (browsers
    /// drop such a cookie), or when a name, path or domain would not make a
    /// valid `Set-Cookie` header.
    pub fn check(&self) -> Result<(), String> {
        if self.same_site == SameSite::None && !self.secure {
            return Err(
                "a cookie with SameSite=none requires Secure; browsers reject a \
                 SameSite=None cookie that is not also Secure"
                    .into(),
            );
        }
        let token_char = |c: char| c.is_ascii_graphic() && !"()<>@,;:\\\"/[]?={}".contains(c);
        for n in [&self.name, &self.refresh_name] {
            if n.is_empty() || !n.chars().all(token_char) {
                return Err(format!("`{n}` is not a valid cookie name"));
            }
        }
        let attr_char = |c: char| c.is_ascii_graphic() && c != ';';
        if !self.refresh_path.chars().all(attr_char) || self.refresh_path.is_empty() {
            return Err(format!(
                "`{}` is not a valid cookie path",
                self.refresh_path
            ));
        }
        if let Some(d) = &self.domain {
            if d.is_empty() || !d.chars().all(attr_char) {
                return Err(format!("`{d}` is not a valid cookie domain"));
            }
        }
        Ok(())
    }

    /// A `Set-Cookie` value in the attribute order Starlette writes:
    /// `Domain`, `expires`, `HttpOnly`, `Max-Age`, `Path`, `SameSite`, `Secure`.
    fn cookie(&self, name: &str, value: &str, max_age: u64, path: &str, clear: bool) -> String {
        let mut out = format!("{name}={value}");
        if let Some(d) = &self.domain {
            out.push_str("; Domain=");
            out.push_str(d);
        }
        if clear {
            let now = OffsetDateTime::now_utc();
            // "Sun, 29 Nov 2026 19:30:00 +0000" -> "... GMT", as http.cookies writes.
            let date = now
                .format(&Rfc2822)
                .map(|s| s.replace("+0000", "GMT"))
                .unwrap_or_default();
            out.push_str("; expires=");
            out.push_str(&date);
        }
        if self.http_only {
            out.push_str("; HttpOnly");
        }
        out.push_str(&format!(
            "; Max-Age={max_age}; Path={path}; SameSite={}",
            self.same_site.as_str()
        ));
        if self.secure {
            out.push_str("; Secure");
        }
        out
    }

    pub(crate) fn set_access(&self, headers: &mut HeaderMap, token: &str, max_age: u64) {
        append(
            headers,
            &self.cookie(&self.name, token, max_age, "/", false),
        );
    }

    pub(crate) fn set_refresh(&self, headers: &mut HeaderMap, token: &str, max_age: u64) {
        append(
            headers,
            &self.cookie(
                &self.refresh_name,
                token,
                max_age,
                &self.refresh_path,
                false,
            ),
        );
    }

    pub(crate) fn clear(&self, headers: &mut HeaderMap) {
        append(headers, &self.cookie(&self.name, "\"\"", 0, "/", true));
        append(
            headers,
            &self.cookie(&self.refresh_name, "\"\"", 0, &self.refresh_path, true),
        );
    }
}

fn append(headers: &mut HeaderMap, value: &str) {
    if let Ok(v) = HeaderValue::from_str(value) {
        headers.append(SET_COOKIE, v);
    }
}

/// A token transport, as listed in [`crate::AuthSettings::transports`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Transport {
    /// `Authorization: Bearer <token>` for the access token, the JSON body for
    /// the refresh token (the default).
    Bearer,
    /// The cookie transport.
    Cookie(CookieTransport),
}

/// The value of cookie `name` in the request (the last one wins, as in
/// Starlette), with surrounding double quotes removed.
pub(crate) fn cookie_value(headers: &HeaderMap, name: &str) -> Option<String> {
    let mut found = None;
    for v in headers.get_all(COOKIE) {
        let Ok(v) = v.to_str() else { continue };
        for pair in v.split(';') {
            let Some((k, val)) = pair.split_once('=') else {
                continue;
            };
            if k.trim() == name {
                let val = val.trim();
                let val = val
                    .strip_prefix('"')
                    .and_then(|v| v.strip_suffix('"'))
                    .unwrap_or(val);
                found = Some(val.to_string());
            }
        }
    }
    found
}

/// The access token of a request (§2.2): the `Authorization` header with
/// scheme `bearer` (any case) and non-blank credentials; otherwise each
/// transport in order (the bearer transport re-reads the header, the cookie
/// transport reads its access cookie).
pub(crate) fn access_token(headers: &HeaderMap, transports: &[Transport]) -> Option<String> {
    let auth = headers.get(AUTHORIZATION).and_then(|v| v.to_str().ok());
    if let Some(auth) = auth {
        let (scheme, rest) = auth.split_once(' ').unwrap_or((auth, ""));
        let credentials = rest.trim();
        if scheme.eq_ignore_ascii_case("bearer") && !credentials.is_empty() {
            return Some(credentials.to_string());
        }
    }
    for t in transports {
        match t {
            Transport::Bearer => {
                if let Some(auth) = auth {
                    if auth.len() >= 7
                        && auth.is_char_boundary(7)
                        && auth[..7].eq_ignore_ascii_case("bearer ")
                    {
                        return Some(auth[7..].to_string());
                    }
                }
            }
            Transport::Cookie(c) => {
                if let Some(v) = cookie_value(headers, &c.name) {
                    return Some(v);
                }
            }
        }
    }
    None
}

/// The refresh token of a transport (the refresh cookie), if any carries a
/// non-empty one.
pub(crate) fn transport_refresh_token(
    headers: &HeaderMap,
    transports: &[Transport],
) -> Option<String> {
    transports.iter().find_map(|t| match t {
        Transport::Cookie(c) => cookie_value(headers, &c.refresh_name).filter(|v| !v.is_empty()),
        Transport::Bearer => None,
    })
}

/// True when a transport carries the refresh token (then the JSON's
/// `refresh_token` is `null`).
pub(crate) fn carries_refresh(transports: &[Transport]) -> bool {
    transports.iter().any(|t| matches!(t, Transport::Cookie(_)))
}

/// The client's address as the reference resolves it (§2.3): the first
/// trusted proxy header present, its entry `hops` positions from the right;
/// the socket peer when that chain is too short or no header is present;
/// `unknown` without a peer.
pub(crate) fn client_ip(
    headers: &HeaderMap,
    peer: Option<SocketAddr>,
    trusted: &[HeaderName],
    hops: usize,
) -> String {
    let hops = hops.max(1);
    for name in trusted {
        let Some(value) = headers.get(name).and_then(|v| v.to_str().ok()) else {
            continue;
        };
        if value.is_empty() {
            continue;
        }
        let parts: Vec<&str> = value
            .split(',')
            .map(str::trim)
            .filter(|p| !p.is_empty())
            .collect();
        if parts.len() >= hops {
            return parts[parts.len() - hops].to_string();
        }
        break;
    }
    peer.map(|p| p.ip().to_string())
        .unwrap_or_else(|| "unknown".to_string())
}

/// The `User-Agent` header, if it is text.
pub(crate) fn user_agent(headers: &HeaderMap) -> Option<String> {
    headers
        .get(USER_AGENT)
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
        .filter(|v| !v.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(
                HeaderName::from_static(k),
                HeaderValue::from_str(v).unwrap(),
            );
        }
        h
    }

    #[test]
    fn bearer_header_rules() {
        let t = [Transport::Bearer];
        assert_eq!(
            access_token(&headers(&[("authorization", "Bearer abc")]), &t).as_deref(),
            Some("abc")
        );
        assert_eq!(
            access_token(&headers(&[("authorization", "bearer  abc ")]), &t).as_deref(),
            Some("abc")
        );
        assert_eq!(
            access_token(&headers(&[("authorization", "Token abc")]), &t),
            None
        );
        assert_eq!(access_token(&headers(&[]), &t), None);
    }

    #[test]
    fn header_wins_over_cookie_and_cookie_is_read() {
        let t = [Transport::Cookie(CookieTransport::new())];
        let h = headers(&[
            ("authorization", "Bearer h"),
            ("cookie", "a=1; fullauth_access=c"),
        ]);
        assert_eq!(access_token(&h, &t).as_deref(), Some("h"));
        let h = headers(&[("cookie", "a=1; fullauth_access=c; fullauth_refresh=r")]);
        assert_eq!(access_token(&h, &t).as_deref(), Some("c"));
        assert_eq!(transport_refresh_token(&h, &t).as_deref(), Some("r"));
        assert_eq!(transport_refresh_token(&h, &[Transport::Bearer]), None);
    }

    #[test]
    fn cookies_are_written_as_starlette_writes_them() {
        let c = CookieTransport::new();
        let mut h = HeaderMap::new();
        c.set_access(&mut h, "tok", 1800);
        c.set_refresh(&mut h, "ref", 2_592_000);
        let set: Vec<_> = h
            .get_all(SET_COOKIE)
            .iter()
            .map(|v| v.to_str().unwrap().to_string())
            .collect();
        assert_eq!(
            set[0],
            "fullauth_access=tok; HttpOnly; Max-Age=1800; Path=/; SameSite=lax; Secure"
        );
        assert_eq!(
            set[1],
            "fullauth_refresh=ref; HttpOnly; Max-Age=2592000; Path=/; SameSite=lax; Secure"
        );
        let mut h = HeaderMap::new();
        c.clone().domain("example.com").clear(&mut h);
        let v = h.get(SET_COOKIE).unwrap().to_str().unwrap();
        assert!(
            v.starts_with("fullauth_access=\"\"; Domain=example.com; expires="),
            "{v}"
        );
        assert!(
            v.ends_with(" GMT; HttpOnly; Max-Age=0; Path=/; SameSite=lax; Secure"),
            "{v}"
        );
    }

    #[test]
    fn client_ip_takes_the_trusted_hop() {
        let xff = HeaderName::from_static("x-forwarded-for");
        let peer: SocketAddr = "127.0.0.1:9".parse().unwrap();
        let h = headers(&[("x-forwarded-for", "1.1.1.1, 2.2.2.2")]);
        assert_eq!(
            client_ip(&h, Some(peer), std::slice::from_ref(&xff), 1),
            "2.2.2.2"
        );
        assert_eq!(
            client_ip(&h, Some(peer), std::slice::from_ref(&xff), 2),
            "1.1.1.1"
        );
        assert_eq!(
            client_ip(&h, Some(peer), std::slice::from_ref(&xff), 3),
            "127.0.0.1"
        );
        assert_eq!(client_ip(&h, Some(peer), &[], 1), "127.0.0.1");
        assert_eq!(client_ip(&h, None, &[], 1), "unknown");
    }
}
