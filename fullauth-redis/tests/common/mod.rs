//! Helpers shared by the integration tests: the server URL, per-run key
//! prefixes and cleanup.
#![allow(dead_code)]

use std::io::Write as _;

use fullauth_redis::RedisStore;
use fullauth_redis::redis;

/// True under `CI=true`, where a missing or unreachable Redis is a failure.
pub fn is_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v.eq_ignore_ascii_case("true") || v == "1")
}

/// Writes straight to stderr, past the test harness's output capture, so the
/// message is seen even when the test passes.
pub fn loud(msg: &str) {
    let _ = writeln!(
        std::io::stderr(),
        "\n==================== fullauth-redis ====================\n{msg}\n========================================================\n"
    );
}

/// The test server from `FULLAUTH_TEST_REDIS_URL`. Without it: under
/// `CI=true` the test fails; otherwise a loud message and `None` (skip).
pub fn redis_url() -> Option<String> {
    match std::env::var("FULLAUTH_TEST_REDIS_URL") {
        Ok(url) if !url.trim().is_empty() => Some(url),
        _ if is_ci() => panic!(
            "CI=true but FULLAUTH_TEST_REDIS_URL is not set: the Redis tests of fullauth-redis cannot run"
        ),
        _ => {
            loud(
                "FULLAUTH_TEST_REDIS_URL is not set: SKIPPING the Redis tests.\n\
                 Run them with FULLAUTH_TEST_REDIS_URL=redis://127.0.0.1:6379 cargo test -p fullauth-redis",
            );
            None
        }
    }
}

/// A fresh key prefix, `fullauth-test-<random>:`, so runs never collide.
pub fn random_prefix() -> String {
    let id = uuid::Uuid::new_v4().simple().to_string();
    format!("fullauth-test-{}:", &id[..12])
}

/// A store on the test server with this prefix; a server that does not
/// answer fails the test (the URL was given, so it is meant to be there).
pub async fn store(url: &str, prefix: &str, hash_tags: bool) -> RedisStore {
    RedisStore::builder()
        .key_prefix(prefix)
        .cluster_hash_tags(hash_tags)
        .timeout(std::time::Duration::from_secs(2))
        .connect(url)
        .await
        .unwrap_or_else(|e| panic!("the Redis at {url} does not answer: {e}"))
}

/// A plain connection for writing and reading keys by hand.
pub async fn raw(url: &str) -> redis::aio::MultiplexedConnection {
    redis::Client::open(url)
        .unwrap_or_else(|e| panic!("bad URL {url}: {e}"))
        .get_multiplexed_async_connection()
        .await
        .unwrap_or_else(|e| panic!("the Redis at {url} does not answer: {e}"))
}

/// Deletes every key that starts with `prefix`.
pub async fn cleanup(conn: &mut redis::aio::MultiplexedConnection, prefix: &str) {
    let pattern = format!("{prefix}*");
    let mut cursor: u64 = 0;
    loop {
        let (next, keys): (u64, Vec<String>) = redis::cmd("SCAN")
            .arg(cursor)
            .arg("MATCH")
            .arg(&pattern)
            .arg("COUNT")
            .arg(500)
            .query_async(conn)
            .await
            .unwrap();
        if !keys.is_empty() {
            let _: i64 = redis::cmd("DEL")
                .arg(&keys)
                .query_async(conn)
                .await
                .unwrap();
        }
        if next == 0 {
            break;
        }
        cursor = next;
    }
}

/// The Redis Cluster hash slot of a key (CRC16/XMODEM of the hash tag or the
/// whole key, modulo 16384).
pub fn slot(key: &str) -> u16 {
    let bytes = key.as_bytes();
    let hashed = match bytes.iter().position(|&b| b == b'{') {
        Some(open) => match bytes[open + 1..].iter().position(|&b| b == b'}') {
            Some(len) if len > 0 => &bytes[open + 1..open + 1 + len],
            _ => bytes,
        },
        None => bytes,
    };
    let mut crc: u16 = 0;
    for &b in hashed {
        crc ^= u16::from(b) << 8;
        for _ in 0..8 {
            crc = if crc & 0x8000 != 0 {
                (crc << 1) ^ 0x1021
            } else {
                crc << 1
            };
        }
    }
    crc % 16384
}

/// The seed node of the test Redis Cluster from
/// `FULLAUTH_TEST_REDIS_CLUSTER_URL` (e.g. `redis://127.0.0.1:7100`, as
/// `.ci/redis-cluster start` makes it). Without it: under `CI=true` the test
/// fails; otherwise a loud message and `None` (skip).
pub fn cluster_url() -> Option<String> {
    match std::env::var("FULLAUTH_TEST_REDIS_CLUSTER_URL") {
        Ok(url) if !url.trim().is_empty() => Some(url),
        _ if is_ci() => panic!(
            "CI=true but FULLAUTH_TEST_REDIS_CLUSTER_URL is not set: the Redis Cluster tests of fullauth-redis cannot run"
        ),
        _ => {
            loud(
                "*** SKIPPING the Redis Cluster tests: FULLAUTH_TEST_REDIS_CLUSTER_URL is not set ***\n\
                 Run them with .ci/redis-cluster start and\n\
                 FULLAUTH_TEST_REDIS_CLUSTER_URL=redis://127.0.0.1:7100 cargo test -p fullauth-redis --test cluster",
            );
            None
        }
    }
}
