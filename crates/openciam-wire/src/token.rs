//! `POST /oauth2/v2.0/token` (spec §5.7).

use crate::form::{Form, FormError};
use serde::Serialize;

/// The token request, every grant in one struct: which members matter depends on `grant_type`.
#[derive(Debug, Clone)]
pub struct TokenRequest {
    /// Application id.
    pub client_id: String,
    /// As sent (compared case-insensitively by the caller).
    pub grant_type: String,
    /// Requested scopes.
    pub scope: Vec<String>,
    /// With `password`, `oob`, `mfa_oob`, `continuation_token`.
    pub continuation_token: Option<String>,
    /// With `password`.
    pub password: Option<String>,
    /// With `oob` / `mfa_oob`.
    pub oob: Option<String>,
    /// With `refresh_token`.
    pub refresh_token: Option<String>,
    /// Optional with `continuation_token`.
    pub username: Option<String>,
}

impl TokenRequest {
    /// Reads the request from a form. Only the members the grant needs are required later.
    pub fn from_form(f: &Form) -> Result<Self, FormError> {
        let owned = |v: Option<&str>| v.map(str::to_owned);
        Ok(Self {
            client_id: f.required("client_id")?.to_owned(),
            grant_type: f.required("grant_type")?.to_owned(),
            scope: f.list(&["scope"])?,
            continuation_token: owned(f.optional("continuation_token")?),
            password: owned(f.optional("password")?),
            oob: owned(f.optional("oob")?),
            refresh_token: owned(f.optional("refresh_token")?),
            username: owned(f.optional("username")?),
        })
    }
}

/// The success body (spec §5.7.2).
#[derive(Debug, Clone, Serialize)]
pub struct TokenResponse {
    /// Exactly `Bearer`.
    pub token_type: &'static str,
    /// Granted scopes, space-separated.
    pub scope: String,
    /// Seconds, > 0.
    pub expires_in: u64,
    /// Same as `expires_in`.
    pub ext_expires_in: u64,
    /// JWT.
    pub access_token: String,
    /// Opaque, always issued.
    pub refresh_token: String,
    /// JWT, always issued.
    pub id_token: String,
    /// base64url `{"uid":…,"utid":…}`.
    pub client_info: String,
    /// Seconds the refresh token lives.
    pub refresh_token_expires_in: u64,
}
