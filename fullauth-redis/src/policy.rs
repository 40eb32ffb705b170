//! What a feature answers when Redis fails.

use std::fmt;

/// What the store answers when a Redis call of a feature fails (an error
/// from the server, a lost connection, or no answer within the call timeout).
///
/// The policy only covers failures of Redis itself: invalid input is refused
/// before any call, whatever the policy. Every failure that a policy turns
/// into an answer is logged with `tracing::warn!`.
///
/// | policy | checks (`is_blacklisted`, `any_blacklisted`, `is_locked`, `hit`) | `record_failure` | `take_challenge` | removals (`clear_lockout`, `reset_rate_limit`) | additions (`blacklist`, `put_challenge`) |
/// | --- | --- | --- | --- | --- | --- |
/// | [`Open`](FailurePolicy::Open) | the permissive answer: not blacklisted, not locked, allowed (`remaining = limit − 1`) | `Counted { attempts: 0 }`: nothing was counted | `None` | logged, `Ok(())` | the error |
/// | [`Closed`](FailurePolicy::Closed) | the restrictive answer: blacklisted, locked, refused (`retry_after` = the window) | `AlreadyLocked { until: now + duration }` | `None` | the error | the error |
/// | [`Error`](FailurePolicy::Error) | the error | the error | the error | the error | the error |
///
/// "The error" is [`fullauth_api::StoreError::Unavailable`] for a lost
/// connection, a timeout or a server that is loading, read-only or
/// failing over (on a cluster: also a slot whose owner is down or moving,
/// `CLUSTERDOWN`, `TRYAGAIN`, or a `MOVED`/`ASK` redirection the cluster
/// client gave up on), and [`fullauth_api::StoreError::Backend`] for any
/// other Redis error (such as `CROSSSLOT`: see the crate docs on hash tags).
///
/// Writes that add state always report their failure: a token the caller
/// believes revoked, or a challenge it believes stored, must not silently be
/// missing.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FailurePolicy {
    /// Fail open: answer as if Redis held nothing for the key.
    Open,
    /// Fail closed: answer the most restrictive value.
    Closed,
    /// Return the error to the caller.
    Error,
}

impl fmt::Display for FailurePolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            FailurePolicy::Open => "open",
            FailurePolicy::Closed => "closed",
            FailurePolicy::Error => "error",
        })
    }
}

/// The failure policy of each feature.
///
/// The defaults are the reference's: the blacklist fails closed, lockout and
/// rate limiting fail open, challenges return the error.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct FailurePolicies {
    /// Token blacklist (default [`FailurePolicy::Closed`]).
    pub blacklist: FailurePolicy,
    /// Login lockout (default [`FailurePolicy::Open`]).
    pub lockout: FailurePolicy,
    /// Rate limiting (default [`FailurePolicy::Open`]).
    pub rate_limit: FailurePolicy,
    /// One-time challenges (default [`FailurePolicy::Error`]).
    pub challenges: FailurePolicy,
}

impl Default for FailurePolicies {
    fn default() -> Self {
        FailurePolicies {
            blacklist: FailurePolicy::Closed,
            lockout: FailurePolicy::Open,
            rate_limit: FailurePolicy::Open,
            challenges: FailurePolicy::Error,
        }
    }
}
