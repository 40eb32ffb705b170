//! After Redis drops our connection (`CLIENT KILL ID` of the store's own
//! connection, as a restart would), the same store works again without
//! being recreated. Needs `FULLAUTH_TEST_REDIS_URL`; only the store's own
//! connection is killed, never another client's.

mod common;

use std::time::Duration;

use fullauth_api::{
    BlacklistStore, ChallengeStore, LockoutOutcome, LockoutPolicy, LockoutStore, RateLimitPolicy,
    RateLimitStore, StateKey, StoreError, Text,
};
use fullauth_redis::redis;
use fullauth_redis::{FailurePolicies, FailurePolicy, RedisStore};

fn key(s: &str) -> StateKey {
    StateKey::new(s).unwrap()
}

/// Every feature reports its errors, so nothing is hidden by a policy.
fn strict() -> FailurePolicies {
    FailurePolicies {
        blacklist: FailurePolicy::Error,
        lockout: FailurePolicy::Error,
        rate_limit: FailurePolicy::Error,
        challenges: FailurePolicy::Error,
    }
}

async fn client_id(store: &RedisStore) -> i64 {
    let mut conn = store.connection();
    redis::cmd("CLIENT")
        .arg("ID")
        .query_async(&mut conn)
        .await
        .unwrap()
}

async fn kill(admin: &mut redis::aio::MultiplexedConnection, id: i64) {
    let killed: i64 = redis::cmd("CLIENT")
        .arg("KILL")
        .arg("ID")
        .arg(id)
        .query_async(admin)
        .await
        .unwrap();
    assert_eq!(killed, 1, "our connection {id} was killed");
    // Let the client side see the connection close.
    tokio::time::sleep(Duration::from_millis(50)).await;
}

/// Retries a call that may fail once because the connection was lost while
/// it was in flight (only scripts and GETDEL, which are never retried by the
/// store).
async fn eventually<T, F, Fut>(what: &str, f: F) -> T
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = Result<T, StoreError>>,
{
    let mut last = None;
    for _ in 0..20 {
        match f().await {
            Ok(v) => return v,
            Err(e) => {
                assert!(e.is_retryable(), "{what}: {e:?}");
                last = Some(e);
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
    panic!("{what} never worked again: {last:?}");
}

#[tokio::test]
async fn store_recovers_after_its_connection_is_killed() {
    let Some(url) = common::redis_url() else {
        return;
    };
    let prefix = common::random_prefix();
    let store = RedisStore::builder()
        .key_prefix(&prefix)
        .policies(strict())
        .timeout(Duration::from_secs(2))
        .connect(&url)
        .await
        .unwrap();
    let mut admin = common::raw(&url).await;

    let jti = key("jti-1");
    store
        .blacklist(&jti, Duration::from_secs(60))
        .await
        .unwrap();
    let first = client_id(&store).await;
    kill(&mut admin, first).await;

    // Commands that are safe to repeat are retried once on a new
    // connection: the first call after the kill already answers.
    assert!(store.is_blacklisted(&jti).await.unwrap());
    assert!(!store.is_blacklisted(&key("jti-2")).await.unwrap());
    let second = client_id(&store).await;
    assert_ne!(first, second, "a new connection was made");

    // Scripts are never retried by the store (they may have run); after a
    // kill they work again on the next call at the latest, and the script
    // cache is reloaded if the server lost it (SCRIPT FLUSH only empties the
    // cache, which every client of Redis scripts must expect after a restart).
    let _: () = redis::cmd("SCRIPT")
        .arg("FLUSH")
        .query_async(&mut admin)
        .await
        .unwrap_or(());
    kill(&mut admin, second).await;
    let login = key("ada@example.com");
    let policy = LockoutPolicy {
        max_attempts: 3,
        duration: Duration::from_secs(60),
    };
    let outcome = eventually("record_failure", || store.record_failure(&login, policy)).await;
    assert_eq!(outcome, LockoutOutcome::Counted { attempts: 1 });
    assert!(!store.is_locked(&login).await.unwrap());

    let third = client_id(&store).await;
    kill(&mut admin, third).await;
    let rate = RateLimitPolicy {
        limit: 2,
        window: Duration::from_secs(60),
    };
    let route = key("login:127.0.0.1");
    let d = eventually("hit", || store.hit(&route, rate)).await;
    assert!(d.allowed);
    assert_eq!(d.remaining, 1);

    let fourth = client_id(&store).await;
    kill(&mut admin, fourth).await;
    let challenge = key("passkey:reg:0123");
    store
        .put_challenge(
            &challenge,
            &Text::new("abc").unwrap(),
            Duration::from_secs(60),
        )
        .await
        .unwrap();
    let taken = eventually("take_challenge", || store.take_challenge(&challenge)).await;
    assert_eq!(taken.map(String::from).as_deref(), Some("abc"));

    common::cleanup(&mut admin, &prefix).await;
}
