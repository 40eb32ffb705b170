//! The store, its builder, and the one path every Redis call takes (timeout,
//! error mapping, failure policy).

use std::fmt;
use std::future::Future;
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
#[derive(Clone)]
pub struct RedisStore<C = ConnectionManager> {
    pub(crate) conn: C,
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
            conn,
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

    /// A clone of the connection handle the store uses.
    pub fn connection(&self) -> C {
        self.conn.clone()
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
        let mut conn = self.conn.clone();
        match cmd.query_async(&mut conn).await {
            Err(e) if retry && e.is_unrecoverable_error() => {
                tracing::debug!(error = %e, "redis connection lost; retrying once");
                let mut conn = self.conn.clone();
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
        let mut conn = self.conn.clone();
        self.bounded(async move { invocation.invoke_async(&mut conn).await })
            .await
    }

    /// Bounds a Redis future by the call timeout and maps its error. (The
    /// span, the backend and the operation come from the forwarding layer of
    /// [`fullauth_api::backend`].)
    pub(crate) async fn bounded<T>(
        &self,
        fut: impl Future<Output = RedisResult<T>>,
    ) -> StoreResult<T> {
        match tokio::time::timeout(self.timeout, fut).await {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(e)) => Err(map_error(e)),
            Err(_) => Err(StoreError::unavailable_message(format!(
                "redis gave no answer within {:?}",
                self.timeout
            ))),
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
/// [`StoreError::Backend`].
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
                    S::BusyLoading | S::TryAgain | S::ClusterDown | S::MasterDown | S::ReadOnly
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
    pub fn build<C: RedisConnection>(self, conn: C) -> StoreResult<RedisStore<C>> {
        Ok(RedisStore {
            conn,
            keys: KeyLayout::new(self.prefix, self.hash_tags)?,
            timeout: self.timeout,
            policies: self.policies,
        })
    }

    /// A store on a new [`ConnectionManager`] for `url`, once the server
    /// has answered a `PING` within the call timeout. After a lost
    /// connection the manager reconnects by itself.
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
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(self.timeout))
            .set_number_of_retries(2)
            .set_min_delay(Duration::from_millis(20))
            .set_max_delay(Duration::from_millis(500));
        let manager = ConnectionManager::new_lazy_with_config(client, config).map_err(|e| {
            StoreError::backend(format!("cannot set up the redis connection: {e}"), e)
        })?;
        self.build(manager)
    }

    /// Renamed [`RedisStoreBuilder::connect_lazy`].
    #[deprecated(since = "0.2.0", note = "use `connect_lazy` (same behaviour)")]
    pub fn open(self, url: &str) -> StoreResult<RedisStore<ConnectionManager>> {
        self.connect_lazy(url)
    }
}
