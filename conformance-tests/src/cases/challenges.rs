// conformance-group: requires = [Challenges]
//! One-time challenges: taken once, expiry, zero TTL, replacement, exact keys
//! and values stored verbatim.
//!
//! Time-dependent cases use TTLs of one second so they hold on a manual clock
//! and on the system clock of a Redis or SQL backend alike.

use std::time::Duration;

use fullauth_api::{StateKey, StoreError, Text};

use super::*;
use crate::CaseResult;

/// How far past a TTL of one second the clock moves before expiry is asserted.
const PAST_ONE_SECOND: Duration = Duration::from_millis(2100);

/// A TTL long enough never to run out during a case.
const LONG: Duration = Duration::from_secs(60);

/// A key with exactly this text (callers add a random tag for isolation).
fn raw_key(text: impl Into<String>) -> Result<StateKey, StoreError> {
    StateKey::new(text)
}

/// A random challenge value, base64url-like.
fn value() -> Result<Text, StoreError> {
    Text::new(format!("chal_{}-{}", tag(), tag()))
}

/// A stored challenge is taken once: the second take is None.
pub async fn put_then_take_once(s: Subject) -> CaseResult {
    let k = key("passkey:reg");
    let v = value()?;
    s.store.put_challenge(&k, &v, LONG).await?;
    assert_eq!(s.store.take_challenge(&k).await?, Some(v));
    assert_eq!(
        s.store.take_challenge(&k).await?,
        None,
        "a challenge can be taken only once"
    );
    Ok(())
}

/// Taking a key that was never stored gives None.
pub async fn take_unknown_is_none(s: Subject) -> CaseResult {
    assert_eq!(s.store.take_challenge(&key("passkey:auth")).await?, None);
    Ok(())
}

/// An expired challenge cannot be taken.
pub async fn expired_challenge_is_none(s: Subject) -> CaseResult {
    let fresh = key("passkey:auth");
    let stale = key("passkey:auth");
    let v = value()?;
    s.store
        .put_challenge(&fresh, &v, Duration::from_secs(1))
        .await?;
    s.store
        .put_challenge(&stale, &v, Duration::from_secs(1))
        .await?;
    assert_eq!(
        s.store.take_challenge(&fresh).await?,
        Some(v),
        "taken right after storing"
    );
    s.clock.advance(PAST_ONE_SECOND).await;
    assert_eq!(
        s.store.take_challenge(&stale).await?,
        None,
        "a 1 s challenge has expired after 2.1 s"
    );
    Ok(())
}

/// A challenge stored with a zero TTL cannot be taken.
pub async fn zero_ttl_stores_nothing(s: Subject) -> CaseResult {
    let k = key("passkey:reg");
    s.store.put_challenge(&k, &value()?, Duration::ZERO).await?;
    assert_eq!(s.store.take_challenge(&k).await?, None);
    Ok(())
}

/// Storing again under a key replaces the value.
pub async fn put_replaces_value(s: Subject) -> CaseResult {
    let k = key("passkey:reg");
    let first = value()?;
    let second = value()?;
    s.store.put_challenge(&k, &first, LONG).await?;
    s.store.put_challenge(&k, &second, LONG).await?;
    assert_eq!(s.store.take_challenge(&k).await?, Some(second));
    assert_eq!(
        s.store.take_challenge(&k).await?,
        None,
        "the replaced value is gone too"
    );
    Ok(())
}

/// Storing again under a key replaces the TTL as well.
pub async fn put_replaces_ttl(s: Subject) -> CaseResult {
    let k = key("passkey:reg");
    let first = value()?;
    let second = value()?;
    s.store
        .put_challenge(&k, &first, Duration::from_secs(1))
        .await?;
    s.store.put_challenge(&k, &second, LONG).await?;
    s.clock.advance(PAST_ONE_SECOND).await;
    assert_eq!(
        s.store.take_challenge(&k).await?,
        Some(second),
        "the second put's 60 s TTL replaced the first's 1 s"
    );
    Ok(())
}

/// A challenge can be stored again after it was taken.
pub async fn put_again_after_take(s: Subject) -> CaseResult {
    let k = key("passkey:auth");
    let first = value()?;
    let second = value()?;
    s.store.put_challenge(&k, &first, LONG).await?;
    assert_eq!(s.store.take_challenge(&k).await?, Some(first));
    s.store.put_challenge(&k, &second, LONG).await?;
    assert_eq!(s.store.take_challenge(&k).await?, Some(second));
    Ok(())
}

/// A 64 KiB value round-trips byte for byte.
pub async fn large_value_round_trips(s: Subject) -> CaseResult {
    let k = key("passkey:reg");
    let body: String = (0..64 * 1024)
        .map(|i| {
            char::from(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"[i % 64])
        })
        .collect();
    let v = Text::new(body)?;
    s.store.put_challenge(&k, &v, LONG).await?;
    let got = s.store.take_challenge(&k).await?;
    assert!(
        got.as_ref() == Some(&v),
        "a 64 KiB value came back changed (length {:?})",
        got.map(|g| g.as_str().len())
    );
    Ok(())
}

/// Hostile values (quotes, SQL, emoji, right-to-left marks, backslashes,
/// leading and trailing spaces) and the empty string come back verbatim.
pub async fn hostile_values_verbatim(s: Subject) -> CaseResult {
    for raw in [
        "'; DROP TABLE fullauth_users; --",
        "\"double\" and 'single' quotes",
        "🦀 emoji ✓ and \u{202e}right-to-left\u{202c}",
        "back\\slash and %s %d {} $1 ?",
        "  leading and trailing spaces  ",
        "*?[a-z]{x}",
        "",
    ] {
        let k = key("passkey:reg");
        let v = Text::new(raw)?;
        s.store.put_challenge(&k, &v, LONG).await?;
        assert_eq!(
            s.store.take_challenge(&k).await?,
            Some(v),
            "value {raw:?} must come back verbatim"
        );
    }
    Ok(())
}

/// Keys are exact (no prefix or pattern matching) and independent: taking
/// one leaves the others.
pub async fn keys_are_exact_and_independent(s: Subject) -> CaseResult {
    let t = tag();
    let a = raw_key(format!("passkey:reg:{t}"))?;
    let b = raw_key(format!("passkey:reg:{t}d"))?;
    let star = raw_key(format!("passkey:reg:{t}*"))?;
    let va = value()?;
    let vb = value()?;
    s.store.put_challenge(&a, &va, LONG).await?;
    s.store.put_challenge(&b, &vb, LONG).await?;
    assert_eq!(
        s.store.take_challenge(&star).await?,
        None,
        "`*` is not a pattern"
    );
    assert_eq!(s.store.take_challenge(&b).await?, Some(vb));
    assert_eq!(s.store.take_challenge(&a).await?, Some(va));
    Ok(())
}
