//! Transactions: a private copy of the committed state, swapped in at commit.

use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use fullauth_api::{DurableStore, Feature, Features, StoreResult, Transaction};
use tokio::sync::OwnedMutexGuard;

use crate::state::{Ctx, State, lock, write_lock};
use crate::store::{Shared, durable_traits, nesting, span};

/// An open transaction of a [`crate::MemoryStore`].
///
/// It holds the store's writer lock for its whole life, so its snapshot of
/// the committed state stays current: no other write can commit in between.
/// Dropping it releases the lock and discards the snapshot (rollback).
pub(crate) struct MemoryTransaction {
    shared: Arc<Shared>,
    state: Mutex<State>,
    _writer: OwnedMutexGuard<()>,
}

impl MemoryTransaction {
    pub(crate) fn new(shared: Arc<Shared>, snapshot: State, writer: OwnedMutexGuard<()>) -> Self {
        MemoryTransaction {
            shared,
            state: Mutex::new(snapshot),
            _writer: writer,
        }
    }

    /// Runs a read of the transaction's state.
    pub(crate) async fn read<T, F>(
        &self,
        feature: Feature,
        op: &'static str,
        f: F,
    ) -> StoreResult<T>
    where
        F: FnOnce(&State, &Ctx) -> StoreResult<T> + Send,
        T: Send,
    {
        let cx = &self.shared.ctx;
        let _span = span(op).entered();
        cx.require(feature)?;
        let st = lock(&self.state);
        f(&st, cx)
    }

    /// Runs a write of the transaction's state. A failed operation changes
    /// nothing, so the transaction stays usable (savepoint semantics).
    pub(crate) async fn write<T, F>(
        &self,
        feature: Feature,
        op: &'static str,
        f: F,
    ) -> StoreResult<T>
    where
        F: FnOnce(&mut State, &Ctx) -> StoreResult<T> + Send,
        T: Send,
    {
        let cx = &self.shared.ctx;
        let _span = span(op).entered();
        cx.require(feature)?;
        let mut st = lock(&self.state);
        f(&mut st, cx)
    }
}

durable_traits!(MemoryTransaction);

#[async_trait]
impl DurableStore for MemoryTransaction {
    fn features(&self) -> Features {
        self.shared.ctx.features
    }

    fn backend_name(&self) -> &'static str {
        "memory"
    }

    async fn begin(&self) -> StoreResult<Box<dyn Transaction>> {
        Err(nesting())
    }
}

#[async_trait]
impl Transaction for MemoryTransaction {
    async fn commit(self: Box<Self>) -> StoreResult<()> {
        let _span = span("commit").entered();
        let MemoryTransaction {
            shared,
            state,
            _writer,
        } = *self;
        let state = state.into_inner().unwrap_or_else(|p| p.into_inner());
        *write_lock(&shared.committed) = state;
        drop(_writer);
        Ok(())
    }

    async fn rollback(self: Box<Self>) -> StoreResult<()> {
        let _span = span("rollback").entered();
        drop(self);
        Ok(())
    }
}
