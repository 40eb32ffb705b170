// conformance-group: requires = [Core]
//! Writes from outside an open transaction: a plain write made through the
//! store while another task holds a transaction open is never lost and never
//! taken into the transaction. It may wait until the transaction ends (a
//! store with a single writer) or land at once (row locks), but its outcome
//! is the one of some serial order of the two, the transaction's rollback
//! does not undo it and the transaction's commit does not overwrite it.
//!
//! The outside write runs on a task of its own, since it may wait for the
//! transaction: the case goes on using the transaction meanwhile, ends it,
//! then awaits the outside write.

use std::future::Future;
use std::time::Duration;

use fullauth_api::{
    ClientInfo, ConflictKind, FamilyId, NewUser, NextRefreshToken, Rotation, StoreError, User,
    UserPatch,
};
use tokio::task::JoinHandle;

use super::*;
use crate::CaseResult;

/// How long the outside write gets to land, or to start waiting, before the
/// case goes on with the transaction.
pub(crate) const HEAD_START: Duration = Duration::from_millis(100);

/// Starts `write` on a task of its own and gives it [`HEAD_START`].
pub(crate) async fn outside<T, F>(write: F) -> JoinHandle<T>
where
    T: Send + 'static,
    F: Future<Output = T> + Send + 'static,
{
    let handle = tokio::spawn(write);
    tokio::time::sleep(HEAD_START).await;
    handle
}

/// The outcome of an outside write started by [`outside`].
pub(crate) async fn finish<T>(handle: JoinHandle<T>) -> Result<T, CaseError> {
    handle
        .await
        .map_err(|e| CaseError::Failed(format!("the outside write's task failed: {e}")))
}

/// Starts `create_user` of `email` from outside.
async fn create_outside(
    s: &Subject,
    email: &str,
) -> Result<JoinHandle<Result<User, StoreError>>, StoreError> {
    let new = NewUser::new(email)?;
    let store = s.store.clone();
    Ok(outside(async move { store.create_user(new).await }).await)
}

/// Starts `update_user` of `id` with `patch` from outside.
async fn update_outside(
    s: &Subject,
    id: UserId,
    patch: UserPatch,
) -> JoinHandle<Result<User, StoreError>> {
    let store = s.store.clone();
    outside(async move { store.update_user(&id, patch).await }).await
}

/// A patch setting `is_superuser`.
fn superuser(on: bool) -> UserPatch {
    let mut p = UserPatch::new();
    p.is_superuser = Some(on);
    p
}

/// A patch setting `is_active`.
fn active(on: bool) -> UserPatch {
    let mut p = UserPatch::new();
    p.is_active = Some(on);
    p
}

/// True when `user`, created by a transaction that rolled back, is gone: its
/// id names no user — or, on an integer-keyed store, whose database may give
/// a rolled-back id again (SQLite's rowid does), no longer names this user.
async fn rolled_back(s: &Subject, user: &User) -> Result<bool, StoreError> {
    let now = s.store.get_user(&user.id).await?;
    Ok(match now {
        None => true,
        Some(u) => id_type(s) == UserIdType::Int && u.email != user.email,
    })
}

/// A user created from outside while a transaction creates another one,
/// which then commits: both users exist, and so does one the transaction
/// created after the outside write started.
pub async fn outside_create_user_and_commit_keep_both(s: Subject) -> CaseResult {
    let tx = s.store.begin().await?;
    let inside = tx.create_user(NewUser::new(email().as_str())?).await?;
    let out = create_outside(&s, email().as_str()).await?;
    let later = tx.create_user(NewUser::new(email().as_str())?).await?;
    tx.commit().await?;
    let out = finish(out).await??;
    assert_eq!(s.store.get_user(&inside.id).await?, Some(inside));
    assert_eq!(s.store.get_user(&later.id).await?, Some(later));
    assert_eq!(
        s.store.get_user_by_email(&out.email).await?,
        Some(out),
        "the outside write was lost"
    );
    Ok(())
}

/// A user created from outside while a transaction creates another one,
/// which then rolls back: only the outside user exists.
pub async fn outside_create_user_survives_rollback(s: Subject) -> CaseResult {
    let tx = s.store.begin().await?;
    let inside = tx.create_user(NewUser::new(email().as_str())?).await?;
    let out = create_outside(&s, email().as_str()).await?;
    tx.rollback().await?;
    let out = finish(out).await??;
    assert!(rolled_back(&s, &inside).await?);
    assert!(s.store.get_user_by_email(&inside.email).await?.is_none());
    assert_eq!(
        s.store.get_user(&out.id).await?,
        Some(out),
        "the rollback took the outside write with it"
    );
    Ok(())
}

/// The same as the rollback, with the transaction dropped instead.
pub async fn outside_create_user_survives_dropped_transaction(s: Subject) -> CaseResult {
    let tx = s.store.begin().await?;
    let inside = tx.create_user(NewUser::new(email().as_str())?).await?;
    let out = create_outside(&s, email().as_str()).await?;
    drop(tx);
    let out = finish(out).await??;
    assert!(rolled_back(&s, &inside).await?);
    assert_eq!(s.store.get_user(&out.id).await?, Some(out));
    Ok(())
}

/// An outside `create_user` of the email (differently cased) that an open
/// transaction created: after the commit it is a Conflict on Email, and the
/// transaction's user owns the email.
pub async fn outside_create_of_same_email_conflicts_after_commit(s: Subject) -> CaseResult {
    let tx = s.store.begin().await?;
    let inside = tx.create_user(NewUser::new(email().as_str())?).await?;
    let shouted = format!(" {} ", inside.email.as_str().to_uppercase());
    let out = create_outside(&s, &shouted).await?;
    tx.commit().await?;
    let out = finish(out).await?;
    assert!(
        out.as_ref()
            .is_err_and(|e| e.is_conflict(ConflictKind::Email)),
        "the second registration of a committed email: {out:?}"
    );
    let owner = s.store.get_user_by_email(&inside.email).await?;
    assert_eq!(owner.map(|u| u.id), Some(inside.id));
    Ok(())
}

/// The same after a rollback: the outside registration succeeds and owns
/// the email.
pub async fn outside_create_of_same_email_succeeds_after_rollback(s: Subject) -> CaseResult {
    let tx = s.store.begin().await?;
    let inside = tx.create_user(NewUser::new(email().as_str())?).await?;
    let out = create_outside(&s, inside.email.as_str()).await?;
    tx.rollback().await?;
    let out = finish(out).await??;
    if id_type(&s) != UserIdType::Int {
        assert_ne!(out.id, inside.id);
    }
    let owner = s.store.get_user_by_email(&inside.email).await?;
    assert_eq!(owner.map(|u| u.id), Some(out.id.clone()));
    if out.id != inside.id {
        assert!(rolled_back(&s, &inside).await?);
    }
    Ok(())
}

/// A transaction updates one field of a user, an outside write another
/// field of the same user: after the commit both changes are there (no lost
/// update in either direction).
pub async fn outside_update_and_committed_update_both_stay(s: Subject) -> CaseResult {
    let u = user(&s).await?;
    assert!(u.is_active && !u.is_superuser);
    let tx = s.store.begin().await?;
    tx.update_user(&u.id, superuser(true)).await?;
    let out = update_outside(&s, u.id.clone(), active(false)).await;
    tx.commit().await?;
    let out = finish(out).await??;
    assert!(!out.is_active, "the outside update");
    let after = s.store.get_user(&u.id).await?.expect("the user exists");
    assert!(after.is_superuser, "the committed update was lost");
    assert!(!after.is_active, "the outside update was lost");
    Ok(())
}

/// The same when the transaction only read the user before the outside
/// write started and updates it afterwards: a store that rewrites the whole
/// row it read would lose the outside update.
pub async fn outside_update_between_read_and_write_of_tx_stays(s: Subject) -> CaseResult {
    let u = user(&s).await?;
    let tx = s.store.begin().await?;
    assert_eq!(tx.get_user(&u.id).await?, Some(u.clone()));
    let out = update_outside(&s, u.id.clone(), active(false)).await;
    tx.update_user(&u.id, superuser(true)).await?;
    tx.commit().await?;
    let out = finish(out).await??;
    assert!(!out.is_active);
    let after = s.store.get_user(&u.id).await?.expect("the user exists");
    assert!(after.is_superuser, "the committed update was lost");
    assert!(!after.is_active, "the outside update was lost");
    Ok(())
}

/// A rolled-back update of one field and an outside update of another: the
/// outside one stays, the other is gone.
pub async fn outside_update_survives_rolled_back_update(s: Subject) -> CaseResult {
    let u = user(&s).await?;
    let tx = s.store.begin().await?;
    tx.update_user(&u.id, superuser(true)).await?;
    let out = update_outside(&s, u.id.clone(), active(false)).await;
    tx.rollback().await?;
    let out = finish(out).await??;
    assert!(!out.is_active);
    let after = s.store.get_user(&u.id).await?.expect("the user exists");
    assert!(!after.is_superuser, "the rolled-back update stayed");
    assert!(!after.is_active, "the outside update was lost");
    Ok(())
}

/// A fresh next token expiring in two hours.
fn next(s: &Subject) -> NextRefreshToken {
    NextRefreshToken {
        digest: digest(),
        expires_at: in_secs(s, 7200),
        client: ClientInfo::default(),
    }
}

/// Starts `revoke_refresh_token` of `d` from outside.
async fn revoke_outside(
    s: &Subject,
    d: &fullauth_api::TokenDigest,
) -> JoinHandle<Result<bool, StoreError>> {
    let store = s.store.clone();
    let d = d.clone();
    outside(async move { store.revoke_refresh_token(&d).await }).await
}

/// An outside revoke of a token an open transaction has rotated, then
/// committed: serially the revoke comes second, so it answers false (the
/// token was already revoked) and the new token stays live.
pub async fn outside_revoke_after_committed_rotation_is_false(s: Subject) -> CaseResult {
    let u = user(&s).await?;
    let old = token(&u.id, &FamilyId::generate(), in_secs(&s, 3600));
    s.store.store_refresh_token(old.clone()).await?;
    let n = next(&s);
    let tx = s.store.begin().await?;
    let r = tx.rotate_refresh_token(&old.digest, n.clone()).await?;
    assert!(matches!(r, Rotation::Rotated(_)), "got {r:?}");
    let out = revoke_outside(&s, &old.digest).await;
    tx.commit().await?;
    let revoked = finish(out).await??;
    assert!(
        !revoked,
        "the outside revoke flipped a token the committed rotation had revoked"
    );
    let old_row = s.store.get_refresh_token(&old.digest).await?;
    assert!(old_row.is_some_and(|t| t.revoked));
    let new_row = s.store.get_refresh_token(&n.digest).await?;
    assert!(new_row.is_some_and(|t| !t.revoked), "the new token is live");
    Ok(())
}

/// The same with a rollback: serially the revoke is alone, so it answers
/// true and the new token never existed.
pub async fn outside_revoke_after_rolled_back_rotation_is_true(s: Subject) -> CaseResult {
    let u = user(&s).await?;
    let old = token(&u.id, &FamilyId::generate(), in_secs(&s, 3600));
    s.store.store_refresh_token(old.clone()).await?;
    let n = next(&s);
    let tx = s.store.begin().await?;
    let r = tx.rotate_refresh_token(&old.digest, n.clone()).await?;
    assert!(matches!(r, Rotation::Rotated(_)), "got {r:?}");
    let out = revoke_outside(&s, &old.digest).await;
    tx.rollback().await?;
    assert!(finish(out).await??, "the outside revoke was lost");
    let old_row = s.store.get_refresh_token(&old.digest).await?;
    assert!(old_row.is_some_and(|t| t.revoked));
    assert!(s.store.get_refresh_token(&n.digest).await?.is_none());
    Ok(())
}

/// An outside revoke started after a transaction read the token but before
/// it rotates it: exactly one serial order shows. Either the transaction
/// came first (`Rotated`, the revoke answers false, the new token is live)
/// or the revoke did (`Reused`, the revoke answers true, no new token).
pub async fn outside_revoke_racing_rotation_is_serial(s: Subject) -> CaseResult {
    let u = user(&s).await?;
    let old = token(&u.id, &FamilyId::generate(), in_secs(&s, 3600));
    s.store.store_refresh_token(old.clone()).await?;
    let n = next(&s);
    let tx = s.store.begin().await?;
    let seen = tx.get_refresh_token(&old.digest).await?;
    assert!(seen.is_some_and(|t| !t.revoked));
    let out = revoke_outside(&s, &old.digest).await;
    let r = tx.rotate_refresh_token(&old.digest, n.clone()).await?;
    tx.commit().await?;
    let revoked = finish(out).await??;
    let new_row = s.store.get_refresh_token(&n.digest).await?;
    match r {
        Rotation::Rotated(_) => {
            assert!(
                !revoked,
                "both the rotation and the revoke flipped the token"
            );
            assert!(new_row.is_some_and(|t| !t.revoked), "the new token is live");
        }
        Rotation::Reused { .. } => {
            assert!(revoked, "the rotation saw a revoke that did not happen");
            assert!(new_row.is_none(), "a reuse inserts nothing");
        }
        other => panic!("expected Rotated or Reused, got {other:?}"),
    }
    let old_row = s.store.get_refresh_token(&old.digest).await?;
    assert!(old_row.is_some_and(|t| t.revoked));
    Ok(())
}
