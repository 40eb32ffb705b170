//! [`MemoryStoreBuilder`]: features, clock and application columns.

use std::collections::BTreeMap;

use fullauth_api::{Clock, ExtraFields, Features, StoreError};
use serde_json::Value;

use crate::state::Ctx;
use crate::store::MemoryStore;

/// Configures a [`MemoryStore`]; made by [`MemoryStore::builder`].
///
/// ```
/// use fullauth_api::{Clock, DurableStore, Feature, Features, Timestamp};
/// use fullauth_memory::MemoryStore;
///
/// let store = MemoryStore::builder()
///     .features(Features::durable().without(Feature::Mfa))
///     .clock(Clock::manual(Timestamp::now()))
///     .user_column("display_name", serde_json::Value::Null)
///     .user_column("locale", "en")
///     .build()
///     .unwrap();
/// assert!(!store.features().contains(Feature::Mfa));
///
/// // Permissions need roles; protected names cannot be application columns.
/// let f = Features::from(Feature::Core).with(Feature::Permissions);
/// assert!(MemoryStore::builder().features(f).build().is_err());
/// assert!(MemoryStore::builder().user_column("is_superuser", false).build().is_err());
/// ```
#[derive(Debug, Clone)]
#[must_use = "a builder does nothing until build() is called"]
pub struct MemoryStoreBuilder {
    features: Features,
    clock: Clock,
    columns: Vec<(String, Value)>,
}

impl Default for MemoryStoreBuilder {
    fn default() -> Self {
        MemoryStoreBuilder {
            features: Features::all(),
            clock: Clock::system(),
            columns: Vec::new(),
        }
    }
}

impl MemoryStoreBuilder {
    /// The features the store serves (default: [`Features::all`]). Checked by
    /// [`build`](Self::build) with [`Features::validate`].
    pub fn features(mut self, features: Features) -> Self {
        self.features = features;
        self
    }

    /// The clock every operation reads "now" from (default:
    /// [`Clock::system`]). Share a [`Clock::manual`] with your tests to move
    /// time without sleeping.
    pub fn clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
    }

    /// Declares an application column of `fullauth_users` and the value a
    /// user gets when `create_user` does not set it. Repeat for each column.
    /// Every [`User::extra`](fullauth_api::User::extra) carries every declared
    /// column; a name that was not declared is
    /// [`StoreError::UnknownField`].
    ///
    /// [`build`](Self::build) refuses protected names
    /// ([`StoreError::ProtectedField`]), names that are not SQL identifiers
    /// ([`StoreError::UnknownField`]), defaults that are not scalars and
    /// names declared twice ([`StoreError::InvalidInput`]).
    pub fn user_column(mut self, name: impl Into<String>, default: impl Into<Value>) -> Self {
        self.columns.push((name.into(), default.into()));
        self
    }

    /// Builds the store.
    ///
    /// # Errors
    /// [`StoreError::InvalidInput`] with field `features` for a set that fails
    /// [`Features::validate`]; the errors listed under
    /// [`user_column`](Self::user_column).
    pub fn build(self) -> Result<MemoryStore, StoreError> {
        self.features.validate()?;
        let mut columns = BTreeMap::new();
        for (name, default) in self.columns {
            // The same checks as any value written to an application column.
            ExtraFields::new().insert(name.clone(), default.clone())?;
            if columns.insert(name.clone(), default).is_some() {
                return Err(StoreError::invalid(
                    "user_column",
                    format!("column `{name}` is declared twice"),
                ));
            }
        }
        Ok(MemoryStore::from_ctx(Ctx {
            features: self.features,
            clock: self.clock,
            columns,
        }))
    }
}

impl MemoryStore {
    /// A builder with every feature, the system clock and no application
    /// columns.
    pub fn builder() -> MemoryStoreBuilder {
        MemoryStoreBuilder::default()
    }
}
