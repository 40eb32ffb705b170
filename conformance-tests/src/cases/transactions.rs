// conformance-group: requires = [Core]
//! Transactions on the Core traits: commit, rollback (explicit and by drop),
//! savepoints around `create_user`, no nesting, isolation from the store.
//!
//! While a transaction is open these cases only read through the store: a
//! write outside the transaction may wait for it (SQLite's single writer, a
//! store that serialises writers), which would deadlock the case.

use fullauth_api::{
    ClientInfo, ConflictKind, FamilyId, NewUser, NextRefreshToken, Rotation, StoreError,
    Transaction, UserPatch,
};

use super::*;
use crate::CaseResult;

/// Begins a transaction on the subject's store.
async fn begin(s: &Subject) -> Result<Box<dyn Transaction>, StoreError> {
    s.store.begin().await
}

/// Creates a user with a fresh email inside `tx`.
async fn tx_user(tx: &dyn Transaction) -> Result<fullauth_api::User, StoreError> {
    tx.create_user(NewUser::new(email().as_str())?).await
}

/// Reference 25 (Core part): every write of a committed transaction is visible afterwards.
pub async fn commit_makes_writes_visible(s: Subject) -> CaseResult {
    let tx = begin(&s).await?;
    let u = tx_user(tx.as_ref()).await?;
    let family = FamilyId::generate();
    let t = token(&u.id, &family, in_secs(&s, 3600));
    tx.store_refresh_token(t.clone()).await?;
    tx.commit().await?;
    assert_eq!(s.store.get_user(&u.id).await?, Some(u.clone()));
    let got = s.store.get_refresh_token(&t.digest).await?;
    assert_eq!(got.map(|r| r.user_id), Some(u.id.clone()));
    assert_eq!(s.store.list_sessions(&u.id).await?.len(), 1);
    Ok(())
}

/// Reference 26: an explicit rollback leaves nothing behind.
pub async fn rollback_discards_writes(s: Subject) -> CaseResult {
    let tx = begin(&s).await?;
    let u = tx_user(tx.as_ref()).await?;
    let t = token(&u.id, &FamilyId::generate(), in_secs(&s, 3600));
    tx.store_refresh_token(t.clone()).await?;
    tx.rollback().await?;
    assert!(s.store.get_user(&u.id).await?.is_none());
    assert!(s.store.get_user_by_email(&u.email).await?.is_none());
    assert!(s.store.get_refresh_token(&t.digest).await?.is_none());
    Ok(())
}

/// Reference 26: dropping a transaction without commit rolls it back.
pub async fn drop_rolls_back(s: Subject) -> CaseResult {
    let tx = begin(&s).await?;
    let u = tx_user(tx.as_ref()).await?;
    drop(tx);
    assert!(s.store.get_user(&u.id).await?.is_none());
    // The store is usable afterwards: the same email can be registered.
    let again = s.store.create_user(NewUser::new(u.email.as_str())?).await?;
    assert_eq!(again.email, u.email);
    Ok(())
}

/// Reference 27: a duplicate create_user inside a transaction is a Conflict that does not poison it.
pub async fn savepoint_isolates_duplicate_user(s: Subject) -> CaseResult {
    let tx = begin(&s).await?;
    let first = tx_user(tx.as_ref()).await?;
    let dup = tx.create_user(NewUser::new(first.email.as_str())?).await;
    assert!(
        dup.as_ref()
            .is_err_and(|e| e.is_conflict(ConflictKind::Email)),
        "got {dup:?}"
    );
    let last = tx_user(tx.as_ref()).await?;
    tx.commit().await?;
    assert_eq!(s.store.get_user(&first.id).await?, Some(first));
    assert_eq!(s.store.get_user(&last.id).await?, Some(last));
    Ok(())
}

/// A conflict with a user committed before the transaction, or on a taken id, does not poison it either.
pub async fn savepoint_isolates_conflicts_with_committed_rows(s: Subject) -> CaseResult {
    let existing = user(&s).await?;
    let tx = begin(&s).await?;
    let by_email = tx.create_user(NewUser::new(existing.email.as_str())?).await;
    assert!(
        by_email
            .as_ref()
            .is_err_and(|e| e.is_conflict(ConflictKind::Email)),
        "got {by_email:?}"
    );
    if id_type(&s) != UserIdType::Int {
        let mut by_id = NewUser::new(email().as_str())?;
        by_id.id = Some(existing.id.clone());
        let by_id = tx.create_user(by_id).await;
        assert!(
            by_id
                .as_ref()
                .is_err_and(|e| e.is_conflict(ConflictKind::UserId)),
            "got {by_id:?}"
        );
    }
    let ok = tx_user(tx.as_ref()).await?;
    tx.commit().await?;
    assert_eq!(s.store.get_user(&ok.id).await?, Some(ok));
    assert_eq!(s.store.get_user(&existing.id).await?, Some(existing));
    Ok(())
}

/// Reference 28: begin on a transaction handle is TransactionNesting, and the outer one still works.
pub async fn transactions_cannot_nest(s: Subject) -> CaseResult {
    let tx = begin(&s).await?;
    match tx.begin().await {
        Err(StoreError::TransactionNesting { .. }) => {}
        Err(e) => panic!("expected TransactionNesting, got {e:?}"),
        Ok(_) => panic!("expected TransactionNesting, got a nested transaction"),
    }
    let u = tx_user(tx.as_ref()).await?;
    tx.commit().await?;
    assert!(s.store.get_user(&u.id).await?.is_some());
    Ok(())
}

/// Writes of an open transaction are invisible to the store until commit.
pub async fn uncommitted_writes_are_invisible(s: Subject) -> CaseResult {
    let existing = user(&s).await?;
    let tx = begin(&s).await?;
    let u = tx_user(tx.as_ref()).await?;
    let text = s.app_column(crate::ColumnKind::Text);
    let mut patch = UserPatch::new();
    if let Some(col) = text {
        patch = patch.with_extra(col, "draft")?;
    }
    patch.is_superuser = Some(true);
    tx.update_user(&existing.id, patch).await?;
    assert!(s.store.get_user(&u.id).await?.is_none(), "new user leaked");
    assert!(s.store.get_user_by_email(&u.email).await?.is_none());
    assert_eq!(
        s.store.get_user(&existing.id).await?,
        Some(existing.clone()),
        "update leaked"
    );
    tx.commit().await?;
    assert!(s.store.get_user(&u.id).await?.is_some());
    let after = s.store.get_user(&existing.id).await?.expect("exists");
    assert!(after.is_superuser, "the committed update is visible");
    if let Some(col) = text {
        assert_eq!(after.extra_field::<String>(col)?.as_deref(), Some("draft"));
    }
    Ok(())
}

/// Reads inside a transaction see its own writes.
pub async fn reads_see_own_writes(s: Subject) -> CaseResult {
    let tx = begin(&s).await?;
    let u = tx_user(tx.as_ref()).await?;
    assert_eq!(tx.get_user(&u.id).await?, Some(u.clone()));
    assert_eq!(
        tx.get_user_by_email(&u.email).await?.map(|x| x.id),
        Some(u.id.clone())
    );
    let t = token(&u.id, &FamilyId::generate(), in_secs(&s, 3600));
    tx.store_refresh_token(t.clone()).await?;
    assert!(tx.get_refresh_token(&t.digest).await?.is_some());
    assert_eq!(tx.list_sessions(&u.id).await?.len(), 1);
    assert!(tx.delete_user(&u.id).await?);
    assert!(tx.get_user(&u.id).await?.is_none());
    tx.rollback().await?;
    Ok(())
}

/// A rotation inside a rolled-back transaction leaves the old token live and the new one absent.
pub async fn rotate_rolled_back_leaves_old_token_live(s: Subject) -> CaseResult {
    let u = user(&s).await?;
    let old = token(&u.id, &FamilyId::generate(), in_secs(&s, 3600));
    let old_row = s.store.store_refresh_token(old.clone()).await?;
    let n = NextRefreshToken {
        digest: digest(),
        expires_at: in_secs(&s, 7200),
        client: ClientInfo::default(),
    };
    let tx = begin(&s).await?;
    let r = tx.rotate_refresh_token(&old.digest, n.clone()).await?;
    assert!(matches!(r, Rotation::Rotated(_)), "got {r:?}");
    assert!(
        tx.get_refresh_token(&old.digest)
            .await?
            .is_some_and(|t| t.revoked)
    );
    tx.rollback().await?;
    assert_eq!(s.store.get_refresh_token(&old.digest).await?, Some(old_row));
    assert!(s.store.get_refresh_token(&n.digest).await?.is_none());
    // The old token still rotates once the transaction is gone.
    let again = s.store.rotate_refresh_token(&old.digest, n).await?;
    assert!(matches!(again, Rotation::Rotated(_)), "got {again:?}");
    Ok(())
}

/// Compare-and-set revoke inside a transaction answers true then false, and rollback undoes it.
pub async fn revoke_in_rolled_back_transaction(s: Subject) -> CaseResult {
    let u = user(&s).await?;
    let t = token(&u.id, &FamilyId::generate(), in_secs(&s, 3600));
    s.store.store_refresh_token(t.clone()).await?;
    let tx = begin(&s).await?;
    assert!(tx.revoke_refresh_token(&t.digest).await?);
    assert!(!tx.revoke_refresh_token(&t.digest).await?);
    drop(tx);
    let got = s.store.get_refresh_token(&t.digest).await?.expect("kept");
    assert!(!got.revoked, "the revoke was rolled back");
    assert!(s.store.revoke_refresh_token(&t.digest).await?);
    Ok(())
}

/// Update, password and delete inside a rolled-back transaction leave the user as it was.
pub async fn rolled_back_update_and_delete_leave_user(s: Subject) -> CaseResult {
    let u = user(&s).await?;
    let tx = begin(&s).await?;
    let mut p = UserPatch::new();
    if let Some(col) = s.app_column(crate::ColumnKind::Text) {
        p = p.with_extra(col, "changed")?;
    }
    p.is_superuser = Some(true);
    tx.update_user(&u.id, p).await?;
    tx.mark_verified(&u.id).await?;
    tx.set_password_hash(
        &u.id,
        Some(fullauth_api::HashedPassword::new("$argon2id$x")?),
    )
    .await?;
    assert!(tx.delete_user(&u.id).await?);
    tx.rollback().await?;
    assert_eq!(s.store.get_user(&u.id).await?, Some(u.clone()));
    assert_eq!(s.store.get_password_hash(&u.id).await?, None);
    Ok(())
}

/// A committed delete of a user also removes the tokens it cascades to.
pub async fn committed_delete_cascades_tokens(s: Subject) -> CaseResult {
    let u = user(&s).await?;
    let t = token(&u.id, &FamilyId::generate(), in_secs(&s, 3600));
    s.store.store_refresh_token(t.clone()).await?;
    let tx = begin(&s).await?;
    assert!(tx.delete_user(&u.id).await?);
    tx.commit().await?;
    assert!(s.store.get_user(&u.id).await?.is_none());
    assert!(s.store.get_refresh_token(&t.digest).await?.is_none());
    Ok(())
}

/// Errors inside a transaction behave as outside: NotFound for unknown users, and the transaction still commits.
pub async fn errors_inside_transaction_do_not_poison_reads(s: Subject) -> CaseResult {
    let tx = begin(&s).await?;
    let r = tx.get_password_hash(&ghost_user(&s)).await;
    assert!(
        r.as_ref()
            .is_err_and(|e| e.is_not_found(fullauth_api::Entity::User)),
        "got {r:?}"
    );
    let u = tx_user(tx.as_ref()).await?;
    tx.commit().await?;
    assert!(s.store.get_user(&u.id).await?.is_some());
    Ok(())
}

/// A transaction handle serves the same durable features, and names the
/// same backend, as its store. (A composed store's transactions are its
/// durable part's, and name that part's backend.)
pub async fn transaction_reports_store_features(s: Subject) -> CaseResult {
    let durable = |f: fullauth_api::Features| -> fullauth_api::Features {
        f.iter().filter(|x| !x.is_short_lived()).collect()
    };
    let tx = begin(&s).await?;
    assert_eq!(durable(tx.features()), durable(s.store.features()));
    if s.store.backend_name() == "composed" {
        assert!(!tx.backend_name().is_empty() && tx.backend_name() != "composed");
    } else {
        assert_eq!(tx.backend_name(), s.store.backend_name());
    }
    tx.rollback().await?;
    Ok(())
}
