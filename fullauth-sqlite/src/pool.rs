//! Connections, and how blocking SQLite calls are kept off the async runtime.
//!
//! # Design
//!
//! SQLite allows one writer at a time per database file and, in WAL mode, any
//! number of readers that never block it. The store mirrors that:
//!
//! * **One writer connection** behind an async mutex. Every write takes the
//!   mutex (waiting asynchronously, so a queue of writers costs no threads),
//!   then moves the owned guard into `tokio::task::spawn_blocking`, where the
//!   statement runs. Because all writes of the store go through this one
//!   connection, a compare-and-set such as "revoke if not revoked, then insert
//!   the successor" cannot interleave with another write of the same store:
//!   it is atomic by construction, and the conditional `UPDATE` keeps it
//!   atomic against other processes too. Multi-statement writes run inside
//!   `BEGIN IMMEDIATE` (or a `SAVEPOINT` inside a transaction), so another
//!   process sharing the file waits on the busy timeout instead of failing
//!   mid-way.
//! * **A pool of reader connections** (`query_only`), handed out by a
//!   semaphore and also used on the blocking pool. Reads run in parallel with
//!   each other and with the writer, and see only committed data.
//! * **A transaction** holds the writer guard for its whole life; its calls
//!   (reads included, so it sees its own writes) run on that connection. The
//!   guard is owned, so a cancelled future never leaves a statement half-run:
//!   the blocking closure finishes (and commits or rolls back its savepoint)
//!   on its own. Dropping the handle rolls back on the blocking pool; and as a
//!   safety net, whoever takes the writer next rolls back any transaction a
//!   cancelled task left open before using it.
//!
//! A dedicated thread per connection with a channel would do the same job;
//! `spawn_blocking` was chosen because it needs no thread of its own per
//! store, works across runtimes (a store opened in one runtime can be used
//! from another, as tests do), and the owned guards give cancellation safety
//! for free.
//!
//! Every connection runs with `journal_mode=WAL`, `synchronous=NORMAL`,
//! `foreign_keys=ON` and the configured busy timeout, and caches its prepared
//! statements (`prepare_cached`).
//!
//! The store needs a tokio runtime with the time driver enabled (the default of
//! `#[tokio::main]` and `#[tokio::test]`): waiting for the writer is bounded by
//! the busy timeout, after which a call answers
//! [`StoreError::Unavailable`] instead of waiting forever (for instance when a
//! task writes through the store while it holds an open transaction).

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex as StdMutex, RwLock};
use std::time::Duration;

use fullauth_api::{Clock, Feature, Features, StoreError, StoreResult, Timestamp};
use rusqlite::{Connection, OpenFlags};
use tokio::sync::{Mutex, OwnedMutexGuard, Semaphore};

use crate::codec::Db;
use crate::users::UserColumns;

/// How many statements each connection keeps prepared.
const STATEMENT_CACHE: usize = 128;

/// State shared by a store, its clones, its transactions and its migrator.
pub(crate) struct Shared {
    pub(crate) writer: Arc<Mutex<Connection>>,
    readers: ReaderPool,
    pub(crate) clock: Clock,
    pub(crate) features: Features,
    pub(crate) busy_timeout: Duration,
    pub(crate) path: PathBuf,
    /// The application columns of `fullauth_users`, refreshed on a miss.
    pub(crate) user_columns: RwLock<Arc<UserColumns>>,
    /// Counts short-lived writes, to purge expired rows now and then.
    pub(crate) ephemeral_writes: AtomicU64,
    /// Deletes the files of a temporary database; dropped last.
    _temp: Option<TempFiles>,
}

struct ReaderPool {
    permits: Arc<Semaphore>,
    idle: StdMutex<Vec<Connection>>,
}

/// Removes a temporary database and its WAL files when dropped.
struct TempFiles(PathBuf);

impl Drop for TempFiles {
    fn drop(&mut self) {
        for suffix in ["", "-wal", "-shm", "-journal"] {
            let mut p = self.0.clone().into_os_string();
            p.push(suffix);
            let _ = std::fs::remove_file(PathBuf::from(p));
        }
    }
}

/// Opens one connection with the pragmas every connection runs with.
pub(crate) fn open_connection(
    path: &Path,
    busy_timeout: Duration,
    reader: bool,
) -> StoreResult<Connection> {
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
        | OpenFlags::SQLITE_OPEN_CREATE
        | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = Connection::open_with_flags(path, flags).db()?;
    conn.busy_timeout(busy_timeout).db()?;
    if !reader {
        let mode: String = conn
            .query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))
            .db()?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(StoreError::Backend {
                message: format!("could not switch the database to WAL (journal_mode = {mode})"),
                source: None,
            });
        }
    }
    conn.execute_batch("PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON;")
        .db()?;
    if reader {
        conn.execute_batch("PRAGMA query_only = ON;").db()?;
    }
    conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
    Ok(conn)
}

impl Shared {
    /// Opens the writer (creating the file) and the readers, on a blocking
    /// thread.
    pub(crate) async fn open(
        path: PathBuf,
        temporary: bool,
        features: Features,
        clock: Clock,
        readers: usize,
        busy_timeout: Duration,
    ) -> StoreResult<Arc<Shared>> {
        let readers = readers.max(1);
        let temp = temporary.then(|| TempFiles(path.clone()));
        let opened = tokio::task::spawn_blocking(move || -> StoreResult<_> {
            let writer = open_connection(&path, busy_timeout, false)?;
            let columns = UserColumns::load(&writer)?;
            let mut idle = Vec::with_capacity(readers);
            for _ in 0..readers {
                idle.push(open_connection(&path, busy_timeout, true)?);
            }
            Ok((path, writer, columns, idle))
        })
        .await
        .map_err(join_err)?;
        let (path, writer, columns, idle) = match opened {
            Ok(v) => v,
            Err(e) => {
                drop(temp);
                return Err(e);
            }
        };
        Ok(Arc::new(Shared {
            writer: Arc::new(Mutex::new(writer)),
            readers: ReaderPool {
                permits: Arc::new(Semaphore::new(readers)),
                idle: StdMutex::new(idle),
            },
            clock,
            features,
            busy_timeout,
            path,
            user_columns: RwLock::new(Arc::new(columns)),
            ephemeral_writes: AtomicU64::new(0),
            _temp: temp,
        }))
    }

    /// Takes an idle reader (or opens one if the pool lost one).
    fn checkout_reader(&self) -> StoreResult<Connection> {
        let conn = self
            .readers
            .idle
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .pop();
        match conn {
            Some(c) => Ok(c),
            None => open_connection(&self.path, self.busy_timeout, true),
        }
    }

    fn checkin_reader(&self, conn: Connection) {
        self.readers
            .idle
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(conn);
    }

    /// The cached application columns of `fullauth_users`.
    pub(crate) fn user_columns(&self) -> Arc<UserColumns> {
        self.user_columns
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Re-reads the application columns from `conn` and caches them.
    pub(crate) fn refresh_user_columns(&self, conn: &Connection) -> StoreResult<Arc<UserColumns>> {
        let cols = Arc::new(UserColumns::load(conn)?);
        *self.user_columns.write().unwrap_or_else(|p| p.into_inner()) = cols.clone();
        Ok(cols)
    }

    /// True once every `every` short-lived writes (to purge expired rows).
    pub(crate) fn time_to_purge(&self, every: u64) -> bool {
        self.ephemeral_writes.fetch_add(1, Ordering::Relaxed) % every == every - 1
    }
}

fn join_err(e: tokio::task::JoinError) -> StoreError {
    StoreError::Backend {
        message: format!("the blocking SQLite task failed: {e}"),
        source: None,
    }
}

/// Rolls back a transaction left open on `conn` (a no-op otherwise).
fn rollback_leftover(conn: &Connection) {
    if !conn.is_autocommit() {
        let _ = conn.execute_batch("ROLLBACK");
    }
}

/// The writer connection held by an open transaction.
pub(crate) struct TxSlot {
    conn: Option<OwnedMutexGuard<Connection>>,
}

impl Drop for TxSlot {
    /// Rolls back a transaction that was neither committed nor rolled back, on
    /// the blocking pool when a runtime is at hand.
    fn drop(&mut self) {
        if let Some(guard) = self.conn.take() {
            match tokio::runtime::Handle::try_current() {
                Ok(rt) => {
                    drop(rt.spawn_blocking(move || rollback_leftover(&guard)));
                }
                Err(_) => rollback_leftover(&guard),
            }
        }
    }
}

/// Where a call runs: the store (writer + readers) or one transaction.
#[derive(Clone)]
pub(crate) struct Handle {
    pub(crate) shared: Arc<Shared>,
    tx: Option<Arc<Mutex<TxSlot>>>,
}

impl Handle {
    /// A handle on the store itself.
    pub(crate) fn new(shared: Arc<Shared>) -> Self {
        Handle { shared, tx: None }
    }

    /// True on a transaction handle.
    pub(crate) fn in_tx(&self) -> bool {
        self.tx.is_some()
    }

    /// `FeatureDisabled` unless the store serves `feature`.
    pub(crate) fn require(&self, feature: Feature) -> StoreResult<()> {
        if self.shared.features.contains(feature) {
            Ok(())
        } else {
            Err(StoreError::feature_disabled(feature))
        }
    }

    /// The store clock's now.
    pub(crate) fn now(&self) -> Timestamp {
        self.shared.clock.now()
    }

    async fn lock_writer(&self) -> StoreResult<OwnedMutexGuard<Connection>> {
        let wait = self.shared.busy_timeout.max(Duration::from_millis(100));
        match tokio::time::timeout(wait, self.shared.writer.clone().lock_owned()).await {
            Ok(g) => Ok(g),
            Err(_) => Err(StoreError::Unavailable {
                message: format!(
                    "timed out after {wait:?} waiting for the SQLite writer connection \
                     (a transaction of this store is open: write through it, or commit it first)"
                ),
                source: None,
            }),
        }
    }

    /// Runs a read: on a reader, or on the transaction's connection.
    pub(crate) async fn read<T, F>(&self, f: F) -> StoreResult<T>
    where
        F: FnOnce(&Connection) -> StoreResult<T> + Send + 'static,
        T: Send + 'static,
    {
        if let Some(tx) = &self.tx {
            return run_on_tx(tx, f).await;
        }
        let permit = self
            .shared
            .readers
            .permits
            .clone()
            .acquire_owned()
            .await
            .map_err(|e| StoreError::unavailable("the reader pool is closed", e))?;
        let shared = self.shared.clone();
        tokio::task::spawn_blocking(move || {
            let conn = shared.checkout_reader()?;
            let out = f(&conn);
            shared.checkin_reader(conn);
            drop(permit);
            out
        })
        .await
        .map_err(join_err)?
    }

    /// Runs a write of one statement (or statements whose partial effect is
    /// harmless) on the writer or the transaction's connection.
    pub(crate) async fn write<T, F>(&self, f: F) -> StoreResult<T>
    where
        F: FnOnce(&Connection) -> StoreResult<T> + Send + 'static,
        T: Send + 'static,
    {
        if let Some(tx) = &self.tx {
            return run_on_tx(tx, f).await;
        }
        let guard = self.lock_writer().await?;
        tokio::task::spawn_blocking(move || {
            rollback_leftover(&guard);
            f(&guard)
        })
        .await
        .map_err(join_err)?
    }

    /// Runs several statements as one unit: `BEGIN IMMEDIATE … COMMIT` on the
    /// store, a savepoint inside a transaction (so a failure, a conflict
    /// included, undoes only this call and never poisons the transaction).
    pub(crate) async fn atomic<T, F>(&self, f: F) -> StoreResult<T>
    where
        F: FnOnce(&Connection) -> StoreResult<T> + Send + 'static,
        T: Send + 'static,
    {
        if self.in_tx() {
            self.write(move |c| {
                c.execute_batch("SAVEPOINT fullauth_call").db()?;
                match f(c) {
                    Ok(v) => {
                        c.execute_batch("RELEASE fullauth_call").db()?;
                        Ok(v)
                    }
                    Err(e) => {
                        let _ = c.execute_batch("ROLLBACK TO fullauth_call; RELEASE fullauth_call");
                        Err(e)
                    }
                }
            })
            .await
        } else {
            self.write(move |c| {
                c.execute_batch("BEGIN IMMEDIATE").db()?;
                match f(c) {
                    Ok(v) => match c.execute_batch("COMMIT").db() {
                        Ok(()) => Ok(v),
                        Err(e) => {
                            rollback_leftover(c);
                            Err(e)
                        }
                    },
                    Err(e) => {
                        rollback_leftover(c);
                        Err(e)
                    }
                }
            })
            .await
        }
    }

    /// Begins a transaction: takes the writer for the handle's lifetime.
    pub(crate) async fn begin(&self) -> StoreResult<Handle> {
        if self.in_tx() {
            return Err(StoreError::TransactionNesting);
        }
        let guard = self.lock_writer().await?;
        let guard = tokio::task::spawn_blocking(move || -> StoreResult<_> {
            rollback_leftover(&guard);
            guard.execute_batch("BEGIN IMMEDIATE").db()?;
            Ok(guard)
        })
        .await
        .map_err(join_err)??;
        Ok(Handle {
            shared: self.shared.clone(),
            tx: Some(Arc::new(Mutex::new(TxSlot { conn: Some(guard) }))),
        })
    }

    /// Ends the transaction with `COMMIT` (`commit = true`) or `ROLLBACK`.
    pub(crate) async fn finish(&self, commit: bool) -> StoreResult<()> {
        let Some(tx) = &self.tx else {
            return Ok(());
        };
        let mut slot = tx.clone().lock_owned().await;
        let Some(guard) = slot.conn.take() else {
            return Err(finished());
        };
        tokio::task::spawn_blocking(move || {
            if commit {
                match guard.execute_batch("COMMIT").db() {
                    Ok(()) => Ok(()),
                    Err(e) => {
                        rollback_leftover(&guard);
                        Err(e)
                    }
                }
            } else {
                guard.execute_batch("ROLLBACK").db()
            }
        })
        .await
        .map_err(join_err)?
    }
}

fn finished() -> StoreError {
    StoreError::Backend {
        message: "the transaction is already committed or rolled back".to_string(),
        source: None,
    }
}

async fn run_on_tx<T, F>(tx: &Arc<Mutex<TxSlot>>, f: F) -> StoreResult<T>
where
    F: FnOnce(&Connection) -> StoreResult<T> + Send + 'static,
    T: Send + 'static,
{
    let slot = tx.clone().lock_owned().await;
    tokio::task::spawn_blocking(move || match slot.conn.as_deref() {
        Some(c) => f(c),
        None => Err(finished()),
    })
    .await
    .map_err(join_err)?
}
