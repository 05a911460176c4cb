//! Errors a request can end in. Each variant is something the caller did or hit; `openciam-http`
//! maps every variant to a catalogue entry with an exhaustive `match`.
//!
//! Next steps that Entra encodes as HTTP 400 bodies (`credential_required`, …) are *not* here: they
//! are ordinary outcomes of the flows.

use crate::ports::StoreError;
use crate::strategy::password_policy::PolicyViolation;

/// Why a one-time code was refused (all `invalid_grant` + `invalid_oob_value`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CodeProblem {
    /// Wrong code; tries remain.
    Wrong,
    /// The try limit was reached: the code is burnt.
    Burnt,
    /// The code expired.
    Expired,
    /// No code is live for this flow (never sent, or already used).
    NoCode,
}

/// Why a continuation token was refused (all map to `invalid_request` [55200] except expiry).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenProblem {
    /// Not a token this server issued (or its flow was purged).
    Unrecognised,
    /// Issued under another tenant.
    OtherTenant,
    /// Issued to another client.
    OtherClient,
    /// Its flow advanced: a newer token replaced it, or it was already redeemed.
    Superseded,
    /// Valid, but for another endpoint or grant.
    WrongUse {
        /// Where the token belongs, e.g. "oauth2/v2.0/token with grant_type=continuation_token".
        belongs: &'static str,
        /// Where it was sent.
        used: String,
    },
}

/// A request's failure.
#[derive(Debug, thiserror::Error)]
pub enum FlowError {
    /// No tenant under this path segment.
    #[error("tenant not found")]
    TenantNotFound(String),
    /// `client_id` is not a GUID.
    #[error("client_id invalid")]
    InvalidClientId,
    /// No such app in this tenant.
    #[error("client unknown in tenant")]
    UnknownClient {
        /// As sent.
        client_id: String,
        /// Tenant name.
        tenant: String,
        /// Set when the app exists under another tenant.
        other_tenant: bool,
    },
    /// App not public or native auth off.
    #[error("native auth disabled for client")]
    NativeAuthDisabled(String),
    /// `username` is empty or not an e-mail address.
    #[error("username invalid")]
    InvalidUsername,
    /// A required parameter (named in wire vocabulary) is missing.
    #[error("missing parameter {0}")]
    MissingParameter(&'static str),
    /// `challenge_type` lists something unknown.
    #[error("unknown challenge type")]
    UnknownChallengeType(String),
    /// `challenge_type` lacks `redirect`.
    #[error("challenge_type lacks redirect")]
    RedirectMissing,
    /// No such user.
    #[error("user not found")]
    UserNotFound,
    /// Wrong password.
    #[error("invalid password")]
    InvalidPassword,
    /// The account is disabled.
    #[error("user disabled")]
    UserDisabled,
    /// Smart lockout: too many wrong passwords; locked for `retry_after` more seconds.
    #[error("account locked")]
    AccountLocked {
        /// Seconds until the lock ends.
        retry_after: u64,
    },
    /// The continuation token cannot be used here.
    #[error("continuation token invalid")]
    TokenInvalid(TokenProblem),
    /// The continuation token (or its whole flow) has expired.
    #[error("continuation token expired")]
    TokenExpired,
    /// `username` at the continuation-token grant differs from the flow's user.
    #[error("username does not match the flow")]
    UsernameMismatch,
    /// Unknown `grant_type`.
    #[error("unsupported grant type")]
    UnsupportedGrant(String),
    /// Unknown scope, or scopes of several resources.
    #[error("invalid scope")]
    InvalidScope(String),
    /// Refresh token unknown, malformed or of another client/tenant.
    #[error("refresh token invalid")]
    RefreshTokenInvalid,
    /// Refresh token expired.
    #[error("refresh token expired")]
    RefreshTokenExpired,
    /// The refresh token's family (the sign-in) is older than the absolute refresh lifetime.
    #[error("refresh session reached its maximum lifetime")]
    RefreshSessionMaxAge,
    /// Refresh token's family revoked (reuse, reset, disable, admin).
    #[error("refresh token revoked")]
    RefreshTokenRevoked,
    /// The username is registered already.
    #[error("user already exists")]
    UserAlreadyExists,
    /// A new password violates the tenant's policy.
    #[error("password policy")]
    PasswordPolicy(PolicyViolation),
    /// Attribute values failed validation (names of the failing attributes).
    #[error("attribute validation failed")]
    AttributeValidation(Vec<String>),
    /// The `attributes` parameter is not a JSON object.
    #[error("attributes not a JSON object")]
    AttributesMalformed,
    /// The new password is the current one (reset).
    #[error("password recently used")]
    PasswordRecentlyUsed,
    /// The account has no password to reset (code-only account).
    #[error("user has no password")]
    NoPassword,
    /// A second-factor challenge without `id` and no default method (spec §5.5).
    #[error("introspect required")]
    IntrospectRequired,
    /// A second-factor challenge named a method the user does not have (or the app does not
    /// allow).
    #[error("unknown authentication method")]
    UnknownAuthMethod(String),
    /// The user has no second-factor method left to offer (removed mid-flow), or the app allows
    /// none to register.
    #[error("no authentication method")]
    NoAuthMethod,
    /// A one-time code was refused.
    #[error("invalid code")]
    InvalidCode(CodeProblem),
    /// Too many codes: resend too soon or a cap reached. `retry_after` seconds until allowed.
    #[error("too many codes")]
    TooManyCodes {
        /// Seconds until a resend is allowed, when known.
        retry_after: Option<u64>,
    },
    /// The code e-mail could not be sent; nothing advanced.
    #[error("mail unavailable")]
    MailUnavailable(#[source] anyhow::Error),
    /// The code SMS could not be sent (provider down or refusing, or none configured); nothing
    /// advanced.
    #[error("sms unavailable")]
    SmsUnavailable(#[source] anyhow::Error),
    /// A challenge target (the phone number or e-mail address a user typed for a method) is not
    /// acceptable; the reason is in the description.
    #[error("invalid challenge target")]
    InvalidChallengeTarget {
        /// The target as typed.
        target: String,
        /// Why it was refused, in plain English.
        reason: String,
    },
    /// Too much work queued (password hashing); retry shortly.
    #[error("overloaded")]
    Overloaded,
    /// A request-rate limit was reached (spec §7.1: 429 with `Retry-After`).
    #[error("rate limited")]
    RateLimited(crate::security::limiter::RateLimited),
    /// The database is unreachable.
    #[error("storage unavailable")]
    StorageUnavailable(#[source] anyhow::Error),
    /// The database is full; nothing was written.
    #[error("storage full")]
    StorageFull(#[source] anyhow::Error),
    /// Anything unexpected; the cause is logged, never sent.
    #[error("internal error")]
    Internal(#[source] anyhow::Error),
}

impl From<crate::sms::SmsError> for FlowError {
    fn from(e: crate::sms::SmsError) -> Self {
        match e {
            crate::sms::SmsError::Unavailable(e) | crate::sms::SmsError::Rejected(e) => {
                Self::SmsUnavailable(e)
            }
        }
    }
}

impl FlowError {
    /// `invalid_request` `[901001]` for a phone number that [`PhoneNumber::parse`](crate::phone::PhoneNumber::parse) refused.
    pub fn invalid_phone(target: &str, why: crate::phone::InvalidPhoneNumber) -> Self {
        Self::InvalidChallengeTarget {
            target: target.to_owned(),
            reason: format!("{why}"),
        }
    }
}

impl From<StoreError> for FlowError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Unavailable(e) => Self::StorageUnavailable(e),
            StoreError::Full(e) => Self::StorageFull(e),
            StoreError::Conflict(m) => Self::Internal(anyhow::anyhow!("unexpected conflict: {m}")),
            StoreError::Other(e) => Self::Internal(e),
        }
    }
}

/// Result of core operations.
pub type FlowResult<T> = Result<T, FlowError>;
