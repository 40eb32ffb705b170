//! What the four short-lived stores share: purging expired rows.
//!
//! Expired rows are invisible to every read (each compares its `expires_at`
//! with the clock's now), so purging is only about space: every 256th
//! short-lived write purges all four tables in the same call, and
//! [`crate::SqliteStore::purge_expired`] does it on demand.

use fullauth_api::{Feature, Features, StoreResult, Timestamp};
use rusqlite::Connection;

use crate::codec::{Db, ts};
use crate::pool::Handle;

const EVERY: u64 = 256;

const TABLES: [(Feature, &str); 4] = [
    (Feature::Blacklist, "fullauth_blacklist"),
    (Feature::Lockout, "fullauth_lockout"),
    (Feature::RateLimit, "fullauth_rate_limit"),
    (Feature::Challenges, "fullauth_challenges"),
];

/// Deletes expired rows of the short-lived tables the store serves; returns
/// how many.
pub(crate) fn purge(c: &Connection, features: Features, now: Timestamp) -> StoreResult<u64> {
    let now = ts(now);
    let mut total = 0u64;
    for (feature, table) in TABLES {
        if features.contains(feature) {
            let n = c
                .prepare_cached(&format!("DELETE FROM {table} WHERE expires_at <= ?1"))
                .db()?
                .execute([&now])
                .db()?;
            total += n as u64;
        }
    }
    Ok(total)
}

/// Purges now and then (called inside short-lived writes).
pub(crate) fn maybe_purge(h: &Handle, c: &Connection, now: Timestamp) -> StoreResult<()> {
    if h.shared.time_to_purge(EVERY) {
        purge(c, h.shared.features, now)?;
    }
    Ok(())
}
