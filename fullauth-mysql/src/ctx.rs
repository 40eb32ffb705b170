//! What every operation shares: the database, the clock, the features, the
//! rendered SQL and the application's user columns.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use fullauth_api::{Clock, Features, StoreError, StoreResult, Timestamp};
use sqlx::AssertSqlSafe;

use crate::columns::UserColumns;

/// The placeholder for the quoted database name in every SQL text of this
/// crate (MariaDB's schema is a database).
pub(crate) const DATABASE_PLACEHOLDER: &str = "{s}";

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

/// Replaces the placeholder in `template` with the quoted database name.
pub(crate) fn render(template: &str, quoted_database: &str) -> String {
    template.replace(DATABASE_PLACEHOLDER, quoted_database)
}

/// Shared state of a store and its transactions.
pub(crate) struct Ctx {
    pub(crate) database: String,
    pub(crate) quoted_database: String,
    pub(crate) clock: Clock,
    pub(crate) features: Features,
    sql: RwLock<HashMap<&'static str, Arc<str>>>,
    /// `None` until discovered (lazily, by the first operation on users).
    columns: RwLock<Option<Arc<UserColumns>>>,
}

impl Ctx {
    pub(crate) fn new(database: String, clock: Clock, features: Features) -> Self {
        let quoted_database = quote_ident(&database);
        Ctx {
            database,
            quoted_database,
            clock,
            features,
            sql: RwLock::new(HashMap::new()),
            columns: RwLock::new(None),
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
        if let Some(s) = self
            .sql
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(template)
        {
            return AssertSqlSafe(s.clone());
        }
        let rendered: Arc<str> = render(template, &self.quoted_database).into();
        self.sql
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .insert(template, rendered.clone());
        AssertSqlSafe(rendered)
    }

    /// Renders a dynamic SQL text (statements built from the user columns).
    pub(crate) fn dynamic(&self, text: &str) -> AssertSqlSafe<String> {
        AssertSqlSafe(render(text, &self.quoted_database))
    }

    /// The user columns as last discovered, `None` before the first
    /// discovery.
    pub(crate) fn columns(&self) -> Option<Arc<UserColumns>> {
        self.columns
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Replaces the discovered user columns (`None`: discover again at the
    /// next operation on users).
    pub(crate) fn set_columns(&self, cols: Option<UserColumns>) {
        *self.columns.write().unwrap_or_else(|p| p.into_inner()) = cols.map(Arc::new);
    }
}
