//! What every operation shares: the schema, the clock, the features, the
//! rendered SQL and the application's user columns.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use fullauth_api::{Clock, Features, StoreError, StoreResult, Timestamp};
use sqlx::AssertSqlSafe;

use crate::columns::UserColumns;

/// The placeholder for the quoted schema in every SQL text of this crate.
pub(crate) const SCHEMA_PLACEHOLDER: &str = "{s}";

/// Quotes an SQL identifier: wrapped in double quotes, inner quotes doubled.
pub(crate) fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// Checks a schema name: 1–63 bytes, no NUL (PostgreSQL's own limits).
pub(crate) fn check_schema_name(schema: &str) -> StoreResult<()> {
    if schema.is_empty() || schema.len() > 63 || schema.contains('\0') {
        return Err(StoreError::invalid(
            "schema",
            "a schema name has 1 to 63 bytes and no NUL",
        ));
    }
    Ok(())
}

/// Replaces the schema placeholder in `template` with the quoted schema.
pub(crate) fn render(template: &str, quoted_schema: &str) -> String {
    template.replace(SCHEMA_PLACEHOLDER, quoted_schema)
}

/// Shared state of a store and its transactions.
pub(crate) struct Ctx {
    pub(crate) schema: String,
    pub(crate) quoted_schema: String,
    pub(crate) clock: Clock,
    pub(crate) features: Features,
    sql: RwLock<HashMap<&'static str, Arc<str>>>,
    /// `None` until discovered (lazily, by the first operation on users).
    columns: RwLock<Option<Arc<UserColumns>>>,
}

impl Ctx {
    pub(crate) fn new(schema: String, clock: Clock, features: Features) -> Self {
        let quoted_schema = quote_ident(&schema);
        Ctx {
            schema,
            quoted_schema,
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

    /// A static SQL template rendered for this schema (cached, so each
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
        let rendered: Arc<str> = render(template, &self.quoted_schema).into();
        self.sql
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .insert(template, rendered.clone());
        AssertSqlSafe(rendered)
    }

    /// Renders a dynamic SQL text (statements built from the user columns).
    pub(crate) fn dynamic(&self, text: &str) -> AssertSqlSafe<String> {
        AssertSqlSafe(render(text, &self.quoted_schema))
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
