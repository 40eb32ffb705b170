#![doc = include_str!("../README.md")]
#![cfg_attr(docsrs, feature(doc_cfg))]
#![forbid(unsafe_code)]
#![deny(missing_docs)]

use std::fmt;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use futures::FutureExt as _;

pub use fullauth_api::{Clock, Feature, Features, Store, StoreError, StoreResult, UserId};

pub mod cases;
pub mod faults;
pub mod fixtures;
pub mod migrations;
pub mod model;

/// The type of an application column of `fullauth_users` that a subject
/// declares with [`Subject::with_app_column`]. It says how the store must
/// type the column's values in [`User::extra`](fullauth_api::User::extra).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ColumnKind {
    /// Text (`TEXT`, `VARCHAR(n)`): a JSON string. The suite writes at most
    /// 100 characters to it.
    Text,
    /// `BOOLEAN`: a JSON boolean, also on SQLite, which stores 0/1.
    Boolean,
    /// `INTEGER` (32-bit on PostgreSQL): a JSON integer. The suite writes
    /// values within `i32`.
    Integer,
}

/// How a subject makes a user id for a store that does not serve Core.
type UserFactory =
    Arc<dyn Fn() -> Pin<Box<dyn Future<Output = StoreResult<UserId>> + Send>> + Send + Sync>;

/// The store under test, with the clock it reads time from, the application
/// columns its user table has, and how to make a user when it serves no
/// users itself.
#[derive(Clone)]
pub struct Subject {
    /// The store.
    pub store: Arc<dyn Store>,
    /// The store's clock: cases read "now" from it and move it with
    /// [`Clock::advance`] (which sleeps on the system clock).
    pub clock: Clock,
    app_columns: Vec<(String, ColumnKind)>,
    user_factory: Option<UserFactory>,
}

impl Subject {
    /// A store on the system clock, with no application column declared and
    /// no user factory.
    pub fn new(store: Arc<dyn Store>) -> Self {
        Subject {
            store,
            clock: Clock::system(),
            app_columns: Vec::new(),
            user_factory: None,
        }
    }

    /// Sets the clock the store reads time from.
    pub fn with_clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
    }

    /// Declares an application column of fullauth_users the store serves in
    /// `User::extra`: nullable, without a default (so a user created without
    /// it reads back JSON null). The cases of application columns run only
    /// when the subject declares the columns they need (the first declared
    /// column of each kind is used) and are skipped otherwise. Declaring a
    /// name again replaces its kind.
    ///
    /// # Panics
    /// When `name` could never be an application column: a protected field
    /// (`email`, `is_active`, …) or not an SQL identifier.
    pub fn with_app_column(mut self, name: &str, kind: ColumnKind) -> Self {
        if let Err(e) = fullauth_api::user::check_field_name(name) {
            panic!("Subject::with_app_column({name:?}): {e}");
        }
        match self.app_columns.iter_mut().find(|(n, _)| n == name) {
            Some(column) => column.1 = kind,
            None => self.app_columns.push((name.to_string(), kind)),
        }
        self
    }

    /// How to make a user id when the store does not serve Core (the app's
    /// own user table): every case of a feature other than Core that needs
    /// "some user" calls `f` for one. The id must be a user the store under
    /// test accepts as an owner (for example a row the factory inserted in
    /// the app's table that the store's foreign keys point to). When set, the
    /// factory is used even if the store serves Core; without it, such cases
    /// create the user with `create_user`, and fail on a store without Core.
    pub fn with_user_factory<F, Fut>(mut self, f: F) -> Self
    where
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: Future<Output = StoreResult<UserId>> + Send + 'static,
    {
        self.user_factory = Some(Arc::new(move || Box::pin(f())));
        self
    }

    /// The features the store reports.
    pub fn features(&self) -> Features {
        self.store.features()
    }

    /// The user key type the cases use: the one the store reports
    /// ([`StoreInfo::user_id_type`](fullauth_api::StoreInfo::user_id_type)).
    /// To test a store on several key types, give the suite a subject per
    /// type (see the crate docs).
    pub fn user_id_type(&self) -> fullauth_api::UserIdType {
        self.store.user_id_type()
    }

    /// The application columns declared with
    /// [`with_app_column`](Self::with_app_column), in declaration order.
    pub fn app_columns(&self) -> impl Iterator<Item = (&str, ColumnKind)> {
        self.app_columns.iter().map(|(n, k)| (n.as_str(), *k))
    }

    /// The first declared application column of this kind.
    pub fn app_column(&self, kind: ColumnKind) -> Option<&str> {
        self.app_columns().find(|(_, k)| *k == kind).map(|(n, _)| n)
    }

    /// True when a user factory was given with
    /// [`with_user_factory`](Self::with_user_factory).
    pub fn has_user_factory(&self) -> bool {
        self.user_factory.is_some()
    }

    /// A user id from the factory, or `None` when there is none.
    pub(crate) async fn user_from_factory(&self) -> Option<StoreResult<UserId>> {
        let factory = self.user_factory.as_ref()?;
        Some(factory().await)
    }
}

impl fmt::Debug for Subject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Subject")
            .field("backend", &self.store.backend_name())
            .field("features", &self.store.features())
            .field("clock", &self.clock)
            .field("app_columns", &self.app_columns)
            .field("user_factory", &self.user_factory.is_some())
            .finish()
    }
}

/// Why a case did not pass (besides a panic of one of its assertions).
#[derive(Debug)]
pub enum CaseError {
    /// The case failed: an unexpected error or a broken expectation.
    Failed(String),
    /// The case cannot run against this subject (an application column it
    /// needs is not declared), with the reason. Reported as
    /// [`Outcome::Skipped`].
    Skipped(String),
}

impl CaseError {
    /// The message or the reason.
    pub fn message(&self) -> &str {
        match self {
            CaseError::Failed(m) | CaseError::Skipped(m) => m,
        }
    }
}

impl fmt::Display for CaseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CaseError::Failed(m) => f.write_str(m),
            CaseError::Skipped(r) => write!(f, "skipped: {r}"),
        }
    }
}

impl From<StoreError> for CaseError {
    fn from(e: StoreError) -> Self {
        CaseError::Failed(format!("unexpected store error: {e} ({e:?})"))
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
    /// Not run, with the reason: a feature not under test, or an application
    /// column the case needs that the subject does not declare.
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
/// `features`, or when the case finds the subject lacks what it needs (an
/// application column, [`CaseError::Skipped`]); a panic, an error or a
/// timeout is a failure.
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
        Ok(Ok(Err(CaseError::Failed(m)))) => Outcome::Failed(m),
        Ok(Ok(Err(CaseError::Skipped(r)))) => Outcome::Skipped(r),
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
        let under_test = match features {
            Some(f) => f,
            None => {
                // `conformance_tests!(factory)`: the features the store
                // reports are under test; a case of another one is skipped.
                let reported = subject.features();
                if let Some(f) = missing(&case, reported) {
                    return Some(Outcome::Skipped(format!(
                        "feature `{f}` is not reported by the store"
                    )));
                }
                reported
            }
        };
        if let Some(f) = missing(&case, under_test) {
            panic!(
                "{group}::{name} needs feature `{f}`, which is not under test, but was generated as a test"
            );
        }
        Some(run_case(&case, subject, under_test).await)
    });
    let Some(outcome) = outcome else {
        eprintln!("NOT RUN {group}::{name}: the factory gave no subject (service not configured)");
        return;
    };
    match outcome {
        Outcome::Passed => {}
        Outcome::Failed(m) => panic!("{group}::{name} failed: {m}"),
        Outcome::Skipped(r) => {
            // Straight to the process's stderr, past the test harness's
            // output capture, so the skip shows in a plain `cargo test`.
            use std::io::Write as _;
            let line = format!("SKIPPED {group}::{name}: {r}\n");
            let _ = std::io::stderr().lock().write_all(line.as_bytes());
        }
    }
}

/// Expands to one `#[test]` per case of the suite, in one module per group.
///
/// `conformance_tests!(factory)` tests every feature the store reports (a
/// case of a feature it does not report prints `SKIPPED group::case: reason`
/// to stderr and passes); `conformance_tests!(factory, features = [Core,
/// Roles])` tests those features and generates the cases of the others as
/// `#[ignore]`d, with the reason, so `cargo test` lists them as not run. A
/// case that finds at run time that the subject lacks what it needs (an
/// application column) prints the same `SKIPPED` line and passes. The factory is an async function or a
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
