//! The second factor: `oauth2/v2.0/introspect` and `register/v1.0/{introspect,challenge,continue}`
//! (spec §5.6, §5.8–5.10). The MFA challenge is `oauth2/v2.0/challenge` ([`super::signin`]), its
//! code grant `/token` ([`super::token`]).

use super::{client, for_app, limit};
use crate::error::ApiError;
use crate::extract::EntraForm;
use crate::state::AppState;
use axum::Json;
use axum::extract::{Path, State};
use axum::response::Response;
use openciam_core::flow::second_factor::{MethodView, RegisterChallengeOutcome};
use openciam_core::security::limiter::Check;
use openciam_wire::mfa::{
    IntrospectRequest, IntrospectResponse, MethodObject, RegisterChallengeRequest, RegisterChallengeResponse,
    RegisterContinueRequest,
};
use openciam_wire::signin::ContinuationResponse;

fn methods(views: Vec<MethodView>) -> Vec<MethodObject> {
    views
        .into_iter()
        .map(|v| MethodObject {
            id: v.id,
            challenge_type: "oob",
            challenge_channel: v.channel.as_str(),
            login_hint: v.login_hint,
        })
        .collect()
}

/// `POST /{tenant}/oauth2/v2.0/introspect`.
pub(crate) async fn signin_introspect(
    State(app): State<AppState>,
    Path(tenant): Path<String>,
    EntraForm(form): EntraForm,
) -> Result<Response, ApiError> {
    let req = IntrospectRequest::from_form(&form)?;
    let ctx = client(&app, &tenant, &req.client_id).await?;
    if let Err(refused) = limit(&app, &ctx, Check::Ip).await {
        return Ok(refused);
    }
    let outcome = app
        .services
        .second_factor
        .introspect(&ctx, &req.continuation_token)
        .await;
    let result = outcome.map_err(ApiError::from).map(|(token, views)| {
        Json(IntrospectResponse {
            continuation_token: token.token.expose().to_owned(),
            methods: methods(views),
        })
    });
    Ok(for_app(&ctx, result))
}

/// `POST /{tenant}/register/v1.0/introspect`.
pub(crate) async fn register_introspect(
    State(app): State<AppState>,
    Path(tenant): Path<String>,
    EntraForm(form): EntraForm,
) -> Result<Response, ApiError> {
    let req = IntrospectRequest::from_form(&form)?;
    let ctx = client(&app, &tenant, &req.client_id).await?;
    if let Err(refused) = limit(&app, &ctx, Check::Ip).await {
        return Ok(refused);
    }
    let outcome = app
        .services
        .second_factor
        .register_introspect(&ctx, &req.continuation_token)
        .await;
    let result = outcome.map_err(ApiError::from).map(|(token, views)| {
        Json(IntrospectResponse {
            continuation_token: token.token.expose().to_owned(),
            methods: methods(views),
        })
    });
    Ok(for_app(&ctx, result))
}

/// `POST /{tenant}/register/v1.0/challenge`.
pub(crate) async fn register_challenge(
    State(app): State<AppState>,
    Path(tenant): Path<String>,
    EntraForm(form): EntraForm,
) -> Result<Response, ApiError> {
    let req = RegisterChallengeRequest::from_form(&form)?;
    let ctx = client(&app, &tenant, &req.client_id).await?;
    if let Err(refused) = limit(&app, &ctx, Check::Ip).await {
        return Ok(refused);
    }
    let outcome = app
        .services
        .second_factor
        .register_challenge(
            &ctx,
            &req.continuation_token,
            &req.challenge_type,
            &req.challenge_target,
            req.challenge_channel.as_deref(),
        )
        .await;
    let result = outcome.map_err(ApiError::from).map(|o| {
        Json(match o {
            RegisterChallengeOutcome::Oob(sent) => RegisterChallengeResponse::Oob {
                continuation_token: sent.token.token.expose().to_owned(),
                challenge_type: "oob",
                binding_method: "prompt",
                challenge_target: sent.target_label,
                challenge_channel: sent.channel.as_str(),
                code_length: sent.code_length,
                interval: sent.interval,
            },
            RegisterChallengeOutcome::Preverified(t) => RegisterChallengeResponse::Preverified {
                continuation_token: t.token.expose().to_owned(),
                challenge_type: "preverified",
            },
        })
    });
    Ok(for_app(&ctx, result))
}

/// `POST /{tenant}/register/v1.0/continue`.
pub(crate) async fn register_continue(
    State(app): State<AppState>,
    Path(tenant): Path<String>,
    EntraForm(form): EntraForm,
) -> Result<Response, ApiError> {
    let req = RegisterContinueRequest::from_form(&form)?;
    let ctx = client(&app, &tenant, &req.client_id).await?;
    if let Err(refused) = limit(&app, &ctx, Check::Ip).await {
        return Ok(refused);
    }
    let outcome = app
        .services
        .second_factor
        .register_continue(&ctx, &req.continuation_token, &req.grant_type, req.oob.as_deref())
        .await;
    let result = outcome.map_err(ApiError::from).map(|t| {
        Json(ContinuationResponse {
            continuation_token: t.token.expose().to_owned(),
            expires_in: None,
        })
    });
    Ok(for_app(&ctx, result))
}
