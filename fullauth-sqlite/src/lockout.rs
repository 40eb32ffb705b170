//! Login lockout counters (`fullauth_lockout`, an addition of this crate).
//!
//! One row per key: the failure count, the lock's end, and `expires_at`, when
//! the row is forgotten (`policy.duration` after the last failure, or the end
//! of the lock). Each failure is read-decide-write on the single writer, so
//! concurrent failures are counted one by one.

use fullauth_api::{LockoutOutcome, LockoutPolicy, StateKey, StoreResult, Timestamp};
use rusqlite::{OptionalExtension, params};

use crate::codec::{Db, parse_ts, ts};
use crate::ephemeral::maybe_purge;
use crate::pool::Handle;

pub(crate) async fn record_failure(
    h: &Handle,
    key: &StateKey,
    policy: LockoutPolicy,
) -> StoreResult<LockoutOutcome> {
    policy.validate()?;
    let now = h.now();
    let k = key.as_str().to_owned();
    let h2 = h.clone();
    h.write(move |c| {
        let row: Option<(i64, Option<String>, String)> = c
            .prepare_cached(
                "SELECT attempts, locked_until, expires_at FROM fullauth_lockout WHERE state_key = ?1",
            )
            .db()?
            .query_row([&k], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .optional()
            .db()?;
        let mut previous = 0u32;
        if let Some((attempts, locked_until, expires_at)) = row {
            if let Some(until) = locked_until.as_deref().map(parse_ts).transpose()? {
                if until > now {
                    return Ok(LockoutOutcome::AlreadyLocked { until });
                }
            }
            if parse_ts(&expires_at)? > now {
                previous = u32::try_from(attempts).unwrap_or(0);
            }
        }
        let attempts = previous.saturating_add(1);
        let outcome = if attempts >= policy.max_attempts {
            let until: Timestamp = now + policy.duration;
            upsert(c, &k, 0, Some(until), until)?;
            LockoutOutcome::Locked { until }
        } else {
            upsert(c, &k, attempts, None, now + policy.duration)?;
            LockoutOutcome::Counted { attempts }
        };
        maybe_purge(&h2, c, now)?;
        Ok(outcome)
    })
    .await
}

fn upsert(
    c: &rusqlite::Connection,
    key: &str,
    attempts: u32,
    locked_until: Option<Timestamp>,
    expires_at: Timestamp,
) -> StoreResult<()> {
    c.prepare_cached(
        "INSERT INTO fullauth_lockout (state_key, attempts, locked_until, expires_at) \
         VALUES (?1, ?2, ?3, ?4) \
         ON CONFLICT (state_key) DO UPDATE SET attempts = excluded.attempts, \
         locked_until = excluded.locked_until, expires_at = excluded.expires_at",
    )
    .db()?
    .execute(params![
        key,
        i64::from(attempts),
        locked_until.map(ts),
        ts(expires_at)
    ])
    .db()?;
    Ok(())
}

pub(crate) async fn is_locked(h: &Handle, key: &StateKey) -> StoreResult<bool> {
    let now = ts(h.now());
    let k = key.as_str().to_owned();
    h.read(move |c| {
        c.prepare_cached(
            "SELECT EXISTS (SELECT 1 FROM fullauth_lockout \
             WHERE state_key = ?1 AND locked_until IS NOT NULL AND locked_until > ?2)",
        )
        .db()?
        .query_row(params![k, now], |r| r.get::<_, bool>(0))
        .db()
    })
    .await
}

pub(crate) async fn clear_lockout(h: &Handle, key: &StateKey) -> StoreResult<()> {
    let k = key.as_str().to_owned();
    h.write(move |c| {
        c.prepare_cached("DELETE FROM fullauth_lockout WHERE state_key = ?1")
            .db()?
            .execute([k])
            .db()?;
        Ok(())
    })
    .await
}
