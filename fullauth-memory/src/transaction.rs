//! Transactions: a private copy of the committed state, swapped in at commit.

use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use fullauth_api::backend::Backend;
use fullauth_api::{DurableStore, Features, StoreError, StoreInfo, StoreResult, Transaction};
use tokio::sync::OwnedMutexGuard;

use crate::state::{State, write_lock};
use crate::store::{BACKEND, Handle, Shared, span};

/// An open transaction of a [`crate::MemoryStore`].
///
/// It holds the store's writer lock for its whole life, so its snapshot of
/// the committed state stays current: no other write can commit in between.
/// Dropping it releases the lock and discards the snapshot (rollback).
/// `commit` and `rollback` consume it, so a finished transaction cannot be
/// used again.
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
}

#[cfg(test)]
impl MemoryTransaction {
    /// The transaction's copy of the state (for tests that look into it).
    pub(crate) fn state(&self) -> std::sync::MutexGuard<'_, State> {
        crate::state::lock(&self.state)
    }
}

impl StoreInfo for MemoryTransaction {
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

impl Backend for MemoryTransaction {
    type Ops<'a> = Handle<'a>;

    fn ops(&self) -> Handle<'_> {
        Handle::transaction(&self.shared, &self.state)
    }
}

#[async_trait]
impl DurableStore for MemoryTransaction {
    async fn begin(&self) -> StoreResult<Box<dyn Transaction>> {
        Err(StoreError::transaction_nesting().with_context(BACKEND, "begin"))
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
