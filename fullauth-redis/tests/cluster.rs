//! fullauth-redis on a real Redis Cluster.
//!
//! * The whole conformance suite (the four short-lived features) on a
//!   [`RedisStore`] with cluster hash tags over a cluster connection of the
//!   redis crate (`cluster-async`), on the shared test cluster
//!   `FULLAUTH_TEST_REDIS_CLUSTER_URL` (e.g. `redis://127.0.0.1:7100`, made
//!   by `.ci/redis-cluster start`).
//! * The reference layout (hash tags off) is refused by that cluster
//!   (`CROSSSLOT`), which is why the suite runs with hash tags.
//! * A primary killed under load: the test builds its own six-node cluster
//!   on ports 7110–7115 (`FULLAUTH_TEST_REDIS_FAILOVER_PORT` moves it)
//!   with the same script, so the shared cluster is never disturbed, and
//!   tears it down when it ends, pass or fail. While the primary is dead
//!   every call answers within the call timeout, either the real answer or
//!   its feature's failure-policy answer; once the replica is promoted the
//!   real answers come back. The timings are printed.
//!
//! Without `FULLAUTH_TEST_REDIS_CLUSTER_URL` every test here is skipped with
//! a loud message (a failure under `CI=true`).

mod common;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, LazyLock, Mutex};
use std::time::{Duration, Instant};

use fullauth_api::{
    BlacklistStore, ChallengeStore, LockoutOutcome, LockoutPolicy, LockoutStore, RateLimitPolicy,
    RateLimitStore, StateKey, StoreError, Text, Timestamp,
};
use fullauth_conformance::{Subject, conformance_tests};
use fullauth_redis::redis::cluster::ClusterClient;
use fullauth_redis::redis::cluster_async::ClusterConnection;
use fullauth_redis::{FailurePolicies, FailurePolicy, RedisStore, redis};

/// The call timeout of the stores under failover (the crate's default).
const TIMEOUT: Duration = fullauth_redis::DEFAULT_TIMEOUT;
/// Scheduling slack on a loaded two-core machine.
const SLACK: Duration = Duration::from_millis(500);

static PREFIX: LazyLock<String> = LazyLock::new(common::random_prefix);

/// A cluster connection through the seed node `url`; the client finds the
/// other nodes itself. Its own retries are short: the store's call timeout
/// bounds every call anyway.
async fn cluster_connection(url: &str) -> ClusterConnection {
    ClusterClient::builder(vec![url.to_string()])
        .connection_timeout(Duration::from_millis(250))
        .response_timeout(Duration::from_millis(400))
        .retries(4)
        .min_retry_wait(20)
        .max_retry_wait(200)
        .build()
        .unwrap_or_else(|e| panic!("bad cluster URL {url}: {e}"))
        .get_async_connection()
        .await
        .unwrap_or_else(|e| panic!("the Redis Cluster at {url} does not answer: {e}"))
}

async fn cluster_store(
    url: &str,
    prefix: &str,
    hash_tags: bool,
    timeout: Duration,
    policies: FailurePolicies,
) -> RedisStore<ClusterConnection> {
    RedisStore::builder()
        .key_prefix(prefix)
        .cluster_hash_tags(hash_tags)
        .timeout(timeout)
        .policies(policies)
        .build(cluster_connection(url).await)
        .unwrap()
}

async fn subject() -> Option<Subject> {
    let url = common::cluster_url()?; // None: not configured here (a CI run panics instead)
    let store = cluster_store(
        &url,
        &PREFIX,
        true,
        Duration::from_secs(2),
        FailurePolicies::default(),
    )
    .await;
    Some(Subject::new(Arc::new(store)))
}

conformance_tests!(
    subject,
    features = [Blacklist, Lockout, RateLimit, Challenges]
);

fn key(s: &str) -> StateKey {
    StateKey::new(s).unwrap()
}

/// The reference layout puts the two lockout keys of a login in different
/// slots, which a cluster refuses: the hash tags are what make the lockout
/// work there. (Under the `Error` policy the refusal reaches the caller.)
#[tokio::test]
async fn the_reference_layout_is_refused_by_the_cluster() {
    let Some(url) = common::cluster_url() else {
        return;
    };
    let policies = FailurePolicies {
        lockout: FailurePolicy::Error,
        ..FailurePolicies::default()
    };
    let plain = cluster_store(&url, &PREFIX, false, Duration::from_secs(2), policies).await;
    let k = key("ada@example.com");
    assert_ne!(
        common::slot(&plain.keys().lockout_attempts(&k)),
        common::slot(&plain.keys().lockout_locked(&k))
    );
    let policy = LockoutPolicy {
        max_attempts: 3,
        duration: Duration::from_secs(30),
    };
    match plain.record_failure(&k, policy).await {
        Err(e @ StoreError::Backend { .. }) => {
            assert!(e.to_string().to_lowercase().contains("crossslot"), "{e}")
        }
        other => panic!("expected a CROSSSLOT error, got {other:?}"),
    }
    let tagged = cluster_store(&url, &PREFIX, true, Duration::from_secs(2), policies).await;
    assert_eq!(
        tagged.record_failure(&k, policy).await.unwrap(),
        LockoutOutcome::Counted { attempts: 1 }
    );
    tagged.clear_lockout(&k).await.unwrap();
}

// ---------------------------------------------------------------- failover

/// The test's own cluster, built by `.ci/redis-cluster start <base>` and
/// removed by `.ci/redis-cluster stop <base>` when dropped (also when the
/// test panics).
struct OwnCluster {
    base: u16,
}

fn script() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../.ci/redis-cluster")
}

fn run_script(action: &str, base: u16) -> bool {
    match Command::new("bash")
        .arg(script())
        .arg(action)
        .arg(base.to_string())
        .status()
    {
        Ok(status) => status.success(),
        Err(e) => panic!("cannot run {}: {e}", script().display()),
    }
}

impl OwnCluster {
    fn start(base: u16) -> OwnCluster {
        let cluster = OwnCluster { base };
        assert!(
            run_script("start", base),
            "`.ci/redis-cluster start {base}` failed"
        );
        cluster
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.base)
    }
}

impl Drop for OwnCluster {
    fn drop(&mut self) {
        if !run_script("stop", self.base) {
            common::loud(&format!(
                "`.ci/redis-cluster stop {}` failed: nodes may be left on ports {}-{}",
                self.base,
                self.base,
                self.base + 5
            ));
        }
    }
}

/// One node of `CLUSTER NODES`.
#[derive(Clone, Debug)]
struct Node {
    id: String,
    port: u16,
    primary: bool,
    primary_id: String,
    slots: Vec<(u16, u16)>,
}

async fn node_conn(port: u16) -> redis::aio::MultiplexedConnection {
    common::raw(&format!("redis://127.0.0.1:{port}")).await
}

async fn cluster_nodes(port: u16) -> Vec<Node> {
    let text: String = redis::cmd("CLUSTER")
        .arg("NODES")
        .query_async(&mut node_conn(port).await)
        .await
        .unwrap();
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|line| {
            let f: Vec<&str> = line.split_whitespace().collect();
            let addr = f[1].split('@').next().unwrap();
            let port = addr.rsplit(':').next().unwrap().parse().unwrap();
            let slots = f[8..]
                .iter()
                .filter(|s| !s.starts_with('['))
                .map(|s| match s.split_once('-') {
                    Some((a, b)) => (a.parse().unwrap(), b.parse().unwrap()),
                    None => (s.parse().unwrap(), s.parse().unwrap()),
                })
                .collect();
            Node {
                id: f[0].to_string(),
                port,
                primary: f[2].contains("master"),
                primary_id: f[3].to_string(),
                slots,
            }
        })
        .collect()
}

async fn info_field(port: u16, section: &str, field: &str) -> Option<String> {
    let mut conn = node_conn(port).await;
    let text: String = redis::cmd("INFO")
        .arg(section)
        .query_async(&mut conn)
        .await
        .ok()?;
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{field}:")))
        .map(|v| v.trim().to_string())
}

/// The first name `<stem>-<n>` whose Redis key (by `redis_key`) lies in one
/// of `slots`.
fn on_slots(stem: &str, slots: &[(u16, u16)], redis_key: impl Fn(&StateKey) -> String) -> StateKey {
    (0..100_000)
        .map(|n| key(&format!("{stem}-{n}")))
        .find(|k| {
            let s = common::slot(&redis_key(k));
            slots.iter().any(|&(a, b)| a <= s && s <= b)
        })
        .unwrap()
}

/// What one call answered.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Class {
    /// The answer Redis gives when it is up.
    Real,
    /// The failure-policy answer of the feature (an `Unavailable` error
    /// where the policy is to report the error).
    Policy,
    /// Neither: the test fails.
    Wrong(String),
}

#[derive(Clone, Debug)]
struct Record {
    op: &'static str,
    start: Instant,
    elapsed: Duration,
    class: Class,
}

/// The calls of the load. Every key lives on the primary that is killed,
/// and every call is one whose real answer differs from its policy answer.
#[derive(Clone, Copy, Debug)]
enum Op {
    /// Default store, blacklist closed: a key that is not blacklisted.
    IsBlacklisted,
    /// Default store: two keys, neither blacklisted.
    AnyBlacklisted,
    /// Default store: an addition, which always reports its failure.
    Blacklist,
    /// Default store, lockout open: a locked login.
    IsLocked,
    /// Default store, lockout open: a failure is counted (`attempts` ≥ 1)
    /// or, by the policy, not (`attempts` = 0).
    RecordFailureOpen,
    /// Default store, rate limit open: an exhausted limit.
    HitOpen,
    /// Default store, challenges error: a put and a take.
    Challenge,
    /// Closed store: a login that is not locked.
    IsLockedClosed,
    /// Closed store: a failure is counted or, by the policy, the login is
    /// locked for a whole lock duration.
    RecordFailureClosed,
    /// Closed store: a fresh limit allows; the policy refuses.
    HitClosed,
    /// Closed store: a removal, which reports its failure when closed.
    ResetClosed,
}

const OPS: [Op; 11] = [
    Op::IsBlacklisted,
    Op::AnyBlacklisted,
    Op::Blacklist,
    Op::IsLocked,
    Op::RecordFailureOpen,
    Op::HitOpen,
    Op::Challenge,
    Op::IsLockedClosed,
    Op::RecordFailureClosed,
    Op::HitClosed,
    Op::ResetClosed,
];

const MANY: LockoutPolicy = LockoutPolicy {
    max_attempts: 1_000_000,
    duration: Duration::from_secs(60),
};
const ONE: RateLimitPolicy = RateLimitPolicy {
    limit: 1,
    window: Duration::from_secs(60),
};
const LOTS: RateLimitPolicy = RateLimitPolicy {
    limit: 1_000_000,
    window: Duration::from_secs(60),
};

struct Ctx {
    default: RedisStore<ClusterConnection>,
    closed: RedisStore<ClusterConnection>,
    bl_on: StateKey,
    bl_off: StateKey,
    bl_off2: StateKey,
    bl_new: StateKey,
    lk_on: StateKey,
    lk_off: StateKey,
    lk_count_open: StateKey,
    lk_count_closed: StateKey,
    rl_full: StateKey,
    rl_free: StateKey,
    ch: StateKey,
}

fn unavailable<T: std::fmt::Debug>(r: &Result<T, StoreError>) -> bool {
    matches!(r, Err(StoreError::Unavailable { .. }))
}

fn classify<T: std::fmt::Debug>(
    r: Result<T, StoreError>,
    real: impl Fn(&T) -> bool,
    policy: impl Fn(&Result<T, StoreError>) -> bool,
) -> Class {
    match &r {
        Ok(v) if real(v) => Class::Real,
        _ if policy(&r) => Class::Policy,
        _ => Class::Wrong(format!("{r:?}")),
    }
}

/// One call (two for `Challenge`), timed and classified.
async fn call(ctx: &Ctx, op: Op, round: u64, out: &mut Vec<Record>) {
    let start = Instant::now();
    let (name, class) = match op {
        Op::IsBlacklisted => (
            names(op)[0],
            classify(
                ctx.default.is_blacklisted(&ctx.bl_off).await,
                |v| !v,
                |r| matches!(r, Ok(true)),
            ),
        ),
        Op::AnyBlacklisted => (
            names(op)[0],
            classify(
                ctx.default
                    .any_blacklisted(&[ctx.bl_off.clone(), ctx.bl_off2.clone()])
                    .await,
                |v| !v,
                |r| matches!(r, Ok(true)),
            ),
        ),
        Op::Blacklist => (
            names(op)[0],
            classify(
                ctx.default
                    .blacklist(&ctx.bl_new, Duration::from_secs(60))
                    .await,
                |_| true,
                unavailable,
            ),
        ),
        Op::IsLocked => (
            names(op)[0],
            classify(
                ctx.default.is_locked(&ctx.lk_on).await,
                |v| *v,
                |r| matches!(r, Ok(false)),
            ),
        ),
        Op::RecordFailureOpen => (
            names(op)[0],
            classify(
                ctx.default.record_failure(&ctx.lk_count_open, MANY).await,
                |v| matches!(v, LockoutOutcome::Counted { attempts } if *attempts >= 1),
                |r| matches!(r, Ok(LockoutOutcome::Counted { attempts: 0 })),
            ),
        ),
        Op::HitOpen => (
            names(op)[0],
            classify(
                ctx.default.hit(&ctx.rl_full, ONE).await,
                |d| !d.allowed,
                |r| matches!(r, Ok(d) if d.allowed && d.remaining == 0 && d.retry_after.is_zero()),
            ),
        ),
        Op::Challenge => {
            let value = Text::new(format!("v{round}")).unwrap();
            let put = ctx
                .default
                .put_challenge(&ctx.ch, &value, Duration::from_secs(60))
                .await;
            let put_ok = put.is_ok();
            out.push(Record {
                op: names(op)[0],
                start,
                elapsed: start.elapsed(),
                class: classify(put, |_| true, unavailable),
            });
            let start = Instant::now();
            // A put that timed out may still have landed, and an earlier
            // value may be left by a take that failed: any value of this
            // worker is a real answer; none is real only after a failed put.
            let take = ctx.default.take_challenge(&ctx.ch).await;
            out.push(Record {
                op: names(op)[1],
                start,
                elapsed: start.elapsed(),
                class: classify(
                    take,
                    |v| match v {
                        Some(t) => t.as_str().starts_with('v'),
                        None => !put_ok,
                    },
                    unavailable,
                ),
            });
            return;
        }
        Op::IsLockedClosed => (
            names(op)[0],
            classify(
                ctx.closed.is_locked(&ctx.lk_off).await,
                |v| !v,
                |r| matches!(r, Ok(true)),
            ),
        ),
        Op::RecordFailureClosed => {
            let before = Timestamp::now();
            (
                names(op)[0],
                classify(
                    ctx.closed.record_failure(&ctx.lk_count_closed, MANY).await,
                    |v| matches!(v, LockoutOutcome::Counted { attempts } if *attempts >= 1),
                    |r| matches!(r, Ok(LockoutOutcome::AlreadyLocked { until }) if *until >= before + MANY.duration),
                ),
            )
        }
        Op::HitClosed => (
            names(op)[0],
            classify(
                ctx.closed.hit(&ctx.rl_free, LOTS).await,
                |d| d.allowed,
                |r| matches!(r, Ok(d) if !d.allowed && d.retry_after == LOTS.window),
            ),
        ),
        Op::ResetClosed => (
            names(op)[0],
            classify(
                ctx.closed.reset_rate_limit(&ctx.rl_free).await,
                |_| true,
                unavailable,
            ),
        ),
    };
    out.push(Record {
        op: name,
        start,
        elapsed: start.elapsed(),
        class,
    });
}

fn failover_base() -> u16 {
    std::env::var("FULLAUTH_TEST_REDIS_FAILOVER_PORT")
        .ok()
        .and_then(|p| p.parse().ok())
        .unwrap_or(7110)
}

/// Polls `cond` every 50 ms until it holds or `limit` has passed.
async fn wait_for<F, Fut>(limit: Duration, mut cond: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + limit;
    loop {
        if cond().await {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_primary_fails_over_and_calls_follow_the_policies() {
    if common::cluster_url().is_none() {
        return;
    }
    let test_start = Instant::now();
    let base = failover_base();
    let cluster = tokio::task::spawn_blocking(move || OwnCluster::start(base))
        .await
        .unwrap();
    let url = cluster.url();
    let prefix = common::random_prefix();

    // The victim: the first primary `CLUSTER NODES` lists, and its replica.
    let nodes = cluster_nodes(base).await;
    let victim = nodes
        .iter()
        .find(|n| n.primary && !n.slots.is_empty())
        .unwrap()
        .clone();
    let replica = nodes
        .iter()
        .find(|n| !n.primary && n.primary_id == victim.id)
        .unwrap()
        .clone();
    let victim_pid: u32 = info_field(victim.port, "server", "process_id")
        .await
        .unwrap()
        .parse()
        .unwrap();

    let default = cluster_store(&url, &prefix, true, TIMEOUT, FailurePolicies::default()).await;
    let closed = cluster_store(
        &url,
        &prefix,
        true,
        TIMEOUT,
        FailurePolicies {
            blacklist: FailurePolicy::Closed,
            lockout: FailurePolicy::Closed,
            rate_limit: FailurePolicy::Closed,
            challenges: FailurePolicy::Closed,
        },
    )
    .await;
    let layout = default.keys().clone();
    let s = &victim.slots;
    let ctx = Arc::new(Ctx {
        bl_on: on_slots("bl-on", s, |k| layout.blacklist(k)),
        bl_off: on_slots("bl-off", s, |k| layout.blacklist(k)),
        bl_off2: on_slots("bl-off2", s, |k| layout.blacklist(k)),
        bl_new: on_slots("bl-new", s, |k| layout.blacklist(k)),
        lk_on: on_slots("lk-on", s, |k| layout.lockout_locked(k)),
        lk_off: on_slots("lk-off", s, |k| layout.lockout_locked(k)),
        lk_count_open: on_slots("lk-open", s, |k| layout.lockout_locked(k)),
        lk_count_closed: on_slots("lk-closed", s, |k| layout.lockout_locked(k)),
        rl_full: on_slots("rl-full", s, |k| layout.rate_limit(k)),
        rl_free: on_slots("rl-free", s, |k| layout.rate_limit(k)),
        ch: on_slots("ch", s, |k| layout.challenge(k)),
        default,
        closed,
    });

    // State whose real answers differ from the policy answers.
    ctx.default
        .blacklist(&ctx.bl_on, Duration::from_secs(120))
        .await
        .unwrap();
    let lock_now = LockoutPolicy {
        max_attempts: 1,
        duration: Duration::from_secs(120),
    };
    assert!(matches!(
        ctx.default
            .record_failure(&ctx.lk_on, lock_now)
            .await
            .unwrap(),
        LockoutOutcome::Locked { .. }
    ));
    assert!(ctx.default.hit(&ctx.rl_full, ONE).await.unwrap().allowed);

    // The replica holds all of it before the primary dies.
    let primary_offset: i64 = info_field(victim.port, "replication", "master_repl_offset")
        .await
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        wait_for(Duration::from_secs(5), || async {
            info_field(replica.port, "replication", "slave_repl_offset")
                .await
                .and_then(|v| v.parse::<i64>().ok())
                .is_some_and(|o| o >= primary_offset)
        })
        .await,
        "the replica did not catch up with its primary"
    );

    // The load: one worker per call, each looping until told to stop.
    let stop = Arc::new(AtomicBool::new(false));
    let records = Arc::new(Mutex::new(Vec::<Record>::new()));
    let mut workers = Vec::new();
    for op in OPS {
        let (ctx, stop, records) = (ctx.clone(), stop.clone(), records.clone());
        workers.push(tokio::spawn(async move {
            let mut round = 0u64;
            while !stop.load(Ordering::Relaxed) {
                let mut out = Vec::new();
                call(&ctx, op, round, &mut out).await;
                records.lock().unwrap().extend(out);
                round += 1;
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }));
    }

    // A baseline, then the kill.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let killed_at = Instant::now();
    let status = Command::new("kill")
        .arg("-KILL")
        .arg(victim_pid.to_string())
        .status()
        .unwrap();
    assert!(status.success(), "kill -KILL {victim_pid} failed");

    // The replica is promoted by the cluster.
    let promoted = wait_for(Duration::from_secs(20), || async {
        info_field(replica.port, "replication", "role")
            .await
            .is_some_and(|r| r == "master")
    })
    .await;
    let promoted_at = Instant::now();
    assert!(promoted, "the replica was not promoted within 20 s");

    // Then every call must come back with its real answer: wait until each
    // call has answered for real three times in a row after the promotion.
    let recovered = wait_for(Duration::from_secs(20), || {
        let records = records.clone();
        async move {
            let records = records.lock().unwrap();
            OPS.iter().all(|op| {
                let last: Vec<&Record> = records
                    .iter()
                    .rev()
                    .filter(|r| r.start >= promoted_at && names(*op).contains(&r.op))
                    .take(3)
                    .collect();
                last.len() == 3 && last.iter().all(|r| r.class == Class::Real)
            })
        }
    })
    .await;
    stop.store(true, Ordering::Relaxed);
    for w in workers {
        w.await.unwrap();
    }
    let records = std::mem::take(&mut *records.lock().unwrap());

    // The report.
    let ms = |d: Duration| d.as_millis();
    let after_kill: Vec<&Record> = records.iter().filter(|r| r.start >= killed_at).collect();
    let not_real: Vec<&Record> = after_kill
        .iter()
        .copied()
        .filter(|r| r.class != Class::Real)
        .collect();
    let first_bad = not_real.iter().map(|r| r.start).min();
    let last_bad_end = not_real.iter().map(|r| r.start + r.elapsed).max();
    let max_elapsed = records.iter().map(|r| r.elapsed).max().unwrap();
    let mut per_op: BTreeMap<&str, [usize; 3]> = BTreeMap::new();
    for r in &records {
        let e = per_op.entry(r.op).or_default();
        match r.class {
            Class::Real => e[0] += 1,
            Class::Policy => e[1] += 1,
            Class::Wrong(_) => e[2] += 1,
        }
    }
    let mut report = format!(
        "failover on ports {base}-{}: killed primary :{} (pid {victim_pid}), replica :{}\n\
         promotion seen {} ms after the kill\n\
         first policy answer: call started {} ms after the kill\n\
         last policy answer: ended {} ms after the kill (the gap)\n\
         calls: {} in all, {} after the kill, {} answered by the policy; slowest call {} ms (timeout {} ms)\n\
         per call (real / policy / wrong):",
        base + 5,
        victim.port,
        replica.port,
        ms(promoted_at - killed_at),
        first_bad.map_or(0, |t| ms(t - killed_at)),
        last_bad_end.map_or(0, |t| ms(t - killed_at)),
        records.len(),
        after_kill.len(),
        not_real.len(),
        ms(max_elapsed),
        ms(TIMEOUT),
    );
    for (op, [real, policy, wrong]) in &per_op {
        report.push_str(&format!("\n  {op:<26} {real:>5} / {policy:>4} / {wrong}"));
    }
    common::loud(&report);

    // What must hold.
    let wrong: Vec<&Record> = records
        .iter()
        .filter(|r| matches!(r.class, Class::Wrong(_)))
        .collect();
    assert!(
        wrong.is_empty(),
        "answers that are neither real nor the policy's: {wrong:#?}"
    );
    let slow: Vec<&Record> = records
        .iter()
        .filter(|r| r.elapsed > TIMEOUT + SLACK)
        .collect();
    assert!(slow.is_empty(), "calls over the timeout: {slow:#?}");
    let before: Vec<&Record> = records
        .iter()
        .filter(|r| r.start + r.elapsed < killed_at)
        .collect();
    assert!(
        before.len() >= OPS.len() && before.iter().all(|r| r.class == Class::Real),
        "the baseline before the kill is not all real answers"
    );
    for op in per_op.keys() {
        assert!(
            not_real.iter().any(|r| r.op == *op),
            "{op} never answered by its policy: the outage was not seen"
        );
    }
    assert!(
        recovered,
        "the calls did not all answer for real within 20 s of the promotion"
    );

    // What was written before the kill survived it (it had reached the
    // replica), and the new primary serves it.
    assert!(ctx.default.is_blacklisted(&ctx.bl_on).await.unwrap());
    assert!(ctx.default.is_locked(&ctx.lk_on).await.unwrap());
    assert!(!ctx.default.hit(&ctx.rl_full, ONE).await.unwrap().allowed);

    drop(ctx);
    tokio::task::spawn_blocking(move || drop(cluster))
        .await
        .unwrap();
    common::loud(&format!(
        "failover test took {} ms, cluster build and teardown included",
        ms(test_start.elapsed())
    ));
}

/// The names under which the calls of `op` are recorded.
fn names(op: Op) -> &'static [&'static str] {
    match op {
        Op::IsBlacklisted => &["is_blacklisted"],
        Op::AnyBlacklisted => &["any_blacklisted"],
        Op::Blacklist => &["blacklist"],
        Op::IsLocked => &["is_locked(open)"],
        Op::RecordFailureOpen => &["record_failure(open)"],
        Op::HitOpen => &["hit(open)"],
        Op::Challenge => &["put_challenge", "take_challenge"],
        Op::IsLockedClosed => &["is_locked(closed)"],
        Op::RecordFailureClosed => &["record_failure(closed)"],
        Op::HitClosed => &["hit(closed)"],
        Op::ResetClosed => &["reset_rate_limit(closed)"],
    }
}
