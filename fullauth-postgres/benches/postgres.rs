//! The PostgreSQL backend's hot operations against the same statements run
//! straight on one sqlx connection, one task (`cargo bench -p
//! fullauth-postgres`, with `FULLAUTH_TEST_DATABASE_URL` set; without it
//! the benches say so and measure nothing). Each operation has a `store_*`
//! and a `raw_*` bench in one schema of the run's own (dropped at the end):
//! the store on its own connections (at most one), the raw side on a
//! `PgConnection` with no pool, both with their statements prepared and
//! cached, so their ratio is the cost of the store layer.

use std::cell::RefCell;
use std::str::FromStr as _;
use std::sync::OnceLock;

use divan::Bencher;
use fullauth_api::{
    NewUser, PermissionStore, RefreshTokenStore, Rotation, Timestamp, TokenDigest, UserId,
    UserStore,
};
use fullauth_conformance::fixtures::{self, digest, in_an_hour as later, next_token, token};
use fullauth_postgres::PgStore;
use fullauth_postgres::hot_sql::{CREATE_USER, GET_USER, REVOKE, ROTATE, USER_PERMISSIONS};
use fullauth_postgres::sqlx::postgres::PgConnectOptions;
use fullauth_postgres::sqlx::{self, AssertSqlSafe, ConnectOptions as _, PgConnection, Row as _};
use time::OffsetDateTime;
use tokio::runtime::Runtime;

/// The run's schema, made by the first bench that needs it.
static SCHEMA: OnceLock<String> = OnceLock::new();

fn url() -> Option<String> {
    std::env::var("FULLAUTH_TEST_DATABASE_URL")
        .ok()
        .filter(|u| !u.is_empty())
}

fn main() {
    if url().is_none() {
        eprintln!("FULLAUTH_TEST_DATABASE_URL is not set: no PostgreSQL to measure");
        return;
    }
    divan::main();
    if let (Some(url), Some(schema)) = (url(), SCHEMA.get()) {
        runtime().block_on(async {
            if let Ok(mut c) = connect(&url).await {
                let sql = format!("DROP SCHEMA IF EXISTS \"{schema}\" CASCADE");
                let _ = sqlx::raw_sql(AssertSqlSafe(sql)).execute(&mut c).await;
            }
        });
    }
}

fn runtime() -> Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime")
}

async fn connect(url: &str) -> Result<PgConnection, sqlx::Error> {
    PgConnectOptions::from_str(url)?
        .application_name("fullauth_bench")
        .connect()
        .await
}

/// A store and a raw connection on the run's schema, with 1 000 more users
/// ([`fixtures::seed`]).
struct Fixture {
    rt: Runtime,
    store: PgStore,
    raw: PgConnection,
    users: Vec<UserId>,
    schema: String,
}

const USERS: usize = 1_000;

fn fixture() -> Fixture {
    let rt = runtime();
    let url = url().expect("checked in main");
    let (store, raw, users, schema) = rt.block_on(async {
        let schema = SCHEMA
            .get_or_init(|| format!("fullauth_bench_{}", uuid::Uuid::new_v4().simple()))
            .clone();
        let store = PgStore::builder()
            .schema(schema.clone())
            .max_connections(1)
            .application_name("fullauth_bench")
            .migrate(true)
            .connect(&url)
            .await
            .expect("connect and migrate");
        let raw = connect(&url).await.expect("a raw connection");
        let users = fixtures::seed(&store, USERS).await.expect("seed");
        (store, raw, users, schema)
    });
    Fixture {
        rt,
        store,
        raw,
        users,
        schema,
    }
}

impl Fixture {
    /// A store statement template with the schema put in.
    fn sql(&self, template: &str) -> String {
        template.replace("{s}", &format!("\"{}\"", self.schema))
    }
}

fn uuid_of(id: UserId) -> uuid::Uuid {
    id.as_uuid().expect("a uuid")
}

#[divan::bench(sample_count = 50)]
fn store_get_user(b: Bencher) {
    let f = fixture();
    let id = f.users[7].clone();
    b.bench_local(|| f.rt.block_on(f.store.get_user(&id)).expect("get"));
}

#[divan::bench(sample_count = 50)]
fn raw_get_user(b: Bencher) {
    let mut f = fixture();
    let (id, sql) = (uuid_of(f.users[7].clone()), f.sql(GET_USER));
    b.bench_local(|| {
        f.rt.block_on(async {
            let c = &mut f.raw;
            let row = sqlx::query(AssertSqlSafe(sql.as_str()))
                .bind(id)
                .fetch_optional(&mut *c)
                .await
                .expect("get")
                .expect("a row");
            let _: (uuid::Uuid, String, bool, bool, bool, OffsetDateTime) = (
                row.get(0),
                row.get(1),
                row.get(2),
                row.get(3),
                row.get(4),
                row.get(5),
            );
        })
    });
}

#[divan::bench(sample_count = 50)]
fn store_user_permissions(b: Bencher) {
    let f = fixture();
    let id = f.users[7].clone();
    b.bench_local(|| {
        f.rt.block_on(f.store.get_user_permissions(&id))
            .expect("permissions")
    });
}

#[divan::bench(sample_count = 50)]
fn raw_user_permissions(b: Bencher) {
    let mut f = fixture();
    let (id, sql) = (uuid_of(f.users[7].clone()), f.sql(USER_PERMISSIONS));
    b.bench_local(|| {
        f.rt.block_on(async {
            let c = &mut f.raw;
            sqlx::query_scalar::<_, String>(AssertSqlSafe(sql.as_str()))
                .bind(id)
                .fetch_all(&mut *c)
                .await
                .expect("permissions")
        })
    });
}

#[divan::bench(sample_count = 50)]
fn store_create_user(b: Bencher) {
    let f = fixture();
    b.bench_local(|| {
        let email = format!("s-{}@example.com", uuid::Uuid::new_v4().simple());
        f.rt.block_on(f.store.create_user(NewUser::new(email).expect("email")))
            .expect("create")
    });
}

#[divan::bench(sample_count = 50)]
fn raw_create_user(b: Bencher) {
    let mut f = fixture();
    let sql = f.sql(CREATE_USER);
    b.bench_local(|| {
        let email = format!("r-{}@example.com", uuid::Uuid::new_v4().simple());
        f.rt.block_on(async {
            let c = &mut f.raw;
            let row = sqlx::query(AssertSqlSafe(sql.as_str()))
                .bind(uuid::Uuid::now_v7())
                .bind(email.as_str())
                .bind(None::<&str>)
                .bind(true)
                .bind(false)
                .bind(false)
                .bind(OffsetDateTime::now_utc())
                .fetch_one(&mut *c)
                .await
                .expect("create");
            let _: Option<uuid::Uuid> = row.get(0);
        })
    });
}

/// A live token to revoke (made outside the timed part).
fn live_token(rt: &Runtime, store: &PgStore, user: UserId) -> TokenDigest {
    rt.block_on(store.store_refresh_token(token(user)))
        .expect("store")
        .digest
}

#[divan::bench(sample_count = 50)]
fn store_revoke(b: Bencher) {
    let f = fixture();
    b.with_inputs(|| live_token(&f.rt, &f.store, f.users[0].clone()))
        .bench_local_values(|d| {
            f.rt.block_on(f.store.revoke_refresh_token(&d))
                .expect("revoke")
        });
}

#[divan::bench(sample_count = 50)]
fn raw_revoke(b: Bencher) {
    let mut f = fixture();
    let sql = f.sql(REVOKE);
    b.with_inputs(|| live_token(&f.rt, &f.store, f.users[0].clone()))
        .bench_local_values(|d| {
            f.rt.block_on(async {
                let c = &mut f.raw;
                sqlx::query(AssertSqlSafe(sql.as_str()))
                    .bind(d.as_str())
                    .execute(&mut *c)
                    .await
                    .expect("revoke")
                    .rows_affected()
            })
        });
}

#[divan::bench(sample_count = 50)]
fn store_rotate(b: Bencher) {
    let f = fixture();
    let head = RefCell::new(live_token(&f.rt, &f.store, f.users[0].clone()));
    b.bench_local(|| {
        let next = next_token();
        let old = head.replace(next.digest.clone());
        match f
            .rt
            .block_on(f.store.rotate_refresh_token(&old, next))
            .expect("rotate")
        {
            Rotation::Rotated(_) => {}
            other => panic!("not rotated: {other:?}"),
        }
    });
}

#[divan::bench(sample_count = 50)]
fn raw_rotate(b: Bencher) {
    let mut f = fixture();
    let head = RefCell::new(live_token(&f.rt, &f.store, f.users[0].clone()));
    let sql = f.sql(ROTATE);
    b.bench_local(|| {
        let new = digest();
        let old = head.replace(new.clone());
        f.rt.block_on(async {
            let c = &mut f.raw;
            let row = sqlx::query(AssertSqlSafe(sql.as_str()))
                .bind(old.as_str())
                .bind(uuid::Uuid::now_v7())
                .bind(new.as_str())
                .bind(later().to_datetime())
                .bind(None::<&str>)
                .bind(None::<&str>)
                .bind(Timestamp::now().to_datetime())
                .fetch_one(&mut *c)
                .await
                .expect("rotate");
            let inserted: Option<uuid::Uuid> = row.get(7);
            assert!(inserted.is_some(), "rotated");
        })
    });
}
