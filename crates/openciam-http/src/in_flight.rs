//! A cap on the requests answered at once (`[http] max_in_flight`).
//!
//! Beyond what the machine can answer, every extra request waits, and each waiting request holds
//! its connection's buffers and its handler's state: at three times the refresh rate a 2-core
//! node held 3,600 requests, each waiting two seconds, and 300 MiB. Past the cap a request is
//! answered at once with the load-shedding 503 of spec §7.1 (`temporarily_unavailable`,
//! `Retry-After: 1`) before anything is read or written, so a client's retry finds its
//! continuation token as it left it. `/healthz` and `/readyz` are never refused: a node that
//! sheds is alive.

use crate::error::ApiError;
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse as _, Response};
use std::sync::Arc;
use tokio::sync::Semaphore;

/// The permits of one router.
#[derive(Debug, Clone)]
pub(crate) struct InFlight {
    permits: Arc<Semaphore>,
    max: usize,
}

impl InFlight {
    pub(crate) fn new(max: usize) -> Self {
        let max = max.max(1);
        Self {
            permits: Arc::new(Semaphore::new(max)),
            max,
        }
    }
}

/// Middleware: runs the request while a permit is free, else answers 503.
pub(crate) async fn admit(State(limit): State<InFlight>, req: Request, next: Next) -> Response {
    if matches!(req.uri().path(), "/healthz" | "/readyz") {
        return next.run(req).await;
    }
    match limit.permits.clone().try_acquire_owned() {
        Ok(_permit) => next.run(req).await,
        Err(_) => ApiError::Busy(limit.max).into_response(),
    }
}
