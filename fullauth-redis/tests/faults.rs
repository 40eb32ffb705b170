//! Network faults between the store and Redis
//! ([`fullauth_conformance::faults`]): under a concurrent load of every
//! short-lived operation, a proxy cuts every connection, delays traffic,
//! swallows it silently and refuses new connections. Every call answers
//! within the call timeout plus slack, with the answer the failure policy
//! gives (default policies: blacklist closed, lockout and rate limit open,
//! challenges error); no blacklisting or challenge answered `Ok` is lost;
//! and the store serves again after each fault. Needs
//! `FULLAUTH_TEST_REDIS_URL`.

mod common;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use fullauth_api::{
    BlacklistStore, ChallengeStore, LockoutPolicy, LockoutStore, RateLimitPolicy, RateLimitStore,
    StateKey, StoreError, Text,
};
use fullauth_conformance::faults::{self, FaultProxy};
use fullauth_redis::RedisStore;

/// The store's call timeout in this test.
const TIMEOUT: Duration = Duration::from_millis(300);
/// Scheduling slack on a loaded CI machine.
const SLACK: Duration = Duration::from_millis(500);
const TASKS: usize = 8;
const FAULT: Duration = Duration::from_millis(1200);
const RECOVERY: Duration = Duration::from_millis(1500);
/// After a heal, calls that start this much later must all get real
/// answers: the calls caught by the fault have timed out by then, and the
/// connection manager has had time to reconnect.
const GRACE: Duration = Duration::from_millis(900);

const LOCKOUT: LockoutPolicy = LockoutPolicy {
    max_attempts: 1_000_000,
    duration: Duration::from_secs(60),
};
const RATE: RateLimitPolicy = RateLimitPolicy {
    limit: 1_000_000,
    window: Duration::from_secs(60),
};

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Op {
    Blacklist,
    IsBlacklistedKnown,
    IsBlacklistedUnknown,
    RecordFailure,
    IsLocked,
    Hit,
    PutChallenge,
    TakeChallenge,
}

struct Call {
    op: Op,
    start: Duration,
    took: Duration,
    /// The error kind, when the call failed.
    error: Option<String>,
    /// The answer was the real one (not one a failure policy could give in
    /// its place); `None` for errors and answers that cannot tell.
    real: Option<bool>,
}

#[derive(Default)]
struct Facts {
    calls: Vec<Call>,
    blacklisted: Vec<StateKey>,
    /// Challenges stored with `Ok` and never taken: key, value.
    challenges: Vec<(StateKey, String)>,
    violations: Vec<String>,
}

fn key(s: String) -> StateKey {
    StateKey::new(s).unwrap()
}

fn kind(e: &StoreError) -> String {
    match e {
        StoreError::Unavailable { .. } => "Unavailable".into(),
        other => format!("{other:?}"),
    }
}

async fn load(store: RedisStore, stop: Arc<AtomicBool>, t0: Instant, task: usize) -> Facts {
    let mut f = Facts::default();
    let mut step = 0u64;
    while !stop.load(Ordering::SeqCst) {
        step += 1;
        let k = key(format!("t{task}-{step}"));
        let op = match step % 8 {
            0 => Op::Blacklist,
            1 => Op::IsBlacklistedKnown,
            2 => Op::IsBlacklistedUnknown,
            3 => Op::RecordFailure,
            4 => Op::IsLocked,
            5 => Op::Hit,
            6 => Op::PutChallenge,
            _ => Op::TakeChallenge,
        };
        let start = t0.elapsed();
        let began = Instant::now();
        let bound = (TIMEOUT + SLACK) * 4;
        // (error, real answer or not)
        let outcome: Result<Result<Option<bool>, StoreError>, _> =
            tokio::time::timeout(bound, async {
                match op {
                    Op::Blacklist => {
                        let r = store.blacklist(&k, Duration::from_secs(600)).await;
                        if r.is_ok() {
                            f.blacklisted.push(k.clone());
                        }
                        r.map(|()| Some(true))
                    }
                    Op::IsBlacklistedKnown => match f.blacklisted.last() {
                        // Closed: true whether Redis answers or not.
                        Some(known) => store.is_blacklisted(known).await.map(|b| {
                            if !b {
                                f.violations.push(format!(
                                    "{known:?} was blacklisted (Ok) but reads as not"
                                ));
                            }
                            None
                        }),
                        None => Ok(None),
                    },
                    // A fresh key: false is the real answer, true the policy's.
                    Op::IsBlacklistedUnknown => store.is_blacklisted(&k).await.map(|b| Some(!b)),
                    // Open: Counted { attempts: 0 } is the policy's answer.
                    Op::RecordFailure => store
                        .record_failure(&k, LOCKOUT)
                        .await
                        .map(|o| Some(o != fullauth_api::LockoutOutcome::Counted { attempts: 0 })),
                    Op::IsLocked => store.is_locked(&k).await.map(|locked| {
                        if locked {
                            f.violations
                                .push(format!("{k:?} reads as locked (lockout fails open)"));
                        }
                        None
                    }),
                    // Open: allowed with remaining = limit - 1 either way on a
                    // fresh key; nothing tells the answers apart.
                    Op::Hit => store.hit(&k, RATE).await.map(|d| {
                        if !d.allowed {
                            f.violations
                                .push(format!("{k:?} refused (the rate limit fails open)"));
                        }
                        None
                    }),
                    Op::PutChallenge => {
                        let value = format!("v{step}");
                        let r = store
                            .put_challenge(
                                &k,
                                &Text::new(value.clone()).unwrap(),
                                Duration::from_secs(600),
                            )
                            .await;
                        if r.is_ok() {
                            f.challenges.push((k.clone(), value));
                        }
                        r.map(|()| Some(true))
                    }
                    Op::TakeChallenge => match f.challenges.pop() {
                        Some((ck, value)) => match store.take_challenge(&ck).await {
                            Ok(Some(v)) if String::from(v.clone()) == value => Ok(Some(true)),
                            Ok(other) => {
                                f.violations.push(format!(
                                    "take_challenge({ck:?}) answered {other:?}, stored {value}"
                                ));
                                Ok(None)
                            }
                            // Unknown: it may have been taken.
                            Err(e) => Err(e),
                        },
                        None => Ok(None),
                    },
                }
            })
            .await;
        let took = began.elapsed();
        let (error, real) = match outcome {
            Ok(Ok(real)) => (None, real),
            Ok(Err(e)) => {
                if !matches!(op, Op::Blacklist | Op::PutChallenge | Op::TakeChallenge) {
                    f.violations.push(format!(
                        "{op:?} answered an error, its policy answers instead: {e}"
                    ));
                }
                if !matches!(e, StoreError::Unavailable { .. }) {
                    f.violations.push(format!("{op:?}: {e} is not Unavailable"));
                }
                (Some(kind(&e)), None)
            }
            Err(_) => (Some("Hung".into()), None),
        };
        f.calls.push(Call {
            op,
            start,
            took,
            error,
            real,
        });
    }
    f
}

#[derive(Default, Debug)]
struct Phase {
    name: String,
    calls: u64,
    ok: u64,
    policy_answers: u64,
    errors: BTreeMap<String, u64>,
    max: Duration,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn redis_faults_follow_the_policies_and_lose_no_write() {
    let Some(url) = common::redis_url() else {
        return;
    };
    let upstream = faults::upstream_of(&url, 6379).expect("the host of FULLAUTH_TEST_REDIS_URL");
    let proxy = FaultProxy::start(upstream).await.unwrap();
    let prefix = common::random_prefix();
    let through = RedisStore::builder()
        .key_prefix(&prefix)
        .timeout(TIMEOUT)
        .connect(&proxy.rewrite_url(&url).unwrap())
        .await
        .unwrap();
    let direct = common::store(&url, &prefix, false).await;

    let stop = Arc::new(AtomicBool::new(false));
    let t0 = Instant::now();
    let tasks: Vec<_> = (0..TASKS)
        .map(|i| tokio::spawn(load(through.clone(), stop.clone(), t0, i)))
        .collect();
    let mut timeline: Vec<(String, Duration, bool)> =
        vec![("baseline".into(), Duration::ZERO, false)];
    tokio::time::sleep(Duration::from_millis(500)).await;
    for fault in ["cut", "delay", "blackhole", "refuse"] {
        timeline.push((fault.into(), t0.elapsed(), false));
        let until = Instant::now() + FAULT;
        match fault {
            "cut" => {
                while Instant::now() < until {
                    proxy.cut_all();
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
            }
            "delay" => proxy.set_delay(Duration::from_millis(200)),
            "blackhole" => proxy.blackhole(true),
            _ => {
                proxy.refuse(true);
                proxy.cut_all();
            }
        }
        tokio::time::sleep_until(until.into()).await;
        // No help after the blackhole: the connection that lost bytes stays
        // silent, and the store must give it up by itself.
        proxy.heal();
        timeline.push((format!("recovery after {fault}"), t0.elapsed(), true));
        tokio::time::sleep(RECOVERY).await;
    }
    stop.store(true, Ordering::SeqCst);
    let end = t0.elapsed();

    let mut violations = Vec::new();
    let mut phases: Vec<Phase> = timeline
        .iter()
        .map(|(n, _, _)| Phase {
            name: n.clone(),
            ..Phase::default()
        })
        .collect();
    let mut blacklisted = Vec::new();
    let mut challenges = Vec::new();
    for task in tasks {
        let f = task.await.unwrap();
        violations.extend(f.violations);
        blacklisted.extend(f.blacklisted);
        challenges.extend(f.challenges);
        let mut recovered = vec![false; timeline.len()];
        for c in &f.calls {
            let i = timeline.iter().rposition(|t| t.1 <= c.start).unwrap_or(0);
            let (name, at, must) = &timeline[i];
            let next = timeline.get(i + 1).map_or(end, |t| t.1);
            let p = &mut phases[i];
            p.calls += 1;
            p.max = p.max.max(c.took);
            match &c.error {
                None => p.ok += 1,
                Some(k) => *p.errors.entry(k.clone()).or_default() += 1,
            }
            if c.real == Some(false) {
                p.policy_answers += 1;
            }
            if c.real == Some(true) {
                recovered[i] = true;
            }
            if c.took > TIMEOUT + SLACK {
                violations.push(format!("{:?} in {name} took {:?}", c.op, c.took));
            }
            let settled = c.start >= *at + GRACE && c.start + c.took < next;
            if *must && settled && (c.error.is_some() || c.real == Some(false)) {
                violations.push(format!(
                    "{name}: {:?} started {:?} after the heal answered {} ",
                    c.op,
                    c.start - *at,
                    c.error.as_deref().unwrap_or("the policy's answer")
                ));
            }
        }
        for (i, (name, _, must)) in timeline.iter().enumerate() {
            if *must && !recovered[i] {
                violations.push(format!("{name}: a task never got a real answer again"));
            }
        }
    }
    // No write answered Ok is lost (checked without the proxy).
    let checks = Instant::now();
    for k in &blacklisted {
        if !direct.is_blacklisted(k).await.unwrap() {
            violations.push(format!("{k:?} was blacklisted (Ok) but is missing"));
        }
    }
    for (k, value) in &challenges {
        match direct.take_challenge(k).await.unwrap() {
            Some(v) if String::from(v.clone()) == *value => {}
            other => violations.push(format!("challenge {k:?} stored (Ok) reads {other:?}")),
        }
    }
    let check_time = checks.elapsed();
    let mut table = String::new();
    for p in &phases {
        table.push_str(&format!(
            "{:<26} calls {:>6} ok {:>6} (policy answers {:>5}) errors {:?} max {:?}\n",
            p.name, p.calls, p.ok, p.policy_answers, p.errors, p.max
        ));
    }
    let summary = format!(
        "fullauth-redis under faults:\n{table}{} blacklistings and {} challenges checked in {check_time:?}; proxy {:?}\n{} violation(s): {:#?}",
        blacklisted.len(),
        challenges.len(),
        proxy.stats(),
        violations.len(),
        violations.iter().take(30).collect::<Vec<_>>()
    );
    eprintln!("{summary}");
    let mut admin = common::raw(&url).await;
    common::cleanup(&mut admin, &prefix).await;
    assert!(violations.is_empty(), "{summary}");
    for fault in ["cut", "blackhole", "refuse"] {
        let p = phases.iter().find(|p| p.name == fault).unwrap();
        assert!(
            p.policy_answers + p.errors.values().sum::<u64>() > 0,
            "{fault} did not bite: {summary}"
        );
    }
}

/// After the server went silent on the store's connection (a half-open
/// connection: the bytes are gone, nothing ever answers, nothing closes
/// it), the store gives the connection up and reconnects by itself: the
/// connection manager alone would not (it reconnects after an I/O error or
/// a closed connection, never after response timeouts), and every call
/// would time out until the operating system drops the connection (up to
/// its TCP retransmission timeout, about 15 minutes on Linux). The silent
/// connection is closed, not leaked.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recovers_from_a_silent_connection_without_help() {
    let Some(url) = common::redis_url() else {
        return;
    };
    let upstream = faults::upstream_of(&url, 6379).unwrap();
    let proxy = FaultProxy::start(upstream).await.unwrap();
    let prefix = common::random_prefix();
    let store = RedisStore::builder()
        .key_prefix(&prefix)
        .timeout(TIMEOUT)
        .policies(fullauth_redis::FailurePolicies {
            blacklist: fullauth_redis::FailurePolicy::Error,
            ..Default::default()
        })
        .connect(&proxy.rewrite_url(&url).unwrap())
        .await
        .unwrap();
    let k = key("silent".into());
    store.is_blacklisted(&k).await.unwrap();
    proxy.blackhole(true);
    assert!(store.is_blacklisted(&k).await.is_err());
    proxy.heal();
    let healed = Instant::now();
    let mut last = None;
    let mut failed = 0;
    let recovered = loop {
        if healed.elapsed() > Duration::from_secs(5) {
            panic!(
                "no answer 5 s after the heal ({failed} calls failed): {last:?}; proxy {:?}",
                proxy.stats()
            );
        }
        match store.is_blacklisted(&k).await {
            Ok(answer) => {
                assert!(!answer);
                break healed.elapsed();
            }
            Err(e) => {
                failed += 1;
                last = Some(e);
            }
        }
    };
    // One new connection, and the silent one closed once nothing uses it.
    let closing = Instant::now();
    while proxy.stats().active != 1 && closing.elapsed() < Duration::from_secs(5) {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let stats = proxy.stats();
    eprintln!(
        "silent connection: served again {recovered:?} after the heal ({failed} call(s) timed out); proxy {stats:?}"
    );
    assert_eq!(
        (stats.accepted, stats.active),
        (2, 1),
        "one new connection, the silent one closed: {stats:?}"
    );
    assert!(recovered < TIMEOUT * 2 + SLACK, "{recovered:?}");
}

/// A single call timeout is a slow moment, not a dead connection: the
/// store keeps its connection when an answer comes between timeouts. A
/// burst of concurrent timeouts on a silent connection replaces it once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_timeout_keeps_the_connection_a_silent_one_is_replaced_once() {
    let Some(url) = common::redis_url() else {
        return;
    };
    let upstream = faults::upstream_of(&url, 6379).unwrap();
    let proxy = FaultProxy::start(upstream).await.unwrap();
    let prefix = common::random_prefix();
    let store = RedisStore::builder()
        .key_prefix(&prefix)
        .timeout(TIMEOUT)
        .policies(fullauth_redis::FailurePolicies {
            blacklist: fullauth_redis::FailurePolicy::Error,
            ..Default::default()
        })
        .connect(&proxy.rewrite_url(&url).unwrap())
        .await
        .unwrap();
    let k = key("slow".into());
    // Answers again within 5 s (a delayed answer may still be in the way).
    let answers = async || {
        let since = Instant::now();
        while since.elapsed() < Duration::from_secs(5) {
            if store.is_blacklisted(&k).await.is_ok() {
                return;
            }
        }
        panic!("no answer within 5 s; proxy {:?}", proxy.stats());
    };
    answers().await;
    for _ in 0..3 {
        // A round trip takes at least 2 × 200 ms > the timeout.
        proxy.set_delay(Duration::from_millis(200));
        assert!(store.is_blacklisted(&k).await.is_err(), "slow enough");
        proxy.heal();
        answers().await;
    }
    assert_eq!(
        proxy.stats().accepted,
        1,
        "timeouts with answers in between keep the connection"
    );

    proxy.blackhole(true);
    let burst = futures::future::join_all((0..TASKS).map(|_| store.is_blacklisted(&k))).await;
    assert!(burst.iter().all(Result::is_err), "{burst:?}");
    proxy.heal();
    answers().await;
    let stats = proxy.stats();
    assert_eq!(
        stats.accepted, 2,
        "one new connection for the burst: {stats:?}"
    );
}
