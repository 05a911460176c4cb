//! OpenID discovery and JWKS (spec §5.16), for every tenant path form. `iss` always uses the
//! tenant GUID.

use crate::error::ApiError;
use crate::state::AppState;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::header;
use axum::response::IntoResponse;
use openciam_core::token::keys::{ALLOWED_ALGORITHMS, JWKS_MAX_AGE};
use openciam_wire::discovery::OpenIdConfiguration;

/// `GET /{tenant}/v2.0/.well-known/openid-configuration`.
pub(crate) async fn openid_configuration(
    State(app): State<AppState>,
    Path(tenant): Path<String>,
) -> Result<Json<OpenIdConfiguration>, ApiError> {
    let tenant = app.services.directory.tenant(&tenant).await?;
    let tid = tenant.id.to_string();
    let base = format!("{}/{}", app.services.issuer.public_url(), tid);
    Ok(Json(OpenIdConfiguration {
        issuer: app.services.issuer.issuer(&tid),
        authorization_endpoint: format!("{base}/oauth2/v2.0/authorize"),
        token_endpoint: format!("{base}/oauth2/v2.0/token"),
        jwks_uri: format!("{base}/discovery/v2.0/keys"),
        end_session_endpoint: format!("{base}/oauth2/v2.0/logout"),
        response_types_supported: vec!["code", "id_token", "code id_token", "id_token token"],
        subject_types_supported: vec!["pairwise"],
        id_token_signing_alg_values_supported: ALLOWED_ALGORITHMS.to_vec(),
        scopes_supported: vec!["openid", "profile", "email", "offline_access"],
        grant_types_supported: vec!["password", "oob", "continuation_token", "refresh_token"],
        tenant_id: tid,
    }))
}

/// `GET /{tenant}/discovery/v2.0/keys`.
pub(crate) async fn jwks(
    State(app): State<AppState>,
    Path(tenant): Path<String>,
) -> Result<impl IntoResponse, ApiError> {
    app.services.directory.tenant(&tenant).await?;
    let set = app.services.issuer.jwks()?;
    // Below a rotated key's activation delay, so caches hold every key before it signs.
    let cache = format!("public, max-age={JWKS_MAX_AGE}");
    Ok(([(header::CACHE_CONTROL, cache)], Json(set)))
}
