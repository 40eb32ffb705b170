// conformance-group: requires = [Core, Roles, Permissions]
//! Principals with permissions: `get_principal` lists the union of the
//! permissions of the user's roles as `get_user_permissions` does — sorted,
//! each once when several roles grant it, nothing for a role without grants —
//! and inside a transaction sees the transaction's grants.

use fullauth_api::{PermissionName, Principal, UserId, UserLookup};

use super::*;
use crate::CaseResult;

/// The principal of the user with this id, failing the case when there is none.
async fn principal_of(s: &Subject, id: &UserId) -> Result<Principal, CaseError> {
    s.store
        .get_principal(&UserLookup::Id(id.clone()))
        .await?
        .ok_or_else(|| CaseError::Failed(format!("get_principal found no user {id}")))
}

/// Permission names sharing one random tag, so their order is decided by the prefix.
fn perms(prefixes: &[&str]) -> Result<Vec<PermissionName>, StoreError> {
    let t = tag();
    prefixes
        .iter()
        .map(|p| PermissionName::new(format!("{p}-{t}")))
        .collect()
}

/// The permissions equal get_user_permissions and the roles get_user_roles.
pub async fn principal_permissions_match_get_user_permissions(s: Subject) -> CaseResult {
    let u = user(&s).await?;
    let (editor, viewer) = (role("editor"), role("viewer"));
    let p = perms(&["posts:edit", "posts:read", "comments:read"])?;
    s.store.assign_permission(&editor, &p[0]).await?;
    s.store.assign_permission(&viewer, &p[1]).await?;
    s.store.assign_permission(&viewer, &p[2]).await?;
    s.store.assign_role(&u.id, &editor).await?;
    s.store.assign_role(&u.id, &viewer).await?;
    let got = principal_of(&s, &u.id).await?;
    let mut expected = p.clone();
    expected.sort();
    assert_eq!(got.permissions, expected);
    assert_eq!(got.permissions, s.store.get_user_permissions(&u.id).await?);
    assert_eq!(got.roles, s.store.get_user_roles(&u.id).await?);
    assert_eq!(got.user, u);
    Ok(())
}

/// A permission granted by two of the user's roles is listed once; the list is sorted.
pub async fn principal_permissions_sorted_and_deduplicated(s: Subject) -> CaseResult {
    let u = user(&s).await?;
    let (a, b) = (role("alpha"), role("bravo"));
    let p = perms(&["zeta", "shared", "alpha"])?;
    s.store.assign_permission(&a, &p[0]).await?;
    s.store.assign_permission(&a, &p[1]).await?;
    s.store.assign_permission(&b, &p[1]).await?;
    s.store.assign_permission(&b, &p[2]).await?;
    s.store.assign_role(&u.id, &a).await?;
    s.store.assign_role(&u.id, &b).await?;
    let got = principal_of(&s, &u.id).await?;
    assert_eq!(
        got.permissions,
        vec![p[2].clone(), p[1].clone(), p[0].clone()]
    );
    let by_email = s
        .store
        .get_principal(&UserLookup::Email(u.email.clone()))
        .await?
        .map(|g| g.permissions);
    assert_eq!(by_email, Some(got.permissions));
    Ok(())
}

/// A role without grants is listed among the roles and adds no permission.
pub async fn principal_role_without_permissions(s: Subject) -> CaseResult {
    let u = user(&s).await?;
    let (granted, bare) = (role("granted"), role("bare"));
    let p = permission("posts:edit");
    s.store.assign_permission(&granted, &p).await?;
    s.store.create_role(&bare).await?;
    s.store.assign_role(&u.id, &granted).await?;
    s.store.assign_role(&u.id, &bare).await?;
    let got = principal_of(&s, &u.id).await?;
    let mut roles = vec![granted, bare];
    roles.sort();
    assert_eq!(got.roles, roles);
    assert_eq!(got.permissions, vec![p]);
    Ok(())
}

/// Inside a transaction the principal shows a grant made there; the store does not until commit.
pub async fn principal_in_transaction_sees_its_grants(s: Subject) -> CaseResult {
    let u = user(&s).await?;
    let r = role("editor");
    s.store.assign_role(&u.id, &r).await?;
    let p = permission("posts:publish");
    let tx = s.store.begin().await?;
    tx.assign_permission(&r, &p).await?;
    let inside = tx.get_principal(&UserLookup::Id(u.id.clone())).await?;
    assert_eq!(inside.map(|g| g.permissions), Some(vec![p.clone()]));
    assert!(
        principal_of(&s, &u.id).await?.permissions.is_empty(),
        "the store must not see the transaction's grant before commit"
    );
    tx.commit().await?;
    assert_eq!(principal_of(&s, &u.id).await?.permissions, vec![p]);
    Ok(())
}
