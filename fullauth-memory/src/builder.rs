//! [`MemoryStoreBuilder`]: features, clock and application columns.

use std::collections::BTreeMap;

use fullauth_api::{Clock, ExtraFields, Features, StoreError, UserIdType};
use serde_json::Value;

use crate::columns::{Column, ColumnType};
use crate::state::Ctx;
use crate::store::MemoryStore;

/// Configures a [`MemoryStore`]; made by [`MemoryStore::builder`].
///
/// ```
/// use fullauth_api::{Clock, Feature, Features, StoreInfo, Timestamp};
/// use fullauth_memory::{ColumnType, MemoryStore};
/// use serde_json::Value;
///
/// let store = MemoryStore::builder()
///     .features(Features::durable().without(Feature::Mfa))
///     .clock(Clock::manual(Timestamp::now()))
///     .typed_user_column("display_name", ColumnType::Text, Value::Null)
///     .typed_user_column("newsletter", ColumnType::Boolean, false)
///     .user_column("locale", "en")
///     .build()
///     .unwrap();
/// assert!(!store.features().contains(Feature::Mfa));
///
/// // Permissions need roles; protected names cannot be application columns;
/// // a default must suit its column's type.
/// let f = Features::from(Feature::Core).with(Feature::Permissions);
/// assert!(MemoryStore::builder().features(f).build().is_err());
/// assert!(MemoryStore::builder().user_column("is_superuser", false).build().is_err());
/// let bad = MemoryStore::builder().typed_user_column("login_count", ColumnType::Integer, "many");
/// assert!(bad.build().is_err());
/// ```
#[derive(Debug, Clone)]
#[must_use = "a builder does nothing until build() is called"]
pub struct MemoryStoreBuilder {
    features: Features,
    clock: Clock,
    columns: Vec<(String, ColumnType, Value)>,
    user_id_type: UserIdType,
}

impl Default for MemoryStoreBuilder {
    fn default() -> Self {
        MemoryStoreBuilder {
            features: Features::all(),
            clock: Clock::system(),
            columns: Vec::new(),
            user_id_type: UserIdType::Uuid,
        }
    }
}

impl MemoryStoreBuilder {
    /// The features the store serves (default: [`Features::all`]). Checked by
    /// [`build`](Self::build) with [`Features::validate`].
    ///
    /// A store without [`Feature::Core`](fullauth_api::Feature::Core) keeps
    /// no users: its durable features serve users of the application's own
    /// table, so every user id is taken as existing (no
    /// [`StoreError::NotFound`] for the user) and deleting a user's rows is
    /// the application's job.
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

    /// How users are keyed (default [`UserIdType::Uuid`]): the type of every
    /// [`UserId`](fullauth_api::UserId) the store gives and takes. New users
    /// get a UUIDv7; on an integer-keyed store the next integer (from 1,
    /// never given twice, like a `SERIAL` column); on a text-keyed store the
    /// caller's id or [`UserIdType::generate`]'s. An id of another type is
    /// refused with [`StoreError::InvalidInput`].
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), fullauth_api::StoreError> {
    /// use fullauth_api::{NewUser, StoreInfo, UserId, UserIdType, UserStore};
    /// use fullauth_memory::MemoryStore;
    /// let store = MemoryStore::builder().user_id_type(UserIdType::Int).build()?;
    /// let ada = store.create_user(NewUser::new("ada@example.com")?).await?;
    /// assert_eq!(ada.id, UserId::from_int(1));
    /// assert_eq!(store.user_id_type().parse("1")?, ada.id);
    /// # Ok(()) }
    /// ```
    pub fn user_id_type(mut self, user_id_type: UserIdType) -> Self {
        self.user_id_type = user_id_type;
        self
    }

    /// Declares an untyped application column of `fullauth_users` and the
    /// value a user gets when `create_user` does not set it: values are kept
    /// exactly as written ([`ColumnType::Any`]). Repeat for each column.
    /// Every [`User::extra`](fullauth_api::User::extra) carries every declared
    /// column; a name that was not declared is
    /// [`StoreError::UnknownField`].
    ///
    /// [`build`](Self::build) refuses protected names
    /// ([`StoreError::ProtectedField`]), names that are not SQL identifiers
    /// ([`StoreError::UnknownField`]), defaults that are not scalars and
    /// names declared twice ([`StoreError::InvalidInput`]).
    pub fn user_column(self, name: impl Into<String>, default: impl Into<Value>) -> Self {
        self.typed_user_column(name, ColumnType::Any, default)
    }

    /// Declares an application column of `fullauth_users` with a type, like
    /// a column of a SQL table: what is written to it is converted to the
    /// type (a boolean column reads back JSON booleans, an integer column
    /// JSON numbers, a text column strings) or refused, as
    /// [`ColumnType`] describes. Give [`Value::Null`] as the default of a
    /// nullable column without a default.
    ///
    /// [`build`](Self::build) refuses what [`user_column`](Self::user_column)
    /// refuses, and a default the type does not accept
    /// ([`StoreError::InvalidInput`]).
    pub fn typed_user_column(
        mut self,
        name: impl Into<String>,
        ty: ColumnType,
        default: impl Into<Value>,
    ) -> Self {
        self.columns.push((name.into(), ty, default.into()));
        self
    }

    /// Builds the store.
    ///
    /// # Errors
    /// [`StoreError::InvalidInput`] with field `features` for a set that fails
    /// [`Features::validate`]; the errors listed under
    /// [`user_column`](Self::user_column) and
    /// [`typed_user_column`](Self::typed_user_column).
    pub fn build(self) -> Result<MemoryStore, StoreError> {
        self.features.validate()?;
        let mut columns = BTreeMap::new();
        for (name, ty, default) in self.columns {
            // The same checks as any value written to an application column.
            ExtraFields::new().insert(name.clone(), default.clone())?;
            let Some(default) = ty.convert(&default) else {
                return Err(StoreError::invalid(
                    "user_column",
                    format!("column `{name}` is {ty}: its default {default} does not suit it"),
                ));
            };
            if columns
                .insert(name.clone(), Column { ty, default })
                .is_some()
            {
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
            user_id_type: self.user_id_type,
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
