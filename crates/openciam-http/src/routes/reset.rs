//! `resetpassword/v1.0/{start,challenge,continue,submit,poll_completion}` (spec §5.11–5.15).

use super::{admit_hash, client, for_app, hashing, limit};
use crate::error::ApiError;
use crate::extract::EntraForm;
use crate::state::AppState;
use axum::Json;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use openciam_core::flow::reset::{ResetChallengeOutcome, ResetStartOutcome};
use openciam_core::secret::Password;
use openciam_core::security::limiter::Check;
use openciam_wire::reset::{
    ContinueRequest, PollResponse, StartRequest, SubmitRequest, SubmitResponse, TokenOnlyRequest,
};
use openciam_wire::signin::{ChallengeRequest, ChallengeResponse, ContinuationResponse, RedirectResponse};

/// Seconds between polls; the reset is synchronous, so the first poll already succeeds.
const POLL_INTERVAL: u64 = 2;

/// `POST /{tenant}/resetpassword/v1.0/start`.
pub(crate) async fn reset_start(
    State(app): State<AppState>,
    Path(tenant): Path<String>,
    EntraForm(form): EntraForm,
) -> Result<Response, ApiError> {
    let req = StartRequest::from_form(&form)?;
    let ctx = client(&app, &tenant, &req.client_id).await?;
    if let Err(refused) = limit(&app, &ctx, Check::ResetStart(&req.username)).await {
        return Ok(refused);
    }
    let outcome = app
        .services
        .reset
        .start(&ctx, &req.username, &req.challenge_type, req.capabilities)
        .await;
    Ok(for_app(
        &ctx,
        outcome.map_err(ApiError::from).map(|o| match o {
            ResetStartOutcome::Continue(t) => Json(ContinuationResponse {
                continuation_token: t.token.expose().to_owned(),
                expires_in: None,
            })
            .into_response(),
            ResetStartOutcome::Redirect(reason) => Json(RedirectResponse::new(reason)).into_response(),
        }),
    ))
}

/// `POST /{tenant}/resetpassword/v1.0/challenge`.
pub(crate) async fn reset_challenge(
    State(app): State<AppState>,
    Path(tenant): Path<String>,
    EntraForm(form): EntraForm,
) -> Result<Response, ApiError> {
    let req = ChallengeRequest::from_form(&form)?;
    let ctx = client(&app, &tenant, &req.client_id).await?;
    if let Err(refused) = limit(&app, &ctx, Check::Ip).await {
        return Ok(refused);
    }
    let outcome = app
        .services
        .reset
        .challenge(&ctx, &req.continuation_token, &req.challenge_type)
        .await;
    Ok(for_app(
        &ctx,
        outcome.map_err(ApiError::from).map(|o| match o {
            ResetChallengeOutcome::Oob {
                token,
                target_label,
                code_length,
                interval,
            } => Json(ChallengeResponse::oob(
                token.token.expose().to_owned(),
                target_label,
                code_length,
                interval,
            )),
            ResetChallengeOutcome::Redirect(reason) => {
                Json(ChallengeResponse::Redirect(RedirectResponse::new(reason)))
            }
        }),
    ))
}

/// `POST /{tenant}/resetpassword/v1.0/continue`.
pub(crate) async fn reset_continue(
    State(app): State<AppState>,
    Path(tenant): Path<String>,
    EntraForm(form): EntraForm,
) -> Result<Response, ApiError> {
    let req = ContinueRequest::from_form(&form)?;
    let ctx = client(&app, &tenant, &req.client_id).await?;
    if let Err(refused) = limit(&app, &ctx, Check::Ip).await {
        return Ok(refused);
    }
    let outcome = app
        .services
        .reset
        .continue_(&ctx, &req.continuation_token, &req.grant_type, req.oob.as_deref())
        .await;
    Ok(for_app(
        &ctx,
        outcome.map_err(ApiError::from).map(|t| {
            Json(ContinuationResponse {
                continuation_token: t.token.expose().to_owned(),
                expires_in: Some(t.expires_in),
            })
        }),
    ))
}

/// `POST /{tenant}/resetpassword/v1.0/submit`.
pub(crate) async fn reset_submit(
    State(app): State<AppState>,
    Path(tenant): Path<String>,
    EntraForm(form): EntraForm,
) -> Result<Response, ApiError> {
    let req = SubmitRequest::from_form(&form)?;
    let ctx = client(&app, &tenant, &req.client_id).await?;
    let admission = match admit_hash(&app, &ctx, req.new_password.is_some()) {
        Ok(a) => a,
        Err(shed) => return Ok(*shed),
    };
    if let Err(refused) = limit(&app, &ctx, Check::Password(&req.continuation_token)).await {
        return Ok(refused);
    }
    let password = req.new_password.map(Password::new);
    let submit = app
        .services
        .reset
        .submit(&ctx, &req.continuation_token, password.as_ref());
    let outcome = hashing(&app, admission, submit).await;
    Ok(for_app(
        &ctx,
        outcome.map_err(ApiError::from).map(|t| {
            Json(SubmitResponse {
                continuation_token: t.token.expose().to_owned(),
                poll_interval: POLL_INTERVAL,
            })
        }),
    ))
}

/// `POST /{tenant}/resetpassword/v1.0/poll_completion`.
pub(crate) async fn reset_poll_completion(
    State(app): State<AppState>,
    Path(tenant): Path<String>,
    EntraForm(form): EntraForm,
) -> Result<Response, ApiError> {
    let req = TokenOnlyRequest::from_form(&form)?;
    let ctx = client(&app, &tenant, &req.client_id).await?;
    let outcome = app.services.reset.poll(&ctx, &req.continuation_token).await;
    Ok(for_app(
        &ctx,
        outcome.map_err(ApiError::from).map(|t| {
            Json(PollResponse {
                status: "succeeded",
                continuation_token: t.token.expose().to_owned(),
                expires_in: t.expires_in,
            })
        }),
    ))
}
