//! `oauth2/v2.0/initiate` and `oauth2/v2.0/challenge` (spec §5.4, §5.5).

use super::{client, for_app, limit};
use crate::error::ApiError;
use crate::extract::EntraForm;
use crate::state::AppState;
use axum::Json;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use openciam_core::flow::signin::{ChallengeOutcome, InitiateOutcome};
use openciam_core::security::limiter::Check;
use openciam_wire::signin::{
    ChallengeRequest, ChallengeResponse, ContinuationResponse, InitiateRequest, RedirectResponse,
};

/// `POST /{tenant}/oauth2/v2.0/initiate`.
pub(crate) async fn signin_initiate(
    State(app): State<AppState>,
    Path(tenant): Path<String>,
    EntraForm(form): EntraForm,
) -> Result<Response, ApiError> {
    let req = InitiateRequest::from_form(&form)?;
    let ctx = client(&app, &tenant, &req.client_id).await?;
    if let Err(refused) = limit(&app, &ctx, Check::Ip).await {
        return Ok(refused);
    }
    let outcome = app
        .services
        .signin
        .initiate(&ctx, &req.username, &req.challenge_type, req.capabilities)
        .await;
    Ok(for_app(
        &ctx,
        outcome.map_err(ApiError::from).map(|o| match o {
            InitiateOutcome::Continue(t) => Json(ContinuationResponse {
                continuation_token: t.token.expose().to_owned(),
                expires_in: None,
            })
            .into_response(),
            InitiateOutcome::Redirect(reason) => Json(RedirectResponse::new(reason)).into_response(),
        }),
    ))
}

/// `POST /{tenant}/oauth2/v2.0/challenge`.
pub(crate) async fn signin_challenge(
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
        .signin
        .challenge(
            &ctx,
            &req.continuation_token,
            &req.challenge_type,
            req.id.as_deref(),
        )
        .await;
    Ok(for_app(
        &ctx,
        outcome.map_err(ApiError::from).map(|o| match o {
            ChallengeOutcome::Password(t) => Json(ChallengeResponse::Password {
                continuation_token: t.token.expose().to_owned(),
                challenge_type: "password",
            }),
            ChallengeOutcome::Oob {
                token,
                channel,
                target_label,
                code_length,
                interval,
            } => Json(ChallengeResponse::oob_via(
                channel.as_str(),
                token.token.expose().to_owned(),
                target_label,
                code_length,
                interval,
            )),
            ChallengeOutcome::Redirect(reason) => {
                Json(ChallengeResponse::Redirect(RedirectResponse::new(reason)))
            }
        }),
    ))
}
