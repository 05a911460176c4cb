//! The admin listener: `/metrics` and the admin REST API on their own address (`[http]
//! admin_listen`, `openciam dev --admin-listen`), never on the public one.

use openciam_core::services::Services;
use openciam_http::{AdminState, admin_router};
use secrecy::{ExposeSecret as _, SecretString};
use std::net::SocketAddr;
use std::sync::Arc;

/// Binds `addr` and serves the admin router on it in the background, until the process ends.
/// Returns the bound address (port 0 picks a free one).
pub async fn spawn(
    addr: &str,
    services: Arc<Services>,
    token: Option<&SecretString>,
) -> anyhow::Result<SocketAddr> {
    let (listener, local) = crate::app::bind(addr).await?;
    let router = admin_router(AdminState {
        services,
        token: token.map(|t| Arc::from(t.expose_secret())),
        metrics: crate::telemetry::metrics(),
    });
    tokio::spawn(async move {
        let served = axum::serve(
            listener,
            router.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .await;
        if let Err(e) = served {
            tracing::error!(error = %e, "the admin listener failed");
        }
    });
    Ok(local)
}
