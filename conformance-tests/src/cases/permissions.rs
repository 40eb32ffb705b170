// conformance-group: requires = [Roles, Permissions]
//! Permissions: grants to roles, the union over several roles and over a
//! user's roles, sorted and duplicate-free lists, role deletion withdrawing
//! grants, concurrent grants.

use fullauth_api::{PermissionName, RoleName};

use super::*;
use crate::CaseResult;

/// Permission names sharing one random tag, so their order is decided by the prefix.
fn perms(prefixes: &[&str]) -> Result<Vec<PermissionName>, StoreError> {
    let t = tag();
    prefixes
        .iter()
        .map(|p| PermissionName::new(format!("{p}-{t}")))
        .collect()
}

/// Sorted copy.
fn sorted<T: Ord + Clone>(v: &[T]) -> Vec<T> {
    let mut v = v.to_vec();
    v.sort();
    v
}

/// Reference 20: two permissions on a role are listed sorted; after removing one, the other remains.
pub async fn permission_crud(s: Subject) -> CaseResult {
    let r = role("editor");
    let p = perms(&["posts:edit", "posts:create"])?;
    assert!(s.store.assign_permission(&r, &p[0]).await?);
    assert!(s.store.assign_permission(&r, &p[1]).await?);
    assert_eq!(
        s.store.get_role_permissions(&r).await?,
        vec![p[1].clone(), p[0].clone()],
        "sorted: posts:create before posts:edit"
    );
    assert!(s.store.remove_permission(&r, &p[1]).await?);
    assert_eq!(s.store.get_role_permissions(&r).await?, vec![p[0].clone()]);
    Ok(())
}

/// Reference 21: a user with two roles gets the sorted union of their permissions.
pub async fn user_permissions_through_roles(s: Subject) -> CaseResult {
    let u = some_user(&s).await?;
    let editor = role("editor");
    let viewer = role("viewer");
    let p = perms(&["posts:edit", "posts:create", "posts:read"])?;
    s.store.assign_permission(&editor, &p[0]).await?;
    s.store.assign_permission(&editor, &p[1]).await?;
    s.store.assign_permission(&viewer, &p[2]).await?;
    s.store.assign_role(&u, &editor).await?;
    s.store.assign_role(&u, &viewer).await?;
    assert_eq!(s.store.get_user_permissions(&u).await?, sorted(&p));
    Ok(())
}

/// assign_permission answers true when granting and false when the role already has it.
pub async fn assign_permission_true_then_false(s: Subject) -> CaseResult {
    let r = role("editor");
    let p = permission("posts:edit");
    assert!(s.store.assign_permission(&r, &p).await?);
    assert!(!s.store.assign_permission(&r, &p).await?);
    assert!(!s.store.assign_permission(&r, &p).await?);
    assert_eq!(s.store.get_role_permissions(&r).await?, vec![p]);
    Ok(())
}

/// remove_permission answers true when the role had it, false afterwards and for a grant never made.
pub async fn remove_permission_true_then_false(s: Subject) -> CaseResult {
    let r = role("editor");
    let p = permission("posts:edit");
    let other = permission("posts:other");
    s.store.assign_permission(&r, &p).await?;
    s.store
        .assign_permission(&role("elsewhere"), &other)
        .await?;
    assert!(s.store.remove_permission(&r, &p).await?);
    assert!(!s.store.remove_permission(&r, &p).await?);
    assert!(
        !s.store.remove_permission(&r, &other).await?,
        "the permission exists but was granted to another role"
    );
    assert!(
        !s.store
            .remove_permission(&role("ghost"), &permission("ghost"))
            .await?
    );
    assert!(s.store.get_role_permissions(&r).await?.is_empty());
    Ok(())
}

/// Removing a permission from one role leaves the same permission on another role.
pub async fn remove_permission_is_per_role(s: Subject) -> CaseResult {
    let a = role("a");
    let b = role("b");
    let p = permission("shared");
    s.store.assign_permission(&a, &p).await?;
    s.store.assign_permission(&b, &p).await?;
    s.store.remove_permission(&a, &p).await?;
    assert!(s.store.get_role_permissions(&a).await?.is_empty());
    assert_eq!(s.store.get_role_permissions(&b).await?, vec![p]);
    Ok(())
}

/// A permission granted to two roles of a user appears once in the user's and the batch union.
pub async fn union_is_deduplicated(s: Subject) -> CaseResult {
    let u = some_user(&s).await?;
    let a = role("a");
    let b = role("b");
    let p = perms(&["shared", "only-a", "only-b"])?;
    s.store.assign_permission(&a, &p[0]).await?;
    s.store.assign_permission(&a, &p[1]).await?;
    s.store.assign_permission(&b, &p[0]).await?;
    s.store.assign_permission(&b, &p[2]).await?;
    s.store.assign_role(&u, &a).await?;
    s.store.assign_role(&u, &b).await?;
    let expected = sorted(&p);
    assert_eq!(s.store.get_user_permissions(&u).await?, expected);
    assert_eq!(
        s.store
            .get_permissions_for_roles(&[a.clone(), b.clone()])
            .await?,
        expected
    );
    assert_eq!(
        s.store.get_permissions_for_roles(&[a.clone(), a]).await?,
        sorted(&p[..2]),
        "a role named twice counts once"
    );
    Ok(())
}

/// get_permissions_for_roles gives exactly the sorted union of the named roles, not of others.
pub async fn batch_for_several_roles(s: Subject) -> CaseResult {
    let r: Vec<RoleName> = vec![role("one"), role("two"), role("three")];
    let p = perms(&["zeta", "alpha", "mu", "kappa"])?;
    s.store.assign_permission(&r[0], &p[0]).await?;
    s.store.assign_permission(&r[0], &p[1]).await?;
    s.store.assign_permission(&r[1], &p[2]).await?;
    s.store.assign_permission(&r[2], &p[3]).await?;
    let got = s
        .store
        .get_permissions_for_roles(&[r[1].clone(), r[0].clone()])
        .await?;
    assert_eq!(got, sorted(&p[..3]));
    assert_eq!(
        s.store.get_permissions_for_roles(&r[2..]).await?,
        vec![p[3].clone()]
    );
    Ok(())
}

/// get_permissions_for_roles of an empty slice is empty.
pub async fn batch_of_no_roles_empty(s: Subject) -> CaseResult {
    s.store
        .assign_permission(&role("busy"), &permission("p"))
        .await?;
    assert!(s.store.get_permissions_for_roles(&[]).await?.is_empty());
    Ok(())
}

/// Unknown roles contribute nothing to the batch union (and alone give an empty list).
pub async fn batch_ignores_unknown_roles(s: Subject) -> CaseResult {
    let known = role("known");
    let p = permission("p");
    s.store.assign_permission(&known, &p).await?;
    assert_eq!(
        s.store
            .get_permissions_for_roles(&[role("ghost"), known.clone()])
            .await?,
        vec![p]
    );
    assert!(
        s.store
            .get_permissions_for_roles(&[role("ghost"), role("ghost")])
            .await?
            .is_empty()
    );
    Ok(())
}

/// get_role_permissions of an unknown role is empty, as is that of a role without grants.
pub async fn role_permissions_unknown_or_bare_role_empty(s: Subject) -> CaseResult {
    assert!(
        s.store
            .get_role_permissions(&role("ghost"))
            .await?
            .is_empty()
    );
    let bare = role("bare");
    s.store.create_role(&bare).await?;
    assert!(s.store.get_role_permissions(&bare).await?.is_empty());
    Ok(())
}

/// A user without roles, and an unknown user, have no permissions.
pub async fn user_without_roles_has_no_permissions(s: Subject) -> CaseResult {
    let u = some_user(&s).await?;
    s.store
        .assign_permission(&role("unrelated"), &permission("p"))
        .await?;
    assert!(s.store.get_user_permissions(&u).await?.is_empty());
    assert!(
        s.store
            .get_user_permissions(&ghost_user(&s))
            .await?
            .is_empty()
    );
    Ok(())
}

/// get_user_permissions follows role changes: a removed role's permissions are gone.
pub async fn user_permissions_follow_role_removal(s: Subject) -> CaseResult {
    let u = some_user(&s).await?;
    let a = role("a");
    let b = role("b");
    let pa = permission("pa");
    let pb = permission("pb");
    s.store.assign_permission(&a, &pa).await?;
    s.store.assign_permission(&b, &pb).await?;
    s.store.assign_role(&u, &a).await?;
    s.store.assign_role(&u, &b).await?;
    s.store.remove_role(&u, &a).await?;
    assert_eq!(s.store.get_user_permissions(&u).await?, vec![pb]);
    Ok(())
}

/// list_permissions contains every granted permission once, its own ones in name order.
pub async fn list_permissions_contains_granted(s: Subject) -> CaseResult {
    let r = role("lister");
    let p = perms(&["zz", "aa", "mm"])?;
    for name in &p {
        s.store.assign_permission(&r, name).await?;
    }
    let listed = s.store.list_permissions().await?;
    let mine: Vec<PermissionName> = listed.into_iter().filter(|n| p.contains(n)).collect();
    assert_eq!(mine, sorted(&p), "every granted permission, once, sorted");
    Ok(())
}

/// assign_permission creates a missing role: it is listed and create_role then answers false.
pub async fn assign_permission_creates_role(s: Subject) -> CaseResult {
    let r = role("implicit");
    s.store.assign_permission(&r, &permission("p")).await?;
    assert!(s.store.list_roles().await?.contains(&r));
    assert!(!s.store.create_role(&r).await?);
    Ok(())
}

/// delete_role withdraws its grants: a user loses them, and a re-created role starts with none.
pub async fn delete_role_removes_grants(s: Subject) -> CaseResult {
    let u = some_user(&s).await?;
    let doomed = role("doomed");
    let kept = role("kept");
    let p = perms(&["doomed", "kept"])?;
    s.store.assign_permission(&doomed, &p[0]).await?;
    s.store.assign_permission(&kept, &p[1]).await?;
    s.store.assign_role(&u, &doomed).await?;
    s.store.assign_role(&u, &kept).await?;
    assert!(s.store.delete_role(&doomed).await?);
    assert!(s.store.get_role_permissions(&doomed).await?.is_empty());
    assert_eq!(s.store.get_user_permissions(&u).await?, vec![p[1].clone()]);
    assert_eq!(
        s.store
            .get_permissions_for_roles(&[doomed.clone(), kept])
            .await?,
        vec![p[1].clone()]
    );
    assert!(s.store.create_role(&doomed).await?);
    assert!(
        s.store.get_role_permissions(&doomed).await?.is_empty(),
        "the old grants must not come back with the re-created role"
    );
    Ok(())
}

/// Of many concurrent grants of one permission to one role exactly one answers true, none fails.
pub async fn concurrent_assign_permission_one_winner(s: Subject) -> CaseResult {
    let r = role("race");
    let p = permission("race");
    let results = race(RACERS, |_| {
        let store = s.store.clone();
        let (r, p) = (r.clone(), p.clone());
        async move { store.assign_permission(&r, &p).await }
    })
    .await;
    let mut wins = 0;
    for res in results {
        if res? {
            wins += 1;
        }
    }
    assert_eq!(wins, 1, "exactly one call grants the permission");
    assert_eq!(s.store.get_role_permissions(&r).await?, vec![p]);
    Ok(())
}

/// Grants racing deletions of the same role answer as some serial order
/// would (the role is created again when it was deleted first), never
/// `NotFound { Role }`.
pub async fn assign_permission_racing_delete_role_never_fails(s: Subject) -> CaseResult {
    for _ in 0..8 {
        let t = tag();
        let r = RoleName::new(format!("vanishing-{t}"))?;
        let p = PermissionName::new(format!("vanishing:{t}"))?;
        s.store.create_role(&r).await?;
        let results = race(RACERS, |i| {
            let store = s.store.clone();
            let (r, p) = (r.clone(), p.clone());
            async move {
                if i % 2 == 0 {
                    store.assign_permission(&r, &p).await.map(Some)
                } else {
                    store.delete_role(&r).await.map(|_| None)
                }
            }
        })
        .await;
        for res in results {
            res?;
        }
        let granted = s.store.get_role_permissions(&r).await?;
        assert!(
            granted.is_empty() || granted == vec![p.clone()],
            "the role's permissions are the one granted or none: {granted:?}"
        );
        s.store.delete_role(&r).await?;
    }
    Ok(())
}
