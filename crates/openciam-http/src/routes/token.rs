//! `oauth2/v2.0/token` (spec §5.7): one endpoint, a service per grant.

use super::{admit_hash, client, for_app, hashing, limit};
use crate::error::ApiError;
use crate::error::NextStep;
use crate::extract::EntraForm;
use crate::state::AppState;
use axum::Json;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use openciam_core::FlowError;
use openciam_core::directory::ClientContext;
use openciam_core::flow::continuation::IssuedToken;
use openciam_core::flow::second_factor::TokenOutcome;
use openciam_core::secret::Password;
use openciam_core::security::limiter::Check;
use openciam_core::token::TokenSet;
use openciam_wire::error::catalogue as c;
use openciam_wire::signin::RedirectResponse;
use openciam_wire::token::{TokenRequest, TokenResponse};

/// `POST /{tenant}/oauth2/v2.0/token`.
pub(crate) async fn token(
    State(app): State<AppState>,
    Path(tenant): Path<String>,
    EntraForm(form): EntraForm,
) -> Result<Response, ApiError> {
    let req = TokenRequest::from_form(&form)?;
    let ctx = client(&app, &tenant, &req.client_id).await?;
    let admission = match admit_hash(&app, &ctx, hashes(&req)) {
        Ok(a) => a,
        Err(shed) => return Ok(*shed),
    };
    if let Some(check) = limit_check(&req)
        && let Err(refused) = limit(&app, &ctx, check).await
    {
        return Ok(refused);
    }
    let result = hashing(&app, admission, grant(&app, &ctx, req))
        .await
        .and_then(outcome_response);
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

/// The password grant with a continuation token verifies a password.
fn hashes(req: &TokenRequest) -> bool {
    req.grant_type.eq_ignore_ascii_case("password") && req.continuation_token.is_some()
}

fn need(value: Option<String>, name: &'static str) -> Result<String, FlowError> {
    value.ok_or(FlowError::MissingParameter(name))
}

/// Tokens, the second factor's next step (a 400 carrying a continuation token), or the web
/// fallback (spec §5.7.3, §5.7.4).
fn outcome_response(outcome: TokenOutcome) -> Result<Response, ApiError> {
    let next = |entry, detail: &'static str, t: IssuedToken| {
        Err(ApiError::NextStep(Box::new(NextStep {
            entry,
            detail,
            continuation_token: t.token.expose().to_owned(),
            required_attributes: None,
        })))
    };
    match outcome {
        TokenOutcome::Tokens(t) => Ok(Json(to_wire(t)).into_response()),
        TokenOutcome::MfaRequired(t) => next(
            c::MFA_REQUIRED,
            "Call oauth2/v2.0/introspect with this continuation_token, then oauth2/v2.0/challenge with a method id, then this endpoint with grant_type=mfa_oob.",
            t,
        ),
        TokenOutcome::RegistrationRequired(t) => next(
            c::REGISTRATION_REQUIRED,
            "Call register/v1.0/introspect with this continuation_token, then register/v1.0/challenge and register/v1.0/continue, then this endpoint with grant_type=continuation_token.",
            t,
        ),
        TokenOutcome::Redirect(reason) => Ok(Json(RedirectResponse::new(reason)).into_response()),
    }
}

async fn grant(app: &AppState, ctx: &ClientContext, req: TokenRequest) -> Result<TokenOutcome, ApiError> {
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
        // A code of the first or the second factor: the token's step decides, not the grant
        // name (older Android builds send the second factor as `oob`; spec §5.7.1).
        "oob" | "mfa_oob" => {
            let ct = need(req.continuation_token, "continuation_token")?;
            s.signin
                .token_oob(ctx, &ct, &grant_type, req.oob.as_deref(), &req.scope)
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
            TokenOutcome::Tokens(s.issuer.refresh(ctx, &rt, &req.scope).await?)
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
