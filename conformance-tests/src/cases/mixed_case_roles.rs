// conformance-group: requires = [Roles]
//! Mixed-case role names: `Admin` and `admin` are two roles (names are
//! compared byte for byte), held by different users, listed, removed and
//! deleted separately; no lookup crosses cases.

use fullauth_api::RoleName;

use super::*;
use crate::CaseResult;

/// `Admin-<tag>`, `admin-<tag>` and `ADMIN-<tag>`.
fn spellings() -> Result<(RoleName, RoleName, RoleName), fullauth_api::StoreError> {
    let t = tag();
    Ok((
        RoleName::new(format!("Admin-{t}"))?,
        RoleName::new(format!("admin-{t}"))?,
        RoleName::new(format!("ADMIN-{t}"))?,
    ))
}

/// `Admin` given to one user and `admin` to another: each user holds only
/// their own; removing or deleting another spelling changes nothing.
pub async fn role_names_differing_in_case_are_distinct_roles(s: Subject) -> CaseResult {
    let (title, lower, upper) = spellings()?;
    let (a, b) = (some_user(&s).await?, some_user(&s).await?);
    assert!(s.store.assign_role(&a, &title).await?);
    assert!(
        s.store.assign_role(&b, &lower).await?,
        "`{lower}` was taken for `{title}`"
    );
    assert_eq!(s.store.get_user_roles(&a).await?, vec![title.clone()]);
    assert_eq!(s.store.get_user_roles(&b).await?, vec![lower.clone()]);
    assert!(!s.store.remove_role(&a, &lower).await?);
    assert!(!s.store.remove_role(&a, &upper).await?);
    assert!(!s.store.remove_role(&b, &title).await?);
    assert_eq!(s.store.get_user_roles(&a).await?, vec![title.clone()]);
    let listed: Vec<RoleName> = s
        .store
        .list_roles()
        .await?
        .into_iter()
        .filter(|r| r.as_str().eq_ignore_ascii_case(title.as_str()))
        .collect();
    assert_eq!(listed, vec![title.clone(), lower.clone()], "byte order");
    assert!(!s.store.delete_role(&upper).await?);
    assert!(s.store.delete_role(&title).await?);
    assert!(s.store.get_user_roles(&a).await?.is_empty());
    assert_eq!(s.store.get_user_roles(&b).await?, vec![lower]);
    Ok(())
}

/// One user holding every spelling holds three roles, sorted by bytes;
/// `create_role` of an existing spelling is false, of a new one true.
pub async fn one_user_holds_each_spelling_separately(s: Subject) -> CaseResult {
    let (title, lower, upper) = spellings()?;
    let u = some_user(&s).await?;
    for r in [&lower, &title, &upper] {
        assert!(s.store.assign_role(&u, r).await?, "{r}");
    }
    assert_eq!(
        s.store.get_user_roles(&u).await?,
        vec![upper.clone(), title.clone(), lower.clone()]
    );
    assert!(!s.store.create_role(&title).await?);
    let odd = RoleName::new(format!("aDMIN{}", &title.as_str()[5..]))?;
    assert!(s.store.create_role(&odd).await?);
    assert!(s.store.remove_role(&u, &title).await?);
    assert_eq!(s.store.get_user_roles(&u).await?, vec![upper, lower]);
    Ok(())
}
