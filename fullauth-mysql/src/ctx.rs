//! What every operation shares: the database, the clock, the features, the
//! rendered SQL and the application's user columns.

use std::sync::Arc;

use fullauth_api::sql::{SharedSlot, SqlTexts};
use fullauth_api::{Clock, Features, StoreError, StoreResult, Timestamp, UserIdType};
use sqlx::AssertSqlSafe;

use crate::columns::UserColumns;

/// Quotes an SQL identifier: wrapped in backticks, inner backticks doubled.
pub(crate) fn quote_ident(name: &str) -> String {
    format!("`{}`", name.replace('`', "``"))
}

/// Checks a database name: 1–64 characters, no NUL, not ending in a space
/// (MariaDB's own limits).
pub(crate) fn check_database_name(database: &str) -> StoreResult<()> {
    if database.is_empty()
        || database.chars().count() > 64
        || database.contains('\0')
        || database.ends_with(' ')
    {
        return Err(StoreError::invalid(
            "database",
            "a database name has 1 to 64 characters, no NUL and no trailing space",
        ));
    }
    Ok(())
}

/// Replaces the placeholder (`{s}`) in a template with the quoted database
/// name (MariaDB's schema is a database).
pub(crate) use fullauth_api::sql::render;

/// Shared state of a store and its transactions.
pub(crate) struct Ctx {
    pub(crate) database: String,
    pub(crate) clock: Clock,
    pub(crate) features: Features,
    /// How the database keys its users: what
    /// [`StoreInfo::user_id_type`](fullauth_api::StoreInfo::user_id_type)
    /// answers (set, or read from the catalog by
    /// [`crate::MySqlStoreBuilder::connect`]).
    pub(crate) key: UserIdType,
    /// The SQL texts rendered for the quoted database name.
    pub(crate) texts: SqlTexts,
    /// The user columns: empty until discovered (lazily, by the first
    /// operation on users), emptied to discover them again.
    pub(crate) columns: SharedSlot<UserColumns>,
}

impl Ctx {
    pub(crate) fn new(database: String, clock: Clock, features: Features, key: UserIdType) -> Self {
        let texts = SqlTexts::new(quote_ident(&database));
        Ctx {
            database,
            clock,
            features,
            key,
            texts,
            columns: SharedSlot::new(),
        }
    }

    /// "Now" on the store's clock.
    pub(crate) fn now(&self) -> Timestamp {
        self.clock.now()
    }

    /// A static SQL template rendered for this database (cached, so each
    /// statement text is built once and sqlx's per-connection statement cache
    /// sees the same text every time).
    pub(crate) fn sql(&self, template: &'static str) -> AssertSqlSafe<Arc<str>> {
        AssertSqlSafe(self.texts.template(template))
    }

    /// Renders a dynamic SQL text (statements built from the user columns).
    pub(crate) fn dynamic(&self, text: &str) -> AssertSqlSafe<String> {
        AssertSqlSafe(self.texts.render(text))
    }
}
