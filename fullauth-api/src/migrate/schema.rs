//! What each migration creates, as data, and how a live table is compared
//! with it — the part of `adopt` that is the same on every SQL backend.
//!
//! A backend describes what it finds in its database catalog (SQLite's
//! `pragma_table_info` / `pragma_index_list` / `pragma_foreign_key_list`,
//! PostgreSQL's `pg_catalog`) as a [`LiveTable`], with column types spelled
//! the canonical way ([`canonical_type`]: `VARCHAR(100)`, `TEXT`, `UUID`, …).
//! [`diff_table`] compares it with the [`TableSpec`] of the migration and
//! answers the [`Fix`]es to make and the notes to report; the backend renders
//! each fix in its dialect and runs it. So the notes of an adoption are the
//! same texts on every backend.
//!
//! The durable tables are fastapi-fullauth 0.18's (reference Appendix A), the
//! same on every backend: [`reference_change`]. The short-lived tables are
//! each backend's own; it describes them with the same types.
//!
//! ```
//! use fullauth_api::migrate::schema::{reference_change, ColumnType};
//! let users = reference_change("core_0001_users").unwrap();
//! assert_eq!(users.tables[0].name, "fullauth_users");
//! let email = users.tables[0].columns.iter().find(|c| c.name == "email").unwrap();
//! assert_eq!(email.ty, ColumnType::Varchar(320));
//! assert!(!email.nullable);
//! ```

use std::fmt;

use super::MigrationRefusal;
use crate::UserIdType;

/// A column type, independent of the dialect. Each backend spells it
/// ([`SqlDialect::column_type`]): `Uuid` is `UUID` on PostgreSQL and
/// `CHAR(32)` on SQLite, `Timestamp` is `TIMESTAMP WITH TIME ZONE` or
/// `DATETIME`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ColumnType {
    /// A UUID.
    Uuid,
    /// `VARCHAR(n)`.
    Varchar(u32),
    /// `TEXT`.
    Text,
    /// `VARCHAR` without a length (a text user key: SQLAlchemy's `String()`).
    UnboundedVarchar,
    /// `BOOLEAN`.
    Boolean,
    /// `INTEGER` (32-bit on PostgreSQL).
    Integer,
    /// `SMALLINT`.
    SmallInt,
    /// A timestamp with time zone (stored as UTC).
    Timestamp,
    /// An array of timestamps (PostgreSQL only).
    TimestampArray,
}

/// A column of a table a migration creates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ColumnSpec {
    /// The column name.
    pub name: &'static str,
    /// Its type.
    pub ty: ColumnType,
    /// True when NULL is allowed.
    pub nullable: bool,
}

impl ColumnSpec {
    /// A `NOT NULL` column.
    pub const fn new(name: &'static str, ty: ColumnType) -> Self {
        ColumnSpec {
            name,
            ty,
            nullable: false,
        }
    }

    /// A nullable column.
    pub const fn nullable(name: &'static str, ty: ColumnType) -> Self {
        ColumnSpec {
            name,
            ty,
            nullable: true,
        }
    }
}

/// A named unique constraint (`uq_oauth_provider_user`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UniqueSpec {
    /// The constraint name.
    pub name: &'static str,
    /// Its columns, in order.
    pub columns: &'static [&'static str],
}

/// A foreign key (always `ON DELETE CASCADE`, as in the reference).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ForeignKeySpec {
    /// The referencing column.
    pub column: &'static str,
    /// The referenced table.
    pub references: &'static str,
    /// The referenced column.
    pub references_column: &'static str,
}

/// An index a migration creates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IndexSpec {
    /// The index name.
    pub name: &'static str,
    /// The table it indexes.
    pub table: &'static str,
    /// The indexed columns, in order.
    pub columns: &'static [&'static str],
    /// True for a unique index.
    pub unique: bool,
}

/// A table a migration creates (its indexes are listed apart, in
/// [`SchemaChange::indexes`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TableSpec {
    /// The table name.
    pub name: &'static str,
    /// The columns, in order.
    pub columns: &'static [ColumnSpec],
    /// The primary-key columns, in order.
    pub primary_key: &'static [&'static str],
    /// Named unique constraints.
    pub uniques: &'static [UniqueSpec],
    /// Foreign keys.
    pub foreign_keys: &'static [ForeignKeySpec],
    /// True for the short-lived tables (`UNLOGGED` on PostgreSQL).
    pub short_lived: bool,
}

impl TableSpec {
    /// A short-lived table of the backend's own (no unique constraint, no
    /// foreign key).
    pub const fn short_lived(
        name: &'static str,
        columns: &'static [ColumnSpec],
        primary_key: &'static [&'static str],
    ) -> Self {
        TableSpec {
            name,
            columns,
            primary_key,
            uniques: &[],
            foreign_keys: &[],
            short_lived: true,
        }
    }

    /// The column called `name`.
    pub fn column(&self, name: &str) -> Option<&'static ColumnSpec> {
        self.columns.iter().find(|c| c.name == name)
    }

    /// `CREATE TABLE` of the spec as `adopt` runs it for a missing table:
    /// one line per column (`column_type` spells the types, `NOT NULL`
    /// unless nullable), the primary key, the named unique constraints and
    /// the foreign keys with `ON DELETE CASCADE`. `qualifier` is put before
    /// every table name (`{s}.` where the backend fills in its schema, or
    /// empty); `unlogged` writes `CREATE UNLOGGED TABLE` (PostgreSQL). The
    /// backend appends its table options, if any.
    ///
    /// ```
    /// use fullauth_api::migrate::schema::{ColumnSpec, ColumnType, TableSpec};
    /// static T: TableSpec = TableSpec::short_lived(
    ///     "t",
    ///     &[ColumnSpec::new("k", ColumnType::Text), ColumnSpec::nullable("v", ColumnType::Integer)],
    ///     &["k"],
    /// );
    /// let sql = T.create_sql("{s}.", |ty| ty.to_string().to_uppercase(), false);
    /// assert_eq!(sql, "CREATE TABLE {s}.t (\n\tk TEXT NOT NULL,\n\tv INTEGER,\n\tPRIMARY KEY (k)\n)");
    /// ```
    pub fn create_sql(
        &self,
        qualifier: &str,
        column_type: impl Fn(ColumnType) -> String,
        unlogged: bool,
    ) -> String {
        let mut parts: Vec<String> = self
            .columns
            .iter()
            .map(|c| {
                format!(
                    "\t{} {}{}",
                    c.name,
                    column_type(c.ty),
                    if c.nullable { "" } else { " NOT NULL" }
                )
            })
            .collect();
        parts.push(format!("\tPRIMARY KEY ({})", self.primary_key.join(", ")));
        for u in self.uniques {
            parts.push(format!(
                "\tCONSTRAINT {} UNIQUE ({})",
                u.name,
                u.columns.join(", ")
            ));
        }
        for fk in self.foreign_keys {
            parts.push(format!(
                "\tFOREIGN KEY({}) REFERENCES {qualifier}{} ({}) ON DELETE CASCADE",
                fk.column, fk.references, fk.references_column
            ));
        }
        format!(
            "CREATE {}TABLE {qualifier}{} (\n{}\n)",
            if unlogged { "UNLOGGED " } else { "" },
            self.name,
            parts.join(",\n")
        )
    }
}

impl IndexSpec {
    /// `CREATE [UNIQUE] INDEX name ON <qualifier>table (columns)`: the
    /// index as `adopt` creates it (`qualifier` as in
    /// [`TableSpec::create_sql`]).
    ///
    /// ```
    /// use fullauth_api::migrate::schema::IndexSpec;
    /// let i = IndexSpec { name: "ix_t_a", table: "t", columns: &["a", "b"], unique: true };
    /// assert_eq!(i.create_sql(""), "CREATE UNIQUE INDEX ix_t_a ON t (a, b)");
    /// ```
    pub fn create_sql(&self, qualifier: &str) -> String {
        format!(
            "CREATE {}INDEX {} ON {qualifier}{} ({})",
            if self.unique { "UNIQUE " } else { "" },
            self.name,
            self.table,
            self.columns.join(", ")
        )
    }
}

/// Everything one migration creates: tables, and indexes (on its own tables
/// or on tables of an earlier migration).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SchemaChange {
    /// The tables it creates.
    pub tables: &'static [TableSpec],
    /// The indexes it creates.
    pub indexes: &'static [IndexSpec],
}

impl SchemaChange {
    /// The names of every table and index it creates.
    pub fn object_names(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.tables
            .iter()
            .map(|t| t.name)
            .chain(self.indexes.iter().map(|i| i.name))
    }
}

/// The column type of a user key of type `t` (`fullauth_users.id` and every
/// `user_id`): [`ColumnType::Uuid`], [`ColumnType::Integer`] or
/// [`ColumnType::UnboundedVarchar`], as SQLAlchemy declares `Mapped[UUID]`,
/// `Mapped[int]` and `Mapped[str]`.
pub fn user_key_column(t: UserIdType) -> ColumnType {
    match t {
        UserIdType::Uuid => ColumnType::Uuid,
        UserIdType::Int => ColumnType::Integer,
        UserIdType::Text => ColumnType::UnboundedVarchar,
    }
}

/// True for the columns that hold a user key: `fullauth_users.id` and every
/// `user_id`.
fn is_user_key(table: &str, column: &str) -> bool {
    column == "user_id" || (table == "fullauth_users" && column == "id")
}

/// `change` for a database keyed by `t`: the user key columns
/// ([`user_key_column`]) retyped, and, as SQLAlchemy orders a subclass's
/// own columns first, every overridden `user_id` moved to the front of its
/// table. The same `change` for [`UserIdType::Uuid`]. Made once per change
/// and type and kept for the life of the process.
///
/// ```
/// use fullauth_api::UserIdType;
/// use fullauth_api::migrate::schema::{key_typed, reference_change, ColumnType};
/// let tokens = key_typed(reference_change("core_0002_refresh_tokens").unwrap(), UserIdType::Int);
/// assert_eq!(tokens.tables[0].columns[0].name, "user_id");
/// assert_eq!(tokens.tables[0].columns[0].ty, ColumnType::Integer);
/// ```
pub fn key_typed(change: &'static SchemaChange, t: UserIdType) -> &'static SchemaChange {
    use std::collections::HashMap;
    use std::sync::{Mutex, OnceLock};
    if t == UserIdType::Uuid {
        return change;
    }
    type Made = HashMap<(usize, UserIdType), &'static SchemaChange>;
    static MADE: OnceLock<Mutex<Made>> = OnceLock::new();
    let key = (change as *const SchemaChange as usize, t);
    let mut made = MADE
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    made.entry(key).or_insert_with(|| {
        let tables: Vec<TableSpec> = change
            .tables
            .iter()
            .map(|table| {
                let mut columns: Vec<ColumnSpec> = table
                    .columns
                    .iter()
                    .map(|c| ColumnSpec {
                        ty: if is_user_key(table.name, c.name) {
                            user_key_column(t)
                        } else {
                            c.ty
                        },
                        ..*c
                    })
                    .collect();
                if let Some(i) = columns.iter().position(|c| c.name == "user_id") {
                    let user_id = columns.remove(i);
                    columns.insert(0, user_id);
                }
                TableSpec {
                    columns: Box::leak(columns.into_boxed_slice()),
                    ..*table
                }
            })
            .collect();
        Box::leak(Box::new(SchemaChange {
            tables: Box::leak(tables.into_boxed_slice()),
            indexes: change.indexes,
        }))
    })
}

/// The SQL of a migration written for UUID user keys, for a database keyed
/// by `t`: in each `CREATE TABLE`, `fullauth_users.id` and every `user_id`
/// column declared `<uuid> NOT NULL` (`uuid` is the backend's spelling, as
/// the file has it) becomes `<users_id> NOT NULL` and `<user_id> NOT NULL`
/// respectively, and `user_id` moves to the first line of its table — the
/// DDL SQLAlchemy emits for models whose `id` and `user_id` are overridden.
/// Unchanged for [`UserIdType::Uuid`].
///
/// ```
/// use fullauth_api::UserIdType;
/// use fullauth_api::migrate::schema::key_typed_sql;
/// let sql = "CREATE TABLE t (\n\tid CHAR(32) NOT NULL,\n\tuser_id CHAR(32) NOT NULL,\n\tPRIMARY KEY (id)\n);";
/// assert_eq!(
///     key_typed_sql(sql, UserIdType::Int, "CHAR(32)", "INTEGER", "INTEGER"),
///     "CREATE TABLE t (\n\tuser_id INTEGER NOT NULL,\n\tid CHAR(32) NOT NULL,\n\tPRIMARY KEY (id)\n);",
/// );
/// ```
pub fn key_typed_sql(
    sql: &str,
    t: UserIdType,
    uuid: &str,
    users_id: &str,
    user_id: &str,
) -> String {
    if t == UserIdType::Uuid {
        return sql.to_string();
    }
    let users_id_line = format!("\tid {uuid} NOT NULL,");
    let user_id_line = format!("\tuser_id {uuid} NOT NULL,");
    let mut out: Vec<String> = Vec::new();
    // Where the current CREATE TABLE's first column goes, and whether it is
    // fullauth_users.
    let mut table: Option<(usize, bool)> = None;
    for line in sql.split('\n') {
        if line.starts_with("CREATE ") && line.contains(" TABLE ") && line.ends_with('(') {
            let users = line
                .trim_end_matches('(')
                .trim_end()
                .ends_with("fullauth_users");
            out.push(line.to_string());
            table = Some((out.len(), users));
            continue;
        }
        if line.starts_with(')') {
            table = None;
        }
        match table {
            Some((_, true)) if line == users_id_line => {
                out.push(format!("\tid {users_id} NOT NULL,"));
            }
            Some((first, _)) if line == user_id_line => {
                out.insert(first, format!("\tuser_id {user_id} NOT NULL,"));
            }
            _ => out.push(line.to_string()),
        }
    }
    out.join("\n")
}

/// How a backend spells the types and what it can change in place.
pub trait SqlDialect {
    /// The canonical spelling of `ty` in this dialect (as [`canonical_type`]
    /// returns it for the catalog's spelling).
    fn column_type(&self, ty: ColumnType) -> String;
}

/// A column as the database catalog reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveColumn {
    /// The column name.
    pub name: String,
    /// The type, canonical ([`canonical_type`]).
    pub sql_type: String,
    /// True when NULL is allowed.
    pub nullable: bool,
    /// True when the column has a default.
    pub has_default: bool,
}

/// An index (or the index behind a unique or primary-key constraint) as
/// the database catalog reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveIndex {
    /// Its name.
    pub name: String,
    /// The indexed columns, in order.
    pub columns: Vec<String>,
    /// True for a unique index.
    pub unique: bool,
    /// True when it backs the primary key.
    pub primary: bool,
}

/// A foreign key as the database catalog reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveForeignKey {
    /// The constraint name (`None` on SQLite, which does not keep it).
    pub name: Option<String>,
    /// The referencing columns.
    pub columns: Vec<String>,
    /// The referenced table.
    pub references: String,
    /// True for `ON DELETE CASCADE`.
    pub on_delete_cascade: bool,
}

/// A table as the database catalog reports it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LiveTable {
    /// The table name.
    pub name: String,
    /// Its columns, in order.
    pub columns: Vec<LiveColumn>,
    /// Its primary-key columns, in order.
    pub primary_key: Vec<String>,
    /// Its indexes, including those behind constraints.
    pub indexes: Vec<LiveIndex>,
    /// Its foreign keys.
    pub foreign_keys: Vec<LiveForeignKey>,
}

impl LiveTable {
    /// The column called `name`.
    pub fn column(&self, name: &str) -> Option<&LiveColumn> {
        self.columns.iter().find(|c| c.name == name)
    }
}

/// One change `adopt` makes to an existing table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fix {
    /// Add a missing nullable column.
    AddColumn {
        /// The table.
        table: &'static TableSpec,
        /// The column.
        column: &'static ColumnSpec,
    },
    /// Create a missing index.
    CreateIndex(&'static IndexSpec),
    /// Add a missing unique constraint (a unique index of the same name on
    /// SQLite, which cannot add constraints).
    AddUnique {
        /// The table.
        table: &'static TableSpec,
        /// The constraint.
        unique: &'static UniqueSpec,
    },
    /// Add a missing foreign key, or replace one without `ON DELETE CASCADE`
    /// (`existing` names the constraint to drop, when the catalog knows it).
    ForeignKey {
        /// The table.
        table: &'static TableSpec,
        /// The foreign key as it should be.
        fk: &'static ForeignKeySpec,
        /// True when a foreign key on the column exists without the cascade.
        replace: bool,
        /// The name of the constraint to replace, when known.
        existing: Option<String>,
    },
}

impl Fix {
    /// The note `adopt` reports for this fix (the same on every backend).
    pub fn note(&self) -> String {
        match self {
            Fix::AddColumn { table, column } => {
                let since = if table.name == "fullauth_refresh_tokens"
                    && matches!(column.name, "user_agent" | "ip_address")
                {
                    " (fastapi-fullauth 0.14 added it)"
                } else {
                    ""
                };
                format!(
                    "added the missing nullable column {}.{}{since}",
                    table.name, column.name
                )
            }
            Fix::CreateIndex(i) => {
                format!("created the missing index {} on {}", i.name, i.table)
            }
            Fix::AddUnique { table, unique } => format!(
                "added the missing unique constraint {} on {} ({})",
                unique.name,
                table.name,
                unique.columns.join(", ")
            ),
            Fix::ForeignKey {
                table,
                fk,
                replace: true,
                ..
            } => format!(
                "recreated the foreign key {}.{} with ON DELETE CASCADE",
                table.name, fk.column
            ),
            Fix::ForeignKey { table, fk, .. } => format!(
                "added the missing foreign key {}.{} -> {}",
                table.name, fk.column, fk.references
            ),
        }
    }
}

/// What [`diff_table`] found: the fixes to make and the differences kept.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TableDiff {
    /// Changes to make, in order.
    pub fixes: Vec<Fix>,
    /// Differences that are kept, for the report.
    pub notes: Vec<String>,
}

/// The canonical spelling of a type the catalog reports: upper case, single
/// spaces, and PostgreSQL's long names shortened the way the reference's DDL
/// writes them (`character varying(100)` → `VARCHAR(100)`, `timestamp with
/// time zone` → `TIMESTAMP WITH TIME ZONE`, `integer` → `INTEGER`).
///
/// ```
/// use fullauth_api::migrate::schema::canonical_type;
/// assert_eq!(canonical_type("character varying(100)"), "VARCHAR(100)");
/// assert_eq!(canonical_type("timestamp(6) with time zone"), "TIMESTAMP WITH TIME ZONE");
/// assert_eq!(canonical_type("varchar ( 20 )"), "VARCHAR(20)");
/// assert_eq!(canonical_type("timestamp with time zone[]"), "TIMESTAMP WITH TIME ZONE[]");
/// ```
pub fn canonical_type(raw: &str) -> String {
    let s = raw
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_ascii_uppercase()
        .replace(" (", "(")
        .replace("( ", "(")
        .replace(" )", ")");
    if let Some(element) = s.strip_suffix("[]") {
        return format!("{}[]", canonical_type(element));
    }
    let s = if let Some(rest) = s.strip_prefix("CHARACTER VARYING") {
        format!("VARCHAR{rest}")
    } else if let Some(rest) = s.strip_prefix("CHARACTER(") {
        format!("CHAR({rest}")
    } else {
        s
    };
    match s.as_str() {
        "BOOL" => "BOOLEAN".into(),
        "INT" | "INT4" => "INTEGER".into(),
        "INT2" => "SMALLINT".into(),
        "INT8" => "BIGINT".into(),
        "TIMESTAMPTZ" => "TIMESTAMP WITH TIME ZONE".into(),
        _ if s.starts_with("TIMESTAMP(") && s.ends_with(") WITH TIME ZONE") => {
            "TIMESTAMP WITH TIME ZONE".into()
        }
        _ => s,
    }
}

fn is_integer_type(canonical: &str) -> bool {
    matches!(
        canonical,
        "INTEGER" | "BIGINT" | "SMALLINT" | "SERIAL" | "BIGSERIAL"
    )
}

/// Describes a live column for a note: `VARCHAR(100) NOT NULL with a default`.
fn describe(c: &LiveColumn) -> String {
    let mut s = c.sql_type.clone();
    if !c.nullable {
        s.push_str(" NOT NULL");
    }
    if c.has_default {
        s.push_str(" with a default");
    }
    s
}

/// Compares a live table with the table a migration creates.
///
/// * a missing nullable column → [`Fix::AddColumn`]; a missing NOT NULL one →
///   [`MigrationRefusal::MissingColumn`] (its values cannot be invented);
/// * a column of another type → a note, or
///   [`MigrationRefusal::Incompatible`] when a UUID column holds integers
///   (a database keyed by integer where the spec expects UUID user keys:
///   adopt it with the specs of its key type, [`key_typed`]);
/// * different nullability → a note;
/// * a column the schema does not have → a note (an application column);
/// * a missing unique constraint → [`Fix::AddUnique`], unless a unique index
///   on the same columns exists;
/// * a missing foreign key, or one without `ON DELETE CASCADE` →
///   [`Fix::ForeignKey`];
/// * a different primary key → a note.
///
/// # Errors
/// The refusals above.
pub fn diff_table(
    spec: &'static TableSpec,
    live: &LiveTable,
    dialect: &dyn SqlDialect,
) -> Result<TableDiff, MigrationRefusal> {
    let mut diff = TableDiff::default();
    for col in spec.columns {
        let want = dialect.column_type(col.ty);
        match live.column(col.name) {
            None if col.nullable => diff.fixes.push(Fix::AddColumn {
                table: spec,
                column: col,
            }),
            None => {
                return Err(MigrationRefusal::MissingColumn {
                    table: spec.name.to_string(),
                    column: col.name.to_string(),
                });
            }
            Some(have) => {
                if have.sql_type != want {
                    if col.ty == ColumnType::Uuid && is_integer_type(&have.sql_type) {
                        return Err(MigrationRefusal::Incompatible {
                            table: spec.name.to_string(),
                            column: col.name.to_string(),
                            found: have.sql_type.clone(),
                            expected: want,
                        });
                    }
                    diff.notes.push(format!(
                        "kept {}.{} as {} (this schema says {want})",
                        spec.name, col.name, have.sql_type
                    ));
                }
                if have.nullable != col.nullable {
                    diff.notes.push(format!(
                        "kept {}.{} {} (this schema says {})",
                        spec.name,
                        col.name,
                        if have.nullable {
                            "nullable"
                        } else {
                            "NOT NULL"
                        },
                        if col.nullable { "nullable" } else { "NOT NULL" },
                    ));
                }
            }
        }
    }
    for have in &live.columns {
        if spec.column(&have.name).is_some() {
            continue;
        }
        let mut note = format!(
            "kept the application column {}.{} ({})",
            spec.name,
            have.name,
            describe(have)
        );
        if !have.nullable && !have.has_default {
            note.push_str(": NOT NULL without a default, so creating a row needs a value for it");
        }
        diff.notes.push(note);
    }
    let want_pk: Vec<String> = spec.primary_key.iter().map(|s| s.to_string()).collect();
    if !live.primary_key.is_empty() && sorted(&live.primary_key) != sorted(&want_pk) {
        diff.notes.push(format!(
            "kept the primary key of {} on ({}) (this schema says ({}))",
            spec.name,
            live.primary_key.join(", "),
            want_pk.join(", ")
        ));
    }
    for unique in spec.uniques {
        let cols: Vec<String> = unique.columns.iter().map(|s| s.to_string()).collect();
        let covered = live
            .indexes
            .iter()
            .any(|i| i.unique && sorted(&i.columns) == sorted(&cols));
        if !covered {
            diff.fixes.push(Fix::AddUnique {
                table: spec,
                unique,
            });
        }
    }
    for fk in spec.foreign_keys {
        let found = live.foreign_keys.iter().find(|l| {
            l.columns.len() == 1 && l.columns[0] == fk.column && l.references == fk.references
        });
        match found {
            Some(l) if l.on_delete_cascade => {}
            Some(l) => diff.fixes.push(Fix::ForeignKey {
                table: spec,
                fk,
                replace: true,
                existing: l.name.clone(),
            }),
            None => diff.fixes.push(Fix::ForeignKey {
                table: spec,
                fk,
                replace: false,
                existing: None,
            }),
        }
    }
    Ok(diff)
}

/// Compares the live indexes of a table with an index a migration creates:
/// `Ok(None)` when it is there, `Ok(Some(note))` when an equivalent index of
/// another name (or the named one on other columns) is kept,
/// `Err(fix)` when it must be created.
///
/// # Errors
/// [`Fix::CreateIndex`] when neither the index nor an equivalent exists.
pub fn check_index(index: &'static IndexSpec, live: &LiveTable) -> Result<Option<String>, Fix> {
    let want: Vec<String> = index.columns.iter().map(|s| s.to_string()).collect();
    if let Some(have) = live.indexes.iter().find(|i| i.name == index.name) {
        if have.columns != want || have.unique != index.unique {
            return Ok(Some(format!(
                "kept the index {} on {} as {}({}) (this schema says {}({}))",
                index.name,
                index.table,
                if have.unique { "UNIQUE " } else { "" },
                have.columns.join(", "),
                if index.unique { "UNIQUE " } else { "" },
                want.join(", "),
            )));
        }
        return Ok(None);
    }
    if let Some(other) = live
        .indexes
        .iter()
        .find(|i| !i.primary && i.columns == want && i.unique == index.unique)
    {
        return Ok(Some(format!(
            "kept the index {} on {} ({}) in place of {}",
            other.name,
            index.table,
            want.join(", "),
            index.name
        )));
    }
    Err(Fix::CreateIndex(index))
}

fn sorted(v: &[String]) -> Vec<String> {
    let mut v = v.to_vec();
    v.sort();
    v
}

impl fmt::Display for ColumnType {
    /// A dialect-neutral name (`uuid`, `varchar(320)`, `timestamp`, …).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ColumnType::Uuid => f.write_str("uuid"),
            ColumnType::Varchar(n) => write!(f, "varchar({n})"),
            ColumnType::Text => f.write_str("text"),
            ColumnType::UnboundedVarchar => f.write_str("varchar"),
            ColumnType::Boolean => f.write_str("boolean"),
            ColumnType::Integer => f.write_str("integer"),
            ColumnType::SmallInt => f.write_str("smallint"),
            ColumnType::Timestamp => f.write_str("timestamp"),
            ColumnType::TimestampArray => f.write_str("timestamp[]"),
        }
    }
}

macro_rules! fk_users {
    () => {
        ForeignKeySpec {
            column: "user_id",
            references: "fullauth_users",
            references_column: "id",
        }
    };
}

use ColumnType::{Boolean, Integer, Text, Timestamp, Uuid, Varchar};

static USERS: [TableSpec; 1] = [TableSpec {
    name: "fullauth_users",
    columns: &[
        ColumnSpec::new("id", Uuid),
        ColumnSpec::new("email", Varchar(320)),
        ColumnSpec::nullable("hashed_password", Text),
        ColumnSpec::new("is_active", Boolean),
        ColumnSpec::new("is_verified", Boolean),
        ColumnSpec::new("is_superuser", Boolean),
        ColumnSpec::new("created_at", Timestamp),
    ],
    primary_key: &["id"],
    uniques: &[],
    foreign_keys: &[],
    short_lived: false,
}];

static REFRESH_TOKENS: [TableSpec; 1] = [TableSpec {
    name: "fullauth_refresh_tokens",
    columns: &[
        ColumnSpec::new("id", Uuid),
        ColumnSpec::new("token", Varchar(512)),
        ColumnSpec::new("user_id", Uuid),
        ColumnSpec::new("family_id", Varchar(36)),
        ColumnSpec::new("expires_at", Timestamp),
        ColumnSpec::new("revoked", Boolean),
        ColumnSpec::nullable("user_agent", Varchar(512)),
        ColumnSpec::nullable("ip_address", Varchar(45)),
        ColumnSpec::new("created_at", Timestamp),
    ],
    primary_key: &["id"],
    uniques: &[],
    foreign_keys: &[fk_users!()],
    short_lived: false,
}];

static ROLES: [TableSpec; 2] = [
    TableSpec {
        name: "fullauth_roles",
        columns: &[
            ColumnSpec::new("id", Uuid),
            ColumnSpec::new("name", Varchar(100)),
        ],
        primary_key: &["id"],
        uniques: &[],
        foreign_keys: &[],
        short_lived: false,
    },
    TableSpec {
        name: "fullauth_user_roles",
        columns: &[
            ColumnSpec::new("user_id", Uuid),
            ColumnSpec::new("role_id", Uuid),
        ],
        primary_key: &["user_id", "role_id"],
        uniques: &[],
        foreign_keys: &[
            fk_users!(),
            ForeignKeySpec {
                column: "role_id",
                references: "fullauth_roles",
                references_column: "id",
            },
        ],
        short_lived: false,
    },
];

static PERMISSIONS: [TableSpec; 2] = [
    TableSpec {
        name: "fullauth_permissions",
        columns: &[
            ColumnSpec::new("id", Uuid),
            ColumnSpec::new("name", Varchar(200)),
            ColumnSpec::new("description", Varchar(500)),
        ],
        primary_key: &["id"],
        uniques: &[],
        foreign_keys: &[],
        short_lived: false,
    },
    TableSpec {
        name: "fullauth_role_permissions",
        columns: &[
            ColumnSpec::new("role_id", Uuid),
            ColumnSpec::new("permission_id", Uuid),
        ],
        primary_key: &["role_id", "permission_id"],
        uniques: &[],
        foreign_keys: &[
            ForeignKeySpec {
                column: "role_id",
                references: "fullauth_roles",
                references_column: "id",
            },
            ForeignKeySpec {
                column: "permission_id",
                references: "fullauth_permissions",
                references_column: "id",
            },
        ],
        short_lived: false,
    },
];

static OAUTH: [TableSpec; 1] = [TableSpec {
    name: "fullauth_oauth_accounts",
    columns: &[
        ColumnSpec::new("id", Uuid),
        ColumnSpec::new("provider", Varchar(50)),
        ColumnSpec::new("provider_user_id", Varchar(320)),
        ColumnSpec::new("user_id", Uuid),
        ColumnSpec::nullable("provider_email", Varchar(320)),
        ColumnSpec::nullable("access_token", Text),
        ColumnSpec::nullable("refresh_token", Text),
        ColumnSpec::nullable("expires_at", Timestamp),
        ColumnSpec::new("created_at", Timestamp),
    ],
    primary_key: &["id"],
    uniques: &[UniqueSpec {
        name: "uq_oauth_provider_user",
        columns: &["provider", "provider_user_id"],
    }],
    foreign_keys: &[fk_users!()],
    short_lived: false,
}];

static PASSKEYS: [TableSpec; 1] = [TableSpec {
    name: "fullauth_passkeys",
    columns: &[
        ColumnSpec::new("id", Uuid),
        ColumnSpec::new("user_id", Uuid),
        ColumnSpec::new("credential_id", Varchar(512)),
        ColumnSpec::new("public_key", Text),
        ColumnSpec::new("sign_count", Integer),
        ColumnSpec::new("device_name", Varchar(200)),
        ColumnSpec::new("transports", Varchar(200)),
        ColumnSpec::new("backed_up", Boolean),
        ColumnSpec::new("created_at", Timestamp),
        ColumnSpec::nullable("last_used_at", Timestamp),
    ],
    primary_key: &["id"],
    uniques: &[],
    foreign_keys: &[fk_users!()],
    short_lived: false,
}];

static MFA: [TableSpec; 1] = [TableSpec {
    name: "fullauth_mfa",
    columns: &[
        ColumnSpec::new("id", Uuid),
        ColumnSpec::new("user_id", Uuid),
        ColumnSpec::new("secret", Varchar(64)),
        ColumnSpec::nullable("confirmed_at", Timestamp),
        ColumnSpec::new("last_counter", Integer),
        ColumnSpec::new("recovery_codes", Text),
        ColumnSpec::new("created_at", Timestamp),
    ],
    primary_key: &["id"],
    uniques: &[],
    foreign_keys: &[fk_users!()],
    short_lived: false,
}];

macro_rules! index {
    ($name:literal on $table:literal ($($col:literal),+)) => {
        IndexSpec { name: $name, table: $table, columns: &[$($col),+], unique: false }
    };
    (unique $name:literal on $table:literal ($($col:literal),+)) => {
        IndexSpec { name: $name, table: $table, columns: &[$($col),+], unique: true }
    };
}

static REFERENCE: [(&str, SchemaChange); 9] = [
    (
        "core_0001_users",
        SchemaChange {
            tables: &USERS,
            indexes: &[index!(unique "ix_fullauth_users_email" on "fullauth_users" ("email"))],
        },
    ),
    (
        "core_0002_refresh_tokens",
        SchemaChange {
            tables: &REFRESH_TOKENS,
            indexes: &[
                index!("ix_fullauth_refresh_tokens_family_id" on "fullauth_refresh_tokens" ("family_id")),
                index!(unique "ix_fullauth_refresh_tokens_token" on "fullauth_refresh_tokens" ("token")),
            ],
        },
    ),
    (
        "core_0003_refresh_token_indexes",
        SchemaChange {
            tables: &[],
            indexes: &[
                index!("ix_fullauth_refresh_tokens_expires_at" on "fullauth_refresh_tokens" ("expires_at")),
                index!("ix_fullauth_refresh_tokens_user_id" on "fullauth_refresh_tokens" ("user_id")),
            ],
        },
    ),
    (
        "roles_0001_roles",
        SchemaChange {
            tables: &ROLES,
            indexes: &[index!(unique "ix_fullauth_roles_name" on "fullauth_roles" ("name"))],
        },
    ),
    (
        "permissions_0001_permissions",
        SchemaChange {
            tables: &PERMISSIONS,
            indexes: &[
                index!(unique "ix_fullauth_permissions_name" on "fullauth_permissions" ("name")),
            ],
        },
    ),
    (
        "oauth_0001_accounts",
        SchemaChange {
            tables: &OAUTH,
            indexes: &[],
        },
    ),
    (
        "oauth_0002_user_index",
        SchemaChange {
            tables: &[],
            indexes: &[
                index!("ix_fullauth_oauth_accounts_user_id" on "fullauth_oauth_accounts" ("user_id")),
            ],
        },
    ),
    (
        "passkeys_0001_passkeys",
        SchemaChange {
            tables: &PASSKEYS,
            indexes: &[
                index!(unique "ix_fullauth_passkeys_credential_id" on "fullauth_passkeys" ("credential_id")),
                index!("ix_fullauth_passkeys_user_id" on "fullauth_passkeys" ("user_id")),
            ],
        },
    ),
    (
        "mfa_0001_factors",
        SchemaChange {
            tables: &MFA,
            indexes: &[index!(unique "ix_fullauth_mfa_user_id" on "fullauth_mfa" ("user_id"))],
        },
    ),
];

/// One backend's descriptions of its short-lived tables, one per
/// short-lived migration of the catalogue. With the reference's durable
/// tables ([`reference_change`]) they describe every migration
/// ([`change`](Self::change)).
#[derive(Clone, Copy, Debug)]
pub struct ShortLivedTables {
    /// What `blacklist_0001_blacklist` creates.
    pub blacklist: &'static SchemaChange,
    /// What `lockout_0001_lockout` creates.
    pub lockout: &'static SchemaChange,
    /// What `rate_limit_0001_windows` creates.
    pub rate_limit: &'static SchemaChange,
    /// What `challenges_0001_challenges` creates.
    pub challenges: &'static SchemaChange,
}

impl ShortLivedTables {
    /// What migration `id` creates on the backend: its own tables for the
    /// short-lived migrations, the reference's for the durable ones; `None`
    /// for an unknown id.
    pub fn change(&self, id: &str) -> Option<&'static SchemaChange> {
        match id {
            "blacklist_0001_blacklist" => Some(self.blacklist),
            "lockout_0001_lockout" => Some(self.lockout),
            "rate_limit_0001_windows" => Some(self.rate_limit),
            "challenges_0001_challenges" => Some(self.challenges),
            _ => reference_change(id),
        }
    }
}

/// The short-lived blacklist of the backends that key their short-lived
/// tables by a `state_key VARCHAR(512)` (SQLite, MariaDB):
/// `fullauth_blacklist (state_key, expires_at)` and its `expires_at` index.
pub static STATE_KEY_BLACKLIST: SchemaChange = SchemaChange {
    tables: &[TableSpec::short_lived(
        "fullauth_blacklist",
        &[
            ColumnSpec::new("state_key", Varchar(512)),
            ColumnSpec::new("expires_at", Timestamp),
        ],
        &["state_key"],
    )],
    indexes: &[index!("ix_fullauth_blacklist_expires_at" on "fullauth_blacklist" ("expires_at"))],
};

/// The one-time challenges of the same backends as
/// [`STATE_KEY_BLACKLIST`]: `fullauth_challenges (state_key, value,
/// expires_at)` and its `expires_at` index.
pub static STATE_KEY_CHALLENGES: SchemaChange = SchemaChange {
    tables: &[TableSpec::short_lived(
        "fullauth_challenges",
        &[
            ColumnSpec::new("state_key", Varchar(512)),
            ColumnSpec::new("value", Text),
            ColumnSpec::new("expires_at", Timestamp),
        ],
        &["state_key"],
    )],
    indexes: &[index!("ix_fullauth_challenges_expires_at" on "fullauth_challenges" ("expires_at"))],
};

/// What the durable migration `id` creates: the reference's tables and
/// indexes, the same on every backend. `None` for a short-lived migration
/// (each backend describes its own) or an unknown id.
pub fn reference_change(id: &str) -> Option<&'static SchemaChange> {
    REFERENCE.iter().find(|(i, _)| *i == id).map(|(_, c)| c)
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Pg;
    impl SqlDialect for Pg {
        fn column_type(&self, ty: ColumnType) -> String {
            match ty {
                ColumnType::Uuid => "UUID".into(),
                ColumnType::Varchar(n) => format!("VARCHAR({n})"),
                ColumnType::Text => "TEXT".into(),
                ColumnType::UnboundedVarchar => "VARCHAR".into(),
                ColumnType::Boolean => "BOOLEAN".into(),
                ColumnType::Integer => "INTEGER".into(),
                ColumnType::SmallInt => "SMALLINT".into(),
                ColumnType::Timestamp => "TIMESTAMP WITH TIME ZONE".into(),
                ColumnType::TimestampArray => "TIMESTAMP WITH TIME ZONE[]".into(),
            }
        }
    }

    fn live_of(spec: &TableSpec) -> LiveTable {
        LiveTable {
            name: spec.name.into(),
            columns: spec
                .columns
                .iter()
                .map(|c| LiveColumn {
                    name: c.name.into(),
                    sql_type: Pg.column_type(c.ty),
                    nullable: c.nullable,
                    has_default: false,
                })
                .collect(),
            primary_key: spec.primary_key.iter().map(|s| s.to_string()).collect(),
            indexes: spec
                .uniques
                .iter()
                .map(|u| LiveIndex {
                    name: u.name.into(),
                    columns: u.columns.iter().map(|s| s.to_string()).collect(),
                    unique: true,
                    primary: false,
                })
                .collect(),
            foreign_keys: spec
                .foreign_keys
                .iter()
                .map(|f| LiveForeignKey {
                    name: None,
                    columns: vec![f.column.into()],
                    references: f.references.into(),
                    on_delete_cascade: true,
                })
                .collect(),
        }
    }

    #[test]
    fn an_exact_table_has_no_fix_and_no_note() {
        for (_, change) in &REFERENCE {
            for t in change.tables {
                let d = diff_table(t, &live_of(t), &Pg).unwrap();
                assert_eq!(d, TableDiff::default(), "{}", t.name);
            }
        }
    }

    #[test]
    fn differences_become_fixes_notes_or_refusals() {
        let spec = &OAUTH[0];
        let mut live = live_of(spec);
        live.indexes.clear();
        live.foreign_keys[0].on_delete_cascade = false;
        live.columns.retain(|c| c.name != "provider_email");
        live.columns.push(LiveColumn {
            name: "display_name".into(),
            sql_type: "VARCHAR(100)".into(),
            nullable: false,
            has_default: false,
        });
        let d = diff_table(spec, &live, &Pg).unwrap();
        let notes: Vec<String> = d.fixes.iter().map(Fix::note).collect();
        assert_eq!(
            notes,
            [
                "added the missing nullable column fullauth_oauth_accounts.provider_email",
                "added the missing unique constraint uq_oauth_provider_user on \
                 fullauth_oauth_accounts (provider, provider_user_id)",
                "recreated the foreign key fullauth_oauth_accounts.user_id with ON DELETE CASCADE",
            ]
        );
        assert_eq!(
            d.notes,
            [
                "kept the application column fullauth_oauth_accounts.display_name \
              (VARCHAR(100) NOT NULL): NOT NULL without a default, so creating a row needs a \
              value for it"
            ]
        );

        let mut live = live_of(spec);
        live.columns.retain(|c| c.name != "provider");
        assert!(matches!(
            diff_table(spec, &live, &Pg),
            Err(MigrationRefusal::MissingColumn { .. })
        ));
        let mut live = live_of(&USERS[0]);
        live.columns[0].sql_type = "INTEGER".into();
        assert!(matches!(
            diff_table(&USERS[0], &live, &Pg),
            Err(MigrationRefusal::Incompatible { .. })
        ));
    }

    #[test]
    fn indexes_are_found_by_name_or_equivalent() {
        let ix = &reference_change("core_0001_users").unwrap().indexes[0];
        let mut live = live_of(&USERS[0]);
        assert_eq!(check_index(ix, &live), Err(Fix::CreateIndex(ix)));
        live.indexes.push(LiveIndex {
            name: "users_email_key".into(),
            columns: vec!["email".into()],
            unique: true,
            primary: false,
        });
        assert!(
            check_index(ix, &live)
                .unwrap()
                .unwrap()
                .contains("in place of")
        );
        live.indexes[0].name = ix.name.into();
        assert_eq!(check_index(ix, &live), Ok(None));
    }
}
