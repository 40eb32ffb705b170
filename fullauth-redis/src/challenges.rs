//! One-time challenges ([`ChallengeStore`]): `SET <prefix>challenge:<key>
//! <value> PX <ttl>`, taken with `GETDEL`.

use std::time::Duration;

use async_trait::async_trait;
use fullauth_api::{ChallengeStore, Feature, StateKey, StoreError, StoreResult, Text};

use crate::store::{MAX_TTL, RedisConnection, RedisStore};

#[async_trait]
impl<C: RedisConnection> ChallengeStore for RedisStore<C> {
    /// `SET <prefix>challenge:<key> <value> PX <ms>` with the TTL rounded up
    /// to whole milliseconds (at most [`MAX_TTL`]). A zero TTL stores
    /// nothing: like the reference it writes no entry, and it deletes any
    /// previous value of the key, so nothing can be taken. Errors always
    /// reach the caller, whatever the policy.
    async fn put_challenge(&self, key: &StateKey, value: &Text, ttl: Duration) -> StoreResult<()> {
        let redis_key = self.keys.challenge(key);
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
        self.query::<()>("put_challenge", true, &cmd).await
    }

    /// `GETDEL <prefix>challenge:<key>`: atomic, so of N concurrent takes
    /// exactly one gets the value; Redis never returns an expired entry.
    /// Never retried (a lost answer may hide a take that happened). On
    /// failure: the challenges policy (by default the error; `Open` and
    /// `Closed` answer `None`).
    ///
    /// A stored value that is not valid [`Text`] (written by another
    /// program) is a [`StoreError::Backend`]; it is gone all the same.
    async fn take_challenge(&self, key: &StateKey) -> StoreResult<Option<Text>> {
        let mut cmd = redis::cmd("GETDEL");
        cmd.arg(self.keys.challenge(key));
        let raw = match self
            .query::<Option<Vec<u8>>>("take_challenge", false, &cmd)
            .await
        {
            Ok(raw) => raw,
            Err(e) => {
                return self.fail(
                    Feature::Challenges,
                    "take_challenge",
                    e,
                    Some(None),
                    Some(None),
                );
            }
        };
        raw.map(|bytes| {
            String::from_utf8(bytes)
                .map_err(|e| StoreError::backend("the stored challenge is not UTF-8", e))
                .and_then(|s| {
                    Text::new(s).map_err(|e| {
                        StoreError::backend("the stored challenge is not valid text", e)
                    })
                })
        })
        .transpose()
    }
}
