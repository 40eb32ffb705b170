//! Which database a URL names, and the operations the command needs from
//! each backend (SQLite, PostgreSQL, MariaDB).
//!
//! Migrations go through one code path: [`Db::migrator`] hands out the
//! backend's migrator as a [`SqlMigrator`] trait object, and `migrate`,
//! `status` and `adopt` use only the trait; `export-sql` uses
//! [`Exporter`], which needs no database.

use std::path::PathBuf;
use std::sync::Arc;

use fullauth_api::migrate::{ExportedMigration, FeatureState, SqlMigrator};
use fullauth_api::{
    Feature, Features, Store, StoreError, StoreInfo as _, Timestamp, UserId, UserIdType,
};
use fullauth_mysql::{MySqlMigrations, MySqlStore};
use fullauth_postgres::{PgMigrations, PgStore};
use fullauth_sqlite::{SqliteMigrations, SqliteStore};
use serde::Serialize;

use crate::error::{CliError, adopt_hint, exit, migrate_hint};

/// The database a `--database-url` names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Target {
    /// A SQLite file.
    Sqlite(PathBuf),
    /// A PostgreSQL server: the URL as given.
    Postgres(String),
    /// A MariaDB (MySQL protocol) server: the URL, with `mariadb://`
    /// spelled `mysql://`.
    MySql(String),
}

impl Target {
    /// Parses `sqlite://PATH`, `sqlite:PATH`, `sqlite:///ABSOLUTE/PATH`,
    /// `postgres://…`, `postgresql://…`, `mysql://…` and `mariadb://…`.
    ///
    /// # Errors
    /// A usage error for any other scheme or an empty SQLite path.
    pub fn parse(url: &str) -> Result<Target, CliError> {
        let url = url.trim();
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            return Ok(Target::Postgres(url.to_string()));
        }
        if url.starts_with("mysql://") {
            return Ok(Target::MySql(url.to_string()));
        }
        if let Some(rest) = url.strip_prefix("mariadb://") {
            return Ok(Target::MySql(format!("mysql://{rest}")));
        }
        if let Some(rest) = url.strip_prefix("sqlite:") {
            let rest = rest.strip_prefix("//").unwrap_or(rest);
            // Drop URL options such as `?mode=rwc`: the store sets its own.
            let path = rest.split('?').next().unwrap_or_default();
            if path.is_empty() || path == ":memory:" {
                return Err(CliError::usage(format!("`{url}` names no database file"))
                    .hint("give a file, e.g. --database-url sqlite://fullauth.db"));
            }
            return Ok(Target::Sqlite(PathBuf::from(path)));
        }
        Err(
            CliError::usage(format!("unsupported database URL `{}`", redact(url))).hint(
                "use sqlite://PATH for a SQLite file, postgres://USER@HOST:PORT/DB for \
                 PostgreSQL or mysql://USER@HOST:PORT/DATABASE for MariaDB",
            ),
        )
    }

    /// Where the tables of this target live, for humans: the SQLite file,
    /// the PostgreSQL schema, or the MariaDB database.
    pub fn location(&self, schema: Option<&str>) -> String {
        match self {
            Target::Sqlite(path) => path.display().to_string(),
            Target::Postgres(_) => format!("schema {}", schema.unwrap_or(DEFAULT_PG_SCHEMA)),
            Target::MySql(url) => match schema.map(str::to_string).or_else(|| url_database(url)) {
                Some(d) => format!("database {d}"),
                None => "database (none named)".into(),
            },
        }
    }
}

/// The PostgreSQL schema when `--schema` is not given.
pub const DEFAULT_PG_SCHEMA: &str = "public";

/// The database a `mysql://` URL names (percent-decoded), if any.
pub fn url_database(url: &str) -> Option<String> {
    use std::str::FromStr as _;
    let options = fullauth_mysql::sqlx::mysql::MySqlConnectOptions::from_str(url).ok()?;
    options
        .get_database()
        .filter(|d| !d.is_empty())
        .map(str::to_string)
}

/// A store of the CLI's on `database` through `url`.
async fn connect_mysql(
    url: &str,
    database: &str,
    features: Features,
    key: Option<UserIdType>,
) -> Result<MySqlStore, StoreError> {
    let mut builder = MySqlStore::builder();
    if let Some(key) = key {
        builder = builder.user_id_type(key);
    }
    builder
        .database(database)
        .features(features)
        .max_connections(4)
        .connect(url)
        .await
}

/// True when the server refused the connection because the URL's database
/// does not exist (MariaDB error 1049).
fn is_unknown_database(e: &StoreError) -> bool {
    use fullauth_mysql::sqlx;
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        if let Some(sqlx::Error::Database(db)) = s.downcast_ref::<sqlx::Error>() {
            if let Some(my) = db.try_downcast_ref::<sqlx::mysql::MySqlDatabaseError>() {
                return my.number() == 1049;
            }
        }
        source = s.source();
    }
    false
}

/// `url` (a `mysql://` URL) without its database, its options kept.
fn without_database(url: &str) -> String {
    let (scheme, rest) = url.split_once("://").unwrap_or(("mysql", url));
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(end);
    let query = tail.find('?').map_or("", |i| &tail[i..]);
    format!("{scheme}://{authority}/{query}")
}

/// The MariaDB database of the tables: `--schema` when given, else the
/// URL's.
///
/// # Errors
/// A usage error when neither names one.
fn mysql_database(url: &str, schema: Option<&str>) -> Result<String, CliError> {
    match schema.map(str::to_string).or_else(|| url_database(url)) {
        Some(d) => Ok(d),
        None => Err(
            CliError::usage(format!("`{}` names no database", redact(url))).hint(
                "name the database in the URL (mysql://USER@HOST:PORT/DATABASE) or with --schema \
             DATABASE",
            ),
        ),
    }
}

/// The URL with any password replaced by `***`, for messages.
pub fn redact(url: &str) -> String {
    if let Some((scheme, rest)) = url.split_once("://") {
        // The authority ends at the first `/`, `?` or `#`; a password may
        // itself hold an `@`, so the user info ends at the authority's last one.
        let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
        let (authority, tail) = rest.split_at(end);
        if let Some((auth, host)) = authority.rsplit_once('@') {
            if let Some((user, _)) = auth.split_once(':') {
                return format!("{scheme}://{user}:***@{host}{tail}");
            }
        }
    }
    url.to_string()
}

/// An open database, on either backend.
#[derive(Clone, Debug)]
pub enum Db {
    /// A SQLite file.
    Sqlite(SqliteStore),
    /// A PostgreSQL schema.
    Postgres(PgStore),
    /// A MariaDB database.
    MySql(MySqlStore),
}

/// One user as `user list` shows it.
#[derive(Clone, Debug, Serialize)]
pub struct ListedUser {
    /// The id (a JSON number for an integer key).
    pub id: UserId,
    /// The email.
    pub email: String,
    /// Whether the account may log in.
    pub is_active: bool,
    /// Whether the email was verified.
    pub is_verified: bool,
    /// Whether the user is a superuser.
    pub is_superuser: bool,
    /// When the user was created.
    pub created_at: Timestamp,
}

fn quote_ident(s: &str) -> String {
    format!("\"{}\"", s.replace('"', "\"\""))
}

impl Db {
    /// Opens the database for `features`. A SQLite file that does not exist
    /// is created only when `create` is true. `schema` is `--schema`: the
    /// PostgreSQL schema (default `public`), or the MariaDB database
    /// (default: the URL's); SQLite ignores it.
    ///
    /// # Errors
    /// Usage errors for a bad URL, a schema error for a missing file,
    /// unavailable when the server cannot be reached.
    pub async fn open(
        target: &Target,
        schema: Option<&str>,
        key: Option<UserIdType>,
        features: Features,
        create: bool,
    ) -> Result<Db, CliError> {
        match target {
            Target::Sqlite(path) => {
                if !create && !path.exists() {
                    return Err(CliError::new(
                        exit::SCHEMA,
                        format!("no database file at {}", path.display()),
                    )
                    .hint(
                        "check --database-url, or create the database with `fullauth migrate` \
                         (`fullauth adopt` for a fastapi-fullauth database elsewhere)",
                    ));
                }
                let mut builder = SqliteStore::builder().features(features);
                if let Some(key) = key {
                    builder = builder.user_id_type(key);
                }
                let store = builder.open(path).await.map_err(CliError::from)?;
                Ok(Db::Sqlite(store))
            }
            Target::Postgres(url) => {
                let mut builder = PgStore::builder();
                if let Some(key) = key {
                    builder = builder.user_id_type(key);
                }
                let store = builder
                    .schema(schema.unwrap_or(DEFAULT_PG_SCHEMA))
                    .features(features)
                    .max_connections(4)
                    .application_name("fullauth-cli")
                    .connect(url)
                    .await
                    .map_err(|e| {
                        let mut err = CliError::from(e);
                        err.message = format!("{} ({})", err.message, redact(url));
                        err
                    })?;
                Ok(Db::Postgres(store))
            }
            Target::MySql(url) => {
                mysql_serves(key)?;
                let database = mysql_database(url, schema)?;
                let store = match connect_mysql(url, &database, features, key).await {
                    // The URL's database does not exist yet: `migrate`
                    // connects without one and creates it (the statements
                    // name the database; the connection's does not matter).
                    Err(e) if create && is_unknown_database(&e) => {
                        connect_mysql(&without_database(url), &database, features, key).await
                    }
                    other => other,
                };
                let store = store.map_err(|e| {
                    let unknown = is_unknown_database(&e);
                    let mut err = CliError::from(e);
                    err.message = format!("{} ({})", err.message, redact(url));
                    if unknown {
                        err.message =
                            format!("the database {database} does not exist ({})", redact(url));
                        err.code = exit::SCHEMA;
                        err.hint = Some(
                            "the database the URL names does not exist: `fullauth migrate` \
                             creates it (or create it yourself)"
                                .into(),
                        );
                    }
                    err
                })?;
                Ok(Db::MySql(store))
            }
        }
    }

    /// For a plan on a SQLite file that does not exist yet: an empty
    /// throwaway database (removed when dropped), which plans every migration.
    ///
    /// # Errors
    /// As [`Db::open`].
    pub async fn open_for_plan(
        target: &Target,
        schema: Option<&str>,
        key: Option<UserIdType>,
    ) -> Result<Db, CliError> {
        match target {
            Target::Sqlite(path) if !path.exists() => Ok(Db::Sqlite(
                SqliteStore::builder()
                    .user_id_type(key.unwrap_or_default())
                    .open_temporary()
                    .await?,
            )),
            // A MariaDB database that does not exist yet: connected without
            // it (nothing is created), the plan is every migration.
            Target::MySql(_) => Db::open(target, schema, key, Features::all(), true).await,
            _ => Db::open(target, schema, key, Features::all(), false).await,
        }
    }

    /// Opens the database serving exactly the features whose migrations are
    /// recorded, so that a command on a feature that was never migrated says
    /// so instead of failing on a missing table.
    ///
    /// # Errors
    /// As [`Db::open`]; a schema error when nothing is recorded (with a hint
    /// to run `adopt` when fullauth tables exist without records).
    pub async fn open_migrated(
        target: &Target,
        schema: Option<&str>,
        key: Option<UserIdType>,
    ) -> Result<Db, CliError> {
        let db = Db::open(target, schema, key, Features::all(), false).await?;
        let status = db.migrator().status(Features::empty()).await?;
        let features = status.recorded_features();
        if features.is_empty() {
            let unrecorded: Vec<&str> = status
                .features
                .iter()
                .filter(|f| f.state == FeatureState::Unrecorded)
                .map(|f| f.feature.name())
                .collect();
            if !unrecorded.is_empty() {
                return Err(CliError::new(
                    exit::SCHEMA,
                    format!(
                        "the database has tables of {} but no fullauth migration recorded them",
                        unrecorded.join(", ")
                    ),
                )
                .hint(adopt_hint()));
            }
            return Err(CliError::new(
                exit::SCHEMA,
                "the database has no fullauth migrations recorded",
            )
            .hint(migrate_hint()));
        }
        db.with_features(features).await
    }

    async fn with_features(self, features: Features) -> Result<Db, CliError> {
        let features = if features.validate().is_ok() {
            features
        } else {
            features.without(Feature::Permissions)
        };
        match self {
            Db::Sqlite(s) => {
                let path = s.path().to_path_buf();
                let key = s.user_id_type();
                drop(s);
                let store = SqliteStore::builder()
                    .features(features)
                    .user_id_type(key)
                    .open(&path)
                    .await
                    .map_err(CliError::from)?;
                Ok(Db::Sqlite(store))
            }
            Db::Postgres(p) => {
                let store = PgStore::builder()
                    .schema(p.schema())
                    .user_id_type(p.user_id_type())
                    .features(features)
                    .from_pool(p.pool().clone())
                    .map_err(CliError::from)?;
                Ok(Db::Postgres(store))
            }
            Db::MySql(m) => {
                let store = MySqlStore::builder()
                    .database(m.database())
                    .user_id_type(m.user_id_type())
                    .features(features)
                    .from_pool(m.pool().clone())
                    .map_err(CliError::from)?;
                Ok(Db::MySql(store))
            }
        }
    }

    /// The store, as the traits.
    pub fn store(&self) -> Arc<dyn Store> {
        match self {
            Db::Sqlite(s) => Arc::new(s.clone()),
            Db::Postgres(p) => Arc::new(p.clone()),
            Db::MySql(m) => Arc::new(m.clone()),
        }
    }

    /// The backend's migrator, the only place that tells the backends
    /// apart for migrations.
    pub fn migrator(&self) -> Box<dyn SqlMigrator> {
        match self {
            Db::Sqlite(s) => Box::new(s.migrator()),
            Db::Postgres(p) => Box::new(p.migrator()),
            Db::MySql(m) => Box::new(m.migrator()),
        }
    }

    /// `sqlite`, `postgres` or `mysql`.
    pub fn backend(&self) -> &'static str {
        match self {
            Db::Sqlite(_) => "sqlite",
            Db::Postgres(_) => "postgres",
            Db::MySql(_) => "mysql",
        }
    }

    /// Where the data lives, for humans.
    pub fn location(&self) -> String {
        match self {
            Db::Sqlite(s) => s.path().display().to_string(),
            Db::Postgres(p) => format!("schema {}", p.schema()),
            Db::MySql(m) => format!("database {}", m.database()),
        }
    }

    /// The columns of `fullauth_users`, in table order (empty when the table
    /// does not exist).
    ///
    /// # Errors
    /// Backend errors.
    pub async fn user_columns(&self) -> Result<Vec<UserColumn>, StoreError> {
        match self {
            Db::Sqlite(s) => user_columns_sqlite(s).await,
            Db::Postgres(p) => user_columns_pg(p).await,
            Db::MySql(m) => user_columns_mysql(m).await,
        }
    }

    /// Deletes expired rows of the short-lived tables.
    ///
    /// # Errors
    /// Backend errors.
    pub async fn purge_expired(&self) -> Result<u64, StoreError> {
        match self {
            Db::Sqlite(s) => s.purge_expired().await,
            Db::Postgres(p) => p.purge_expired().await,
            Db::MySql(m) => m.purge_expired().await,
        }
    }

    /// A page of users, oldest first, and the total number of users. The
    /// traits have no listing method, so this reads the table through the
    /// backend's driver.
    ///
    /// # Errors
    /// Backend errors.
    pub async fn list_users(
        &self,
        limit: u32,
        offset: u64,
    ) -> Result<(Vec<ListedUser>, u64), StoreError> {
        match self {
            Db::Sqlite(s) => list_users_sqlite(s, limit, offset).await,
            Db::Postgres(p) => list_users_pg(p, limit, offset).await,
            Db::MySql(m) => list_users_mysql(m, limit, offset).await,
        }
    }
}

/// The built-in columns of `fullauth_users` (the reference's), which
/// `user create` sets from its arguments and flags.
pub const BUILTIN_USER_COLUMNS: [&str; 7] = [
    "id",
    "email",
    "hashed_password",
    "is_active",
    "is_verified",
    "is_superuser",
    "created_at",
];

/// How `user create --set` turns a value into the column's type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ColumnKind {
    /// A boolean column: `true`/`false` (also `yes`/`no`, `on`/`off`, `1`/`0`).
    Boolean,
    /// An integer column: a signed 64-bit integer.
    Integer,
    /// A floating-point or decimal column: a finite number.
    Number,
    /// Anything else: the text as given (PostgreSQL and MariaDB convert it
    /// to the column's type and refuse what the type refuses).
    Text,
}

/// One column of `fullauth_users`, as the database's catalog describes it
/// (`PRAGMA table_xinfo` on SQLite, `pg_attribute` on PostgreSQL,
/// `information_schema.COLUMNS` on MariaDB).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UserColumn {
    /// The column name.
    pub name: String,
    /// The declared type, as the database shows it.
    pub declared_type: String,
    /// How a value given on the command line is typed.
    pub kind: ColumnKind,
    /// True for `NOT NULL`.
    pub not_null: bool,
    /// True when the database fills the column when an insert leaves it
    /// out (a default, an identity, a generated column).
    pub has_default: bool,
    /// False for a generated column, which an insert cannot name.
    pub writable: bool,
}

impl UserColumn {
    /// True for an application column an insert must name: `NOT NULL`,
    /// no default, writable.
    pub fn is_required(&self) -> bool {
        self.not_null && !self.has_default && self.writable
    }
}

/// The kind of a SQLite declared type, by SQLite's affinity rules (plus
/// `BOOL`, which the stores read back as a boolean).
fn sqlite_kind(declared: &str) -> ColumnKind {
    let t = declared.to_ascii_uppercase();
    if t.contains("BOOL") {
        ColumnKind::Boolean
    } else if t.contains("INT") {
        ColumnKind::Integer
    } else if t.contains("REAL")
        || t.contains("FLOA")
        || t.contains("DOUB")
        || t.contains("NUMERIC")
        || t.contains("DECIMAL")
    {
        ColumnKind::Number
    } else {
        ColumnKind::Text
    }
}

/// The kind of a PostgreSQL type as `format_type` names it.
fn pg_kind(declared: &str) -> ColumnKind {
    let t = declared.to_ascii_lowercase();
    match t.split('(').next().unwrap_or_default().trim() {
        "boolean" => ColumnKind::Boolean,
        "smallint" | "integer" | "bigint" => ColumnKind::Integer,
        "real" | "double precision" | "numeric" => ColumnKind::Number,
        _ => ColumnKind::Text,
    }
}

/// The kind of a MariaDB column type as `information_schema.COLUMNS.COLUMN_TYPE`
/// shows it (`BOOLEAN` is `tinyint(1)` there).
fn mysql_kind(declared: &str) -> ColumnKind {
    let t = declared.to_ascii_lowercase();
    if t.starts_with("tinyint(1)") || t == "bool" || t == "boolean" {
        return ColumnKind::Boolean;
    }
    match t.split(['(', ' ']).next().unwrap_or_default().trim() {
        "tinyint" | "smallint" | "mediumint" | "int" | "integer" | "bigint" => ColumnKind::Integer,
        "float" | "double" | "real" | "decimal" | "numeric" | "dec" | "fixed" => ColumnKind::Number,
        _ => ColumnKind::Text,
    }
}

async fn user_columns_sqlite(s: &SqliteStore) -> Result<Vec<UserColumn>, StoreError> {
    type Row = (String, String, i64, Option<String>, i64);
    let rows: Vec<Row> = s
        .with_connection(|c| {
            let mut stmt = c.prepare(
                "SELECT name, type, \"notnull\", dflt_value, hidden \
                 FROM pragma_table_xinfo('fullauth_users') ORDER BY cid",
            )?;
            let rows = stmt
                .query_map([], |r| {
                    Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
                })?
                .collect::<fullauth_sqlite::rusqlite::Result<Vec<Row>>>()?;
            Ok(rows)
        })
        .await?;
    Ok(rows
        .into_iter()
        .map(|(name, declared_type, not_null, default, hidden)| {
            // hidden: 0 ordinary, 1 hidden (virtual tables), 2/3 generated.
            let generated = hidden >= 2;
            UserColumn {
                kind: sqlite_kind(&declared_type),
                name,
                declared_type,
                not_null: not_null != 0,
                has_default: default.is_some() || generated,
                writable: !generated,
            }
        })
        .collect())
}

async fn user_columns_pg(p: &PgStore) -> Result<Vec<UserColumn>, StoreError> {
    use fullauth_postgres::sqlx;
    let rows: Vec<(String, String, bool, bool, bool)> = sqlx::query_as(
        "SELECT a.attname::text, format_type(a.atttypid, a.atttypmod), a.attnotnull, \
                (a.atthasdef OR a.attidentity <> '' OR a.attgenerated <> ''), \
                a.attgenerated = '' \
         FROM pg_attribute a \
         JOIN pg_class c ON c.oid = a.attrelid \
         JOIN pg_namespace n ON n.oid = c.relnamespace \
         WHERE n.nspname = $1 AND c.relname = 'fullauth_users' \
           AND a.attnum > 0 AND NOT a.attisdropped \
         ORDER BY a.attnum",
    )
    .bind(p.schema())
    .fetch_all(p.pool())
    .await
    .map_err(pg_error("reading the columns of fullauth_users failed"))?;
    Ok(rows
        .into_iter()
        .map(
            |(name, declared_type, not_null, has_default, writable)| UserColumn {
                kind: pg_kind(&declared_type),
                name,
                declared_type,
                not_null,
                has_default,
                writable,
            },
        )
        .collect())
}

async fn user_columns_mysql(m: &MySqlStore) -> Result<Vec<UserColumn>, StoreError> {
    use fullauth_mysql::sqlx;
    // COLUMN_DEFAULT is NULL for a column without a default (MariaDB shows a
    // default of NULL as the text `NULL`); IS_GENERATED is `ALWAYS` for a
    // virtual or persistent column.
    let rows: Vec<(String, String, String, bool, String, String)> = sqlx::query_as(
        "SELECT CAST(COLUMN_NAME AS CHAR), CAST(COLUMN_TYPE AS CHAR), CAST(IS_NULLABLE AS CHAR), \
                COLUMN_DEFAULT IS NOT NULL, CAST(EXTRA AS CHAR), CAST(IS_GENERATED AS CHAR) \
         FROM information_schema.COLUMNS \
         WHERE TABLE_SCHEMA = ? AND TABLE_NAME = 'fullauth_users' \
         ORDER BY ORDINAL_POSITION",
    )
    .bind(m.database())
    .fetch_all(m.pool())
    .await
    .map_err(mysql_error("reading the columns of fullauth_users failed"))?;
    Ok(rows
        .into_iter()
        .map(
            |(name, declared_type, nullable, has_default, extra, generated)| {
                let extra = extra.to_ascii_lowercase();
                let generated = generated.eq_ignore_ascii_case("ALWAYS")
                    || extra.contains("virtual")
                    || extra.contains("stored")
                    || extra.contains("persistent");
                UserColumn {
                    kind: mysql_kind(&declared_type),
                    name,
                    declared_type,
                    not_null: nullable.eq_ignore_ascii_case("NO"),
                    has_default: has_default || generated || extra.contains("auto_increment"),
                    writable: !generated,
                }
            },
        )
        .collect())
}

/// Maps a driver error of the CLI's own MariaDB queries.
fn mysql_error(what: &'static str) -> impl Fn(fullauth_mysql::sqlx::Error) -> StoreError + Copy {
    sql_error("cannot reach MariaDB", what)
}

/// Maps a driver error of the CLI's own PostgreSQL queries.
fn pg_error(what: &'static str) -> impl Fn(fullauth_postgres::sqlx::Error) -> StoreError + Copy {
    sql_error("cannot reach PostgreSQL", what)
}

/// Maps a driver error of the CLI's own queries on a server (one sqlx for
/// both: fullauth-mysql's is fullauth-postgres's crate): `unreachable` when
/// the server cannot be reached, else `what` failed.
fn sql_error(
    unreachable: &'static str,
    what: &'static str,
) -> impl Fn(fullauth_postgres::sqlx::Error) -> StoreError + Copy {
    use fullauth_postgres::sqlx;
    move |e| match e {
        sqlx::Error::Io(_) | sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed => {
            StoreError::unavailable(unreachable, e)
        }
        other => StoreError::backend(what, other),
    }
}

/// The users of `rows` (`id, email, is_active, is_verified, is_superuser,
/// created_at`), each id as `id` reads it.
fn listed_users<R>(
    rows: &[R],
    id: impl Fn(&R) -> Result<UserId, fullauth_postgres::sqlx::Error>,
    map: impl Fn(fullauth_postgres::sqlx::Error) -> StoreError + Copy,
) -> Result<Vec<ListedUser>, StoreError>
where
    R: fullauth_postgres::sqlx::Row,
    usize: fullauth_postgres::sqlx::ColumnIndex<R>,
    String: for<'r> fullauth_postgres::sqlx::Decode<'r, R::Database>
        + fullauth_postgres::sqlx::Type<R::Database>,
    bool: for<'r> fullauth_postgres::sqlx::Decode<'r, R::Database>
        + fullauth_postgres::sqlx::Type<R::Database>,
    time::OffsetDateTime: for<'r> fullauth_postgres::sqlx::Decode<'r, R::Database>
        + fullauth_postgres::sqlx::Type<R::Database>,
{
    rows.iter()
        .map(|r| {
            let created: time::OffsetDateTime = r.try_get(5).map_err(map)?;
            Ok(ListedUser {
                id: id(r).map_err(map)?,
                email: r.try_get(1).map_err(map)?,
                is_active: r.try_get(2).map_err(map)?,
                is_verified: r.try_get(3).map_err(map)?,
                is_superuser: r.try_get(4).map_err(map)?,
                created_at: Timestamp::from_datetime(created),
            })
        })
        .collect()
}

async fn list_users_sqlite(
    s: &SqliteStore,
    limit: u32,
    offset: u64,
) -> Result<(Vec<ListedUser>, u64), StoreError> {
    use fullauth_sqlite::rusqlite;
    type Row = (rusqlite::types::Value, String, i64, i64, i64, String);
    let key = s.user_id_type();
    let offset = i64::try_from(offset).unwrap_or(i64::MAX);
    let (rows, total): (Vec<Row>, i64) = s
        .with_connection(move |c| {
            let total: i64 =
                c.query_row("SELECT count(*) FROM fullauth_users", [], |r| r.get(0))?;
            let mut stmt = c.prepare(
                "SELECT id, email, is_active, is_verified, is_superuser, created_at \
                 FROM fullauth_users ORDER BY created_at, id LIMIT ?1 OFFSET ?2",
            )?;
            let rows = stmt
                .query_map(rusqlite::params![i64::from(limit), offset], |r| {
                    Ok((
                        r.get::<_, rusqlite::types::Value>(0)?,
                        r.get::<_, String>(1)?,
                        r.get::<_, i64>(2)?,
                        r.get::<_, i64>(3)?,
                        r.get::<_, i64>(4)?,
                        r.get::<_, String>(5)?,
                    ))
                })?
                .collect::<rusqlite::Result<Vec<Row>>>()?;
            Ok((rows, total))
        })
        .await?;
    let users = rows
        .into_iter()
        .map(|(id, email, a, v, su, created)| {
            let id = match id {
                rusqlite::types::Value::Integer(i) => UserId::from_int(i),
                rusqlite::types::Value::Text(t) if key == UserIdType::Uuid => {
                    key.parse(&t).map_err(|e| {
                        StoreError::backend_message(format!("a stored user id is not a UUID: {e}"))
                    })?
                }
                rusqlite::types::Value::Text(t) => UserId::from_text(t),
                other => {
                    return Err(StoreError::backend_message(format!(
                        "a stored user id of type {:?}",
                        other.data_type()
                    )));
                }
            };
            Ok(ListedUser {
                id,
                email,
                is_active: a != 0,
                is_verified: v != 0,
                is_superuser: su != 0,
                created_at: Timestamp::parse_naive_utc(&created)?,
            })
        })
        .collect::<Result<Vec<_>, StoreError>>()?;
    Ok((users, u64::try_from(total).unwrap_or(0)))
}

async fn list_users_pg(
    p: &PgStore,
    limit: u32,
    offset: u64,
) -> Result<(Vec<ListedUser>, u64), StoreError> {
    use fullauth_postgres::sqlx::{self, Row as _};
    let table = format!("{}.fullauth_users", quote_ident(p.schema()));
    let map = pg_error("listing users failed");
    let (total,): (i64,) =
        sqlx::query_as(sqlx::AssertSqlSafe(format!("SELECT count(*) FROM {table}")))
            .fetch_one(p.pool())
            .await
            .map_err(map)?;
    let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT id, email, is_active, is_verified, is_superuser, created_at FROM {table} \
         ORDER BY created_at, id LIMIT $1 OFFSET $2"
    )))
    .bind(i64::from(limit))
    .bind(i64::try_from(offset).unwrap_or(i64::MAX))
    .fetch_all(p.pool())
    .await
    .map_err(map)?;
    let key = p.user_id_type();
    let users = listed_users(
        &rows,
        |r| match key {
            UserIdType::Uuid => r.try_get::<uuid::Uuid, _>(0).map(UserId::from_uuid),
            UserIdType::Int => r.try_get::<i32, _>(0).map(|i| UserId::from_int(i.into())),
            UserIdType::Text => r.try_get::<String, _>(0).map(UserId::from_text),
        },
        map,
    )?;
    Ok((users, u64::try_from(total).unwrap_or(0)))
}

async fn list_users_mysql(
    m: &MySqlStore,
    limit: u32,
    offset: u64,
) -> Result<(Vec<ListedUser>, u64), StoreError> {
    use fullauth_mysql::sqlx::{self, Row as _};
    let table = format!("`{}`.fullauth_users", m.database().replace('`', "``"));
    let map = mysql_error("listing users failed");
    let (total,): (i64,) =
        sqlx::query_as(sqlx::AssertSqlSafe(format!("SELECT count(*) FROM {table}")))
            .fetch_one(m.pool())
            .await
            .map_err(map)?;
    // Ids are native UUID columns: read as text (sqlx's `Uuid` is 16 bytes).
    let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT CAST(id AS CHAR), email, is_active, is_verified, is_superuser, created_at \
         FROM {table} ORDER BY created_at, id LIMIT ? OFFSET ?"
    )))
    .bind(u64::from(limit))
    .bind(offset)
    .fetch_all(m.pool())
    .await
    .map_err(map)?;
    let users = listed_users(
        &rows,
        |r| {
            let id: String = r.try_get(0)?;
            Ok(uuid::Uuid::parse_str(&id)
                .map(UserId::from_uuid)
                .unwrap_or_else(|_| UserId::from_text(id)))
        },
        map,
    )?;
    Ok((users, u64::try_from(total).unwrap_or(0)))
}

/// The migrations of one dialect as files for the app's own migration tool,
/// without a database.
#[derive(Clone, Debug)]
pub enum Exporter {
    /// SQLite.
    Sqlite(SqliteMigrations),
    /// PostgreSQL, in a schema.
    Postgres(PgMigrations),
    /// MariaDB, in a database.
    MySql(MySqlMigrations),
}

/// Refuses the text key type for MariaDB, whose store serves UUID and
/// integer keys (fastapi-fullauth cannot create a text key there).
fn mysql_serves(key: Option<UserIdType>) -> Result<(), CliError> {
    match key {
        Some(UserIdType::Text) => Err(CliError::usage(
            "the MariaDB store serves UUID and integer user keys, not text keys \
             (SQLAlchemy cannot create an unbounded VARCHAR key on MariaDB)",
        )
        .hint("use PostgreSQL or SQLite for a text-keyed database")),
        _ => Ok(()),
    }
}

impl Exporter {
    /// The same exporter for a database keyed by `key` (unchanged for
    /// `None`).
    ///
    /// # Errors
    /// A usage error for a key type MariaDB does not serve.
    pub fn user_id_type(self, key: Option<UserIdType>) -> Result<Exporter, CliError> {
        let Some(key) = key else { return Ok(self) };
        Ok(match self {
            Exporter::Sqlite(m) => Exporter::Sqlite(m.user_id_type(key)),
            Exporter::Postgres(m) => Exporter::Postgres(m.user_id_type(key)),
            Exporter::MySql(m) => {
                mysql_serves(Some(key))?;
                Exporter::MySql(m.user_id_type(key))
            }
        })
    }

    /// The exporter of `dialect`; `schema` is the PostgreSQL schema (default
    /// `public`) or the MariaDB database (no default: `database_url`'s, when
    /// it is a `mysql://` URL naming one); SQLite ignores both.
    ///
    /// # Errors
    /// A usage error for a schema or database name the server cannot take,
    /// or no database for MariaDB.
    pub fn new(
        dialect: Dialect,
        schema: Option<&str>,
        database_url: Option<&str>,
    ) -> Result<Exporter, CliError> {
        Ok(match dialect {
            Dialect::Sqlite => Exporter::Sqlite(SqliteMigrations::new()),
            Dialect::Postgres => {
                Exporter::Postgres(PgMigrations::new(schema.unwrap_or(DEFAULT_PG_SCHEMA))?)
            }
            Dialect::Mysql => {
                let from_url = match database_url.map(Target::parse) {
                    Some(Ok(Target::MySql(url))) => url_database(&url),
                    _ => None,
                };
                let Some(database) = schema.map(str::to_string).or(from_url) else {
                    return Err(CliError::usage(
                        "the MariaDB migrations name their database: none given",
                    )
                    .hint(
                        "pass --schema DATABASE (or a --database-url mysql://USER@HOST/DATABASE)",
                    ));
                };
                Exporter::MySql(MySqlMigrations::new(database)?)
            }
        })
    }

    /// Every migration of `features` as one script (one transaction that
    /// also records them).
    ///
    /// # Errors
    /// A usage error for an inconsistent feature set.
    pub fn script(&self, features: Features) -> Result<String, CliError> {
        Ok(match self {
            Exporter::Sqlite(m) => m.export_sql(features)?,
            Exporter::Postgres(m) => m.export_sql(features)?,
            Exporter::MySql(m) => m.export_sql(features)?,
        })
    }

    /// Every migration of `features` as the files of a sqlx-cli migrations
    /// folder, versions `version_base + sequence`.
    ///
    /// # Errors
    /// A usage error for an inconsistent feature set or a bad version base.
    pub fn sqlx_files(
        &self,
        features: Features,
        version_base: i64,
    ) -> Result<Vec<ExportedMigration>, CliError> {
        Ok(match self {
            Exporter::Sqlite(m) => m.export_sqlx(features, version_base)?,
            Exporter::Postgres(m) => m.export_sqlx(features, version_base)?,
            Exporter::MySql(m) => m.export_sqlx(features, version_base)?,
        })
    }
}

/// The SQL dialect of `export-sql`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Dialect {
    /// SQLite.
    Sqlite,
    /// PostgreSQL.
    Postgres,
    /// MariaDB (`mariadb` is accepted too).
    #[value(alias = "mariadb")]
    Mysql,
}

impl Dialect {
    /// `sqlite`, `postgres` or `mysql`.
    pub fn name(self) -> &'static str {
        match self {
            Dialect::Sqlite => "sqlite",
            Dialect::Postgres => "postgres",
            Dialect::Mysql => "mysql",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_choose_the_backend() {
        assert_eq!(
            Target::parse("sqlite://fullauth.db").unwrap(),
            Target::Sqlite("fullauth.db".into())
        );
        assert_eq!(
            Target::parse("sqlite:///var/lib/auth.db?mode=rwc").unwrap(),
            Target::Sqlite("/var/lib/auth.db".into())
        );
        assert_eq!(
            Target::parse("sqlite:auth.db").unwrap(),
            Target::Sqlite("auth.db".into())
        );
        for url in ["postgres://u@h/db", "postgresql://u:p@h:5432/db"] {
            assert_eq!(
                Target::parse(url).unwrap(),
                Target::Postgres(url.to_string())
            );
        }
        for url in ["mysql://u@h:3306/db", "mysql://u:p@h/db?ssl-mode=disabled"] {
            assert_eq!(Target::parse(url).unwrap(), Target::MySql(url.to_string()));
        }
        assert_eq!(
            Target::parse("mariadb://u@h/db").unwrap(),
            Target::MySql("mysql://u@h/db".into())
        );
        let t = Target::parse("mysql://u@h/app%2Dauth").unwrap();
        assert_eq!(t.location(None), "database app-auth");
        assert_eq!(t.location(Some("other")), "database other");
        assert_eq!(url_database("mysql://u@h:3306"), None);
        let e = mysql_database("mysql://u:pw@h:3306", None).unwrap_err();
        assert_eq!(e.code, exit::USAGE);
        assert!(!e.message.contains("pw@"), "{e}");
        assert_eq!(mysql_database("mysql://u@h/x", Some("y")).unwrap(), "y");
        assert_eq!(
            without_database("mysql://u:p@h:3306/db?ssl-mode=disabled"),
            "mysql://u:p@h:3306/?ssl-mode=disabled"
        );
        assert_eq!(url_database(&without_database("mysql://u@h/db")), None);
        for bad in [
            "oracle://x/y",
            "mongodb://x/y",
            "sqlite://",
            "sqlite::memory:",
            "auth.db",
        ] {
            let e = Target::parse(bad).unwrap_err();
            assert_eq!(e.code, exit::USAGE, "{bad}");
            assert!(e.hint.is_some());
        }
    }

    #[test]
    fn passwords_are_redacted() {
        assert_eq!(
            redact("postgres://app:s3cret@db:5432/x"),
            "postgres://app:***@db:5432/x"
        );
        assert_eq!(redact("postgres://app@db/x"), "postgres://app@db/x");
        assert_eq!(
            redact("mysql://root:p@ss:w0rd@db:3306/x?a=b@c"),
            "mysql://root:***@db:3306/x?a=b@c"
        );
        assert_eq!(redact("mysql://root@db/x"), "mysql://root@db/x");
        let e = Target::parse("oracle://root:hunter2@h/db").unwrap_err();
        assert!(!e.message.contains("hunter2"));
    }

    #[test]
    fn export_needs_consistent_features() {
        let sql = Exporter::new(Dialect::Sqlite, None, None)
            .unwrap()
            .script(Features::from(Feature::Core))
            .unwrap();
        assert!(sql.contains("fullauth_users"));
        for dialect in [Dialect::Sqlite, Dialect::Postgres, Dialect::Mysql] {
            let e = Exporter::new(dialect, Some("auth"), None)
                .unwrap()
                .script(Features::from(Feature::Roles))
                .unwrap_err();
            assert_eq!(e.code, exit::USAGE, "{dialect:?}");
        }
        let files = Exporter::new(Dialect::Postgres, Some("auth"), None)
            .unwrap()
            .sqlx_files(Features::from(Feature::Core), 100)
            .unwrap();
        assert_eq!(files[0].version, 101);
        assert!(files[0].sql.contains("\"auth\""));
        // MariaDB: the database from --schema, else from a mysql:// URL.
        let sql = Exporter::new(Dialect::Mysql, None, Some("mysql://u@h/appdb"))
            .unwrap()
            .script(Features::from(Feature::Core))
            .unwrap();
        assert!(sql.contains("`appdb`.fullauth_users"), "{sql}");
        let sql = Exporter::new(Dialect::Mysql, Some("auth"), Some("mysql://u@h/appdb"))
            .unwrap()
            .script(Features::from(Feature::Core))
            .unwrap();
        assert!(sql.contains("`auth`.fullauth_users"), "{sql}");
        for url in [None, Some("sqlite://x.db"), Some("mysql://u@h")] {
            let e = Exporter::new(Dialect::Mysql, None, url).unwrap_err();
            assert_eq!(e.code, exit::USAGE, "{url:?}");
        }
    }
}
