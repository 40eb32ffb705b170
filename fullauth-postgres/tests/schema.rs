//! The schema the migrations create, compared through the catalog with the
//! reference DDL (fastapi-fullauth 0.18, Appendix A) run in another fresh
//! schema, column positions included; the migrator suite's fixture against
//! that DDL; two migrators at once; quoted schema names. The migrator itself
//! is tested by the shared suite (`tests/migrator_suite.rs`).

mod common;

use fullauth_api::{Features, NewUser, UserStore};
use fullauth_postgres::sqlx::{self, PgPool, Row};
use fullauth_postgres::{MIGRATIONS, PgMigrator, PgStore};

const REFERENCE_DDL: &str = include_str!("fixtures/reference_0_18.sql");

const REFERENCE_TABLES: [&str; 10] = [
    "fullauth_users",
    "fullauth_refresh_tokens",
    "fullauth_roles",
    "fullauth_user_roles",
    "fullauth_permissions",
    "fullauth_role_permissions",
    "fullauth_oauth_accounts",
    "fullauth_passkeys",
    "fullauth_mfa",
    "fullauth_users",
];

/// Runs unqualified DDL inside `schema` (created here) on one connection.
async fn run_in_schema(pool: &PgPool, schema: &str, ddl: &str) {
    let mut c = pool.acquire().await.expect("connection");
    let sql = format!(
        "CREATE SCHEMA \"{schema}\"; SET search_path TO \"{schema}\";\n{ddl}\nRESET search_path;"
    );
    sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
        .execute(&mut *c)
        .await
        .expect("reference DDL runs");
}

/// Columns, indexes and constraints of the reference tables in `schema`,
/// with the schema name taken out, sorted.
async fn catalog(pool: &PgPool, schema: &str, with_position: bool) -> Vec<String> {
    let tables: Vec<String> = REFERENCE_TABLES.iter().map(|s| s.to_string()).collect();
    let mut out = Vec::new();
    for r in sqlx::query(
        "SELECT table_name::text, column_name::text, ordinal_position::int, data_type::text, \
                character_maximum_length::int, is_nullable::text, column_default::text \
         FROM information_schema.columns WHERE table_schema = $1 AND table_name = ANY($2)",
    )
    .bind(schema)
    .bind(&tables)
    .fetch_all(pool)
    .await
    .expect("columns")
    {
        let pos: i32 = r.get(2);
        out.push(format!(
            "column {}.{} {} {} {:?} nullable={} default={:?}",
            r.get::<String, _>(0),
            r.get::<String, _>(1),
            if with_position {
                pos.to_string()
            } else {
                String::new()
            },
            r.get::<String, _>(3),
            r.get::<Option<i32>, _>(4),
            r.get::<String, _>(5),
            r.get::<Option<String>, _>(6),
        ));
    }
    for r in sqlx::query(
        "SELECT tablename::text, indexname::text, indexdef::text FROM pg_indexes \
         WHERE schemaname = $1 AND tablename = ANY($2)",
    )
    .bind(schema)
    .bind(&tables)
    .fetch_all(pool)
    .await
    .expect("indexes")
    {
        out.push(format!(
            "index {} {} {}",
            r.get::<String, _>(0),
            r.get::<String, _>(1),
            r.get::<String, _>(2).replace(&format!("{schema}."), "")
        ));
    }
    for r in sqlx::query(
        "SELECT cl.relname::text, con.conname::text, con.contype::text, pg_get_constraintdef(con.oid) \
         FROM pg_constraint con JOIN pg_class cl ON cl.oid = con.conrelid \
         JOIN pg_namespace n ON n.oid = cl.relnamespace \
         WHERE n.nspname = $1 AND cl.relname = ANY($2)",
    )
    .bind(schema)
    .bind(&tables)
    .fetch_all(pool)
    .await
    .expect("constraints")
    {
        out.push(format!(
            "constraint {} {} {} {}",
            r.get::<String, _>(0),
            r.get::<String, _>(1),
            r.get::<String, _>(2),
            r.get::<String, _>(3).replace(&format!("{schema}."), "")
        ));
    }
    for r in sqlx::query(
        "SELECT c.relname::text, c.relpersistence::text FROM pg_class c \
         JOIN pg_namespace n ON n.oid = c.relnamespace \
         WHERE n.nspname = $1 AND c.relname = ANY($2) AND c.relkind = 'r'",
    )
    .bind(schema)
    .bind(&tables)
    .fetch_all(pool)
    .await
    .expect("tables")
    {
        out.push(format!(
            "table {} persistence={}",
            r.get::<String, _>(0),
            r.get::<String, _>(1)
        ));
    }
    out.sort();
    out
}

struct Env {
    url: String,
    pool: PgPool,
    schemas: Vec<String>,
}

impl Env {
    async fn new() -> Option<Env> {
        let url = common::database_url()?;
        let pool = common::pool(&url, 4).await;
        Some(Env {
            url,
            pool,
            schemas: Vec::new(),
        })
    }

    fn schema(&mut self) -> String {
        let s = common::fresh_schema_name();
        self.schemas.push(s.clone());
        s
    }

    async fn cleanup(self) {
        for s in &self.schemas {
            let _ = common::drop_schema(&self.pool, s).await;
        }
    }
}

#[tokio::test]
async fn migrations_create_exactly_the_reference_schema() {
    let Some(mut env) = Env::new().await else {
        return;
    };
    let ours = env.schema();
    let reference = env.schema();
    let applied = PgMigrator::new(env.pool.clone(), ours.clone())
        .unwrap()
        .apply(Features::all())
        .await
        .unwrap();
    assert_eq!(applied.len(), MIGRATIONS.len());
    run_in_schema(&env.pool, &reference, REFERENCE_DDL).await;
    let a = catalog(&env.pool, &ours, true).await;
    let b = catalog(&env.pool, &reference, true).await;
    assert!(a.len() > 60, "the catalog query found the tables: {a:#?}");
    assert_eq!(a, b, "migrated schema differs from the reference DDL");
    env.cleanup().await;
}

/// The migrator suite builds its fixtures from one template; its 0.18 is
/// this crate's copy of the reference DDL.
#[test]
fn the_suite_fixture_is_the_reference_ddl() {
    use fullauth_conformance::migrations::Dialect;
    use fullauth_conformance::migrations::fixtures::FastapiFullauth;
    let statements = |sql: &str| -> Vec<String> {
        sql.lines()
            .filter(|l| !l.trim().is_empty() && !l.trim_start().starts_with("--"))
            .map(str::to_string)
            .collect()
    };
    assert_eq!(
        statements(&FastapiFullauth::V0_18.ddl(Dialect::Postgres)),
        statements(REFERENCE_DDL)
    );
}

#[tokio::test]
async fn two_concurrent_migrators_apply_everything_exactly_once() {
    let Some(mut env) = Env::new().await else {
        return;
    };
    let schema = env.schema();
    let mut tasks = Vec::new();
    for _ in 0..4 {
        let pool = common::pool(&env.url, 1).await;
        let schema = schema.clone();
        tasks.push(tokio::spawn(async move {
            PgMigrator::new(pool, schema)
                .unwrap()
                .apply(Features::all())
                .await
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.unwrap().expect("every migrator succeeds"));
    }
    all.sort();
    let mut expected: Vec<String> = MIGRATIONS.iter().map(|m| m.id.to_string()).collect();
    expected.sort();
    assert_eq!(
        all, expected,
        "each migration applied by exactly one migrator"
    );
    env.cleanup().await;
}

#[tokio::test]
async fn schema_names_are_quoted_and_search_path_is_irrelevant() {
    let Some(mut env) = Env::new().await else {
        return;
    };
    let base = env.schema();
    let odd = format!("{base} \"Odd\"-Name");
    env.schemas.push(odd.clone());
    let store = PgStore::builder()
        .schema(odd.clone())
        .from_pool(env.pool.clone())
        .unwrap();
    store.migrate().await.unwrap();
    let u = store
        .create_user(NewUser::new("quoted@example.test").unwrap())
        .await
        .unwrap();
    assert_eq!(store.get_user(&u.id).await.unwrap(), Some(u));
    let n: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
        "SELECT count(*) FROM \"{}\".fullauth_users",
        odd.replace('"', "\"\"")
    )))
    .fetch_one(&env.pool)
    .await
    .unwrap();
    assert_eq!(n, 1);
    env.cleanup().await;
}
