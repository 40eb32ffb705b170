// conformance-group: requires = []
//! Feature gating: what a store reports in `features()` agrees with what it
//! answers. Methods of a feature it does not serve return
//! `StoreError::FeatureDisabled` naming that feature; methods of a feature it
//! does serve never do.
//!
//! These cases run against every store, whatever it serves. A store that
//! serves everything passes the "disabled" cases trivially.

use std::time::Duration;

use fullauth_api::{
    CredentialId, DeviceName, FamilyId, Feature, LockoutPolicy, MfaSecret, NewOAuthAccount,
    NewPasskey, NextRefreshToken, OAuthAccountPatch, ProviderName, ProviderUserId, RateLimitPolicy,
    StoreError, Text, Transports, UserLookup, UserPatch,
};

use super::*;
use crate::CaseResult;

/// Calls one harmless read-only method of `feature` on random inputs;
/// `None` for a feature this suite does not know.
async fn probe(s: &Subject, feature: Feature) -> Option<Result<(), StoreError>> {
    let st = &s.store;
    let r = match feature {
        Feature::Core => st.get_user(&ghost_user(s)).await.map(drop),
        Feature::Roles => st.get_user_roles(&ghost_user(s)).await.map(drop),
        Feature::Permissions => st.get_role_permissions(&role("probe")).await.map(drop),
        Feature::OAuth => match (ProviderName::new("probe"), ProviderUserId::new(tag())) {
            (Ok(p), Ok(id)) => st.get_oauth_account(&p, &id).await.map(drop),
            (Err(e), _) | (_, Err(e)) => Err(e),
        },
        Feature::Passkeys => match CredentialId::new(tag()) {
            Ok(c) => st.get_passkey(&c).await.map(drop),
            Err(e) => Err(e),
        },
        Feature::Mfa => st.get_mfa(&ghost_user(s)).await.map(drop),
        Feature::Blacklist => st.is_blacklisted(&key("probe")).await.map(drop),
        Feature::Lockout => st.is_locked(&key("probe")).await.map(drop),
        Feature::RateLimit => st.reset_rate_limit(&key("probe")).await,
        Feature::Challenges => st.take_challenge(&key("probe")).await.map(drop),
        _ => return None,
    };
    Some(r)
}

/// Calls every method of `feature` on random inputs and returns each result
/// with the method's name; empty for a feature this suite does not know.
///
/// Only for features the store does not serve: on a served feature these
/// calls would write.
async fn every_method(
    s: &Subject,
    feature: Feature,
) -> Result<Vec<(&'static str, Result<(), StoreError>)>, StoreError> {
    let st = &s.store;
    let uid = ghost_user(s);
    let family = FamilyId::generate();
    let r = role("probe");
    let provider = ProviderName::new("probe")?;
    let provider_user = ProviderUserId::new(tag())?;
    let credential = CredentialId::new(tag())?;
    let k = key("probe");
    let out: Vec<(&'static str, Result<(), StoreError>)> = match feature {
        Feature::Core => vec![
            (
                "create_user",
                st.create_user(fullauth_api::NewUser::new(email().as_str())?)
                    .await
                    .map(drop),
            ),
            ("get_user", st.get_user(&uid).await.map(drop)),
            (
                "get_user_by_email",
                st.get_user_by_email(&email()).await.map(drop),
            ),
            (
                "get_user_by_field",
                st.get_user_by_field(&UserLookup::parse("display_name", "x")?)
                    .await
                    .map(drop),
            ),
            (
                "get_principal",
                st.get_principal(&UserLookup::Id(uid.clone())).await.map(drop),
            ),
            (
                "update_user",
                st.update_user(&uid, UserPatch::new()).await.map(drop),
            ),
            ("delete_user", st.delete_user(&uid).await.map(drop)),
            (
                "get_password_hash",
                st.get_password_hash(&uid).await.map(drop),
            ),
            ("set_password_hash", st.set_password_hash(&uid, None).await),
            ("mark_verified", st.mark_verified(&uid).await),
            (
                "store_refresh_token",
                st.store_refresh_token(token(&uid, &family, in_secs(s, 60)))
                    .await
                    .map(drop),
            ),
            (
                "get_refresh_token",
                st.get_refresh_token(&digest()).await.map(drop),
            ),
            (
                "revoke_refresh_token",
                st.revoke_refresh_token(&digest()).await.map(drop),
            ),
            (
                "rotate_refresh_token",
                st.rotate_refresh_token(
                    &digest(),
                    NextRefreshToken {
                        digest: digest(),
                        expires_at: in_secs(s, 60),
                        client: Default::default(),
                    },
                )
                .await
                .map(drop),
            ),
            ("revoke_family", st.revoke_family(&family).await.map(drop)),
            (
                "revoke_all_for_user",
                st.revoke_all_for_user(&uid).await.map(drop),
            ),
            (
                "prune_expired_refresh_tokens",
                // A cutoff before any real expiry: prunes nothing another case needs.
                st.prune_expired_refresh_tokens(fullauth_api::Timestamp::from_unix_micros(0)?)
                    .await
                    .map(drop),
            ),
            ("list_sessions", st.list_sessions(&uid).await.map(drop)),
            (
                "revoke_session",
                st.revoke_session(&uid, &family).await.map(drop),
            ),
            (
                "revoke_other_sessions",
                st.revoke_other_sessions(&uid, &family).await.map(drop),
            ),
        ],
        Feature::Roles => vec![
            ("create_role", st.create_role(&r).await.map(drop)),
            ("assign_role", st.assign_role(&uid, &r).await.map(drop)),
            ("remove_role", st.remove_role(&uid, &r).await.map(drop)),
            ("get_user_roles", st.get_user_roles(&uid).await.map(drop)),
            ("list_roles", st.list_roles().await.map(drop)),
            ("delete_role", st.delete_role(&r).await.map(drop)),
        ],
        Feature::Permissions => {
            let p = permission("probe:read");
            vec![
                (
                    "assign_permission",
                    st.assign_permission(&r, &p).await.map(drop),
                ),
                (
                    "remove_permission",
                    st.remove_permission(&r, &p).await.map(drop),
                ),
                (
                    "get_role_permissions",
                    st.get_role_permissions(&r).await.map(drop),
                ),
                (
                    "get_permissions_for_roles",
                    st.get_permissions_for_roles(std::slice::from_ref(&r))
                        .await
                        .map(drop),
                ),
                (
                    "get_user_permissions",
                    st.get_user_permissions(&uid).await.map(drop),
                ),
                ("list_permissions", st.list_permissions().await.map(drop)),
            ]
        }
        Feature::OAuth => vec![
            (
                "get_oauth_account",
                st.get_oauth_account(&provider, &provider_user)
                    .await
                    .map(drop),
            ),
            (
                "list_oauth_accounts",
                st.list_oauth_accounts(&uid).await.map(drop),
            ),
            (
                "link_oauth_account",
                st.link_oauth_account(NewOAuthAccount {
                    provider: provider.clone(),
                    provider_user_id: provider_user.clone(),
                    user_id: uid,
                    provider_email: None,
                    access_token: None,
                    refresh_token: None,
                    expires_at: None,
                })
                .await
                .map(drop),
            ),
            (
                "update_oauth_account",
                st.update_oauth_account(&provider, &provider_user, OAuthAccountPatch::default())
                    .await
                    .map(drop),
            ),
            (
                "delete_oauth_account",
                st.delete_oauth_account(&provider, &provider_user)
                    .await
                    .map(drop),
            ),
        ],
        Feature::Passkeys => vec![
            ("get_passkey", st.get_passkey(&credential).await.map(drop)),
            ("list_passkeys", st.list_passkeys(&uid).await.map(drop)),
            (
                "store_passkey",
                st.store_passkey(NewPasskey {
                    user_id: uid.clone(),
                    credential_id: credential.clone(),
                    public_key: Text::new("pk")?,
                    sign_count: 0,
                    device_name: DeviceName::new("probe")?,
                    transports: Transports::default(),
                    backed_up: false,
                })
                .await
                .map(drop),
            ),
            (
                "update_sign_count",
                st.update_sign_count(&credential, 1).await.map(drop),
            ),
            (
                "rename_passkey",
                st.rename_passkey(&uid, uuid::Uuid::new_v4(), &DeviceName::new("x")?)
                    .await
                    .map(drop),
            ),
            (
                "delete_passkey",
                st.delete_passkey(&uid, uuid::Uuid::new_v4())
                    .await
                    .map(drop),
            ),
        ],
        Feature::Mfa => vec![
            ("get_mfa", st.get_mfa(&uid).await.map(drop)),
            (
                "store_mfa",
                st.store_mfa(&uid, &MfaSecret::new("JBSWY3DPEHPK3PXP")?)
                    .await
                    .map(drop),
            ),
            ("confirm_mfa", st.confirm_mfa(&uid, &[]).await.map(drop)),
            ("delete_mfa", st.delete_mfa(&uid).await.map(drop)),
            (
                "advance_mfa_counter",
                st.advance_mfa_counter(&uid, 1).await.map(drop),
            ),
            (
                "consume_recovery_code",
                st.consume_recovery_code(&uid, &digest()).await.map(drop),
            ),
        ],
        Feature::Blacklist => vec![
            ("blacklist", st.blacklist(&k, Duration::from_secs(1)).await),
            ("is_blacklisted", st.is_blacklisted(&k).await.map(drop)),
            (
                "any_blacklisted",
                st.any_blacklisted(std::slice::from_ref(&k)).await.map(drop),
            ),
        ],
        Feature::Lockout => {
            let p = LockoutPolicy {
                max_attempts: 5,
                duration: Duration::from_secs(60),
            };
            vec![
                ("record_failure", st.record_failure(&k, p).await.map(drop)),
                ("is_locked", st.is_locked(&k).await.map(drop)),
                ("clear_lockout", st.clear_lockout(&k).await),
            ]
        }
        Feature::RateLimit => {
            let p = RateLimitPolicy {
                limit: 5,
                window: Duration::from_secs(60),
            };
            vec![
                ("hit", st.hit(&k, p).await.map(drop)),
                ("reset_rate_limit", st.reset_rate_limit(&k).await),
            ]
        }
        Feature::Challenges => vec![
            (
                "put_challenge",
                st.put_challenge(&k, &Text::new("c")?, Duration::from_secs(1))
                    .await,
            ),
            ("take_challenge", st.take_challenge(&k).await.map(drop)),
        ],
        _ => Vec::new(),
    };
    Ok(out)
}

/// True when `r` is FeatureDisabled naming `feature`.
fn disabled_for(r: &Result<(), StoreError>, feature: Feature) -> bool {
    matches!(r, Err(StoreError::FeatureDisabled { feature: f, .. }) if *f == feature)
}

/// For every feature the store does not report, a representative method
/// answers FeatureDisabled naming that feature, with a hint how to enable it.
pub async fn unreported_features_answer_feature_disabled(s: Subject) -> CaseResult {
    let served = s.store.features();
    for f in Feature::ALL.into_iter().filter(|f| !served.contains(*f)) {
        let Some(r) = probe(&s, f).await else {
            continue;
        };
        assert!(
            disabled_for(&r, f),
            "feature `{f}` is not reported, so its methods must answer FeatureDisabled({f}); got {r:?}"
        );
        if let Err(StoreError::FeatureDisabled { hint, .. }) = &r {
            assert!(!hint.trim().is_empty(), "FeatureDisabled({f}) needs a hint");
        }
    }
    Ok(())
}

/// Every method (reads and writes) of every unreported feature answers
/// FeatureDisabled naming that feature: none panics or silently answers.
pub async fn every_method_of_unreported_features_is_disabled(s: Subject) -> CaseResult {
    let served = s.store.features();
    for f in Feature::ALL.into_iter().filter(|f| !served.contains(*f)) {
        for (method, r) in every_method(&s, f).await? {
            assert!(
                disabled_for(&r, f),
                "`{method}` of the unreported feature `{f}` must answer FeatureDisabled({f}); got {r:?}"
            );
        }
    }
    Ok(())
}

/// For every feature the store reports, its representative method works
/// (never FeatureDisabled, no error on random inputs).
pub async fn reported_features_are_served(s: Subject) -> CaseResult {
    let served = s.store.features();
    for f in served.iter() {
        let Some(r) = probe(&s, f).await else {
            continue;
        };
        assert!(
            !matches!(r, Err(StoreError::FeatureDisabled { .. })),
            "feature `{f}` is reported but its method answered {r:?}"
        );
        if let Err(e) = r {
            return Err(e.into());
        }
    }
    Ok(())
}

/// The reported feature set is consistent (Permissions needs Roles; every
/// other feature may stand alone) and not empty.
pub async fn reported_features_validate(s: Subject) -> CaseResult {
    let served = s.store.features();
    served.validate()?;
    assert!(!served.is_empty(), "a store serves at least one feature");
    assert_eq!(
        served,
        s.store.features(),
        "features() is stable between calls"
    );
    Ok(())
}

/// backend_name is a non-empty short name.
pub async fn backend_name_is_not_empty(s: Subject) -> CaseResult {
    let name = s.store.backend_name();
    assert!(!name.trim().is_empty(), "backend_name() must not be empty");
    assert!(
        !name.chars().any(char::is_control),
        "backend_name() {name:?} must be printable"
    );
    Ok(())
}

/// begin opens a transaction (rolled back here) on a store with Core, and
/// answers FeatureDisabled Core on a store that serves no durable feature. A
/// store serving some durable features but not Core (MFA over the app's own
/// user table) may do either.
pub async fn begin_follows_core(s: Subject) -> CaseResult {
    let served = s.store.features();
    let durable = served.iter().any(|f| !f.is_short_lived());
    let r = s.store.begin().await;
    match r {
        Ok(tx) if durable => tx.rollback().await?,
        Ok(_) => panic!(
            "begin on a store without durable features must be FeatureDisabled(core), got a transaction"
        ),
        Err(StoreError::FeatureDisabled {
            feature: Feature::Core,
            ..
        }) if !served.contains(Feature::Core) => {}
        Err(e) if served.contains(Feature::Core) => {
            panic!("a store with Core must open transactions, got {e:?}")
        }
        Err(e) => panic!(
            "begin on a store without Core must open a transaction or be FeatureDisabled(core), got {e:?}"
        ),
    }
    Ok(())
}
