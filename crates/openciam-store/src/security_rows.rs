//! Row shapes of the lockout and audit tables, shared by both adapters. Rows are read as tuples
//! (every column is TEXT, BIGINT/INTEGER or BLOB/BYTEA on both databases).

use crate::error::corrupt;
use openciam_core::audit::AuditRecord;
use openciam_core::ids::{TenantId, UserId};
use openciam_core::ports::StoreResult;
use openciam_core::security::lockout::{LockoutState, MAC_LEN};
use uuid::Uuid;

/// `failures, lockouts, locked_until, recent_macs, updated_at`.
pub(crate) type LockoutRow = (i64, i64, i64, Vec<u8>, i64);

/// The columns of [`LockoutRow`], in order.
pub(crate) const LOCKOUT_COLUMNS: &str = "failures, lockouts, locked_until, recent_macs, updated_at";

pub(crate) fn lockout_state(row: LockoutRow) -> StoreResult<LockoutState> {
    let (failures, lockouts, locked_until, recent, updated_at) = row;
    if recent.len() % MAC_LEN != 0 {
        return Err(corrupt("lockouts.recent_macs", "length is not a multiple of 32"));
    }
    Ok(LockoutState {
        failures: u32::try_from(failures).map_err(|e| corrupt("lockouts.failures", e))?,
        lockouts: u32::try_from(lockouts).map_err(|e| corrupt("lockouts.lockouts", e))?,
        locked_until,
        recent: LockoutState::recent_from_bytes(&recent),
        updated_at,
    })
}

/// `id, at, tenant_id, user_id, username, event, details, ip, user_agent, correlation_id`.
pub(crate) type AuditRow = (
    i64,
    i64,
    Option<String>,
    Option<String>,
    Option<String>,
    String,
    String,
    Option<String>,
    Option<String>,
    Option<String>,
);

/// The columns of [`AuditRow`], in order.
pub(crate) const AUDIT_COLUMNS: &str =
    "id, at, tenant_id, user_id, username, event, details, ip, user_agent, correlation_id";

fn uuid(column: &str, text: Option<String>) -> StoreResult<Option<Uuid>> {
    text.map(|t| Uuid::parse_str(&t).map_err(|e| corrupt(column, e)))
        .transpose()
}

pub(crate) fn audit_record(row: AuditRow) -> StoreResult<AuditRecord> {
    let (id, at, tenant_id, user_id, username, event, details, ip, user_agent, correlation_id) = row;
    Ok(AuditRecord {
        id,
        at,
        tenant_id: uuid("audit_events.tenant_id", tenant_id)?.map(TenantId),
        user_id: uuid("audit_events.user_id", user_id)?.map(UserId),
        username,
        event,
        details: serde_json::from_str(&details).map_err(|e| corrupt("audit_events.details", e))?,
        ip,
        user_agent,
        correlation_id,
    })
}

/// The details column's text.
pub(crate) fn details_text(record: &AuditRecord) -> String {
    record.details.to_string()
}
