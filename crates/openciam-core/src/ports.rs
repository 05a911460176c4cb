//! What the core needs from storage. Adapters (`openciam-store`) implement these traits; the core
//! never sees SQL. Every method is one atomic intent: transactions never leak out of a trait.

use crate::audit::{AuditFilter, AuditRecord};
use crate::ids::{AuthMethodId, ClientId, FamilyId, FlowId, TenantId, UserId};
use crate::model::{
    App, AuthMethod, ContinuationRecord, FlowRecord, OtpAttempt, OtpRecord, RefreshRecord, SigningKeyRecord,
    Snapshot, Tenant, User,
};
use crate::security::TenantSecurity;
use crate::security::lockout::{FailureOutcome, LockoutSettings, LockoutState};
use async_trait::async_trait;

/// Storage failures, mapped once by each adapter.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A uniqueness rule was violated (e.g. the same username twice in a tenant).
    #[error("conflict: {0}")]
    Conflict(String),
    /// The database cannot be reached right now.
    #[error("storage unavailable")]
    Unavailable(#[source] anyhow::Error),
    /// The database has no room left (disk full, SQLite's `max_page_count` reached); the write
    /// was rolled back.
    #[error("storage full")]
    Full(#[source] anyhow::Error),
    /// Anything else.
    #[error("storage failure")]
    Other(#[source] anyhow::Error),
}

/// Result of storage calls.
pub type StoreResult<T> = Result<T, StoreError>;

/// Tenants.
#[async_trait]
pub trait TenantStore: Send + Sync {
    /// Inserts a tenant; `Conflict` when the id, name or domain exists.
    async fn create_tenant(&self, tenant: &Tenant) -> StoreResult<()>;
    /// By GUID.
    async fn tenant_by_id(&self, id: TenantId) -> StoreResult<Option<Tenant>>;
    /// By short name or domain (both lower-case).
    async fn tenant_by_name(&self, name_or_domain: &str) -> StoreResult<Option<Tenant>>;
    /// All tenants, by name.
    async fn list_tenants(&self) -> StoreResult<Vec<Tenant>>;
    /// Replaces a tenant's security settings. False when no such tenant.
    async fn set_tenant_security(&self, id: TenantId, security: &TenantSecurity) -> StoreResult<bool>;
}

/// Applications.
#[async_trait]
pub trait AppStore: Send + Sync {
    /// Inserts an app; `Conflict` when the client id exists.
    async fn create_app(&self, app: &App) -> StoreResult<()>;
    /// Replaces an existing app's settings (by client id).
    async fn update_app(&self, app: &App) -> StoreResult<()>;
    /// The app with this client id, in any tenant.
    async fn app_by_client_id(&self, client_id: &ClientId) -> StoreResult<Option<App>>;
    /// Every app of a tenant, by display name.
    async fn apps_of_tenant(&self, tenant: TenantId) -> StoreResult<Vec<App>>;
    /// Deletes an app with its flows and refresh-token families (their tokens go with them), in
    /// one transaction. False when no such app.
    async fn delete_app(&self, client_id: &ClientId) -> StoreResult<bool>;
}

/// Which users of a tenant to list, one page at a time (ordered by normalised username).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UserQuery {
    /// Only users whose normalised username is after this one (the previous page's last).
    pub after: Option<String>,
    /// Only users whose normalised username contains this text.
    pub email_contains: Option<String>,
    /// At most this many.
    pub limit: i64,
}

/// Users.
#[async_trait]
pub trait UserStore: Send + Sync {
    /// Inserts a user; `Conflict` when the normalised username exists in the tenant.
    async fn create_user(&self, user: &User) -> StoreResult<()>;
    /// By normalised username.
    async fn user_by_username(&self, tenant: TenantId, normalized: &str) -> StoreResult<Option<User>>;
    /// By id.
    async fn user_by_id(&self, tenant: TenantId, id: UserId) -> StoreResult<Option<User>>;
    /// Every user of a tenant, by username.
    async fn list_users(&self, tenant: TenantId) -> StoreResult<Vec<User>>;
    /// Sets the disabled flag; when disabling, also revokes the user's refresh-token families
    /// in the same transaction. Returns false when no such user.
    async fn set_user_disabled(
        &self,
        tenant: TenantId,
        id: UserId,
        disabled: bool,
        now: i64,
    ) -> StoreResult<bool>;
    /// Replaces the password hash only if it is still `old_hash` (an upgrade of the hash format or
    /// parameters after a successful sign-in): sessions and flows are untouched. True when replaced.
    async fn rehash_password(
        &self,
        tenant: TenantId,
        id: UserId,
        old_hash: &str,
        new_hash: &str,
    ) -> StoreResult<bool>;
    /// Inserts every user in one transaction: all or none. A username taken (in the store or twice
    /// in `users`) is `Conflict` naming it, and nothing is written.
    async fn import_users(&self, users: &[User]) -> StoreResult<()>;
    /// Replaces the password hash, revokes the user's refresh-token families and deletes the
    /// user's open flows (their continuation tokens die), in one transaction. Returns false when
    /// no such user.
    async fn set_user_password(
        &self,
        tenant: TenantId,
        id: UserId,
        hash: &str,
        now: i64,
    ) -> StoreResult<bool>;
    /// One page of a tenant's users (see [`UserQuery`]).
    async fn users_page(&self, tenant: TenantId, query: &UserQuery) -> StoreResult<Vec<User>>;
    /// Replaces the user's attributes (and `updated_at`). False when no such user.
    async fn set_user_attributes(
        &self,
        tenant: TenantId,
        id: UserId,
        attributes: &serde_json::Map<String, serde_json::Value>,
        now: i64,
    ) -> StoreResult<bool>;
    /// Deletes a user with the user's refresh-token families, flows and lockout state, in one
    /// transaction. (Audit events keep naming the user.) False when no such user.
    async fn delete_user(&self, tenant: TenantId, id: UserId) -> StoreResult<bool>;
}

/// Flows and their continuation tokens.
#[async_trait]
pub trait FlowStore: Send + Sync {
    /// Inserts a flow and its first token, in one transaction.
    async fn create_flow(&self, flow: &FlowRecord, token: &ContinuationRecord) -> StoreResult<()>;
    /// The token with this hash and its flow.
    async fn token_with_flow(
        &self,
        token_hash: &[u8],
    ) -> StoreResult<Option<(ContinuationRecord, FlowRecord)>>;
    /// Adds another token to a flow without advancing it (a resend), and stores `state` (e.g. the
    /// resend history), in one transaction. Returns false, writing nothing, when the flow's
    /// generation is no longer `token.generation` (it advanced meanwhile).
    async fn add_token(&self, token: &ContinuationRecord, state: &serde_json::Value) -> StoreResult<bool>;
    /// Compare-and-swap advance: when the flow is still at `expected_generation`, stores `state`
    /// (and `user_id` when given), bumps the generation by one and inserts `next` (if any, issued
    /// at the new generation), in one transaction. Returns false when another request advanced the
    /// flow first; nothing is written then.
    async fn advance_flow(
        &self,
        flow_id: FlowId,
        expected_generation: i64,
        state: &serde_json::Value,
        user_id: Option<UserId>,
        next: Option<&ContinuationRecord>,
    ) -> StoreResult<bool>;
    /// Like [`FlowStore::advance_flow`], and in the same transaction inserts `user` (sign-up
    /// completion). A duplicate username is `Conflict` and nothing is written; a lost race on the
    /// generation returns false and nothing is written.
    async fn advance_flow_creating_user(
        &self,
        flow_id: FlowId,
        expected_generation: i64,
        state: &serde_json::Value,
        user: &User,
        next: Option<&ContinuationRecord>,
    ) -> StoreResult<bool>;
    /// Completes a password reset: like [`FlowStore::advance_flow`] (CAS on the generation), and
    /// in the same transaction sets `user_id`'s password hash to `hash`, revokes the user's
    /// refresh-token families (reason `password_reset`) and deletes the user's *other* flows.
    /// Returns false, writing nothing, when the generation moved on or the user is gone.
    #[expect(clippy::too_many_arguments, reason = "one atomic intent with its parts")]
    async fn advance_flow_resetting_password(
        &self,
        flow_id: FlowId,
        expected_generation: i64,
        state: &serde_json::Value,
        user_id: UserId,
        hash: &str,
        now: i64,
        next: Option<&ContinuationRecord>,
    ) -> StoreResult<bool>;
    /// Deletes flows (and their tokens and codes) whose expiry is before `now`, and code-send
    /// records older than `now - 86400`. Returns how many flows.
    async fn purge_expired_flows(&self, now: i64) -> StoreResult<u64>;
}

/// One-time codes.
#[async_trait]
pub trait OtpStore: Send + Sync {
    /// Stores the flow's code, replacing (and so invalidating) any earlier one, attempts reset.
    async fn put_otp(&self, otp: &OtpRecord) -> StoreResult<()>;
    /// One verification attempt, atomically: when the flow's code is unused, unexpired (`now`)
    /// and has had fewer than `max_attempts` tries, counts this try and returns the hash to
    /// compare. Parallel attempts can never evaluate more than `max_attempts` times.
    async fn attempt_otp(&self, flow_id: FlowId, now: i64, max_attempts: i64) -> StoreResult<OtpAttempt>;
    /// Marks the flow's code used, only if it still has `code_hash` and is unused. True once.
    async fn consume_otp(&self, flow_id: FlowId, code_hash: &[u8], now: i64) -> StoreResult<bool>;
    /// Atomically: when fewer than `max` codes were sent to `address` in `tenant` since
    /// `window_start`, records one more send at `now` and returns true; else false.
    async fn reserve_code_send(
        &self,
        tenant: TenantId,
        address: &str,
        now: i64,
        window_start: i64,
        max: i64,
    ) -> StoreResult<bool>;
}

/// What happened when a refresh token was exchanged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RotateOutcome {
    /// The old token was live; it is now rotated and `next` is stored.
    Rotated,
    /// The old token had already been rotated (or its family revoked); nothing was stored.
    AlreadyRotated,
}

/// Refresh tokens, in families.
#[async_trait]
pub trait RefreshTokenStore: Send + Sync {
    /// Creates a family and its first token, in one transaction. The family starts at
    /// `first.family_created_at`.
    async fn create_family(&self, first: &RefreshRecord) -> StoreResult<()>;
    /// The token with this hash (with its family's `revoked_at` and `created_at`).
    async fn refresh_by_hash(&self, token_hash: &[u8]) -> StoreResult<Option<RefreshRecord>>;
    /// Atomically marks `old_hash` rotated at `now` — only if it is not rotated yet and its
    /// family is not revoked — and inserts `next` in the same family. When `allow_rotated_since`
    /// is given, an old token rotated at or after that time still yields `Rotated` (reuse grace).
    async fn rotate_refresh(
        &self,
        old_hash: &[u8],
        now: i64,
        allow_rotated_since: Option<i64>,
        next: &RefreshRecord,
    ) -> StoreResult<RotateOutcome>;
    /// Revokes one family.
    async fn revoke_family(&self, family: FamilyId, now: i64, reason: &str) -> StoreResult<()>;
    /// Revokes every family of a user. Returns how many were live.
    async fn revoke_user_families(
        &self,
        tenant: TenantId,
        user: UserId,
        now: i64,
        reason: &str,
    ) -> StoreResult<u64>;
}

/// Signing keys.
#[async_trait]
pub trait KeyStore: Send + Sync {
    /// Every key, newest first.
    async fn signing_keys(&self) -> StoreResult<Vec<SigningKeyRecord>>;
    /// Inserts a key.
    async fn insert_signing_key(&self, key: &SigningKeyRecord) -> StoreResult<()>;
    /// Inserts `key` only when the store holds no signing key at all, atomically, so two nodes
    /// starting on an empty database agree on one first key. True when `key` was inserted.
    async fn insert_first_signing_key(&self, key: &SigningKeyRecord) -> StoreResult<bool>;
    /// Adds `key` (a rotation) and, in the same transaction, sets `retired_at` to
    /// `key.activate_at` on every other key not already retired by then: the new key takes over
    /// signing at its activation, and the keys before it stop signing at that moment.
    async fn rotate_signing_key(&self, key: &SigningKeyRecord) -> StoreResult<()>;
}

/// The verdict on one request counted against a rate-limit bucket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateHit {
    /// The request was counted and is within the limit.
    pub allowed: bool,
    /// When the bucket's current window ends (Unix seconds): a refused request may retry then.
    pub window_ends_at: i64,
}

/// Request-rate counters, shared by every node on the database
/// ([`crate::security::limiter`]).
#[async_trait]
pub trait RateLimitStore: Send + Sync {
    /// Counts one request against `bucket`, atomically. When the bucket has no window, or its
    /// window ended at or before `now`, a new window `[now, now + window_seconds)` starts with
    /// this request. Otherwise the request is allowed while fewer than `max` were allowed in the
    /// window; a refused request neither extends the window nor lets a later one in. Parallel
    /// calls never allow more than `max` per window.
    async fn hit_rate_limit(
        &self,
        bucket: &str,
        now: i64,
        window_seconds: i64,
        max: i64,
    ) -> StoreResult<RateHit>;
    /// Deletes the buckets whose window ended at or before `now`. Returns how many.
    async fn purge_rate_limits(&self, now: i64) -> StoreResult<u64>;
}

/// Whole-store export and import, for moving a deployment to another database
/// (`openciam db copy`). See [`Snapshot`] for what is included.
#[async_trait]
pub trait BulkStore: Send + Sync {
    /// Everything durable, read as one consistent snapshot (the store may be serving meanwhile).
    /// Each list is ordered by its key, so two exports of equal contents are equal.
    async fn export_snapshot(&self) -> StoreResult<Snapshot>;
    /// True when the store holds no tenant, app, user or signing key (a fresh database).
    async fn is_empty(&self) -> StoreResult<bool>;
    /// Writes `snapshot` in one transaction: all or nothing. With `replace`, first deletes
    /// everything the store holds — flows, continuation tokens, codes, code-send records,
    /// lockout state, the audit log, the mail outbox and rate-limit counters included — so
    /// afterwards it holds exactly the snapshot. Without it, anything already
    /// stored under a key the snapshot uses (or a username taken in a tenant) is `Conflict` and
    /// nothing is written.
    async fn import_snapshot(&self, snapshot: &Snapshot, replace: bool) -> StoreResult<()>;
}

/// One message waiting in the mail outbox. `sealed` is opaque to the store: the message,
/// encrypted by the core (it may hold a one-time code).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxMail {
    /// Random id.
    pub id: String,
    /// Whose mail it is (sender and product name per tenant).
    pub tenant_name: String,
    /// The encrypted message.
    pub sealed: Vec<u8>,
    /// Failed deliveries so far.
    pub attempts: i64,
    /// Unix seconds.
    pub created_at: i64,
}

/// The mail outbox: messages recorded by requests and delivered by background workers, on any
/// node. A claim is a lease: a worker that dies mid-send loses its claim when the lease ends,
/// and another worker sends the message again (delivery is at least once).
#[async_trait]
pub trait OutboxStore: Send + Sync {
    /// Records a message, due at once (`created_at`).
    async fn enqueue_mail(&self, mail: &OutboxMail) -> StoreResult<()>;
    /// Atomically claims up to `limit` messages due at `now` (oldest first) for the caller:
    /// writes `lease` on them and moves them out of reach of other claims until `lease_until`.
    /// Two concurrent claims never return the same message.
    async fn claim_mail(
        &self,
        now: i64,
        lease_until: i64,
        lease: &str,
        limit: i64,
    ) -> StoreResult<Vec<OutboxMail>>;
    /// Deletes a message (sent, or given up), only while the caller's `lease` is on it.
    async fn delete_mail(&self, id: &str, lease: &str) -> StoreResult<bool>;
    /// After a failed delivery: counts the attempt, drops the lease and makes the message due
    /// again at `next_attempt_at`, only while the caller's `lease` is on it.
    async fn retry_mail(&self, id: &str, lease: &str, next_attempt_at: i64) -> StoreResult<bool>;
}

/// Smart-lockout state per account (see [`crate::security::lockout`]).
#[async_trait]
pub trait LockoutStore: Send + Sync {
    /// The account's failure state, if any.
    async fn lockout_state(&self, tenant: TenantId, user: UserId) -> StoreResult<Option<LockoutState>>;
    /// Atomically applies [`LockoutState::record_failure`] with `mac` at `now` to the account's
    /// state (creating it) and stores the result: concurrent failures on any node are each
    /// counted once, on the latest state.
    async fn record_password_failure(
        &self,
        tenant: TenantId,
        user: UserId,
        mac: &[u8],
        now: i64,
        settings: &LockoutSettings,
    ) -> StoreResult<FailureOutcome>;
    /// Forgets the account's failures and lockouts. True when there was state.
    async fn clear_lockout(&self, tenant: TenantId, user: UserId) -> StoreResult<bool>;
}

/// The append-only audit log (see [`crate::audit`]).
#[async_trait]
pub trait AuditStore: Send + Sync {
    /// Appends an event (its `id` is ignored; the store assigns one).
    async fn append_audit(&self, record: &AuditRecord) -> StoreResult<()>;
    /// Events matching `filter`, oldest first (by time, then id).
    async fn audit_events(&self, filter: &AuditFilter) -> StoreResult<Vec<AuditRecord>>;
    /// Deletes events older than `before` (Unix seconds). Returns how many.
    async fn purge_audit(&self, before: i64) -> StoreResult<u64>;
}

/// Strong-auth (second-factor) methods registered on users ([`crate::mfa`]).
#[async_trait]
pub trait AuthMethodStore: Send + Sync {
    /// A user's methods, oldest first (by creation time, then id).
    async fn auth_methods(&self, tenant: TenantId, user: UserId) -> StoreResult<Vec<AuthMethod>>;
    /// Registers a method. `Conflict` when the id exists or the user already has a method of
    /// this kind with this target; nothing is written then.
    async fn add_auth_method(&self, method: &AuthMethod) -> StoreResult<()>;
    /// Removes one method of the user. False when the user has no method with this id.
    async fn remove_auth_method(&self, tenant: TenantId, user: UserId, id: AuthMethodId)
    -> StoreResult<bool>;
    /// Removes every method of the user ("reset MFA"). Returns how many.
    async fn remove_auth_methods(&self, tenant: TenantId, user: UserId) -> StoreResult<u64>;
    /// Records that a code sent through the method completed a sign-in at `now`. False when the
    /// user has no method with this id.
    async fn mark_auth_method_used(
        &self,
        tenant: TenantId,
        user: UserId,
        id: AuthMethodId,
        now: i64,
    ) -> StoreResult<bool>;
}

/// How busy the database connection pool is (the `openciam_db_pool_*` metrics).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PoolStatus {
    /// Open connections.
    pub size: u32,
    /// Open connections not in use.
    pub idle: u32,
    /// The most connections the pool opens.
    pub max: u32,
}

/// The state of the store itself, for monitoring.
pub trait StoreStatus: Send + Sync {
    /// The connection pool's current use.
    fn pool_status(&self) -> PoolStatus;
}

/// The whole storage port, as one trait object.
pub trait Store:
    TenantStore
    + AppStore
    + UserStore
    + FlowStore
    + OtpStore
    + RefreshTokenStore
    + KeyStore
    + BulkStore
    + OutboxStore
    + LockoutStore
    + AuditStore
    + RateLimitStore
    + AuthMethodStore
    + StoreStatus
{
}

impl<T> Store for T where
    T: TenantStore
        + AppStore
        + UserStore
        + FlowStore
        + OtpStore
        + RefreshTokenStore
        + KeyStore
        + BulkStore
        + OutboxStore
        + LockoutStore
        + AuditStore
        + RateLimitStore
        + AuthMethodStore
        + StoreStatus
{
}
