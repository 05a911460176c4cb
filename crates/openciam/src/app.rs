//! The composition root: opens the store, wires the services, builds the router and serves it.

use anyhow::Context as _;
use openciam_core::clock::Clock;
use openciam_core::crypto::MasterKey;
use openciam_core::mail::{MailboxReader, Mailer};
use openciam_core::ports::Store;
use openciam_core::services::{CoreConfig, Services};
use openciam_core::sms::SmsSender;
use openciam_http::{AppState, HttpConfig, Lifecycle};
use openciam_store::{PoolOptions, PostgresStore, SqliteStore};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;

/// How to open the database.
#[derive(Debug, Clone)]
pub struct StoreOptions {
    /// PostgreSQL pool size per node.
    pub max_connections: u32,
    /// How long a request waits for a pooled connection.
    pub acquire_timeout: Duration,
    /// Apply pending migrations now.
    pub migrate: bool,
    /// SQLite's `synchronous` setting (PostgreSQL always commits synchronously).
    pub sqlite_synchronous: SqliteSync,
}

impl Default for StoreOptions {
    fn default() -> Self {
        Self {
            max_connections: 10,
            acquire_timeout: Duration::from_secs(5),
            migrate: true,
            sqlite_synchronous: SqliteSync::default(),
        }
    }
}

/// `[database] sqlite_synchronous`: when a SQLite commit reaches the disk (see
/// `docs/reliability.md`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SqliteSync {
    /// WAL + `synchronous=NORMAL`: durable across a crash of the process; the last commits may
    /// be lost on power loss or an OS crash.
    #[default]
    Normal,
    /// WAL + `synchronous=FULL`: every commit is synced to disk before it is acknowledged.
    Full,
}

/// Opens (creating and migrating) the database named by `url`.
pub async fn open_store(url: &str) -> anyhow::Result<Arc<dyn Store>> {
    open_store_with(url, &StoreOptions::default()).await
}

/// Opens the database named by `url`: `postgres://…` (PostgreSQL) or `sqlite://…` / a path.
pub async fn open_store_with(url: &str, options: &StoreOptions) -> anyhow::Result<Arc<dyn Store>> {
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        let pool = PoolOptions {
            max_connections: options.max_connections,
            acquire_timeout: options.acquire_timeout,
        };
        let store = PostgresStore::open(url, pool).await?;
        if options.migrate {
            store.migrate().await?;
        }
        return Ok(Arc::new(store));
    }
    let sync = match options.sqlite_synchronous {
        SqliteSync::Normal => openciam_store::SqliteDurability::Normal,
        SqliteSync::Full => openciam_store::SqliteDurability::Full,
    };
    let store = SqliteStore::open_with(url, sync)
        .await
        .with_context(|| "opening the SQLite database")?;
    if options.migrate {
        store.migrate().await.context("applying database migrations")?;
    }
    Ok(Arc::new(store))
}

/// Reloads the signing keys from the store every `every`, so keys added by another node (or by
/// `keys rotate`) are published and used by this one too.
pub fn spawn_key_reloader(services: Arc<Services>, master: MasterKey, every: Duration) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        tick.tick().await;
        loop {
            tick.tick().await;
            match services.issuer.reload_keys(&master).await {
                Ok(()) => {}
                Err(e) => {
                    tracing::warn!(error = %format!("{e:#}"), "reloading signing keys failed; keeping the current ones")
                }
            }
        }
    });
}

/// Everything needed to run one server.
pub struct ServerParts {
    /// Core services.
    pub services: Arc<Services>,
    /// The router.
    pub router: axum::Router,
    /// Serving or draining: [`serve_until_shutdown`] flips it on SIGTERM; `/readyz` reads it.
    pub lifecycle: Arc<Lifecycle>,
}

/// Wires services and router.
pub async fn build(
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    master: &MasterKey,
    mail: (Arc<dyn Mailer>, Option<Arc<dyn MailboxReader>>),
    sms: Arc<dyn SmsSender>,
    core: CoreConfig,
    http: HttpConfig,
) -> anyhow::Result<ServerParts> {
    let (mailer, mailbox) = mail;
    let services = Arc::new(Services::build(store, clock, master, mailer, sms, core).await?);
    spawn_outbox_worker(services.clone());
    let lifecycle = Arc::new(Lifecycle::default());
    let router = openciam_http::router(AppState {
        services: services.clone(),
        config: Arc::new(http),
        mailbox,
        lifecycle: lifecycle.clone(),
    });
    Ok(ServerParts {
        services,
        router,
        lifecycle,
    })
}

/// Delivers the mail outbox (enumeration-protection mode) for as long as the process runs: woken
/// by this node's requests, polling for retries and for mail recorded by other nodes. Every
/// server runs one ([`build`] starts it); claims are leased, so nodes never send a message twice
/// unless one stops mid-send.
pub fn spawn_outbox_worker(services: Arc<Services>) {
    tokio::spawn(services.outbox.clone().run());
}

/// Binds `addr` (port 0 picks a free port).
pub async fn bind(addr: &str) -> anyhow::Result<(TcpListener, SocketAddr)> {
    let listener = TcpListener::bind(addr)
        .await
        .with_context(|| format!("cannot listen on {addr}"))?;
    let local = listener.local_addr()?;
    Ok((listener, local))
}

/// Deletes expired flows, ended rate-limit windows and audit events past their retention,
/// every `every`, for as long as the process runs.
pub fn spawn_purger(services: Arc<Services>, every: Duration) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        loop {
            tick.tick().await;
            match services.store.purge_expired_flows(services.clock.unix()).await {
                Ok(0) => {}
                Ok(n) => tracing::debug!(flows = n, "purged expired flows"),
                Err(e) => tracing::warn!(error = %e, "purging expired flows failed"),
            }
            match services.limits.purge().await {
                Ok(0) => {}
                Ok(n) => tracing::debug!(buckets = n, "purged ended rate-limit windows"),
                Err(e) => tracing::warn!(error = %e, "purging rate-limit counters failed"),
            }
            match services.audit.purge_expired().await {
                Ok(0) => {}
                Ok(n) => tracing::debug!(events = n, "purged audit events past retention"),
                Err(e) => tracing::warn!(error = %e, "purging old audit events failed"),
            }
        }
    });
}

/// Serves until Ctrl-C or SIGTERM, then stops at once (tests; servers use
/// [`serve_until_shutdown`]).
pub async fn serve(listener: TcpListener, router: axum::Router) -> anyhow::Result<()> {
    axum::serve(
        listener,
        router.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown_signal())
    .await
    .context("server failed")
}

/// How a server stops after SIGTERM or Ctrl-C (`[http] shutdown_delay_seconds`,
/// `shutdown_grace_seconds`).
#[derive(Debug, Clone, Copy)]
pub struct ShutdownTiming {
    /// How long the listener keeps accepting after the signal, with `/readyz` already 503 and
    /// every response saying `Connection: close`, so load balancers notice before connections
    /// are refused.
    pub delay: Duration,
    /// The longest the whole shutdown may take, counted from the signal: requests still running
    /// when it ends are abandoned and the process exits.
    pub grace: Duration,
}

impl Default for ShutdownTiming {
    fn default() -> Self {
        Self {
            delay: Duration::from_secs(2),
            grace: Duration::from_secs(20),
        }
    }
}

/// The shutdown sequence as futures the HTTP and HTTPS servers share: `stop_accepting` resolves
/// when the listener should close (signal, then `delay`); `deadline` when the grace is over.
pub(crate) struct ShutdownPlan {
    pub(crate) stop_accepting: std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>>,
    pub(crate) deadline: std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>>,
}

pub(crate) fn shutdown_plan(lifecycle: Arc<Lifecycle>, timing: ShutdownTiming) -> ShutdownPlan {
    let signalled = lifecycle.clone();
    tokio::spawn(async move {
        shutdown_signal().await;
        signalled.begin_shutdown();
    });
    let accepting = lifecycle.clone();
    let stop_accepting = Box::pin(async move {
        accepting.draining().await;
        tokio::time::sleep(timing.delay).await;
        tracing::info!("no longer accepting connections; draining in-flight requests");
    });
    let deadline = Box::pin(async move {
        lifecycle.draining().await;
        tokio::time::sleep(timing.grace).await;
    });
    ShutdownPlan {
        stop_accepting,
        deadline,
    }
}

/// Serves until Ctrl-C or SIGTERM, then shuts down gracefully: `/readyz` turns 503 at once,
/// the listener closes after `timing.delay`, requests in flight finish (within `timing.grace`
/// of the signal), and the function returns so the process exits 0. Background workers end
/// with the runtime; their work is leased or idempotent, so nothing is lost.
pub async fn serve_until_shutdown(
    listener: TcpListener,
    router: axum::Router,
    lifecycle: Arc<Lifecycle>,
    timing: ShutdownTiming,
) -> anyhow::Result<()> {
    let plan = shutdown_plan(lifecycle, timing);
    let server = axum::serve(
        listener,
        router.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(plan.stop_accepting);
    finish(async move { server.await }, plan.deadline, timing).await
}

/// Waits for `server` to drain, or for the grace to end.
pub(crate) async fn finish(
    server: impl std::future::Future<Output = std::io::Result<()>>,
    deadline: impl std::future::Future<Output = ()>,
    timing: ShutdownTiming,
) -> anyhow::Result<()> {
    tokio::select! {
        result = server => {
            result.context("server failed")?;
            tracing::info!("all requests finished; stopped");
        }
        () = deadline => {
            tracing::warn!(grace_seconds = timing.grace.as_secs(), "shutdown grace over; abandoning unfinished requests");
        }
    }
    Ok(())
}

/// Resolves on Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
    tracing::info!("shutting down");
}
