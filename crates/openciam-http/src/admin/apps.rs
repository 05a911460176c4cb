//! `/admin/v1/tenants/{tenant}/apps…`.

use super::AdminState;
use super::error::{AdminApiError, AdminApiResult};
use super::views;
use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use openciam_core::admin::{AppUpdate, NewApp};
use openciam_core::ids::ClientId;
use openciam_core::model::SignInMethod;
use serde::Deserialize;
use serde_json::{Value, json};

/// `GET /admin/v1/tenants/{tenant}/apps`.
pub(crate) async fn list(
    State(s): State<AdminState>,
    Path(tenant): Path<String>,
) -> AdminApiResult<Json<Value>> {
    let apps = s.services.admin.list_apps(&tenant).await?;
    let items: Vec<Value> = apps.iter().map(views::app).collect();
    Ok(Json(json!({ "apps": items })))
}

/// The body of `POST …/apps`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct CreateApp {
    display_name: String,
    client_id: Option<String>,
    method: Option<SignInMethod>,
    native_auth: Option<bool>,
    #[serde(default)]
    cors_origins: Vec<String>,
    identifier_uri: Option<String>,
    #[serde(default)]
    scopes: Vec<String>,
}

/// `POST /admin/v1/tenants/{tenant}/apps`.
pub(crate) async fn create(
    State(s): State<AdminState>,
    Path(tenant): Path<String>,
    body: Result<Json<CreateApp>, JsonRejection>,
) -> AdminApiResult<(StatusCode, Json<Value>)> {
    let Json(b) = body.map_err(|e| AdminApiError::BadRequest(e.body_text()))?;
    let client_id = match b.client_id.as_deref() {
        Some(raw) => Some(
            ClientId::parse(raw)
                .ok_or_else(|| AdminApiError::BadRequest(format!("client_id {raw:?} is not a GUID")))?,
        ),
        None => None,
    };
    let new = NewApp {
        client_id,
        display_name: b.display_name,
        method: b.method.unwrap_or(SignInMethod::EmailPassword),
        native_auth: b.native_auth.unwrap_or(true),
        cors_origins: b.cors_origins,
        identifier_uri: b.identifier_uri,
        scopes: b.scopes,
        ..NewApp::default()
    };
    let app = s.services.admin.create_app(&tenant, new).await?;
    Ok((StatusCode::CREATED, Json(views::app(&app))))
}

/// `GET /admin/v1/tenants/{tenant}/apps/{client_id}`.
pub(crate) async fn get(
    State(s): State<AdminState>,
    Path((tenant, client_id)): Path<(String, String)>,
) -> AdminApiResult<Json<Value>> {
    Ok(Json(views::app(
        &s.services.admin.app(&tenant, &client_id).await?,
    )))
}

/// The body of `PATCH …/apps/{client_id}`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct PatchApp {
    display_name: Option<String>,
    native_auth: Option<bool>,
    cors_origins: Option<Vec<String>>,
    scopes: Option<Vec<String>>,
}

/// `PATCH /admin/v1/tenants/{tenant}/apps/{client_id}`.
pub(crate) async fn update(
    State(s): State<AdminState>,
    Path((tenant, client_id)): Path<(String, String)>,
    body: Result<Json<PatchApp>, JsonRejection>,
) -> AdminApiResult<Json<Value>> {
    let Json(b) = body.map_err(|e| AdminApiError::BadRequest(e.body_text()))?;
    let update = AppUpdate {
        display_name: b.display_name,
        native_auth: b.native_auth,
        cors_origins: b.cors_origins,
        scopes: b.scopes,
    };
    let app = s.services.admin.update_app(&tenant, &client_id, update).await?;
    Ok(Json(views::app(&app)))
}

/// `DELETE /admin/v1/tenants/{tenant}/apps/{client_id}`.
pub(crate) async fn delete(
    State(s): State<AdminState>,
    Path((tenant, client_id)): Path<(String, String)>,
) -> AdminApiResult<StatusCode> {
    s.services.admin.delete_app(&tenant, &client_id).await?;
    Ok(StatusCode::NO_CONTENT)
}
