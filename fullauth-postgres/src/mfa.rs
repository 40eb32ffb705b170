//! `fullauth_mfa` ([`fullauth_api::MfaStore`]): one TOTP factor per user.

use fullauth_api::{MfaFactor, MfaSecret, StoreError, Timestamp, TokenDigest, UserId};
use sqlx::postgres::PgRow;
use sqlx::{PgConnection, Row};
use time::OffsetDateTime;

use crate::ctx::Ctx;
use crate::error::{DbResult, map_write_error};
use crate::passkeys::counter as check_counter;
use crate::users::uuid_of;

macro_rules! cols {
    () => {
        "id, user_id, secret, confirmed_at, last_counter, recovery_codes, created_at"
    };
}

fn decode(row: &PgRow) -> DbResult<MfaFactor> {
    let secret: String = row.try_get(2)?;
    let confirmed: Option<OffsetDateTime> = row.try_get(3)?;
    let counter: i32 = row.try_get(4)?;
    let codes: String = row.try_get(5)?;
    let created: OffsetDateTime = row.try_get(6)?;
    let recovery_codes = codes
        .split(',')
        .filter(|s| !s.is_empty())
        .map(TokenDigest::from_hex)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| StoreError::backend("a stored recovery code does not validate", e))?;
    Ok(MfaFactor {
        id: row.try_get(0)?,
        user_id: UserId::from_uuid(row.try_get(1)?),
        secret: MfaSecret::new(secret)
            .map_err(|e| StoreError::backend("a stored MFA secret does not validate", e))?,
        confirmed_at: confirmed.map(Timestamp::from_datetime),
        last_counter: u32::try_from(counter).unwrap_or(0),
        recovery_codes,
        created_at: Timestamp::from_datetime(created),
    })
}

const GET: &str = concat!(
    "SELECT ",
    cols!(),
    " FROM {s}.fullauth_mfa WHERE user_id = $1"
);

pub(crate) async fn get(
    c: &mut PgConnection,
    ctx: &Ctx,
    user: &UserId,
) -> DbResult<Option<MfaFactor>> {
    let row = sqlx::query(ctx.sql(GET))
        .bind(uuid_of(user)?)
        .fetch_optional(c)
        .await?;
    row.map(|r| decode(&r)).transpose()
}

/// Creates or replaces the factor: the replacement is a new row in every
/// column but the owner (new id, new secret, unconfirmed, counter 0, no
/// codes, created now).
const STORE: &str = concat!(
    "INSERT INTO {s}.fullauth_mfa (",
    cols!(),
    ") VALUES ($1, $2, $3, NULL, 0, '', $4) \
     ON CONFLICT (user_id) DO UPDATE SET id = EXCLUDED.id, secret = EXCLUDED.secret, \
     confirmed_at = NULL, last_counter = 0, recovery_codes = '', created_at = EXCLUDED.created_at \
     RETURNING ",
    cols!()
);

pub(crate) async fn store(
    c: &mut PgConnection,
    ctx: &Ctx,
    user: &UserId,
    secret: &MfaSecret,
) -> DbResult<MfaFactor> {
    let row = sqlx::query(ctx.sql(STORE))
        .bind(uuid::Uuid::now_v7())
        .bind(uuid_of(user)?)
        .bind(secret.as_str())
        .bind(ctx.now().to_datetime())
        .fetch_one(c)
        .await
        .map_err(|e| map_write_error(e.into()))?;
    decode(&row)
}

const CONFIRM: &str =
    "UPDATE {s}.fullauth_mfa SET confirmed_at = $2, recovery_codes = $3 WHERE user_id = $1";

pub(crate) async fn confirm(
    c: &mut PgConnection,
    ctx: &Ctx,
    user: &UserId,
    codes: &[TokenDigest],
) -> DbResult<bool> {
    let joined = codes
        .iter()
        .map(TokenDigest::as_str)
        .collect::<Vec<_>>()
        .join(",");
    let r = sqlx::query(ctx.sql(CONFIRM))
        .bind(uuid_of(user)?)
        .bind(ctx.now().to_datetime())
        .bind(joined)
        .execute(c)
        .await?;
    Ok(r.rows_affected() > 0)
}

const DELETE: &str = "DELETE FROM {s}.fullauth_mfa WHERE user_id = $1";

pub(crate) async fn delete(c: &mut PgConnection, ctx: &Ctx, user: &UserId) -> DbResult<bool> {
    let r = sqlx::query(ctx.sql(DELETE))
        .bind(uuid_of(user)?)
        .execute(c)
        .await?;
    Ok(r.rows_affected() > 0)
}

const ADVANCE: &str =
    "UPDATE {s}.fullauth_mfa SET last_counter = $2 WHERE user_id = $1 AND last_counter < $2";

pub(crate) async fn advance(
    c: &mut PgConnection,
    ctx: &Ctx,
    user: &UserId,
    counter: u32,
) -> DbResult<bool> {
    let n = check_counter(counter, "counter")?;
    let r = sqlx::query(ctx.sql(ADVANCE))
        .bind(uuid_of(user)?)
        .bind(n)
        .execute(c)
        .await?;
    Ok(r.rows_affected() == 1)
}

/// Removes the first occurrence of the digest under the row lock taken by
/// `FOR UPDATE` (which reads the newest committed codes): of concurrent
/// consumers of one code exactly one finds it.
const CONSUME: &str = "\
WITH cur AS (SELECT id, string_to_array(recovery_codes, ',') AS arr \
             FROM {s}.fullauth_mfa WHERE user_id = $1 FOR UPDATE), \
pos AS (SELECT id, arr, array_position(arr, $2::text) AS p FROM cur), \
upd AS (UPDATE {s}.fullauth_mfa m \
        SET recovery_codes = array_to_string(pos.arr[1:pos.p - 1] || pos.arr[pos.p + 1:], ',') \
        FROM pos WHERE m.id = pos.id AND pos.p IS NOT NULL RETURNING 1) \
SELECT EXISTS (SELECT 1 FROM upd)";

pub(crate) async fn consume(
    c: &mut PgConnection,
    ctx: &Ctx,
    user: &UserId,
    code: &TokenDigest,
) -> DbResult<bool> {
    let (hit,): (bool,) = sqlx::query_as(ctx.sql(CONSUME))
        .bind(uuid_of(user)?)
        .bind(code.as_str())
        .fetch_one(c)
        .await?;
    Ok(hit)
}
