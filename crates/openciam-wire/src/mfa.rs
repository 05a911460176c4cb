//! Second factor: `oauth2/v2.0/introspect` and `register/v1.0/{introspect,challenge,continue}`
//! (spec §5.6, §5.8–5.10). The MFA challenge itself is `oauth2/v2.0/challenge` with `id`.

use crate::form::{Form, FormError};
use crate::signin::RedirectResponse;
use serde::Serialize;

/// `POST /oauth2/v2.0/introspect` and `/register/v1.0/introspect`.
#[derive(Debug, Clone)]
pub struct IntrospectRequest {
    /// Application id.
    pub client_id: String,
    /// From `/token` (`mfa_required` / `registration_required`).
    pub continuation_token: String,
}

impl IntrospectRequest {
    /// Reads the request from a form.
    pub fn from_form(f: &Form) -> Result<Self, FormError> {
        Ok(Self {
            client_id: f.required("client_id")?.to_owned(),
            continuation_token: f.required("continuation_token")?.to_owned(),
        })
    }
}

/// An authentication-method object (spec §4.5).
#[derive(Debug, Clone, Serialize)]
pub struct MethodObject {
    /// Stable id for `challenge` (`email` / `sms` at register introspect).
    pub id: String,
    /// Always `oob`.
    pub challenge_type: &'static str,
    /// `email` or `sms`.
    pub challenge_channel: &'static str,
    /// Masked target.
    pub login_hint: String,
}

/// An introspect 200 body: never an empty `methods`.
#[derive(Debug, Clone, Serialize)]
pub struct IntrospectResponse {
    /// For the next challenge.
    pub continuation_token: String,
    /// The methods.
    pub methods: Vec<MethodObject>,
}

/// `POST /register/v1.0/challenge` (spec §5.9).
#[derive(Debug, Clone)]
pub struct RegisterChallengeRequest {
    /// Application id.
    pub client_id: String,
    /// From register introspect or a previous register challenge.
    pub continuation_token: String,
    /// `oob`.
    pub challenge_type: String,
    /// The e-mail address or phone number to register.
    pub challenge_target: String,
    /// `email` / `sms` (optional; inferred from the target).
    pub challenge_channel: Option<String>,
}

impl RegisterChallengeRequest {
    /// Reads the request from a form.
    pub fn from_form(f: &Form) -> Result<Self, FormError> {
        Ok(Self {
            client_id: f.required("client_id")?.to_owned(),
            continuation_token: f.required("continuation_token")?.to_owned(),
            challenge_type: f.required("challenge_type")?.to_owned(),
            challenge_target: f.required("challenge_target")?.to_owned(),
            challenge_channel: f.optional("challenge_channel")?.map(str::to_owned),
        })
    }
}

/// `register/v1.0/challenge` 200 bodies.
#[derive(Debug, Clone, Serialize)]
#[serde(untagged)]
pub enum RegisterChallengeResponse {
    /// A code was sent to the target.
    Oob {
        /// For `register/v1.0/continue` (`oob`) and a resend.
        continuation_token: String,
        /// Always `oob`.
        challenge_type: &'static str,
        /// Always `prompt`.
        binding_method: &'static str,
        /// Echo of the target (not masked: the user just typed it).
        challenge_target: String,
        /// `email` or `sms`.
        challenge_channel: &'static str,
        /// Digits.
        code_length: u32,
        /// Seconds before a resend is accepted.
        interval: u64,
    },
    /// The target was verified earlier in this flow.
    Preverified {
        /// For `register/v1.0/continue` (`continuation_token`).
        continuation_token: String,
        /// Always `preverified`.
        challenge_type: &'static str,
    },
    /// Web fallback.
    Redirect(RedirectResponse),
}

/// `POST /register/v1.0/continue` (spec §5.10).
#[derive(Debug, Clone)]
pub struct RegisterContinueRequest {
    /// Application id.
    pub client_id: String,
    /// From register challenge.
    pub continuation_token: String,
    /// `oob` or `continuation_token`.
    pub grant_type: String,
    /// The code, with `oob`.
    pub oob: Option<String>,
}

impl RegisterContinueRequest {
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
