//! WebAuthn passkeys (`fullauth_passkeys`,
//! [`Feature::Passkeys`](fullauth_api::Feature::Passkeys)).

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use fullauth_api::{
    ConflictKind, CredentialId, DeviceName, Entity, MAX_COUNTER, NewPasskey, Passkey, StoreError,
    StoreResult, UserId, new_record_id,
};
use uuid::Uuid;

use crate::state::{Ctx, State};

/// The passkeys by id, indexed by credential id and by user.
#[derive(Clone, Debug, Default)]
pub(crate) struct Passkeys {
    rows: HashMap<Uuid, Passkey>,
    by_credential: HashMap<CredentialId, Uuid>,
    by_user: HashMap<UserId, BTreeSet<Uuid>>,
}

impl Passkeys {
    /// True when the user has at least one passkey.
    pub(crate) fn has_user(&self, id: &UserId) -> bool {
        self.by_user.contains_key(id)
    }

    /// Deletes every passkey of the user.
    pub(crate) fn remove_user(&mut self, id: &UserId) {
        for pk in self.by_user.remove(id).unwrap_or_default() {
            if let Some(row) = self.rows.remove(&pk) {
                self.by_credential.remove(&row.credential_id);
            }
        }
    }

    fn owned(&self, user: &UserId, id: Uuid) -> bool {
        self.rows.get(&id).is_some_and(|p| p.user_id == *user)
    }
}

fn check_count(count: u32) -> StoreResult<()> {
    if count > MAX_COUNTER {
        return Err(StoreError::invalid(
            "sign_count",
            format!("must be at most {MAX_COUNTER}"),
        ));
    }
    Ok(())
}

/// The passkey with this credential id.
pub(crate) fn get_passkey(st: &State, credential_id: &CredentialId) -> Option<Passkey> {
    st.passkeys
        .by_credential
        .get(credential_id)
        .and_then(|id| st.passkeys.rows.get(id))
        .cloned()
}

/// The user's passkeys, oldest first, ties by id.
pub(crate) fn list_passkeys(st: &State, user: &UserId) -> Vec<Passkey> {
    let mut out: Vec<Passkey> = st
        .passkeys
        .by_user
        .get(user)
        .into_iter()
        .flatten()
        .filter_map(|id| st.passkeys.rows.get(id))
        .cloned()
        .collect();
    out.sort_by_key(|p| (p.created_at, p.id));
    out
}

/// Stores a passkey; see [`fullauth_api::PasskeyStore::store_passkey`].
pub(crate) fn store_passkey(st: &mut State, cx: &Ctx, new: NewPasskey) -> StoreResult<Passkey> {
    check_count(new.sign_count)?;
    if st.passkeys.by_credential.contains_key(&new.credential_id) {
        return Err(StoreError::Conflict {
            what: ConflictKind::Credential,
        });
    }
    if !st.users.exists(&new.user_id) {
        return Err(StoreError::NotFound { what: Entity::User });
    }
    let passkey = Passkey {
        id: new_record_id(),
        user_id: new.user_id,
        credential_id: new.credential_id,
        public_key: new.public_key,
        sign_count: new.sign_count,
        device_name: new.device_name,
        transports: new.transports,
        backed_up: new.backed_up,
        created_at: cx.now(),
        last_used_at: None,
    };
    let pks = Arc::make_mut(&mut st.passkeys);
    pks.by_credential
        .insert(passkey.credential_id.clone(), passkey.id);
    pks.by_user
        .entry(passkey.user_id)
        .or_default()
        .insert(passkey.id);
    pks.rows.insert(passkey.id, passkey.clone());
    Ok(passkey)
}

/// Compare-and-set of the sign count; touches `last_used_at` whenever the
/// passkey exists.
pub(crate) fn update_sign_count(
    st: &mut State,
    cx: &Ctx,
    credential_id: &CredentialId,
    new_count: u32,
) -> StoreResult<bool> {
    check_count(new_count)?;
    let Some(&id) = st.passkeys.by_credential.get(credential_id) else {
        return Ok(false);
    };
    let now = cx.now();
    let Some(row) = Arc::make_mut(&mut st.passkeys).rows.get_mut(&id) else {
        return Ok(false);
    };
    row.last_used_at = Some(now);
    if new_count > row.sign_count {
        row.sign_count = new_count;
        Ok(true)
    } else {
        Ok(false)
    }
}

/// Renames a passkey of the user; true when the user owns it.
pub(crate) fn rename_passkey(st: &mut State, user: &UserId, id: Uuid, name: &DeviceName) -> bool {
    if !st.passkeys.owned(user, id) {
        return false;
    }
    match Arc::make_mut(&mut st.passkeys).rows.get_mut(&id) {
        Some(row) => {
            row.device_name = name.clone();
            true
        }
        None => false,
    }
}

/// Deletes a passkey of the user; true when it existed and was the user's.
pub(crate) fn delete_passkey(st: &mut State, user: &UserId, id: Uuid) -> bool {
    if !st.passkeys.owned(user, id) {
        return false;
    }
    let pks = Arc::make_mut(&mut st.passkeys);
    let Some(row) = pks.rows.remove(&id) else {
        return false;
    };
    pks.by_credential.remove(&row.credential_id);
    if let Some(set) = pks.by_user.get_mut(user) {
        set.remove(&id);
        if set.is_empty() {
            pks.by_user.remove(user);
        }
    }
    true
}
