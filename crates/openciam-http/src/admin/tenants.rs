//! `/admin/v1/tenants…`.

use super::AdminState;
use super::error::{AdminApiError, AdminApiResult};
use super::views;
use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use serde::Deserialize;
use serde_json::{Value, json};

/// `GET /admin/v1/tenants`.
pub(crate) async fn list(State(s): State<AdminState>) -> AdminApiResult<Json<Value>> {
    let tenants = s.services.admin.list_tenants().await?;
    let items: Vec<Value> = tenants.iter().map(views::tenant).collect();
    Ok(Json(json!({ "tenants": items })))
}

/// `GET /admin/v1/tenants/{tenant}` (name, domain or GUID).
pub(crate) async fn get(
    State(s): State<AdminState>,
    Path(tenant): Path<String>,
) -> AdminApiResult<Json<Value>> {
    Ok(Json(views::tenant(&s.services.admin.tenant(&tenant).await?)))
}

/// The body of `PATCH /admin/v1/tenants/{tenant}`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct TenantPatch {
    /// Security settings to change, by dotted path (`"lockout.threshold": 5`), as
    /// `openciam tenant security --set` takes them.
    security: serde_json::Map<String, Value>,
}

/// `PATCH /admin/v1/tenants/{tenant}`: changes security settings; all or none.
pub(crate) async fn update(
    State(s): State<AdminState>,
    Path(tenant): Path<String>,
    body: Result<Json<TenantPatch>, JsonRejection>,
) -> AdminApiResult<Json<Value>> {
    let Json(patch) = body.map_err(|e| AdminApiError::BadRequest(e.body_text()))?;
    let assignments: Vec<String> = patch
        .security
        .iter()
        .map(|(path, value)| format!("{path}={value}"))
        .collect();
    let t = s.services.admin.configure_security(&tenant, &assignments).await?;
    Ok(Json(views::tenant(&t)))
}
