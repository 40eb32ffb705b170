// conformance-group: requires = [Blacklist]
//! Token blacklist: adding and checking keys, TTLs (whole seconds, one-second
//! floor, replaced on re-add), batch checks and exact key matching.
//!
//! TTL cases use TTLs of one or two seconds and move the clock one TTL plus
//! 1.1 s before asserting expiry, so they hold on a manual clock and on the
//! system clock of a Redis or SQL backend alike.

use std::time::Duration;

use fullauth_api::{StateKey, StoreError};

use super::*;
use crate::CaseResult;

/// How far past a TTL of `secs` seconds the clock moves before expiry is asserted.
fn past(secs: u64) -> Duration {
    Duration::from_secs(secs) + Duration::from_millis(1100)
}

/// A key with exactly this text (callers add a random tag for isolation).
fn raw_key(text: impl Into<String>) -> Result<StateKey, StoreError> {
    StateKey::new(text)
}

/// A blacklisted key reads as blacklisted.
pub async fn blacklist_then_check(s: Subject) -> CaseResult {
    let k = key("jti");
    s.store.blacklist(&k, Duration::from_secs(60)).await?;
    assert!(s.store.is_blacklisted(&k).await?, "the key was just added");
    Ok(())
}

/// A key that was never added is not blacklisted.
pub async fn unknown_key_is_not_blacklisted(s: Subject) -> CaseResult {
    assert!(!s.store.is_blacklisted(&key("never-added")).await?);
    Ok(())
}

/// An entry stops being blacklisted once its TTL has run out.
pub async fn entry_expires_after_ttl(s: Subject) -> CaseResult {
    let k = key("jti");
    s.store.blacklist(&k, Duration::from_secs(1)).await?;
    assert!(
        s.store.is_blacklisted(&k).await?,
        "blacklisted right after adding"
    );
    s.clock.advance(past(1)).await;
    assert!(
        !s.store.is_blacklisted(&k).await?,
        "still blacklisted 2.1 s after a 1 s TTL"
    );
    Ok(())
}

/// A zero TTL still stores an entry (the one-second floor).
pub async fn zero_ttl_is_floored_to_one_second(s: Subject) -> CaseResult {
    let k = key("jti");
    s.store.blacklist(&k, Duration::ZERO).await?;
    assert!(
        s.store.is_blacklisted(&k).await?,
        "a zero TTL must still blacklist the key for one second"
    );
    s.clock.advance(past(1)).await;
    assert!(
        !s.store.is_blacklisted(&k).await?,
        "the floored entry expires"
    );
    Ok(())
}

/// A sub-second remainder rounds the TTL up: 1.5 s lasts two whole seconds.
pub async fn fractional_ttl_rounds_up(s: Subject) -> CaseResult {
    let k = key("jti");
    s.store.blacklist(&k, Duration::from_millis(1500)).await?;
    s.clock.advance(Duration::from_millis(1200)).await;
    assert!(
        s.store.is_blacklisted(&k).await?,
        "a 1.5 s TTL is rounded up to 2 s, so the key is still blacklisted after 1.2 s"
    );
    Ok(())
}

/// Re-adding a key replaces its TTL with a longer one.
pub async fn readd_extends_ttl(s: Subject) -> CaseResult {
    let k = key("jti");
    s.store.blacklist(&k, Duration::from_secs(1)).await?;
    s.store.blacklist(&k, Duration::from_secs(60)).await?;
    s.clock.advance(past(1)).await;
    assert!(
        s.store.is_blacklisted(&k).await?,
        "the second add replaced the 1 s TTL with 60 s"
    );
    Ok(())
}

/// Re-adding a key replaces its TTL also with a shorter one.
pub async fn readd_replaces_ttl_with_shorter(s: Subject) -> CaseResult {
    let k = key("jti");
    s.store.blacklist(&k, Duration::from_secs(60)).await?;
    s.store.blacklist(&k, Duration::from_secs(1)).await?;
    assert!(s.store.is_blacklisted(&k).await?);
    s.clock.advance(past(1)).await;
    assert!(
        !s.store.is_blacklisted(&k).await?,
        "the second add replaced the 60 s TTL with 1 s"
    );
    Ok(())
}

/// any_blacklisted is true when one key among many is blacklisted.
pub async fn any_blacklisted_one_of_many(s: Subject) -> CaseResult {
    let keys: Vec<StateKey> = (0..5).map(|_| key("jti")).collect();
    s.store.blacklist(&keys[3], Duration::from_secs(60)).await?;
    assert!(s.store.any_blacklisted(&keys).await?);
    let family = key("family");
    s.store.blacklist(&family, Duration::from_secs(60)).await?;
    assert!(
        s.store
            .any_blacklisted(&[key("jti"), family.clone()])
            .await?,
        "the second of two keys is blacklisted"
    );
    Ok(())
}

/// any_blacklisted is false when none of the keys is blacklisted.
pub async fn any_blacklisted_none(s: Subject) -> CaseResult {
    let keys: Vec<StateKey> = (0..5).map(|_| key("jti")).collect();
    assert!(!s.store.any_blacklisted(&keys).await?);
    Ok(())
}

/// any_blacklisted of an empty slice is false.
pub async fn any_blacklisted_empty_is_false(s: Subject) -> CaseResult {
    s.store
        .blacklist(&key("jti"), Duration::from_secs(60))
        .await?;
    assert!(!s.store.any_blacklisted(&[]).await?);
    Ok(())
}

/// any_blacklisted ignores expired entries.
pub async fn any_blacklisted_ignores_expired(s: Subject) -> CaseResult {
    let short = key("jti");
    let other = key("jti");
    s.store.blacklist(&short, Duration::from_secs(1)).await?;
    assert!(
        s.store
            .any_blacklisted(&[other.clone(), short.clone()])
            .await?
    );
    s.clock.advance(past(1)).await;
    assert!(!s.store.any_blacklisted(&[other, short]).await?);
    Ok(())
}

/// Keys match exactly: no prefix, suffix or case-insensitive matching.
pub async fn keys_are_exact(s: Subject) -> CaseResult {
    let base = format!("abc-{}", tag());
    let k = raw_key(base.clone())?;
    s.store.blacklist(&k, Duration::from_secs(60)).await?;
    for near in [
        format!("{base}d"),
        base[..base.len() - 1].to_string(),
        base.to_uppercase(),
        format!(" {base}"),
        format!("family:{base}"),
    ] {
        assert!(
            !s.store.is_blacklisted(&raw_key(near.clone())?).await?,
            "`{near}` must not match the blacklisted `{base}`"
        );
        assert!(!s.store.any_blacklisted(&[raw_key(near)?]).await?);
    }
    assert!(s.store.is_blacklisted(&k).await?);
    Ok(())
}

/// Hostile keys (quotes, spaces, emoji, glob characters, braces) are stored
/// and matched verbatim.
pub async fn hostile_keys_are_exact(s: Subject) -> CaseResult {
    let t = tag();
    let hostile = [
        format!("it's \"quoted\" {t}"),
        format!("with spaces {t} "),
        format!("🦀 emoji ✓ {t} \u{202e}rtl"),
        format!("star*{t}"),
        format!("question?{t}"),
        format!("bracket[a-z]{t}"),
        format!("{{hash-tag}}{t}"),
        format!("'; DROP TABLE fullauth_users; -- {t}"),
        format!("fullauth:blacklist:{t}"),
    ];
    for h in &hostile {
        let k = raw_key(h.clone())?;
        assert!(!s.store.is_blacklisted(&k).await?, "`{h}` before adding");
        s.store.blacklist(&k, Duration::from_secs(60)).await?;
        assert!(s.store.is_blacklisted(&k).await?, "`{h}` after adding");
    }
    // A pattern-matching store would let these through.
    for probe in [
        format!("star{t}"),
        format!("starX{t}"),
        format!("questionX{t}"),
        format!("bracketq{t}"),
        format!("hash-tag{t}"),
        format!("*{t}"),
        "*".to_string(),
        format!("with spaces {t}"),
    ] {
        assert!(
            !s.store.is_blacklisted(&raw_key(probe.clone())?).await?,
            "`{probe}` was never added but reads as blacklisted (pattern matching?)"
        );
    }
    Ok(())
}

/// A glob pattern as a key never matches other blacklisted keys.
pub async fn glob_key_does_not_match_others(s: Subject) -> CaseResult {
    let t = tag();
    let real = raw_key(format!("jti-{t}-abc"))?;
    s.store.blacklist(&real, Duration::from_secs(60)).await?;
    for pattern in [
        format!("jti-{t}-*"),
        format!("jti-{t}-ab?"),
        format!("jti-{t}-[a]bc"),
    ] {
        let p = raw_key(pattern.clone())?;
        assert!(
            !s.store.is_blacklisted(&p).await?,
            "`{pattern}` matched `{real}`"
        );
        assert!(!s.store.any_blacklisted(&[p]).await?);
    }
    Ok(())
}

/// Keys are independent: blacklisting one leaves others untouched, and each
/// keeps its own TTL.
pub async fn keys_are_independent(s: Subject) -> CaseResult {
    let short = key("jti");
    let long = key("jti");
    s.store.blacklist(&short, Duration::from_secs(1)).await?;
    s.store.blacklist(&long, Duration::from_secs(60)).await?;
    s.clock.advance(past(1)).await;
    assert!(!s.store.is_blacklisted(&short).await?);
    assert!(s.store.is_blacklisted(&long).await?);
    Ok(())
}

/// A key of the maximum length (512 characters) round-trips.
pub async fn longest_key_round_trips(s: Subject) -> CaseResult {
    let t = tag();
    let body = "k".repeat(StateKey::MAX_CHARS - t.len());
    let k = raw_key(format!("{t}{body}"))?;
    assert_eq!(k.as_str().chars().count(), StateKey::MAX_CHARS);
    s.store.blacklist(&k, Duration::from_secs(60)).await?;
    assert!(s.store.is_blacklisted(&k).await?);
    let shorter = raw_key(k.as_str()[..StateKey::MAX_CHARS - 1].to_string())?;
    assert!(!s.store.is_blacklisted(&shorter).await?);
    Ok(())
}
