//! `fullauth_oauth_accounts` ([`fullauth_api::OAuthStore`]).

use fullauth_api::sql::stored;
use fullauth_api::{
    Email, Entity, NewOAuthAccount, OAuthAccount, OAuthAccountPatch, OAuthLink, ProviderName,
    ProviderUserId, StoreError, StoreResult, Text, Timestamp, UserId,
};
use sqlx::postgres::PgRow;
use sqlx::{PgConnection, Row};
use time::OffsetDateTime;

use crate::ctx::Ctx;
use crate::error::{DbResult, Retry, map_write_error};
use crate::handle::{Handle, run};
use crate::keys::UserKey;

macro_rules! cols {
    () => {
        "id, provider, provider_user_id, user_id, provider_email, access_token, refresh_token, \
         expires_at, created_at"
    };
}

fn decode_at(row: &PgRow, at: usize) -> DbResult<OAuthAccount> {
    let provider: String = row.try_get(at + 1)?;
    let pid: String = row.try_get(at + 2)?;
    let email: Option<String> = row.try_get(at + 4)?;
    let access: Option<String> = row.try_get(at + 5)?;
    let refresh: Option<String> = row.try_get(at + 6)?;
    let expires: Option<OffsetDateTime> = row.try_get(at + 7)?;
    let created: OffsetDateTime = row.try_get(at + 8)?;
    Ok(OAuthAccount {
        id: row.try_get(at)?,
        provider: ProviderName::new(provider).map_err(stored("provider"))?,
        provider_user_id: ProviderUserId::new(pid).map_err(stored("provider user id"))?,
        user_id: crate::keys::user_id_at(row, at + 3)?,
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
    " FROM {s}.fullauth_oauth_accounts WHERE provider = $1 AND provider_user_id = $2"
);

pub(crate) async fn get_oauth_account(
    h: Handle<'_>,
    provider: &ProviderName,
    pid: &ProviderUserId,
) -> StoreResult<Option<OAuthAccount>> {
    run!(h, Retry::Idempotent, savepoint = false, |c| get(
        c, h.ctx, provider, pid
    ))
}

async fn get(
    c: &mut PgConnection,
    ctx: &Ctx,
    provider: &ProviderName,
    pid: &ProviderUserId,
) -> DbResult<Option<OAuthAccount>> {
    let row = sqlx::query(ctx.sql(GET))
        .persistent(ctx.persistent())
        .bind(provider.as_str())
        .bind(pid.as_str())
        .fetch_optional(c)
        .await?;
    row.map(|r| decode_at(&r, 0)).transpose()
}

const LIST: &str = concat!(
    "SELECT ",
    cols!(),
    " FROM {s}.fullauth_oauth_accounts WHERE user_id = $1 \
     ORDER BY created_at, provider COLLATE \"C\", provider_user_id COLLATE \"C\""
);

pub(crate) async fn list_oauth_accounts(
    h: Handle<'_>,
    user_id: &UserId,
) -> StoreResult<Vec<OAuthAccount>> {
    let user = UserKey(user_id);
    run!(h, Retry::Idempotent, savepoint = false, |c| async move {
        let rows = sqlx::query(h.ctx.sql(LIST))
            .persistent(h.ctx.persistent())
            .bind(user)
            .fetch_all(c)
            .await?;
        rows.iter().map(|r| decode_at(r, 0)).collect()
    })
}

/// Insert, or read the existing link when the identity is taken: the first
/// column says which. The owner is read `FOR KEY SHARE` (the foreign key's
/// own lock) and the insert takes its id from that read, so the statement
/// does not fail on a missing owner (no savepoint is needed inside a
/// transaction). No row comes back when the owner is missing and the
/// identity is free, or when the conflicting row was committed after the
/// statement's snapshot; [`link`] tells the two apart.
const LINK: &str = concat!(
    "WITH u AS (SELECT id FROM {s}.fullauth_users WHERE id = $4 FOR KEY SHARE), \
     ins AS (INSERT INTO {s}.fullauth_oauth_accounts (",
    cols!(),
    ") SELECT $1, $2, $3, u.id, $5, $6, $7, $8, $9 FROM u WHERE true \
     ON CONFLICT (provider, provider_user_id) DO NOTHING RETURNING ",
    cols!(),
    ") SELECT true AS created, ins.* FROM ins \
     UNION ALL SELECT false, ",
    cols!(),
    " FROM {s}.fullauth_oauth_accounts \
     WHERE provider = $2 AND provider_user_id = $3 AND NOT EXISTS (SELECT 1 FROM ins)"
);

/// Whether a user exists (after [`LINK`] returned nothing).
const USER_EXISTS: &str = "SELECT EXISTS (SELECT 1 FROM {s}.fullauth_users WHERE id = $1)";

const LINK_ATTEMPTS: usize = 8;

pub(crate) async fn link_oauth_account(
    h: Handle<'_>,
    new: NewOAuthAccount,
) -> StoreResult<OAuthLink> {
    let new = &new;
    run!(h, Retry::IfNotApplied, savepoint = false, |c| link(
        c, h.ctx, new
    ))
}

async fn link(c: &mut PgConnection, ctx: &Ctx, new: &NewOAuthAccount) -> DbResult<OAuthLink> {
    let user = UserKey(&new.user_id);
    for _ in 0..LINK_ATTEMPTS {
        let row = sqlx::query(ctx.sql(LINK))
            .persistent(ctx.persistent())
            .bind(uuid::Uuid::now_v7())
            .bind(new.provider.as_str())
            .bind(new.provider_user_id.as_str())
            .bind(user)
            .bind(new.provider_email.as_ref().map(Email::as_str))
            .bind(new.access_token.as_ref().map(Text::as_str))
            .bind(new.refresh_token.as_ref().map(Text::as_str))
            .bind(new.expires_at.map(Timestamp::to_datetime))
            .bind(ctx.now().to_datetime())
            .fetch_optional(&mut *c)
            .await
            .map_err(|e| map_write_error(e.into()))?;
        if let Some(row) = row {
            let created: bool = row.try_get(0)?;
            let account = decode_at(&row, 1)?;
            return Ok(if created {
                OAuthLink::Created(account)
            } else {
                OAuthLink::Existing(account)
            });
        }
        let owner: bool = sqlx::query_scalar(ctx.sql(USER_EXISTS))
            .persistent(ctx.persistent())
            .bind(user)
            .fetch_one(&mut *c)
            .await?;
        if !owner {
            return Err(StoreError::not_found(Entity::User).into());
        }
    }
    Err(
        StoreError::contention_message("linking kept racing with concurrent writes; try again")
            .into(),
    )
}

pub(crate) async fn update_oauth_account(
    h: Handle<'_>,
    provider: &ProviderName,
    pid: &ProviderUserId,
    patch: OAuthAccountPatch,
) -> StoreResult<Option<OAuthAccount>> {
    let patch = &patch;
    run!(h, Retry::Idempotent, savepoint = false, |c| update(
        c, h.ctx, provider, pid, patch
    ))
}

async fn update(
    c: &mut PgConnection,
    ctx: &Ctx,
    provider: &ProviderName,
    pid: &ProviderUserId,
    patch: &OAuthAccountPatch,
) -> DbResult<Option<OAuthAccount>> {
    if patch.is_empty() {
        return get(c, ctx, provider, pid).await;
    }
    let mut sets = Vec::new();
    let mut n = 3;
    for (set, col) in [
        (patch.provider_email.is_some(), "provider_email"),
        (patch.access_token.is_some(), "access_token"),
        (patch.refresh_token.is_some(), "refresh_token"),
        (patch.expires_at.is_some(), "expires_at"),
    ] {
        if set {
            sets.push(format!("{col} = ${n}"));
            n += 1;
        }
    }
    let sql = format!(
        "UPDATE {{s}}.fullauth_oauth_accounts SET {} \
         WHERE provider = $1 AND provider_user_id = $2 RETURNING {}",
        sets.join(", "),
        cols!()
    );
    let mut q = sqlx::query(ctx.dynamic(&sql))
        .persistent(ctx.persistent())
        .bind(provider.as_str())
        .bind(pid.as_str());
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
    let row = q
        .fetch_optional(c)
        .await
        .map_err(|e| map_write_error(e.into()))?;
    row.map(|r| decode_at(&r, 0)).transpose()
}

const DELETE: &str =
    "DELETE FROM {s}.fullauth_oauth_accounts WHERE provider = $1 AND provider_user_id = $2";

pub(crate) async fn delete_oauth_account(
    h: Handle<'_>,
    provider: &ProviderName,
    pid: &ProviderUserId,
) -> StoreResult<bool> {
    run!(h, Retry::IfNotApplied, savepoint = false, |c| async move {
        let q = sqlx::query(h.ctx.sql(DELETE))
            .persistent(h.ctx.persistent())
            .bind(provider.as_str());
        Ok(q.bind(pid.as_str()).execute(c).await?.rows_affected() > 0)
    })
}
