// conformance-group: requires = [Core, Roles]
//! Principals with roles: `get_principal` lists the user's roles as
//! `get_user_roles` does (sorted, whatever the order of assignment), follows
//! removals, and inside a transaction sees the transaction's role changes.

use fullauth_api::{Feature, NewUser, Principal, RoleName, UserId, UserLookup};

use super::*;
use crate::CaseResult;

/// The principal of the user with this id, failing the case when there is none.
async fn principal_of(s: &Subject, id: &UserId) -> Result<Principal, CaseError> {
    s.store
        .get_principal(&UserLookup::Id(id.clone()))
        .await?
        .ok_or_else(|| CaseError::Failed(format!("get_principal found no user {id}")))
}

/// Role names sharing one random tag, so their order is decided by the prefix.
fn tagged(prefixes: &[&str]) -> Result<Vec<RoleName>, StoreError> {
    let t = tag();
    prefixes
        .iter()
        .map(|p| RoleName::new(format!("{p}-{t}")))
        .collect()
}

/// The roles equal get_user_roles: sorted by name whatever the order of assignment.
pub async fn principal_roles_match_get_user_roles(s: Subject) -> CaseResult {
    let u = user(&s).await?;
    let r = tagged(&["delta", "alpha", "charlie", "bravo"])?;
    for name in &r {
        s.store.assign_role(&u.id, name).await?;
    }
    let mut expected = r.clone();
    expected.sort();
    let p = principal_of(&s, &u.id).await?;
    assert_eq!(p.roles, expected);
    assert_eq!(p.roles, s.store.get_user_roles(&u.id).await?);
    assert_eq!(p.user, u);
    Ok(())
}

/// Lookups by email and by field give the same roles as the lookup by id.
pub async fn principal_roles_by_every_lookup(s: Subject) -> CaseResult {
    let u = user(&s).await?;
    let r = role("editor");
    s.store.assign_role(&u.id, &r).await?;
    let by_email = s
        .store
        .get_principal(&UserLookup::Email(u.email.clone()))
        .await?
        .map(|p| p.roles);
    let by_field = s
        .store
        .get_principal(&UserLookup::parse("email", u.email.as_str())?)
        .await?
        .map(|p| p.roles);
    assert_eq!(by_email, Some(vec![r.clone()]));
    assert_eq!(by_field, Some(vec![r.clone()]));
    assert_eq!(principal_of(&s, &u.id).await?.roles, vec![r]);
    Ok(())
}

/// A removed role is gone from the principal; another user's roles never appear.
pub async fn principal_roles_follow_removal(s: Subject) -> CaseResult {
    let u = user(&s).await?;
    let other = user(&s).await?;
    let r = tagged(&["editor", "viewer"])?;
    s.store.assign_role(&u.id, &r[0]).await?;
    s.store.assign_role(&u.id, &r[1]).await?;
    let foreign = role("foreign");
    s.store.assign_role(&other.id, &foreign).await?;
    assert!(s.store.remove_role(&u.id, &r[0]).await?);
    assert_eq!(principal_of(&s, &u.id).await?.roles, vec![r[1].clone()]);
    assert_eq!(principal_of(&s, &other.id).await?.roles, vec![foreign]);
    Ok(())
}

/// Roles without Permissions served (or without any grant): the permissions are empty.
pub async fn principal_roles_without_grants_have_no_permissions(s: Subject) -> CaseResult {
    let u = user(&s).await?;
    s.store.assign_role(&u.id, &role("bare")).await?;
    let p = principal_of(&s, &u.id).await?;
    assert_eq!(p.roles.len(), 1);
    assert!(p.permissions.is_empty(), "got {:?}", p.permissions);
    if s.features().contains(Feature::Permissions) {
        assert!(s.store.get_user_permissions(&u.id).await?.is_empty());
    }
    Ok(())
}

/// Inside a transaction the principal shows the roles assigned there; the store does not until commit.
pub async fn principal_in_transaction_sees_its_roles(s: Subject) -> CaseResult {
    let kept = role("kept");
    let added = role("added");
    let tx = s.store.begin().await?;
    let u = tx.create_user(NewUser::new(email().as_str())?).await?;
    tx.assign_role(&u.id, &kept).await?;
    tx.assign_role(&u.id, &added).await?;
    let mut both = vec![kept.clone(), added.clone()];
    both.sort();
    let inside = tx.get_principal(&UserLookup::Id(u.id.clone())).await?;
    assert_eq!(inside.map(|p| p.roles), Some(both.clone()));
    tx.commit().await?;
    assert_eq!(principal_of(&s, &u.id).await?.roles, both);

    let tx = s.store.begin().await?;
    assert!(tx.remove_role(&u.id, &added).await?);
    let inside = tx
        .get_principal(&UserLookup::Email(u.email.clone()))
        .await?;
    assert_eq!(inside.map(|p| p.roles), Some(vec![kept]));
    assert_eq!(
        principal_of(&s, &u.id).await?.roles,
        both,
        "the store must not see the transaction's removal before commit"
    );
    tx.rollback().await?;
    assert_eq!(principal_of(&s, &u.id).await?.roles, both);
    Ok(())
}
