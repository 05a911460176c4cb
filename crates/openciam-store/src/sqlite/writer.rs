//! The writer: one task, on a connection of its own, runs the hot writes of every request.
//!
//! Under load the write turns (see [`super::write`]), not the CPU, bounded the flows: each turn
//! waited for its request's task to be scheduled, for a pooled connection, and for a round trip
//! to that connection's worker thread. Requests now hand their hot writes to one task and wait
//! for its answer. The task takes the write turn, gathers every job waiting by then and runs
//! them back to back on its own connection (no pool, no ping on release):
//!
//! - a [`Job::Transaction`] is one `BEGIN IMMEDIATE; …; COMMIT` text (or one statement), run in
//!   one trip and rolled back when a statement fails;
//! - [`Job::Call`]s of one statement (rate-limit counts, audit events) that many requests make at
//!   once are run together, up to [`MAX_CALLS`] as one text in one trip, each caller answered
//!   with its own `RETURNING` row.
//!
//! An answer means the write is committed. A caller that goes away does not stop its job, so a
//! transaction is never left half done. A batch of calls that fails fails for every call in it
//! (the statements used fail only when the database does: disk full, I/O).

use super::write::WriteTurns;
use crate::error::map_sqlx;
use openciam_core::ports::{StoreError, StoreResult};
use sqlx::pool::PoolConnection;
use sqlx::sqlite::{SqliteArguments, SqliteRow};
use sqlx::{ConnectOptions as _, Connection as _, Sqlite, SqliteConnection, SqlitePool};
use std::ops::{Deref, DerefMut};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use tokio::sync::{mpsc, oneshot};

/// Most calls of one statement in one text. Each count is a statement text of its own, prepared
/// and cached on the connection; 8 gave the same flow rate as 16 and 64 at a fraction of the
/// memory (2026-11-28).
const MAX_CALLS: usize = 8;

/// Most jobs taken in one turn, so writers outside the task get their turn in between.
const MAX_JOBS: usize = 64;

/// A query being built.
type Query<'q> = sqlx::query::Query<'q, Sqlite, SqliteArguments<'q>>;

/// A whole transaction for [`Job::Transaction`]: every bound value owned.
pub(super) type Batch = Query<'static>;

/// Binds one call's values, in the order of the statement's plain `?` parameters.
pub(super) type Binder = Box<dyn for<'q> FnOnce(Query<'q>) -> Query<'q> + Send>;

/// The statements run as [`Job::Call`]s. Their parameters are plain `?`s, which sqlx numbers on
/// from one statement of a text to the next, so each call's values land in its own statement.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Statement {
    RateHit,
    AuditAppend,
}

impl Statement {
    const ALL: [Statement; 2] = [Statement::RateHit, Statement::AuditAppend];

    fn text(self) -> &'static str {
        match self {
            Statement::RateHit => super::rate_limits::HIT,
            Statement::AuditAppend => super::audit::APPEND,
        }
    }
}

/// Where a call's answer goes.
type CallReply = oneshot::Sender<StoreResult<Option<SqliteRow>>>;

pub(super) enum Job {
    Transaction {
        batch: Batch,
        reply: oneshot::Sender<StoreResult<Vec<SqliteRow>>>,
    },
    Call {
        statement: Statement,
        bind: Binder,
        reply: CallReply,
    },
}

/// The handle requests send their jobs through.
#[derive(Debug, Clone)]
pub(super) struct Writer {
    jobs: mpsc::UnboundedSender<Job>,
}

impl Writer {
    /// Starts the task. It writes on a connection of its own (for an in-memory database, which
    /// exists only on the pool's one connection, on that one), with the page cap of `page_cap`;
    /// it ends when every handle is gone.
    pub(super) fn start(
        pool: SqlitePool,
        in_memory: bool,
        turns: WriteTurns,
        page_cap: Arc<AtomicU64>,
    ) -> Self {
        let (jobs, queue) = mpsc::unbounded_channel();
        let conn = OwnConnection {
            pool,
            in_memory,
            page_cap,
            open: None,
            applied_cap: 0,
        };
        tokio::spawn(run(queue, conn, turns));
        Self { jobs }
    }

    /// Runs a whole `BEGIN IMMEDIATE; …; COMMIT` text; every row its statements return.
    pub(super) async fn transaction(&self, batch: Batch) -> StoreResult<Vec<SqliteRow>> {
        let (reply, answer) = oneshot::channel();
        self.send(Job::Transaction { batch, reply })?;
        answer.await.map_err(|_| stopped())?
    }

    /// Runs `statement` with the values `bind` adds; the row it returned, if it returns one.
    pub(super) async fn call(&self, statement: Statement, bind: Binder) -> StoreResult<Option<SqliteRow>> {
        let (reply, answer) = oneshot::channel();
        self.send(Job::Call {
            statement,
            bind,
            reply,
        })?;
        answer.await.map_err(|_| stopped())?
    }

    fn send(&self, job: Job) -> StoreResult<()> {
        self.jobs.send(job).map_err(|_| stopped())
    }
}

fn stopped() -> StoreError {
    StoreError::Unavailable(anyhow::anyhow!("the SQLite writer task has stopped"))
}

async fn run(mut queue: mpsc::UnboundedReceiver<Job>, mut conn: OwnConnection, turns: WriteTurns) {
    let mut texts = Texts::default();
    while let Some(first) = queue.recv().await {
        let turn = turns.wait().await;
        // Everything that arrived while the task waited for its turn is done in this turn.
        let mut jobs = vec![first];
        while jobs.len() < MAX_JOBS
            && let Ok(next) = queue.try_recv()
        {
            jobs.push(next);
        }
        let mut lease = match &turn {
            Ok(_) => conn.lease().await,
            Err(err) => Err(copy_error(err)),
        };
        let mut calls: Vec<(Statement, Binder, CallReply)> = Vec::new();
        for job in jobs {
            match job {
                Job::Transaction { batch, reply } => {
                    let outcome = match &mut lease {
                        Ok(c) => run_transaction(c, batch).await,
                        Err(err) => Err(copy_error(err)),
                    };
                    let _ = reply.send(outcome);
                }
                Job::Call {
                    statement,
                    bind,
                    reply,
                } => calls.push((statement, bind, reply)),
            }
        }
        for statement in Statement::ALL {
            let (mine, rest): (Vec<_>, Vec<_>) = calls.into_iter().partition(|(s, _, _)| *s == statement);
            calls = rest;
            let mut mine = mine.into_iter().peekable();
            while mine.peek().is_some() {
                let (binders, replies): (Vec<_>, Vec<_>) =
                    mine.by_ref().take(MAX_CALLS).map(|(_, b, r)| (b, r)).unzip();
                let rows = match &mut lease {
                    Ok(c) => {
                        let mut query = sqlx::query(texts.for_calls(statement, binders.len()));
                        for bind in binders {
                            query = bind(query);
                        }
                        run_transaction(c, query).await
                    }
                    Err(err) => Err(copy_error(err)),
                };
                answer(replies, rows);
            }
        }
        let broken = matches!(&lease, Ok(lease) if lease.broken);
        drop(lease);
        if broken {
            conn.discard();
        }
        drop(turn);
    }
}

/// Runs `query`, a whole `BEGIN IMMEDIATE; …; COMMIT` text, in one trip, and returns every row
/// its statements return. When a statement fails the transaction is rolled back; a connection
/// whose rollback fails is marked to be replaced.
async fn run_transaction(conn: &mut Lease<'_>, query: Query<'_>) -> StoreResult<Vec<SqliteRow>> {
    let outcome = query.fetch_all(&mut **conn).await;
    if let Err(err) = &outcome {
        if matches!(err, sqlx::Error::Io(_) | sqlx::Error::WorkerCrashed) {
            conn.broken = true;
        } else if let Err(rollback) = sqlx::query("ROLLBACK").execute(&mut **conn).await
            // "no transaction is active" when BEGIN failed or SQLite rolled back by itself.
            && !rollback.to_string().contains("no transaction is active")
        {
            tracing::warn!(error = %rollback, "replacing a SQLite connection whose rollback failed");
            conn.broken = true;
        }
    }
    outcome.map_err(map_sqlx)
}

/// Gives each caller its row (the statements' rows come in call order), or the batch's error.
fn answer(replies: Vec<CallReply>, rows: StoreResult<Vec<SqliteRow>>) {
    match rows {
        Ok(rows) => {
            let mut rows = rows.into_iter();
            for reply in replies {
                // A caller that went away has its write done all the same.
                let _ = reply.send(Ok(rows.next()));
            }
        }
        Err(err) => {
            for reply in replies {
                let _ = reply.send(Err(copy_error(&err)));
            }
        }
    }
}

/// The same error for another caller.
fn copy_error(err: &StoreError) -> StoreError {
    match err {
        StoreError::Conflict(what) => StoreError::Conflict(what.clone()),
        StoreError::Unavailable(cause) => StoreError::Unavailable(anyhow::anyhow!("{cause:#}")),
        StoreError::Full(cause) => StoreError::Full(anyhow::anyhow!("{cause:#}")),
        StoreError::Other(cause) => StoreError::Other(anyhow::anyhow!("{cause:#}")),
    }
}

/// The writer's connection: opened on first use and again after it broke, with the store's page
/// cap applied whenever it changed.
struct OwnConnection {
    pool: SqlitePool,
    in_memory: bool,
    page_cap: Arc<AtomicU64>,
    open: Option<SqliteConnection>,
    /// The page cap set on `open`.
    applied_cap: u64,
}

/// The connection for one turn.
struct Lease<'a> {
    conn: LeasedConn<'a>,
    /// Set when the connection must not be used again.
    broken: bool,
}

enum LeasedConn<'a> {
    Own(&'a mut SqliteConnection),
    Pooled(PoolConnection<Sqlite>),
}

impl OwnConnection {
    async fn lease(&mut self) -> StoreResult<Lease<'_>> {
        let cap = self.page_cap.load(Ordering::SeqCst);
        if self.in_memory {
            let mut conn = self.pool.acquire().await.map_err(map_sqlx)?;
            set_page_cap(&mut conn, cap).await?;
            return Ok(Lease {
                conn: LeasedConn::Pooled(conn),
                broken: false,
            });
        }
        let conn = match self.open.take() {
            Some(conn) => conn,
            None => {
                self.applied_cap = 0;
                self.pool.connect_options().connect().await.map_err(map_sqlx)?
            }
        };
        let conn = self.open.insert(conn);
        if self.applied_cap != cap {
            set_page_cap(conn, cap).await?;
            self.applied_cap = cap;
        }
        Ok(Lease {
            conn: LeasedConn::Own(conn),
            broken: false,
        })
    }

    /// Closes the connection; the next turn opens another.
    fn discard(&mut self) {
        if let Some(conn) = self.open.take() {
            tokio::spawn(async move {
                let _ = conn.close().await;
            });
        }
    }
}

impl Deref for Lease<'_> {
    type Target = SqliteConnection;

    fn deref(&self) -> &SqliteConnection {
        match &self.conn {
            LeasedConn::Own(conn) => conn,
            LeasedConn::Pooled(conn) => conn,
        }
    }
}

impl DerefMut for Lease<'_> {
    fn deref_mut(&mut self) -> &mut SqliteConnection {
        match &mut self.conn {
            LeasedConn::Own(conn) => conn,
            LeasedConn::Pooled(conn) => conn,
        }
    }
}

async fn set_page_cap(conn: &mut SqliteConnection, cap: u64) -> StoreResult<()> {
    if cap > 0 {
        sqlx::query(&format!("PRAGMA max_page_count = {cap}"))
            .execute(conn)
            .await
            .map_err(map_sqlx)?;
    }
    Ok(())
}

/// The texts of [`Job::Call`] batches: `BEGIN IMMEDIATE`, the statement once per call, `COMMIT`;
/// made once per statement and count.
#[derive(Default)]
struct Texts {
    made: Vec<(Statement, usize, String)>,
}

impl Texts {
    fn for_calls(&mut self, statement: Statement, calls: usize) -> &str {
        let at = match self
            .made
            .iter()
            .position(|(s, n, _)| *s == statement && *n == calls)
        {
            Some(at) => at,
            None => {
                self.made
                    .push((statement, calls, batch_text(statement.text(), calls)));
                self.made.len() - 1
            }
        };
        &self.made[at].2
    }
}

fn batch_text(statement: &str, calls: usize) -> String {
    debug_assert!(
        !statement.contains("?1"),
        "numbered parameters would all refer to the first call's values"
    );
    let mut text = String::from("BEGIN IMMEDIATE; ");
    for _ in 0..calls {
        text.push_str(statement);
        text.push_str("; ");
    }
    text.push_str("COMMIT");
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batch_texts_repeat_the_statement_once_per_call() {
        assert_eq!(
            batch_text("INSERT INTO t (a, b) VALUES (?, ?)", 2),
            "BEGIN IMMEDIATE; INSERT INTO t (a, b) VALUES (?, ?); INSERT INTO t (a, b) VALUES (?, ?); COMMIT"
        );
    }
}

#[cfg(test)]
mod concurrency_tests {
    use crate::SqliteStore;
    use openciam_core::audit::{AuditFilter, AuditRecord};
    use openciam_core::ports::{AuditStore as _, RateLimitStore as _};

    fn event(i: i64) -> AuditRecord {
        AuditRecord {
            id: 0,
            at: 1_000 + i,
            tenant_id: None,
            user_id: None,
            username: Some(format!("u{i}@example.com")),
            event: "test.event".into(),
            details: serde_json::json!({ "i": i }),
            ip: None,
            user_agent: None,
            correlation_id: None,
        }
    }

    /// Many requests' writes at once, through the writer's batches, on a file and in memory:
    /// every audit event stored once with its own values, every rate-limit hit counted once.
    async fn many_callers_each_get_their_own_write(store: SqliteStore) {
        let calls = (0..300i64).map(|i| {
            let store = store.clone();
            tokio::spawn(async move {
                store.append_audit(&event(i)).await.unwrap();
                store.hit_rate_limit("bucket", 10, 60, 1_000).await.unwrap()
            })
        });
        let mut allowed = 0;
        for call in calls.collect::<Vec<_>>() {
            allowed += i32::from(call.await.unwrap().allowed);
        }
        assert_eq!(allowed, 300);
        let after = store.hit_rate_limit("bucket", 10, 60, 300).await.unwrap();
        assert!(!after.allowed, "the 301st hit of a limit of 300");
        let events = store
            .audit_events(&AuditFilter {
                since: None,
                tenant_id: None,
                username: None,
                event: None,
                limit: None,
            })
            .await
            .unwrap();
        assert_eq!(events.len(), 300);
        let mut seen: Vec<i64> = events
            .iter()
            .map(|e| {
                assert_eq!(
                    e.username.as_deref(),
                    Some(format!("u{}@example.com", e.at - 1_000).as_str())
                );
                e.details["i"].as_i64().unwrap()
            })
            .collect();
        seen.sort_unstable();
        assert_eq!(seen, (0..300).collect::<Vec<_>>());
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn on_a_file() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(dir.path().join("w.db").to_str().unwrap())
            .await
            .unwrap();
        store.migrate().await.unwrap();
        many_callers_each_get_their_own_write(store).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn in_memory() {
        let store = SqliteStore::open("sqlite::memory:").await.unwrap();
        store.migrate().await.unwrap();
        many_callers_each_get_their_own_write(store).await;
    }
}
