//! `EntraForm`: the form body every native-auth endpoint reads (spec §2.1).
//!
//! The media type must be `application/x-www-form-urlencoded`, compared case-insensitively, with
//! parameters such as `charset=utf-8` allowed. The body is capped (default 64 KiB), and the
//! parameters with a byte limit (`openciam_wire::form::limit`) are checked before any handler runs.

use crate::error::ApiError;
use crate::state::AppState;
use axum::extract::{FromRequest, Request};
use axum::http::header;
use openciam_wire::Form;

/// A parsed form body.
pub(crate) struct EntraForm(pub(crate) Form);

impl FromRequest<AppState> for EntraForm {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        let content_type = req
            .headers()
            .get(header::CONTENT_TYPE)
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
            .unwrap_or_default();
        let essence = content_type.split(';').next().unwrap_or_default().trim();
        if !essence.eq_ignore_ascii_case("application/x-www-form-urlencoded") {
            let shown = if content_type.is_empty() {
                "no content type".to_owned()
            } else {
                content_type
            };
            return Err(ApiError::MediaType(shown.chars().take(100).collect()));
        }
        let limit = state.config.body_limit;
        let declared = req
            .headers()
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<usize>().ok());
        if declared.is_some_and(|n| n > limit) {
            return Err(ApiError::TooLarge(limit));
        }
        let bytes = axum::body::to_bytes(req.into_body(), limit)
            .await
            .map_err(|_| ApiError::TooLarge(limit))?;
        let form = Form::parse(&bytes);
        form.check_limits()?;
        Ok(Self(form))
    }
}
