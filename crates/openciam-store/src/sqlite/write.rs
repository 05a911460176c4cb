//! Writers of one process take turns before they ask SQLite for its write lock.
//!
//! SQLite has one write lock per database. A connection that finds it taken calls the busy
//! handler, which sleeps 1, 2, 5, 10… milliseconds between tries: under load most of a writer's
//! time went to those sleeps while the lock was long free again (the e-mail-code flow, seven
//! writes per flow, left 40 % of the CPU idle). Here a writer first waits for a turn on an async
//! queue, is woken the moment the previous writer of this process is done, and then finds the
//! lock free. Writers in other processes (an admin command beside a running server) still meet
//! the busy handler, which stays as the cross-process arbiter.

use crate::error::map_sqlx;
use openciam_core::ports::{StoreError, StoreResult};
use sqlx::sqlite::{SqlitePool, SqliteRow};
use sqlx::{Connection as _, Sqlite, SqliteConnection, Transaction};
use std::ops::{Deref, DerefMut};
use std::sync::Arc;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// How long a writer waits for its turn; as long as SQLite's own busy timeout, and the same
/// answer when it runs out (storage unavailable for now).
const TURN_TIMEOUT: std::time::Duration = super::BUSY_TIMEOUT;

/// The queue of this process's writers (first come, first served).
#[derive(Debug, Clone)]
pub(super) struct WriteTurns(Arc<Semaphore>);

impl Default for WriteTurns {
    fn default() -> Self {
        Self(Arc::new(Semaphore::new(1)))
    }
}

/// One writer's turn; the next writer's starts when this is dropped.
pub(super) type Turn = OwnedSemaphorePermit;

impl WriteTurns {
    /// Waits for the turn, at most [`TURN_TIMEOUT`].
    pub(super) async fn wait(&self) -> StoreResult<Turn> {
        match tokio::time::timeout(TURN_TIMEOUT, self.0.clone().acquire_owned()).await {
            Ok(Ok(turn)) => Ok(turn),
            Ok(Err(closed)) => Err(StoreError::Unavailable(closed.into())),
            Err(_) => Err(StoreError::Unavailable(anyhow::anyhow!(
                "no turn to write within {TURN_TIMEOUT:?}: another write of this process holds SQLite's lock"
            ))),
        }
    }
}

/// A `BEGIN IMMEDIATE` transaction holding this process's write turn until it commits, rolls
/// back or is dropped. Statements run on it as on the connection (`&mut *tx`).
pub(crate) struct WriteTx {
    tx: Transaction<'static, Sqlite>,
    _turn: Turn,
}

impl WriteTx {
    pub(super) fn new(tx: Transaction<'static, Sqlite>, turn: Turn) -> Self {
        Self { tx, _turn: turn }
    }

    /// Commits; the turn passes on afterwards.
    pub(crate) async fn commit(self) -> Result<(), sqlx::Error> {
        self.tx.commit().await
    }

    /// Rolls back; the turn passes on afterwards.
    pub(crate) async fn rollback(self) -> Result<(), sqlx::Error> {
        self.tx.rollback().await
    }
}

impl Deref for WriteTx {
    type Target = SqliteConnection;

    fn deref(&self) -> &SqliteConnection {
        &self.tx
    }
}

impl DerefMut for WriteTx {
    fn deref_mut(&mut self) -> &mut SqliteConnection {
        &mut self.tx
    }
}

/// A batch for [`SqliteStore::write_batch`]: statements between `BEGIN IMMEDIATE` and `COMMIT`,
/// every bound value owned. Parameters are numbered (`?1`, `?2`…) across the whole text: sqlx
/// binds `?N` of any statement to the N-th value. (A later statement's unused lower numbers take
/// plain-parameter slots in sqlx's count, and once that count passes the number of values sqlx
/// stops binding the statement; the batches here stay far below that, and the store's contract
/// tests read back every value they write.)
pub(super) type Batch = sqlx::query::Query<'static, Sqlite, sqlx::sqlite::SqliteArguments<'static>>;

impl super::SqliteStore {
    /// Runs a whole write transaction — `BEGIN IMMEDIATE; …; COMMIT` in one text — in a single
    /// trip to the connection's worker thread, in this process's write turn, and returns every
    /// row its statements return. A statement that depends on an earlier one says so in SQL
    /// (`WHERE changes() = 1`) and reports with `RETURNING`.
    ///
    /// The transaction runs in a task of its own ([`run_transaction`]): a caller that goes away
    /// (a client that hangs up) cannot leave it half done on a pooled connection.
    pub(super) async fn write_batch(&self, batch: Batch) -> StoreResult<Vec<SqliteRow>> {
        let turn = self.writers.wait().await?;
        let pool = self.pool.clone();
        let task = tokio::spawn(async move {
            let _turn = turn;
            run_transaction(&pool, batch).await
        });
        match task.await {
            Ok(outcome) => outcome.map_err(map_sqlx),
            Err(join) => Err(StoreError::Other(anyhow::anyhow!(
                "write transaction task failed: {join}"
            ))),
        }
    }
}

/// Runs `query`, a whole `BEGIN IMMEDIATE; …; COMMIT` text, on a connection of `pool` in one
/// trip, and returns every row its statements return. When a statement fails the transaction is
/// rolled back before the connection goes back to the pool; a connection whose rollback fails is
/// closed instead. The caller holds the write turn and must not be cancelled half-way.
pub(super) async fn run_transaction<'q>(
    pool: &SqlitePool,
    query: sqlx::query::Query<'q, Sqlite, sqlx::sqlite::SqliteArguments<'q>>,
) -> Result<Vec<SqliteRow>, sqlx::Error> {
    let mut conn = pool.acquire().await?;
    let outcome = query.fetch_all(&mut *conn).await;
    if outcome.is_err() {
        // "no transaction is active" when BEGIN failed or SQLite rolled back by itself.
        if let Err(rollback) = sqlx::query("ROLLBACK").execute(&mut *conn).await
            && !rollback.to_string().contains("no transaction is active")
        {
            tracing::warn!(error = %rollback, "closing a SQLite connection whose rollback failed");
            let _ = conn.detach().close().await;
        }
    }
    outcome
}
