//! The schema the migrations create, compared through `information_schema`
//! with the reference DDL (fastapi-fullauth 0.18's SQLAlchemy models run by
//! `create_all` on MariaDB, `tests/fixtures/reference_0_18_mariadb.sql`) run
//! in another fresh database: columns with their positions, types, lengths,
//! nullability, defaults, character sets and collations; indexes with their
//! columns in order and uniqueness; foreign keys with their names, columns,
//! targets and ON DELETE / ON UPDATE rules; table engines. The comparison
//! allows exactly the three documented differences and nothing else; two
//! migrators at once; odd database names. The same comparison for integer
//! user keys, with the DDL SQLAlchemy emits for `UserSchema[int]` models
//! (`tests/fixtures/reference_0_18_mariadb_int.sql`).

mod common;

use fullauth_api::{Feature, Features, NewUser, StoreInfo, UserIdType, UserStore};
use fullauth_mysql::sqlx::{self, MySqlPool, Row};
use fullauth_mysql::{MIGRATIONS, MySqlMigrator, MySqlStore};

const REFERENCE_DDL: &str = include_str!("fixtures/reference_0_18_mariadb.sql");

/// The DDL SQLAlchemy emits on MariaDB for the reference's models declared
/// with integer user keys.
const REFERENCE_INT_DDL: &str = include_str!("fixtures/reference_0_18_mariadb_int.sql");

/// The durable tables (the reference's).
const REFERENCE_TABLES: [&str; 9] = [
    "fullauth_users",
    "fullauth_refresh_tokens",
    "fullauth_roles",
    "fullauth_user_roles",
    "fullauth_permissions",
    "fullauth_role_permissions",
    "fullauth_oauth_accounts",
    "fullauth_passkeys",
    "fullauth_mfa",
];

/// Columns, indexes, foreign keys and tables of the reference tables in
/// `database`, one line each, sorted.
async fn catalog(pool: &MySqlPool, database: &str) -> Vec<String> {
    let in_list = REFERENCE_TABLES
        .iter()
        .map(|t| format!("'{t}'"))
        .collect::<Vec<_>>()
        .join(", ");
    let mut out = Vec::new();
    let columns = format!(
        "SELECT CAST(TABLE_NAME AS CHAR), CAST(COLUMN_NAME AS CHAR), CAST(ORDINAL_POSITION AS CHAR), \
                CAST(COLUMN_TYPE AS CHAR), CAST(IS_NULLABLE AS CHAR), CAST(COLUMN_DEFAULT AS CHAR), \
                CAST(CHARACTER_SET_NAME AS CHAR), CAST(COLLATION_NAME AS CHAR), CAST(EXTRA AS CHAR) \
         FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = ? AND TABLE_NAME IN ({in_list})"
    );
    for r in sqlx::query(sqlx::AssertSqlSafe(columns))
        .bind(database)
        .fetch_all(pool)
        .await
        .expect("columns")
    {
        let s = |i: usize| r.get::<Option<String>, _>(i).unwrap_or_else(|| "-".into());
        out.push(format!(
            "column {}.{} #{} {} nullable={} default={} charset={} collation={} extra={}",
            s(0),
            s(1),
            s(2),
            s(3),
            s(4),
            s(5),
            s(6),
            s(7),
            s(8)
        ));
    }
    let indexes = format!(
        "SELECT CAST(TABLE_NAME AS CHAR), CAST(INDEX_NAME AS CHAR), CAST(NON_UNIQUE AS CHAR), \
                CAST(GROUP_CONCAT(COLUMN_NAME ORDER BY SEQ_IN_INDEX) AS CHAR) \
         FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = ? AND TABLE_NAME IN ({in_list}) \
         GROUP BY TABLE_NAME, INDEX_NAME, NON_UNIQUE"
    );
    for r in sqlx::query(sqlx::AssertSqlSafe(indexes))
        .bind(database)
        .fetch_all(pool)
        .await
        .expect("indexes")
    {
        out.push(format!(
            "index {}.{} non_unique={} ({})",
            r.get::<String, _>(0),
            r.get::<String, _>(1),
            r.get::<String, _>(2),
            r.get::<String, _>(3)
        ));
    }
    let fks = format!(
        "SELECT CAST(rc.TABLE_NAME AS CHAR), CAST(rc.CONSTRAINT_NAME AS CHAR), \
                CAST(GROUP_CONCAT(k.COLUMN_NAME ORDER BY k.ORDINAL_POSITION) AS CHAR), \
                CAST(rc.REFERENCED_TABLE_NAME AS CHAR), \
                CAST(GROUP_CONCAT(k.REFERENCED_COLUMN_NAME ORDER BY k.ORDINAL_POSITION) AS CHAR), \
                CAST(rc.DELETE_RULE AS CHAR), CAST(rc.UPDATE_RULE AS CHAR) \
         FROM information_schema.REFERENTIAL_CONSTRAINTS rc \
         JOIN information_schema.KEY_COLUMN_USAGE k \
           ON k.CONSTRAINT_SCHEMA = rc.CONSTRAINT_SCHEMA AND k.CONSTRAINT_NAME = rc.CONSTRAINT_NAME \
          AND k.TABLE_NAME = rc.TABLE_NAME \
         WHERE rc.CONSTRAINT_SCHEMA = ? AND rc.TABLE_NAME IN ({in_list}) \
         GROUP BY rc.TABLE_NAME, rc.CONSTRAINT_NAME, rc.REFERENCED_TABLE_NAME, rc.DELETE_RULE, \
                  rc.UPDATE_RULE"
    );
    for r in sqlx::query(sqlx::AssertSqlSafe(fks))
        .bind(database)
        .fetch_all(pool)
        .await
        .expect("foreign keys")
    {
        let s = |i: usize| r.get::<String, _>(i);
        out.push(format!(
            "foreign key {}.{} ({}) -> {} ({}) on delete {} on update {}",
            s(0),
            s(1),
            s(2),
            s(3),
            s(4),
            s(5),
            s(6)
        ));
    }
    let tables = format!(
        "SELECT CAST(TABLE_NAME AS CHAR), CAST(ENGINE AS CHAR), CAST(TABLE_COLLATION AS CHAR) \
         FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_NAME IN ({in_list})"
    );
    for r in sqlx::query(sqlx::AssertSqlSafe(tables))
        .bind(database)
        .fetch_all(pool)
        .await
        .expect("tables")
    {
        out.push(format!(
            "table {} engine={} collation={}",
            r.get::<String, _>(0),
            r.get::<String, _>(1),
            r.get::<String, _>(2)
        ));
    }
    out.sort();
    out
}

/// The reference catalog with the three documented differences applied:
/// `datetime` → `datetime(6)`, `text` → `mediumtext`, and the server's
/// default collation → `utf8mb4_nopad_bin` (columns and tables).
fn with_documented_differences(reference: &[String], server_collation: &str) -> Vec<String> {
    let mut out: Vec<String> = reference
        .iter()
        .map(|line| {
            line.replace(" datetime nullable=", " datetime(6) nullable=")
                .replace(" text nullable=", " mediumtext nullable=")
                .replace(
                    &format!("collation={server_collation}"),
                    "collation=utf8mb4_nopad_bin",
                )
        })
        .collect();
    out.sort();
    out
}

/// Runs the reference DDL (several statements) in `database`.
async fn run_reference(url: &str, database: &str) {
    run_ddl(url, database, REFERENCE_DDL).await;
}

/// Runs `ddl` (several statements) in `database`.
async fn run_ddl(url: &str, database: &str, ddl: &str) {
    let pool = common::database_pool(url, database, 1).await;
    sqlx::raw_sql(sqlx::AssertSqlSafe(ddl.to_string()))
        .execute(&pool)
        .await
        .expect("the reference DDL runs");
    pool.close().await;
}

struct Env {
    url: String,
    pool: MySqlPool,
    databases: Vec<String>,
}

impl Env {
    async fn new() -> Option<Env> {
        let url = common::database_url()?;
        let pool = common::pool(&url, 4).await;
        Some(Env {
            url,
            pool,
            databases: Vec::new(),
        })
    }

    async fn database(&mut self) -> String {
        let d = common::fresh_database_name();
        common::create_database(&self.pool, &d)
            .await
            .expect("create a database");
        self.databases.push(d.clone());
        d
    }

    async fn cleanup(self) {
        for d in &self.databases {
            let _ = common::drop_database(&self.pool, d).await;
        }
    }
}

#[tokio::test]
async fn migrations_create_the_reference_schema_with_the_documented_differences() {
    let Some(mut env) = Env::new().await else {
        return;
    };
    let ours = env.database().await;
    let reference = env.database().await;
    let applied = MySqlMigrator::new(env.pool.clone(), ours.clone())
        .unwrap()
        .apply(Features::all())
        .await
        .unwrap();
    assert_eq!(applied.len(), MIGRATIONS.len());
    run_reference(&env.url, &reference).await;
    let server_collation: String =
        sqlx::query_scalar("SELECT CAST(DEFAULT_COLLATION_NAME AS CHAR) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = ?")
            .bind(&reference)
            .fetch_one(&env.pool)
            .await
            .unwrap();
    let a = catalog(&env.pool, &ours).await;
    let b = catalog(&env.pool, &reference).await;
    assert!(a.len() > 80, "the catalog queries found the tables: {a:#?}");
    assert_ne!(a, b, "the documented differences are there");
    let expected = with_documented_differences(&b, &server_collation);
    let missing: Vec<_> = expected.iter().filter(|l| !a.contains(l)).collect();
    let extra: Vec<_> = a.iter().filter(|l| !expected.contains(l)).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "the migrated schema differs from the reference beyond the documented differences:\n\
         only in the reference: {missing:#?}\nonly in ours: {extra:#?}"
    );
    env.cleanup().await;
}

#[tokio::test]
async fn int_key_migrations_create_the_reference_int_schema_with_the_documented_differences() {
    let Some(mut env) = Env::new().await else {
        return;
    };
    let ours = env.database().await;
    let reference = env.database().await;
    let migrator = MySqlMigrator::new(env.pool.clone(), ours.clone())
        .unwrap()
        .user_id_type(UserIdType::Int);
    let applied = migrator.apply(Features::all()).await.unwrap();
    assert_eq!(applied.len(), MIGRATIONS.len());
    run_ddl(&env.url, &reference, REFERENCE_INT_DDL).await;
    let server_collation: String =
        sqlx::query_scalar("SELECT CAST(DEFAULT_COLLATION_NAME AS CHAR) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = ?")
            .bind(&reference)
            .fetch_one(&env.pool)
            .await
            .unwrap();
    let a = catalog(&env.pool, &ours).await;
    let b = catalog(&env.pool, &reference).await;
    assert!(a.len() > 80, "the catalog queries found the tables: {a:#?}");
    // The key columns as the fixture declares them: the users' id numbered
    // by the database, each user_id an INTEGER and first in its table.
    let has = |line: &str| {
        assert!(
            a.iter().any(|l| l.starts_with(line)),
            "{line} in the migrated catalog: {a:#?}"
        );
    };
    has(
        "column fullauth_users.id #1 int(11) nullable=NO default=- charset=- collation=- extra=auto_increment",
    );
    for table in [
        "fullauth_refresh_tokens",
        "fullauth_user_roles",
        "fullauth_oauth_accounts",
        "fullauth_passkeys",
        "fullauth_mfa",
    ] {
        has(&format!(
            "column {table}.user_id #1 int(11) nullable=NO default=- charset=- collation=- extra="
        ));
        has(&format!("column {table}.id #2 uuid nullable=NO").replace(
            "fullauth_user_roles.id #2 uuid",
            "fullauth_user_roles.role_id #2 uuid",
        ));
    }
    let expected = with_documented_differences(&b, &server_collation);
    let missing: Vec<_> = expected.iter().filter(|l| !a.contains(l)).collect();
    let extra: Vec<_> = a.iter().filter(|l| !expected.contains(l)).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "the integer-keyed schema differs from the reference beyond the documented \
         differences:\nonly in the reference: {missing:#?}\nonly in ours: {extra:#?}"
    );
    // The key type is recorded, and a store opened without one takes it
    // from the catalog and numbers its users.
    let described: String = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
        "SELECT CAST(description AS CHAR) FROM {}.fullauth_schema_migrations \
         WHERE id = 'core_0001_users'",
        common::quote(&ours)
    )))
    .fetch_one(&env.pool)
    .await
    .unwrap();
    assert!(described.ends_with(" (user ids: int)"), "{described}");
    let store = MySqlStore::builder()
        .database(ours.clone())
        .connect(&env.url)
        .await
        .unwrap();
    assert_eq!(store.user_id_type(), UserIdType::Int);
    let first = store
        .create_user(NewUser::new("first@example.com").unwrap())
        .await
        .unwrap();
    let second = store
        .create_user(NewUser::new("second@example.com").unwrap())
        .await
        .unwrap();
    let (Some(a), Some(b)) = (first.id.as_int(), second.id.as_int()) else {
        panic!("integer ids: {first:?} {second:?}");
    };
    assert!(a > 0 && b > a, "{a} then {b}");
    assert_eq!(store.get_user(&second.id).await.unwrap(), Some(second));
    store.pool().close().await;
    env.cleanup().await;
}

/// A database the Python library made for integer keys is adopted by an
/// integer migrator (its tables compared with the integer-keyed specs,
/// widened as every adopted database is) and served afterwards; a UUID
/// migrator refuses it before writing anything, both to adopt and to apply.
#[tokio::test]
async fn an_integer_keyed_python_database_is_adopted_for_integer_keys_only() {
    let Some(mut env) = Env::new().await else {
        return;
    };
    let database = env.database().await;
    run_ddl(&env.url, &database, REFERENCE_INT_DDL).await;
    let uuid = MySqlMigrator::new(env.pool.clone(), database.clone()).unwrap();
    let e = uuid.adopt(Features::durable()).await.unwrap_err();
    let text = e.to_string();
    assert!(
        text.contains("fullauth_users") && text.contains("INTEGER"),
        "{text}"
    );
    let tracked: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM information_schema.TABLES \
         WHERE TABLE_SCHEMA = ? AND TABLE_NAME = 'fullauth_schema_migrations'",
    )
    .bind(&database)
    .fetch_one(&env.pool)
    .await
    .unwrap();
    assert_eq!(tracked, 0, "nothing written by the refusals");
    let int = uuid.user_id_type(UserIdType::Int);
    let report = int.adopt(Features::all()).await.unwrap();
    assert!(
        report.adopted.iter().any(|id| id == "core_0001_users"),
        "{report:?}"
    );
    assert!(int.status(Features::all()).await.unwrap().is_up_to_date());
    let store = MySqlStore::builder()
        .database(database.clone())
        .connect(&env.url)
        .await
        .unwrap();
    assert_eq!(store.user_id_type(), UserIdType::Int);
    let user = store
        .create_user(NewUser::new("adopted@example.com").unwrap())
        .await
        .unwrap();
    assert_eq!(user.id.as_int(), Some(1));
    store.pool().close().await;
    // Applying UUID-keyed tables next to integer-keyed users is refused
    // before anything runs.
    let other = env.database().await;
    let int = MySqlMigrator::new(env.pool.clone(), other.clone())
        .unwrap()
        .user_id_type(UserIdType::Int);
    int.apply(Features::from(Feature::Core)).await.unwrap();
    let uuid = MySqlMigrator::new(env.pool.clone(), other.clone()).unwrap();
    let e = uuid
        .apply(Features::from(Feature::Core).with(Feature::Roles))
        .await
        .unwrap_err();
    let text = e.to_string();
    assert!(text.contains("user ids are integer"), "{text}");
    assert!(text.contains("opened for UUID user ids"), "{text}");
    let roles: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM information_schema.TABLES \
         WHERE TABLE_SCHEMA = ? AND TABLE_NAME = 'fullauth_roles'",
    )
    .bind(&other)
    .fetch_one(&env.pool)
    .await
    .unwrap();
    assert_eq!(roles, 0, "nothing applied");
    env.cleanup().await;
}

/// The migrator suite builds its MariaDB fixtures from one template (the
/// DDL text SQLAlchemy emits); its 0.18 makes the same catalog as the dump
/// of the database `create_all` made.
#[tokio::test]
async fn the_suite_fixture_makes_the_reference_catalog() {
    use fullauth_conformance::migrations::Dialect;
    use fullauth_conformance::migrations::fixtures::FastapiFullauth;
    let Some(mut env) = Env::new().await else {
        return;
    };
    let from_suite = env.database().await;
    let reference = env.database().await;
    let pool = common::database_pool(&env.url, &from_suite, 1).await;
    sqlx::raw_sql(sqlx::AssertSqlSafe(
        FastapiFullauth::V0_18.ddl(Dialect::MariaDb),
    ))
    .execute(&pool)
    .await
    .expect("the suite's fixture runs");
    pool.close().await;
    run_reference(&env.url, &reference).await;
    let a = catalog(&env.pool, &from_suite).await;
    assert!(a.len() > 80, "the catalog queries found the tables: {a:#?}");
    assert_eq!(a, catalog(&env.pool, &reference).await);
    env.cleanup().await;
}

#[tokio::test]
async fn concurrent_migrators_apply_everything_exactly_once() {
    let Some(mut env) = Env::new().await else {
        return;
    };
    let database = env.database().await;
    let mut tasks = Vec::new();
    for _ in 0..4 {
        let pool = common::pool(&env.url, 1).await;
        let database = database.clone();
        tasks.push(tokio::spawn(async move {
            MySqlMigrator::new(pool, database)
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
async fn database_names_are_quoted_and_the_connection_database_is_irrelevant() {
    let Some(mut env) = Env::new().await else {
        return;
    };
    let base = common::fresh_database_name();
    let odd = format!("{base}`Odd`-Nm");
    common::create_database(&env.pool, &odd)
        .await
        .expect("create the odd database");
    env.databases.push(odd.clone());
    // The pool's connections are in the URL's database, not in `odd`.
    let store = MySqlStore::builder()
        .database(odd.clone())
        .from_pool(env.pool.clone())
        .unwrap();
    store.migrate().await.unwrap();
    let u = store
        .create_user(NewUser::new("quoted@example.test").unwrap())
        .await
        .unwrap();
    assert_eq!(store.get_user(&u.id).await.unwrap(), Some(u));
    let n: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
        "SELECT COUNT(*) FROM {}.fullauth_users",
        common::quote(&odd)
    )))
    .fetch_one(&env.pool)
    .await
    .unwrap();
    assert_eq!(n, 1);
    env.cleanup().await;
}
