//! Connections, and where SQLite work runs.
//!
//! # Design
//!
//! SQLite allows one writer at a time per database file and, in WAL mode, any
//! number of readers that never block it. The store mirrors that with one
//! writer connection and a few `query_only` reader connections, and runs its
//! own statements — short, known, a few to a few tens of microseconds — **on
//! the calling thread**, the connection held by a lock for the length of the
//! call:
//!
//! * **Reads** take the first idle reader (each is behind its own mutex; a
//!   read tries them in order and, when every reader is busy on another
//!   thread, waits for one in turn — a wait as long as one statement). Reads
//!   run in parallel with each other and with the writer, and see only
//!   committed data.
//! * **Writes** take the *writer lock* (an async mutex: a queue of writers
//!   waits without holding threads, and a wait is bounded by the busy
//!   timeout, after which the call answers [`StoreError::Unavailable`]), then
//!   run `BEGIN IMMEDIATE`, their statements and `COMMIT` (or `ROLLBACK` when
//!   they fail: nothing of a failed call stays). Since every write of the
//!   store goes through this one connection, a compare-and-set such as
//!   "revoke if not revoked, then insert the successor" is atomic, and the
//!   conditional statements keep it so against other processes too.
//! * **Another process holding the file.** The writer connection has no busy
//!   handler, so `BEGIN IMMEDIATE` answers at once when another process
//!   writes; the call then moves, writer lock and all, to Tokio's blocking
//!   pool, waits there for up to the busy timeout and comes back. Once
//!   `BEGIN IMMEDIATE` has succeeded nothing in a WAL write waits for
//!   another connection, so no async worker ever sleeps on a file lock.
//!   (Readers keep the busy timeout: in WAL mode a reader is refused only
//!   while another process recovers or closes the WAL, for moments.)
//! * **Checkpoints.** The writer's own automatic checkpoint is off (a WAL
//!   hook replaces it). When a commit leaves the WAL at 1 000 pages or more
//!   (SQLite's default threshold), the call returns at once and the writer
//!   lock goes to the blocking pool, which checkpoints (`PASSIVE`) and then
//!   releases it: the next write starts the WAL over, and the copy back to
//!   the database file (and its `fsync`) never runs on an async worker.
//! * **A transaction** holds the writer lock for its whole life; its calls,
//!   reads included (so they see its writes), run on the writer connection.
//!   Commit and rollback run in place; a transaction dropped while open is
//!   rolled back in place (one short statement) before the lock is released.
//! * **Work of unknown length** — migrations, the app's statements through
//!   [`SqliteStore::with_connection`](crate::SqliteStore::with_connection),
//!   [`purge_expired`](crate::SqliteStore::purge_expired) — runs with the
//!   writer on the blocking pool, never on the calling thread.
//! * **Cancellation.** A statement never straddles an `.await`, so dropping
//!   a call's future cannot leave one half-run; a call that moved to the
//!   blocking pool runs to completion there. A transaction left open on the
//!   writer (a `begin` whose future was dropped while it waited on the
//!   blocking pool, or the app's statements) is rolled back before the next
//!   write.
//! * **Shutdown.** Dropping the last clone of the store (and of its
//!   transactions) closes the connections; a temporary database's files are
//!   deleted after the last one is closed.
//!
//! A panic inside a call (there should be none) is caught and answered as
//! [`StoreError::Backend`], its transaction rolled back.
//!
//! ## Why on the calling thread
//!
//! Until 0.2 every connection had its own OS thread, and a call sent its
//! closure there and waited for the answer. A hand-over costs two thread
//! wake-ups, more than a small query; to hide them, the threads and the
//! waiting calls spun for 50 µs before sleeping, which took a core from
//! whatever else ran on the machine. Measured with `cargo bench -p
//! fullauth-benchmarks` (both designs built from the same sources, run
//! alternately), the in-place design is faster in most cells — behind in
//! two, writes from 8 tasks on a quiet machine, where the writer thread
//! queued them back to back — and does not depend on idle cores (ops/s,
//! medians of 3 alternating runs, SQLite in WAL on a 2-core machine; ratio
//! to the same statements on raw rusqlite from the same number of tasks):
//!
//! | operation (c = tasks) | in place, quiet | threads, quiet | in place, 1 core busy | threads, 1 core busy |
//! |---|---|---|---|---|
//! | get user, c=1 | 275 353 (0.85) | 136 239 (0.41) | 266 964 (0.83) | 20 408 (0.06) |
//! | get user, c=8 | 258 386 (0.87) | 197 852 (0.67) | 410 042 (1.38) | 20 273 (0.07) |
//! | permissions, c=1 | 89 976 (0.94) | 30 360 (0.31) | 89 578 (0.95) | 15 182 (0.16) |
//! | permissions, c=8 | 207 207 (0.96) | 62 627 (0.29) | 122 632 (0.93) | 18 122 (0.14) |
//! | create user, c=1 | 27 272 (1.06) | 20 077 (0.81) | 25 051 (1.06) | 9 599 (0.40) |
//! | create user, c=8 | 25 119 (1.04) | 30 975 (1.32) | 24 532 (0.94) | 14 494 (0.58) |
//! | revoke, c=1 | 68 565 (0.97) | 31 264 (0.46) | 67 822 (0.97) | 10 360 (0.15) |
//! | revoke, c=8 | 55 958 (0.94) | 29 356 (0.50) | 57 850 (0.82) | 21 777 (0.32) |
//! | rotate, c=1 | 10 804 (1.00) | 9 939 (0.90) | 11 656 (1.01) | 6 328 (0.54) |
//! | rotate, c=8 | 8 992 (0.91) | 9 835 (0.92) | 10 252 (0.91) | 6 647 (0.64) |
//!
//! "1 core busy" is a shell loop spinning beside the benchmark. The
//! spinning hand-over lost the core it needed to the other process and fell
//! to a twentieth of the driver; run in place, a call needs no second
//! thread at all. What stays between the store and the driver on a get user
//! is the typed answer (parsing the id and the time and checking the email:
//! 0.2 µs of 3.0, `cargo bench -p fullauth-sqlite`, `raw_get_user_typed`)
//! and the store's own 0.6 µs (the lock, the check of the row's columns
//! against the app's, the runtime).
//!
//! The cost: a call blocks its async worker for the length of its
//! statements, as any CPU-bound work does — tens of microseconds, never a
//! file lock or a checkpoint. Tokio's guideline for work between two
//! `.await`s is 10–100 µs.
//!
//! Every connection runs with `journal_mode=WAL`, `synchronous=NORMAL`,
//! `foreign_keys=ON` and caches its prepared statements (`prepare_cached`).
//! A statement that finds the file locked by another process past the busy
//! timeout (`SQLITE_BUSY`, `SQLITE_LOCKED`) answers
//! [`StoreError::Contention`]: retry the whole transaction.
//!
//! The store needs a Tokio runtime with the time driver enabled (the default
//! of `#[tokio::main]` and `#[tokio::test]`): waiting for the writer lock is
//! bounded by the busy timeout. A store opened in one runtime can be used
//! from another.

use std::cell::Cell;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex as StdMutex, MutexGuard, RwLock};
use std::time::Duration;

use fullauth_api::{Clock, Features, StoreError, StoreResult, Timestamp, UserIdType};
use rusqlite::{Connection, ErrorCode, OpenFlags};
use tokio::sync::{Mutex, OwnedMutexGuard};

use crate::codec::Db;
use crate::users::UserColumns;

/// How many statements each connection keeps prepared.
const STATEMENT_CACHE: usize = 128;

/// The WAL size, in pages, past which a commit of the writer is followed by
/// a checkpoint (SQLite's own `wal_autocheckpoint` default).
const CHECKPOINT_PAGES: i32 = 1000;

thread_local! {
    /// The WAL size the writer's last commit on this thread reported
    /// (set by [`wal_pages`], which SQLite calls inside `COMMIT`).
    static WAL_PAGES: Cell<i32> = const { Cell::new(0) };
}

/// The writer's WAL hook: records the WAL size after a commit. Installing
/// it turns SQLite's automatic checkpoint off on that connection; the store
/// checkpoints itself, off the async runtime ([`Handle::after_commit`]).
fn wal_pages(_: &rusqlite::hooks::Wal, pages: std::ffi::c_int) -> rusqlite::Result<()> {
    WAL_PAGES.with(|p| p.set(pages));
    Ok(())
}

/// One connection, and the temporary database it keeps alive: the files are
/// deleted after the last connection to them is closed.
pub(crate) struct Conn {
    conn: Connection,
    _temp: Option<Arc<TempFiles>>,
}

impl std::ops::Deref for Conn {
    type Target = Connection;
    fn deref(&self) -> &Connection {
        &self.conn
    }
}

/// State shared by a store, its clones, its transactions and its migrator.
pub(crate) struct Shared {
    /// The writer connection; its lock is the writer lock.
    writer: Arc<Mutex<Conn>>,
    /// The `query_only` reader connections.
    readers: Vec<StdMutex<Conn>>,
    /// Where a read that found every reader busy waits, in turn.
    next_reader: AtomicUsize,
    pub(crate) clock: Clock,
    pub(crate) features: Features,
    pub(crate) busy_timeout: Duration,
    pub(crate) path: PathBuf,
    /// The application columns of `fullauth_users`, refreshed on a miss.
    pub(crate) user_columns: RwLock<Arc<UserColumns>>,
    /// How users are keyed: configured, or found in `fullauth_users` at
    /// open (UUID for a database without it).
    pub(crate) user_id_type: UserIdType,
    /// Counts short-lived writes, to purge expired rows now and then.
    pub(crate) ephemeral_writes: AtomicU64,
}

/// Removes a temporary database and its WAL files when dropped (after the
/// last connection has been closed).
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
            return Err(StoreError::backend_message(format!(
                "could not switch the database to WAL (journal_mode = {mode})"
            )));
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
    /// Opens the writer (creating the file) and the readers on a blocking
    /// thread.
    pub(crate) async fn open(
        path: PathBuf,
        temporary: bool,
        features: Features,
        clock: Clock,
        readers: usize,
        busy_timeout: Duration,
        configured: Option<UserIdType>,
    ) -> StoreResult<Arc<Shared>> {
        let readers = readers.max(1);
        let temp = temporary.then(|| Arc::new(TempFiles(path.clone())));
        let opened = tokio::task::spawn_blocking(move || -> StoreResult<_> {
            let writer = open_connection(&path, busy_timeout, false)?;
            // The writer never waits for the file inline: a lock held by
            // another process sends the call to a blocking thread, which
            // waits up to the busy timeout (`Handle::begin_immediate`).
            writer.busy_timeout(Duration::ZERO).db()?;
            writer.wal_hook(Some(wal_pages));
            let columns = UserColumns::load(&writer, configured)?;
            let mut conns = Vec::with_capacity(readers);
            for _ in 0..readers {
                conns.push(open_connection(&path, busy_timeout, true)?);
            }
            Ok((path, writer, columns, conns))
        })
        .await
        .map_err(|e| {
            StoreError::backend_message(format!("opening the SQLite database failed: {e}"))
        })?;
        // On an error, `temp` (the only holder) deletes what was created.
        let (path, writer, columns, conns) = opened?;
        let conn = |conn| Conn {
            conn,
            _temp: temp.clone(),
        };
        Ok(Arc::new(Shared {
            writer: Arc::new(Mutex::new(conn(writer))),
            readers: conns.into_iter().map(|c| StdMutex::new(conn(c))).collect(),
            next_reader: AtomicUsize::new(0),
            clock,
            features,
            busy_timeout,
            path,
            user_id_type: columns.key,
            user_columns: RwLock::new(Arc::new(columns)),
            ephemeral_writes: AtomicU64::new(0),
        }))
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
        let cols = Arc::new(UserColumns::load(conn, Some(self.user_id_type))?);
        *self.user_columns.write().unwrap_or_else(|p| p.into_inner()) = cols.clone();
        Ok(cols)
    }

    /// True once every `every` short-lived writes (to purge expired rows).
    pub(crate) fn time_to_purge(&self, every: u64) -> bool {
        self.ephemeral_writes.fetch_add(1, Ordering::Relaxed) % every == every - 1
    }

    /// An idle reader, or — when every reader is busy on another thread —
    /// the next one in turn, once its current statement is done.
    fn reader(&self) -> StoreResult<MutexGuard<'_, Conn>> {
        for r in &self.readers {
            match r.try_lock() {
                Ok(g) => return Ok(g),
                Err(std::sync::TryLockError::Poisoned(p)) => return Ok(p.into_inner()),
                Err(std::sync::TryLockError::WouldBlock) => {}
            }
        }
        let i = self.next_reader.fetch_add(1, Ordering::Relaxed) % self.readers.len().max(1);
        match self.readers.get(i) {
            Some(r) => Ok(r.lock().unwrap_or_else(|p| p.into_inner())),
            None => Err(StoreError::backend_message(
                "the SQLite store has no reader",
            )),
        }
    }
}

/// Runs `f` on `c`, answering a panic as [`StoreError::Backend`].
fn guarded<T>(c: &Connection, f: impl FnOnce(&Connection) -> StoreResult<T>) -> StoreResult<T> {
    catch_unwind(AssertUnwindSafe(|| f(c))).unwrap_or_else(|_| {
        Err(StoreError::backend_message(
            "a SQLite call panicked (its transaction was rolled back)",
        ))
    })
}

/// Rolls back a transaction left open on `conn` (a no-op otherwise).
fn rollback_leftover(conn: &Connection) {
    if !conn.is_autocommit() {
        let _ = conn.execute_batch("ROLLBACK");
    }
}

/// Runs a cached statement without parameters or rows (`BEGIN IMMEDIATE`,
/// `COMMIT`).
fn exec_cached(c: &Connection, sql: &str) -> rusqlite::Result<()> {
    c.prepare_cached(sql)?.execute([]).map(|_| ())
}

/// True when `e` says the file is locked by another connection.
fn is_busy(e: &rusqlite::Error) -> bool {
    matches!(
        e.sqlite_error_code(),
        Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked)
    )
}

/// Runs `f` inside the transaction just begun on `c` and commits it, or
/// rolls it back when `f` (or the commit) fails. Answers whether the WAL
/// has grown past [`CHECKPOINT_PAGES`].
fn commit_after<T>(
    c: &Connection,
    f: impl FnOnce(&Connection) -> StoreResult<T>,
) -> (StoreResult<T>, bool) {
    match guarded(c, f) {
        Ok(v) => {
            WAL_PAGES.with(|p| p.set(0));
            match exec_cached(c, "COMMIT").db() {
                Ok(()) => (Ok(v), WAL_PAGES.with(Cell::get) >= CHECKPOINT_PAGES),
                Err(e) => {
                    rollback_leftover(c);
                    (Err(e), false)
                }
            }
        }
        Err(e) => {
            rollback_leftover(c);
            (Err(e), false)
        }
    }
}

/// Runs `f` in the open transaction on `c`, in a savepoint: a failure undoes
/// only `f` and leaves the transaction usable.
fn in_savepoint<T>(
    c: &Connection,
    f: impl FnOnce(&Connection) -> StoreResult<T>,
) -> StoreResult<T> {
    exec_cached(c, "SAVEPOINT fullauth_call").db()?;
    match guarded(c, f) {
        Ok(v) => {
            exec_cached(c, "RELEASE fullauth_call").db()?;
            Ok(v)
        }
        Err(e) => {
            let _ = c.execute_batch("ROLLBACK TO fullauth_call; RELEASE fullauth_call");
            Err(e)
        }
    }
}

/// Runs `f` with the writer on tokio's blocking pool, with the busy timeout
/// in force, and gives the writer back. Once started, `f` runs to
/// completion even if nobody waits for the answer any more.
async fn on_blocking_pool<T, F>(
    mut writer: OwnedMutexGuard<Conn>,
    busy_timeout: Duration,
    f: F,
) -> StoreResult<(T, OwnedMutexGuard<Conn>)>
where
    F: FnOnce(&Connection) -> T + Send + 'static,
    T: Send + 'static,
{
    tokio::task::spawn_blocking(move || {
        let c: &mut Conn = &mut writer;
        let _ = c.busy_timeout(busy_timeout);
        let out = f(c);
        let _ = c.busy_timeout(Duration::ZERO);
        (out, writer)
    })
    .await
    .map_err(|e| StoreError::backend_message(format!("a blocking SQLite call failed: {e}")))
}

/// Checkpoints the WAL of the writer `c` (passive: it copies what no reader
/// still needs and never waits).
fn checkpoint(c: &Connection) {
    let done = c.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()));
    if let Err(e) = done {
        tracing::debug!(error = %e, "fullauth-sqlite: WAL checkpoint failed");
    }
}

/// The writer lock held by an open transaction (`None` once it has been
/// committed or rolled back).
pub(crate) struct TxSlot {
    conn: StdMutex<Option<OwnedMutexGuard<Conn>>>,
}

impl TxSlot {
    fn slot(&self) -> MutexGuard<'_, Option<OwnedMutexGuard<Conn>>> {
        self.conn.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl Drop for TxSlot {
    /// Rolls back a transaction that was neither committed nor rolled back,
    /// then releases the writer lock.
    fn drop(&mut self) {
        let slot = self.conn.get_mut().unwrap_or_else(|p| p.into_inner());
        if let Some(guard) = slot.take() {
            rollback_leftover(&guard);
        }
    }
}

mod handle {
    use std::sync::Arc;

    use super::{Shared, TxSlot};

    /// Where a call runs: the store (writer + readers) or one transaction.
    ///
    /// The first argument of every operation function (`Backend::Ops` of
    /// the store and of its transactions). Declared `pub` in a private
    /// module, as that associated type requires, so it stays unnameable
    /// outside the crate.
    #[derive(Clone)]
    pub struct Handle {
        pub(crate) shared: Arc<Shared>,
        pub(super) tx: Option<Arc<TxSlot>>,
    }
}

pub(crate) use handle::Handle;

impl Handle {
    /// A handle on the store itself.
    pub(crate) fn new(shared: Arc<Shared>) -> Self {
        Handle { shared, tx: None }
    }

    /// True on a transaction handle.
    pub(crate) fn in_tx(&self) -> bool {
        self.tx.is_some()
    }

    /// The store clock's now.
    pub(crate) fn key(&self) -> UserIdType {
        self.shared.user_id_type
    }

    /// The current time of the store's clock.
    pub(crate) fn now(&self) -> Timestamp {
        self.shared.clock.now()
    }

    /// Takes the writer lock, waiting at most the busy timeout.
    async fn lock_writer(&self) -> StoreResult<OwnedMutexGuard<Conn>> {
        if let Ok(g) = self.shared.writer.clone().try_lock_owned() {
            return Ok(g);
        }
        let wait = self.shared.busy_timeout.max(Duration::from_millis(100));
        match tokio::time::timeout(wait, self.shared.writer.clone().lock_owned()).await {
            Ok(g) => Ok(g),
            Err(_) => Err(StoreError::unavailable_message(format!(
                "timed out after {wait:?} waiting for the SQLite writer connection \
                 (a transaction of this store is open: write through it, or commit it first)"
            ))),
        }
    }

    /// Takes the writer lock and begins `BEGIN IMMEDIATE` on it: on the
    /// calling thread when the file is free (no waiting: the writer has no
    /// busy handler), else on the blocking pool, waiting up to the busy
    /// timeout for the other process to let go.
    async fn begin_immediate(&self) -> StoreResult<OwnedMutexGuard<Conn>> {
        let writer = self.lock_writer().await?;
        // A transaction left open by the app's own statements
        // (`with_connection`) or by a `begin` whose future was dropped.
        rollback_leftover(&writer);
        match exec_cached(&writer, "BEGIN IMMEDIATE") {
            Ok(()) => Ok(writer),
            Err(e) if is_busy(&e) => {
                let (began, writer) = on_blocking_pool(writer, self.shared.busy_timeout, |c| {
                    exec_cached(c, "BEGIN IMMEDIATE").db()
                })
                .await?;
                began.map(|()| writer)
            }
            Err(e) => Err(crate::codec::db_err(e)),
        }
    }

    /// After a commit of the writer: when the WAL has grown past
    /// [`CHECKPOINT_PAGES`], checkpoints it on the blocking pool, holding
    /// the writer lock (so no write of this store adds to the WAL meanwhile
    /// and the next one starts it over); else releases the lock.
    fn after_commit(writer: OwnedMutexGuard<Conn>, due: bool) {
        if !due {
            return;
        }
        match tokio::runtime::Handle::try_current() {
            Ok(rt) => {
                rt.spawn_blocking(move || checkpoint(&writer));
            }
            Err(_) => checkpoint(&writer),
        }
    }

    /// Runs a read: on an idle reader, on the calling thread, or on the
    /// transaction's connection.
    pub(crate) async fn read<T, F>(&self, f: F) -> StoreResult<T>
    where
        F: FnOnce(&Connection) -> StoreResult<T> + Send + 'static,
        T: Send + 'static,
    {
        if let Some(tx) = &self.tx {
            return run_on_tx(tx, f);
        }
        let reader = self.shared.reader()?;
        guarded(&reader, f)
    }

    /// Runs a write: in a transaction of its own (`BEGIN IMMEDIATE …
    /// COMMIT`, undone entirely when `f` fails) on the store, as part of the
    /// transaction on a transaction handle.
    pub(crate) async fn write<T, F>(&self, f: F) -> StoreResult<T>
    where
        F: FnOnce(&Connection) -> StoreResult<T> + Send + 'static,
        T: Send + 'static,
    {
        if let Some(tx) = &self.tx {
            return run_on_tx(tx, f);
        }
        let writer = self.begin_immediate().await?;
        let (out, due) = commit_after(&writer, f);
        Self::after_commit(writer, due);
        out
    }

    /// Runs several statements as one unit: as [`write`](Self::write) on
    /// the store; in a savepoint inside a transaction (so a failure, a
    /// conflict included, undoes only this call and never poisons the
    /// transaction).
    pub(crate) async fn atomic<T, F>(&self, f: F) -> StoreResult<T>
    where
        F: FnOnce(&Connection) -> StoreResult<T> + Send + 'static,
        T: Send + 'static,
    {
        match &self.tx {
            Some(tx) => run_on_tx(tx, |c| in_savepoint(c, f)),
            None => self.write(f).await,
        }
    }

    /// Runs `f` — work of unknown length that manages its own transactions
    /// (migrations, the app's statements) — on the writer on the blocking
    /// pool, outside any transaction, with the busy timeout in force; inside
    /// a transaction, on its connection.
    pub(crate) async fn blocking<T, F>(&self, f: F) -> StoreResult<T>
    where
        F: FnOnce(&Connection) -> StoreResult<T> + Send + 'static,
        T: Send + 'static,
    {
        if let Some(tx) = &self.tx {
            return run_on_tx(tx, f);
        }
        let writer = self.lock_writer().await?;
        let (out, writer) = on_blocking_pool(writer, self.shared.busy_timeout, |c| {
            rollback_leftover(c);
            WAL_PAGES.with(|p| p.set(0));
            let out = guarded(c, f);
            (out, WAL_PAGES.with(Cell::get) >= CHECKPOINT_PAGES)
        })
        .await?;
        let (out, due) = out;
        Self::after_commit(writer, due);
        out
    }

    /// Begins a transaction: takes the writer lock for the handle's lifetime.
    pub(crate) async fn begin(&self) -> StoreResult<Handle> {
        if self.in_tx() {
            return Err(StoreError::transaction_nesting());
        }
        let writer = self.begin_immediate().await?;
        Ok(Handle {
            shared: self.shared.clone(),
            tx: Some(Arc::new(TxSlot {
                conn: StdMutex::new(Some(writer)),
            })),
        })
    }

    /// Ends the transaction with `COMMIT` (`commit = true`) or `ROLLBACK`.
    pub(crate) async fn finish(&self, commit: bool) -> StoreResult<()> {
        let Some(tx) = &self.tx else {
            return Ok(());
        };
        let Some(writer) = tx.slot().take() else {
            return Err(StoreError::transaction_finished());
        };
        if writer.is_autocommit() {
            // SQLite already rolled the transaction back (after an I/O
            // error, a full disk, ...): nothing of it can be committed.
            return if commit {
                Err(StoreError::transaction_finished())
            } else {
                Ok(())
            };
        }
        if commit {
            let (out, due) = commit_after(&writer, |_| Ok(()));
            Self::after_commit(writer, due);
            out
        } else {
            exec_cached(&writer, "ROLLBACK").db()
        }
    }
}

/// Runs `f` on the transaction `tx`'s connection.
fn run_on_tx<T>(tx: &TxSlot, f: impl FnOnce(&Connection) -> StoreResult<T>) -> StoreResult<T> {
    match tx.slot().as_ref() {
        // SQLite rolls a transaction back by itself after some failures
        // (I/O error, full disk): a call must not then run outside it.
        Some(c) if c.is_autocommit() => Err(StoreError::transaction_finished()),
        Some(c) => guarded(c, f),
        None => Err(StoreError::transaction_finished()),
    }
}
