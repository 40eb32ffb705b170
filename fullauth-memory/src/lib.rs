#![doc = include_str!("../README.md")]
#![cfg_attr(docsrs, feature(doc_cfg))]
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod blacklist;
mod builder;
mod challenges;
mod columns;
mod lockout;
mod mfa;
mod oauth;
mod passkeys;
mod permissions;
mod rate_limit;
mod roles;
mod state;
mod store;
#[cfg(test)]
mod tests;
mod tokens;
mod transaction;
mod users;

pub use builder::MemoryStoreBuilder;
pub use columns::ColumnType;
pub use store::MemoryStore;

use transaction::MemoryTransaction;

fullauth_api::backend_impls!(MemoryStore: durable, short_lived);
fullauth_api::backend_impls!(MemoryTransaction: durable);
