//! Row shapes and row↔record conversions, independent of the SQL dialect.
//!
//! Each `*Row` holds a table's columns as plain values (TEXT uuids, JSON text, INTEGER seconds,
//! BLOB hashes, BOOLEAN flags). Its `sqlx::FromRow` impl is generic over the database, so the
//! SQLite and PostgreSQL adapters decode the same structs; `into_record` then parses the values
//! into core records, reporting anything unparseable as [`StoreError::Other`] rather than
//! panicking. The `*_text`/`encode_*` helpers are the inverse for binding parameters.

use crate::error::corrupt;
use openciam_core::ids::{AuthMethodId, ClientId, FamilyId, FlowId, TenantId, UserId};
use openciam_core::mfa::MfaPolicy;
use openciam_core::model::{
    App, AttributeSpec, AuthMethod, AuthMethodKind, ContinuationRecord, FlowKind, FlowRecord, OtpAttempt,
    RefreshFamilyRecord, RefreshRecord, SignInMethod, SigningKeyRecord, Tenant, User,
};
use openciam_core::ports::{StoreError, StoreResult};
use openciam_core::security::TenantSecurity;
use openciam_core::strategy::password_policy::PolicyProfile;
use uuid::Uuid;

/// Implements `sqlx::FromRow` for any database that can decode the primitive column types used
/// here. A field reads the column of the same name, or the one given as `field = "column"`
/// (for aliased columns in joins).
macro_rules! portable_from_row {
    ($ty:ident { $($field:ident $(= $column:literal)?),+ $(,)? }) => {
        impl<'r, R> sqlx::FromRow<'r, R> for $ty
        where
            R: sqlx::Row,
            &'r str: sqlx::ColumnIndex<R>,
            String: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
            Option<String>: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
            i64: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
            Option<i64>: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
            Vec<u8>: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
            bool: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
        {
            fn from_row(row: &'r R) -> Result<Self, sqlx::Error> {
                Ok(Self {
                    $($field: row.try_get(column_name!($field $(, $column)?))?,)+
                })
            }
        }
    };
}

macro_rules! column_name {
    ($field:ident) => {
        stringify!($field)
    };
    ($field:ident, $column:literal) => {
        $column
    };
}

/// `revoke_reason` written when a password reset flow ends the user's sessions.
pub(crate) const REASON_PASSWORD_RESET: &str = "password_reset";
/// `revoke_reason` written when a password change (administrative) ends the user's sessions.
pub(crate) const REASON_PASSWORD_CHANGED: &str = "password_changed";
/// `revoke_reason` written when disabling the user ends their sessions.
pub(crate) const REASON_USER_DISABLED: &str = "user_disabled";

/// The stored form of a uuid: lower-case, hyphenated.
pub(crate) fn uuid_text(id: Uuid) -> String {
    id.hyphenated().to_string()
}

/// A string list as JSON text.
pub(crate) fn encode_list(list: &[String]) -> StoreResult<String> {
    serde_json::to_string(list).map_err(|e| StoreError::Other(e.into()))
}

/// A tenant's security settings as JSON text.
pub(crate) fn encode_security(security: &TenantSecurity) -> StoreResult<String> {
    serde_json::to_string(security).map_err(|e| StoreError::Other(e.into()))
}

/// A tenant's password policy as JSON text (`{"profile":"nist","min_length":8}`).
pub(crate) fn encode_policy(policy: &PolicyProfile) -> StoreResult<String> {
    serde_json::to_string(policy).map_err(|e| StoreError::Other(e.into()))
}

/// An app's sign-up attributes as JSON text.
pub(crate) fn encode_attributes(attributes: &[AttributeSpec]) -> StoreResult<String> {
    serde_json::to_string(attributes).map_err(|e| StoreError::Other(e.into()))
}

/// The stored name of a sign-in method.
pub(crate) fn method_text(method: &SignInMethod) -> &'static str {
    match method {
        SignInMethod::EmailPassword => "email_password",
        SignInMethod::EmailOtp => "email_otp",
    }
}

fn parse_method(text: &str) -> StoreResult<SignInMethod> {
    match text {
        "email_password" => Ok(SignInMethod::EmailPassword),
        "email_otp" => Ok(SignInMethod::EmailOtp),
        other => Err(corrupt("apps.method", other)),
    }
}

fn parse_uuid(column: &str, text: &str) -> StoreResult<Uuid> {
    Uuid::parse_str(text).map_err(|e| corrupt(column, e))
}

/// A stored tenant id (e.g. returned by an `UPDATE … RETURNING tenant_id`).
pub(crate) fn parse_tenant_id(column: &str, text: &str) -> StoreResult<TenantId> {
    parse_uuid(column, text).map(TenantId)
}

fn parse_client_id(column: &str, text: &str) -> StoreResult<ClientId> {
    ClientId::parse(text).ok_or_else(|| corrupt(column, "not a GUID"))
}

fn parse_list(column: &str, text: &str) -> StoreResult<Vec<String>> {
    serde_json::from_str(text).map_err(|e| corrupt(column, e))
}

/// A `tenants` row.
pub(crate) struct TenantRow {
    id: String,
    name: String,
    domain: String,
    password_policy: String,
    security: String,
    created_at: i64,
}

portable_from_row!(TenantRow {
    id,
    name,
    domain,
    password_policy,
    security,
    created_at
});

impl TenantRow {
    pub(crate) fn into_record(self) -> StoreResult<Tenant> {
        Ok(Tenant {
            id: TenantId(parse_uuid("tenants.id", &self.id)?),
            name: self.name,
            domain: self.domain,
            password_policy: serde_json::from_str(&self.password_policy)
                .map_err(|e| corrupt("tenants.password_policy", e))?,
            security: serde_json::from_str(&self.security).map_err(|e| corrupt("tenants.security", e))?,
            created_at: self.created_at,
        })
    }
}

/// An `apps` row.
pub(crate) struct AppRow {
    client_id: String,
    tenant_id: String,
    display_name: String,
    public_client: bool,
    native_auth: bool,
    method: String,
    cors_origins: String,
    identifier_uri: Option<String>,
    scopes: String,
    signup_attributes: String,
    mfa_policy: Option<String>,
    created_at: i64,
}

portable_from_row!(AppRow {
    client_id,
    tenant_id,
    display_name,
    public_client,
    native_auth,
    method,
    cors_origins,
    identifier_uri,
    scopes,
    signup_attributes,
    mfa_policy,
    created_at,
});

impl AppRow {
    pub(crate) fn into_record(self) -> StoreResult<App> {
        Ok(App {
            client_id: parse_client_id("apps.client_id", &self.client_id)?,
            tenant_id: TenantId(parse_uuid("apps.tenant_id", &self.tenant_id)?),
            display_name: self.display_name,
            public_client: self.public_client,
            native_auth: self.native_auth,
            method: parse_method(&self.method)?,
            cors_origins: parse_list("apps.cors_origins", &self.cors_origins)?,
            identifier_uri: self.identifier_uri,
            scopes: parse_list("apps.scopes", &self.scopes)?,
            signup_attributes: serde_json::from_str(&self.signup_attributes)
                .map_err(|e| corrupt("apps.signup_attributes", e))?,
            mfa: self
                .mfa_policy
                .map(|text| serde_json::from_str(&text).map_err(|e| corrupt("apps.mfa_policy", e)))
                .transpose()?,
            created_at: self.created_at,
        })
    }
}

/// An app's own MFA policy as JSON text (`NULL` follows the tenant's).
pub(crate) fn encode_mfa_policy(policy: Option<&MfaPolicy>) -> StoreResult<Option<String>> {
    policy
        .map(|p| serde_json::to_string(p).map_err(|e| StoreError::Other(e.into())))
        .transpose()
}

/// The columns of [`AuthMethodRow`], in order.
pub(crate) const AUTH_METHOD_COLUMNS: &str = "id, tenant_id, user_id, kind, target, created_at, last_used_at";

/// An `auth_methods` row.
pub(crate) struct AuthMethodRow {
    id: String,
    tenant_id: String,
    user_id: String,
    kind: String,
    target: String,
    created_at: i64,
    last_used_at: Option<i64>,
}

portable_from_row!(AuthMethodRow {
    id,
    tenant_id,
    user_id,
    kind,
    target,
    created_at,
    last_used_at,
});

impl AuthMethodRow {
    pub(crate) fn into_record(self) -> StoreResult<AuthMethod> {
        Ok(AuthMethod {
            id: AuthMethodId(parse_uuid("auth_methods.id", &self.id)?),
            tenant_id: TenantId(parse_uuid("auth_methods.tenant_id", &self.tenant_id)?),
            user_id: UserId(parse_uuid("auth_methods.user_id", &self.user_id)?),
            kind: AuthMethodKind::parse(&self.kind)
                .ok_or_else(|| corrupt("auth_methods.kind", "not email or sms"))?,
            target: self.target,
            created_at: self.created_at,
            last_used_at: self.last_used_at,
        })
    }
}

/// A `users` row.
pub(crate) struct UserRow {
    id: String,
    tenant_id: String,
    username: String,
    username_normalized: String,
    password_hash: Option<String>,
    disabled: bool,
    attributes: String,
    created_at: i64,
    updated_at: i64,
}

portable_from_row!(UserRow {
    id,
    tenant_id,
    username,
    username_normalized,
    password_hash,
    disabled,
    attributes,
    created_at,
    updated_at,
});

impl UserRow {
    pub(crate) fn into_record(self) -> StoreResult<User> {
        Ok(User {
            id: UserId(parse_uuid("users.id", &self.id)?),
            tenant_id: TenantId(parse_uuid("users.tenant_id", &self.tenant_id)?),
            username: self.username,
            username_normalized: self.username_normalized,
            password_hash: self.password_hash,
            disabled: self.disabled,
            attributes: serde_json::from_str(&self.attributes).map_err(|e| corrupt("users.attributes", e))?,
            created_at: self.created_at,
            updated_at: self.updated_at,
        })
    }
}

/// A `flows` row.
pub(crate) struct FlowRow {
    id: String,
    tenant_id: String,
    client_id: String,
    kind: String,
    user_id: Option<String>,
    state: String,
    generation: i64,
    challenge_types: String,
    capabilities: String,
    created_at: i64,
    expires_at: i64,
}

portable_from_row!(FlowRow {
    id,
    tenant_id,
    client_id,
    kind,
    user_id,
    state,
    generation,
    challenge_types,
    capabilities,
    created_at,
    expires_at,
});

impl FlowRow {
    pub(crate) fn into_record(self) -> StoreResult<FlowRecord> {
        let user_id = match self.user_id {
            Some(text) => Some(UserId(parse_uuid("flows.user_id", &text)?)),
            None => None,
        };
        Ok(FlowRecord {
            id: FlowId(parse_uuid("flows.id", &self.id)?),
            tenant_id: TenantId(parse_uuid("flows.tenant_id", &self.tenant_id)?),
            client_id: parse_client_id("flows.client_id", &self.client_id)?,
            kind: FlowKind::parse(&self.kind).ok_or_else(|| corrupt("flows.kind", &self.kind))?,
            user_id,
            state: serde_json::from_str(&self.state).map_err(|e| corrupt("flows.state", e))?,
            generation: self.generation,
            challenge_types: parse_list("flows.challenge_types", &self.challenge_types)?,
            capabilities: parse_list("flows.capabilities", &self.capabilities)?,
            created_at: self.created_at,
            expires_at: self.expires_at,
        })
    }
}

/// A `continuation_tokens` row, read beside its flow: the columns that clash with `flows` are
/// selected as `token_generation`, `token_issued_at` and `token_expires_at`.
pub(crate) struct ContinuationRow {
    token_hash: Vec<u8>,
    flow_id: String,
    step: String,
    generation: i64,
    issued_at: i64,
    expires_at: i64,
}

portable_from_row!(ContinuationRow {
    token_hash,
    flow_id,
    step,
    generation = "token_generation",
    issued_at = "token_issued_at",
    expires_at = "token_expires_at",
});

impl ContinuationRow {
    pub(crate) fn into_record(self) -> StoreResult<ContinuationRecord> {
        Ok(ContinuationRecord {
            token_hash: self.token_hash,
            flow_id: FlowId(parse_uuid("continuation_tokens.flow_id", &self.flow_id)?),
            step: self.step,
            generation: self.generation,
            issued_at: self.issued_at,
            expires_at: self.expires_at,
        })
    }
}

/// The `otps` columns an attempt that was counted returns.
pub(crate) struct OtpCheckRow {
    code_hash: Vec<u8>,
    attempts: i64,
}

portable_from_row!(OtpCheckRow { code_hash, attempts });

impl OtpCheckRow {
    pub(crate) fn into_attempt(self) -> OtpAttempt {
        OtpAttempt::Check {
            code_hash: self.code_hash,
            attempts: self.attempts,
        }
    }
}

/// The `otps` columns that say why an attempt was not counted.
pub(crate) struct OtpStatusRow {
    used_at: Option<i64>,
    expires_at: i64,
    attempts: i64,
}

portable_from_row!(OtpStatusRow {
    used_at,
    expires_at,
    attempts
});

impl OtpStatusRow {
    /// Whether an attempt at `now` would be counted: the code is unused, unexpired and has had
    /// fewer than `max_attempts` tries. The same condition as the SQLite adapter's guarded
    /// `UPDATE`; the PostgreSQL adapter evaluates it on the row it has locked.
    pub(crate) fn counts(&self, now: i64, max_attempts: i64) -> bool {
        self.used_at.is_none() && self.expires_at > now && self.attempts < max_attempts
    }
}

/// Why an attempt on the flow's code (`row`, if any, read in the same transaction as the refused
/// update) was not counted: absent, else used, else expired (`expires_at <= now`), else out of
/// tries.
pub(crate) fn otp_refusal(row: Option<OtpStatusRow>, now: i64, max_attempts: i64) -> OtpAttempt {
    match row {
        None => OtpAttempt::NoCode,
        Some(row) if row.used_at.is_some() => OtpAttempt::Used,
        Some(row) if row.expires_at <= now => OtpAttempt::Expired,
        Some(row) => {
            debug_assert!(
                row.attempts >= max_attempts,
                "an attempt that could count was refused"
            );
            OtpAttempt::Exhausted
        }
    }
}

/// A `refresh_tokens` row joined with its family's owner, revocation and start.
pub(crate) struct RefreshRow {
    token_hash: Vec<u8>,
    family_id: String,
    tenant_id: String,
    client_id: String,
    user_id: String,
    scopes: String,
    issued_at: i64,
    expires_at: i64,
    rotated_at: Option<i64>,
    revoked_at: Option<i64>,
    family_created_at: i64,
}

portable_from_row!(RefreshRow {
    token_hash,
    family_id,
    tenant_id,
    client_id,
    user_id,
    scopes,
    issued_at,
    expires_at,
    rotated_at,
    revoked_at,
    family_created_at,
});

impl RefreshRow {
    pub(crate) fn into_record(self) -> StoreResult<RefreshRecord> {
        Ok(RefreshRecord {
            token_hash: self.token_hash,
            family_id: FamilyId(parse_uuid("refresh_tokens.family_id", &self.family_id)?),
            tenant_id: TenantId(parse_uuid("refresh_families.tenant_id", &self.tenant_id)?),
            client_id: parse_client_id("refresh_families.client_id", &self.client_id)?,
            user_id: UserId(parse_uuid("refresh_families.user_id", &self.user_id)?),
            scopes: parse_list("refresh_tokens.scopes", &self.scopes)?,
            issued_at: self.issued_at,
            expires_at: self.expires_at,
            rotated_at: self.rotated_at,
            revoked_at: self.revoked_at,
            family_created_at: self.family_created_at,
        })
    }
}

/// A `refresh_families` row.
pub(crate) struct RefreshFamilyRow {
    id: String,
    tenant_id: String,
    client_id: String,
    user_id: String,
    created_at: i64,
    revoked_at: Option<i64>,
    revoke_reason: Option<String>,
}

portable_from_row!(RefreshFamilyRow {
    id,
    tenant_id,
    client_id,
    user_id,
    created_at,
    revoked_at,
    revoke_reason,
});

impl RefreshFamilyRow {
    pub(crate) fn into_record(self) -> StoreResult<RefreshFamilyRecord> {
        Ok(RefreshFamilyRecord {
            id: FamilyId(parse_uuid("refresh_families.id", &self.id)?),
            tenant_id: TenantId(parse_uuid("refresh_families.tenant_id", &self.tenant_id)?),
            client_id: parse_client_id("refresh_families.client_id", &self.client_id)?,
            user_id: UserId(parse_uuid("refresh_families.user_id", &self.user_id)?),
            created_at: self.created_at,
            revoked_at: self.revoked_at,
            revoke_reason: self.revoke_reason,
        })
    }
}

/// Every table of the schema (both dialects) except the migrator's, children before parents:
/// the order a whole-store replace deletes in without tripping a foreign key. A new table must
/// be added here (the SQLite adapter's tests check that none is missing).
pub(crate) const TABLES_CHILD_FIRST: [&str; 15] = [
    "auth_methods",
    "audit_events",
    "lockouts",
    "mail_outbox",
    "rate_limit_buckets",
    "code_sends",
    "otps",
    "continuation_tokens",
    "flows",
    "refresh_tokens",
    "refresh_families",
    "users",
    "apps",
    "signing_keys",
    "tenants",
];

/// A `signing_keys` row.
pub(crate) struct SigningKeyRow {
    kid: String,
    alg: String,
    private_key_enc: Vec<u8>,
    created_at: i64,
    activate_at: i64,
    retired_at: Option<i64>,
}

portable_from_row!(SigningKeyRow {
    kid,
    alg,
    private_key_enc,
    created_at,
    activate_at,
    retired_at,
});

impl SigningKeyRow {
    pub(crate) fn into_record(self) -> SigningKeyRecord {
        SigningKeyRecord {
            kid: self.kid,
            alg: self.alg,
            private_key_enc: self.private_key_enc,
            created_at: self.created_at,
            activate_at: self.activate_at,
            retired_at: self.retired_at,
        }
    }
}
