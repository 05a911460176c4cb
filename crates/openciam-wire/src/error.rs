//! The error catalogue and the Entra error envelope (spec §4.2, §7, §7.1).
//!
//! This module is the only place where Entra's `error` / `suberror` strings, AADSTS numbers and the
//! HTTP status of an error appear. Entries whose number the spec marks UNCONFIRMED use the codes of
//! spec §7.1 ("Codes openciam uses"); entries the spec does not cover at all are marked
//! "openciam choice" and only ever describe malformed requests, which no client branches on.

use serde::Serialize;

/// One kind of error as it goes on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CatalogueEntry {
    /// The `error` member.
    pub error: &'static str,
    /// The `suberror` member, when the clients branch on one.
    pub suberror: Option<&'static str>,
    /// The AADSTS number: first (and only) element of `error_codes`, and the description prefix.
    pub code: u32,
    /// Entra's message. `{0}`, `{1}` are replaced by the arguments given when the error is built.
    pub message: &'static str,
    /// HTTP status (400 for every protocol error, spec §2.2).
    pub status: u16,
}

macro_rules! entry {
    ($name:ident, $doc:literal, $error:literal, $sub:expr, $code:literal, $status:literal, $msg:literal) => {
        #[doc = $doc]
        pub const $name: CatalogueEntry = CatalogueEntry {
            error: $error,
            suberror: $sub,
            code: $code,
            message: $msg,
            status: $status,
        };
    };
}

/// Every error openciam sends.
pub mod catalogue {
    use super::CatalogueEntry;

    // Request shape (openciam choices where noted; 900144 is Entra's missing-parameter code).
    entry!(
        MISSING_PARAMETER,
        "A required parameter is absent or empty.",
        "invalid_request",
        None,
        900144,
        400,
        "The request body must contain the following parameter: '{0}'."
    );
    entry!(
        DUPLICATE_PARAMETER,
        "A parameter the endpoint reads was sent twice (openciam choice).",
        "invalid_request",
        None,
        90015,
        400,
        "The request contains the parameter '{0}' more than once."
    );
    entry!(
        UNSUPPORTED_MEDIA_TYPE,
        "The body is not a form (Entra answers such bodies with 900144).",
        "invalid_request",
        None,
        900144,
        400,
        "The request body must be application/x-www-form-urlencoded."
    );
    entry!(
        PARAMETER_TOO_LONG,
        "A parameter exceeds its byte limit (openciam choice, issue 6; Entra's code for an over-long request parameter).",
        "invalid_request",
        None,
        90011,
        400,
        "The parameter '{0}' is longer than the maximum of {1} bytes."
    );
    entry!(
        BODY_TOO_LARGE,
        "The body exceeds the configured cap (openciam choice).",
        "invalid_request",
        None,
        90011,
        400,
        "The request body is larger than the maximum of {0} bytes."
    );
    entry!(
        NOT_FOUND,
        "No such endpoint, or a method it does not accept.",
        "invalid_request",
        None,
        900561,
        404,
        "The endpoint does not exist or does not accept this method."
    );
    entry!(
        INVALID_USERNAME,
        "Username empty or malformed (spec §5.1; clients match the phrase).",
        "invalid_request",
        None,
        90100,
        400,
        "The username parameter is empty or not valid."
    );
    entry!(
        INVALID_CLIENT_ID,
        "client_id empty or malformed (spec §7).",
        "invalid_request",
        None,
        90100,
        400,
        "The client_id parameter is empty or not valid."
    );

    // Tenant and client.
    entry!(
        TENANT_NOT_FOUND,
        "Unknown tenant in the path (spec §7.1).",
        "invalid_request",
        None,
        90002,
        400,
        "Tenant '{0}' not found."
    );
    entry!(
        UNAUTHORIZED_CLIENT,
        "client_id unknown in the tenant (spec §7.1: 700016).",
        "unauthorized_client",
        None,
        700016,
        400,
        "Application with identifier '{0}' was not found in the directory '{1}'."
    );
    entry!(
        NATIVE_AUTH_DISABLED,
        "App is not a public client or has native auth off (spec §7.1).",
        "invalid_client",
        Some("nativeauthapi_disabled"),
        700016,
        400,
        "Application with identifier '{0}' is not enabled for native authentication."
    );

    // Challenge types (spec §7.1).
    entry!(
        REDIRECT_MISSING,
        "challenge_type lacks `redirect`.",
        "unsupported_challenge_type",
        None,
        901007,
        400,
        "The challenge_type list parameter does not include the 'redirect' type."
    );
    entry!(
        UNKNOWN_CHALLENGE_TYPE,
        "challenge_type lists an unknown value (MSAL.js matches the phrase).",
        "invalid_request",
        None,
        90100,
        400,
        "The challenge_type list parameter contains an unsupported challenge type '{0}'."
    );

    // Users and credentials.
    entry!(
        USER_NOT_FOUND,
        "Unknown user (spec §5.4).",
        "user_not_found",
        None,
        50034,
        400,
        "The user account does not exist in the directory."
    );
    entry!(
        INVALID_PASSWORD,
        "Wrong password: exactly [50126] (Android reads element 0).",
        "invalid_grant",
        None,
        50126,
        400,
        "Error validating credentials due to invalid username or password."
    );
    entry!(
        USER_DISABLED,
        "User disabled (spec §7.1).",
        "invalid_grant",
        None,
        50057,
        400,
        "The user account is disabled."
    );
    entry!(
        ACCOUNT_LOCKED,
        "Smart lockout: too many failed sign-in attempts (spec §7.1).",
        "invalid_grant",
        None,
        50053,
        400,
        "The account is locked because of too many failed sign-in attempts."
    );

    // Sign-up (spec §5.1-5.3, §7.1).
    entry!(
        USER_ALREADY_EXISTS,
        "The username is registered (spec §5.1).",
        "user_already_exists",
        None,
        1003037,
        400,
        "User already exists."
    );
    entry!(
        CREDENTIAL_REQUIRED,
        "Next step: a password (MSAL.js needs 55103).",
        "credential_required",
        None,
        55103,
        400,
        "Credential required."
    );
    entry!(
        ATTRIBUTES_REQUIRED,
        "Next step: required attributes.",
        "attributes_required",
        None,
        55106,
        400,
        "User attributes required."
    );
    entry!(
        ATTRIBUTE_VALIDATION_FAILED,
        "Attribute values invalid (spec §7.1: 55107).",
        "invalid_grant",
        Some("attribute_validation_failed"),
        55107,
        400,
        "Attribute validation failed."
    );
    entry!(
        PASSWORD_TOO_SHORT,
        "Password policy (spec §7.1: every suberror uses 399246).",
        "invalid_grant",
        Some("password_too_short"),
        399246,
        400,
        "The password is too short."
    );
    entry!(
        PASSWORD_TOO_LONG,
        "Password policy.",
        "invalid_grant",
        Some("password_too_long"),
        399246,
        400,
        "The password is too long."
    );
    entry!(
        PASSWORD_IS_INVALID,
        "Password policy: control characters.",
        "invalid_grant",
        Some("password_is_invalid"),
        399246,
        400,
        "The password contains characters that are not allowed."
    );
    entry!(
        PASSWORD_BANNED,
        "Password policy: common password.",
        "invalid_grant",
        Some("password_banned"),
        399246,
        400,
        "The password is too common."
    );
    entry!(
        PASSWORD_TOO_WEAK,
        "Password policy: complexity (confirmed code).",
        "invalid_grant",
        Some("password_too_weak"),
        399246,
        400,
        "The password is too weak."
    );
    entry!(
        PASSWORD_RECENTLY_USED,
        "Password policy: the current password again.",
        "invalid_grant",
        Some("password_recently_used"),
        399246,
        400,
        "The password was used recently."
    );
    entry!(
        INVALID_OOB_VALUE,
        "Wrong, burnt or expired code (spec §7.1).",
        "invalid_grant",
        Some("invalid_oob_value"),
        50181,
        400,
        "Unable to validate the otp."
    );
    entry!(
        TOO_MANY_CODES,
        "Resend too soon or over a cap (spec §7.1).",
        "invalid_request",
        None,
        701014,
        400,
        "Cannot generate more one time passcodes."
    );
    entry!(
        MAIL_UNAVAILABLE,
        "The code e-mail could not be sent (spec §7.1).",
        "temporarily_unavailable",
        None,
        90033,
        503,
        "A transient error has occurred. Please try again."
    );

    entry!(
        SMS_UNAVAILABLE,
        "The code SMS could not be sent: provider down, refused, or none configured (spec §7.1).",
        "temporarily_unavailable",
        None,
        90033,
        503,
        "A transient error has occurred. Please try again."
    );
    entry!(
        INVALID_CHALLENGE_TARGET,
        "A challenge target (phone number or e-mail address) is not acceptable (spec §5.9: 901001).",
        "invalid_request",
        None,
        901001,
        400,
        "The provided challenge target '{0}' is not valid."
    );

    // Password reset.
    entry!(
        NO_PASSWORD,
        "Reset of an account without a password (spec §5.11).",
        "invalid_request",
        None,
        500222,
        400,
        "The user account does not have a password."
    );

    // Second factor (spec §3.3, §3.4, §5.5-5.10, §7.1).
    entry!(
        MFA_REQUIRED,
        "Next step: the second factor (spec §7.1: 50076).",
        "invalid_grant",
        Some("mfa_required"),
        50076,
        400,
        "Multi-factor authentication is required."
    );
    entry!(
        REGISTRATION_REQUIRED,
        "Next step: register a strong-auth method (spec §7.1: 50079).",
        "invalid_grant",
        Some("registration_required"),
        50079,
        400,
        "The user is required to register a strong authentication method."
    );
    entry!(
        INTROSPECT_REQUIRED,
        "A second-factor challenge without id, and no default method (spec §5.5; openciam uses 50076).",
        "invalid_request",
        Some("introspect_required"),
        50076,
        400,
        "No default strong authentication method; call introspect."
    );
    entry!(
        UNKNOWN_AUTH_METHOD,
        "A second-factor challenge named a method the user does not have (openciam choice).",
        "invalid_request",
        None,
        900144,
        400,
        "The strong authentication method '{0}' is not registered for this user."
    );
    entry!(
        NO_AUTH_METHOD,
        "Nothing to offer as second factor: the user's methods were removed mid-flow, or the app allows none (openciam choice).",
        "invalid_request",
        None,
        50076,
        400,
        "No strong authentication method is available."
    );

    // Continuation tokens (spec §6.3 openciam decision).
    entry!(
        CONTINUATION_TOKEN_INVALID,
        "Dead, foreign, malformed or wrong-step continuation token.",
        "invalid_request",
        None,
        55200,
        400,
        "The continuation_token is invalid."
    );
    entry!(
        CONTINUATION_TOKEN_EXPIRED,
        "Expired continuation token.",
        "expired_token",
        None,
        552003,
        400,
        "The continuation_token is expired."
    );

    // Token endpoint.
    entry!(
        UNSUPPORTED_GRANT_TYPE,
        "Unknown grant_type (spec §7.1: 70003).",
        "unsupported_grant_type",
        None,
        70003,
        400,
        "The app requested an unsupported grant type '{0}'."
    );
    entry!(
        INVALID_SCOPE,
        "Unknown scope or scopes of several resources (spec §7.1: 70011).",
        "invalid_scope",
        None,
        70011,
        400,
        "The provided value for the input parameter 'scope' is not valid. {0}"
    );
    entry!(
        REFRESH_TOKEN_INVALID,
        "Refresh token unknown, malformed or of another client (spec §7.1).",
        "invalid_grant",
        None,
        70000,
        400,
        "The provided value for the 'refresh_token' is not valid."
    );
    entry!(
        REFRESH_TOKEN_EXPIRED,
        "Refresh token expired (spec §7.1).",
        "invalid_grant",
        None,
        700082,
        400,
        "The refresh token has expired due to inactivity."
    );
    entry!(
        REFRESH_SESSION_MAX_AGE,
        "Refresh token's session older than the absolute refresh lifetime (spec §7.1: 700082).",
        "invalid_grant",
        None,
        700082,
        400,
        "The refresh token has expired because the session reached its maximum lifetime."
    );
    entry!(
        REFRESH_TOKEN_REVOKED,
        "Refresh token revoked: reuse, reset, disable, admin (spec §7.1).",
        "invalid_grant",
        None,
        50173,
        400,
        "The provided grant has expired due to it being revoked, a fresh auth token is needed."
    );

    // Overload and failures (spec §7.1).
    entry!(
        RATE_LIMITED,
        "A per-IP or per-account request-rate limit was reached (spec §7.1; 90055 is UNCONFIRMED there).",
        "temporarily_unavailable",
        None,
        90055,
        429,
        "Too many requests; this request was throttled."
    );
    entry!(
        OVERLOADED,
        "Load shedding: the password-hash queue is full.",
        "temporarily_unavailable",
        None,
        90033,
        503,
        "A transient error has occurred. Please try again."
    );
    entry!(
        DATABASE_UNAVAILABLE,
        "The database cannot be reached.",
        "server_error",
        None,
        90033,
        503,
        "A transient error has occurred. Please try again."
    );
    entry!(
        SERVER_ERROR,
        "Any other unexpected failure; the body stays opaque.",
        "server_error",
        None,
        50000,
        500,
        "There was an error issuing a token or an issue with our sign-in service."
    );
}

/// Correlation data every error body carries.
#[derive(Debug, Clone)]
pub struct Correlation {
    /// Fresh id of this request (GUID).
    pub trace_id: String,
    /// The caller's `client-request-id` (or a new GUID).
    pub correlation_id: String,
    /// `yyyy-mm-dd hh:mm:ssZ`.
    pub timestamp: String,
}

/// One item of `required_attributes` (spec §4.6).
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct RequiredAttribute {
    /// Attribute name.
    pub name: String,
    /// `string`, `boolean` or `int`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Always present (iOS decodes it non-optionally).
    pub required: bool,
    /// Validation hints such as `{"regex": …}`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub options: Option<serde_json::Value>,
}

/// One item of `invalid_attributes` (spec §4.6): a name only, every value a string.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct AttributeName {
    /// Attribute name.
    pub name: String,
}

/// The Entra error envelope (spec §4.2).
#[derive(Debug, Clone, Serialize)]
pub struct ErrorBody {
    /// Error name.
    pub error: String,
    /// `AADSTS<code>: <message> <detail>` then the trace lines.
    pub error_description: String,
    /// Never empty.
    pub error_codes: Vec<u32>,
    /// When the clients branch on one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub suberror: Option<String>,
    /// `yyyy-mm-dd hh:mm:ssZ`.
    pub timestamp: String,
    /// This request's id.
    pub trace_id: String,
    /// The caller's `client-request-id`.
    pub correlation_id: String,
    /// For next steps carried by a 400 (`credential_required`, `attributes_required`, …).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub continuation_token: Option<String>,
    /// With `attributes_required`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub required_attributes: Option<Vec<RequiredAttribute>>,
    /// With `attribute_validation_failed`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub invalid_attributes: Option<Vec<AttributeName>>,
}

impl ErrorBody {
    /// Builds the envelope: Entra's message (with `args` filled in), then `detail` — one plain
    /// sentence saying what was wrong and what to send instead — then the trace lines.
    pub fn new(entry: &CatalogueEntry, args: &[&str], detail: &str, corr: &Correlation) -> Self {
        let mut message = entry.message.to_owned();
        for (i, arg) in args.iter().enumerate() {
            message = message.replace(&format!("{{{i}}}"), arg);
        }
        let mut description = format!("AADSTS{}: {}", entry.code, message.trim_end());
        if !detail.is_empty() {
            description.push(' ');
            description.push_str(detail);
        }
        description.push_str(&format!(
            "\r\nTrace ID: {}\r\nCorrelation ID: {}\r\nTimestamp: {}",
            corr.trace_id, corr.correlation_id, corr.timestamp
        ));
        Self {
            error: entry.error.to_owned(),
            error_description: description,
            error_codes: vec![entry.code],
            suberror: entry.suberror.map(str::to_owned),
            timestamp: corr.timestamp.clone(),
            trace_id: corr.trace_id.clone(),
            correlation_id: corr.correlation_id.clone(),
            continuation_token: None,
            required_attributes: None,
            invalid_attributes: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn corr() -> Correlation {
        Correlation {
            trace_id: "t".into(),
            correlation_id: "c".into(),
            timestamp: "2025-07-30 10:15:00Z".into(),
        }
    }

    #[test]
    fn description_has_code_message_detail_and_trace_lines() {
        let body = ErrorBody::new(&catalogue::TENANT_NOT_FOUND, &["nope"], "Use demo.", &corr());
        assert_eq!(
            body.error_description,
            "AADSTS90002: Tenant 'nope' not found. Use demo.\r\nTrace ID: t\r\nCorrelation ID: c\r\nTimestamp: 2025-07-30 10:15:00Z"
        );
        assert_eq!(body.error_codes, vec![90002]);
    }

    #[test]
    fn wrong_password_is_exactly_50126() {
        let body = ErrorBody::new(&catalogue::INVALID_PASSWORD, &[], "", &corr());
        assert_eq!(body.error, "invalid_grant");
        assert_eq!(body.error_codes, vec![50126]);
        assert!(body.suberror.is_none());
    }

    #[test]
    fn client_phrases_are_kept() {
        assert!(
            catalogue::INVALID_USERNAME
                .message
                .contains("username parameter is empty or not valid")
        );
        assert!(
            catalogue::UNKNOWN_CHALLENGE_TYPE
                .message
                .contains("The challenge_type list parameter contains an unsupported challenge type")
        );
    }
}
