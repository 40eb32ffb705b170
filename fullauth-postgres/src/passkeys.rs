//! `fullauth_passkeys` ([`fullauth_api::PasskeyStore`]).

use fullauth_api::sql::{counter_param, stored};
use fullauth_api::{
    ConflictKind, CredentialId, DeviceName, NewPasskey, Passkey, StoreResult, Text, Timestamp,
    Transports, UserId,
};
use sqlx::Row;
use sqlx::postgres::PgRow;
use time::OffsetDateTime;

use crate::error::{DbResult, Retry, map_write_error, skipped_insert};
use crate::handle::{Handle, run};
use crate::keys::UserKey;

macro_rules! cols {
    () => {
        "id, user_id, credential_id, public_key, sign_count, device_name, transports, backed_up, \
         created_at, last_used_at"
    };
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
        user_id: crate::keys::user_id_at(row, 1)?,
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
    " FROM {s}.fullauth_passkeys WHERE credential_id = $1"
);

pub(crate) async fn get_passkey(
    h: Handle<'_>,
    cred: &CredentialId,
) -> StoreResult<Option<Passkey>> {
    run!(h, Retry::Idempotent, savepoint = false, |c| async move {
        let q = sqlx::query(h.ctx.sql(GET))
            .persistent(h.ctx.persistent())
            .bind(cred.as_str());
        q.fetch_optional(c).await?.map(|r| decode(&r)).transpose()
    })
}

const LIST: &str = concat!(
    "SELECT ",
    cols!(),
    " FROM {s}.fullauth_passkeys WHERE user_id = $1 ORDER BY created_at, id"
);

pub(crate) async fn list_passkeys(h: Handle<'_>, user_id: &UserId) -> StoreResult<Vec<Passkey>> {
    let user = UserKey(user_id);
    run!(h, Retry::Idempotent, savepoint = false, |c| async move {
        let rows = sqlx::query(h.ctx.sql(LIST))
            .persistent(h.ctx.persistent())
            .bind(user)
            .fetch_all(c)
            .await?;
        rows.iter().map(decode).collect()
    })
}

/// Inserts a passkey when its owner exists, without failing on the
/// expected conflicts (no savepoint inside a transaction): the owner is
/// read `FOR KEY SHARE` (the foreign key's own lock), a taken credential id
/// skips the insert. The row always comes back: the inserted passkey's
/// columns (NULL when nothing was inserted), whether the owner was found
/// and whether the credential id was taken in the snapshot.
const STORE: &str = concat!(
    "WITH u AS (SELECT id FROM {s}.fullauth_users WHERE id = $2 FOR KEY SHARE), ",
    "ins AS (INSERT INTO {s}.fullauth_passkeys (",
    cols!(),
    ") SELECT $1, u.id, $3, $4, $5, $6, $7, $8, $9, NULL FROM u WHERE true ",
    "ON CONFLICT (credential_id) DO NOTHING RETURNING ",
    cols!(),
    ") SELECT i.*, EXISTS (SELECT 1 FROM u), ",
    "EXISTS (SELECT 1 FROM {s}.fullauth_passkeys WHERE credential_id = $3) ",
    "FROM (SELECT 1) AS one LEFT JOIN ins i ON true"
);

pub(crate) async fn store_passkey(h: Handle<'_>, new: NewPasskey) -> StoreResult<Passkey> {
    let count = counter_param(new.sign_count, "sign_count")?;
    let (new, user) = (&new, UserKey(&new.user_id));
    run!(h, Retry::IfNotApplied, savepoint = false, |c| async move {
        let row = sqlx::query(h.ctx.sql(STORE))
            .persistent(h.ctx.persistent())
            .bind(uuid::Uuid::now_v7())
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
        if row.try_get::<Option<uuid::Uuid>, _>(0)?.is_some() {
            return decode(&row);
        }
        Err(skipped_insert(
            row.try_get(10)?,
            row.try_get(11)?,
            ConflictKind::Credential,
        ))
    })
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
    h: Handle<'_>,
    cred: &CredentialId,
    new_count: u32,
) -> StoreResult<bool> {
    let n = counter_param(new_count, "sign_count")?;
    run!(h, Retry::IfNotApplied, savepoint = false, |c| async move {
        let q = sqlx::query_scalar(h.ctx.sql(SIGN_COUNT))
            .persistent(h.ctx.persistent())
            .bind(cred.as_str())
            .bind(n);
        let advanced: Option<bool> = q.bind(h.ctx.now().to_datetime()).fetch_optional(c).await?;
        Ok(advanced.unwrap_or(false))
    })
}

const RENAME: &str =
    "UPDATE {s}.fullauth_passkeys SET device_name = $3 WHERE user_id = $1 AND id = $2";

pub(crate) async fn rename_passkey(
    h: Handle<'_>,
    user_id: &UserId,
    id: uuid::Uuid,
    name: &DeviceName,
) -> StoreResult<bool> {
    let user = UserKey(user_id);
    run!(h, Retry::Idempotent, savepoint = false, |c| async move {
        let q = sqlx::query(h.ctx.sql(RENAME))
            .persistent(h.ctx.persistent())
            .bind(user)
            .bind(id);
        Ok(q.bind(name.as_str()).execute(c).await?.rows_affected() > 0)
    })
}

const DELETE: &str = "DELETE FROM {s}.fullauth_passkeys WHERE user_id = $1 AND id = $2";

pub(crate) async fn delete_passkey(
    h: Handle<'_>,
    user_id: &UserId,
    id: uuid::Uuid,
) -> StoreResult<bool> {
    let user = UserKey(user_id);
    run!(h, Retry::IfNotApplied, savepoint = false, |c| async move {
        let q = sqlx::query(h.ctx.sql(DELETE))
            .persistent(h.ctx.persistent())
            .bind(user)
            .bind(id);
        Ok(q.execute(c).await?.rows_affected() > 0)
    })
}
