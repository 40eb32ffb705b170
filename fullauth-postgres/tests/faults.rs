//! Network faults between the store and PostgreSQL
//! ([`fullauth_conformance::faults`]): under a concurrent load of creates,
//! rotations and revocations, a proxy cuts every connection, delays
//! traffic, swallows it silently and refuses new connections. Every call
//! answers within the operation timeout plus slack, no write answered `Ok`
//! is lost, no rotation is half-applied, and the store serves again after
//! each fault. Needs `FULLAUTH_TEST_DATABASE_URL`.

mod common;

use std::sync::Arc;
use std::time::Duration;

use fullauth_api::{Clock, Email, Features, UserStore};
use fullauth_conformance::faults::{self, FaultProxy, ScenarioSettings};
use fullauth_postgres::PgStore;

/// The store's operation timeout in these tests.
const OP_TIMEOUT: Duration = Duration::from_millis(800);
/// Scheduling slack on a loaded CI machine.
const SLACK: Duration = Duration::from_millis(700);

async fn through_proxy(
    url: &str,
    schema: &str,
    proxy: &FaultProxy,
    timeout: Option<Duration>,
) -> PgStore {
    let proxied = proxy.rewrite_url(url).expect("a URL with ://");
    let mut builder = PgStore::builder()
        .schema(schema)
        .features(Features::all())
        .max_connections(10)
        .application_name(common::APP_NAME);
    if let Some(t) = timeout {
        builder = builder.operation_timeout(t).acquire_timeout(t);
    }
    builder
        .connect(&proxied)
        .await
        .expect("connect through the proxy")
}

async fn proxy_for(url: &str) -> FaultProxy {
    let upstream = faults::upstream_of(url, 5432).expect("the host of FULLAUTH_TEST_DATABASE_URL");
    FaultProxy::start(upstream).await.expect("start the proxy")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn writes_survive_cuts_delays_blackholes_and_refusals() {
    let Some(url) = common::database_url() else {
        return;
    };
    let schema = common::shared_schema(&url);
    let proxy = proxy_for(&url).await;
    let through = through_proxy(&url, schema, &proxy, Some(OP_TIMEOUT)).await;
    let direct = common::store(&url, schema, Clock::system()).await;
    let settings = ScenarioSettings {
        bound: OP_TIMEOUT + SLACK,
        // The blackholed calls end by OP_TIMEOUT after the heal; dead
        // connections are dropped on their next use.
        recovery_grace: OP_TIMEOUT + Duration::from_millis(200),
        ..ScenarioSettings::default()
    };
    let report =
        faults::run_durable_scenario(&proxy, Arc::new(through), Arc::new(direct), &settings).await;
    eprintln!("fullauth-postgres under faults:\n{report}");
    assert!(report.is_success(), "{report}");
    // The faults bit: each one failed calls (the delay, longer than
    // OP_TIMEOUT for a round trip of several statements, slowed them).
    let phase = |name: &str| report.phases.iter().find(|p| p.name == name).unwrap();
    for fault in ["cut", "blackhole", "refuse"] {
        assert!(
            phase(fault).err() > 0,
            "the {fault} fault failed no call:\n{report}"
        );
    }
    assert!(phase("delay").max >= Duration::from_millis(600), "{report}");
    assert!(phase("baseline").ok > 0, "{report}");
    assert!(report.proxy.blackholed > 0 && report.proxy.cut > 0 && report.proxy.refused > 0);
}

/// Why the store needs its operation timeout: without it, a statement on a
/// connection whose server went silent waits for as long as the operating
/// system keeps the connection open.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_an_operation_timeout_a_silent_server_hangs_the_call() {
    let Some(url) = common::database_url() else {
        return;
    };
    let schema = common::shared_schema(&url);
    let email = Email::new("nobody-faults@example.test").unwrap();
    let proxy = proxy_for(&url).await;

    let unbounded = through_proxy(&url, schema, &proxy, None).await;
    unbounded.get_user_by_email(&email).await.unwrap();
    proxy.blackhole(true);
    let hung = tokio::time::timeout(
        Duration::from_millis(1500),
        unbounded.get_user_by_email(&email),
    )
    .await;
    assert!(
        hung.is_err(),
        "the call answered through a blackhole: {hung:?}"
    );
    proxy.heal();
    proxy.cut_all();

    let bounded = through_proxy(&url, schema, &proxy, Some(Duration::from_millis(300))).await;
    bounded.get_user_by_email(&email).await.unwrap();
    proxy.blackhole(true);
    let start = std::time::Instant::now();
    let answer = bounded.get_user_by_email(&email).await;
    assert!(
        start.elapsed() < Duration::from_millis(300) + SLACK,
        "{:?}",
        start.elapsed()
    );
    match answer {
        Err(e @ fullauth_api::StoreError::Unavailable { .. }) => assert!(e.is_retryable()),
        other => panic!("expected Unavailable, got {other:?}"),
    }
    // The silent connection was closed, not returned to the pool: after the
    // heal the next call works at once.
    proxy.heal();
    bounded.get_user_by_email(&email).await.unwrap();
}
