//! Permissions granted to roles (`fullauth_permissions`,
//! `fullauth_role_permissions`, [`Feature::Permissions`](fullauth_api::Feature::Permissions)).

use std::collections::BTreeSet;
use std::sync::Arc;

use fullauth_api::{PermissionName, RoleName, StoreResult, UserId};

use crate::state::{Map, Set};
use crate::store::Handle;

/// The permission names and the role–permission grants.
#[derive(Clone, Debug, Default)]
pub(crate) struct Permissions {
    names: Set<PermissionName>,
    by_role: Map<RoleName, Set<PermissionName>>,
}

impl Permissions {
    /// True when the role has at least one grant.
    pub(crate) fn has_role(&self, role: &RoleName) -> bool {
        self.by_role.contains_key(role)
    }

    /// Removes every grant of the role (the permissions stay).
    pub(crate) fn remove_role(&mut self, role: &RoleName) {
        self.by_role.remove(role);
    }

    fn has(&self, role: &RoleName, permission: &PermissionName) -> bool {
        self.by_role
            .get(role)
            .is_some_and(|p| p.contains(permission))
    }

    /// The union of the grants of `roles`, sorted, without duplicates.
    pub(crate) fn union<'a>(
        &self,
        roles: impl Iterator<Item = &'a RoleName>,
    ) -> Vec<PermissionName> {
        let mut out = BTreeSet::new();
        for role in roles {
            out.extend(self.by_role.get(role).into_iter().flatten());
        }
        out.into_iter().cloned().collect()
    }
}

/// Grants the permission, creating the role and the permission if missing;
/// true when newly granted.
pub(crate) async fn assign_permission(
    h: Handle<'_>,
    role: &RoleName,
    permission: &PermissionName,
) -> StoreResult<bool> {
    h.write(|st, _| {
        if !st.roles.exists(role) {
            Arc::make_mut(&mut st.roles).create(role);
        }
        if st.permissions.has(role, permission) {
            return Ok(false);
        }
        let perms = Arc::make_mut(&mut st.permissions);
        perms.names.insert(permission.clone());
        Ok(perms
            .by_role
            .entry(role.clone())
            .or_default()
            .insert(permission.clone())
            .is_none())
    })
    .await
}

/// Withdraws the permission from the role; true when it had it.
pub(crate) async fn remove_permission(
    h: Handle<'_>,
    role: &RoleName,
    permission: &PermissionName,
) -> StoreResult<bool> {
    h.write(|st, _| {
        if !st.permissions.has(role, permission) {
            return Ok(false);
        }
        let perms = Arc::make_mut(&mut st.permissions);
        if let Some(set) = perms.by_role.get_mut(role) {
            set.remove(permission);
            if set.is_empty() {
                perms.by_role.remove(role);
            }
        }
        Ok(true)
    })
    .await
}

/// The role's permissions, sorted.
pub(crate) async fn get_role_permissions(
    h: Handle<'_>,
    role: &RoleName,
) -> StoreResult<Vec<PermissionName>> {
    h.read(|st, _| Ok(st.permissions.union(std::iter::once(role))))
        .await
}

/// The union of the roles' permissions, sorted.
pub(crate) async fn get_permissions_for_roles(
    h: Handle<'_>,
    roles: &[RoleName],
) -> StoreResult<Vec<PermissionName>> {
    h.read(|st, _| Ok(st.permissions.union(roles.iter()))).await
}

/// The union of the permissions of the user's roles, sorted.
pub(crate) async fn get_user_permissions(
    h: Handle<'_>,
    user_id: &UserId,
) -> StoreResult<Vec<PermissionName>> {
    h.read(|st, _| Ok(st.permissions.union(st.roles.of_user(user_id))))
        .await
}

/// Every permission, sorted.
pub(crate) async fn list_permissions(h: Handle<'_>) -> StoreResult<Vec<PermissionName>> {
    h.read(|st, _| Ok(st.permissions.names.iter().cloned().collect()))
        .await
}
