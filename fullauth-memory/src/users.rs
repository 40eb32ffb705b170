//! Users and password hashes (`fullauth_users`, [`Feature::Core`](fullauth_api::Feature::Core)).

use std::collections::HashMap;
use std::sync::Arc;

use fullauth_api::{
    ConflictKind, Email, Entity, HashedPassword, NewUser, StoreError, StoreResult, User, UserId,
    UserLookup, UserPatch,
};

use crate::state::{Ctx, State, unknown_column};

/// One row: the user and its password hash (kept apart from [`User`]).
#[derive(Clone, Debug)]
struct Row {
    user: User,
    hashed_password: Option<HashedPassword>,
}

/// The user table with its unique email index.
#[derive(Clone, Debug, Default)]
pub(crate) struct Users {
    rows: HashMap<UserId, Row>,
    by_email: HashMap<Email, UserId>,
}

impl Users {
    /// True when a user has this id.
    pub(crate) fn exists(&self, id: &UserId) -> bool {
        self.rows.contains_key(id)
    }
}

fn not_found() -> StoreError {
    StoreError::NotFound { what: Entity::User }
}

/// Inserts a user; see [`fullauth_api::UserStore::create_user`].
pub(crate) fn create_user(st: &mut State, cx: &Ctx, new: NewUser) -> StoreResult<User> {
    cx.check_columns(&new.extra)?;
    if new.id.is_some_and(|id| st.users.exists(&id)) {
        return Err(StoreError::Conflict {
            what: ConflictKind::UserId,
        });
    }
    if st.users.by_email.contains_key(&new.email) {
        return Err(StoreError::Conflict {
            what: ConflictKind::Email,
        });
    }
    let user = User {
        id: new.id.unwrap_or_else(UserId::generate),
        email: new.email,
        is_active: new.is_active,
        is_verified: new.is_verified,
        is_superuser: new.is_superuser,
        created_at: cx.now(),
        extra: cx.extra_with_defaults(&new.extra),
    };
    let users = Arc::make_mut(&mut st.users);
    users.by_email.insert(user.email.clone(), user.id);
    users.rows.insert(
        user.id,
        Row {
            user: user.clone(),
            hashed_password: new.hashed_password,
        },
    );
    Ok(user)
}

/// The user with this id.
pub(crate) fn get_user(st: &State, id: &UserId) -> Option<User> {
    st.users.rows.get(id).map(|r| r.user.clone())
}

/// The user with this email.
pub(crate) fn get_user_by_email(st: &State, email: &Email) -> Option<User> {
    st.users.by_email.get(email).and_then(|id| get_user(st, id))
}

/// The first user (by `created_at`, then id) matching the lookup.
pub(crate) fn get_user_by_field(
    st: &State,
    cx: &Ctx,
    lookup: &UserLookup,
) -> StoreResult<Option<User>> {
    let matches: Box<dyn Fn(&User) -> bool + '_> = match lookup {
        UserLookup::Id(id) => return Ok(get_user(st, id)),
        UserLookup::Email(email) => return Ok(get_user_by_email(st, email)),
        UserLookup::IsActive(v) => Box::new(move |u: &User| u.is_active == *v),
        UserLookup::IsVerified(v) => Box::new(move |u: &User| u.is_verified == *v),
        UserLookup::IsSuperuser(v) => Box::new(move |u: &User| u.is_superuser == *v),
        UserLookup::Extra { column, value } => {
            if !cx.columns.contains_key(column) {
                return Err(unknown_column(column));
            }
            Box::new(move |u: &User| u.extra.get(column) == Some(value))
        }
        other => {
            return Err(StoreError::invalid(
                "field",
                format!("the memory store does not support the lookup {other:?}"),
            ));
        }
    };
    Ok(st
        .users
        .rows
        .values()
        .map(|r| &r.user)
        .filter(|u| matches(u))
        .min_by_key(|u| (u.created_at, u.id))
        .cloned())
}

/// Applies a patch; see [`fullauth_api::UserStore::update_user`].
pub(crate) fn update_user(
    st: &mut State,
    cx: &Ctx,
    id: &UserId,
    patch: UserPatch,
) -> StoreResult<User> {
    let current = st.users.rows.get(id).ok_or_else(not_found)?;
    cx.check_columns(&patch.extra)?;
    if let Some(email) = &patch.email {
        if st
            .users
            .by_email
            .get(email)
            .is_some_and(|owner| owner != id)
        {
            return Err(StoreError::Conflict {
                what: ConflictKind::Email,
            });
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
            users.by_email.insert(email.clone(), *id);
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
    for (name, value) in patch.extra.iter() {
        user.extra.insert_stored(name.clone(), value.clone());
    }
    Ok(user.clone())
}

/// Deletes the user and every dependent row of every table.
pub(crate) fn delete_user(st: &mut State, id: &UserId) -> bool {
    if !st.users.exists(id) {
        return false;
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
    true
}

/// The user's password hash.
pub(crate) fn get_password_hash(st: &State, id: &UserId) -> StoreResult<Option<HashedPassword>> {
    st.users
        .rows
        .get(id)
        .map(|r| r.hashed_password.clone())
        .ok_or_else(not_found)
}

/// Replaces the user's password hash.
pub(crate) fn set_password_hash(
    st: &mut State,
    id: &UserId,
    hash: Option<HashedPassword>,
) -> StoreResult<()> {
    if !st.users.exists(id) {
        return Err(not_found());
    }
    let row = Arc::make_mut(&mut st.users)
        .rows
        .get_mut(id)
        .ok_or_else(not_found)?;
    row.hashed_password = hash;
    Ok(())
}

/// Sets `is_verified`.
pub(crate) fn mark_verified(st: &mut State, id: &UserId) -> StoreResult<()> {
    match st.users.rows.get(id) {
        None => Err(not_found()),
        Some(r) if r.user.is_verified => Ok(()),
        Some(_) => {
            let row = Arc::make_mut(&mut st.users)
                .rows
                .get_mut(id)
                .ok_or_else(not_found)?;
            row.user.is_verified = true;
            Ok(())
        }
    }
}
