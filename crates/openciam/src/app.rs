//! The composition root: opens the store, wires the services, builds the router and serves it.

use anyhow::Context as _;
use openciam_core::clock::Clock;
use openciam_core::crypto::MasterKey;
use openciam_core::mail::{MailboxReader, Mailer};
use openciam_core::ports::Store;
use openciam_core::services::{CoreConfig, Services};
use openciam_core::sms::SmsSender;
use openciam_http::{AppState, HttpConfig};
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
}

impl Default for StoreOptions {
    fn default() -> Self {
        Self {
            max_connections: 10,
            acquire_timeout: Duration::from_secs(5),
            migrate: true,
        }
    }
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
    let store = SqliteStore::open(url)
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
    let router = openciam_http::router(AppState {
        services: services.clone(),
        config: Arc::new(http),
        mailbox,
    });
    Ok(ServerParts { services, router })
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

/// Serves until Ctrl-C or SIGTERM.
pub async fn serve(listener: TcpListener, router: axum::Router) -> anyhow::Result<()> {
    axum::serve(
        listener,
        router.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown_signal())
    .await
    .context("server failed")
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
