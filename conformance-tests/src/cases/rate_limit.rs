// conformance-group: requires = [RateLimit]
//! Sliding-window rate limits: the limit, `remaining` and `retry_after`, the
//! window sliding, refused hits not being recorded, reset, policy validation
//! and key isolation.
//!
//! Time-dependent cases use windows of at most two seconds so they hold on a
//! manual clock and on the system clock of a Redis or SQL backend alike.

use std::time::Duration;

use fullauth_api::{RateLimitDecision, RateLimitPolicy, StateKey, StoreError};

use super::*;
use crate::CaseResult;

/// How far past a window the clock moves before asserting it has slid.
const MARGIN: Duration = Duration::from_millis(1100);

/// A policy of `limit` requests per `window`.
fn policy(limit: u32, window: Duration) -> RateLimitPolicy {
    RateLimitPolicy { limit, window }
}

/// A key with exactly this text (callers add a random tag for isolation).
fn raw_key(text: impl Into<String>) -> Result<StateKey, StoreError> {
    StateKey::new(text)
}

/// Asserts an allowed decision with `remaining` left and no retry delay.
#[track_caller]
fn assert_allowed(d: RateLimitDecision, remaining: u32) {
    assert!(d.allowed, "expected an allowed request, got {d:?}");
    assert_eq!(
        d.remaining, remaining,
        "remaining after an allowed hit: {d:?}"
    );
    assert_eq!(
        d.retry_after,
        Duration::ZERO,
        "retry_after when allowed: {d:?}"
    );
}

/// Asserts a refused decision: remaining 0 and 0 < retry_after <= window.
#[track_caller]
fn assert_refused(d: RateLimitDecision, window: Duration) {
    assert!(!d.allowed, "expected a refused request, got {d:?}");
    assert_eq!(d.remaining, 0, "remaining when refused: {d:?}");
    assert!(
        d.retry_after > Duration::ZERO && d.retry_after <= window,
        "retry_after must be in (0, {window:?}] when refused: {d:?}"
    );
}

/// Exactly `limit` hits are allowed with `remaining` counting down to 0;
/// the next are refused with remaining 0 and 0 < retry_after <= window.
pub async fn allows_exactly_limit_then_refuses(s: Subject) -> CaseResult {
    let k = key("ip");
    let w = Duration::from_secs(60);
    let p = policy(3, w);
    assert_allowed(s.store.hit(&k, p).await?, 2);
    assert_allowed(s.store.hit(&k, p).await?, 1);
    assert_allowed(s.store.hit(&k, p).await?, 0);
    assert_refused(s.store.hit(&k, p).await?, w);
    assert_refused(s.store.hit(&k, p).await?, w);
    Ok(())
}

/// A limit of one allows one hit and refuses the second.
pub async fn limit_of_one(s: Subject) -> CaseResult {
    let k = key("ip");
    let w = Duration::from_secs(60);
    assert_allowed(s.store.hit(&k, policy(1, w)).await?, 0);
    assert_refused(s.store.hit(&k, policy(1, w)).await?, w);
    Ok(())
}

/// Once the window has passed, requests are allowed again.
pub async fn window_passes_and_allows_again(s: Subject) -> CaseResult {
    let k = key("ip");
    let w = Duration::from_secs(1);
    let p = policy(2, w);
    assert_allowed(s.store.hit(&k, p).await?, 1);
    assert_allowed(s.store.hit(&k, p).await?, 0);
    assert_refused(s.store.hit(&k, p).await?, w);
    s.clock.advance(w + MARGIN).await;
    assert_allowed(s.store.hit(&k, p).await?, 1);
    Ok(())
}

/// The window slides: a request leaves the window `window` after it was made,
/// not at the end of a fixed interval.
pub async fn window_slides(s: Subject) -> CaseResult {
    let k = key("ip");
    let w = Duration::from_secs(2);
    let p = policy(2, w);
    let step = Duration::from_millis(1200);
    assert_allowed(s.store.hit(&k, p).await?, 1);
    s.clock.advance(step).await;
    assert_allowed(s.store.hit(&k, p).await?, 0);
    assert_refused(s.store.hit(&k, p).await?, w);
    s.clock.advance(step).await;
    // The first request (2.4 s ago) has left the window, the second (1.2 s
    // ago) has not: exactly one more is allowed.
    assert_allowed(s.store.hit(&k, p).await?, 0);
    assert_refused(s.store.hit(&k, p).await?, w);
    Ok(())
}

/// Refused requests are not recorded: once the allowed ones leave the
/// window, the full limit is available even though refused hits came later.
pub async fn refused_hits_are_not_recorded(s: Subject) -> CaseResult {
    let k = key("ip");
    let w = Duration::from_secs(2);
    let p = policy(2, w);
    let step = Duration::from_millis(1200);
    assert_allowed(s.store.hit(&k, p).await?, 1);
    assert_allowed(s.store.hit(&k, p).await?, 0);
    s.clock.advance(step).await;
    assert_refused(s.store.hit(&k, p).await?, w);
    assert_refused(s.store.hit(&k, p).await?, w);
    s.clock.advance(step).await;
    assert_allowed(s.store.hit(&k, p).await?, 1);
    assert_allowed(s.store.hit(&k, p).await?, 0);
    Ok(())
}

/// retry_after is the time until the oldest recorded request leaves the window.
pub async fn retry_after_counts_from_oldest_request(s: Subject) -> CaseResult {
    let k = key("ip");
    let w = Duration::from_secs(60);
    let p = policy(1, w);
    assert_allowed(s.store.hit(&k, p).await?, 0);
    s.clock.advance(Duration::from_millis(1100)).await;
    let d = s.store.hit(&k, p).await?;
    assert_refused(d, w);
    // 60 s − 1.1 s = 58.9 s; allow for whole-second rounding and slow calls.
    assert!(
        d.retry_after >= Duration::from_millis(57_500)
            && d.retry_after <= Duration::from_millis(59_400),
        "retry_after should be about 58.9 s, got {:?}",
        d.retry_after
    );
    Ok(())
}

/// A window under one second works: refused within it, allowed after it.
pub async fn subsecond_window(s: Subject) -> CaseResult {
    let k = key("ip");
    let w = Duration::from_millis(500);
    let p = policy(1, w);
    assert_allowed(s.store.hit(&k, p).await?, 0);
    assert_refused(s.store.hit(&k, p).await?, w);
    s.clock.advance(w + MARGIN).await;
    assert_allowed(s.store.hit(&k, p).await?, 0);
    Ok(())
}

/// reset_rate_limit forgets every request of the key.
pub async fn reset_forgets_requests(s: Subject) -> CaseResult {
    let k = key("ip");
    let w = Duration::from_secs(60);
    let p = policy(2, w);
    assert_allowed(s.store.hit(&k, p).await?, 1);
    assert_allowed(s.store.hit(&k, p).await?, 0);
    assert_refused(s.store.hit(&k, p).await?, w);
    s.store.reset_rate_limit(&k).await?;
    assert_allowed(s.store.hit(&k, p).await?, 1);
    Ok(())
}

/// reset_rate_limit of a key with no requests succeeds.
pub async fn reset_unknown_key_is_ok(s: Subject) -> CaseResult {
    let k = key("ip");
    s.store.reset_rate_limit(&k).await?;
    s.store.reset_rate_limit(&k).await?;
    assert_allowed(
        s.store.hit(&k, policy(3, Duration::from_secs(60))).await?,
        2,
    );
    Ok(())
}

/// The limit is read from each call's policy against the requests recorded.
pub async fn limit_is_read_per_call(s: Subject) -> CaseResult {
    let k = key("ip");
    let w = Duration::from_secs(60);
    assert_allowed(s.store.hit(&k, policy(5, w)).await?, 4);
    assert_allowed(s.store.hit(&k, policy(5, w)).await?, 3);
    assert_allowed(s.store.hit(&k, policy(3, w)).await?, 0);
    assert_refused(s.store.hit(&k, policy(3, w)).await?, w);
    assert_allowed(s.store.hit(&k, policy(5, w)).await?, 1);
    Ok(())
}

/// A limit of 0 is InvalidInput `limit`, and nothing is recorded.
pub async fn invalid_limit_refused(s: Subject) -> CaseResult {
    let k = key("ip");
    let w = Duration::from_secs(60);
    assert_invalid(s.store.hit(&k, policy(0, w)).await, "limit");
    assert_allowed(s.store.hit(&k, policy(1, w)).await?, 0);
    Ok(())
}

/// A window under one millisecond is InvalidInput `window`, and nothing is
/// recorded.
pub async fn invalid_window_refused(s: Subject) -> CaseResult {
    let k = key("ip");
    for w in [Duration::ZERO, Duration::from_micros(999)] {
        assert_invalid(s.store.hit(&k, policy(1, w)).await, "window");
    }
    assert_allowed(
        s.store.hit(&k, policy(1, Duration::from_secs(60))).await?,
        0,
    );
    Ok(())
}

/// Keys are independent and matched exactly (`abc` and `abcd` are two keys);
/// resetting one leaves the other.
pub async fn keys_are_independent(s: Subject) -> CaseResult {
    let w = Duration::from_secs(60);
    let p = policy(1, w);
    let base = format!("login:10.0.0.{}", tag());
    let a = raw_key(base.clone())?;
    let b = raw_key(format!("{base}4"))?;
    assert_allowed(s.store.hit(&a, p).await?, 0);
    assert_refused(s.store.hit(&a, p).await?, w);
    assert_allowed(s.store.hit(&b, p).await?, 0);
    s.store.reset_rate_limit(&b).await?;
    assert_refused(s.store.hit(&a, p).await?, w);
    Ok(())
}

/// Hostile keys (glob characters, quotes, emoji) are exact keys, not patterns.
pub async fn hostile_keys_are_exact(s: Subject) -> CaseResult {
    let w = Duration::from_secs(60);
    let p = policy(1, w);
    let t = tag();
    let star = raw_key(format!("route:*{t}"))?;
    let plain = raw_key(format!("route:x{t}"))?;
    let quoted = raw_key(format!("route:'\"🦀 [a]?{{x}} {t}"))?;
    assert_allowed(s.store.hit(&star, p).await?, 0);
    assert_refused(s.store.hit(&star, p).await?, w);
    assert_allowed(s.store.hit(&plain, p).await?, 0);
    assert_allowed(s.store.hit(&quoted, p).await?, 0);
    assert_refused(s.store.hit(&quoted, p).await?, w);
    s.store.reset_rate_limit(&star).await?;
    assert_refused(s.store.hit(&plain, p).await?, w);
    assert_refused(s.store.hit(&quoted, p).await?, w);
    assert_allowed(s.store.hit(&star, p).await?, 0);
    Ok(())
}
