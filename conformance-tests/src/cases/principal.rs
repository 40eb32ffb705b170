// conformance-group: requires = [Core]
//! Principals: `get_principal` finds the user as `get_user_by_field` does
//! (by id, by email, by any field, the oldest match), answers `None` for no
//! match, returns the user as `get_user` does with empty role and permission
//! lists for a user without roles — also on a store that does not serve
//! Roles or Permissions, which never answers FeatureDisabled for those — and
//! sees a transaction's own writes.

use std::time::Duration;

use fullauth_api::{Feature, NewUser, Principal, StoreError, UserLookup};

use super::*;
use crate::CaseResult;

/// The principal of `lookup`, failing the case when there is none.
async fn found(s: &Subject, lookup: &UserLookup) -> Result<Principal, CaseError> {
    s.store
        .get_principal(lookup)
        .await?
        .ok_or_else(|| CaseError::Failed(format!("get_principal({lookup:?}) found no user")))
}

/// By id: the principal's user is what get_user answers; a new user has no roles and no permissions.
pub async fn principal_by_id(s: Subject) -> CaseResult {
    let u = user(&s).await?;
    let p = found(&s, &UserLookup::Id(u.id.clone())).await?;
    assert_eq!(Some(&p.user), s.store.get_user(&u.id).await?.as_ref());
    assert_eq!(p.user, u);
    assert!(p.roles.is_empty(), "a new user has no roles: {:?}", p.roles);
    assert!(
        p.permissions.is_empty(),
        "a new user has no permissions: {:?}",
        p.permissions
    );
    Ok(())
}

/// By email: the lookup finds the user with that email, flags as stored.
pub async fn principal_by_email(s: Subject) -> CaseResult {
    let mut new = NewUser::new(email().as_str())?;
    new.is_verified = true;
    new.is_superuser = true;
    let u = s.store.create_user(new).await?;
    let p = found(&s, &UserLookup::Email(u.email.clone())).await?;
    assert_eq!(p.user, u);
    assert!(p.user.is_verified && p.user.is_superuser);
    Ok(())
}

/// By field: the parsed `id` and `email` lookups find the user, as get_user_by_field does.
pub async fn principal_by_parsed_field(s: Subject) -> CaseResult {
    let u = user(&s).await?;
    let by_id = UserLookup::parse_for(id_type(&s), "id", u.id.to_string())?;
    assert_eq!(found(&s, &by_id).await?.user.id, u.id);
    let by_email = UserLookup::parse("email", u.email.as_str().to_uppercase())?;
    assert_eq!(found(&s, &by_email).await?.user.id, u.id);
    assert_eq!(
        s.store.get_user_by_field(&by_email).await?.map(|g| g.id),
        Some(u.id)
    );
    Ok(())
}

/// By the text app column: finds the user with its column value; another value gives None.
pub async fn principal_by_app_column(s: Subject) -> CaseResult {
    let col = text_column(&s)?;
    let name = format!("Ada {}", tag());
    let u = s
        .store
        .create_user(NewUser::new(email().as_str())?.with_extra(&col, name.as_str())?)
        .await?;
    let p = found(&s, &UserLookup::parse(&col, name.as_str())?).await?;
    assert_eq!(p.user, u);
    assert_eq!(p.user.extra_field::<String>(&col)?, Some(name));
    let other = UserLookup::parse(&col, format!("Ada {}", tag()))?;
    assert!(s.store.get_principal(&other).await?.is_none());
    Ok(())
}

/// Several users match: the principal is the oldest, as with get_user_by_field.
pub async fn principal_is_the_oldest_match(s: Subject) -> CaseResult {
    let col = text_column(&s)?;
    let name = format!("twin {}", tag());
    let first = s
        .store
        .create_user(NewUser::new(email().as_str())?.with_extra(&col, name.as_str())?)
        .await?;
    s.clock.advance(Duration::from_millis(5)).await;
    s.store
        .create_user(NewUser::new(email().as_str())?.with_extra(&col, name.as_str())?)
        .await?;
    let p = found(&s, &UserLookup::parse(&col, name.as_str())?).await?;
    assert_eq!(p.user.id, first.id);
    Ok(())
}

/// An unknown id or email gives None, not an error.
pub async fn principal_unknown_is_none(s: Subject) -> CaseResult {
    assert!(
        s.store
            .get_principal(&UserLookup::Id(ghost_user(&s)))
            .await?
            .is_none()
    );
    assert!(
        s.store
            .get_principal(&UserLookup::Email(email()))
            .await?
            .is_none()
    );
    Ok(())
}

/// A lookup by a column the table does not have is UnknownField.
pub async fn principal_by_unknown_field(s: Subject) -> CaseResult {
    let r = s
        .store
        .get_principal(&UserLookup::parse("no_such_column", "x")?)
        .await;
    assert!(
        matches!(r, Err(StoreError::UnknownField { ref field, .. }) if field == "no_such_column"),
        "got {r:?}"
    );
    Ok(())
}

/// On a store that serves Core without Roles (or without Permissions), the lists are empty, not FeatureDisabled.
pub async fn principal_lists_of_unserved_features_are_empty(s: Subject) -> CaseResult {
    let u = user(&s).await?;
    let p = found(&s, &UserLookup::Id(u.id)).await?;
    if !s.features().contains(Feature::Roles) {
        assert!(p.roles.is_empty());
    }
    if !s.features().contains(Feature::Permissions) {
        assert!(p.permissions.is_empty());
    }
    Ok(())
}

/// Inside a transaction the principal of a user created there is found; the store does not see it before commit.
pub async fn principal_in_transaction_sees_its_writes(s: Subject) -> CaseResult {
    let tx = s.store.begin().await?;
    let u = tx.create_user(NewUser::new(email().as_str())?).await?;
    let inside = tx
        .get_principal(&UserLookup::Email(u.email.clone()))
        .await?;
    assert_eq!(inside.map(|p| p.user), Some(u.clone()));
    assert!(
        s.store
            .get_principal(&UserLookup::Id(u.id.clone()))
            .await?
            .is_none(),
        "an uncommitted user must not be visible outside the transaction"
    );
    tx.commit().await?;
    assert_eq!(found(&s, &UserLookup::Id(u.id.clone())).await?.user, u);
    Ok(())
}
