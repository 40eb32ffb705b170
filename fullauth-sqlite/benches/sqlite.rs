//! The SQLite backend's hot operations against the same statements run
//! straight on rusqlite (every write between `BEGIN IMMEDIATE` and `COMMIT`,
//! as the store runs it), one task (`cargo bench -p fullauth-sqlite`). Each
//! operation has a `store_*` and a `raw_*` bench on the same database file
//! (WAL, `synchronous = NORMAL`, foreign keys on), so their ratio is the
//! cost of the store: its async API, its locks, its transactions and its
//! typed, checked answers. The store's calls are driven on a current-thread
//! Tokio runtime, as an application would make them; the raw side runs on
//! one connection on the bench thread, with no async and no pool.

use std::cell::{Cell, RefCell};

use divan::Bencher;
use fullauth_api::{
    FamilyId, Features, NewUser, PermissionStore, RefreshTokenStore, Rotation, Timestamp,
    TokenDigest, UserId, UserStore,
};
use fullauth_conformance::fixtures::{self, digest, in_an_hour as later, next_token, token};
use fullauth_sqlite::rusqlite::{Connection, params};
use fullauth_sqlite::{SqliteStore, hot_sql};
use tokio::runtime::Runtime;

fn main() {
    divan::main();
}

/// A migrated temporary database seeded with 1 000 users
/// ([`fixtures::seed`]), the store on it and a raw connection to the same
/// file.
struct Fixture {
    rt: Runtime,
    store: SqliteStore,
    raw: Connection,
    users: Vec<UserId>,
}

const USERS: usize = 1_000;

fn fixture() -> Fixture {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    let (store, users) = rt.block_on(async {
        let store = SqliteStore::builder().open_temporary().await.expect("open");
        store
            .migrator()
            .apply(Features::all())
            .await
            .expect("migrate");
        let users = fixtures::seed(&store, USERS).await.expect("seed");
        (store, users)
    });
    let raw = Connection::open(store.path()).expect("a raw connection");
    raw.execute_batch("PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON;")
        .expect("pragmas");
    Fixture {
        rt,
        store,
        raw,
        users,
    }
}

/// Runs a cached statement without parameters, as the store runs its
/// `BEGIN IMMEDIATE` and `COMMIT`.
fn exec(c: &Connection, sql: &str) {
    c.prepare_cached(sql)
        .expect("prepare")
        .execute([])
        .expect(sql);
}

/// `f` between `BEGIN IMMEDIATE` and `COMMIT`, as the store runs every write.
fn in_transaction<T>(c: &Connection, f: impl FnOnce(&Connection) -> T) -> T {
    exec(c, "BEGIN IMMEDIATE");
    let out = f(c);
    exec(c, "COMMIT");
    out
}

/// The users in turn, one per call.
fn cycle(users: &[UserId]) -> impl FnMut() -> UserId + '_ {
    let i = Cell::new(0usize);
    move || {
        let n = i.get();
        i.set(n + 1);
        users[n % users.len()].clone()
    }
}

#[divan::bench]
fn store_get_user(b: Bencher) {
    let f = fixture();
    let mut next = cycle(&f.users);
    b.bench_local(|| f.rt.block_on(f.store.get_user(&next())).expect("get"));
}

#[divan::bench]
fn raw_get_user(b: Bencher) {
    let f = fixture();
    let mut next = cycle(&f.users);
    b.bench_local(|| {
        let id = next().as_uuid().expect("a uuid").simple().to_string();
        let mut stmt = f.raw.prepare_cached(hot_sql::GET_USER).expect("prepare");
        stmt.query_row([id], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, Option<String>>(2)?,
                r.get::<_, bool>(3)?,
                r.get::<_, bool>(4)?,
                r.get::<_, bool>(5)?,
                r.get::<_, String>(6)?,
            ))
        })
        .expect("row")
    });
}

/// [`raw_get_user`] decoding the row as the store must: the id parsed, the
/// email checked, the time parsed. Its distance to `raw_get_user` is the
/// cost of a typed answer; its distance to `store_get_user` the store's own.
#[divan::bench]
fn raw_get_user_typed(b: Bencher) {
    let f = fixture();
    let mut next = cycle(&f.users);
    b.bench_local(|| {
        let id = next().as_uuid().expect("a uuid").simple().to_string();
        let mut stmt = f.raw.prepare_cached(hot_sql::GET_USER).expect("prepare");
        stmt.query_row([id], |r| {
            let id: UserId = fullauth_api::UserIdType::Uuid
                .parse(&r.get::<_, String>(0)?)
                .expect("an id");
            let email = fullauth_api::Email::new(&r.get::<_, String>(1)?).expect("an email");
            let created = Timestamp::parse_naive_utc(&r.get::<_, String>(6)?).expect("a time");
            Ok((
                id,
                email,
                r.get::<_, Option<String>>(2)?.is_some(),
                r.get::<_, bool>(3)?,
                r.get::<_, bool>(4)?,
                r.get::<_, bool>(5)?,
                created,
            ))
        })
        .expect("row")
    });
}

#[divan::bench]
fn store_user_permissions(b: Bencher) {
    let f = fixture();
    let mut next = cycle(&f.users);
    b.bench_local(|| {
        f.rt.block_on(f.store.get_user_permissions(&next()))
            .expect("permissions")
    });
}

#[divan::bench]
fn raw_user_permissions(b: Bencher) {
    let f = fixture();
    let mut next = cycle(&f.users);
    b.bench_local(|| {
        let id = next().as_uuid().expect("a uuid").simple().to_string();
        let mut stmt = f
            .raw
            .prepare_cached(hot_sql::USER_PERMISSIONS)
            .expect("prepare");
        stmt.query_map([id], |r| r.get::<_, String>(0))
            .expect("query")
            .collect::<Result<Vec<_>, _>>()
            .expect("rows")
    });
}

#[divan::bench]
fn store_create_user(b: Bencher) {
    let f = fixture();
    let n = Cell::new(0u64);
    b.bench_local(|| {
        n.set(n.get() + 1);
        let email = format!("store-{}-{}@example.com", n.get(), uuid::Uuid::new_v4());
        f.rt.block_on(f.store.create_user(NewUser::new(email).expect("email")))
            .expect("create")
    });
}

#[divan::bench]
fn raw_create_user(b: Bencher) {
    let f = fixture();
    let now = Timestamp::now().to_naive_utc_string();
    b.bench_local(|| {
        let id = uuid::Uuid::now_v7().simple().to_string();
        let email = format!("raw-{}@example.com", uuid::Uuid::new_v4());
        in_transaction(&f.raw, |c| {
            c.prepare_cached(
                "INSERT INTO fullauth_users (id, email, hashed_password, is_active, is_verified, \
                 is_superuser, created_at) VALUES (?1, ?2, NULL, 1, 0, 0, ?3) RETURNING *",
            )
            .expect("prepare")
            .query_row(params![id, email, now], |r| r.get::<_, String>(0))
            .expect("insert")
        })
    });
}

/// A live token to revoke (made outside the timed part).
fn live_token(f: &Fixture) -> TokenDigest {
    f.rt.block_on(f.store.store_refresh_token(token(f.users[0].clone())))
        .expect("store")
        .digest
}

#[divan::bench]
fn store_revoke(b: Bencher) {
    let f = fixture();
    b.with_inputs(|| live_token(&f)).bench_local_values(|d| {
        f.rt.block_on(f.store.revoke_refresh_token(&d))
            .expect("revoke")
    });
}

/// A live token made on the raw connection (so the timed revoke does not
/// find its page cache invalidated by the store's writer).
fn raw_live_token(f: &Fixture) -> TokenDigest {
    let d = digest();
    let user = f.users[0].as_uuid().expect("a uuid").simple().to_string();
    in_transaction(&f.raw, |c| {
        raw_insert_token(c, &d, &user, FamilyId::generate().as_str())
    });
    d
}

/// The store's insert of a live token (no client details), on `c`.
fn raw_insert_token(c: &Connection, d: &TokenDigest, user: &str, family: &str) {
    c.prepare_cached(hot_sql::INSERT_TOKEN)
        .expect("prepare")
        .query_row(
            params![
                uuid::Uuid::now_v7().simple().to_string(),
                d.as_str(),
                user,
                family,
                later().to_naive_utc_string(),
                None::<&str>,
                None::<&str>,
                Timestamp::now().to_naive_utc_string()
            ],
            |r| r.get::<_, String>(0),
        )
        .expect("insert");
}

#[divan::bench]
fn raw_revoke(b: Bencher) {
    let f = fixture();
    b.with_inputs(|| raw_live_token(&f))
        .bench_local_values(|d| {
            in_transaction(&f.raw, |c| {
                c.prepare_cached(hot_sql::REVOKE)
                    .expect("prepare")
                    .execute([d.as_str()])
                    .expect("revoke")
            })
        });
}

#[divan::bench]
fn store_rotate(b: Bencher) {
    let f = fixture();
    let head = RefCell::new(
        f.rt.block_on(f.store.store_refresh_token(token(f.users[0].clone())))
            .expect("store")
            .digest,
    );
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

#[divan::bench]
fn raw_rotate(b: Bencher) {
    let f = fixture();
    let head = RefCell::new(
        f.rt.block_on(f.store.store_refresh_token(token(f.users[0].clone())))
            .expect("store")
            .digest,
    );
    let c = &f.raw;
    b.bench_local(|| {
        let new = digest();
        let old = head.replace(new.clone());
        in_transaction(c, |c| {
            let (user, family): (String, String) = c
                .prepare_cached(hot_sql::ROTATE_FLIP)
                .expect("prepare")
                .query_row(
                    params![old.as_str(), Timestamp::now().to_naive_utc_string()],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .expect("flip");
            raw_insert_token(c, &new, &user, &family);
        });
    });
}
