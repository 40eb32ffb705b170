// conformance-group: requires = [Core]
//! Password hashes and the verified flag.

use fullauth_api::{Entity, HashedPassword, NewUser};

use super::*;
use crate::CaseResult;

/// A PHC string of the shape argon2-cffi writes (the store keeps it verbatim).
const PHC: &str = "$argon2id$v=19$m=65536,t=3,p=4$c29tZXNhbHQ$RdescudvJCsgt3ub+b+dWRWJTmaaJObG";

/// Reference 10: the hash given at creation is stored; set_password_hash replaces it.
pub async fn password_hash_round_trip(s: Subject) -> CaseResult {
    let first = HashedPassword::new(PHC)?;
    let u = s
        .store
        .create_user(NewUser::new(email().as_str())?.with_password_hash(first.clone()))
        .await?;
    assert_eq!(s.store.get_password_hash(&u.id).await?, Some(first.clone()));
    let second = HashedPassword::new(format!("$argon2id$v=19$m=19456,t=2,p=1${}$x", tag()))?;
    s.store
        .set_password_hash(&u.id, Some(second.clone()))
        .await?;
    let now = s.store.get_password_hash(&u.id).await?;
    assert_eq!(now, Some(second));
    assert_ne!(now, Some(first));
    Ok(())
}

/// A user created without a password has no hash (None, not an empty string).
pub async fn user_without_password_has_none(s: Subject) -> CaseResult {
    let u = user(&s).await?;
    assert_eq!(s.store.get_password_hash(&u.id).await?, None);
    Ok(())
}

/// set_password_hash(None) removes the password.
pub async fn set_password_hash_none_removes_it(s: Subject) -> CaseResult {
    let u = s
        .store
        .create_user(NewUser::new(email().as_str())?.with_password_hash(HashedPassword::new(PHC)?))
        .await?;
    s.store.set_password_hash(&u.id, None).await?;
    assert_eq!(s.store.get_password_hash(&u.id).await?, None);
    Ok(())
}

/// A first password can be set on an account that had none.
pub async fn set_first_password(s: Subject) -> CaseResult {
    let u = user(&s).await?;
    let hash = HashedPassword::new(PHC)?;
    s.store.set_password_hash(&u.id, Some(hash.clone())).await?;
    assert_eq!(s.store.get_password_hash(&u.id).await?, Some(hash));
    Ok(())
}

/// Setting one user's password leaves every other user's hash alone.
pub async fn set_password_hash_touches_only_that_user(s: Subject) -> CaseResult {
    let keep = HashedPassword::new(PHC)?;
    let a = s
        .store
        .create_user(NewUser::new(email().as_str())?.with_password_hash(keep.clone()))
        .await?;
    let b = s
        .store
        .create_user(NewUser::new(email().as_str())?.with_password_hash(keep.clone()))
        .await?;
    let new = HashedPassword::new(format!("$argon2id$v=19$m=1,t=1,p=1${}$y", tag()))?;
    s.store.set_password_hash(&a.id, Some(new.clone())).await?;
    assert_eq!(s.store.get_password_hash(&a.id).await?, Some(new));
    assert_eq!(s.store.get_password_hash(&b.id).await?, Some(keep));
    Ok(())
}

/// Changing the password does not change the user row (flags, email, app columns).
pub async fn set_password_hash_keeps_user_row(s: Subject) -> CaseResult {
    let mut new = NewUser::new(email().as_str())?;
    new.is_verified = true;
    if let Some(col) = s.app_column(crate::ColumnKind::Text) {
        new = new.with_extra(col, "Ada")?;
    }
    let u = s.store.create_user(new).await?;
    s.store
        .set_password_hash(&u.id, Some(HashedPassword::new(PHC)?))
        .await?;
    assert_eq!(s.store.get_user(&u.id).await?, Some(u));
    Ok(())
}

/// get_password_hash of an unknown user is NotFound (not None).
pub async fn get_password_hash_unknown_user_not_found(s: Subject) -> CaseResult {
    let r = s.store.get_password_hash(&ghost_user(&s)).await;
    assert!(
        r.as_ref().is_err_and(|e| e.is_not_found(Entity::User)),
        "got {r:?}"
    );
    Ok(())
}

/// set_password_hash of an unknown user is NotFound.
pub async fn set_password_hash_unknown_user_not_found(s: Subject) -> CaseResult {
    let r = s
        .store
        .set_password_hash(&ghost_user(&s), Some(HashedPassword::new(PHC)?))
        .await;
    assert!(
        r.as_ref().is_err_and(|e| e.is_not_found(Entity::User)),
        "got {r:?}"
    );
    let r = s.store.set_password_hash(&ghost_user(&s), None).await;
    assert!(
        r.as_ref().is_err_and(|e| e.is_not_found(Entity::User)),
        "removing the password of an unknown user, got {r:?}"
    );
    Ok(())
}

/// Reference 11: mark_verified turns is_verified from false to true, and is idempotent.
pub async fn mark_verified(s: Subject) -> CaseResult {
    let u = user(&s).await?;
    assert!(!u.is_verified);
    s.store.mark_verified(&u.id).await?;
    let got = s.store.get_user(&u.id).await?.expect("user exists");
    assert!(got.is_verified);
    assert_eq!(
        (got.email.clone(), got.is_active, got.is_superuser),
        (u.email.clone(), u.is_active, u.is_superuser),
        "only is_verified changes"
    );
    s.store.mark_verified(&u.id).await?;
    assert!(
        s.store
            .get_user(&u.id)
            .await?
            .expect("user exists")
            .is_verified
    );
    Ok(())
}

/// mark_verified of an unknown user is NotFound.
pub async fn mark_verified_unknown_user_not_found(s: Subject) -> CaseResult {
    let r = s.store.mark_verified(&ghost_user(&s)).await;
    assert!(
        r.as_ref().is_err_and(|e| e.is_not_found(Entity::User)),
        "got {r:?}"
    );
    Ok(())
}

/// mark_verified touches only the user it names.
pub async fn mark_verified_touches_only_that_user(s: Subject) -> CaseResult {
    let a = user(&s).await?;
    let b = user(&s).await?;
    s.store.mark_verified(&a.id).await?;
    assert_eq!(s.store.get_user(&b.id).await?, Some(b));
    Ok(())
}
