//! [`OtpStore`] on PostgreSQL.
//!
//! A flow has at most one code (`otps.flow_id` is the key); storing another replaces it, which
//! invalidates the old hash and resets the tries.
//!
//! * `attempt_otp` locks the code row before deciding, so parallel attempts queue on it and each
//!   decides on the latest committed count: a code is never evaluated more than its try limit.
//! * `reserve_code_send` must count rows that may not exist yet, so it serialises on a
//!   transaction-scoped advisory lock keyed by tenant and address: an address is never sent
//!   more than its send limit.

use super::PostgresStore;
use crate::error::map_sqlx;
use crate::rows::{OtpCheckRow, OtpStatusRow, otp_refusal, uuid_text};
use async_trait::async_trait;
use openciam_core::ids::{FlowId, TenantId};
use openciam_core::model::{OtpAttempt, OtpRecord};
use openciam_core::ports::{OtpStore, StoreResult};

/// First key of the two-key advisory locks `reserve_code_send` takes (the second is a hash of
/// tenant and address). Two-key locks live apart from the one-key lock sqlx's migrator takes.
const CODE_SEND_LOCK_CLASS: i32 = 0x6f63_0001;

#[async_trait]
impl OtpStore for PostgresStore {
    async fn put_otp(&self, otp: &OtpRecord) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO otps (flow_id, code_hash, address, created_at, expires_at, attempts, used_at) \
             VALUES ($1, $2, $3, $4, $5, 0, NULL) \
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
        let mut tx = self.begin().await?;
        let status = sqlx::query_as::<_, OtpStatusRow>(
            "SELECT used_at, expires_at, attempts FROM otps WHERE flow_id = $1 FOR UPDATE",
        )
        .bind(&flow_id)
        .fetch_optional(&mut *tx)
        .await
        .map_err(map_sqlx)?;
        let outcome = match status {
            Some(row) if row.counts(now, max_attempts) => {
                // The row is locked: nothing changed since it was read.
                sqlx::query_as::<_, OtpCheckRow>(
                    "UPDATE otps SET attempts = attempts + 1 WHERE flow_id = $1 \
                     RETURNING code_hash, attempts",
                )
                .bind(&flow_id)
                .fetch_one(&mut *tx)
                .await
                .map_err(map_sqlx)?
                .into_attempt()
            }
            status => otp_refusal(status, now, max_attempts),
        };
        tx.commit().await.map_err(map_sqlx)?;
        Ok(outcome)
    }

    async fn consume_otp(&self, flow_id: FlowId, code_hash: &[u8], now: i64) -> StoreResult<bool> {
        // One guarded statement: a racing consume waits for the row lock, then finds
        // `used_at` set.
        let done = sqlx::query(
            "UPDATE otps SET used_at = $1 WHERE flow_id = $2 AND code_hash = $3 AND used_at IS NULL",
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
        let mut tx = self.begin().await?;
        // Held until commit or rollback. The count below is a later statement, so under READ
        // COMMITTED it sees every send committed by the lock's previous holder.
        sqlx::query("SELECT pg_advisory_xact_lock($1, hashtext($2 || '/' || $3))")
            .bind(CODE_SEND_LOCK_CLASS)
            .bind(&tenant)
            .bind(address)
            .execute(&mut *tx)
            .await
            .map_err(map_sqlx)?;
        let (sent,): (i64,) = sqlx::query_as(
            "SELECT COUNT(*) FROM code_sends WHERE tenant_id = $1 AND address = $2 AND sent_at >= $3",
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
        sqlx::query("INSERT INTO code_sends (tenant_id, address, sent_at) VALUES ($1, $2, $3)")
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
