//! OAuth account links (`fullauth_oauth_accounts`).
//!
//! Linking is `INSERT … ON CONFLICT (provider, provider_user_id) DO NOTHING
//! RETURNING *`: the one caller whose row went in gets `Created`, everyone
//! else reads the existing row. Inside a transaction it runs in a savepoint,
//! so a lost race never poisons the transaction.

use fullauth_api::{
    Email, Entity, NewOAuthAccount, OAuthAccount, OAuthAccountPatch, OAuthLink, ProviderName,
    ProviderUserId, StoreError, StoreResult, Text, UserId, UserIdType,
};
use rusqlite::types::Value as SqlValue;
use rusqlite::{Connection, Row, params, params_from_iter};

use crate::codec::{
    Db, corrupt, get_opt_text, get_opt_ts, get_text, get_ts, get_user_id, parse_uuid, ts, user_key,
};
use crate::pool::Handle;
use crate::users::{new_id, user_exists};

fn account_from_row(row: &Row<'_>, key: UserIdType) -> StoreResult<OAuthAccount> {
    let text = |col: &str| -> StoreResult<Option<Text>> {
        get_opt_text(row, col)?
            .map(|v| Text::new(v).map_err(|e| corrupt(col, e)))
            .transpose()
    };
    Ok(OAuthAccount {
        id: parse_uuid(&get_text(row, "id")?)?,
        provider: ProviderName::new(get_text(row, "provider")?)
            .map_err(|e| corrupt("fullauth_oauth_accounts.provider", e))?,
        provider_user_id: ProviderUserId::new(get_text(row, "provider_user_id")?)
            .map_err(|e| corrupt("fullauth_oauth_accounts.provider_user_id", e))?,
        user_id: get_user_id(row, "user_id", key)?,
        provider_email: get_opt_text(row, "provider_email")?
            .map(|v| {
                Email::new(v).map_err(|e| corrupt("fullauth_oauth_accounts.provider_email", e))
            })
            .transpose()?,
        access_token: text("access_token")?,
        refresh_token: text("refresh_token")?,
        expires_at: get_opt_ts(row, "expires_at")?,
        created_at: get_ts(row, "created_at")?,
    })
}

fn accounts(
    c: &Connection,
    key: UserIdType,
    sql: &str,
    params: impl rusqlite::Params,
) -> StoreResult<Vec<OAuthAccount>> {
    let mut stmt = c.prepare_cached(sql).db()?;
    let mut rows = stmt.query(params).db()?;
    let mut out = Vec::new();
    while let Some(row) = rows.next().db()? {
        out.push(account_from_row(row, key)?);
    }
    Ok(out)
}

const BY_IDENTITY: &str =
    "SELECT * FROM fullauth_oauth_accounts WHERE provider = ?1 AND provider_user_id = ?2";

pub(crate) async fn get_oauth_account(
    h: &Handle,
    provider: &ProviderName,
    provider_user_id: &ProviderUserId,
) -> StoreResult<Option<OAuthAccount>> {
    let key = h.key();
    let p = provider.as_str().to_owned();
    let id = provider_user_id.as_str().to_owned();
    h.read(move |c| Ok(accounts(c, key, BY_IDENTITY, [p, id])?.into_iter().next()))
        .await
}

pub(crate) async fn list_oauth_accounts(
    h: &Handle,
    user_id: &UserId,
) -> StoreResult<Vec<OAuthAccount>> {
    let key = h.key();
    let u = user_key(user_id);
    h.read(move |c| {
        accounts(
            c,
            key,
            "SELECT * FROM fullauth_oauth_accounts WHERE user_id = ?1 ORDER BY created_at, provider",
            [u],
        )
    })
    .await
}

pub(crate) async fn link_oauth_account(h: &Handle, new: NewOAuthAccount) -> StoreResult<OAuthLink> {
    let key = h.key();
    let now = h.now();
    let u = user_key(&new.user_id);
    h.atomic(move |c| {
        if !user_exists(c, &u)? {
            return Err(StoreError::not_found(Entity::User));
        }
        let p = new.provider.as_str();
        let id = new.provider_user_id.as_str();
        let created = accounts(
            c,
            key,
            "INSERT INTO fullauth_oauth_accounts \
             (id, provider, provider_user_id, user_id, provider_email, access_token, \
              refresh_token, expires_at, created_at) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9) \
             ON CONFLICT (provider, provider_user_id) DO NOTHING RETURNING *",
            params![
                new_id(),
                p,
                id,
                u,
                new.provider_email.as_ref().map(Email::as_str),
                new.access_token.as_ref().map(Text::as_str),
                new.refresh_token.as_ref().map(Text::as_str),
                new.expires_at.map(ts),
                ts(now)
            ],
        )?;
        if let Some(a) = created.into_iter().next() {
            return Ok(OAuthLink::Created(a));
        }
        accounts(c, key, BY_IDENTITY, [p, id])?
            .into_iter()
            .next()
            .map(OAuthLink::Existing)
            .ok_or_else(|| corrupt("fullauth_oauth_accounts", "the conflicting row vanished"))
    })
    .await
}

pub(crate) async fn update_oauth_account(
    h: &Handle,
    provider: &ProviderName,
    provider_user_id: &ProviderUserId,
    patch: OAuthAccountPatch,
) -> StoreResult<Option<OAuthAccount>> {
    let key = h.key();
    let p = provider.as_str().to_owned();
    let id = provider_user_id.as_str().to_owned();
    if patch.is_empty() {
        return h
            .read(move |c| Ok(accounts(c, key, BY_IDENTITY, [p, id])?.into_iter().next()))
            .await;
    }
    let text = |v: Option<&str>| v.map_or(SqlValue::Null, |s| SqlValue::Text(s.to_owned()));
    let mut values = vec![SqlValue::Text(p), SqlValue::Text(id)];
    let mut sets = Vec::new();
    let mut push = |col: &str, v: SqlValue| {
        values.push(v);
        sets.push(format!("{col} = ?{}", values.len()));
    };
    if let Some(v) = &patch.provider_email {
        push("provider_email", text(v.as_ref().map(Email::as_str)));
    }
    if let Some(v) = &patch.access_token {
        push("access_token", text(v.as_ref().map(Text::as_str)));
    }
    if let Some(v) = &patch.refresh_token {
        push("refresh_token", text(v.as_ref().map(Text::as_str)));
    }
    if let Some(v) = &patch.expires_at {
        push(
            "expires_at",
            v.map_or(SqlValue::Null, |t| SqlValue::Text(ts(t))),
        );
    }
    let sql = format!(
        "UPDATE fullauth_oauth_accounts SET {} \
         WHERE provider = ?1 AND provider_user_id = ?2 RETURNING *",
        sets.join(", ")
    );
    h.write(move |c| {
        Ok(accounts(c, key, &sql, params_from_iter(values.iter()))?
            .into_iter()
            .next())
    })
    .await
}

pub(crate) async fn delete_oauth_account(
    h: &Handle,
    provider: &ProviderName,
    provider_user_id: &ProviderUserId,
) -> StoreResult<bool> {
    let p = provider.as_str().to_owned();
    let id = provider_user_id.as_str().to_owned();
    let n = h
        .write(move |c| {
            c.prepare_cached(
                "DELETE FROM fullauth_oauth_accounts WHERE provider = ?1 AND provider_user_id = ?2",
            )
            .db()?
            .execute([p, id])
            .db()
        })
        .await?;
    Ok(n > 0)
}
