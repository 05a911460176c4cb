//! [`OtpStore`] on SQLite.
//!
//! A flow has at most one code (`otps.flow_id` is the key); storing another replaces it, which
//! invalidates the old hash and resets the tries. Each check is one `BEGIN IMMEDIATE`
//! transaction and each send reservation one statement, so parallel requests are serialised on
//! the write lock: a code can never be evaluated more than its try limit, nor an address sent
//! more than its send limit. Every write goes through the writer task (see [`super::writer`]).

use super::SqliteStore;
use crate::error::map_sqlx;
use crate::rows::{OtpCheckRow, OtpStatusRow, otp_refusal, uuid_text};
use async_trait::async_trait;
use openciam_core::ids::{FlowId, TenantId};
use openciam_core::model::{OtpAttempt, OtpRecord};
use openciam_core::ports::{OtpStore, StoreResult};
use sqlx::Row as _;

#[async_trait]
impl OtpStore for SqliteStore {
    async fn put_otp(&self, otp: &OtpRecord) -> StoreResult<()> {
        let statement = sqlx::query(
            "INSERT INTO otps (flow_id, code_hash, address, created_at, expires_at, attempts, used_at) \
             VALUES (?1, ?2, ?3, ?4, ?5, 0, NULL) \
             ON CONFLICT (flow_id) DO UPDATE SET code_hash = excluded.code_hash, \
             address = excluded.address, created_at = excluded.created_at, \
             expires_at = excluded.expires_at, attempts = 0, used_at = NULL",
        )
        .bind(uuid_text(otp.flow_id.0))
        .bind(otp.code_hash.clone())
        .bind(otp.address.clone())
        .bind(otp.created_at)
        .bind(otp.expires_at);
        self.write_batch(statement).await?;
        Ok(())
    }

    /// A code is live while `now < expires_at`.
    async fn attempt_otp(&self, flow_id: FlowId, now: i64, max_attempts: i64) -> StoreResult<OtpAttempt> {
        // When the update refuses, the same transaction reads why: the row is exactly what the
        // update refused. The two statements' rows differ in shape.
        let batch = sqlx::query(
            "BEGIN IMMEDIATE; \
             UPDATE otps SET attempts = attempts + 1 \
             WHERE flow_id = ?1 AND used_at IS NULL AND expires_at > ?2 AND attempts < ?3 \
             RETURNING code_hash, attempts; \
             SELECT used_at, expires_at, attempts FROM otps WHERE flow_id = ?1 AND changes() = 0; \
             COMMIT",
        )
        .bind(uuid_text(flow_id.0))
        .bind(now)
        .bind(max_attempts);
        let rows = self.write_batch(batch).await?;
        let Some(row) = rows.first() else {
            return Ok(OtpAttempt::NoCode);
        };
        if row.try_column("code_hash").is_ok() {
            let counted: OtpCheckRow = sqlx::FromRow::from_row(row).map_err(map_sqlx)?;
            return Ok(counted.into_attempt());
        }
        let status: OtpStatusRow = sqlx::FromRow::from_row(row).map_err(map_sqlx)?;
        Ok(otp_refusal(Some(status), now, max_attempts))
    }

    async fn consume_otp(&self, flow_id: FlowId, code_hash: &[u8], now: i64) -> StoreResult<bool> {
        // One statement: the hash check and the mark cannot be split by a replacement.
        let statement = sqlx::query(
            "UPDATE otps SET used_at = ?1 WHERE flow_id = ?2 AND code_hash = ?3 AND used_at IS NULL \
             RETURNING 1",
        )
        .bind(now)
        .bind(uuid_text(flow_id.0))
        .bind(code_hash.to_vec());
        Ok(self.write_batch(statement).await?.len() == 1)
    }

    /// Sends at or after `window_start` count.
    async fn reserve_code_send(
        &self,
        tenant: TenantId,
        address: &str,
        now: i64,
        window_start: i64,
        max: i64,
    ) -> StoreResult<bool> {
        // One statement, so the count and the insert cannot be split by another send.
        let statement = sqlx::query(
            "INSERT INTO code_sends (tenant_id, address, sent_at) SELECT ?1, ?2, ?3 \
             WHERE (SELECT COUNT(*) FROM code_sends \
                    WHERE tenant_id = ?1 AND address = ?2 AND sent_at >= ?4) < ?5 \
             RETURNING 1",
        )
        .bind(uuid_text(tenant.0))
        .bind(address.to_owned())
        .bind(now)
        .bind(window_start)
        .bind(max);
        Ok(self.write_batch(statement).await?.len() == 1)
    }
}
