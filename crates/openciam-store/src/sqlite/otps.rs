//! [`OtpStore`] on SQLite.
//!
//! A flow has at most one code (`otps.flow_id` is the key); storing another replaces it, which
//! invalidates the old hash and resets the tries. Each check and each send reservation is one
//! `BEGIN IMMEDIATE` transaction, so parallel requests are serialised on the write lock: a code
//! can never be evaluated more than its try limit, nor an address sent more than its send limit.

use super::SqliteStore;
use crate::error::map_sqlx;
use crate::rows::{OtpCheckRow, OtpStatusRow, otp_refusal, uuid_text};
use async_trait::async_trait;
use openciam_core::ids::{FlowId, TenantId};
use openciam_core::model::{OtpAttempt, OtpRecord};
use openciam_core::ports::{OtpStore, StoreResult};

#[async_trait]
impl OtpStore for SqliteStore {
    async fn put_otp(&self, otp: &OtpRecord) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO otps (flow_id, code_hash, address, created_at, expires_at, attempts, used_at) \
             VALUES (?, ?, ?, ?, ?, 0, NULL) \
             ON CONFLICT (flow_id) DO UPDATE SET code_hash = excluded.code_hash, \
             address = excluded.address, created_at = excluded.created_at, \
             expires_at = excluded.expires_at, attempts = 0, used_at = NULL",
        )
        .bind(uuid_text(otp.flow_id.0))
        .bind(&otp.code_hash)
        .bind(&otp.address)
        .bind(otp.created_at)
        .bind(otp.expires_at)
        .execute(&self.pool)
        .await
        .map_err(map_sqlx)?;
        Ok(())
    }

    /// A code is live while `now < expires_at`.
    async fn attempt_otp(&self, flow_id: FlowId, now: i64, max_attempts: i64) -> StoreResult<OtpAttempt> {
        let flow_id = uuid_text(flow_id.0);
        let mut tx = self.begin_write().await?;
        let counted = sqlx::query_as::<_, OtpCheckRow>(
            "UPDATE otps SET attempts = attempts + 1 \
             WHERE flow_id = ? AND used_at IS NULL AND expires_at > ? AND attempts < ? \
             RETURNING code_hash, attempts",
        )
        .bind(&flow_id)
        .bind(now)
        .bind(max_attempts)
        .fetch_optional(&mut *tx)
        .await
        .map_err(map_sqlx)?;
        let outcome = match counted {
            Some(row) => row.into_attempt(),
            None => {
                // Still under the write lock: the row is exactly what the update refused.
                let status = sqlx::query_as::<_, OtpStatusRow>(
                    "SELECT used_at, expires_at, attempts FROM otps WHERE flow_id = ?",
                )
                .bind(&flow_id)
                .fetch_optional(&mut *tx)
                .await
                .map_err(map_sqlx)?;
                otp_refusal(status, now, max_attempts)
            }
        };
        tx.commit().await.map_err(map_sqlx)?;
        Ok(outcome)
    }

    async fn consume_otp(&self, flow_id: FlowId, code_hash: &[u8], now: i64) -> StoreResult<bool> {
        // One statement: the hash check and the mark cannot be split by a replacement.
        let done = sqlx::query(
            "UPDATE otps SET used_at = ? WHERE flow_id = ? AND code_hash = ? AND used_at IS NULL",
        )
        .bind(now)
        .bind(uuid_text(flow_id.0))
        .bind(code_hash)
        .execute(&self.pool)
        .await
        .map_err(map_sqlx)?;
        Ok(done.rows_affected() == 1)
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
        let tenant = uuid_text(tenant.0);
        let mut tx = self.begin_write().await?;
        let (sent,): (i64,) = sqlx::query_as(
            "SELECT COUNT(*) FROM code_sends WHERE tenant_id = ? AND address = ? AND sent_at >= ?",
        )
        .bind(&tenant)
        .bind(address)
        .bind(window_start)
        .fetch_one(&mut *tx)
        .await
        .map_err(map_sqlx)?;
        if sent >= max {
            tx.rollback().await.map_err(map_sqlx)?;
            return Ok(false);
        }
        sqlx::query("INSERT INTO code_sends (tenant_id, address, sent_at) VALUES (?, ?, ?)")
            .bind(&tenant)
            .bind(address)
            .bind(now)
            .execute(&mut *tx)
            .await
            .map_err(map_sqlx)?;
        tx.commit().await.map_err(map_sqlx)?;
        Ok(true)
    }
}
