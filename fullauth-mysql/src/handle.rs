//! Where an operation runs: on a pooled connection (autocommit, or one
//! short transaction of its own when the operation takes several
//! statements; run again on a fresh connection, or after a deadlock, when
//! that is safe) or on the connection of an open transaction (inside a
//! savepoint when the operation takes several statements).

use std::time::Duration;

use fullauth_api::{StoreError, StoreResult};
use sqlx::pool::PoolConnection;
use sqlx::{MySql, MySqlPool};
use tokio::sync::Mutex;

use crate::ctx::Ctx;
use crate::error::{DbResult, map_sqlx};

/// The open transaction of a [`crate::MySqlTransaction`]; `None` once
/// finished.
pub(crate) type TxSlot = Mutex<Option<sqlx::Transaction<'static, MySql>>>;

/// The connection source of an operation.
#[derive(Clone, Copy)]
pub(crate) enum ConnRef<'a> {
    Pool(&'a MySqlPool),
    Tx(&'a TxSlot),
}

/// A store or a transaction, as operations see it: the first argument of
/// every operation ([`fullauth_api::backend::Backend::Ops`] of
/// [`crate::MySqlStore`] and [`crate::MySqlTransaction`]). Opaque outside
/// the crate.
#[derive(Clone, Copy)]
pub struct Handle<'a> {
    pub(crate) ctx: &'a Ctx,
    pub(crate) conn: ConnRef<'a>,
}

/// Takes a connection from the pool; exhaustion and connect failures are
/// [`StoreError::Unavailable`].
pub(crate) async fn acquire(pool: &MySqlPool) -> StoreResult<PoolConnection<MySql>> {
    pool.acquire().await.map_err(map_sqlx)
}

/// The error of an operation on a finished transaction.
pub(crate) fn finished() -> StoreError {
    StoreError::transaction_finished()
}

/// How many times a pooled operation is run again after a deadlock or a
/// lock-wait timeout before [`StoreError::Contention`] reaches the caller.
pub(crate) const CONTENTION_RETRIES: u32 = 16;

/// The pause before the `attempt`-th run after a deadlock: 1, 2, 4 … 32 ms
/// plus a random part of the same size, so that the tasks of one race do
/// not wake together.
pub(crate) fn backoff(attempt: u32) -> Duration {
    let base = 1u64 << attempt.min(5);
    let spread = u64::try_from(uuid::Uuid::new_v4().as_u128() % u128::from(base)).unwrap_or(0);
    Duration::from_millis(base + spread)
}

/// The savepoint wrapped around multi-statement operations inside a
/// transaction.
pub(crate) const SAVEPOINT: &str = "SAVEPOINT fullauth_op";
/// Releases [`SAVEPOINT`].
pub(crate) const RELEASE: &str = "RELEASE SAVEPOINT fullauth_op";
/// Undoes the failed operation (the savepoint stays, and is released).
pub(crate) const ROLLBACK_TO: &str = "ROLLBACK TO SAVEPOINT fullauth_op";

/// Runs one statement without arguments (transaction control).
pub(crate) async fn control(c: &mut sqlx::MySqlConnection, sql: &'static str) -> DbResult<()> {
    sqlx::raw_sql(sql).execute(c).await?;
    Ok(())
}

/// Pins down the output of an operation body (so that `?` inside an
/// `async` block knows it converts into [`DbError`](crate::error::DbError)).
pub(crate) fn body<T, F: std::future::Future<Output = DbResult<T>>>(f: F) -> F {
    f
}

/// Runs `|c| body` (a `DbResult` future, evaluated again for a retry) on
/// the handle's connection and maps the result to a `StoreResult`.
///
/// * On the pool: the body runs on a pooled connection, in autocommit mode,
///   or with `atomic = true` between `BEGIN` and `COMMIT` (rolled back when
///   it fails). When it fails because the connection was dead and the retry
///   policy allows it, or because of a deadlock or lock-wait timeout (the
///   server rolled it back), it runs again (at most once per pooled
///   connection plus one for dead connections, [`CONTENTION_RETRIES`] times
///   for contention).
/// * In a transaction: the body runs on the transaction's connection; with
///   `atomic = true` inside a savepoint, so that a failure half-way leaves
///   nothing of the operation behind. A single refused statement is undone
///   by the server alone; a deadlock or a lost connection ends the
///   transaction: the handle rolls back, and every later call, commit
///   included, answers [`StoreError::TransactionFinished`].
macro_rules! run {
    ($h:expr, $retry:expr, atomic = $atomic:expr, |$c:ident| $body:expr) => {{
        let h: $crate::handle::Handle<'_> = $h;
        async {
            match h.conn {
                $crate::handle::ConnRef::Pool(pool) => {
                    // Every idle connection may be dead (the server killed
                    // them all): allow one retry per pooled connection, plus one.
                    let mut dead_left = pool.options().get_max_connections().min(64) + 1;
                    let mut contention = 0u32;
                    loop {
                        let mut pooled = $crate::handle::acquire(pool).await?;
                        let result = async {
                            let $c: &mut sqlx::MySqlConnection = &mut pooled;
                            if $atomic {
                                $crate::handle::control(&mut *$c, "BEGIN").await?;
                                let r = $crate::handle::body($body).await;
                                let end = if r.is_ok() { "COMMIT" } else { "ROLLBACK" };
                                let $c: &mut sqlx::MySqlConnection = &mut pooled;
                                match (r, $crate::handle::control($c, end).await) {
                                    (Ok(v), Ok(())) => Ok(v),
                                    (Err(e), _) | (Ok(_), Err(e)) => Err(e),
                                }
                            } else {
                                $crate::handle::body($body).await
                            }
                        }
                        .await;
                        match result {
                            Ok(v) => break Ok(v),
                            Err(e) => {
                                if e.is_connection_failure() {
                                    pooled.close_on_drop();
                                }
                                drop(pooled);
                                if e.is_contention() && contention < $crate::handle::CONTENTION_RETRIES {
                                    contention += 1;
                                    tokio::time::sleep($crate::handle::backoff(contention)).await;
                                    continue;
                                }
                                if !e.is_contention() && dead_left > 0 && e.may_retry($retry) {
                                    dead_left -= 1;
                                    tracing::debug!(error = ?e, "connection lost; retrying on a fresh one");
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
                    let conn: &mut sqlx::MySqlConnection = &mut *tx;
                    // The error, and whether it ended the transaction.
                    let outcome: Result<_, ($crate::error::DbError, bool)> = async {
                        if $atomic {
                            $crate::handle::control(&mut *conn, $crate::handle::SAVEPOINT)
                                .await
                                .map_err(|e| (e, true))?;
                        }
                        let result = {
                            let $c: &mut sqlx::MySqlConnection = &mut *conn;
                            $crate::handle::body($body).await
                        };
                        if $atomic && !result.as_ref().is_err_and(|e| e.breaks_transaction()) {
                            if result.is_err() {
                                $crate::handle::control(&mut *conn, $crate::handle::ROLLBACK_TO)
                                    .await
                                    .map_err(|e| (e, true))?;
                            }
                            $crate::handle::control(&mut *conn, $crate::handle::RELEASE)
                                .await
                                .map_err(|e| (e, true))?;
                        }
                        result.map_err(|e| {
                            let broken = e.breaks_transaction();
                            (e, broken)
                        })
                    }
                    .await;
                    match outcome {
                        Ok(v) => Ok(v),
                        Err((e, broken)) => {
                            if broken {
                                // Rolls back (or drops the dead connection).
                                drop(guard.take());
                            }
                            Err(e.into_store())
                        }
                    }
                }
            }
        }
        .await
    }};
}
pub(crate) use run;
