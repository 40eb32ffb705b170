//! The error answers of the routes and extractors, in the reference's shapes.

use std::time::Duration;

use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use fullauth_flows::FlowError;
use serde_json::{Value, json};

/// The `detail` of the generic 401.
pub const CREDENTIALS_DETAIL: &str = "Could not validate credentials";
/// The `detail` of the generic 403.
pub const FORBIDDEN_DETAIL: &str = "Not enough permissions";
/// The `detail` of a per-route rate-limit refusal (429).
pub const RATE_LIMITED_DETAIL: &str = "Too many requests. Try again later.";

/// An error answer: a status, a JSON body `{"detail": ...}` and headers.
///
/// `detail` is a string for every library error and a list of
/// FastAPI-shaped entries (`type`, `loc`, `msg`, `input`, sometimes `ctx`)
/// for a request that failed validation. Every constructor builds exactly one
/// of the reference's answers:
///
/// ```
/// use axum::http::StatusCode;
/// use fullauth_axum::HttpError;
/// let e = HttpError::credentials();
/// assert_eq!(e.status(), StatusCode::UNAUTHORIZED);
/// assert_eq!(e.detail_text(), Some("Could not validate credentials"));
/// assert_eq!(e.headers()["www-authenticate"], "Bearer");
/// ```
#[derive(Clone, Debug)]
pub struct HttpError(Box<Inner>);

#[derive(Clone, Debug)]
struct Inner {
    status: StatusCode,
    detail: Value,
    headers: HeaderMap,
    plain: bool,
}

impl HttpError {
    /// An answer with `status` and a string `detail`.
    pub fn new(status: StatusCode, detail: impl Into<String>) -> Self {
        HttpError(Box::new(Inner {
            status,
            detail: Value::String(detail.into()),
            headers: HeaderMap::new(),
            plain: false,
        }))
    }

    /// The generic 401 `Could not validate credentials` with
    /// `WWW-Authenticate: Bearer`: the answer to every bad token, bad login,
    /// refresh failure, bad verification or reset token and MFA failure.
    pub fn credentials() -> Self {
        let mut e = Self::new(StatusCode::UNAUTHORIZED, CREDENTIALS_DETAIL);
        e.0.headers
            .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        e
    }

    /// The generic 403 `Not enough permissions` (verified, superuser, role and
    /// permission requirements).
    pub fn forbidden() -> Self {
        Self::new(StatusCode::FORBIDDEN, FORBIDDEN_DETAIL)
    }

    /// The per-route 429 `Too many requests. Try again later.` with
    /// `X-RateLimit-Limit: limit`, `X-RateLimit-Remaining: 0`, and
    /// `X-RateLimit-Reset` and `Retry-After` set to `retry_after` rounded up
    /// to whole seconds (at least 1).
    pub fn rate_limited(limit: u32, retry_after: Duration) -> Self {
        let secs = retry_after.as_secs() + u64::from(retry_after.subsec_nanos() > 0);
        let secs = secs.max(1).to_string();
        let mut e = Self::new(StatusCode::TOO_MANY_REQUESTS, RATE_LIMITED_DETAIL);
        let put = |e: &mut HttpError, name: &'static str, v: &str| {
            if let Ok(v) = HeaderValue::from_str(v) {
                e.0.headers.insert(HeaderName::from_static(name), v);
            }
        };
        put(&mut e, "x-ratelimit-limit", &limit.to_string());
        put(&mut e, "x-ratelimit-remaining", "0");
        put(&mut e, "x-ratelimit-reset", &secs);
        put(&mut e, "retry-after", &secs);
        e
    }

    /// A 422 whose `detail` is the given list of FastAPI validation entries.
    pub fn validation(errors: Vec<Value>) -> Self {
        HttpError(Box::new(Inner {
            status: StatusCode::UNPROCESSABLE_ENTITY,
            detail: Value::Array(errors),
            headers: HeaderMap::new(),
            plain: false,
        }))
    }

    /// The plain-text 500 `Internal Server Error` the reference answers for an
    /// unhandled failure (a store that fails, a broken configuration). The
    /// cause is logged, never sent.
    pub fn internal() -> Self {
        let mut e = Self::new(StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error");
        e.0.plain = true;
        e
    }

    /// The status code.
    pub fn status(&self) -> StatusCode {
        self.0.status
    }

    /// The `detail` value: a string, or the list of a validation error.
    pub fn detail(&self) -> &Value {
        &self.0.detail
    }

    /// The `detail` when it is a string.
    pub fn detail_text(&self) -> Option<&str> {
        self.0.detail.as_str()
    }

    /// The headers the answer carries besides `Content-Type`.
    pub fn headers(&self) -> &HeaderMap {
        &self.0.headers
    }
}

impl std::fmt::Display for HttpError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.0.status.as_u16(), self.0.detail)
    }
}

impl std::error::Error for HttpError {}

impl From<FlowError> for HttpError {
    /// The reference's answer to a flow's outcome: the generic 401 (with
    /// `WWW-Authenticate`), the 429 with its headers, the plain-text 500 for
    /// server-side failures (logged here), and `{"detail": ...}` with the
    /// flow's status otherwise.
    fn from(e: FlowError) -> Self {
        if let FlowError::RateLimited {
            limit, retry_after, ..
        } = &e
        {
            return HttpError::rate_limited(*limit, *retry_after);
        }
        match e.status() {
            401 => HttpError::credentials(),
            status if status >= 500 && status != 501 => {
                tracing::error!(error = %e, "an auth route failed");
                HttpError::internal()
            }
            status => HttpError::new(
                StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
                e.detail(),
            ),
        }
    }
}

impl IntoResponse for HttpError {
    fn into_response(self) -> Response {
        let this = *self.0;
        if this.plain {
            let mut response = (
                this.status,
                this.detail.as_str().unwrap_or_default().to_string(),
            )
                .into_response();
            response.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/plain; charset=utf-8"),
            );
            response.headers_mut().extend(this.headers);
            return response;
        }
        let body = json!({ "detail": this.detail });
        let mut response = json_response(this.status, &body);
        response.headers_mut().extend(this.headers);
        response
    }
}

/// A JSON response with `status` and `body` (compact, as FastAPI writes it).
pub(crate) fn json_response(status: StatusCode, body: &Value) -> Response {
    let mut response = (status, body.to_string()).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}
