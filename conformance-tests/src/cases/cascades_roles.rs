// conformance-group: requires = [Core, Roles]
//! Deleting a user removes their role links; the roles themselves and other
//! users' links stay.

use super::*;
use crate::CaseResult;

/// Deleting a user removes their role links; the roles stay listed and other users keep theirs.
pub async fn delete_user_removes_role_links(s: Subject) -> CaseResult {
    let victim = user(&s).await?;
    let other = user(&s).await?;
    let shared = role("shared");
    let own = role("own");
    s.store.assign_role(&victim.id, &shared).await?;
    s.store.assign_role(&victim.id, &own).await?;
    s.store.assign_role(&other.id, &shared).await?;
    assert!(s.store.delete_user(&victim.id).await?);
    assert!(s.store.get_user_roles(&victim.id).await?.is_empty());
    let listed = s.store.list_roles().await?;
    assert!(
        listed.contains(&shared) && listed.contains(&own),
        "roles outlive their users"
    );
    assert_eq!(s.store.get_user_roles(&other.id).await?, vec![shared]);
    let (again, recreated) = user_with_id(&s, victim.id).await?;
    assert!(
        s.store.get_user_roles(&again).await?.is_empty(),
        "a re-created id must not inherit the deleted user's roles"
    );
    if recreated {
        assert!(s.store.assign_role(&again, &own).await?);
    }
    Ok(())
}
