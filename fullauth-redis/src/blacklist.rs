//! Token blacklist ([`fullauth_api::BlacklistStore`]): `SET
//! <prefix>blacklist:<key> 1 EX <ttl>`, checked with `EXISTS`.

use std::time::Duration;

use fullauth_api::{Feature, StateKey, StoreResult, ttl_seconds};

use crate::store::{MAX_TTL, RedisConnection, RedisStore};

/// `SET <prefix>blacklist:<key> 1 EX <secs>` with the TTL rounded up to
/// whole seconds, at least one ([`ttl_seconds`]) and at most [`MAX_TTL`].
/// Errors always reach the caller, whatever the policy.
pub(crate) async fn blacklist<C: RedisConnection>(
    s: &RedisStore<C>,
    key: &StateKey,
    ttl: Duration,
) -> StoreResult<()> {
    let secs = ttl_seconds(ttl.min(MAX_TTL));
    let mut cmd = redis::cmd("SET");
    cmd.arg(s.keys.blacklist(key)).arg("1").arg("EX").arg(secs);
    s.query::<()>(true, &cmd).await
}

/// `EXISTS <prefix>blacklist:<key>`. On failure: the blacklist policy (by
/// default closed: `true`).
pub(crate) async fn is_blacklisted<C: RedisConnection>(
    s: &RedisStore<C>,
    key: &StateKey,
) -> StoreResult<bool> {
    let mut cmd = redis::cmd("EXISTS");
    cmd.arg(s.keys.blacklist(key));
    match s.query::<i64>(true, &cmd).await {
        Ok(n) => Ok(n > 0),
        Err(e) => s.fail(Feature::Blacklist, e, Some(false), Some(true)),
    }
}

/// One `EXISTS k1 k2 …` (one round trip). With cluster hash tags the keys
/// may live in different slots, so each key gets its own `EXISTS`, sent
/// together on the multiplexed connection. On failure: the blacklist policy
/// (by default closed: `true`).
pub(crate) async fn any_blacklisted<C: RedisConnection>(
    s: &RedisStore<C>,
    keys: &[StateKey],
) -> StoreResult<bool> {
    if keys.is_empty() {
        return Ok(false);
    }
    let result = if s.keys.hash_tags() && keys.len() > 1 {
        let cmds: Vec<redis::Cmd> = keys
            .iter()
            .map(|k| {
                let mut cmd = redis::cmd("EXISTS");
                cmd.arg(s.keys.blacklist(k));
                cmd
            })
            .collect();
        s.bounded(async {
            let counts =
                futures::future::try_join_all(cmds.iter().map(|cmd| s.run::<i64>(true, cmd)))
                    .await?;
            Ok(counts.into_iter().sum::<i64>())
        })
        .await
    } else {
        let mut cmd = redis::cmd("EXISTS");
        for k in keys {
            cmd.arg(s.keys.blacklist(k));
        }
        s.query::<i64>(true, &cmd).await
    };
    match result {
        Ok(n) => Ok(n > 0),
        Err(e) => s.fail(Feature::Blacklist, e, Some(false), Some(true)),
    }
}
