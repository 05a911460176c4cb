//! Records the core reads and writes through the storage ports. Times are Unix seconds (UTC).
//! No record holds a secret in clear: tokens appear only as SHA-256 hashes, passwords as PHC
//! strings, private keys encrypted under the master key.

use crate::ids::{AuthMethodId, ClientId, FamilyId, FlowId, TenantId, UserId};
use crate::mfa::MfaPolicy;
use crate::security::TenantSecurity;
use crate::strategy::password_policy::PolicyProfile;
use serde::{Deserialize, Serialize};

/// A tenant (directory).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tenant {
    /// GUID.
    pub id: TenantId,
    /// Short name, e.g. `demo` (lower-case).
    pub name: String,
    /// Domain form, e.g. `demo.onmicrosoft.com` (lower-case).
    pub domain: String,
    /// Which new passwords the tenant accepts (stored as JSON).
    pub password_policy: PolicyProfile,
    /// Lockout, rate limits, enumeration protection (stored as JSON).
    pub security: TenantSecurity,
    /// Unix seconds.
    pub created_at: i64,
}

/// Which sign-in methods an app's user flow offers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SignInMethod {
    /// E-mail + password.
    EmailPassword,
    /// E-mail one-time code only.
    EmailOtp,
}

/// An application registered in a tenant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct App {
    /// Application id.
    pub client_id: ClientId,
    /// Owning tenant.
    pub tenant_id: TenantId,
    /// Human name.
    pub display_name: String,
    /// Public client (no secret), required for native auth.
    pub public_client: bool,
    /// Native auth enabled.
    pub native_auth: bool,
    /// The user flow's method.
    pub method: SignInMethod,
    /// Origins whose browsers may call the API for this app (CORS, spec §2.5).
    pub cors_origins: Vec<String>,
    /// Resource identifier, e.g. `api://demo`, when the app exposes scopes.
    pub identifier_uri: Option<String>,
    /// Scopes the app exposes, short form (`read`).
    pub scopes: Vec<String>,
    /// Attributes the app's sign-up collects (stored as JSON).
    pub signup_attributes: Vec<AttributeSpec>,
    /// The app's second-factor policy; `None` follows the tenant's (`TenantSecurity::mfa`).
    pub mfa: Option<MfaPolicy>,
    /// Unix seconds.
    pub created_at: i64,
}

/// The declared type of a sign-up attribute.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AttributeKind {
    /// Text.
    String,
    /// `true` / `false`.
    Boolean,
    /// A whole number.
    Int,
}

/// One attribute an app's sign-up collects, with its validation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AttributeSpec {
    /// Built-in name (`displayName`, `city`, …) or `extension_<appid>_<name>`.
    pub name: String,
    /// Declared type; values are coerced to it.
    #[serde(rename = "type", default = "default_kind")]
    pub kind: AttributeKind,
    /// Whether sign-up needs it.
    #[serde(default)]
    pub required: bool,
    /// Fewest characters (strings).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_length: Option<usize>,
    /// Most characters (strings); defaults to the spec §9 limit of a built-in name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_length: Option<usize>,
    /// Regular expression the whole value must match (strings).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pattern: Option<String>,
    /// Allowed values (strings and ints, compared as text).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allowed_values: Vec<String>,
}

fn default_kind() -> AttributeKind {
    AttributeKind::String
}

/// A one-time code, stored only as a keyed hash. One live code per flow.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OtpRecord {
    /// The flow it belongs to.
    pub flow_id: FlowId,
    /// HMAC-SHA256 of the code under a key derived from the master key.
    pub code_hash: Vec<u8>,
    /// Normalised address it was sent to.
    pub address: String,
    /// Unix seconds.
    pub created_at: i64,
    /// Unix seconds.
    pub expires_at: i64,
}

/// What one verification attempt found, after atomically counting the attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OtpAttempt {
    /// The flow has no code.
    NoCode,
    /// The code was already used.
    Used,
    /// The code has expired (not counted).
    Expired,
    /// The code is burnt: the try limit was reached (not counted).
    Exhausted,
    /// This attempt was counted (it is number `attempts`); compare against `code_hash`.
    Check {
        /// The stored hash.
        code_hash: Vec<u8>,
        /// Attempts so far, this one included.
        attempts: i64,
    },
}

/// A customer account.
#[derive(Debug, Clone, PartialEq)]
pub struct User {
    /// Object id.
    pub id: UserId,
    /// Tenant.
    pub tenant_id: TenantId,
    /// As typed at sign-up.
    pub username: String,
    /// Comparison key, unique per tenant.
    pub username_normalized: String,
    /// PHC string; `None` for code-only accounts.
    pub password_hash: Option<String>,
    /// Disabled accounts cannot get tokens.
    pub disabled: bool,
    /// Attribute values (`displayName`, `city`, …).
    pub attributes: serde_json::Map<String, serde_json::Value>,
    /// Unix seconds.
    pub created_at: i64,
    /// Unix seconds.
    pub updated_at: i64,
}

/// The channel through which a strong-auth (second-factor) method receives its codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AuthMethodKind {
    /// A code by e-mail (to the sign-in address or another one).
    Email,
    /// A code by SMS to an E.164 phone number.
    Sms,
}

impl AuthMethodKind {
    /// Stable storage and wire name (`email`, `sms`), also the `challenge_channel` value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Email => "email",
            Self::Sms => "sms",
        }
    }

    /// Inverse of [`AuthMethodKind::as_str`] (case-insensitive).
    pub fn parse(s: &str) -> Option<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "email" => Some(Self::Email),
            "sms" => Some(Self::Sms),
            _ => None,
        }
    }
}

/// A strong-auth method registered on a user: where second-factor codes go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthMethod {
    /// Stable id (introspect `id`, CLI `--id`).
    pub id: AuthMethodId,
    /// Tenant.
    pub tenant_id: TenantId,
    /// Owner.
    pub user_id: UserId,
    /// E-mail or SMS.
    pub kind: AuthMethodKind,
    /// Normalised target: a lower-case e-mail address, or an E.164 phone number (`+15551234567`).
    pub target: String,
    /// Unix seconds.
    pub created_at: i64,
    /// When a code sent through it last completed a sign-in (Unix seconds).
    pub last_used_at: Option<i64>,
}

/// The kind of a flow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FlowKind {
    /// Sign-in.
    SignIn,
    /// Sign-up.
    SignUp,
    /// Self-service password reset.
    ResetPassword,
}

impl FlowKind {
    /// Stable storage name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::SignIn => "sign_in",
            Self::SignUp => "sign_up",
            Self::ResetPassword => "reset_password",
        }
    }

    /// Inverse of [`FlowKind::as_str`].
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "sign_in" => Some(Self::SignIn),
            "sign_up" => Some(Self::SignUp),
            "reset_password" => Some(Self::ResetPassword),
            _ => None,
        }
    }
}

/// A flow: what continuation tokens point at.
#[derive(Debug, Clone, PartialEq)]
pub struct FlowRecord {
    /// Id.
    pub id: FlowId,
    /// Tenant.
    pub tenant_id: TenantId,
    /// The client that started it; only that client may continue it.
    pub client_id: ClientId,
    /// Sign-in, sign-up or reset.
    pub kind: FlowKind,
    /// The user, once known.
    pub user_id: Option<UserId>,
    /// Flow-specific state (JSON), owned by the flow's service.
    pub state: serde_json::Value,
    /// Bumped each time the flow advances; tokens of older generations are dead.
    pub generation: i64,
    /// The client's `challenge_type` list at start.
    pub challenge_types: Vec<String>,
    /// The client's capabilities at start.
    pub capabilities: Vec<String>,
    /// Unix seconds.
    pub created_at: i64,
    /// Whole-flow expiry, Unix seconds.
    pub expires_at: i64,
}

/// One issued continuation token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContinuationRecord {
    /// SHA-256 of the token.
    pub token_hash: Vec<u8>,
    /// The flow.
    pub flow_id: FlowId,
    /// What the token may be used for ([`crate::flow::continuation::Step`] storage name).
    pub step: String,
    /// Flow generation at issue.
    pub generation: i64,
    /// Unix seconds.
    pub issued_at: i64,
    /// Unix seconds.
    pub expires_at: i64,
}

/// One refresh token of a family.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefreshRecord {
    /// SHA-256 of the token.
    pub token_hash: Vec<u8>,
    /// The family (one sign-in).
    pub family_id: FamilyId,
    /// Tenant.
    pub tenant_id: TenantId,
    /// The client it was issued to.
    pub client_id: ClientId,
    /// The user.
    pub user_id: UserId,
    /// Scopes granted at sign-in.
    pub scopes: Vec<String>,
    /// Unix seconds.
    pub issued_at: i64,
    /// Unix seconds.
    pub expires_at: i64,
    /// When this token was exchanged for its successor.
    pub rotated_at: Option<i64>,
    /// When the family was revoked (read from the family).
    pub revoked_at: Option<i64>,
    /// When the family started, i.e. the sign-in (unix seconds, read from the family). A family
    /// ends at this time plus the absolute refresh lifetime, however often it is rotated.
    pub family_created_at: i64,
}

/// A token-signing key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SigningKeyRecord {
    /// Key id (RFC 7638 thumbprint).
    pub kid: String,
    /// `RS256`.
    pub alg: String,
    /// PKCS#8 DER, AES-256-GCM encrypted under the master key (nonce prepended).
    pub private_key_enc: Vec<u8>,
    /// Unix seconds.
    pub created_at: i64,
    /// Signing starts at this time.
    pub activate_at: i64,
    /// Signing stopped at this time; still published for verification.
    pub retired_at: Option<i64>,
}

/// A refresh-token family as stored: one sign-in, with its owner and revocation. Tokens
/// ([`RefreshRecord`]) belong to it; revocation lives here only.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefreshFamilyRecord {
    /// Id.
    pub id: FamilyId,
    /// Tenant.
    pub tenant_id: TenantId,
    /// The client the sign-in was for.
    pub client_id: ClientId,
    /// The user.
    pub user_id: UserId,
    /// Unix seconds.
    pub created_at: i64,
    /// When the family was revoked.
    pub revoked_at: Option<i64>,
    /// Why (`reuse`, `password_reset`, `user_disabled`, …).
    pub revoke_reason: Option<String>,
}

/// The durable contents of a store, for moving a deployment from one database to another:
/// everything a signed-in user or a running server depends on, and nothing short-lived. Flows,
/// continuation tokens, one-time codes and code-send records are deliberately absent: they live
/// minutes, and a user caught mid-flow simply starts again.
///
/// Secrets stay in their stored form (password PHC strings, token hashes, private keys encrypted
/// under the master key), so the target must be served with the same master key.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Snapshot {
    /// Every tenant, by id.
    pub tenants: Vec<Tenant>,
    /// Every app, by client id.
    pub apps: Vec<App>,
    /// Every user (hashes, attributes, disabled flag), by id.
    pub users: Vec<User>,
    /// Every signing key, by kid.
    pub signing_keys: Vec<SigningKeyRecord>,
    /// Every refresh-token family, by id.
    pub refresh_families: Vec<RefreshFamilyRecord>,
    /// Every refresh token (rotated ones too, so a replay is still detected), by hash. Each
    /// record's `revoked_at` is its family's; on import the family's value is the one stored.
    pub refresh_tokens: Vec<RefreshRecord>,
    /// Every strong-auth (second-factor) method, by id: a copy that lost them would let whoever
    /// knows a password register a second factor of their own.
    pub auth_methods: Vec<AuthMethod>,
}
