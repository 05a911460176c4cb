//! Route handlers, one module per flow.

pub(crate) mod dev;
pub(crate) mod dev_console;
pub(crate) mod discovery;
pub(crate) mod health;
pub(crate) mod mfa;
pub(crate) mod openapi;
pub(crate) mod reset;
pub(crate) mod signin;
pub(crate) mod signup;
pub(crate) mod token;

use crate::cors::CallingApp;
use crate::error::ApiError;
use crate::state::AppState;
use axum::response::{IntoResponse, Response};
use openciam_core::directory::ClientContext;
use openciam_core::security::limiter::Check;
use openciam_core::strategy::password::HashAdmission;

/// Resolves the tenant of the path and the calling app.
pub(crate) async fn client(app: &AppState, tenant: &str, client_id: &str) -> Result<ClientContext, ApiError> {
    let tenant = app.services.directory.tenant(tenant).await?;
    Ok(app.services.directory.client(&tenant, client_id).await?)
}

/// A handler's result, marked with the calling app so CORS answers by its allow-list.
pub(crate) fn for_app<T: IntoResponse>(ctx: &ClientContext, result: Result<T, ApiError>) -> Response {
    let mut response = result.into_response();
    response
        .extensions_mut()
        .insert(CallingApp(ctx.app.cors_origins.clone()));
    response
        .extensions_mut()
        .insert(crate::metrics::TenantLabel(ctx.tenant.id));
    response
}

/// Counts the request against the rate limits (spec §7.1); `Err` holds the 429 to send, marked
/// with the calling app for CORS. Called before the flow service, so a refused request changes
/// nothing.
pub(crate) async fn limit(app: &AppState, ctx: &ClientContext, check: Check<'_>) -> Result<(), Response> {
    match app.services.limits.check(ctx, check).await {
        Ok(()) => Ok(()),
        Err(e) => Err(for_app(ctx, Err::<Response, _>(ApiError::from(e)))),
    }
}

/// For a request that will hash a password (`hashes`): takes its place in the hashing pool
/// before anything else, so a request shed under load (503 `temporarily_unavailable` with
/// `Retry-After: 1`, spec §7.1) is refused before the rate limits count it, hashes nothing,
/// advances no flow and moves no lockout counter. `Err` holds the 503 to send.
pub(crate) fn admit_hash(
    app: &AppState,
    ctx: &ClientContext,
    hashes: bool,
) -> Result<Option<HashAdmission>, Box<Response>> {
    if !hashes {
        return Ok(None);
    }
    match app.services.passwords.admit() {
        Ok(a) => Ok(Some(a)),
        Err(e) => Err(Box::new(for_app(ctx, Err::<Response, _>(ApiError::from(e))))),
    }
}

/// Runs a flow step holding the request's place in the hashing pool, if it took one.
pub(crate) async fn hashing<F: Future>(
    app: &AppState,
    admission: Option<HashAdmission>,
    work: F,
) -> F::Output {
    match admission {
        Some(a) => app.services.passwords.within(a, work).await,
        None => work.await,
    }
}

/// Routes that do not exist, and methods a route does not take.
pub(crate) async fn not_found() -> ApiError {
    ApiError::NotFound
}
