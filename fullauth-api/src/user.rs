//! Users and the application's own user columns.

use std::collections::BTreeMap;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::StoreError;
use crate::ids::{UserId, UserIdType};
use crate::timestamp::Timestamp;
use crate::validate::{Email, HashedPassword, MAX_TEXT_BYTES};

/// Names of `fullauth_users` columns that the generic field map can never
/// write: each has its own typed field or method. (`roles` is not a column,
/// but the reference treats it as privileged too.)
pub const PROTECTED_FIELDS: [&str; 8] = [
    "id",
    "email",
    "hashed_password",
    "is_active",
    "is_verified",
    "is_superuser",
    "created_at",
    "roles",
];

/// The built-in columns of `fullauth_users` that [`crate::UserStore::get_user_by_field`]
/// accepts besides the application's own columns.
pub const LOOKUP_FIELDS: [&str; 5] = ["id", "email", "is_active", "is_verified", "is_superuser"];

/// A user as stored in `fullauth_users`.
///
/// The password hash is not part of it: read and write it with
/// [`crate::UserStore::get_password_hash`] / [`crate::UserStore::set_password_hash`],
/// so that it is never serialised by accident.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct User {
    /// The primary key.
    pub id: UserId,
    /// The normalised email (unique).
    pub email: Email,
    /// False for a deactivated account.
    pub is_active: bool,
    /// True once the email was verified.
    pub is_verified: bool,
    /// True for an administrator.
    pub is_superuser: bool,
    /// When the row was created.
    pub created_at: Timestamp,
    /// The application's own columns of `fullauth_users`, by column name.
    pub extra: ExtraFields,
}

impl User {
    /// One application column, deserialised; `Ok(None)` when the column is
    /// absent or NULL.
    ///
    /// # Errors
    /// [`StoreError::InvalidInput`] when the value does not deserialise as `T`.
    pub fn extra_field<T: DeserializeOwned>(&self, name: &str) -> Result<Option<T>, StoreError> {
        match self.extra.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(v) => serde_json::from_value(v.clone())
                .map(Some)
                .map_err(|e| StoreError::invalid("extra", format!("column `{name}`: {e}"))),
        }
    }

    /// All application columns deserialised into one struct of the app's.
    ///
    /// # Errors
    /// [`StoreError::InvalidInput`] when the columns do not deserialise as `T`.
    pub fn extra_as<T: DeserializeOwned>(&self) -> Result<T, StoreError> {
        let map: serde_json::Map<String, Value> = self
            .extra
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        serde_json::from_value(Value::Object(map))
            .map_err(|e| StoreError::invalid("extra", e.to_string()))
    }
}

/// Values for the application's own user columns, keyed by column name.
///
/// Inserting checks the name and the value, so a store only ever receives
/// names that are SQL identifiers and not protected, and values that are
/// scalars (null, boolean, number, string without NUL, at most 1 MiB). Whether
/// the column exists is the store's to check ([`StoreError::UnknownField`]).
///
/// ```
/// use fullauth_api::ExtraFields;
/// let mut extra = ExtraFields::new();
/// extra.insert("display_name", "Ada").unwrap();
/// assert!(extra.insert("is_superuser", true).is_err());
/// assert!(extra.insert("bad name", 1).is_err());
/// ```
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "BTreeMap<String, Value>", into = "BTreeMap<String, Value>")]
pub struct ExtraFields(BTreeMap<String, Value>);

impl ExtraFields {
    /// An empty map.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets column `name` to `value`.
    ///
    /// # Errors
    /// [`StoreError::ProtectedField`] for a name in [`PROTECTED_FIELDS`];
    /// [`StoreError::UnknownField`] for a name that is not an SQL identifier
    /// (`[A-Za-z_][A-Za-z0-9_]*`, at most 63 bytes);
    /// [`StoreError::InvalidInput`] for a value that is an array or object, or a
    /// string with NUL or over 1 MiB.
    pub fn insert(
        &mut self,
        name: impl Into<String>,
        value: impl Into<Value>,
    ) -> Result<&mut Self, StoreError> {
        let name = name.into();
        let value = value.into();
        check_field_name(&name)?;
        check_extra_value(&name, &value)?;
        self.0.insert(name, value);
        Ok(self)
    }

    /// Builder form of [`insert`](Self::insert).
    ///
    /// # Errors
    /// As [`insert`](Self::insert).
    pub fn with(
        mut self,
        name: impl Into<String>,
        value: impl Into<Value>,
    ) -> Result<Self, StoreError> {
        self.insert(name, value)?;
        Ok(self)
    }

    /// Builds the map from a serialisable struct or map of the app's.
    ///
    /// # Errors
    /// As [`insert`](Self::insert), and [`StoreError::InvalidInput`] when `value`
    /// does not serialise to a JSON object.
    pub fn from_serialize<T: Serialize>(value: &T) -> Result<Self, StoreError> {
        match serde_json::to_value(value) {
            Ok(Value::Object(map)) => {
                let mut out = ExtraFields::new();
                for (k, v) in map {
                    out.insert(k, v)?;
                }
                Ok(out)
            }
            Ok(_) => Err(StoreError::invalid("extra", "expected a struct or a map")),
            Err(e) => Err(StoreError::invalid("extra", e.to_string())),
        }
    }

    /// Inserts a value read back from storage without the protected-name
    /// check (stores use this to fill [`User::extra`]).
    pub fn insert_stored(&mut self, name: impl Into<String>, value: Value) {
        self.0.insert(name.into(), value);
    }

    /// The value of column `name`, if present.
    pub fn get(&self, name: &str) -> Option<&Value> {
        self.0.get(name)
    }

    /// The columns and values, ordered by name.
    pub fn iter(&self) -> impl Iterator<Item = (&String, &Value)> {
        self.0.iter()
    }

    /// The column names, ordered.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.0.keys().map(String::as_str)
    }

    /// True when no column is set.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// How many columns are set.
    pub fn len(&self) -> usize {
        self.0.len()
    }
}

impl TryFrom<BTreeMap<String, Value>> for ExtraFields {
    type Error = StoreError;
    fn try_from(map: BTreeMap<String, Value>) -> Result<Self, StoreError> {
        let mut out = ExtraFields::new();
        for (k, v) in map {
            out.insert(k, v)?;
        }
        Ok(out)
    }
}

impl From<ExtraFields> for BTreeMap<String, Value> {
    fn from(e: ExtraFields) -> Self {
        e.0
    }
}

/// Checks a user column name given through a generic map or lookup:
/// protected names and non-identifiers are refused.
///
/// # Errors
/// [`StoreError::ProtectedField`] or [`StoreError::UnknownField`].
pub fn check_field_name(name: &str) -> Result<(), StoreError> {
    if PROTECTED_FIELDS.contains(&name) {
        return Err(StoreError::protected_field(name.to_string()));
    }
    if !is_identifier(name) {
        return Err(StoreError::unknown_field(name.to_string()));
    }
    Ok(())
}

/// True for `[A-Za-z_][A-Za-z0-9_]*` of at most 63 bytes (a column name that
/// needs no quoting on any SQL backend).
pub fn is_identifier(name: &str) -> bool {
    let mut bytes = name.bytes();
    matches!(bytes.next(), Some(b) if b.is_ascii_alphabetic() || b == b'_')
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_')
        && name.len() <= 63
}

fn check_extra_value(name: &str, value: &Value) -> Result<(), StoreError> {
    match value {
        Value::Null | Value::Bool(_) | Value::Number(_) => Ok(()),
        Value::String(s) if s.contains('\0') => Err(StoreError::invalid(
            "extra",
            format!("column `{name}`: strings must not contain NUL"),
        )),
        Value::String(s) if s.len() > MAX_TEXT_BYTES => Err(StoreError::invalid(
            "extra",
            format!("column `{name}`: longer than {MAX_TEXT_BYTES} bytes"),
        )),
        Value::String(_) => Ok(()),
        Value::Array(_) | Value::Object(_) => Err(StoreError::invalid(
            "extra",
            format!("column `{name}`: must be null, a boolean, a number or a string"),
        )),
    }
}

/// A user to create.
///
/// ```
/// use fullauth_api::{NewUser, HashedPassword};
/// let new = NewUser::new("  Ada@Example.com").unwrap()
///     .with_password_hash(HashedPassword::new("$argon2id$v=19$...").unwrap())
///     .with_extra("display_name", "Ada").unwrap();
/// assert_eq!(new.email.as_str(), "ada@example.com");
/// assert!(new.is_active && !new.is_verified && !new.is_superuser);
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct NewUser {
    /// The id to use; `None` lets the store generate a UUIDv7.
    pub id: Option<UserId>,
    /// The normalised email.
    pub email: Email,
    /// The password hash, or `None` for an account without a password
    /// (OAuth- or passkey-only).
    pub hashed_password: Option<HashedPassword>,
    /// Default true.
    pub is_active: bool,
    /// Default false.
    pub is_verified: bool,
    /// Default false.
    pub is_superuser: bool,
    /// Values for the application's own columns; columns not given get the
    /// database default (NULL when there is none).
    pub extra: ExtraFields,
}

impl NewUser {
    /// A new active, unverified, non-superuser account with no password.
    ///
    /// # Errors
    /// [`StoreError::InvalidInput`] with field `email`.
    pub fn new(email: impl AsRef<str>) -> Result<Self, StoreError> {
        Ok(NewUser {
            id: None,
            email: Email::new(email)?,
            hashed_password: None,
            is_active: true,
            is_verified: false,
            is_superuser: false,
            extra: ExtraFields::new(),
        })
    }

    /// Sets the password hash.
    pub fn with_password_hash(mut self, hash: HashedPassword) -> Self {
        self.hashed_password = Some(hash);
        self
    }

    /// Sets an application column.
    ///
    /// # Errors
    /// As [`ExtraFields::insert`].
    pub fn with_extra(
        mut self,
        name: impl Into<String>,
        value: impl Into<Value>,
    ) -> Result<Self, StoreError> {
        self.extra.insert(name, value)?;
        Ok(self)
    }
}

/// Changes to a user; `None` leaves a column as it is.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct UserPatch {
    /// A new email (normalised; must stay unique).
    pub email: Option<Email>,
    /// Activate or deactivate.
    pub is_active: Option<bool>,
    /// Set the verified flag.
    pub is_verified: Option<bool>,
    /// Grant or withdraw administrator rights.
    pub is_superuser: Option<bool>,
    /// New values for application columns.
    pub extra: ExtraFields,
}

impl UserPatch {
    /// An empty patch.
    pub fn new() -> Self {
        Self::default()
    }

    /// True when the patch changes nothing.
    pub fn is_empty(&self) -> bool {
        self.email.is_none()
            && self.is_active.is_none()
            && self.is_verified.is_none()
            && self.is_superuser.is_none()
            && self.extra.is_empty()
    }

    /// Sets an application column.
    ///
    /// # Errors
    /// As [`ExtraFields::insert`].
    pub fn with_extra(
        mut self,
        name: impl Into<String>,
        value: impl Into<Value>,
    ) -> Result<Self, StoreError> {
        self.extra.insert(name, value)?;
        Ok(self)
    }
}

/// A lookup of a user by one column ([`crate::UserStore::get_user_by_field`]).
///
/// Built with [`UserLookup::parse`], which accepts only real columns: the
/// built-in [`LOOKUP_FIELDS`] (the value checked against the column's type; an
/// email is normalised) or an application column (the store checks it exists).
///
/// ```
/// use fullauth_api::{UserLookup, StoreError};
/// let l = UserLookup::parse("email", " Ada@Example.com").unwrap();
/// assert!(matches!(l, UserLookup::Email(ref e) if e.as_str() == "ada@example.com"));
/// assert!(matches!(UserLookup::parse("hashed_password", "x"), Err(StoreError::ProtectedField { .. })));
/// assert!(matches!(UserLookup::parse("is_active", "yes"), Err(StoreError::InvalidInput { .. })));
/// ```
///
/// Exhaustive on purpose: a store answers every kind of lookup, without a
/// wildcard arm.
#[derive(Clone, Debug, PartialEq)]
pub enum UserLookup {
    /// By primary key.
    Id(UserId),
    /// By normalised email.
    Email(Email),
    /// By `is_active`.
    IsActive(bool),
    /// By `is_verified`.
    IsVerified(bool),
    /// By `is_superuser`.
    IsSuperuser(bool),
    /// By an application column.
    Extra {
        /// The column name (an SQL identifier, not protected).
        column: String,
        /// The value to compare with (a non-null scalar).
        value: Value,
    },
}

impl UserLookup {
    /// Checks `field` and converts `value` to the column's type.
    ///
    /// # Errors
    /// [`StoreError::ProtectedField`] for `hashed_password`, `created_at` and
    /// `roles`; [`StoreError::UnknownField`] for a name that is not an SQL
    /// identifier; [`StoreError::InvalidInput`] for a value of the wrong type
    /// or NULL.
    ///
    /// An `id` is read as a UUID key; on a store keyed otherwise use
    /// [`parse_for`](Self::parse_for).
    pub fn parse(field: &str, value: impl Into<Value>) -> Result<Self, StoreError> {
        Self::parse_for(UserIdType::Uuid, field, value)
    }

    /// [`parse`](Self::parse) for a store whose users are keyed by
    /// `id_type` (its [`user_id_type`](crate::StoreInfo::user_id_type)): an
    /// `id` is a string parsed with [`UserIdType::parse`], or, for integer
    /// keys, also a JSON integer.
    ///
    /// ```
    /// use fullauth_api::{UserId, UserIdType, UserLookup};
    /// let l = UserLookup::parse_for(UserIdType::Int, "id", 42).unwrap();
    /// assert_eq!(l, UserLookup::Id(UserId::from_int(42)));
    /// let l = UserLookup::parse_for(UserIdType::Text, "id", "42").unwrap();
    /// assert_eq!(l, UserLookup::Id(UserId::from_text("42")));
    /// ```
    ///
    /// # Errors
    /// As [`parse`](Self::parse).
    pub fn parse_for(
        id_type: UserIdType,
        field: &str,
        value: impl Into<Value>,
    ) -> Result<Self, StoreError> {
        let value = value.into();
        let want_bool = |v: &Value| {
            v.as_bool()
                .ok_or_else(|| StoreError::invalid("value", format!("`{field}` takes a boolean")))
        };
        Ok(match field {
            "id" => UserLookup::Id(match (&value, id_type) {
                (Value::Number(n), UserIdType::Int) => n
                    .as_i64()
                    .map(UserId::from_int)
                    .ok_or_else(|| StoreError::invalid("value", "`id` takes a 64-bit integer"))?,
                _ => id_type.parse(
                    value
                        .as_str()
                        .ok_or_else(|| StoreError::invalid("value", "`id` takes a string"))?,
                )?,
            }),
            "email" => UserLookup::Email(Email::new(
                value
                    .as_str()
                    .ok_or_else(|| StoreError::invalid("value", "`email` takes a string"))?,
            )?),
            "is_active" => UserLookup::IsActive(want_bool(&value)?),
            "is_verified" => UserLookup::IsVerified(want_bool(&value)?),
            "is_superuser" => UserLookup::IsSuperuser(want_bool(&value)?),
            other => {
                check_field_name(other)?;
                if value.is_null() {
                    return Err(StoreError::invalid("value", "cannot look up NULL"));
                }
                check_extra_value(other, &value)?;
                UserLookup::Extra {
                    column: other.to_string(),
                    value,
                }
            }
        })
    }
}
