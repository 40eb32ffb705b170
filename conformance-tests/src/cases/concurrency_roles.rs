// conformance-group: requires = [Roles]
//! Races on roles: creating a role and assigning roles from many tasks.

use fullauth_api::RoleName;

use super::*;
use crate::CaseResult;

/// Of N concurrent assignments of one role to one user exactly one returns
/// true, and the user has the role once.
pub async fn assign_same_role_one_winner(s: Subject) -> CaseResult {
    let u = some_user(&s).await?;
    let r = role("editor");
    let results = race(RACERS, |_| {
        let st = s.store.clone();
        let r = r.clone();
        {
        let value = u.clone();
        async move { st.assign_role(&value, &r).await }
        }
    })
    .await;
    let results: Vec<bool> = results.into_iter().collect::<Result<_, _>>()?;
    assert_eq!(results.iter().filter(|w| **w).count(), 1, "{results:?}");
    assert_eq!(s.store.get_user_roles(&u).await?, vec![r]);
    Ok(())
}

/// Of N concurrent creations of one role exactly one returns true, and the
/// role is listed once.
pub async fn create_role_one_winner(s: Subject) -> CaseResult {
    let r = role("admin");
    let results = race(RACERS, |_| {
        let st = s.store.clone();
        let r = r.clone();
        async move { st.create_role(&r).await }
    })
    .await;
    let results: Vec<bool> = results.into_iter().collect::<Result<_, _>>()?;
    assert_eq!(results.iter().filter(|w| **w).count(), 1, "{results:?}");
    let listed = s.store.list_roles().await?;
    assert_eq!(listed.iter().filter(|x| **x == r).count(), 1);
    Ok(())
}

/// Concurrent assignments of one not-yet-existing role to N users all
/// succeed: the role is created once and every user gets it.
pub async fn assign_new_role_to_many_users(s: Subject) -> CaseResult {
    let r = role("viewer");
    let mut users = Vec::with_capacity(RACERS);
    for _ in 0..RACERS {
        users.push(some_user(&s).await?);
    }
    let results = race(RACERS, |i| {
        let st = s.store.clone();
        let r = r.clone();
        let id = users[i].clone();
        async move { st.assign_role(&id, &r).await }
    })
    .await;
    let results: Vec<bool> = results.into_iter().collect::<Result<_, _>>()?;
    assert!(
        results.iter().all(|w| *w),
        "each user lacked the role: {results:?}"
    );
    for id in &users {
        assert_eq!(s.store.get_user_roles(id).await?, vec![r.clone()]);
    }
    let listed = s.store.list_roles().await?;
    assert_eq!(listed.iter().filter(|x| **x == r).count(), 1);
    Ok(())
}

/// Concurrent assignments of N different roles to one user lose none.
pub async fn assign_distinct_roles_none_lost(s: Subject) -> CaseResult {
    let u = some_user(&s).await?;
    let roles: Vec<RoleName> = (0..RACERS).map(|_| role("r")).collect();
    let results = race(RACERS, |i| {
        let st = s.store.clone();
        let r = roles[i].clone();
        {
        let value = u.clone();
        async move { st.assign_role(&value, &r).await }
        }
    })
    .await;
    let results: Vec<bool> = results.into_iter().collect::<Result<_, _>>()?;
    assert!(results.iter().all(|w| *w));
    let mut expected = roles.clone();
    expected.sort();
    assert_eq!(s.store.get_user_roles(&u).await?, expected);
    Ok(())
}
