//! Mapping every failure to a catalogue entry, once, with an exhaustive `match`.
//!
//! An [`ApiError`] becomes a response carrying an [`ErrorSpec`] extension; the envelope middleware
//! renders it with the request's correlation ids. Each description gets one plain sentence that
//! says what was wrong and what to send instead.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use openciam_core::FlowError;
use openciam_core::error::{CodeProblem, TokenProblem};
use openciam_core::security::limiter::RateLimited;
use openciam_core::security::rate_limit::LimitName;
use openciam_core::strategy::password_policy::PolicyViolation;
use openciam_wire::error::{AttributeName, RequiredAttribute};
use openciam_wire::error::{Correlation, catalogue as c};
use openciam_wire::{CatalogueEntry, ErrorBody, FormError};

/// A failed request.
#[derive(Debug)]
pub(crate) enum ApiError {
    /// From the core.
    Flow(FlowError),
    /// A parameter could not be read.
    Form(FormError),
    /// The body is not a form.
    MediaType(String),
    /// The body exceeds the cap.
    TooLarge(usize),
    /// No such route or method.
    NotFound,
    /// The request took too long.
    Timeout,
    /// Refused unread: this many requests were already being answered (`[http] max_in_flight`).
    Busy(usize),
    /// A handler panicked.
    Panic,
    /// A next step Entra sends as HTTP 400 with a continuation token (`credential_required`,
    /// `attributes_required`).
    NextStep(Box<NextStep>),
}

/// A 400 that carries the next continuation token.
#[derive(Debug)]
pub(crate) struct NextStep {
    pub(crate) entry: CatalogueEntry,
    pub(crate) detail: &'static str,
    pub(crate) continuation_token: String,
    pub(crate) required_attributes: Option<Vec<RequiredAttribute>>,
}

impl From<FlowError> for ApiError {
    fn from(e: FlowError) -> Self {
        Self::Flow(e)
    }
}

impl From<FormError> for ApiError {
    fn from(e: FormError) -> Self {
        Self::Form(e)
    }
}

/// What the envelope middleware renders.
#[derive(Debug, Clone)]
pub(crate) struct ErrorSpec {
    pub(crate) entry: CatalogueEntry,
    args: Vec<String>,
    detail: String,
    /// Logged (never sent) for 5xx.
    pub(crate) cause: Option<String>,
    /// `Retry-After` seconds (429 and 503 only, spec §7.1).
    retry_after: Option<u64>,
    continuation_token: Option<String>,
    required_attributes: Option<Vec<RequiredAttribute>>,
    invalid_attributes: Option<Vec<AttributeName>>,
}

impl ErrorSpec {
    fn retry_after(mut self, secs: u64) -> Self {
        self.retry_after = Some(secs);
        self
    }

    fn new(entry: CatalogueEntry, args: &[&str], detail: impl Into<String>) -> Self {
        Self {
            entry,
            args: args.iter().map(|s| (*s).to_owned()).collect(),
            detail: detail.into(),
            cause: None,
            retry_after: None,
            continuation_token: None,
            required_attributes: None,
            invalid_attributes: None,
        }
    }

    pub(crate) fn into_body(self, corr: &Correlation) -> ErrorBody {
        let args: Vec<&str> = self.args.iter().map(String::as_str).collect();
        let mut body = ErrorBody::new(&self.entry, &args, &self.detail, corr);
        body.continuation_token = self.continuation_token;
        body.required_attributes = self.required_attributes;
        body.invalid_attributes = self.invalid_attributes;
        body
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let spec = self.spec();
        let status = StatusCode::from_u16(spec.entry.status).unwrap_or(StatusCode::BAD_REQUEST);
        let retry_after = spec.retry_after;
        let mut response = (
            status,
            [(header::CONTENT_TYPE, "application/json; charset=utf-8")],
            "{}",
        )
            .into_response();
        if let Some(secs) = retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        response.extensions_mut().insert(spec);
        response
    }
}

impl ApiError {
    fn spec(self) -> ErrorSpec {
        match self {
            Self::Flow(e) => flow_spec(e),
            Self::Form(FormError::Missing("client_id")) => ErrorSpec::new(
                c::INVALID_CLIENT_ID,
                &[],
                "Send the application (client) id, a GUID, as client_id.",
            ),
            Self::Form(FormError::Missing("username")) => ErrorSpec::new(
                c::INVALID_USERNAME,
                &[],
                "Send the user's e-mail address as username.",
            ),
            Self::Form(FormError::Missing(p)) => ErrorSpec::new(
                c::MISSING_PARAMETER,
                &[p],
                format!("Add a non-empty '{p}' to the form body."),
            ),
            Self::Form(FormError::Duplicate(p)) => {
                ErrorSpec::new(c::DUPLICATE_PARAMETER, &[p], format!("Send '{p}' exactly once."))
            }
            Self::Form(FormError::TooLong { name, limit }) => ErrorSpec::new(
                c::PARAMETER_TOO_LONG,
                &[name, &limit.to_string()],
                too_long_detail(name, limit),
            ),
            Self::MediaType(got) => ErrorSpec::new(
                c::UNSUPPORTED_MEDIA_TYPE,
                &[],
                format!(
                    "The request was sent as '{got}'; send the parameters as an application/x-www-form-urlencoded body."
                ),
            ),
            Self::TooLarge(limit) => ErrorSpec::new(
                c::BODY_TOO_LARGE,
                &[&limit.to_string()],
                "Send a smaller body; no native-auth request needs this much.",
            ),
            Self::NotFound => ErrorSpec::new(
                c::NOT_FOUND,
                &[],
                "Native-auth endpoints are POST /{tenant}/oauth2/v2.0/{initiate,challenge,token}, /{tenant}/signup/v1.0/… and /{tenant}/resetpassword/v1.0/….",
            ),
            Self::Timeout => ErrorSpec::new(
                c::OVERLOADED,
                &[],
                "The request took too long; retry after the Retry-After delay.",
            )
            .retry_after(1),
            Self::Busy(max) => ErrorSpec::new(
                c::OVERLOADED,
                &[],
                format!(
                    "The server was already answering {max} requests (its [http] max_in_flight) and refused this one before reading it: nothing changed and the continuation_token stays valid. Send the same request again after the Retry-After delay (1 second)."
                ),
            )
            .retry_after(1),
            Self::NextStep(step) => {
                let mut s = ErrorSpec::new(step.entry, &[], step.detail);
                s.continuation_token = Some(step.continuation_token);
                s.required_attributes = step.required_attributes;
                s
            }
            Self::Panic => {
                let mut s = ErrorSpec::new(c::SERVER_ERROR, &[], "");
                s.cause = Some("handler panicked".into());
                s
            }
        }
    }
}

/// What to send instead of an over-long parameter.
fn too_long_detail(name: &str, limit: usize) -> String {
    match name {
        "password" | "new_password" => {
            format!("Send a password of at most 256 characters ({limit} bytes at most as UTF-8).")
        }
        "username" => {
            format!("Send the user's e-mail address as username; addresses have at most {limit} bytes.")
        }
        "continuation_token" | "refresh_token" => {
            format!("Send the {name} exactly as the server returned it; this value is not one it issued.")
        }
        "oob" => "Send the one-time code exactly as it arrived in the e-mail.".to_owned(),
        _ => format!("Send a '{name}' of at most {limit} bytes."),
    }
}

fn flow_spec(e: FlowError) -> ErrorSpec {
    use FlowError as F;
    match e {
        F::TenantNotFound(t) => ErrorSpec::new(
            c::TENANT_NOT_FOUND,
            &[&t],
            "Use the tenant's name, its domain (name.onmicrosoft.com) or its GUID as the first path segment.",
        ),
        F::InvalidClientId => ErrorSpec::new(
            c::INVALID_CLIENT_ID,
            &[],
            "Send the application (client) id, a GUID, as client_id.",
        ),
        F::UnknownClient {
            client_id,
            tenant,
            other_tenant,
        } => {
            let detail = if other_tenant {
                "This app is registered in another tenant; call it under its own tenant's path."
            } else {
                "Check client_id, or register the app in this tenant (openciam app create)."
            };
            ErrorSpec::new(c::UNAUTHORIZED_CLIENT, &[&client_id, &tenant], detail)
        }
        F::NativeAuthDisabled(id) => ErrorSpec::new(
            c::NATIVE_AUTH_DISABLED,
            &[&id],
            "Enable native authentication for this app, which must be a public client.",
        ),
        F::InvalidUsername => ErrorSpec::new(
            c::INVALID_USERNAME,
            &[],
            "Send the user's e-mail address as username.",
        ),
        F::MissingParameter(p) => ApiError::Form(FormError::Missing(p)).spec(),
        F::UnknownChallengeType(v) => ErrorSpec::new(
            c::UNKNOWN_CHALLENGE_TYPE,
            &[&v],
            "Allowed values are oob, password and redirect.",
        ),
        F::RedirectMissing => ErrorSpec::new(
            c::REDIRECT_MISSING,
            &[],
            "Always include 'redirect' in challenge_type, e.g. 'oob password redirect'.",
        ),
        F::UserNotFound => ErrorSpec::new(
            c::USER_NOT_FOUND,
            &[],
            "No account exists for this username in this tenant; sign the user up first.",
        ),
        F::InvalidPassword => ErrorSpec::new(
            c::INVALID_PASSWORD,
            &[],
            "The password is wrong; the same continuation_token may be sent again with the right password.",
        ),
        F::UserDisabled => ErrorSpec::new(
            c::USER_DISABLED,
            &[],
            "An administrator disabled this account; it can be re-enabled with `openciam user enable`.",
        ),
        F::AccountLocked { retry_after } => ErrorSpec::new(
            c::ACCOUNT_LOCKED,
            &[],
            format!(
                "Too many wrong passwords: the account is locked for {retry_after} more second(s). Send the password again with the same continuation_token after that, or reset the password to unlock it now."
            ),
        ),
        F::TokenInvalid(problem) => ErrorSpec::new(c::CONTINUATION_TOKEN_INVALID, &[], token_detail(problem)),
        F::TokenExpired => ErrorSpec::new(
            c::CONTINUATION_TOKEN_EXPIRED,
            &[],
            "The token or its flow has expired; start the flow again from its first step.",
        ),
        F::IntrospectRequired => ErrorSpec::new(
            c::INTROSPECT_REQUIRED,
            &[],
            "Call oauth2/v2.0/introspect with the same continuation_token and then challenge with one of the listed method ids.",
        ),
        F::UnknownAuthMethod(id) => ErrorSpec::new(
            c::UNKNOWN_AUTH_METHOD,
            &[&id],
            "Send one of the ids oauth2/v2.0/introspect lists as id.",
        ),
        F::NoAuthMethod => ErrorSpec::new(
            c::NO_AUTH_METHOD,
            &[],
            "The user has no second-factor method this app allows; start the sign-in again.",
        ),
        F::UsernameMismatch => ErrorSpec::new(
            c::CONTINUATION_TOKEN_INVALID,
            &[],
            "The username sent does not match the user of this flow; send the flow's username or none.",
        ),
        F::UnsupportedGrant(g) => ErrorSpec::new(
            c::UNSUPPORTED_GRANT_TYPE,
            &[&g],
            "Supported grant types are password, oob, continuation_token and refresh_token.",
        ),
        F::InvalidScope(why) => ErrorSpec::new(
            c::INVALID_SCOPE,
            &[&why],
            "Ask for OIDC scopes and the scopes of one app of this tenant, e.g. 'openid api://demo/read'.",
        ),
        F::RefreshTokenInvalid => ErrorSpec::new(
            c::REFRESH_TOKEN_INVALID,
            &[],
            "The refresh token is unknown, malformed, or was issued to another client or tenant; sign in again.",
        ),
        F::RefreshTokenExpired => ErrorSpec::new(c::REFRESH_TOKEN_EXPIRED, &[], "Sign the user in again."),
        F::RefreshSessionMaxAge => ErrorSpec::new(
            c::REFRESH_SESSION_MAX_AGE,
            &[],
            "Refreshing does not extend a session past its maximum lifetime since sign-in; sign the user in again.",
        ),
        F::RefreshTokenRevoked => ErrorSpec::new(
            c::REFRESH_TOKEN_REVOKED,
            &[],
            "The session was revoked (a rotated refresh token was reused, the password changed, the account was disabled, or an administrator revoked it); sign the user in again.",
        ),
        F::UserAlreadyExists => ErrorSpec::new(
            c::USER_ALREADY_EXISTS,
            &[],
            "An account with this username exists in this tenant; sign in instead, or reset the password.",
        ),
        F::PasswordPolicy(v) => password_spec(v),
        F::AttributeValidation(names) => {
            let detail = format!("These attributes have invalid values: {}.", names.join(", "));
            let mut s = ErrorSpec::new(c::ATTRIBUTE_VALIDATION_FAILED, &[], detail);
            s.invalid_attributes = Some(names.into_iter().map(|name| AttributeName { name }).collect());
            s
        }
        F::AttributesMalformed => ErrorSpec::new(
            c::MISSING_PARAMETER,
            &["attributes"],
            "Send 'attributes' as a JSON object serialised to a string, e.g. {\"displayName\":\"Jane\"}.",
        ),
        F::PasswordRecentlyUsed => ErrorSpec::new(
            c::PASSWORD_RECENTLY_USED,
            &[],
            "The new password is the current one; choose a different password and send it with the same continuation_token.",
        ),
        F::NoPassword => ErrorSpec::new(
            c::NO_PASSWORD,
            &[],
            "This account signs in with an e-mailed code and has no password to reset.",
        ),
        F::InvalidCode(problem) => ErrorSpec::new(c::INVALID_OOB_VALUE, &[], code_detail(problem)),
        F::TooManyCodes { retry_after } => {
            let detail = match retry_after {
                Some(secs) => format!("Wait {secs} seconds before requesting another code; the current code and continuation_token stay valid."),
                None => "This flow or address reached its limit of codes; enter the last code received, or start again later.".to_owned(),
            };
            ErrorSpec::new(c::TOO_MANY_CODES, &[], detail)
        }
        F::MailUnavailable(cause) => {
            let mut s = ErrorSpec::new(
                c::MAIL_UNAVAILABLE,
                &[],
                "The code e-mail could not be sent; nothing changed. Call challenge again with the same continuation_token after the Retry-After delay.",
            );
            s.cause = Some(format!("{cause:#}"));
            s.retry_after(5)
        }
        F::SmsUnavailable(cause) => {
            let mut s = ErrorSpec::new(
                c::SMS_UNAVAILABLE,
                &[],
                "The code SMS could not be sent; nothing changed. Call challenge again with the same continuation_token after the Retry-After delay, or choose another method.",
            );
            s.cause = Some(format!("{cause:#}"));
            s.retry_after(5)
        }
        F::InvalidChallengeTarget { target, reason } => ErrorSpec::new(
            c::INVALID_CHALLENGE_TARGET,
            &[&target],
            format!("{reason}. Phone numbers need the international form, e.g. +15551234567."),
        ),
        F::RateLimited(hit) => rate_limited_spec(hit),
        F::Overloaded => ErrorSpec::new(
            c::OVERLOADED,
            &[],
            "The server is busy hashing passwords and shed this request before doing anything: nothing changed and the continuation_token stays valid. Send the same request again after the Retry-After delay (1 second).",
        )
        .retry_after(1),
        F::StorageUnavailable(cause) => {
            let mut s = ErrorSpec::new(c::DATABASE_UNAVAILABLE, &[], "Retry after the Retry-After delay.");
            s.cause = Some(format!("{cause:#}"));
            s.retry_after(5)
        }
        F::StorageFull(cause) => {
            let mut s = ErrorSpec::new(
                c::DATABASE_UNAVAILABLE,
                &[],
                "The server's storage is full: nothing was saved and the continuation_token stays valid. Retry after the Retry-After delay.",
            );
            s.cause = Some(format!("{cause:#}"));
            s.retry_after(5)
        }
        F::Internal(cause) => {
            let mut s = ErrorSpec::new(c::SERVER_ERROR, &[], "");
            s.cause = Some(format!("{cause:#}"));
            s
        }
    }
}

/// A 429: which limit was hit, its numbers, and when to retry (spec §7.1).
fn rate_limited_spec(hit: RateLimited) -> ErrorSpec {
    let what = match hit.limit {
        LimitName::Ip => "requests from this IP address to this tenant",
        LimitName::Password => "password attempts for this account",
        LimitName::SignUpStart => "sign-ups started for this address",
        LimitName::ResetStart => "password resets started for this address",
        LimitName::SmsNumber => "text messages to this phone number",
        LimitName::SmsCountry => "text messages to phone numbers of this country calling code",
    };
    let detail = format!(
        "Rate limit '{}' reached: at most {} {what} per {} second(s). Send the same request again after {} second(s) (Retry-After); nothing was changed and the continuation_token stays valid.",
        hit.limit.as_str(),
        hit.max,
        hit.window_seconds,
        hit.retry_after,
    );
    ErrorSpec::new(c::RATE_LIMITED, &[], detail).retry_after(hit.retry_after)
}

fn password_spec(v: PolicyViolation) -> ErrorSpec {
    let (entry, detail) = match v {
        PolicyViolation::TooShort => (
            c::PASSWORD_TOO_SHORT,
            "Choose a longer password (at least 8 characters).",
        ),
        PolicyViolation::TooLong => (
            c::PASSWORD_TOO_LONG,
            "Choose a password of at most 256 characters.",
        ),
        PolicyViolation::Invalid => (
            c::PASSWORD_IS_INVALID,
            "Remove control characters (tabs, line breaks) from the password.",
        ),
        PolicyViolation::Banned => (
            c::PASSWORD_BANNED,
            "This password is on the list of common passwords; choose another.",
        ),
        PolicyViolation::TooWeak => (
            c::PASSWORD_TOO_WEAK,
            "Use at least three of: lower-case letters, upper-case letters, digits, symbols.",
        ),
    };
    ErrorSpec::new(
        entry,
        &[],
        format!("{detail} The same continuation_token may be sent again."),
    )
}

fn code_detail(problem: CodeProblem) -> &'static str {
    match problem {
        CodeProblem::Wrong => {
            "The code is wrong; send the code from the latest e-mail with the same continuation_token."
        }
        CodeProblem::Burnt => {
            "Too many wrong codes: this code no longer works. Request a new code by calling challenge with the same continuation_token."
        }
        CodeProblem::Expired => {
            "The code has expired. Request a new code by calling challenge with the same continuation_token."
        }
        CodeProblem::NoCode => {
            "No code is pending for this flow. Request one by calling challenge with the same continuation_token."
        }
    }
}

fn token_detail(problem: TokenProblem) -> String {
    match problem {
        TokenProblem::Unrecognised => {
            "The token is not one this server issued, or its flow ended long ago; start the flow again.".into()
        }
        TokenProblem::OtherTenant => {
            "The token was issued under another tenant; use it under the tenant that issued it.".into()
        }
        TokenProblem::OtherClient => {
            "The token was issued to another client_id; continue the flow with the app that started it.".into()
        }
        TokenProblem::Superseded => "The token was superseded: its flow has advanced or it was already redeemed; send the newest continuation_token you received.".into(),
        TokenProblem::WrongUse { belongs, used } => {
            format!("This token was sent to {used}, but it belongs to {belongs}; send it there instead.")
        }
    }
}
