//! Password-reset endpoints (spec §5.11–5.15).

use crate::form::{Form, FormError};
use serde::Serialize;

/// `POST /resetpassword/v1.0/start`.
#[derive(Debug, Clone)]
pub struct StartRequest {
    /// Application id.
    pub client_id: String,
    /// E-mail.
    pub username: String,
    /// Challenge types.
    pub challenge_type: Vec<String>,
    /// `capabilities` / `capability`.
    pub capabilities: Vec<String>,
}

impl StartRequest {
    /// Reads the request from a form.
    pub fn from_form(f: &Form) -> Result<Self, FormError> {
        Ok(Self {
            client_id: f.required("client_id")?.to_owned(),
            username: f.optional("username")?.unwrap_or_default().to_owned(),
            challenge_type: f.list(&["challenge_type"])?,
            capabilities: f.list(&["capabilities", "capability"])?,
        })
    }
}

/// `POST /resetpassword/v1.0/continue`.
#[derive(Debug, Clone)]
pub struct ContinueRequest {
    /// Application id.
    pub client_id: String,
    /// From `challenge`.
    pub continuation_token: String,
    /// `oob`.
    pub grant_type: String,
    /// The code.
    pub oob: Option<String>,
}

impl ContinueRequest {
    /// Reads the request from a form.
    pub fn from_form(f: &Form) -> Result<Self, FormError> {
        Ok(Self {
            client_id: f.required("client_id")?.to_owned(),
            continuation_token: f.required("continuation_token")?.to_owned(),
            grant_type: f.required("grant_type")?.to_owned(),
            oob: f.optional("oob")?.map(str::to_owned),
        })
    }
}

/// `POST /resetpassword/v1.0/submit`.
#[derive(Debug, Clone)]
pub struct SubmitRequest {
    /// Application id.
    pub client_id: String,
    /// From `continue`.
    pub continuation_token: String,
    /// The new password.
    pub new_password: Option<String>,
}

impl SubmitRequest {
    /// Reads the request from a form.
    pub fn from_form(f: &Form) -> Result<Self, FormError> {
        Ok(Self {
            client_id: f.required("client_id")?.to_owned(),
            continuation_token: f.required("continuation_token")?.to_owned(),
            new_password: f.optional("new_password")?.map(str::to_owned),
        })
    }
}

/// `POST /resetpassword/v1.0/poll_completion` (and any request carrying only a token).
#[derive(Debug, Clone)]
pub struct TokenOnlyRequest {
    /// Application id.
    pub client_id: String,
    /// The token.
    pub continuation_token: String,
}

impl TokenOnlyRequest {
    /// Reads the request from a form.
    pub fn from_form(f: &Form) -> Result<Self, FormError> {
        Ok(Self {
            client_id: f.required("client_id")?.to_owned(),
            continuation_token: f.required("continuation_token")?.to_owned(),
        })
    }
}

/// `submit`'s 200 body.
#[derive(Debug, Clone, Serialize)]
pub struct SubmitResponse {
    /// For `poll_completion`.
    pub continuation_token: String,
    /// Seconds between polls (1–15).
    pub poll_interval: u64,
}

/// `poll_completion`'s 200 body.
#[derive(Debug, Clone, Serialize)]
pub struct PollResponse {
    /// `succeeded` (openciam resets synchronously).
    pub status: &'static str,
    /// For `/token` with `grant_type=continuation_token`.
    pub continuation_token: String,
    /// Seconds the token stays valid.
    pub expires_in: u64,
}
