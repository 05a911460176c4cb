//! [`LockoutStore`] on SQLite. A failure is one `BEGIN IMMEDIATE` transaction (read, decide,
//! write), so failures counted at once are serialised on the write lock and none is lost.

use super::SqliteStore;
use crate::error::map_sqlx;
use crate::rows::uuid_text;
use crate::security_rows::{LOCKOUT_COLUMNS, LockoutRow, lockout_state};
use async_trait::async_trait;
use openciam_core::ids::{TenantId, UserId};
use openciam_core::ports::{LockoutStore, StoreResult};
use openciam_core::security::lockout::{FailureOutcome, LockoutSettings, LockoutState};

#[async_trait]
impl LockoutStore for SqliteStore {
    async fn lockout_state(&self, tenant: TenantId, user: UserId) -> StoreResult<Option<LockoutState>> {
        let row: Option<LockoutRow> = sqlx::query_as(&format!(
            "SELECT {LOCKOUT_COLUMNS} FROM lockouts WHERE tenant_id = ? AND user_id = ?"
        ))
        .bind(uuid_text(tenant.0))
        .bind(uuid_text(user.0))
        .fetch_optional(&self.pool)
        .await
        .map_err(map_sqlx)?;
        row.map(lockout_state).transpose()
    }

    async fn record_password_failure(
        &self,
        tenant: TenantId,
        user: UserId,
        mac: &[u8],
        now: i64,
        settings: &LockoutSettings,
    ) -> StoreResult<FailureOutcome> {
        let (tenant, user) = (uuid_text(tenant.0), uuid_text(user.0));
        let mut tx = self.begin_write().await?;
        let row: Option<LockoutRow> = sqlx::query_as(&format!(
            "SELECT {LOCKOUT_COLUMNS} FROM lockouts WHERE tenant_id = ? AND user_id = ?"
        ))
        .bind(&tenant)
        .bind(&user)
        .fetch_optional(&mut *tx)
        .await
        .map_err(map_sqlx)?;
        let mut state = row.map(lockout_state).transpose()?.unwrap_or_default();
        let outcome = state.record_failure(mac, now, settings);
        sqlx::query(
            "INSERT INTO lockouts (tenant_id, user_id, failures, lockouts, locked_until, recent_macs, updated_at) \
             VALUES (?, ?, ?, ?, ?, ?, ?) \
             ON CONFLICT (tenant_id, user_id) DO UPDATE SET failures = excluded.failures, \
             lockouts = excluded.lockouts, locked_until = excluded.locked_until, \
             recent_macs = excluded.recent_macs, updated_at = excluded.updated_at",
        )
        .bind(&tenant)
        .bind(&user)
        .bind(i64::from(state.failures))
        .bind(i64::from(state.lockouts))
        .bind(state.locked_until)
        .bind(state.recent_bytes())
        .bind(state.updated_at)
        .execute(&mut *tx)
        .await
        .map_err(map_sqlx)?;
        tx.commit().await.map_err(map_sqlx)?;
        Ok(outcome)
    }

    async fn clear_lockout(&self, tenant: TenantId, user: UserId) -> StoreResult<bool> {
        let _turn = self.write_turn().await?;
        let done = sqlx::query("DELETE FROM lockouts WHERE tenant_id = ? AND user_id = ?")
            .bind(uuid_text(tenant.0))
            .bind(uuid_text(user.0))
            .execute(&self.pool)
            .await
            .map_err(map_sqlx)?;
        Ok(done.rows_affected() > 0)
    }
}
