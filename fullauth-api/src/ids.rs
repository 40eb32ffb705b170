//! Identifiers.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::error::StoreError;

/// The id of a user: opaque, with a [`Display`](fmt::Display) /
/// [`FromStr`] pair that round-trips, because it travels as a JWT `sub`.
///
/// Today every id is a UUID: new ones are UUIDv7 ([`UserId::generate`]), and
/// the text form is the hyphenated UUID (what `str(uuid)` gives in Python, so
/// tokens minted by either side agree). Parsing also accepts the 32-character
/// simple form stored by SQLite. The representation is private so that integer
/// and text keys can be added later without changing any trait signature.
///
/// ```
/// use fullauth_api::UserId;
/// let id = UserId::generate();
/// let back: UserId = id.to_string().parse().unwrap();
/// assert_eq!(id, back);
/// assert!("not-an-id".parse::<UserId>().is_err());
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct UserId(Repr);

#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
enum Repr {
    Uuid(Uuid),
}

impl UserId {
    /// A new UUIDv7 id (time-ordered).
    pub fn generate() -> Self {
        UserId(Repr::Uuid(Uuid::now_v7()))
    }

    /// Wraps an existing UUID.
    pub fn from_uuid(u: Uuid) -> Self {
        UserId(Repr::Uuid(u))
    }

    /// The UUID, when the id is one (always, today).
    pub fn as_uuid(&self) -> Option<Uuid> {
        match self.0 {
            Repr::Uuid(u) => Some(u),
        }
    }
}

impl fmt::Display for UserId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            Repr::Uuid(u) => write!(f, "{}", u.hyphenated()),
        }
    }
}

impl fmt::Debug for UserId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "UserId({self})")
    }
}

impl FromStr for UserId {
    type Err = StoreError;
    /// Accepts the hyphenated and the simple (32 hex) UUID forms.
    fn from_str(s: &str) -> Result<Self, StoreError> {
        let s = s.trim();
        if !(s.len() == 32 || s.len() == 36) {
            return Err(StoreError::invalid(
                "user_id",
                "expected a UUID (36 characters hyphenated, or 32 hex)",
            ));
        }
        Uuid::parse_str(s)
            .map(UserId::from_uuid)
            .map_err(|e| StoreError::invalid("user_id", e.to_string()))
    }
}

impl TryFrom<String> for UserId {
    type Error = StoreError;
    fn try_from(s: String) -> Result<Self, StoreError> {
        s.parse()
    }
}

impl From<UserId> for String {
    fn from(id: UserId) -> String {
        id.to_string()
    }
}

impl From<Uuid> for UserId {
    fn from(u: Uuid) -> Self {
        UserId::from_uuid(u)
    }
}

/// Generates a new UUIDv7 for the primary key of a record (refresh token,
/// passkey, OAuth account, MFA factor, role, permission), as the reference does.
pub fn new_record_id() -> Uuid {
    Uuid::now_v7()
}
