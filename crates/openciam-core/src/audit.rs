//! The audit log: an append-only record of security events (sign-ins, lockouts, codes sent,
//! password resets, sign-ups, key rotations, administrator actions), each with the time, tenant,
//! user, and the request's IP, user agent and correlation id ([`RequestMeta::current`]).
//!
//! Invariants:
//! * Details never hold a secret: no password, code, token or hash, only names and outcomes.
//! * Writing the audit log never fails the audited action: a failed write is logged as a warning
//!   and the request goes on. (Security state that must not be lost, such as lockout counts, is
//!   stored separately and does fail the request.)
//! * Events are only ever appended; the only deletion is the retention purge of old events.

use crate::clock::Clock;
use crate::ids::{TenantId, UserId};
use crate::model::User;
use crate::ports::{Store, StoreResult};
use crate::request::RequestMeta;
use std::sync::Arc;

/// Event names (`openciam audit --event NAME`).
pub mod event {
    /// A password sign-in succeeded.
    pub const SIGNIN_PASSWORD_SUCCESS: &str = "signin.password.success";
    /// A password sign-in failed (details: `reason`).
    pub const SIGNIN_PASSWORD_FAILURE: &str = "signin.password.failure";
    /// A code sign-in succeeded.
    pub const SIGNIN_CODE_SUCCESS: &str = "signin.code.success";
    /// A code sign-in failed (details: `reason`).
    pub const SIGNIN_CODE_FAILURE: &str = "signin.code.failure";
    /// An account was locked by smart lockout (details: `seconds`, `nth`).
    pub const ACCOUNT_LOCKED: &str = "account.locked";
    /// A one-time code was mailed (details: `purpose`).
    pub const CODE_SENT: &str = "code.sent";
    /// A self-service password reset set a new password.
    pub const PASSWORD_RESET_COMPLETED: &str = "password_reset.completed";
    /// A sign-up created an account.
    pub const SIGNUP_COMPLETED: &str = "signup.completed";
    /// A signing key was added (details: `kid`, `activate_at`).
    pub const KEYS_ROTATED: &str = "keys.rotated";
    /// `user create`.
    pub const ADMIN_USER_CREATE: &str = "admin.user.create";
    /// `user disable`.
    pub const ADMIN_USER_DISABLE: &str = "admin.user.disable";
    /// `user enable`.
    pub const ADMIN_USER_ENABLE: &str = "admin.user.enable";
    /// `user set-password`.
    pub const ADMIN_USER_SET_PASSWORD: &str = "admin.user.set_password";
    /// `user revoke-sessions` (details: `sessions`).
    pub const ADMIN_USER_REVOKE_SESSIONS: &str = "admin.user.revoke_sessions";
    /// `user unlock`.
    pub const ADMIN_USER_UNLOCK: &str = "admin.user.unlock";
    /// `user import` (details: `imported`).
    pub const ADMIN_USER_IMPORT: &str = "admin.user.import";
    /// `user delete` / `DELETE /admin/v1/…/users/{user}`.
    pub const ADMIN_USER_DELETE: &str = "admin.user.delete";
    /// An attribute update (details: `attributes`, the names changed).
    pub const ADMIN_USER_UPDATE: &str = "admin.user.update";
    /// An app's settings changed (details: `client_id`).
    pub const ADMIN_APP_UPDATE: &str = "admin.app.update";
    /// An app deleted (details: `client_id`).
    pub const ADMIN_APP_DELETE: &str = "admin.app.delete";
    /// A call to the admin REST API (details: `method`, `route`, `status`).
    pub const ADMIN_API_CALL: &str = "admin.api.call";
    /// `app create` (details: `client_id`).
    pub const ADMIN_APP_CREATE: &str = "admin.app.create";
    /// `tenant create` (details: `name`).
    pub const ADMIN_TENANT_CREATE: &str = "admin.tenant.create";
    /// `tenant security --set` (details: the assignments).
    pub const ADMIN_TENANT_SECURITY: &str = "admin.tenant.security";
    /// A second factor completed a sign-in (details: `method_id`).
    pub const MFA_SUCCESS: &str = "mfa.success";
    /// A wrong or expired second-factor code (details: `reason`).
    pub const MFA_FAILURE: &str = "mfa.failure";
    /// A user registered a strong-auth method (details: `channel`, `method_id`).
    pub const MFA_METHOD_REGISTERED: &str = "mfa.method.registered";
    /// An administrator removed one of a user's methods (details: `method_id`).
    pub const ADMIN_MFA_REMOVE: &str = "admin.mfa.remove";
    /// An administrator removed all of a user's methods (details: `removed`).
    pub const ADMIN_MFA_RESET: &str = "admin.mfa.reset";
}

/// One stored event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditRecord {
    /// Assigned by the store, increasing (0 before it is stored).
    pub id: i64,
    /// Unix seconds.
    pub at: i64,
    /// Tenant, when the event concerns one.
    pub tenant_id: Option<TenantId>,
    /// User, when known.
    pub user_id: Option<UserId>,
    /// Normalised username (e-mail), when known.
    pub username: Option<String>,
    /// What happened ([`event`]).
    pub event: String,
    /// Outcome details (JSON object, never a secret).
    pub details: serde_json::Value,
    /// Client IP, for events caused by an HTTP request.
    pub ip: Option<String>,
    /// Client user agent.
    pub user_agent: Option<String>,
    /// The request's correlation id (`client-request-id`).
    pub correlation_id: Option<String>,
}

/// Which events to list; every set field must match.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditFilter {
    /// At or after (Unix seconds).
    pub since: Option<i64>,
    /// Of this tenant.
    pub tenant_id: Option<TenantId>,
    /// Of this normalised username.
    pub username: Option<String>,
    /// With this event name.
    pub event: Option<String>,
    /// At most this many, the newest (all when `None`); listed oldest first.
    pub limit: Option<i64>,
}

/// An event being built: `Entry::new(event::…).tenant(t).user(&u).detail("k", v)`.
#[derive(Debug, Clone)]
pub struct Entry {
    event: &'static str,
    tenant_id: Option<TenantId>,
    user_id: Option<UserId>,
    username: Option<String>,
    details: serde_json::Map<String, serde_json::Value>,
}

impl Entry {
    /// An event with nothing else known yet.
    pub fn new(event: &'static str) -> Self {
        Self {
            event,
            tenant_id: None,
            user_id: None,
            username: None,
            details: serde_json::Map::new(),
        }
    }

    /// The tenant.
    pub fn tenant(mut self, tenant: TenantId) -> Self {
        self.tenant_id = Some(tenant);
        self
    }

    /// The user (tenant, id and username).
    pub fn user(mut self, user: &User) -> Self {
        self.tenant_id = Some(user.tenant_id);
        self.user_id = Some(user.id);
        self.username = Some(user.username_normalized.clone());
        self
    }

    /// A username without an account (yet).
    pub fn username(mut self, normalized: &str) -> Self {
        self.username = Some(normalized.to_owned());
        self
    }

    /// One detail; never pass a secret.
    pub fn detail(mut self, key: &str, value: impl Into<serde_json::Value>) -> Self {
        self.details.insert(key.to_owned(), value.into());
        self
    }
}

/// Audit retention.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AuditConfig {
    /// Days events are kept; 0 keeps them forever (default 90).
    pub retention_days: u32,
}

impl Default for AuditConfig {
    fn default() -> Self {
        Self { retention_days: 90 }
    }
}

/// Writes and purges audit events.
#[derive(Clone)]
pub struct AuditLog {
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    config: AuditConfig,
}

impl AuditLog {
    /// The log over `store`, with default retention.
    pub fn new(store: Arc<dyn Store>, clock: Arc<dyn Clock>) -> Self {
        Self::with_config(store, clock, AuditConfig::default())
    }

    /// The log with explicit retention.
    pub fn with_config(store: Arc<dyn Store>, clock: Arc<dyn Clock>, config: AuditConfig) -> Self {
        Self { store, clock, config }
    }

    /// Appends `entry`, stamped with the time and the current request's IP, user agent and
    /// correlation id. Never fails: a store failure is logged as a warning (see the module doc).
    pub async fn record(&self, entry: Entry) {
        crate::observe::record_audit_event(entry.event, entry.tenant_id);
        let meta = RequestMeta::current();
        let record = AuditRecord {
            id: 0,
            at: self.clock.unix(),
            tenant_id: entry.tenant_id,
            user_id: entry.user_id,
            username: entry.username,
            event: entry.event.to_owned(),
            details: serde_json::Value::Object(entry.details),
            ip: meta.ip.map(|ip| ip.to_string()),
            user_agent: meta.user_agent,
            correlation_id: meta.correlation_id,
        };
        if let Err(e) = self.store.append_audit(&record).await {
            tracing::warn!(event = record.event, error = %e, "audit event not recorded");
        }
    }

    /// Events matching `filter`, oldest first.
    pub async fn events(&self, filter: &AuditFilter) -> StoreResult<Vec<AuditRecord>> {
        self.store.audit_events(filter).await
    }

    /// Deletes events older than `age_seconds`. Returns how many.
    pub async fn purge_older_than(&self, age_seconds: i64) -> StoreResult<u64> {
        self.store
            .purge_audit(self.clock.unix().saturating_sub(age_seconds))
            .await
    }

    /// Deletes events older than the configured retention (nothing when it is 0). Returns how
    /// many.
    pub async fn purge_expired(&self) -> StoreResult<u64> {
        if self.config.retention_days == 0 {
            return Ok(0);
        }
        self.purge_older_than(i64::from(self.config.retention_days) * 86_400)
            .await
    }
}
