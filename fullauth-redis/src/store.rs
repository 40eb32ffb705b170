//! The store, its builder, and the one path every Redis call takes (timeout,
//! error mapping, failure policy).

use std::fmt;
use std::future::Future;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, PoisonError, RwLock};
use std::time::Duration;

use fullauth_api::backend::Backend;
use fullauth_api::{Feature, Features, StoreError, StoreInfo, StoreResult};
use redis::aio::{ConnectionLike, ConnectionManager, ConnectionManagerConfig};
use redis::{Cmd, ErrorKind, FromRedisValue, RedisError, RedisResult, ScriptInvocation};

use crate::keys::{DEFAULT_PREFIX, KeyLayout};
use crate::policy::{FailurePolicies, FailurePolicy};

/// The default bound of every Redis call.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_millis(500);

/// The longest TTL, lock or window the store writes (100 years). Longer
/// durations are shortened to it: Redis refuses expiry times that overflow
/// its clock arithmetic, and nothing short-lived needs more.
pub const MAX_TTL: Duration = Duration::from_secs(100 * 365 * 24 * 3600);

/// How many calls in a row on the same connection must get no answer within
/// the call timeout before a store built from a URL replaces that
/// connection (see [`RedisStore`], "Silent connections").
///
/// Two, not one: a single timeout is also what a slow moment gives (a slow
/// script, a fork for a snapshot, a scheduling stall), and a healthy
/// connection should not be dropped for it. Answers on a multiplexed
/// connection come back in order, so any answer in between proves the
/// connection alive and starts the count again.
const TIMEOUTS_BEFORE_REPLACING: u32 = 2;

/// A connection the store can run commands on: a
/// [`ConnectionManager`] (the default, reconnects by itself), a
/// [`redis::aio::MultiplexedConnection`], or a cluster connection of the
/// redis crate's `cluster-async` feature. It is cloned for every call, so it
/// must be a cheap handle.
pub trait RedisConnection: ConnectionLike + Clone + Send + Sync + 'static {}

impl<T> RedisConnection for T where T: ConnectionLike + Clone + Send + Sync + 'static {}

/// The four short-lived stores on Redis: [`fullauth_api::BlacklistStore`],
/// [`fullauth_api::LockoutStore`], [`fullauth_api::RateLimitStore`] and
/// [`fullauth_api::ChallengeStore`].
///
/// Made with [`RedisStore::connect`], [`RedisStore::from_connection`] or
/// [`RedisStore::builder`] (see the crate docs for the scheme). Cloning is
/// cheap (the connection is a shared handle). Every call is bounded by the
/// call timeout; what a failed call answers is set by the
/// [`FailurePolicies`]. The durable traits are implemented too, so the store
/// is a [`fullauth_api::Store`]; their methods answer
/// [`StoreError::FeatureDisabled`].
///
/// # Silent connections
///
/// A connection can stop answering without being closed: a half-open
/// connection after a network partition, a middlebox that dropped its
/// state, a peer that lost bytes. The redis crate's [`ConnectionManager`]
/// reconnects after a closed connection or an I/O error, not after
/// response timeouts, so on its own it would keep the silent connection
/// until the operating system gives it up (up to about 15 minutes of TCP
/// retransmissions on Linux), and every call would time out meanwhile.
///
/// A store the crate built from a URL ([`RedisStore::connect`],
/// [`RedisStore::connect_lazy`] and the builder's `connect`/`connect_lazy`)
/// therefore replaces its connection manager with a fresh one (a new
/// connection) when two calls in a row on the same connection got no
/// answer within the call timeout. One timeout is not enough: a slow moment
/// of the server (a slow script, a fork for a snapshot) gives one on a
/// healthy connection. Any answer, or any error other than a timeout,
/// starts the count again. A burst of concurrent calls timing out on the
/// same connection replaces it once, and the clones of the store share the
/// replacement. The calls that timed out follow their failure policy as
/// before; the calls after the replacement use the new connection, so the
/// store serves again about two call timeouts after the server answers
/// again. The old connection is closed once the calls still using it have
/// ended.
///
/// A store on the application's own connection
/// ([`RedisStore::from_connection`], [`RedisStoreBuilder::build`]) keeps
/// that connection whatever happens: the application's connection decides
/// its own reconnection (a [`ConnectionManager`] reconnects after a lost
/// connection but not after timeouts; a cluster connection refreshes its
/// topology; a plain multiplexed connection never reconnects).
#[derive(Clone)]
pub struct RedisStore<C = ConnectionManager> {
    pub(crate) conn: Arc<Link<C>>,
    pub(crate) keys: KeyLayout,
    pub(crate) timeout: Duration,
    pub(crate) policies: FailurePolicies,
}

impl<C> fmt::Debug for RedisStore<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisStore")
            .field("keys", &self.keys)
            .field("timeout", &self.timeout)
            .field("policies", &self.policies)
            .finish_non_exhaustive()
    }
}

impl RedisStore<ConnectionManager> {
    /// A builder, to set the key prefix, the call timeout, the failure
    /// policies or cluster hash tags.
    pub fn builder() -> RedisStoreBuilder {
        RedisStoreBuilder::default()
    }

    /// A store with the default settings on the Redis at `url`
    /// (`redis://[user:password@]host[:port][/db]`, `rediss://…` when the
    /// redis crate is built with TLS), once the server has answered a `PING`
    /// within the call timeout.
    ///
    /// # Errors
    /// [`StoreError::InvalidInput`] (field `redis_url`) for a URL that does
    /// not parse; [`StoreError::Unavailable`] when the server does not
    /// answer.
    pub async fn connect(url: &str) -> StoreResult<Self> {
        Self::builder().connect(url).await
    }

    /// Like [`RedisStore::connect`] but lazy and sync: nothing is connected
    /// and nothing is checked but the URL. The first call connects, and a
    /// server that is down is reported by the calls, according to the
    /// failure policies. Must be called inside a Tokio runtime.
    ///
    /// # Errors
    /// [`StoreError::InvalidInput`] (field `redis_url`) for a URL that does
    /// not parse; [`StoreError::Backend`] outside a Tokio runtime.
    pub fn connect_lazy(url: &str) -> StoreResult<Self> {
        Self::builder().connect_lazy(url)
    }

    /// Renamed [`RedisStore::connect_lazy`]: it never connected, and the
    /// new name says so.
    #[deprecated(
        since = "0.2.0",
        note = "use `RedisStore::connect_lazy` (same behaviour)"
    )]
    pub fn open(url: &str) -> StoreResult<Self> {
        Self::connect_lazy(url)
    }

    /// Renamed [`RedisStore::from_connection`], which takes any connection.
    #[deprecated(since = "0.2.0", note = "use `RedisStore::from_connection`")]
    pub fn from_manager(manager: ConnectionManager) -> Self {
        Self::from_connection(manager)
    }
}

impl<C: RedisConnection> RedisStore<C> {
    /// A store with the default settings on the application's connection: a
    /// [`ConnectionManager`] (which keeps its own reconnection settings), a
    /// multiplexed or a cluster connection. Nothing is sent. Use
    /// [`RedisStore::builder`] and [`RedisStoreBuilder::build`] to change the
    /// settings.
    pub fn from_connection(conn: C) -> Self {
        RedisStore {
            conn: Arc::new(Link::fixed(conn)),
            keys: KeyLayout::default(),
            timeout: DEFAULT_TIMEOUT,
            policies: FailurePolicies::default(),
        }
    }

    /// Renamed [`RedisStore::from_connection`].
    #[deprecated(since = "0.2.0", note = "use `RedisStore::from_connection`")]
    pub fn with_connection(conn: C) -> Self {
        Self::from_connection(conn)
    }

    /// The key layout (prefix and hash tags).
    pub fn keys(&self) -> &KeyLayout {
        &self.keys
    }

    /// The bound of every Redis call.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// The failure policy of each feature.
    pub fn policies(&self) -> FailurePolicies {
        self.policies
    }

    /// A clone of the connection handle the store uses now (a store built
    /// from a URL replaces it after a silent connection: see "Silent
    /// connections" above).
    pub fn connection(&self) -> C {
        self.conn.current()
    }

    /// Checks that the server answers a `PING` within the call timeout.
    ///
    /// # Errors
    /// [`StoreError::Unavailable`] when it does not.
    pub async fn ping(&self) -> StoreResult<()> {
        let cmd = redis::cmd("PING");
        self.query::<String>(true, &cmd)
            .await
            .map(|_| ())
            .map_err(|e| e.with_context("redis", "ping"))
    }

    /// Runs one command, retried once on a fresh connection when the first
    /// attempt failed because the connection was lost (only for commands
    /// that are safe to repeat), all within the call timeout.
    pub(crate) async fn query<T: FromRedisValue>(&self, retry: bool, cmd: &Cmd) -> StoreResult<T> {
        self.bounded(self.run(retry, cmd)).await
    }

    /// Runs one command without the timeout (the caller bounds it).
    pub(crate) async fn run<T: FromRedisValue>(&self, retry: bool, cmd: &Cmd) -> RedisResult<T> {
        let mut conn = self.conn.current();
        match cmd.query_async(&mut conn).await {
            Err(e) if retry && e.is_unrecoverable_error() => {
                tracing::debug!(error = %e, "redis connection lost; retrying once");
                let mut conn = self.conn.current();
                cmd.query_async(&mut conn).await
            }
            other => other,
        }
    }

    /// Runs a script (`EVALSHA`, loading it on `NOSCRIPT`) within the call
    /// timeout. Never retried: a lost answer may hide a script that ran.
    pub(crate) async fn eval<T: FromRedisValue>(
        &self,
        invocation: &ScriptInvocation<'_>,
    ) -> StoreResult<T> {
        self.bounded(async move {
            let mut conn = self.conn.current();
            invocation.invoke_async(&mut conn).await
        })
        .await
    }

    /// Bounds a Redis future (which takes its connection from
    /// [`Link::current`] when first polled) by the call timeout and maps its
    /// error. A call without an answer in time counts towards replacing the
    /// connection ([`Link::timed_out`]); any answer resets the count. (The
    /// span, the backend and the operation come from the forwarding layer of
    /// [`fullauth_api::backend`].)
    pub(crate) async fn bounded<T>(
        &self,
        fut: impl Future<Output = RedisResult<T>>,
    ) -> StoreResult<T> {
        let generation = self.conn.generation();
        match tokio::time::timeout(self.timeout, fut).await {
            Ok(Ok(v)) => {
                self.conn.answered(generation);
                Ok(v)
            }
            Ok(Err(e)) => {
                // The connection's own response or connect timeout (an I/O
                // `TimedOut`) is no answer either; any other error is one.
                if e.is_timeout() {
                    self.conn.timed_out(generation);
                } else {
                    self.conn.answered(generation);
                }
                Err(map_error(e))
            }
            Err(_) => {
                self.conn.timed_out(generation);
                Err(StoreError::unavailable_message(format!(
                    "redis gave no answer within {:?}",
                    self.timeout
                )))
            }
        }
    }

    /// Applies the feature's failure policy to a failed call: `open` or
    /// `closed` is the answer under that policy (`None`: the error goes to
    /// the caller). An answer given by the policy is logged, inside the
    /// operation's span.
    pub(crate) fn fail<T>(
        &self,
        feature: Feature,
        error: StoreError,
        open: Option<T>,
        closed: Option<T>,
    ) -> StoreResult<T> {
        let policy = match feature {
            Feature::Blacklist => self.policies.blacklist,
            Feature::Lockout => self.policies.lockout,
            Feature::RateLimit => self.policies.rate_limit,
            _ => self.policies.challenges,
        };
        let answer = match policy {
            FailurePolicy::Open => open,
            FailurePolicy::Closed => closed,
            FailurePolicy::Error => None,
        };
        match answer {
            Some(v) => {
                tracing::warn!(
                    feature = %feature,
                    policy = %policy,
                    error = %error,
                    "redis call failed; answering by the failure policy"
                );
                Ok(v)
            }
            None => Err(error),
        }
    }
}

/// The four short-lived features, as `redis`.
impl<C: RedisConnection> StoreInfo for RedisStore<C> {
    fn features(&self) -> Features {
        Features::short_lived()
    }

    fn backend_name(&self) -> &'static str {
        "redis"
    }
}

/// The operations of the feature modules take the store itself: it holds
/// the connection handle and the settings every call needs.
impl<C: RedisConnection> Backend for RedisStore<C> {
    type Ops<'a>
        = &'a RedisStore<C>
    where
        Self: 'a;

    fn ops(&self) -> Self::Ops<'_> {
        self
    }
}

/// Lost connections, timeouts and a server that cannot serve right now are
/// [`StoreError::Unavailable`] (retryable); everything else is
/// [`StoreError::Backend`]. A `MOVED` or `ASK` redirection that reaches the
/// store is the cluster client giving up on a topology in flux (a failover
/// or a slot migration under way, pointing at a node that is down), so it is
/// unavailable too.
fn map_error(e: RedisError) -> StoreError {
    use redis::ServerErrorKind as S;
    let unavailable = e.is_io_error()
        || e.is_timeout()
        || e.is_connection_dropped()
        || e.is_connection_refusal()
        || matches!(
            e.kind(),
            ErrorKind::ClusterConnectionNotFound
                | ErrorKind::Server(
                    S::BusyLoading
                        | S::TryAgain
                        | S::ClusterDown
                        | S::MasterDown
                        | S::ReadOnly
                        | S::Moved
                        | S::Ask
                )
        );
    let message = format!("redis: {e}");
    if unavailable {
        StoreError::unavailable(message, e)
    } else {
        StoreError::backend(message, e)
    }
}

/// Settings of a [`RedisStore`]: key prefix, call timeout, failure policies
/// and cluster hash tags.
///
/// ```
/// use std::time::Duration;
/// use fullauth_redis::{FailurePolicy, RedisStore};
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let store = RedisStore::builder()
///     .key_prefix("myapp:")
///     .timeout(Duration::from_millis(200))
///     .lockout_policy(FailurePolicy::Closed)
///     .connect_lazy("redis://127.0.0.1:6379")
///     .unwrap();
/// assert_eq!(store.keys().prefix(), "myapp:");
/// # }
/// ```
#[derive(Clone, Debug)]
pub struct RedisStoreBuilder {
    prefix: String,
    hash_tags: bool,
    timeout: Duration,
    policies: FailurePolicies,
}

impl Default for RedisStoreBuilder {
    fn default() -> Self {
        RedisStoreBuilder {
            prefix: DEFAULT_PREFIX.to_string(),
            hash_tags: false,
            timeout: DEFAULT_TIMEOUT,
            policies: FailurePolicies::default(),
        }
    }
}

impl RedisStoreBuilder {
    /// The prefix of every key (default `fullauth:`, the reference's). Give
    /// each application, or each test run, its own prefix to keep their
    /// entries apart; keep the default to share entries with a
    /// fastapi-fullauth service.
    pub fn key_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }

    /// Wraps the login key of the two lockout keys in a hash tag
    /// (`…:lockout:attempts:{<key>}`) so the lockout script works on Redis
    /// Cluster (default off: the reference layout). See the crate docs for
    /// the trade-off.
    pub fn cluster_hash_tags(mut self, on: bool) -> Self {
        self.hash_tags = on;
        self
    }

    /// The bound of every Redis call (default 500 ms; a zero duration is
    /// raised to one millisecond). A hung Redis costs a caller at most this.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout.max(Duration::from_millis(1));
        self
    }

    /// Every feature's failure policy at once.
    pub fn policies(mut self, policies: FailurePolicies) -> Self {
        self.policies = policies;
        self
    }

    /// The blacklist's failure policy (default [`FailurePolicy::Closed`]).
    pub fn blacklist_policy(mut self, policy: FailurePolicy) -> Self {
        self.policies.blacklist = policy;
        self
    }

    /// The lockout's failure policy (default [`FailurePolicy::Open`]).
    pub fn lockout_policy(mut self, policy: FailurePolicy) -> Self {
        self.policies.lockout = policy;
        self
    }

    /// The rate limiter's failure policy (default [`FailurePolicy::Open`]).
    pub fn rate_limit_policy(mut self, policy: FailurePolicy) -> Self {
        self.policies.rate_limit = policy;
        self
    }

    /// The challenges' failure policy (default [`FailurePolicy::Error`]).
    pub fn challenges_policy(mut self, policy: FailurePolicy) -> Self {
        self.policies.challenges = policy;
        self
    }

    /// A store on the application's connection handle (a
    /// [`ConnectionManager`], a multiplexed or a cluster connection). Nothing
    /// is sent.
    ///
    /// # Errors
    /// [`StoreError::InvalidInput`] (field `key_prefix`) when hash tags are on
    /// and the prefix contains `{` or `}`.
    ///
    /// The store keeps this connection whatever happens: its own settings
    /// decide how it reconnects (see [`RedisStore`], "Silent connections").
    pub fn build<C: RedisConnection>(self, conn: C) -> StoreResult<RedisStore<C>> {
        self.build_on(Link::fixed(conn))
    }

    fn build_on<C: RedisConnection>(self, link: Link<C>) -> StoreResult<RedisStore<C>> {
        Ok(RedisStore {
            conn: Arc::new(link),
            keys: KeyLayout::new(self.prefix, self.hash_tags)?,
            timeout: self.timeout,
            policies: self.policies,
        })
    }

    /// A store on a new [`ConnectionManager`] for `url`, once the server
    /// has answered a `PING` within the call timeout. After a lost
    /// connection the manager reconnects by itself; after a silent one (two
    /// call timeouts in a row) the store replaces the manager (see
    /// [`RedisStore`], "Silent connections").
    ///
    /// # Errors
    /// [`StoreError::InvalidInput`] (`redis_url` or `key_prefix`);
    /// [`StoreError::Unavailable`] when the server does not answer.
    pub async fn connect(self, url: &str) -> StoreResult<RedisStore<ConnectionManager>> {
        let store = self.connect_lazy(url)?;
        store.ping().await?;
        Ok(store)
    }

    /// Like [`RedisStoreBuilder::connect`] but lazy and sync: nothing is
    /// connected and nothing is checked but the settings and the URL. The
    /// first call connects (each attempt bounded by the call timeout); a
    /// server that is down is reported by the calls, according to the
    /// failure policies.
    ///
    /// Must be called inside a Tokio runtime (the manager runs a background
    /// task).
    ///
    /// # Errors
    /// [`StoreError::InvalidInput`] (`redis_url` or `key_prefix`);
    /// [`StoreError::Backend`] when called outside a Tokio runtime.
    pub fn connect_lazy(self, url: &str) -> StoreResult<RedisStore<ConnectionManager>> {
        tokio::runtime::Handle::try_current().map_err(|e| {
            StoreError::backend("a redis store must be made inside a Tokio runtime", e)
        })?;
        let client = redis::Client::open(url)
            .map_err(|e| StoreError::invalid("redis_url", format!("{e}")))?;
        // Each attempt to connect, and each answer, is bounded by the call
        // timeout (the redis crate's own default response timeout, 500 ms,
        // would otherwise cut a longer call timeout short).
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(self.timeout))
            .set_response_timeout(Some(self.timeout))
            .set_number_of_retries(2)
            .set_min_delay(Duration::from_millis(20))
            .set_max_delay(Duration::from_millis(500));
        let manager = ConnectionManager::new_lazy_with_config(client.clone(), config.clone())
            .map_err(|e| {
                StoreError::backend(format!("cannot set up the redis connection: {e}"), e)
            })?;
        let renew: Renew<ConnectionManager> = Box::new(move || {
            ConnectionManager::new_lazy_with_config(client.clone(), config.clone())
        });
        self.build_on(Link::renewable(manager, renew))
    }

    /// Renamed [`RedisStoreBuilder::connect_lazy`].
    #[deprecated(since = "0.2.0", note = "use `connect_lazy` (same behaviour)")]
    pub fn open(self, url: &str) -> StoreResult<RedisStore<ConnectionManager>> {
        self.connect_lazy(url)
    }
}

/// Makes a fresh connection, for a store that may replace its own.
pub(crate) type Renew<C> = Box<dyn Fn() -> RedisResult<C> + Send + Sync>;

/// The connection a store and all its clones share, and, for a store the
/// crate built from a URL, what replaces it after
/// [`TIMEOUTS_BEFORE_REPLACING`] call timeouts in a row.
pub(crate) struct Link<C> {
    /// The connection calls take now.
    current: RwLock<C>,
    /// How many times `current` was replaced; only changed under its write
    /// lock.
    generation: AtomicU64,
    /// Calls on `current` in a row that got no answer in time.
    timeouts: AtomicU32,
    /// `None`: the application's connection, never replaced.
    renew: Option<Renew<C>>,
}

impl<C: Clone> Link<C> {
    /// The application's connection, kept whatever happens.
    fn fixed(conn: C) -> Self {
        Link {
            current: RwLock::new(conn),
            generation: AtomicU64::new(0),
            timeouts: AtomicU32::new(0),
            renew: None,
        }
    }

    /// A connection the store replaces with `renew` when it goes silent.
    fn renewable(conn: C, renew: Renew<C>) -> Self {
        Link {
            renew: Some(renew),
            ..Link::fixed(conn)
        }
    }

    /// A clone of the connection calls take now.
    pub(crate) fn current(&self) -> C {
        // A poisoned lock still holds a whole handle: it is only ever
        // replaced by an assignment.
        self.current
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Which connection a call starting now takes.
    pub(crate) fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// A call that started on connection `generation` got an answer: the
    /// connection is alive.
    pub(crate) fn answered(&self, generation: u64) {
        if self.renew.is_some()
            && self.generation() == generation
            && self.timeouts.load(Ordering::Relaxed) != 0
        {
            self.timeouts.store(0, Ordering::Relaxed);
        }
    }

    /// A call that started on connection `generation` got no answer in
    /// time. The one that makes [`TIMEOUTS_BEFORE_REPLACING`] in a row
    /// replaces the connection; calls on a connection already replaced do
    /// not count, so a burst of timeouts replaces it once.
    pub(crate) fn timed_out(&self, generation: u64) {
        let Some(renew) = &self.renew else {
            return;
        };
        if self.generation() != generation {
            return;
        }
        if self.timeouts.fetch_add(1, Ordering::AcqRel) + 1 < TIMEOUTS_BEFORE_REPLACING {
            return;
        }
        let mut current = self.current.write().unwrap_or_else(PoisonError::into_inner);
        if self.generation() != generation {
            // Another call replaced it while this one waited for the lock.
            return;
        }
        match renew() {
            Ok(fresh) => {
                *current = fresh;
                self.timeouts.store(0, Ordering::Relaxed);
                self.generation.store(generation + 1, Ordering::Release);
                tracing::warn!(
                    timeouts = TIMEOUTS_BEFORE_REPLACING,
                    "redis connection silent; replaced it with a new one"
                );
            }
            Err(e) => {
                tracing::warn!(error = %e, "redis connection silent; cannot replace it");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU64, Ordering};

    use super::{Link, TIMEOUTS_BEFORE_REPLACING};

    /// A link on "connection" 0 whose replacements are numbered 1, 2, …;
    /// the counter says how many were made.
    fn renewable() -> (Link<u64>, Arc<AtomicU64>) {
        let made = Arc::new(AtomicU64::new(0));
        let counter = made.clone();
        let link = Link::renewable(
            0,
            Box::new(move || Ok(counter.fetch_add(1, Ordering::SeqCst) + 1)),
        );
        (link, made)
    }

    #[test]
    fn two_timeouts_in_a_row_replace_the_connection() {
        assert_eq!(TIMEOUTS_BEFORE_REPLACING, 2);
        let (link, made) = renewable();
        let g = link.generation();
        link.timed_out(g);
        assert_eq!((link.current(), made.load(Ordering::SeqCst)), (0, 0));
        link.timed_out(g);
        assert_eq!((link.current(), made.load(Ordering::SeqCst)), (1, 1));
        assert_eq!(link.generation(), g + 1);
    }

    #[test]
    fn an_answer_in_between_starts_the_count_again() {
        let (link, made) = renewable();
        let g = link.generation();
        for _ in 0..5 {
            link.timed_out(g);
            link.answered(g);
        }
        assert_eq!((link.current(), made.load(Ordering::SeqCst)), (0, 0));
    }

    #[test]
    fn a_burst_of_timeouts_replaces_the_connection_once() {
        let (link, made) = renewable();
        let link = Arc::new(link);
        let g = link.generation();
        let threads: Vec<_> = (0..16)
            .map(|_| {
                let link = link.clone();
                std::thread::spawn(move || link.timed_out(g))
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        assert_eq!((link.current(), made.load(Ordering::SeqCst)), (1, 1));
        // Late timeouts and answers of calls on the old connection count
        // for nothing on the new one.
        link.timed_out(g);
        link.answered(g);
        link.timed_out(link.generation());
        assert_eq!(made.load(Ordering::SeqCst), 1);
        link.timed_out(link.generation());
        assert_eq!((link.current(), made.load(Ordering::SeqCst)), (2, 2));
    }

    #[test]
    fn the_applications_connection_is_never_replaced() {
        let link = Link::fixed(7u64);
        let g = link.generation();
        for _ in 0..10 {
            link.timed_out(g);
        }
        assert_eq!((link.current(), link.generation()), (7, g));
    }

    #[test]
    fn a_failed_replacement_keeps_the_connection_and_tries_again() {
        let tries = Arc::new(AtomicU64::new(0));
        let counter = tries.clone();
        let link = Link::renewable(
            0u64,
            Box::new(move || {
                counter.fetch_add(1, Ordering::SeqCst);
                Err(redis::RedisError::from((
                    redis::ErrorKind::Client,
                    "no runtime",
                )))
            }),
        );
        let g = link.generation();
        link.timed_out(g);
        link.timed_out(g);
        link.timed_out(g);
        assert_eq!((link.current(), link.generation()), (0, g));
        assert_eq!(tries.load(Ordering::SeqCst), 2);
    }
}
