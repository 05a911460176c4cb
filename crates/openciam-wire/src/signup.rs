//! Sign-up endpoints: `signup/v1.0/start`, `challenge`, `continue` (spec §5.1–5.3).

use crate::form::{Form, FormError};

/// `POST /signup/v1.0/start` (spec §5.1).
#[derive(Debug, Clone)]
pub struct StartRequest {
    /// Application id.
    pub client_id: String,
    /// E-mail.
    pub username: String,
    /// Challenge types.
    pub challenge_type: Vec<String>,
    /// Optional password (email + password user flows).
    pub password: Option<String>,
    /// Optional attributes: a JSON object serialised as a string.
    pub attributes: Option<String>,
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
            password: f.optional("password")?.map(str::to_owned),
            attributes: f.optional("attributes")?.map(str::to_owned),
            capabilities: f.list(&["capabilities", "capability"])?,
        })
    }
}

/// `POST /signup/v1.0/continue` (spec §5.3).
#[derive(Debug, Clone)]
pub struct ContinueRequest {
    /// Application id.
    pub client_id: String,
    /// From `challenge` or a 400 next step.
    pub continuation_token: String,
    /// `oob`, `password` or `attributes`.
    pub grant_type: String,
    /// The code.
    pub oob: Option<String>,
    /// The new password.
    pub password: Option<String>,
    /// JSON object string.
    pub attributes: Option<String>,
}

impl ContinueRequest {
    /// Reads the request from a form.
    pub fn from_form(f: &Form) -> Result<Self, FormError> {
        Ok(Self {
            client_id: f.required("client_id")?.to_owned(),
            continuation_token: f.required("continuation_token")?.to_owned(),
            grant_type: f.required("grant_type")?.to_owned(),
            oob: f.optional("oob")?.map(str::to_owned),
            password: f.optional("password")?.map(str::to_owned),
            attributes: f.optional("attributes")?.map(str::to_owned),
        })
    }
}
