//! Round trips on the wire, counted by a relay between the store and
//! PostgreSQL ([`FaultProxy`] with no fault: [`ProxyStats::round_trips`]
//! counts the times the client spoke after the server). Every hot operation
//! of a store from `connect` takes one round trip; a transaction of N
//! statements takes N + 2; a store on the app's sqlx pool pays sqlx's test
//! of each connection it takes back (two). Needs
//! `FULLAUTH_TEST_DATABASE_URL`.
//!
//! [`ProxyStats::round_trips`]: fullauth_conformance::faults::ProxyStats::round_trips

mod common;

use std::future::Future;
use std::str::FromStr as _;
use std::time::Duration;

use fullauth_api::{
    BlacklistStore, DurableStore, LockoutStore, MfaStore, PasskeyStore, PermissionStore,
    RateLimitStore, RefreshTokenStore, RoleStore, UserStore,
};
use fullauth_api::{
    CredentialId, DeviceName, LockoutPolicy, MfaSecret, NewPasskey, NewUser, PermissionName,
    RateLimitPolicy, RoleName, Rotation, StateKey, Text, Transports, UserId, UserLookup,
};
use fullauth_conformance::faults::{self, FaultProxy};
use fullauth_conformance::fixtures::{next_token as next, token};
use fullauth_postgres::PgStore;
use fullauth_postgres::sqlx::postgres::{PgConnectOptions, PgPoolOptions};

/// Lets anything the client does after an answer (a pool's test of the
/// connection it takes back runs in a task of its own) reach the relay.
async fn settle() {
    tokio::time::sleep(Duration::from_millis(40)).await;
}

/// The round trips `fut` takes, with what it answered.
async fn counted<T>(proxy: &FaultProxy, fut: impl Future<Output = T>) -> (T, u64) {
    settle().await;
    let before = proxy.stats().round_trips;
    let out = fut.await;
    settle().await;
    (out, proxy.stats().round_trips - before)
}

fn email() -> String {
    format!("rt-{}@example.test", uuid::Uuid::new_v4().simple())
}

fn key(prefix: &str) -> StateKey {
    StateKey::new(format!("rt:{prefix}:{}", uuid::Uuid::new_v4().simple())).expect("a key")
}

async fn proxy_for(url: &str) -> FaultProxy {
    let upstream = faults::upstream_of(url, 5432).expect("the host of FULLAUTH_TEST_DATABASE_URL");
    FaultProxy::start(upstream).await.expect("start the proxy")
}

/// What the table below measures: the operation's name and its round trips.
type Measured = Vec<(&'static str, u64)>;

/// Runs each hot operation twice on `store` (the first prepares its
/// statements on the connection) and counts the second.
async fn hot_operations(store: &PgStore, proxy: &FaultProxy) -> Measured {
    let mut out = Measured::new();
    macro_rules! measure {
        ($name:literal, $warm:expr, $op:expr) => {{
            $warm.await.expect(concat!("warm-up of ", $name));
            let (answer, trips) = counted(proxy, $op).await;
            answer.expect($name);
            out.push(($name, trips));
        }};
    }

    let user = store
        .create_user(NewUser::new(email()).unwrap())
        .await
        .unwrap();
    let id = user.id;
    let role = RoleName::new(format!("rt-{}", uuid::Uuid::new_v4().simple())).unwrap();
    let perm = PermissionName::new("rt:read").unwrap();
    store.create_role(&role).await.unwrap();
    store.assign_role(&id, &role).await.unwrap();
    store.assign_permission(&role, &perm).await.unwrap();
    let by_email = UserLookup::Email(user.email.clone());
    let by_id = UserLookup::Id(id.clone());

    measure!(
        "create_user",
        store.create_user(NewUser::new(email()).unwrap()),
        store.create_user(NewUser::new(email()).unwrap())
    );
    measure!("get_user", store.get_user(&id), store.get_user(&id));
    measure!(
        "get_user_by_email",
        store.get_user_by_email(&user.email),
        store.get_user_by_email(&user.email)
    );
    measure!(
        "get_principal by id",
        store.get_principal(&by_id),
        store.get_principal(&by_id)
    );
    measure!(
        "get_principal by email",
        store.get_principal(&by_email),
        store.get_principal(&by_email)
    );
    measure!(
        "get_user_permissions",
        store.get_user_permissions(&id),
        store.get_user_permissions(&id)
    );
    measure!(
        "store_refresh_token",
        store.store_refresh_token(token(id.clone())),
        store.store_refresh_token(token(id.clone()))
    );
    let a = store.store_refresh_token(token(id.clone())).await.unwrap();
    let b = store.store_refresh_token(token(id.clone())).await.unwrap();
    measure!(
        "revoke_refresh_token",
        store.revoke_refresh_token(&a.digest),
        store.revoke_refresh_token(&b.digest)
    );
    let c = store.store_refresh_token(token(id.clone())).await.unwrap();
    let d = store.store_refresh_token(token(id.clone())).await.unwrap();
    let rotated = |r: Result<Rotation, fullauth_api::StoreError>| match r {
        Ok(Rotation::Rotated { .. }) => Ok(()),
        Ok(other) => Err(format!("not rotated: {other:?}")),
        Err(e) => Err(e.to_string()),
    };
    measure!(
        "rotate_refresh_token",
        async { rotated(store.rotate_refresh_token(&c.digest, next()).await) },
        async { rotated(store.rotate_refresh_token(&d.digest, next()).await) }
    );
    measure!(
        "list_sessions",
        store.list_sessions(&id),
        store.list_sessions(&id)
    );

    let credential = CredentialId::new(format!("rt{}", uuid::Uuid::new_v4().simple())).unwrap();
    store
        .store_passkey(NewPasskey {
            user_id: id.clone(),
            credential_id: credential.clone(),
            public_key: Text::new("pQECAyYgASFYIrt").unwrap(),
            sign_count: 0,
            device_name: DeviceName::new("rt").unwrap(),
            transports: Transports::new(["internal"]).unwrap(),
            backed_up: false,
        })
        .await
        .unwrap();
    measure!(
        "update_sign_count",
        store.update_sign_count(&credential, 1),
        store.update_sign_count(&credential, 2)
    );

    let secret = MfaSecret::new("JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP").unwrap();
    store.store_mfa(&id, &secret).await.unwrap();
    store.confirm_mfa(&id, &[]).await.unwrap();
    measure!(
        "advance_mfa_counter",
        store.advance_mfa_counter(&id, 1),
        store.advance_mfa_counter(&id, 2)
    );

    let k = key("bl");
    store.blacklist(&k, Duration::from_secs(60)).await.unwrap();
    measure!(
        "is_blacklisted",
        store.is_blacklisted(&k),
        store.is_blacklisted(&k)
    );
    let policy = RateLimitPolicy {
        limit: 100,
        window: Duration::from_secs(60),
    };
    let rk = key("rl");
    measure!("hit", store.hit(&rk, policy), store.hit(&rk, policy));
    let lockout = LockoutPolicy {
        max_attempts: 100,
        duration: Duration::from_secs(60),
    };
    let lk = key("lo");
    measure!(
        "record_failure",
        store.record_failure(&lk, lockout),
        store.record_failure(&lk, lockout)
    );
    measure!("is_locked", store.is_locked(&lk), store.is_locked(&lk));
    out
}

/// begin + N statements + commit on `store`: the round trips counted.
async fn transaction_of(store: &PgStore, proxy: &FaultProxy, user: UserId) -> (u64, u64) {
    let t = store
        .store_refresh_token(token(user.clone()))
        .await
        .unwrap();
    let (done, trips) = counted(proxy, async {
        let tx = store.begin().await?;
        tx.revoke_refresh_token(&t.digest).await?;
        tx.store_refresh_token(token(user.clone())).await?;
        tx.store_refresh_token(token(user)).await?;
        tx.commit().await
    })
    .await;
    done.expect("the transaction");
    (3, trips)
}

#[tokio::test]
async fn one_round_trip_per_hot_operation() {
    let Some(url) = common::database_url() else {
        return;
    };
    let schema = common::shared_schema(&url);
    let proxy = proxy_for(&url).await;
    let proxied = proxy.rewrite_url(&url).expect("a URL with ://");
    // One connection, opened by connect and warm after the first calls.
    let store = PgStore::builder()
        .schema(schema)
        .max_connections(1)
        .application_name(common::APP_NAME)
        .connect(&proxied)
        .await
        .expect("connect through the relay");
    let measured = hot_operations(&store, &proxy).await;
    for (name, trips) in &measured {
        eprintln!("{name:>24}: {trips} round trip(s)");
    }
    let off: Vec<_> = measured.iter().filter(|(_, t)| *t != 1).collect();
    assert!(off.is_empty(), "not one round trip: {off:?}");

    let user = store
        .create_user(NewUser::new(email()).unwrap())
        .await
        .unwrap();
    // Warm the transaction's statements, then count.
    transaction_of(&store, &proxy, user.id.clone()).await;
    let (n, trips) = transaction_of(&store, &proxy, user.id).await;
    eprintln!("begin + {n} statements + commit: {trips} round trips");
    assert_eq!(trips, n + 2, "a transaction of {n} statements");

    // A transaction dropped while open is rolled back on its connection,
    // which then serves again.
    let dropped = NewUser::new(email()).unwrap();
    let dropped_email = dropped.email.clone();
    {
        let tx = store.begin().await.unwrap();
        tx.create_user(dropped).await.unwrap();
    }
    settle().await;
    assert_eq!(store.get_user_by_email(&dropped_email).await.unwrap(), None);
    assert_eq!(
        proxy.stats().accepted,
        1,
        "one connection served everything"
    );
}

#[tokio::test]
async fn the_apps_pool_pays_sqlx_release_test() {
    let Some(url) = common::database_url() else {
        return;
    };
    let schema = common::shared_schema(&url);
    let proxy = proxy_for(&url).await;
    let proxied = proxy.rewrite_url(&url).expect("a URL with ://");
    let options = PgConnectOptions::from_str(&proxied)
        .unwrap()
        .application_name(common::APP_NAME);
    let pool = PgPoolOptions::new()
        .max_connections(1)
        .test_before_acquire(false)
        .connect_with(options)
        .await
        .expect("a pool through the relay");
    let store = PgStore::builder()
        .schema(schema)
        .from_pool(pool)
        .expect("the store on the pool");
    let user = store
        .create_user(NewUser::new(email()).unwrap())
        .await
        .unwrap();
    store.get_user(&user.id).await.unwrap();
    let (found, trips) = counted(&proxy, store.get_user(&user.id)).await;
    assert!(found.unwrap().is_some());
    assert_eq!(
        trips, 2,
        "the statement, then sqlx's test of the connection it takes back"
    );
}
