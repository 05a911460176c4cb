//! `signup/v1.0/start`, `challenge`, `continue` (spec §5.1–5.3).

use super::{admit_hash, client, for_app, hashing, limit};
use crate::error::{ApiError, NextStep};
use crate::extract::EntraForm;
use crate::state::AppState;
use axum::Json;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use openciam_core::flow::signup::{ContinueInput, ContinueOutcome, SignUpChallengeOutcome, StartOutcome};
use openciam_core::model::{AttributeKind, AttributeSpec};
use openciam_core::secret::Password;
use openciam_core::security::limiter::Check;
use openciam_wire::error::{RequiredAttribute, catalogue as c};
use openciam_wire::signin::{ChallengeRequest, ChallengeResponse, ContinuationResponse, RedirectResponse};
use openciam_wire::signup::{ContinueRequest, StartRequest};

fn continuation(token: &openciam_core::flow::continuation::IssuedToken, expires_in: bool) -> Response {
    Json(ContinuationResponse {
        continuation_token: token.token.expose().to_owned(),
        expires_in: expires_in.then_some(token.expires_in),
    })
    .into_response()
}

/// `POST /{tenant}/signup/v1.0/start`.
pub(crate) async fn signup_start(
    State(app): State<AppState>,
    Path(tenant): Path<String>,
    EntraForm(form): EntraForm,
) -> Result<Response, ApiError> {
    let req = StartRequest::from_form(&form)?;
    let ctx = client(&app, &tenant, &req.client_id).await?;
    let admission = match admit_hash(&app, &ctx, req.password.is_some()) {
        Ok(a) => a,
        Err(shed) => return Ok(*shed),
    };
    if let Err(refused) = limit(&app, &ctx, Check::SignUpStart(&req.username)).await {
        return Ok(refused);
    }
    let password = req.password.map(Password::new);
    let start = app.services.signup.start(
        &ctx,
        &req.username,
        &req.challenge_type,
        password.as_ref(),
        req.attributes.as_deref(),
        req.capabilities,
    );
    let outcome = hashing(&app, admission, start).await;
    Ok(for_app(
        &ctx,
        outcome.map_err(ApiError::from).map(|o| match o {
            StartOutcome::Continue(t) => continuation(&t, false),
            StartOutcome::Redirect(reason) => Json(RedirectResponse::new(reason)).into_response(),
        }),
    ))
}

/// `POST /{tenant}/signup/v1.0/challenge`.
pub(crate) async fn signup_challenge(
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
        .signup
        .challenge(&ctx, &req.continuation_token, &req.challenge_type)
        .await;
    Ok(for_app(
        &ctx,
        outcome.map_err(ApiError::from).map(|o| match o {
            SignUpChallengeOutcome::Oob {
                token,
                target_label,
                code_length,
                interval,
            } => Json(ChallengeResponse::oob(
                token.token.expose().to_owned(),
                target_label,
                code_length,
                interval,
            ))
            .into_response(),
            SignUpChallengeOutcome::Password(t) => Json(ChallengeResponse::Password {
                continuation_token: t.token.expose().to_owned(),
                challenge_type: "password",
            })
            .into_response(),
            SignUpChallengeOutcome::Redirect(reason) => Json(RedirectResponse::new(reason)).into_response(),
        }),
    ))
}

fn required(spec: &AttributeSpec) -> RequiredAttribute {
    let kind = match spec.kind {
        AttributeKind::String => "string",
        AttributeKind::Boolean => "boolean",
        AttributeKind::Int => "int",
    };
    RequiredAttribute {
        name: spec.name.clone(),
        kind: kind.to_owned(),
        required: spec.required,
        options: spec.pattern.as_ref().map(|p| serde_json::json!({ "regex": p })),
    }
}

/// `continue` with a password hashes it: counted per IP and per address; other grants per IP.
fn password_check(req: &ContinueRequest) -> Check<'_> {
    if req.grant_type.eq_ignore_ascii_case("password") {
        Check::Password(&req.continuation_token)
    } else {
        Check::Ip
    }
}

/// `POST /{tenant}/signup/v1.0/continue`.
pub(crate) async fn signup_continue(
    State(app): State<AppState>,
    Path(tenant): Path<String>,
    EntraForm(form): EntraForm,
) -> Result<Response, ApiError> {
    let req = ContinueRequest::from_form(&form)?;
    let ctx = client(&app, &tenant, &req.client_id).await?;
    let admission = match admit_hash(&app, &ctx, req.grant_type.eq_ignore_ascii_case("password")) {
        Ok(a) => a,
        Err(shed) => return Ok(*shed),
    };
    if let Err(refused) = limit(&app, &ctx, password_check(&req)).await {
        return Ok(refused);
    }
    let input = ContinueInput {
        grant_type: req.grant_type,
        code: req.oob,
        password: req.password.map(Password::new),
        attributes: req.attributes,
    };
    let step = app
        .services
        .signup
        .continue_(&ctx, &req.continuation_token, input);
    let outcome = hashing(&app, admission, step).await;
    let result = outcome.map_err(ApiError::from).and_then(|o| match o {
        ContinueOutcome::Completed(t) => Ok(continuation(&t, true)),
        ContinueOutcome::CredentialRequired(t) => Err(ApiError::NextStep(Box::new(NextStep {
            entry: c::CREDENTIAL_REQUIRED,
            detail: "Call signup/v1.0/challenge with this continuation_token; it answers challenge_type=password.",
            continuation_token: t.token.expose().to_owned(),
            required_attributes: None,
        }))),
        ContinueOutcome::AttributesRequired { token, required: specs } => {
            Err(ApiError::NextStep(Box::new(NextStep {
                entry: c::ATTRIBUTES_REQUIRED,
                detail: "Send the listed attributes to signup/v1.0/continue with grant_type=attributes and this continuation_token.",
                continuation_token: token.token.expose().to_owned(),
                required_attributes: Some(specs.iter().map(required).collect()),
            })))
        }
    });
    Ok(for_app(&ctx, result))
}
