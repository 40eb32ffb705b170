//! WebAuthn passkeys (`fullauth_passkeys`,
//! [`Feature::Passkeys`](fullauth_api::Feature::Passkeys)).

use std::sync::Arc;

use fullauth_api::{
    ConflictKind, CredentialId, DeviceName, Entity, MAX_COUNTER, NewPasskey, Passkey, StoreError,
    StoreResult, UserId, new_record_id,
};
use uuid::Uuid;

use crate::state::{Map, Set};
use crate::store::Handle;

/// The passkeys by id, indexed by credential id and by user.
#[derive(Clone, Debug, Default)]
pub(crate) struct Passkeys {
    rows: Map<Uuid, Passkey>,
    by_credential: Map<CredentialId, Uuid>,
    by_user: Map<UserId, Set<Uuid>>,
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
pub(crate) async fn get_passkey(
    h: Handle<'_>,
    credential_id: &CredentialId,
) -> StoreResult<Option<Passkey>> {
    h.read(|st, _| {
        let pks = &st.passkeys;
        Ok(pks
            .by_credential
            .get(credential_id)
            .and_then(|id| pks.rows.get(id))
            .cloned())
    })
    .await
}

/// The user's passkeys, oldest first, ties by id.
pub(crate) async fn list_passkeys(h: Handle<'_>, user_id: &UserId) -> StoreResult<Vec<Passkey>> {
    h.read(|st, _| {
        let pks = &st.passkeys;
        let mut out: Vec<Passkey> = pks
            .by_user
            .get(user_id)
            .into_iter()
            .flatten()
            .filter_map(|id| pks.rows.get(id))
            .cloned()
            .collect();
        out.sort_by_key(|p| (p.created_at, p.id));
        Ok(out)
    })
    .await
}

/// Stores a passkey; see [`fullauth_api::PasskeyStore::store_passkey`].
pub(crate) async fn store_passkey(h: Handle<'_>, new: NewPasskey) -> StoreResult<Passkey> {
    h.write(move |st, cx| {
        check_count(new.sign_count)?;
        if st.passkeys.by_credential.contains_key(&new.credential_id) {
            return Err(StoreError::conflict(ConflictKind::Credential));
        }
        if !cx.user_exists(st, &new.user_id) {
            return Err(StoreError::not_found(Entity::User));
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
            .entry(passkey.user_id.clone())
            .or_default()
            .insert(passkey.id);
        pks.rows.insert(passkey.id, passkey.clone());
        Ok(passkey)
    })
    .await
}

/// Compare-and-set of the sign count; touches `last_used_at` whenever the
/// passkey exists.
pub(crate) async fn update_sign_count(
    h: Handle<'_>,
    credential_id: &CredentialId,
    new_count: u32,
) -> StoreResult<bool> {
    h.write(move |st, cx| {
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
    })
    .await
}

/// Renames a passkey of the user; true when the user owns it.
pub(crate) async fn rename_passkey(
    h: Handle<'_>,
    user_id: &UserId,
    passkey_id: Uuid,
    name: &DeviceName,
) -> StoreResult<bool> {
    h.write(move |st, _| {
        if !st.passkeys.owned(user_id, passkey_id) {
            return Ok(false);
        }
        match Arc::make_mut(&mut st.passkeys).rows.get_mut(&passkey_id) {
            Some(row) => {
                row.device_name = name.clone();
                Ok(true)
            }
            None => Ok(false),
        }
    })
    .await
}

/// Deletes a passkey of the user; true when it existed and was the user's.
pub(crate) async fn delete_passkey(
    h: Handle<'_>,
    user_id: &UserId,
    passkey_id: Uuid,
) -> StoreResult<bool> {
    h.write(move |st, _| {
        if !st.passkeys.owned(user_id, passkey_id) {
            return Ok(false);
        }
        let pks = Arc::make_mut(&mut st.passkeys);
        let Some(row) = pks.rows.remove(&passkey_id) else {
            return Ok(false);
        };
        pks.by_credential.remove(&row.credential_id);
        if let Some(set) = pks.by_user.get_mut(user_id) {
            set.remove(&passkey_id);
            if set.is_empty() {
                pks.by_user.remove(user_id);
            }
        }
        Ok(true)
    })
    .await
}
