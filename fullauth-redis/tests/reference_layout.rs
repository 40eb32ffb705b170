//! Interoperability with fastapi-fullauth 0.18: entries written by hand in
//! the reference's key layout and encoding (as the Python library writes
//! them, under its default prefix `fullauth:`) are honoured by the store,
//! and the store's own entries have that layout. Needs
//! `FULLAUTH_TEST_REDIS_URL`. Every key has a random part and is deleted at
//! the end.

mod common;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use fullauth_api::{
    BlacklistStore, ChallengeStore, LockoutOutcome, LockoutPolicy, LockoutStore, RateLimitPolicy,
    RateLimitStore, StateKey, Text, Timestamp,
};
use fullauth_redis::RedisStore;
use fullauth_redis::redis::{self, aio::MultiplexedConnection};

fn tag() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

fn key(s: &str) -> StateKey {
    StateKey::new(s).unwrap()
}

/// Python's `time.time()`.
fn py_time() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
}

async fn cmd<T: redis::FromRedisValue>(c: &mut MultiplexedConnection, args: &[&str]) -> T {
    let mut cmd = redis::cmd(args[0]);
    for a in &args[1..] {
        cmd.arg(*a);
    }
    cmd.query_async(c).await.unwrap()
}

async fn setup() -> Option<(RedisStore, MultiplexedConnection)> {
    let url = common::redis_url()?;
    // The reference's default prefix, so the names are exactly Python's.
    let store = common::store(&url, "fullauth:", false).await;
    Some((store, common::raw(&url).await))
}

#[tokio::test]
async fn blacklist_entries_are_shared_with_the_reference() {
    let Some((store, mut c)) = setup().await else {
        return;
    };
    let jti = tag();
    let family = format!("family:{}", tag());
    // What Python's TokenBlacklist.add writes.
    let _: () = cmd(
        &mut c,
        &["SET", &format!("fullauth:blacklist:{jti}"), "1", "EX", "60"],
    )
    .await;
    let _: () = cmd(
        &mut c,
        &[
            "SET",
            &format!("fullauth:blacklist:{family}"),
            "1",
            "EX",
            "1830",
        ],
    )
    .await;

    assert!(store.is_blacklisted(&key(&jti)).await.unwrap());
    assert!(store.is_blacklisted(&key(&family)).await.unwrap());
    assert!(
        store
            .any_blacklisted(&[key(&tag()), key(&family)])
            .await
            .unwrap()
    );
    assert!(
        !store
            .any_blacklisted(&[key(&tag()), key(&format!("family:{}", tag()))])
            .await
            .unwrap()
    );

    // What Python's is_blacklisted / is_any_blacklisted read of ours.
    let ours = tag();
    store
        .blacklist(&key(&ours), Duration::from_millis(1500))
        .await
        .unwrap();
    let name = format!("fullauth:blacklist:{ours}");
    let value: String = cmd(&mut c, &["GET", &name]).await;
    assert_eq!(value, "1");
    let ttl: i64 = cmd(&mut c, &["TTL", &name]).await;
    assert_eq!(ttl, 2, "1.5 s rounds up to 2 s");
    let exists: i64 = cmd(
        &mut c,
        &["EXISTS", &format!("fullauth:blacklist:{jti}"), &name],
    )
    .await;
    assert_eq!(exists, 2);

    let _: i64 = cmd(
        &mut c,
        &[
            "DEL",
            &format!("fullauth:blacklist:{jti}"),
            &format!("fullauth:blacklist:{family}"),
            &name,
        ],
    )
    .await;
}

#[tokio::test]
async fn lockout_entries_are_shared_with_the_reference() {
    let Some((store, mut c)) = setup().await else {
        return;
    };
    let policy = LockoutPolicy {
        max_attempts: 5,
        duration: Duration::from_secs(900),
    };

    // A lock Python set: SET fullauth:lockout:locked:<key> 1 EX 900.
    let locked = format!("{}@example.test", tag());
    let locked_key = format!("fullauth:lockout:locked:{locked}");
    let _: () = cmd(&mut c, &["SET", &locked_key, "1", "EX", "900"]).await;
    assert!(store.is_locked(&key(&locked)).await.unwrap());
    let before = Timestamp::now();
    match store.record_failure(&key(&locked), policy).await.unwrap() {
        LockoutOutcome::AlreadyLocked { until } => {
            let left = before.until(until);
            assert!(
                left > Duration::from_secs(895) && left <= Duration::from_secs(901),
                "{left:?}"
            );
        }
        other => panic!("expected AlreadyLocked, got {other:?}"),
    }
    let ttl: i64 = cmd(&mut c, &["TTL", &locked_key]).await;
    assert!(ttl > 890, "the lock was not shortened");

    // Four failures Python counted (INCR + EXPIRE): ours is the fifth and locks.
    let counted = format!("{}@example.test", tag());
    let attempts_key = format!("fullauth:lockout:attempts:{counted}");
    let counted_lock = format!("fullauth:lockout:locked:{counted}");
    let _: () = cmd(&mut c, &["SET", &attempts_key, "4", "EX", "900"]).await;
    assert!(matches!(
        store.record_failure(&key(&counted), policy).await.unwrap(),
        LockoutOutcome::Locked { .. }
    ));
    // What Python's is_locked (GET) and record_failure expect to find.
    let value: Option<String> = cmd(&mut c, &["GET", &counted_lock]).await;
    assert_eq!(value.as_deref(), Some("1"));
    let gone: i64 = cmd(&mut c, &["EXISTS", &attempts_key]).await;
    assert_eq!(gone, 0, "the counter is deleted when the lock is set");
    let ttl: i64 = cmd(&mut c, &["TTL", &counted_lock]).await;
    assert!((899..=900).contains(&ttl), "{ttl}");

    // Our counter is Python's counter: an integer with the window as TTL.
    let fresh = format!("{}@example.test", tag());
    assert_eq!(
        store.record_failure(&key(&fresh), policy).await.unwrap(),
        LockoutOutcome::Counted { attempts: 1 }
    );
    let fresh_attempts = format!("fullauth:lockout:attempts:{fresh}");
    let n: String = cmd(&mut c, &["GET", &fresh_attempts]).await;
    assert_eq!(n, "1");
    let ttl: i64 = cmd(&mut c, &["TTL", &fresh_attempts]).await;
    assert!((899..=900).contains(&ttl), "{ttl}");

    // Python's clear deletes both keys; ours too.
    store.clear_lockout(&key(&counted)).await.unwrap();
    assert!(!store.is_locked(&key(&counted)).await.unwrap());

    let _: i64 = cmd(
        &mut c,
        &[
            "DEL",
            &locked_key,
            &attempts_key,
            &counted_lock,
            &fresh_attempts,
        ],
    )
    .await;
}

#[tokio::test]
async fn rate_limit_entries_are_shared_with_the_reference() {
    let Some((store, mut c)) = setup().await else {
        return;
    };
    let route = format!("login:10.0.{}", tag());
    let name = format!("fullauth:ratelimit:{route}");
    // Three requests Python recorded: members "<time.time()>:<16 hex>".
    let first = py_time() - 10.0;
    for i in 0..3 {
        let at = first + f64::from(i);
        let member = format!("{at}:{}", &tag()[..16]);
        let _: i64 = cmd(&mut c, &["ZADD", &name, &at.to_string(), &member]).await;
    }
    let _: i64 = cmd(&mut c, &["EXPIRE", &name, "60"]).await;

    // A limit of 3 per minute: refused, and not recorded.
    let three = RateLimitPolicy {
        limit: 3,
        window: Duration::from_secs(60),
    };
    let d = store.hit(&key(&route), three).await.unwrap();
    assert!(!d.allowed);
    assert_eq!(d.remaining, 0);
    // The oldest request (10 s ago) leaves the window in about 50 s.
    assert!(
        d.retry_after > Duration::from_secs(48) && d.retry_after <= Duration::from_secs(51),
        "{:?}",
        d.retry_after
    );
    let count: i64 = cmd(&mut c, &["ZCARD", &name]).await;
    assert_eq!(count, 3);

    // A limit of 4: allowed, recorded in the reference's member format.
    let four = RateLimitPolicy { limit: 4, ..three };
    let d = store.hit(&key(&route), four).await.unwrap();
    assert!(d.allowed);
    assert_eq!(d.remaining, 0);
    let members: Vec<(String, f64)> =
        cmd(&mut c, &["ZRANGE", &name, "0", "-1", "WITHSCORES"]).await;
    assert_eq!(members.len(), 4);
    let (newest, score) = members.last().unwrap();
    let (time_part, hex) = newest.split_once(':').unwrap();
    assert_eq!(hex.len(), 16);
    assert!(hex.chars().all(|ch| ch.is_ascii_hexdigit()));
    let member_time: f64 = time_part.parse().unwrap();
    assert!(
        (member_time - score).abs() < 1e-6,
        "the score is the member's time"
    );
    assert!(
        (score - py_time()).abs() < 5.0,
        "the server's clock is the host's"
    );
    let ttl: i64 = cmd(&mut c, &["TTL", &name]).await;
    assert!((59..=60).contains(&ttl));

    // A window of 5 s: Python's old entries are outside it and dropped.
    let short = RateLimitPolicy {
        limit: 1,
        window: Duration::from_secs(5),
    };
    let other_route = format!("login:10.1.{}", tag());
    let other = format!("fullauth:ratelimit:{other_route}");
    let old = py_time() - 30.0;
    let _: i64 = cmd(
        &mut c,
        &[
            "ZADD",
            &other,
            &old.to_string(),
            &format!("{old}:0123456789abcdef"),
        ],
    )
    .await;
    assert!(store.hit(&key(&other_route), short).await.unwrap().allowed);

    store.reset_rate_limit(&key(&route)).await.unwrap();
    let gone: i64 = cmd(&mut c, &["EXISTS", &name]).await;
    assert_eq!(gone, 0);
    let _: i64 = cmd(&mut c, &["DEL", &name, &other]).await;
}

#[tokio::test]
async fn challenges_are_shared_with_the_reference() {
    let Some((store, mut c)) = setup().await else {
        return;
    };
    // What Python's ChallengeStore.store writes for a registration ceremony.
    let reg = format!("passkey:reg:{}", tag());
    let value = "q3Vx0kJ4n1lGm8Yc2_7u-QpZr5T9aWbE";
    let _: () = cmd(
        &mut c,
        &[
            "SET",
            &format!("fullauth:challenge:{reg}"),
            value,
            "EX",
            "60",
        ],
    )
    .await;
    assert_eq!(
        store
            .take_challenge(&key(&reg))
            .await
            .unwrap()
            .map(String::from)
            .as_deref(),
        Some(value)
    );
    assert_eq!(
        store.take_challenge(&key(&reg)).await.unwrap(),
        None,
        "taken once"
    );

    // What Python's pop (GETDEL) reads of ours.
    let auth = format!("passkey:auth:{}", tag());
    store
        .put_challenge(
            &key(&auth),
            &Text::new(value).unwrap(),
            Duration::from_secs(60),
        )
        .await
        .unwrap();
    let name = format!("fullauth:challenge:{auth}");
    let ttl: i64 = cmd(&mut c, &["TTL", &name]).await;
    assert!((59..=60).contains(&ttl));
    let popped: Option<String> = cmd(&mut c, &["GETDEL", &name]).await;
    assert_eq!(popped.as_deref(), Some(value));
    assert_eq!(store.take_challenge(&key(&auth)).await.unwrap(), None);

    // A zero TTL stores nothing.
    store
        .put_challenge(&key(&auth), &Text::new(value).unwrap(), Duration::ZERO)
        .await
        .unwrap();
    let exists: i64 = cmd(&mut c, &["EXISTS", &name]).await;
    assert_eq!(exists, 0);
}
