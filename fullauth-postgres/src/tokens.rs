//! `fullauth_refresh_tokens`: refresh tokens and the sessions they form
//! ([`fullauth_api::RefreshTokenStore`]).

use fullauth_api::{
    ConflictKind, FamilyId, NewRefreshToken, NextRefreshToken, RefreshToken, Rotation, Session,
    StoreError, StoreResult, Timestamp, TokenDigest, UserId,
};
use sqlx::postgres::PgRow;
use sqlx::{PgConnection, Row};
use time::OffsetDateTime;

use crate::ctx::Ctx;
use crate::error::{DbError, DbResult, Retry, map_write_error, skipped_insert};
use crate::handle::{Handle, run};
use crate::keys::UserKey;

/// The columns of a token row, in the order [`decode`] reads them.
macro_rules! token_cols {
    () => {
        "id, token, user_id, family_id, expires_at, revoked, user_agent, ip_address, created_at"
    };
}

fn ts(row: &PgRow, i: usize) -> DbResult<Timestamp> {
    Ok(Timestamp::from_datetime(
        row.try_get::<OffsetDateTime, _>(i)?,
    ))
}

fn family(s: String) -> DbResult<FamilyId> {
    FamilyId::new(s)
        .map_err(|e| StoreError::backend("a stored family id does not validate", e).into())
}

/// Reads a token row whose columns start at `at`.
fn decode_at(row: &PgRow, at: usize) -> DbResult<RefreshToken> {
    let digest: String = row.try_get(at + 1)?;
    Ok(RefreshToken {
        id: row.try_get(at)?,
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

/// Inserts a token when its owner exists, without failing on the expected
/// conflicts (so no savepoint is needed inside a transaction): the owner is
/// read `FOR KEY SHARE` (the lock the foreign key would take, so a
/// concurrent delete cannot remove it before the insert), a taken digest
/// skips the insert. The row always comes back: whether the owner was
/// found, whether the digest was taken in the snapshot, and the inserted
/// token's columns (NULL when nothing was inserted).
const INSERT: &str = concat!(
    "WITH u AS (SELECT id FROM {s}.fullauth_users WHERE id = $3 FOR KEY SHARE), ",
    "ins AS (INSERT INTO {s}.fullauth_refresh_tokens (",
    token_cols!(),
    ") SELECT $1, $2, u.id, $4, $5, false, $6, $7, $8 FROM u WHERE true ",
    "ON CONFLICT (token) DO NOTHING RETURNING ",
    token_cols!(),
    ") SELECT EXISTS (SELECT 1 FROM u), ",
    "EXISTS (SELECT 1 FROM {s}.fullauth_refresh_tokens WHERE token = $2), i.* ",
    "FROM (SELECT 1) AS one LEFT JOIN ins i ON true"
);

pub(crate) async fn store_refresh_token(
    h: Handle<'_>,
    new: NewRefreshToken,
) -> StoreResult<RefreshToken> {
    let (new, user) = (&new, UserKey(&new.user_id));
    run!(h, Retry::IfNotApplied, savepoint = false, |c| async move {
        let row = sqlx::query(h.ctx.sql(INSERT))
            .persistent(h.ctx.persistent())
            .bind(uuid::Uuid::now_v7())
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
        let inserted: Option<uuid::Uuid> = row.try_get(2)?;
        if inserted.is_some() {
            return decode_at(&row, 2);
        }
        Err(skipped_insert(
            row.try_get(0)?,
            row.try_get(1)?,
            ConflictKind::RefreshToken,
        ))
    })
}

const GET: &str = concat!(
    "SELECT ",
    token_cols!(),
    " FROM {s}.fullauth_refresh_tokens WHERE token = $1"
);

pub(crate) async fn get_refresh_token(
    h: Handle<'_>,
    digest: &TokenDigest,
) -> StoreResult<Option<RefreshToken>> {
    run!(h, Retry::Idempotent, savepoint = false, |c| async move {
        let q = sqlx::query(h.ctx.sql(GET))
            .persistent(h.ctx.persistent())
            .bind(digest.as_str());
        q.fetch_optional(c)
            .await?
            .map(|r| decode_at(&r, 0))
            .transpose()
    })
}

/// Compare-and-set revoke of one token.
pub const REVOKE: &str = "UPDATE {s}.fullauth_refresh_tokens SET revoked = true \
                      WHERE token = $1 AND revoked IS false";

pub(crate) async fn revoke_refresh_token(h: Handle<'_>, digest: &TokenDigest) -> StoreResult<bool> {
    run!(h, Retry::IfNotApplied, savepoint = false, |c| async move {
        let q = sqlx::query(h.ctx.sql(REVOKE))
            .persistent(h.ctx.persistent())
            .bind(digest.as_str());
        Ok(q.execute(c).await?.rows_affected() == 1)
    })
}

/// One statement decides a rotation.
///
/// * `old` reads the token as of the statement's snapshot.
/// * `taken` says whether the successor's digest is stored already; then
///   nothing is flipped or inserted (the caller answers `Conflict`), so the
///   statement does not fail on it and needs no savepoint in a transaction.
/// * `flip` revokes it if it is live (the row lock makes this the
///   compare-and-set: of concurrent rotations one flips, the others re-check
///   the updated row and flip nothing); `ins` then inserts the successor in
///   the same family.
/// * `fam` revokes the family when the snapshot already showed the token
///   revoked (a replay), and reports how many live rows the snapshot showed
///   (`fam_live`) and how many it revoked (`fam_revoked`).
///
/// Outcomes the snapshot cannot settle — the token was live but another
/// rotation flipped it first, or a replay met rows that changed under it —
/// are re-run as a new statement with a fresh snapshot (see `rotate`).
pub const ROTATE: &str = concat!(
    "WITH old AS (",
    "  SELECT user_id, family_id, revoked, expires_at > $7 AS unexpired",
    "  FROM {s}.fullauth_refresh_tokens WHERE token = $1",
    "), taken AS (",
    "  SELECT EXISTS (SELECT 1 FROM {s}.fullauth_refresh_tokens WHERE token = $3) AS t",
    "), flip AS (",
    "  UPDATE {s}.fullauth_refresh_tokens SET revoked = true",
    "  WHERE token = $1 AND revoked IS false AND expires_at > $7",
    "    AND NOT (SELECT t FROM taken)",
    "  RETURNING user_id, family_id",
    "), ins AS (",
    "  INSERT INTO {s}.fullauth_refresh_tokens (",
    token_cols!(),
    ")  SELECT $2, $3, f.user_id, f.family_id, $4, false, $5, $6, $7 FROM flip f",
    "  RETURNING ",
    token_cols!(),
    "), fam_live AS (",
    "  SELECT count(*) AS n FROM {s}.fullauth_refresh_tokens",
    "  WHERE family_id = (SELECT family_id FROM old) AND revoked IS false",
    "    AND (SELECT revoked FROM old)",
    "), fam AS (",
    "  UPDATE {s}.fullauth_refresh_tokens SET revoked = true",
    "  WHERE family_id = (SELECT family_id FROM old) AND revoked IS false",
    "    AND (SELECT revoked FROM old)",
    "  RETURNING 1",
    ") SELECT o.user_id, o.family_id, o.revoked, o.unexpired,",
    "  (SELECT n FROM fam_live) AS fam_live, (SELECT count(*) FROM fam) AS fam_revoked,",
    "  (SELECT t FROM taken) AS next_taken, i.*",
    " FROM (SELECT 1) AS one",
    " LEFT JOIN old o ON true",
    " LEFT JOIN ins i ON true"
);

/// How many times a rotation whose snapshot was overtaken is re-run.
const ROTATE_ATTEMPTS: usize = 8;

pub(crate) async fn rotate_refresh_token(
    h: Handle<'_>,
    old: &TokenDigest,
    next: NextRefreshToken,
) -> StoreResult<Rotation> {
    let next = &next;
    run!(h, Retry::IfNotApplied, savepoint = false, |c| rotate(
        c, h.ctx, old, next
    ))
}

async fn rotate(
    c: &mut PgConnection,
    ctx: &Ctx,
    old: &TokenDigest,
    next: &NextRefreshToken,
) -> DbResult<Rotation> {
    let mut reused: Option<Rotation> = None;
    for _ in 0..ROTATE_ATTEMPTS {
        let row = sqlx::query(ctx.sql(ROTATE))
            .persistent(ctx.persistent())
            .bind(old.as_str())
            .bind(uuid::Uuid::now_v7())
            .bind(next.digest.as_str())
            .bind(next.expires_at.to_datetime())
            .bind(next.client.user_agent.as_deref())
            .bind(next.client.ip_address.as_deref())
            .bind(ctx.now().to_datetime())
            .fetch_one(&mut *c)
            .await
            .map_err(|e| map_write_error(e.into()))?;
        let user = crate::keys::optional_user_id_at(&row, 0)?;
        let Some(user) = user else {
            // Unknown digest (or, after a replay was handled, a token pruned
            // in between: the family was revoked all the same).
            return Ok(reused.unwrap_or(Rotation::NotFound));
        };
        let family_id = family(row.try_get(1)?)?;
        let revoked: bool = row.try_get(2)?;
        let unexpired: bool = row.try_get(3)?;
        let inserted: Option<uuid::Uuid> = row.try_get(7)?;
        if inserted.is_some() {
            return Ok(Rotation::Rotated(decode_at(&row, 7)?));
        }
        if revoked {
            let live: Option<i64> = row.try_get(4)?;
            let done: i64 = row.try_get(5)?;
            let answer = Rotation::Reused {
                family_id,
                user_id: user,
            };
            if done >= live.unwrap_or(0) {
                return Ok(answer);
            }
            // Some live rows of the family changed under the snapshot (a
            // concurrent rotation may have inserted a successor the snapshot
            // cannot see): run again until the family is revoked as a whole.
            reused = Some(answer);
            continue;
        }
        if !unexpired {
            return Ok(reused.unwrap_or(Rotation::Expired));
        }
        if row.try_get::<bool, _>(6)? {
            // The successor's digest is stored already: nothing changed.
            return Err(StoreError::conflict(ConflictKind::RefreshToken).into());
        }
        // Live in the snapshot but flipped by a concurrent rotation first:
        // re-run with a fresh snapshot, which sees it revoked (a replay).
    }
    match reused {
        Some(r) => Ok(r),
        None => Err(StoreError::contention_message(
            "the rotation kept racing with concurrent writes; try again",
        )
        .into()),
    }
}

const REVOKE_FAMILY: &str = "UPDATE {s}.fullauth_refresh_tokens SET revoked = true \
                             WHERE family_id = $1 AND revoked IS false";

pub(crate) async fn revoke_family(h: Handle<'_>, family_id: &FamilyId) -> StoreResult<u64> {
    run!(h, Retry::IfNotApplied, savepoint = false, |c| async move {
        let q = sqlx::query(h.ctx.sql(REVOKE_FAMILY))
            .persistent(h.ctx.persistent())
            .bind(family_id.as_str());
        Ok(q.execute(c).await?.rows_affected())
    })
}

const REVOKE_USER: &str = "UPDATE {s}.fullauth_refresh_tokens SET revoked = true \
                           WHERE user_id = $1 AND revoked IS false";

pub(crate) async fn revoke_all_for_user(h: Handle<'_>, user_id: &UserId) -> StoreResult<u64> {
    let user = UserKey(user_id);
    run!(h, Retry::IfNotApplied, savepoint = false, |c| async move {
        let q = sqlx::query(h.ctx.sql(REVOKE_USER))
            .persistent(h.ctx.persistent())
            .bind(user);
        Ok(q.execute(c).await?.rows_affected())
    })
}

const PRUNE: &str = "DELETE FROM {s}.fullauth_refresh_tokens WHERE expires_at < $1";

pub(crate) async fn prune_expired_refresh_tokens(
    h: Handle<'_>,
    before: Timestamp,
) -> StoreResult<u64> {
    run!(h, Retry::IfNotApplied, savepoint = false, |c| async move {
        let q = sqlx::query(h.ctx.sql(PRUNE))
            .persistent(h.ctx.persistent())
            .bind(before.to_datetime());
        Ok(q.execute(c).await?.rows_affected())
    })
}

/// Sessions aggregated in SQL: one row per family with a live token; the
/// per-session fields come from the newest live token (newest `created_at`,
/// then greatest id).
const LIST_SESSIONS: &str = "\
SELECT family_id, min(created_at) AS created_at, max(created_at) AS last_used_at, \
  (array_agg(expires_at ORDER BY created_at DESC, id DESC) \
     FILTER (WHERE revoked IS false AND expires_at > $2))[1] AS expires_at, \
  (array_agg(user_agent ORDER BY created_at DESC, id DESC) \
     FILTER (WHERE revoked IS false AND expires_at > $2))[1] AS user_agent, \
  (array_agg(ip_address ORDER BY created_at DESC, id DESC) \
     FILTER (WHERE revoked IS false AND expires_at > $2))[1] AS ip_address \
FROM {s}.fullauth_refresh_tokens WHERE user_id = $1 \
GROUP BY family_id \
HAVING bool_or(revoked IS false AND expires_at > $2) \
ORDER BY last_used_at DESC, family_id COLLATE \"C\"";

pub(crate) async fn list_sessions(h: Handle<'_>, user_id: &UserId) -> StoreResult<Vec<Session>> {
    let user = UserKey(user_id);
    let rows = run!(h, Retry::Idempotent, savepoint = false, |c| async move {
        let q = sqlx::query(h.ctx.sql(LIST_SESSIONS))
            .persistent(h.ctx.persistent())
            .bind(user);
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

const REVOKE_SESSION: &str = "\
WITH upd AS (UPDATE {s}.fullauth_refresh_tokens SET revoked = true \
  WHERE user_id = $1 AND family_id = $2 AND revoked IS false RETURNING 1) \
SELECT EXISTS (SELECT 1 FROM {s}.fullauth_refresh_tokens WHERE user_id = $1 AND family_id = $2) \
    OR EXISTS (SELECT 1 FROM upd)";

pub(crate) async fn revoke_session(
    h: Handle<'_>,
    user_id: &UserId,
    family_id: &FamilyId,
) -> StoreResult<bool> {
    let user = UserKey(user_id);
    run!(h, Retry::Idempotent, savepoint = false, |c| async move {
        let q = sqlx::query_scalar(h.ctx.sql(REVOKE_SESSION))
            .persistent(h.ctx.persistent())
            .bind(user);
        Ok(q.bind(family_id.as_str()).fetch_one(c).await?)
    })
}

const REVOKE_OTHERS: &str = "\
WITH upd AS (UPDATE {s}.fullauth_refresh_tokens SET revoked = true \
  WHERE user_id = $1 AND family_id <> $2 AND revoked IS false RETURNING family_id) \
SELECT count(DISTINCT family_id) FROM upd";

pub(crate) async fn revoke_other_sessions(
    h: Handle<'_>,
    user_id: &UserId,
    keep: &FamilyId,
) -> StoreResult<u64> {
    let user = UserKey(user_id);
    let n: i64 = run!(h, Retry::IfNotApplied, savepoint = false, |c| async move {
        let q = sqlx::query_scalar(h.ctx.sql(REVOKE_OTHERS))
            .persistent(h.ctx.persistent())
            .bind(user);
        Ok(q.bind(keep.as_str()).fetch_one(c).await?)
    })?;
    Ok(u64::try_from(n).unwrap_or(0))
}
