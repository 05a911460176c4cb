//! [`LockoutStore`] on PostgreSQL. A failure first makes sure the account's row exists (`INSERT
//! … ON CONFLICT DO NOTHING`), then locks it (`SELECT … FOR UPDATE`), decides and writes in the
//! same transaction: failures counted at once on any node queue on the row lock, and each
//! decides on the latest committed state, so none is lost.

use super::PostgresStore;
use crate::error::map_sqlx;
use crate::rows::uuid_text;
use crate::security_rows::{LOCKOUT_COLUMNS, LockoutRow, lockout_state};
use async_trait::async_trait;
use openciam_core::ids::{TenantId, UserId};
use openciam_core::ports::{LockoutStore, StoreResult};
use openciam_core::security::lockout::{FailureOutcome, LockoutSettings, LockoutState};

#[async_trait]
impl LockoutStore for PostgresStore {
    async fn lockout_state(&self, tenant: TenantId, user: UserId) -> StoreResult<Option<LockoutState>> {
        let row: Option<LockoutRow> = sqlx::query_as(&format!(
            "SELECT {LOCKOUT_COLUMNS} FROM lockouts WHERE tenant_id = $1 AND user_id = $2"
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
        let mut tx = self.begin().await?;
        sqlx::query(
            "INSERT INTO lockouts (tenant_id, user_id, failures, lockouts, locked_until, recent_macs, updated_at) \
             VALUES ($1, $2, 0, 0, 0, '\\x'::bytea, $3) ON CONFLICT (tenant_id, user_id) DO NOTHING",
        )
        .bind(&tenant)
        .bind(&user)
        .bind(now)
        .execute(&mut *tx)
        .await
        .map_err(map_sqlx)?;
        let row: LockoutRow = sqlx::query_as(&format!(
            "SELECT {LOCKOUT_COLUMNS} FROM lockouts WHERE tenant_id = $1 AND user_id = $2 FOR UPDATE"
        ))
        .bind(&tenant)
        .bind(&user)
        .fetch_one(&mut *tx)
        .await
        .map_err(map_sqlx)?;
        let mut state = lockout_state(row)?;
        let outcome = state.record_failure(mac, now, settings);
        sqlx::query(
            "UPDATE lockouts SET failures = $3, lockouts = $4, locked_until = $5, recent_macs = $6, \
             updated_at = $7 WHERE tenant_id = $1 AND user_id = $2",
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
        let done = sqlx::query("DELETE FROM lockouts WHERE tenant_id = $1 AND user_id = $2")
            .bind(uuid_text(tenant.0))
            .bind(uuid_text(user.0))
            .execute(&self.pool)
            .await
            .map_err(map_sqlx)?;
        Ok(done.rows_affected() > 0)
    }
}
