// conformance-group: requires = [OAuth]
//! Hostile OAuth input: 64 KiB provider tokens, hostile identities stored
//! verbatim, length limits, and identities never matched as patterns.

use fullauth_api::{
    NewOAuthAccount, OAuthAccountPatch, ProviderName, ProviderUserId, Text, UserId,
};

use super::*;
use crate::CaseResult;

/// A link of `user_id` to this identity, with no tokens.
fn link(user_id: &UserId, provider: &ProviderName, pid: &ProviderUserId) -> NewOAuthAccount {
    NewOAuthAccount {
        provider: provider.clone(),
        provider_user_id: pid.clone(),
        user_id: user_id.clone(),
        provider_email: None,
        access_token: None,
        refresh_token: None,
        expires_at: None,
    }
}

/// A string of at least `bytes` bytes made of hostile pieces, starting with a random tag.
fn big(bytes: usize) -> String {
    let mut v = format!("{} ", tag());
    while v.len() < bytes {
        v.push_str("tok'en\"%_\\🦀\u{202e}");
    }
    v
}

/// 64 KiB access and refresh tokens round-trip unchanged, through link and update.
pub async fn large_provider_tokens_round_trip(s: Subject) -> CaseResult {
    let u = some_user(&s).await?;
    let provider = ProviderName::new("github")?;
    let pid = ProviderUserId::new(format!("gh-{}", tag()))?;
    let mut new = link(&u, &provider, &pid);
    let access = Text::new(big(64 * 1024))?;
    let refresh = Text::new(big(64 * 1024))?;
    new.access_token = Some(access.clone());
    new.refresh_token = Some(refresh.clone());
    s.store.link_oauth_account(new).await?;
    let got = s
        .store
        .get_oauth_account(&provider, &pid)
        .await?
        .expect("linked");
    assert!(
        got.access_token.as_ref() == Some(&access),
        "access token changed"
    );
    assert!(
        got.refresh_token.as_ref() == Some(&refresh),
        "refresh token changed"
    );
    let newer = Text::new(big(64 * 1024 + 7))?;
    let patch = OAuthAccountPatch {
        access_token: Some(Some(newer.clone())),
        ..Default::default()
    };
    let updated = s
        .store
        .update_oauth_account(&provider, &pid, patch)
        .await?
        .expect("linked");
    assert!(
        updated.access_token.as_ref() == Some(&newer),
        "updated token changed"
    );
    assert!(updated.refresh_token.as_ref() == Some(&refresh));
    Ok(())
}

/// Hostile provider names and provider user ids are stored and found byte for byte.
pub async fn hostile_identities_round_trip(s: Subject) -> CaseResult {
    let u = some_user(&s).await?;
    let t = tag();
    for (prov, pid) in [
        ("o'auth", "'; DROP TABLE fullauth_oauth_accounts; --"),
        ("100%_idp", "user_%_\\"),
        ("🦀 idp", "\u{202e}dip e\u{301}"),
    ] {
        let provider = ProviderName::new(format!("{prov}-{}", &t[..8]))?;
        let pid = ProviderUserId::new(format!("{pid}-{t}"))?;
        let r = s
            .store
            .link_oauth_account(link(&u, &provider, &pid))
            .await?;
        assert!(r.is_created(), "{provider:?}/{pid:?}");
        assert_eq!(r.account().provider, provider);
        assert_eq!(r.account().provider_user_id, pid);
        let got = s
            .store
            .get_oauth_account(&provider, &pid)
            .await?
            .expect("linked");
        assert_eq!((got.provider, got.provider_user_id), (provider, pid));
    }
    assert_eq!(s.store.list_oauth_accounts(&u).await?.len(), 3);
    Ok(())
}

/// Wildcard identities match nothing: get, update and delete of a pattern leave the real link alone.
pub async fn wildcard_identities_do_not_match(s: Subject) -> CaseResult {
    let u = some_user(&s).await?;
    let t = tag();
    let provider = ProviderName::new("gitlab")?;
    let pid = ProviderUserId::new(format!("id-{t}-abc"))?;
    s.store
        .link_oauth_account(link(&u, &provider, &pid))
        .await?;
    for pattern in [
        format!("id-{t}-%"),
        format!("id-{t}-a_c"),
        format!("ID-{t}-ABC"),
    ] {
        let p = ProviderUserId::new(pattern.as_str())?;
        assert!(
            s.store.get_oauth_account(&provider, &p).await?.is_none(),
            "{pattern}"
        );
        let patch = OAuthAccountPatch {
            access_token: Some(Some(Text::new("hijacked")?)),
            ..Default::default()
        };
        assert!(
            s.store
                .update_oauth_account(&provider, &p, patch)
                .await?
                .is_none(),
            "update {pattern}"
        );
        assert!(
            !s.store.delete_oauth_account(&provider, &p).await?,
            "delete {pattern}"
        );
    }
    let other_provider = ProviderName::new("gitla_")?;
    assert!(
        s.store
            .get_oauth_account(&other_provider, &pid)
            .await?
            .is_none()
    );
    let real = s
        .store
        .get_oauth_account(&provider, &pid)
        .await?
        .expect("kept");
    assert_eq!(real.access_token, None);
    Ok(())
}

/// Provider (50) and provider user id (320) limits count characters; longer is InvalidInput naming the field.
pub async fn identity_length_limits(s: Subject) -> CaseResult {
    let u = some_user(&s).await?;
    let t = tag();
    let provider = ProviderName::new(format!("{t}{}", "ß".repeat(50 - t.len())))?;
    let pid = ProviderUserId::new(format!("{t}{}", "ü".repeat(320 - t.len())))?;
    s.store
        .link_oauth_account(link(&u, &provider, &pid))
        .await?;
    let got = s
        .store
        .get_oauth_account(&provider, &pid)
        .await?
        .expect("linked");
    assert_eq!(got.provider, provider);
    assert_eq!(got.provider_user_id, pid);
    assert_invalid(ProviderName::new("p".repeat(51)), "provider");
    assert_invalid(ProviderUserId::new("u".repeat(321)), "provider_user_id");
    assert_invalid(ProviderName::new("git\0hub"), "provider");
    assert_invalid(Text::new("token\u{1b}[31m"), "text");
    Ok(())
}
