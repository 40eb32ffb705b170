//! Where an operation runs: on a pooled connection (one statement,
//! autocommit, retried once on a fresh connection when that is safe) or on
//! the connection of an open transaction (optionally inside a savepoint).

use fullauth_api::{StoreError, StoreResult};
use sqlx::pool::PoolConnection;
use sqlx::{PgPool, Postgres};
use tokio::sync::Mutex;

use crate::ctx::Ctx;
use crate::error::{DbResult, map_sqlx};

/// The open transaction of a [`crate::PgTransaction`]; `None` once finished.
pub(crate) type TxSlot = Mutex<Option<sqlx::Transaction<'static, Postgres>>>;

/// The connection source of an operation.
#[derive(Clone, Copy)]
pub(crate) enum ConnRef<'a> {
    Pool(&'a PgPool),
    Tx(&'a TxSlot),
}

/// A store or a transaction, as operations see it: the first argument of
/// every operation ([`fullauth_api::backend::Backend::Ops`] of
/// [`crate::PgStore`] and [`crate::PgTransaction`]). Opaque outside the crate.
#[derive(Clone, Copy)]
pub struct Handle<'a> {
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
    StoreError::transaction_finished()
}

/// The savepoint wrapped around fallible writes inside a transaction.
pub(crate) const SAVEPOINT: &str = "SAVEPOINT fullauth_op";
/// Releases [`SAVEPOINT`].
pub(crate) const RELEASE: &str = "RELEASE SAVEPOINT fullauth_op";
/// Undoes the failed write and releases [`SAVEPOINT`].
pub(crate) const ROLLBACK_TO: &str =
    "ROLLBACK TO SAVEPOINT fullauth_op; RELEASE SAVEPOINT fullauth_op";

/// Runs one of the savepoint statements.
pub(crate) async fn savepoint(c: &mut sqlx::PgConnection, sql: &'static str) -> DbResult<()> {
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
/// * On the pool: the body runs on a pooled connection; when it fails
///   because the connection was dead and the retry policy allows it, it runs
///   again on another connection (at most once per pooled connection, plus
///   one: after the server terminated every connection, each idle one fails
///   once before the pool opens a new one).
/// * In a transaction: the body runs on the transaction's connection; with
///   `savepoint = true` inside a savepoint, so that an expected failure
///   (conflict, missing user) leaves the transaction usable. A failure that
///   aborts the transaction on the server (or loses its connection) ends it:
///   the handle rolls back, and every later call, commit included, answers
///   [`StoreError::TransactionFinished`].
macro_rules! run {
    ($h:expr, $retry:expr, savepoint = $sp:expr, |$c:ident| $body:expr) => {{
        let h: $crate::handle::Handle<'_> = $h;
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
                            $crate::handle::body($body).await
                        };
                        match result {
                            Ok(v) => break Ok(v),
                            Err(e) => {
                                if e.is_connection_failure() {
                                    pooled.close_on_drop();
                                }
                                if retries_left > 0 && e.may_retry($retry) {
                                    retries_left -= 1;
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
                    let conn: &mut sqlx::PgConnection = &mut *tx;
                    // The error, and whether it ended the transaction.
                    let outcome: Result<_, ($crate::error::DbError, bool)> = async {
                        if $sp {
                            $crate::handle::savepoint(&mut *conn, $crate::handle::SAVEPOINT)
                                .await
                                .map_err(|e| (e, true))?;
                        }
                        let result = {
                            let $c: &mut sqlx::PgConnection = &mut *conn;
                            $crate::handle::body($body).await
                        };
                        if $sp {
                            let end = if result.is_ok() {
                                $crate::handle::RELEASE
                            } else {
                                $crate::handle::ROLLBACK_TO
                            };
                            $crate::handle::savepoint(&mut *conn, end)
                                .await
                                .map_err(|e| (e, true))?;
                            result.map_err(|e| (e, false))
                        } else {
                            result.map_err(|e| {
                                let broken = e.breaks_transaction();
                                (e, broken)
                            })
                        }
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
