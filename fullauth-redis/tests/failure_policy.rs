//! What the store answers when Redis is unreachable or hung, and that it
//! answers within the call timeout. Needs no Redis: one store points at a
//! closed loopback port, another at a listener that accepts connections and
//! never answers.

use std::time::{Duration, Instant};

use fullauth_api::{
    BlacklistStore, ChallengeStore, LockoutOutcome, LockoutPolicy, LockoutStore, RateLimitPolicy,
    RateLimitStore, StateKey, StoreError, Text,
};
use fullauth_redis::{FailurePolicies, FailurePolicy, RedisStore};

const TIMEOUT: Duration = Duration::from_millis(300);
/// Scheduling slack on a loaded machine.
const SLACK: Duration = Duration::from_millis(400);

fn key(s: &str) -> StateKey {
    StateKey::new(s).unwrap()
}

const LOCKOUT: LockoutPolicy = LockoutPolicy {
    max_attempts: 3,
    duration: Duration::from_secs(60),
};
const RATE: RateLimitPolicy = RateLimitPolicy {
    limit: 5,
    window: Duration::from_secs(60),
};

async fn timed<T>(what: &str, fut: impl std::future::Future<Output = T>) -> T {
    let start = Instant::now();
    let out = fut.await;
    let elapsed = start.elapsed();
    assert!(
        elapsed <= TIMEOUT + SLACK,
        "{what} took {elapsed:?}, more than the {TIMEOUT:?} timeout"
    );
    out
}

/// `Unavailable`, retryable, naming the backend and the operation `op`.
fn unavailable<T: std::fmt::Debug>(op: &str, r: Result<T, StoreError>) {
    match r {
        Err(e @ StoreError::Unavailable { .. }) => {
            assert!(e.is_retryable());
            assert!(!e.is_contention());
            assert_eq!(e.context().backend(), Some("redis"), "{e}");
            assert_eq!(e.context().operation(), Some(op), "{e}");
        }
        other => panic!("{op}: expected Unavailable, got {other:?}"),
    }
}

fn store(url: &str, policies: FailurePolicies) -> RedisStore {
    RedisStore::builder()
        .timeout(TIMEOUT)
        .policies(policies)
        .connect_lazy(url)
        .unwrap()
}

/// The defaults: blacklist closed, lockout and rate limit open, challenges
/// error; additions always report the error.
async fn default_policies_hold(url: &str) {
    let s = store(url, FailurePolicies::default());
    let k = key("ada@example.com");

    assert!(timed("is_blacklisted", s.is_blacklisted(&k)).await.unwrap());
    assert!(
        timed(
            "any_blacklisted",
            s.any_blacklisted(&[k.clone(), key("family:f")])
        )
        .await
        .unwrap()
    );
    assert!(
        !timed("empty any_blacklisted", s.any_blacklisted(&[]))
            .await
            .unwrap()
    );
    unavailable(
        "blacklist",
        timed("blacklist", s.blacklist(&k, Duration::from_secs(5))).await,
    );

    assert!(!timed("is_locked", s.is_locked(&k)).await.unwrap());
    assert_eq!(
        timed("record_failure", s.record_failure(&k, LOCKOUT))
            .await
            .unwrap(),
        LockoutOutcome::Counted { attempts: 0 }
    );
    timed("clear_lockout", s.clear_lockout(&k)).await.unwrap();

    let d = timed("hit", s.hit(&k, RATE)).await.unwrap();
    assert!(d.allowed);
    assert_eq!(d.remaining, 4);
    assert_eq!(d.retry_after, Duration::ZERO);
    timed("reset_rate_limit", s.reset_rate_limit(&k))
        .await
        .unwrap();

    unavailable(
        "take_challenge",
        timed("take_challenge", s.take_challenge(&k)).await,
    );
    unavailable(
        "put_challenge",
        timed(
            "put_challenge",
            s.put_challenge(&k, &Text::new("c").unwrap(), Duration::from_secs(5)),
        )
        .await,
    );

    // Invalid input is refused before any call, whatever the policy.
    let bad = LockoutPolicy {
        max_attempts: 0,
        ..LOCKOUT
    };
    assert!(matches!(
        s.record_failure(&k, bad).await,
        Err(StoreError::InvalidInput { .. })
    ));
    let bad = RateLimitPolicy { limit: 0, ..RATE };
    assert!(matches!(
        s.hit(&k, bad).await,
        Err(StoreError::InvalidInput { .. })
    ));
}

/// Every feature closed.
async fn closed_policies_hold(url: &str) {
    let all = FailurePolicies {
        blacklist: FailurePolicy::Closed,
        lockout: FailurePolicy::Closed,
        rate_limit: FailurePolicy::Closed,
        challenges: FailurePolicy::Closed,
    };
    let s = store(url, all);
    let k = key("closed");
    assert!(timed("is_blacklisted", s.is_blacklisted(&k)).await.unwrap());
    assert!(timed("is_locked", s.is_locked(&k)).await.unwrap());
    let before = fullauth_api::Timestamp::now();
    match timed("record_failure", s.record_failure(&k, LOCKOUT))
        .await
        .unwrap()
    {
        LockoutOutcome::AlreadyLocked { until } => assert!(until >= before + LOCKOUT.duration),
        other => panic!("expected AlreadyLocked, got {other:?}"),
    }
    unavailable(
        "clear_lockout",
        timed("clear_lockout", s.clear_lockout(&k)).await,
    );
    let d = timed("hit", s.hit(&k, RATE)).await.unwrap();
    assert!(!d.allowed);
    assert_eq!(d.remaining, 0);
    assert_eq!(d.retry_after, RATE.window);
    unavailable(
        "reset_rate_limit",
        timed("reset", s.reset_rate_limit(&k)).await,
    );
    assert_eq!(
        timed("take_challenge", s.take_challenge(&k)).await.unwrap(),
        None
    );
}

/// Every feature open.
async fn open_policies_hold(url: &str) {
    let all = FailurePolicies {
        blacklist: FailurePolicy::Open,
        lockout: FailurePolicy::Open,
        rate_limit: FailurePolicy::Open,
        challenges: FailurePolicy::Open,
    };
    let s = store(url, all);
    let k = key("open");
    assert!(!timed("is_blacklisted", s.is_blacklisted(&k)).await.unwrap());
    assert!(
        !timed(
            "any_blacklisted",
            s.any_blacklisted(std::slice::from_ref(&k))
        )
        .await
        .unwrap()
    );
    assert_eq!(
        timed("take_challenge", s.take_challenge(&k)).await.unwrap(),
        None
    );
    unavailable(
        "blacklist",
        timed("blacklist", s.blacklist(&k, Duration::from_secs(1))).await,
    );
}

/// Every feature reports the error.
async fn error_policies_hold(url: &str) {
    let all = FailurePolicies {
        blacklist: FailurePolicy::Error,
        lockout: FailurePolicy::Error,
        rate_limit: FailurePolicy::Error,
        challenges: FailurePolicy::Error,
    };
    let s = store(url, all);
    let k = key("error");
    unavailable(
        "is_blacklisted",
        timed("is_blacklisted", s.is_blacklisted(&k)).await,
    );
    unavailable("is_locked", timed("is_locked", s.is_locked(&k)).await);
    unavailable(
        "record_failure",
        timed("record_failure", s.record_failure(&k, LOCKOUT)).await,
    );
    unavailable("hit", timed("hit", s.hit(&k, RATE)).await);
    unavailable(
        "clear_lockout",
        timed("clear_lockout", s.clear_lockout(&k)).await,
    );
}

async fn all_policies(url: &str) {
    default_policies_hold(url).await;
    closed_policies_hold(url).await;
    open_policies_hold(url).await;
    error_policies_hold(url).await;
}

/// Nothing listens on port 1: every connection attempt is refused.
#[tokio::test]
async fn unreachable_redis_follows_the_policies_within_the_timeout() {
    all_policies("redis://127.0.0.1:1").await;
}

/// A server that accepts connections and never answers: every call must
/// give up after the timeout.
#[tokio::test]
async fn hung_redis_follows_the_policies_within_the_timeout() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let holder = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    all_policies(&format!("redis://{addr}")).await;
    holder.abort();
}

#[tokio::test]
async fn connect_reports_an_unreachable_server() {
    let start = Instant::now();
    let r = RedisStore::builder()
        .timeout(TIMEOUT)
        .connect("redis://127.0.0.1:1")
        .await;
    assert!(start.elapsed() <= TIMEOUT + SLACK);
    // connect is the lazy store and a PING.
    unavailable("ping", r.map(|_| ()));
}

#[tokio::test]
async fn bad_settings_are_refused() {
    assert!(matches!(
        RedisStore::connect_lazy("not a url"),
        Err(StoreError::InvalidInput {
            field: "redis_url",
            ..
        })
    ));
    assert!(matches!(
        RedisStore::builder()
            .cluster_hash_tags(true)
            .key_prefix("{app}:")
            .connect_lazy("redis://127.0.0.1:1"),
        Err(StoreError::InvalidInput {
            field: "key_prefix",
            ..
        })
    ));
}

#[test]
fn connect_lazy_outside_a_runtime_is_an_error_not_a_panic() {
    assert!(matches!(
        RedisStore::connect_lazy("redis://127.0.0.1:1"),
        Err(StoreError::Backend { .. })
    ));
}
