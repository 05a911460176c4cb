//! The one place sqlx errors become [`StoreError`]s, for every adapter.
//!
//! * unique and primary-key violations (SQLite's constraint codes, PostgreSQL's SQLSTATE 23505)
//!   → [`StoreError::Conflict`] (the core turns these into "user exists" and similar answers);
//! * pool timeouts, a closed pool, I/O, TLS, a crashed connection worker → [`StoreError::Unavailable`]
//!   (worth retrying later), as are the database's own "not now" answers: SQLite's busy/locked
//!   after the busy timeout; PostgreSQL's connection exceptions (class 08), insufficient
//!   resources (class 53, e.g. too many connections), shutdown and start-up (57P01–57P03),
//!   and the transient transaction failures serialization_failure (40001) and
//!   deadlock_detected (40P01);
//! * no room left — SQLite's SQLITE_FULL (disk full or `max_page_count` reached), PostgreSQL's
//!   disk_full (53100) → [`StoreError::Full`] (checked before the class-53 rule above);
//! * everything else → [`StoreError::Other`].

use openciam_core::ports::StoreError;
use sqlx::error::DatabaseError;

/// Maps a sqlx error. The conflict message names the constraint, never the values.
pub(crate) fn map_sqlx(err: sqlx::Error) -> StoreError {
    match &err {
        sqlx::Error::Database(db) if db.is_unique_violation() => {
            StoreError::Conflict(db.message().to_owned())
        }
        sqlx::Error::Database(db) if is_full(db.as_ref()) => StoreError::Full(err.into()),
        sqlx::Error::Database(db) if is_sqlite_busy(db.as_ref()) || is_pg_transient(db.as_ref()) => {
            StoreError::Unavailable(err.into())
        }
        sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::WorkerCrashed => StoreError::Unavailable(err.into()),
        _ => StoreError::Other(err.into()),
    }
}

/// Names what clashed in a `Conflict` (e.g. `tenant <id>`), keeping the constraint named by
/// [`map_sqlx`]; other errors pass through.
pub(crate) fn naming_conflict(what: impl std::fmt::Display) -> impl FnOnce(StoreError) -> StoreError {
    move |err| match err {
        StoreError::Conflict(constraint) => StoreError::Conflict(format!("{what}: {constraint}")),
        other => other,
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

/// SQLITE_FULL (13) in any extended form, or PostgreSQL's disk_full (53100).
fn is_full(db: &dyn DatabaseError) -> bool {
    if let Some(pg) = db.try_downcast_ref::<sqlx::postgres::PgDatabaseError>() {
        return pg.code() == "53100";
    }
    db.try_downcast_ref::<sqlx::sqlite::SqliteError>().is_some()
        && db
            .code()
            .and_then(|code| code.parse::<i32>().ok())
            .is_some_and(|code| code & 0xff == 13)
}

/// A PostgreSQL error that says "not now" rather than "never": see the module documentation.
fn is_pg_transient(db: &dyn DatabaseError) -> bool {
    let Some(pg) = db.try_downcast_ref::<sqlx::postgres::PgDatabaseError>() else {
        return false;
    };
    let code = pg.code();
    code.starts_with("08")
        || code.starts_with("53")
        || matches!(code, "57P01" | "57P02" | "57P03" | "40001" | "40P01")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pool_and_io_failures_are_unavailable() {
        for err in [
            sqlx::Error::PoolTimedOut,
            sqlx::Error::PoolClosed,
            sqlx::Error::WorkerCrashed,
            sqlx::Error::Io(std::io::Error::from(std::io::ErrorKind::ConnectionRefused)),
        ] {
            assert!(matches!(map_sqlx(err), StoreError::Unavailable(_)));
        }
        assert!(matches!(map_sqlx(sqlx::Error::RowNotFound), StoreError::Other(_)));
    }
}
