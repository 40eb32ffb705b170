//! The whole conformance suite on a schema adopted from fastapi-fullauth
//! 0.13 (`FULLAUTH_TEST_DATABASE_URL`): the layout of a database that went
//! through old releases ([`FastapiFullauth::Legacy`]: the 0.13 refresh
//! tokens without `user_agent` / `ip_address`, the OAuth table without
//! `uq_oauth_provider_user`, a passkeys foreign key without `ON DELETE
//! CASCADE`, no 0.17 indexes, no `fullauth_mfa`), created by plain SQL as
//! fastapi-fullauth would, then adopted by the migrator, with the suite's
//! three app columns added afterwards (`display_name TEXT`, `newsletter
//! BOOLEAN`, `login_count INTEGER`, all nullable). Whatever the adoption
//! fails to bring up to the fresh schema (a missing cascade, a constraint)
//! shows up as a failing case here.
//!
//! One schema per test binary, made once (as `common::shared_schema` does
//! for the migrated one); each case gets its own manual clock and a store on
//! a small sqlx pool of its own (`from_pool`), so the whole suite also runs
//! on that path (`tests/conformance.rs` runs it on the store's own
//! connections).

mod common;

use std::sync::{Arc, OnceLock};

use fullauth_api::Features;
use fullauth_conformance::migrations::Dialect;
use fullauth_conformance::migrations::fixtures::FastapiFullauth;
use fullauth_conformance::{ColumnKind, Subject, conformance_tests};
use fullauth_postgres::PgStore;
use fullauth_postgres::sqlx;

/// One schema for this binary in the adopted 0.13 layout, with the app
/// columns ([`common::APP_COLUMNS`]).
fn adopted_schema(url: &str) -> &'static str {
    static SCHEMA: OnceLock<String> = OnceLock::new();
    SCHEMA.get_or_init(|| {
        let url = url.to_string();
        common::block_on_own_runtime(async move {
            let pool = common::pool(&url, 2).await;
            common::drop_stale_schemas(&pool).await;
            let schema = common::fresh_schema_name();
            let q = format!("\"{schema}\"");
            let ddl = FastapiFullauth::Legacy.ddl(Dialect::Postgres);
            let mut c = pool.acquire().await.expect("a connection");
            let script =
                format!("CREATE SCHEMA {q}; SET search_path TO {q};\n{ddl}\n;RESET search_path;");
            sqlx::raw_sql(sqlx::AssertSqlSafe(script))
                .execute(&mut *c)
                .await
                .expect("create the fastapi-fullauth 0.13 layout");
            drop(c);
            let store = PgStore::builder()
                .schema(schema.clone())
                .features(Features::all())
                .from_pool(pool.clone())
                .expect("open");
            let report = store
                .migrator()
                .adopt(Features::all())
                .await
                .expect("adopt the 0.13 schema");
            assert!(
                report
                    .adopted
                    .contains(&"core_0002_refresh_tokens".to_string()),
                "{report:?}"
            );
            let status = store
                .migrator()
                .status(Features::all())
                .await
                .expect("the migration status");
            assert!(status.is_up_to_date(), "{status:?}");
            let columns = common::APP_COLUMNS
                .iter()
                .map(|(name, ty)| format!("ADD COLUMN {name} {ty}"))
                .collect::<Vec<_>>()
                .join(", ");
            let sql = format!("ALTER TABLE {q}.fullauth_users {columns}");
            sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
                .execute(&pool)
                .await
                .expect("add the app columns");
            pool.close().await;
            schema
        })
    })
}

async fn subject() -> Option<Subject> {
    let url = common::database_url()?; // None: not configured here (a CI run panics instead)
    let schema = adopted_schema(&url);
    let clock = common::test_clock();
    let store = common::store_on_pool(&url, schema, clock.clone()).await;
    Some(
        Subject::new(Arc::new(store))
            .with_clock(clock)
            .with_app_column("display_name", ColumnKind::Text)
            .with_app_column("newsletter", ColumnKind::Boolean)
            .with_app_column("login_count", ColumnKind::Integer),
    )
}

conformance_tests!(subject);
