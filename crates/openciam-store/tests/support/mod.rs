//! Test support shared by the integration tests: a private PostgreSQL schema per test.
//!
//! The server comes from `OPENCIAM_TEST_POSTGRES_URL` (default [`DEFAULT_URL`]). When it cannot
//! be reached, PostgreSQL tests fail if `CI=true` (or `CI=1`), and otherwise pass without
//! running after one notice on stderr: `PostgreSQL suites not run: <reason>`.

#![expect(clippy::unwrap_used, reason = "test set-up reports failure by panicking")]

use sqlx::{Connection as _, Executor as _, PgConnection};
use std::io::Write as _;
use std::time::Duration;
use tokio::sync::OnceCell;
use uuid::Uuid;

/// Where the tests look for PostgreSQL when `OPENCIAM_TEST_POSTGRES_URL` is unset.
pub(crate) const DEFAULT_URL: &str = "postgres://postgres@127.0.0.1:5432/test";

/// How long the reachability probe waits for a first connection.
const PROBE_TIMEOUT: Duration = Duration::from_secs(5);

/// The reachability verdict, decided once per test binary.
static REACHABLE: OnceCell<Result<(), String>> = OnceCell::const_new();

/// A fresh, empty schema, dropped (with everything in it) when this is dropped — also when the
/// test panics. `url` connects with that schema as the only `search_path` entry.
pub(crate) struct PgSchema {
    /// The server URL with `options=-csearch_path=<schema>` appended.
    pub(crate) url: String,
    base_url: String,
    name: String,
}

/// A new schema named after `test` (plus a random suffix), or `None` when PostgreSQL is
/// unreachable outside CI. Panics when it is unreachable in CI.
pub(crate) async fn pg_schema(test: &str) -> Option<PgSchema> {
    let base_url = std::env::var("OPENCIAM_TEST_POSTGRES_URL").unwrap_or_else(|_| DEFAULT_URL.to_owned());
    let verdict = REACHABLE.get_or_init(|| probe(&base_url)).await;
    if let Err(reason) = verdict {
        assert!(
            !in_ci(),
            "PostgreSQL unreachable with CI=true (OPENCIAM_TEST_POSTGRES_URL): {reason}"
        );
        return None;
    }
    let name = schema_name(test);
    let mut admin = PgConnection::connect(&base_url).await.unwrap();
    admin
        .execute(format!("CREATE SCHEMA \"{name}\"").as_str())
        .await
        .unwrap();
    admin.close().await.unwrap();
    let separator = if base_url.contains('?') { '&' } else { '?' };
    Some(PgSchema {
        url: format!("{base_url}{separator}options=-csearch_path%3D{name}"),
        base_url,
        name,
    })
}

impl Drop for PgSchema {
    fn drop(&mut self) {
        // Drop may run inside the test's runtime, which cannot be blocked on: use a thread with
        // its own.
        let (url, name) = (self.base_url.clone(), self.name.clone());
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            runtime.block_on(async {
                let mut admin = PgConnection::connect(&url).await?;
                admin
                    .execute(format!("DROP SCHEMA IF EXISTS \"{name}\" CASCADE").as_str())
                    .await?;
                admin.close().await?;
                anyhow::Ok(())
            })
        })
        .join();
        if !matches!(dropped, Ok(Ok(()))) {
            let _ = writeln!(
                std::io::stderr(),
                "warning: test schema {} not dropped",
                self.name
            );
        }
    }
}

/// `t_<test name, shortened>_<12 random hex>`: at most 63 bytes, PostgreSQL's identifier limit.
fn schema_name(test: &str) -> String {
    let test: String = test
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '_')
        .take(44)
        .collect::<String>()
        .to_lowercase();
    let suffix = &Uuid::new_v4().simple().to_string()[..12];
    format!("t_{test}_{suffix}")
}

fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v.eq_ignore_ascii_case("true") || v == "1")
}

/// Connects once. On failure outside CI, prints the one notice; written to stderr directly so
/// the test harness's output capture does not swallow it.
async fn probe(url: &str) -> Result<(), String> {
    let result = match tokio::time::timeout(PROBE_TIMEOUT, PgConnection::connect(url)).await {
        Ok(Ok(conn)) => conn.close().await.map_err(|e| e.to_string()),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err(format!("no connection within {PROBE_TIMEOUT:?}")),
    };
    if let (Err(reason), false) = (&result, in_ci()) {
        let _ = writeln!(std::io::stderr(), "PostgreSQL suites not run: {reason}");
    }
    result
}
