// conformance-group: requires = [Roles, Permissions]
//! Races on permission grants.

use fullauth_api::PermissionName;

use super::*;
use crate::CaseResult;

/// Of N concurrent grants of one permission to one role exactly one returns
/// true, and the role has it once.
pub async fn assign_same_permission_one_winner(s: Subject) -> CaseResult {
    let r = role("editor");
    let p = permission("posts:edit");
    let results = race(RACERS, |_| {
        let st = s.store.clone();
        let (r, p) = (r.clone(), p.clone());
        async move { st.assign_permission(&r, &p).await }
    })
    .await;
    let results: Vec<bool> = results.into_iter().collect::<Result<_, _>>()?;
    assert_eq!(results.iter().filter(|w| **w).count(), 1, "{results:?}");
    assert_eq!(s.store.get_role_permissions(&r).await?, vec![p]);
    Ok(())
}

/// Concurrent grants of N different permissions to one new role all
/// succeed and none is lost (the role is created once).
pub async fn assign_distinct_permissions_none_lost(s: Subject) -> CaseResult {
    let r = role("ops");
    let perms: Vec<PermissionName> = (0..RACERS).map(|_| permission("svc:run")).collect();
    let results = race(RACERS, |i| {
        let st = s.store.clone();
        let (r, p) = (r.clone(), perms[i].clone());
        async move { st.assign_permission(&r, &p).await }
    })
    .await;
    let results: Vec<bool> = results.into_iter().collect::<Result<_, _>>()?;
    assert!(results.iter().all(|w| *w));
    let mut expected = perms.clone();
    expected.sort();
    assert_eq!(s.store.get_role_permissions(&r).await?, expected);
    let listed = s.store.list_roles().await?;
    assert_eq!(listed.iter().filter(|x| **x == r).count(), 1);
    Ok(())
}
