// conformance-group: requires = [Core]
//! Users: creation, lookups, updates, deletion, passwords.

use fullauth_api::{ConflictKind, Entity, NewUser, StoreError, UserId, UserLookup, UserPatch};

use super::*;
use crate::CaseResult;

/// Reference 1: the created user has its email and default flags and is found by id.
pub async fn create_and_get_user(s: Subject) -> CaseResult {
    let email = email();
    let u = s.store.create_user(NewUser::new(email.as_str())?).await?;
    assert_eq!(u.email, email);
    assert!(u.is_active && !u.is_verified && !u.is_superuser);
    let got = s.store.get_user(&u.id).await?.expect("created user is found by id");
    assert_eq!(got, u);
    Ok(())
}

/// Reference 4: a second create with the same email is a Conflict on Email.
pub async fn create_duplicate_email_conflicts(s: Subject) -> CaseResult {
    let u = user(&s).await?;
    let again = s.store.create_user(NewUser::new(u.email.as_str())?).await;
    assert!(
        matches!(again, Err(StoreError::Conflict { what: ConflictKind::Email })),
        "got {again:?}"
    );
    Ok(())
}

/// Unknown ids give None, not an error.
pub async fn get_unknown_user_is_none(s: Subject) -> CaseResult {
    assert!(s.store.get_user(&UserId::generate()).await?.is_none());
    Ok(())
}

/// Reference 7 (adapted): a lookup by a column the table does not have is UnknownField.
pub async fn get_user_by_unknown_field(s: Subject) -> CaseResult {
    let l = UserLookup::parse("no_such_column", "x")?;
    let r = s.store.get_user_by_field(&l).await;
    assert!(matches!(r, Err(StoreError::UnknownField { .. })), "got {r:?}");
    Ok(())
}

/// Updating an unknown user is NotFound.
pub async fn update_unknown_user_not_found(s: Subject) -> CaseResult {
    let mut p = UserPatch::new();
    p.is_active = Some(false);
    let r = s.store.update_user(&UserId::generate(), p).await;
    assert!(r.as_ref().is_err_and(|e| e.is_not_found(Entity::User)), "got {r:?}");
    Ok(())
}
