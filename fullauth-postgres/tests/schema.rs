//! The schema the migrations create, compared through the catalog with the
//! reference DDL (fastapi-fullauth 0.18, Appendix A) run in another fresh
//! schema; migrating twice; adopting reference-made tables (0.18 and an
//! older layout); exporting; drift; two migrators at once.

mod common;

use fullauth_api::{Feature, Features, NewUser, UserStore};
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

fn durable() -> Features {
    Features::durable()
}

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

#[tokio::test]
async fn migrating_twice_is_a_no_op_and_features_can_be_added_later() {
    let Some(mut env) = Env::new().await else {
        return;
    };
    let schema = env.schema();
    let m = PgMigrator::new(env.pool.clone(), schema.clone()).unwrap();
    let core = Features::from(Feature::Core);
    assert_eq!(m.plan(core).await.unwrap().len(), 1);
    assert!(m.plan_sql(core).await.unwrap().contains("CREATE TABLE"));
    assert_eq!(m.apply(core).await.unwrap(), ["0001_core"]);
    assert!(m.apply(core).await.unwrap().is_empty());
    // Add a feature later: only its tables.
    let more = core.with(Feature::Roles).with(Feature::Permissions);
    assert_eq!(
        m.apply(more).await.unwrap(),
        ["0002_roles", "0003_permissions"]
    );
    let all = m.apply(Features::all()).await.unwrap();
    assert_eq!(all.len(), MIGRATIONS.len() - 3);
    assert!(m.apply(Features::all()).await.unwrap().is_empty());
    let status = m.status(Features::all()).await.unwrap();
    assert!(status.is_up_to_date(), "{status:?}");
    assert_eq!(status.applied.len(), MIGRATIONS.len());
    assert!(status.applied.iter().all(|a| !a.adopted));
    env.cleanup().await;
}

#[tokio::test]
async fn drift_is_reported_and_blocks_apply() {
    let Some(mut env) = Env::new().await else {
        return;
    };
    let schema = env.schema();
    let m = PgMigrator::new(env.pool.clone(), schema.clone()).unwrap();
    m.apply(durable()).await.unwrap();
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
        "UPDATE \"{schema}\".fullauth_schema_migrations SET checksum = 'edited' WHERE id = '0002_roles'"
    )))
    .execute(&env.pool)
    .await
    .unwrap();
    let status = m.status(Features::all()).await.unwrap();
    assert_eq!(status.drifted, ["0002_roles"]);
    assert!(!status.is_up_to_date());
    assert!(m.apply(Features::all()).await.is_err());
    env.cleanup().await;
}

#[tokio::test]
async fn adopt_reference_tables_records_them_and_adds_only_what_is_missing() {
    let Some(mut env) = Env::new().await else {
        return;
    };
    let adopted = env.schema();
    let ours = env.schema();
    run_in_schema(&env.pool, &adopted, REFERENCE_DDL).await;
    let m = PgMigrator::new(env.pool.clone(), adopted.clone()).unwrap();
    let report = m.adopt(Features::all()).await.unwrap();
    assert_eq!(
        report.adopted,
        [
            "0001_core",
            "0002_roles",
            "0003_permissions",
            "0004_oauth",
            "0005_passkeys",
            "0006_mfa"
        ]
    );
    assert_eq!(
        report.applied,
        [
            "0007_blacklist",
            "0008_lockout",
            "0009_rate_limit",
            "0010_challenges"
        ]
    );
    assert!(
        report.notes.is_empty(),
        "nothing to fix on 0.18 tables: {:?}",
        report.notes
    );
    let status = m.status(Features::all()).await.unwrap();
    assert!(status.is_up_to_date(), "{status:?}");
    assert!(status.applied.iter().filter(|a| a.adopted).count() == 6);
    // Adopting again changes nothing.
    let again = m.adopt(Features::all()).await.unwrap();
    assert!(again.adopted.is_empty() && again.applied.is_empty());

    PgMigrator::new(env.pool.clone(), ours.clone())
        .unwrap()
        .apply(Features::all())
        .await
        .unwrap();
    assert_eq!(
        catalog(&env.pool, &adopted, true).await,
        catalog(&env.pool, &ours, true).await
    );
    // And the store works on it.
    let store = PgStore::builder()
        .schema(adopted.clone())
        .from_pool(env.pool.clone())
        .unwrap();
    let u = store
        .create_user(NewUser::new(format!("adopt-{}@example.test", uuid::Uuid::new_v4())).unwrap())
        .await
        .unwrap();
    assert_eq!(store.get_user(&u.id).await.unwrap(), Some(u));
    env.cleanup().await;
}

/// A database made by an older release: no 0.17 indexes, no 0.14 session
/// columns, an OAuth table without its unique constraint and a foreign key
/// without ON DELETE CASCADE (SQLModel before 0.15).
#[tokio::test]
async fn adopt_older_layout_adds_indexes_columns_constraints_and_cascades() {
    let Some(mut env) = Env::new().await else {
        return;
    };
    let old = env.schema();
    let ours = env.schema();
    let ddl = REFERENCE_DDL
        .lines()
        .filter(|l| {
            !l.contains("ix_fullauth_refresh_tokens_user_id")
                && !l.contains("ix_fullauth_refresh_tokens_expires_at")
                && !l.contains("ix_fullauth_oauth_accounts_user_id")
                && !l.contains("user_agent VARCHAR")
                && !l.contains("ip_address VARCHAR")
                && !l.contains("CONSTRAINT uq_oauth_provider_user")
        })
        .collect::<Vec<_>>()
        .join("\n")
        .replace(
            "FOREIGN KEY(user_id) REFERENCES fullauth_users (id) ON DELETE CASCADE\n);\nCREATE UNIQUE INDEX ix_fullauth_passkeys",
            "FOREIGN KEY(user_id) REFERENCES fullauth_users (id)\n);\nCREATE UNIQUE INDEX ix_fullauth_passkeys",
        );
    run_in_schema(&env.pool, &old, &ddl).await;
    let m = PgMigrator::new(env.pool.clone(), old.clone()).unwrap();
    let report = m.adopt(durable()).await.unwrap();
    assert_eq!(report.adopted.len(), 6, "{report:?}");
    let notes = report.notes.join("\n");
    for expected in [
        "created the missing index ix_fullauth_refresh_tokens_user_id",
        "created the missing index ix_fullauth_refresh_tokens_expires_at",
        "created the missing index ix_fullauth_oauth_accounts_user_id",
        "added the missing column fullauth_refresh_tokens.user_agent",
        "added the missing column fullauth_refresh_tokens.ip_address",
        "added the missing constraint uq_oauth_provider_user",
        "recreated the foreign key fullauth_passkeys.user_id with ON DELETE CASCADE",
    ] {
        assert!(
            notes.contains(expected),
            "missing note `{expected}` in:\n{notes}"
        );
    }
    PgMigrator::new(env.pool.clone(), ours.clone())
        .unwrap()
        .apply(durable())
        .await
        .unwrap();
    // Same objects; the added columns come last, so positions differ.
    assert_eq!(
        catalog(&env.pool, &old, false).await,
        catalog(&env.pool, &ours, false).await
    );
    env.cleanup().await;
}

#[tokio::test]
async fn exported_sql_builds_the_same_schema_and_records_it() {
    let Some(mut env) = Env::new().await else {
        return;
    };
    let exported = env.schema();
    let ours = env.schema();
    let m = PgMigrator::new(env.pool.clone(), exported.clone()).unwrap();
    let script = m.export_sql(Features::all());
    sqlx::raw_sql(sqlx::AssertSqlSafe(script))
        .execute(&env.pool)
        .await
        .expect("the exported script runs");
    assert!(m.status(Features::all()).await.unwrap().is_up_to_date());
    PgMigrator::new(env.pool.clone(), ours.clone())
        .unwrap()
        .apply(Features::all())
        .await
        .unwrap();
    assert_eq!(
        catalog(&env.pool, &exported, true).await,
        catalog(&env.pool, &ours, true).await
    );
    env.cleanup().await;
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
    let expected: Vec<String> = MIGRATIONS.iter().map(|m| m.id.to_string()).collect();
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
