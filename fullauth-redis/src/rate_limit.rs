//! Sliding-window rate limits ([`fullauth_api::RateLimitStore`]): a sorted set
//! `<prefix>ratelimit:<key>` whose members are `"<unix seconds>:<16 hex>"`
//! scored by the same time, updated by one Lua script.

use std::sync::LazyLock;
use std::time::Duration;

use fullauth_api::{
    Feature, RateLimitDecision, RateLimitPolicy, StateKey, StoreError, StoreResult,
};

use crate::store::{MAX_TTL, RedisConnection, RedisStore};

/// `KEYS[1]` the sorted set; `ARGV[1]` the limit, `ARGV[2]` the window in
/// microseconds, `ARGV[3]` the window in milliseconds (for the key's
/// expiry), `ARGV[4]` 16 random hex characters.
///
/// Answers `{1, remaining, 0}` when the request is allowed (and recorded)
/// or `{0, 0, retry_after_us}` when it is refused (and not recorded). Time
/// is the server's (`TIME`) in whole microseconds; scores are written as
/// decimal strings so no precision is lost on the way.
const HIT: &str = r#"
local t = redis.call('TIME')
local sec = tonumber(t[1])
local usec = tonumber(t[2])
local now = sec * 1000000 + usec
local limit = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local function score(us)
  local s = math.floor(us / 1000000)
  return string.format('%d.%06d', s, us - s * 1000000)
end
local cutoff = now - window
if cutoff >= 0 then
  redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', score(cutoff))
end
local count = redis.call('ZCARD', KEYS[1])
if count < limit then
  local at = score(now)
  redis.call('ZADD', KEYS[1], at, at .. ':' .. ARGV[4])
  redis.call('PEXPIRE', KEYS[1], ARGV[3])
  return {1, limit - count - 1, 0}
end
local retry = window
local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
if oldest[2] then
  local oldest_us = math.floor(tonumber(oldest[2]) * 1000000 + 0.5)
  retry = oldest_us + window - now
  if retry < 1 then retry = 1 end
end
return {0, 0, retry}
"#;

static HIT_SCRIPT: LazyLock<redis::Script> = LazyLock::new(|| redis::Script::new(HIT));

fn micros_ceil(d: Duration) -> u64 {
    let d = d.min(MAX_TTL);
    let us = d.as_micros() + u128::from(d.subsec_nanos() % 1_000 > 0);
    u64::try_from(us).unwrap_or(u64::MAX)
}

/// One script, atomic on the server: drops the members at or before `now −
/// window`, counts the rest, and when fewer than `limit` adds this request
/// (member `"<now>:<16 hex>"`, score `now`, as the reference writes them)
/// and sets the key's expiry to the window; otherwise refuses without
/// recording, with `retry_after` = the oldest member's score + window − now.
/// `now` is the Redis server's clock, so several application instances
/// agree. Windows over [`MAX_TTL`] are shortened to it. Never retried. On
/// failure: the rate-limit policy (by default open: allowed with `remaining
/// = limit − 1`; closed: refused with `retry_after` = the window).
pub(crate) async fn hit<C: RedisConnection>(
    s: &RedisStore<C>,
    key: &StateKey,
    policy: RateLimitPolicy,
) -> StoreResult<RateLimitDecision> {
    policy.validate()?;
    let window_us = micros_ceil(policy.window);
    let window_ms = window_us.div_ceil(1_000);
    let nonce = uuid::Uuid::new_v4().simple().to_string();
    let mut invocation = HIT_SCRIPT.prepare_invoke();
    invocation
        .key(s.keys.rate_limit(key))
        .arg(policy.limit)
        .arg(window_us)
        .arg(window_ms)
        .arg(nonce.get(..16).unwrap_or(&nonce));
    let reply = match s.eval::<Vec<i64>>(&invocation).await {
        Ok(reply) => reply,
        Err(e) => {
            return s.fail(
                Feature::RateLimit,
                e,
                Some(RateLimitDecision {
                    allowed: true,
                    remaining: policy.limit.saturating_sub(1),
                    retry_after: Duration::ZERO,
                }),
                Some(RateLimitDecision {
                    allowed: false,
                    remaining: 0,
                    retry_after: policy.window,
                }),
            );
        }
    };
    match reply.as_slice() {
        [1, remaining, _] => Ok(RateLimitDecision {
            allowed: true,
            remaining: u32::try_from(*remaining).unwrap_or(0),
            retry_after: Duration::ZERO,
        }),
        [0, _, retry_us] => Ok(RateLimitDecision {
            allowed: false,
            remaining: 0,
            retry_after: Duration::from_micros(u64::try_from(*retry_us).unwrap_or(1)),
        }),
        other => Err(StoreError::backend_message(format!(
            "unexpected answer of the rate-limit script: {other:?}"
        ))),
    }
}

/// `DEL <prefix>ratelimit:<key>`. On failure: the rate-limit policy (by
/// default open: logged, `Ok(())`).
pub(crate) async fn reset_rate_limit<C: RedisConnection>(
    s: &RedisStore<C>,
    key: &StateKey,
) -> StoreResult<()> {
    let mut cmd = redis::cmd("DEL");
    cmd.arg(s.keys.rate_limit(key));
    match s.query::<i64>(true, &cmd).await {
        Ok(_) => Ok(()),
        Err(e) => s.fail(Feature::RateLimit, e, Some(()), None),
    }
}
