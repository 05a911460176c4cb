//! [`SqliteStore`]: the embedded storage adapter.
//!
//! SQLite allows many readers but one writer at a time. The database runs in WAL mode so readers
//! never wait for the writer, and every multi-statement write starts with `BEGIN IMMEDIATE`: the
//! write lock is taken up front, so a racing writer waits (up to the busy timeout) instead of
//! failing with `SQLITE_BUSY` when a deferred read lock cannot be upgraded. Single-statement
//! writes take the write lock directly and need no transaction.
//!
//! Within one process, writers also take turns before they ask SQLite for its lock (see
//! [`write`]): a writer that finds the lock taken would otherwise sleep in SQLite's busy handler
//! for whole milliseconds, however soon the lock came free. The hot writes of the flows — their
//! transactions, rate-limit counts and audit events — go to one writer task on a connection of
//! its own, which runs the jobs of many requests back to back in one turn (see [`writer`]).
//!
//! One file per aggregate implements its port; row mapping lives in [`crate::rows`].

mod apps;
mod audit;
mod auth_methods;
mod bulk;
mod flows;
mod keys;
mod lockout;
mod otps;
mod outbox;
mod rate_limits;
mod refresh;
mod tenants;
mod users;
mod write;
mod writer;

pub(crate) use write::WriteTx;

use crate::error::map_sqlx;
use anyhow::Context as _;
use openciam_core::ports::StoreResult;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use std::str::FromStr as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// How long a statement waits for another connection's write lock before giving up.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// How long a caller waits for a free pooled connection.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(5);

/// Pooled connections for a file database (the writer task has one more of its own). WAL
/// readers run in parallel, so more than one helps; writers serialise on SQLite's lock whatever
/// the pool size, and each connection is a worker thread, so a handful is enough.
const MAX_CONNECTIONS: u32 = 8;

/// When a commit reaches the disk. The database always runs in WAL mode.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum SqliteDurability {
    /// `synchronous=NORMAL` (the default): a commit survives a crash of the process; the last
    /// commits may be lost on power loss or an operating-system crash.
    #[default]
    Normal,
    /// `synchronous=FULL`: the WAL is synced to disk at every commit.
    Full,
}

/// The SQLite implementation of every storage port (see [`openciam_core::ports::Store`]).
#[derive(Debug, Clone)]
pub struct SqliteStore {
    pool: SqlitePool,
    /// `PRAGMA max_page_count` for every connection, present and future (0: SQLite's own).
    page_cap: Arc<AtomicU64>,
    /// This process's writers, one at a time (see [`write`]).
    writers: write::WriteTurns,
    /// The task that runs the hot writes (see [`writer`]).
    writer: writer::Writer,
}

impl SqliteStore {
    /// Opens (creating if missing) the database at `url`: either a `sqlite:` URL such as
    /// `sqlite://data/openciam.db?mode=rwc`, or a plain file path. `sqlite::memory:` gives a
    /// private in-memory database on a single connection (tests, demos).
    ///
    /// Does not migrate; call [`SqliteStore::migrate`].
    pub async fn open(url: &str) -> anyhow::Result<Self> {
        Self::open_with(url, SqliteDurability::Normal).await
    }

    /// [`SqliteStore::open`] with a chosen `synchronous` setting.
    pub async fn open_with(url: &str, durability: SqliteDurability) -> anyhow::Result<Self> {
        let synchronous = match durability {
            SqliteDurability::Normal => SqliteSynchronous::Normal,
            SqliteDurability::Full => SqliteSynchronous::Full,
        };
        let base = if url.starts_with("sqlite:") {
            SqliteConnectOptions::from_str(url).with_context(|| format!("invalid SQLite URL {url:?}"))?
        } else {
            SqliteConnectOptions::new().filename(url)
        };
        let options = base
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .foreign_keys(true)
            .busy_timeout(BUSY_TIMEOUT)
            .synchronous(synchronous);
        let page_cap = Arc::new(AtomicU64::new(0));
        let pool = pool_options(is_in_memory(url), &page_cap)
            .connect_with(options)
            .await
            .with_context(|| format!("cannot open SQLite database {url:?}"))?;
        let writers = write::WriteTurns::default();
        Ok(Self {
            writer: writer::Writer::start(pool.clone(), is_in_memory(url), writers.clone(), page_cap.clone()),
            pool,
            page_cap,
            writers,
        })
    }

    /// Applies the embedded migrations (`migrations/sqlite`) that have not run yet.
    pub async fn migrate(&self) -> anyhow::Result<()> {
        sqlx::migrate!("./migrations/sqlite")
            .run(&self.pool)
            .await
            .context("cannot migrate the SQLite database")
    }

    /// Writes a consistent copy of the whole database to `target` (which must not exist) with
    /// `VACUUM INTO`: one read transaction, so the copy is the database as of one instant while
    /// other connections — a running server's included — keep reading and writing.
    pub async fn backup_into(&self, target: &std::path::Path) -> anyhow::Result<()> {
        let name = target
            .to_str()
            .with_context(|| format!("{} is not a UTF-8 path", target.display()))?;
        sqlx::query("VACUUM INTO ?")
            .bind(name)
            .execute(&self.pool)
            .await
            .with_context(|| format!("backing up into {}", target.display()))?;
        Ok(())
    }

    /// `PRAGMA integrity_check` and `PRAGMA foreign_key_check`: `Ok(())` when both find nothing
    /// wrong, else the problems they list.
    pub async fn check_integrity(&self) -> anyhow::Result<()> {
        use sqlx::Row as _;
        let rows = sqlx::query("PRAGMA integrity_check")
            .fetch_all(&self.pool)
            .await
            .context("running integrity_check")?;
        let report: Vec<String> = rows
            .iter()
            .filter_map(|r| r.try_get::<String, _>(0).ok())
            .collect();
        if report != ["ok"] {
            anyhow::bail!("integrity_check: {}", report.join("; "));
        }
        let orphans = sqlx::query("PRAGMA foreign_key_check")
            .fetch_all(&self.pool)
            .await
            .context("running foreign_key_check")?;
        if !orphans.is_empty() {
            anyhow::bail!("foreign_key_check: {} rows break a foreign key", orphans.len());
        }
        Ok(())
    }

    /// The connection pool, for tests and diagnostics.
    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }

    /// Caps the database file at `pages` pages (`PRAGMA max_page_count`; `None` lifts the cap) on
    /// every connection, and on every connection opened later (a connection is replaced after
    /// some errors, and the pragma belongs to the connection). Holds every connection while it
    /// sets the cap. Returns the cap in force. For tests of a full disk.
    pub async fn limit_pages(&self, pages: Option<u64>) -> anyhow::Result<u64> {
        use sqlx::Row as _;
        // SQLite caps a larger value at its own maximum.
        let cap = pages.unwrap_or(u64::from(u32::MAX));
        self.page_cap.store(cap, Ordering::SeqCst);
        let mut held = Vec::new();
        for _ in 0..self.pool.options().get_max_connections() {
            held.push(self.pool.acquire().await?);
        }
        let mut in_force = 0;
        for conn in &mut held {
            in_force = sqlx::query(&format!("PRAGMA max_page_count = {cap}"))
                .fetch_one(&mut **conn)
                .await?
                .get::<i64, _>(0);
        }
        Ok(u64::try_from(in_force).unwrap_or(0))
    }

    /// Closes every connection (the file is complete on disk afterwards).
    pub async fn close(&self) {
        self.pool.close().await;
    }

    /// Starts a write transaction holding SQLite's write lock from its first statement, once it
    /// is this process's turn to write.
    async fn begin_write(&self) -> StoreResult<WriteTx> {
        let turn = self.writers.wait().await?;
        let tx = self.pool.begin_with("BEGIN IMMEDIATE").await.map_err(map_sqlx)?;
        Ok(WriteTx::new(tx, turn))
    }

    /// Waits for this process's turn to write, for a single-statement write outside
    /// [`SqliteStore::begin_write`]; the turn ends when the returned value is dropped.
    async fn write_turn(&self) -> StoreResult<write::Turn> {
        self.writers.wait().await
    }
}

/// A file database's connection that still counts an open transaction is closed instead of
/// reused. SQLite rolls a transaction back by itself on some errors (SQLITE_FULL, I/O errors);
/// sqlx's own rollback then fails ("no transaction is active") and leaves the connection
/// believing it is inside one, so every later `BEGIN` on it would fail. (A connection whose
/// dropped transaction's rollback is still queued is closed too; that only costs a reconnect.)
///
/// An in-memory database lives only as long as its connections, and each connection would get
/// its own copy, so it gets exactly one connection that is never recycled.
///
/// Every new connection gets the page cap of [`SqliteStore::limit_pages`], if one is set.
fn pool_options(in_memory: bool, page_cap: &Arc<AtomicU64>) -> SqlitePoolOptions {
    let page_cap = page_cap.clone();
    let options = SqlitePoolOptions::new()
        .acquire_timeout(ACQUIRE_TIMEOUT)
        // sqlx pings a connection when it goes back to the pool; a second ping when it comes out
        // again (the default) is one more round trip to the connection's worker thread for every
        // statement, and a file connection cannot go stale in between.
        .test_before_acquire(false)
        .after_connect(move |conn, _| {
            let cap = page_cap.load(Ordering::SeqCst);
            Box::pin(async move {
                if cap > 0 {
                    sqlx::query(&format!("PRAGMA max_page_count = {cap}"))
                        .execute(conn)
                        .await?;
                }
                Ok(())
            })
        });
    if in_memory {
        options
            .max_connections(1)
            .min_connections(1)
            .idle_timeout(None)
            .max_lifetime(None)
    } else {
        options
            .max_connections(MAX_CONNECTIONS)
            .before_acquire(|conn, _| Box::pin(async move { Ok(!sqlx::Connection::is_in_transaction(conn)) }))
    }
}

fn is_in_memory(url: &str) -> bool {
    url.contains(":memory:") || url.contains("mode=memory")
}

impl openciam_core::ports::StoreStatus for SqliteStore {
    fn pool_status(&self) -> openciam_core::ports::PoolStatus {
        openciam_core::ports::PoolStatus {
            size: self.pool.size(),
            idle: u32::try_from(self.pool.num_idle()).unwrap_or(u32::MAX),
            max: self.pool.options().get_max_connections(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A pragma's value as text (SQLite reports some as integers, some as names).
    async fn pragma(store: &SqliteStore, name: &str) -> String {
        use sqlx::Row as _;
        let row = sqlx::query(&format!("PRAGMA {name}"))
            .fetch_one(store.pool())
            .await
            .unwrap();
        row.try_get::<String, _>(0)
            .or_else(|_| row.try_get::<i64, _>(0).map(|n| n.to_string()))
            .unwrap()
    }

    #[tokio::test]
    async fn opens_url_with_the_documented_settings() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("new.db");
        let url = format!("sqlite://{}?mode=rwc", path.display());
        let store = SqliteStore::open(&url).await.unwrap();
        assert!(path.exists(), "file created");
        assert_eq!(pragma(&store, "journal_mode").await, "wal");
        assert_eq!(pragma(&store, "foreign_keys").await, "1");
        assert_eq!(pragma(&store, "synchronous").await, "1", "NORMAL");
        assert_eq!(pragma(&store, "busy_timeout").await, "5000");
    }

    #[tokio::test]
    async fn full_durability_syncs_every_commit_and_keeps_wal() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}?mode=rwc", dir.path().join("full.db").display());
        let store = SqliteStore::open_with(&url, SqliteDurability::Full)
            .await
            .unwrap();
        assert_eq!(pragma(&store, "synchronous").await, "2", "FULL");
        assert_eq!(pragma(&store, "journal_mode").await, "wal");
    }

    #[tokio::test]
    async fn opens_plain_path_and_migrates_idempotently() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("plain.db");
        let store = SqliteStore::open(path.to_str().unwrap()).await.unwrap();
        store.migrate().await.unwrap();
        store.migrate().await.unwrap();
        let (tables,): (i64,) =
            sqlx::query_as("SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = 'flows'")
                .fetch_one(store.pool())
                .await
                .unwrap();
        assert_eq!(tables, 1);
    }

    #[tokio::test]
    async fn in_memory_database_survives_across_calls() {
        let store = SqliteStore::open("sqlite::memory:").await.unwrap();
        store.migrate().await.unwrap();
        let (count,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM tenants")
            .fetch_one(store.pool())
            .await
            .unwrap();
        assert_eq!(count, 0);
    }

    /// Rows written before 0002 (here: without the new columns) read back with its defaults.
    #[tokio::test]
    async fn version_1_rows_get_the_signup_defaults() {
        use openciam_core::ids::{ClientId, TenantId};
        use openciam_core::ports::{AppStore as _, TenantStore as _};
        use openciam_core::strategy::password_policy::PolicyProfile;

        let store = SqliteStore::open("sqlite::memory:").await.unwrap();
        store.migrate().await.unwrap();
        let tenant = "6f1c2b1e-0d7a-4a59-9a3e-0c2f8b9d4e11";
        let client = "0b8e7f0c-5a43-4d2e-8f61-2c9d7e3a1b55";
        sqlx::query("INSERT INTO tenants (id, name, domain, created_at) VALUES (?, 'old', 'old.test', 1)")
            .bind(tenant)
            .execute(store.pool())
            .await
            .unwrap();
        sqlx::query(
            "INSERT INTO apps (client_id, tenant_id, display_name, public_client, native_auth, method, \
             cors_origins, identifier_uri, scopes, created_at) \
             VALUES (?, ?, 'Old', 1, 1, 'email_password', '[]', NULL, '[]', 1)",
        )
        .bind(client)
        .bind(tenant)
        .execute(store.pool())
        .await
        .unwrap();

        let id = TenantId(uuid::Uuid::parse_str(tenant).unwrap());
        let stored = store.tenant_by_id(id).await.unwrap().unwrap();
        assert_eq!(stored.password_policy, PolicyProfile::SERVE_DEFAULT);
        let app = store
            .app_by_client_id(&ClientId::parse(client).unwrap())
            .await
            .unwrap()
            .unwrap();
        assert!(app.signup_attributes.is_empty());
    }
}
