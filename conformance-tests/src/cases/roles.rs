// conformance-group: requires = [Roles]
//! Roles: assignment and removal, sorted lists, role creation and deletion,
//! exact (case-sensitive) names, unknown users, concurrent assignment.

use fullauth_api::{Entity, RoleName};

use super::*;
use crate::CaseResult;

/// Role names sharing one random tag, so their order is decided by the prefix.
fn tagged(prefixes: &[&str]) -> Result<Vec<RoleName>, StoreError> {
    let t = tag();
    prefixes
        .iter()
        .map(|p| RoleName::new(format!("{p}-{t}")))
        .collect()
}

/// Reference 12: assigning editor, viewer, editor gives `[editor, viewer]`; the repeat answers false.
pub async fn assign_and_get_roles(s: Subject) -> CaseResult {
    let u = some_user(&s).await?;
    let r = tagged(&["editor", "viewer"])?;
    assert!(s.store.assign_role(&u, &r[0]).await?);
    assert!(s.store.assign_role(&u, &r[1]).await?);
    assert!(
        !s.store.assign_role(&u, &r[0]).await?,
        "assigning a role the user already has answers false"
    );
    assert_eq!(s.store.get_user_roles(&u).await?, r);
    Ok(())
}

/// Reference 13: removing one of two roles leaves the other.
pub async fn remove_role_leaves_the_other(s: Subject) -> CaseResult {
    let u = some_user(&s).await?;
    let r = tagged(&["editor", "viewer"])?;
    s.store.assign_role(&u, &r[0]).await?;
    s.store.assign_role(&u, &r[1]).await?;
    assert!(s.store.remove_role(&u, &r[0]).await?);
    assert_eq!(s.store.get_user_roles(&u).await?, vec![r[1].clone()]);
    Ok(())
}

/// assign_role answers true the first time and false on every repeat; the user holds the role once.
pub async fn assign_role_is_idempotent(s: Subject) -> CaseResult {
    let u = some_user(&s).await?;
    let r = role("editor");
    assert!(s.store.assign_role(&u, &r).await?);
    assert!(!s.store.assign_role(&u, &r).await?);
    assert!(!s.store.assign_role(&u, &r).await?);
    assert_eq!(s.store.get_user_roles(&u).await?, vec![r]);
    Ok(())
}

/// get_user_roles is sorted by name whatever the order of assignment.
pub async fn user_roles_are_sorted(s: Subject) -> CaseResult {
    let u = some_user(&s).await?;
    let r = tagged(&["delta", "alpha", "charlie", "bravo"])?;
    for name in &r {
        assert!(s.store.assign_role(&u, name).await?);
    }
    let mut expected = r.clone();
    expected.sort();
    assert_eq!(s.store.get_user_roles(&u).await?, expected);
    Ok(())
}

/// remove_role answers true when the user had the role and false afterwards and for a role never held.
pub async fn remove_role_true_then_false(s: Subject) -> CaseResult {
    let u = some_user(&s).await?;
    let held = role("editor");
    let never = role("never");
    s.store.create_role(&never).await?;
    s.store.assign_role(&u, &held).await?;
    assert!(s.store.remove_role(&u, &held).await?);
    assert!(
        !s.store.remove_role(&u, &held).await?,
        "a second removal answers false"
    );
    assert!(!s.store.remove_role(&u, &never).await?);
    assert!(!s.store.remove_role(&u, &role("unknown")).await?);
    assert!(s.store.get_user_roles(&u).await?.is_empty());
    Ok(())
}

/// Removing a role from a user keeps the role itself in list_roles.
pub async fn remove_role_keeps_the_role(s: Subject) -> CaseResult {
    let u = some_user(&s).await?;
    let r = role("editor");
    s.store.assign_role(&u, &r).await?;
    s.store.remove_role(&u, &r).await?;
    assert!(
        s.store.list_roles().await?.contains(&r),
        "the role must survive its removal from a user"
    );
    assert!(
        !s.store.create_role(&r).await?,
        "the role still exists, so create_role answers false"
    );
    Ok(())
}

/// assign_role to an unknown user is NotFound User and links nothing.
pub async fn assign_role_unknown_user_not_found(s: Subject) -> CaseResult {
    let ghost = ghost_user(&s);
    let r = role("editor");
    let res = s.store.assign_role(&ghost, &r).await;
    assert!(
        res.as_ref().is_err_and(|e| e.is_not_found(Entity::User)),
        "got {res:?}"
    );
    assert!(s.store.get_user_roles(&ghost).await?.is_empty());
    Ok(())
}

/// get_user_roles of an unknown user is empty, not an error.
pub async fn user_roles_of_unknown_user_empty(s: Subject) -> CaseResult {
    assert!(
        s.store
            .get_user_roles(&ghost_user(&s))
            .await?
            .is_empty()
    );
    Ok(())
}

/// A user without roles has an empty list.
pub async fn user_without_roles_empty(s: Subject) -> CaseResult {
    let u = some_user(&s).await?;
    assert!(s.store.get_user_roles(&u).await?.is_empty());
    Ok(())
}

/// create_role answers true when it creates the role and false when it already exists.
pub async fn create_role_true_then_false(s: Subject) -> CaseResult {
    let r = role("auditor");
    assert!(s.store.create_role(&r).await?);
    assert!(!s.store.create_role(&r).await?);
    Ok(())
}

/// list_roles contains every created role, and its own roles appear in name order.
pub async fn list_roles_contains_created_sorted(s: Subject) -> CaseResult {
    let r = tagged(&["mike", "alpha", "zulu"])?;
    for name in &r {
        s.store.create_role(name).await?;
    }
    let listed = s.store.list_roles().await?;
    let mine: Vec<RoleName> = listed.into_iter().filter(|n| r.contains(n)).collect();
    let mut expected = r.clone();
    expected.sort();
    assert_eq!(mine, expected, "every created role, once, in name order");
    Ok(())
}

/// assign_role creates a missing role: it is listed and create_role then answers false.
pub async fn assign_role_creates_role(s: Subject) -> CaseResult {
    let u = some_user(&s).await?;
    let r = role("fresh");
    assert!(s.store.assign_role(&u, &r).await?);
    assert!(s.store.list_roles().await?.contains(&r));
    assert!(!s.store.create_role(&r).await?);
    Ok(())
}

/// Assigning an existing role (created with create_role) links it and answers true.
pub async fn assign_existing_role(s: Subject) -> CaseResult {
    let u = some_user(&s).await?;
    let r = role("existing");
    assert!(s.store.create_role(&r).await?);
    assert!(s.store.assign_role(&u, &r).await?);
    assert_eq!(s.store.get_user_roles(&u).await?, vec![r]);
    Ok(())
}

/// delete_role removes the role from every user and from list_roles; true then false.
pub async fn delete_role_removes_user_links(s: Subject) -> CaseResult {
    let a = some_user(&s).await?;
    let b = some_user(&s).await?;
    let r = role("doomed");
    let keep = role("kept");
    s.store.assign_role(&a, &r).await?;
    s.store.assign_role(&b, &r).await?;
    s.store.assign_role(&b, &keep).await?;
    assert!(s.store.delete_role(&r).await?);
    assert!(s.store.get_user_roles(&a).await?.is_empty());
    assert_eq!(s.store.get_user_roles(&b).await?, vec![keep.clone()]);
    let listed = s.store.list_roles().await?;
    assert!(!listed.contains(&r), "a deleted role is not listed");
    assert!(listed.contains(&keep), "other roles stay");
    assert!(
        !s.store.delete_role(&r).await?,
        "a second delete answers false"
    );
    Ok(())
}

/// delete_role of a role that never existed answers false.
pub async fn delete_unknown_role_false(s: Subject) -> CaseResult {
    assert!(!s.store.delete_role(&role("ghost")).await?);
    Ok(())
}

/// A deleted role can be created again, with no users linked.
pub async fn deleted_role_recreated_without_links(s: Subject) -> CaseResult {
    let u = some_user(&s).await?;
    let r = role("phoenix");
    s.store.assign_role(&u, &r).await?;
    s.store.delete_role(&r).await?;
    assert!(
        s.store.create_role(&r).await?,
        "the role was deleted, so it is created again"
    );
    assert!(
        s.store.get_user_roles(&u).await?.is_empty(),
        "the old link must not come back with the new role"
    );
    assert!(s.store.assign_role(&u, &r).await?);
    Ok(())
}

/// Role names are case-sensitive: `Editor` and `editor` are two roles.
pub async fn role_names_are_case_sensitive(s: Subject) -> CaseResult {
    let u = some_user(&s).await?;
    let t = tag();
    let upper = RoleName::new(format!("Editor-{t}"))?;
    let lower = RoleName::new(format!("editor-{t}"))?;
    assert!(s.store.assign_role(&u, &lower).await?);
    assert!(
        s.store.assign_role(&u, &upper).await?,
        "`Editor` is not `editor`"
    );
    assert!(
        s.store
            .create_role(&RoleName::new(format!("EDITOR-{t}"))?)
            .await?
    );
    let mut roles = s.store.get_user_roles(&u).await?;
    roles.sort();
    let mut expected = vec![upper.clone(), lower.clone()];
    expected.sort();
    assert_eq!(roles, expected);
    assert!(s.store.remove_role(&u, &lower).await?);
    assert_eq!(s.store.get_user_roles(&u).await?, vec![upper]);
    Ok(())
}

/// Roles are per user: one user's assignment and removal do not touch another's.
pub async fn roles_are_per_user(s: Subject) -> CaseResult {
    let a = some_user(&s).await?;
    let b = some_user(&s).await?;
    let r = role("editor");
    s.store.assign_role(&a, &r).await?;
    assert!(s.store.get_user_roles(&b).await?.is_empty());
    assert!(!s.store.remove_role(&b, &r).await?, "b never had the role");
    assert_eq!(s.store.get_user_roles(&a).await?, vec![r.clone()]);
    assert!(
        s.store.assign_role(&b, &r).await?,
        "b gets the role even though a has it"
    );
    Ok(())
}

/// A role name with quotes, SQL, emoji and right-to-left text is stored and returned verbatim.
pub async fn hostile_role_name_verbatim(s: Subject) -> CaseResult {
    let u = some_user(&s).await?;
    let r = RoleName::new(format!(
        "'; DROP TABLE fullauth_roles; -- \"%_\\ 🦀 \u{202e}עברית {}",
        tag()
    ))?;
    assert!(s.store.assign_role(&u, &r).await?);
    assert_eq!(s.store.get_user_roles(&u).await?, vec![r.clone()]);
    assert!(s.store.list_roles().await?.contains(&r));
    assert!(s.store.remove_role(&u, &r).await?);
    Ok(())
}

/// Of many concurrent assignments of one role to one user exactly one answers true, none fails.
pub async fn concurrent_assign_role_one_winner(s: Subject) -> CaseResult {
    let u = some_user(&s).await?;
    let r = role("race");
    let results = race(RACERS, |_| {
        let store = s.store.clone();
        let (id, r) = (u.clone(), r.clone());
        async move { store.assign_role(&id, &r).await }
    })
    .await;
    let mut wins = 0;
    for res in results {
        if res? {
            wins += 1;
        }
    }
    assert_eq!(wins, 1, "exactly one assignment creates the link");
    assert_eq!(s.store.get_user_roles(&u).await?, vec![r]);
    Ok(())
}

/// Of many concurrent create_role calls for one name exactly one answers true, none fails.
pub async fn concurrent_create_role_one_winner(s: Subject) -> CaseResult {
    let r = role("race");
    let results = race(RACERS, |_| {
        let store = s.store.clone();
        let r = r.clone();
        async move { store.create_role(&r).await }
    })
    .await;
    let mut wins = 0;
    for res in results {
        if res? {
            wins += 1;
        }
    }
    assert_eq!(wins, 1, "exactly one call creates the role");
    let listed = s.store.list_roles().await?;
    assert_eq!(listed.iter().filter(|n| **n == r).count(), 1);
    Ok(())
}

/// Assignments racing deletions of the same role answer as some serial
/// order would: `true` (the role is created again when it was deleted
/// first), never `NotFound { Role }`; afterwards the user has the role
/// exactly when the last assignment came after the last deletion, and
/// `list_roles` agrees with `get_user_roles`.
pub async fn assign_role_racing_delete_role_never_loses_the_role(s: Subject) -> CaseResult {
    let u = some_user(&s).await?;
    for _ in 0..8 {
        let r = role("vanishing");
        s.store.create_role(&r).await?;
        let results = race(RACERS, |i| {
            let store = s.store.clone();
            let r = r.clone();
            {
            let value = u.clone();
            async move {
                if i % 2 == 0 {
                    store.assign_role(&value, &r).await.map(Some)
                } else {
                    store.delete_role(&r).await.map(|_| None)
                }
            }
            }
        })
        .await;
        for res in results {
            res?;
        }
        let has = s.store.get_user_roles(&u).await?.contains(&r);
        let listed = s.store.list_roles().await?.contains(&r);
        assert!(
            !has || listed,
            "a user holds a role that list_roles does not show"
        );
        s.store.delete_role(&r).await?;
    }
    Ok(())
}
