//! Where the store's connections come from: a set of its own (built by
//! [`crate::PgStoreBuilder::connect`]) or the application's sqlx pool
//! ([`crate::PgStoreBuilder::from_pool`]).
//!
//! sqlx's pool sends a `Sync` to every connection it takes back and waits
//! for the answer before the connection is free again: a second round trip
//! after every operation, on the server and on the connection, that no
//! pool setting turns off. The store's own set does not: an operation that
//! finished — with its answer or with an error the server sent — leaves the
//! connection at a message boundary, ready for the next statement (sqlx
//! reads any answer still pending before it sends the next one), so the
//! connection goes back to the set as it is. A connection whose operation
//! was cut short (a timeout, a dropped future) or whose socket failed is
//! closed instead, and a dead idle connection is found by the next
//! statement on it, which the retry policy of the operation then runs on a
//! fresh one (see [`crate::handle`]).

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use sqlx::pool::PoolConnection;
use sqlx::postgres::PgConnectOptions;
use sqlx::{ConnectOptions as _, PgConnection, PgPool, Postgres};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;

/// How long an idle connection of the store's own set is kept.
pub(crate) const IDLE_TIMEOUT: Duration = Duration::from_secs(10 * 60);
/// How long a connection of the store's own set serves at most.
pub(crate) const MAX_LIFETIME: Duration = Duration::from_secs(30 * 60);

/// Settings of a [`ConnSet`].
#[derive(Clone, Debug)]
pub(crate) struct SetOptions {
    pub(crate) connect: PgConnectOptions,
    pub(crate) max_connections: u32,
    pub(crate) acquire_timeout: Duration,
    pub(crate) connect_timeout: Duration,
}

/// The store's own connections: at most `max_connections` open, idle ones
/// reused last-in first-out, closed after [`IDLE_TIMEOUT`] idle or
/// [`MAX_LIFETIME`] in all (checked when one is taken).
#[derive(Clone)]
pub(crate) struct ConnSet {
    inner: Arc<SetInner>,
}

struct SetInner {
    options: SetOptions,
    permits: Arc<Semaphore>,
    idle: Mutex<Vec<Idle>>,
}

struct Idle {
    conn: PgConnection,
    born: Instant,
    since: Instant,
}

fn lock(idle: &Mutex<Vec<Idle>>) -> MutexGuard<'_, Vec<Idle>> {
    // A panic while the lock was held cannot leave the list half-changed
    // (push and pop only).
    idle.lock().unwrap_or_else(|p| p.into_inner())
}

impl ConnSet {
    /// An empty set; no I/O.
    pub(crate) fn new(options: SetOptions) -> Self {
        let permits = Arc::new(Semaphore::new(options.max_connections as usize));
        ConnSet {
            inner: Arc::new(SetInner {
                options,
                permits,
                idle: Mutex::new(Vec::new()),
            }),
        }
    }

    /// The most connections open at once.
    pub(crate) fn max_connections(&self) -> u32 {
        self.inner.options.max_connections
    }

    /// A connection for one operation or transaction: the most recently
    /// used idle one that is neither too old nor idle for too long, or a
    /// new one. Waits for a free slot and connects within the acquire
    /// timeout ([`sqlx::Error::PoolTimedOut`] after it) and the connect
    /// timeout.
    pub(crate) async fn acquire(&self) -> Result<Leased, sqlx::Error> {
        let inner = &self.inner;
        let deadline = Instant::now() + inner.options.acquire_timeout;
        let permit =
            match tokio::time::timeout_at(deadline, inner.permits.clone().acquire_owned()).await {
                Ok(Ok(permit)) => permit,
                Ok(Err(_)) => return Err(sqlx::Error::PoolClosed),
                Err(_) => return Err(sqlx::Error::PoolTimedOut),
            };
        let now = Instant::now();
        loop {
            let popped = lock(&inner.idle).pop();
            let Some(idle) = popped else { break };
            let fresh = now.duration_since(idle.since) < IDLE_TIMEOUT
                && now.duration_since(idle.born) < MAX_LIFETIME;
            if fresh {
                return Ok(Leased::new(self, idle.conn, idle.born, permit));
            }
            // Too old or idle too long: its socket closes here.
        }
        let connect_by = deadline.min(now + inner.options.connect_timeout);
        let conn = match tokio::time::timeout_at(connect_by, inner.options.connect.connect()).await
        {
            Ok(conn) => conn?,
            Err(_) => {
                return Err(sqlx::Error::Io(std::io::Error::new(
                    std::io::ErrorKind::TimedOut,
                    "opening a connection took longer than the connect or acquire timeout",
                )));
            }
        };
        Ok(Leased::new(self, conn, Instant::now(), permit))
    }
}

/// A connection taken from a [`ConnSet`]. Dropped, it goes back to the set
/// only if [`reuse`](Self::reuse) was called since it was taken (the
/// operation reached its end); otherwise it is closed.
pub(crate) struct Leased {
    set: ConnSet,
    /// Always `Some` until dropped.
    conn: Option<PgConnection>,
    born: Instant,
    reuse: bool,
    /// Released after the connection is back among the idle ones.
    _permit: OwnedSemaphorePermit,
}

impl Leased {
    fn new(set: &ConnSet, conn: PgConnection, born: Instant, permit: OwnedSemaphorePermit) -> Self {
        Leased {
            set: set.clone(),
            conn: Some(conn),
            born,
            reuse: false,
            _permit: permit,
        }
    }

    /// Whether the connection goes back to the set when dropped (true) or
    /// is closed (false, the state when taken).
    pub(crate) fn reuse(&mut self, yes: bool) {
        self.reuse = yes;
    }

    /// The connection; `None` only while it is being dropped.
    pub(crate) fn conn(&mut self) -> Option<&mut PgConnection> {
        self.conn.as_mut()
    }
}

impl Drop for Leased {
    fn drop(&mut self) {
        let Some(conn) = self.conn.take() else { return };
        if self.reuse {
            let now = Instant::now();
            if now.duration_since(self.born) < MAX_LIFETIME {
                lock(&self.set.inner.idle).push(Idle {
                    conn,
                    born: self.born,
                    since: now,
                });
            }
        }
        // Otherwise `conn` is dropped here: its socket closes and the server
        // ends the session (rolling back anything open on it).
    }
}

/// The connections of a store: its own set, or the application's pool.
#[derive(Clone)]
pub(crate) enum Source {
    /// The store's own connections (one round trip per statement).
    Own(ConnSet),
    /// The application's sqlx pool (plus sqlx's test of each connection it
    /// takes back).
    App(PgPool),
}

impl Source {
    /// The most connections open at once.
    pub(crate) fn max_connections(&self) -> u32 {
        match self {
            Source::Own(set) => set.max_connections(),
            Source::App(pool) => pool.options().get_max_connections(),
        }
    }

    /// A connection for one operation or transaction.
    pub(crate) async fn acquire(&self) -> Result<Lease, sqlx::Error> {
        match self {
            Source::Own(set) => set.acquire().await.map(Lease::Own),
            Source::App(pool) => pool.acquire().await.map(Lease::App),
        }
    }
}

/// A connection from a [`Source`].
pub(crate) enum Lease {
    /// From the store's own set.
    Own(Leased),
    /// From the application's pool.
    App(PoolConnection<Postgres>),
}

impl Lease {
    /// The connection.
    pub(crate) fn conn(&mut self) -> Result<&mut PgConnection, sqlx::Error> {
        match self {
            Lease::Own(leased) => leased.conn().ok_or(sqlx::Error::PoolClosed),
            Lease::App(pooled) => Ok(pooled),
        }
    }

    /// Says how the operation on the connection ended: `true` when it
    /// reached its end (an answer, or an error the server sent), so the
    /// connection may serve again; `false` when it was cut short or the
    /// connection failed, so it must be closed.
    pub(crate) fn finished(&mut self, reusable: bool) {
        match self {
            Lease::Own(leased) => leased.reuse(reusable),
            Lease::App(pooled) => {
                if !reusable {
                    pooled.close_on_drop();
                }
            }
        }
    }
}

/// The connection of an open transaction.
pub(crate) enum TxConn {
    /// A connection of the store's own set after `BEGIN`.
    Own(Leased),
    /// A transaction on the application's pool.
    App(sqlx::Transaction<'static, Postgres>),
}

impl TxConn {
    /// Opens a transaction on a connection of `source` (one round trip).
    pub(crate) async fn begin(source: &Source) -> Result<TxConn, sqlx::Error> {
        match source {
            Source::Own(set) => {
                let mut leased = set.acquire().await?;
                let conn = leased.conn().ok_or(sqlx::Error::PoolClosed)?;
                sqlx::raw_sql("BEGIN").execute(conn).await?;
                Ok(TxConn::Own(leased))
            }
            Source::App(pool) => pool.begin().await.map(TxConn::App),
        }
    }

    /// The transaction's connection.
    pub(crate) fn conn(&mut self) -> Result<&mut PgConnection, sqlx::Error> {
        match self {
            TxConn::Own(leased) => leased.conn().ok_or(sqlx::Error::PoolClosed),
            TxConn::App(tx) => Ok(tx),
        }
    }

    /// Commits (one round trip).
    pub(crate) async fn commit(self) -> Result<(), sqlx::Error> {
        match self {
            TxConn::Own(leased) => end(leased, "COMMIT").await,
            TxConn::App(tx) => tx.commit().await,
        }
    }

    /// Rolls back (one round trip).
    pub(crate) async fn rollback(self) -> Result<(), sqlx::Error> {
        match self {
            TxConn::Own(leased) => end(leased, "ROLLBACK").await,
            TxConn::App(tx) => tx.rollback().await,
        }
    }
}

impl TxConn {
    /// Ends a transaction that will not be committed: one its owner dropped
    /// while open, or one a failed statement broke. On the store's own
    /// connections, when the connection still works (`reusable`), a task
    /// rolls it back (bounded by `within`) and the connection then serves
    /// again; without a Tokio runtime, when the connection failed, or when
    /// the rollback fails or takes longer, the connection is closed (the
    /// server rolls back). On the application's pool, sqlx's transaction
    /// queues its own rollback.
    pub(crate) fn abandon(self, reusable: bool, within: std::time::Duration) {
        let TxConn::Own(leased) = self else { return };
        if !reusable {
            return;
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        runtime.spawn(async move {
            match tokio::time::timeout(within, end(leased, "ROLLBACK")).await {
                Ok(Err(e)) => tracing::debug!(error = ?e, "rolling back an abandoned transaction"),
                Ok(Ok(())) => {}
                // The lease is dropped with the timed-out future: closed.
                Err(_) => tracing::debug!("rolling back an abandoned transaction timed out"),
            }
        });
    }
}

/// Ends the transaction on a connection of the store's own set with `sql`;
/// the connection serves again unless the socket failed (a statement error
/// ends the transaction on the server all the same).
async fn end(mut leased: Leased, sql: &'static str) -> Result<(), sqlx::Error> {
    let conn = leased.conn().ok_or(sqlx::Error::PoolClosed)?;
    let result = sqlx::raw_sql(sql).execute(conn).await.map(drop);
    let reusable = match &result {
        Ok(()) => true,
        Err(e) => !crate::error::is_connection_error(e),
    };
    leased.reuse(reusable);
    result
}
