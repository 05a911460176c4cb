//! Small writes that many requests make at once go to the database together.
//!
//! Every request counts its rate limits and many write an audit event: one statement each, but
//! each took a write turn of its own (see [`super::write`]), and under load the turns, not the
//! CPU, bounded the flows. A [`Coalescer`] runs one statement for many callers: a caller hands
//! over its values and waits; a task takes the write turn, gathers every call waiting by then
//! (up to [`MAX_BATCH`]) and runs them as one `BEGIN IMMEDIATE; …; COMMIT` text in a single trip,
//! then answers each caller with its own row. A caller's answer still means its write is
//! committed; a batch that fails fails for every caller in it (the statements used here fail
//! only when the database does: disk full, I/O).

use super::write::WriteTurns;
use crate::error::map_sqlx;
use openciam_core::ports::{StoreError, StoreResult};
use sqlx::sqlite::{SqliteArguments, SqliteRow};
use sqlx::{Sqlite, SqlitePool};
use tokio::sync::{mpsc, oneshot};

/// Most calls in one batch. Each batch size is a statement text of its own, prepared and cached on
/// every connection that runs it; 8 gave the same flow rate as 16 and 64 at a fraction of the
/// memory (2026-11-28).
const MAX_BATCH: usize = 8;

/// A query being built, with the values of the calls before this one already bound.
type Query<'q> = sqlx::query::Query<'q, Sqlite, SqliteArguments<'q>>;

/// Binds one call's values, in the statement's parameter order.
pub(super) type Binder = Box<dyn for<'q> FnOnce(Query<'q>) -> Query<'q> + Send>;

struct Call {
    bind: Binder,
    reply: oneshot::Sender<StoreResult<Option<SqliteRow>>>,
}

/// One statement, run for many callers at once.
#[derive(Debug, Clone)]
pub(super) struct Coalescer {
    calls: mpsc::UnboundedSender<Call>,
}

impl Coalescer {
    /// Starts the task that runs `statement` (parameters `?1`…`?N`, one `RETURNING` row or none
    /// per call) on `pool` in write turns from `turns`. The task ends when every handle is gone.
    pub(super) fn start(statement: &'static str, pool: SqlitePool, turns: WriteTurns) -> Self {
        let (calls, queue) = mpsc::unbounded_channel();
        tokio::spawn(run(Texts::new(statement), queue, pool, turns));
        Self { calls }
    }

    /// Runs the statement with the values `bind` adds; the row it returned, if it returns one.
    pub(super) async fn call(&self, bind: Binder) -> StoreResult<Option<SqliteRow>> {
        let (reply, answer) = oneshot::channel();
        let gone = || StoreError::Unavailable(anyhow::anyhow!("the SQLite write task has stopped"));
        self.calls.send(Call { bind, reply }).map_err(|_| gone())?;
        answer.await.map_err(|_| gone())?
    }
}

async fn run(
    mut texts: Texts,
    mut queue: mpsc::UnboundedReceiver<Call>,
    pool: SqlitePool,
    turns: WriteTurns,
) {
    while let Some(first) = queue.recv().await {
        let turn = turns.wait().await;
        // Everything that arrived while this task waited for its turn joins the batch.
        let mut calls = vec![first];
        while calls.len() < MAX_BATCH
            && let Ok(next) = queue.try_recv()
        {
            calls.push(next);
        }
        let outcome = match turn {
            Ok(_turn) => {
                let (binders, replies): (Vec<_>, Vec<_>) =
                    calls.into_iter().map(|c| (c.bind, c.reply)).unzip();
                let mut query = sqlx::query(texts.for_calls(binders.len()));
                for bind in binders {
                    query = bind(query);
                }
                let rows = super::write::run_transaction(&pool, query)
                    .await
                    .map_err(map_sqlx);
                answer(replies, rows);
                continue;
            }
            Err(err) => err,
        };
        let replies = calls.into_iter().map(|c| c.reply).collect();
        answer(replies, Err(outcome));
    }
}

/// Gives each caller its row (the statements' rows come in call order), or the batch's error.
fn answer(replies: Vec<oneshot::Sender<StoreResult<Option<SqliteRow>>>>, rows: StoreResult<Vec<SqliteRow>>) {
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

/// The same error for another caller of the failed batch.
fn copy_error(err: &StoreError) -> StoreError {
    match err {
        StoreError::Conflict(what) => StoreError::Conflict(what.clone()),
        StoreError::Unavailable(cause) => StoreError::Unavailable(anyhow::anyhow!("{cause:#}")),
        StoreError::Full(cause) => StoreError::Full(anyhow::anyhow!("{cause:#}")),
        StoreError::Other(cause) => StoreError::Other(anyhow::anyhow!("{cause:#}")),
    }
}

/// The batch texts: `BEGIN IMMEDIATE`, the statement once per call, `COMMIT`; made once per
/// batch size. The statement's parameters are plain `?`s, which sqlx numbers on from one statement
/// of a text to the next, so each call's values land in its own statement.
struct Texts {
    statement: &'static str,
    made: Vec<String>,
}

impl Texts {
    fn new(statement: &'static str) -> Self {
        debug_assert!(
            !statement.contains("?1"),
            "numbered parameters would all refer to the first call's values"
        );
        Self {
            statement,
            made: Vec::new(),
        }
    }

    fn for_calls(&mut self, calls: usize) -> &str {
        while self.made.len() < calls {
            let n = self.made.len() + 1;
            let mut text = String::from("BEGIN IMMEDIATE; ");
            for _ in 0..n {
                text.push_str(self.statement);
                text.push_str("; ");
            }
            text.push_str("COMMIT");
            self.made.push(text);
        }
        &self.made[calls - 1]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batch_texts_repeat_the_statement_once_per_call() {
        let mut texts = Texts::new("INSERT INTO t (a, b) VALUES (?, ?)");
        assert_eq!(
            texts.for_calls(2),
            "BEGIN IMMEDIATE; INSERT INTO t (a, b) VALUES (?, ?); INSERT INTO t (a, b) VALUES (?, ?); COMMIT"
        );
        assert_eq!(
            texts.for_calls(1),
            "BEGIN IMMEDIATE; INSERT INTO t (a, b) VALUES (?, ?); COMMIT"
        );
    }

    /// Many calls in one text, each with its own values, rows back in call order.
    #[tokio::test]
    async fn each_call_gets_its_own_row() {
        let dir = tempfile::tempdir().unwrap();
        let store = super::super::SqliteStore::open(dir.path().join("c.db").to_str().unwrap())
            .await
            .unwrap();
        sqlx::query("CREATE TABLE t (a INTEGER PRIMARY KEY, b TEXT NOT NULL)")
            .execute(store.pool())
            .await
            .unwrap();
        let coalescer = Coalescer::start(
            "INSERT INTO t (a, b) VALUES (?, ?) RETURNING a * 10, b",
            store.pool().clone(),
            store.writers.clone(),
        );
        let calls = (0..200i64).map(|i| {
            let c = coalescer.clone();
            tokio::spawn(async move {
                let row = c
                    .call(Box::new(move |q| q.bind(i).bind(format!("v{i}"))))
                    .await
                    .unwrap()
                    .unwrap();
                use sqlx::Row as _;
                (i, row.get::<i64, _>(0), row.get::<String, _>(1))
            })
        });
        for call in calls.collect::<Vec<_>>() {
            let (i, tenfold, text) = call.await.unwrap();
            assert_eq!((tenfold, text), (i * 10, format!("v{i}")));
        }
        let (rows,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM t")
            .fetch_one(store.pool())
            .await
            .unwrap();
        assert_eq!(rows, 200);
        // A clash fails its batch, for every call in it, and leaves nothing of it behind.
        let clash = coalescer.call(Box::new(|q| q.bind(7i64).bind("again"))).await;
        assert!(matches!(clash, Err(StoreError::Conflict(_))), "{:?}", clash.err());
        let (rows,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM t")
            .fetch_one(store.pool())
            .await
            .unwrap();
        assert_eq!(rows, 200);
    }
}
