//! `oauth2/v2.0/token` (spec §5.7): one endpoint, a service per grant.

use super::{client, for_app, limit};
use crate::error::ApiError;
use crate::extract::EntraForm;
use crate::state::AppState;
use axum::Json;
use axum::extract::{Path, State};
use axum::response::Response;
use openciam_core::FlowError;
use openciam_core::directory::ClientContext;
use openciam_core::secret::Password;
use openciam_core::security::limiter::Check;
use openciam_core::token::TokenSet;
use openciam_wire::token::{TokenRequest, TokenResponse};

/// `POST /{tenant}/oauth2/v2.0/token`.
pub(crate) async fn token(
    State(app): State<AppState>,
    Path(tenant): Path<String>,
    EntraForm(form): EntraForm,
) -> Result<Response, ApiError> {
    let req = TokenRequest::from_form(&form)?;
    let ctx = client(&app, &tenant, &req.client_id).await?;
    if let Some(check) = limit_check(&req)
        && let Err(refused) = limit(&app, &ctx, check).await
    {
        return Ok(refused);
    }
    let result = grant(&app, &ctx, req).await.map(|t| Json(to_wire(t)));
    Ok(for_app(&ctx, result))
}

/// What a grant is counted against: the password grant per IP and per account, the code grant
/// per IP (each code has its own try limit); the continuation-token and refresh grants are not
/// limited (they hash nothing and send nothing).
fn limit_check(req: &TokenRequest) -> Option<Check<'_>> {
    match req.grant_type.to_ascii_lowercase().as_str() {
        "password" => Some(
            req.continuation_token
                .as_deref()
                .map_or(Check::Ip, Check::Password),
        ),
        "oob" | "mfa_oob" => Some(Check::Ip),
        _ => None,
    }
}

fn need(value: Option<String>, name: &'static str) -> Result<String, FlowError> {
    value.ok_or(FlowError::MissingParameter(name))
}

async fn grant(app: &AppState, ctx: &ClientContext, req: TokenRequest) -> Result<TokenSet, ApiError> {
    let s = &app.services;
    let grant_type = req.grant_type.to_ascii_lowercase();
    let set = match grant_type.as_str() {
        "password" => {
            let ct = need(req.continuation_token, "continuation_token")?;
            let password = req.password.map(Password::new);
            s.signin
                .token_password(ctx, &ct, password.as_ref(), &req.scope)
                .await?
        }
        // The second-factor grant `mfa_oob` arrives from some clients; without MFA it can only
        // name a first-factor code, so both are decided by the token's step (spec §5.7.1).
        "oob" | "mfa_oob" => {
            let ct = need(req.continuation_token, "continuation_token")?;
            s.signin
                .token_oob(ctx, &ct, req.oob.as_deref(), &req.scope)
                .await?
        }
        "continuation_token" => {
            let ct = need(req.continuation_token, "continuation_token")?;
            s.after_flow
                .redeem(ctx, &ct, req.username.as_deref(), &req.scope)
                .await?
        }
        "refresh_token" => {
            let rt = need(req.refresh_token, "refresh_token")?;
            s.issuer.refresh(ctx, &rt, &req.scope).await?
        }
        _ => return Err(FlowError::UnsupportedGrant(req.grant_type).into()),
    };
    Ok(set)
}

fn to_wire(t: TokenSet) -> TokenResponse {
    TokenResponse {
        token_type: "Bearer",
        scope: t.scope,
        expires_in: t.expires_in,
        ext_expires_in: t.expires_in,
        access_token: t.access_token,
        refresh_token: t.refresh_token.expose().to_owned(),
        id_token: t.id_token,
        client_info: t.client_info,
        refresh_token_expires_in: t.refresh_expires_in,
    }
}
