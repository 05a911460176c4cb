//! The server's lifecycle as the HTTP layer sees it: serving, or draining after SIGTERM. While
//! draining, `GET /readyz` answers 503 so load balancers stop sending traffic, and every response
//! carries `Connection: close` so clients open their next connection elsewhere.

use std::sync::atomic::{AtomicBool, Ordering};
use tokio::sync::watch;

/// Whether this process is shutting down. Cheap to share (`Arc<Lifecycle>`).
#[derive(Debug)]
pub struct Lifecycle {
    draining: AtomicBool,
    changed: watch::Sender<bool>,
}

impl Default for Lifecycle {
    fn default() -> Self {
        Self {
            draining: AtomicBool::new(false),
            changed: watch::Sender::new(false),
        }
    }
}

impl Lifecycle {
    /// Marks the process as shutting down: from now on `/readyz` answers 503.
    pub fn begin_shutdown(&self) {
        self.draining.store(true, Ordering::SeqCst);
        self.changed.send_replace(true);
    }

    /// True once [`Lifecycle::begin_shutdown`] ran.
    pub fn is_draining(&self) -> bool {
        self.draining.load(Ordering::SeqCst)
    }

    /// Resolves when the shutdown begins (at once if it already has).
    pub async fn draining(&self) {
        let mut rx = self.changed.subscribe();
        // The sender lives in `self`, so the channel cannot close while we wait.
        let _ = rx.wait_for(|d| *d).await;
    }
}
