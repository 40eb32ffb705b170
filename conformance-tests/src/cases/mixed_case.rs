// conformance-group: requires = [Core]
//! Mixed-case emails: emails that differ only in case are one user, however
//! they are written at creation, lookup or update (emails are normalised;
//! every other name is compared byte for byte, see the `mixed_case_*`
//! groups).

use fullauth_api::{ConflictKind, Email, NewUser, UserLookup, UserPatch};

use super::*;
use crate::CaseResult;

/// A mixed-case address and its lowercase and uppercase forms.
fn spellings() -> (String, String, String) {
    let mixed = format!("Mixed.Case-{}@Example.Test", tag());
    (mixed.clone(), mixed.to_lowercase(), mixed.to_uppercase())
}

/// A user created with a mixed-case email is stored lowercased and found by
/// every spelling; registering another spelling is a Conflict on Email.
pub async fn emails_differing_in_case_are_one_user(s: Subject) -> CaseResult {
    let (mixed, lower, upper) = spellings();
    let u = s.store.create_user(NewUser::new(mixed.as_str())?).await?;
    assert_eq!(u.email.as_str(), lower);
    for spelling in [&mixed, &lower, &upper] {
        let found = s.store.get_user_by_email(&Email::new(spelling)?).await?;
        assert_eq!(found.map(|x| x.id), Some(u.id.clone()), "looked up as {spelling}");
        let by_lookup = s
            .store
            .get_user_by_field(&UserLookup::parse("email", spelling.as_str())?)
            .await?;
        assert_eq!(by_lookup.map(|x| x.id), Some(u.id.clone()), "found as {spelling}");
    }
    for spelling in [&lower, &upper] {
        let dup = s.store.create_user(NewUser::new(spelling.as_str())?).await;
        assert!(
            dup.as_ref()
                .is_err_and(|e| e.is_conflict(ConflictKind::Email)),
            "{spelling}: {dup:?}"
        );
    }
    Ok(())
}

/// Changing another user's email to a differently cased spelling of a taken
/// one is a Conflict on Email; re-spelling a user's own email in another
/// case is no change of owner.
pub async fn email_update_to_other_case_is_the_same_email(s: Subject) -> CaseResult {
    let (mixed, lower, upper) = spellings();
    let owner = s.store.create_user(NewUser::new(mixed.as_str())?).await?;
    let other = user(&s).await?;
    let mut p = UserPatch::new();
    p.email = Some(Email::new(&upper)?);
    let r = s.store.update_user(&other.id, p.clone()).await;
    assert!(
        r.as_ref()
            .is_err_and(|e| e.is_conflict(ConflictKind::Email)),
        "got {r:?}"
    );
    assert_eq!(
        s.store.get_user(&other.id).await?.map(|u| u.email),
        Some(other.email)
    );
    let same = s.store.update_user(&owner.id, p).await?;
    assert_eq!(same.email.as_str(), lower);
    let found = s.store.get_user_by_email(&Email::new(&lower)?).await?;
    assert_eq!(found.map(|u| u.id), Some(owner.id));
    Ok(())
}
