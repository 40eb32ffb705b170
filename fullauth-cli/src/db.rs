//! Which database a URL names, and the operations the command needs from
//! either backend.

use std::path::PathBuf;
use std::sync::Arc;

use fullauth_api::migrate::{AdoptReport, Migration, MigrationStatus};
use fullauth_api::{Feature, Features, Store, StoreError, Timestamp, UserId};
use fullauth_postgres::{PgMigrator, PgStore};
use fullauth_sqlite::{Migrator as SqliteMigrator, SqliteStore};
use serde::Serialize;

use crate::error::{CliError, exit, migrate_hint};

/// The database a `--database-url` names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Target {
    /// A SQLite file.
    Sqlite(PathBuf),
    /// A PostgreSQL server: the URL as given.
    Postgres(String),
}

impl Target {
    /// Parses `sqlite://PATH`, `sqlite:PATH`, `sqlite:///ABSOLUTE/PATH`,
    /// `postgres://…` and `postgresql://…`.
    ///
    /// # Errors
    /// A usage error for any other scheme or an empty SQLite path.
    pub fn parse(url: &str) -> Result<Target, CliError> {
        let url = url.trim();
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            return Ok(Target::Postgres(url.to_string()));
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
        Err(CliError::usage(format!("unsupported database URL `{}`", redact(url))).hint(
            "use sqlite://PATH for a SQLite file or postgres://USER@HOST:PORT/DB for PostgreSQL",
        ))
    }
}

/// The URL with any password replaced by `***`, for messages.
pub fn redact(url: &str) -> String {
    if let Some((scheme, rest)) = url.split_once("://") {
        if let Some((auth, host)) = rest.split_once('@') {
            if let Some((user, _)) = auth.split_once(':') {
                return format!("{scheme}://{user}:***@{host}");
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
}

/// One user as `user list` shows it.
#[derive(Clone, Debug, Serialize)]
pub struct ListedUser {
    /// The id.
    pub id: String,
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
    /// is created only when `create` is true.
    ///
    /// # Errors
    /// Usage errors for a bad URL, a schema error for a missing file,
    /// unavailable when the server cannot be reached.
    pub async fn open(
        target: &Target,
        schema: &str,
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
                let store = SqliteStore::builder()
                    .features(features)
                    .open(path)
                    .await
                    .map_err(CliError::from)?;
                Ok(Db::Sqlite(store))
            }
            Target::Postgres(url) => {
                let store = PgStore::builder()
                    .schema(schema)
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
        }
    }

    /// For a plan on a SQLite file that does not exist yet: an empty
    /// throwaway database (removed when dropped), which plans every migration.
    ///
    /// # Errors
    /// As [`Db::open`].
    pub async fn open_for_plan(target: &Target, schema: &str) -> Result<Db, CliError> {
        match target {
            Target::Sqlite(path) if !path.exists() => {
                Ok(Db::Sqlite(SqliteStore::builder().open_temporary().await?))
            }
            _ => Db::open(target, schema, Features::all(), false).await,
        }
    }

    /// Opens the database serving exactly the features whose migrations are
    /// recorded, so that a command on a feature that was never migrated says
    /// so instead of failing on a missing table.
    ///
    /// # Errors
    /// As [`Db::open`]; a schema error when nothing is migrated.
    pub async fn open_migrated(target: &Target, schema: &str) -> Result<Db, CliError> {
        let db = Db::open(target, schema, Features::all(), false).await?;
        let status = db.status(Features::empty()).await?;
        let features = applied_features(&db, &status);
        if features.is_empty() {
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
                drop(s);
                let store = SqliteStore::builder()
                    .features(features)
                    .open(&path)
                    .await
                    .map_err(CliError::from)?;
                Ok(Db::Sqlite(store))
            }
            Db::Postgres(p) => {
                let store = PgStore::builder()
                    .schema(p.schema())
                    .features(features)
                    .from_pool(p.pool().clone())
                    .map_err(CliError::from)?;
                Ok(Db::Postgres(store))
            }
        }
    }

    /// The store, as the traits.
    pub fn store(&self) -> Arc<dyn Store> {
        match self {
            Db::Sqlite(s) => Arc::new(s.clone()),
            Db::Postgres(p) => Arc::new(p.clone()),
        }
    }

    /// Every migration this binary embeds for the backend.
    pub fn migrations(&self) -> Vec<Migration> {
        match self {
            Db::Sqlite(_) => SqliteMigrator::migrations().to_vec(),
            Db::Postgres(_) => fullauth_postgres::MIGRATIONS.to_vec(),
        }
    }

    /// `sqlite` or `postgres`.
    pub fn backend(&self) -> &'static str {
        match self {
            Db::Sqlite(_) => "sqlite",
            Db::Postgres(_) => "postgres",
        }
    }

    /// Where the data lives, for humans.
    pub fn location(&self) -> String {
        match self {
            Db::Sqlite(s) => s.path().display().to_string(),
            Db::Postgres(p) => format!("schema {}", p.schema()),
        }
    }

    /// Applied, pending and drifted migrations.
    ///
    /// # Errors
    /// Backend errors.
    pub async fn status(&self, features: Features) -> Result<MigrationStatus, StoreError> {
        match self {
            Db::Sqlite(s) => s.migrator().status(features).await,
            Db::Postgres(p) => p.migrator().status(features).await,
        }
    }

    /// The pending migrations of `features` and their SQL as it would run.
    ///
    /// # Errors
    /// Backend errors.
    pub async fn plan(&self, features: Features) -> Result<Vec<(Migration, String)>, StoreError> {
        match self {
            Db::Sqlite(s) => Ok(s
                .migrator()
                .plan(features)
                .await?
                .into_iter()
                .map(|m| (m, m.sql.to_string()))
                .collect()),
            Db::Postgres(p) => {
                let migrator = p.migrator();
                Ok(migrator
                    .plan(features)
                    .await?
                    .into_iter()
                    .map(|m| {
                        let sql = migrator.render(&m);
                        (m, sql)
                    })
                    .collect())
            }
        }
    }

    /// Applies the pending migrations of `features`.
    ///
    /// # Errors
    /// Backend errors (drift, unrecorded tables).
    pub async fn apply(&self, features: Features) -> Result<Vec<String>, StoreError> {
        match self {
            Db::Sqlite(s) => s.migrator().apply(features).await,
            Db::Postgres(p) => {
                let out = p.migrator().apply(features).await?;
                p.refresh_user_columns().await?;
                Ok(out)
            }
        }
    }

    /// Adopts an existing database for `features`.
    ///
    /// # Errors
    /// Backend errors.
    pub async fn adopt(&self, features: Features) -> Result<AdoptReport, StoreError> {
        match self {
            Db::Sqlite(s) => s.migrator().adopt(features).await,
            Db::Postgres(p) => {
                let out = p.migrator().adopt(features).await?;
                p.refresh_user_columns().await?;
                Ok(out)
            }
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
        }
    }
}

/// The features with at least one applied migration.
pub fn applied_features(db: &Db, status: &MigrationStatus) -> Features {
    let migrations = db.migrations();
    status
        .applied
        .iter()
        .filter_map(|a| migrations.iter().find(|m| m.id == a.id))
        .map(|m| m.feature)
        .collect()
}

async fn list_users_sqlite(
    s: &SqliteStore,
    limit: u32,
    offset: u64,
) -> Result<(Vec<ListedUser>, u64), StoreError> {
    use fullauth_sqlite::rusqlite;
    type Row = (String, String, i64, i64, i64, String);
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
                        r.get::<_, String>(0)?,
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
            let id = uuid::Uuid::parse_str(&id)
                .map(|u| UserId::from_uuid(u).to_string())
                .unwrap_or(id);
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
    let map = |e: sqlx::Error| match e {
        sqlx::Error::Io(_) | sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed => {
            StoreError::unavailable("cannot reach PostgreSQL", e)
        }
        other => StoreError::backend("listing users failed", other),
    };
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
    let users = rows
        .iter()
        .map(|r| {
            let id: uuid::Uuid = r.try_get(0).map_err(map)?;
            let created: time::OffsetDateTime = r.try_get(5).map_err(map)?;
            Ok(ListedUser {
                id: UserId::from_uuid(id).to_string(),
                email: r.try_get(1).map_err(map)?,
                is_active: r.try_get(2).map_err(map)?,
                is_verified: r.try_get(3).map_err(map)?,
                is_superuser: r.try_get(4).map_err(map)?,
                created_at: Timestamp::from_datetime(created),
            })
        })
        .collect::<Result<Vec<_>, StoreError>>()?;
    Ok((users, u64::try_from(total).unwrap_or(0)))
}

/// The SQL of every migration of `features` for `dialect`, without a database.
///
/// # Errors
/// A usage error for an inconsistent feature set or a bad schema name.
pub fn export_sql(dialect: Dialect, features: Features, schema: &str) -> Result<String, CliError> {
    fullauth_api::migrate::check_sql_features(features)?;
    match dialect {
        Dialect::Sqlite => Ok(fullauth_sqlite::migrate::export_sql(features)?),
        Dialect::Postgres => {
            // A lazy pool never connects: the migrator only renders SQL here.
            let pool = fullauth_postgres::sqlx::PgPool::connect_lazy("postgres://localhost/unused")
                .map_err(|e| CliError::new(exit::FAILURE, e.to_string()))?;
            let migrator = PgMigrator::new(pool, schema)?;
            Ok(migrator.export_sql(features))
        }
    }
}

/// The SQL dialect of `export-sql`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Dialect {
    /// SQLite.
    Sqlite,
    /// PostgreSQL.
    Postgres,
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
        for bad in ["mysql://x/y", "sqlite://", "sqlite::memory:", "auth.db"] {
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
        let e = Target::parse("mysql://root:hunter2@h/db").unwrap_err();
        assert!(!e.message.contains("hunter2"));
    }

    #[test]
    fn export_needs_consistent_features() {
        let sql = export_sql(Dialect::Sqlite, Features::from(Feature::Core), "public").unwrap();
        assert!(sql.contains("fullauth_users"));
        let e =
            export_sql(Dialect::Postgres, Features::from(Feature::Roles), "public").unwrap_err();
        assert_eq!(e.code, exit::USAGE);
    }
}
