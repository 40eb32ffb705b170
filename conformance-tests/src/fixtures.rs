//! Data for benchmarks and wire-level tests of a store: fresh digests,
//! tokens and a seeded user base, the same for every backend so their
//! numbers compare.
//!
//! ```
//! use fullauth_api::{RefreshTokenStore, Store, StoreError};
//! use fullauth_conformance::fixtures;
//!
//! /// A thousand users to measure against, and one of them signed in again.
//! async fn prepare(store: &dyn Store) -> Result<(), StoreError> {
//!     let users = fixtures::seed(store, 1_000).await?;
//!     store.store_refresh_token(fixtures::token(users[0].clone())).await?;
//!     Ok(())
//! }
//! ```

use std::time::Duration;

use fullauth_api::{
    FamilyId, NewRefreshToken, NewUser, NextRefreshToken, PermissionName, PermissionStore,
    RefreshTokenStore, RoleName, RoleStore, StoreError, Timestamp, TokenDigest, UserId, UserStore,
};

/// A digest no store holds yet (of a random UUID).
pub fn digest() -> TokenDigest {
    TokenDigest::of(&uuid::Uuid::new_v4().to_string())
}

/// An hour from now on the system clock.
pub fn in_an_hour() -> Timestamp {
    Timestamp::now() + Duration::from_secs(3600)
}

/// A live token of `user` in a new family, expiring in an hour.
pub fn token(user: UserId) -> NewRefreshToken {
    NewRefreshToken {
        digest: digest(),
        user_id: user,
        family_id: FamilyId::generate(),
        expires_at: in_an_hour(),
        client: Default::default(),
    }
}

/// A successor for a rotation, expiring in an hour.
pub fn next_token() -> NextRefreshToken {
    NextRefreshToken {
        digest: digest(),
        expires_at: in_an_hour(),
        client: Default::default(),
    }
}

/// The roles [`seed`] creates: `role0` … `role4`.
pub const SEED_ROLES: usize = 5;
/// The permissions [`seed`] grants each role: `res0:act<r>` … `res9:act<r>`.
pub const SEED_PERMISSIONS_PER_ROLE: usize = 10;

/// Seeds `store` with `users` users (fresh emails), each holding two of
/// [`SEED_ROLES`] roles (so 20 permissions) and one live refresh token, and
/// returns their ids in creation order. Roles and permissions that exist
/// already are reused, so a second seed on the same store adds users only.
///
/// # Errors
/// The first error of the store.
pub async fn seed<S>(store: &S, users: usize) -> Result<Vec<UserId>, StoreError>
where
    S: UserStore + RoleStore + PermissionStore + RefreshTokenStore + ?Sized,
{
    let mut roles = Vec::with_capacity(SEED_ROLES);
    for r in 0..SEED_ROLES {
        let role = RoleName::new(format!("role{r}"))?;
        for p in 0..SEED_PERMISSIONS_PER_ROLE {
            let perm = PermissionName::new(format!("res{p}:act{r}"))?;
            store.assign_permission(&role, &perm).await?;
        }
        roles.push(role);
    }
    let mut ids = Vec::with_capacity(users);
    for i in 0..users {
        let email = format!("seed{i}-{}@example.com", uuid::Uuid::new_v4().simple());
        let user = store.create_user(NewUser::new(email)?).await?;
        store.assign_role(&user.id, &roles[i % SEED_ROLES]).await?;
        store
            .assign_role(&user.id, &roles[(i + 1) % SEED_ROLES])
            .await?;
        store.store_refresh_token(token(user.id.clone())).await?;
        ids.push(user.id);
    }
    Ok(ids)
}
