//! The schema the migrations create, compared through the catalog with the
//! reference DDL (fastapi-fullauth 0.18, Appendix A) run in another fresh
//! schema, column positions included — for UUID user keys and, with the DDL
//! SQLAlchemy emits for `UserSchema[int]` and `UserSchema[str]`, for integer
//! and text keys (the `SERIAL` sequence included); the migrator suite's
//! fixture against that DDL; two migrators at once; quoted schema names. The
//! migrator itself is tested by the shared suite (`tests/migrator_suite.rs`).

mod common;

use fullauth_api::{Features, NewUser, StoreInfo, UserIdType, UserStore};
use fullauth_postgres::sqlx::{self, PgPool};
use fullauth_postgres::{MIGRATIONS, PgMigrator, PgStore};

const REFERENCE_DDL: &str = include_str!("fixtures/reference_0_18.sql");
/// The reference DDL for `UserSchema[int]` (SQLAlchemy 2.1.9 `create_all`).
const REFERENCE_INT_DDL: &str = include_str!("fixtures/reference_0_18_int.sql");
/// The reference DDL for `UserSchema[str]`.
const REFERENCE_TEXT_DDL: &str = include_str!("fixtures/reference_0_18_text.sql");

#[path = "common/catalog.rs"]
mod catalog;
use catalog::{catalog, run_in_schema};

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

/// With integer and text user keys, the migrations create what
/// fastapi-fullauth's models create for `UserSchema[int]` and
/// `UserSchema[str]`: the key columns retyped (`SERIAL`, whose sequence
/// belongs to `fullauth_users.id`; `VARCHAR`), every `user_id` first in its
/// table, all else as for UUID keys. The key type is recorded in the
/// description of `core_0001_users`, the checksums stay those of the
/// migrations as written (no drift for a migrator of either key type), and a
/// store opened with nothing set takes the key type from the catalog.
#[tokio::test]
async fn migrations_for_integer_and_text_keys_create_exactly_the_reference_schema() {
    let Some(mut env) = Env::new().await else {
        return;
    };
    for (key, ddl, id_line) in [
        (
            UserIdType::Int,
            REFERENCE_INT_DDL,
            "column fullauth_users.id 1 integer None nullable=NO \
             default=Some(\"nextval('fullauth_users_id_seq'::regclass)\")",
        ),
        (
            UserIdType::Text,
            REFERENCE_TEXT_DDL,
            "column fullauth_users.id 1 character varying None nullable=NO default=None",
        ),
    ] {
        let ours = env.schema();
        let reference = env.schema();
        let migrator = PgMigrator::new(env.pool.clone(), ours.clone())
            .unwrap()
            .user_id_type(key);
        let applied = migrator.apply(Features::all()).await.unwrap();
        assert_eq!(applied.len(), MIGRATIONS.len());
        run_in_schema(&env.pool, &reference, ddl).await;
        let a = catalog(&env.pool, &ours, true).await;
        let b = catalog(&env.pool, &reference, true).await;
        assert!(a.len() > 60, "the catalog query found the tables: {a:#?}");
        assert_eq!(a, b, "{key} schema differs from the reference DDL");
        assert!(a.iter().any(|l| l == id_line), "{key}: {a:#?}");
        let first_user_id = format!(
            "column fullauth_mfa.user_id 1 {}",
            if key == UserIdType::Int {
                "integer"
            } else {
                "character varying"
            }
        );
        assert!(
            a.iter().any(|l| l.starts_with(&first_user_id)),
            "{key}: {a:#?}"
        );
        let sequences: Vec<&String> = a.iter().filter(|l| l.starts_with("sequence")).collect();
        if key == UserIdType::Int {
            assert_eq!(
                sequences,
                ["sequence fullauth_users_id_seq as integer owned by fullauth_users.id (a)"]
            );
        } else {
            assert!(sequences.is_empty(), "{sequences:?}");
        }

        // Recorded with the key type, under the checksums as written.
        let recorded = migrator.applied().await.unwrap();
        assert_eq!(recorded.len(), MIGRATIONS.len());
        for r in &recorded {
            let m = MIGRATIONS.iter().find(|m| m.id == r.id).unwrap();
            assert_eq!(r.checksum, m.checksum(), "{}", r.id);
        }
        let description: Option<String> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "SELECT description FROM \"{ours}\".fullauth_schema_migrations \
             WHERE id = 'core_0001_users'"
        )))
        .fetch_one(&env.pool)
        .await
        .unwrap();
        assert_eq!(
            description.as_deref(),
            Some(format!("{} (user ids: {key})", MIGRATIONS[0].description).as_str())
        );
        for m in [
            migrator.clone(),
            PgMigrator::new(env.pool.clone(), ours.clone()).unwrap(),
        ] {
            let status = m.status(Features::all()).await.unwrap();
            assert!(
                status.is_up_to_date() && status.drifted.is_empty(),
                "{status:?}"
            );
        }

        // A store with nothing set serves the key type it finds.
        let store = PgStore::builder()
            .schema(ours.clone())
            .connect(&env.url)
            .await
            .unwrap();
        assert_eq!(store.user_id_type(), key);
        let u = store
            .create_user(NewUser::new(format!("{key}@example.test")).unwrap())
            .await
            .unwrap();
        assert_eq!(u.id.id_type(), key);
        assert_eq!(store.get_user(&u.id).await.unwrap(), Some(u));
    }
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

/// A database fastapi-fullauth made for `UserSchema[int]` / `UserSchema[str]`
/// (the reference DDL, with a user, a role and its link written as the
/// Python app writes them) is adopted by a migrator of that key type with
/// nothing to note; a store with nothing set then finds the key type and
/// serves the app's rows and new ones. A migrator of another key type
/// refuses it and writes nothing.
#[tokio::test]
async fn integer_and_text_keyed_reference_databases_are_adopted_and_served() {
    use fullauth_api::migrate::MigrationRefusal;
    use fullauth_api::{NewRefreshToken, RefreshTokenStore, RoleName, RoleStore};

    let Some(mut env) = Env::new().await else {
        return;
    };
    for (key, ddl) in [
        (UserIdType::Int, REFERENCE_INT_DDL),
        (UserIdType::Text, REFERENCE_TEXT_DDL),
    ] {
        let schema = env.schema();
        run_in_schema(&env.pool, &schema, ddl).await;
        // The Python app's rows: the database numbers an integer key, the
        // app gives a text key (its models default to uuid4().hex).
        let q = format!("\"{schema}\"");
        let (id_column, id_value) = match key {
            UserIdType::Int => ("", String::new()),
            _ => ("id, ", "'0a1b2c3d4e5f60718293a4b5c6d7e8f9', ".to_string()),
        };
        let app_id: String = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "INSERT INTO {q}.fullauth_users ({id_column}email, hashed_password, is_active, \
             is_verified, is_superuser, created_at) \
             VALUES ({id_value}'python@example.test', NULL, true, true, false, now()) \
             RETURNING id::text"
        )))
        .fetch_one(&env.pool)
        .await
        .unwrap();
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
            "INSERT INTO {q}.fullauth_roles (id, name) \
             VALUES ('0190a5f4-0000-7000-8000-000000000001', 'admin'); \
             INSERT INTO {q}.fullauth_user_roles (user_id, role_id) \
             VALUES ('{app_id}', '0190a5f4-0000-7000-8000-000000000001');"
        )))
        .execute(&env.pool)
        .await
        .unwrap();
        let before = catalog(&env.pool, &schema, true).await;

        // Other key types are refused, and nothing is written.
        for other in UserIdType::ALL.into_iter().filter(|t| *t != key) {
            let e = PgMigrator::new(env.pool.clone(), schema.clone())
                .unwrap()
                .user_id_type(other)
                .adopt(Features::all())
                .await
                .unwrap_err();
            match MigrationRefusal::of(&e) {
                Some(MigrationRefusal::Incompatible {
                    table,
                    column,
                    found,
                    expected,
                }) => {
                    assert_eq!((table.as_str(), column.as_str()), ("fullauth_users", "id"));
                    let want = if key == UserIdType::Int {
                        "INTEGER"
                    } else {
                        "VARCHAR"
                    };
                    assert_eq!(found, want);
                    assert_ne!(expected, want);
                }
                other => panic!("{key} adopted for another key type: {other:?} ({e})"),
            }
            let tracking: Option<String> = sqlx::query_scalar("SELECT to_regclass($1)::text")
                .bind(format!("{q}.fullauth_schema_migrations"))
                .fetch_one(&env.pool)
                .await
                .unwrap();
            assert_eq!(tracking, None, "nothing is written");
        }

        // Adopted by a store built for the key type: nothing to note.
        let store = PgStore::builder()
            .schema(schema.clone())
            .user_id_type(key)
            .from_pool(env.pool.clone())
            .unwrap();
        let report = store.migrator().adopt(Features::all()).await.unwrap();
        assert!(report.notes.is_empty(), "{key}: {:?}", report.notes);
        let durable: Vec<String> = MIGRATIONS
            .iter()
            .filter(|m| !m.feature.is_short_lived())
            .map(|m| m.id.to_string())
            .collect();
        assert_eq!(report.adopted, durable, "{report:?}");
        assert_eq!(report.applied.len(), MIGRATIONS.len() - durable.len());
        assert!(
            store
                .migrator()
                .status(Features::all())
                .await
                .unwrap()
                .is_up_to_date()
        );
        assert_eq!(
            catalog(&env.pool, &schema, true).await,
            before,
            "adopting changed the reference tables"
        );

        // Served by a store with nothing set: the app's rows, and new ones.
        let store = PgStore::builder()
            .schema(schema.clone())
            .connect(&env.url)
            .await
            .unwrap();
        assert_eq!(store.user_id_type(), key);
        let app_user_id = key.parse(&app_id).unwrap();
        let app_user = store.get_user(&app_user_id).await.unwrap().unwrap();
        assert_eq!(app_user.email.as_str(), "python@example.test");
        assert_eq!(
            store.get_user_roles(&app_user_id).await.unwrap(),
            [RoleName::new("admin").unwrap()]
        );
        let token = store
            .store_refresh_token(NewRefreshToken {
                digest: fullauth_api::TokenDigest::of(&format!("a refresh token of {schema}")),
                user_id: app_user_id.clone(),
                family_id: fullauth_api::FamilyId::generate(),
                expires_at: fullauth_api::Timestamp::now()
                    .checked_add(std::time::Duration::from_secs(3600))
                    .unwrap(),
                client: fullauth_api::ClientInfo::default(),
            })
            .await
            .unwrap();
        assert_eq!(token.user_id, app_user_id);
        let new = store
            .create_user(NewUser::new("rust@example.test").unwrap())
            .await
            .unwrap();
        assert_eq!(new.id.id_type(), key);
        assert_ne!(new.id, app_user_id);
        assert!(
            store
                .assign_role(&new.id, &RoleName::new("admin").unwrap())
                .await
                .unwrap()
        );
        assert!(store.delete_user(&app_user_id).await.unwrap());
        assert_eq!(store.get_refresh_token(&token.digest).await.unwrap(), None);
    }
    env.cleanup().await;
}
