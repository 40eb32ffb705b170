//! `fullauth_lockouts` (UNLOGGED): login lockout counters
//! ([`fullauth_api::LockoutStore`]).
//!
//! One row per key: `failures` counted since the count was last reset,
//! `last_failure_at`, `locked_until` and `outcome` (what the last
//! `record_failure` decided: 0 counted, 1 locked, 2 already locked). One
//! `INSERT … ON CONFLICT DO UPDATE` records a failure: the row lock it takes
//! serialises concurrent failures on one key, and every `CASE` reads the
//! newest version of the row.

use fullauth_api::{LockoutOutcome, LockoutPolicy, StateKey, StoreResult, Timestamp};
use time::OffsetDateTime;

use crate::error::Retry;
use crate::handle::{Handle, run};

/// `$1` key, `$2` now, `$3` now − duration (failures at or before it are
/// forgotten), `$4` now + duration (the deadline of a new lock), `$5`
/// max_attempts.
const RECORD: &str = "\
INSERT INTO {s}.fullauth_lockouts AS l (key, failures, last_failure_at, locked_until, outcome) \
VALUES ($1, CASE WHEN $5 <= 1 THEN 0 ELSE 1 END, $2, \
        CASE WHEN $5 <= 1 THEN $4 END, CASE WHEN $5 <= 1 THEN 1 ELSE 0 END) \
ON CONFLICT (key) DO UPDATE SET \
  failures = CASE \
    WHEN l.locked_until > $2 THEN l.failures \
    WHEN (CASE WHEN l.locked_until IS NULL AND l.last_failure_at > $3 THEN l.failures ELSE 0 END) + 1 >= $5 THEN 0 \
    ELSE (CASE WHEN l.locked_until IS NULL AND l.last_failure_at > $3 THEN l.failures ELSE 0 END) + 1 END, \
  locked_until = CASE \
    WHEN l.locked_until > $2 THEN l.locked_until \
    WHEN (CASE WHEN l.locked_until IS NULL AND l.last_failure_at > $3 THEN l.failures ELSE 0 END) + 1 >= $5 THEN $4 \
    ELSE NULL END, \
  outcome = CASE \
    WHEN l.locked_until > $2 THEN 2 \
    WHEN (CASE WHEN l.locked_until IS NULL AND l.last_failure_at > $3 THEN l.failures ELSE 0 END) + 1 >= $5 THEN 1 \
    ELSE 0 END, \
  last_failure_at = CASE WHEN l.locked_until > $2 THEN l.last_failure_at ELSE $2 END \
RETURNING outcome, failures, locked_until";

pub(crate) async fn record_failure(
    h: Handle<'_>,
    key: &StateKey,
    policy: LockoutPolicy,
) -> StoreResult<LockoutOutcome> {
    policy.validate()?;
    let max = i32::try_from(policy.max_attempts).unwrap_or(i32::MAX);
    let (now, (outcome, failures, until)) =
        run!(h, Retry::IfNotApplied, savepoint = false, |c| async move {
            let now = h.ctx.now();
            let row: (i16, i32, Option<OffsetDateTime>) = sqlx::query_as(h.ctx.sql(RECORD))
                .persistent(h.ctx.persistent())
                .bind(key.as_str())
                .bind(now.to_datetime())
                .bind(now.checked_sub(policy.duration)?.to_datetime())
                .bind(now.checked_add(policy.duration)?.to_datetime())
                .bind(max)
                .fetch_one(c)
                .await?;
            Ok((now, row))
        })?;
    let until = until.map(Timestamp::from_datetime).unwrap_or(now);
    Ok(match outcome {
        1 => LockoutOutcome::Locked { until },
        2 => LockoutOutcome::AlreadyLocked { until },
        _ => LockoutOutcome::Counted {
            attempts: u32::try_from(failures).unwrap_or(0),
        },
    })
}

const IS_LOCKED: &str = "SELECT EXISTS (SELECT 1 FROM {s}.fullauth_lockouts \
                         WHERE key = $1 AND locked_until > $2)";

pub(crate) async fn is_locked(h: Handle<'_>, key: &StateKey) -> StoreResult<bool> {
    run!(h, Retry::Idempotent, savepoint = false, |c| async move {
        let q = sqlx::query_scalar(h.ctx.sql(IS_LOCKED))
            .persistent(h.ctx.persistent())
            .bind(key.as_str());
        Ok(q.bind(h.ctx.now().to_datetime()).fetch_one(c).await?)
    })
}

const CLEAR: &str = "DELETE FROM {s}.fullauth_lockouts WHERE key = $1";

pub(crate) async fn clear_lockout(h: Handle<'_>, key: &StateKey) -> StoreResult<()> {
    run!(h, Retry::Idempotent, savepoint = false, |c| async move {
        sqlx::query(h.ctx.sql(CLEAR))
            .persistent(h.ctx.persistent())
            .bind(key.as_str())
            .execute(c)
            .await?;
        Ok(())
    })
}
