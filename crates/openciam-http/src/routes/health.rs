//! `GET /healthz` (liveness: the process is up and answering; no database call) and
//! `GET /readyz` (readiness: the database answers and the process is not shutting down).

use crate::state::AppState;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde_json::json;

/// Liveness: answers 200 while the process can serve HTTP at all, whatever its dependencies do,
/// so an orchestrator restarts only a process that is truly stuck.
pub(crate) async fn healthz() -> (StatusCode, Json<serde_json::Value>) {
    (StatusCode::OK, Json(json!({"status": "ok"})))
}

/// Readiness: 200 `{"status":"ready"}` when this node should get traffic; 503 with the reason
/// (`shutting_down` after SIGTERM, `database_unreachable`) when it should not.
pub(crate) async fn readyz(State(app): State<AppState>) -> (StatusCode, Json<serde_json::Value>) {
    if app.lifecycle.is_draining() {
        return not_ready("shutting_down");
    }
    match app.services.store.list_tenants().await {
        Ok(_) => (StatusCode::OK, Json(json!({"status": "ready"}))),
        Err(e) => {
            tracing::warn!(error = %e, "readiness check: database unavailable");
            not_ready("database_unreachable")
        }
    }
}

fn not_ready(reason: &str) -> (StatusCode, Json<serde_json::Value>) {
    (
        StatusCode::SERVICE_UNAVAILABLE,
        Json(json!({"status": "not_ready", "reason": reason})),
    )
}
