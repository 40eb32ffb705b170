//! `fullauth_lockouts`: login lockout counters
//! ([`fullauth_api::LockoutStore`]).
//!
//! One row per key: `failures` counted since the count was last reset,
//! `last_failure_at`, `locked_until` and `outcome` (what the last
//! `record_failure` decided: 0 counted, 1 locked, 2 already locked). One
//! `INSERT … ON DUPLICATE KEY UPDATE … RETURNING` records a failure and
//! reads the result: the row lock it takes serialises concurrent failures
//! on one key, and every `CASE` reads the newest version of the row.

use fullauth_api::{LockoutOutcome, LockoutPolicy, StateKey, StoreResult, Timestamp};
use time::OffsetDateTime;

use crate::error::Retry;
use crate::handle::{Handle, run};

/// The `VALUES` (a first failure, computed by the caller): `?` key, `?`
/// failures, `?` now, `?` locked_until, `?` outcome. The update, for an
/// existing row: `?` now, `?` now − duration (failures at or before it are
/// forgotten), `?` max_attempts, `?` now − duration again, `?` now +
/// duration (the deadline of a new lock).
///
/// MariaDB applies the assignments left to right and a later one reads the
/// columns earlier ones already set: `outcome` comes first and is computed
/// from the old row alone; the others read the new `outcome` and only old
/// values of the columns not yet assigned (`failures` reads the old
/// `locked_until` and `last_failure_at`, which are assigned after it).
/// `RETURNING` gives the row as written (inserted or updated).
const RECORD: &str = "\
INSERT INTO {s}.fullauth_lockouts (state_key, failures, last_failure_at, locked_until, outcome) \
VALUES (?, ?, ?, ?, ?) \
ON DUPLICATE KEY UPDATE \
  outcome = CASE \
    WHEN locked_until > ? THEN 2 \
    WHEN IF(locked_until IS NULL AND last_failure_at > ?, failures, 0) + 1 >= ? THEN 1 \
    ELSE 0 END, \
  failures = CASE outcome \
    WHEN 2 THEN failures \
    WHEN 1 THEN 0 \
    ELSE IF(locked_until IS NULL AND last_failure_at > ?, failures, 0) + 1 END, \
  locked_until = CASE outcome \
    WHEN 2 THEN locked_until \
    WHEN 1 THEN ? \
    ELSE NULL END, \
  last_failure_at = IF(outcome = 2, last_failure_at, VALUES(last_failure_at)) \
RETURNING outcome, failures, locked_until";

/// Records one failure: one round trip (`INSERT … ON DUPLICATE KEY UPDATE
/// … RETURNING`).
pub(crate) async fn record_failure(
    h: Handle<'_>,
    key: &StateKey,
    policy: LockoutPolicy,
) -> StoreResult<LockoutOutcome> {
    policy.validate()?;
    let max = i64::from(policy.max_attempts);
    let (now, (outcome, failures, until)) =
        run!(h, Retry::IfNotApplied, atomic = false, |c| async move {
            let now = h.ctx.now();
            let cutoff = now.checked_sub(policy.duration)?.to_datetime();
            let deadline = now.checked_add(policy.duration)?.to_datetime();
            // A first failure locks at once when one failure is the threshold.
            let (failures, locked_until, outcome) = if max <= 1 {
                (0i32, Some(deadline), 1i16)
            } else {
                (1, None, 0)
            };
            let row: (i16, i32, Option<OffsetDateTime>) = sqlx::query_as(h.ctx.sql(RECORD))
                .bind(key.as_str())
                .bind(failures)
                .bind(now.to_datetime())
                .bind(locked_until)
                .bind(outcome)
                .bind(now.to_datetime())
                .bind(cutoff)
                .bind(max)
                .bind(cutoff)
                .bind(deadline)
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

/// `?` key, `?` now.
const IS_LOCKED: &str = "SELECT EXISTS (SELECT 1 FROM {s}.fullauth_lockouts \
                         WHERE state_key = ? AND locked_until > ?)";

/// True while the key is locked: one round trip.
pub(crate) async fn is_locked(h: Handle<'_>, key: &StateKey) -> StoreResult<bool> {
    run!(h, Retry::Idempotent, atomic = false, |c| async move {
        let q = sqlx::query_scalar(h.ctx.sql(IS_LOCKED)).bind(key.as_str());
        Ok(q.bind(h.ctx.now().to_datetime()).fetch_one(c).await?)
    })
}

/// `?` key.
const CLEAR: &str = "DELETE FROM {s}.fullauth_lockouts WHERE state_key = ?";

/// Forgets the failures and lifts the lock: one round trip.
pub(crate) async fn clear_lockout(h: Handle<'_>, key: &StateKey) -> StoreResult<()> {
    run!(h, Retry::Idempotent, atomic = false, |c| async move {
        sqlx::query(h.ctx.sql(CLEAR))
            .bind(key.as_str())
            .execute(c)
            .await?;
        Ok(())
    })
}
