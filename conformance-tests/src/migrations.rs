//! The migrator suite: one set of cases every SQL backend's migrator
//! ([`SqlMigrator`]) must pass, in the style of the conformance suite — one
//! function per case, run against each backend from its own tests.
//!
//! A backend gives the suite a [`MigrationHarness`]: fresh empty databases
//! (a file, a schema) with the backend's migrator, a way to run SQL as
//! another tool would (the fastapi-fullauth fixtures of
//! [`fixtures::FastapiFullauth`]), a normalised description of the schema
//! ([`MigrationDatabase::catalog`]), and a way to run fullauth's migrations
//! inside a transaction of the app. [`migration_tests!`](crate::migration_tests)
//! expands to one `#[test]` per case.
//!
//! A backend's test file implements the two traits and invokes the macro
//! with an async factory returning the harness, or `None` when the database
//! is not configured (the cases then print a notice and pass):
//! `fullauth_conformance::migration_tests!(harness);` — see
//! `fullauth-sqlite/tests/migrator_suite.rs` and
//! `fullauth-postgres/tests/migrator_suite.rs`. The fixtures are usable on
//! their own:
//!
//! ```
//! use fullauth_conformance::migrations::fixtures::FastapiFullauth;
//! use fullauth_conformance::migrations::{Dialect, migration_cases};
//!
//! let ddl = FastapiFullauth::V0_16.ddl(Dialect::Postgres);
//! assert!(ddl.contains("CREATE TABLE fullauth_users (\n\tid UUID NOT NULL"));
//! assert!(!ddl.contains("fullauth_mfa")); // 0.18 added it
//! let cases = migration_cases();
//! assert!(cases.iter().any(|c| c.name == "refused_migrate_leaves_nothing_behind"));
//! ```
//!
//! The cases cover: apply and re-apply, features added later, the status of
//! each feature (present, absent, not chosen, unrecorded, drifted), refused
//! feature sets, a refused migrate that leaves nothing behind, adoption of
//! every fastapi-fullauth fixture (0.14–0.18, SQLAlchemy and SQLModel, and an
//! older layout) with the same notes on every backend, adoption of fullauth's
//! own tables, refusals of adopt, the carry-over of fullauth 0.1's records,
//! apply inside the app's transaction (committed, rolled back, failed), and
//! both exports.

pub mod fixtures;

mod cases;

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::Arc;

use async_trait::async_trait;
use futures::FutureExt as _;

use fullauth_api::migrate::SqlMigrator;
use fullauth_api::{Features, Store, StoreResult};

pub use cases::*;

/// The SQL dialect of a backend, for the fixtures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Dialect {
    /// SQLite: `CHAR(32)` UUIDs, `DATETIME` timestamps.
    Sqlite,
    /// PostgreSQL: `UUID`, `TIMESTAMP WITH TIME ZONE`.
    Postgres,
    /// MariaDB 10.7+: native `UUID`, and `DATETIME` (no microseconds) in the
    /// server's default collation, as fastapi-fullauth's `create_all` makes
    /// them (fullauth's own tables are `DATETIME(6)` and
    /// `utf8mb4_nopad_bin`: adopt widens and converts, with notes of its
    /// own, see [`Dialect::is_repair_note`]). No transactional DDL.
    MariaDb,
}

impl Dialect {
    /// `sql` with `{uuid}` and `{ts}` replaced by the dialect's types.
    pub fn fill(self, sql: &str) -> String {
        let (uuid, ts) = match self {
            Dialect::Sqlite => ("CHAR(32)", "DATETIME"),
            Dialect::Postgres => ("UUID", "TIMESTAMP WITH TIME ZONE"),
            Dialect::MariaDb => ("UUID", "DATETIME"),
        };
        sql.replace("{uuid}", uuid).replace("{ts}", ts)
    }

    /// The 0.1 ids of this dialect's backend (none for MariaDB: no 0.1 was
    /// released; the 0.1 cases pass without running then).
    pub fn legacy_0_1(self) -> &'static [fullauth_api::migrate::LegacyMigration] {
        match self {
            Dialect::Sqlite => &fullauth_api::migrate::LEGACY_SQLITE_0_1,
            Dialect::Postgres => &fullauth_api::migrate::LEGACY_POSTGRES_0_1,
            Dialect::MariaDb => &[],
        }
    }

    /// True when DDL takes part in transactions (a rollback undoes a
    /// `CREATE TABLE`). MariaDB commits DDL implicitly: the cases of
    /// fullauth's apply inside the app's transaction then check that what
    /// was applied stays recorded instead.
    pub fn transactional_ddl(self) -> bool {
        !matches!(self, Dialect::MariaDb)
    }

    /// How SQLModel's `str` field without `max_length` is created: `VARCHAR`
    /// (no length) where the dialect allows it, `VARCHAR(255)` on MariaDB
    /// (SQLModel's `AutoString` default length for MySQL).
    pub fn sqlmodel_varchar(self) -> &'static str {
        match self {
            Dialect::MariaDb => "VARCHAR(255)",
            Dialect::Sqlite | Dialect::Postgres => "VARCHAR",
        }
    }

    /// True for an adopt note about a repair only this dialect makes, left
    /// out when the notes are compared across backends: MariaDB's
    /// `widened <table>.<column> to DATETIME(6) …` and `converted <table> to
    /// utf8mb4 …` (fastapi-fullauth's tables have no microseconds and the
    /// server's case-insensitive collation).
    pub fn is_repair_note(self, note: &str) -> bool {
        match self {
            Dialect::MariaDb => note.starts_with("widened ") || note.starts_with("converted "),
            Dialect::Sqlite | Dialect::Postgres => false,
        }
    }
}

/// What a backend gives the migrator suite.
#[async_trait]
pub trait MigrationHarness: Send + Sync + 'static {
    /// The backend's dialect.
    fn dialect(&self) -> Dialect;

    /// A new, empty database (or schema) of its own, with nothing of
    /// fullauth in it.
    ///
    /// # Errors
    /// When it cannot be made.
    async fn fresh(&self) -> StoreResult<Box<dyn MigrationDatabase>>;
}

/// One database the suite works on.
#[async_trait]
pub trait MigrationDatabase: Send + Sync {
    /// The backend's migrator on this database (as the store gives it).
    fn migrator(&self) -> Box<dyn SqlMigrator>;

    /// A store on this database serving `features`.
    ///
    /// # Errors
    /// When it cannot be opened.
    async fn store(&self, features: Features) -> StoreResult<Arc<dyn Store>>;

    /// Runs an SQL script with unqualified table names inside this database
    /// (schema), as another tool would.
    ///
    /// # Errors
    /// When a statement fails.
    async fn execute(&self, sql: &str) -> StoreResult<()>;

    /// The names of every table of the database (schema), sorted.
    ///
    /// # Errors
    /// Backend errors.
    async fn tables(&self) -> StoreResult<Vec<String>>;

    /// The schema of the `fullauth_*` tables except
    /// `fullauth_schema_migrations`, one line per fact, sorted:
    /// `column T.c TYPE[ NOT NULL]` (types through
    /// [`canonical_type`](fullauth_api::migrate::schema::canonical_type)),
    /// `pk T (a, b)`, `unique T (a, b)` for every unique index or constraint
    /// but the primary key (whatever its name), `index T NAME (a, b)` for the
    /// other indexes, `fk T (c) -> R cascade|restrict`.
    ///
    /// # Errors
    /// Backend errors.
    async fn catalog(&self) -> StoreResult<Vec<String>>;

    /// Opens a transaction of the app's own on this database, runs `before`
    /// in it, then fullauth's `apply(features)` on that transaction, then
    /// `after`, and commits when `commit` is true (rolls back otherwise).
    /// Returns what `apply` returned.
    ///
    /// # Errors
    /// The first error; the transaction is rolled back then.
    async fn apply_in_app_transaction(
        &self,
        before: &str,
        features: Features,
        after: &str,
        commit: bool,
    ) -> StoreResult<Vec<String>>;

    /// Replaces `fullauth_schema_migrations` with what this backend's
    /// fullauth 0.1 left for `features` (whose tables exist): its layout,
    /// its ids and its checksums ([`Dialect::legacy_0_1`]).
    ///
    /// # Errors
    /// Backend errors.
    async fn write_0_1_tracking(&self, features: Features) -> StoreResult<()>;

    /// Releases the database (drops the schema, deletes the file).
    async fn close(self: Box<Self>);
}

/// What a case returns (an assertion that fails panics, as in the
/// conformance cases).
pub type MigrationCaseResult = StoreResult<()>;

/// A boxed case future.
pub type MigrationCaseFuture = Pin<Box<dyn Future<Output = MigrationCaseResult> + Send>>;

/// One case of the suite.
#[derive(Clone, Copy)]
pub struct MigrationCase {
    /// The case's name.
    pub name: &'static str,
    /// Runs the case.
    pub run: fn(Arc<dyn MigrationHarness>) -> MigrationCaseFuture,
}

impl std::fmt::Debug for MigrationCase {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "MigrationCase({})", self.name)
    }
}

/// What a factory given to [`migration_tests!`](crate::migration_tests) may
/// return: a harness, or `Option` of one where `None` means "not configured
/// here" (the case prints a notice and passes).
pub trait IntoHarness {
    /// The harness, or `None` to skip.
    fn into_harness(self) -> Option<Arc<dyn MigrationHarness>>;
}

impl<H: MigrationHarness> IntoHarness for H {
    fn into_harness(self) -> Option<Arc<dyn MigrationHarness>> {
        Some(Arc::new(self))
    }
}

impl<H: MigrationHarness> IntoHarness for Option<H> {
    fn into_harness(self) -> Option<Arc<dyn MigrationHarness>> {
        self.map(|h| Arc::new(h) as Arc<dyn MigrationHarness>)
    }
}

/// Expands `$callback!(args; case, case, …)` with every case name (the one
/// list of the suite's cases).
#[doc(hidden)]
#[macro_export]
macro_rules! __for_each_migration_case {
    ($callback:path; $($args:tt)*) => {
        $callback!($($args)*;
    apply_creates_every_feature_and_again_is_a_no_op,
    features_added_later_create_only_their_tables,
    status_of_a_fresh_database,
    status_after_migrating_some_features,
    inconsistent_feature_sets_are_refused_everywhere,
    plan_lists_pending_and_changes_nothing,
    drift_is_reported_and_blocks_apply_and_adopt,
    ids_of_a_newer_release_are_reported_not_blocking,
    status_of_an_unadopted_fastapi_fullauth_database,
    refused_migrate_leaves_nothing_behind,
    adopt_fastapi_fullauth_0_18,
    adopt_fastapi_fullauth_0_18_sqlmodel,
    adopt_fastapi_fullauth_0_17,
    adopt_fastapi_fullauth_0_16,
    adopt_fastapi_fullauth_0_15,
    adopt_fastapi_fullauth_0_14,
    adopt_fastapi_fullauth_0_14_sqlmodel,
    adopt_an_older_layout_adds_columns_constraint_and_cascade,
    adopt_some_features_leaves_the_others_unrecorded,
    adopt_reports_application_columns,
    adopt_refuses_a_missing_not_null_column,
    adopt_refuses_integer_user_ids,
    adopt_creates_the_missing_table_of_a_feature,
    adopt_of_fullauth_tables_records_them,
    a_store_works_after_adopt,
    a_0_1_database_carries_over,
    a_0_1_database_gains_new_features,
    a_0_1_database_with_an_edited_migration_is_drifted,
    apply_inside_the_app_transaction_commits_with_it,
    apply_inside_the_app_transaction_rolls_back_with_it,
    a_failing_app_migration_after_ours_undoes_ours,
    export_sql_builds_what_apply_builds,
    export_sqlx_files_build_what_apply_builds,
    export_sqlx_versions_are_stable_and_sorted,
);
    };
}

macro_rules! registry {
    (; $($name:ident),* $(,)?) => {
        /// Every case of the suite, in order.
        pub fn migration_cases() -> Vec<MigrationCase> {
            vec![$(MigrationCase {
                name: stringify!($name),
                run: |h| Box::pin(cases::$name(h)),
            }),*]
        }
    };
}

__for_each_migration_case!(registry;);

/// Runs one case as a `#[test]` (used by
/// [`migration_tests!`](crate::migration_tests)).
#[doc(hidden)]
pub fn __run_migration_test<F, Fut>(name: &str, factory: F)
where
    F: FnOnce() -> Fut,
    Fut: Future,
    Fut::Output: IntoHarness,
{
    let Some(case) = migration_cases().into_iter().find(|c| c.name == name) else {
        panic!("no migration case {name}");
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap_or_else(|e| panic!("cannot build a tokio runtime: {e}"));
    let outcome = rt.block_on(async move {
        let harness = factory().await.into_harness()?;
        let fut = AssertUnwindSafe((case.run)(harness)).catch_unwind();
        Some(tokio::time::timeout(crate::CASE_TIMEOUT, fut).await)
    });
    match outcome {
        None => eprintln!("NOT RUN migrations::{name}: the factory gave no harness"),
        Some(Err(_)) => panic!(
            "migrations::{name} timed out after {:?}",
            crate::CASE_TIMEOUT
        ),
        Some(Ok(Err(panic))) => std::panic::resume_unwind(panic),
        Some(Ok(Ok(Err(e)))) => panic!("migrations::{name} failed: {e} ({e:?})"),
        Some(Ok(Ok(Ok(())))) => {}
    }
}

/// Expands to one `#[test]` per case of the migrator suite, in a module
/// `migrations`. The factory is an async function (or closure) returning a
/// [`MigrationHarness`] or `Option` of one ([`IntoHarness`]); it is called
/// once per case.
#[macro_export]
macro_rules! migration_tests {
    ($factory:expr) => {
        $crate::__for_each_migration_case!($crate::__emit_migration_tests; $factory);
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __emit_migration_tests {
    ($factory:expr; $($name:ident),* $(,)?) => {
        mod migrations {
            #[allow(unused_imports)]
            use super::*;
            $(
                #[test]
                fn $name() {
                    $crate::migrations::__run_migration_test(stringify!($name), $factory);
                }
            )*
        }
    };
}
