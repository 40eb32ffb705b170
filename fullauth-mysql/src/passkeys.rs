//! `fullauth_passkeys` ([`fullauth_api::PasskeyStore`]).

use fullauth_api::sql::{counter_param, stored};
use fullauth_api::{
    CredentialId, DeviceName, NewPasskey, Passkey, StoreResult, Text, Timestamp, Transports, UserId,
};
use sqlx::Row;
use sqlx::mysql::MySqlRow;
use time::OffsetDateTime;
use uuid::fmt::Hyphenated;

use crate::error::{DbResult, Retry, map_write_error};
use crate::handle::{Handle, run};
use crate::users::id_param;

macro_rules! cols {
    () => {
        "id, user_id, credential_id, public_key, sign_count, device_name, transports, backed_up, \
         created_at, last_used_at"
    };
}

/// Decodes a row of `cols!()`.
fn decode(row: &MySqlRow) -> DbResult<Passkey> {
    let id: Hyphenated = row.try_get(0)?;
    let user = crate::keys::user_id_at(row, 1)?;
    let cred: String = row.try_get(2)?;
    let key: String = row.try_get(3)?;
    let count: i32 = row.try_get(4)?;
    let name: String = row.try_get(5)?;
    let transports: String = row.try_get(6)?;
    let created: OffsetDateTime = row.try_get(8)?;
    let used: Option<OffsetDateTime> = row.try_get(9)?;
    Ok(Passkey {
        id: id.into_uuid(),
        user_id: user,
        credential_id: CredentialId::new(cred).map_err(stored("credential id"))?,
        public_key: Text::new(key).map_err(stored("public key"))?,
        sign_count: u32::try_from(count).unwrap_or(0),
        device_name: DeviceName::new(name).map_err(stored("device name"))?,
        transports: Transports::from_joined(&transports),
        backed_up: row.try_get(7)?,
        created_at: Timestamp::from_datetime(created),
        last_used_at: used.map(Timestamp::from_datetime),
    })
}

const GET: &str = concat!(
    "SELECT ",
    cols!(),
    " FROM {s}.fullauth_passkeys WHERE credential_id = ?"
);

/// The passkey with this credential id, or `None`.
pub(crate) async fn get_passkey(
    h: Handle<'_>,
    cred: &CredentialId,
) -> StoreResult<Option<Passkey>> {
    run!(h, Retry::Idempotent, atomic = false, |c| async move {
        let q = sqlx::query(h.ctx.sql(GET)).bind(cred.as_str());
        q.fetch_optional(c).await?.map(|r| decode(&r)).transpose()
    })
}

/// MariaDB orders `UUID` values of version 7 by their bytes, as PG does.
const LIST: &str = concat!(
    "SELECT ",
    cols!(),
    " FROM {s}.fullauth_passkeys WHERE user_id = ? ORDER BY created_at, id"
);

/// The user's passkeys, oldest first (ties by id).
pub(crate) async fn list_passkeys(h: Handle<'_>, user_id: &UserId) -> StoreResult<Vec<Passkey>> {
    let user = id_param(user_id)?;
    run!(h, Retry::Idempotent, atomic = false, |c| async move {
        let rows = sqlx::query(h.ctx.sql(LIST)).bind(user).fetch_all(c).await?;
        rows.iter().map(decode).collect()
    })
}

const STORE: &str = concat!(
    "INSERT INTO {s}.fullauth_passkeys (",
    cols!(),
    ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, NULL) RETURNING ",
    cols!()
);

/// Stores a passkey and returns the row (one statement: a duplicate
/// credential id is `Conflict Credential`, an unknown user `NotFound User`).
pub(crate) async fn store_passkey(h: Handle<'_>, new: NewPasskey) -> StoreResult<Passkey> {
    let count = counter_param(new.sign_count, "sign_count")?;
    let (new, user) = (&new, id_param(&new.user_id)?);
    run!(h, Retry::IfNotApplied, atomic = false, |c| async move {
        let row = sqlx::query(h.ctx.sql(STORE))
            .bind(uuid::Uuid::now_v7().hyphenated())
            .bind(user)
            .bind(new.credential_id.as_str())
            .bind(new.public_key.as_str())
            .bind(count)
            .bind(new.device_name.as_str())
            .bind(new.transports.joined())
            .bind(new.backed_up)
            .bind(h.ctx.now().to_datetime())
            .fetch_one(c)
            .await
            .map_err(|e| map_write_error(e.into()))?;
        decode(&row)
    })
}

/// The compare-and-set: moves the count only when the new one is strictly
/// greater, and sets `last_used_at` in the same statement. An `UPDATE`
/// reads the newest committed row under its row lock, so of concurrent
/// updates to one value exactly one matches (rows_affected 1).
const ADVANCE: &str = "UPDATE {s}.fullauth_passkeys SET sign_count = ?, last_used_at = ? \
                       WHERE credential_id = ? AND sign_count < ?";

/// After a refused compare-and-set: the passkey was used all the same.
const TOUCH: &str = "UPDATE {s}.fullauth_passkeys SET last_used_at = ? WHERE credential_id = ?";

/// Compare-and-set of the sign count; `last_used_at` is set to now whenever
/// the passkey exists.
///
/// Round trips: 1 when the count advances; 2 otherwise (MariaDB has no
/// `UPDATE … RETURNING`, and rows_affected counts matched rows, so one
/// statement cannot both always touch `last_used_at` and tell whether the
/// count moved: the conditional update decides alone, then a second
/// statement sets `last_used_at` of a refused or unknown credential).
pub(crate) async fn update_sign_count(
    h: Handle<'_>,
    cred: &CredentialId,
    new_count: u32,
) -> StoreResult<bool> {
    let n = counter_param(new_count, "sign_count")?;
    run!(h, Retry::IfNotApplied, atomic = false, |c| async move {
        let now = h.ctx.now().to_datetime();
        let advanced = sqlx::query(h.ctx.sql(ADVANCE))
            .bind(n)
            .bind(now)
            .bind(cred.as_str())
            .bind(n)
            .execute(&mut *c)
            .await?
            .rows_affected()
            > 0;
        if !advanced {
            let q = sqlx::query(h.ctx.sql(TOUCH)).bind(now);
            q.bind(cred.as_str()).execute(&mut *c).await?;
        }
        Ok(advanced)
    })
}

/// rows_affected counts matched rows, so renaming to the current name is
/// still true.
const RENAME: &str =
    "UPDATE {s}.fullauth_passkeys SET device_name = ? WHERE user_id = ? AND id = ?";

/// Renames a passkey of the user; true when the user owns one with this id.
pub(crate) async fn rename_passkey(
    h: Handle<'_>,
    user_id: &UserId,
    id: uuid::Uuid,
    name: &DeviceName,
) -> StoreResult<bool> {
    let user = id_param(user_id)?;
    run!(h, Retry::Idempotent, atomic = false, |c| async move {
        let q = sqlx::query(h.ctx.sql(RENAME)).bind(name.as_str());
        let q = q.bind(user).bind(id.hyphenated());
        Ok(q.execute(c).await?.rows_affected() > 0)
    })
}

const DELETE: &str = "DELETE FROM {s}.fullauth_passkeys WHERE user_id = ? AND id = ?";

/// Deletes a passkey of the user; true when it existed and was the user's.
pub(crate) async fn delete_passkey(
    h: Handle<'_>,
    user_id: &UserId,
    id: uuid::Uuid,
) -> StoreResult<bool> {
    let user = id_param(user_id)?;
    run!(h, Retry::IfNotApplied, atomic = false, |c| async move {
        let q = sqlx::query(h.ctx.sql(DELETE))
            .bind(user)
            .bind(id.hyphenated());
        Ok(q.execute(c).await?.rows_affected() > 0)
    })
}
