//! The one place sqlx errors become [`StoreError`]s, for every adapter.
//!
//! * unique and primary-key violations → [`StoreError::Conflict`] (the core turns these into
//!   "user exists" and similar answers);
//! * pool timeouts, I/O, TLS, a crashed connection worker, and SQLite's busy/locked after the
//!   busy timeout → [`StoreError::Unavailable`] (worth retrying later);
//! * everything else → [`StoreError::Other`].

use openciam_core::ports::StoreError;
use sqlx::error::DatabaseError;

/// Maps a sqlx error. The conflict message names the constraint, never the values.
pub(crate) fn map_sqlx(err: sqlx::Error) -> StoreError {
    match &err {
        sqlx::Error::Database(db) if db.is_unique_violation() => {
            StoreError::Conflict(db.message().to_owned())
        }
        sqlx::Error::Database(db) if is_sqlite_busy(db.as_ref()) => StoreError::Unavailable(err.into()),
        sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::WorkerCrashed => StoreError::Unavailable(err.into()),
        _ => StoreError::Other(err.into()),
    }
}

/// A stored value the adapter cannot turn back into a record (bad uuid, bad JSON, unknown enum).
pub(crate) fn corrupt(column: &str, cause: impl std::fmt::Display) -> StoreError {
    StoreError::Other(anyhow::anyhow!("invalid value in column {column}: {cause}"))
}

/// SQLITE_BUSY (5) or SQLITE_LOCKED (6), in any extended form: another writer held the lock for
/// longer than the busy timeout.
fn is_sqlite_busy(db: &dyn DatabaseError) -> bool {
    if db.try_downcast_ref::<sqlx::sqlite::SqliteError>().is_none() {
        return false;
    }
    db.code()
        .and_then(|code| code.parse::<i32>().ok())
        .is_some_and(|code| matches!(code & 0xff, 5 | 6))
}
