// conformance-group: requires = [Roles, Permissions]
//! Mixed-case permission and role names: `Posts:Edit` and `posts:edit` are
//! two permissions, grants to `Admin` are not grants to `admin`, and no
//! lookup crosses cases.

use fullauth_api::{PermissionName, RoleName};

use super::*;
use crate::CaseResult;

/// Permissions differing only in case are granted, listed and withdrawn
/// separately.
pub async fn permission_names_differing_in_case_are_distinct(s: Subject) -> CaseResult {
    let t = tag();
    let title = PermissionName::new(format!("Posts:Edit-{t}"))?;
    let lower = PermissionName::new(format!("posts:edit-{t}"))?;
    let upper = PermissionName::new(format!("POSTS:EDIT-{t}"))?;
    let r = role("editor");
    assert!(s.store.assign_permission(&r, &title).await?);
    assert!(
        s.store.assign_permission(&r, &lower).await?,
        "`{lower}` was taken for `{title}`"
    );
    assert_eq!(
        s.store.get_role_permissions(&r).await?,
        vec![title.clone(), lower.clone()]
    );
    assert!(!s.store.remove_permission(&r, &upper).await?);
    assert!(s.store.remove_permission(&r, &lower).await?);
    assert_eq!(s.store.get_role_permissions(&r).await?, vec![title.clone()]);
    let listed: Vec<PermissionName> = s
        .store
        .list_permissions()
        .await?
        .into_iter()
        .filter(|p| p.as_str().eq_ignore_ascii_case(title.as_str()))
        .collect();
    assert!(
        listed.contains(&title) && listed.contains(&lower) && !listed.contains(&upper),
        "{listed:?}"
    );
    Ok(())
}

/// Roles `Admin` and `admin` with different permissions, held by different
/// users: each user gets only their role's permissions, and asking for a
/// third spelling gives none.
pub async fn role_case_separates_permission_grants(s: Subject) -> CaseResult {
    let t = tag();
    let title = RoleName::new(format!("Admin-{t}"))?;
    let lower = RoleName::new(format!("admin-{t}"))?;
    let upper = RoleName::new(format!("ADMIN-{t}"))?;
    let (p, q) = (permission("users:ban"), permission("users:view"));
    assert!(s.store.assign_permission(&title, &p).await?);
    assert!(s.store.assign_permission(&lower, &q).await?);
    let (a, b) = (some_user(&s).await?, some_user(&s).await?);
    s.store.assign_role(&a, &title).await?;
    s.store.assign_role(&b, &lower).await?;
    assert_eq!(s.store.get_user_permissions(&a).await?, vec![p.clone()]);
    assert_eq!(s.store.get_user_permissions(&b).await?, vec![q.clone()]);
    assert_eq!(
        s.store
            .get_permissions_for_roles(std::slice::from_ref(&title))
            .await?,
        vec![p.clone()]
    );
    assert!(
        s.store
            .get_permissions_for_roles(std::slice::from_ref(&upper))
            .await?
            .is_empty()
    );
    assert!(s.store.get_role_permissions(&upper).await?.is_empty());
    assert!(!s.store.remove_permission(&lower, &p).await?);
    assert!(s.store.delete_role(&title).await?);
    assert!(s.store.get_user_permissions(&a).await?.is_empty());
    assert_eq!(s.store.get_user_permissions(&b).await?, vec![q]);
    Ok(())
}
