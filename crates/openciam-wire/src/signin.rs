//! Sign-in endpoints: `oauth2/v2.0/initiate` and `oauth2/v2.0/challenge` (spec §5.4, §5.5).

use crate::form::{Form, FormError};
use serde::Serialize;

/// `POST /oauth2/v2.0/initiate` (spec §5.4).
#[derive(Debug, Clone)]
pub struct InitiateRequest {
    /// Application id.
    pub client_id: String,
    /// E-mail the user signs in with.
    pub username: String,
    /// The client's challenge types, as sent.
    pub challenge_type: Vec<String>,
    /// `capabilities` / `capability`.
    pub capabilities: Vec<String>,
}

impl InitiateRequest {
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

/// `POST /oauth2/v2.0/challenge` (spec §5.5).
#[derive(Debug, Clone)]
pub struct ChallengeRequest {
    /// Application id.
    pub client_id: String,
    /// From `initiate` or a previous `challenge`.
    pub continuation_token: String,
    /// Optional here: clients usually resend their list.
    pub challenge_type: Vec<String>,
    /// Second factor: the method to send a code through (from `oauth2/v2.0/introspect`).
    pub id: Option<String>,
}

impl ChallengeRequest {
    /// Reads the request from a form.
    pub fn from_form(f: &Form) -> Result<Self, FormError> {
        Ok(Self {
            client_id: f.required("client_id")?.to_owned(),
            continuation_token: f.required("continuation_token")?.to_owned(),
            challenge_type: f.list(&["challenge_type"])?,
            id: f.optional("id")?.map(str::to_owned),
        })
    }
}

/// A 200 body that only carries the next continuation token.
#[derive(Debug, Clone, Serialize)]
pub struct ContinuationResponse {
    /// The next token.
    pub continuation_token: String,
    /// Seconds the token stays valid, where the endpoint reports it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires_in: Option<u64>,
}

/// A challenge endpoint's 200 body (spec §4.3, §4.4, §5.5).
#[derive(Debug, Clone, Serialize)]
#[serde(untagged)]
pub enum ChallengeResponse {
    /// `challenge_type=password`.
    Password {
        /// Valid for the password grant.
        continuation_token: String,
        /// Always `password`.
        challenge_type: &'static str,
    },
    /// `challenge_type=oob`: a code was sent.
    Oob {
        /// Valid for the code grant and for a resend.
        continuation_token: String,
        /// Always `oob`.
        challenge_type: &'static str,
        /// Always `prompt`.
        binding_method: &'static str,
        /// `email` or `sms` (second factor).
        challenge_channel: &'static str,
        /// Masked address.
        challenge_target_label: String,
        /// Digits in the code.
        code_length: u32,
        /// Seconds before a resend is accepted.
        interval: u64,
    },
    /// Web fallback (spec §4.3).
    Redirect(RedirectResponse),
}

impl ChallengeResponse {
    /// The oob body of every challenge endpoint (spec §4.4): a code was e-mailed.
    pub fn oob(continuation_token: String, target_label: String, code_length: u32, interval: u64) -> Self {
        Self::oob_via("email", continuation_token, target_label, code_length, interval)
    }

    /// The oob body for a code sent through `channel` (`email` or `sms`).
    pub fn oob_via(
        channel: &'static str,
        continuation_token: String,
        target_label: String,
        code_length: u32,
        interval: u64,
    ) -> Self {
        Self::Oob {
            continuation_token,
            challenge_type: "oob",
            binding_method: "prompt",
            challenge_channel: channel,
            challenge_target_label: target_label,
            code_length,
            interval,
        }
    }
}

/// The web-fallback body, HTTP 200 (spec §4.3).
#[derive(Debug, Clone, Serialize)]
pub struct RedirectResponse {
    /// Always `redirect`.
    pub challenge_type: &'static str,
    /// Why the native flow cannot continue.
    pub redirect_reason: String,
}

impl RedirectResponse {
    /// A redirect with the given reason.
    pub fn new(reason: impl Into<String>) -> Self {
        Self {
            challenge_type: "redirect",
            redirect_reason: reason.into(),
        }
    }
}
