//! Login lockout ([`fullauth_api::LockoutStore`]): a failure counter
//! `<prefix>lockout:attempts:<key>` and a lock `<prefix>lockout:locked:<key>`
//! (value `1`), both updated by one Lua script.

use std::sync::LazyLock;
use std::time::Duration;

use fullauth_api::{
    Feature, LockoutOutcome, LockoutPolicy, StateKey, StoreError, StoreResult, Timestamp,
};

use crate::store::{MAX_TTL, RedisConnection, RedisStore};

/// `KEYS[1]` the counter, `KEYS[2]` the lock; `ARGV[1]` max attempts,
/// `ARGV[2]` the duration in milliseconds.
///
/// Answers `{0, attempts}` (counted), `{1, until_ms}` (this failure locked
/// the key) or `{2, until_ms}` (already locked; `until_ms` is -1 for a lock
/// without expiry). Time is the server's (`TIME`), so several application
/// instances agree.
const RECORD_FAILURE: &str = r#"
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
if redis.call('EXISTS', KEYS[2]) == 1 then
  local at = redis.pcall('PEXPIRETIME', KEYS[2])
  if type(at) == 'number' and at > 0 then
    return {2, at}
  end
  local ttl = redis.call('PTTL', KEYS[2])
  if ttl >= 0 then
    return {2, now_ms() + ttl}
  end
  return {2, -1}
end
local max = tonumber(ARGV[1])
local dur = tonumber(ARGV[2])
local n = redis.call('INCR', KEYS[1])
if n >= max then
  local at = now_ms() + dur
  redis.call('SET', KEYS[2], '1', 'PXAT', at)
  redis.call('DEL', KEYS[1])
  return {1, at}
end
redis.call('PEXPIRE', KEYS[1], dur)
return {0, n}
"#;

static RECORD_FAILURE_SCRIPT: LazyLock<redis::Script> =
    LazyLock::new(|| redis::Script::new(RECORD_FAILURE));

fn millis_ceil(d: Duration) -> u64 {
    let d = d.min(MAX_TTL);
    let ms = d.as_millis() + u128::from(d.subsec_nanos() % 1_000_000 > 0);
    u64::try_from(ms).unwrap_or(u64::MAX)
}

fn until_from_ms(ms: i64, policy: &LockoutPolicy) -> StoreResult<Timestamp> {
    if ms < 0 {
        // A lock written without expiry (not by this crate or the
        // reference): report one lock duration from now.
        return Ok(Timestamp::now() + policy.duration);
    }
    Timestamp::from_unix_micros(ms.saturating_mul(1_000))
        .map_err(|e| StoreError::backend("the lock's expiry in redis is out of range", e))
}

/// One script, atomic on the server: when the lock key exists, answers
/// `AlreadyLocked` with its expiry (`PEXPIRETIME`, or `TIME` + `PTTL` on
/// Redis before 7.0) and changes nothing; otherwise `INCR`s the counter and,
/// when it reaches `max_attempts`, sets the lock (`SET … 1 PXAT`, `duration`
/// from the server's clock) and deletes the counter (`Locked`); below the
/// threshold it sets the counter's expiry to `duration` (`Counted`). Never
/// retried. On failure: the lockout policy (by default open: `Counted {
/// attempts: 0 }`, meaning nothing was counted; closed: `AlreadyLocked`
/// until now + `duration`).
pub(crate) async fn record_failure<C: RedisConnection>(
    s: &RedisStore<C>,
    key: &StateKey,
    policy: LockoutPolicy,
) -> StoreResult<LockoutOutcome> {
    policy.validate()?;
    let mut invocation = RECORD_FAILURE_SCRIPT.prepare_invoke();
    invocation
        .key(s.keys.lockout_attempts(key))
        .key(s.keys.lockout_locked(key))
        .arg(policy.max_attempts)
        .arg(millis_ceil(policy.duration));
    let reply = match s.eval::<Vec<i64>>(&invocation).await {
        Ok(reply) => reply,
        Err(e) => {
            return s.fail(
                Feature::Lockout,
                e,
                Some(LockoutOutcome::Counted { attempts: 0 }),
                Some(LockoutOutcome::AlreadyLocked {
                    until: Timestamp::now() + policy.duration,
                }),
            );
        }
    };
    match reply.as_slice() {
        [0, n] => Ok(LockoutOutcome::Counted {
            attempts: u32::try_from(*n).unwrap_or(u32::MAX),
        }),
        [1, ms] => Ok(LockoutOutcome::Locked {
            until: until_from_ms(*ms, &policy)?,
        }),
        [2, ms] => Ok(LockoutOutcome::AlreadyLocked {
            until: until_from_ms(*ms, &policy)?,
        }),
        other => Err(StoreError::backend_message(format!(
            "unexpected answer of the lockout script: {other:?}"
        ))),
    }
}

/// `EXISTS <prefix>lockout:locked:<key>` (the reference reads it with `GET`;
/// any value counts). On failure: the lockout policy (by default open:
/// `false`).
pub(crate) async fn is_locked<C: RedisConnection>(
    s: &RedisStore<C>,
    key: &StateKey,
) -> StoreResult<bool> {
    let mut cmd = redis::cmd("EXISTS");
    cmd.arg(s.keys.lockout_locked(key));
    match s.query::<i64>(true, &cmd).await {
        Ok(n) => Ok(n > 0),
        Err(e) => s.fail(Feature::Lockout, e, Some(false), Some(true)),
    }
}

/// `DEL` of the counter and the lock in one command. On failure: the lockout
/// policy (by default open: logged, `Ok(())`, as the reference does).
pub(crate) async fn clear_lockout<C: RedisConnection>(
    s: &RedisStore<C>,
    key: &StateKey,
) -> StoreResult<()> {
    let mut cmd = redis::cmd("DEL");
    cmd.arg(s.keys.lockout_attempts(key))
        .arg(s.keys.lockout_locked(key));
    match s.query::<i64>(true, &cmd).await {
        Ok(_) => Ok(()),
        Err(e) => s.fail(Feature::Lockout, e, Some(()), None),
    }
}
