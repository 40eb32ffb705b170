// conformance-group: requires = [Core, Roles]
//! Transactions across users and roles: commit, rollback and reads of own
//! writes.

use fullauth_api::NewUser;

use super::*;
use crate::CaseResult;

/// Reference 25: create_user plus assign_role in one transaction are both visible after commit.
pub async fn commit_user_and_role(s: Subject) -> CaseResult {
    let editor = role("editor");
    let tx = s.store.begin().await?;
    let u = tx.create_user(NewUser::new(email().as_str())?).await?;
    assert!(tx.assign_role(&u.id, &editor).await?);
    tx.commit().await?;
    assert!(s.store.get_user(&u.id).await?.is_some());
    assert_eq!(s.store.get_user_roles(&u.id).await?, vec![editor]);
    Ok(())
}

/// A rolled-back role assignment (and the role it created) is not visible.
pub async fn rollback_discards_role_assignment(s: Subject) -> CaseResult {
    let u = user(&s).await?;
    let viewer = role("viewer");
    let tx = s.store.begin().await?;
    assert!(tx.assign_role(&u.id, &viewer).await?);
    assert_eq!(tx.get_user_roles(&u.id).await?, vec![viewer.clone()]);
    tx.rollback().await?;
    assert!(s.store.get_user_roles(&u.id).await?.is_empty());
    assert!(
        !s.store.list_roles().await?.contains(&viewer),
        "the role created inside the rolled-back transaction must not exist"
    );
    Ok(())
}

/// Role changes of an open transaction are invisible to the store until commit.
pub async fn uncommitted_role_changes_are_invisible(s: Subject) -> CaseResult {
    let u = user(&s).await?;
    let kept = role("kept");
    s.store.assign_role(&u.id, &kept).await?;
    let added = role("added");
    let tx = s.store.begin().await?;
    tx.assign_role(&u.id, &added).await?;
    assert!(tx.remove_role(&u.id, &kept).await?);
    assert_eq!(s.store.get_user_roles(&u.id).await?, vec![kept.clone()]);
    tx.commit().await?;
    assert_eq!(s.store.get_user_roles(&u.id).await?, vec![added]);
    Ok(())
}

/// A duplicate user inside the transaction does not undo a role assigned before it.
pub async fn savepoint_keeps_earlier_role_assignment(s: Subject) -> CaseResult {
    let admin = role("admin");
    let tx = s.store.begin().await?;
    let u = tx.create_user(NewUser::new(email().as_str())?).await?;
    tx.assign_role(&u.id, &admin).await?;
    let dup = tx.create_user(NewUser::new(u.email.as_str())?).await;
    assert!(dup.is_err(), "duplicate email inside the transaction");
    tx.commit().await?;
    assert_eq!(s.store.get_user_roles(&u.id).await?, vec![admin]);
    Ok(())
}
