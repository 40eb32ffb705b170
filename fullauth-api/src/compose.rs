//! [`ComposedStore`]: one store from several backends.

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;

use crate::error::{StoreError, StoreResult};
use crate::features::{Feature, Features};
use crate::store::{
    BlacklistStore, ChallengeStore, DurableStore, LockoutStore, RateLimitStore, StoreInfo,
    Transaction,
};

/// One [`Store`](crate::Store) built from a durable store and, per
/// short-lived feature, the store that serves it — fastapi-fullauth's
/// `BLACKLIST_BACKEND`, `LOCKOUT_BACKEND`, `RATE_LIMIT_BACKEND` and
/// `PASSKEY_CHALLENGE_BACKEND` as one value.
///
/// Every call goes to the part that serves its feature; a feature no part
/// serves answers [`StoreError::FeatureDisabled`]. [`StoreInfo::features`] is
/// what the parts serve, [`DurableStore::begin`] is the durable part's
/// transaction (the short-lived features are never transactional). Errors
/// keep the context of the part that raised them (`redis is_blacklisted`).
/// Cloning is cheap: the parts are shared.
///
/// The production recipe — durable state on PostgreSQL, short-lived state on
/// Redis — with in-process stand-ins:
///
/// ```
/// use std::sync::Arc;
/// use fullauth_api::{ComposedStore, Feature, Store};
/// # use fullauth_api::*;
/// # #[derive(Default)] struct Durable;
/// # impl StoreInfo for Durable {
/// #     fn features(&self) -> Features { Features::durable() }
/// #     fn backend_name(&self) -> &'static str { "postgres" }
/// # }
/// # impl UserStore for Durable {} impl RefreshTokenStore for Durable {} impl RoleStore for Durable {}
/// # impl PermissionStore for Durable {} impl OAuthStore for Durable {} impl PasskeyStore for Durable {}
/// # impl MfaStore for Durable {}
/// # #[async_trait] impl DurableStore for Durable {
/// #     async fn begin(&self) -> StoreResult<Box<dyn Transaction>> { Err(StoreError::transaction_nesting()) }
/// # }
/// # #[derive(Default)] struct ShortLived;
/// # impl StoreInfo for ShortLived {
/// #     fn features(&self) -> Features { Features::short_lived() }
/// #     fn backend_name(&self) -> &'static str { "redis" }
/// # }
/// # impl BlacklistStore for ShortLived {} impl LockoutStore for ShortLived {}
/// # impl RateLimitStore for ShortLived {} impl ChallengeStore for ShortLived {}
/// # fn main() -> Result<(), StoreError> {
/// # let (pg, redis) = (Durable, ShortLived);
/// // let pg = PgStore::connect(url).await?; let redis = RedisStore::connect(url).await?;
/// let store: Arc<dyn Store> = Arc::new(
///     ComposedStore::builder()
///         .durable(pg)
///         .short_lived(redis)
///         .build()?,
/// );
/// assert_eq!(store.features(), Features::all());
/// # Ok(()) }
/// ```
///
/// Or keep everything on SQLite but share the blacklist through Redis:
/// `ComposedStore::builder().durable(sqlite.clone()).short_lived(sqlite).blacklist(redis)`
/// (a later call for the same feature replaces an earlier one).
#[derive(Clone, Default)]
pub struct ComposedStore {
    pub(crate) durable: Option<Arc<dyn DurableStore>>,
    pub(crate) blacklist: Option<Arc<dyn BlacklistStore>>,
    pub(crate) lockout: Option<Arc<dyn LockoutStore>>,
    pub(crate) rate_limit: Option<Arc<dyn RateLimitStore>>,
    pub(crate) challenges: Option<Arc<dyn ChallengeStore>>,
    features: Features,
}

impl ComposedStore {
    /// A builder with no part.
    pub fn builder() -> ComposedStoreBuilder {
        ComposedStoreBuilder::default()
    }

    /// The part behind a feature's call, or `FeatureDisabled` with this
    /// store's context.
    pub(crate) fn part<'a, P: ?Sized>(
        &self,
        part: &'a Option<Arc<P>>,
        feature: Feature,
        operation: &'static str,
    ) -> StoreResult<&'a P> {
        match part {
            Some(p) if self.features.contains(feature) => Ok(p),
            _ => Err(StoreError::feature_disabled(feature).with_context("composed", operation)),
        }
    }

    /// The backend serving each feature, in [`Feature::ALL`] order (only the
    /// features served).
    pub fn parts(&self) -> Vec<(Feature, &'static str)> {
        self.features
            .iter()
            .filter_map(|f| {
                let name = match f {
                    Feature::Blacklist => self.blacklist.as_ref()?.backend_name(),
                    Feature::Lockout => self.lockout.as_ref()?.backend_name(),
                    Feature::RateLimit => self.rate_limit.as_ref()?.backend_name(),
                    Feature::Challenges => self.challenges.as_ref()?.backend_name(),
                    _ => self.durable.as_ref()?.backend_name(),
                };
                Some((f, name))
            })
            .collect()
    }
}

impl fmt::Debug for ComposedStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("ComposedStore");
        for (feature, backend) in self.parts() {
            d.field(feature.name(), &backend);
        }
        d.finish()
    }
}

impl StoreInfo for ComposedStore {
    fn features(&self) -> Features {
        self.features
    }

    fn backend_name(&self) -> &'static str {
        "composed"
    }
    /// The durable store's key type ([`UserIdType::Uuid`](crate::UserIdType::Uuid) without one).
    fn user_id_type(&self) -> crate::UserIdType {
        self.durable
            .as_ref()
            .map_or(crate::UserIdType::Uuid, |d| d.user_id_type())
    }
}

#[async_trait]
impl DurableStore for ComposedStore {
    async fn begin(&self) -> StoreResult<Box<dyn Transaction>> {
        match &self.durable {
            Some(d) if !self.features.intersection(Features::durable()).is_empty() => {
                d.begin().await
            }
            _ => Err(StoreError::feature_disabled(Feature::Core).with_context("composed", "begin")),
        }
    }
}

crate::__durable_table!(__impl_composed_durable {});
crate::__short_lived_table!(__impl_composed_short_lived {});

/// Builds a [`ComposedStore`]; see there for the recipe.
#[derive(Default)]
pub struct ComposedStoreBuilder {
    store: ComposedStore,
    explicit: Features,
}

impl ComposedStoreBuilder {
    /// The store of every durable feature it serves (users, tokens, roles,
    /// permissions, OAuth, passkeys, MFA) and of transactions.
    pub fn durable<S: DurableStore + 'static>(mut self, store: S) -> Self {
        self.store.durable = Some(Arc::new(store));
        self
    }

    /// The store of every short-lived feature it serves (blacklist, lockout,
    /// rate limits, challenges); features it does not serve are left as they
    /// were.
    pub fn short_lived<S>(mut self, store: S) -> Self
    where
        S: BlacklistStore + LockoutStore + RateLimitStore + ChallengeStore + 'static,
    {
        let store = Arc::new(store);
        let served = store.features();
        if served.contains(Feature::Blacklist) {
            self.store.blacklist = Some(store.clone());
        }
        if served.contains(Feature::Lockout) {
            self.store.lockout = Some(store.clone());
        }
        if served.contains(Feature::RateLimit) {
            self.store.rate_limit = Some(store.clone());
        }
        if served.contains(Feature::Challenges) {
            self.store.challenges = Some(store);
        }
        self
    }

    /// The store of the token blacklist (`BLACKLIST_BACKEND`).
    pub fn blacklist<S: BlacklistStore + 'static>(mut self, store: S) -> Self {
        self.store.blacklist = Some(Arc::new(store));
        self.explicit = self.explicit.with(Feature::Blacklist);
        self
    }

    /// The store of the lockout counters (`LOCKOUT_BACKEND`).
    pub fn lockout<S: LockoutStore + 'static>(mut self, store: S) -> Self {
        self.store.lockout = Some(Arc::new(store));
        self.explicit = self.explicit.with(Feature::Lockout);
        self
    }

    /// The store of the rate limits (`RATE_LIMIT_BACKEND`).
    pub fn rate_limit<S: RateLimitStore + 'static>(mut self, store: S) -> Self {
        self.store.rate_limit = Some(Arc::new(store));
        self.explicit = self.explicit.with(Feature::RateLimit);
        self
    }

    /// The store of one-time challenges (`PASSKEY_CHALLENGE_BACKEND`).
    pub fn challenges<S: ChallengeStore + 'static>(mut self, store: S) -> Self {
        self.store.challenges = Some(Arc::new(store));
        self.explicit = self.explicit.with(Feature::Challenges);
        self
    }

    /// The composed store. Its features are the durable features of the
    /// durable part plus each short-lived feature whose part serves it.
    ///
    /// # Errors
    /// [`StoreError::InvalidInput`] (field `parts`) when a part given for one
    /// feature ([`blacklist`](Self::blacklist), …) does not serve it, or when
    /// the result would serve Permissions without Roles.
    pub fn build(self) -> StoreResult<ComposedStore> {
        let mut store = self.store;
        let mut features = store
            .durable
            .as_ref()
            .map(|d| d.features().intersection(Features::durable()))
            .unwrap_or_default();
        let short: [(Feature, Option<Features>); 4] = [
            (
                Feature::Blacklist,
                store.blacklist.as_ref().map(|p| p.features()),
            ),
            (
                Feature::Lockout,
                store.lockout.as_ref().map(|p| p.features()),
            ),
            (
                Feature::RateLimit,
                store.rate_limit.as_ref().map(|p| p.features()),
            ),
            (
                Feature::Challenges,
                store.challenges.as_ref().map(|p| p.features()),
            ),
        ];
        for (feature, served) in short {
            match served {
                Some(s) if s.contains(feature) => features = features.with(feature),
                Some(_) if self.explicit.contains(feature) => {
                    return Err(StoreError::invalid(
                        "parts",
                        format!("the store given for `{feature}` does not serve it"),
                    ));
                }
                _ => {}
            }
        }
        features.validate()?;
        store.features = features;
        Ok(store)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{
        MfaStore, OAuthStore, PasskeyStore, PermissionStore, RefreshTokenStore, RoleStore,
        UserStore,
    };
    use crate::{StateKey, UserId};

    /// A store that serves `features` and answers every call with the
    /// defaults (FeatureDisabled), except `is_blacklisted`, which says true.
    struct Stub(Features, &'static str);
    impl StoreInfo for Stub {
        fn features(&self) -> Features {
            self.0
        }
        fn backend_name(&self) -> &'static str {
            self.1
        }
    }
    impl UserStore for Stub {}
    impl RefreshTokenStore for Stub {}
    impl RoleStore for Stub {}
    impl PermissionStore for Stub {}
    impl OAuthStore for Stub {}
    impl PasskeyStore for Stub {}
    impl MfaStore for Stub {}
    #[async_trait]
    impl DurableStore for Stub {
        async fn begin(&self) -> StoreResult<Box<dyn Transaction>> {
            Err(StoreError::transaction_nesting())
        }
    }
    #[async_trait]
    impl BlacklistStore for Stub {
        async fn is_blacklisted(&self, _key: &StateKey) -> StoreResult<bool> {
            Ok(true)
        }
    }
    impl LockoutStore for Stub {}
    impl RateLimitStore for Stub {}
    impl ChallengeStore for Stub {}

    fn rt() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
    }

    #[test]
    fn features_are_what_the_parts_serve() {
        let s = ComposedStore::builder()
            .durable(Stub(Features::all(), "sql"))
            .blacklist(Stub(Feature::Blacklist.into(), "redis"))
            .build()
            .unwrap();
        // Only the durable features of the durable part, plus the blacklist.
        assert_eq!(s.features(), Features::durable().with(Feature::Blacklist));
        assert_eq!(
            s.parts().last().copied(),
            Some((Feature::Blacklist, "redis"))
        );
        assert_eq!(s.parts()[0], (Feature::Core, "sql"));
        assert!(format!("{s:?}").contains("blacklist: \"redis\""));
    }

    #[test]
    fn calls_are_routed_to_their_part() {
        let s = ComposedStore::builder()
            .durable(Stub(Features::durable(), "sql"))
            .short_lived(Stub(Features::short_lived(), "redis"))
            .build()
            .unwrap();
        rt().block_on(async {
            let key = StateKey::new("k").unwrap();
            assert!(s.is_blacklisted(&key).await.unwrap());
            // The part's own answer (its default) comes back unchanged.
            let e = s.get_user(&UserId::generate()).await.unwrap_err();
            assert!(e.is_feature_disabled(Feature::Core));
            assert!(matches!(
                s.begin().await,
                Err(StoreError::TransactionNesting { .. })
            ));
        });
    }

    #[test]
    fn a_missing_part_is_feature_disabled_with_context() {
        let s = ComposedStore::builder()
            .durable(Stub(Features::durable(), "sql"))
            .build()
            .unwrap();
        assert_eq!(s.features(), Features::durable());
        rt().block_on(async {
            let e = s.is_locked(&StateKey::new("k").unwrap()).await.unwrap_err();
            assert!(e.is_feature_disabled(Feature::Lockout));
            assert_eq!(
                e.context(),
                crate::ErrorContext::new("composed", "is_locked")
            );
            let empty = ComposedStore::builder().build().unwrap();
            assert!(empty.features().is_empty());
            assert!(matches!(empty.begin().await, Err(e) if e.is_feature_disabled(Feature::Core)));
        });
    }

    #[test]
    fn a_part_that_does_not_serve_its_feature_is_refused() {
        let e = ComposedStore::builder()
            .lockout(Stub(Feature::Blacklist.into(), "redis"))
            .build()
            .unwrap_err();
        assert!(matches!(e, StoreError::InvalidInput { field: "parts", .. }));
        // short_lived() takes only what the store serves.
        let s = ComposedStore::builder()
            .short_lived(Stub(Feature::Challenges.into(), "redis"))
            .build()
            .unwrap();
        assert_eq!(s.features(), Feature::Challenges.into());
        // Permissions without Roles is refused as for any store.
        let e = ComposedStore::builder()
            .durable(Stub(Feature::Permissions.into(), "sql"))
            .build()
            .unwrap_err();
        assert!(matches!(
            e,
            StoreError::InvalidInput {
                field: "features",
                ..
            }
        ));
    }
}
