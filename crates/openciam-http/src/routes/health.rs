//! `GET /healthz`: the process is up and its database answers.

use crate::state::AppState;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde_json::json;

/// Health check.
pub(crate) async fn healthz(State(app): State<AppState>) -> (StatusCode, Json<serde_json::Value>) {
    match app.services.store.list_tenants().await {
        Ok(_) => (StatusCode::OK, Json(json!({"status": "ok"}))),
        Err(e) => {
            tracing::warn!(error = %e, "health check: database unavailable");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(json!({"status": "unavailable", "database": "unreachable"})),
            )
        }
    }
}
