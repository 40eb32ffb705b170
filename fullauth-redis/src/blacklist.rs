//! Token blacklist ([`BlacklistStore`]): `SET <prefix>blacklist:<key> 1 EX
//! <ttl>`, checked with `EXISTS`.

use std::time::Duration;

use async_trait::async_trait;
use fullauth_api::{BlacklistStore, Feature, StateKey, StoreResult, ttl_seconds};

use crate::store::{MAX_TTL, RedisConnection, RedisStore};

#[async_trait]
impl<C: RedisConnection> BlacklistStore for RedisStore<C> {
    /// `SET <prefix>blacklist:<key> 1 EX <secs>` with the TTL rounded up to
    /// whole seconds, at least one ([`ttl_seconds`]) and at most
    /// [`MAX_TTL`]. Errors always reach the caller, whatever the policy.
    async fn blacklist(&self, key: &StateKey, ttl: Duration) -> StoreResult<()> {
        let secs = ttl_seconds(ttl.min(MAX_TTL));
        let mut cmd = redis::cmd("SET");
        cmd.arg(self.keys.blacklist(key))
            .arg("1")
            .arg("EX")
            .arg(secs);
        self.query::<()>("blacklist", true, &cmd).await
    }

    /// `EXISTS <prefix>blacklist:<key>`. On failure: the blacklist policy
    /// (by default closed: `true`).
    async fn is_blacklisted(&self, key: &StateKey) -> StoreResult<bool> {
        let mut cmd = redis::cmd("EXISTS");
        cmd.arg(self.keys.blacklist(key));
        match self.query::<i64>("is_blacklisted", true, &cmd).await {
            Ok(n) => Ok(n > 0),
            Err(e) => self.fail(
                Feature::Blacklist,
                "is_blacklisted",
                e,
                Some(false),
                Some(true),
            ),
        }
    }

    /// One `EXISTS k1 k2 …` (one round trip). With cluster hash tags the
    /// keys may live in different slots, so each key gets its own `EXISTS`,
    /// sent together on the multiplexed connection. On failure: the
    /// blacklist policy (by default closed: `true`).
    async fn any_blacklisted(&self, keys: &[StateKey]) -> StoreResult<bool> {
        if keys.is_empty() {
            return Ok(false);
        }
        let result = if self.keys.hash_tags() && keys.len() > 1 {
            let cmds: Vec<redis::Cmd> = keys
                .iter()
                .map(|k| {
                    let mut cmd = redis::cmd("EXISTS");
                    cmd.arg(self.keys.blacklist(k));
                    cmd
                })
                .collect();
            self.bounded("any_blacklisted", async {
                let counts = futures::future::try_join_all(
                    cmds.iter()
                        .map(|cmd| self.run::<i64>("any_blacklisted", true, cmd)),
                )
                .await?;
                Ok(counts.into_iter().sum::<i64>())
            })
            .await
        } else {
            let mut cmd = redis::cmd("EXISTS");
            for k in keys {
                cmd.arg(self.keys.blacklist(k));
            }
            self.query::<i64>("any_blacklisted", true, &cmd).await
        };
        match result {
            Ok(n) => Ok(n > 0),
            Err(e) => self.fail(
                Feature::Blacklist,
                "any_blacklisted",
                e,
                Some(false),
                Some(true),
            ),
        }
    }
}
