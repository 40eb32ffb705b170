//! Token digests and constant-time comparison.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::error::StoreError;

/// The SHA-256 of a bearer secret (a refresh token, a recovery code), as 64
/// lowercase hex characters.
///
/// Stores take and return digests only: a raw refresh token never reaches
/// storage. [`TokenDigest::of`] computes the same digest as the reference
/// (unsalted SHA-256 of the UTF-8 string), so both sides find each other's rows.
///
/// ```
/// use fullauth_api::TokenDigest;
/// let d = TokenDigest::of("abc");
/// assert_eq!(d.as_str(), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
/// assert!(d.matches("abc"));
/// assert_eq!(TokenDigest::from_hex(d.as_str()).unwrap(), d);
/// assert!(TokenDigest::from_hex("xyz").is_err());
/// ```
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct TokenDigest([u8; 64]);

impl TokenDigest {
    /// The digest of `secret`.
    pub fn of(secret: &str) -> Self {
        TokenDigest(hex(&Sha256::digest(secret.as_bytes()).into()))
    }

    /// Parses a stored digest: exactly 64 hex characters (uppercase is
    /// lowercased).
    ///
    /// # Errors
    /// [`StoreError::InvalidInput`] with field `digest`.
    pub fn from_hex(s: &str) -> Result<Self, StoreError> {
        if s.len() != 64 || !s.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(StoreError::invalid(
                "digest",
                "expected 64 hex characters (a SHA-256 digest)",
            ));
        }
        let mut out = [0u8; 64];
        for (o, b) in out.iter_mut().zip(s.bytes()) {
            *o = b.to_ascii_lowercase();
        }
        Ok(TokenDigest(out))
    }

    /// The 64 lowercase hex characters.
    pub fn as_str(&self) -> &str {
        // Only ever built from ASCII hex digits.
        std::str::from_utf8(&self.0).unwrap_or_default()
    }

    /// True when `secret` hashes to this digest (constant-time comparison).
    pub fn matches(&self, secret: &str) -> bool {
        constant_time_eq(&Self::of(secret).0, &self.0)
    }
}

/// Compares two byte strings in time that depends only on their lengths.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && bool::from(a.ct_eq(b))
}

/// The 64 lowercase hex characters of a SHA-256, held inline: a digest is
/// cloned, hashed and compared without touching the heap.
fn hex(bytes: &[u8; 32]) -> [u8; 64] {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut out = [0u8; 64];
    for (pair, b) in out.chunks_exact_mut(2).zip(bytes) {
        pair[0] = HEX[usize::from(b >> 4)];
        pair[1] = HEX[usize::from(b & 0xf)];
    }
    out
}

impl fmt::Display for TokenDigest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for TokenDigest {
    /// Shows a prefix only, to keep logs short.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TokenDigest({}…)", &self.as_str()[..12])
    }
}

impl FromStr for TokenDigest {
    type Err = StoreError;
    fn from_str(s: &str) -> Result<Self, StoreError> {
        Self::from_hex(s)
    }
}

impl TryFrom<String> for TokenDigest {
    type Error = StoreError;
    fn try_from(s: String) -> Result<Self, StoreError> {
        Self::from_hex(&s)
    }
}

impl From<TokenDigest> for String {
    fn from(d: TokenDigest) -> String {
        d.as_str().to_owned()
    }
}
