//! TOTP factors and recovery codes (`fullauth_mfa`,
//! [`Feature::Mfa`](fullauth_api::Feature::Mfa)).

use std::sync::Arc;

use fullauth_api::{
    Entity, MAX_COUNTER, MfaFactor, MfaSecret, StoreError, StoreResult, TokenDigest, UserId,
    new_record_id,
};

use crate::state::Map;
use crate::store::Handle;

/// One factor per user.
#[derive(Clone, Debug, Default)]
pub(crate) struct Mfa {
    rows: Map<UserId, MfaFactor>,
}

impl Mfa {
    /// True when the user has a factor.
    pub(crate) fn has_user(&self, id: &UserId) -> bool {
        self.rows.contains_key(id)
    }

    /// Deletes the user's factor.
    pub(crate) fn remove_user(&mut self, id: &UserId) {
        self.rows.remove(id);
    }
}

/// The user's factor.
pub(crate) async fn get_mfa(h: Handle<'_>, user_id: &UserId) -> StoreResult<Option<MfaFactor>> {
    h.read(|st, _| Ok(st.mfa.rows.get(user_id).cloned())).await
}

/// Creates or replaces the user's factor with a new, unconfirmed one.
pub(crate) async fn store_mfa(
    h: Handle<'_>,
    user_id: &UserId,
    secret: &MfaSecret,
) -> StoreResult<MfaFactor> {
    h.write(|st, cx| {
        if !cx.user_exists(st, user_id) {
            return Err(StoreError::not_found(Entity::User));
        }
        let factor = MfaFactor {
            id: new_record_id(),
            user_id: user_id.clone(),
            secret: secret.clone(),
            confirmed_at: None,
            last_counter: 0,
            recovery_codes: Vec::new(),
            created_at: cx.now(),
        };
        Arc::make_mut(&mut st.mfa)
            .rows
            .insert(user_id.clone(), factor.clone());
        Ok(factor)
    })
    .await
}

/// Confirms the factor now and replaces its recovery codes.
pub(crate) async fn confirm_mfa(
    h: Handle<'_>,
    user_id: &UserId,
    recovery_codes: &[TokenDigest],
) -> StoreResult<bool> {
    h.write(|st, cx| {
        if !st.mfa.has_user(user_id) {
            return Ok(false);
        }
        let now = cx.now();
        match Arc::make_mut(&mut st.mfa).rows.get_mut(user_id) {
            Some(f) => {
                f.confirmed_at = Some(now);
                f.recovery_codes = recovery_codes.to_vec();
                Ok(true)
            }
            None => Ok(false),
        }
    })
    .await
}

/// Deletes the factor; true when it existed.
pub(crate) async fn delete_mfa(h: Handle<'_>, user_id: &UserId) -> StoreResult<bool> {
    h.write(|st, _| {
        Ok(st.mfa.has_user(user_id) && Arc::make_mut(&mut st.mfa).rows.remove(user_id).is_some())
    })
    .await
}

/// Compare-and-set of the last accepted TOTP step.
pub(crate) async fn advance_mfa_counter(
    h: Handle<'_>,
    user_id: &UserId,
    counter: u32,
) -> StoreResult<bool> {
    h.write(move |st, _| {
        if counter > MAX_COUNTER {
            return Err(StoreError::invalid(
                "counter",
                format!("must be at most {MAX_COUNTER}"),
            ));
        }
        if st
            .mfa
            .rows
            .get(user_id)
            .is_none_or(|f| counter <= f.last_counter)
        {
            return Ok(false);
        }
        match Arc::make_mut(&mut st.mfa).rows.get_mut(user_id) {
            Some(f) => {
                f.last_counter = counter;
                Ok(true)
            }
            None => Ok(false),
        }
    })
    .await
}

/// Removes one occurrence of the recovery-code digest.
pub(crate) async fn consume_recovery_code(
    h: Handle<'_>,
    user_id: &UserId,
    code: &TokenDigest,
) -> StoreResult<bool> {
    h.write(|st, _| {
        let Some(pos) = st
            .mfa
            .rows
            .get(user_id)
            .and_then(|f| f.recovery_codes.iter().position(|c| c == code))
        else {
            return Ok(false);
        };
        match Arc::make_mut(&mut st.mfa).rows.get_mut(user_id) {
            Some(f) => {
                f.recovery_codes.remove(pos);
                Ok(true)
            }
            None => Ok(false),
        }
    })
    .await
}
