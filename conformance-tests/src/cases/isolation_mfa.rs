// conformance-group: requires = [Core, Mfa]
//! (Requires Core besides MFA: the cases open transactions, which a store
//! without Core may refuse.)
//! Writes from outside an open transaction on the TOTP counter: an outside
//! `advance_mfa_counter` while a transaction has advanced the same counter
//! has the outcome of the serial order "transaction, then outside write"
//! after a commit, and of the outside write alone after a rollback (see
//! `isolation` for the Core part).

use fullauth_api::{MfaSecret, StoreError, UserId};
use tokio::task::JoinHandle;

use super::isolation::{finish, outside};
use super::*;
use crate::CaseResult;

/// Creates a user with a confirmed factor (counter 0).
async fn enrolled(s: &Subject) -> Result<UserId, CaseError> {
    let u = some_user(s).await?;
    s.store
        .store_mfa(&u, &MfaSecret::new("JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP")?)
        .await?;
    assert!(s.store.confirm_mfa(&u, &[]).await?);
    Ok(u)
}

/// Starts `advance_mfa_counter(id, counter)` from outside.
async fn advance_outside(
    s: &Subject,
    id: UserId,
    counter: u32,
) -> JoinHandle<Result<bool, StoreError>> {
    let store = s.store.clone();
    outside(async move { store.advance_mfa_counter(&id, counter).await }).await
}

/// Advances the counter to `inside` in a transaction, to `out` from outside
/// meanwhile, then commits (or rolls back). Returns the outside answer and
/// the stored counter afterwards.
async fn run(s: &Subject, inside: u32, out: u32, commit: bool) -> Result<(bool, u32), CaseError> {
    let id = enrolled(s).await?;
    let tx = s.store.begin().await?;
    assert!(tx.advance_mfa_counter(&id, inside).await?);
    let handle = advance_outside(s, id.clone(), out).await;
    if commit {
        tx.commit().await?;
    } else {
        tx.rollback().await?;
    }
    let won = finish(handle).await??;
    let stored = s.store.get_mfa(&id).await?.map(|f| f.last_counter);
    Ok((won, stored.unwrap_or_default()))
}

/// A lower outside step after the committed one loses; the committed step stays.
pub async fn outside_lower_counter_loses_to_commit(s: Subject) -> CaseResult {
    let (won, stored) = run(&s, 57_000_100, 57_000_050, true).await?;
    assert!(!won, "a step older than the committed one was accepted");
    assert_eq!(stored, 57_000_100);
    Ok(())
}

/// An equal outside step after the committed one loses: a step is accepted once.
pub async fn outside_equal_counter_loses_to_commit(s: Subject) -> CaseResult {
    let (won, stored) = run(&s, 57_000_100, 57_000_100, true).await?;
    assert!(!won, "the committed step was accepted a second time");
    assert_eq!(stored, 57_000_100);
    Ok(())
}

/// A higher outside step after the committed one wins and is stored.
pub async fn outside_higher_counter_wins_after_commit(s: Subject) -> CaseResult {
    let (won, stored) = run(&s, 57_000_100, 57_000_200, true).await?;
    assert!(won, "a newer step was refused");
    assert_eq!(stored, 57_000_200, "the outside step was lost");
    Ok(())
}

/// After a rollback the outside step is judged against the old counter
/// (0): it wins, and the rolled-back step is gone.
pub async fn outside_counter_wins_after_rollback(s: Subject) -> CaseResult {
    let (won, stored) = run(&s, 57_000_100, 57_000_050, false).await?;
    assert!(won, "the outside step was judged against a rolled-back one");
    assert_eq!(stored, 57_000_050, "the outside step was lost");
    Ok(())
}
