//! `fullauth_passkeys` ([`fullauth_api::PasskeyStore`]).

use fullauth_api::{
    CredentialId, DeviceName, MAX_COUNTER, NewPasskey, Passkey, StoreError, Text, Timestamp,
    Transports, UserId,
};
use sqlx::postgres::PgRow;
use sqlx::{PgConnection, Row};
use time::OffsetDateTime;

use crate::ctx::Ctx;
use crate::error::{DbResult, map_write_error};
use crate::users::uuid_of;

macro_rules! cols {
    () => {
        "id, user_id, credential_id, public_key, sign_count, device_name, transports, backed_up, \
         created_at, last_used_at"
    };
}

fn bad(what: &'static str) -> impl FnOnce(StoreError) -> StoreError {
    move |e| StoreError::backend(format!("a stored {what} does not validate"), e)
}

fn decode(row: &PgRow) -> DbResult<Passkey> {
    let cred: String = row.try_get(2)?;
    let key: String = row.try_get(3)?;
    let count: i32 = row.try_get(4)?;
    let name: String = row.try_get(5)?;
    let transports: String = row.try_get(6)?;
    let created: OffsetDateTime = row.try_get(8)?;
    let used: Option<OffsetDateTime> = row.try_get(9)?;
    Ok(Passkey {
        id: row.try_get(0)?,
        user_id: UserId::from_uuid(row.try_get(1)?),
        credential_id: CredentialId::new(cred).map_err(bad("credential id"))?,
        public_key: Text::new(key).map_err(bad("public key"))?,
        sign_count: u32::try_from(count).unwrap_or(0),
        device_name: DeviceName::new(name).map_err(bad("device name"))?,
        transports: Transports::from_joined(&transports),
        backed_up: row.try_get(7)?,
        created_at: Timestamp::from_datetime(created),
        last_used_at: used.map(Timestamp::from_datetime),
    })
}

pub(crate) fn counter(n: u32, field: &'static str) -> DbResult<i32> {
    if n > MAX_COUNTER {
        return Err(StoreError::invalid(field, format!("must be at most {MAX_COUNTER}")).into());
    }
    i32::try_from(n).map_err(|_| StoreError::invalid(field, "out of range").into())
}

const GET: &str = concat!(
    "SELECT ",
    cols!(),
    " FROM {s}.fullauth_passkeys WHERE credential_id = $1"
);

pub(crate) async fn get(
    c: &mut PgConnection,
    ctx: &Ctx,
    cred: &CredentialId,
) -> DbResult<Option<Passkey>> {
    let row = sqlx::query(ctx.sql(GET))
        .bind(cred.as_str())
        .fetch_optional(c)
        .await?;
    row.map(|r| decode(&r)).transpose()
}

const LIST: &str = concat!(
    "SELECT ",
    cols!(),
    " FROM {s}.fullauth_passkeys WHERE user_id = $1 ORDER BY created_at, id"
);

pub(crate) async fn list(c: &mut PgConnection, ctx: &Ctx, user: &UserId) -> DbResult<Vec<Passkey>> {
    let rows = sqlx::query(ctx.sql(LIST))
        .bind(uuid_of(user)?)
        .fetch_all(c)
        .await?;
    rows.iter().map(decode).collect()
}

const STORE: &str = concat!(
    "INSERT INTO {s}.fullauth_passkeys (",
    cols!(),
    ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, NULL) RETURNING ",
    cols!()
);

pub(crate) async fn store(c: &mut PgConnection, ctx: &Ctx, new: &NewPasskey) -> DbResult<Passkey> {
    let count = counter(new.sign_count, "sign_count")?;
    let row = sqlx::query(ctx.sql(STORE))
        .bind(uuid::Uuid::now_v7())
        .bind(uuid_of(&new.user_id)?)
        .bind(new.credential_id.as_str())
        .bind(new.public_key.as_str())
        .bind(count)
        .bind(new.device_name.as_str())
        .bind(new.transports.joined())
        .bind(new.backed_up)
        .bind(ctx.now().to_datetime())
        .fetch_one(c)
        .await
        .map_err(|e| map_write_error(e.into()))?;
    decode(&row)
}

/// Locks the row first (`FOR UPDATE` returns the newest committed version),
/// so the comparison with the stored count and the write happen under one
/// lock: of concurrent updates to the same value exactly one sees a smaller
/// stored count. `last_used_at` is set in every case.
const SIGN_COUNT: &str = "\
WITH cur AS (SELECT id, sign_count FROM {s}.fullauth_passkeys WHERE credential_id = $1 FOR UPDATE), \
upd AS (UPDATE {s}.fullauth_passkeys k SET sign_count = GREATEST(k.sign_count, $2), \
        last_used_at = $3 FROM cur WHERE k.id = cur.id RETURNING 1) \
SELECT cur.sign_count < $2 FROM cur WHERE EXISTS (SELECT 1 FROM upd)";

pub(crate) async fn update_sign_count(
    c: &mut PgConnection,
    ctx: &Ctx,
    cred: &CredentialId,
    n: u32,
) -> DbResult<bool> {
    let n = counter(n, "sign_count")?;
    let row: Option<(bool,)> = sqlx::query_as(ctx.sql(SIGN_COUNT))
        .bind(cred.as_str())
        .bind(n)
        .bind(ctx.now().to_datetime())
        .fetch_optional(c)
        .await?;
    Ok(row.is_some_and(|(advanced,)| advanced))
}

const RENAME: &str =
    "UPDATE {s}.fullauth_passkeys SET device_name = $3 WHERE user_id = $1 AND id = $2";

pub(crate) async fn rename(
    c: &mut PgConnection,
    ctx: &Ctx,
    user: &UserId,
    id: uuid::Uuid,
    name: &DeviceName,
) -> DbResult<bool> {
    let r = sqlx::query(ctx.sql(RENAME))
        .bind(uuid_of(user)?)
        .bind(id)
        .bind(name.as_str())
        .execute(c)
        .await?;
    Ok(r.rows_affected() > 0)
}

const DELETE: &str = "DELETE FROM {s}.fullauth_passkeys WHERE user_id = $1 AND id = $2";

pub(crate) async fn delete(
    c: &mut PgConnection,
    ctx: &Ctx,
    user: &UserId,
    id: uuid::Uuid,
) -> DbResult<bool> {
    let r = sqlx::query(ctx.sql(DELETE))
        .bind(uuid_of(user)?)
        .bind(id)
        .execute(c)
        .await?;
    Ok(r.rows_affected() > 0)
}
