//! `fullauth_oauth_accounts` ([`fullauth_api::OAuthStore`]).

use fullauth_api::sql::stored;
use fullauth_api::{
    Email, NewOAuthAccount, OAuthAccount, OAuthAccountPatch, OAuthLink, ProviderName,
    ProviderUserId, StoreResult, Text, Timestamp, UserId,
};
use sqlx::mysql::MySqlRow;
use sqlx::{MySqlConnection, Row};
use time::OffsetDateTime;
use uuid::fmt::Hyphenated;

use crate::ctx::Ctx;
use crate::error::{DbResult, Retry, map_write_error};
use crate::handle::{Handle, run};
use crate::users::id_param;

macro_rules! cols {
    () => {
        "id, provider, provider_user_id, user_id, provider_email, access_token, refresh_token, \
         expires_at, created_at"
    };
}

/// Decodes a row of `cols!()`.
fn decode(row: &MySqlRow) -> DbResult<OAuthAccount> {
    let id: Hyphenated = row.try_get(0)?;
    let provider: String = row.try_get(1)?;
    let pid: String = row.try_get(2)?;
    let user = crate::keys::user_id_at(row, 3)?;
    let email: Option<String> = row.try_get(4)?;
    let access: Option<String> = row.try_get(5)?;
    let refresh: Option<String> = row.try_get(6)?;
    let expires: Option<OffsetDateTime> = row.try_get(7)?;
    let created: OffsetDateTime = row.try_get(8)?;
    Ok(OAuthAccount {
        id: id.into_uuid(),
        provider: ProviderName::new(provider).map_err(stored("provider"))?,
        provider_user_id: ProviderUserId::new(pid).map_err(stored("provider user id"))?,
        user_id: user,
        provider_email: email
            .map(Email::new)
            .transpose()
            .map_err(stored("provider email"))?,
        access_token: access
            .map(Text::new)
            .transpose()
            .map_err(stored("access token"))?,
        refresh_token: refresh
            .map(Text::new)
            .transpose()
            .map_err(stored("refresh token"))?,
        expires_at: expires.map(Timestamp::from_datetime),
        created_at: Timestamp::from_datetime(created),
    })
}

const GET: &str = concat!(
    "SELECT ",
    cols!(),
    " FROM {s}.fullauth_oauth_accounts WHERE provider = ? AND provider_user_id = ?"
);

/// The link of an identity, or `None`.
pub(crate) async fn get_oauth_account(
    h: Handle<'_>,
    provider: &ProviderName,
    pid: &ProviderUserId,
) -> StoreResult<Option<OAuthAccount>> {
    run!(h, Retry::Idempotent, atomic = false, |c| get(
        c, h.ctx, provider, pid
    ))
}

/// Reads the link of an identity.
async fn get(
    c: &mut MySqlConnection,
    ctx: &Ctx,
    provider: &ProviderName,
    pid: &ProviderUserId,
) -> DbResult<Option<OAuthAccount>> {
    let row = sqlx::query(ctx.sql(GET))
        .bind(provider.as_str())
        .bind(pid.as_str())
        .fetch_optional(c)
        .await?;
    row.map(|r| decode(&r)).transpose()
}

/// Text columns compare byte for byte (`utf8mb4_nopad_bin`), as PG's
/// `COLLATE "C"`.
const LIST: &str = concat!(
    "SELECT ",
    cols!(),
    " FROM {s}.fullauth_oauth_accounts WHERE user_id = ? \
     ORDER BY created_at, provider, provider_user_id"
);

/// The user's links, oldest first (ties by provider, then provider user id).
pub(crate) async fn list_oauth_accounts(
    h: Handle<'_>,
    user_id: &UserId,
) -> StoreResult<Vec<OAuthAccount>> {
    let user = id_param(user_id)?;
    run!(h, Retry::Idempotent, atomic = false, |c| async move {
        let rows = sqlx::query(h.ctx.sql(LIST)).bind(user).fetch_all(c).await?;
        rows.iter().map(decode).collect()
    })
}

/// Inserts the link, or — when the identity is taken (the unique key
/// `uq_oauth_provider_user`; the fresh UUIDv7 id never collides) — leaves
/// the existing row as it is (`id = id` changes nothing) and returns it:
/// MariaDB's `RETURNING` after `ON DUPLICATE KEY UPDATE` yields the row as
/// it stands after the statement, read under the row lock (the newest
/// committed version, whatever the transaction's snapshot). The returned id
/// says which happened: ours when inserted. An unknown user fails the
/// insert on the foreign key (`NotFound User`); when the identity exists the
/// insert does not happen, so nothing is checked (as PG's `DO NOTHING`).
const LINK: &str = concat!(
    "INSERT INTO {s}.fullauth_oauth_accounts (",
    cols!(),
    ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON DUPLICATE KEY UPDATE id = id RETURNING ",
    cols!()
);

/// Links the identity, or returns its existing link unchanged. One round
/// trip. A conflict is not an error, so it never disturbs an open
/// transaction; concurrent links of one identity serialize on the unique
/// key, and exactly one inserts.
pub(crate) async fn link_oauth_account(
    h: Handle<'_>,
    new: NewOAuthAccount,
) -> StoreResult<OAuthLink> {
    let (new, user) = (&new, id_param(&new.user_id)?);
    run!(h, Retry::IfNotApplied, atomic = false, |c| async move {
        // A new id per attempt: a retried statement compares with its own.
        let id = uuid::Uuid::now_v7();
        let row = sqlx::query(h.ctx.sql(LINK))
            .bind(id.hyphenated())
            .bind(new.provider.as_str())
            .bind(new.provider_user_id.as_str())
            .bind(user)
            .bind(new.provider_email.as_ref().map(Email::as_str))
            .bind(new.access_token.as_ref().map(Text::as_str))
            .bind(new.refresh_token.as_ref().map(Text::as_str))
            .bind(new.expires_at.map(Timestamp::to_datetime))
            .bind(h.ctx.now().to_datetime())
            .fetch_one(c)
            .await
            .map_err(|e| map_write_error(e.into()))?;
        let account = decode(&row)?;
        Ok(if account.id == id {
            OAuthLink::Created(account)
        } else {
            OAuthLink::Existing(account)
        })
    })
}

/// Applies a patch and returns the row; `None` when the link does not
/// exist. An empty patch writes nothing (one read).
///
/// Round trips: 1 for an empty patch or an unknown link, else 2 (MariaDB
/// has no `UPDATE … RETURNING`: the `UPDATE`, then a read of the row). The
/// read is a separate statement: on the pool, a concurrent write that lands
/// between the two shows through (a newer row, or `None` when the link was
/// deleted meanwhile); inside a transaction the row stays locked by the
/// update, so the read is exactly what it wrote.
pub(crate) async fn update_oauth_account(
    h: Handle<'_>,
    provider: &ProviderName,
    pid: &ProviderUserId,
    patch: OAuthAccountPatch,
) -> StoreResult<Option<OAuthAccount>> {
    let patch = &patch;
    run!(h, Retry::Idempotent, atomic = false, |c| update(
        c, h.ctx, provider, pid, patch
    ))
}

/// The body of [`update_oauth_account`].
async fn update(
    c: &mut MySqlConnection,
    ctx: &Ctx,
    provider: &ProviderName,
    pid: &ProviderUserId,
    patch: &OAuthAccountPatch,
) -> DbResult<Option<OAuthAccount>> {
    if patch.is_empty() {
        return get(c, ctx, provider, pid).await;
    }
    let sets: Vec<String> = [
        (patch.provider_email.is_some(), "provider_email"),
        (patch.access_token.is_some(), "access_token"),
        (patch.refresh_token.is_some(), "refresh_token"),
        (patch.expires_at.is_some(), "expires_at"),
    ]
    .into_iter()
    .filter(|(set, _)| *set)
    .map(|(_, col)| format!("{col} = ?"))
    .collect();
    let sql = format!(
        "UPDATE {{s}}.fullauth_oauth_accounts SET {} \
         WHERE provider = ? AND provider_user_id = ?",
        sets.join(", ")
    );
    let mut q = sqlx::query(ctx.dynamic(&sql));
    if let Some(v) = &patch.provider_email {
        q = q.bind(v.as_ref().map(Email::as_str).map(str::to_owned));
    }
    if let Some(v) = &patch.access_token {
        q = q.bind(v.as_ref().map(Text::as_str).map(str::to_owned));
    }
    if let Some(v) = &patch.refresh_token {
        q = q.bind(v.as_ref().map(Text::as_str).map(str::to_owned));
    }
    if let Some(v) = &patch.expires_at {
        q = q.bind(v.map(Timestamp::to_datetime));
    }
    // rows_affected counts matched rows (CLIENT_FOUND_ROWS): a patch that
    // changes nothing still reports the link.
    let matched = q
        .bind(provider.as_str())
        .bind(pid.as_str())
        .execute(&mut *c)
        .await
        .map_err(|e| map_write_error(e.into()))?
        .rows_affected();
    if matched == 0 {
        return Ok(None);
    }
    get(c, ctx, provider, pid).await
}

const DELETE: &str =
    "DELETE FROM {s}.fullauth_oauth_accounts WHERE provider = ? AND provider_user_id = ?";

/// Deletes the link; true when it existed.
pub(crate) async fn delete_oauth_account(
    h: Handle<'_>,
    provider: &ProviderName,
    pid: &ProviderUserId,
) -> StoreResult<bool> {
    run!(h, Retry::IfNotApplied, atomic = false, |c| async move {
        let q = sqlx::query(h.ctx.sql(DELETE)).bind(provider.as_str());
        Ok(q.bind(pid.as_str()).execute(c).await?.rows_affected() > 0)
    })
}
