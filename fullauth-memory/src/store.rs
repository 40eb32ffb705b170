//! [`MemoryStore`]: the shared state, the [`Handle`] every operation runs
//! through, and the hand-written parts of the trait implementations.
//!
//! Every operation is written once, in its feature's module, as
//! `async fn <trait method>(h: Handle<'_>, <the method's arguments>)` whose
//! body is one closure run by [`Handle::read`], [`Handle::write`] or
//! [`Handle::short`]; `fullauth_api::backend_impls!` (invoked in `lib.rs`)
//! generates the trait implementations from those functions, with the
//! feature check, the tracing span and the error context. The store and a
//! transaction differ only in the handle they give to the operations:
//!
//! * the store's handle reads the committed state under its read lock, and
//!   writes it after taking the writer lock (so a write waits while a
//!   transaction is open), under its write lock;
//! * a transaction's handle reads and writes the transaction's private copy.
//!
//! Each operation runs entirely inside one critical section, which is what
//! makes every compare-and-set step atomic under concurrency.

use std::sync::{Arc, Mutex, RwLock};

use async_trait::async_trait;
use fullauth_api::backend::Backend;
use fullauth_api::{
    DurableStore, Feature, Features, StoreError, StoreInfo, StoreResult, Timestamp, Transaction,
};
use tracing::Instrument as _;

use crate::state::{Ctx, ShortLived, State, lock, read_lock, write_lock};
use crate::transaction::MemoryTransaction;

/// The name every handle of this crate reports ([`StoreInfo::backend_name`]).
pub(crate) const BACKEND: &str = "memory";

/// What every handle of one store shares.
#[derive(Debug)]
pub(crate) struct Shared {
    /// Configuration and clock.
    pub(crate) ctx: Ctx,
    /// The committed durable state. Reads share it; a write holds the writer
    /// lock first, so at most one thread ever waits for the write side.
    pub(crate) committed: RwLock<State>,
    /// Serialises writers: held by a plain write for one operation, and by a
    /// transaction for its whole life.
    pub(crate) writer: Arc<tokio::sync::Mutex<()>>,
    /// The short-lived state.
    pub(crate) short: Mutex<ShortLived>,
}

/// What every operation receives ([`Backend::ops`]): the store's shared
/// state, and a transaction's private copy when it runs in one.
///
/// `pub` only because it is the `Ops` type of a public trait impl; it lives
/// in a private module, so other crates cannot name it, and it has no public
/// fields or methods.
#[derive(Clone, Copy)]
pub struct Handle<'a> {
    shared: &'a Shared,
    /// The transaction's copy of the durable state; `None` on the store.
    tx: Option<&'a Mutex<State>>,
}

impl<'a> Handle<'a> {
    /// The handle of the store itself: the committed state.
    pub(crate) fn store(shared: &'a Shared) -> Self {
        Handle { shared, tx: None }
    }

    /// The handle of a transaction: its private copy of the state.
    pub(crate) fn transaction(shared: &'a Shared, state: &'a Mutex<State>) -> Self {
        Handle {
            shared,
            tx: Some(state),
        }
    }

    /// Runs a read of the durable state, in one critical section.
    pub(crate) async fn read<T>(
        self,
        f: impl FnOnce(&State, &Ctx) -> StoreResult<T>,
    ) -> StoreResult<T> {
        let cx = &self.shared.ctx;
        match self.tx {
            None => f(&read_lock(&self.shared.committed), cx),
            Some(state) => f(&lock(state), cx),
        }
    }

    /// Runs a write of the durable state, in one critical section. On the
    /// store it first takes the writer lock, so it waits while a transaction
    /// is open. In a transaction a failed operation changes nothing (every
    /// operation checks before it writes), so the transaction stays usable
    /// (savepoint semantics).
    pub(crate) async fn write<T>(
        self,
        f: impl FnOnce(&mut State, &Ctx) -> StoreResult<T>,
    ) -> StoreResult<T> {
        let cx = &self.shared.ctx;
        match self.tx {
            None => {
                let _writer = self.shared.writer.lock().await;
                let mut st = write_lock(&self.shared.committed);
                f(&mut st, cx)
            }
            Some(state) => f(&mut lock(state), cx),
        }
    }

    /// Runs an operation on the short-lived state (never transactional), in
    /// one critical section, after sweeping expired entries when it is time.
    pub(crate) async fn short<T>(
        self,
        f: impl FnOnce(&mut ShortLived, Timestamp) -> StoreResult<T>,
    ) -> StoreResult<T> {
        let mut short = lock(&self.shared.short);
        let now = self.shared.ctx.now();
        short.maybe_sweep(now);
        f(&mut short, now)
    }
}

/// An in-process store serving every feature of fullauth: users, refresh
/// tokens and sessions, roles, permissions, OAuth links, passkeys, MFA, and
/// the four short-lived features.
///
/// Cloning is cheap and every clone shares the same data (it is an `Arc`).
/// The data lives as long as the last clone and is never persisted.
///
/// # Concurrency and transactions
///
/// Each operation runs atomically, inside one short critical section. Reads
/// run in parallel and never wait for a transaction. Writes are serialised,
/// and a transaction ([`DurableStore::begin`]) holds the right to write for
/// its whole life: writes through the store (not through the transaction)
/// wait until it commits, rolls back or is dropped. Do not write through the
/// store from the task that holds an open transaction — that write would wait
/// for itself.
///
/// The transaction works on a private snapshot of the committed tables (the
/// tables are persistent maps: beginning shares them, and a write inside the
/// transaction copies only the path to what it changes, in O(log n) however
/// large the table), so its reads see
/// its own writes, other handles see none of them until
/// [`Transaction::commit`], and a failed operation inside it changes nothing
/// (the savepoint behaviour of `create_user` and `link_oauth_account`).
///
/// The short-lived features (blacklist, lockout, rate limits, challenges) are
/// not transactional; transaction handles serve only the durable traits.
#[derive(Clone, Debug)]
pub struct MemoryStore {
    pub(crate) shared: Arc<Shared>,
}

impl MemoryStore {
    /// A store with every feature, the system clock and no application
    /// columns.
    pub fn new() -> Self {
        Self::from_ctx(Ctx {
            features: Features::all(),
            clock: fullauth_api::Clock::system(),
            columns: Default::default(),
            user_id_type: fullauth_api::UserIdType::Uuid,
        })
    }

    pub(crate) fn from_ctx(ctx: Ctx) -> Self {
        MemoryStore {
            shared: Arc::new(Shared {
                ctx,
                committed: RwLock::new(State::default()),
                writer: Arc::new(tokio::sync::Mutex::new(())),
                short: Mutex::new(ShortLived::default()),
            }),
        }
    }
}

impl Default for MemoryStore {
    fn default() -> Self {
        Self::new()
    }
}

/// The span of an operation the forwarding layer does not generate
/// (`begin`, `commit`, `rollback`).
pub(crate) fn span(op: &'static str) -> tracing::Span {
    tracing::debug_span!("fullauth.store", backend = BACKEND, op)
}

impl StoreInfo for MemoryStore {
    fn features(&self) -> Features {
        self.shared.ctx.features
    }

    fn backend_name(&self) -> &'static str {
        BACKEND
    }

    fn user_id_type(&self) -> fullauth_api::UserIdType {
        self.shared.ctx.user_id_type
    }
}

impl Backend for MemoryStore {
    type Ops<'a> = Handle<'a>;

    fn ops(&self) -> Handle<'_> {
        Handle::store(&self.shared)
    }
}

#[async_trait]
impl DurableStore for MemoryStore {
    async fn begin(&self) -> StoreResult<Box<dyn Transaction>> {
        if self.features().intersection(Features::durable()).is_empty() {
            return Err(StoreError::feature_disabled(Feature::Core).with_context(BACKEND, "begin"));
        }
        async move {
            let writer = self.shared.writer.clone().lock_owned().await;
            let snapshot = read_lock(&self.shared.committed).clone();
            let tx: Box<dyn Transaction> = Box::new(MemoryTransaction::new(
                self.shared.clone(),
                snapshot,
                writer,
            ));
            Ok(tx)
        }
        .instrument(span("begin"))
        .await
    }
}
