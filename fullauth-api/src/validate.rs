//! Input validation shared by every store.
//!
//! Validation happens once, here, when a value is turned into one of the
//! validated types ([`Email`], [`RoleName`], [`CredentialId`], ...). The store
//! traits take those types, so a backend — ours or yours — never sees a value
//! that failed validation, and every backend refuses the same inputs with the
//! same [`StoreError::InvalidInput`]. A value that passes is stored and returned
//! byte for byte: quotes, SQL fragments, emoji and right-to-left text included.
//!
//! The length limits are the column lengths of the schema, counted in
//! characters (as PostgreSQL counts `VARCHAR(n)`).

use std::fmt;
use std::str::FromStr;

use crate::error::StoreError;

/// Longest value accepted for TEXT columns (public keys, provider tokens,
/// challenge values, password hashes): 1 MiB.
pub const MAX_TEXT_BYTES: usize = 1 << 20;
/// Longest user agent kept; longer ones are clamped.
pub const MAX_USER_AGENT_CHARS: usize = 512;
/// Longest IP address kept; longer ones are clamped.
pub const MAX_IP_ADDRESS_CHARS: usize = 45;

/// Refuses every Unicode control character (`Cc`) and enforces `min..=max`
/// characters and [`MAX_TEXT_BYTES`].
pub(crate) fn check_text(
    field: &'static str,
    value: &str,
    min_chars: usize,
    max_chars: usize,
) -> Result<(), StoreError> {
    if value.len() > MAX_TEXT_BYTES {
        return Err(StoreError::invalid(
            field,
            format!("longer than {MAX_TEXT_BYTES} bytes"),
        ));
    }
    let mut count = 0usize;
    for c in value.chars() {
        count += 1;
        if c.is_control() {
            return Err(StoreError::invalid(
                field,
                format!("contains the control character U+{:04X}", c as u32),
            ));
        }
    }
    if count < min_chars {
        return Err(StoreError::invalid(
            field,
            if min_chars == 1 {
                "must not be empty".to_string()
            } else {
                format!("must have at least {min_chars} characters")
            },
        ));
    }
    if count > max_chars {
        return Err(StoreError::invalid(
            field,
            format!("longer than {max_chars} characters ({count})"),
        ));
    }
    Ok(())
}

/// Normalises an email: trimmed, then lowercased (Unicode lowercasing of the
/// whole address, as the reference does), then checked: 1–320 characters, no
/// control characters.
pub fn normalize_email(raw: &str) -> Result<String, StoreError> {
    let email = raw.trim().to_lowercase();
    check_text("email", &email, 1, 320)?;
    Ok(email)
}

/// Keeps an untrusted, observational header value: control characters removed,
/// then clamped to `max_chars` characters. Never fails.
pub fn clamp(value: &str, max_chars: usize) -> String {
    value
        .chars()
        .filter(|c| !c.is_control())
        .take(max_chars)
        .collect()
}

/// Defines a validated string newtype.
macro_rules! validated_string {
    (
        $(#[$meta:meta])*
        $name:ident, field = $field:literal, min = $min:expr, max = $max:expr
    ) => {
        $(#[$meta])*
        #[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            /// The longest value accepted, in characters.
            pub const MAX_CHARS: usize = $max;

            /// Validates `value`.
            ///
            /// # Errors
            /// [`StoreError::InvalidInput`] naming the field when the value is
            /// too short, too long, or contains a control character.
            pub fn new(value: impl Into<String>) -> Result<Self, StoreError> {
                let value = value.into();
                check_text($field, &value, $min, $max)?;
                Ok(Self(value))
            }

            /// The value.
            pub fn as_str(&self) -> &str {
                &self.0
            }

            /// The value, by move.
            pub fn into_string(self) -> String {
                self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({:?})", stringify!($name), self.0)
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl FromStr for $name {
            type Err = StoreError;
            fn from_str(s: &str) -> Result<Self, StoreError> {
                Self::new(s)
            }
        }

        impl TryFrom<String> for $name {
            type Error = StoreError;
            fn try_from(s: String) -> Result<Self, StoreError> {
                Self::new(s)
            }
        }

        impl TryFrom<&str> for $name {
            type Error = StoreError;
            fn try_from(s: &str) -> Result<Self, StoreError> {
                Self::new(s)
            }
        }

        impl From<$name> for String {
            fn from(v: $name) -> String {
                v.0
            }
        }

        impl PartialEq<str> for $name {
            fn eq(&self, other: &str) -> bool {
                self.0 == other
            }
        }

        impl PartialEq<&str> for $name {
            fn eq(&self, other: &&str) -> bool {
                self.0 == *other
            }
        }
    };
}

/// A normalised email address: trimmed, lowercased, 1–320 characters, no
/// control characters.
///
/// ```
/// use fullauth_api::Email;
/// let e = Email::new("  Alice@Example.COM ").unwrap();
/// assert_eq!(e.as_str(), "alice@example.com");
/// assert!(Email::new("   ").is_err());
/// ```
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Email(String);

impl Email {
    /// The longest email accepted, in characters.
    pub const MAX_CHARS: usize = 320;

    /// Normalises and validates `raw` (see [`normalize_email`]).
    ///
    /// # Errors
    /// [`StoreError::InvalidInput`] with field `email`.
    pub fn new(raw: impl AsRef<str>) -> Result<Self, StoreError> {
        normalize_email(raw.as_ref()).map(Email)
    }

    /// The normalised address.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}
impl fmt::Debug for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Email({:?})", self.0)
    }
}
impl AsRef<str> for Email {
    fn as_ref(&self) -> &str {
        &self.0
    }
}
impl FromStr for Email {
    type Err = StoreError;
    fn from_str(s: &str) -> Result<Self, StoreError> {
        Email::new(s)
    }
}
impl TryFrom<String> for Email {
    type Error = StoreError;
    fn try_from(s: String) -> Result<Self, StoreError> {
        Email::new(s)
    }
}
impl TryFrom<&str> for Email {
    type Error = StoreError;
    fn try_from(s: &str) -> Result<Self, StoreError> {
        Email::new(s)
    }
}
impl From<Email> for String {
    fn from(e: Email) -> String {
        e.0
    }
}

validated_string!(
    /// A role name, 1–100 characters (`fullauth_roles.name`).
    RoleName, field = "role", min = 1, max = 100
);
validated_string!(
    /// A permission name, 1–200 characters (`fullauth_permissions.name`);
    /// by convention `resource:action`.
    PermissionName, field = "permission", min = 1, max = 200
);
validated_string!(
    /// An OAuth provider name such as `google`, 1–50 characters.
    ProviderName, field = "provider", min = 1, max = 50
);
validated_string!(
    /// The user's id at an OAuth provider, 1–320 characters.
    ProviderUserId, field = "provider_user_id", min = 1, max = 320
);
validated_string!(
    /// A WebAuthn credential id (base64url without padding), 1–512 characters.
    CredentialId, field = "credential_id", min = 1, max = 512
);
validated_string!(
    /// A passkey's display name, 0–200 characters.
    DeviceName, field = "device_name", min = 0, max = 200
);
validated_string!(
    /// A refresh-token family (one session), 1–36 characters. New families are
    /// 32 lowercase hex characters ([`FamilyId::generate`]).
    FamilyId, field = "family_id", min = 1, max = 36
);
validated_string!(
    /// A stored password hash (a PHC string), 1 byte to 1 MiB, no control
    /// characters. The store keeps it verbatim; hashing is
    /// [`crate::password`]'s job.
    HashedPassword, field = "hashed_password", min = 1, max = usize::MAX
);
validated_string!(
    /// A TOTP secret (base32), 1–64 characters.
    MfaSecret, field = "secret", min = 1, max = 64
);
validated_string!(
    /// The key of a short-lived entry (a token id, `family:<id>`, an email, an
    /// IP, a challenge key), 1–512 characters.
    StateKey, field = "key", min = 1, max = 512
);
validated_string!(
    /// Free text for a TEXT column (a public key, a provider token, a challenge
    /// value): up to 1 MiB, no control characters.
    Text, field = "text", min = 0, max = usize::MAX
);

impl FamilyId {
    /// A new random family id: 32 lowercase hex characters (a UUIDv4 without
    /// hyphens, as the reference makes them).
    pub fn generate() -> Self {
        FamilyId(uuid::Uuid::new_v4().simple().to_string())
    }
}

/// A passkey's transports (`usb`, `nfc`, `ble`, `smart-card`, `internal`,
/// `cable`, `hybrid`, ...), stored comma-joined in a 200-character column.
///
/// Each transport is 1–200 characters without commas or control characters;
/// the comma-joined whole is at most 200 characters.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(try_from = "Vec<String>", into = "Vec<String>")]
pub struct Transports(Vec<String>);

impl Transports {
    /// Validates a list of transports.
    ///
    /// # Errors
    /// [`StoreError::InvalidInput`] with field `transports`.
    pub fn new<I, S>(items: I) -> Result<Self, StoreError>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let items: Vec<String> = items.into_iter().map(Into::into).collect();
        for t in &items {
            check_text("transports", t, 1, 200)?;
            if t.contains(',') {
                return Err(StoreError::invalid(
                    "transports",
                    format!("`{t}` contains a comma"),
                ));
            }
        }
        let joined: usize =
            items.iter().map(|t| t.chars().count()).sum::<usize>() + items.len().saturating_sub(1);
        if joined > 200 {
            return Err(StoreError::invalid(
                "transports",
                format!("longer than 200 characters when comma-joined ({joined})"),
            ));
        }
        Ok(Transports(items))
    }

    /// Parses the stored comma-joined form; `""` is the empty list.
    pub fn from_joined(joined: &str) -> Self {
        if joined.is_empty() {
            Transports(Vec::new())
        } else {
            Transports(joined.split(',').map(str::to_owned).collect())
        }
    }

    /// The stored comma-joined form.
    pub fn joined(&self) -> String {
        self.0.join(",")
    }

    /// The transports.
    pub fn as_slice(&self) -> &[String] {
        &self.0
    }
}

impl TryFrom<Vec<String>> for Transports {
    type Error = StoreError;
    fn try_from(v: Vec<String>) -> Result<Self, StoreError> {
        Transports::new(v)
    }
}

impl From<Transports> for Vec<String> {
    fn from(t: Transports) -> Vec<String> {
        t.0
    }
}

/// Passwords longer than this many characters are refused before hashing
/// (the reference's `PASSWORD_MAX_LENGTH`), so nobody can make the server hash
/// megabytes.
pub const MAX_PASSWORD_CHARS: usize = 4096;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_normalised_and_bounded() {
        assert_eq!(Email::new(" A@B.c ").unwrap().as_str(), "a@b.c");
        assert!(Email::new("").is_err());
        assert!(Email::new("a\0@b").is_err());
        let long = format!("{}@x.io", "a".repeat(320));
        assert!(matches!(
            Email::new(long),
            Err(StoreError::InvalidInput { field: "email", .. })
        ));
        assert!(Email::new(format!("{}@x.io", "é".repeat(300))).is_ok());
    }

    #[test]
    fn names_keep_hostile_text_verbatim() {
        let v = "'; DROP TABLE fullauth_users; -- 🦀 \u{202e}";
        assert_eq!(RoleName::new(v).unwrap().as_str(), v);
        assert!(RoleName::new("x".repeat(101)).is_err());
        assert!(RoleName::new("a\nb").is_err());
        assert!(DeviceName::new("").is_ok());
        assert!(RoleName::new("").is_err());
    }

    #[test]
    fn transports_round_trip() {
        let t = Transports::new(["internal", "hybrid"]).unwrap();
        assert_eq!(t.joined(), "internal,hybrid");
        assert_eq!(Transports::from_joined(&t.joined()), t);
        assert_eq!(Transports::from_joined(""), Transports::default());
        assert!(Transports::new(["a,b"]).is_err());
        assert!(Transports::new(["x".repeat(150), "y".repeat(60)]).is_err());
    }

    #[test]
    fn text_is_bounded_at_exactly_max_text_bytes() {
        let at_limit = "a".repeat(MAX_TEXT_BYTES);
        assert_eq!(Text::new(at_limit.clone()).unwrap().as_str(), at_limit);
        assert!(matches!(
            Text::new(format!("{at_limit}a")),
            Err(StoreError::InvalidInput { field: "text", ref reason, .. })
                if reason.contains("bytes")
        ));
    }

    #[test]
    fn an_empty_name_says_it_must_not_be_empty() {
        match RoleName::new("") {
            Err(StoreError::InvalidInput { field, reason, .. }) => {
                assert_eq!(field, "role");
                assert_eq!(reason, "must not be empty");
            }
            other => panic!("expected InvalidInput, got {other:?}"),
        }
    }

    #[test]
    fn email_shows_and_converts_to_its_normalised_text() {
        let e = Email::new(" Ann@Example.COM ").unwrap();
        assert_eq!(e.to_string(), "ann@example.com");
        assert_eq!(format!("{e:?}"), "Email(\"ann@example.com\")");
        assert_eq!(AsRef::<str>::as_ref(&e), "ann@example.com");
        assert_eq!(String::from(e), "ann@example.com");
    }

    #[test]
    fn transports_convert_from_and_to_a_vec() {
        let v = vec!["usb".to_string(), "nfc".to_string()];
        let t = Transports::try_from(v.clone()).unwrap();
        assert_eq!(t.as_slice(), v.as_slice());
        assert_eq!(Vec::<String>::from(t), v);
        assert!(Transports::try_from(vec!["a,b".to_string()]).is_err());
    }

    #[test]
    fn clamp_strips_controls() {
        assert_eq!(clamp("ab\u{7}c", 2), "ab");
        assert_eq!(
            clamp(&"é".repeat(600), MAX_USER_AGENT_CHARS)
                .chars()
                .count(),
            512
        );
    }
}
