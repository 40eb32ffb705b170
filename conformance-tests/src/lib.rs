//! The conformance suite of the fullauth family.
//!
//! One suite proves that every store — ours and yours — behaves as the
//! contract of `fullauth-api` says: every case of the reference library's own
//! suite, every contract clause of every trait, races of many tasks on each
//! atomic step, cascades, expiry, transactions, hostile input and the TTLs of
//! the short-lived stores.
//!
//! Run it in your store's `tests/conformance.rs`. The macro expands to one
//! `#[test]` per case, named `group::case`, so `cargo test` can filter them:
//!
//! ```no_run
//! // tests/conformance.rs
//! use std::sync::Arc;
//! use fullauth_conformance::{Subject, conformance_tests};
//! # mod my_crate { pub fn open() -> std::sync::Arc<dyn fullauth_api::Store> { unimplemented!() } }
//!
//! async fn subject() -> Subject {
//!     Subject::new(my_crate::open())
//! }
//!
//! // Every feature the store reports must pass:
//! conformance_tests!(subject);
//! // or only some; cases of the others are generated as ignored, with a reason:
//! // conformance_tests!(subject, features = [Blacklist, Lockout, RateLimit, Challenges]);
//! # fn main() {}
//! ```
//!
//! Or run it from code and get a [`Report`] (this is what `fullauth
//! conformance` does):
//!
//! ```no_run
//! # async fn demo(subject: fullauth_conformance::Subject) {
//! let report = fullauth_conformance::run_all(|_case| {
//!     let s = subject.clone();
//!     async move { s }
//! }, fullauth_api::Features::all()).await;
//! println!("{report}");
//! assert!(report.is_success());
//! # }
//! ```
//!
//! # What the suite expects of the store under test
//!
//! * Cases never assume an empty store and never count global rows: they use
//!   random emails, ids, family ids and keys, so the suite can run against a
//!   shared database, in parallel, again and again.
//! * The user table must have an application column `display_name`: text,
//!   nullable or with a default (the reference's fixtures have the same
//!   column). The extra-field cases write and read it.
//! * The store's clock and [`Subject::clock`] must agree. A store with a
//!   manual [`Clock`] lets TTL and expiry cases run without sleeping; on the
//!   system clock those cases sleep for a few seconds.
//!
//! An example of a store of your own that runs the whole suite is in this
//! crate's `examples/custom_store.rs`.

#![forbid(unsafe_code)]
#![deny(missing_docs)]

use std::fmt;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use futures::FutureExt as _;

pub use fullauth_api::{Clock, Feature, Features, Store, StoreError};

pub mod cases;

/// The store under test, with the clock it reads time from.
#[derive(Clone)]
pub struct Subject {
    /// The store.
    pub store: Arc<dyn Store>,
    /// The store's clock: cases read "now" from it and move it with
    /// [`Clock::advance`] (which sleeps on the system clock).
    pub clock: Clock,
}

impl Subject {
    /// A store on the system clock.
    pub fn new(store: Arc<dyn Store>) -> Self {
        Subject {
            store,
            clock: Clock::system(),
        }
    }

    /// Sets the clock the store reads time from.
    pub fn with_clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
    }

    /// The features the store reports.
    pub fn features(&self) -> Features {
        self.store.features()
    }
}

impl fmt::Debug for Subject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Subject")
            .field("backend", &self.store.backend_name())
            .field("features", &self.store.features())
            .field("clock", &self.clock)
            .finish()
    }
}

/// Why a case failed (besides a panic of one of its assertions).
#[derive(Debug)]
pub struct CaseError(pub String);

impl fmt::Display for CaseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<StoreError> for CaseError {
    fn from(e: StoreError) -> Self {
        CaseError(format!("unexpected store error: {e} ({e:?})"))
    }
}

/// What a case returns.
pub type CaseResult = Result<(), CaseError>;

/// A boxed case future.
pub type CaseFuture = Pin<Box<dyn Future<Output = CaseResult> + Send + 'static>>;

/// One case of the suite.
#[derive(Clone, Copy)]
pub struct Case {
    /// The group (a feature or a theme such as `concurrency`).
    pub group: &'static str,
    /// The case's name inside its group.
    pub name: &'static str,
    /// The features the store must serve for the case to run.
    pub requires: &'static [Feature],
    /// Runs the case.
    pub run: fn(Subject) -> CaseFuture,
}

impl Case {
    /// `group::name`.
    pub fn full_name(&self) -> String {
        format!("{}::{}", self.group, self.name)
    }
}

impl fmt::Debug for Case {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Case({}::{})", self.group, self.name)
    }
}

mod registry {
    use super::{Case, Feature};
    include!(concat!(env!("OUT_DIR"), "/registry.rs"));
}
include!(concat!(env!("OUT_DIR"), "/case_list.rs"));

pub use registry::all_cases;

/// How long one case may take before it counts as failed.
pub const CASE_TIMEOUT: Duration = Duration::from_secs(120);

/// The result of one case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Every assertion held.
    Passed,
    /// An assertion failed, an unexpected error came back, or it timed out.
    Failed(String),
    /// Not run, with the reason (a feature not under test).
    Skipped(String),
}

/// The results of [`run_all`].
#[derive(Debug, Clone, Default)]
pub struct Report {
    /// Each case's full name and outcome, in suite order.
    pub outcomes: Vec<(String, Outcome)>,
}

impl Report {
    /// How many passed.
    pub fn passed(&self) -> usize {
        self.count(|o| matches!(o, Outcome::Passed))
    }
    /// How many failed.
    pub fn failed(&self) -> usize {
        self.count(|o| matches!(o, Outcome::Failed(_)))
    }
    /// How many were skipped.
    pub fn skipped(&self) -> usize {
        self.count(|o| matches!(o, Outcome::Skipped(_)))
    }
    /// True when nothing failed.
    pub fn is_success(&self) -> bool {
        self.failed() == 0
    }
    fn count(&self, f: impl Fn(&Outcome) -> bool) -> usize {
        self.outcomes.iter().filter(|(_, o)| f(o)).count()
    }
}

impl fmt::Display for Report {
    /// One line per failed or skipped case, then `N passed, N failed, N skipped`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (name, o) in &self.outcomes {
            match o {
                Outcome::Passed => {}
                Outcome::Failed(m) => writeln!(f, "FAILED  {name}: {m}")?,
                Outcome::Skipped(r) => writeln!(f, "skipped {name}: {r}")?,
            }
        }
        write!(
            f,
            "{} passed, {} failed, {} skipped",
            self.passed(),
            self.failed(),
            self.skipped()
        )
    }
}

fn missing(case: &Case, features: Features) -> Option<Feature> {
    case.requires
        .iter()
        .copied()
        .find(|f| !features.contains(*f))
}

/// Runs one case against a subject: skipped when a feature it needs is not in
/// `features`; a panic, an error or a timeout is a failure.
pub async fn run_case(case: &Case, subject: Subject, features: Features) -> Outcome {
    if let Some(f) = missing(case, features) {
        return Outcome::Skipped(format!("feature `{f}` is not under test"));
    }
    if let Some(f) = missing(case, subject.features()) {
        return Outcome::Failed(format!(
            "feature `{f}` is under test but the store does not report it in features()"
        ));
    }
    let fut = AssertUnwindSafe((case.run)(subject)).catch_unwind();
    match tokio::time::timeout(CASE_TIMEOUT, fut).await {
        Err(_) => Outcome::Failed(format!("timed out after {CASE_TIMEOUT:?}")),
        Ok(Err(panic)) => Outcome::Failed(panic_message(&panic)),
        Ok(Ok(Err(e))) => Outcome::Failed(e.0),
        Ok(Ok(Ok(()))) => Outcome::Passed,
    }
}

fn panic_message(panic: &Box<dyn std::any::Any + Send>) -> String {
    panic
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| panic.downcast_ref::<&str>().map(|s| (*s).to_string()))
        .unwrap_or_else(|| "the case panicked".to_string())
}

/// Runs every case, four at a time, each on the subject `factory` makes for
/// it (so a runner can give a case a store of its own), and returns the
/// report. A subject is made only when its case is about to run. Cases of
/// features not in `features` are skipped.
pub async fn run_all<F, Fut>(factory: F, features: Features) -> Report
where
    F: Fn(&Case) -> Fut,
    Fut: Future<Output = Subject>,
{
    let permits = Arc::new(tokio::sync::Semaphore::new(4));
    let mut running = Vec::new();
    for case in all_cases() {
        let Ok(permit) = permits.clone().acquire_owned().await else {
            break;
        };
        let subject = factory(&case).await;
        let task = tokio::spawn(async move {
            let _permit = permit;
            run_case(&case, subject, features).await
        });
        running.push((case.full_name(), task));
    }
    let mut outcomes = Vec::with_capacity(running.len());
    for (name, task) in running {
        let outcome = task
            .await
            .unwrap_or_else(|e| Outcome::Failed(format!("the case task failed: {e}")));
        outcomes.push((name, outcome));
    }
    Report { outcomes }
}

/// What a factory given to [`conformance_tests!`] may return: a
/// [`Subject`], or `Option<Subject>` where `None` means "the service this
/// store needs is not configured here" — the case then prints a loud notice
/// and returns without running. Decide in the factory whether that is allowed
/// (the backends of this family panic instead when `CI=true`).
pub trait IntoSubject {
    /// The subject, or `None` to skip.
    fn into_subject(self) -> Option<Subject>;
}

impl IntoSubject for Subject {
    fn into_subject(self) -> Option<Subject> {
        Some(self)
    }
}

impl IntoSubject for Option<Subject> {
    fn into_subject(self) -> Option<Subject> {
        self
    }
}

/// Runs one case as a `#[test]` (used by [`conformance_tests!`]).
#[doc(hidden)]
pub fn __run_test<F, Fut>(group: &str, name: &str, features: Option<Features>, factory: F)
where
    F: FnOnce() -> Fut,
    Fut: Future,
    Fut::Output: IntoSubject,
{
    let case = all_cases()
        .into_iter()
        .find(|c| c.group == group && c.name == name)
        .unwrap_or_else(|| panic!("no case {group}::{name}"));
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(4)
        .enable_all()
        .build()
        .unwrap_or_else(|e| panic!("cannot build a tokio runtime: {e}"));
    let outcome = rt.block_on(async move {
        let subject = factory().await.into_subject()?;
        let features = features.unwrap_or_else(|| subject.features());
        Some(run_case(&case, subject, features).await)
    });
    let Some(outcome) = outcome else {
        eprintln!("NOT RUN {group}::{name}: the factory gave no subject (service not configured)");
        return;
    };
    match outcome {
        Outcome::Passed => {}
        Outcome::Failed(m) => panic!("{group}::{name} failed: {m}"),
        Outcome::Skipped(r) => panic!("{group}::{name} was skipped but generated as a test: {r}"),
    }
}

/// Expands to one `#[test]` per case of the suite, in one module per group.
///
/// `conformance_tests!(factory)` tests every feature the store reports;
/// `conformance_tests!(factory, features = [Core, Roles])` tests those features
/// and generates the cases of the others as `#[ignore]`d, with the reason, so
/// `cargo test` lists them as not run. The factory is an async function or a
/// closure returning a future of a [`Subject`] (or of `Option<Subject>`, see
/// [`IntoSubject`]); it is called once per case.
#[macro_export]
macro_rules! conformance_tests {
    ($factory:expr) => {
        $crate::__for_each_case!($crate::__emit_tests; $factory; reported);
    };
    ($factory:expr, features = [$($feature:ident),* $(,)?]) => {
        $crate::__for_each_case!($crate::__emit_tests; $factory; [$($feature),*]);
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __emit_tests {
    ([$factory:expr; reported] $( $group:ident $reqs:tt { $($name:ident),* } )*) => {
        $(
            #[allow(non_snake_case)]
            mod $group {
                #[allow(unused_imports)]
                use super::*;
                $(
                    #[test]
                    fn $name() {
                        $crate::__run_test(stringify!($group), stringify!($name), None, $factory);
                    }
                )*
            }
        )*
    };
    ([$factory:expr; $served:tt] $( $group:ident $reqs:tt { $($name:ident),* } )*) => {
        $(
            #[allow(non_snake_case)]
            mod $group {
                #[allow(unused_imports)]
                use super::*;
                $(
                    $crate::__if_served!($reqs $served {
                        #[test]
                        fn $name() {
                            let features: $crate::Features = $crate::__features!($served);
                            $crate::__run_test(stringify!($group), stringify!($name), Some(features), $factory);
                        }
                    } {
                        #[test]
                        #[ignore = "needs a feature that is not under test (see the features given to conformance_tests!)"]
                        fn $name() {}
                    });
                )*
            }
        )*
    };
}

/// `[A, B]` → a `Features` value.
#[doc(hidden)]
#[macro_export]
macro_rules! __features {
    ([$($f:ident),*]) => {
        [$($crate::Feature::$f),*].into_iter().collect::<$crate::Features>()
    };
}

/// Expands to the first block when every required feature is in the served
/// list, to the second otherwise.
#[doc(hidden)]
#[macro_export]
macro_rules! __if_served {
    ([] [$($s:ident),*] {$($yes:tt)*} {$($no:tt)*}) => { $($yes)* };
    ([$r:ident $(, $rest:ident)*] [$($s:ident),*] $yes:tt $no:tt) => {
        $crate::__contains!($r [$($s),*] { $crate::__if_served!([$($rest),*] [$($s),*] $yes $no); } $no);
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __contains {
    (Core [Core $(, $t:ident)*] {$($y:tt)*} $n:tt) => { $($y)* };
    (Roles [Roles $(, $t:ident)*] {$($y:tt)*} $n:tt) => { $($y)* };
    (Permissions [Permissions $(, $t:ident)*] {$($y:tt)*} $n:tt) => { $($y)* };
    (OAuth [OAuth $(, $t:ident)*] {$($y:tt)*} $n:tt) => { $($y)* };
    (Passkeys [Passkeys $(, $t:ident)*] {$($y:tt)*} $n:tt) => { $($y)* };
    (Mfa [Mfa $(, $t:ident)*] {$($y:tt)*} $n:tt) => { $($y)* };
    (Blacklist [Blacklist $(, $t:ident)*] {$($y:tt)*} $n:tt) => { $($y)* };
    (Lockout [Lockout $(, $t:ident)*] {$($y:tt)*} $n:tt) => { $($y)* };
    (RateLimit [RateLimit $(, $t:ident)*] {$($y:tt)*} $n:tt) => { $($y)* };
    (Challenges [Challenges $(, $t:ident)*] {$($y:tt)*} $n:tt) => { $($y)* };
    ($r:ident [$h:ident $(, $t:ident)*] $y:tt $n:tt) => { $crate::__contains!($r [$($t),*] $y $n); };
    ($r:ident [] $y:tt {$($n:tt)*}) => { $($n)* };
}
