//! Model-based differential testing: generated sequences of operations run
//! against a store and against a small pure model of the contract, with
//! every answer and the final state compared, and proptest shrinking a
//! failing sequence to a minimal one.
//!
//! # What is compared
//!
//! [`ops::Op`] covers a subset of every feature: users (create with and
//! without a given id, get, get by email, update, delete, password hash,
//! verification, principal), refresh tokens (store, get, revoke, rotate,
//! revoke a family / all of a user's, prune) and sessions (list, revoke
//! one, revoke the others), roles (create, assign, remove, list, delete),
//! permissions (grant, withdraw, per role, per roles, per user, the
//! permission check, list), OAuth links (link, get, list, update, delete),
//! passkeys (store, get, list, sign count, rename, delete), MFA (store,
//! get, confirm with recovery codes, counter, consume a code, delete), the
//! blacklist, lockout, rate limits, challenges, and clock steps. The value
//! space is small on purpose (three emails, three role names two of which
//! differ only in case, six token digests, three keys per short-lived
//! feature, ...) so that operations collide.
//!
//! The model ([`state::Model`]) is written from the documentation of the
//! traits in `fullauth_api::store`, not from a backend. Where the contract
//! allows several outcomes (which of two errors wins, whether a refused
//! `assign_role` still created the role) the model returns all of them and
//! the runner keeps every model state consistent with the store's answers.
//!
//! Answers are normalised before comparison ([`state::Answer`]): generated
//! user and passkey ids are mapped to the step that created them, token and
//! recovery-code digests to labels, timestamps are compared exactly (every
//! time comes from the subject's manual clock) except lock deadlines and
//! `retry_after`, compared to within a second as the contract allows. Row
//! ids of tokens, OAuth links and MFA factors, and application columns, are
//! not compared. Lists whose order among equal `created_at` depends on
//! generated ids are checked for their primary order and then compared in
//! a canonical order.
//!
//! A [`ops::Op::Concurrent`] group starts its calls together; their answers
//! must be those of *some* serial order of the group (the model tries every
//! order), and the run continues from every state such an order reaches.
//! Groups are random operations (mostly on different keys), copies of one
//! operation (one key contended: N rotations of one token, N failures of one
//! lockout key, N takes of one challenge, ...), or N rotations of one token
//! into different digests: exactly one may be `Rotated`.
//!
//! After the last step the final state is compared through reads of
//! everything the run could have touched.
//!
//! # Time
//!
//! On a manual clock the runner moves the clock 1 ms before every step (so
//! no two steps share an instant) and an [`ops::Op::AdvanceClock`] step by
//! about its amount, nudged so that the clock never stops within 1.5 s of a
//! deadline the model tracks: what a store answers exactly at an expiry is
//! not part of the contract. On the system clock (a Redis store) only the
//! short-lived features are exercised, clock steps are skipped and every
//! TTL is at least 30 s, so nothing expires during a run; deadlines are
//! compared to within two seconds there.
//!
//! # Isolation
//!
//! Every run tags its names (emails, roles, keys, families, ...) with a
//! random tag, and `list_roles`/`list_permissions` are compared on this
//! run's names only, so runs may share a database. `prune_expired_refresh_tokens`
//! is global: its count is compared as "at least the model's".
//!
//! # Using it
//!
//! ```ignore
//! use fullauth_api::{Clock, Timestamp};
//! use fullauth_conformance::{Subject, model_tests};
//!
//! async fn subject() -> Subject {
//!     let clock = Clock::manual(Timestamp::now());
//!     // Your store, reading time from `clock`.
//!     Subject::new(my_store(clock.clone())).with_clock(clock)
//! }
//!
//! model_tests!(subject);
//! ```
//!
//! `FULLAUTH_MODEL_CASES` sets how many sequences run (default
//! [`DEFAULT_CASES`]), `FULLAUTH_MODEL_MAX_LEN` their longest length
//! (default [`DEFAULT_MAX_LEN`] steps), `FULLAUTH_MODEL_SEED` (64 hex
//! digits, printed by every run) replays a run. Without it a run draws a
//! fresh seed, except under `CI=true`, where it uses [`CI_SEED`]: the CI
//! run checks the same sequences every time (a regression there is a
//! change, not luck), and exploring new ones is a local run's job
//! (`FULLAUTH_MODEL_CASES=2000`, say).

use std::future::Future;
use std::sync::Mutex;
use std::time::Instant;

use proptest::test_runner::{Config, RngAlgorithm, TestCaseError, TestError, TestRng, TestRunner};

use crate::{Features, IntoSubject};

pub mod ops;
pub mod runner;
pub mod state;

pub use ops::{GenConfig, Op};
pub use runner::{RunConfig, RunStats, run_sequence};
pub use state::{Answer, Call, Model};

/// Sequences per test when `FULLAUTH_MODEL_CASES` is not set.
pub const DEFAULT_CASES: u32 = 16;
/// Longest sequence when `FULLAUTH_MODEL_MAX_LEN` is not set.
pub const DEFAULT_MAX_LEN: usize = 40;
/// How long shrinking a failing sequence may take, in milliseconds.
pub const SHRINK_TIME_MS: u32 = 180_000;

fn env_number<T: std::str::FromStr>(name: &str, default: T) -> T {
    match std::env::var(name) {
        Ok(v) if !v.trim().is_empty() => v
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("{name}={v:?} is not a number")),
        _ => default,
    }
}

/// The seed of the sequences a `CI=true` run checks when
/// `FULLAUTH_MODEL_SEED` is not set.
pub const CI_SEED: &str = "f0a11a7e5eed0f0a11a7e5eed0f0a11a7e5eed0f0a11a7e5eed0f0a11a7e5eed";

fn seed() -> [u8; 32] {
    let mut out = [0u8; 32];
    let ci = std::env::var("CI").is_ok_and(|v| v == "true");
    let chosen = match std::env::var("FULLAUTH_MODEL_SEED") {
        Ok(hex) if !hex.trim().is_empty() => Ok(hex),
        _ if ci => Ok(CI_SEED.to_string()),
        other => other,
    };
    match chosen {
        Ok(hex) if !hex.trim().is_empty() => {
            let hex = hex.trim();
            if hex.len() != 64 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
                panic!("FULLAUTH_MODEL_SEED must be 64 hex digits, got {hex:?}");
            }
            for (i, byte) in out.iter_mut().enumerate() {
                *byte = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).unwrap_or(0);
            }
        }
        _ => {
            let a = uuid::Uuid::new_v4();
            let b = uuid::Uuid::new_v4();
            out[..16].copy_from_slice(a.as_bytes());
            out[16..].copy_from_slice(b.as_bytes());
        }
    }
    out
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// What [`run_model`] did.
#[derive(Clone, Copy, Debug, Default)]
pub struct ModelReport {
    /// Sequences run (shrinking excluded).
    pub cases: u32,
    /// Steps generated over all sequences run.
    pub steps: usize,
    /// Store calls made, final-state reads included.
    pub calls: usize,
    /// Concurrent groups run.
    pub groups: usize,
}

/// Runs `FULLAUTH_MODEL_CASES` generated sequences, each against a fresh
/// subject from `factory`, and panics with the minimal failing sequence
/// (after shrinking) when a store's answer or final state differs from the
/// model's. `features`: the features under test (`None`: those the store
/// reports). Returns `None` when the factory gives no subject (the service
/// is not configured: see [`IntoSubject`]).
///
/// Durable features are exercised only with [`Feature::Core`](crate::Feature::Core)
/// under test (the model makes its users with `create_user`) and on a
/// manual clock.
///
/// # Panics
/// On a divergence, and when a feature under test is not reported by the
/// store.
pub fn run_model<F, Fut>(features: Option<Features>, factory: F) -> Option<ModelReport>
where
    F: Fn() -> Fut,
    Fut: Future,
    Fut::Output: IntoSubject,
{
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(4)
        .enable_all()
        .build()
        .unwrap_or_else(|e| panic!("cannot build a tokio runtime: {e}"));
    let probe = rt.block_on(async { factory().await.into_subject() })?;
    let reported = probe.features();
    let features = features.unwrap_or(reported);
    if let Some(f) = features.iter().find(|f| !reported.contains(*f)) {
        panic!("feature `{f}` is under test but the store does not report it in features()");
    }
    let manual_clock = probe.clock.is_manual();
    let backend = probe.store.backend_name();
    drop(probe);

    let cases = env_number("FULLAUTH_MODEL_CASES", DEFAULT_CASES);
    let max_len = env_number("FULLAUTH_MODEL_MAX_LEN", DEFAULT_MAX_LEN);
    let gen_cfg = GenConfig {
        features,
        manual_clock,
        core_available: features.contains(crate::Feature::Core),
        max_len,
    };
    let run_cfg = RunConfig {
        features,
        manual_clock,
    };
    let seed = seed();
    let config = Config {
        cases,
        max_shrink_iters: 100_000,
        max_shrink_time: SHRINK_TIME_MS,
        failure_persistence: None,
        ..Config::default()
    };
    let mut runner =
        TestRunner::new_with_rng(config, TestRng::from_seed(RngAlgorithm::ChaCha, &seed));
    let report = Mutex::new(ModelReport::default());
    let shrinking = Mutex::new(false);
    let started = Instant::now();
    let result = runner.run(&ops::sequence(gen_cfg), |seq| {
        let outcome = rt.block_on(async {
            let Some(subject) = factory().await.into_subject() else {
                return Err("the factory gave no subject for a later sequence".to_string());
            };
            run_sequence(&subject, &run_cfg, &seq).await
        });
        let mut shrink = shrinking.lock().unwrap_or_else(|p| p.into_inner());
        match outcome {
            Ok(stats) => {
                if !*shrink {
                    let mut r = report.lock().unwrap_or_else(|p| p.into_inner());
                    r.cases += 1;
                    r.steps += seq.len();
                    r.calls += stats.calls + stats.final_reads;
                    r.groups += stats.groups;
                }
                Ok(())
            }
            Err(message) => {
                *shrink = true;
                Err(TestCaseError::fail(message))
            }
        }
    });
    let report = *report.lock().unwrap_or_else(|p| p.into_inner());
    let elapsed = started.elapsed();
    match result {
        Ok(()) => {
            use std::io::Write as _;
            let line = format!(
                "model: `{backend}` agreed with the model on {} sequences ({} steps, {} store calls, {} concurrent groups) in {:.1?}; features {features}; seed {}\n",
                report.cases,
                report.steps,
                report.calls,
                report.groups,
                elapsed,
                hex(&seed)
            );
            let _ = std::io::stderr().lock().write_all(line.as_bytes());
            Some(report)
        }
        Err(TestError::Fail(reason, seq)) => panic!(
            "{}\nminimal failing sequence ({} steps) after shrinking:\n{seq:#?}\nreplay with FULLAUTH_MODEL_SEED={}",
            reason.message(),
            seq.len(),
            hex(&seed)
        ),
        Err(TestError::Abort(reason)) => panic!(
            "the model test was aborted: {}; FULLAUTH_MODEL_SEED={}",
            reason.message(),
            hex(&seed)
        ),
    }
}

/// Expands to one `#[test]` (`model_sequences`) that runs [`run_model`]:
/// `FULLAUTH_MODEL_CASES` generated sequences (default [`DEFAULT_CASES`])
/// against fresh subjects from the factory, compared with the model.
///
/// `model_tests!(factory)` tests the features the store reports;
/// `model_tests!(factory, features = [Blacklist, Lockout])` those listed.
/// The factory is called like [`conformance_tests!`](crate::conformance_tests)'s:
/// an async function or closure giving a [`Subject`](crate::Subject) or
/// `Option<Subject>` (`None`: not configured, the test prints a notice and
/// passes). Give the subject a manual clock shared with the store: on the
/// system clock only the short-lived features are exercised.
#[macro_export]
macro_rules! model_tests {
    ($factory:expr) => {
        #[test]
        fn model_sequences() {
            if $crate::model::run_model(None, $factory).is_none() {
                eprintln!("NOT RUN model_sequences: the factory gave no subject (service not configured)");
            }
        }
    };
    ($factory:expr, features = [$($feature:ident),* $(,)?]) => {
        #[test]
        fn model_sequences() {
            let features: $crate::Features = $crate::__features!([$($feature),*]);
            if $crate::model::run_model(Some(features), $factory).is_none() {
                eprintln!("NOT RUN model_sequences: the factory gave no subject (service not configured)");
            }
        }
    };
}
