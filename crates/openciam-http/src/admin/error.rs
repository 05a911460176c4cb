//! Admin API errors: JSON `{"error": "...", "message": "..."}` with a fitting status.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use openciam_core::admin::AdminError;

/// Why an admin call failed.
#[derive(Debug)]
pub(crate) enum AdminApiError {
    /// No `Authorization: Bearer` header, or a wrong token.
    Unauthorized,
    /// No admin token is configured: the API is off.
    Disabled,
    /// No such route.
    NoRoute,
    /// A body or query that could not be read.
    BadRequest(String),
    /// From the admin service.
    Admin(AdminError),
}

impl From<AdminError> for AdminApiError {
    fn from(e: AdminError) -> Self {
        Self::Admin(e)
    }
}

impl IntoResponse for AdminApiError {
    fn into_response(self) -> Response {
        let (status, error, message) = match self {
            Self::Unauthorized => (
                StatusCode::UNAUTHORIZED,
                "unauthorized",
                "send the admin token as 'Authorization: Bearer <token>'".to_owned(),
            ),
            Self::Disabled => (
                StatusCode::FORBIDDEN,
                "admin_api_disabled",
                "no admin token is configured ([admin] token or token_file)".to_owned(),
            ),
            Self::NoRoute => (
                StatusCode::NOT_FOUND,
                "not_found",
                "no such admin route".to_owned(),
            ),
            Self::BadRequest(m) => (StatusCode::BAD_REQUEST, "invalid_request", m),
            Self::Admin(e) => admin_status(e),
        };
        let mut response = (
            status,
            Json(serde_json::json!({ "error": error, "message": message })),
        )
            .into_response();
        if status == StatusCode::UNAUTHORIZED {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response
    }
}

fn admin_status(e: AdminError) -> (StatusCode, &'static str, String) {
    match e {
        AdminError::TenantNotFound(_) | AdminError::UserNotFound(_) | AdminError::AppNotFound(_) => {
            (StatusCode::NOT_FOUND, "not_found", e.to_string())
        }
        AdminError::AlreadyExists(_) => (StatusCode::CONFLICT, "conflict", e.to_string()),
        AdminError::Invalid(_) | AdminError::ImportRejected(_) => {
            (StatusCode::BAD_REQUEST, "invalid_request", e.to_string())
        }
        AdminError::Store(_) | AdminError::Other(_) => {
            tracing::error!(cause = %format!("{e:#}"), "admin call failed");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                "server_error",
                "the call failed; see the server log".to_owned(),
            )
        }
    }
}

/// A handler's result.
pub(crate) type AdminApiResult<T> = Result<T, AdminApiError>;
