//! Roles and their assignment (`fullauth_roles`, `fullauth_user_roles`,
//! [`Feature::Roles`](fullauth_api::Feature::Roles)).

use std::sync::Arc;

use fullauth_api::{Entity, RoleName, StoreError, StoreResult, UserId};

use crate::state::{Map, Set};
use crate::store::Handle;

/// The role names and the user–role links, indexed both ways.
#[derive(Clone, Debug, Default)]
pub(crate) struct Roles {
    names: Set<RoleName>,
    by_user: Map<UserId, Set<RoleName>>,
    users_of: Map<RoleName, Set<UserId>>,
}

impl Roles {
    /// True when the user has at least one role.
    pub(crate) fn has_user(&self, id: &UserId) -> bool {
        self.by_user.contains_key(id)
    }

    /// Removes every link of the user.
    pub(crate) fn remove_user(&mut self, id: &UserId) {
        for role in self.by_user.remove(id).unwrap_or_default() {
            if let Some(users) = self.users_of.get_mut(&role) {
                users.remove(id);
                if users.is_empty() {
                    self.users_of.remove(&role);
                }
            }
        }
    }

    /// True when the role exists.
    pub(crate) fn exists(&self, role: &RoleName) -> bool {
        self.names.contains(role)
    }

    /// Creates the role if missing; true when created.
    pub(crate) fn create(&mut self, role: &RoleName) -> bool {
        self.names.insert(role.clone()).is_none()
    }

    /// The user's roles, sorted.
    pub(crate) fn of_user(&self, id: &UserId) -> impl Iterator<Item = &RoleName> {
        self.by_user.get(id).into_iter().flatten()
    }

    fn has(&self, user: &UserId, role: &RoleName) -> bool {
        self.by_user.get(user).is_some_and(|r| r.contains(role))
    }
}

/// Creates a role; true when it was created.
pub(crate) async fn create_role(h: Handle<'_>, role: &RoleName) -> StoreResult<bool> {
    h.write(|st, _| Ok(!st.roles.exists(role) && Arc::make_mut(&mut st.roles).create(role)))
        .await
}

/// Gives the user the role (creating the role); true when newly linked.
pub(crate) async fn assign_role(
    h: Handle<'_>,
    user_id: &UserId,
    role: &RoleName,
) -> StoreResult<bool> {
    h.write(|st, cx| {
        if !cx.user_exists(st, user_id) {
            return Err(StoreError::not_found(Entity::User));
        }
        if st.roles.has(user_id, role) {
            return Ok(false);
        }
        let roles = Arc::make_mut(&mut st.roles);
        roles.create(role);
        roles
            .by_user
            .entry(user_id.clone())
            .or_default()
            .insert(role.clone());
        roles
            .users_of
            .entry(role.clone())
            .or_default()
            .insert(user_id.clone());
        Ok(true)
    })
    .await
}

/// Takes the role from the user; true when the user had it.
pub(crate) async fn remove_role(
    h: Handle<'_>,
    user_id: &UserId,
    role: &RoleName,
) -> StoreResult<bool> {
    h.write(|st, _| {
        if !st.roles.has(user_id, role) {
            return Ok(false);
        }
        let roles = Arc::make_mut(&mut st.roles);
        if let Some(set) = roles.by_user.get_mut(user_id) {
            set.remove(role);
            if set.is_empty() {
                roles.by_user.remove(user_id);
            }
        }
        if let Some(set) = roles.users_of.get_mut(role) {
            set.remove(user_id);
            if set.is_empty() {
                roles.users_of.remove(role);
            }
        }
        Ok(true)
    })
    .await
}

/// The user's roles, sorted.
pub(crate) async fn get_user_roles(h: Handle<'_>, user_id: &UserId) -> StoreResult<Vec<RoleName>> {
    h.read(|st, _| Ok(st.roles.of_user(user_id).cloned().collect()))
        .await
}

/// Every role, sorted.
pub(crate) async fn list_roles(h: Handle<'_>) -> StoreResult<Vec<RoleName>> {
    h.read(|st, _| Ok(st.roles.names.iter().cloned().collect()))
        .await
}

/// Deletes the role with its user links and permission grants.
pub(crate) async fn delete_role(h: Handle<'_>, role: &RoleName) -> StoreResult<bool> {
    h.write(|st, _| {
        if !st.roles.exists(role) {
            return Ok(false);
        }
        let roles = Arc::make_mut(&mut st.roles);
        roles.names.remove(role);
        for user in roles.users_of.remove(role).unwrap_or_default() {
            if let Some(set) = roles.by_user.get_mut(&user) {
                set.remove(role);
                if set.is_empty() {
                    roles.by_user.remove(&user);
                }
            }
        }
        if st.permissions.has_role(role) {
            Arc::make_mut(&mut st.permissions).remove_role(role);
        }
        Ok(true)
    })
    .await
}
