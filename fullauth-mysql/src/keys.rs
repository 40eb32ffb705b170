//! User keys on the wire: how a [`UserId`] is bound as a parameter and read
//! back from a `fullauth_users.id` or `user_id` column, whatever the key
//! type of the database.
//!
//! | key type | column (fastapi-fullauth 0.18) | bound as | read from |
//! | --- | --- | --- | --- |
//! | UUID | `UUID` (or `CHAR(32)` hex) | its hyphenated text | text |
//! | integer | `INTEGER` (`int(11)`, 32-bit) | `BIGINT` | any integer type |
//!
//! A UUID is bound as its hyphenated text (a plain [`uuid::Uuid`] would be
//! sent as 16 bytes), which MariaDB converts to the `UUID` column's type.
//! An integer key is bound as `BIGINT` (a [`UserId`] holds an `i64`), which
//! MariaDB compares with the 32-bit columns exactly and through their
//! indexes: an id outside the 32-bit range names no user, and every read
//! answers as for one (no user, an empty list, `false`, 0). A write that
//! stores such an id in a `user_id` column is refused by the database's
//! strict mode (out of range) as a [`StoreError::Backend`] error.
//!
//! Text keys are not served: fastapi-fullauth cannot create them on MariaDB
//! (see [`crate::MySqlStoreBuilder::user_id_type`]).
//!
//! A store binds ids of its one key type only (the generated trait methods
//! refuse the others before the backend runs), so each statement text keeps
//! one parameter type on every connection's statement cache.

use fullauth_api::{StoreError, StoreResult, UserId};
use sqlx::encode::IsNull;
use sqlx::error::BoxDynError;
use sqlx::mysql::{MySqlRow, MySqlTypeInfo, MySqlValueRef};
use sqlx::{Decode, Encode, MySql, Row, Type, TypeInfo, ValueRef};
use uuid::fmt::Hyphenated;

use crate::error::DbResult;

/// A user id as a bind parameter, in the MariaDB type of its key: the
/// hyphenated text of a UUID, or a `BIGINT`. `Copy`, so an operation body
/// that runs again on a fresh connection binds it again.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum UserKey {
    /// A UUID key, as its hyphenated text.
    Uuid(Hyphenated),
    /// An integer key.
    Int(i64),
}

impl UserKey {
    /// The parameter for `id`.
    ///
    /// # Errors
    /// [`StoreError::InvalidInput`] (field `user_id`) for a text key, which
    /// this backend does not serve.
    pub(crate) fn of(id: &UserId) -> StoreResult<UserKey> {
        if let Some(u) = id.as_uuid() {
            return Ok(UserKey::Uuid(u.hyphenated()));
        }
        match id.as_int() {
            Some(i) => Ok(UserKey::Int(i)),
            None => Err(StoreError::invalid(
                "user_id",
                "the MariaDB store keys users by UUID or integer, not by text",
            )),
        }
    }
}

impl Type<MySql> for UserKey {
    /// The static type is a UUID's text; each value declares its own type
    /// ([`Encode::produces`]).
    fn type_info() -> MySqlTypeInfo {
        <Hyphenated as Type<MySql>>::type_info()
    }
}

impl Encode<'_, MySql> for UserKey {
    fn encode_by_ref(&self, buf: &mut Vec<u8>) -> Result<IsNull, BoxDynError> {
        match self {
            UserKey::Uuid(u) => <Hyphenated as Encode<MySql>>::encode_by_ref(u, buf),
            UserKey::Int(i) => <i64 as Encode<MySql>>::encode_by_ref(i, buf),
        }
    }

    fn produces(&self) -> Option<MySqlTypeInfo> {
        Some(match self {
            UserKey::Uuid(_) => <Hyphenated as Type<MySql>>::type_info(),
            UserKey::Int(_) => <i64 as Type<MySql>>::type_info(),
        })
    }
}

/// A user id read from a key column: an integer from an integer column, a
/// UUID from the text MariaDB sends for a `UUID` (or `CHAR(32)`) column.
/// The column's type is the database's key type, which the store checked
/// against its own when it read the catalog, so the id has the store's key
/// type.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct StoredKey(pub(crate) UserId);

impl Type<MySql> for StoredKey {
    fn type_info() -> MySqlTypeInfo {
        <Hyphenated as Type<MySql>>::type_info()
    }

    fn compatible(ty: &MySqlTypeInfo) -> bool {
        <Hyphenated as Type<MySql>>::compatible(ty) || <i64 as Type<MySql>>::compatible(ty)
    }
}

impl Decode<'_, MySql> for StoredKey {
    fn decode(value: MySqlValueRef<'_>) -> Result<Self, BoxDynError> {
        let ty = value.type_info().into_owned();
        if is_integer(&ty) {
            return Ok(StoredKey(UserId::from_int(<i64 as Decode<MySql>>::decode(
                value,
            )?)));
        }
        let text = <&str as Decode<MySql>>::decode(value)?;
        let id = uuid::Uuid::try_parse(text.trim())?;
        Ok(StoredKey(UserId::from_uuid(id)))
    }
}

/// True for MariaDB's integer column types (signed or not).
fn is_integer(ty: &MySqlTypeInfo) -> bool {
    matches!(
        ty.name(),
        "TINYINT"
            | "SMALLINT"
            | "MEDIUMINT"
            | "INT"
            | "BIGINT"
            | "TINYINT UNSIGNED"
            | "SMALLINT UNSIGNED"
            | "MEDIUMINT UNSIGNED"
            | "INT UNSIGNED"
            | "BIGINT UNSIGNED"
    )
}

/// The user id in column `index` of `row` (see [`StoredKey`]).
pub(crate) fn user_id_at(row: &MySqlRow, index: usize) -> DbResult<UserId> {
    Ok(row.try_get::<StoredKey, _>(index)?.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_bind_in_their_own_type() {
        let u = uuid::Uuid::now_v7();
        let uuid_key = UserKey::of(&UserId::from_uuid(u)).ok();
        assert_eq!(uuid_key, Some(UserKey::Uuid(u.hyphenated())));
        let int_key = UserKey::of(&UserId::from_int(42)).ok();
        assert_eq!(int_key, Some(UserKey::Int(42)));
        assert_eq!(
            int_key
                .and_then(|k| k.produces())
                .map(|t| t.name().to_string()),
            Some(String::from("BIGINT"))
        );
        assert!(UserKey::of(&UserId::from_text("abc")).is_err());
    }
}
