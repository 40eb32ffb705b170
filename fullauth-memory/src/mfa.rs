//! TOTP factors and recovery codes (`fullauth_mfa`,
//! [`Feature::Mfa`](fullauth_api::Feature::Mfa)).

use std::collections::HashMap;
use std::sync::Arc;

use fullauth_api::{
    Entity, MAX_COUNTER, MfaFactor, MfaSecret, StoreError, StoreResult, TokenDigest, UserId,
    new_record_id,
};

use crate::state::{Ctx, State};

/// One factor per user.
#[derive(Clone, Debug, Default)]
pub(crate) struct Mfa {
    rows: HashMap<UserId, MfaFactor>,
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
pub(crate) fn get_mfa(st: &State, user: &UserId) -> Option<MfaFactor> {
    st.mfa.rows.get(user).cloned()
}

/// Creates or replaces the user's factor with a new, unconfirmed one.
pub(crate) fn store_mfa(
    st: &mut State,
    cx: &Ctx,
    user: &UserId,
    secret: &MfaSecret,
) -> StoreResult<MfaFactor> {
    if !st.users.exists(user) {
        return Err(StoreError::NotFound { what: Entity::User });
    }
    let factor = MfaFactor {
        id: new_record_id(),
        user_id: *user,
        secret: secret.clone(),
        confirmed_at: None,
        last_counter: 0,
        recovery_codes: Vec::new(),
        created_at: cx.now(),
    };
    Arc::make_mut(&mut st.mfa)
        .rows
        .insert(*user, factor.clone());
    Ok(factor)
}

/// Confirms the factor now and replaces its recovery codes.
pub(crate) fn confirm_mfa(st: &mut State, cx: &Ctx, user: &UserId, codes: &[TokenDigest]) -> bool {
    if !st.mfa.has_user(user) {
        return false;
    }
    let now = cx.now();
    match Arc::make_mut(&mut st.mfa).rows.get_mut(user) {
        Some(f) => {
            f.confirmed_at = Some(now);
            f.recovery_codes = codes.to_vec();
            true
        }
        None => false,
    }
}

/// Deletes the factor; true when it existed.
pub(crate) fn delete_mfa(st: &mut State, user: &UserId) -> bool {
    st.mfa.has_user(user) && Arc::make_mut(&mut st.mfa).rows.remove(user).is_some()
}

/// Compare-and-set of the last accepted TOTP step.
pub(crate) fn advance_mfa_counter(
    st: &mut State,
    user: &UserId,
    counter: u32,
) -> StoreResult<bool> {
    if counter > MAX_COUNTER {
        return Err(StoreError::invalid(
            "counter",
            format!("must be at most {MAX_COUNTER}"),
        ));
    }
    if st
        .mfa
        .rows
        .get(user)
        .is_none_or(|f| counter <= f.last_counter)
    {
        return Ok(false);
    }
    match Arc::make_mut(&mut st.mfa).rows.get_mut(user) {
        Some(f) => {
            f.last_counter = counter;
            Ok(true)
        }
        None => Ok(false),
    }
}

/// Removes one occurrence of the recovery-code digest.
pub(crate) fn consume_recovery_code(st: &mut State, user: &UserId, code: &TokenDigest) -> bool {
    let Some(pos) = st
        .mfa
        .rows
        .get(user)
        .and_then(|f| f.recovery_codes.iter().position(|c| c == code))
    else {
        return false;
    };
    match Arc::make_mut(&mut st.mfa).rows.get_mut(user) {
        Some(f) => {
            f.recovery_codes.remove(pos);
            true
        }
        None => false,
    }
}
