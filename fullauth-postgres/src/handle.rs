//! Where an operation runs: on a pooled connection (one statement,
//! autocommit, retried once on a fresh connection when that is safe) or on
//! the connection of an open transaction (optionally inside a savepoint).

use fullauth_api::{StoreError, StoreResult};
use sqlx::pool::PoolConnection;
use sqlx::{PgPool, Postgres};
use tokio::sync::Mutex;

use crate::ctx::Ctx;
use crate::error::map_sqlx;

/// The open transaction of a [`crate::PgTransaction`]; `None` once finished.
pub(crate) type TxSlot = Mutex<Option<sqlx::Transaction<'static, Postgres>>>;

/// The connection source of an operation.
#[derive(Clone, Copy)]
pub(crate) enum ConnRef<'a> {
    Pool(&'a PgPool),
    Tx(&'a TxSlot),
}

/// A store or a transaction, as operations see it.
#[derive(Clone, Copy)]
pub(crate) struct Handle<'a> {
    pub(crate) ctx: &'a Ctx,
    pub(crate) conn: ConnRef<'a>,
}

/// Takes a connection from the pool; exhaustion and connect failures are
/// [`StoreError::Unavailable`].
pub(crate) async fn acquire(pool: &PgPool) -> StoreResult<PoolConnection<Postgres>> {
    pool.acquire().await.map_err(map_sqlx)
}

/// The error of an operation on a finished transaction.
pub(crate) fn finished() -> StoreError {
    StoreError::Backend {
        message: "the transaction is already finished".into(),
        source: None,
    }
}

/// The savepoint wrapped around fallible writes inside a transaction.
pub(crate) const SAVEPOINT: &str = "SAVEPOINT fullauth_op";
/// Releases [`SAVEPOINT`].
pub(crate) const RELEASE: &str = "RELEASE SAVEPOINT fullauth_op";
/// Undoes the failed write and releases [`SAVEPOINT`].
pub(crate) const ROLLBACK_TO: &str =
    "ROLLBACK TO SAVEPOINT fullauth_op; RELEASE SAVEPOINT fullauth_op";

/// Runs `|c| body` on the handle's connection and maps the result to a
/// `StoreResult`, inside a tracing span named after the operation.
///
/// * On the pool: the body runs on a pooled connection; when it fails
///   because the connection was dead and the retry policy allows it, it runs
///   again on another connection (at most once per pooled connection, plus
///   one: after the server terminated every connection, each idle one fails
///   once before the pool opens a new one).
/// * In a transaction: the body runs on the transaction's connection; with
///   `savepoint = true` inside a savepoint, so that an expected failure
///   (conflict, missing user) leaves the transaction usable.
macro_rules! run {
    ($h:expr, $op:literal, $retry:expr, savepoint = $sp:expr, |$c:ident| $body:expr) => {{
        use tracing::Instrument as _;
        let h: $crate::handle::Handle<'_> = $h;
        let span = tracing::debug_span!("fullauth.store", backend = "postgres", op = $op);
        async {
            match h.conn {
                $crate::handle::ConnRef::Pool(pool) => {
                    // Every idle connection may be dead (the server terminated
                    // them all): allow one retry per pooled connection, plus one.
                    let mut retries_left = pool.options().get_max_connections().min(64) + 1;
                    loop {
                        let mut pooled = $crate::handle::acquire(pool).await?;
                        let result = {
                            let $c: &mut sqlx::PgConnection = &mut pooled;
                            $body.await
                        };
                        match result {
                            Ok(v) => break Ok(v),
                            Err(e) => {
                                if e.is_connection_failure() {
                                    pooled.close_on_drop();
                                }
                                if retries_left > 0 && e.may_retry($retry) {
                                    retries_left -= 1;
                                    tracing::debug!(error = ?e, "connection lost; retrying once on a fresh one");
                                    continue;
                                }
                                break Err(e.into_store());
                            }
                        }
                    }
                }
                $crate::handle::ConnRef::Tx(slot) => {
                    let mut guard = slot.lock().await;
                    let tx = guard.as_mut().ok_or_else($crate::handle::finished)?;
                    let $c: &mut sqlx::PgConnection = &mut *tx;
                    if $sp {
                        sqlx::raw_sql($crate::handle::SAVEPOINT)
                            .execute(&mut *$c)
                            .await
                            .map_err($crate::error::map_sqlx)?;
                    }
                    let result = $body.await;
                    if $sp {
                        let end = if result.is_ok() {
                            $crate::handle::RELEASE
                        } else {
                            $crate::handle::ROLLBACK_TO
                        };
                        sqlx::raw_sql(end)
                            .execute(&mut *$c)
                            .await
                            .map_err($crate::error::map_sqlx)?;
                    }
                    result.map_err(|e| e.into_store())
                }
            }
        }
        .instrument(span)
        .await
    }};
}
pub(crate) use run;
