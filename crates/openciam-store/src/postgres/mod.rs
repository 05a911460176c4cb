//! [`PostgresStore`]: the PostgreSQL storage adapter, for deployments with several nodes.
//!
//! Transactions run at PostgreSQL's default isolation, READ COMMITTED, where every statement
//! sees what was committed before it started. Each race-prone intent is therefore made safe by
//! its statements, not by the isolation level:
//!
//! * compare-and-swaps (`advance_flow*`, `add_token`, `consume_otp`, `rotate_refresh`) are one
//!   guarded `UPDATE`: a second writer waits for the first's row lock and then re-checks the
//!   `WHERE` against the committed row, so only one of them matches;
//! * `attempt_otp` locks the code row (`SELECT … FOR UPDATE`) before deciding, so the decision
//!   and the count are made on the same row version;
//! * `reserve_code_send` counts and inserts under a transaction-scoped advisory lock keyed by
//!   tenant and address (there is no row to lock before the first send);
//! * a password change or reset locks the user row first, so it never deadlocks with another
//!   change of the same user that deletes flows.
//!
//! One file per aggregate implements its port; row mapping lives in [`crate::rows`] and error
//! mapping in [`crate::error`], both shared with the SQLite adapter.

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

use crate::error::map_sqlx;
use anyhow::Context as _;
use openciam_core::ports::StoreResult;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::{Postgres, Transaction};
use std::str::FromStr as _;
use std::time::Duration;

/// Connection-pool settings for [`PostgresStore::open`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PoolOptions {
    /// Most connections this node holds open at once (default 10). Every node of a deployment
    /// has its own pool, so keep `nodes × max_connections` under the server's limit.
    pub max_connections: u32,
    /// How long a call waits for a free pooled connection before failing with
    /// `StoreError::Unavailable` (default 5 s).
    pub acquire_timeout: Duration,
}

impl Default for PoolOptions {
    fn default() -> Self {
        Self {
            max_connections: 10,
            acquire_timeout: Duration::from_secs(5),
        }
    }
}

/// How long a pooled connection may sit idle before it is pinged on its way out of the pool.
const IDLE_PING_AFTER: Duration = Duration::from_secs(30);

/// The PostgreSQL implementation of every storage port (see [`openciam_core::ports::Store`]).
#[derive(Debug, Clone)]
pub struct PostgresStore {
    pool: PgPool,
}

impl PostgresStore {
    /// Connects to the database at `url` (`postgres://user:password@host:5432/dbname?…`; every
    /// libpq-style parameter sqlx understands, such as `sslmode` or `options`, is honoured).
    /// One connection is made now, so a wrong URL or an unreachable server fails here (an
    /// unreachable one after retrying for `options.acquire_timeout`).
    ///
    /// Does not migrate; call [`PostgresStore::migrate`].
    pub async fn open(url: &str, options: PoolOptions) -> anyhow::Result<Self> {
        // Every commit waits for its WAL record to be flushed (`docs/reliability.md`): set
        // explicitly, so a server default of `off` cannot weaken what the responses promise.
        let connect = PgConnectOptions::from_str(url)
            .context("invalid PostgreSQL URL")?
            .options([("synchronous_commit", "on")]);
        let pool = PgPoolOptions::new()
            .max_connections(options.max_connections)
            .acquire_timeout(options.acquire_timeout)
            // sqlx pings every connection as it goes back to the pool. Pinging it again as it
            // comes out (the default) costs each query a second round trip to the server; a
            // connection that sat idle long enough for the server to have gone away since is
            // still pinged first.
            .test_before_acquire(false)
            .before_acquire(|conn, meta| {
                Box::pin(async move {
                    if meta.idle_for >= IDLE_PING_AFTER {
                        sqlx::Connection::ping(conn).await?;
                    }
                    Ok(true)
                })
            })
            .connect_with(connect)
            .await
            .with_context(|| format!("cannot connect to PostgreSQL at {}", redact_password(url)))?;
        Ok(Self { pool })
    }

    /// Applies the embedded migrations (`migrations/postgres`) that have not run yet.
    ///
    /// Safe when several nodes start at once: sqlx's migrator holds a session-level
    /// `pg_advisory_lock` (keyed by the database name) while it reads and applies migrations, so
    /// one node migrates and the others wait, then find nothing to do. The migrator does not
    /// release that lock when a migration fails, so on failure the connection is closed rather
    /// than returned to the pool: ending the session releases the lock.
    pub async fn migrate(&self) -> anyhow::Result<()> {
        let mut conn = self
            .pool
            .acquire()
            .await
            .context("cannot connect to migrate the PostgreSQL database")?;
        // `run_direct` is `run` on a connection we hold; `run(&mut *conn)` makes a future the
        // compiler cannot prove `Send` for (sqlx's "Acquire is not general enough").
        let result = sqlx::migrate!("./migrations/postgres")
            .run_direct(&mut *conn)
            .await;
        if result.is_err() {
            conn.close_on_drop();
        }
        result.context("cannot migrate the PostgreSQL database")
    }

    /// The connection pool, for tests and diagnostics.
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// Starts a transaction (READ COMMITTED).
    async fn begin(&self) -> StoreResult<Transaction<'static, Postgres>> {
        self.pool.begin().await.map_err(map_sqlx)
    }
}

/// `url` with any password replaced by `***`, for error messages.
fn redact_password(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let (authority, tail) = rest.split_at(rest.find(['/', '?']).unwrap_or(rest.len()));
    match authority.rsplit_once('@') {
        Some((userinfo, host)) => match userinfo.split_once(':') {
            Some((user, _)) => format!("{scheme}://{user}:***@{host}{tail}"),
            None => url.to_owned(),
        },
        None => url.to_owned(),
    }
}

impl openciam_core::ports::StoreStatus for PostgresStore {
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

    #[test]
    fn redacts_only_the_password() {
        assert_eq!(
            redact_password("postgres://app:s3cr:et@db:5432/openciam?sslmode=require"),
            "postgres://app:***@db:5432/openciam?sslmode=require"
        );
        assert_eq!(
            redact_password("postgres://app@db/openciam"),
            "postgres://app@db/openciam"
        );
        assert_eq!(
            redact_password("postgres://db/x?user=a"),
            "postgres://db/x?user=a"
        );
        assert_eq!(redact_password("not a url"), "not a url");
    }

    #[test]
    fn pool_defaults() {
        let options = PoolOptions::default();
        assert_eq!(options.max_connections, 10);
        assert_eq!(options.acquire_timeout, Duration::from_secs(5));
    }

    #[tokio::test]
    async fn bad_url_is_an_error_not_a_panic() {
        let err = PostgresStore::open("postgres://db:notaport/x", PoolOptions::default())
            .await
            .unwrap_err();
        assert!(format!("{err:#}").contains("invalid PostgreSQL URL"), "{err:#}");
    }
}
