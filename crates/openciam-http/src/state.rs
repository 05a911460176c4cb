//! Shared state of the HTTP layer.

use crate::client_ip::TrustedProxy;
use crate::lifecycle::Lifecycle;
use openciam_core::mail::MailboxReader;
use openciam_core::services::Services;
use std::sync::Arc;
use std::time::Duration;

/// HTTP settings.
#[derive(Debug, Clone)]
pub struct HttpConfig {
    /// Largest accepted request body, bytes (default 64 KiB).
    pub body_limit: usize,
    /// Allow any CORS origin (dev mode).
    pub cors_any_origin: bool,
    /// Time after which a request is abandoned with 503.
    pub request_timeout: Duration,
    /// The header trusted reverse proxies put the client IP in; `None`: the peer address.
    pub trusted_proxy: Option<TrustedProxy>,
    /// Most requests answered at once; more are refused with 503 (default 1,024).
    pub max_in_flight: usize,
}

impl Default for HttpConfig {
    fn default() -> Self {
        Self {
            body_limit: 64 * 1024,
            cors_any_origin: false,
            request_timeout: Duration::from_secs(30),
            trusted_proxy: None,
            max_in_flight: 1024,
        }
    }
}

/// What every handler gets.
#[derive(Clone)]
pub struct AppState {
    /// Core services.
    pub services: Arc<Services>,
    /// HTTP settings.
    pub config: Arc<HttpConfig>,
    /// The dev mailbox (only in `openciam dev`): mounts `/_dev/mailbox`.
    pub mailbox: Option<Arc<dyn MailboxReader>>,
    /// Serving or draining (SIGTERM): `/readyz` and `Connection: close` follow it.
    pub lifecycle: Arc<Lifecycle>,
}
