//! The short-lived stores of fullauth on Redis: token blacklist, login
//! lockout, rate limits and one-time challenges.
//!
//! Deployments with several application instances keep this state in one
//! Redis so that every instance sees a logout, a lockout or a rate limit at
//! once. [`RedisStore`] implements [`fullauth_api::BlacklistStore`],
//! [`fullauth_api::LockoutStore`], [`fullauth_api::RateLimitStore`] and
//! [`fullauth_api::ChallengeStore`] with the key layout and value encoding of
//! fastapi-fullauth 0.18, so a Python and a Rust service on one Redis honour
//! each other's blacklist entries, lockouts, rate limits and challenges.
//! Pair it with a durable backend (`fullauth-postgres`, `fullauth-sqlite`)
//! for users and tokens.
//!
//! ```no_run
//! use std::time::Duration;
//! use fullauth_api::{BlacklistStore, LockoutOutcome, LockoutPolicy, LockoutStore, StateKey};
//! use fullauth_redis::RedisStore;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), fullauth_api::StoreError> {
//! let store = RedisStore::connect("redis://127.0.0.1:6379").await?;
//!
//! // Logout: blacklist the access token's jti for its remaining lifetime.
//! let jti = StateKey::new("0b9e2c6d5f0a4c1e8a7d3b2f1e0c9d8a")?;
//! store.blacklist(&jti, Duration::from_secs(900)).await?;
//! assert!(store.is_blacklisted(&jti).await?);
//!
//! // A failed login.
//! let login = StateKey::new("ada@example.com")?;
//! let policy = LockoutPolicy { max_attempts: 5, duration: Duration::from_secs(900) };
//! match store.record_failure(&login, policy).await? {
//!     LockoutOutcome::Counted { attempts } => println!("{attempts} failures"),
//!     LockoutOutcome::Locked { until } | LockoutOutcome::AlreadyLocked { until } => {
//!         println!("locked until {until}")
//!     }
//! }
//! # Ok(()) }
//! ```
//!
//! Settings go through [`RedisStore::builder`]; an application that already
//! has a [`redis::aio::ConnectionManager`] passes it to
//! [`RedisStore::from_manager`] or [`RedisStoreBuilder::build`]. The store is
//! also a whole [`fullauth_api::Store`]: the durable traits answer
//! [`fullauth_api::StoreError::FeatureDisabled`], and
//! [`fullauth_api::DurableStore::features`] reports the four short-lived
//! features.
//!
//! # Key layout
//!
//! `<prefix>` is `fullauth:` unless set with
//! [`RedisStoreBuilder::key_prefix`]; `<key>` is the [`fullauth_api::StateKey`]
//! byte for byte. [`KeyLayout`] computes the names.
//!
//! | feature | key | type | written with | read with |
//! | --- | --- | --- | --- | --- |
//! | blacklist | `<prefix>blacklist:<key>` | string `1` | `SET … 1 EX <secs>` | `EXISTS k1 [k2 …]` (one round trip) |
//! | lockout counter | `<prefix>lockout:attempts:<key>` | integer | `INCR` + `PEXPIRE <duration>` (script) | script |
//! | lockout lock | `<prefix>lockout:locked:<key>` | string `1` | `SET … 1 PXAT <now + duration>` (script) | `EXISTS`; expiry by `PEXPIRETIME` |
//! | rate limit | `<prefix>ratelimit:<key>` | sorted set, member `"<unix secs>.<µs>:<16 hex>"`, score the same time | script: `ZREMRANGEBYSCORE`, `ZCARD`, `ZADD`, `PEXPIRE <window>` | script |
//! | challenge | `<prefix>challenge:<key>` | string (the challenge) | `SET … PX <ttl>` | `GETDEL` |
//!
//! These are the reference's keys and values. Where the reference runs
//! several commands in a `MULTI` pipeline and decides in between (lockout,
//! rate limit), this crate runs one Lua script (`EVALSHA`, loaded again after
//! a server restart), so the step is atomic: of N concurrent failures exactly
//! one locks, of N concurrent hits exactly `limit` pass. The scripts read the
//! time from the server (`TIME`), so several application instances agree on
//! windows and lock ends whatever their own clocks say; entries written by
//! the reference carry its host's clock, which should be close.
//!
//! Details that differ from the reference without breaking it: lock and
//! counter expiries and challenge TTLs are set in milliseconds rather than
//! whole seconds (the reference reads none of them); a challenge stored with a
//! zero TTL deletes the key (the reference skips the write and keeps any older
//! value); a blacklist TTL is rounded up to whole seconds with a floor of one
//! ([`fullauth_api::ttl_seconds`]), as in the reference. TTLs, locks and
//! windows are capped at [`MAX_TTL`] (100 years). `GETDEL` and `SET … PXAT`
//! need Redis 6.2 or later, as the reference does; `PEXPIRETIME` is used on
//! Redis 7 and replaced by `TIME` + `PTTL` before.
//!
//! ## Redis Cluster
//!
//! The lockout script touches two keys, which Redis Cluster accepts only in
//! one hash slot, and the reference's names do not guarantee that. With
//! [`RedisStoreBuilder::cluster_hash_tags`] on, the login key of the two
//! lockout keys is wrapped in a hash tag — `<prefix>lockout:attempts:{<key>}`
//! and `<prefix>lockout:locked:{<key>}` (with `%`, `{` and `}` of the key
//! percent-encoded so the tag is never cut short) — and a multi-key
//! blacklist check sends one `EXISTS` per key instead of one `EXISTS` with
//! every key. The other keys touch one key per command and keep the
//! reference layout.
//!
//! The trade-off: with hash tags on, lockouts are no longer shared with a
//! Python service (it reads `…:locked:<key>` without braces), while the
//! blacklist, rate limits and challenges still are. Hash tags are therefore
//! off by default; turn them on for a cluster that only Rust services use.
//! Alternatively, leave them off and give a prefix with its own tag, such as
//! `{fullauth}:`: every key then lives in one slot (so one node), which works
//! on a cluster and keeps the layout, at the cost of spreading no load. For a
//! cluster, build the store with [`RedisStoreBuilder::build`] on a cluster
//! connection of the redis crate (its `cluster-async` feature).
//!
//! # Failure policy and timeouts
//!
//! Every call is bounded by the call timeout ([`DEFAULT_TIMEOUT`], 500 ms,
//! set with [`RedisStoreBuilder::timeout`]), so a hung Redis costs a request
//! at most that long. What a failed call answers — an error from Redis, a
//! lost connection, or no answer in time — is each feature's
//! [`FailurePolicy`]:
//!
//! | feature | default | a failed check answers | other methods |
//! | --- | --- | --- | --- |
//! | blacklist | [`FailurePolicy::Closed`] | `is_blacklisted` / `any_blacklisted`: `true` (the token is refused) | `blacklist`: the error |
//! | lockout | [`FailurePolicy::Open`] | `is_locked`: `false` | `record_failure`: `Counted { attempts: 0 }` (nothing counted); `clear_lockout`: logged, `Ok` |
//! | rate limit | [`FailurePolicy::Open`] | `hit`: allowed, `remaining = limit − 1` | `reset_rate_limit`: logged, `Ok` |
//! | challenges | [`FailurePolicy::Error`] | `take_challenge`: [`fullauth_api::StoreError::Unavailable`] | `put_challenge`: the error |
//!
//! These are the reference's choices (the blacklist fails closed so an outage
//! never lets a revoked token through; lockout and rate limiting fail open so
//! an outage does not lock everyone out). Every policy can be changed with
//! the builder; [`FailurePolicy`] lists what each one answers for every
//! method. An answer given by a policy is logged with `tracing::warn!`.
//! Writes that add state (`blacklist`, `put_challenge`) always report their
//! failure. A lost connection is [`fullauth_api::StoreError::Unavailable`]
//! (retryable); invalid input is refused before any call, whatever the
//! policy.
//!
//! # Reliability
//!
//! The default connection is a [`redis::aio::ConnectionManager`]: after
//! Redis restarts or drops the connection (`CLIENT KILL`), the next calls
//! reconnect without recreating the store, and scripts are loaded again
//! when the server has forgotten them. A command that is safe to repeat
//! (`EXISTS`, `SET`, `DEL`) is retried once, within the same timeout, when
//! the connection turned out to be lost, so a blacklist check right after a
//! reconnect does not fail closed for nothing. The lockout and rate-limit
//! scripts and `GETDEL` are never retried, since the lost answer may hide a
//! step that happened; such a call follows its failure policy. Each
//! operation is one command or one script, so a dropped connection or a
//! cancelled future never leaves half of it applied.
//!
//! Every call runs in a `tracing` span `fullauth.store` with `backend =
//! "redis"` and the operation's name.

#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod blacklist;
mod challenges;
mod durable;
mod keys;
mod lockout;
mod policy;
mod rate_limit;
mod store;

pub use keys::{DEFAULT_PREFIX, KeyLayout};
pub use policy::{FailurePolicies, FailurePolicy};
pub use redis;
pub use store::{DEFAULT_TIMEOUT, MAX_TTL, RedisConnection, RedisStore, RedisStoreBuilder};
