//! The two key layouts: the reference's (hash tags off, the default) and the
//! Redis Cluster one (the lockout keys of one login key share a hash tag, so
//! one slot). Both are exercised against the test server
//! (`FULLAUTH_TEST_REDIS_URL`) under a per-run prefix that is deleted at the
//! end.

mod common;

use std::time::Duration;

use fullauth_api::{
    BlacklistStore, LockoutOutcome, LockoutPolicy, LockoutStore, RateLimitPolicy, RateLimitStore,
    StateKey,
};
use fullauth_redis::KeyLayout;

const POLICY: LockoutPolicy = LockoutPolicy {
    max_attempts: 2,
    duration: Duration::from_secs(30),
};

fn key(s: &str) -> StateKey {
    StateKey::new(s).unwrap()
}

#[test]
fn tagged_lockout_keys_share_a_slot() {
    let layout = KeyLayout::new("app:", true).unwrap();
    for k in [
        "ada@example.com",
        "mfa:0190f0a4-7b1e-7c3a-9e55-8f1f2a3b4c5d",
        "}x",
        "a{b}c",
        "{}",
        "%7D",
    ] {
        let k = key(k);
        let attempts = layout.lockout_attempts(&k);
        let locked = layout.lockout_locked(&k);
        assert_eq!(
            common::slot(&attempts),
            common::slot(&locked),
            "{attempts} / {locked}"
        );
        assert!(attempts.ends_with('}'));
    }
    // Without tags the reference's names usually land in different slots.
    let plain = KeyLayout::default();
    let k = key("ada@example.com");
    assert_ne!(
        common::slot(&plain.lockout_attempts(&k)),
        common::slot(&plain.lockout_locked(&k))
    );
    // Known slots (from redis.io's cluster specification examples).
    assert_eq!(common::slot("123456789"), 12739);
    assert_eq!(
        common::slot("{user1000}.following"),
        common::slot("{user1000}.followers")
    );
}

async fn exercise(hash_tags: bool) {
    let Some(url) = common::redis_url() else {
        return;
    };
    let prefix = common::random_prefix();
    let store = common::store(&url, &prefix, hash_tags).await;
    let mut raw = common::raw(&url).await;
    let layout = store.keys().clone();
    assert_eq!(layout.hash_tags(), hash_tags);

    for login in ["ada@example.com", "}odd{key%"] {
        let k = key(login);
        assert_eq!(
            store.record_failure(&k, POLICY).await.unwrap(),
            LockoutOutcome::Counted { attempts: 1 }
        );
        let n: i64 = fullauth_redis::redis::cmd("GET")
            .arg(layout.lockout_attempts(&k))
            .query_async(&mut raw)
            .await
            .unwrap();
        assert_eq!(n, 1, "the counter lives at {}", layout.lockout_attempts(&k));
        assert!(matches!(
            store.record_failure(&k, POLICY).await.unwrap(),
            LockoutOutcome::Locked { .. }
        ));
        let locked: i64 = fullauth_redis::redis::cmd("EXISTS")
            .arg(layout.lockout_locked(&k))
            .query_async(&mut raw)
            .await
            .unwrap();
        assert_eq!(locked, 1, "the lock lives at {}", layout.lockout_locked(&k));
        assert!(store.is_locked(&k).await.unwrap());
        store.clear_lockout(&k).await.unwrap();
        assert!(!store.is_locked(&k).await.unwrap());
    }

    // Multi-key blacklist checks in both modes.
    let (a, b, c) = (key("jti-a"), key("family:b"), key("jti-c"));
    store.blacklist(&b, Duration::from_secs(30)).await.unwrap();
    assert!(
        store
            .any_blacklisted(&[a.clone(), b.clone(), c.clone()])
            .await
            .unwrap()
    );
    assert!(
        !store
            .any_blacklisted(&[a.clone(), c.clone()])
            .await
            .unwrap()
    );
    assert!(
        store
            .any_blacklisted(std::slice::from_ref(&b))
            .await
            .unwrap()
    );

    // Single-key features keep the reference layout in both modes.
    let rl = key("login:127.0.0.1");
    let policy = RateLimitPolicy {
        limit: 1,
        window: Duration::from_secs(30),
    };
    assert!(store.hit(&rl, policy).await.unwrap().allowed);
    let name = format!("{prefix}ratelimit:login:127.0.0.1");
    assert_eq!(layout.rate_limit(&rl), name);
    let card: i64 = fullauth_redis::redis::cmd("ZCARD")
        .arg(&name)
        .query_async(&mut raw)
        .await
        .unwrap();
    assert_eq!(card, 1);

    common::cleanup(&mut raw, &prefix).await;
}

#[tokio::test]
async fn reference_layout_works() {
    exercise(false).await;
}

#[tokio::test]
async fn hash_tag_layout_works() {
    exercise(true).await;
}
