//! One-time challenges ([`fullauth_api::ChallengeStore`]): `SET
//! <prefix>challenge:<key> <value> PX <ttl>`, taken with `GETDEL`.

use std::time::Duration;

use fullauth_api::{Feature, StateKey, StoreError, StoreResult, Text};

use crate::store::{MAX_TTL, RedisConnection, RedisStore};

/// `SET <prefix>challenge:<key> <value> PX <ms>` with the TTL rounded up to
/// whole milliseconds (at most [`MAX_TTL`]). A zero TTL stores nothing: like
/// the reference it writes no entry, and it deletes any previous value of
/// the key, so nothing can be taken. Errors always reach the caller,
/// whatever the policy.
pub(crate) async fn put_challenge<C: RedisConnection>(
    s: &RedisStore<C>,
    key: &StateKey,
    value: &Text,
    ttl: Duration,
) -> StoreResult<()> {
    let redis_key = s.keys.challenge(key);
    let mut cmd;
    if ttl.is_zero() {
        cmd = redis::cmd("DEL");
        cmd.arg(redis_key);
    } else {
        let ttl = ttl.min(MAX_TTL);
        let ms = ttl.as_millis() + u128::from(ttl.subsec_nanos() % 1_000_000 > 0);
        cmd = redis::cmd("SET");
        cmd.arg(redis_key)
            .arg(value.as_str())
            .arg("PX")
            .arg(u64::try_from(ms).unwrap_or(u64::MAX));
    }
    s.query::<()>(true, &cmd).await
}

/// `GETDEL <prefix>challenge:<key>`: atomic, so of N concurrent takes
/// exactly one gets the value; Redis never returns an expired entry. Never
/// retried (a lost answer may hide a take that happened). On failure: the
/// challenges policy (by default the error; `Open` and `Closed` answer
/// `None`).
///
/// A stored value that is not valid [`Text`] (written by another program)
/// is a [`StoreError::Backend`]; it is gone all the same.
pub(crate) async fn take_challenge<C: RedisConnection>(
    s: &RedisStore<C>,
    key: &StateKey,
) -> StoreResult<Option<Text>> {
    let mut cmd = redis::cmd("GETDEL");
    cmd.arg(s.keys.challenge(key));
    let raw = match s.query::<Option<Vec<u8>>>(false, &cmd).await {
        Ok(raw) => raw,
        Err(e) => return s.fail(Feature::Challenges, e, Some(None), Some(None)),
    };
    raw.map(|bytes| {
        String::from_utf8(bytes)
            .map_err(|e| StoreError::backend("the stored challenge is not UTF-8", e))
            .and_then(|s| {
                Text::new(s)
                    .map_err(|e| StoreError::backend("the stored challenge is not valid text", e))
            })
    })
    .transpose()
}
