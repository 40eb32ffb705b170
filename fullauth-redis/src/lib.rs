#![doc = include_str!("../README.md")]
#![cfg_attr(docsrs, feature(doc_cfg))]
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

fullauth_api::backend_impls!(impl<C: RedisConnection> RedisStore<C>: short_lived);
