// conformance-group: requires = [Core, Passkeys]
//! Deleting a user removes their passkeys, freeing the credential ids.

use fullauth_api::{CredentialId, DeviceName, NewPasskey, Text, Transports};

use super::*;
use crate::CaseResult;

/// A passkey with a fresh credential id for `user_id`.
fn passkey(user_id: &UserId) -> Result<NewPasskey, StoreError> {
    Ok(NewPasskey {
        user_id: user_id.clone(),
        credential_id: CredentialId::new(format!("cred_{}", tag()))?,
        public_key: Text::new(format!("pk_{}", tag()))?,
        sign_count: 0,
        device_name: DeviceName::new("phone")?,
        transports: Transports::new(["hybrid"])?,
        backed_up: false,
    })
}

/// Deleting a user removes their passkeys: the credential id can be stored again, other users' stay.
pub async fn delete_user_frees_credentials(s: Subject) -> CaseResult {
    let victim = user(&s).await?;
    let other = user(&s).await?;
    let a = s.store.store_passkey(passkey(&victim.id)?).await?;
    let b = s.store.store_passkey(passkey(&victim.id)?).await?;
    let kept = s.store.store_passkey(passkey(&other.id)?).await?;
    assert!(s.store.delete_user(&victim.id).await?);
    for pk in [&a, &b] {
        assert!(s.store.get_passkey(&pk.credential_id).await?.is_none());
        assert!(
            !s.store.update_sign_count(&pk.credential_id, 9).await?,
            "no passkey left to update"
        );
    }
    let reused = NewPasskey {
        credential_id: a.credential_id.clone(),
        ..passkey(&other.id)?
    };
    s.store.store_passkey(reused).await?;
    assert_eq!(s.store.get_passkey(&kept.credential_id).await?, Some(kept));
    let (recreated, _) = user_with_id(&s, victim.id).await?;
    assert!(s.store.list_passkeys(&recreated).await?.is_empty());
    assert!(
        !s.store.delete_passkey(&recreated, b.id).await?,
        "the old passkey id is gone"
    );
    Ok(())
}
