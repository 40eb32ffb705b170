//! Where an operation runs: on a pooled connection (one statement,
//! autocommit, retried once on a fresh connection when that is safe; behind
//! a transaction-mode pooler inside a transaction of its own) or on the
//! connection of an open transaction (optionally inside a savepoint).

use fullauth_api::StoreError;
use fullauth_api::StoreResult;
use sqlx::{PgConnection, Postgres};
use tokio::sync::Mutex;

use crate::conns::{Lease, Source, TxConn};
use crate::ctx::Ctx;
use crate::error::{DbResult, map_sqlx};

/// The open transaction of a [`crate::PgTransaction`]; `None` once finished.
pub(crate) type TxSlot = Mutex<Option<TxConn>>;

/// The connection source of an operation.
#[derive(Clone, Copy)]
pub(crate) enum ConnRef<'a> {
    Pool(&'a Source),
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

/// Takes a connection from the source; exhaustion and connect failures are
/// [`StoreError::Unavailable`].
pub(crate) async fn acquire(source: &Source) -> StoreResult<Lease> {
    source.acquire().await.map_err(map_sqlx)
}

/// Runs `fut` until `deadline` (unbounded when `None`); `None` when the
/// deadline passed first (the future is dropped).
pub(crate) async fn within<T>(
    deadline: Option<tokio::time::Instant>,
    fut: impl std::future::Future<Output = T>,
) -> Option<T> {
    match deadline {
        Some(at) => tokio::time::timeout_at(at, fut).await.ok(),
        None => Some(fut.await),
    }
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

/// The connection an operation on the pool runs on: the pooled connection
/// itself, or, behind a transaction-mode pooler, a transaction opened on it.
///
/// PgBouncer in transaction mode may hand each transaction, and each
/// message exchange outside one, to a different server connection; sqlx
/// sends a statement's Parse/Describe and its Bind/Execute as two
/// exchanges, so outside a transaction the second can reach a server that
/// never saw the first. Inside `BEGIN … COMMIT` every message of the
/// operation reaches the same server connection.
pub(crate) enum Pinned<'c> {
    /// Autocommit on the pooled connection (direct connections).
    Direct(&'c mut PgConnection),
    /// An explicit transaction (behind a transaction-mode pooler).
    Tx(sqlx::Transaction<'c, Postgres>),
}

impl<'c> Pinned<'c> {
    /// Opens the transaction when `pooler` is set (one round trip); no I/O
    /// otherwise.
    pub(crate) async fn open(conn: &'c mut PgConnection, pooler: bool) -> DbResult<Self> {
        if pooler {
            Ok(Pinned::Tx(sqlx::Connection::begin(conn).await?))
        } else {
            Ok(Pinned::Direct(conn))
        }
    }

    /// The connection the operation's statements run on.
    pub(crate) fn conn(&mut self) -> &mut PgConnection {
        match self {
            Pinned::Direct(c) => c,
            Pinned::Tx(tx) => tx,
        }
    }

    /// Ends the operation's transaction with `COMMIT` whatever the body's
    /// outcome (one round trip): after a statement failed, PostgreSQL turns
    /// it into a rollback; otherwise the statements that succeeded stay, as
    /// they would have in autocommit. A failed `COMMIT` is the operation's
    /// error when the body succeeded. On a lost connection nothing is sent:
    /// the caller closes the connection (see [`crate::conns::Lease::finished`]).
    pub(crate) async fn finish<T>(self, result: DbResult<T>) -> DbResult<T> {
        let Pinned::Tx(tx) = self else {
            return result;
        };
        match result {
            Ok(v) => {
                tx.commit().await?;
                Ok(v)
            }
            Err(e) if e.is_connection_failure() => Err(e),
            Err(e) => {
                if let Err(end) = tx.commit().await {
                    tracing::debug!(error = ?end, "ending a failed operation's transaction");
                }
                Err(e)
            }
        }
    }
}

/// Pins down the output of an operation body (so that `?` inside an
/// `async` block knows it converts into [`DbError`](crate::error::DbError)).
pub(crate) fn body<T, F: std::future::Future<Output = DbResult<T>>>(f: F) -> F {
    f
}

/// Runs `|c| body` (a `DbResult` future, evaluated again for a retry) on
/// the handle's connection and maps the result to a `StoreResult`.
///
/// * On the pool: the body runs on a pooled connection (behind a
///   transaction-mode pooler inside `BEGIN … COMMIT`, see [`Pinned`]); when it fails
///   because the connection was dead and the retry policy allows it, it runs
///   again on another connection (at most once per pooled connection, plus
///   one: after the server terminated every connection, each idle one fails
///   once before the pool opens a new one).
/// * In a transaction: the body runs on the transaction's connection; with
///   `savepoint = true` inside a savepoint, so that a failure of the
///   statement leaves the transaction usable (only for values the app's
///   columns may refuse: the expected conflicts and a missing user do not
///   fail the statements). A failure that
///   aborts the transaction on the server (or loses its connection) ends it:
///   the handle rolls back, and every later call, commit included, answers
///   [`StoreError::TransactionFinished`].
/// * With an operation timeout ([`Ctx::deadline`]), everything above, the
///   wait for a connection and the retries included, ends by the deadline:
///   then the call answers [`StoreError::Unavailable`], a pooled connection
///   is closed instead of going back to the pool, and a transaction ends.
macro_rules! run {
    ($h:expr, $retry:expr, savepoint = $sp:expr, |$c:ident| $body:expr) => {{
        let h: $crate::handle::Handle<'_> = $h;
        async {
            match h.conn {
                $crate::handle::ConnRef::Pool(source) => {
                    // Every idle connection may be dead (the server terminated
                    // them all): allow one retry per connection, plus one.
                    let mut retries_left = source.max_connections().min(64) + 1;
                    // The operation timeout bounds the whole loop.
                    let deadline = h.ctx.deadline();
                    loop {
                        let acquired =
                            $crate::handle::within(deadline, $crate::handle::acquire(source)).await;
                        let Some(acquired) = acquired else {
                            break Err(h.ctx.timed_out());
                        };
                        let mut lease = acquired?;
                        let result = $crate::handle::within(deadline, async {
                            let conn: &mut sqlx::PgConnection = lease.conn()?;
                            match $crate::handle::Pinned::open(conn, h.ctx.pooler).await {
                                Ok(mut pinned) => {
                                    let result = {
                                        let $c: &mut sqlx::PgConnection = pinned.conn();
                                        $crate::handle::body($body).await
                                    };
                                    pinned.finish(result).await
                                }
                                Err(e) => Err(e),
                            }
                        })
                        .await;
                        let Some(result) = result else {
                            // Its stream is in an unknown state: never reuse it.
                            lease.finished(false);
                            break Err(h.ctx.timed_out());
                        };
                        match result {
                            Ok(v) => {
                                lease.finished(true);
                                break Ok(v);
                            }
                            Err(e) => {
                                lease.finished(!e.is_connection_failure());
                                drop(lease);
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
                    let deadline = h.ctx.deadline();
                    let mut guard = slot.lock().await;
                    let tx = guard.as_mut().ok_or_else($crate::handle::finished)?;
                    // The error, and whether it ended the transaction.
                    let outcome = async {
                        let conn: &mut sqlx::PgConnection = tx.conn().map_err(|e| (e.into(), true))?;
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
                    };
                    match $crate::handle::within(deadline, outcome).await {
                        Some(Ok(v)) => Ok(v),
                        Some(Err((e, broken))) => {
                            if broken {
                                if let Some(tx) = guard.take() {
                                    tx.abandon(!e.is_connection_failure(), h.ctx.rollback_bound());
                                }
                            }
                            Err(e.into_store())
                        }
                        None => {
                            // A timed-out call ends the transaction; its
                            // connection, in an unknown state, is closed.
                            drop(guard.take());
                            Err(h.ctx.timed_out())
                        }
                    }
                }
            }
        }
        .await
    }};
}
pub(crate) use run;
