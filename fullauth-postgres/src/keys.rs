//! User keys on the wire: how a [`UserId`] is bound as a parameter and read
//! back from a `fullauth_users.id` or `user_id` column, whatever the key
//! type of the database.
//!
//! | key type | column (fastapi-fullauth 0.18) | bound as | read from |
//! | --- | --- | --- | --- |
//! | UUID | `UUID` | `uuid` | `uuid` |
//! | integer | `SERIAL` / `INTEGER` (32-bit) | `int8` | `int2`, `int4`, `int8` |
//! | text | `VARCHAR` | `text` | `varchar`, `text`, `char`, `name` |
//!
//! An integer key is bound as `int8` (a [`UserId`] holds an `i64`), which
//! PostgreSQL compares with the 32-bit columns exactly and through their
//! indexes (the `int4 = int8` operator of the integer btree family). So an
//! id outside the 32-bit range is an id that names no user, and every
//! operation answers as for one: reads nothing (no user, an empty list,
//! `false`, 0), writes [`NotFound`](fullauth_api::StoreError::NotFound) for
//! the user (or `false`, 0 where the method says so). Every write takes the
//! `user_id` it stores from the user's row, never from the parameter, so no
//! statement fails on the narrower column. A text key is bound as `text`,
//! which compares with a `VARCHAR` column through its index.
//!
//! The statements are the same for every key type: only the parameter's
//! declared type changes ([`Encode::produces`]), and a store always binds
//! ids of its one key type (the generated trait methods refuse the others
//! before the backend runs), so each statement text keeps one parameter
//! type on every connection's statement cache.

use fullauth_api::UserId;
use sqlx::encode::IsNull;
use sqlx::error::BoxDynError;
use sqlx::postgres::{PgArgumentBuffer, PgTypeInfo, PgValueRef};
use sqlx::{Decode, Encode, Postgres, Type, ValueRef};
use uuid::Uuid;

/// A user id as a bind parameter, in the PostgreSQL type of its key
/// ([`uuid`](Uuid), `int8` or `text`). Borrowed and `Copy`, so an
/// operation body that runs again on a fresh connection binds it again.
#[derive(Clone, Copy, Debug)]
pub(crate) struct UserKey<'a>(pub(crate) &'a UserId);

impl Type<Postgres> for UserKey<'_> {
    /// The static type is a UUID's; each value declares its own type
    /// ([`Encode::produces`]).
    fn type_info() -> PgTypeInfo {
        <Uuid as Type<Postgres>>::type_info()
    }
}

impl Encode<'_, Postgres> for UserKey<'_> {
    fn encode_by_ref(&self, buf: &mut PgArgumentBuffer) -> Result<IsNull, BoxDynError> {
        if let Some(u) = self.0.as_uuid() {
            return <Uuid as Encode<Postgres>>::encode_by_ref(&u, buf);
        }
        if let Some(i) = self.0.as_int() {
            return <i64 as Encode<Postgres>>::encode_by_ref(&i, buf);
        }
        match self.0.as_text() {
            Some(t) => <&str as Encode<Postgres>>::encode_by_ref(&t, buf),
            None => Err(format!("the user id {:?} has no PostgreSQL encoding", self.0).into()),
        }
    }

    fn produces(&self) -> Option<PgTypeInfo> {
        Some(if self.0.as_uuid().is_some() {
            <Uuid as Type<Postgres>>::type_info()
        } else if self.0.as_int().is_some() {
            <i64 as Type<Postgres>>::type_info()
        } else {
            <&str as Type<Postgres>>::type_info()
        })
    }

    fn size_hint(&self) -> usize {
        self.0.as_text().map_or(16, str::len)
    }
}

/// A user id read from a key column: a UUID from `uuid`, an integer from
/// `int2`/`int4`/`int8`, a text key from the character types. The column's
/// type is the database's key type, which the store checked against its
/// own when it read the catalog, so the id has the store's key type.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct StoredKey(pub(crate) UserId);

impl Type<Postgres> for StoredKey {
    fn type_info() -> PgTypeInfo {
        <Uuid as Type<Postgres>>::type_info()
    }

    fn compatible(ty: &PgTypeInfo) -> bool {
        <Uuid as Type<Postgres>>::compatible(ty)
            || <i16 as Type<Postgres>>::compatible(ty)
            || <i32 as Type<Postgres>>::compatible(ty)
            || <i64 as Type<Postgres>>::compatible(ty)
            || <String as Type<Postgres>>::compatible(ty)
    }
}

impl Decode<'_, Postgres> for StoredKey {
    fn decode(value: PgValueRef<'_>) -> Result<Self, BoxDynError> {
        let ty = value.type_info().into_owned();
        let id = if <Uuid as Type<Postgres>>::compatible(&ty) {
            UserId::from_uuid(<Uuid as Decode<Postgres>>::decode(value)?)
        } else if <i32 as Type<Postgres>>::compatible(&ty) {
            UserId::from_int(i64::from(<i32 as Decode<Postgres>>::decode(value)?))
        } else if <i64 as Type<Postgres>>::compatible(&ty) {
            UserId::from_int(<i64 as Decode<Postgres>>::decode(value)?)
        } else if <i16 as Type<Postgres>>::compatible(&ty) {
            UserId::from_int(i64::from(<i16 as Decode<Postgres>>::decode(value)?))
        } else {
            UserId::from_text(<String as Decode<Postgres>>::decode(value)?)
        };
        Ok(StoredKey(id))
    }
}

/// The user id in column `index` of `row` (see [`StoredKey`]).
pub(crate) fn user_id_at(
    row: &sqlx::postgres::PgRow,
    index: usize,
) -> crate::error::DbResult<UserId> {
    Ok(sqlx::Row::try_get::<StoredKey, _>(row, index)?.0)
}

/// The user id in column `index` of `row`, `None` for NULL (a `LEFT JOIN`
/// that found no row).
pub(crate) fn optional_user_id_at(
    row: &sqlx::postgres::PgRow,
    index: usize,
) -> crate::error::DbResult<Option<UserId>> {
    Ok(sqlx::Row::try_get::<Option<StoredKey>, _>(row, index)?.map(|k| k.0))
}
