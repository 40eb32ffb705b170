//! Request bodies, parsed and validated as FastAPI and pydantic do, so that a
//! bad body gets the same 422 list (`type`, `loc`, `msg`, `input`, `ctx`).

use axum::http::{HeaderMap, header};
use serde_json::{Map, Value, json};

use crate::error::HttpError;

/// A request body read as FastAPI reads it: JSON when the body is non-empty
/// and the content type is `application/json` or `application/*+json`,
/// otherwise the raw text.
#[derive(Debug)]
pub(crate) enum RawBody {
    /// No body (empty), or the JSON `null`.
    Absent,
    /// A JSON value other than `null`.
    Json(Value),
    /// A body that is not declared as JSON: kept as text for the error.
    Text(String),
}

impl RawBody {
    /// Reads the body. A declared JSON body that does not parse is the 422
    /// `json_invalid`, answered before anything else, as FastAPI does.
    pub(crate) fn read(headers: &HeaderMap, bytes: &[u8]) -> Result<RawBody, HttpError> {
        if bytes.is_empty() {
            return Ok(RawBody::Absent);
        }
        if !declares_json(headers) {
            return Ok(RawBody::Text(String::from_utf8_lossy(bytes).into_owned()));
        }
        match serde_json::from_slice::<Value>(bytes) {
            Ok(Value::Null) => Ok(RawBody::Absent),
            Ok(v) => Ok(RawBody::Json(v)),
            Err(e) => Err(json_invalid(bytes, &e)),
        }
    }

    /// The object of a required body; the 422 `missing` (no body) or
    /// `model_attributes_type` (not an object) otherwise.
    pub(crate) fn required(self) -> Result<Map<String, Value>, HttpError> {
        match self {
            RawBody::Absent => Err(HttpError::validation(vec![json!({
                "type": "missing", "loc": ["body"], "msg": "Field required", "input": null,
            })])),
            other => other.object(),
        }
    }

    /// The object of an optional body (`None` without a body); the 422
    /// `model_attributes_type` for a body that is not an object.
    pub(crate) fn optional(self) -> Result<Option<Map<String, Value>>, HttpError> {
        match self {
            RawBody::Absent => Ok(None),
            other => other.object().map(Some),
        }
    }

    fn object(self) -> Result<Map<String, Value>, HttpError> {
        let input = match self {
            RawBody::Json(Value::Object(map)) => return Ok(map),
            RawBody::Json(v) => v,
            RawBody::Text(t) => Value::String(t),
            RawBody::Absent => Value::Null,
        };
        Err(HttpError::validation(vec![json!({
            "type": "model_attributes_type",
            "loc": ["body"],
            "msg": "Input should be a valid dictionary or object to extract fields from",
            "input": input,
        })]))
    }
}

/// True for `application/json` and `application/<anything>+json`, with any
/// parameters.
fn declares_json(headers: &HeaderMap) -> bool {
    let Some(ct) = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let essence = ct
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    match essence.split_once('/') {
        Some(("application", sub)) => sub == "json" || sub.ends_with("+json"),
        _ => false,
    }
}

/// The 422 FastAPI answers for a body that is not valid JSON: `loc` is
/// `["body", <character offset>]` and `ctx.error` the decoder's reason.
fn json_invalid(bytes: &[u8], e: &serde_json::Error) -> HttpError {
    let text = String::from_utf8_lossy(bytes);
    // serde_json reports 1-based line and column (in characters of the line).
    let mut offset = 0usize;
    for (i, line) in text.split('\n').enumerate() {
        if i + 1 == e.line() {
            offset += e.column().saturating_sub(1).min(line.chars().count());
            break;
        }
        offset += line.chars().count() + 1;
    }
    let reason = if e.is_eof() {
        "Expecting value"
    } else {
        let msg = e.to_string();
        if msg.starts_with("key must be a string") {
            "Expecting property name enclosed in double quotes"
        } else if msg.starts_with("trailing characters") {
            "Extra data"
        } else if msg.starts_with("expected `,` or `}`") {
            "Expecting ',' delimiter"
        } else if msg.starts_with("expected `:`") {
            "Expecting ':' delimiter"
        } else {
            "Expecting value"
        }
    };
    HttpError::validation(vec![json!({
        "type": "json_invalid",
        "loc": ["body", offset],
        "msg": "JSON decode error",
        "input": {},
        "ctx": {"error": reason},
    })])
}

/// Validates the fields of one body object in declaration order and
/// collects every error, as pydantic does.
pub(crate) struct Fields<'a> {
    map: &'a Map<String, Value>,
    errors: Vec<Value>,
}

impl<'a> Fields<'a> {
    pub(crate) fn new(map: &'a Map<String, Value>) -> Self {
        Fields {
            map,
            errors: Vec::new(),
        }
    }

    fn missing(&mut self, name: &str) {
        self.errors.push(json!({
            "type": "missing", "loc": ["body", name], "msg": "Field required",
            "input": Value::Object(self.map.clone()),
        }));
    }

    fn not_a_string(&mut self, name: &str, v: &Value) {
        self.errors.push(json!({
            "type": "string_type", "loc": ["body", name],
            "msg": "Input should be a valid string", "input": v,
        }));
    }

    /// A required `str` field.
    pub(crate) fn string(&mut self, name: &str) -> String {
        match self.map.get(name) {
            None => {
                self.missing(name);
                String::new()
            }
            Some(Value::String(s)) => s.clone(),
            Some(v) => {
                self.not_a_string(name, v);
                String::new()
            }
        }
    }

    /// An optional `str | None` field (absent and `null` are `None`).
    pub(crate) fn optional_string(&mut self, name: &str) -> Option<String> {
        match self.map.get(name) {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) => Some(s.clone()),
            Some(v) => {
                self.not_a_string(name, v);
                None
            }
        }
    }

    /// A required `str` field of `min..=max` characters.
    pub(crate) fn bounded_string(&mut self, name: &str, min: usize, max: usize) -> String {
        let before = self.errors.len();
        let s = self.string(name);
        if self.errors.len() > before {
            return s;
        }
        let n = s.chars().count();
        if n < min {
            let unit = if min == 1 { "character" } else { "characters" };
            self.errors.push(json!({
                "type": "string_too_short", "loc": ["body", name],
                "msg": format!("String should have at least {min} {unit}"),
                "input": s, "ctx": {"min_length": min},
            }));
        } else if n > max {
            let unit = if max == 1 { "character" } else { "characters" };
            self.errors.push(json!({
                "type": "string_too_long", "loc": ["body", name],
                "msg": format!("String should have at most {max} {unit}"),
                "input": s, "ctx": {"max_length": max},
            }));
        }
        s
    }

    /// A required pydantic `EmailStr` field: a string that passes the email
    /// syntax check (no deliverability check). The value is returned as sent.
    pub(crate) fn email(&mut self, name: &str) -> String {
        let before = self.errors.len();
        let s = self.string(name);
        if self.errors.len() > before {
            return s;
        }
        if let Err(reason) = email_syntax(&s) {
            self.errors.push(json!({
                "type": "value_error", "loc": ["body", name],
                "msg": format!("value is not a valid email address: {reason}"),
                "input": s, "ctx": {"reason": reason},
            }));
        }
        s
    }

    /// A required UUID field (pydantic's `UUID`): the hyphenated or simple
    /// form of a user id.
    pub(crate) fn uuid(&mut self, name: &str) -> Option<fullauth_api::UserId> {
        match self.map.get(name) {
            None => {
                self.missing(name);
                None
            }
            Some(Value::String(s)) => match fullauth_api::UserIdType::Uuid.parse(s) {
                Ok(id) => Some(id),
                Err(_) => {
                    let reason = uuid_reason(s);
                    self.errors.push(json!({
                        "type": "uuid_parsing", "loc": ["body", name],
                        "msg": format!("Input should be a valid UUID, {reason}"),
                        "input": s, "ctx": {"error": reason},
                    }));
                    None
                }
            },
            Some(v) => {
                self.errors.push(json!({
                    "type": "uuid_type", "loc": ["body", name],
                    "msg": "UUID input should be a string, bytes or UUID object", "input": v,
                }));
                None
            }
        }
    }

    /// A required user id of the store's key type, as pydantic validates
    /// the reference's `UserSchema[UUID]`, `[int]` or `[str]` id: a UUID
    /// string ([`uuid`](Self::uuid)); an integer (a JSON integer, or a string
    /// of one); a string.
    pub(crate) fn user_id(
        &mut self,
        name: &str,
        key: fullauth_api::UserIdType,
    ) -> Option<fullauth_api::UserId> {
        use fullauth_api::{UserId, UserIdType};
        match (key, self.map.get(name)) {
            (UserIdType::Uuid, _) | (_, None) => self.uuid(name),
            (UserIdType::Int, Some(Value::Number(n))) => match n.as_i64() {
                Some(i) => Some(UserId::from_int(i)),
                None => {
                    let v = Value::Number(n.clone());
                    self.errors.push(json!({
                        "type": "int_from_float", "loc": ["body", name],
                        "msg": "Input should be a valid integer, got a number with a fractional part",
                        "input": v,
                    }));
                    None
                }
            },
            (UserIdType::Int, Some(Value::String(s))) => match UserIdType::Int.parse(s.trim()) {
                Ok(id) => Some(id),
                Err(_) => {
                    let s = s.clone();
                    self.errors.push(json!({
                        "type": "int_parsing", "loc": ["body", name],
                        "msg": "Input should be a valid integer, unable to parse string as an integer",
                        "input": s,
                    }));
                    None
                }
            },
            (UserIdType::Int, Some(v)) => {
                let v = v.clone();
                self.errors.push(json!({
                    "type": "int_type", "loc": ["body", name],
                    "msg": "Input should be a valid integer", "input": v,
                }));
                None
            }
            (UserIdType::Text, Some(Value::String(s))) => match UserIdType::Text.parse(s) {
                Ok(id) => Some(id),
                Err(e) => {
                    let s = s.clone();
                    self.errors.push(json!({
                        "type": "value_error", "loc": ["body", name],
                        "msg": format!("Value error, {e}"), "input": s,
                    }));
                    None
                }
            },
            (UserIdType::Text, Some(v)) => {
                let v = v.clone();
                self.errors.push(json!({
                    "type": "string_type", "loc": ["body", name],
                    "msg": "Input should be a valid string", "input": v,
                }));
                None
            }
        }
    }

    /// The 422 list when any field failed.
    pub(crate) fn finish(self) -> Result<(), HttpError> {
        if self.errors.is_empty() {
            Ok(())
        } else {
            Err(HttpError::validation(self.errors))
        }
    }
}

/// pydantic's reason for a string that is not a UUID.
fn uuid_reason(s: &str) -> String {
    let allowed = |c: char| c.is_ascii_hexdigit() || c == '-';
    match s.chars().enumerate().find(|(_, c)| !allowed(*c)) {
        Some((i, c)) => format!(
            "invalid character: expected an optional prefix of `urn:uuid:` followed by [0-9a-fA-F-], found `{c}` at {}",
            i + 1
        ),
        None => {
            let n = s.chars().filter(|c| *c != '-').count();
            if s.contains('-') {
                "invalid group count: expected 5".to_string()
            } else {
                format!("invalid length: expected length 32 for simple format, found {n}")
            }
        }
    }
}

/// The syntax check of pydantic's `EmailStr` (email-validator without
/// deliverability), with its reasons for the common failures.
fn email_syntax(s: &str) -> Result<(), String> {
    let Some((local, domain)) = s.rsplit_once('@') else {
        return Err("An email address must have an @-sign.".into());
    };
    if local.is_empty() {
        return Err("There must be something before the @-sign.".into());
    }
    if domain.is_empty() {
        return Err("There must be something after the @-sign.".into());
    }
    let total = s.chars().count();
    if total > 254 {
        let n = total - 254;
        let unit = if n == 1 { "character" } else { "characters" };
        return Err(format!(
            "The email address is too long ({n} {unit} too many)."
        ));
    }
    if local.chars().count() > 64 {
        let n = local.chars().count() - 64;
        let unit = if n == 1 { "character" } else { "characters" };
        return Err(format!(
            "The email address is too long before the @-sign ({n} {unit} too many)."
        ));
    }
    if local.contains('@') || local.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err("The email address contains invalid characters before the @-sign.".into());
    }
    if local.starts_with('.') {
        return Err("An email address cannot start with a period.".into());
    }
    if local.ends_with('.') {
        return Err("An email address cannot have a period immediately before the @-sign.".into());
    }
    if local.contains("..") {
        return Err("An email address cannot have two periods in a row.".into());
    }
    if domain
        .chars()
        .any(|c| !(c.is_alphanumeric() || c == '-' || c == '.'))
    {
        return Err("The part after the @-sign contains invalid characters.".into());
    }
    if domain.starts_with('.') {
        return Err("An email address cannot have a period immediately after the @-sign.".into());
    }
    if domain.ends_with('.') {
        return Err("An email address cannot end with a period.".into());
    }
    if domain.contains("..") {
        return Err("An email address cannot have two periods in a row.".into());
    }
    if !domain.contains('.') {
        return Err("The part after the @-sign is not valid. It should have a period.".into());
    }
    if domain
        .split('.')
        .any(|l| l.starts_with('-') || l.ends_with('-'))
    {
        return Err(
            "An email address cannot have a hyphen immediately before or after a period.".into(),
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn json_headers() -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        h
    }

    #[test]
    fn json_invalid_has_the_offset_and_python_reason() {
        let e = RawBody::read(&json_headers(), b"{nope").unwrap_err();
        assert_eq!(
            e.detail(),
            &json!([{"type": "json_invalid", "loc": ["body", 1], "msg": "JSON decode error",
                     "input": {}, "ctx": {"error": "Expecting property name enclosed in double quotes"}}])
        );
    }

    #[test]
    fn a_form_body_is_not_an_object() {
        let mut h = HeaderMap::new();
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/x-www-form-urlencoded"),
        );
        let e = RawBody::read(&h, b"email=a&password=b")
            .unwrap()
            .required()
            .unwrap_err();
        assert_eq!(e.detail()[0]["type"], "model_attributes_type");
        assert_eq!(e.detail()[0]["input"], "email=a&password=b");
        // No content type at all: the text too (FastAPI's strict content type).
        let e = RawBody::read(&HeaderMap::new(), b"{}")
            .unwrap()
            .required()
            .unwrap_err();
        assert_eq!(e.detail()[0]["input"], "{}");
    }

    #[test]
    fn missing_body_and_fields() {
        let e = RawBody::read(&json_headers(), b"")
            .unwrap()
            .required()
            .unwrap_err();
        assert_eq!(
            e.detail(),
            &json!([{"type": "missing", "loc": ["body"], "msg": "Field required", "input": null}])
        );
        assert!(
            RawBody::read(&json_headers(), b"null")
                .unwrap()
                .optional()
                .unwrap()
                .is_none()
        );
        let map = json!({"email": 5, "password": null})
            .as_object()
            .cloned()
            .unwrap();
        let mut f = Fields::new(&map);
        f.email("email");
        f.string("password");
        f.string("code");
        let e = f.finish().unwrap_err();
        assert_eq!(e.detail()[0]["type"], "string_type");
        assert_eq!(e.detail()[0]["input"], 5);
        assert_eq!(e.detail()[1]["input"], Value::Null);
        assert_eq!(e.detail()[2]["type"], "missing");
        assert_eq!(
            e.detail()[2]["input"],
            json!({"email": 5, "password": null})
        );
    }

    #[test]
    fn bounded_strings_report_pydantic_messages() {
        let map = json!({"a": "", "b": "x".repeat(65)})
            .as_object()
            .cloned()
            .unwrap();
        let mut f = Fields::new(&map);
        f.bounded_string("a", 1, 64);
        f.bounded_string("b", 1, 64);
        let e = f.finish().unwrap_err();
        assert_eq!(
            e.detail()[0]["msg"],
            "String should have at least 1 character"
        );
        assert_eq!(e.detail()[0]["ctx"], json!({"min_length": 1}));
        assert_eq!(
            e.detail()[1]["msg"],
            "String should have at most 64 characters"
        );
        assert_eq!(e.detail()[1]["ctx"], json!({"max_length": 64}));
    }

    #[test]
    fn email_reasons_match_email_validator() {
        assert_eq!(
            email_syntax("nope").unwrap_err(),
            "An email address must have an @-sign."
        );
        assert_eq!(
            email_syntax("@x.com").unwrap_err(),
            "There must be something before the @-sign."
        );
        assert_eq!(
            email_syntax("a@").unwrap_err(),
            "There must be something after the @-sign."
        );
        assert_eq!(
            email_syntax("a@b").unwrap_err(),
            "The part after the @-sign is not valid. It should have a period."
        );
        assert!(email_syntax("A.B+tag@Example.co.uk").is_ok());
    }
}
