//! The macros that write a backend's migrator type: the [`SqlMigrator`]
//! impl forwarding to its inherent methods, and the whole migrator of a
//! backend on a pool (the pool and the backend's migrations on a connection,
//! with forwarding methods). Exported at the crate root.
//!
//! [`SqlMigrator`]: crate::migrate::SqlMigrator

/// Implements [`SqlMigrator`](crate::migrate::SqlMigrator) for a migrator
/// type whose inherent methods `status`, `plan`, `apply`, `adopt`,
/// `export_sql` and `export_sqlx` have the trait's signatures: each trait
/// method calls the inherent one, so the two cannot disagree.
///
/// `backend` is [`SqlMigrator::backend_name`](crate::migrate::SqlMigrator::backend_name),
/// `migrations` the backend's `&'static [Migration]`, and `render` how a
/// migration's SQL is rendered, as `|self, migration| expression`.
///
/// ```ignore
/// fullauth_api::impl_sql_migrator!(SqliteMigrator {
///     backend: "sqlite",
///     migrations: &MIGRATIONS,
///     render: |_this, m| m.sql.to_string(),
/// });
/// ```
#[macro_export]
macro_rules! impl_sql_migrator {
    ($name:ident {
        backend: $backend:literal,
        migrations: $migrations:expr,
        render: |$this:ident, $m:ident| $render:expr $(,)?
    }) => {
        #[$crate::async_trait]
        impl $crate::migrate::SqlMigrator for $name {
            fn backend_name(&self) -> &'static str {
                $backend
            }

            fn migrations(&self) -> &'static [$crate::migrate::Migration] {
                $migrations
            }

            fn render(&self, $m: &$crate::migrate::Migration) -> ::std::string::String {
                let $this = self;
                $render
            }

            async fn status(
                &self,
                chosen: $crate::Features,
            ) -> $crate::StoreResult<$crate::migrate::MigrationStatus> {
                $name::status(self, chosen).await
            }

            async fn plan(
                &self,
                chosen: $crate::Features,
            ) -> $crate::StoreResult<::std::vec::Vec<$crate::migrate::Migration>> {
                $name::plan(self, chosen).await
            }

            async fn apply(
                &self,
                chosen: $crate::Features,
            ) -> $crate::StoreResult<::std::vec::Vec<::std::string::String>> {
                $name::apply(self, chosen).await
            }

            async fn adopt(
                &self,
                chosen: $crate::Features,
            ) -> $crate::StoreResult<$crate::migrate::AdoptReport> {
                $name::adopt(self, chosen).await
            }

            fn export_sql(
                &self,
                features: $crate::Features,
            ) -> $crate::StoreResult<::std::string::String> {
                $name::export_sql(self, features)
            }

            fn export_sqlx(
                &self,
                features: $crate::Features,
                version_base: i64,
            ) -> $crate::StoreResult<::std::vec::Vec<$crate::migrate::ExportedMigration>> {
                $name::export_sqlx(self, features, version_base)
            }
        }
    };
}

/// Writes the migrator of a backend on a pool: the struct holding the pool
/// and the backend's migrations on a connection (`migrations`, a type with
/// the methods `render`, `status(conn, chosen)`, `plan(conn, chosen)`,
/// `apply(conn, chosen)`, `adopt(conn, chosen)`, `recorded(conn)`,
/// `export_sql` and `export_sqlx`, each taking `&pool` as the connection),
/// its inherent methods — `from_parts` (crate-private), `migrations`,
/// `render`, `status`, `plan`, `plan_sql`, `apply`, `adopt`, `export_sql`,
/// `export_sqlx`, `applied` — each documented and forwarding to the
/// migrations on the pool, and its [`SqlMigrator`](crate::migrate::SqlMigrator)
/// impl ([`impl_sql_migrator!`]). The backend adds its constructor and
/// accessors in an `impl` block of its own.
///
/// `$place` names what the migrator works on in the docs (`schema`,
/// `database`).
///
/// ```ignore
/// fullauth_api::pool_migrator! {
///     /// The migrator of one schema on a pool.
///     #[derive(Clone, Debug)]
///     pub struct PgMigrator {
///         pool: PgPool,
///         migrations: PgMigrations,
///     }
///     backend: "postgres",
///     migrations: &MIGRATIONS,
///     place: "schema",
/// }
/// ```
#[macro_export]
macro_rules! pool_migrator {
    (
        $(#[$meta:meta])*
        $vis:vis struct $name:ident {
            pool: $pool:ty,
            migrations: $migs:ident $(,)?
        }
        backend: $backend:literal,
        migrations: $list:expr,
        place: $place:literal $(,)?
    ) => {
        $(#[$meta])*
        $vis struct $name {
            pool: $pool,
            migrations: $migs,
        }

        impl $name {
            /// From a pool and migrations already made (the store's).
            pub(crate) fn from_parts(pool: $pool, migrations: $migs) -> Self {
                $name { pool, migrations }
            }

            #[doc = concat!(
                "The migrations of the ", $place, " without the pool (for the app's own \
                 connection, and the exports)."
            )]
            pub fn migrations(&self) -> &$migs {
                &self.migrations
            }

            #[doc = concat!("A migration's SQL as it runs on this ", $place, ".")]
            pub fn render(&self, migration: &$crate::migrate::Migration) -> ::std::string::String {
                self.migrations.render(migration)
            }

            #[doc = concat!(
                "See [`SqlMigrator::status`](fullauth_api::migrate::SqlMigrator::status) and \
                 [`", stringify!($migs), "::status`].\n\n\
                 # Errors\n\
                 As [`", stringify!($migs), "::status`]."
            )]
            pub async fn status(
                &self,
                chosen: $crate::Features,
            ) -> $crate::StoreResult<$crate::migrate::MigrationStatus> {
                self.migrations.status(&self.pool, chosen).await
            }

            #[doc = concat!(
                "See [`SqlMigrator::plan`](fullauth_api::migrate::SqlMigrator::plan) and \
                 [`", stringify!($migs), "::plan`].\n\n\
                 # Errors\n\
                 As [`", stringify!($migs), "::plan`]."
            )]
            pub async fn plan(
                &self,
                chosen: $crate::Features,
            ) -> $crate::StoreResult<::std::vec::Vec<$crate::migrate::Migration>> {
                self.migrations.plan(&self.pool, chosen).await
            }

            /// See [`SqlMigrator::plan_sql`](fullauth_api::migrate::SqlMigrator::plan_sql).
            ///
            /// # Errors
            /// As [`SqlMigrator::plan`](fullauth_api::migrate::SqlMigrator::plan).
            pub async fn plan_sql(
                &self,
                chosen: $crate::Features,
            ) -> $crate::StoreResult<::std::string::String> {
                $crate::migrate::SqlMigrator::plan_sql(self, chosen).await
            }

            #[doc = concat!(
                "See [`SqlMigrator::apply`](fullauth_api::migrate::SqlMigrator::apply) and \
                 [`", stringify!($migs), "::apply`] (how it runs on this backend).\n\n\
                 # Errors\n\
                 As [`", stringify!($migs), "::apply`]."
            )]
            pub async fn apply(
                &self,
                chosen: $crate::Features,
            ) -> $crate::StoreResult<::std::vec::Vec<::std::string::String>> {
                self.migrations.apply(&self.pool, chosen).await
            }

            #[doc = concat!(
                "See [`SqlMigrator::adopt`](fullauth_api::migrate::SqlMigrator::adopt) and \
                 [`", stringify!($migs), "::adopt`].\n\n\
                 # Errors\n\
                 As [`", stringify!($migs), "::adopt`]."
            )]
            pub async fn adopt(
                &self,
                chosen: $crate::Features,
            ) -> $crate::StoreResult<$crate::migrate::AdoptReport> {
                self.migrations.adopt(&self.pool, chosen).await
            }

            /// See [`SqlMigrator::export_sql`](fullauth_api::migrate::SqlMigrator::export_sql).
            ///
            /// # Errors
            /// As [`SqlMigrator::export_sql`](fullauth_api::migrate::SqlMigrator::export_sql).
            pub fn export_sql(
                &self,
                features: $crate::Features,
            ) -> $crate::StoreResult<::std::string::String> {
                self.migrations.export_sql(features)
            }

            /// See [`SqlMigrator::export_sqlx`](fullauth_api::migrate::SqlMigrator::export_sqlx).
            ///
            /// # Errors
            /// As [`SqlMigrator::export_sqlx`](fullauth_api::migrate::SqlMigrator::export_sqlx).
            pub fn export_sqlx(
                &self,
                features: $crate::Features,
                version_base: i64,
            ) -> $crate::StoreResult<::std::vec::Vec<$crate::migrate::ExportedMigration>> {
                self.migrations.export_sqlx(features, version_base)
            }

            #[doc = concat!(
                "The rows of `fullauth_schema_migrations` as stored (see [`",
                stringify!($migs), "::recorded`]).\n\n\
                 # Errors\n\
                 `Unavailable` when the server cannot be reached; backend errors."
            )]
            pub async fn applied(
                &self,
            ) -> $crate::StoreResult<::std::vec::Vec<$crate::migrate::AppliedMigration>> {
                self.migrations.recorded(&self.pool).await
            }
        }

        $crate::impl_sql_migrator!($name {
            backend: $backend,
            migrations: $list,
            render: |this, m| this.migrations.render(m),
        });
    };
}
