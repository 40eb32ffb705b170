//! fullauth's migrations among an app's own sqlx migrations, as the guide
//! of `fullauth_postgres::migrate` shows them: exported into the app's
//! migrations folder and run by sqlx's migrator (what `sqlx migrate run`
//! and `sqlx::migrate!` do), and applied in code between two sqlx migrators
//! inside one transaction of the app.

mod common;

use fullauth_api::migrate::{FeatureState, write_migration_files};
use fullauth_api::{Feature, Features, NewUser, UserStore};
use fullauth_postgres::{PgMigrations, PgStore};
use sqlx::migrate::{Migration, MigrationType, Migrator};
use sqlx::{PgPool, Row, SqlSafeStr};

struct Schema {
    pool: PgPool,
    name: String,
}

impl Schema {
    async fn new() -> Option<Schema> {
        let url = common::database_url()?;
        Some(Schema {
            pool: common::pool(&url, 4).await,
            name: common::fresh_schema_name(),
        })
    }

    fn quoted(&self) -> String {
        format!("\"{}\"", self.name.replace('"', "\"\""))
    }

    /// A sqlx migrator whose own table lives in the test schema.
    fn sqlx(&self, mut m: Migrator) -> Migrator {
        m.create_schema(self.quoted());
        m.dangerous_set_table_name(format!("{}._sqlx_migrations", self.quoted()));
        m
    }

    async fn columns(&self) -> Vec<String> {
        sqlx::query_scalar(
            "SELECT column_name::text FROM information_schema.columns \
             WHERE table_schema = $1 AND table_name = 'fullauth_users'",
        )
        .bind(&self.name)
        .fetch_all(&self.pool)
        .await
        .expect("columns")
    }

    async fn drop(self) {
        let _ = common::drop_schema(&self.pool, &self.name).await;
    }
}

#[tokio::test]
async fn exported_files_run_with_sqlx_among_the_apps_own() {
    let Some(s) = Schema::new().await else {
        return;
    };
    let q = s.quoted();
    let dir = std::env::temp_dir().join(format!("fullauth-sqlx-{}", uuid::Uuid::new_v4()));
    let ours = PgMigrations::new(s.name.clone()).unwrap();
    let files = ours
        .export_sqlx(Features::all(), 20_240_601_000_000)
        .unwrap();
    write_migration_files(&dir, &files).unwrap();
    // The app's own: one before fullauth's, one after (it alters
    // fullauth_users, so it needs fullauth's tables).
    std::fs::write(
        dir.join("20240101000000_app_settings.sql"),
        format!("CREATE SCHEMA IF NOT EXISTS {q};\nCREATE TABLE {q}.app_settings (key TEXT PRIMARY KEY, value TEXT);\n"),
    )
    .unwrap();
    std::fs::write(
        dir.join("20250101000000_display_name.sql"),
        format!("ALTER TABLE {q}.fullauth_users ADD COLUMN display_name TEXT;\n"),
    )
    .unwrap();

    let migrator = s.sqlx(Migrator::new(dir.as_path()).await.unwrap());
    migrator.run(&s.pool).await.expect("sqlx runs the folder");
    let status = ours.status(&s.pool, Features::all()).await.unwrap();
    assert!(status.is_up_to_date(), "{status:?}");
    assert!(s.columns().await.contains(&"display_name".to_string()));
    let (n,): (i64,) = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT count(*) FROM {q}._sqlx_migrations"
    )))
    .fetch_one(&s.pool)
    .await
    .unwrap();
    assert_eq!(n, 15);

    // A later export of the same migrations is byte for byte the same:
    // sqlx sees no checksum change and runs nothing.
    let again = ours
        .export_sqlx(Features::all(), 20_240_601_000_000)
        .unwrap();
    write_migration_files(&dir, &again).unwrap();
    let migrator = s.sqlx(Migrator::new(dir.as_path()).await.unwrap());
    migrator.run(&s.pool).await.expect("nothing to do");

    // The store serves the app's column.
    let store = PgStore::builder()
        .schema(s.name.clone())
        .from_pool(s.pool.clone())
        .unwrap();
    let u = store
        .create_user(
            NewUser::new("sqlx@example.test")
                .unwrap()
                .with_extra("display_name", "Ada")
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(
        u.extra_field::<String>("display_name").unwrap().as_deref(),
        Some("Ada")
    );
    let _ = std::fs::remove_dir_all(&dir);
    s.drop().await;
}

fn one(version: i64, description: &str, sql: String) -> Migrator {
    Migrator::with_migrations(vec![Migration::new(
        version,
        description.to_string().into(),
        MigrationType::Simple,
        sqlx::AssertSqlSafe(sql).into_sql_str(),
        false,
    )])
}

#[tokio::test]
async fn the_apps_sqlx_migrations_run_around_ours_in_one_transaction() {
    let Some(s) = Schema::new().await else {
        return;
    };
    let q = s.quoted();
    let mut before = s.sqlx(one(
        1,
        "app settings",
        format!("CREATE TABLE {q}.app_settings (key TEXT PRIMARY KEY, value TEXT)"),
    ));
    let mut after = s.sqlx(one(
        2,
        "display name",
        format!("ALTER TABLE {q}.fullauth_users ADD COLUMN display_name TEXT"),
    ));
    // Each migrator sees the other's version recorded.
    before.set_ignore_missing(true);
    after.set_ignore_missing(true);
    let core = Features::from(Feature::Core);

    // Rolled back: nothing of either remains.
    let mut tx = s.pool.begin().await.unwrap();
    before.run(&mut *tx).await.unwrap();
    PgMigrations::new(s.name.clone())
        .unwrap()
        .apply(&mut *tx, core)
        .await
        .unwrap();
    after.run(&mut *tx).await.unwrap();
    tx.rollback().await.unwrap();
    let status = PgMigrations::new(s.name.clone())
        .unwrap()
        .status(&s.pool, core)
        .await
        .unwrap();
    assert_eq!(
        status.feature(Feature::Core).map(|f| f.state),
        Some(FeatureState::Absent)
    );

    // Committed: all three.
    let mut tx = s.pool.begin().await.unwrap();
    before.run(&mut *tx).await.unwrap();
    let applied = PgMigrations::new(s.name.clone())
        .unwrap()
        .apply(&mut *tx, core)
        .await
        .unwrap();
    after.run(&mut *tx).await.unwrap();
    tx.commit().await.unwrap();
    assert_eq!(applied.len(), 3);
    assert!(s.columns().await.contains(&"display_name".to_string()));
    let versions: Vec<i64> = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT version FROM {q}._sqlx_migrations ORDER BY version"
    )))
    .fetch_all(&s.pool)
    .await
    .unwrap()
    .iter()
    .map(|r| r.get(0))
    .collect();
    assert_eq!(versions, [1, 2]);
    s.drop().await;
}
