//! Connections, and how blocking SQLite calls are kept off the async runtime.
//!
//! # Design
//!
//! SQLite allows one writer at a time per database file and, in WAL mode, any
//! number of readers that never block it. The store mirrors that, and gives
//! every connection **its own OS thread**, which owns the connection and runs
//! the jobs sent to it through a channel, one at a time, in the order they
//! were sent. A call boxes its closure, sends it to the right thread and
//! waits for the answer on a `tokio::sync::oneshot`; the SQLite work itself
//! never runs on an async worker thread.
//!
//! * **One writer thread**, reached through an async mutex (the *writer
//!   lock*). A write takes the lock (waiting asynchronously, so a queue of
//!   writers costs no threads), queues its job and releases the lock; the
//!   thread runs jobs one after the other, so a job is never interleaved with
//!   another write of the same store. Because all writes of the store go
//!   through this one connection, a compare-and-set such as "revoke if not
//!   revoked, then insert the successor" is atomic by construction, and the
//!   conditional `UPDATE` keeps it atomic against other processes too.
//!   Multi-statement writes run inside `BEGIN IMMEDIATE` (or a `SAVEPOINT`
//!   inside a transaction), so another process sharing the file waits on the
//!   busy timeout instead of failing mid-way.
//! * **Reader threads** (`query_only` connections). A read goes to an idle
//!   reader taken from a free-list (its job puts it back when it finishes), or,
//!   when every reader is busy, is queued on the next one in turn. Reads run in
//!   parallel with each other and with the writer, and see only committed
//!   data.
//! * **A transaction** holds the writer lock for its whole life, so no other
//!   write of the store can queue a job while it is open; its calls (reads
//!   included, so it sees its own writes) are queued on the writer thread.
//!   Commit, rollback, and the rollback of a transaction handle dropped while
//!   still open are all queued *before* the lock is released, so they run
//!   before any later write; dropping never blocks.
//! * **Cancellation.** A job, once queued, runs to completion on its thread
//!   whether or not anybody still waits for it, so a cancelled future never
//!   leaves a statement half-run or a savepoint open. The one gap — `begin`
//!   cancelled after its `BEGIN IMMEDIATE` was queued — is closed by every
//!   writer job, which first rolls back any transaction left open on the
//!   connection.
//! * **Shutdown.** Dropping the last clone of the store (and its
//!   transactions) closes the channels; each thread finishes its queued jobs,
//!   closes its connection and ends, and the drop waits for that, as closing
//!   the connections in place would. A temporary database's files are
//!   deleted once the last connection is closed.
//!
//! A panic inside a job (there should be none) is caught on the thread and
//! answered as [`StoreError::Backend`]; the thread keeps serving.
//!
//! ## Why threads and channels rather than `spawn_blocking`
//!
//! An earlier version moved each call onto tokio's blocking pool with
//! `tokio::task::spawn_blocking` (the owned writer guard travelling with it).
//! That is correct, but each call paid for spawning a blocking task, the
//! blocking pool's shared queue and condition variable, a join handle, a
//! reader checkout/checkin and, for reads, a semaphore; and a write held the
//! writer until its answer came back. A dedicated thread per connection costs
//! one boxed closure, one channel send and one oneshot per call, and a reader
//! free-list of plain indexes; writes queue back to back on the writer thread;
//! and the connection stays on one thread, warm in its caches.
//!
//! What costs most, though, is not bookkeeping but sleeping: a call made the
//! connection thread wake up, then put the waiting runtime thread to sleep
//! until the answer woke it again, and on a machine with idle CPUs each of
//! those wake-ups costs more than a small query. So on machines with more
//! than one CPU, a connection thread that runs out of jobs keeps checking for
//! the next one for a short while (50 µs, yielding the CPU in between)
//! before it sleeps, and a waiting call checks for its answer for as long,
//! yielding to the runtime's other tasks (it never blocks the thread), before
//! it sleeps. Calls made back to back then hand over without sleeping. With
//! a single CPU there is no lingering: checking would only take the CPU from
//! the thread it waits for.
//!
//! Measured with `cargo run --release -p fullauth-sqlite --example
//! sqlite_throughput` (5 000 operations each; rows/s through the store, rows/s
//! of the same SQL straight on one rusqlite connection, and their ratio) on a
//! shared, busy 2-core machine, alternating the two builds; medians of 8 runs
//! each, one task:
//!
//! | operation            | `spawn_blocking`     | thread per connection |
//! |----------------------|----------------------|-----------------------|
//! | create user          | 9 218 / 31 681, 0.28 | 12 116 / 30 780, 0.40 |
//! | rotate refresh token | 3 841 / 6 341, 0.64  | 3 797 / 6 259, 0.59   |
//! | permission lookup    | 19 138 / 41 876, 0.46 | 31 846 / 45 346, 0.66 |
//!
//! Single runs of the same build vary a lot (permission lookups from 0.42 to
//! 1.17 of the baseline) as other work on the machine comes and goes; the
//! rotation, which spends most of its time in SQLite, is unchanged within that
//! noise. With 8 tasks, creating users went from 5 973 to 18 773 rows/s
//! (writes no longer wait for each other's answers) and permission lookups
//! from 28 080 to 29 143. A whole run of the example made about 120 000
//! context switches before and about 25 000 after (`perf stat`, one run
//! each). Pinned to one CPU (`taskset -c 1`, so no lingering), 3 alternating
//! runs each, the thread design alone did 18 620 / 4 876 / 41 114 rows/s
//! against 12 301 / 3 527 / 17 940 (medians; create, rotate, permissions).
//!
//! What remains between the store and the bare driver is SQLite's own work
//! on separate connections and the hand-over between threads. Running SQLite
//! on the caller's thread would remove the hand-over only by blocking an
//! async worker, which this store never does.
//!
//! Every connection runs with `journal_mode=WAL`, `synchronous=NORMAL`,
//! `foreign_keys=ON` and the configured busy timeout, and caches its prepared
//! statements (`prepare_cached`). A statement that still finds the file
//! locked by another process when the busy timeout runs out (`SQLITE_BUSY`,
//! `SQLITE_LOCKED`) answers [`StoreError::Contention`]: retry the whole
//! transaction.
//!
//! The store needs a tokio runtime with the time driver enabled (the default of
//! `#[tokio::main]` and `#[tokio::test]`): waiting for the writer lock is
//! bounded by the busy timeout, after which a call answers
//! [`StoreError::Unavailable`] instead of waiting forever (for instance when a
//! task writes through the store while it holds an open transaction). The
//! threads are plain OS threads, so a store opened in one runtime can be used
//! from another.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex as StdMutex, RwLock, mpsc};
use std::thread::JoinHandle;
use std::time::Duration;

use fullauth_api::{Clock, Features, StoreError, StoreResult, Timestamp};
use rusqlite::{Connection, OpenFlags};
use tokio::sync::{Mutex, OwnedMutexGuard, oneshot};

use crate::codec::Db;
use crate::users::UserColumns;

/// How many statements each connection keeps prepared.
const STATEMENT_CACHE: usize = 128;

/// A unit of work for a connection thread.
type Job = Box<dyn FnOnce(&mut Connection) + Send>;

/// The sending side of one connection thread: jobs run in the order they are
/// submitted, one at a time, each to completion.
struct Worker {
    /// `None` once the store is being dropped (so the thread ends).
    jobs: Option<mpsc::Sender<Job>>,
}

impl Worker {
    /// Starts the thread that owns `conn` and runs the jobs sent to it,
    /// lingering up to `linger` for the next one before it sleeps. The
    /// thread ends (closing the connection) when the sender is dropped and
    /// the queued jobs are done; `temp` is released after the connection is
    /// closed.
    fn spawn(
        name: &str,
        mut conn: Connection,
        linger: Duration,
        temp: Option<Arc<TempFiles>>,
    ) -> StoreResult<(Worker, JoinHandle<()>)> {
        let (tx, rx) = mpsc::channel::<Job>();
        let thread = std::thread::Builder::new()
            .name(name.to_string())
            .spawn(move || {
                while let Some(job) = next_job(&rx, linger) {
                    // A panicking job drops its answer channel, which the
                    // caller reports as an error; the thread keeps serving.
                    let _ = catch_unwind(AssertUnwindSafe(|| job(&mut conn)));
                }
                drop(conn);
                drop(temp);
            })
            .map_err(|e| {
                StoreError::backend(
                    format!("could not start the SQLite connection thread {name}: {e}"),
                    e,
                )
            })?;
        Ok((Worker { jobs: Some(tx) }, thread))
    }

    /// Queues `f` on the connection thread and returns where its answer will
    /// arrive. Queuing never blocks; once queued, `f` runs to completion even
    /// if nobody waits for the answer any more.
    fn submit<T, F>(&self, f: F) -> StoreResult<oneshot::Receiver<StoreResult<T>>>
    where
        F: FnOnce(&mut Connection) -> StoreResult<T> + Send + 'static,
        T: Send + 'static,
    {
        let (tx, rx) = oneshot::channel();
        let job: Job = Box::new(move |c| {
            let _ = tx.send(f(c));
        });
        match &self.jobs {
            Some(jobs) if jobs.send(job).is_ok() => Ok(rx),
            _ => Err(StoreError::backend_message(
                "the SQLite connection thread has stopped",
            )),
        }
    }
}

/// How long a connection thread, and a task waiting for an answer, keep
/// checking before they go to sleep, when the machine has more than one CPU.
const LINGER: Duration = Duration::from_micros(50);

/// The linger of this machine: [`LINGER`] with two CPUs or more, none with
/// one (where checking would only take the CPU from the thread it waits for).
fn linger() -> Duration {
    match std::thread::available_parallelism() {
        Ok(n) if n.get() > 1 => LINGER,
        _ => Duration::ZERO,
    }
}

/// The next job, or `None` once the store is gone. A caller running calls
/// back to back sends the next job within microseconds of getting an answer,
/// so the thread first checks for up to `linger`, yielding the CPU in
/// between, before it sleeps on the channel: that saves a sleep and a
/// wake-up per call.
fn next_job(rx: &mpsc::Receiver<Job>, linger: Duration) -> Option<Job> {
    let start = std::time::Instant::now();
    loop {
        match rx.try_recv() {
            Ok(job) => return Some(job),
            Err(mpsc::TryRecvError::Disconnected) => return None,
            Err(mpsc::TryRecvError::Empty) if start.elapsed() < linger => {
                std::thread::yield_now();
            }
            Err(mpsc::TryRecvError::Empty) => return rx.recv().ok(),
        }
    }
}

/// Waits for the answer of a submitted job. Most jobs take a few tens of
/// microseconds, so the task first checks for up to `linger`, yielding to
/// the runtime's other tasks in between (never blocking the thread), before
/// it sleeps until the answer wakes it: that saves the runtime thread a sleep
/// and a wake-up per call.
async fn answer<T>(mut rx: oneshot::Receiver<StoreResult<T>>, linger: Duration) -> StoreResult<T> {
    if !linger.is_zero() {
        let start = std::time::Instant::now();
        loop {
            match rx.try_recv() {
                Ok(out) => return out,
                Err(oneshot::error::TryRecvError::Empty) if start.elapsed() < linger => {
                    tokio::task::yield_now().await;
                }
                Err(_) => break,
            }
        }
    }
    match rx.await {
        Ok(out) => out,
        Err(_) => Err(StoreError::backend_message(
            "the SQLite call panicked on its connection thread",
        )),
    }
}

/// State shared by a store, its clones, its transactions and its migrator.
pub(crate) struct Shared {
    writer: Arc<Mutex<Worker>>,
    readers: ReaderPool,
    pub(crate) clock: Clock,
    pub(crate) features: Features,
    pub(crate) busy_timeout: Duration,
    pub(crate) path: PathBuf,
    /// The application columns of `fullauth_users`, refreshed on a miss.
    pub(crate) user_columns: RwLock<Arc<UserColumns>>,
    /// Counts short-lived writes, to purge expired rows now and then.
    pub(crate) ephemeral_writes: AtomicU64,
    /// The connection threads, joined when the store is dropped.
    threads: Vec<JoinHandle<()>>,
    /// How long a waiting call checks for its answer before sleeping.
    linger: Duration,
}

/// The reader threads, with a free-list of the idle ones.
struct ReaderPool {
    workers: Vec<Worker>,
    /// Indexes of the readers with nothing queued; shared with their jobs,
    /// which put their reader back when they finish.
    idle: Arc<StdMutex<Vec<usize>>>,
    /// Round-robin cursor for when every reader is busy.
    next: AtomicUsize,
}

/// Returns a reader taken from the free-list when dropped.
struct BackToIdle {
    idle: Arc<StdMutex<Vec<usize>>>,
    reader: usize,
}

impl Drop for BackToIdle {
    fn drop(&mut self) {
        self.idle
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(self.reader);
    }
}

/// Removes a temporary database and its WAL files when dropped (after the
/// last connection thread has closed its connection).
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

impl Drop for Shared {
    /// Stops the connection threads and waits for them to close their
    /// connections (as closing a connection in place would), except the
    /// thread running this drop, if it is one of them: that one ends on its
    /// own once its current job returns.
    fn drop(&mut self) {
        if let Some(w) = Arc::get_mut(&mut self.writer) {
            w.get_mut().jobs = None;
        }
        self.readers.workers.clear();
        let me = std::thread::current().id();
        for t in self.threads.drain(..) {
            if t.thread().id() != me {
                let _ = t.join();
            }
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
    /// thread, then gives each connection its own thread.
    pub(crate) async fn open(
        path: PathBuf,
        temporary: bool,
        features: Features,
        clock: Clock,
        readers: usize,
        busy_timeout: Duration,
    ) -> StoreResult<Arc<Shared>> {
        let readers = readers.max(1);
        let temp = temporary.then(|| Arc::new(TempFiles(path.clone())));
        let opened = tokio::task::spawn_blocking(move || -> StoreResult<_> {
            let writer = open_connection(&path, busy_timeout, false)?;
            let columns = UserColumns::load(&writer)?;
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
        let mut threads = Vec::with_capacity(readers + 1);
        let mut workers = Vec::with_capacity(readers);
        let linger = linger();
        let (writer, t) = Worker::spawn("fullauth-sqlite-writer", writer, linger, temp.clone())?;
        threads.push(t);
        for (i, conn) in conns.into_iter().enumerate() {
            let (w, t) = Worker::spawn(
                &format!("fullauth-sqlite-reader-{i}"),
                conn,
                linger,
                temp.clone(),
            )?;
            workers.push(w);
            threads.push(t);
        }
        // The threads hold the temporary files now; the last one to close its
        // connection deletes them.
        drop(temp);
        Ok(Arc::new(Shared {
            writer: Arc::new(Mutex::new(writer)),
            readers: ReaderPool {
                workers,
                idle: Arc::new(StdMutex::new((0..readers).rev().collect())),
                next: AtomicUsize::new(0),
            },
            clock,
            features,
            busy_timeout,
            path,
            user_columns: RwLock::new(Arc::new(columns)),
            ephemeral_writes: AtomicU64::new(0),
            threads,
            linger,
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
        let cols = Arc::new(UserColumns::load(conn)?);
        *self.user_columns.write().unwrap_or_else(|p| p.into_inner()) = cols.clone();
        Ok(cols)
    }

    /// True once every `every` short-lived writes (to purge expired rows).
    pub(crate) fn time_to_purge(&self, every: u64) -> bool {
        self.ephemeral_writes.fetch_add(1, Ordering::Relaxed) % every == every - 1
    }
}

/// Rolls back a transaction left open on `conn` (a no-op otherwise).
fn rollback_leftover(conn: &Connection) {
    if !conn.is_autocommit() {
        let _ = conn.execute_batch("ROLLBACK");
    }
}

/// The writer lock held by an open transaction (`None` once it has been
/// committed or rolled back).
pub(crate) struct TxSlot {
    conn: StdMutex<Option<OwnedMutexGuard<Worker>>>,
}

impl TxSlot {
    fn slot(&self) -> std::sync::MutexGuard<'_, Option<OwnedMutexGuard<Worker>>> {
        self.conn.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl Drop for TxSlot {
    /// Rolls back a transaction that was neither committed nor rolled back:
    /// the `ROLLBACK` is queued on the writer thread before the writer lock
    /// is released, so it runs before any later write. Never blocks.
    fn drop(&mut self) {
        let slot = self.conn.get_mut().unwrap_or_else(|p| p.into_inner());
        if let Some(guard) = slot.take() {
            let _ = guard.submit(|c| {
                rollback_leftover(c);
                Ok(())
            });
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
    pub(crate) fn now(&self) -> Timestamp {
        self.shared.clock.now()
    }

    /// Takes the writer lock, waiting at most the busy timeout.
    async fn lock_writer(&self) -> StoreResult<OwnedMutexGuard<Worker>> {
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

    /// Runs a read: on an idle reader (or, when all are busy, queued on the
    /// next one in turn), or on the transaction's connection.
    pub(crate) async fn read<T, F>(&self, f: F) -> StoreResult<T>
    where
        F: FnOnce(&Connection) -> StoreResult<T> + Send + 'static,
        T: Send + 'static,
    {
        if let Some(tx) = &self.tx {
            return run_on_tx(tx, self.shared.linger, f).await;
        }
        let pool = &self.shared.readers;
        let n = pool.workers.len();
        let popped = pool.idle.lock().unwrap_or_else(|p| p.into_inner()).pop();
        let (i, from_idle) = match popped {
            Some(i) => (i, true),
            None => (pool.next.fetch_add(1, Ordering::Relaxed) % n.max(1), false),
        };
        let Some(worker) = pool.workers.get(i) else {
            return Err(StoreError::backend_message(
                "the SQLite reader pool is closed",
            ));
        };
        let back = from_idle.then(|| BackToIdle {
            idle: pool.idle.clone(),
            reader: i,
        });
        let submitted = worker.submit(move |c| {
            // Puts the reader back on the free-list when the job ends (even
            // by a panic), before the answer is sent.
            let _back = back;
            f(c)
        });
        answer(submitted?, self.shared.linger).await
    }

    /// Runs a write of one statement (or statements whose partial effect is
    /// harmless) on the writer or the transaction's connection.
    pub(crate) async fn write<T, F>(&self, f: F) -> StoreResult<T>
    where
        F: FnOnce(&Connection) -> StoreResult<T> + Send + 'static,
        T: Send + 'static,
    {
        if let Some(tx) = &self.tx {
            return run_on_tx(tx, self.shared.linger, f).await;
        }
        // The lock is needed only to queue the job: the writer thread runs
        // jobs one by one in queue order, so releasing it before the answer
        // arrives cannot interleave another write with this one.
        let rx = self.lock_writer().await?.submit(move |c| {
            rollback_leftover(c);
            f(c)
        })?;
        answer(rx, self.shared.linger).await
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

    /// Begins a transaction: takes the writer lock for the handle's lifetime.
    pub(crate) async fn begin(&self) -> StoreResult<Handle> {
        if self.in_tx() {
            return Err(StoreError::transaction_nesting());
        }
        let guard = self.lock_writer().await?;
        // If this future is cancelled while waiting, the guard is dropped
        // with the `BEGIN` possibly done: the next holder's job rolls it back
        // before doing anything (`rollback_leftover`).
        let rx = guard.submit(|c| {
            rollback_leftover(c);
            c.execute_batch("BEGIN IMMEDIATE").db()
        })?;
        answer(rx, self.shared.linger).await?;
        Ok(Handle {
            shared: self.shared.clone(),
            tx: Some(Arc::new(TxSlot {
                conn: StdMutex::new(Some(guard)),
            })),
        })
    }

    /// Ends the transaction with `COMMIT` (`commit = true`) or `ROLLBACK`.
    pub(crate) async fn finish(&self, commit: bool) -> StoreResult<()> {
        let Some(tx) = &self.tx else {
            return Ok(());
        };
        let Some(guard) = tx.slot().take() else {
            return Err(StoreError::transaction_finished());
        };
        // Queued before the writer lock is released (when `guard` drops at
        // the end of this statement), so it runs before any later write.
        let rx = guard.submit(move |c| {
            if c.is_autocommit() {
                // SQLite already rolled the transaction back (after an I/O
                // error, a full disk, ...): nothing of it can be committed.
                return if commit {
                    Err(StoreError::transaction_finished())
                } else {
                    Ok(())
                };
            }
            if commit {
                match c.execute_batch("COMMIT").db() {
                    Ok(()) => Ok(()),
                    Err(e) => {
                        rollback_leftover(c);
                        Err(e)
                    }
                }
            } else {
                c.execute_batch("ROLLBACK").db()
            }
        })?;
        drop(guard);
        answer(rx, self.shared.linger).await
    }
}

/// Queues `f` on the writer thread on behalf of the transaction `tx`.
async fn run_on_tx<T, F>(tx: &TxSlot, linger: Duration, f: F) -> StoreResult<T>
where
    F: FnOnce(&Connection) -> StoreResult<T> + Send + 'static,
    T: Send + 'static,
{
    let rx = match tx.slot().as_ref() {
        Some(guard) => guard.submit(move |c| {
            // SQLite rolls a transaction back by itself after some failures
            // (I/O error, full disk): a call must not then run outside it.
            if c.is_autocommit() {
                return Err(StoreError::transaction_finished());
            }
            f(c)
        })?,
        None => return Err(StoreError::transaction_finished()),
    };
    answer(rx, linger).await
}
