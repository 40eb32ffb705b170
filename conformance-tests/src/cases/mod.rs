//! The cases, one module per group, and the helpers they share.
//!
//! Every case is `pub async fn NAME(s: Subject) -> CaseResult`. A case makes
//! its own random emails, names, family ids and keys, never assumes an empty
//! store and never counts global rows. A case of a feature other than Core
//! that needs a user to own its rows gets one from [`some_user`] (the
//! subject's user factory, or `create_user`), so its group requires only its
//! own feature; a case that needs an application column asks the subject for
//! it ([`text_column`], [`Subject::app_column`]) and returns
//! [`CaseError::Skipped`] when it is not declared.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use fullauth_api::{
    Email, FamilyId, Feature, NewRefreshToken, NewUser, PermissionName, RoleName, StateKey,
    StoreError, StoreInfo as _, Timestamp, TokenDigest, User, UserId, UserIdType,
};

use crate::{CaseError, ColumnKind, Subject};

include!(concat!(env!("OUT_DIR"), "/case_mods.rs"));

/// How many tasks race in the concurrency cases.
pub const RACERS: usize = 32;

/// A short random tag (16 hex characters).
pub fn tag() -> String {
    uuid::Uuid::new_v4().simple().to_string()[..16].to_string()
}

/// A fresh, unique, normalised email.
pub fn email() -> Email {
    Email::new(format!("user-{}@example.test", tag())).expect("valid email")
}

/// A fresh unique role name with a readable prefix (`editor-1a2b…`).
pub fn role(prefix: &str) -> RoleName {
    RoleName::new(format!("{prefix}-{}", tag())).expect("valid role")
}

/// A fresh unique permission name (`posts:edit-1a2b…`).
pub fn permission(prefix: &str) -> PermissionName {
    PermissionName::new(format!("{prefix}-{}", tag())).expect("valid permission")
}

/// A fresh unique short-lived key.
pub fn key(prefix: &str) -> StateKey {
    StateKey::new(format!("{prefix}:{}", tag())).expect("valid key")
}

/// A fresh random token digest.
pub fn digest() -> TokenDigest {
    TokenDigest::of(&uuid::Uuid::new_v4().to_string())
}

/// The key type of the subject's store
/// ([`StoreInfo::user_id_type`](fullauth_api::StoreInfo::user_id_type)): the
/// suite runs on a store of each key type it serves, and its cases make ids
/// of that type.
pub fn id_type(s: &Subject) -> UserIdType {
    s.user_id_type()
}

/// An id of the subject's key type that names no user: a fresh UUIDv7, an
/// integer between 10⁹ and 2·10⁹ (fits PostgreSQL's 32-bit `SERIAL`, and no
/// test database counts that far), or a fresh text key.
pub fn ghost_user(s: &Subject) -> UserId {
    match id_type(s) {
        UserIdType::Uuid => UserId::generate(),
        UserIdType::Int => {
            let r = uuid::Uuid::new_v4().as_u128() % 1_000_000_000;
            UserId::from_int(1_000_000_000 + r as i64)
        }
        UserIdType::Text => UserId::from_text(format!("ghost-{}", tag())),
    }
}

/// An id of every key type but the subject's: ids a store must refuse.
pub fn foreign_ids(s: &Subject) -> Vec<UserId> {
    let mut out = vec![
        UserId::generate(),
        UserId::from_int(7),
        UserId::from_text(format!("text-{}", tag())),
    ];
    out.retain(|id| id.id_type() != id_type(s));
    out
}

/// Creates a user with a fresh email and no password (Core cases: the store
/// serves users).
pub async fn user(s: &Subject) -> Result<User, StoreError> {
    s.store.create_user(NewUser::new(email().as_str())?).await
}

/// Some user to own the rows of a case of a feature other than Core (roles,
/// permissions, OAuth links, passkeys, MFA factors, refresh tokens): made by
/// the subject's user factory when it has one
/// ([`Subject::with_user_factory`]), else by `create_user` with a fresh
/// email. On a store that serves no Core and has no factory the case fails,
/// saying to give one.
pub async fn some_user(s: &Subject) -> Result<UserId, CaseError> {
    if let Some(made) = s.user_from_factory().await {
        return made.map_err(|e| {
            CaseError::Failed(format!("the subject's user factory failed: {e} ({e:?})"))
        });
    }
    if !s.features().contains(Feature::Core) {
        return Err(CaseError::Failed(format!(
            "this case needs a user, but the store ({}) does not serve Core, so the suite \
             cannot create one: call Subject::with_user_factory with a function that creates \
             a user in the application's own user table and returns its id",
            s.store.backend_name()
        )));
    }
    Ok(user(s).await?.id)
}

/// The reason given when a case needs a text application column.
pub const NO_TEXT_COLUMN: &str = "the subject declares no text app column";

/// The declared text application column (see [`Subject::with_app_column`]),
/// or [`CaseError::Skipped`] when there is none.
pub fn text_column(s: &Subject) -> Result<String, CaseError> {
    s.app_column(ColumnKind::Text)
        .map(str::to_string)
        .ok_or_else(|| CaseError::Skipped(NO_TEXT_COLUMN.to_string()))
}

/// A new, unrevoked refresh token for `user_id` in `family`, expiring at
/// `expires_at`, with no client info.
pub fn token(user_id: &UserId, family: &FamilyId, expires_at: Timestamp) -> NewRefreshToken {
    NewRefreshToken {
        digest: digest(),
        user_id: user_id.clone(),
        family_id: family.clone(),
        expires_at,
        client: Default::default(),
    }
}

/// `now + secs` on the subject's clock.
pub fn in_secs(s: &Subject, secs: u64) -> Timestamp {
    s.clock.now() + Duration::from_secs(secs)
}

/// `now - secs` on the subject's clock.
pub fn ago_secs(s: &Subject, secs: u64) -> Timestamp {
    s.clock.now() - Duration::from_secs(secs)
}

/// Runs `n` tasks that start together (behind a barrier) and returns their
/// results in task order. A task that panics makes the case panic.
pub async fn race<T, F, Fut>(n: usize, f: F) -> Vec<T>
where
    T: Send + 'static,
    F: Fn(usize) -> Fut,
    Fut: Future<Output = T> + Send + 'static,
{
    let barrier = Arc::new(tokio::sync::Barrier::new(n));
    let handles: Vec<_> = (0..n)
        .map(|i| {
            let fut = f(i);
            let barrier = barrier.clone();
            tokio::spawn(async move {
                barrier.wait().await;
                fut.await
            })
        })
        .collect();
    let mut out = Vec::with_capacity(n);
    for h in handles {
        match h.await {
            Ok(v) => out.push(v),
            Err(e) => panic!("a racing task failed: {e}"),
        }
    }
    out
}

/// Asserts that `r` is `InvalidInput` for `field`.
#[track_caller]
pub fn assert_invalid<T: std::fmt::Debug>(r: Result<T, StoreError>, field: &str) {
    match r {
        Err(StoreError::InvalidInput { field: f, .. }) if f == field => {}
        other => panic!("expected InvalidInput for `{field}`, got {other:?}"),
    }
}

/// Creates a user with this id and a fresh email (cascade cases recreate a
/// deleted user's id to prove that no dependent row survived the deletion)
/// and answers the id and `true`. An integer-keyed store chooses its ids
/// itself, so there the id is answered as it is, naming no user, with
/// `false`: the case checks what the deleted id reads as.
pub async fn user_with_id(s: &Subject, id: UserId) -> Result<(UserId, bool), StoreError> {
    if id_type(s) == UserIdType::Int {
        return Ok((id, false));
    }
    let mut new = NewUser::new(email().as_str())?;
    new.id = Some(id);
    Ok((s.store.create_user(new).await?.id, true))
}

/// Serialises the cases that prune. Pruning is global — it deletes every
/// token expiring before the cutoff, whoever made it — so two pruning cases
/// running at once on a shared store could delete the rows the other one
/// checks. Every pruning case holds this guard for its whole run, and uses
/// cutoffs at least 30 days in the past, older than any expired token a
/// non-pruning case makes (those expire at most minutes ago).
pub async fn prune_guard() -> tokio::sync::MutexGuard<'static, ()> {
    static PRUNERS: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
    PRUNERS.lock().await
}
