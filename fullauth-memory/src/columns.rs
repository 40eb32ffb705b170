//! The application's own columns of `fullauth_users`: their declared types,
//! and how a value written to (or looked up in) a column becomes the value
//! stored.

use std::fmt;

use serde_json::Value;

/// The type of an application column of `fullauth_users`, declared with
/// [`MemoryStoreBuilder::typed_user_column`](crate::MemoryStoreBuilder::typed_user_column).
///
/// A typed column converts what is written to it the way a SQL database
/// converts a value cast to the column's type, and refuses what that cast
/// refuses (with [`StoreError::Backend`](fullauth_api::StoreError::Backend),
/// as a database error), so that [`User::extra`](fullauth_api::User::extra)
/// reads back with the same JSON types as on the SQL backends. Lookups
/// ([`UserLookup::Extra`](fullauth_api::UserLookup::Extra)) convert their
/// value the same way.
///
/// | type | reads back as | accepts |
/// | --- | --- | --- |
/// | `Text` | string | strings; booleans and numbers as their text |
/// | `Boolean` | bool | booleans; the numbers 0 and 1; the strings `true`/`false`, `yes`/`no`, `on`/`off`, `1`/`0` and their prefixes, in any case |
/// | `Integer` | number (signed 64-bit) | integers; strings holding one |
/// | `Any` | as written | every scalar, unchanged |
///
/// NULL is accepted by every type and reads back as JSON null.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ColumnType {
    /// No declared type: values are kept exactly as written.
    #[default]
    Any,
    /// Text (`TEXT`, `VARCHAR`).
    Text,
    /// A boolean (`BOOLEAN`).
    Boolean,
    /// A signed 64-bit integer (`INTEGER`, `BIGINT`).
    Integer,
}

impl fmt::Display for ColumnType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ColumnType::Any => "untyped",
            ColumnType::Text => "TEXT",
            ColumnType::Boolean => "BOOLEAN",
            ColumnType::Integer => "INTEGER",
        })
    }
}

impl ColumnType {
    /// `value` as a column of this type stores it; `None` when the type
    /// refuses it.
    pub(crate) fn convert(self, value: &Value) -> Option<Value> {
        if value.is_null() {
            return Some(Value::Null);
        }
        match self {
            ColumnType::Any => Some(value.clone()),
            ColumnType::Text => match value {
                Value::String(_) => Some(value.clone()),
                Value::Bool(b) => Some(Value::String(b.to_string())),
                Value::Number(n) => Some(Value::String(n.to_string())),
                _ => None,
            },
            ColumnType::Boolean => match value {
                Value::Bool(_) => Some(value.clone()),
                Value::Number(n) => match n.as_i64() {
                    Some(0) => Some(Value::Bool(false)),
                    Some(1) => Some(Value::Bool(true)),
                    _ => None,
                },
                Value::String(s) => parse_bool(s).map(Value::Bool),
                _ => None,
            },
            ColumnType::Integer => match value {
                Value::Number(n) => n.as_i64().map(Value::from),
                Value::String(s) => s.trim().parse::<i64>().ok().map(Value::from),
                _ => None,
            },
        }
    }
}

/// A boolean literal as PostgreSQL reads one: `true`/`false`, `yes`/`no`,
/// `on`/`off`, `1`/`0`, or an unambiguous prefix, in any case, with
/// surrounding whitespace ignored.
fn parse_bool(s: &str) -> Option<bool> {
    let s = s.trim().to_ascii_lowercase();
    let prefix_of = |word: &str, min: usize| s.len() >= min && word.starts_with(s.as_str());
    if prefix_of("true", 1) || prefix_of("yes", 1) || prefix_of("on", 2) || s == "1" {
        Some(true)
    } else if prefix_of("false", 1) || prefix_of("no", 1) || prefix_of("off", 2) || s == "0" {
        Some(false)
    } else {
        None
    }
}

/// One declared application column.
#[derive(Clone, Debug)]
pub(crate) struct Column {
    /// Its type.
    pub(crate) ty: ColumnType,
    /// What a new user gets when `create_user` does not set it (already
    /// converted to the type).
    pub(crate) default: Value,
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn conversions_follow_the_column_type() {
        let t = ColumnType::Text;
        assert_eq!(t.convert(&json!("a")), Some(json!("a")));
        assert_eq!(t.convert(&json!(true)), Some(json!("true")));
        assert_eq!(t.convert(&json!(42)), Some(json!("42")));
        let b = ColumnType::Boolean;
        assert_eq!(b.convert(&json!(true)), Some(json!(true)));
        assert_eq!(b.convert(&json!(0)), Some(json!(false)));
        assert_eq!(b.convert(&json!(1)), Some(json!(true)));
        assert_eq!(b.convert(&json!(2)), None);
        assert_eq!(b.convert(&json!("1")), Some(json!(true)));
        assert_eq!(b.convert(&json!("0")), Some(json!(false)));
        assert_eq!(b.convert(&json!(" YES ")), Some(json!(true)));
        assert_eq!(b.convert(&json!("f")), Some(json!(false)));
        assert_eq!(b.convert(&json!("of")), Some(json!(false)));
        assert_eq!(b.convert(&json!("o")), None);
        assert_eq!(b.convert(&json!(2)), None);
        assert_eq!(b.convert(&json!("maybe")), None);
        let i = ColumnType::Integer;
        assert_eq!(i.convert(&json!(-7)), Some(json!(-7)));
        assert_eq!(i.convert(&json!(" 12 ")), Some(json!(12)));
        assert_eq!(i.convert(&json!(1.5)), None);
        assert_eq!(i.convert(&json!(true)), None);
        assert_eq!(i.convert(&json!(u64::MAX)), None);
        for ty in [ColumnType::Any, t, b, i] {
            assert_eq!(ty.convert(&Value::Null), Some(Value::Null));
        }
        assert_eq!(ColumnType::Any.convert(&json!(1.5)), Some(json!(1.5)));
    }
}
