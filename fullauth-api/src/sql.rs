//! Support for SQL backends: the pieces of an SQL store that do not depend on
//! the dialect or the driver.
//!
//! Nothing here runs SQL or knows a driver: a backend keeps its SQL text,
//! driver types and error codes, and uses these helpers for what every SQL
//! dialect does alike:
//!
//! * statement templates with a schema placeholder, rendered once per
//!   schema and cached ([`SqlTexts`]);
//! * a value discovered lazily and shared by a store and its transactions,
//!   such as the application's user columns ([`SharedSlot`]);
//! * the application columns of `fullauth_users` as JSON: which columns are
//!   the application's ([`is_builtin_user_column`]), how a JSON value is bound
//!   ([`json_to_text`]) and read back ([`ColumnKind::to_json`]);
//! * validation of stored values read back: name lists
//!   ([`role_names`], [`permission_names`], [`split_names`]), any other value
//!   ([`stored`]) and counters written to `INTEGER` columns
//!   ([`counter_param`]);
//! * the feature whose migration creates a missing table
//!   ([`feature_of_table`]).

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use serde_json::Value;
use time::OffsetDateTime;

use crate::error::{StoreError, StoreResult};
use crate::features::Feature;
use crate::ids::UserIdType;
use crate::migrate::Migration;
use crate::records::MAX_COUNTER;
use crate::timestamp::Timestamp;
use crate::user::PROTECTED_FIELDS;
use crate::validate::{PermissionName, RoleName};

/// The placeholder that stands for the quoted schema in SQL templates
/// (`SELECT … FROM {s}.fullauth_users`); [`render`] replaces it.
pub const SCHEMA_PLACEHOLDER: &str = "{s}";

/// `template` with every [`SCHEMA_PLACEHOLDER`] replaced by `quoted_schema`
/// (already quoted as an identifier of the dialect; inserted as it is).
pub fn render(template: &str, quoted_schema: &str) -> String {
    template.replace(SCHEMA_PLACEHOLDER, quoted_schema)
}

/// SQL templates rendered for one quoted schema, each built once.
///
/// A static template keeps its rendered text for the life of the value, so
/// that every run of a statement sends the same text (and a driver's
/// per-connection statement cache finds it). Thread-safe; a poisoned lock is
/// recovered (the cache only ever holds complete entries).
#[derive(Debug)]
pub struct SqlTexts {
    quoted_schema: String,
    rendered: RwLock<HashMap<&'static str, Arc<str>>>,
}

impl SqlTexts {
    /// The texts for `quoted_schema` (already quoted as an identifier).
    pub fn new(quoted_schema: String) -> Self {
        SqlTexts {
            quoted_schema,
            rendered: RwLock::new(HashMap::new()),
        }
    }

    /// The quoted schema the templates are rendered with.
    pub fn quoted_schema(&self) -> &str {
        &self.quoted_schema
    }

    /// The static `template` rendered ([`render`]); the same `Arc` on every
    /// call with the same template.
    pub fn template(&self, template: &'static str) -> Arc<str> {
        if let Some(s) = self
            .rendered
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(template)
        {
            return s.clone();
        }
        let rendered: Arc<str> = render(template, &self.quoted_schema).into();
        self.rendered
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .entry(template)
            .or_insert(rendered)
            .clone()
    }

    /// A dynamic text (built at run time, such as a statement over the
    /// application's columns) rendered ([`render`]), not cached.
    pub fn render(&self, text: &str) -> String {
        render(text, &self.quoted_schema)
    }
}

/// A value shared by a store and its transactions that is found lazily and
/// may be replaced (such as the application's user columns, discovered by
/// the first operation that needs them). Thread-safe; a poisoned lock is
/// recovered (the slot only ever holds a complete value).
#[derive(Debug)]
pub struct SharedSlot<T> {
    value: RwLock<Option<Arc<T>>>,
}

impl<T> Default for SharedSlot<T> {
    fn default() -> Self {
        SharedSlot {
            value: RwLock::new(None),
        }
    }
}

impl<T> SharedSlot<T> {
    /// An empty slot.
    pub fn new() -> Self {
        Self::default()
    }

    /// The value last [`set`](Self::set), `None` before the first or after
    /// setting `None`.
    pub fn get(&self) -> Option<Arc<T>> {
        self.value.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Replaces the value (`None`: empty again, so that it is found anew).
    /// Holders of the previous `Arc` keep it.
    pub fn set(&self, value: Option<T>) {
        *self.value.write().unwrap_or_else(|p| p.into_inner()) = value.map(Arc::new);
    }
}

/// The built-in columns of `fullauth_users` (every other column is the
/// application's): [`PROTECTED_FIELDS`] without `roles`, which is not a
/// column.
pub const BUILTIN_USER_COLUMNS: &[&str] = PROTECTED_FIELDS.split_at(7).0;

/// True when `name` is one of [`BUILTIN_USER_COLUMNS`].
pub fn is_builtin_user_column(name: &str) -> bool {
    BUILTIN_USER_COLUMNS.contains(&name)
}

/// Checks that `fullauth_users.id`, of catalog type `column_type`, holds
/// keys of the type the store is configured for.
///
/// `found` is the key type the backend read from the catalog (or the
/// tracking table); `expected` the one the store was opened for.
///
/// # Errors
/// [`StoreError::Backend`] naming the column's type, the key type it holds
/// and the one the store serves, in the form of fastapi-fullauth's own
/// construction-time check: the store refuses the database before it reads
/// or writes a row there.
///
/// ```
/// use fullauth_api::UserIdType;
/// use fullauth_api::sql::check_user_key;
/// assert!(check_user_key(UserIdType::Uuid, UserIdType::Uuid, "uuid").is_ok());
/// let e = check_user_key(UserIdType::Uuid, UserIdType::Int, "INTEGER").unwrap_err();
/// assert!(e.to_string().contains("user ids are integer"));
/// ```
pub fn check_user_key(
    expected: UserIdType,
    found: UserIdType,
    column_type: &str,
) -> StoreResult<()> {
    if expected == found {
        return Ok(());
    }
    let schema = |t: UserIdType| match t {
        UserIdType::Uuid => "UserSchema[UUID]",
        UserIdType::Int => "UserSchema[int]",
        UserIdType::Text => "UserSchema[str]",
    };
    Err(StoreError::backend_message(format!(
        "User id type mismatch: fullauth_users.id is {column_type}, so this database's user ids \
         are {found_d} (a fastapi-fullauth app declared with {found_s}), but this store was \
         opened for {expected_d} user ids. Open it for `{found}` user ids (user_id_type on \
         the store builders, --user-id-type {found} on the CLI; the MariaDB store serves \
         UUID and integer user ids).",
        found_d = found.describe(),
        found_s = schema(found),
        expected_d = expected.describe(),
        found = found.as_str(),
    )))
}

/// The text bound for a JSON scalar written to (or compared with) an
/// application column, `None` for null: a bool as `true`/`false`, a number
/// in its JSON form, a string as it is. Arrays and objects (which
/// [`crate::ExtraFields`] refuses) as their JSON text.
pub fn json_to_text(v: &Value) -> Option<String> {
    match v {
        Value::Null => None,
        Value::Bool(b) => Some(b.to_string()),
        Value::Number(n) => Some(n.to_string()),
        Value::String(s) => Some(s.clone()),
        other => Some(other.to_string()),
    }
}

/// How the values of an application column travel as JSON; the backend
/// finds it from the column's SQL type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ColumnKind {
    /// Character types: a JSON string.
    Text,
    /// Integer types that fit an `i64`: a JSON integer.
    Int,
    /// Other numeric types: a JSON number, read as text (a value JSON cannot
    /// hold, such as NaN, stays a string).
    Number,
    /// Boolean: a JSON bool.
    Bool,
    /// Date-time types (UTC): an RFC 3339 string with microseconds.
    Timestamp,
    /// Anything else: its text form, as a JSON string.
    Other,
}

/// A value of an application column as the backend read it from a row,
/// `None` for NULL.
#[derive(Clone, Debug, PartialEq)]
pub enum ColumnValue {
    /// Read as text.
    Text(Option<String>),
    /// Read as an integer (a boolean column may be read as 0/1).
    Int(Option<i64>),
    /// Read as a boolean.
    Bool(Option<bool>),
    /// Read as a date-time.
    DateTime(Option<OffsetDateTime>),
}

impl ColumnKind {
    /// The JSON value of `value`, read from a column of this kind. NULL is
    /// JSON null whatever the kind. Text is a JSON string, except for
    /// [`ColumnKind::Number`], where text that is a JSON number becomes that
    /// number. An integer is a JSON number, except for [`ColumnKind::Bool`],
    /// where it is `true` unless 0. A boolean is a JSON bool; a date-time is
    /// the RFC 3339 string of its [`Timestamp`].
    pub fn to_json(self, value: ColumnValue) -> Value {
        match value {
            ColumnValue::Text(t) => t.map_or(Value::Null, |s| match self {
                ColumnKind::Number => match serde_json::from_str::<serde_json::Number>(&s) {
                    Ok(n) => Value::Number(n),
                    Err(_) => Value::String(s),
                },
                _ => Value::String(s),
            }),
            ColumnValue::Int(n) => n.map_or(Value::Null, |n| match self {
                ColumnKind::Bool => Value::Bool(n != 0),
                _ => Value::Number(n.into()),
            }),
            ColumnValue::Bool(b) => b.map_or(Value::Null, Value::Bool),
            ColumnValue::DateTime(t) => t.map_or(Value::Null, |t| {
                Value::String(Timestamp::from_datetime(t).to_string())
            }),
        }
    }
}

/// Maps the validation failure of a stored value (`what`: "role name",
/// "public key" …) to [`StoreError::Backend`]: the database holds a value
/// fullauth would not have written.
pub fn stored(what: &'static str) -> impl FnOnce(StoreError) -> StoreError {
    move |e| StoreError::backend(format!("a stored {what} does not validate"), e)
}

/// Stored role names as [`RoleName`]s, in the same order; any that does not
/// validate is [`StoreError::Backend`].
pub fn role_names(names: Vec<String>) -> StoreResult<Vec<RoleName>> {
    names
        .into_iter()
        .map(|n| RoleName::new(n).map_err(stored("role name")))
        .collect()
}

/// Stored permission names as [`PermissionName`]s, in the same order; any
/// that does not validate is [`StoreError::Backend`].
pub fn permission_names(names: Vec<String>) -> StoreResult<Vec<PermissionName>> {
    names
        .into_iter()
        .map(|n| PermissionName::new(n).map_err(stored("permission name")))
        .collect()
}

/// The names of a newline-joined list (as `GROUP_CONCAT(… SEPARATOR '\n')`
/// makes it), in order; `None` (SQL NULL: no rows) is no names. Role and
/// permission names cannot hold a newline (they refuse control characters).
pub fn split_names(joined: Option<String>) -> Vec<String> {
    joined
        .map(|s| s.split('\n').map(str::to_string).collect())
        .unwrap_or_default()
}

/// A counter (a sign count, an MFA counter) as bound to an SQL `INTEGER`
/// column.
///
/// # Errors
/// [`StoreError::InvalidInput`] on `field` when `n` is over [`MAX_COUNTER`].
pub fn counter_param(n: u32, field: &'static str) -> StoreResult<i32> {
    if n > MAX_COUNTER {
        return Err(StoreError::invalid(
            field,
            format!("must be at most {MAX_COUNTER}"),
        ));
    }
    i32::try_from(n).map_err(|_| StoreError::invalid(field, "out of range"))
}

/// The feature of the migration in `migrations` that creates `table` (a
/// table name without schema), found by its text `TABLE {s}.<table> (`;
/// `None` when none does.
pub fn feature_of_table(migrations: &[Migration], table: &str) -> Option<Feature> {
    let create = format!("TABLE {SCHEMA_PLACEHOLDER}.{table} (");
    migrations
        .iter()
        .find(|m| m.sql.contains(&create))
        .map(|m| m.feature)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn templates_render_once_per_text() {
        let texts = SqlTexts::new(String::from("\"s\""));
        let a = texts.template("SELECT 1 FROM {s}.t");
        assert_eq!(&*a, "SELECT 1 FROM \"s\".t");
        assert!(Arc::ptr_eq(&a, &texts.template("SELECT 1 FROM {s}.t")));
        assert_eq!(texts.render("x {s} {s}"), "x \"s\" \"s\"");
    }

    #[test]
    fn slots_start_empty_and_replace() {
        let slot = SharedSlot::new();
        assert!(slot.get().is_none());
        slot.set(Some(3));
        assert_eq!(slot.get().as_deref(), Some(&3));
        slot.set(None);
        assert!(slot.get().is_none());
    }

    #[test]
    fn builtin_columns_are_the_table_columns() {
        assert_eq!(BUILTIN_USER_COLUMNS.len(), 7);
        assert!(is_builtin_user_column("created_at"));
        assert!(!is_builtin_user_column("roles"));
    }

    #[test]
    fn column_values_become_json() {
        use ColumnKind as K;
        use ColumnValue as V;
        assert_eq!(K::Number.to_json(V::Text(Some("1.50".into()))), json!(1.5));
        assert_eq!(K::Number.to_json(V::Text(Some("NaN".into()))), json!("NaN"));
        assert_eq!(K::Text.to_json(V::Text(Some("12".into()))), json!("12"));
        assert_eq!(K::Bool.to_json(V::Int(Some(2))), json!(true));
        assert_eq!(K::Int.to_json(V::Int(Some(-3))), json!(-3));
        assert_eq!(K::Bool.to_json(V::Bool(Some(false))), json!(false));
        assert_eq!(K::Timestamp.to_json(V::DateTime(None)), Value::Null);
        assert_eq!(json_to_text(&json!(true)).as_deref(), Some("true"));
        assert_eq!(json_to_text(&Value::Null), None);
    }

    #[test]
    fn name_lists_split_on_newlines() {
        assert!(split_names(None).is_empty());
        assert_eq!(split_names(Some(String::from("a\nb c"))), ["a", "b c"]);
        assert!(role_names(vec![String::from("admin")]).is_ok());
        assert!(permission_names(vec![String::from("bad\nname")]).is_err());
    }
}
