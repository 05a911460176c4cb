//! The admin token check and the audit record of every call.

use super::AdminState;
use super::error::AdminApiError;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::header;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use openciam_core::audit::{Entry, event};
use openciam_core::request::{RequestMeta, clean_user_agent};
use std::net::SocketAddr;
use subtle::ConstantTimeEq as _;

/// Refuses the call unless it carries the configured token (403 when none is configured, 401
/// when it is missing or wrong).
pub(crate) async fn require_token(State(state): State<AdminState>, req: Request, next: Next) -> Response {
    let Some(expected) = state.token.as_deref() else {
        return AdminApiError::Disabled.into_response();
    };
    let presented = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
        .unwrap_or_default();
    // Constant time over the bytes; the lengths may differ (a length is no secret worth having).
    let same =
        presented.len() == expected.len() && bool::from(presented.as_bytes().ct_eq(expected.as_bytes()));
    if !same {
        return AdminApiError::Unauthorized.into_response();
    }
    next.run(req).await
}

/// Outermost: runs the call with the caller's IP and user agent as request facts (so every
/// audit event it causes names them), then records `admin.api.call` with the method, the route
/// template and the status.
pub(crate) async fn audit_call(State(state): State<AdminState>, req: Request, next: Next) -> Response {
    let path = req.uri().path().to_owned();
    if !path.starts_with("/admin/") {
        return next.run(req).await;
    }
    let method = req.method().as_str().to_owned();
    let meta = RequestMeta {
        ip: req
            .extensions()
            .get::<ConnectInfo<SocketAddr>>()
            .map(|ConnectInfo(a)| a.ip()),
        user_agent: req
            .headers()
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(clean_user_agent),
        correlation_id: Some(uuid::Uuid::new_v4().to_string()),
    };
    let span = tracing::info_span!("admin", %method, %path, correlation_id = meta.correlation_id.as_deref().unwrap_or_default());
    let audit = state.services.audit.clone();
    let work = async move {
        let response = next.run(req).await;
        let status = response.status().as_u16();
        let route = crate::metrics::route_of(&response);
        let entry = Entry::new(event::ADMIN_API_CALL)
            .detail("method", method.as_str())
            .detail("route", route.unwrap_or_else(|| "unmatched".to_owned()))
            .detail("status", status);
        audit.record(entry).await;
        tracing::info!(status, "admin call");
        response
    };
    meta.scope(tracing::Instrument::instrument(work, span)).await
}
