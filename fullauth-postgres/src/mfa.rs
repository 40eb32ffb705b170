//! `fullauth_mfa` ([`fullauth_api::MfaStore`]): one TOTP factor per user.

use fullauth_api::sql::{counter_param, stored};
use fullauth_api::{
    Entity, MfaFactor, MfaSecret, StoreError, StoreResult, Timestamp, TokenDigest, UserId,
};
use sqlx::Row;
use sqlx::postgres::PgRow;
use time::OffsetDateTime;

use crate::error::{DbResult, Retry, map_write_error};
use crate::handle::{Handle, run};
use crate::keys::UserKey;

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
        .map_err(stored("recovery code"))?;
    Ok(MfaFactor {
        id: row.try_get(0)?,
        user_id: crate::keys::user_id_at(row, 1)?,
        secret: MfaSecret::new(secret).map_err(stored("MFA secret"))?,
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

pub(crate) async fn get_mfa(h: Handle<'_>, user_id: &UserId) -> StoreResult<Option<MfaFactor>> {
    let user = UserKey(user_id);
    run!(h, Retry::Idempotent, savepoint = false, |c| async move {
        let q = sqlx::query(h.ctx.sql(GET))
            .persistent(h.ctx.persistent())
            .bind(user);
        q.fetch_optional(c).await?.map(|r| decode(&r)).transpose()
    })
}

/// Creates or replaces the factor: the replacement is a new row in every
/// column but the owner (new id, new secret, unconfirmed, counter 0, no
/// codes, created now).
const STORE: &str = concat!(
    "WITH u AS (SELECT id FROM {s}.fullauth_users WHERE id = $2 FOR KEY SHARE) ",
    "INSERT INTO {s}.fullauth_mfa (",
    cols!(),
    ") SELECT $1, u.id, $3, NULL, 0, '', $4 FROM u WHERE true \
     ON CONFLICT (user_id) DO UPDATE SET id = EXCLUDED.id, secret = EXCLUDED.secret, \
     confirmed_at = NULL, last_counter = 0, recovery_codes = '', created_at = EXCLUDED.created_at \
     RETURNING ",
    cols!()
);

pub(crate) async fn store_mfa(
    h: Handle<'_>,
    user_id: &UserId,
    secret: &MfaSecret,
) -> StoreResult<MfaFactor> {
    let user = UserKey(user_id);
    run!(h, Retry::IfNotApplied, savepoint = false, |c| async move {
        let row = sqlx::query(h.ctx.sql(STORE))
            .persistent(h.ctx.persistent())
            .bind(uuid::Uuid::now_v7())
            .bind(user)
            .bind(secret.as_str())
            .bind(h.ctx.now().to_datetime())
            .fetch_optional(c)
            .await
            .map_err(|e| map_write_error(e.into()))?;
        // No row: the user does not exist (read `FOR KEY SHARE`, the foreign
        // key's own lock, so the insert cannot fail on it).
        let row = row.ok_or_else(|| StoreError::not_found(Entity::User))?;
        decode(&row)
    })
}

const CONFIRM: &str =
    "UPDATE {s}.fullauth_mfa SET confirmed_at = $2, recovery_codes = $3 WHERE user_id = $1";

pub(crate) async fn confirm_mfa(
    h: Handle<'_>,
    user_id: &UserId,
    codes: &[TokenDigest],
) -> StoreResult<bool> {
    let user = UserKey(user_id);
    let joined = &codes
        .iter()
        .map(TokenDigest::as_str)
        .collect::<Vec<_>>()
        .join(",");
    run!(h, Retry::IfNotApplied, savepoint = false, |c| async move {
        let q = sqlx::query(h.ctx.sql(CONFIRM))
            .persistent(h.ctx.persistent())
            .bind(user);
        let q = q.bind(h.ctx.now().to_datetime()).bind(joined);
        Ok(q.execute(c).await?.rows_affected() > 0)
    })
}

const DELETE: &str = "DELETE FROM {s}.fullauth_mfa WHERE user_id = $1";

pub(crate) async fn delete_mfa(h: Handle<'_>, user_id: &UserId) -> StoreResult<bool> {
    let user = UserKey(user_id);
    run!(h, Retry::IfNotApplied, savepoint = false, |c| async move {
        let q = sqlx::query(h.ctx.sql(DELETE))
            .persistent(h.ctx.persistent())
            .bind(user);
        Ok(q.execute(c).await?.rows_affected() > 0)
    })
}

const ADVANCE: &str =
    "UPDATE {s}.fullauth_mfa SET last_counter = $2 WHERE user_id = $1 AND last_counter < $2";

pub(crate) async fn advance_mfa_counter(
    h: Handle<'_>,
    user_id: &UserId,
    counter: u32,
) -> StoreResult<bool> {
    let (user, n) = (UserKey(user_id), counter_param(counter, "counter")?);
    run!(h, Retry::IfNotApplied, savepoint = false, |c| async move {
        let q = sqlx::query(h.ctx.sql(ADVANCE))
            .persistent(h.ctx.persistent())
            .bind(user)
            .bind(n);
        Ok(q.execute(c).await?.rows_affected() == 1)
    })
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

pub(crate) async fn consume_recovery_code(
    h: Handle<'_>,
    user_id: &UserId,
    code: &TokenDigest,
) -> StoreResult<bool> {
    let user = UserKey(user_id);
    run!(h, Retry::IfNotApplied, savepoint = false, |c| async move {
        let q = sqlx::query_scalar(h.ctx.sql(CONSUME))
            .persistent(h.ctx.persistent())
            .bind(user);
        Ok(q.bind(code.as_str()).fetch_one(c).await?)
    })
}
