//! Storage adapters implementing [`openciam_core::ports`].
//!
//! * [`SqliteStore`] is the embedded default: one file, WAL, writers serialised by SQLite.
//! * A PostgreSQL adapter will sit beside it with its own SQL and migrations; the row→record
//!   mapping (`rows`) and the sqlx error mapping (`error`) are written to be shared with it.
//!
//! Every port method is one atomic intent; transactions never leave this crate. The contract
//! suite in `tests/contract.rs` is what keeps the adapters honest, since queries are checked at
//! run time (`sqlx::query`), not against one database at compile time.

mod error;
mod rows;
mod sqlite;

pub use sqlite::SqliteStore;
