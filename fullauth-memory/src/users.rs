//! Users and password hashes (`fullauth_users`, [`Feature::Core`](fullauth_api::Feature::Core)).

use std::sync::Arc;

use fullauth_api::{
    ConflictKind, Email, Entity, Feature, HashedPassword, NewUser, Principal, StoreError,
    StoreResult, User, UserId, UserLookup, UserPatch,
};

use crate::state::Map;
use crate::state::{Ctx, State};
use crate::store::Handle;

/// One row: the user and its password hash (kept apart from [`User`]).
#[derive(Clone, Debug)]
struct Row {
    user: User,
    hashed_password: Option<HashedPassword>,
}

/// The user table with its unique email index.
#[derive(Clone, Debug, Default)]
pub(crate) struct Users {
    rows: Map<UserId, Row>,
    by_email: Map<Email, UserId>,
    /// The last integer id given (integer-keyed stores): ids are not given
    /// again after a delete, like a `SERIAL` sequence (a transaction that
    /// rolls back gives its ids back with the rest of its state).
    last_int: i64,
}

impl Users {
    /// True when a user has this id.
    pub(crate) fn exists(&self, id: &UserId) -> bool {
        self.rows.contains_key(id)
    }

    /// The user with this id.
    fn user(&self, id: &UserId) -> Option<User> {
        self.rows.get(id).map(|r| r.user.clone())
    }

    /// The user with this email.
    fn user_by_email(&self, email: &Email) -> Option<User> {
        self.by_email.get(email).and_then(|id| self.user(id))
    }
}

fn not_found() -> StoreError {
    StoreError::not_found(Entity::User)
}

/// Inserts a user; see [`fullauth_api::UserStore::create_user`].
pub(crate) async fn create_user(h: Handle<'_>, new: NewUser) -> StoreResult<User> {
    h.write(move |st, cx| {
        let extra = cx.typed_extra(&new.extra)?;
        if new.id.as_ref().is_some_and(|id| st.users.exists(id)) {
            return Err(StoreError::conflict(ConflictKind::UserId));
        }
        if st.users.by_email.contains_key(&new.email) {
            return Err(StoreError::conflict(ConflictKind::Email));
        }
        let key = cx.user_id_type;
        let id = match new.id {
            Some(id) => id,
            None => match key.generate() {
                Some(id) => id,
                None => {
                    let users = Arc::make_mut(&mut st.users);
                    users.last_int = users.last_int.checked_add(1).ok_or_else(|| {
                        StoreError::invalid("user_id", "the integer user ids are exhausted")
                    })?;
                    UserId::from_int(users.last_int)
                }
            },
        };
        let user = User {
            id,
            email: new.email,
            is_active: new.is_active,
            is_verified: new.is_verified,
            is_superuser: new.is_superuser,
            created_at: cx.now(),
            extra: cx.extra_with_defaults(&extra),
        };
        let users = Arc::make_mut(&mut st.users);
        users.by_email.insert(user.email.clone(), user.id.clone());
        let row = Row {
            user: user.clone(),
            hashed_password: new.hashed_password,
        };
        users.rows.insert(user.id.clone(), row);
        Ok(user)
    })
    .await
}

/// The user with this id.
pub(crate) async fn get_user(h: Handle<'_>, id: &UserId) -> StoreResult<Option<User>> {
    h.read(|st, _| Ok(st.users.user(id))).await
}

/// The user with this email.
pub(crate) async fn get_user_by_email(h: Handle<'_>, email: &Email) -> StoreResult<Option<User>> {
    h.read(|st, _| Ok(st.users.user_by_email(email))).await
}

/// The first user (by `created_at`, then id) matching the lookup; the value
/// of an application column is converted to the column's type first.
pub(crate) async fn get_user_by_field(
    h: Handle<'_>,
    lookup: &UserLookup,
) -> StoreResult<Option<User>> {
    h.read(|st, cx| find(st, cx, lookup)).await
}

/// The user the lookup finds with its roles and permissions, read in one
/// critical section (one snapshot of every table). A list is empty when its
/// feature is not served.
pub(crate) async fn get_principal(
    h: Handle<'_>,
    lookup: &UserLookup,
) -> StoreResult<Option<Principal>> {
    h.read(|st, cx| {
        let Some(user) = find(st, cx, lookup)? else {
            return Ok(None);
        };
        let roles: Vec<_> = if cx.features.contains(Feature::Roles) {
            st.roles.of_user(&user.id).cloned().collect()
        } else {
            Vec::new()
        };
        let permissions = if cx.features.contains(Feature::Permissions) {
            st.permissions.union(roles.iter())
        } else {
            Vec::new()
        };
        Ok(Some(Principal {
            user,
            roles,
            permissions,
        }))
    })
    .await
}

/// The first user (by `created_at`, then id) matching the lookup.
fn find(st: &State, cx: &Ctx, lookup: &UserLookup) -> StoreResult<Option<User>> {
    let matches: Box<dyn Fn(&User) -> bool + '_> = match lookup {
        UserLookup::Id(id) => return Ok(st.users.user(id)),
        UserLookup::Email(email) => return Ok(st.users.user_by_email(email)),
        UserLookup::IsActive(v) => Box::new(move |u: &User| u.is_active == *v),
        UserLookup::IsVerified(v) => Box::new(move |u: &User| u.is_verified == *v),
        UserLookup::IsSuperuser(v) => Box::new(move |u: &User| u.is_superuser == *v),
        UserLookup::Extra { column, value } => {
            let value = cx.column_value(column, value)?;
            Box::new(move |u: &User| u.extra.get(column) == Some(&value))
        }
    };
    Ok(st
        .users
        .rows
        .values()
        .map(|r| &r.user)
        .filter(|u| matches(u))
        .min_by_key(|u| (u.created_at, u.id.clone()))
        .cloned())
}

/// Applies a patch; see [`fullauth_api::UserStore::update_user`].
pub(crate) async fn update_user(h: Handle<'_>, id: &UserId, patch: UserPatch) -> StoreResult<User> {
    h.write(move |st, cx| {
        let current = st.users.rows.get(id).ok_or_else(not_found)?;
        let extra = cx.typed_extra(&patch.extra)?;
        if let Some(email) = &patch.email {
            if st
                .users
                .by_email
                .get(email)
                .is_some_and(|owner| owner != id)
            {
                return Err(StoreError::conflict(ConflictKind::Email));
            }
        }
        if patch.is_empty() {
            return Ok(current.user.clone());
        }
        let users = Arc::make_mut(&mut st.users);
        let Some(row) = users.rows.get_mut(id) else {
            return Err(not_found());
        };
        let user = &mut row.user;
        if let Some(email) = patch.email {
            if email != user.email {
                users.by_email.remove(&user.email);
                users.by_email.insert(email.clone(), id.clone());
                user.email = email;
            }
        }
        if let Some(v) = patch.is_active {
            user.is_active = v;
        }
        if let Some(v) = patch.is_verified {
            user.is_verified = v;
        }
        if let Some(v) = patch.is_superuser {
            user.is_superuser = v;
        }
        for (name, value) in extra.iter() {
            user.extra.insert_stored(name.clone(), value.clone());
        }
        Ok(user.clone())
    })
    .await
}

/// Deletes the user and every dependent row of every table.
pub(crate) async fn delete_user(h: Handle<'_>, id: &UserId) -> StoreResult<bool> {
    h.write(|st, _| {
        if !st.users.exists(id) {
            return Ok(false);
        }
        let users = Arc::make_mut(&mut st.users);
        if let Some(row) = users.rows.remove(id) {
            users.by_email.remove(&row.user.email);
        }
        if st.tokens.has_user(id) {
            Arc::make_mut(&mut st.tokens).remove_user(id);
        }
        if st.roles.has_user(id) {
            Arc::make_mut(&mut st.roles).remove_user(id);
        }
        if st.oauth.has_user(id) {
            Arc::make_mut(&mut st.oauth).remove_user(id);
        }
        if st.passkeys.has_user(id) {
            Arc::make_mut(&mut st.passkeys).remove_user(id);
        }
        if st.mfa.has_user(id) {
            Arc::make_mut(&mut st.mfa).remove_user(id);
        }
        Ok(true)
    })
    .await
}

/// The user's password hash.
pub(crate) async fn get_password_hash(
    h: Handle<'_>,
    id: &UserId,
) -> StoreResult<Option<HashedPassword>> {
    h.read(|st, _| {
        let row = st.users.rows.get(id).ok_or_else(not_found)?;
        Ok(row.hashed_password.clone())
    })
    .await
}

/// Replaces the user's password hash.
pub(crate) async fn set_password_hash(
    h: Handle<'_>,
    id: &UserId,
    hash: Option<HashedPassword>,
) -> StoreResult<()> {
    h.write(move |st, _| {
        if !st.users.exists(id) {
            return Err(not_found());
        }
        let users = Arc::make_mut(&mut st.users);
        users
            .rows
            .get_mut(id)
            .ok_or_else(not_found)?
            .hashed_password = hash;
        Ok(())
    })
    .await
}

/// Sets `is_verified` (writes nothing when it is already set).
pub(crate) async fn mark_verified(h: Handle<'_>, id: &UserId) -> StoreResult<()> {
    h.write(|st, _| {
        let row = st.users.rows.get(id).ok_or_else(not_found)?;
        if !row.user.is_verified {
            let users = Arc::make_mut(&mut st.users);
            users
                .rows
                .get_mut(id)
                .ok_or_else(not_found)?
                .user
                .is_verified = true;
        }
        Ok(())
    })
    .await
}
