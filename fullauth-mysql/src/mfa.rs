//! `fullauth_mfa` ([`fullauth_api::MfaStore`]): one TOTP factor per user.

use fullauth_api::sql::{counter_param, stored};
use fullauth_api::{MfaFactor, MfaSecret, StoreResult, Timestamp, TokenDigest, UserId};
use sqlx::Row;
use sqlx::mysql::MySqlRow;
use time::OffsetDateTime;
use uuid::fmt::Hyphenated;

use crate::error::{DbResult, Retry, map_write_error};
use crate::handle::{Handle, run};
use crate::users::id_param;

macro_rules! cols {
    () => {
        "id, user_id, secret, confirmed_at, last_counter, recovery_codes, created_at"
    };
}

/// Decodes a row of `cols!()`; the recovery codes are stored joined by
/// commas.
fn decode(row: &MySqlRow) -> DbResult<MfaFactor> {
    let id: Hyphenated = row.try_get(0)?;
    let user = crate::keys::user_id_at(row, 1)?;
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
        id: id.into_uuid(),
        user_id: user,
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
    " FROM {s}.fullauth_mfa WHERE user_id = ?"
);

/// The user's factor, or `None`.
pub(crate) async fn get_mfa(h: Handle<'_>, user_id: &UserId) -> StoreResult<Option<MfaFactor>> {
    let user = id_param(user_id)?;
    run!(h, Retry::Idempotent, atomic = false, |c| async move {
        let q = sqlx::query(h.ctx.sql(GET)).bind(user);
        q.fetch_optional(c).await?.map(|r| decode(&r)).transpose()
    })
}

/// Creates or replaces the factor (the unique key `ix_fullauth_mfa_user_id`
/// triggers the update): the replacement is a new row in every column but
/// the owner (new id, new secret, unconfirmed, counter 0, no codes, created
/// now). MariaDB's `RETURNING` after `ON DUPLICATE KEY UPDATE` yields the
/// row as it stands after the statement, so this is one round trip.
const STORE: &str = concat!(
    "INSERT INTO {s}.fullauth_mfa (",
    cols!(),
    ") VALUES (?, ?, ?, NULL, 0, '', ?) \
     ON DUPLICATE KEY UPDATE id = VALUES(id), secret = VALUES(secret), confirmed_at = NULL, \
     last_counter = 0, recovery_codes = '', created_at = VALUES(created_at) \
     RETURNING ",
    cols!()
);

/// Creates or replaces the user's factor and returns it.
pub(crate) async fn store_mfa(
    h: Handle<'_>,
    user_id: &UserId,
    secret: &MfaSecret,
) -> StoreResult<MfaFactor> {
    let user = id_param(user_id)?;
    run!(h, Retry::IfNotApplied, atomic = false, |c| async move {
        let row = sqlx::query(h.ctx.sql(STORE))
            .bind(uuid::Uuid::now_v7().hyphenated())
            .bind(user)
            .bind(secret.as_str())
            .bind(h.ctx.now().to_datetime())
            .fetch_one(c)
            .await
            .map_err(|e| map_write_error(e.into()))?;
        decode(&row)
    })
}

const CONFIRM: &str =
    "UPDATE {s}.fullauth_mfa SET confirmed_at = ?, recovery_codes = ? WHERE user_id = ?";

/// Confirms the factor now and replaces its recovery codes; true when the
/// user has a factor (rows_affected counts matched rows).
pub(crate) async fn confirm_mfa(
    h: Handle<'_>,
    user_id: &UserId,
    codes: &[TokenDigest],
) -> StoreResult<bool> {
    let user = id_param(user_id)?;
    let joined = &codes
        .iter()
        .map(TokenDigest::as_str)
        .collect::<Vec<_>>()
        .join(",");
    run!(h, Retry::IfNotApplied, atomic = false, |c| async move {
        let q = sqlx::query(h.ctx.sql(CONFIRM)).bind(h.ctx.now().to_datetime());
        let q = q.bind(joined.as_str()).bind(user);
        Ok(q.execute(c).await?.rows_affected() > 0)
    })
}

const DELETE: &str = "DELETE FROM {s}.fullauth_mfa WHERE user_id = ?";

/// Deletes the factor; true when it existed.
pub(crate) async fn delete_mfa(h: Handle<'_>, user_id: &UserId) -> StoreResult<bool> {
    let user = id_param(user_id)?;
    run!(h, Retry::IfNotApplied, atomic = false, |c| async move {
        let q = sqlx::query(h.ctx.sql(DELETE)).bind(user);
        Ok(q.execute(c).await?.rows_affected() > 0)
    })
}

/// The compare-and-set, one statement: an `UPDATE` evaluates its condition
/// on the newest committed row under the row lock, so of concurrent calls
/// with one value exactly one matches.
const ADVANCE: &str =
    "UPDATE {s}.fullauth_mfa SET last_counter = ? WHERE user_id = ? AND last_counter < ?";

/// Moves the last accepted TOTP step to `counter` only when strictly
/// greater (true).
pub(crate) async fn advance_mfa_counter(
    h: Handle<'_>,
    user_id: &UserId,
    counter: u32,
) -> StoreResult<bool> {
    let (user, n) = (id_param(user_id)?, counter_param(counter, "counter")?);
    run!(h, Retry::IfNotApplied, atomic = false, |c| async move {
        let q = sqlx::query(h.ctx.sql(ADVANCE)).bind(n).bind(user).bind(n);
        Ok(q.execute(c).await?.rows_affected() == 1)
    })
}

/// Removes the first occurrence of the digest, one conditional statement:
/// with the list wrapped in commas (`,a,b,c,`), `LOCATE` finds `,code,`,
/// `INSERT` replaces it by a single comma, and `TRIM` drops the wrapping
/// again (digests are non-empty hex, so there are no empty elements to
/// lose). The comparison takes the column's byte-wise collation. The
/// `UPDATE` evaluates its condition on the newest committed row under the
/// row lock, so of concurrent consumers of one code exactly one matches;
/// the others then find it gone.
const CONSUME: &str = "\
UPDATE {s}.fullauth_mfa SET recovery_codes = TRIM(BOTH ',' FROM INSERT( \
    CONCAT(',', recovery_codes, ','), \
    LOCATE(CONCAT(',', ?, ','), CONCAT(',', recovery_codes, ',')), \
    CHAR_LENGTH(?) + 2, ',')) \
WHERE user_id = ? AND LOCATE(CONCAT(',', ?, ','), CONCAT(',', recovery_codes, ',')) > 0";

/// Consumes one occurrence of a recovery-code digest; true only for the one
/// caller that removed it.
pub(crate) async fn consume_recovery_code(
    h: Handle<'_>,
    user_id: &UserId,
    code: &TokenDigest,
) -> StoreResult<bool> {
    let user = id_param(user_id)?;
    run!(h, Retry::IfNotApplied, atomic = false, |c| async move {
        let q = sqlx::query(h.ctx.sql(CONSUME));
        let q = q.bind(code.as_str()).bind(code.as_str());
        let q = q.bind(user).bind(code.as_str());
        Ok(q.execute(c).await?.rows_affected() == 1)
    })
}
