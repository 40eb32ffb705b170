//! `fullauth_refresh_tokens`: refresh tokens and the sessions they form
//! ([`fullauth_api::RefreshTokenStore`]).
//!
//! MariaDB has no `UPDATE … RETURNING` and no data-modifying CTEs, so the
//! operations PostgreSQL does in one statement that both changes rows and
//! reports on them (rotation, revoking the other sessions) run as a short
//! transaction of their own (`atomic = true`): the row locks of a
//! conditional `UPDATE` (a locking read of the newest committed row, held to
//! the end of the transaction) serialise concurrent callers.

use fullauth_api::{
    FamilyId, NewRefreshToken, NextRefreshToken, RefreshToken, Rotation, Session, StoreError,
    StoreResult, Timestamp, TokenDigest, UserId,
};
use sqlx::mysql::MySqlRow;
use sqlx::{MySqlConnection, Row};
use time::OffsetDateTime;
use uuid::fmt::Hyphenated;

use crate::ctx::Ctx;
use crate::error::{DbError, DbResult, Retry, map_write_error};
use crate::handle::{Handle, run};
use crate::users::id_param;

/// The columns of a token row, in the order [`decode_at`] reads them.
macro_rules! token_cols {
    () => {
        "id, token, user_id, family_id, expires_at, revoked, user_agent, ip_address, created_at"
    };
}

fn ts(row: &MySqlRow, i: usize) -> DbResult<Timestamp> {
    Ok(Timestamp::from_datetime(
        row.try_get::<OffsetDateTime, _>(i)?,
    ))
}

fn uuid_at(row: &MySqlRow, i: usize) -> DbResult<uuid::Uuid> {
    Ok(row.try_get::<Hyphenated, _>(i)?.into_uuid())
}

fn family(s: String) -> DbResult<FamilyId> {
    FamilyId::new(s)
        .map_err(|e| StoreError::backend("a stored family id does not validate", e).into())
}

/// Reads a token row whose columns start at `at`.
fn decode_at(row: &MySqlRow, at: usize) -> DbResult<RefreshToken> {
    let digest: String = row.try_get(at + 1)?;
    Ok(RefreshToken {
        id: uuid_at(row, at)?,
        digest: TokenDigest::from_hex(&digest)
            .map_err(|e| StoreError::backend("a stored token digest does not validate", e))?,
        user_id: crate::keys::user_id_at(row, at + 2)?,
        family_id: family(row.try_get(at + 3)?)?,
        expires_at: ts(row, at + 4)?,
        revoked: row.try_get(at + 5)?,
        user_agent: row.try_get(at + 6)?,
        ip_address: row.try_get(at + 7)?,
        created_at: ts(row, at + 8)?,
    })
}

const INSERT: &str = concat!(
    "INSERT INTO {s}.fullauth_refresh_tokens (",
    token_cols!(),
    ") VALUES (?, ?, ?, ?, ?, 0, ?, ?, ?) RETURNING ",
    token_cols!()
);

// One round trip (`INSERT … RETURNING`).
pub(crate) async fn store_refresh_token(
    h: Handle<'_>,
    new: NewRefreshToken,
) -> StoreResult<RefreshToken> {
    let (new, user) = (&new, id_param(&new.user_id)?);
    run!(h, Retry::IfNotApplied, atomic = false, |c| async move {
        let row = sqlx::query(h.ctx.sql(INSERT))
            .bind(uuid::Uuid::now_v7().hyphenated())
            .bind(new.digest.as_str())
            .bind(user)
            .bind(new.family_id.as_str())
            .bind(new.expires_at.to_datetime())
            .bind(new.client.user_agent.as_deref())
            .bind(new.client.ip_address.as_deref())
            .bind(h.ctx.now().to_datetime())
            .fetch_one(c)
            .await
            .map_err(|e| map_write_error(e.into()))?;
        decode_at(&row, 0)
    })
}

const GET: &str = concat!(
    "SELECT ",
    token_cols!(),
    " FROM {s}.fullauth_refresh_tokens WHERE token = ?"
);

pub(crate) async fn get_refresh_token(
    h: Handle<'_>,
    digest: &TokenDigest,
) -> StoreResult<Option<RefreshToken>> {
    run!(h, Retry::Idempotent, atomic = false, |c| async move {
        let q = sqlx::query(h.ctx.sql(GET)).bind(digest.as_str());
        q.fetch_optional(c)
            .await?
            .map(|r| decode_at(&r, 0))
            .transpose()
    })
}

const REVOKE: &str = "UPDATE {s}.fullauth_refresh_tokens SET revoked = 1 \
                      WHERE token = ? AND revoked = 0";

pub(crate) async fn revoke_refresh_token(h: Handle<'_>, digest: &TokenDigest) -> StoreResult<bool> {
    run!(h, Retry::IfNotApplied, atomic = false, |c| async move {
        let q = sqlx::query(h.ctx.sql(REVOKE)).bind(digest.as_str());
        Ok(q.execute(c).await?.rows_affected() == 1)
    })
}

/// The statement that decides a rotation: revokes the old token only if it
/// is live (binds: the old digest, now). It is the compare-and-set: of
/// concurrent rotations of one token the first takes the row lock and flips
/// it (1 row); the others wait for that lock, then re-read the committed row,
/// find it revoked and match nothing (0 rows). A row that does not match
/// stays locked too (repeatable read keeps the locks of the rows it read), so
/// the follow-up reads of a rotation see the state the decision saw.
pub const ROTATE: &str = "UPDATE {s}.fullauth_refresh_tokens SET revoked = 1 \
                          WHERE token = ? AND revoked = 0 AND expires_at > ?";

/// The successor of a token [`ROTATE`] just revoked, in the same family for
/// the same user, read from the old row (binds: id, digest, expires_at,
/// user_agent, ip_address, created_at, the old digest).
pub const ROTATE_SUCCESSOR: &str = concat!(
    "INSERT INTO {s}.fullauth_refresh_tokens (",
    token_cols!(),
    ") SELECT ?, ?, user_id, family_id, ?, 0, ?, ?, ? ",
    "FROM {s}.fullauth_refresh_tokens WHERE token = ? RETURNING ",
    token_cols!()
);

/// Why [`ROTATE`] matched nothing: the old token's owner, family, whether it
/// is revoked and whether it is unexpired (binds: now, the old digest). A
/// locking read, so that inside a longer transaction it sees the newest
/// committed row, not the transaction's snapshot.
const INSPECT: &str = "SELECT user_id, family_id, revoked, expires_at > ? \
                       FROM {s}.fullauth_refresh_tokens WHERE token = ? FOR UPDATE";

// Round trips on the pool: BEGIN, ROTATE, then ROTATE_SUCCESSOR (Rotated) or
// INSPECT (Expired, NotFound) or INSPECT + REVOKE_FAMILY (Reused), COMMIT:
// 4 (Rotated, Expired, NotFound) or 5 (Reused). In a transaction SAVEPOINT
// and RELEASE take the places of BEGIN and COMMIT.
pub(crate) async fn rotate_refresh_token(
    h: Handle<'_>,
    old: &TokenDigest,
    next: NextRefreshToken,
) -> StoreResult<Rotation> {
    let next = &next;
    run!(h, Retry::IfNotApplied, atomic = true, |c| rotate(
        c, h.ctx, old, next
    ))
}

/// The body of a rotation, inside its own transaction (or savepoint): a
/// failure anywhere (a successor digest already stored, above all) undoes
/// the revocation of the old token with it.
async fn rotate(
    c: &mut MySqlConnection,
    ctx: &Ctx,
    old: &TokenDigest,
    next: &NextRefreshToken,
) -> DbResult<Rotation> {
    let now = ctx.now().to_datetime();
    let flipped = sqlx::query(ctx.sql(ROTATE))
        .bind(old.as_str())
        .bind(now)
        .execute(&mut *c)
        .await?
        .rows_affected();
    if flipped == 1 {
        let row = sqlx::query(ctx.sql(ROTATE_SUCCESSOR))
            .bind(uuid::Uuid::now_v7().hyphenated())
            .bind(next.digest.as_str())
            .bind(next.expires_at.to_datetime())
            .bind(next.client.user_agent.as_deref())
            .bind(next.client.ip_address.as_deref())
            .bind(now)
            .bind(old.as_str())
            .fetch_optional(&mut *c)
            .await
            .map_err(|e| map_write_error(e.into()))?;
        return match row {
            Some(row) => Ok(Rotation::Rotated(decode_at(&row, 0)?)),
            // The old row is locked by this transaction: it cannot vanish.
            None => Err(StoreError::backend_message(
                "the rotated token disappeared before its successor was inserted",
            )
            .into()),
        };
    }
    let row = sqlx::query(ctx.sql(INSPECT))
        .bind(now)
        .bind(old.as_str())
        .fetch_optional(&mut *c)
        .await?;
    let Some(row) = row else {
        return Ok(Rotation::NotFound);
    };
    let user = crate::keys::user_id_at(&row, 0)?;
    let family_id = family(row.try_get(1)?)?;
    let revoked: bool = row.try_get(2)?;
    let unexpired: bool = row.try_get(3)?;
    if revoked {
        // A replay. The UPDATE's locking reads see every committed token of
        // the family, and its next-key locks keep a concurrent rotation from
        // adding one behind it (that rotation waits, or one of the two is
        // chosen as a deadlock victim and runs again).
        sqlx::query(ctx.sql(REVOKE_FAMILY))
            .bind(family_id.as_str())
            .execute(&mut *c)
            .await?;
        return Ok(Rotation::Reused {
            family_id,
            user_id: user,
        });
    }
    if !unexpired {
        return Ok(Rotation::Expired);
    }
    // Live and unexpired under the lock the UPDATE took, yet not matched:
    // cannot happen; let the caller try again rather than guess.
    Err(
        StoreError::contention_message("the rotation raced with concurrent writes; try again")
            .into(),
    )
}

const REVOKE_FAMILY: &str = "UPDATE {s}.fullauth_refresh_tokens SET revoked = 1 \
                             WHERE family_id = ? AND revoked = 0";

pub(crate) async fn revoke_family(h: Handle<'_>, family_id: &FamilyId) -> StoreResult<u64> {
    run!(h, Retry::IfNotApplied, atomic = false, |c| async move {
        let q = sqlx::query(h.ctx.sql(REVOKE_FAMILY)).bind(family_id.as_str());
        Ok(q.execute(c).await?.rows_affected())
    })
}

const REVOKE_USER: &str = "UPDATE {s}.fullauth_refresh_tokens SET revoked = 1 \
                           WHERE user_id = ? AND revoked = 0";

pub(crate) async fn revoke_all_for_user(h: Handle<'_>, user_id: &UserId) -> StoreResult<u64> {
    let user = id_param(user_id)?;
    run!(h, Retry::IfNotApplied, atomic = false, |c| async move {
        let q = sqlx::query(h.ctx.sql(REVOKE_USER)).bind(user);
        Ok(q.execute(c).await?.rows_affected())
    })
}

const PRUNE: &str = "DELETE FROM {s}.fullauth_refresh_tokens WHERE expires_at < ?";

pub(crate) async fn prune_expired_refresh_tokens(
    h: Handle<'_>,
    before: Timestamp,
) -> StoreResult<u64> {
    run!(h, Retry::IfNotApplied, atomic = false, |c| async move {
        let q = sqlx::query(h.ctx.sql(PRUNE)).bind(before.to_datetime());
        Ok(q.execute(c).await?.rows_affected())
    })
}

/// Sessions aggregated in SQL (binds: user, user, now): one row per family
/// with a live token; `created_at`/`last_used_at` span all its tokens, the
/// other fields come from the newest live token (newest `created_at`, then
/// greatest id in byte order: the id's text, as MariaDB's `UUID` order
/// differs from byte order for some versions). Family ids sort byte-wise
/// (the column's binary collation).
const LIST_SESSIONS: &str = "\
SELECT g.family_id, g.created_at, g.last_used_at, l.expires_at, l.user_agent, l.ip_address \
FROM (SELECT family_id, MIN(created_at) AS created_at, MAX(created_at) AS last_used_at \
      FROM {s}.fullauth_refresh_tokens WHERE user_id = ? GROUP BY family_id) AS g \
JOIN (SELECT family_id, expires_at, user_agent, ip_address, \
        ROW_NUMBER() OVER (PARTITION BY family_id \
                           ORDER BY created_at DESC, CAST(id AS CHAR) DESC) AS rn \
      FROM {s}.fullauth_refresh_tokens \
      WHERE user_id = ? AND revoked = 0 AND expires_at > ?) AS l \
  ON l.family_id = g.family_id AND l.rn = 1 \
ORDER BY g.last_used_at DESC, g.family_id";

pub(crate) async fn list_sessions(h: Handle<'_>, user_id: &UserId) -> StoreResult<Vec<Session>> {
    let user = id_param(user_id)?;
    let rows = run!(h, Retry::Idempotent, atomic = false, |c| async move {
        let q = sqlx::query(h.ctx.sql(LIST_SESSIONS)).bind(user).bind(user);
        Ok(q.bind(h.ctx.now().to_datetime()).fetch_all(c).await?)
    })?;
    rows.iter()
        .map(|r| {
            Ok(Session {
                family_id: family(r.try_get(0)?)?,
                created_at: ts(r, 1)?,
                last_used_at: ts(r, 2)?,
                expires_at: ts(r, 3)?,
                user_agent: r.try_get(4)?,
                ip_address: r.try_get(5)?,
            })
        })
        .collect::<DbResult<_>>()
        .map_err(DbError::into_store)
}

/// Revokes every token of the session. No `revoked = 0` condition: the
/// rows matched (which the server reports, found-rows mode) are then every
/// token the user has in the family, revoked or not, which is the answer.
const REVOKE_SESSION: &str = "UPDATE {s}.fullauth_refresh_tokens SET revoked = 1 \
                              WHERE user_id = ? AND family_id = ?";

// One round trip.
pub(crate) async fn revoke_session(
    h: Handle<'_>,
    user_id: &UserId,
    family_id: &FamilyId,
) -> StoreResult<bool> {
    let user = id_param(user_id)?;
    run!(h, Retry::Idempotent, atomic = false, |c| async move {
        let q = sqlx::query(h.ctx.sql(REVOKE_SESSION)).bind(user);
        Ok(q.bind(family_id.as_str()).execute(c).await?.rows_affected() > 0)
    })
}

/// Locks the live tokens of the user's other sessions and counts their
/// families (binds: user, kept family).
const LOCK_OTHERS: &str = "SELECT COUNT(DISTINCT family_id) FROM {s}.fullauth_refresh_tokens \
                           WHERE user_id = ? AND family_id <> ? AND revoked = 0 FOR UPDATE";

/// Revokes what [`LOCK_OTHERS`] locked (binds: user, kept family).
const REVOKE_OTHERS: &str = "UPDATE {s}.fullauth_refresh_tokens SET revoked = 1 \
                             WHERE user_id = ? AND family_id <> ? AND revoked = 0";

// Round trips on the pool: BEGIN, LOCK_OTHERS, REVOKE_OTHERS, COMMIT (4): the
// count of distinct families flipped needs the rows before the UPDATE, and
// the locks make the UPDATE flip exactly the rows counted (concurrent
// callers wait, then count nothing).
pub(crate) async fn revoke_other_sessions(
    h: Handle<'_>,
    user_id: &UserId,
    keep: &FamilyId,
) -> StoreResult<u64> {
    let user = id_param(user_id)?;
    let n: i64 = run!(h, Retry::IfNotApplied, atomic = true, |c| async move {
        let n: i64 = sqlx::query_scalar(h.ctx.sql(LOCK_OTHERS))
            .bind(user)
            .bind(keep.as_str())
            .fetch_one(&mut *c)
            .await?;
        if n > 0 {
            sqlx::query(h.ctx.sql(REVOKE_OTHERS))
                .bind(user)
                .bind(keep.as_str())
                .execute(&mut *c)
                .await?;
        }
        Ok(n)
    })?;
    Ok(u64::try_from(n).unwrap_or(0))
}
