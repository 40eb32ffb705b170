//! What every operation shares: the schema, the clock, the features, the
//! rendered SQL and the application's user columns.

use std::sync::Arc;

use fullauth_api::sql::{SharedSlot, SqlTexts};
use fullauth_api::{Clock, Features, StoreError, StoreResult, Timestamp, UserIdType};
use sqlx::AssertSqlSafe;

use crate::columns::UserColumns;

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

/// Replaces the schema placeholder (`{s}`) in a template with the quoted
/// schema.
pub(crate) use fullauth_api::sql::render;

/// Shared state of a store and its transactions.
pub(crate) struct Ctx {
    pub(crate) schema: String,
    pub(crate) clock: Clock,
    pub(crate) features: Features,
    /// How the database keys its users: the store's
    /// [`StoreInfo::user_id_type`](fullauth_api::StoreInfo::user_id_type),
    /// fixed when the store is built (see
    /// [`crate::PgStoreBuilder::user_id_type`]).
    pub(crate) key: UserIdType,
    /// The SQL texts rendered for the quoted schema.
    pub(crate) texts: SqlTexts,
    /// The user columns: empty until discovered (lazily, by the first
    /// operation on users), emptied to discover them again.
    pub(crate) columns: SharedSlot<UserColumns>,
    /// Behind a transaction-mode pooler (PgBouncer): statements are unnamed
    /// (parsed on each use, never cached per connection) and every
    /// operation on the pool runs inside a transaction of its own, so that
    /// its messages reach one server connection. See
    /// [`crate::PgStoreBuilder::pooler_transaction_mode`].
    pub(crate) pooler: bool,
    /// The bound of each operation, from its start to its answer
    /// (connection included). See [`crate::PgStoreBuilder::operation_timeout`].
    pub(crate) operation_timeout: Option<std::time::Duration>,
}

impl Ctx {
    pub(crate) fn new(schema: String, clock: Clock, features: Features, key: UserIdType) -> Self {
        let texts = SqlTexts::new(quote_ident(&schema));
        Ctx {
            schema,
            clock,
            features,
            key,
            texts,
            columns: SharedSlot::new(),
            pooler: false,
            operation_timeout: None,
        }
    }

    /// When an operation starting now must have answered, if it is bounded.
    pub(crate) fn deadline(&self) -> Option<tokio::time::Instant> {
        self.operation_timeout
            .map(|t| tokio::time::Instant::now() + t)
    }

    /// How long the rollback of a transaction that ended without commit or
    /// rollback may take before its connection is closed instead: the
    /// operation timeout, or 5 s without one.
    pub(crate) fn rollback_bound(&self) -> std::time::Duration {
        self.operation_timeout
            .unwrap_or(std::time::Duration::from_secs(5))
    }

    /// The error of an operation that did not answer by its deadline.
    pub(crate) fn timed_out(&self) -> StoreError {
        StoreError::unavailable_message(format!(
            "PostgreSQL gave no answer within the operation timeout ({:?}); a write may or \
             may not have been applied",
            self.operation_timeout.unwrap_or_default()
        ))
    }

    /// Whether statements are prepared once per connection and cached
    /// (sqlx's named statements; the default), or unnamed and parsed on
    /// each use (behind a transaction-mode pooler, where the next
    /// transaction may run on another server connection).
    pub(crate) fn persistent(&self) -> bool {
        !self.pooler
    }

    /// "Now" on the store's clock.
    pub(crate) fn now(&self) -> Timestamp {
        self.clock.now()
    }

    /// A static SQL template rendered for this schema (cached, so each
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
