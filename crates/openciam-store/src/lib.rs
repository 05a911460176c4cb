//! Storage adapters implementing [`openciam_core::ports`].
//!
//! * [`SqliteStore`] is the embedded default: one file, WAL, writers serialised by SQLite.
//! * [`PostgresStore`] serves deployments with several nodes: its own SQL and migrations,
//!   race-safe under READ COMMITTED, pooled per [`PoolOptions`].
//!
//! Both share the row→record mapping (`rows`) and the sqlx error mapping (`error`).
//!
//! Every port method is one atomic intent; transactions never leave this crate. The contract
//! suite in `tests/contract.rs` is what keeps the adapters honest, since queries are checked at
//! run time (`sqlx::query`), not against one database at compile time.

mod error;
mod postgres;
mod rows;
mod security_rows;
mod sqlite;

pub use postgres::{PoolOptions, PostgresStore};
pub use sqlite::{SqliteDurability, SqliteStore};
