// conformance-group: requires = [Core, Mfa]
//! Deleting a user removes their MFA factor and recovery codes.

use fullauth_api::MfaSecret;

use super::*;
use crate::CaseResult;

/// Deleting a user removes their factor and codes; another user's factor is untouched.
pub async fn delete_user_removes_mfa_factor(s: Subject) -> CaseResult {
    let victim = user(&s).await?;
    let other = user(&s).await?;
    let code = digest();
    s.store
        .store_mfa(&victim.id, &MfaSecret::new("JBSWY3DPEHPK3PXP")?)
        .await?;
    s.store
        .confirm_mfa(&victim.id, std::slice::from_ref(&code))
        .await?;
    s.store
        .store_mfa(&other.id, &MfaSecret::new("KRSXG5CTMVRXEZLU")?)
        .await?;
    s.store
        .confirm_mfa(&other.id, std::slice::from_ref(&code))
        .await?;
    let kept = s.store.get_mfa(&other.id).await?;
    assert!(s.store.delete_user(&victim.id).await?);
    assert!(s.store.get_mfa(&victim.id).await?.is_none());
    let (again, _) = user_with_id(&s, victim.id).await?;
    assert!(
        s.store.get_mfa(&again).await?.is_none(),
        "a re-created id must not inherit the factor"
    );
    assert!(!s.store.consume_recovery_code(&again, &code).await?);
    assert!(!s.store.advance_mfa_counter(&again, 1).await?);
    assert_eq!(s.store.get_mfa(&other.id).await?, kept);
    Ok(())
}
