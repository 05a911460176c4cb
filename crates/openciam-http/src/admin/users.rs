//! `/admin/v1/tenants/{tenant}/users…`. `{user}` is the object id (GUID) or the e-mail address.

use super::AdminState;
use super::error::{AdminApiError, AdminApiResult};
use super::views;
use axum::Json;
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use openciam_core::secret::Password;
use serde::Deserialize;
use serde_json::{Map, Value, json};

/// Users per page when `limit` is not given.
const DEFAULT_LIMIT: i64 = 50;

/// The query of `GET …/users`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ListQuery {
    /// Page size, 1 to 200 (default 50).
    limit: Option<i64>,
    /// The previous page's `next_cursor`.
    cursor: Option<String>,
    /// Only addresses containing this text (case-insensitive).
    email: Option<String>,
}

/// `GET /admin/v1/tenants/{tenant}/users?limit=&cursor=&email=`.
pub(crate) async fn list(
    State(s): State<AdminState>,
    Path(tenant): Path<String>,
    query: Result<Query<ListQuery>, QueryRejection>,
) -> AdminApiResult<Json<Value>> {
    let Query(q) = query.map_err(|e| AdminApiError::BadRequest(e.body_text()))?;
    let page = s
        .services
        .admin
        .users_page(
            &tenant,
            q.cursor.as_deref(),
            q.email.as_deref(),
            q.limit.unwrap_or(DEFAULT_LIMIT),
        )
        .await?;
    let items: Vec<Value> = page.users.iter().map(views::user).collect();
    Ok(Json(json!({ "users": items, "next_cursor": page.next })))
}

/// The body of `POST …/users`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct CreateUser {
    email: String,
    /// Optional: without one the account signs in with e-mail codes only.
    password: Option<String>,
    #[serde(default)]
    attributes: Map<String, Value>,
}

/// `POST /admin/v1/tenants/{tenant}/users`.
pub(crate) async fn create(
    State(s): State<AdminState>,
    Path(tenant): Path<String>,
    body: Result<Json<CreateUser>, JsonRejection>,
) -> AdminApiResult<(StatusCode, Json<Value>)> {
    let Json(b) = body.map_err(|e| AdminApiError::BadRequest(e.body_text()))?;
    let password = b.password.map(Password::new);
    let user = s
        .services
        .admin
        .create_user(&tenant, &b.email, password.as_ref(), b.attributes)
        .await?;
    Ok((StatusCode::CREATED, Json(views::user(&user))))
}

/// `GET /admin/v1/tenants/{tenant}/users/{user}`.
pub(crate) async fn get(
    State(s): State<AdminState>,
    Path((tenant, user)): Path<(String, String)>,
) -> AdminApiResult<Json<Value>> {
    Ok(Json(views::user(
        &s.services.admin.find_user(&tenant, &user).await?,
    )))
}

/// The body of `PATCH …/users/{user}`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct PatchUser {
    /// Attributes to set; `null` removes one. Others are kept.
    attributes: Map<String, Value>,
}

/// `PATCH /admin/v1/tenants/{tenant}/users/{user}`: updates attributes.
pub(crate) async fn update(
    State(s): State<AdminState>,
    Path((tenant, user)): Path<(String, String)>,
    body: Result<Json<PatchUser>, JsonRejection>,
) -> AdminApiResult<Json<Value>> {
    let Json(b) = body.map_err(|e| AdminApiError::BadRequest(e.body_text()))?;
    let user = s
        .services
        .admin
        .update_attributes(&tenant, &user, b.attributes)
        .await?;
    Ok(Json(views::user(&user)))
}

/// `DELETE /admin/v1/tenants/{tenant}/users/{user}`.
pub(crate) async fn delete(
    State(s): State<AdminState>,
    Path((tenant, user)): Path<(String, String)>,
) -> AdminApiResult<StatusCode> {
    s.services.admin.delete_user(&tenant, &user).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn set_disabled(
    s: &AdminState,
    tenant: &str,
    user: &str,
    disabled: bool,
) -> AdminApiResult<Json<Value>> {
    let found = s.services.admin.find_user(tenant, user).await?;
    let user = s
        .services
        .admin
        .set_disabled(tenant, &found.username, disabled)
        .await?;
    Ok(Json(views::user(&user)))
}

/// `POST …/users/{user}/disable`: also revokes the user's sessions.
pub(crate) async fn disable(
    State(s): State<AdminState>,
    Path((tenant, user)): Path<(String, String)>,
) -> AdminApiResult<Json<Value>> {
    set_disabled(&s, &tenant, &user, true).await
}

/// `POST …/users/{user}/enable`.
pub(crate) async fn enable(
    State(s): State<AdminState>,
    Path((tenant, user)): Path<(String, String)>,
) -> AdminApiResult<Json<Value>> {
    set_disabled(&s, &tenant, &user, false).await
}

/// `POST …/users/{user}/revoke-sessions`.
pub(crate) async fn revoke_sessions(
    State(s): State<AdminState>,
    Path((tenant, user)): Path<(String, String)>,
) -> AdminApiResult<Json<Value>> {
    let found = s.services.admin.find_user(&tenant, &user).await?;
    let n = s.services.admin.revoke_sessions(&tenant, &found.username).await?;
    Ok(Json(json!({ "revoked_sessions": n })))
}

/// `POST …/users/{user}/unlock`.
pub(crate) async fn unlock(
    State(s): State<AdminState>,
    Path((tenant, user)): Path<(String, String)>,
) -> AdminApiResult<Json<Value>> {
    let found = s.services.admin.find_user(&tenant, &user).await?;
    let cleared = s.services.admin.unlock(&tenant, &found.username).await?;
    Ok(Json(json!({ "had_failures": cleared })))
}
