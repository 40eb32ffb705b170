//! What a store serves.

use std::fmt;
use std::str::FromStr;

use crate::error::StoreError;

/// One feature of the family. Durable features live in the database; short-lived
/// ones hold the transient state of a login.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Feature {
    /// Users, password hashes, refresh tokens and the sessions they form.
    Core,
    /// Roles and their assignment to users.
    Roles,
    /// Permissions granted to roles. Needs [`Feature::Roles`].
    Permissions,
    /// OAuth account links.
    OAuth,
    /// WebAuthn passkeys.
    Passkeys,
    /// TOTP factors and recovery codes.
    Mfa,
    /// Token blacklist (short-lived).
    Blacklist,
    /// Login lockout counters (short-lived).
    Lockout,
    /// Sliding-window rate limits (short-lived).
    RateLimit,
    /// One-time challenges (short-lived).
    Challenges,
}

impl Feature {
    /// Every feature, durable first, in declaration order.
    pub const ALL: [Feature; 10] = [
        Feature::Core,
        Feature::Roles,
        Feature::Permissions,
        Feature::OAuth,
        Feature::Passkeys,
        Feature::Mfa,
        Feature::Blacklist,
        Feature::Lockout,
        Feature::RateLimit,
        Feature::Challenges,
    ];

    /// The stable lowercase name (`core`, `roles`, ..., `rate_limit`).
    pub fn name(self) -> &'static str {
        match self {
            Feature::Core => "core",
            Feature::Roles => "roles",
            Feature::Permissions => "permissions",
            Feature::OAuth => "oauth",
            Feature::Passkeys => "passkeys",
            Feature::Mfa => "mfa",
            Feature::Blacklist => "blacklist",
            Feature::Lockout => "lockout",
            Feature::RateLimit => "rate_limit",
            Feature::Challenges => "challenges",
        }
    }

    /// True for the short-lived features.
    pub fn is_short_lived(self) -> bool {
        matches!(
            self,
            Feature::Blacklist | Feature::Lockout | Feature::RateLimit | Feature::Challenges
        )
    }

    fn bit(self) -> u16 {
        1 << (self as u16)
    }
}

impl fmt::Display for Feature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Feature {
    type Err = StoreError;

    /// Parses the names of [`Feature::name`] (case-insensitive; `-` and `_`
    /// are interchangeable).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let norm = s.trim().to_ascii_lowercase().replace('-', "_");
        Feature::ALL
            .into_iter()
            .find(|f| f.name() == norm || (norm == "ratelimit" && *f == Feature::RateLimit))
            .ok_or_else(|| {
                StoreError::invalid(
                    "feature",
                    format!(
                        "unknown feature `{s}`; expected one of core, roles, permissions, oauth, \
                         passkeys, mfa, blacklist, lockout, rate_limit, challenges"
                    ),
                )
            })
    }
}

/// A set of [`Feature`]s.
///
/// ```
/// use fullauth_api::{Feature, Features};
/// let f = Features::durable().without(Feature::Mfa);
/// assert!(f.contains(Feature::Roles));
/// assert!(!f.contains(Feature::Mfa));
/// assert!(f.validate().is_ok());
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Features(u16);

impl Features {
    /// No feature.
    pub const fn empty() -> Self {
        Features(0)
    }

    /// Every feature, durable and short-lived.
    pub fn all() -> Self {
        Feature::ALL.into_iter().collect()
    }

    /// Every durable feature.
    pub fn durable() -> Self {
        Feature::ALL
            .into_iter()
            .filter(|f| !f.is_short_lived())
            .collect()
    }

    /// Every short-lived feature.
    pub fn short_lived() -> Self {
        Feature::ALL
            .into_iter()
            .filter(|f| f.is_short_lived())
            .collect()
    }

    /// This set plus `feature`.
    pub fn with(self, feature: Feature) -> Self {
        Features(self.0 | feature.bit())
    }

    /// This set minus `feature`.
    pub fn without(self, feature: Feature) -> Self {
        Features(self.0 & !feature.bit())
    }

    /// The union of two sets.
    pub fn union(self, other: Features) -> Self {
        Features(self.0 | other.0)
    }

    /// The features in both sets.
    pub fn intersection(self, other: Features) -> Self {
        Features(self.0 & other.0)
    }

    /// True if `feature` is in the set.
    pub fn contains(self, feature: Feature) -> bool {
        self.0 & feature.bit() != 0
    }

    /// True if every feature of `other` is in the set.
    pub fn contains_all(self, other: Features) -> bool {
        self.0 & other.0 == other.0
    }

    /// True if the set is empty.
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// The features in the set, in [`Feature::ALL`] order.
    pub fn iter(self) -> impl Iterator<Item = Feature> {
        Feature::ALL.into_iter().filter(move |f| self.contains(*f))
    }

    /// Checks the dependencies between features: Permissions needs Roles.
    /// Every other feature stands alone (a store may serve only MFA over the
    /// app's own user table, or only the blacklist).
    pub fn validate(self) -> Result<(), StoreError> {
        if self.contains(Feature::Permissions) && !self.contains(Feature::Roles) {
            return Err(StoreError::invalid(
                "features",
                "permissions needs roles: add Feature::Roles",
            ));
        }
        Ok(())
    }
}

impl FromIterator<Feature> for Features {
    fn from_iter<I: IntoIterator<Item = Feature>>(iter: I) -> Self {
        iter.into_iter().fold(Features::empty(), Features::with)
    }
}

impl From<Feature> for Features {
    fn from(f: Feature) -> Self {
        Features::empty().with(f)
    }
}

impl fmt::Debug for Features {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.iter()).finish()
    }
}

impl fmt::Display for Features {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = self.iter().map(Feature::name).collect();
        f.write_str(&names.join(","))
    }
}

impl FromStr for Features {
    type Err = StoreError;

    /// Parses a comma-separated list of feature names; `all`, `durable` and
    /// `ephemeral` (the four short-lived features) are accepted too.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let mut set = Features::empty();
        for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            set = match part.to_ascii_lowercase().as_str() {
                "all" => set.union(Features::all()),
                "durable" => set.union(Features::durable()),
                "ephemeral" | "short_lived" | "short-lived" => set.union(Features::short_lived()),
                _ => set.with(part.parse()?),
            };
        }
        Ok(set)
    }
}
