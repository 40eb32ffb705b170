// conformance-group: requires = [Core, Roles, OAuth, Passkeys, Mfa]
//! Deleting a user who has a row of every kind removes them all at once and
//! leaves an identical neighbour untouched.

use fullauth_api::{
    CredentialId, DeviceName, FamilyId, MfaFactor, MfaSecret, NewOAuthAccount, NewPasskey,
    OAuthAccount, Passkey, ProviderName, ProviderUserId, RefreshToken, RoleName, Text, Transports,
};

use super::*;
use crate::CaseResult;

/// Every dependent row of one user.
struct Footprint {
    token: RefreshToken,
    role: RoleName,
    link: OAuthAccount,
    passkey: Passkey,
    mfa: MfaFactor,
}

/// Gives `user_id` a refresh token, a role, an OAuth link, a passkey and a confirmed factor.
async fn footprint(s: &Subject, user_id: &UserId) -> Result<Footprint, StoreError> {
    let token = s
        .store
        .store_refresh_token(token(user_id, &FamilyId::generate(), in_secs(s, 3600)))
        .await?;
    let role = role("member");
    s.store.assign_role(user_id, &role).await?;
    let link = s
        .store
        .link_oauth_account(NewOAuthAccount {
            provider: ProviderName::new("github")?,
            provider_user_id: ProviderUserId::new(tag())?,
            user_id: user_id.clone(),
            provider_email: None,
            access_token: Some(Text::new("gho_x")?),
            refresh_token: None,
            expires_at: None,
        })
        .await?
        .into_account();
    let passkey = s
        .store
        .store_passkey(NewPasskey {
            user_id: user_id.clone(),
            credential_id: CredentialId::new(format!("cred_{}", tag()))?,
            public_key: Text::new("pk")?,
            sign_count: 1,
            device_name: DeviceName::new("laptop")?,
            transports: Transports::new(["internal"])?,
            backed_up: true,
        })
        .await?;
    s.store
        .store_mfa(user_id, &MfaSecret::new("JBSWY3DPEHPK3PXP")?)
        .await?;
    s.store.confirm_mfa(user_id, &[digest(), digest()]).await?;
    let mfa = s
        .store
        .get_mfa(user_id)
        .await?
        .ok_or_else(|| StoreError::not_found(fullauth_api::Entity::MfaFactor))?;
    Ok(Footprint {
        token,
        role,
        link,
        passkey,
        mfa,
    })
}

/// One delete_user removes the token, role link, OAuth link, passkey and factor; the neighbour keeps all of theirs.
pub async fn delete_user_removes_every_dependent_row(s: Subject) -> CaseResult {
    let victim = user(&s).await?;
    let neighbour = user(&s).await?;
    let v = footprint(&s, &victim.id).await?;
    let n = footprint(&s, &neighbour.id).await?;
    s.store.assign_role(&neighbour.id, &v.role).await?;

    assert!(s.store.delete_user(&victim.id).await?);
    assert!(s.store.get_user(&victim.id).await?.is_none());
    assert!(s.store.get_refresh_token(&v.token.digest).await?.is_none());
    assert!(s.store.get_user_roles(&victim.id).await?.is_empty());
    assert!(
        s.store
            .get_oauth_account(&v.link.provider, &v.link.provider_user_id)
            .await?
            .is_none()
    );
    assert!(
        s.store
            .get_passkey(&v.passkey.credential_id)
            .await?
            .is_none()
    );
    assert!(s.store.get_mfa(&victim.id).await?.is_none());
    assert!(s.store.list_roles().await?.contains(&v.role), "roles stay");

    assert_eq!(
        s.store.get_refresh_token(&n.token.digest).await?,
        Some(n.token)
    );
    let mut roles = vec![n.role.clone(), v.role.clone()];
    roles.sort();
    assert_eq!(s.store.get_user_roles(&neighbour.id).await?, roles);
    assert_eq!(
        s.store.list_oauth_accounts(&neighbour.id).await?,
        vec![n.link]
    );
    assert_eq!(s.store.list_passkeys(&neighbour.id).await?, vec![n.passkey]);
    assert_eq!(s.store.get_mfa(&neighbour.id).await?, Some(n.mfa));
    Ok(())
}

/// Deleting a user with dependent rows answers true, and a second delete answers false.
pub async fn delete_user_with_rows_is_idempotent(s: Subject) -> CaseResult {
    let victim = user(&s).await?;
    footprint(&s, &victim.id).await?;
    assert!(s.store.delete_user(&victim.id).await?);
    assert!(!s.store.delete_user(&victim.id).await?);
    let (again, _) = user_with_id(&s, victim.id).await?;
    assert!(s.store.get_user_roles(&again).await?.is_empty());
    assert!(s.store.list_oauth_accounts(&again).await?.is_empty());
    assert!(s.store.list_passkeys(&again).await?.is_empty());
    assert!(s.store.get_mfa(&again).await?.is_none());
    assert!(s.store.list_sessions(&again).await?.is_empty());
    Ok(())
}
