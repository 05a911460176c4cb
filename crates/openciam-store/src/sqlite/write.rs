//! Writers of one process take turns before they ask SQLite for its write lock.
//!
//! SQLite has one write lock per database. A connection that finds it taken calls the busy
//! handler, which sleeps 1, 2, 5, 10… milliseconds between tries: under load most of a writer's
//! time went to those sleeps while the lock was long free again (the e-mail-code flow, seven
//! writes per flow, left 40 % of the CPU idle). Here a writer first waits for a turn on an async
//! queue, is woken the moment the previous writer of this process is done, and then finds the
//! lock free. Writers in other processes (an admin command beside a running server) still meet
//! the busy handler, which stays as the cross-process arbiter.

use openciam_core::ports::{StoreError, StoreResult};
use sqlx::sqlite::SqliteRow;
use sqlx::{Sqlite, SqliteConnection, Transaction};
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

impl super::SqliteStore {
    /// Runs a whole write transaction — `BEGIN IMMEDIATE; …; COMMIT` in one text, or a single
    /// statement — in a single trip, on the writer task (see [`super::writer`]), and returns
    /// every row its statements return. A statement that depends on an earlier one says so in SQL (`WHERE changes() = 1`)
    /// and reports with `RETURNING`. Parameters are numbered (`?1`, `?2`…) across the whole
    /// text: sqlx binds `?N` of any statement to the N-th value. (A later statement's unused
    /// lower numbers take plain-parameter slots in sqlx's count, and once that count passes the
    /// number of values sqlx stops binding the statement; the batches here stay far below that,
    /// and the store's contract tests read back every value they write.)
    pub(super) async fn write_batch(&self, batch: super::writer::Batch) -> StoreResult<Vec<SqliteRow>> {
        self.writer.transaction(batch).await
    }
}
